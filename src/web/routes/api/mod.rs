//! `/api/v1`: JSON for scripts, monitoring and integrations. Authenticated by
//! `Authorization: Bearer <token>` (or `X-API-Key`), or by the session cookie plus the
//! `X-CSRF-Token` header for unsafe methods. Errors are `application/problem+json`.

pub mod audit;
pub mod me;
pub mod openapi;
pub mod tokens;
pub mod users;

use axum::Router;
use axum::routing::get;

use crate::app::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/me", get(me::show))
        .route("/users", get(users::list).post(users::create))
        .route("/users/{id}", get(users::show).patch(users::update))
        .route("/tokens", get(tokens::list).post(tokens::create))
        .route("/tokens/{id}", axum::routing::delete(tokens::revoke))
        .route("/audit", get(audit::list))
}
