//! HTTP: one router for every host. Health and static assets answer on any host; everything
//! else is dispatched by Host to the console, a clinic, or a 404.

pub mod assets;
pub mod auth;
pub mod error;
pub mod extract;
pub mod forms;
pub mod guard;
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
        .layer(axum::middleware::from_fn_with_state(
            body_limit,
            middleware::limit_body,
        ))
        .layer(axum::middleware::from_fn_with_state(
            timeout,
            middleware::time_limit,
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

#[cfg(test)]
mod rules {
    /// Handlers reach a clinic's tables and its audit log only through the domain's units of
    /// work (`domain::clinic`): nothing under `src/web` opens a clinic transaction or writes a
    /// clinic audit row itself. `Unit` cannot even be named outside the domain; this catches
    /// the lower-level ways in.
    #[test]
    fn web_code_opens_no_clinic_transaction_and_writes_no_clinic_audit_row() {
        let mut offenders = Vec::new();
        let mut dirs = vec![std::path::PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/src/web"
        ))];
        while let Some(dir) = dirs.pop() {
            for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let path = e.path();
                if path.is_dir() {
                    dirs.push(path);
                    continue;
                }
                if path.extension().is_none_or(|x| x != "rs") {
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                // Split, so that this file does not name them itself.
                for (a, b) in [
                    ("Tenant", "Db"),
                    ("audit::", "record("),
                    ("set_config(", "'role'"),
                ] {
                    let needle = format!("{a}{b}");
                    if text.contains(&needle) {
                        offenders.push(format!("{}: {needle}", path.display()));
                    }
                }
            }
        }
        assert!(offenders.is_empty(), "{offenders:#?}");
    }
}
