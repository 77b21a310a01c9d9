//! The task of `serve` that keeps the audit logs sealed: every two seconds it adds the rows
//! written since to their log's chain (`domain::audit::chain`), and every ten minutes it looks
//! at every log, for rows other processes wrote (the CLI, other nodes). One sealer per log at
//! a time, whichever node it runs on (an advisory lock per log).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::app::AppState;
use crate::domain::audit;
use crate::domain::tenants::{self, TenantIdent};

const TICK: Duration = Duration::from_secs(2);
const SWEEP: Duration = Duration::from_secs(600);

pub async fn run(state: AppState, mut shutdown: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut next_sweep = Instant::now();
    loop {
        let stopping = tokio::select! {
            _ = tick.tick() => false,
            _ = shutdown.changed() => true,
        };
        let written = audit::take_written();
        let result = if !stopping && Instant::now() >= next_sweep {
            next_sweep = Instant::now() + SWEEP;
            sweep(&state).await
        } else if !written.is_empty() {
            seal_written(&state, &written).await
        } else {
            Ok(())
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, "sealing audit logs failed; retrying");
        }
        if stopping {
            return;
        }
    }
}

async fn clinics(state: &AppState) -> anyhow::Result<HashMap<String, TenantIdent>> {
    Ok(tenants::list(&state.db, &state.hosts)
        .await?
        .into_iter()
        .map(|c| (c.tenant.db.audit_schema().to_string(), c.tenant.db))
        .collect())
}

async fn sweep(state: &AppState) -> anyhow::Result<()> {
    audit::seal_system(&state.db.pool, &state.secrets).await?;
    for ident in clinics(state).await?.values() {
        if let Err(e) = audit::seal_clinic(&state.db.pool, &state.secrets, ident).await {
            tracing::warn!(schema = %ident.schema, error = %e, "could not seal a clinic's audit log");
        }
    }
    Ok(())
}

async fn seal_written(state: &AppState, tables: &[u32]) -> anyhow::Result<()> {
    let oids: Vec<sqlx::postgres::types::Oid> = tables
        .iter()
        .map(|o| sqlx::postgres::types::Oid(*o))
        .collect();
    let schemas: Vec<String> = sqlx::query_scalar!(
        r#"SELECT n.nspname::text AS "schema!" FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE c.oid = ANY($1)"#,
        &oids
    )
    .fetch_all(&state.db.pool)
    .await?;
    let mut known = None;
    for s in schemas {
        if s == crate::domain::tenants::Ident::system_audit().as_str() {
            audit::seal_system(&state.db.pool, &state.secrets).await?;
            continue;
        }
        if known.is_none() {
            known = Some(clinics(state).await?);
        }
        if let Some(ident) = known.as_ref().and_then(|k| k.get(&s)) {
            audit::seal_clinic(&state.db.pool, &state.secrets, ident).await?;
        }
    }
    Ok(())
}
