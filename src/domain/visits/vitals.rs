//! Vitals: what a nurse or doctor types (with its units), checked against plausibility limits
//! (refused with a message), stored in fixed units (tenths of °C, grams, millimetres, mg/dL),
//! and flagged against adult or child reference ranges.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::validation::Errors;

/// The vitals form (or API body): numbers as typed, with their units.
#[derive(Clone, Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct VitalsInput {
    /// Blood pressure `systolic/diastolic` in mmHg, e.g. `120/80`.
    pub bp: String,
    /// Beats per minute.
    pub pulse: String,
    pub temperature: String,
    /// `c` (default) or `f`.
    pub temperature_unit: String,
    /// Breaths per minute.
    pub respiratory_rate: String,
    /// Percent.
    pub spo2: String,
    pub weight: String,
    /// `kg` (default) or `lb`.
    pub weight_unit: String,
    pub height: String,
    /// `cm` (default) or `in`.
    pub height_unit: String,
    pub glucose: String,
    /// `mg_dl` (default) or `mmol_l`.
    pub glucose_unit: String,
    /// 0 (none) to 10 (worst).
    pub pain: String,
    pub note: String,
}

/// Checked vitals in stored units.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VitalsData {
    pub systolic: Option<i16>,
    pub diastolic: Option<i16>,
    pub pulse: Option<i16>,
    pub temperature_dc: Option<i16>,
    pub respiratory_rate: Option<i16>,
    pub spo2: Option<i16>,
    pub weight_g: Option<i32>,
    pub height_mm: Option<i32>,
    pub glucose_mg_dl: Option<i16>,
    pub pain: Option<i16>,
    pub note: Option<String>,
}

/// mmol/L to mg/dL for glucose.
const GLUCOSE_MG_PER_MMOL: f64 = 18.016;

fn number(s: &str) -> Option<Option<f64>> {
    let s = s.trim();
    if s.is_empty() {
        return Some(None);
    }
    s.replace(',', ".")
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .map(Some)
}

/// A value in its unit, checked against `min..=max` (in that unit); the message names the
/// limits in the unit the user typed.
fn ranged(
    e: &mut Errors,
    field: &'static str,
    raw: &str,
    min: f64,
    max: f64,
    unit: &str,
) -> Option<f64> {
    match number(raw) {
        None => {
            e.add(field, "invalid.number");
            None
        }
        Some(None) => None,
        Some(Some(v)) if v < min || v > max => {
            e.add(
                field,
                crate::i18n::msg(
                    "invalid.vitals_range",
                    &[
                        ("min", &trim_num(min)),
                        ("max", &trim_num(max)),
                        ("unit", &unit),
                    ],
                ),
            );
            None
        }
        Some(Some(v)) => Some(v),
    }
}

