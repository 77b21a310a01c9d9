//! Documents on the chart and the visit: uploads (multipart), the authorized inline view and
//! download, soft delete.

pub mod pages;

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::app::AppState;
use crate::domain::documents::{
    Document, DocumentError, Incoming, LocalStore, Store, UploadInput, WriteError,
};
use crate::web::AppError;
use crate::web::extract::Multipart;
use crate::web::forms::FormErrors;
use crate::web::routes::table::Access::Needs;
use crate::web::routes::table::Route;
use crate::web::site::CurrentTenant;

/// The largest request body an upload route reads: the largest size limit a clinic can set,
/// plus room for the form's other fields. A clinic's own limit is checked while receiving.
pub const UPLOAD_BODY_CEILING: usize = 101 * 1024 * 1024;

/// The current clinic's document store and quota.
#[derive(Clone)]
pub struct Documents {
    pub store: Arc<dyn Store>,
    pub quota: u64,
}

impl FromRequestParts<AppState> for Documents {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let tenant = CurrentTenant::from_request_parts(parts, state).await?;
        let storage = &state.config.storage;
        Ok(Self {
            store: Arc::new(LocalStore::new(
                &crate::ops::backup::documents_dir(&state.config),
                &storage.incoming_dir(),
                tenant.slug.as_str(),
            )),
            quota: storage.document_quota_bytes(),
        })
    }
}

pub fn document_error(e: DocumentError) -> AppError {
    match e {
        DocumentError::NotFound => AppError::NotFound,
        DocumentError::Invalid(errors) => AppError::Validation(errors),
        DocumentError::Sql(e) => e.into(),
        DocumentError::Io(e) => AppError::Internal(anyhow::Error::new(e)),
        e @ DocumentError::VisitSigned => {
            AppError::Conflict(crate::i18n::en(e.message()).to_owned(), None)
        }
    }
}

/// What a multipart upload carried.
pub struct Received {
    pub input: UploadInput,
    /// `visit_id` (the API's optional field).
    pub visit: String,
    /// The file, or why there is none (the message for the `file` field).
    pub file: Result<Incoming, FormErrors>,
}

/// Longest text field of an upload form read, in bytes.
const TEXT_FIELD_MAX: usize = 4096;

/// Reads an upload: the text fields, and the first non-empty `file` part written to an
/// [`Incoming`] file of at most `max_file` bytes. A file over the limit is not kept (and the
/// rest of the body is still read, so that the browser shows the answer). Further files are
/// ignored.
pub async fn receive(
    Multipart(mut mp): Multipart,
    store: &dyn Store,
    max_file: u64,
) -> Result<Received, AppError> {
    let bad =
        |e: axum::extract::multipart::MultipartError| AppError::rejected(e.status(), e.body_text());
    let mut r = Received {
        input: UploadInput::default(),
        visit: String::new(),
        file: Err(FormErrors::with("file", "invalid.document_missing")),
    };
    while let Some(mut field) = mp.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or("").to_owned();
        if name == "file" && r.file.is_err() {
            let file_name = field.file_name().unwrap_or("").to_owned();
            let mut inc = Incoming::create(store.incoming_dir(), max_file)
                .await
                .map_err(|e| AppError::Internal(e.into()))?;
            let mut outcome = Ok(());
            while let Some(chunk) = field.chunk().await.map_err(bad)? {
                if outcome.is_ok() {
                    outcome = inc.write(&chunk).await;
                }
            }
            match outcome {
                Ok(()) if inc.size() == 0 && file_name.is_empty() => {}
                Ok(()) => {
                    r.input.file_name = file_name;
                    r.file = Ok(inc);
                }
                Err(WriteError::TooLarge) => {
                    let mb = max_file >> 20;
                    let m = crate::i18n::msg("invalid.document_too_large", &[("mb", &mb)]);
                    r.file = Err(FormErrors::with("file", m));
                }
                Err(WriteError::Io(e)) => return Err(AppError::Internal(e.into())),
            }
            continue;
        }
        let mut text = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(bad)? {
            if text.len() + chunk.len() > TEXT_FIELD_MAX {
                return Err(AppError::BadRequest(format!("field {name} is too long")));
            }
            text.extend_from_slice(&chunk);
        }
        let text = String::from_utf8_lossy(&text).into_owned();
        match name.as_str() {
            "title" => r.input.title = text,
            "category" => r.input.category = text,
            "visit_id" => r.visit = text,
            _ => {}
        }
    }
    Ok(r)
}

/// The file as a response: inline (`view`) or as a download, with the content's own type, its
/// name, `nosniff` and a policy that lets the browser show it and nothing else.
pub fn file_response(d: &Document, bytes: Vec<u8>, inline: bool) -> Response {
    let disposition = format!(
        "{}; filename=\"{}\"; filename*=UTF-8''{}",
        if inline { "inline" } else { "attachment" },
        ascii_name(&d.file_name),
        percent_encoding::utf8_percent_encode(&d.file_name, percent_encoding::NON_ALPHANUMERIC)
    );
    let csp = if d.is_image() {
        "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'none'"
    } else {
        "default-src 'none'; object-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'none'"
    };
    let mut resp = bytes.into_response();
    let h = resp.headers_mut();
    let ct = HeaderValue::from_str(&d.media_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    h.insert(header::CONTENT_TYPE, ct);
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(csp),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

fn ascii_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .filter(|c| *c != '"' && *c != '\\')
        .collect()
}

pub fn routes() -> Vec<Route> {
    use crate::domain::auth::Permission::{DocumentsRead, DocumentsWrite};
    vec![
        Route::get(
            "/patients/{id}/documents/new",
            Needs(DocumentsWrite),
            pages::new,
        ),
        Route::post(
            "/patients/{id}/documents",
            Needs(DocumentsWrite),
            pages::upload_to_patient,
        )
        .upload(),
        Route::post(
            "/visits/{id}/documents",
            Needs(DocumentsWrite),
            pages::upload_to_visit,
        )
        .upload(),
        Route::get("/documents/{id}", Needs(DocumentsRead), pages::view),
        Route::get(
            "/documents/{id}/download",
            Needs(DocumentsRead),
            pages::download,
        ),
        Route::get(
            "/documents/{id}/delete",
            Needs(DocumentsWrite),
            pages::confirm_delete,
        ),
        Route::post(
            "/documents/{id}/delete",
            Needs(DocumentsWrite),
            pages::delete,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn download_names_cannot_break_the_header() {
        assert_eq!(ascii_name("a\"b\\c.pdf"), "abc.pdf");
        assert_eq!(ascii_name("रिपोर्ट.pdf"), "_______.pdf");
    }
}
