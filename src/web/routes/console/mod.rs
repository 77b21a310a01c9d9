//! Routes on the console host (operators).

mod home;

use axum::Router;
use axum::routing::get;

use crate::app::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/", get(home::show))
}
