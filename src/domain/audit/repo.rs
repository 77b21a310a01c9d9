//! SQL for both audit logs. The hash chain itself is computed by the database triggers
//! (migrations tenant/0003 and control/0002); here we only append, read and re-check.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};

use super::{Context, Event};
use crate::db::TenantDb;
use crate::domain::tenants::{Ident, Tenant};

/// Appends to the clinic's audit log; `conn` must be inside the clinic's transaction.
pub async fn record(conn: &mut PgConnection, ctx: &Context, ev: Event) -> sqlx::Result<()> {
    let (actor_type, actor_id) = ev.actor.parts();
    sqlx::query(
        "INSERT INTO audit_log (at, actor_type, actor_id, ip, action, resource_type, resource_id,
                                patient_id, outcome, details, request_id, prev_hash, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, '', '')",
    )
    .bind(ctx.at)
    .bind(actor_type)
    .bind(actor_id)
    .bind(ctx.ip.map(sqlx::types::ipnetwork::IpNetwork::from))
    .bind(ev.action)
    .bind(ev.resource_type)
    .bind(ev.resource_id)
    .bind(ev.patient_id)
    .bind(ev.outcome.as_str())
    .bind(ev.details)
    .bind(ctx.request_id.as_deref())
    .execute(conn)
    .await?;
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
    sqlx::query(
        "INSERT INTO clinicbox.system_audit (at, actor_type, actor_id, ip, action, resource_type,
                                resource_id, tenant_id, outcome, details, request_id, prev_hash, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, '', '')",
    )
    .bind(ctx.at)
    .bind(actor_type)
    .bind(actor_id)
    .bind(ctx.ip.map(sqlx::types::ipnetwork::IpNetwork::from))
    .bind(ev.action)
    .bind(ev.resource_type)
    .bind(ev.resource_id)
    .bind(tenant_id)
    .bind(ev.outcome.as_str())
    .bind(ev.details)
    .bind(ctx.request_id.as_deref())
    .execute(conn)
    .await?;
    Ok(())
}

/// What `audit verify` found.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct VerifyReport {
    pub rows: i64,
    pub first_seq: Option<i64>,
    pub last_seq: Option<i64>,
    /// The first row that does not verify, and why.
    pub broken: Option<(i64, String)>,
}

impl VerifyReport {
    pub fn ok(&self) -> bool {
        self.broken.is_none()
    }
}

#[derive(sqlx::FromRow)]
struct ChainRow {
    seq: i64,
    prev_hash: Vec<u8>,
    hash: Vec<u8>,
    expected: Vec<u8>,
}

/// Walks the chain in order. Each row must hash to its stored hash, link to its predecessor,
/// and leave no gap; the first row links to zero (or to the retention anchor).
async fn verify_chain(
    conn: &mut PgConnection,
    sql: &str,
    anchor: Option<(i64, Vec<u8>)>,
) -> sqlx::Result<VerifyReport> {
    use futures::TryStreamExt;
    let mut rows = sqlx::query_as::<_, ChainRow>(sql).fetch(&mut *conn);
    let mut report = VerifyReport {
        rows: 0,
        first_seq: None,
        last_seq: None,
        broken: None,
    };
    let (mut expect_seq, mut expect_prev) = match anchor {
        Some((seq, hash)) => (seq + 1, hash),
        None => (1, vec![0u8; 32]),
    };
    while let Some(r) = rows.try_next().await? {
        report.rows += 1;
        report.first_seq.get_or_insert(r.seq);
        report.last_seq = Some(r.seq);
        if report.broken.is_some() {
            continue;
        }
        let why = if r.seq != expect_seq {
            Some(format!(
                "row {expect_seq} is missing (next row is {})",
                r.seq
            ))
        } else if r.prev_hash != expect_prev {
            Some("does not link to the previous row's hash".to_owned())
        } else if r.hash != r.expected {
            Some("content does not match its hash (the row was altered)".to_owned())
        } else {
            None
        };
        if let Some(why) = why {
            report.broken = Some((r.seq, why));
        }
        expect_seq = r.seq + 1;
        expect_prev = r.hash;
    }
    Ok(report)
}

pub async fn verify_tenant(pool: &PgPool, tenant: &Tenant) -> sqlx::Result<VerifyReport> {
    let mut tx = TenantDb::begin(pool, &tenant.db).await?;
    let anchor: Option<(i64, Vec<u8>)> =
        sqlx::query_as("SELECT seq, hash FROM audit_log_anchor ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&mut *tx)
            .await?;
    let report = verify_chain(
        &mut tx,
        "SELECT seq, prev_hash, hash, audit_row_hash(prev_hash, a) AS expected
           FROM audit_log a ORDER BY seq",
        anchor,
    )
    .await?;
    tx.commit().await?;
    Ok(report)
}

pub async fn verify_system(pool: &PgPool) -> sqlx::Result<VerifyReport> {
    let mut conn = pool.acquire().await?;
    verify_chain(
        &mut conn,
        "SELECT seq, prev_hash, hash, clinicbox.system_audit_hash(prev_hash, a) AS expected
           FROM clinicbox.system_audit a ORDER BY seq",
        None,
    )
    .await
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
    sqlx::query_as(
        "SELECT a.seq, a.at, a.actor_type, a.actor_id,
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
            AND ($6::bigint IS NULL OR a.seq < $6)
          ORDER BY a.seq DESC
          LIMIT $7",
    )
    .bind(f.user)
    .bind(f.patient)
    .bind(f.action.as_deref().filter(|s| !s.is_empty()))
    .bind(f.from)
    .bind(f.to)
    .bind(f.before)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Removes rows older than the clinic's retention period from the start of the chain, keeping
/// the last removed row's hash as the anchor the remaining chain starts from. Runs as the
/// `<login>_audit` role: the clinic role itself cannot delete audit rows. Returns rows removed.
pub async fn prune(
    pool: &PgPool,
    login_role: &Ident,
    tenant: &Tenant,
    retention_years: u32,
    now: DateTime<Utc>,
) -> sqlx::Result<u64> {
    let years = retention_years.max(1);
    let cutoff = now - chrono::Duration::days(365 * i64::from(years));
    let pruner = format!("{}_audit", login_role.as_str());
    let mut tx = crate::db::begin(pool).await?;
    sqlx::query(
        "SELECT set_config('role', $1, true), set_config('search_path', $2, true),
                set_config('clinicbox.audit_prune', 'on', true)",
    )
    .bind(&pruner)
    .bind(tenant.db.schema.quoted())
    .execute(&mut *tx)
    .await?;
    // Only a prefix of the chain: everything up to the last row older than the cutoff.
    let last: Option<(i64, Vec<u8>)> = sqlx::query_as(
        "SELECT seq, hash FROM audit_log
          WHERE seq <= (SELECT max(seq) FROM audit_log WHERE at < $1)
          ORDER BY seq DESC LIMIT 1",
    )
    .bind(cutoff)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((seq, hash)) = last else {
        tx.rollback().await?;
        return Ok(0);
    };
    let removed = sqlx::query("DELETE FROM audit_log WHERE seq <= $1")
        .bind(seq)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    sqlx::query("INSERT INTO audit_log_anchor (seq, hash, pruned_at) VALUES ($1, $2, $3)")
        .bind(seq)
        .bind(hash)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(removed)
}
