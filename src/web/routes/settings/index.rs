//! `GET /settings`

use askama::Template;
use axum::response::Response;

use crate::domain::auth::Permission;
use crate::web::auth::CurrentUser;
use crate::web::page::{Page, render_page};
use crate::web::page_ctx::PageCtx;

#[derive(Template)]
#[template(path = "settings/index.html")]
struct SettingsIndex {
    page: Page,
    users: bool,
    security: bool,
    audit: bool,
}

pub async fn show(user: CurrentUser, page: PageCtx) -> Response {
    render_page(&SettingsIndex {
        page: page.into_page(),
        users: user.can(Permission::UsersManage),
        security: user.can(Permission::SettingsManage),
        audit: user.can(Permission::AuditRead),
    })
}
