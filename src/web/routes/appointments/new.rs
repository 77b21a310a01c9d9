//! `GET /appointments/new?patient=&provider=&type=&date=` (with free times),
//! `GET /appointments/slots` (the free-times fragment for htmx) and `POST /appointments/new`.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::Deserialize;

use super::{SlotChoice, choices, local_instant};
use crate::app::AppState;
use crate::db::TenantDb;
use crate::domain::audit::{self, Event, action};
use crate::domain::auth::Permission;
use crate::domain::patients::{Patient, repo as patients};
use crate::domain::scheduling::{
    self, AppointmentType, Booking, BookingError, Provider, repo, service,
};
use crate::web::AppError;
use crate::web::auth::{AuditCtx, CurrentUser};
use crate::web::forms::{FormErrors, Pairs};
use crate::web::page::{Page, render_with_status};
use crate::web::page_ctx::PageCtx;
use crate::web::site::CurrentTenant;

/// The form's own field names (`patient_id`…) work too, so the "find times" button and the
/// htmx requests can send the booking form as it is.
#[derive(Debug, Deserialize, Default)]
pub struct BookQuery {
    #[serde(default, alias = "patient_id")]
    pub patient: String,
    #[serde(default, alias = "provider_id")]
    pub provider: String,
    #[serde(default, rename = "type", alias = "type_id")]
    pub type_id: String,
    #[serde(default)]
    pub date: String,
}

#[derive(Template)]
#[template(path = "appointments/new.html")]
struct BookPage {
    page: Page,
    patient: Patient,
    providers: Vec<Provider>,
    types: Vec<AppointmentType>,
    provider_id: i64,
    type_id: i64,
    date: NaiveDate,
    today: NaiveDate,
    slots: Vec<SlotChoice>,
    chosen: String,
    time: String,
    reason: String,
    outside_hours: bool,
    errors: FormErrors,
    problem: Option<String>,
    suggestions: Vec<SlotChoice>,
}

#[derive(Template)]
#[template(path = "appointments/_slots.html")]
struct SlotsFragment {
    page: Page,
    slots: Vec<SlotChoice>,
    chosen: String,
}

fn parse_id(s: &str) -> Option<i64> {
    s.trim().parse().ok()
}

struct Selection {
    tz: Tz,
    patient: Patient,
    providers: Vec<Provider>,
    types: Vec<AppointmentType>,
    provider_id: i64,
    type_id: i64,
    date: NaiveDate,
    today: NaiveDate,
    slots: Vec<DateTime<Utc>>,
}

/// Loads what the form needs; unknown ids (of this clinic) are 404. `shown`: the form is
/// about to show the patient (name, MRN), a read that is audited in the same transaction.
async fn select(
    state: &AppState,
    tenant: &CurrentTenant,
    q: &BookQuery,
    now: DateTime<Utc>,
    shown: Option<(&AuditCtx, &CurrentUser)>,
) -> Result<Selection, AppError> {
    let mut tx = TenantDb::begin(&state.db.pool, &tenant.db).await?;
    let tz = scheduling::clinic_tz(&mut tx).await?;
    let patient = patients::get(&mut tx, parse_id(&q.patient).ok_or(AppError::NotFound)?)
        .await?
        .filter(|p| !p.deleted)
        .ok_or(AppError::NotFound)?;
    if let Some((ctx, user)) = shown {
        audit::record(
            &mut tx,
            ctx,
            Event::new(action::APPOINTMENT_FORM, user.actor())
                .resource("patient", patient.id)
                .patient(patient.id),
        )
        .await?;
    }
    let providers = repo::providers(&mut tx).await?;
    let types = repo::types(&mut tx, false).await?;
    let provider_id = match parse_id(&q.provider) {
        Some(id) if providers.iter().any(|p| p.id == id) => id,
        Some(_) => return Err(AppError::NotFound),
        None => providers.first().map_or(0, |p| p.id),
    };
    let type_id = match parse_id(&q.type_id) {
        Some(id) if types.iter().any(|t| t.id == id) => id,
        Some(_) => return Err(AppError::NotFound),
        None => types.first().map_or(0, |t| t.id),
    };
    let today = scheduling::local_date(tz, now);
    let date = if q.date.trim().is_empty() {
        today
    } else {
        NaiveDate::parse_from_str(q.date.trim(), "%Y-%m-%d")
            .map_err(|_| AppError::BadRequest("date: use the form YYYY-MM-DD".into()))?
    };
    let minutes = types
        .iter()
        .find(|t| t.id == type_id)
        .map_or(15, |t| i64::from(t.duration_minutes));
    let slots = if provider_id > 0 {
        service::slots_for(
            &mut tx,
            tz,
            provider_id,
            date,
            Duration::minutes(minutes),
            now,
            None,
        )
        .await?
    } else {
        Vec::new()
    };
    tx.commit().await?;
    Ok(Selection {
        tz,
        patient,
        providers,
        types,
        provider_id,
        type_id,
        date,
        today,
        slots,
    })
}

