//! `GET /appointments/new?patient=&provider=&type=&date=` (with free times),
//! `GET /appointments/slots` (the free-times fragment for htmx) and `POST /appointments/new`.

use askama::Template;
use axum::body::Bytes;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;

use super::{SlotChoice, choices};
use crate::domain::clinic::Clinic;
use crate::domain::patients::Patient;
use crate::domain::scheduling::work::{self, BookingForm, BookingRequest, FormQuery, Start};
use crate::domain::scheduling::{AppointmentType, BookingError, Provider};
use crate::web::AppError;
use crate::web::forms::{FormErrors, Pairs};
use crate::web::page::{Page, render_with_status};
use crate::web::page_ctx::PageCtx;

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

fn parse_date(s: &str) -> Result<Option<NaiveDate>, AppError> {
    crate::web::routes::schedule::parse_day(s)
}

impl BookQuery {
    fn form(&self) -> Result<FormQuery, AppError> {
        Ok(FormQuery {
            patient: parse_id(&self.patient).ok_or(AppError::NotFound)?,
            provider: parse_id(&self.provider),
            type_id: parse_id(&self.type_id),
            date: parse_date(&self.date)?,
        })
    }
}

/// The form as shown, with what was typed and what went wrong.
struct Typed {
    chosen: String,
    time: String,
    reason: String,
    outside_hours: bool,
    errors: FormErrors,
    problem: Option<String>,
    suggestions: Vec<SlotChoice>,
}

fn page_of(page: Page, s: BookingForm, t: Typed) -> BookPage {
    BookPage {
        page,
        slots: choices(s.tz, &s.slots, false),
        patient: s.patient,
        providers: s.providers,
        types: s.types,
        provider_id: s.provider_id,
        type_id: s.type_id,
        date: s.date,
        today: s.today,
        chosen: t.chosen,
        time: t.time,
        reason: t.reason,
        outside_hours: t.outside_hours,
        errors: t.errors,
        problem: t.problem,
        suggestions: t.suggestions,
    }
}

pub async fn show(
    clinic: Clinic,
    page: PageCtx,
    Query(q): Query<BookQuery>,
) -> Result<Response, AppError> {
    let s = work::booking_form(&clinic, &q.form()?)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(render_with_status(
        StatusCode::OK,
        &page_of(
            page.into_page(),
            s,
            Typed {
                chosen: String::new(),
                time: String::new(),
                reason: String::new(),
                outside_hours: false,
                errors: FormErrors::new(),
                problem: None,
                suggestions: Vec::new(),
            },
        ),
    ))
}

pub async fn slots(
    clinic: Clinic,
    page: PageCtx,
    Query(q): Query<BookQuery>,
) -> Result<Response, AppError> {
    // Free times only: nothing of the patient is read or shown.
    let (tz, _, _, slots) = work::free_slots(
        &clinic,
        parse_id(&q.provider),
        parse_id(&q.type_id),
        parse_date(&q.date)?,
    )
    .await?
    .ok_or(AppError::NotFound)?;
    Ok(render_with_status(
        StatusCode::OK,
        &SlotsFragment {
            page: page.into_page(),
            slots: choices(tz, &slots, false),
            chosen: String::new(),
        },
    ))
}

pub async fn create(clinic: Clinic, page: PageCtx, body: Bytes) -> Result<Response, AppError> {
    let f = Pairs::parse(&body);
    let q = BookQuery {
        patient: f.one("patient_id"),
        provider: f.one("provider_id"),
        type_id: f.one("type_id"),
        date: f.one("date"),
    }
    .form()?;
    let chosen = f.one("start");
    let time = f.one("time");
    let start = if !time.trim().is_empty() {
        Some(Start::Local {
            date: q.date,
            time: time.clone(),
        })
    } else {
        DateTime::parse_from_rfc3339(chosen.trim())
            .ok()
            .map(|t| Start::At(t.with_timezone(&Utc)))
    };
    let request = start.map(|start| BookingRequest {
        patient_id: q.patient,
        provider_id: q.provider,
        type_id: q.type_id,
        start,
        reason: f.opt("reason"),
        outside_hours: f.flag("outside_hours"),
    });
    let result = match &request {
        Some(r) => work::book(&clinic, r).await,
        None => Err(BookingError::NoTime),
    };
    let mut errors = FormErrors::new();
    let mut problem = None;
    let mut next = Vec::new();
    let mut status = StatusCode::UNPROCESSABLE_ENTITY;
    match result {
        Ok(a) => return Ok(Redirect::to(&format!("/appointments/{}", a.id)).into_response()),
        Err(BookingError::NoTime) => errors.add("start", page.t("appointments.choose_time")),
        Err(BookingError::Invalid(e)) => errors = e,
        Err(BookingError::Clash { next: n }) => {
            status = StatusCode::CONFLICT;
            problem = Some(page.t("appointments.clash").to_owned());
            next = n;
        }
        Err(BookingError::OutsideHours { next: n }) => {
            problem = Some(page.t("appointments.outside_hours").to_owned());
            next = n;
        }
        Err(e) => return Err(AppError::Internal(e.into())),
    }
    // The form comes back with the patient on it (an audited read).
    let s = work::booking_form(&clinic, &q)
        .await?
        .ok_or(AppError::NotFound)?;
    let suggestions = choices(s.tz, &next, true);
    Ok(render_with_status(
        status,
        &page_of(
            page.into_page(),
            s,
            Typed {
                chosen,
                time,
                reason: f.one("reason"),
                outside_hours: f.flag("outside_hours"),
                errors,
                problem,
                suggestions,
            },
        ),
    ))
}
