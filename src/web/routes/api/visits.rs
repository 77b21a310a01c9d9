//! `/api/v1/visits`, vitals, diagnoses, signing, amendments and `/api/v1/codes`: the same
//! units of work as the visit screen.

use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::domain::clinic::Clinic;
use crate::domain::codes::Code;
use crate::domain::prescriptions::work as rx;
use crate::domain::prescriptions::{Item, ItemInput};
use crate::domain::visits::service::NoteSave;
use crate::domain::visits::work::{self, VitalsFor};
use crate::domain::visits::{
    Amendment, Diagnosis, DiagnosisInput, NoteInput, Problem, Visit, VisitError, VisitSummary,
    Vitals, VitalsInput,
};
use crate::web::AppError;
use crate::web::extract::{Json, Path};

pub fn visit_error(e: VisitError) -> AppError {
    match e {
        VisitError::NotFound => AppError::NotFound,
        VisitError::Invalid(errors) => AppError::Validation(errors),
        VisitError::Conflict(now) => AppError::Conflict(
            crate::i18n::en("visits.conflict").to_owned(),
            Some(serde_json::json!({ "version": now })),
        ),
        VisitError::Sql(e) => e.into(),
        e => AppError::Conflict(crate::i18n::en(e.message()).to_owned(), None),
    }
}

/// A visit with everything recorded in it.
#[derive(Serialize, ToSchema)]
pub struct VisitRecord {
    pub visit: Visit,
    pub vitals: Vec<Vitals>,
    pub diagnoses: Vec<Diagnosis>,
    pub amendments: Vec<Amendment>,
    /// The patient's problem list.
    pub problems: Vec<Problem>,
}

#[derive(Serialize, ToSchema)]
pub struct Created {
    pub id: i64,
}

