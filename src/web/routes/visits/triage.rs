//! `GET/POST /patients/{id}/vitals[?appointment=…]`: a nurse records vitals at triage, before
//! the doctor opens the visit (they join the appointment's visit when it starts).

use askama::Template;
use axum::body::Bytes;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use tower_sessions::Session;

use super::vitals_from_form;
use crate::domain::clinic::Clinic;
use crate::domain::patients::{Patient, work as patients};
use crate::domain::visits::work::{self, VitalsFor};
use crate::domain::visits::{VisitError, VitalsInput};
use crate::web::AppError;
use crate::web::extract::Path;
use crate::web::forms::{FormErrors, Pairs};
use crate::web::page::{Page, render_with_status};
use crate::web::page_ctx::{PageCtx, redirect_with_flash};

#[derive(Template)]
#[template(path = "visits/triage.html")]
struct TriagePage {
    page: Page,
    p: Patient,
    appointment: Option<i64>,
    vitals_in: VitalsInput,
    errors: FormErrors,
}

#[derive(Deserialize)]
pub struct TriageQuery {
    pub appointment: Option<i64>,
}

async fn page_for(
    clinic: &Clinic,
    page: PageCtx,
    id: i64,
    appointment: Option<i64>,
    vitals_in: VitalsInput,
    errors: FormErrors,
    status: StatusCode,
) -> Result<Response, AppError> {
    let (p, _) = patients::view(clinic, id, patients::ViewFor::Record)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(render_with_status(
        status,
        &TriagePage {
            page: page.into_page(),
            p,
            appointment,
            vitals_in,
            errors,
        },
    ))
}

pub async fn show(
    clinic: Clinic,
    page: PageCtx,
    Path(id): Path<i64>,
    Query(q): Query<TriageQuery>,
) -> Result<Response, AppError> {
    page_for(
        &clinic,
        page,
        id,
        q.appointment,
        VitalsInput::default(),
        FormErrors::new(),
        StatusCode::OK,
    )
    .await
}

pub async fn save(
    clinic: Clinic,
    page: PageCtx,
    session: Session,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Response, AppError> {
    let form = Pairs::parse(&body);
    let appointment = match form.opt("appointment_id") {
        None => None,
        Some(a) => Some(
            a.trim()
                .parse::<i64>()
                .map_err(|_| AppError::BadRequest("appointment_id: not an id".into()))?,
        ),
    };
    let input = vitals_from_form(&form);
    let target = VitalsFor::Patient {
        patient: id,
        appointment,
    };
    let errors = match work::record_vitals(&clinic, target, &input, None).await {
        Ok(_) => {
            let to = if appointment.is_some() {
                "/".to_owned()
            } else {
                format!("/patients/{id}#vitals")
            };
            return Ok(redirect_with_flash(&session, "visits.vitals_saved", &to).await);
        }
        Err(VisitError::Invalid(e)) => e,
        Err(VisitError::NotFound) => return Err(AppError::NotFound),
        Err(e @ VisitError::Signed) => FormErrors::with("_form", e.message()),
        Err(e) => return Err(AppError::Internal(e.into())),
    };
    page_for(
        &clinic,
        page,
        id,
        appointment,
        input,
        errors,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await
}
