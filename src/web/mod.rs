//! HTTP: one router for every host. Health and static assets answer on any host; everything
//! else is dispatched by Host to the console, a clinic, or a 404.

pub mod assets;
pub mod auth;
pub mod error;
pub mod forms;
pub mod limits;
pub mod middleware;
pub mod page;
pub mod page_ctx;
pub mod realm;
pub mod routes;
pub mod session;
pub mod site;

use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

use crate::app::AppState;

pub use error::AppError;

pub fn router(state: AppState) -> Router {
    let console = routes::console::router(&state).with_state(state.clone());
    let clinic = routes::clinic::router(&state).with_state(state.clone());
    let dispatch = site::Dispatch::service(state.clone(), console, clinic);
    let timeout = state.config.server.request_timeout();
    let body_limit = state.config.server.max_body_bytes;

    Router::new()
        .merge(routes::health::router())
        .route("/metrics", get(routes::metrics::show))
        .route("/static/{*file}", get(assets::serve))
        .fallback_service(dispatch)
        .layer(axum::middleware::from_fn(middleware::label_route))
        .layer(axum::middleware::from_fn(
            middleware::reject_control_characters,
        ))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(RequestBodyLimitLayer::new(body_limit))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            timeout,
        ))
        // Outside the limits and the timeout, so their 413/503 get the same error pages.
        .layer(axum::middleware::from_fn(error::render_errors))
        .layer(axum::middleware::from_fn(middleware::security_headers))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::hsts,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::request_context,
        ))
        .with_state(state)
}

/// Periodic chores of a running server: the rate limits as set on the console (every minute,
/// so that every node follows a change), expired sessions and idle rate-limit entries (every
/// ten minutes).
pub async fn housekeeping(state: AppState) {
    let store = session::PgSessionStore::new(state.db.pool.clone());
    let defaults = crate::domain::settings::RateLimits::from_config(&state.config.limits);
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    for n in 0u64.. {
        tick.tick().await;
        match crate::domain::settings::RateLimits::load(&state.db.pool, defaults).await {
            Ok(l) => state.limits.apply(l),
            Err(e) => tracing::debug!(error = %e, "could not read the rate limits"),
        }
        if n % 10 != 9 {
            continue;
        }
        state.limits.forget_idle();
        match store.delete_expired().await {
            Ok(n) if n > 0 => tracing::debug!(sessions = n, "expired sessions removed"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "could not remove expired sessions"),
        }
    }
}
