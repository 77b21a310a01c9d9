//! `/api/v1`: JSON for scripts, monitoring and integrations. Authenticated by
//! `Authorization: Bearer <token>` (or `X-API-Key`), or by the session cookie plus the
//! `X-CSRF-Token` header for unsafe methods. Errors are `application/problem+json`.

pub mod audit;
pub mod me;
pub mod openapi;
pub mod patients;
pub mod scheduling;
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
        .route("/patients", get(patients::search).post(patients::create))
        .route(
            "/patients/{id}",
            get(patients::show).patch(patients::update),
        )
        .route("/patients/{id}/appointments", get(patients::appointments))
        .route(
            "/appointments",
            get(scheduling::list).post(scheduling::create),
        )
        .route("/appointments/{id}", get(scheduling::show))
        .route(
            "/appointments/{id}/status",
            axum::routing::post(scheduling::status),
        )
        .route(
            "/appointments/{id}/cancel",
            axum::routing::post(scheduling::cancel),
        )
        .route(
            "/appointments/{id}/reschedule",
            axum::routing::post(scheduling::reschedule),
        )
        .route("/providers", get(scheduling::providers))
        .route("/appointment-types", get(scheduling::types))
        .route("/slots", get(scheduling::slots))
}
