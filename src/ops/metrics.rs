//! Prometheus metrics: request counters and latency histograms kept in memory, and gauges read
//! at scrape time (database pool, clinics, certificate expiry, backups).
//!
//! Routes are labelled by their pattern (`/patients/{id}`), never by the concrete path, so the
//! number of series stays bounded and no identifier ends up in a monitoring system.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

#[derive(Default)]
struct Inner {
    /// (route, method, status) → count
    requests: BTreeMap<(String, String, u16), u64>,
    latency: BTreeMap<String, Histogram>,
}

#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

/// The route pattern a response came from, set by the routers that matched it.
#[derive(Clone, Debug)]
pub struct RouteLabel(pub String);

impl Metrics {
    pub fn observe(&self, route: &str, method: &str, status: u16, seconds: f64) {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        *g.requests
            .entry((route.to_owned(), method.to_owned(), status))
            .or_default() += 1;
        let h = g.latency.entry(route.to_owned()).or_default();
        for (i, le) in BUCKETS.iter().enumerate() {
            if seconds <= *le {
                h.counts[i] += 1;
            }
        }
        h.sum += seconds;
        h.count += 1;
    }

    /// The in-memory series in Prometheus text format.
    pub fn render_requests(&self, out: &mut String) {
        let g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        header(
            out,
            "clinicbox_http_requests_total",
            "counter",
            "HTTP requests by route pattern, method and status.",
        );
        for ((route, method, status), n) in &g.requests {
            let _ = writeln!(
                out,
                "clinicbox_http_requests_total{{route=\"{}\",method=\"{}\",status=\"{status}\"}} {n}",
                escape(route),
                escape(method)
            );
        }
        header(
            out,
            "clinicbox_http_request_duration_seconds",
            "histogram",
            "Time to answer an HTTP request, by route pattern.",
        );
        for (route, h) in &g.latency {
            let route = escape(route);
            for (i, le) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "clinicbox_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{le}\"}} {}",
                    h.counts[i]
                );
            }
            let _ = writeln!(
                out,
                "clinicbox_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "clinicbox_http_request_duration_seconds_sum{{route=\"{route}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "clinicbox_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                h.count
            );
        }
    }
}

pub fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// One gauge sample; `labels` are (name, value) pairs.
pub fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: f64) {
    if labels.is_empty() {
        let _ = writeln!(out, "{name} {value}");
        return;
    }
    let labels: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
        .collect();
    let _ = writeln!(out, "{name}{{{}}} {value}", labels.join(","));
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let m = Metrics::default();
        m.observe("/patients", "GET", 200, 0.004);
        m.observe("/patients", "GET", 200, 0.2);
        m.observe("/patients", "POST", 303, 20.0);
        let mut out = String::new();
        m.render_requests(&mut out);
        assert!(out.contains(
            "clinicbox_http_requests_total{route=\"/patients\",method=\"GET\",status=\"200\"} 2"
        ));
        assert!(out.contains(
            "clinicbox_http_request_duration_seconds_bucket{route=\"/patients\",le=\"0.005\"} 1"
        ));
        assert!(out.contains(
            "clinicbox_http_request_duration_seconds_bucket{route=\"/patients\",le=\"0.25\"} 2"
        ));
        assert!(out.contains(
            "clinicbox_http_request_duration_seconds_bucket{route=\"/patients\",le=\"+Inf\"} 3"
        ));
        assert!(out.contains("# TYPE clinicbox_http_request_duration_seconds histogram"));
    }

    #[test]
    fn label_values_are_escaped() {
        let mut out = String::new();
        sample(&mut out, "x", &[("host", "a\"b\\c")], 1.0);
        assert_eq!(out, "x{host=\"a\\\"b\\\\c\"} 1\n");
    }
}
