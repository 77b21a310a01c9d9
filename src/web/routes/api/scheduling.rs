//! `/api/v1/appointments`, `/api/v1/providers`, `/api/v1/slots`, `/api/v1/appointment-types`.

use crate::web::extract::Json;
use crate::web::extract::Path;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::domain::clinic::Clinic;
use crate::domain::scheduling::work::{self, BookingRequest, Start, View};
use crate::domain::scheduling::{Appointment, AppointmentType, BookingError, Provider, Status};
use crate::web::AppError;
use crate::web::forms::FormErrors;
use crate::web::routes::appointments::actions::status_error;

fn booking_error(e: BookingError) -> AppError {
    match e {
        BookingError::Invalid(errors) => AppError::Validation(errors),
        BookingError::Clash { next } => AppError::Conflict(
            "the provider already has an appointment at that time".into(),
            Some(serde_json::json!({ "next_free": next })),
        ),
        BookingError::OutsideHours { next } => AppError::Conflict(
            "outside the provider's working hours or the clinic's opening hours; send outside_hours=true to book anyway".into(),
            Some(serde_json::json!({ "next_free": next })),
        ),
        BookingError::NotFound => AppError::NotFound,
        e @ (BookingError::NotMovable | BookingError::AlreadyToday(_)) => {
            AppError::Conflict(e.to_string(), None)
        }
        BookingError::NoTime => {
            AppError::Validation(FormErrors::with("starts_at", "invalid.choose_time"))
        }
        BookingError::Sql(e) => e.into(),
    }
}

fn date_param(s: Option<&str>) -> Result<Option<NaiveDate>, AppError> {
    match s.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(d) => NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| AppError::Validation(FormErrors::with("date", "invalid.iso_date"))),
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// The clinic's local day, `YYYY-MM-DD` (default today).
    pub date: Option<String>,
    pub provider: Option<i64>,
}