pub async fn show(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    user: CurrentUser,
    ctx: AuditCtx,
    page: PageCtx,
    Query(q): Query<BookQuery>,
) -> Result<Response, AppError> {
    user.require(Permission::AppointmentsWrite)?;
    let s = select(&state, &tenant, &q, ctx.at, Some((&ctx, &user))).await?;
    Ok(render_with_status(
        StatusCode::OK,
        &BookPage {
            page: page.into_page(),
            slots: choices(s.tz, &s.slots, false),
            patient: s.patient,
            providers: s.providers,
            types: s.types,
            provider_id: s.provider_id,
            type_id: s.type_id,
            date: s.date,
            today: s.today,
            chosen: String::new(),
            time: String::new(),
            reason: String::new(),
            outside_hours: false,
            errors: FormErrors::new(),
            problem: None,
            suggestions: Vec::new(),
        },
    ))
}

pub async fn slots(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    user: CurrentUser,
    page: PageCtx,
    Query(q): Query<BookQuery>,
) -> Result<Response, AppError> {
    user.require(Permission::AppointmentsWrite)?;
    // Free times only: nothing of the patient is shown.
    let s = select(&state, &tenant, &q, state.clock.now(), None).await?;
    Ok(render_with_status(
        StatusCode::OK,
        &SlotsFragment {
            page: page.into_page(),
            slots: choices(s.tz, &s.slots, false),
            chosen: String::new(),
        },
    ))
}

pub async fn create(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    user: CurrentUser,
    ctx: AuditCtx,
    page: PageCtx,
    body: Bytes,
) -> Result<Response, AppError> {
    user.require(Permission::AppointmentsWrite)?;
    let f = Pairs::parse(&body);
    let q = BookQuery {
        patient: f.one("patient_id"),
        provider: f.one("provider_id"),
        type_id: f.one("type_id"),
        date: f.one("date"),
    };
    let sel = select(&state, &tenant, &q, ctx.at, None).await?;
    let chosen = f.one("start");
    let time = f.one("time");
    let starts = if !time.trim().is_empty() {
        local_instant(sel.tz, sel.date, &time)
    } else {
        DateTime::parse_from_rfc3339(chosen.trim())
            .ok()
            .map(|t| t.with_timezone(&Utc))
    };
    let mut errors = FormErrors::new();
    let mut problem = None;
    let mut suggestions = Vec::new();
    let mut status = StatusCode::UNPROCESSABLE_ENTITY;
    match starts {
        None => errors.add("start", page.t("appointments.choose_time")),
        Some(starts_at) => {
            let booking = Booking {
                patient_id: sel.patient.id,
                provider_id: sel.provider_id,
                type_id: sel.type_id,
                starts_at,
                reason: f.opt("reason"),
                outside_hours: f.flag("outside_hours"),
            };
            let mut tx = TenantDb::begin(&state.db.pool, &tenant.db).await?;
            match service::book(&mut tx, sel.tz, &booking, Some(user.id), ctx.at).await {
                Ok(a) => {
                    audit::record(
                        &mut tx,
                        &ctx,
                        Event::new(action::APPOINTMENT_CREATED, user.actor())
                            .resource("appointment", a.id)
                            .patient(a.patient_id)
                            .details(serde_json::json!({
                                "provider": a.provider_id,
                                "outside_hours": booking.outside_hours,
                            })),
                    )
                    .await?;
                    tx.commit().await?;
                    return Ok(Redirect::to(&format!("/appointments/{}", a.id)).into_response());
                }
                Err(BookingError::Invalid(e)) => errors = e,
                Err(BookingError::Clash { next }) => {
                    status = StatusCode::CONFLICT;
                    problem = Some(page.t("appointments.clash").to_owned());
                    suggestions = choices(sel.tz, &next, true);
                }
                Err(BookingError::OutsideHours { next }) => {
                    problem = Some(page.t("appointments.outside_hours").to_owned());
                    suggestions = choices(sel.tz, &next, true);
                }
                Err(e) => return Err(AppError::Internal(e.into())),
            }
        }
    }
    // The form comes back with the patient on it.
    crate::web::auth::record_in_tenant(
        &state,
        &tenant,
        &ctx,
        Event::new(action::APPOINTMENT_FORM, user.actor())
            .resource("patient", sel.patient.id)
            .patient(sel.patient.id),
    )
    .await?;
    Ok(render_with_status(
        status,
        &BookPage {
            page: page.into_page(),
            slots: choices(sel.tz, &sel.slots, false),
            patient: sel.patient,
            providers: sel.providers,
            types: sel.types,
            provider_id: sel.provider_id,
            type_id: sel.type_id,
            date: sel.date,
            today: sel.today,
            chosen,
            time,
            reason: f.one("reason"),
            outside_hours: f.flag("outside_hours"),
            errors,
            problem,
            suggestions,
        },
    ))
}