fn trim_num(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

fn whole(v: f64) -> i16 {
    // In range by the caller's check, so the cast cannot overflow.
    v.round() as i16
}

impl VitalsInput {
    pub fn validate(&self) -> Result<VitalsData, Errors> {
        let mut e = Errors::new();
        let mut d = VitalsData::default();
        let bp = self.bp.trim();
        if !bp.is_empty() {
            match bp.split_once('/').and_then(|(s, di)| {
                Some((
                    s.trim().parse::<f64>().ok()?,
                    di.trim().parse::<f64>().ok()?,
                ))
            }) {
                None => e.add("bp", "invalid.vitals_bp"),
                Some((s, di)) => {
                    if !(40.0..=300.0).contains(&s) || !(20.0..=200.0).contains(&di) {
                        e.add("bp", "invalid.vitals_bp_range");
                    } else if di >= s {
                        e.add("bp", "invalid.vitals_bp_order");
                    } else {
                        d.systolic = Some(whole(s));
                        d.diastolic = Some(whole(di));
                    }
                }
            }
        }
        d.pulse = ranged(&mut e, "pulse", &self.pulse, 20.0, 300.0, "/min").map(whole);
        d.respiratory_rate = ranged(
            &mut e,
            "respiratory_rate",
            &self.respiratory_rate,
            4.0,
            80.0,
            "/min",
        )
        .map(whole);
        d.spo2 = ranged(&mut e, "spo2", &self.spo2, 50.0, 100.0, "%").map(whole);
        d.pain = match number(&self.pain) {
            Some(Some(v)) if (0.0..=10.0).contains(&v) && v.fract() == 0.0 => Some(whole(v)),
            Some(None) => None,
            _ => {
                e.add("pain", "invalid.vitals_pain");
                None
            }
        };
        d.temperature_dc = match self.temperature_unit.trim() {
            "" | "c" => match number(&self.temperature) {
                // A Fahrenheit reading typed with °C chosen: say so rather than "out of range".
                Some(Some(v)) if (77.0..=113.0).contains(&v) => {
                    e.add(
                        "temperature",
                        crate::i18n::msg("invalid.vitals_temp_unit", &[("value", &trim_num(v))]),
                    );
                    None
                }
                _ => ranged(&mut e, "temperature", &self.temperature, 25.0, 45.0, "°C"),
            }
            .map(|c| whole(c * 10.0)),
            "f" => ranged(&mut e, "temperature", &self.temperature, 77.0, 113.0, "°F")
                .map(|f| whole((f - 32.0) * 50.0 / 9.0)),
            _ => {
                e.add("temperature_unit", "invalid.unit");
                None
            }
        };
        let grams = |kg: f64| (kg * 1000.0).round() as i32;
        d.weight_g = match self.weight_unit.trim() {
            "" | "kg" => ranged(&mut e, "weight", &self.weight, 0.3, 350.0, "kg").map(grams),
            "lb" => ranged(&mut e, "weight", &self.weight, 0.7, 770.0, "lb")
                .map(|lb| grams(lb * 0.453_592_37)),
            _ => {
                e.add("weight_unit", "invalid.unit");
                None
            }
        };
        let mm = |cm: f64| (cm * 10.0).round() as i32;
        d.height_mm = match self.height_unit.trim() {
            "" | "cm" => ranged(&mut e, "height", &self.height, 20.0, 250.0, "cm").map(mm),
            "in" => ranged(&mut e, "height", &self.height, 8.0, 98.0, "in").map(|i| mm(i * 2.54)),
            _ => {
                e.add("height_unit", "invalid.unit");
                None
            }
        };
        d.glucose_mg_dl = match self.glucose_unit.trim() {
            "" | "mg_dl" => {
                ranged(&mut e, "glucose", &self.glucose, 10.0, 1000.0, "mg/dL").map(whole)
            }
            "mmol_l" => ranged(&mut e, "glucose", &self.glucose, 0.6, 55.0, "mmol/L")
                .map(|m| whole(m * GLUCOSE_MG_PER_MMOL)),
            _ => {
                e.add("glucose_unit", "invalid.unit");
                None
            }
        };
        let note = self.note.trim();
        if note.chars().count() > 500 {
            e.add("note", "invalid.max_500");
        } else if !note.is_empty() {
            d.note = Some(note.to_owned());
        }
        if e.is_empty()
            && d.systolic.is_none()
            && d.pulse.is_none()
            && d.temperature_dc.is_none()
            && d.respiratory_rate.is_none()
            && d.spo2.is_none()
            && d.weight_g.is_none()
            && d.height_mm.is_none()
            && d.glucose_mg_dl.is_none()
            && d.pain.is_none()
        {
            e.add("_form", "invalid.vitals_empty");
        }
        e.into_result(d)
    }
}

/// One recorded set of vitals.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Vitals {
    pub id: i64,
    pub patient_id: i64,
    pub appointment_id: Option<i64>,
    pub visit_id: Option<i64>,
    pub taken_at: DateTime<Utc>,
    pub taken_by: Option<i64>,
    pub taken_by_name: Option<String>,
    pub systolic: Option<i16>,
    pub diastolic: Option<i16>,
    pub pulse: Option<i16>,
    /// Tenths of a degree Celsius (372 = 37.2 °C).
    pub temperature_dc: Option<i16>,
    pub respiratory_rate: Option<i16>,
    pub spo2: Option<i16>,
    pub weight_g: Option<i32>,
    pub height_mm: Option<i32>,
    pub glucose_mg_dl: Option<i16>,
    pub pain: Option<i16>,
    pub note: Option<String>,
}

/// A value outside the reference range for the patient's age.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct Flag {
    pub field: &'static str,
    /// Above the range (else below).
    pub high: bool,
}

/// Reference ranges by age (years; `None`: unknown, adult ranges). Low is flagged below `.0`,
/// high above `.1`.
fn pulse_range(age: Option<u32>) -> (i16, i16) {
    match age {
        Some(0) => (100, 160),
        Some(1..=2) => (90, 150),
        Some(3..=5) => (80, 140),
        Some(6..=12) => (70, 120),
        _ => (60, 100),
    }
}

