//! `POST /appointments/{id}/status`, `…/cancel`, `…/reschedule` and `POST /appointments/walk-in`.
//! Status changes answer htmx with the updated row of the today list.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, NaiveDate, Utc};
use tower_sessions::Session;

use super::local_instant;
use super::show::AppointmentPage;
use crate::app::AppState;
use crate::db::TenantDb;
use crate::domain::audit::{self, Event, action};
use crate::domain::auth::Permission;
use crate::domain::scheduling::{self, BookingError, Status, StatusError, repo, service};
use crate::web::AppError;
use crate::web::auth::{AuditCtx, CurrentUser};
use crate::web::forms::{Pairs, safe_next};
use crate::web::page::render_with_status;
use crate::web::page_ctx::{PageCtx, set_flash};
use crate::web::routes::schedule::today::{QueueCard, Row, queue, today_rows};
use crate::web::site::CurrentTenant;

fn is_htmx(h: &HeaderMap) -> bool {
    h.contains_key("hx-request")
}

fn status_error(e: StatusError) -> AppError {
    match e {
        StatusError::NotFound => AppError::NotFound,
        e @ (StatusError::NotAllowed { .. } | StatusError::ReasonRequired) => {
            AppError::Conflict(e.to_string(), None)
        }
        StatusError::Sql(e) => e.into(),
    }
}

/// Changes the status and writes the audit row; shared by the pages and the API.
pub async fn apply_status(
    state: &AppState,
    tenant: &CurrentTenant,
    user: &CurrentUser,
    ctx: &crate::domain::audit::Context,
    id: i64,
    to: Status,
    reason: Option<&str>,
) -> Result<(scheduling::Appointment, chrono_tz::Tz), AppError> {
    let mut tx = TenantDb::begin(&state.db.pool, &tenant.db).await?;
    let tz = scheduling::clinic_tz(&mut tx).await?;
    let (from, a) = service::change_status(&mut tx, tz, id, to, reason, ctx.at)
        .await
        .map_err(status_error)?;
    let act = if to == Status::Cancelled {
        action::APPOINTMENT_CANCELLED
    } else {
        action::APPOINTMENT_STATUS
    };
    audit::record(
        &mut tx,
        ctx,
        Event::new(act, user.actor())
            .resource("appointment", id)
            .patient(a.patient_id)
            .details(serde_json::json!({ "from": from.as_str(), "to": to.as_str() })),
    )
    .await?;
    tx.commit().await?;
    Ok((a, tz))
}