#[utoipa::path(get, operation_id = "visits_show", path = "/api/v1/visits/{id}", tag = "visits", params(("id" = i64, Path)),
    responses((status = 200, body = VisitRecord), (status = 404)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn show(clinic: Clinic, Path(id): Path<i64>) -> Result<Json<VisitRecord>, AppError> {
    let r = work::open(&clinic, id, None).await.map_err(visit_error)?;
    Ok(Json(VisitRecord {
        visit: r.visit,
        vitals: r.vitals,
        diagnoses: r.diagnoses,
        amendments: r.amendments,
        problems: r.problems,
    }))
}

#[utoipa::path(post, operation_id = "visits_start", path = "/api/v1/appointments/{id}/visit", tag = "visits", params(("id" = i64, Path)),
    responses((status = 201, body = Created, description = "The visit of the appointment (started now, or already)"), (status = 404), (status = 409)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn start(clinic: Clinic, Path(id): Path<i64>) -> Result<Response, AppError> {
    let v = work::start(&clinic, id).await.map_err(visit_error)?;
    Ok((StatusCode::CREATED, Json(Created { id: v })).into_response())
}

#[utoipa::path(post, operation_id = "visits_start_for_patient", path = "/api/v1/patients/{id}/visits", tag = "visits", params(("id" = i64, Path)),
    responses((status = 201, body = Created), (status = 404), (status = 409)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn start_for_patient(clinic: Clinic, Path(id): Path<i64>) -> Result<Response, AppError> {
    let v = work::start_for_patient(&clinic, id)
        .await
        .map_err(visit_error)?;
    Ok((StatusCode::CREATED, Json(Created { id: v })).into_response())
}

#[utoipa::path(get, operation_id = "visits_of_patient", path = "/api/v1/patients/{id}/visits", tag = "visits", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<VisitSummary>), (status = 404)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn of_patient(
    clinic: Clinic,
    Path(id): Path<i64>,
) -> Result<Json<Vec<VisitSummary>>, AppError> {
    Ok(Json(
        work::of_patient(&clinic, id)
            .await?
            .ok_or(AppError::NotFound)?,
    ))
}

/// The fields of the note to change (those left out keep their text), and the version the
/// visit was read at (a save naming an older one is refused: 409).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteUpdate {
    pub version: i32,
    pub complaint: Option<String>,
    pub history: Option<String>,
    pub examination: Option<String>,
    pub assessment: Option<String>,
    pub plan: Option<String>,
    /// `YYYY-MM-DD`, empty for none.
    pub follow_up_on: Option<String>,
    /// Values of the visit's template fields by key (see the visit's `template`); those not
    /// named keep their value, an empty string clears one.
    pub fields: Option<std::collections::BTreeMap<String, String>>,
}

#[derive(Serialize, ToSchema)]
pub struct Saved {
    pub version: i32,
}

#[utoipa::path(patch, operation_id = "visits_update", path = "/api/v1/visits/{id}", tag = "visits", params(("id" = i64, Path)), request_body = NoteUpdate,
    responses((status = 200, body = Saved), (status = 404), (status = 409, description = "Signed, or saved meanwhile (`version` is the one stored)"), (status = 422)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn update(
    clinic: Clinic,
    Path(id): Path<i64>,
    Json(b): Json<NoteUpdate>,
) -> Result<Json<Saved>, AppError> {
    let mut omitted = Vec::new();
    let fields = b.fields.unwrap_or_else(|| {
        omitted.push("fields");
        Default::default()
    });
    let mut take = |name: &'static str, v: Option<String>| {
        v.unwrap_or_else(|| {
            omitted.push(name);
            String::new()
        })
    };
    let note = NoteInput {
        complaint: take("complaint", b.complaint),
        history: take("history", b.history),
        examination: take("examination", b.examination),
        assessment: take("assessment", b.assessment),
        plan: take("plan", b.plan),
        follow_up_on: take("follow_up_on", b.follow_up_on),
        fields,
    };
    let save = NoteSave {
        note,
        version: b.version,
        omitted,
    };
    let version = work::save(&clinic, id, &save, false)
        .await
        .map_err(visit_error)?;
    Ok(Json(Saved { version }))
}

#[utoipa::path(post, operation_id = "visits_vitals", path = "/api/v1/visits/{id}/vitals", tag = "visits", params(("id" = i64, Path)), request_body = VitalsInput,
    responses((status = 201, body = Created), (status = 404), (status = 409), (status = 422)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn vitals(
    clinic: Clinic,
    Path(id): Path<i64>,
    Json(b): Json<VitalsInput>,
) -> Result<Response, AppError> {
    let (v, _) = work::record_vitals(&clinic, VitalsFor::Visit(id), &b, None)
        .await
        .map_err(visit_error)?;
    Ok((StatusCode::CREATED, Json(Created { id: v })).into_response())
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TriageParams {
    /// The appointment the vitals are taken for (they join its visit).
    pub appointment: Option<i64>,
}

#[utoipa::path(post, operation_id = "patients_vitals", path = "/api/v1/patients/{id}/vitals", tag = "visits", params(("id" = i64, Path), TriageParams), request_body = VitalsInput,
    responses((status = 201, body = Created), (status = 404), (status = 409), (status = 422)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn triage(
    clinic: Clinic,
    Path(id): Path<i64>,
    Query(q): Query<TriageParams>,
    Json(b): Json<VitalsInput>,
) -> Result<Response, AppError> {
    let target = VitalsFor::Patient {
        patient: id,
        appointment: q.appointment,
    };
    let (v, _) = work::record_vitals(&clinic, target, &b, None)
        .await
        .map_err(visit_error)?;
    Ok((StatusCode::CREATED, Json(Created { id: v })).into_response())
}

#[utoipa::path(post, operation_id = "visits_add_diagnosis", path = "/api/v1/visits/{id}/diagnoses", tag = "visits", params(("id" = i64, Path)), request_body = DiagnosisInput,
    responses((status = 201, body = Created), (status = 404), (status = 409), (status = 422)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn add_diagnosis(
    clinic: Clinic,
    Path(id): Path<i64>,
    Json(b): Json<DiagnosisInput>,
) -> Result<Response, AppError> {
    let d = work::add_diagnosis(&clinic, id, &b, None)
        .await
        .map_err(visit_error)?;
    Ok((StatusCode::CREATED, Json(Created { id: d })).into_response())
}

#[utoipa::path(delete, operation_id = "visits_remove_diagnosis", path = "/api/v1/visits/{id}/diagnoses/{diagnosis}", tag = "visits",
    params(("id" = i64, Path), ("diagnosis" = i64, Path)),
    responses((status = 204), (status = 404), (status = 409)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn remove_diagnosis(
    clinic: Clinic,
    Path((id, dx)): Path<(i64, i64)>,
) -> Result<StatusCode, AppError> {
    work::remove_diagnosis(&clinic, id, dx, None)
        .await
        .map_err(visit_error)?;
    Ok(StatusCode::NO_CONTENT)
}

/// A prescription line to add: a drug of the clinic's list (`drug_id`) or one named by hand
/// (`drug`, `form`); the dose as written (`1-0-1`, `5 ml TDS`, free text); the quantity is
/// computed from dose and days for tablets, capsules and liquids unless given.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct PrescriptionLine {
    pub drug_id: Option<i64>,
    pub drug: String,
    pub form: String,
    pub dose: String,
    pub route: String,
    pub timing: String,
    pub days: Option<i64>,
    pub quantity: Option<i64>,
    pub instructions: String,
    /// Prescribe although it matches one of the patient's recorded allergies.
    pub confirm_allergy: bool,
}

#[utoipa::path(get, operation_id = "visits_prescription", path = "/api/v1/visits/{id}/prescription", tag = "visits", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<Item>), (status = 404)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn prescription(
    clinic: Clinic,
    Path(id): Path<i64>,
) -> Result<Json<Vec<Item>>, AppError> {
    Ok(Json(rx::of_visit(&clinic, id).await.map_err(visit_error)?))
}

#[utoipa::path(post, operation_id = "visits_prescribe", path = "/api/v1/visits/{id}/prescription", tag = "visits", params(("id" = i64, Path)), request_body = PrescriptionLine,
    responses((status = 201, body = Created), (status = 404), (status = 409), (status = 422, description = "Invalid, or it matches a recorded allergy (field rx_allergy) and confirm_allergy is not set")),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn prescribe(
    clinic: Clinic,
    Path(id): Path<i64>,
    Json(b): Json<PrescriptionLine>,
) -> Result<Response, AppError> {
    let num = |n: Option<i64>| n.map(|n| n.to_string()).unwrap_or_default();
    let input = ItemInput {
        drug_id: num(b.drug_id),
        other: b.drug,
        other_form: b.form,
        dose: b.dose,
        route: b.route,
        timing: b.timing,
        days: num(b.days),
        quantity: num(b.quantity),
        instructions: b.instructions,
        confirm_allergy: b.confirm_allergy,
    };
    let item = rx::add_item(&clinic, id, &input, None)
        .await
        .map_err(visit_error)?;
    Ok((StatusCode::CREATED, Json(Created { id: item })).into_response())
}

#[utoipa::path(delete, operation_id = "visits_unprescribe", path = "/api/v1/visits/{id}/prescription/{item}", tag = "visits",
    params(("id" = i64, Path), ("item" = i64, Path)),
    responses((status = 204), (status = 404), (status = 409)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn unprescribe(
    clinic: Clinic,
    Path((id, item)): Path<(i64, i64)>,
) -> Result<StatusCode, AppError> {
    rx::remove_item(&clinic, id, item, None)
        .await
        .map_err(visit_error)?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, operation_id = "visits_sign", path = "/api/v1/visits/{id}/sign", tag = "visits", params(("id" = i64, Path)),
    responses((status = 200, body = Visit), (status = 404), (status = 409, description = "Signed already")),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn sign(clinic: Clinic, Path(id): Path<i64>) -> Result<Json<Visit>, AppError> {
    Ok(Json(
        work::sign(&clinic, id, None).await.map_err(visit_error)?,
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAmendment {
    /// complaint, history, examination, assessment or plan.
    pub section: String,
    /// The section's corrected text.
    pub body: String,
    pub reason: String,
}

#[utoipa::path(post, operation_id = "visits_amend", path = "/api/v1/visits/{id}/amendments", tag = "visits", params(("id" = i64, Path)), request_body = NewAmendment,
    responses((status = 201, body = Created), (status = 404), (status = 409, description = "Not signed yet"), (status = 422)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn amend(
    clinic: Clinic,
    Path(id): Path<i64>,
    Json(b): Json<NewAmendment>,
) -> Result<Response, AppError> {
    let a = work::amend(&clinic, id, &b.section, &b.body, &b.reason)
        .await
        .map_err(visit_error)?;
    Ok((StatusCode::CREATED, Json(Created { id: a })).into_response())
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CodeParams {
    /// A code (`E11.9`, `E11`) or words and word beginnings (`dia mel`).
    pub q: String,
    /// At most this many (1-50, default 15).
    pub limit: Option<i64>,
}

#[utoipa::path(get, operation_id = "codes_search", path = "/api/v1/codes", tag = "visits", params(CodeParams),
    responses((status = 200, body = Vec<Code>)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn codes(
    clinic: Clinic,
    Query(p): Query<CodeParams>,
) -> Result<Json<Vec<Code>>, AppError> {
    Ok(Json(
        work::search_codes(&clinic, &p.q, p.limit.unwrap_or(15)).await?,
    ))
}
