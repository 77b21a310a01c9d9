//! The clinic's start page.

use askama::Template;
use axum::extract::State;
use axum::response::Response;

use crate::app::AppState;
use crate::domain::settings;
use crate::web::AppError;
use crate::web::auth::CurrentUser;
use crate::web::page::{Page, render_page};
use crate::web::page_ctx::PageCtx;
use crate::web::site::CurrentTenant;

#[derive(Template)]
#[template(path = "clinic/home.html")]
struct HomePage {
    page: Page,
    user_name: String,
    timezone: String,
}

pub async fn show(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    user: CurrentUser,
    page: PageCtx,
) -> Result<Response, AppError> {
    let timezone = settings::timezone(&state.db.pool, &tenant).await?;
    Ok(render_page(&HomePage {
        page: page.into_page(),
        user_name: user.display_name.clone(),
        timezone,
    }))
}
