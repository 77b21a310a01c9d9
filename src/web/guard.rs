//! The guard every clinic and console request passes after authentication: CSRF for unsafe
//! methods, token scope, forced password change and MFA enrolment, and the audit row for every
//! access denial.

use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_sessions::Session;

use crate::app::AppState;
use crate::domain::audit::Actor;
use crate::domain::auth::work;
use crate::domain::auth::{Permission, TokenScope};
use crate::domain::clinic::Clinic;
use crate::web::AppError;
use crate::web::auth::{
    AuthVia, ClinicSecurity, DeniedMarker, OperatorIdentity, StaffIdentity, audit_context,
};
use crate::web::session;
use crate::web::site::CurrentTenant;

fn is_unsafe(m: &Method) -> bool {
    !matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Same-origin check for unsafe requests made by browsers. `Sec-Fetch-Site` (set by the
/// browser, not by page scripts) decides when present; otherwise `Origin` must name this host.
fn cross_site(req: &Request) -> bool {
    if let Some(site) = req
        .headers()
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
    {
        return !matches!(site, "same-origin" | "none");
    }
    if let Some(origin) = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
    {
        let host = crate::web::site::request_host_with_port(req).unwrap_or_default();
        let origin_host = origin
            .split_once("://")
            .map(|(_, h)| h.to_ascii_lowercase())
            .unwrap_or_default();
        return origin == "null" || origin_host != host;
    }
    false
}

pub const CSRF_FIELD: &str = "_csrf";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Reads the CSRF token from the header or, for urlencoded forms, the `_csrf` field of the
/// body (never the query string, which ends up in logs, history and Referer headers); the body
/// is buffered (within the body limit) and handed on unchanged.
async fn csrf_token_of(req: Request) -> (Request, Option<String>) {
    if let Some(v) = req.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok()) {
        let t = v.to_owned();
        return (req, Some(t));
    }
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    if let Some(boundary) = multipart_boundary(&content_type) {
        return multipart_csrf(req, &boundary).await;
    }
    if !content_type.starts_with("application/x-www-form-urlencoded") {
        return (req, None);
    }
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, 4 * 1024 * 1024)
        .await
        .unwrap_or_default();
    let token = url::form_urlencoded::parse(&bytes)
        .find(|(k, _)| k == CSRF_FIELD)
        .map(|(_, v)| v.into_owned());
    (
        Request::from_parts(parts, axum::body::Body::from(bytes)),
        token,
    )
}

/// The boundary of a `multipart/form-data` body.
fn multipart_boundary(content_type: &str) -> Option<String> {
    let (kind, params) = content_type.split_once(';')?;
    if !kind.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.split(';').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| v.trim().trim_matches('"').to_owned())
            .filter(|b| !b.is_empty() && b.len() <= 200)
    })
}

/// How much of a multipart body is read to find the token: forms put `_csrf` first.
const MULTIPART_PEEK: usize = 16 * 1024;

/// The CSRF token of a multipart form (an upload), which must be its first part: the start of
/// the body is read (the file behind it is not) and handed on with the rest unread.
async fn multipart_csrf(req: Request, boundary: &str) -> (Request, Option<String>) {
    use futures::StreamExt as _;
    let (parts, body) = req.into_parts();
    let mut stream = body.into_data_stream();
    let mut head = Vec::new();
    let mut token = None;
    let mut failed = None;
    while head.len() < MULTIPART_PEEK {
        match stream.next().await {
            Some(Ok(chunk)) => head.extend_from_slice(&chunk),
            Some(Err(e)) => {
                failed = Some(e);
                break;
            }
            None => break,
        }
        if let Some(t) = first_part_token(&head, boundary) {
            token = t;
            break;
        }
    }
    let rest = futures::stream::iter([Ok::<_, axum::Error>(bytes::Bytes::from(head))])
        .chain(futures::stream::iter(failed.map(Err)))
        .chain(stream);
    (
        Request::from_parts(parts, axum::body::Body::from_stream(rest)),
        token,
    )
}

