//! `GET/POST /patients/new`: register a patient, warning about possible duplicates first.

use askama::Template;
use axum::body::Bytes;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use super::list::SearchQuery;
use super::{FormView, input_from_form};
use crate::domain::clinic::Clinic;
use crate::domain::patients::{PatientError, PatientInput, PatientSummary, work};
use crate::web::AppError;
use crate::web::forms::{FormErrors, Pairs};
use crate::web::page::{Page, render_with_status};
use crate::web::page_ctx::PageCtx;

#[derive(Template)]
#[template(path = "patients/form.html")]
pub struct PatientForm {
    pub page: Page,
    pub f: FormView,
    pub errors: FormErrors,
    /// `None` when registering, the patient's id and version when editing.
    pub editing: Option<(i64, i32)>,
    pub duplicates: Vec<PatientSummary>,
}

/// A search that found nothing offers to register: "Ana Núñez" fills both names.
fn prefill(q: &str) -> PatientInput {
    let q = q.trim();
    let looks_like_name = !q.is_empty() && !q.chars().any(|c| c.is_ascii_digit());
    let (given, family) = match q.rsplit_once(' ') {
        Some((g, f)) if looks_like_name => (g.trim().to_owned(), f.trim().to_owned()),
        _ if looks_like_name => (String::new(), q.to_owned()),
        _ => (String::new(), String::new()),
    };
    PatientInput {
        given_name: given,
        family_name: family,
        ..PatientInput::default()
    }
}

pub async fn show(
    clinic: Clinic,
    page: PageCtx,
    Query(q): Query<SearchQuery>,
) -> Result<Response, AppError> {
    let today = work::today(&clinic).await?;
    Ok(render_with_status(
        StatusCode::OK,
        &PatientForm {
            page: page.into_page(),
            f: FormView::new(prefill(&q.q), today),
            errors: FormErrors::new(),
            editing: None,
            duplicates: Vec::new(),
        },
    ))
}

pub async fn create(clinic: Clinic, page: PageCtx, body: Bytes) -> Result<Response, AppError> {
    let form = Pairs::parse(&body);
    let input = input_from_form(&form);
    let (status, errors, duplicates) =
        match work::register(&clinic, &input, form.flag("confirm_duplicate")).await {
            Ok(p) => return Ok(Redirect::to(&format!("/patients/{}", p.id)).into_response()),
            Err(PatientError::Invalid(e)) => (StatusCode::UNPROCESSABLE_ENTITY, e, Vec::new()),
            Err(PatientError::PossibleDuplicates(d)) => {
                (StatusCode::CONFLICT, FormErrors::new(), d)
            }
            Err(e) => return Err(AppError::Internal(e.into())),
        };
    Ok(render_with_status(
        status,
        &PatientForm {
            page: page.into_page(),
            f: FormView::new(input, work::today(&clinic).await?),
            errors,
            editing: None,
            duplicates,
        },
    ))
}
