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
