//! The system console's start page: the clinics of this installation.

use askama::Template;
use axum::extract::State;
use axum::response::Response;

use crate::app::AppState;
use crate::domain::tenants::{self, TenantSummary};
use crate::web::AppError;
use crate::web::auth::CurrentOperator;
use crate::web::page::{Page, render_page};
use crate::web::page_ctx::PageCtx;

#[derive(Template)]
#[template(path = "console/home.html")]
struct ConsoleHome {
    page: Page,
    clinics: Vec<TenantSummary>,
}

pub async fn show(
    State(state): State<AppState>,
    _op: CurrentOperator,
    page: PageCtx,
) -> Result<Response, AppError> {
    let clinics = tenants::list(&state.db, &state.hosts)
        .await
        .map_err(|e| AppError::Internal(e.into()))?;
    Ok(render_page(&ConsoleHome {
        page: page.into_page(),
        clinics,
    }))
}
