//! `/api/v1/patients`

use crate::web::extract::Json;
use crate::web::extract::Path;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::domain::clinic::Clinic;
use crate::domain::patients::{Patient, PatientError, PatientInput, PatientSummary, search, work};
use crate::domain::scheduling::Appointment;
use crate::web::AppError;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// Name (any order, misspelt or without accents), MRN, phone (7+ digits) or birth date.
    pub q: Option<String>,
    /// 1-100, default 20.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct SearchResult {
    pub items: Vec<PatientSummary>,
}

fn patient_error(e: PatientError) -> AppError {
    match e {
        PatientError::Invalid(errors) => AppError::Validation(errors),
        PatientError::PossibleDuplicates(d) => AppError::Conflict(
            "possible duplicates exist; send allow_duplicate=true if this is a different person"
                .into(),
            Some(serde_json::json!({ "duplicates": d })),
        ),
        e @ PatientError::Conflict => AppError::Conflict(e.to_string(), None),
        PatientError::NotFound => AppError::NotFound,
        PatientError::Malformed(m) => AppError::BadRequest(m),
        PatientError::Sql(e) => e.into(),
    }
}

#[utoipa::path(get, operation_id = "patients_search", path = "/api/v1/patients", tag = "patients", params(SearchParams),
    responses((status = 200, body = SearchResult)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn search(
    clinic: Clinic,
    Query(p): Query<SearchParams>,
) -> Result<Json<SearchResult>, AppError> {
    let limit = p.limit.unwrap_or(search::DEFAULT_LIMIT);
    if !(1..=100).contains(&limit) {
        return Err(AppError::Validation(crate::web::forms::FormErrors::with(
            "limit",
            "invalid.between_1_100",
        )));
    }
    let (items, _) = work::search(&clinic, p.q.as_deref().unwrap_or(""), limit).await?;
    Ok(Json(SearchResult { items }))
}

#[derive(Deserialize, ToSchema)]
pub struct NewPatient {
    #[serde(flatten)]
    pub patient: PatientInput,
    /// Register even though a patient with the same name and birth date, or phone, exists.
    #[serde(default)]
    pub allow_duplicate: bool,
}

#[utoipa::path(post, operation_id = "patients_create", path = "/api/v1/patients", tag = "patients", request_body = NewPatient,
    responses((status = 201, body = Patient), (status = 409, description = "Possible duplicates (listed in `duplicates`)"), (status = 422)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn create(
    clinic: Clinic,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, AppError> {
    crate::web::forms::require_json(&headers)?;
    // `allow_duplicate` sits beside the patient's fields, which refuse unknown keys.
    let mut value: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| AppError::BadRequest(format!("invalid JSON: {e}")))?;
    let allow = value
        .as_object_mut()
        .and_then(|o| o.remove("allow_duplicate"))
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    let input: PatientInput = serde_json::from_value(value)
        .map_err(|e| AppError::BadRequest(format!("invalid patient: {e}")))?;
    let p = work::register(&clinic, &input, allow)
        .await
        .map_err(patient_error)?;
    Ok((StatusCode::CREATED, Json(p)).into_response())
}

#[utoipa::path(get, operation_id = "patients_show", path = "/api/v1/patients/{id}", tag = "patients", params(("id" = i64, Path)),
    responses((status = 200, body = Patient), (status = 404)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn show(clinic: Clinic, Path(id): Path<i64>) -> Result<Json<Patient>, AppError> {
    let (p, _) = work::view(&clinic, id, work::ViewFor::Record)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(Json(p))
}

/// The body of `PATCH /api/v1/patients/{id}`: any fields of a patient, each replacing the
/// stored value, and `version` (from a previous read) against lost updates. Other keys are
/// refused.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[expect(
    dead_code,
    reason = "it checks the keys of the patch; the values are merged as JSON"
)]
pub struct PatientPatch {
    given_name: Option<String>,
    middle_name: Option<String>,
    family_name: Option<String>,
    sex: Option<String>,
    birth_date: Option<String>,
    birth_date_estimated: Option<bool>,
    estimated_age: Option<String>,
    phones: Option<Vec<crate::domain::patients::Phone>>,
    email: Option<String>,
    address: Option<String>,
    national_id: Option<String>,
    insurance_id: Option<String>,
    emergency_contact: Option<crate::domain::patients::EmergencyContact>,
    preferred_language: Option<String>,
    allergies: Option<Vec<crate::domain::patients::AllergyInput>>,
    alerts: Option<String>,
    notes: Option<String>,
    version: Option<i32>,
}

/// Changes only the fields sent; `version` (from a previous read) guards against lost updates.
#[utoipa::path(patch, operation_id = "patients_update", path = "/api/v1/patients/{id}", tag = "patients", params(("id" = i64, Path)),
    request_body = PatientPatch,
    responses((status = 200, body = Patient), (status = 404), (status = 409), (status = 422)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn update(
    clinic: Clinic,
    Path(id): Path<i64>,
    Json(patch): Json<serde_json::Value>,
) -> Result<Json<Patient>, AppError> {
    let serde_json::Value::Object(mut patch) = patch else {
        return Err(AppError::BadRequest("send a JSON object".into()));
    };
    serde_json::from_value::<PatientPatch>(serde_json::Value::Object(patch.clone()))
        .map_err(|e| AppError::BadRequest(format!("invalid patient: {e}")))?;
    let version = match patch.remove("version") {
        None | Some(serde_json::Value::Null) => None,
        Some(v) => Some(
            v.as_i64()
                .and_then(|v| i32::try_from(v).ok())
                .ok_or_else(|| AppError::BadRequest("version: a number".into()))?,
        ),
    };
    let p = work::patch(&clinic, id, patch, version)
        .await
        .map_err(patient_error)?;
    Ok(Json(p))
}

#[utoipa::path(get, operation_id = "patients_appointments", path = "/api/v1/patients/{id}/appointments", tag = "patients",
    params(("id" = i64, Path)),
    responses((status = 200, body = Vec<Appointment>), (status = 404)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn appointments(
    clinic: Clinic,
    Path(id): Path<i64>,
) -> Result<Json<Vec<Appointment>>, AppError> {
    let list = work::appointments(&clinic, id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(Json(list))
}
