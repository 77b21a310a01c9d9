//! `clinicbox serve`

use std::time::{Duration, Instant};

use super::{CliResult, Failed};
use crate::app::AppState;
use crate::config::{Config, TlsMode};
use crate::db::migrate::{self, Migrations};
use crate::ops::clock::SystemClock;

pub async fn run(cfg: &Config) -> CliResult {
    let _log = crate::ops::telemetry::init(&cfg.log, "info")?;
    let db = connect_with_retry(cfg, Duration::from_secs(60)).await?;
    crate::db::check_login_role(&db).await.map_err(Failed)?;
    // `serve` never migrates (postinst runs `clinicbox migrate`); it refuses a schema it
    // does not match, in either direction.
    let status = migrate::status(&db.pool, Migrations::embedded()).await?;
    if let Some(problem) = status.problem() {
        return Err(Failed(problem));
    }
    let state = AppState::new(
        cfg.clone(),
        db,
        std::sync::Arc::new(SystemClock),
        Migrations::embedded(),
    );
    match cfg.tls.mode {
        TlsMode::Off => {
            let listener = tokio::net::TcpListener::bind(cfg.server.http_listen)
                .await
                .map_err(|e| {
                    Failed(format!(
                        "cannot listen on {} (server.http_listen): {e}",
                        cfg.server.http_listen
                    ))
                })?;
            tracing::info!(addr = %cfg.server.http_listen, "serving HTTP (tls.mode = off)");
            crate::app::serve(state, listener, crate::ops::shutdown::signal()).await?;
        }
        TlsMode::Acme | TlsMode::Manual => {
            return Err(Failed(
                "tls.mode = acme/manual is not available in this build; set tls.mode = \"off\""
                    .into(),
            ));
        }
    }
    tracing::info!("stopped");
    Ok(())
}

/// At boot PostgreSQL may still be starting: retry for a while, saying so once in a while.
async fn connect_with_retry(cfg: &Config, patience: Duration) -> Result<crate::db::Db, Failed> {
    let started = Instant::now();
    let mut last_log = Instant::now() - Duration::from_secs(60);
    loop {
        match crate::db::connect(&cfg.database).await {
            Ok(db) => return Ok(db),
            Err(e) if started.elapsed() < patience => {
                if last_log.elapsed() > Duration::from_secs(10) {
                    tracing::warn!(error = %e, url = %cfg.database.url, "database not reachable yet; retrying");
                    last_log = Instant::now();
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(e) => return Err(Failed(format!("{e} (database.url = {})", cfg.database.url))),
        }
    }
}
