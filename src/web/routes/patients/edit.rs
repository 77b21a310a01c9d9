//! `GET/POST /patients/{id}/edit`, `POST /patients/{id}/delete` and `…/restore`.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use tower_sessions::Session;

use super::new::PatientForm;
use super::{FormView, input_from_form};
use crate::app::AppState;
use crate::db::TenantDb;
use crate::domain::audit::{self, Event, action};
use crate::domain::auth::Permission;
use crate::domain::patients::{PatientError, repo, service};
use crate::domain::scheduling;
use crate::web::AppError;
use crate::web::auth::{AuditCtx, CurrentUser};
use crate::web::forms::{FormErrors, Pairs};
use crate::web::page::render_with_status;
use crate::web::page_ctx::{PageCtx, set_flash};
use crate::web::site::CurrentTenant;

pub async fn show(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    user: CurrentUser,
    ctx: AuditCtx,
    page: PageCtx,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    user.require(Permission::PatientsWrite)?;
    let mut tx = TenantDb::begin(&state.db.pool, &tenant.db).await?;
    let p = repo::get(&mut tx, id)
        .await?
        .filter(|p| !p.deleted)
        .ok_or(AppError::NotFound)?;
    let tz = scheduling::clinic_tz(&mut tx).await?;
    audit::record(
        &mut tx,
        &ctx,
        Event::new(action::PATIENT_VIEW, user.actor())
            .resource("patient", id)
            .patient(id)
            .details(serde_json::json!({ "for": "edit" })),
    )
    .await?;
    tx.commit().await?;
    Ok(render_with_status(
        StatusCode::OK,
        &PatientForm {
            page: page.into_page(),
            f: FormView::new(p.to_input(), scheduling::local_date(tz, ctx.at)),
            errors: FormErrors::new(),
            editing: Some((id, p.version)),
            duplicates: Vec::new(),
        },
    ))
}

pub async fn save(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    user: CurrentUser,
    ctx: AuditCtx,
    page: PageCtx,
    session: Session,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Response, AppError> {
    user.require(Permission::PatientsWrite)?;
    let form = Pairs::parse(&body);
    let input = input_from_form(&form);
    let version = form.one("version").parse::<i32>().ok();
    let mut tx = TenantDb::begin(&state.db.pool, &tenant.db).await?;
    let tz = scheduling::clinic_tz(&mut tx).await?;
    let today = scheduling::local_date(tz, ctx.at);
    let result = match input.validate(today) {
        Ok(data) => service::update(&mut tx, id, &data, version, Some(user.id), ctx.at).await,
        Err(e) => Err(PatientError::Invalid(e)),
    };
    let errors = match result {
        Ok((_, changed)) => {
            if !changed.is_empty() {
                audit::record(
                    &mut tx,
                    &ctx,
                    Event::new(action::PATIENT_UPDATED, user.actor())
                        .resource("patient", id)
                        .patient(id)
                        .details(serde_json::json!({ "changed": changed })),
                )
                .await?;
            }
            tx.commit().await?;
            set_flash(&session, "saved").await;
            return Ok(Redirect::to(&format!("/patients/{id}")).into_response());
        }
        Err(PatientError::NotFound) => return Err(AppError::NotFound),
        Err(PatientError::Invalid(e)) => e,
        Err(e @ PatientError::Conflict) => FormErrors::with("_form", e.to_string()),
        Err(e) => return Err(AppError::Internal(e.into())),
    };
    tx.rollback().await?;
    Ok(render_with_status(
        StatusCode::UNPROCESSABLE_ENTITY,
        &PatientForm {
            page: page.into_page(),
            f: FormView::new(input, today),
            errors,
            editing: Some((id, version.unwrap_or(0))),
            duplicates: Vec::new(),
        },
    ))
}

async fn set_deleted(
    state: &AppState,
    tenant: &CurrentTenant,
    user: &CurrentUser,
    ctx: &AuditCtx,
    session: &Session,
    id: i64,
    deleted: bool,
) -> Result<Response, AppError> {
    user.require(Permission::PatientsWrite)?;
    let mut tx = TenantDb::begin(&state.db.pool, &tenant.db).await?;
    match service::set_deleted(&mut tx, id, deleted, Some(user.id), ctx.at).await {
        Ok(()) => {}
        Err(PatientError::NotFound) => return Err(AppError::NotFound),
        Err(PatientError::Conflict) => {
            return Ok(Redirect::to(&format!("/patients/{id}")).into_response());
        }
        Err(e) => return Err(AppError::Internal(e.into())),
    }
    let act = if deleted {
        action::PATIENT_DELETED
    } else {
        action::PATIENT_RESTORED
    };
    audit::record(
        &mut tx,
        ctx,
        Event::new(act, user.actor())
            .resource("patient", id)
            .patient(id),
    )
    .await?;
    tx.commit().await?;
    set_flash(
        session,
        if deleted {
            "patient_deleted"
        } else {
            "patient_restored"
        },
    )
    .await;
    Ok(Redirect::to(&format!("/patients/{id}")).into_response())
}

pub async fn delete(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    user: CurrentUser,
    ctx: AuditCtx,
    session: Session,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    set_deleted(&state, &tenant, &user, &ctx, &session, id, true).await
}

pub async fn restore(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    user: CurrentUser,
    ctx: AuditCtx,
    session: Session,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    set_deleted(&state, &tenant, &user, &ctx, &session, id, false).await
}
