//! The chart's trend plots (weight, BMI, blood pressure) as server-rendered SVG: no script,
//! no inline style (the CSP forbids both), black-and-white readable when printed.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::domain::visits::Vitals;

const W: f64 = 320.0;
const H: f64 = 140.0;
const LEFT: f64 = 40.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 14.0;
const BOTTOM: f64 = 26.0;

/// One line of a plot: its name and points (time, value).
struct Series<'a> {
    name: &'a str,
    class: &'static str,
    points: Vec<(DateTime<Utc>, f64)>,
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn num(v: f64) -> String {
    if (v - v.round()).abs() < 0.05 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

fn plot(title: &str, unit: &str, series: &[Series<'_>], tz: Tz) -> Option<String> {
    let all: Vec<&(DateTime<Utc>, f64)> = series.iter().flat_map(|s| s.points.iter()).collect();
    if all.is_empty() {
        return None;
    }
    let t0 = all.iter().map(|p| p.0).min()?;
    let t1 = all.iter().map(|p| p.0).max()?;
    let mut lo = all.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let mut hi = all.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
    let pad = ((hi - lo) * 0.15).max(1.0);
    lo -= pad;
    hi += pad;
    let span = (t1 - t0).num_seconds().max(1) as f64;
    let x = |t: DateTime<Utc>| {
        if t0 == t1 {
            LEFT + (W - LEFT - RIGHT) / 2.0
        } else {
            LEFT + (t - t0).num_seconds() as f64 / span * (W - LEFT - RIGHT)
        }
    };
    let y = |v: f64| TOP + (hi - v) / (hi - lo) * (H - TOP - BOTTOM);
    let mut out = format!(
        r#"<svg class="trend" viewBox="0 0 {W} {H}" role="img" aria-label="{t}" xmlns="http://www.w3.org/2000/svg"><title>{t}</title>"#,
        t = esc(&format!("{title} ({unit})"))
    );
    // Axes, and the range and dates as text.
    out.push_str(&format!(
        r#"<line class="axis" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{b}" stroke="currentColor" stroke-width="1"/><line class="axis" x1="{LEFT}" y1="{b}" x2="{r}" y2="{b}" stroke="currentColor" stroke-width="1"/>"#,
        b = H - BOTTOM,
        r = W - RIGHT
    ));
    for v in [lo + pad, hi - pad] {
        out.push_str(&format!(
            r#"<text x="{tx}" y="{ty:.1}" font-size="10" text-anchor="end" fill="currentColor">{}</text>"#,
            num(v),
            tx = LEFT - 4.0,
            ty = y(v) + 4.0
        ));
    }
    let date = |t: DateTime<Utc>| t.with_timezone(&tz).format("%d %b %Y").to_string();
    out.push_str(&format!(
        r#"<text x="{LEFT}" y="{ty}" font-size="10" fill="currentColor">{}</text>"#,
        date(t0),
        ty = H - 8.0
    ));
    if t1 != t0 {
        out.push_str(&format!(
            r#"<text x="{tx}" y="{ty}" font-size="10" text-anchor="end" fill="currentColor">{}</text>"#,
            date(t1),
            tx = W - RIGHT,
            ty = H - 8.0
        ));
    }
    for (i, s) in series.iter().enumerate() {
        let pts: Vec<String> = s
            .points
            .iter()
            .map(|(t, v)| format!("{:.1},{:.1}", x(*t), y(*v)))
            .collect();
        // Solid and dashed lines tell two series apart in black and white.
        let dash = if i == 0 {
            ""
        } else {
            r#" stroke-dasharray="5 3""#
        };
        out.push_str(&format!(
            r#"<polyline class="{c}" points="{p}" fill="none" stroke="currentColor" stroke-width="2"{dash}/>"#,
            c = s.class,
            p = pts.join(" ")
        ));
        for (t, v) in &s.points {
            out.push_str(&format!(
                r#"<circle class="{c}" cx="{:.1}" cy="{:.1}" r="3" fill="currentColor"><title>{} {}: {}</title></circle>"#,
                x(*t),
                y(*v),
                date(*t),
                esc(s.name),
                num(*v),
                c = s.class
            ));
        }
        if let Some((t, v)) = s.points.last() {
            out.push_str(&format!(
                r#"<text x="{:.1}" y="{:.1}" font-size="10" text-anchor="end" fill="currentColor">{} {}</text>"#,
                (x(*t) - 6.0).max(LEFT + 30.0),
                y(*v) - 6.0,
                esc(s.name),
                num(*v)
            ));
        }
    }
    out.push_str("</svg>");
    Some(out)
}

/// Labels for the three plots and their lines, in the page's language.
pub struct Labels<'a> {
    pub weight: &'a str,
    pub bmi: &'a str,
    pub bp: &'a str,
    pub systolic: &'a str,
    pub diastolic: &'a str,
}

/// The plots that have at least one value, oldest reading first.
pub fn plots(vitals: &[Vitals], tz: Tz, l: &Labels<'_>) -> Vec<String> {
    let weight = Series {
        name: l.weight,
        class: "weight",
        points: vitals
            .iter()
            .filter_map(|v| Some((v.taken_at, v.weight_kg()?)))
            .collect(),
    };
    let bmi = Series {
        name: l.bmi,
        class: "bmi",
        points: vitals
            .iter()
            .filter_map(|v| Some((v.taken_at, v.bmi()?)))
            .collect(),
    };
    let sys = Series {
        name: l.systolic,
        class: "systolic",
        points: vitals
            .iter()
            .filter_map(|v| Some((v.taken_at, f64::from(v.systolic?))))
            .collect(),
    };
    let dia = Series {
        name: l.diastolic,
        class: "diastolic",
        points: vitals
            .iter()
            .filter_map(|v| Some((v.taken_at, f64::from(v.diastolic?))))
            .collect(),
    };
    [
        plot(l.weight, "kg", &[weight], tz),
        plot(l.bmi, "kg/m²", &[bmi], tz),
        plot(l.bp, "mmHg", &[sys, dia], tz),
    ]
    .into_iter()
    .flatten()
    .collect()
}
