//! One error type at the web edge. `AppError` only sets a status and what may be shown;
//! `render_errors` turns every error response (ours or axum's) into a branded HTML page or an
//! RFC 9457 problem+json body, and logs the cause once. Nothing from SQL or a patient record
//! ever reaches the body.

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::web::middleware::RequestId;
use crate::web::page::{Page, render_page};
use crate::web::site::ResponseSite;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("clinic suspended")]
    Suspended,
    #[error("sign-in required")]
    Unauthenticated,
    #[error("invalid or expired API token")]
    InvalidToken,
    #[error("permission denied")]
    Denied(Option<crate::domain::auth::Permission>),
    #[error("CSRF check failed")]
    Csrf,
    /// Input that failed validation, per field (API bodies; forms re-render themselves).
    #[error("invalid input")]
    Validation(crate::web::forms::FormErrors),
    /// The request cannot be applied to the current state; `extra` adds members to the
    /// problem+json body (e.g. the next free slots).
    #[error("conflict: {0}")]
    Conflict(String, Option<serde_json::Value>),
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// A JSON route was sent something else.
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// A rate limit: try again after this long.
    #[error("too many requests")]
    TooMany(std::time::Duration),
    /// A body or path the extractor could not read (`web::extract`): axum's status and its
    /// description of what is wrong.
    #[error("rejected request: {1}")]
    Rejected(StatusCode, String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl AppError {
    pub fn rejected(status: StatusCode, detail: String) -> Self {
        Self::Rejected(status, detail.chars().take(300).collect())
    }
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        if database_unavailable(&e) {
            Self::Unavailable(format!("database: {e}"))
        } else {
            Self::Internal(e.into())
        }
    }
}

/// The database is down, restarting or out of connections (as opposed to a query that failed):
/// the request may succeed again shortly.
pub fn database_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::Io(_)
        | sqlx::Error::PoolClosed
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        // 08: connection exception; 57P01-57P03: shutting down, crashed, starting;
        // 53300: too many connections.
        sqlx::Error::Database(d) => d
            .code()
            .is_some_and(|c| c.starts_with("08") || c.starts_with("57P") || c == "53300"),
        _ => false,
    }
}

/// Seconds a client is asked to wait when the database is unavailable.
pub const RETRY_AFTER_SECS: u32 = 15;