pub async fn status(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    user: CurrentUser,
    ctx: AuditCtx,
    page: PageCtx,
    headers: HeaderMap,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Response, AppError> {
    user.require(Permission::AppointmentsWrite)?;
    let f = Pairs::parse(&body);
    let to = Status::parse(&f.one("status"))
        .ok_or_else(|| AppError::BadRequest("status: unknown".into()))?;
    let (a, tz) = apply_status(&state, &tenant, &user, &ctx, id, to, None).await?;
    if is_htmx(&headers) {
        // The row, and the queue out of band, so the waiting room list follows at once.
        let page = page.into_page();
        let mut tx = TenantDb::begin(&state.db.pool, &tenant.db).await?;
        let (_, rows) = today_rows(&mut tx, &page, tz, ctx.at, true).await?;
        tx.commit().await?;
        let card = QueueCard {
            page: page.clone(),
            queue: queue(&rows),
            oob: true,
        };
        let row = Row {
            page,
            a,
            tz,
            can_write: true,
            now: ctx.at,
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
    State(state): State<AppState>,
    tenant: CurrentTenant,
    user: CurrentUser,
    ctx: AuditCtx,
    page: PageCtx,
    session: Session,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Response, AppError> {
    user.require(Permission::AppointmentsWrite)?;
    let f = Pairs::parse(&body);
    let reason = f.one("reason");
    match apply_status(
        &state,
        &tenant,
        &user,
        &ctx,
        id,
        Status::Cancelled,
        Some(&reason),
    )
    .await
    {
        Ok(_) => {
            set_flash(&session, "appointment_cancelled").await;
            Ok(Redirect::to(&format!("/appointments/{id}")).into_response())
        }
        Err(AppError::Conflict(msg, _)) => {
            let (a, tz, providers) = super::show::load(&state, &tenant, &user, &ctx, id).await?;
            Ok(render_with_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                &AppointmentPage {
                    page: page.into_page(),
                    a,
                    tz,
                    can_write: true,
                    providers,
                    error: Some(msg),
                },
            ))
        }
        Err(e) => Err(e),
    }
}

pub async fn reschedule(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    user: CurrentUser,
    ctx: AuditCtx,
    page: PageCtx,
    session: Session,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Response, AppError> {
    user.require(Permission::AppointmentsWrite)?;
    let f = Pairs::parse(&body);
    let mut tx = TenantDb::begin(&state.db.pool, &tenant.db).await?;
    let tz = scheduling::clinic_tz(&mut tx).await?;
    let current = repo::appointment(&mut tx, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let provider = f
        .one("provider_id")
        .parse::<i64>()
        .ok()
        .or(current.provider_id)
        .unwrap_or_default();
    let starts: Option<DateTime<Utc>> = NaiveDate::parse_from_str(f.one("date").trim(), "%Y-%m-%d")
        .ok()
        .and_then(|d| local_instant(tz, d, &f.one("time")));
    let result = match starts {
        None => Err(BookingError::Invalid(
            crate::domain::validation::Errors::with("time", page.t("appointments.choose_time")),
        )),
        Some(s) => {
            service::reschedule(
                &mut tx,
                tz,
                id,
                provider,
                s,
                f.flag("outside_hours"),
                ctx.at,
            )
            .await
        }
    };
    let message = match result {
        Ok(a) => {
            audit::record(
                &mut tx,
                &ctx,
                Event::new(action::APPOINTMENT_MOVED, user.actor())
                    .resource("appointment", id)
                    .patient(a.patient_id)
                    .details(serde_json::json!({
                        "provider_changed": current.provider_id != a.provider_id,
                    })),
            )
            .await?;
            tx.commit().await?;
            set_flash(&session, "appointment_moved").await;
            return Ok(Redirect::to(&format!("/appointments/{id}")).into_response());
        }
        Err(BookingError::NotFound) => return Err(AppError::NotFound),
        Err(BookingError::Clash { next }) => format!(
            "{} {}",
            page.t("appointments.clash"),
            next.iter()
                .map(|t| t.with_timezone(&tz).format("%a %d %b %H:%M").to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Err(BookingError::OutsideHours { .. }) => page.t("appointments.outside_hours").to_owned(),
        Err(BookingError::Invalid(e)) => {
            e.as_map().values().cloned().collect::<Vec<_>>().join("; ")
        }
        Err(e @ BookingError::NotMovable) => e.to_string(),
        Err(BookingError::Sql(e)) => return Err(e.into()),
    };
    tx.rollback().await?;
    let (a, tz, providers) = super::show::load(&state, &tenant, &user, &ctx, id).await?;
    Ok(render_with_status(
        StatusCode::CONFLICT,
        &AppointmentPage {
            page: page.into_page(),
            a,
            tz,
            can_write: true,
            providers,
            error: Some(message),
        },
    ))
}

pub async fn walk_in(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    user: CurrentUser,
    ctx: AuditCtx,
    session: Session,
    body: Bytes,
) -> Result<Response, AppError> {
    user.require(Permission::AppointmentsWrite)?;
    let f = Pairs::parse(&body);
    let patient: i64 = f
        .one("patient_id")
        .parse()
        .map_err(|_| AppError::NotFound)?;
    let provider = f.one("provider_id").parse::<i64>().ok();
    let type_id = f.one("type_id").parse::<i64>().ok();
    let mut tx = TenantDb::begin(&state.db.pool, &tenant.db).await?;
    let tz = scheduling::clinic_tz(&mut tx).await?;
    let a = match service::walk_in(
        &mut tx,
        tz,
        patient,
        provider,
        type_id,
        f.opt("reason").as_deref(),
        Some(user.id),
        ctx.at,
    )
    .await
    {
        Ok(a) => a,
        Err(BookingError::Invalid(e)) if e.get("patient_id").is_some() => {
            return Err(AppError::NotFound);
        }
        Err(BookingError::Invalid(e)) => return Err(AppError::Validation(e)),
        Err(e) => return Err(AppError::Internal(e.into())),
    };
    audit::record(
        &mut tx,
        &ctx,
        Event::new(action::APPOINTMENT_CREATED, user.actor())
            .resource("appointment", a.id)
            .patient(patient)
            .details(serde_json::json!({ "walk_in": true, "queue_number": a.queue_number })),
    )
    .await?;
    tx.commit().await?;
    set_flash(&session, "walk_in_added").await;
    Ok((StatusCode::SEE_OTHER, [("location", "/today")]).into_response())
}
