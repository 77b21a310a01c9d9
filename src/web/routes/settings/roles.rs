//! `GET /settings/roles`: the permission matrix, read-only, for every staff member.

use askama::Template;
use axum::response::Response;

use crate::domain::auth::model::MATRIX;
use crate::domain::auth::{Permission, Role};
use crate::web::auth::CurrentUser;
use crate::web::page::{Page, render_page};
use crate::web::page_ctx::PageCtx;

#[derive(Template)]
#[template(path = "settings/roles.html")]
struct RolesPage {
    page: Page,
    roles: Vec<Role>,
    rows: Vec<(Permission, Vec<bool>)>,
}

pub async fn show(_user: CurrentUser, page: PageCtx) -> Response {
    let roles = Role::ALL.to_vec();
    let rows = MATRIX
        .iter()
        .map(|(p, allowed)| (*p, roles.iter().map(|r| allowed.contains(r)).collect()))
        .collect();
    render_page(&RolesPage {
        page: page.into_page(),
        roles,
        rows,
    })
}