fn respiration_range(age: Option<u32>) -> (i16, i16) {
    match age {
        Some(0) => (30, 60),
        Some(1..=2) => (24, 40),
        Some(3..=5) => (22, 34),
        Some(6..=12) => (18, 30),
        _ => (12, 20),
    }
}

impl Vitals {
    pub fn temperature_c(&self) -> Option<f64> {
        self.temperature_dc.map(|d| f64::from(d) / 10.0)
    }
    pub fn weight_kg(&self) -> Option<f64> {
        self.weight_g.map(|g| f64::from(g) / 1000.0)
    }
    pub fn height_cm(&self) -> Option<f64> {
        self.height_mm.map(|m| f64::from(m) / 10.0)
    }

    /// Body mass index, kg/m², to one decimal, when weight and height were taken together.
    pub fn bmi(&self) -> Option<f64> {
        bmi(self.weight_g?, self.height_mm?)
    }

    /// Values outside the reference range: adult ranges from 18 years (and for an unknown
    /// age), children's by age band for pulse, breathing and low blood pressure. Children's
    /// high blood pressure and BMI need percentile tables and are not flagged.
    pub fn flags(&self, age: Option<u32>) -> Vec<Flag> {
        let mut out = Vec::new();
        let mut check = |field, v: Option<i16>, low: Option<i16>, high: Option<i16>| {
            if let Some(v) = v {
                if low.is_some_and(|l| v < l) {
                    out.push(Flag { field, high: false });
                } else if high.is_some_and(|h| v > h) {
                    out.push(Flag { field, high: true });
                }
            }
        };
        let adult = age.is_none_or(|a| a >= 18);
        let child_sys_low = age.map(|a| 70 + 2 * i16::try_from(a.min(10)).unwrap_or(10));
        check(
            "systolic",
            self.systolic,
            if adult { Some(90) } else { child_sys_low },
            if adult { Some(139) } else { None },
        );
        check(
            "diastolic",
            self.diastolic,
            if adult { Some(60) } else { None },
            if adult { Some(89) } else { None },
        );
        let (pl, ph) = pulse_range(age);
        check("pulse", self.pulse, Some(pl), Some(ph));
        let (rl, rh) = respiration_range(age);
        check(
            "respiratory_rate",
            self.respiratory_rate,
            Some(rl),
            Some(rh),
        );
        check("temperature", self.temperature_dc, Some(355), Some(379));
        check("spo2", self.spo2, Some(95), None);
        check("glucose", self.glucose_mg_dl, Some(70), Some(200));
        check("pain", self.pain, None, Some(6));
        if adult && let Some(b) = self.bmi() {
            // Tenths, to compare as integers.
            let b10 = (b * 10.0).round() as i16;
            check("bmi", Some(b10), Some(185), Some(249));
        }
        out
    }

    pub fn flag(&self, field: &str, age: Option<u32>) -> Option<Flag> {
        self.flags(age).into_iter().find(|f| f.field == field)
    }
}