/// What an error response may show, plus the cause that only goes to the log.
#[derive(Clone, Debug)]
pub struct ErrorInfo {
    pub code: &'static str,
    pub detail: Option<String>,
    pub cause: Option<String>,
    /// Field errors, as `errors` in problem+json.
    pub fields: Option<std::collections::BTreeMap<String, String>>,
    /// Further problem+json members.
    pub extra: Option<serde_json::Value>,
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, code, detail, cause) = match self {
            Self::NotFound => (StatusCode::NOT_FOUND, "not_found", None, None),
            Self::BadRequest(d) => (StatusCode::BAD_REQUEST, "bad_request", Some(d), None),
            Self::Rejected(status, d) => (status, default_code(status), Some(d), None),
            Self::Forbidden(d) => (StatusCode::FORBIDDEN, "forbidden", Some(d), None),
            Self::Suspended => (
                StatusCode::SERVICE_UNAVAILABLE,
                "clinic_suspended",
                None,
                None,
            ),
            Self::Unavailable(cause) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                None,
                Some(cause),
            ),
            Self::Unauthenticated => (StatusCode::UNAUTHORIZED, "unauthenticated", None, None),
            Self::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                Some("Send the body as JSON, with Content-Type: application/json.".to_owned()),
                None,
            ),
            Self::TooMany(wait) => {
                let mut resp = StatusCode::TOO_MANY_REQUESTS.into_response();
                let secs = wait.as_secs().max(1);
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs));
                resp.extensions_mut().insert(ErrorInfo {
                    code: "too_many_requests",
                    detail: None,
                    cause: None,
                    fields: None,
                    extra: None,
                });
                return resp;
            }
            Self::InvalidToken => (
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                Some("The API token is unknown, expired or revoked.".to_owned()),
                None,
            ),
            Self::Denied(p) => {
                let mut resp = StatusCode::FORBIDDEN.into_response();
                resp.extensions_mut()
                    .insert(crate::web::auth::DeniedMarker(p));
                resp.extensions_mut().insert(ErrorInfo {
                    code: "forbidden",
                    detail: Some(match p {
                        Some(p) => format!("Your role does not have the permission {}.", p.as_str()),
                        None => "This API token may only read.".to_owned(),
                    }),
                    cause: None,
                    fields: None,
                    extra: None,
                });
                return resp;
            }
            Self::Csrf => (
                StatusCode::FORBIDDEN,
                "csrf",
                Some("The form has expired or came from another site. Go back, reload the page and try again.".to_owned()),
                None,
            ),
            Self::Conflict(detail, extra) => {
                let mut resp = StatusCode::CONFLICT.into_response();
                resp.extensions_mut().insert(ErrorInfo {
                    code: "conflict",
                    detail: Some(detail),
                    cause: None,
                    fields: None,
                    extra,
                });
                return resp;
            }
            Self::Validation(errors) => {
                let mut resp = StatusCode::UNPROCESSABLE_ENTITY.into_response();
                let fields: std::collections::BTreeMap<String, String> = errors
                    .as_map()
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), crate::i18n::en_message(v)))
                    .collect();
                let detail = fields
                    .iter()
                    .map(|(k, v)| format!("{k}: {v}"))
                    .collect::<Vec<_>>()
                    .join("; ");
                resp.extensions_mut().insert(ErrorInfo {
                    code: "validation",
                    detail: Some(detail),
                    cause: None,
                    fields: Some(fields),
                    extra: None,
                });
                return resp;
            }
            Self::Internal(e) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                None,
                Some(format!("{e:#}")),
            ),
        };
        let mut resp = status.into_response();
        resp.extensions_mut().insert(ErrorInfo {
            code,
            detail,
            cause,
            fields: None,
            extra: None,
        });
        resp
    }
}

pub fn wants_json(req: &Request) -> bool {
    if req.uri().path().starts_with("/api/") {
        return true;
    }
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    accept.contains("json") && !accept.contains("text/html")
}

#[derive(askama::Template)]
#[template(path = "error.html")]
struct ErrorPage {
    page: Page,
    status: u16,
    title: String,
    detail: String,
    request_id: String,
}

