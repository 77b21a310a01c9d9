//! `POST /appointments/{id}/status`, `…/cancel`, `…/reschedule` and `POST /appointments/walk-in`.
//! Status changes answer htmx with the updated row of the today list.

use crate::web::extract::Path;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::NaiveDate;
use tower_sessions::Session;

use super::show::{AppointmentPage, Move};
use crate::domain::clinic::Clinic;
use crate::domain::scheduling::work::{self, Start};
use crate::domain::scheduling::{BookingError, Status, StatusError};
use crate::web::AppError;
use crate::web::forms::{Pairs, safe_next};
use crate::web::page::render_with_status;
use crate::web::page_ctx::{PageCtx, redirect_with_flash, set_flash};
use crate::web::routes::schedule::today::{QueueCard, Row, queue, rows};

fn is_htmx(h: &HeaderMap) -> bool {
    h.contains_key("hx-request")
}

pub fn status_error(e: StatusError) -> AppError {
    match e {
        StatusError::NotFound => AppError::NotFound,
        e @ (StatusError::NotAllowed { .. } | StatusError::ReasonRequired) => {
            AppError::Conflict(e.to_string(), None)
        }
        StatusError::Sql(e) => e.into(),
    }
}

/// The appointment page again (an audited read), with what went wrong; `message` is given the
/// clinic's time zone, for the times it names.
async fn page_with_error(
    clinic: &Clinic,
    page: PageCtx,
    id: i64,
    status: StatusCode,
    moving: Option<Move>,
    message: impl FnOnce(&PageCtx, chrono_tz::Tz) -> String,
) -> Result<Response, AppError> {
    let (a, tz, providers) = work::appointment(clinic, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let message = message(&page, tz);
    Ok(render_with_status(
        status,
        &AppointmentPage {
            page: page.into_page(),
            a,
            tz,
            can_write: true,
            providers,
            error: Some(message),
            moving,
        },
    ))
}

/// Why a move was refused, in words (the free times offered instead are buttons of their own).
fn refusal(page: &PageCtx, e: &BookingError) -> String {
    match e {
        BookingError::NoTime => page.t("appointments.choose_time").to_owned(),
        BookingError::Clash { .. } => page.t("appointments.clash").to_owned(),
        BookingError::OutsideHours { .. } => page.t("appointments.outside_hours").to_owned(),
        BookingError::Invalid(e) => e
            .as_map()
            .values()
            .map(|m| page.message(m))
            .collect::<Vec<_>>()
            .join("; "),
        e => e.to_string(),
    }
}

/// The free times a refusal offers.
fn offered(e: &BookingError) -> Vec<chrono::DateTime<chrono::Utc>> {
    match e {
        BookingError::Clash { next } | BookingError::OutsideHours { next } => next.clone(),
        _ => Vec::new(),
    }
}

pub async fn status(
    clinic: Clinic,
    user: crate::web::auth::CurrentUser,
    page: PageCtx,
    headers: HeaderMap,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Response, AppError> {
    let f = Pairs::parse(&body);
    let to = Status::parse(&f.one("status"))
        .ok_or_else(|| AppError::BadRequest("status: unknown".into()))?;
    let htmx = is_htmx(&headers);
    let changed = work::change_status(&clinic, id, to, None, htmx)
        .await
        .map_err(status_error)?;
    if htmx {
        // The row, and the queue out of band, so the waiting room list follows at once.
        let page = page.into_page();
        let tz = changed.tz;
        let card = QueueCard {
            page: page.clone(),
            queue: queue(&rows(
                changed.today,
                &page,
                tz,
                clinic.at(),
                true,
                None,
                None,
            )),
            oob: true,
        };
        let due = changed
            .dues
            .as_ref()
            .filter(|_| user.can(crate::domain::auth::Permission::InvoicesRead))
            .and_then(|d| d.of(changed.appointment.patient_id));
        let row = Row {
            page,
            a: changed.appointment,
            tz,
            can_write: true,
            can_visit: user.can(crate::domain::auth::Permission::EncountersWrite),
            me: Some(user.id),
            signs: user.can(crate::domain::auth::Permission::EncountersSign),
            now: clinic.at(),
            due,
        };
        let html = format!(
            "{}\n{}",
            askama::Template::render(&row).map_err(|e| AppError::Internal(e.into()))?,
            askama::Template::render(&card).map_err(|e| AppError::Internal(e.into()))?
        );
        return Ok(axum::response::Html(html).into_response());
    }
    let back = f
        .opt("return_to")
        .map_or_else(|| format!("/appointments/{id}"), |r| safe_next(&r));
    Ok(Redirect::to(&back).into_response())
}

pub async fn cancel(
    clinic: Clinic,
    page: PageCtx,
    session: Session,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Response, AppError> {
    let f = Pairs::parse(&body);
    let reason = f.one("reason");
    match work::change_status(&clinic, id, Status::Cancelled, Some(&reason), false)
        .await
        .map_err(status_error)
    {
        Ok(_) => Ok(redirect_with_flash(
            &session,
            "appointment_cancelled",
            &format!("/appointments/{id}"),
        )
        .await),
        Err(AppError::Conflict(msg, _)) => {
            page_with_error(
                &clinic,
                page,
                id,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                |_, _| msg,
            )
            .await
        }
        Err(e) => Err(e),
    }
}

pub async fn reschedule(
    clinic: Clinic,
    page: PageCtx,
    session: Session,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Response, AppError> {
    let f = Pairs::parse(&body);
    let provider = f.one("provider_id").parse::<i64>().ok();
    let start = match NaiveDate::parse_from_str(f.one("date").trim(), "%Y-%m-%d") {
        Ok(d) => Start::Local {
            date: Some(d),
            time: f.one("time"),
        },
        Err(_) => Start::Local {
            date: None,
            time: String::new(),
        },
    };
    let refused =
        match work::reschedule(&clinic, id, provider, &start, f.flag("outside_hours")).await {
            Ok(_) => {
                return Ok(redirect_with_flash(
                    &session,
                    "appointment_moved",
                    &format!("/appointments/{id}"),
                )
                .await);
            }
            Err(BookingError::NotFound) => return Err(AppError::NotFound),
            Err(BookingError::Sql(e)) => return Err(e.into()),
            Err(e) => e,
        };
    // What was typed stays in the form; each free time offered is one click.
    let moving = Move {
        provider_id: provider,
        date: f.one("date"),
        time: f.one("time"),
        outside_hours: f.flag("outside_hours"),
        suggestions: offered(&refused),
    };
    page_with_error(
        &clinic,
        page,
        id,
        StatusCode::CONFLICT,
        Some(moving),
        |page, _| refusal(page, &refused),
    )
    .await
}

pub async fn walk_in(clinic: Clinic, session: Session, body: Bytes) -> Result<Response, AppError> {
    let f = Pairs::parse(&body);
    let patient: i64 = f
        .one("patient_id")
        .parse()
        .map_err(|_| AppError::NotFound)?;
    let provider = f.one("provider_id").parse::<i64>().ok();
    let type_id = f.one("type_id").parse::<i64>().ok();
    match work::walk_in(
        &clinic,
        patient,
        provider,
        type_id,
        f.opt("reason").as_deref(),
    )
    .await
    {
        Ok(_) => {}
        // Already booked or queued today: said on the chart, where the button is.
        Err(BookingError::AlreadyToday(msg)) => {
            set_flash(&session, &msg).await;
            let chart = format!("/patients/{patient}");
            return Ok((StatusCode::SEE_OTHER, [("location", chart.as_str())]).into_response());
        }
        Err(BookingError::Invalid(e)) if e.get("patient_id").is_some() => {
            return Err(AppError::NotFound);
        }
        Err(BookingError::Invalid(e)) => return Err(AppError::Validation(e)),
        Err(e) => return Err(AppError::Internal(e.into())),
    }
    set_flash(&session, "walk_in_added").await;
    Ok((StatusCode::SEE_OTHER, [("location", "/today")]).into_response())
}
