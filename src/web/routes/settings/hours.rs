//! `/settings/hours`: the clinic's opening hours and holidays.

use crate::web::extract::Path;
use askama::Template;
use axum::body::Bytes;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::NaiveDate;

use super::week::{self, WeekLine};
use tower_sessions::Session;

use crate::domain::clinic::Clinic;
use crate::domain::scheduling::config;
use crate::domain::scheduling::repo::Holiday;
use crate::web::AppError;
use crate::web::forms::{FormErrors, Pairs};
use crate::web::page::{Page, form_status, render_with_status};
use crate::web::page_ctx::{PageCtx, redirect_with_flash};

#[derive(Template)]
#[template(path = "settings/hours.html")]
struct HoursPage {
    page: Page,
    week: Vec<WeekLine>,
    holidays: Vec<Holiday>,
    errors: FormErrors,
}

async fn hours_page(
    clinic: &Clinic,
    page: Page,
    typed: Option<Vec<WeekLine>>,
    errors: FormErrors,
) -> Result<Response, AppError> {
    let (rows, holidays) = config::opening_hours(clinic).await?;
    Ok(render_with_status(
        form_status(&errors),
        &HoursPage {
            page,
            week: typed.unwrap_or_else(|| week::text(&rows)),
            holidays,
            errors,
        },
    ))
}

pub async fn show(clinic: Clinic, page: PageCtx) -> Result<Response, AppError> {
    hours_page(&clinic, page.into_page(), None, FormErrors::new()).await
}

pub async fn save(
    clinic: Clinic,
    session: Session,
    page: PageCtx,
    body: Bytes,
) -> Result<Response, AppError> {
    let f = Pairs::parse(&body);
    let mut errors = FormErrors::new();
    let rows = week::from_form(&f, &mut errors);
    if !errors.is_empty() {
        return hours_page(&clinic, page.into_page(), Some(week::typed(&f)), errors).await;
    }
    config::save_opening_hours(&clinic, &rows).await?;
    Ok(redirect_with_flash(&session, "saved", "/settings/hours").await)
}

pub async fn add_holiday(
    clinic: Clinic,
    session: Session,
    page: PageCtx,
    body: Bytes,
) -> Result<Response, AppError> {
    let f = Pairs::parse(&body);
    let day = NaiveDate::parse_from_str(f.one("day").trim(), "%Y-%m-%d").ok();
    let name = f.one("name").trim().to_owned();
    let mut errors = FormErrors::new();
    if day.is_none() {
        errors.add("day", "invalid.date");
    }
    if name.is_empty() || name.chars().count() > 100 {
        errors.add("name", "invalid.holiday_name");
    }
    let Some(day) = day.filter(|_| errors.is_empty()) else {
        return hours_page(&clinic, page.into_page(), None, errors).await;
    };
    match config::add_holiday(&clinic, day, &name).await {
        Ok(()) => Ok(redirect_with_flash(&session, "saved", "/settings/hours").await),
        Err(config::HolidayError::Past) => {
            let errors = FormErrors::with("day", "invalid.holiday_past");
            hours_page(&clinic, page.into_page(), None, errors).await
        }
        Err(config::HolidayError::Sql(e)) => Err(e.into()),
    }
}

pub async fn remove_holiday(clinic: Clinic, Path(day): Path<String>) -> Result<Response, AppError> {
    let day = NaiveDate::parse_from_str(&day, "%Y-%m-%d").map_err(|_| AppError::NotFound)?;
    if !config::remove_holiday(&clinic, day).await? {
        return Err(AppError::NotFound);
    }
    Ok(Redirect::to("/settings/hours").into_response())
}
