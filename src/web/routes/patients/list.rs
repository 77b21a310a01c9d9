//! `GET /patients?q=` (search page, also the search box's plain-form fallback) and
//! `GET /patients/search?q=` (live results for the header search box, via htmx).

use askama::Template;
use axum::extract::Query;
use axum::response::Response;
use chrono::NaiveDate;
use serde::Deserialize;

use crate::domain::auth::Permission;
use crate::domain::clinic::Clinic;
use crate::domain::patients::{PatientSummary, age_label, work};
use crate::web::AppError;
use crate::web::auth::CurrentUser;
use crate::web::page::{Page, render_page};
use crate::web::page_ctx::PageCtx;

#[derive(Debug, Deserialize, Default)]
pub struct SearchQuery {
    #[serde(default)]
    pub q: String,
}

#[derive(Template)]
#[template(path = "patients/list.html")]
struct ListPage {
    page: Page,
    q: String,
    results: Vec<PatientSummary>,
    today: NaiveDate,
    can_register: bool,
}

#[derive(Template)]
#[template(path = "patients/_search_results.html")]
struct Results {
    page: Page,
    q: String,
    results: Vec<PatientSummary>,
    today: NaiveDate,
}

trait AgeOf {
    fn today(&self) -> NaiveDate;
    fn age(&self, p: &PatientSummary) -> String {
        p.birth_date
            .map(|b| age_label(b, p.birth_date_estimated, self.today()))
            .unwrap_or_default()
    }
}
impl AgeOf for ListPage {
    fn today(&self) -> NaiveDate {
        self.today
    }
}
impl AgeOf for Results {
    fn today(&self) -> NaiveDate {
        self.today
    }
}

/// Runs a search and writes its audit row (the number of results, never the query).
pub async fn page(
    clinic: Clinic,
    user: CurrentUser,
    page: PageCtx,
    Query(q): Query<SearchQuery>,
) -> Result<Response, AppError> {
    let (results, today) = work::search(&clinic, &q.q, 50).await?;
    Ok(render_page(&ListPage {
        page: page.into_page(),
        q: q.q,
        results,
        today,
        can_register: user.can(Permission::PatientsWrite),
    }))
}

pub async fn partial(
    clinic: Clinic,
    page: PageCtx,
    Query(q): Query<SearchQuery>,
) -> Result<Response, AppError> {
    let (results, today) = work::search(&clinic, &q.q, 8).await?;
    Ok(render_page(&Results {
        page: page.into_page(),
        q: q.q,
        results,
        today,
    }))
}