pub fn bmi(weight_g: i32, height_mm: i32) -> Option<f64> {
    if height_mm <= 0 {
        return None;
    }
    let m = f64::from(height_mm) / 1000.0;
    let v = f64::from(weight_g) / 1000.0 / (m * m);
    Some((v * 10.0).round() / 10.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(f: impl FnOnce(&mut VitalsInput)) -> VitalsInput {
        let mut i = VitalsInput::default();
        f(&mut i);
        i
    }

    #[test]
    fn units_are_converted_to_stored_units() {
        let d = input(|i| {
            i.bp = "120/80".into();
            i.temperature = "98.6".into();
            i.temperature_unit = "f".into();
            i.weight = "154".into();
            i.weight_unit = "lb".into();
            i.height = "5'9".into();
        })
        .validate();
        // 5'9 is not a number of inches.
        assert_eq!(
            d.unwrap_err().get("height").map(String::as_str),
            Some("invalid.number")
        );
        let d = input(|i| {
            i.bp = "120 / 80".into();
            i.temperature = "98.6".into();
            i.temperature_unit = "f".into();
            i.weight = "154".into();
            i.weight_unit = "lb".into();
            i.height = "69".into();
            i.height_unit = "in".into();
            i.glucose = "5,5".into();
            i.glucose_unit = "mmol_l".into();
        })
        .validate()
        .unwrap();
        assert_eq!((d.systolic, d.diastolic), (Some(120), Some(80)));
        assert_eq!(d.temperature_dc, Some(370));
        assert_eq!(d.weight_g, Some(69_853));
        assert_eq!(d.height_mm, Some(1753));
        assert_eq!(d.glucose_mg_dl, Some(99));
    }

    #[test]
    fn implausible_values_get_a_message_that_names_the_limits() {
        let e = input(|i| {
            i.pulse = "400".into();
            i.spo2 = "101".into();
            i.bp = "80/120".into();
            i.pain = "11".into();
            i.weight = "abc".into();
        })
        .validate()
        .unwrap_err();
        assert_eq!(
            e.get("pulse").map(String::as_str),
            Some("invalid.vitals_range?min=20&max=300&unit=/min")
        );
        assert!(e.get("spo2").is_some());
        assert_eq!(
            e.get("bp").map(String::as_str),
            Some("invalid.vitals_bp_order")
        );
        assert_eq!(
            e.get("pain").map(String::as_str),
            Some("invalid.vitals_pain")
        );
        assert_eq!(e.get("weight").map(String::as_str), Some("invalid.number"));
        // Fahrenheit typed as Celsius: the message says which unit it looks like.
        let e = input(|i| i.temperature = "98.6".into())
            .validate()
            .unwrap_err();
        assert_eq!(
            e.get("temperature").map(String::as_str),
            Some("invalid.vitals_temp_unit?value=98.6")
        );
        let e = input(|_| {}).validate().unwrap_err();
        assert_eq!(
            e.get("_form").map(String::as_str),
            Some("invalid.vitals_empty")
        );
        let e = input(|i| i.bp = "120".into()).validate().unwrap_err();
        assert_eq!(e.get("bp").map(String::as_str), Some("invalid.vitals_bp"));
    }

    fn vitals(d: &VitalsData) -> Vitals {
        Vitals {
            id: 1,
            patient_id: 1,
            appointment_id: None,
            visit_id: None,
            taken_at: DateTime::<Utc>::UNIX_EPOCH,
            taken_by: None,
            taken_by_name: None,
            systolic: d.systolic,
            diastolic: d.diastolic,
            pulse: d.pulse,
            temperature_dc: d.temperature_dc,
            respiratory_rate: d.respiratory_rate,
            spo2: d.spo2,
            weight_g: d.weight_g,
            height_mm: d.height_mm,
            glucose_mg_dl: d.glucose_mg_dl,
            pain: d.pain,
            note: None,
        }
    }

    #[test]
    fn bmi_is_weight_over_height_squared() {
        assert_eq!(bmi(70_000, 1750), Some(22.9));
        assert_eq!(bmi(95_000, 1700), Some(32.9));
        assert_eq!(bmi(1, 0), None);
        let v = vitals(&VitalsData {
            weight_g: Some(95_000),
            height_mm: Some(1700),
            ..VitalsData::default()
        });
        assert_eq!(v.bmi(), Some(32.9));
        assert_eq!(
            v.flags(Some(40)),
            vec![Flag {
                field: "bmi",
                high: true
            }]
        );
        // Not flagged for a child: that needs growth charts.
        assert!(v.flags(Some(10)).is_empty());
    }

    #[test]
    fn flags_use_adult_or_child_ranges() {
        let v = vitals(&VitalsData {
            pulse: Some(130),
            respiratory_rate: Some(28),
            temperature_dc: Some(386),
            spo2: Some(91),
            systolic: Some(150),
            diastolic: Some(95),
            ..VitalsData::default()
        });
        let adult: Vec<_> = v
            .flags(Some(35))
            .iter()
            .map(|f| (f.field, f.high))
            .collect();
        assert_eq!(
            adult,
            vec![
                ("systolic", true),
                ("diastolic", true),
                ("pulse", true),
                ("respiratory_rate", true),
                ("temperature", true),
                ("spo2", false)
            ]
        );
        // A two-year-old: that pulse and breathing are normal; the fever and oxygen are not.
        let child: Vec<_> = v.flags(Some(2)).iter().map(|f| f.field).collect();
        assert_eq!(child, vec!["temperature", "spo2"]);
        // An infant with a pulse of 80 is slow.
        let slow = vitals(&VitalsData {
            pulse: Some(80),
            ..VitalsData::default()
        });
        assert_eq!(
            slow.flag("pulse", Some(0)),
            Some(Flag {
                field: "pulse",
                high: false
            })
        );
        assert_eq!(slow.flag("pulse", Some(30)), None);
    }
}