pub async fn render_errors(req: Request, next: Next) -> Response {
    let json = wants_json(&req);
    let path = req.uri().path().to_owned();
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    let resp = next.run(req).await;
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let info = resp.extensions().get::<ErrorInfo>().cloned();
    // A handler that rendered its own error body (a form with messages, /readyz JSON) keeps it;
    // only our bare errors and axum's plain-text rejections are rewritten.
    let plain = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|ct| ct.starts_with("text/plain"));
    if info.is_none() && !plain {
        return resp;
    }
    let site = resp.extensions().get::<ResponseSite>().cloned();
    let (mut parts, body) = resp.into_parts();

    let mut detail = info.as_ref().and_then(|i| i.detail.clone());
    if info.is_none() && status.is_client_error() {
        // An axum rejection (bad JSON, wrong method…): its text names fields, never values.
        let bytes = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes).trim().to_owned();
        if !text.is_empty() {
            detail = Some(text.chars().take(300).collect());
        }
    }
    if let Some(cause) = info.as_ref().and_then(|i| i.cause.as_ref()) {
        if status.is_server_error() {
            tracing::error!(status = status.as_u16(), cause = %cause, "request failed");
        } else {
            tracing::warn!(status = status.as_u16(), cause = %cause, "request refused");
        }
    }
    let code = info
        .as_ref()
        .map_or_else(|| default_code(status), |i| i.code);
    if status == StatusCode::SERVICE_UNAVAILABLE && matches!(code, "unavailable" | "busy") {
        parts
            .headers
            .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
    }
    if status == StatusCode::UNAUTHORIZED {
        if !json && code == "unauthenticated" {
            // Only the path is carried over: a query string may hold search terms. The other
            // headers stay, notably a Set-Cookie that carries an "expired" notice.
            let next: String = url::form_urlencoded::byte_serialize(path.as_bytes()).collect();
            parts.status = StatusCode::SEE_OTHER;
            parts.headers.remove(header::CONTENT_TYPE);
            if let Ok(v) = HeaderValue::from_str(&format!("/login?next={next}")) {
                parts.headers.insert(header::LOCATION, v);
            }
            return Response::from_parts(parts, axum::body::Body::empty());
        }
        parts.headers.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"clinicbox\""),
        );
    }

    parts.headers.remove(header::CONTENT_LENGTH);
    let page = match site.as_ref().and_then(|s| s.0.clone()) {
        Some(t) => Page::for_clinic(&t, &request_id),
        None => Page::plain(&request_id),
    };
    let (title, detail) = describe(&page, status, code, detail);
    if json {
        let mut body = serde_json::json!({
            "type": "about:blank",
            "title": title,
            "status": status.as_u16(),
            "detail": detail,
            "code": code,
            "request_id": request_id,
        });
        if let Some(fields) = info.as_ref().and_then(|i| i.fields.as_ref()) {
            body["errors"] = serde_json::json!(fields);
        }
        if let Some(serde_json::Value::Object(extra)) = info.as_ref().and_then(|i| i.extra.clone())
        {
            for (k, v) in extra {
                body[k] = v;
            }
        }
        parts.headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        return Response::from_parts(parts, axum::body::Body::from(body.to_string()));
    }
    let page_resp = render_page(&ErrorPage {
        page,
        status: status.as_u16(),
        title,
        detail,
        request_id,
    });
    let (p2, body) = page_resp.into_parts();
    for (k, v) in &p2.headers {
        parts.headers.insert(k, v.clone());
    }
    Response::from_parts(parts, body)
}

fn default_code(status: StatusCode) -> &'static str {
    match status {
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::TOO_MANY_REQUESTS => "too_many_requests",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "unprocessable",
        // Ours carry "unavailable" (the database) or "clinic_suspended"; a bare 503 is the
        // request timeout or the shutdown drain.
        StatusCode::SERVICE_UNAVAILABLE => "busy",
        s if s.is_server_error() => "internal",
        _ => "bad_request",
    }
}

fn describe(
    page: &Page,
    status: StatusCode,
    code: &str,
    detail: Option<String>,
) -> (String, String) {
    let t = |k: &str| page.t(k).to_owned();
    match (status, code) {
        (_, "clinic_suspended") => (t("suspended.title"), t("suspended.detail")),
        (StatusCode::NOT_FOUND, _) => (
            t("error.not_found"),
            detail.unwrap_or_else(|| t("error.not_found_detail")),
        ),
        (StatusCode::FORBIDDEN, _) => (t("error.forbidden"), detail.unwrap_or_default()),
        (StatusCode::CONFLICT, _) => (t("error.conflict"), detail.unwrap_or_default()),
        (StatusCode::UNAUTHORIZED, _) => (
            t("error.unauthenticated"),
            detail.unwrap_or_else(|| t("error.unauthenticated_detail")),
        ),
        (StatusCode::TOO_MANY_REQUESTS, _) => (t("error.too_many"), t("error.too_many_detail")),
        (StatusCode::SERVICE_UNAVAILABLE, "unavailable") => {
            (t("error.unavailable"), t("error.database_unavailable"))
        }
        (StatusCode::SERVICE_UNAVAILABLE, _) => (t("error.unavailable"), t("error.busy")),
        (s, _) if s.is_server_error() => (t("error.title"), t("error.internal")),
        (s, _) => (
            s.canonical_reason()
                .map_or_else(|| t("error.bad_request"), str::to_owned),
            detail.unwrap_or_else(|| t("error.bad_request")),
        ),
    }
}
