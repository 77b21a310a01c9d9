//! Logging: human-readable lines on stderr (journald picks them up under systemd) and, when
//! `[log] dir` is set, JSON lines in a daily-rotated file.
//!
//! Fields are ids only. Request bodies, query strings, names, notes and secrets are never
//! logged; the request span records the path without its query string.

use std::io::IsTerminal;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::LogConfig;

/// Keeps the file writer flushing until dropped at exit.
#[must_use]
pub struct LogGuard(#[expect(dead_code, reason = "held for its Drop")] Option<WorkerGuard>);

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("log directory {0}: {1}")]
    Dir(String, String),
    #[error("invalid log level filter {0:?}: {1}")]
    Filter(String, String),
}

fn filter(level: &str) -> Result<EnvFilter, TelemetryError> {
    // sqlx logs statements at info level; ours are parameterised, but keep the noise down.
    let spec = if level.contains("sqlx") {
        level.to_owned()
    } else {
        format!("{level},sqlx=warn")
    };
    EnvFilter::try_new(&spec).map_err(|e| TelemetryError::Filter(level.to_owned(), e.to_string()))
}

/// For `serve` and `demo`: `default_level` unless the config names one; file output if configured.
pub fn init(cfg: &LogConfig, default_level: &str) -> Result<LogGuard, TelemetryError> {
    let level = cfg.level.as_deref().unwrap_or(default_level);
    let stderr_layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false);
    let (file_layer, guard) = match &cfg.dir {
        Some(dir) => {
            let files = crate::ops::logfile::LogFiles::new(dir.clone(), cfg.keep_days)
                .map_err(|e| TelemetryError::Dir(dir.display().to_string(), e.to_string()))?;
            let (writer, guard) = tracing_appender::non_blocking(files);
            let layer = tracing_subscriber::fmt::layer()
                .json()
                .with_current_span(true)
                .with_span_list(false)
                .with_writer(writer);
            (Some(layer), Some(guard))
        }
        None => (None, None),
    };
    // A second init (tests, demo restarts in one process) keeps the first subscriber.
    let _ = tracing_subscriber::registry()
        .with(filter(level)?)
        .with(stderr_layer)
        .with(file_layer)
        .try_init();
    Ok(LogGuard(guard))
}

/// For one-shot CLI commands: warnings and errors on stderr only.
pub fn init_cli() {
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            EnvFilter::try_from_env("CLINICBOX_LOG_LEVEL")
                .unwrap_or_else(|_| EnvFilter::new("warn,sqlx=warn")),
        )
        .with_target(false)
        .try_init();
}
