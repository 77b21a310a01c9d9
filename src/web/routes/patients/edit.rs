//! `GET/POST /patients/{id}/edit`, `GET/POST /patients/{id}/delete` and `POST …/restore`.

use crate::web::extract::Path;
use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use tower_sessions::Session;

use super::new::PatientForm;
use super::{FormView, input_from_form};
use crate::domain::clinic::Clinic;
use crate::domain::patients::PatientError;
use crate::domain::patients::work::{self, ViewFor};
use crate::web::AppError;
use crate::web::auth::CurrentUser;
use crate::web::forms::{FormErrors, Pairs};
use crate::web::page::render_with_status;
use crate::web::page_ctx::{PageCtx, redirect_with_flash, set_flash};

pub async fn show(
    clinic: Clinic,
    page: PageCtx,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let (p, today) = work::view(&clinic, id, ViewFor::Edit)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(render_with_status(
        StatusCode::OK,
        &PatientForm {
            page: page.into_page(),
            f: FormView::new(p.to_input(), today),
            errors: FormErrors::new(),
            editing: Some((id, p.version)),
            duplicates: Vec::new(),
        },
    ))
}

pub async fn save(
    clinic: Clinic,
    page: PageCtx,
    session: Session,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Response, AppError> {
    let form = Pairs::parse(&body);
    let input = input_from_form(&form);
    let version = form.one("version").parse::<i32>().ok();
    let errors = match work::update(&clinic, id, &input, version).await {
        Ok(_) => {
            return Ok(redirect_with_flash(&session, "saved", &format!("/patients/{id}")).await);
        }
        Err(PatientError::NotFound) => return Err(AppError::NotFound),
        Err(PatientError::Invalid(e)) => e,
        Err(PatientError::Conflict) => FormErrors::with("_form", "invalid.edit_conflict"),
        Err(e) => return Err(AppError::Internal(e.into())),
    };
    Ok(render_with_status(
        StatusCode::UNPROCESSABLE_ENTITY,
        &PatientForm {
            page: page.into_page(),
            f: FormView::new(input, work::today(&clinic).await?),
            errors,
            editing: Some((id, version.unwrap_or(0))),
            duplicates: Vec::new(),
        },
    ))
}

async fn set_deleted(
    clinic: &Clinic,
    _user: &CurrentUser,
    session: &Session,
    id: i64,
    deleted: bool,
) -> Result<Response, AppError> {
    match work::set_deleted(clinic, id, deleted).await {
        Ok(()) => {}
        Err(PatientError::NotFound) => return Err(AppError::NotFound),
        Err(PatientError::Conflict) => {
            return Ok(Redirect::to(&format!("/patients/{id}")).into_response());
        }
        Err(e) => return Err(AppError::Internal(e.into())),
    }
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

#[derive(askama::Template)]
#[template(path = "patients/delete.html")]
struct DeletePage {
    page: crate::web::page::Page,
    p: crate::domain::patients::Patient,
}

/// Asks before marking the record deleted (the chart's button leads here).
pub async fn confirm_delete(
    clinic: Clinic,
    page: PageCtx,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let (p, _) = work::view(&clinic, id, ViewFor::Edit)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(render_with_status(
        StatusCode::OK,
        &DeletePage {
            page: page.into_page(),
            p,
        },
    ))
}

pub async fn delete(
    clinic: Clinic,
    user: CurrentUser,
    session: Session,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    set_deleted(&clinic, &user, &session, id, true).await
}

pub async fn restore(
    clinic: Clinic,
    user: CurrentUser,
    session: Session,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    set_deleted(&clinic, &user, &session, id, false).await
}
