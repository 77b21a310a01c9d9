//! Request ids, the request span and access log line, and security headers on every response.

use std::net::SocketAddr;
use std::time::Instant;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

/// The id of this request: echoed in `X-Request-Id`, in every log line and on error pages.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

/// The client's address: the TCP peer (or, behind a trusted proxy, the address it reports).
#[derive(Clone, Copy, Debug)]
pub struct ClientIp(pub Option<std::net::IpAddr>);

/// How the request reached us.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// Over TLS that this process terminated (set by the HTTPS listener).
    Https,
    /// Over HTTPS to a trusted proxy (`X-Forwarded-Proto: https`).
    ForwardedHttps,
    Http,
}

/// The client address and scheme, believing `X-Forwarded-For`/`-Proto` only when the TCP peer
/// is one of `server.trusted_proxies`. The client is the right-most forwarded address that is
/// not itself a trusted proxy (entries further left are whatever the client chose to send).
fn client_of(
    req: &Request,
    peer: Option<std::net::IpAddr>,
    proxies: &[crate::config::ProxyNet],
) -> (Option<std::net::IpAddr>, Option<Scheme>) {
    let trusted = |ip: std::net::IpAddr| proxies.iter().any(|p| p.contains(ip));
    let Some(peer_ip) = peer.filter(|ip| trusted(*ip)) else {
        return (peer, None);
    };
    let mut client = Some(peer_ip);
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    for entry in forwarded.iter().rev() {
        match entry.parse::<std::net::IpAddr>() {
            Ok(ip) if trusted(ip) => client = Some(ip),
            Ok(ip) => {
                client = Some(ip);
                break;
            }
            Err(_) => break,
        }
    }
    let scheme = req
        .headers()
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            if v.trim().eq_ignore_ascii_case("https") {
                Scheme::ForwardedHttps
            } else {
                Scheme::Http
            }
        });
    (client, scheme)
}

static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Keeps a caller's id only if it is short and plain, so it cannot forge log content.
fn incoming_id(req: &Request) -> Option<String> {
    let v = req.headers().get(&X_REQUEST_ID)?.to_str().ok()?;
    let ok = (8..=64).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    ok.then(|| v.to_owned())
}

pub async fn request_context(
    State(state): State<crate::app::AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let id = incoming_id(&req).unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    req.extensions_mut().insert(RequestId(id.clone()));
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let (ip, forwarded) = client_of(&req, peer, &state.config.server.trusted_proxies);
    req.extensions_mut().insert(ClientIp(ip));
    if req.extensions().get::<Scheme>().is_none() {
        req.extensions_mut()
            .insert(forwarded.unwrap_or(Scheme::Http));
    }
    let peer = ip.map(|i| i.to_string()).unwrap_or_default();
    // The path only: query strings may carry search terms (patient names); and paths that
    // carry a secret (setup links) without it.
    let path = loggable_path(req.uri().path()).into_owned();
    let quiet = matches!(
        path.as_str(),
        "/healthz" | "/readyz" | "/health" | "/metrics"
    );
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %req.method(),
        path = %path,
        peer = %peer,
    );
    let started = Instant::now();
    let method = req.method().clone();
    let mut resp = next.run(req).instrument(span.clone()).await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert(X_REQUEST_ID.clone(), v);
    }
    let secs = started.elapsed().as_secs_f64();
    let ms = secs * 1000.0;
    let status = resp.status().as_u16();
    let route = resp
        .extensions()
        .get::<crate::ops::metrics::RouteLabel>()
        .map_or("unmatched", |r| r.0.as_str());
    state.metrics.observe(route, method.as_str(), status, secs);
    span.in_scope(|| {
        if quiet {
            tracing::debug!(status, ms, "request");
        } else {
            tracing::info!(status, ms, "request");
        }
    });
    resp
}

/// Control characters (C0 and C1, DEL) are refused in every path, query string and form or JSON
/// body: PostgreSQL rejects NUL in text, and none of them belongs in a clinic record, an export
/// or a log. TAB, LF and CR are fine inside bodies (multi-line notes).
fn control_char(s: &str, in_body: bool) -> Option<char> {
    s.chars()
        .find(|c| c.is_control() && !(in_body && matches!(c, '\t' | '\n' | '\r')))
}

fn refused(status: axum::http::StatusCode, field: &str, c: char) -> Response {
    use axum::response::IntoResponse;
    let msg = format!(
        "contains a control character (U+{:04X}), which is not allowed",
        u32::from(c)
    );
    let mut resp = status.into_response();
    resp.extensions_mut().insert(crate::web::error::ErrorInfo {
        code: if status == axum::http::StatusCode::BAD_REQUEST {
            "bad_request"
        } else {
            "validation"
        },
        detail: Some(format!("{field}: {msg}")),
        cause: None,
        fields: Some(std::collections::BTreeMap::from([(field.to_owned(), msg)])),
        extra: None,
    });
    resp
}