/// `Some(Some(token))` when the body's first part is a complete `_csrf` field, `Some(None)`
/// when the first part is something else, `None` when more of the body is needed to tell.
fn first_part_token(head: &[u8], boundary: &str) -> Option<Option<String>> {
    let opening = format!("--{boundary}\r\n");
    if head.len() < opening.len() {
        return None;
    }
    if !head.starts_with(opening.as_bytes()) {
        return Some(None);
    }
    let rest = &head[opening.len()..];
    let headers_end = find(rest, b"\r\n\r\n")?;
    let headers = String::from_utf8_lossy(&rest[..headers_end]).to_ascii_lowercase();
    let named_csrf = headers.lines().any(|l| {
        l.starts_with("content-disposition:")
            && l.contains("form-data")
            && l.split(';').any(|p| p.trim() == "name=\"_csrf\"")
    });
    if !named_csrf {
        return Some(None);
    }
    let value = &rest[headers_end + 4..];
    let end = find(value, format!("\r\n--{boundary}").as_bytes())?;
    Some(std::str::from_utf8(&value[..end]).ok().map(str::to_owned))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Paths a signed-in person may use while a password change or MFA enrolment is outstanding.
fn allowed_while_pending(path: &str, what: &str) -> bool {
    path == "/logout"
        || path.starts_with("/static/")
        || path == "/theme.css"
        || match what {
            "password" => path == "/account/password",
            _ => path.starts_with("/account/mfa"),
        }
}

/// The guard for clinic routes; see the module comment.
pub async fn guard_staff(
    State(state): State<AppState>,
    session: Session,
    req: Request,
    next: Next,
) -> Response {
    let identity = req.extensions().get::<StaffIdentity>().cloned();
    let tenant = req.extensions().get::<CurrentTenant>().cloned();
    let security = req.extensions().get::<ClinicSecurity>().cloned();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_else(|| req.uri().path().to_owned());
    let method = req.method().clone();
    let ctx = audit_context(req.extensions(), state.clock.now());
    let path = req.uri().path().to_owned();
    let is_api = path.starts_with("/api/");

    let (req, denial) = match check_request(&session, identity.as_ref(), security, req).await {
        Ok(req) => (Some(req), None),
        Err(d) => (None, Some(d)),
    };
    let resp = match (req, denial) {
        (Some(req), _) => next.run(req).await,
        (None, Some(Denial::Redirect(to))) => {
            return if is_api {
                AppError::Forbidden(format!("complete {to} in the browser first")).into_response()
            } else {
                axum::response::Redirect::to(&to).into_response()
            };
        }
        (None, Some(Denial::Csrf)) => AppError::Csrf.into_response(),
        (None, Some(Denial::Scope)) => AppError::Denied(None).into_response(),
        (None, None) => {
            AppError::Internal(anyhow::anyhow!("guard without outcome")).into_response()
        }
    };
    if let (Some(marker), Some(tenant)) = (resp.extensions().get::<DeniedMarker>(), tenant) {
        let actor = identity.as_ref().map_or(Actor::Anonymous, |i| i.actor());
        let details = serde_json::json!({
                "permission": marker.0.map(Permission::as_str),
                "method": method.as_str(),
                "route": route,
                "via": match identity.as_ref().map(|i| i.via) {
                    Some(AuthVia::Token { .. }) => "token",
                    Some(AuthVia::Session) => "session",
                    None => "none",
                },
        });
        let clinic = Clinic::new(state.db.pool.clone(), tenant.db.clone(), actor, ctx);
        if let Err(e) = work::record_denial(&clinic, details).await {
            return AppError::from(e).into_response();
        }
    }
    resp
}

enum Denial {
    Redirect(String),
    Csrf,
    Scope,
}

async fn check_request(
    session: &Session,
    identity: Option<&StaffIdentity>,
    security: Option<ClinicSecurity>,
    req: Request,
) -> Result<Request, Denial> {
    let unsafe_method = is_unsafe(req.method());
    if let Some(StaffIdentity {
        via: AuthVia::Token { scope, .. },
        ..
    }) = identity
    {
        // Tokens carry no cookies, so CSRF does not apply; a read token only reads.
        if unsafe_method && *scope == TokenScope::Read {
            return Err(Denial::Scope);
        }
        return Ok(req);
    }
    let req = if unsafe_method {
        check_csrf(session, req).await?
    } else {
        req
    };
    if let Some(i) = identity {
        let path = req.uri().path();
        if i.must_change_password && !allowed_while_pending(path, "password") {
            return Err(Denial::Redirect("/account/password".into()));
        }
        let policy = security.map(|s| s.0.mfa_policy).unwrap_or_default();
        if !i.mfa_enabled && policy.requires(i.role) && !allowed_while_pending(path, "mfa") {
            return Err(Denial::Redirect("/account/mfa".into()));
        }
    }
    Ok(req)
}

async fn check_csrf(session: &Session, req: Request) -> Result<Request, Denial> {
    if cross_site(&req) {
        tracing::warn!("unsafe request refused: it came from another site");
        return Err(Denial::Csrf);
    }
    let expected = session::load(session).await.map(|s| s.csrf);
    let (req, given) = csrf_token_of(req).await;
    match (expected, given) {
        (Some(e), Some(g)) if !e.is_empty() && constant_time_eq(&e, &g) => Ok(req),
        (None, _) => {
            tracing::warn!("unsafe request refused: no session (cookies blocked or expired)");
            Err(Denial::Csrf)
        }
        _ => {
            tracing::warn!("unsafe request refused: missing or stale CSRF token");
            Err(Denial::Csrf)
        }
    }
}

/// The guard for console routes: CSRF and forced password change.
pub async fn guard_operator(session: Session, req: Request, next: Next) -> Response {
    let identity = req.extensions().get::<OperatorIdentity>().cloned();
    let req = if is_unsafe(req.method()) {
        match check_csrf(&session, req).await {
            Ok(r) => r,
            Err(_) => return AppError::Csrf.into_response(),
        }
    } else {
        req
    };
    if let Some(i) = identity
        && i.must_change_password
        && !allowed_while_pending(req.uri().path(), "password")
    {
        return axum::response::Redirect::to("/account/password").into_response();
    }
    next.run(req).await
}

#[cfg(test)]
mod multipart_tests {
    use super::*;

    #[test]
    fn the_token_is_read_from_the_first_part_only() {
        let b = "XyZ";
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"_csrf\"\r\n\r\ntok123\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.pdf\"\r\n\r\n%PDF";
        assert_eq!(first_part_token(body, b), Some(Some("tok123".into())));
        // Not yet complete: more is needed.
        assert_eq!(first_part_token(&body[..40], b), None);
        let file_first =
            b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n%PDF\r\n--XyZ--";
        assert_eq!(first_part_token(file_first, b), Some(None));
        // A field whose name only contains "_csrf" is not the token.
        let other = b"--XyZ\r\nContent-Disposition: form-data; name=\"x_csrf\"\r\n\r\nt\r\n--XyZ--";
        assert_eq!(first_part_token(other, b), Some(None));
        assert_eq!(
            multipart_boundary("multipart/form-data; boundary=\"----abc\""),
            Some("----abc".into())
        );
        assert_eq!(multipart_boundary("application/json"), None);
    }
}
