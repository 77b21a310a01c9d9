//! Two migration streams: `migrations/control/` for the `clinicbox` schema and
//! `migrations/tenant/` for every clinic schema.
//!
//! Each clinic is migrated in its own transaction (all of its pending files or none), clinics run
//! with bounded parallelism, a failed clinic is reported by name and keeps its old version, and
//! `clinicbox.tenants.schema_version` mirrors each clinic's version so that one query tells
//! whether anything is to be done.

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use futures::StreamExt;
use rust_embed::RustEmbed;
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool};

use crate::db::{Db, TenantDb};
use crate::domain::tenants::{Ident, Slug, TenantIdent};

#[derive(RustEmbed)]
#[folder = "migrations/"]
#[include = "*.sql"]
struct MigrationFiles;

/// Advisory lock key held while the control schema is migrated ("cbx-migr").
const CONTROL_LOCK: i64 = 0x6362_782d_6d69_6772;

#[derive(Clone, Debug)]
pub struct Migration {
    pub version: i64,
    pub name: String,
    pub sql: String,
    pub checksum: Vec<u8>,
}

impl Migration {
    pub fn new(version: i64, name: &str, sql: &str) -> Self {
        Self {
            version,
            name: name.to_owned(),
            sql: sql.to_owned(),
            checksum: Sha256::digest(sql.as_bytes()).to_vec(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Migrations {
    pub control: Vec<Migration>,
    pub tenant: Vec<Migration>,
}

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error(
        "the database {stream} schema is at version {db}, newer than this clinicbox binary knows ({binary}); install the newer clinicbox release (or restore the pre-upgrade backup)"
    )]
    DatabaseNewer {
        stream: &'static str,
        db: i64,
        binary: i64,
    },
    #[error(
        "migration {version} ({name}) was changed after it was applied to {schema}; restore the original file"
    )]
    Checksum {
        schema: String,
        version: i64,
        name: String,
    },
    #[error("control schema migration {version} ({name}) failed: {source}")]
    Control {
        version: i64,
        name: String,
        source: sqlx::Error,
    },
    #[error("migration {version} ({name}) failed: {source}")]
    Tenant {
        version: i64,
        name: String,
        source: sqlx::Error,
    },
    #[error("loading the built-in diagnosis codes failed: {0}")]
    Codes(String),
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
}

impl Migrations {
    /// The files compiled into this binary.
    pub fn embedded() -> &'static Migrations {
        static M: OnceLock<Migrations> = OnceLock::new();
        M.get_or_init(|| {
            let mut control = Vec::new();
            let mut tenant = Vec::new();
            for path in MigrationFiles::iter() {
                let Some(file) = MigrationFiles::get(&path) else {
                    continue;
                };
                let sql = String::from_utf8_lossy(&file.data);
                let (stream, fname) = path.split_once('/').unwrap_or(("", &path));
                let digits: String = fname.chars().take_while(char::is_ascii_digit).collect();
                let Ok(version) = digits.parse::<i64>() else {
                    continue;
                };
                let name = fname
                    .trim_start_matches(|c: char| c.is_ascii_digit() || c == '_')
                    .trim_end_matches(".sql");
                let m = Migration::new(version, name, &sql);
                match stream {
                    "control" => control.push(m),
                    "tenant" => tenant.push(m),
                    _ => {}
                }
            }
            control.sort_by_key(|m| m.version);
            tenant.sort_by_key(|m| m.version);
            Migrations { control, tenant }
        })
    }

    pub fn latest_control(&self) -> i64 {
        self.control.last().map_or(0, |m| m.version)
    }

    pub fn latest_tenant(&self) -> i64 {
        self.tenant.last().map_or(0, |m| m.version)
    }
}

/// What `migrate` did.
#[derive(Debug, Default)]
pub struct Report {
    pub control_applied: Vec<i64>,
    pub tenants_upgraded: Vec<(String, i64, i64)>,
    pub tenants_failed: Vec<(String, String)>,
    pub tenants_total: i64,
    /// Diagnosis codes of the built-in set loaded (0: they were there already).
    pub codes_loaded: usize,
    pub elapsed: Duration,
}

