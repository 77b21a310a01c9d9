//! Recorded backups (with their audit row, last-result record and retention) and the daily
//! schedule a running server keeps, under an advisory lock so that one node takes it.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;

use super::create::{Created, create};
use super::settings::{BackupSettings, LastRun, last_run, record_run};
use super::{BackupError, Ctx, Progress, list, retention};
use crate::app::AppState;
use crate::domain::audit::{self, Actor, Context, Event, action};

/// Takes a whole-installation backup, records the outcome (for `/readyz`, `/metrics`,
/// `check`), writes the audit row, and applies retention after a success.
pub async fn run_recorded(
    ctx: &Ctx<'_>,
    reason: &str,
    actor: Actor,
    audit_ctx: &Context,
    progress: &dyn Progress,
) -> Result<Created, BackupError> {
    let started = std::time::Instant::now();
    let result = create(ctx, reason, None, None, progress).await;
    let run = LastRun {
        at: ctx.now,
        ok: result.is_ok(),
        reason: reason.to_owned(),
        file: result
            .as_ref()
            .ok()
            .and_then(|c| c.path.file_name())
            .map(|f| f.to_string_lossy().into_owned()),
        bytes: result.as_ref().ok().map(|c| c.bytes),
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        error: result.as_ref().err().map(ToString::to_string),
    };
    record_run(&ctx.db.pool, &run).await?;
    let mut conn = ctx.db.pool.acquire().await?;
    audit::record_system(
        &mut conn,
        audit_ctx,
        Event::new(action::BACKUP_CREATED, actor)
            .outcome(if run.ok {
                audit::Outcome::Success
            } else {
                audit::Outcome::Failure
            })
            .resource("backup", run.file.clone().unwrap_or_default())
            .details(serde_json::json!({
                "reason": reason, "bytes": run.bytes, "error": run.error, "duration_ms": run.duration_ms,
            })),
        None,
    )
    .await?;
    drop(conn);
    let created = result?;
    prune(ctx).await;
    Ok(created)
}

/// Verifies the backup at `path` (restored into a scratch database and compared with its
/// manifest) and writes the audit row that `last_verify` (Backups, Compliance) reads.
pub async fn verify_recorded(
    ctx: &Ctx<'_>,
    path: &std::path::Path,
    key: super::Key,
    actor: Actor,
    audit_ctx: &Context,
    progress: &dyn Progress,
) -> Result<(super::manifest::Manifest, super::restore::Comparison), BackupError> {
    let result = super::restore::verify(ctx, path, key, progress).await;
    let ok = matches!(&result, Ok((_, c)) if c.ok());
    let details = match &result {
        Ok((m, c)) => serde_json::json!({
            "created_at": m.created_at, "tables": c.tables, "rows": c.rows,
            "documents": c.documents, "problems": c.problems,
        }),
        Err(e) => serde_json::json!({ "error": e.to_string() }),
    };
    let file = path
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    let mut conn = ctx.db.pool.acquire().await?;
    audit::record_system(
        &mut conn,
        audit_ctx,
        Event::new(action::BACKUP_VERIFIED, actor)
            .outcome(if ok {
                audit::Outcome::Success
            } else {
                audit::Outcome::Failure
            })
            .resource("backup", file)
            .details(details),
        None,
    )
    .await?;
    result
}

/// The last verification of a backup (from the console or the command line).
#[derive(Clone, Debug, serde::Serialize)]
pub struct LastVerify {
    pub at: DateTime<Utc>,
    pub ok: bool,
    pub file: Option<String>,
}

/// Read from the system audit log, where every verification leaves its row.
pub async fn last_verify(pool: &sqlx::PgPool) -> sqlx::Result<Option<LastVerify>> {
    Ok(sqlx::query!(
        r#"SELECT at, outcome, resource_id FROM clinicbox_audit.audit_log
            WHERE action = $1 ORDER BY id DESC LIMIT 1"#,
        action::BACKUP_VERIFIED
    )
    .fetch_optional(pool)
    .await?
    .map(|r| LastVerify {
        at: r.at,
        ok: r.outcome == "success",
        file: r.resource_id,
    }))
}

/// Deletes what retention no longer keeps; problems are logged, never fatal.
pub async fn prune(ctx: &Ctx<'_>) {
    let settings = match BackupSettings::load(&ctx.db.pool).await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "backup retention skipped");
            return;
        }
    };
    let all = match list(ctx.config) {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!(error = %e, "backup retention skipped");
            return;
        }
    };
    for path in retention::to_delete(&all, &settings, ctx.now) {
        match std::fs::remove_file(&path) {
            Ok(()) => tracing::info!(file = %path.display(), "old backup removed (retention)"),
            Err(e) => {
                tracing::warn!(file = %path.display(), error = %e, "cannot remove old backup")
            }
        }
    }
}

/// When today's scheduled backup is due (UTC).
fn due_today(s: &BackupSettings, now: DateTime<Utc>) -> DateTime<Utc> {
    now.date_naive().and_time(s.at).and_utc()
}

pub async fn run(state: AppState, mut shutdown: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(60)) => {}
            _ = shutdown.changed() => return,
        }
        if *shutdown.borrow() {
            return;
        }
        if let Err(e) = tick(&state).await {
            tracing::warn!(error = %e, "scheduled backup check failed");
        }
    }
}

fn done_since(run: Option<&LastRun>, due: DateTime<Utc>) -> bool {
    run.is_some_and(|r| r.at >= due)
}

async fn tick(state: &AppState) -> Result<(), BackupError> {
    let pool = &state.db.pool;
    let s = BackupSettings::load(pool).await?;
    let now = state.clock.now();
    let due = due_today(&s, now);
    if !s.enabled || now < due {
        return Ok(());
    }
    let (last, success) = last_run(pool).await?;
    if done_since(success.as_ref(), due) {
        return Ok(());
    }
    // After a failure, try again hourly rather than every minute.
    if let Some(l) = &last
        && !l.ok
        && now - l.at < chrono::Duration::hours(1)
    {
        return Ok(());
    }
    let Some(lock) = crate::db::locks::try_acquire(pool, crate::db::locks::BACKUP).await? else {
        return Ok(());
    };
    let result = scheduled(state, now, due).await;
    lock.release().await?;
    result
}

/// The daily backup, under the lock (another node may have taken it meanwhile).
async fn scheduled(
    state: &AppState,
    now: DateTime<Utc>,
    due: DateTime<Utc>,
) -> Result<(), BackupError> {
    let (_, success) = last_run(&state.db.pool).await?;
    if done_since(success.as_ref(), due) {
        return Ok(());
    }
    let ctx = Ctx {
        db: &state.db,
        config: &state.config,
        secrets: &state.secrets,
        now,
    };
    let audit_ctx = Context::system(now);
    match run_recorded(&ctx, "daily", Actor::System, &audit_ctx, &super::Quiet).await {
        Ok(c) => tracing::info!(
            file = %c.path.display(),
            bytes = c.bytes,
            "scheduled backup written"
        ),
        Err(e) => tracing::error!("scheduled backup failed: {e}; retrying in an hour"),
    }
    Ok(())
}
