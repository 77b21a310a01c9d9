//! Routes on a clinic's host. Every handler receives the `CurrentTenant` resolved by Host.

mod home;
mod theme;

use axum::Router;
use axum::routing::get;

use crate::app::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home::show))
        .route("/theme.css", get(theme::css))
}
