//! `/api/v1/patients/{id}/documents` and `/api/v1/documents/{id}`: the same units of work as
//! the chart's documents.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::ToSchema;

use super::visits::Created;
use crate::domain::clinic::Clinic;
use crate::domain::documents::Document;
use crate::domain::documents::work::{self, Purpose, Target};
use crate::web::AppError;
use crate::web::extract::{Json, Multipart, Path};
use crate::web::forms::FormErrors;
use crate::web::routes::documents::{Documents, Received, document_error, file_response, receive};

#[utoipa::path(get, operation_id = "documents_list", path = "/api/v1/patients/{id}/documents", tag = "documents", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<Document>, description = "Newest first; deleted documents are not listed"), (status = 404)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn list(clinic: Clinic, Path(id): Path<i64>) -> Result<Json<Vec<Document>>, AppError> {
    Ok(Json(
        work::of_patient(&clinic, id)
            .await
            .map_err(document_error)?,
    ))
}

/// A document upload (`multipart/form-data`).
#[derive(ToSchema)]
#[allow(
    dead_code,
    reason = "describes the multipart body for the OpenAPI document"
)]
pub struct DocumentUpload {
    /// PDF, JPEG or PNG, at most the clinic's size limit (default 20 MB); the type is told
    /// from the content.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    /// Default: the file's name without its ending.
    title: Option<String>,
    /// `lab`, `imaging`, `referral`, `photo`, `consent`, `prescription` or `other` (default).
    category: Option<String>,
    /// Attach it to this (unsigned) visit of the patient.
    visit_id: Option<i64>,
}

#[utoipa::path(post, operation_id = "documents_upload", path = "/api/v1/patients/{id}/documents", tag = "documents", params(("id" = i64, Path)),
    request_body(content = DocumentUpload, content_type = "multipart/form-data"),
    responses((status = 201, body = Created), (status = 404), (status = 409, description = "The visit is signed"),
        (status = 422, description = "No file, a type that is not PDF, JPEG or PNG, over the size limit or over the clinic's storage quota (field `file`)")),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn upload(
    clinic: Clinic,
    docs: Documents,
    Path(id): Path<i64>,
    mp: Multipart,
) -> Result<Response, AppError> {
    let max_file = work::max_upload(&clinic).await.map_err(document_error)?;
    let Received { input, visit, file } = receive(mp, &*docs.store, max_file).await?;
    let file = file.map_err(AppError::Validation)?;
    let target = match visit.trim() {
        "" => Target::Patient(id),
        v => Target::VisitOf {
            patient: id,
            visit: v.parse::<i64>().map_err(|_| {
                AppError::Validation(FormErrors::with("visit_id", "invalid.visit_id"))
            })?,
        },
    };
    let doc = work::upload(&clinic, docs.store.clone(), docs.quota, target, input, file)
        .await
        .map_err(document_error)?;
    Ok((StatusCode::CREATED, Json(Created { id: doc })).into_response())
}

#[utoipa::path(get, operation_id = "documents_content", path = "/api/v1/documents/{id}/content", tag = "documents", params(("id" = i64, Path)),
    responses((status = 200, description = "The file, with its type and name (Content-Disposition: attachment)", content_type = "application/octet-stream"), (status = 404)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn content(
    clinic: Clinic,
    docs: Documents,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let (d, bytes) = work::open(&clinic, &*docs.store, id, Purpose::Download)
        .await
        .map_err(document_error)?;
    Ok(file_response(&d, bytes, false))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteDocument {
    /// Why it is deleted (1-500 characters).
    pub reason: String,
}

#[utoipa::path(delete, operation_id = "documents_delete", path = "/api/v1/documents/{id}", tag = "documents", params(("id" = i64, Path)),
    request_body = DeleteDocument,
    responses((status = 204, description = "Deleted (softly: no longer listed or served)"), (status = 404), (status = 422)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn delete(
    clinic: Clinic,
    Path(id): Path<i64>,
    Json(b): Json<DeleteDocument>,
) -> Result<StatusCode, AppError> {
    work::delete(&clinic, id, &b.reason)
        .await
        .map_err(document_error)?;
    Ok(StatusCode::NO_CONTENT)
}