/// Progress callbacks, so the CLI can draw a bar on a terminal and plain lines elsewhere.
pub trait Progress: Sync {
    fn start(&self, _pending: usize) {}
    fn tenant_done(&self, _slug: &str, _result: &Result<(i64, i64), String>) {}
}

pub struct NoProgress;
impl Progress for NoProgress {}

/// Brings the control schema and every clinic schema up to date.
pub async fn run(
    db: &Db,
    migs: &Migrations,
    parallelism: usize,
    progress: &dyn Progress,
) -> Result<Report, MigrateError> {
    let started = Instant::now();
    let control_applied = migrate_control(&db.pool, migs).await?;
    let codes_loaded =
        crate::domain::codes::ensure_builtin(&db.pool, crate::ops::clock::SystemClock.now())
            .await
            .map_err(|e| MigrateError::Codes(e.to_string()))?;
    let mut report = migrate_tenants(db, migs, parallelism, progress).await?;
    report.control_applied = control_applied;
    report.codes_loaded = codes_loaded;
    report.elapsed = started.elapsed();
    Ok(report)
}

async fn ensure_control_bookkeeping(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::raw_sql(
        "CREATE SCHEMA IF NOT EXISTS clinicbox;
         CREATE TABLE IF NOT EXISTS clinicbox.schema_migrations (
             version bigint PRIMARY KEY,
             name text NOT NULL,
             checksum bytea NOT NULL,
             applied_at timestamptz NOT NULL DEFAULT now()
         );",
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Applies pending control migrations, each in its own transaction, under an advisory lock so
/// two `migrate` runs never interleave.
pub async fn migrate_control(pool: &PgPool, migs: &Migrations) -> Result<Vec<i64>, MigrateError> {
    let mut conn = pool.acquire().await?;
    // It holds a session lock and, between statements, a transaction: if this future is
    // dropped half-way, the connection must be closed, not pooled.
    conn.close_on_drop();
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(CONTROL_LOCK)
        .execute(&mut *conn)
        .await?;
    let result = migrate_control_locked(&mut conn, migs).await;
    let unlock = sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(CONTROL_LOCK)
        .execute(&mut *conn)
        .await;
    let applied = result?;
    unlock?;
    Ok(applied)
}

async fn migrate_control_locked(
    conn: &mut PgConnection,
    migs: &Migrations,
) -> Result<Vec<i64>, MigrateError> {
    ensure_control_bookkeeping(conn).await?;
    let applied: Vec<(i64, Vec<u8>)> = sqlx::query_as(
        "SELECT version, checksum FROM clinicbox.schema_migrations ORDER BY version",
    )
    .fetch_all(&mut *conn)
    .await?;
    check_applied("clinicbox", "control", &applied, &migs.control)?;
    let done: BTreeMap<i64, ()> = applied.iter().map(|(v, _)| (*v, ())).collect();
    let mut out = Vec::new();
    for m in migs
        .control
        .iter()
        .filter(|m| !done.contains_key(&m.version))
    {
        let apply = async {
            #[expect(
                clippy::disallowed_methods,
                reason = "the connection is closed, not pooled, if this is cancelled"
            )]
            let mut tx = sqlx::Connection::begin(&mut *conn).await?;
            sqlx::raw_sql(&m.sql).execute(&mut *tx).await?;
            sqlx::query(
                "INSERT INTO clinicbox.schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
            )
            .bind(m.version)
            .bind(&m.name)
            .bind(&m.checksum)
            .execute(&mut *tx)
            .await?;
            tx.commit().await
        };
        apply.await.map_err(|source| MigrateError::Control {
            version: m.version,
            name: m.name.clone(),
            source,
        })?;
        tracing::info!(version = m.version, name = %m.name, "control schema migrated");
        out.push(m.version);
    }
    Ok(out)
}

