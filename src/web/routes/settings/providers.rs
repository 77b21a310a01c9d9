//! `/settings/providers`: each doctor's and nurse's working hours and leave.

use crate::web::extract::Path;
use askama::Template;
use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::NaiveDate;

use super::week::{self, WeekLine};
use tower_sessions::Session;

use crate::domain::clinic::Clinic;
use crate::domain::prescriptions::work as rx;
use crate::domain::scheduling::repo::Absence;
use crate::domain::scheduling::{Provider, config, work};
use crate::web::AppError;
use crate::web::forms::{FormErrors, Pairs};
use crate::web::page::{Page, form_status, render_with_status};
use crate::web::page_ctx::{PageCtx, redirect_with_flash};

#[derive(Template)]
#[template(path = "settings/providers.html")]
struct ProvidersPage {
    page: Page,
    providers: Vec<Provider>,
}

pub async fn list(clinic: Clinic, page: PageCtx) -> Result<Response, AppError> {
    let providers = work::providers(&clinic).await?;
    Ok(render_with_status(
        StatusCode::OK,
        &ProvidersPage {
            page: page.into_page(),
            providers,
        },
    ))
}

#[derive(Template)]
#[template(path = "settings/provider.html")]
struct ProviderPage {
    page: Page,
    p: Provider,
    week: Vec<WeekLine>,
    absences: Vec<Absence>,
    qualification: String,
    registration_no: String,
    errors: FormErrors,
}

async fn provider_page(
    clinic: &Clinic,
    page: Page,
    id: i64,
    typed: Option<Vec<WeekLine>>,
    errors: FormErrors,
) -> Result<Response, AppError> {
    provider_page_with(clinic, page, id, typed, None, errors).await
}

async fn provider_page_with(
    clinic: &Clinic,
    page: Page,
    id: i64,
    typed: Option<Vec<WeekLine>>,
    prescriber: Option<(String, String)>,
    errors: FormErrors,
) -> Result<Response, AppError> {
    let (p, rows, absences) = config::provider(clinic, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let (qualification, registration_no) = match prescriber {
        Some(typed) => typed,
        None => match rx::prescriber(clinic, id).await? {
            Some(p) => (
                p.qualification.unwrap_or_default(),
                p.registration_no.unwrap_or_default(),
            ),
            None => Default::default(),
        },
    };
    Ok(render_with_status(
        form_status(&errors),
        &ProviderPage {
            page,
            p,
            week: typed.unwrap_or_else(|| week::text(&rows)),
            absences,
            qualification,
            registration_no,
            errors,
        },
    ))
}

pub async fn show(
    clinic: Clinic,
    page: PageCtx,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    provider_page(&clinic, page.into_page(), id, None, FormErrors::new()).await
}

pub async fn save_hours(
    clinic: Clinic,
    session: Session,
    page: PageCtx,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Response, AppError> {
    let f = Pairs::parse(&body);
    let mut errors = FormErrors::new();
    let rows = week::from_form(&f, &mut errors);
    if !errors.is_empty() {
        return provider_page(&clinic, page.into_page(), id, Some(week::typed(&f)), errors).await;
    }
    if !config::save_provider_hours(&clinic, id, &rows).await? {
        return Err(AppError::NotFound);
    }
    Ok(redirect_with_flash(&session, "saved", &format!("/settings/providers/{id}")).await)
}

pub async fn add_absence(
    clinic: Clinic,
    session: Session,
    page: PageCtx,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Response, AppError> {
    let f = Pairs::parse(&body);
    let from = NaiveDate::parse_from_str(f.one("starts_on").trim(), "%Y-%m-%d").ok();
    let to = NaiveDate::parse_from_str(f.one("ends_on").trim(), "%Y-%m-%d")
        .ok()
        .or(from);
    let reason = f.opt("reason");
    let mut errors = FormErrors::new();
    match (from, to) {
        (Some(a), Some(b)) if b >= a => {}
        (Some(_), Some(_)) => errors.add("ends_on", "invalid.last_before_first"),
        _ => errors.add("starts_on", "invalid.first_day"),
    }
    if reason.as_deref().is_some_and(|r| r.chars().count() > 200) {
        errors.add("reason", "invalid.max_200");
    }
    let (Some(from), Some(to)) = (from, to) else {
        return provider_page(&clinic, page.into_page(), id, None, errors).await;
    };
    if !errors.is_empty() {
        return provider_page(&clinic, page.into_page(), id, None, errors).await;
    }
    if !config::add_absence(&clinic, id, from, to, reason.as_deref()).await? {
        return Err(AppError::NotFound);
    }
    Ok(redirect_with_flash(&session, "saved", &format!("/settings/providers/{id}")).await)
}

pub async fn remove_absence(
    clinic: Clinic,
    Path((id, absence)): Path<(i64, i64)>,
) -> Result<Response, AppError> {
    if !config::remove_absence(&clinic, id, absence).await? {
        return Err(AppError::NotFound);
    }
    Ok(Redirect::to(&format!("/settings/providers/{id}")).into_response())
}

/// `POST /settings/providers/{id}/prescriber`: what prescriptions print under their name.
pub async fn save_prescriber(
    clinic: Clinic,
    session: Session,
    page: PageCtx,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Response, AppError> {
    let f = Pairs::parse(&body);
    let (q, r) = (f.one("qualification"), f.one("registration_no"));
    match rx::save_prescriber(&clinic, id, &q, &r).await {
        Ok(true) => {
            Ok(redirect_with_flash(&session, "saved", &format!("/settings/providers/{id}")).await)
        }
        Ok(false) => Err(AppError::NotFound),
        Err(rx::SaveError::Invalid(errors)) => {
            provider_page_with(&clinic, page.into_page(), id, None, Some((q, r)), errors).await
        }
        Err(rx::SaveError::Sql(e)) => Err(e.into()),
    }
}
