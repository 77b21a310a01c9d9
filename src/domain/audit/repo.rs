//! SQL for the audit logs: append, read, prune, and seal/verify through `chain`.
//!
//! The logs belong to the auditor role (migrations/privileged/setup.sql): the application may
//! only add rows, read them and append to their chain.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};

use super::chain::{self, Head, LogId, VerifyReport};
use super::{Context, Event};
use crate::db::TenantDb;
use crate::domain::tenants::{Tenant, TenantIdent};
use crate::ops::secrets::Secrets;

/// Logs written since the sealer last looked, by the OID of their table.
fn written() -> &'static std::sync::Mutex<std::collections::HashSet<u32>> {
    static W: std::sync::OnceLock<std::sync::Mutex<std::collections::HashSet<u32>>> =
        std::sync::OnceLock::new();
    W.get_or_init(Default::default)
}

fn note_written(table: sqlx::postgres::types::Oid) {
    written()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .insert(table.0);
}

/// The tables written to since the last call (for the sealer).
pub fn take_written() -> Vec<u32> {
    written()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .drain()
        .collect()
}

/// Appends to the clinic's audit log; `conn` must be inside the clinic's transaction. One
/// INSERT, no lock: the chain is added by the sealer shortly after.
pub async fn record(conn: &mut PgConnection, ctx: &Context, ev: Event) -> sqlx::Result<()> {
    let (actor_type, actor_id) = ev.actor.parts();
    let table: sqlx::postgres::types::Oid = sqlx::query_scalar!(
        "INSERT INTO audit_log (at, actor_type, actor_id, ip, action, resource_type, resource_id,
                                patient_id, outcome, details, request_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         RETURNING tableoid",
        ctx.at,
        actor_type,
        actor_id,
        ctx.ip.map(sqlx::types::ipnetwork::IpNetwork::from),
        ev.action,
        ev.resource_type,
        ev.resource_id,
        ev.patient_id,
        ev.outcome.as_str(),
        ev.details,
        ctx.request_id.as_deref()
    )
    .fetch_one(conn)
    .await?;
    note_written(table);
    Ok(())
}

/// Appends to the system audit log (operators, CLI); `tenant_id` names the clinic concerned.
pub async fn record_system(
    conn: &mut PgConnection,
    ctx: &Context,
    ev: Event,
    tenant_id: Option<i64>,
) -> sqlx::Result<()> {
    let (actor_type, actor_id) = ev.actor.parts();
    let table: sqlx::postgres::types::Oid = sqlx::query_scalar!(
        "INSERT INTO clinicbox_audit.audit_log (at, actor_type, actor_id, ip, action,
                                resource_type, resource_id, tenant_id, outcome, details, request_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         RETURNING tableoid",
        ctx.at,
        actor_type,
        actor_id,
        ctx.ip.map(sqlx::types::ipnetwork::IpNetwork::from),
        ev.action,
        ev.resource_type,
        ev.resource_id,
        tenant_id,
        ev.outcome.as_str(),
        ev.details,
        ctx.request_id.as_deref()
    )
    .fetch_one(conn)
    .await?;
    note_written(table);
    Ok(())
}

/// Seals a clinic's pending audit rows (in a clinic transaction). Returns rows sealed.
pub async fn seal_clinic(pool: &PgPool, secrets: &Secrets, t: &TenantIdent) -> sqlx::Result<u64> {
    let mut tx = TenantDb::begin(pool, t).await?;
    let n = chain::seal(&mut tx, secrets, &LogId::clinic(t)).await?;
    tx.commit().await?;
    Ok(n)
}

/// Seals the installation log's pending rows.
pub async fn seal_system(pool: &PgPool, secrets: &Secrets) -> sqlx::Result<u64> {
    let mut tx = crate::db::begin(pool).await?;
    let n = chain::seal(&mut tx, secrets, &LogId::system()).await?;
    tx.commit().await?;
    Ok(n)
}