/// Walks a JSON value for a string holding a control character; returns the field's path.
fn json_control(v: &serde_json::Value, path: &mut String) -> Option<(String, char)> {
    match v {
        serde_json::Value::String(s) => control_char(s, true).map(|c| (path.clone(), c)),
        serde_json::Value::Array(a) => a.iter().enumerate().find_map(|(i, x)| {
            let len = path.len();
            path.push_str(&format!("[{i}]"));
            let found = json_control(x, path);
            path.truncate(len);
            found
        }),
        serde_json::Value::Object(o) => o.iter().find_map(|(k, x)| {
            // A key that is itself unprintable is not repeated back.
            if let Some(c) = control_char(k, false) {
                return Some((
                    if path.is_empty() {
                        "body".to_owned()
                    } else {
                        path.clone()
                    },
                    c,
                ));
            }
            let len = path.len();
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(k);
            let found = json_control(x, path);
            path.truncate(len);
            found
        }),
        _ => None,
    }
}

/// The one place that refuses control characters (see [`control_char`]): 400 for the address,
/// 422 naming the field for a form or JSON body, before any handler sees them.
pub async fn reject_control_characters(req: Request, next: Next) -> Response {
    use axum::http::StatusCode;
    let path = percent_encoding::percent_decode_str(req.uri().path()).decode_utf8_lossy();
    if let Some(c) = control_char(&path, false) {
        return refused(StatusCode::BAD_REQUEST, "path", c);
    }
    if let Some(q) = req.uri().query() {
        for (k, v) in url::form_urlencoded::parse(q.as_bytes()) {
            if let Some(c) = control_char(&k, false) {
                return refused(StatusCode::BAD_REQUEST, "query", c);
            }
            if let Some(c) = control_char(&v, false) {
                return refused(StatusCode::BAD_REQUEST, &k, c);
            }
        }
    }
    let ct = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let form = ct.starts_with("application/x-www-form-urlencoded");
    let json = ct.starts_with("application/json") || ct.contains("+json");
    if !form && !json {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    // The body limit layer outside bounds what is buffered here.
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(b) => b,
        Err(_) => {
            use axum::response::IntoResponse;
            return StatusCode::PAYLOAD_TOO_LARGE.into_response();
        }
    };
    let found = if form {
        url::form_urlencoded::parse(&bytes).find_map(|(k, v)| match control_char(&k, false) {
            Some(c) => Some(("body".to_owned(), c)),
            None => control_char(&v, true).map(|c| (k.into_owned(), c)),
        })
    } else {
        // Bodies that are not JSON are the handler's to refuse.
        serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| json_control(&v, &mut String::new()))
    };
    if let Some((field, c)) = found {
        let field = if field.is_empty() {
            "body".to_owned()
        } else {
            field
        };
        return refused(StatusCode::UNPROCESSABLE_ENTITY, &field, c);
    }
    next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
        .await
}

/// Paths whose last segment is a secret: one-time setup links (and, later, patients'
/// confirm/cancel links). Logged as `/setup/[redacted]`.
const SECRET_PATH_PREFIXES: &[&str] = &["/setup/"];

pub fn loggable_path(path: &str) -> std::borrow::Cow<'_, str> {
    for prefix in SECRET_PATH_PREFIXES {
        if let Some(rest) = path.strip_prefix(prefix)
            && !rest.is_empty()
        {
            return format!("{prefix}[redacted]").into();
        }
    }
    path.into()
}

fn is_multipart(req: &Request) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.get(..19)
                .is_some_and(|k| k.eq_ignore_ascii_case("multipart/form-data"))
        })
}

/// How many times the request time limit an upload may take: 20 MB over a clinic's 2 Mbit/s
/// uplink takes 80 s.
const UPLOAD_TIME_FACTOR: u32 = 10;

/// Answers 503 when a request takes longer than `limit` (an upload: ten times that).
pub async fn time_limit(
    State(limit): State<std::time::Duration>,
    req: Request,
    next: Next,
) -> Response {
    use axum::response::IntoResponse;
    let limit = if is_multipart(&req) {
        limit * UPLOAD_TIME_FACTOR
    } else {
        limit
    };
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(r) => r,
        Err(_) => axum::http::StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

/// Bounds every request body: `limit` bytes (the config's `max_body_bytes`), or for a
/// multipart body (a document upload) the upload ceiling; the upload routes check the clinic's
/// own size limit while receiving, and every other route refuses multipart bodies anyway.
pub async fn limit_body(State(limit): State<usize>, req: Request, next: Next) -> Response {
    use axum::response::IntoResponse;
    let max = if is_multipart(&req) {
        crate::web::routes::documents::UPLOAD_BODY_CEILING.max(limit)
    } else {
        limit
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return axum::http::StatusCode::PAYLOAD_TOO_LARGE.into_response();
    }
    let (parts, body) = req.into_parts();
    let body = axum::body::Body::new(http_body_util::Limited::new(body, max));
    next.run(Request::from_parts(parts, body)).await
}

/// Puts the matched route pattern on the response, for the request metrics.
pub async fn label_route(req: Request, next: Next) -> Response {
    let label = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|m| m.as_str().to_owned());
    let mut resp = next.run(req).await;
    if let Some(l) = label {
        resp.extensions_mut()
            .insert(crate::ops::metrics::RouteLabel(l));
    }
    resp
}

pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

const PERMISSIONS_POLICY: &str =
    "camera=(), microphone=(), geolocation=(), payment=(), usb=(), serial=(), browsing-topics=()";

/// Security headers on every response; `Cache-Control: no-store` unless the handler chose
/// otherwise (static assets), because clinic pages carry patient data.
pub async fn security_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    let set = |h: &mut axum::http::HeaderMap, k: HeaderName, v: &'static str| {
        h.insert(k, HeaderValue::from_static(v));
    };
    // A handler's own, stricter policy stays (a document shown by the browser).
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        set(h, header::CONTENT_SECURITY_POLICY, CSP);
    }
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    // Same-origin only: nothing (such as a search in a URL) leaks to other sites, and browsers
    // still send a real Origin with form posts.
    set(h, header::REFERRER_POLICY, "same-origin");
    set(h, header::X_FRAME_OPTIONS, "DENY");
    set(
        h,
        HeaderName::from_static("permissions-policy"),
        PERMISSIONS_POLICY,
    );
    set(
        h,
        HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    );
    set(
        h,
        HeaderName::from_static("cross-origin-resource-policy"),
        "same-origin",
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        set(h, header::CACHE_CONTROL, "no-store");
    }
    resp
}

/// `Strict-Transport-Security` on responses sent over our own TLS, for hosts served with a real
/// certificate (never while the self-signed fallback is served: that would lock browsers out).
pub async fn hsts(State(state): State<crate::app::AppState>, req: Request, next: Next) -> Response {
    let value = match (state.tls(), req.extensions().get::<Scheme>()) {
        (Some(tls), Some(Scheme::Https)) => {
            crate::web::site::request_host(&req).and_then(|host| tls.hsts_for(&host))
        }
        _ => None,
    };
    let mut resp = next.run(req).await;
    if let Some(v) = value.and_then(|v| HeaderValue::from_str(&v).ok()) {
        resp.headers_mut()
            .insert(header::STRICT_TRANSPORT_SECURITY, v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(xff: &[&str], proto: Option<&str>) -> Request {
        let mut b = axum::http::Request::builder().uri("/");
        for v in xff {
            b = b.header("x-forwarded-for", *v);
        }
        if let Some(p) = proto {
            b = b.header("x-forwarded-proto", p);
        }
        b.body(axum::body::Body::empty()).unwrap()
    }

    fn nets(v: &[&str]) -> Vec<crate::config::ProxyNet> {
        v.iter()
            .map(|s| crate::config::ProxyNet::try_from(s.to_string()).unwrap())
            .collect()
    }

    #[test]
    fn control_characters_are_found_in_text_and_json() {
        assert_eq!(control_char("ab\u{0}c", true), Some('\u{0}'));
        assert_eq!(control_char("line\nline\tx", true), None);
        assert_eq!(control_char("line\nline", false), Some('\n'));
        assert_eq!(control_char("\u{85}", true), Some('\u{85}'));
        let v = serde_json::json!({"a": "ok", "phones": [{"number": "1\u{0}2"}]});
        assert_eq!(
            json_control(&v, &mut String::new()),
            Some(("phones[0].number".to_owned(), '\u{0}'))
        );
    }

    #[test]
    fn secrets_in_paths_are_not_logged() {
        assert_eq!(loggable_path("/setup/abcdefgh23"), "/setup/[redacted]");
        assert_eq!(loggable_path("/setup/abc/def"), "/setup/[redacted]");
        assert_eq!(loggable_path("/setup/"), "/setup/");
        assert_eq!(loggable_path("/patients/12"), "/patients/12");
    }

    #[test]
    fn forwarded_headers_only_from_trusted_proxies() {
        let proxies = nets(&["10.0.0.0/8"]);
        let ip = |s: &str| Some(s.parse::<std::net::IpAddr>().unwrap());
        // Not a proxy: headers ignored.
        let r = req(&["203.0.113.9"], Some("https"));
        assert_eq!(
            client_of(&r, ip("198.51.100.1"), &proxies),
            (ip("198.51.100.1"), None)
        );
        // From the proxy: the right-most untrusted entry; a spoofed left entry is ignored.
        let r = req(&["6.6.6.6, 203.0.113.9", "10.0.0.3"], Some("https"));
        assert_eq!(
            client_of(&r, ip("10.0.0.2"), &proxies),
            (ip("203.0.113.9"), Some(Scheme::ForwardedHttps))
        );
        let r = req(&["garbage"], Some("http"));
        assert_eq!(
            client_of(&r, ip("10.0.0.2"), &proxies),
            (ip("10.0.0.2"), Some(Scheme::Http))
        );
        // No proxies configured: nothing is believed.
        let r = req(&["203.0.113.9"], Some("https"));
        assert_eq!(client_of(&r, ip("10.0.0.2"), &[]), (ip("10.0.0.2"), None));
    }
}
