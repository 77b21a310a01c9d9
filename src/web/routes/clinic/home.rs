//! The clinic's start page.

use askama::Template;
use axum::Extension;
use axum::response::Response;

use crate::app::AppState;
use crate::domain::settings;
use crate::web::AppError;
use crate::web::middleware::RequestId;
use crate::web::page::{Page, render_page};
use crate::web::site::CurrentTenant;

#[derive(Template)]
#[template(path = "clinic/home.html")]
struct HomePage {
    page: Page,
    timezone: String,
}

pub async fn show(
    axum::extract::State(state): axum::extract::State<AppState>,
    tenant: CurrentTenant,
    Extension(rid): Extension<RequestId>,
) -> Result<Response, AppError> {
    let timezone = settings::timezone(&state.db.pool, &tenant).await?;
    Ok(render_page(&HomePage {
        page: Page::for_clinic(&tenant, &rid.0),
        timezone,
    }))
}
