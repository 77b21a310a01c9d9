//! The clinic's colours as a stylesheet, so pages need no inline style under the CSP.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::web::site::CurrentTenant;

pub async fn css(tenant: CurrentTenant) -> Response {
    // `primary_color` is validated as #rrggbb when read (Branding::from_json).
    let c = &tenant.branding.primary_color;
    let body = format!(":root {{ --primary: {c}; }}\n");
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/css; charset=utf-8"),
            ),
            // The URL carries a hash of the colours, so a change is picked up at once.
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=86400"),
            ),
        ],
        body,
    )
        .into_response()
}

/// `GET /logo`: the clinic's logo (public: the sign-in page shows it). With the version the
/// pages link (`?v=`) it is cached for a year; an SVG is served with a policy that lets nothing
/// in it run or load.
pub async fn logo(
    tenant: CurrentTenant,
    axum::extract::State(state): axum::extract::State<crate::app::AppState>,
    axum::extract::Query(q): axum::extract::Query<LogoQuery>,
) -> Result<Response, crate::web::AppError> {
    let Some(l) = crate::domain::settings::branding::logo(&state.db.pool, &tenant).await? else {
        return Err(crate::web::AppError::NotFound);
    };
    let current = q.v.as_deref() == Some(&l.sha256[..16]);
    let cache = if current {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let ct = HeaderValue::from_str(&l.media_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    Ok((
        [
            (header::CONTENT_TYPE, ct),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
                ),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        l.body,
    )
        .into_response())
}

#[derive(serde::Deserialize)]
pub struct LogoQuery {
    pub v: Option<String>,
}