/// Seals, then verifies a clinic's log (against `expected` too, e.g. a backup's head).
pub async fn verify_tenant(
    pool: &PgPool,
    secrets: &Secrets,
    tenant: &Tenant,
    expected: Option<&Head>,
) -> sqlx::Result<VerifyReport> {
    seal_clinic(pool, secrets, &tenant.db).await?;
    let mut tx = TenantDb::begin(pool, &tenant.db).await?;
    let r = chain::verify(&mut tx, secrets, &LogId::clinic(&tenant.db), expected).await?;
    tx.commit().await?;
    Ok(r)
}

/// Seals, then verifies the installation's log.
pub async fn verify_system(
    pool: &PgPool,
    secrets: &Secrets,
    expected: Option<&Head>,
) -> sqlx::Result<VerifyReport> {
    seal_system(pool, secrets).await?;
    let mut tx = crate::db::begin(pool).await?;
    let r = chain::verify(&mut tx, secrets, &LogId::system(), expected).await?;
    tx.commit().await?;
    Ok(r)
}

/// Filters of the audit viewer and `/api/v1/audit`; `before` pages backwards by `seq`.
#[derive(Debug, Default, Clone, serde::Deserialize)]
pub struct AuditFilter {
    pub user: Option<i64>,
    pub patient: Option<i64>,
    pub action: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub before: Option<i64>,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct AuditRow {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub actor_type: String,
    pub actor_id: Option<i64>,
    /// The staff member's email, when the actor is a user.
    pub actor_email: Option<String>,
    pub ip: Option<String>,
    pub action: String,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub patient_id: Option<i64>,
    pub outcome: String,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    pub request_id: Option<String>,
}

/// Newest first. `conn` is inside the clinic's transaction.
pub async fn query(
    conn: &mut PgConnection,
    f: &AuditFilter,
    limit: i64,
) -> sqlx::Result<Vec<AuditRow>> {
    sqlx::query_as!(
        AuditRow,
        "SELECT a.id AS seq, a.at, a.actor_type, a.actor_id,
                CASE WHEN a.actor_type = 'user' THEN u.email END AS actor_email,
                host(a.ip) AS ip, a.action, a.resource_type, a.resource_id, a.patient_id,
                a.outcome, a.details, a.request_id
           FROM audit_log a
           LEFT JOIN users u ON a.actor_type = 'user' AND u.id = a.actor_id
          WHERE ($1::bigint IS NULL OR (a.actor_type = 'user' AND a.actor_id = $1))
            AND ($2::bigint IS NULL OR a.patient_id = $2)
            AND ($3::text IS NULL OR a.action = $3 OR a.action LIKE $3 || '.%')
            AND ($4::timestamptz IS NULL OR a.at >= $4)
            AND ($5::timestamptz IS NULL OR a.at < $5)
            AND ($6::bigint IS NULL OR a.id < $6)
          ORDER BY a.id DESC
          LIMIT $7",
        f.user,
        f.patient,
        f.action.as_deref().filter(|s| !s.is_empty()),
        f.from,
        f.to,
        f.before,
        limit
    )
    .fetch_all(conn)
    .await
}

/// Removes rows older than the clinic's retention period from the start of the chain (never
/// rows younger than a year: the auditor's function refuses), keeping the last removed link
/// as the anchor the remaining chain verifies from. Seals first, so that the old rows are in
/// the chain. Returns rows removed.
pub async fn prune(
    pool: &PgPool,
    secrets: &Secrets,
    tenant: &Tenant,
    retention_years: u32,
    now: DateTime<Utc>,
) -> sqlx::Result<u64> {
    let years = retention_years.max(1);
    let cutoff = now - chrono::Duration::days(365 * i64::from(years));
    seal_clinic(pool, secrets, &tenant.db).await?;
    let mut tx = TenantDb::begin(pool, &tenant.db).await?;
    let removed: i64 = sqlx::query_scalar!(r#"SELECT audit_prune($1) AS "v!""#, cutoff)
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(u64::try_from(removed).unwrap_or(0))
}