fn check_applied(
    schema: &str,
    stream: &'static str,
    applied: &[(i64, Vec<u8>)],
    known: &[Migration],
) -> Result<(), MigrateError> {
    let latest = known.last().map_or(0, |m| m.version);
    if let Some((v, _)) = applied.iter().find(|(v, _)| *v > latest) {
        return Err(MigrateError::DatabaseNewer {
            stream,
            db: *v,
            binary: latest,
        });
    }
    for (v, sum) in applied {
        if let Some(m) = known.iter().find(|m| m.version == *v)
            && &m.checksum != sum
        {
            return Err(MigrateError::Checksum {
                schema: schema.to_owned(),
                version: *v,
                name: m.name.clone(),
            });
        }
    }
    Ok(())
}

/// Where the database stands relative to this binary; used by `serve` (which never migrates)
/// and by `/readyz`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaStatus {
    pub control_version: i64,
    pub control_latest: i64,
    pub tenants_behind: i64,
    pub tenants_ahead: i64,
}

impl SchemaStatus {
    pub fn is_current(&self) -> bool {
        self.control_version == self.control_latest
            && self.tenants_behind == 0
            && self.tenants_ahead == 0
    }

    /// Why the schema is not current, in one sentence for an operator.
    pub fn problem(&self) -> Option<String> {
        if self.control_version > self.control_latest || self.tenants_ahead > 0 {
            Some(format!(
                "the database was migrated by a newer clinicbox (control schema {}, this binary knows {}; {} clinic(s) ahead); install the newer release",
                self.control_version, self.control_latest, self.tenants_ahead
            ))
        } else if self.control_version < self.control_latest || self.tenants_behind > 0 {
            Some(format!(
                "migrations pending (control schema {}/{}, {} clinic(s) behind); run `clinicbox migrate`",
                self.control_version, self.control_latest, self.tenants_behind
            ))
        } else {
            None
        }
    }
}

pub async fn status(pool: &PgPool, migs: &Migrations) -> Result<SchemaStatus, sqlx::Error> {
    let exists: bool = sqlx::query_scalar("SELECT to_regclass('clinicbox.tenants') IS NOT NULL")
        .fetch_one(pool)
        .await?;
    if !exists {
        return Ok(SchemaStatus {
            control_version: 0,
            control_latest: migs.latest_control(),
            tenants_behind: 0,
            tenants_ahead: 0,
        });
    }
    let (control_version, behind, ahead): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT coalesce(max(version), 0) FROM clinicbox.schema_migrations),
                count(*) FILTER (WHERE schema_version < $1),
                count(*) FILTER (WHERE schema_version > $1)
           FROM clinicbox.tenants",
    )
    .bind(migs.latest_tenant())
    .fetch_one(pool)
    .await?;
    Ok(SchemaStatus {
        control_version,
        control_latest: migs.latest_control(),
        tenants_behind: behind,
        tenants_ahead: ahead,
    })
}

/// `(from, to)` versions, or why the clinic could not be migrated.
type TenantOutcome = Result<(i64, i64), String>;

#[derive(sqlx::FromRow)]
struct PendingTenant {
    id: i64,
    slug: String,
    db_schema: String,
    db_role: String,
    schema_version: i64,
}

