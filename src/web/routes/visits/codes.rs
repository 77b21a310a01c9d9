//! `GET /codes?q=…`: the live diagnosis search of the visit screen (a fragment of buttons that
//! submit the visit form; without JavaScript the visit screen searches itself).

use askama::Template;
use axum::extract::Query;
use axum::response::Response;
use serde::Deserialize;

use crate::domain::clinic::Clinic;
use crate::domain::codes::Code;
use crate::domain::visits::work;
use crate::web::AppError;
use crate::web::page::{Page, render_page};
use crate::web::page_ctx::PageCtx;

#[derive(Template)]
#[template(path = "visits/_codes.html")]
pub struct CodesFragment {
    pub page: Page,
    pub codes: Vec<Code>,
    pub searched: bool,
}

#[derive(Deserialize)]
pub struct CodesQuery {
    #[serde(default, alias = "dx_q")]
    pub q: String,
}

pub async fn search(
    clinic: Clinic,
    page: PageCtx,
    Query(q): Query<CodesQuery>,
) -> Result<Response, AppError> {
    let codes = work::search_codes(&clinic, &q.q, 15).await?;
    Ok(render_page(&CodesFragment {
        page: page.into_page(),
        codes,
        searched: !q.q.trim().is_empty(),
    }))
}