#[utoipa::path(get, operation_id = "scheduling_list", path = "/api/v1/appointments", tag = "appointments", params(ListParams),
    responses((status = 200, body = Vec<Appointment>)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn list(
    clinic: Clinic,
    Query(p): Query<ListParams>,
) -> Result<Json<Vec<Appointment>>, AppError> {
    let date = date_param(p.date.as_deref())?;
    let s = work::schedule(
        &clinic,
        View::Api {
            provider: p.provider,
        },
        date,
    )
    .await?
    .ok_or(AppError::NotFound)?;
    Ok(Json(s.appointments))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAppointment {
    pub patient_id: i64,
    pub provider_id: i64,
    pub type_id: i64,
    /// RFC 3339, e.g. `2026-03-02T09:15:00+05:45`.
    pub starts_at: DateTime<Utc>,
    pub reason: Option<String>,
    /// Book outside working or opening hours on purpose.
    #[serde(default)]
    pub outside_hours: bool,
}

#[utoipa::path(post, operation_id = "scheduling_create", path = "/api/v1/appointments", tag = "appointments", request_body = NewAppointment,
    responses((status = 201, body = Appointment), (status = 409, description = "Clash or outside hours; `next_free` lists free starts"), (status = 422)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn create(clinic: Clinic, Json(b): Json<NewAppointment>) -> Result<Response, AppError> {
    let request = BookingRequest {
        patient_id: b.patient_id,
        provider_id: Some(b.provider_id),
        type_id: Some(b.type_id),
        start: Start::At(b.starts_at),
        reason: b.reason,
        outside_hours: b.outside_hours,
    };
    let a = match work::book(&clinic, &request).await {
        Ok(a) => a,
        Err(BookingError::Invalid(e)) if e.get("patient_id").is_some() => {
            return Err(AppError::NotFound);
        }
        Err(e) => return Err(booking_error(e)),
    };
    Ok((StatusCode::CREATED, Json(a)).into_response())
}

#[utoipa::path(get, operation_id = "scheduling_show", path = "/api/v1/appointments/{id}", tag = "appointments", params(("id" = i64, Path)),
    responses((status = 200, body = Appointment), (status = 404)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn show(clinic: Clinic, Path(id): Path<i64>) -> Result<Json<Appointment>, AppError> {
    let (a, _, _) = work::appointment(&clinic, id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(Json(a))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusChange {
    /// arrived, in_consultation, completed or no_show (cancel has its own endpoint).
    pub status: Status,
}

#[utoipa::path(post, operation_id = "scheduling_status", path = "/api/v1/appointments/{id}/status", tag = "appointments",
    params(("id" = i64, Path)), request_body = StatusChange,
    responses((status = 200, body = Appointment), (status = 404), (status = 409, description = "Not allowed from the current status")),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn status(
    clinic: Clinic,
    Path(id): Path<i64>,
    Json(s): Json<StatusChange>,
) -> Result<Json<Appointment>, AppError> {
    if s.status == Status::Cancelled {
        return Err(AppError::Conflict(
            "use POST /api/v1/appointments/{id}/cancel with a reason".into(),
            None,
        ));
    }
    let changed = work::change_status(&clinic, id, s.status, None, false)
        .await
        .map_err(status_error)?;
    Ok(Json(changed.appointment))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Cancel {
    pub reason: String,
}

#[utoipa::path(post, operation_id = "scheduling_cancel", path = "/api/v1/appointments/{id}/cancel", tag = "appointments",
    params(("id" = i64, Path)), request_body = Cancel,
    responses((status = 200, body = Appointment), (status = 404), (status = 409)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn cancel(
    clinic: Clinic,
    Path(id): Path<i64>,
    Json(c): Json<Cancel>,
) -> Result<Json<Appointment>, AppError> {
    let changed = work::change_status(&clinic, id, Status::Cancelled, Some(&c.reason), false)
        .await
        .map_err(status_error)?;
    Ok(Json(changed.appointment))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reschedule {
    pub starts_at: DateTime<Utc>,
    /// Another provider (default: the same).
    pub provider_id: Option<i64>,
    #[serde(default)]
    pub outside_hours: bool,
}

#[utoipa::path(post, operation_id = "scheduling_reschedule", path = "/api/v1/appointments/{id}/reschedule", tag = "appointments",
    params(("id" = i64, Path)), request_body = Reschedule,
    responses((status = 200, body = Appointment), (status = 404), (status = 409), (status = 422)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn reschedule(
    clinic: Clinic,
    Path(id): Path<i64>,
    Json(r): Json<Reschedule>,
) -> Result<Json<Appointment>, AppError> {
    let a = work::reschedule(
        &clinic,
        id,
        r.provider_id,
        &Start::At(r.starts_at),
        r.outside_hours,
    )
    .await
    .map_err(booking_error)?;
    Ok(Json(a))
}

#[utoipa::path(get, operation_id = "scheduling_providers", path = "/api/v1/providers", tag = "appointments",
    responses((status = 200, body = Vec<Provider>)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn providers(clinic: Clinic) -> Result<Json<Vec<Provider>>, AppError> {
    Ok(Json(work::providers(&clinic).await?))
}

#[utoipa::path(get, operation_id = "scheduling_types", path = "/api/v1/appointment-types", tag = "appointments",
    responses((status = 200, body = Vec<AppointmentType>)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn types(clinic: Clinic) -> Result<Json<Vec<AppointmentType>>, AppError> {
    Ok(Json(work::types(&clinic, false).await?))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SlotParams {
    pub provider: i64,
    /// `YYYY-MM-DD` in the clinic's time zone (default today).
    pub date: Option<String>,
    /// Appointment type (its duration); default 15 minutes.
    #[serde(rename = "type")]
    pub type_id: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct Slot {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// Start in the clinic's time zone, `HH:MM`.
    pub local: String,
}

#[derive(Serialize, ToSchema)]
pub struct Slots {
    pub date: NaiveDate,
    pub timezone: String,
    pub slots: Vec<Slot>,
}

#[utoipa::path(get, operation_id = "scheduling_slots", path = "/api/v1/slots", tag = "appointments", params(SlotParams),
    responses((status = 200, body = Slots), (status = 404)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn slots(clinic: Clinic, Query(p): Query<SlotParams>) -> Result<Json<Slots>, AppError> {
    let date = date_param(p.date.as_deref())?;
    let (tz, date, d, starts) = work::free_slots(&clinic, Some(p.provider), p.type_id, date)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(Json(Slots {
        date,
        timezone: tz.name().to_owned(),
        slots: starts
            .into_iter()
            .map(|s| Slot {
                start: s,
                end: s + d,
                local: s.with_timezone(&tz).format("%H:%M").to_string(),
            })
            .collect(),
    }))
}
