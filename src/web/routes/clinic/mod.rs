//! Routes on a clinic's host. Every handler receives the `CurrentTenant` resolved by Host;
//! `authenticate_staff` and `guard_staff` run before each of them.

mod home;
mod theme;

use axum::Router;

use super::table::{self, Access, Route};
use super::{
    account, api, appointments, auth, billing, documents, patients, reports, schedule, settings,
    visits,
};
use crate::app::AppState;
use crate::web::auth::{authenticate_staff, guard_staff};

/// Every route on a clinic's host except the API (see `api::routes`), area by area.
pub fn table() -> Vec<Route> {
    let mut routes = vec![
        Route::get("/", Access::SignedIn, home::show),
        Route::get("/theme.css", Access::Public, theme::css),
        Route::get("/logo", Access::Public, theme::logo),
        Route::get("/api/v1/openapi.json", Access::Public, api::openapi::serve),
    ];
    for area in [
        auth::routes(),
        account::routes(),
        settings::routes(),
        patients::routes(),
        schedule::routes(),
        appointments::routes(),
        visits::routes(),
        documents::routes(),
        billing::routes(),
        reports::routes(),
    ] {
        routes.extend(area);
    }
    routes
}

/// Every route of a clinic's host, the API's included: what the tests walk.
pub fn all_routes() -> Vec<Route> {
    let mut routes = table();
    routes.extend(api::routes());
    routes
}

pub fn router(state: &AppState) -> Router<AppState> {
    let api = table::router(api::routes()).layer(axum::middleware::from_fn_with_state(
        state.clone(),
        crate::web::limits::api,
    ));
    table::router(table())
        .merge(api)
        .layer(axum::middleware::from_fn(
            crate::web::middleware::label_route,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard_staff,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            authenticate_staff,
        ))
        .layer(crate::web::session::layer(
            state.db.pool.clone(),
            state.https,
        ))
}