/// Migrates every clinic that is behind. One query finds them, so a run with nothing to do is
/// a single round trip.
pub async fn migrate_tenants(
    db: &Db,
    migs: &Migrations,
    parallelism: usize,
    progress: &dyn Progress,
) -> Result<Report, MigrateError> {
    let latest = migs.latest_tenant();
    let (total, ahead): (i64, Option<i64>) = sqlx::query_as(
        "SELECT count(*), max(schema_version) FILTER (WHERE schema_version > $1) FROM clinicbox.tenants",
    )
    .bind(latest)
    .fetch_one(&db.pool)
    .await?;
    if let Some(v) = ahead {
        return Err(MigrateError::DatabaseNewer {
            stream: "clinic",
            db: v,
            binary: latest,
        });
    }
    let pending: Vec<PendingTenant> = sqlx::query_as(
        "SELECT id, slug, db_schema, db_role, schema_version FROM clinicbox.tenants
          WHERE schema_version < $1 ORDER BY slug",
    )
    .bind(latest)
    .fetch_all(&db.pool)
    .await?;
    let mut report = Report {
        tenants_total: total,
        ..Report::default()
    };
    if pending.is_empty() {
        return Ok(report);
    }
    progress.start(pending.len());
    let results: Vec<(String, TenantOutcome)> = futures::stream::iter(pending)
        .map(|t| async move {
            let idents = (
                Slug::parse(&t.slug),
                Ident::parse(&t.db_schema),
                Ident::parse(&t.db_role),
            );
            let result = match idents {
                (Ok(_), Ok(schema), Ok(role)) => {
                    migrate_one(&db.pool, migs, t.id, &TenantIdent { schema, role })
                        .await
                        .map(|to| (t.schema_version, to))
                        .map_err(|e| e.to_string())
                }
                _ => Err("the clinic's stored schema or role name is invalid".to_owned()),
            };
            progress.tenant_done(&t.slug, &result);
            (t.slug, result)
        })
        .buffer_unordered(parallelism.max(1))
        .collect()
        .await;
    for (slug, r) in results {
        match r {
            Ok((from, to)) => report.tenants_upgraded.push((slug, from, to)),
            Err(e) => {
                tracing::error!(tenant = %slug, error = %e, "clinic migration failed; it stays at its previous version");
                report.tenants_failed.push((slug, e));
            }
        }
    }
    report.tenants_upgraded.sort();
    report.tenants_failed.sort();
    Ok(report)
}

async fn migrate_one(
    pool: &PgPool,
    migs: &Migrations,
    tenant_id: i64,
    ident: &TenantIdent,
) -> Result<i64, MigrateError> {
    let mut tx = TenantDb::begin(pool, ident).await?;
    let version = apply_tenant_migrations(&mut tx, ident, migs).await?;
    sqlx::raw_sql("SET LOCAL ROLE NONE")
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE clinicbox.tenants SET schema_version = $1 WHERE id = $2")
        .bind(version)
        .bind(tenant_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(version)
}

/// Applies every pending clinic migration inside the caller's clinic transaction (role and
/// search_path already switched). Returns the clinic's new version. Used by `migrate` and by
/// clinic creation, so a new clinic starts at the latest version.
pub async fn apply_tenant_migrations(
    conn: &mut PgConnection,
    ident: &TenantIdent,
    migs: &Migrations,
) -> Result<i64, MigrateError> {
    // Serialises two migrators on the same clinic; released at commit/rollback.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('clinicbox.tenant.' || $1))")
        .bind(ident.schema.as_str())
        .execute(&mut *conn)
        .await?;
    // `Executor::execute(conn, raw_sql(…))` rather than `raw_sql(…).execute(conn)`: the latter's
    // future is not provably `Send` (sqlx issue #3150), and the console runs this on the server.
    sqlx::Executor::execute(
        &mut *conn,
        sqlx::raw_sql(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version bigint PRIMARY KEY,
                 name text NOT NULL,
                 checksum bytea NOT NULL,
                 applied_at timestamptz NOT NULL DEFAULT now()
             )",
        ),
    )
    .await?;
    let applied: Vec<(i64, Vec<u8>)> =
        sqlx::query_as("SELECT version, checksum FROM schema_migrations ORDER BY version")
            .fetch_all(&mut *conn)
            .await?;
    check_applied(ident.schema.as_str(), "clinic", &applied, &migs.tenant)?;
    let from = applied.last().map_or(0, |(v, _)| *v);
    let mut version = from;
    for m in migs.tenant.iter().filter(|m| m.version > from) {
        sqlx::Executor::execute(&mut *conn, sqlx::raw_sql(&m.sql))
            .await
            .map_err(|source| MigrateError::Tenant {
                version: m.version,
                name: m.name.clone(),
                source,
            })?;
        sqlx::query("INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)")
            .bind(m.version)
            .bind(&m.name)
            .bind(&m.checksum)
            .execute(&mut *conn)
            .await?;
        version = m.version;
    }
    Ok(version)
}
