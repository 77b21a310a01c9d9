//! `/healthz` (process alive) and `/readyz` (database reachable, migrations current), on any
//! host, with the old stack's aliases `/health` and `/api/v1/health/database`.

use std::time::Duration;

use crate::web::extract::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use crate::app::AppState;
use crate::db::migrate;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/health", get(healthz))
        .route("/readyz", get(readyz))
        .route("/api/v1/health/database", get(database))
}

async fn healthz() -> Response {
    Json(json!({ "status": "ok", "version": crate::VERSION })).into_response()
}

/// Ready when PostgreSQL answers within 3 s and every schema is at this binary's version.
pub async fn readiness(state: &AppState) -> Result<serde_json::Value, String> {
    let check = tokio::time::timeout(
        Duration::from_secs(3),
        migrate::status(&state.db.pool, state.migrations),
    )
    .await;
    match check {
        Err(_) => Err("database: no answer within 3 s".into()),
        Ok(Err(e)) => Err(format!("database unreachable: {}", short_db_error(&e))),
        Ok(Ok(s)) => match s.problem() {
            Some(p) => Err(p),
            None => Ok(json!({
                "database": "ok",
                "migrations": {
                    "control_version": s.control_version,
                    "clinic_version": state.migrations.latest_tenant(),
                },
                // Reported, never a reason to take the service out of rotation.
                "backup": backup_details(state).await,
            })),
        },
    }
}

async fn backup_details(state: &AppState) -> serde_json::Value {
    match crate::ops::backup::status(&state.db.pool, state.clock.now()).await {
        Ok(b) => json!({
            "status": if b.warning.is_some() { "warning" } else { "ok" },
            "last_success_at": b.last_success.as_ref().map(|l| l.at),
            "age_seconds": b.age_seconds,
            "last_result": b.last.as_ref().map(|l| if l.ok { "success" } else { "failure" }),
            "warning": b.warning,
        }),
        Err(e) => json!({ "status": "unknown", "warning": short_db_error(&e) }),
    }
}

fn short_db_error(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::PoolTimedOut => "connection pool timed out".into(),
        sqlx::Error::Io(io) => io.kind().to_string(),
        other => other.to_string().chars().take(200).collect(),
    }
}

async fn readyz(State(state): State<AppState>) -> Response {
    ready_response(&state, "ready").await
}

/// The old stack's database monitor expects `"status": "ok"`.
async fn database(State(state): State<AppState>) -> Response {
    ready_response(&state, "ok").await
}

async fn ready_response(state: &AppState, ready_word: &str) -> Response {
    match readiness(state).await {
        Ok(details) => Json(json!({
            "status": ready_word,
            "version": crate::VERSION,
            "checks": details,
        }))
        .into_response(),
        Err(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({
                "status": "unavailable",
                "version": crate::VERSION,
                "reason": reason,
            })),
        )
            .into_response(),
    }
}
