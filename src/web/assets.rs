//! Static files embedded in the binary. Templates link them by a content-hashed name
//! (`app.3f9a1c2b.css`) served with a one-year immutable cache; a new release changes the name.

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::web::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "static/"]
struct Static;

struct Index {
    hashed_by_name: HashMap<String, String>,
    name_by_hashed: HashMap<String, String>,
}

fn index() -> &'static Index {
    static I: OnceLock<Index> = OnceLock::new();
    I.get_or_init(|| {
        let mut hashed_by_name = HashMap::new();
        let mut name_by_hashed = HashMap::new();
        for name in Static::iter() {
            let Some(file) = Static::get(&name) else {
                continue;
            };
            let hash = hex::encode(&file.metadata.sha256_hash()[..5]);
            let hashed = hashed_name(&name, &hash);
            hashed_by_name.insert(name.to_string(), hashed.clone());
            name_by_hashed.insert(hashed, name.to_string());
        }
        Index {
            hashed_by_name,
            name_by_hashed,
        }
    })
}

/// `dir/app.min.js` + `abc` → `dir/app.min.abc.js`.
fn hashed_name(name: &str, hash: &str) -> String {
    match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.ends_with('/') && !stem.is_empty() => {
            format!("{stem}.{hash}.{ext}")
        }
        _ => format!("{name}.{hash}"),
    }
}

/// The URL to put in a page for `name` (a path under `static/`).
pub fn url(name: &str) -> String {
    match index().hashed_by_name.get(name) {
        Some(h) => format!("/static/{h}"),
        None => {
            tracing::warn!(asset = name, "unknown static asset");
            format!("/static/{name}")
        }
    }
}

pub async fn serve(Path(file): Path<String>) -> Response {
    let (name, immutable) = match index().name_by_hashed.get(&file) {
        Some(n) => (n.clone(), true),
        None => (file, false),
    };
    let Some(content) = Static::get(&name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mime = mime_guess::from_path(&name).first_or_octet_stream();
    let cache = if immutable {
        "public, max-age=31536000, immutable"
    } else {
        "public, max-age=300"
    };
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_str(mime.as_ref())
                    .unwrap_or(HeaderValue::from_static("application/octet-stream")),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
        ],
        content.data.into_owned(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashed_names() {
        assert_eq!(hashed_name("app.css", "ab12"), "app.ab12.css");
        assert_eq!(
            hashed_name("vendor/htmx.min.js", "ab12"),
            "vendor/htmx.min.ab12.js"
        );
        assert_eq!(hashed_name("LICENSE", "ab12"), "LICENSE.ab12");
    }

    #[test]
    fn every_asset_has_a_hashed_url() {
        let u = url("app.css");
        assert!(
            u.starts_with("/static/app.") && u.ends_with(".css") && u.len() > 20,
            "{u}"
        );
    }
}
