//! The system console's start page.

use askama::Template;
use axum::Extension;
use axum::response::Response;

use crate::web::middleware::RequestId;
use crate::web::page::{Page, render_page};

#[derive(Template)]
#[template(path = "console/home.html")]
struct ConsoleHome {
    page: Page,
}

pub async fn show(Extension(rid): Extension<RequestId>) -> Response {
    render_page(&ConsoleHome {
        page: Page::for_console(&rid.0),
    })
}
