//! Connection pool, clinic transactions and migrations.
//!
//! The application's login role is NOINHERIT: it can read a clinic's tables only inside a
//! transaction opened by [`TenantDb::begin`], which switches to that clinic's role.

pub mod locks;
pub mod migrate;
pub mod pgenv;
pub mod privileged;

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres, Transaction};

use crate::config::DatabaseConfig;
use crate::domain::tenants::{Ident, TenantIdent};

/// The pool plus the login role every clinic role is named after.
#[derive(Clone, Debug)]
pub struct Db {
    pub pool: PgPool,
    pub login_role: Ident,
    /// `server_version_num`, e.g. 150018; role grants differ from PostgreSQL 16 on.
    pub server_version: i32,
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot connect to PostgreSQL: {0}{hint}", hint = connect_hint(.0))]
    Connect(#[source] sqlx::Error),
    #[error(transparent)]
    Name(#[from] crate::domain::tenants::NameError),
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
}

/// How long a session of ours may sit inside a transaction doing nothing before PostgreSQL
/// ends it. Nothing in ClinicBox waits that long inside a transaction (the backup snapshot
/// lifts it for its own transaction); it is the second line behind [`begin_with`], so that a
/// connection left in a transaction by a bug cannot hold locks or a clinic's role for long.
pub const IDLE_IN_TRANSACTION_TIMEOUT: &str = "60s";

/// What to do about a refused connection, where the cause is a common one.
fn connect_hint(e: &sqlx::Error) -> &'static str {
    let text = e.to_string();
    if text.contains("Peer authentication failed") {
        if nix::unistd::geteuid().is_root() {
            return " (this command runs as root, but the database accepts the clinicbox system user: run `sudo -u clinicbox clinicbox …`)";
        }
        return " (the database accepts connections over the local socket only from the system user named in database.url: run the command as that user, e.g. `sudo -u clinicbox clinicbox …`)";
    }
    ""
}

/// Options shared by `serve`, the CLI, the demo and tests.
pub fn pool_options(max_connections: u32) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .min_connections(0)
        .acquire_timeout(Duration::from_secs(5))
        .idle_timeout(Duration::from_secs(300))
        // Recycled so that no backend accumulates the catalog cache of every clinic schema.
        .max_lifetime(Duration::from_secs(1800))
        .after_release(|conn, _meta| Box::pin(async move { outside_transaction(conn).await }))
}

/// Checked whenever a connection goes back to the pool (in the background, not on the request's
/// path): one that is still inside a transaction — however it got there — is closed instead of
/// being handed to the next request, which would otherwise run in a stranger's transaction and
/// perhaps as another clinic's role. In a transaction `now()` is the transaction's start and
/// differs from the statement's start; outside one, a simple-protocol query is its own
/// transaction and both are the same instant (the extended protocol would stamp Parse and
/// Execute apart). An aborted transaction fails the query, which also closes the connection.
async fn outside_transaction(conn: &mut sqlx::PgConnection) -> Result<bool, sqlx::Error> {
    use sqlx::{Executor, Row};
    // A plain `&str` without arguments goes as a simple query.
    let row = conn
        .fetch_one("SELECT now() = statement_timestamp()")
        .await?;
    let clean: bool = row.try_get(0)?;
    if !clean {
        tracing::error!("a connection came back to the pool inside a transaction; closed it");
    }
    Ok(clean)
}

/// Connection options: our application name, and the idle-in-transaction limit.
pub fn connect_options(url: &crate::config::DatabaseUrl) -> Result<PgConnectOptions, sqlx::Error> {
    Ok(url
        .normalized()
        .parse::<PgConnectOptions>()?
        .application_name("clinicbox")
        .options([(
            "idle_in_transaction_session_timeout",
            IDLE_IN_TRANSACTION_TIMEOUT,
        )]))
}

/// Opens a control-plane transaction; see [`begin_with`].
pub async fn begin(pool: &PgPool) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
    begin_with(pool, "BEGIN").await
}

/// Opens a transaction with `statement` (`BEGIN …`), cancel-safely.
///
/// sqlx's own `begin` is not cancel-safe on PostgreSQL (transact-rs/sqlx#4393, fixed upstream by
/// PR #4394 but in no release of 0.8 or 0.9 yet): a future dropped while `BEGIN` is on the wire
/// — a client that disconnects, a timeout — returns the connection to the pool inside a
/// transaction that nobody ends. Here the `BEGIN` round trip runs in a task of its own, which
/// finishes whatever happens to the caller; if the caller is gone, the finished transaction is
/// dropped there and rolled back as any unfinished transaction is. `clippy.toml` forbids
/// sqlx's `begin` elsewhere.
pub async fn begin_with(
    pool: &PgPool,
    statement: impl Into<std::borrow::Cow<'static, str>>,
) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
    let pool = pool.clone();
    let statement = statement.into();
    #[expect(
        clippy::disallowed_methods,
        reason = "the one cancel-safe wrapper around sqlx's begin"
    )]
    let task = tokio::spawn(async move { pool.begin_with(statement).await });
    task.await.map_err(|e| {
        sqlx::Error::Io(std::io::Error::other(format!(
            "the task opening a transaction ended: {e}"
        )))
    })?
}

pub async fn connect(cfg: &DatabaseConfig) -> Result<Db, DbError> {
    let opts = connect_options(&cfg.url).map_err(DbError::Connect)?;
    let pool = pool_options(cfg.max_connections)
        .connect_with(opts)
        .await
        .map_err(DbError::Connect)?;
    Db::from_pool(pool).await
}

impl Db {
    pub async fn from_pool(pool: PgPool) -> Result<Self, DbError> {
        let (role, version): (String, String) = sqlx::query!(
            r#"SELECT current_user::text AS "role!",
                      current_setting('server_version_num') AS "version!""#
        )
        .map(|r| (r.role, r.version))
        .fetch_one(&pool)
        .await
        .map_err(DbError::Connect)?;
        let login_role = Ident::parse_login_role(&role)?;
        let server_version = version.parse().unwrap_or(0);
        Ok(Self {
            pool,
            login_role,
            server_version,
        })
    }
}

/// Clinic transactions. There is deliberately no other way to reach a clinic's tables.
pub struct TenantDb;

impl TenantDb {
    /// Opens a transaction as the clinic's role with its schema first on the search path. `BEGIN`
    /// and both settings travel in one round trip; both are transaction-local, so the pooled
    /// connection goes back clean on commit or rollback.
    pub async fn begin(
        pool: &PgPool,
        t: &TenantIdent,
    ) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
        begin_with(pool, Self::begin_sql(t)).await
    }

    /// The role and schema are validated identifiers (`[a-z0-9_]`), so they can appear as literals.
    /// The clinic's audit log comes second on the search path.
    fn begin_sql(t: &TenantIdent) -> String {
        format!(
            "BEGIN; SELECT set_config('role', '{}', true), set_config('search_path', '{}, {}, extensions', true)",
            t.role.as_str(),
            t.schema.quoted(),
            t.audit_schema().quoted()
        )
    }
}

/// A savepoint inside a transaction that is already open (`conn` is a clinic or control
/// transaction). Cancelling it is safe: sqlx then rolls back the enclosing transaction.
pub async fn savepoint(
    conn: &mut sqlx::PgConnection,
) -> Result<Transaction<'_, Postgres>, sqlx::Error> {
    #[expect(
        clippy::disallowed_methods,
        reason = "a savepoint: the enclosing transaction is rolled back if this is cancelled"
    )]
    let sp = sqlx::Connection::begin(conn).await;
    sp
}

/// The login role must not be able to read clinic data by itself: not a superuser (that bypasses
/// every privilege), NOINHERIT (clinic roles' rights only after switching), and not CREATEROLE
/// (with it, on PostgreSQL 15, it could grant itself the audit logs' owner); the superuser part
/// of the setup must be in place. See docs/database.md.
pub async fn check_login_role(db: &Db) -> Result<(), String> {
    let (superuser, inherit, createrole): (bool, bool, bool) = sqlx::query!(
        r#"SELECT rolsuper AS "superuser!", rolinherit AS "inherit!", rolcreaterole AS "createrole!"
             FROM pg_roles WHERE rolname = current_user"#
    )
    .map(|r| (r.superuser, r.inherit, r.createrole))
    .fetch_one(&db.pool)
    .await
    .map_err(|e| format!("cannot read the database role: {e}"))?;
    let role = db.login_role.as_str();
    if superuser {
        return Err(format!(
            "database role {role} is a superuser, which bypasses clinic isolation; connect as a NOINHERIT role without CREATEROLE (see docs/database.md)"
        ));
    }
    if inherit {
        return Err(format!(
            "database role {role} has INHERIT; run `ALTER ROLE {role} NOINHERIT;` so it reaches clinic data only through clinic transactions (see docs/database.md)"
        ));
    }
    if createrole {
        return Err(format!(
            "database role {role} has CREATEROLE, with which it could take over the audit logs' owner; {}",
            privileged::instructions(&db.login_role)
        ));
    }
    privileged::check(&db.pool, &db.login_role).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::tenants::Slug;

    #[test]
    fn a_refused_peer_authentication_says_whom_to_run_as() {
        let e = sqlx::Error::Protocol(
            "FATAL: Peer authentication failed for user \"clinicbox\"".into(),
        );
        let text = DbError::Connect(e).to_string();
        assert!(text.contains("sudo -u clinicbox clinicbox"), "{text}");
        let other = DbError::Connect(sqlx::Error::PoolTimedOut).to_string();
        assert!(!other.contains("sudo"), "{other}");
    }

    #[test]
    fn begin_sql_uses_only_validated_names() {
        let slug = Slug::parse("city-clinic").unwrap();
        let login = Ident::parse_login_role("clinicbox").unwrap();
        let t = TenantIdent {
            schema: slug.schema_name(),
            role: slug.role_name(&login),
        };
        assert_eq!(
            TenantDb::begin_sql(&t),
            "BEGIN; SELECT set_config('role', 'clinicbox_t_city_clinic', true), set_config('search_path', '\"tenant_city_clinic\", \"tenant_city_clinic_audit\", extensions', true)"
        );
    }
}

#[cfg(test)]
mod checked_sql {
    /// Files that may build SQL at run time, and why. Everything else uses the compile-time
    /// checked macros (`sqlx::query!` and friends, offline data in `.sqlx/`,
    /// `scripts/sqlx-prepare.sh`).
    const RUNTIME_SQL: &[(&str, &str)] = &[
        (
            "src/db/migrate.rs",
            "runs the migration files and its own bookkeeping, before the schema exists",
        ),
        (
            "src/ops/pgcluster.rs",
            "creates roles and databases (DDL with identifiers)",
        ),
        (
            "src/ops/backup/snapshot.rs",
            "COPYs every table of a schema named at run time",
        ),
        (
            "src/ops/backup/restore.rs",
            "recreates schemas and roles named in the archive",
        ),
        (
            "src/domain/audit/chain.rs",
            "each audit log lives in a schema of its own, chosen at run time",
        ),
        (
            "src/domain/audit/transfer.rs",
            "each audit log lives in a schema of its own, chosen at run time",
        ),
        (
            "src/domain/patients/search.rs",
            "the corrected-name query has one condition per corrected word",
        ),
    ];

    fn rs_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = e.path();
            if path.is_dir() {
                rs_files(&path, out);
            } else if path.extension().is_some_and(|x| x == "rs") {
                out.push(path);
            }
        }
    }

    /// A query added as a runtime string (unchecked until it runs) fails here; so does an
    /// entry of the list above that no longer needs to be there.
    #[test]
    fn sql_is_checked_at_compile_time_outside_the_listed_files() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = Vec::new();
        rs_files(&root.join("src"), &mut files);
        // Split, so that this file does not name them itself.
        let needles: Vec<String> = [
            "query(",
            "query_as(",
            "query_scalar(",
            "query_as::<",
            "query_scalar::<",
        ]
        .iter()
        .map(|n| format!("sqlx::{n}"))
        .collect();
        let mut offenders = Vec::new();
        let mut used = std::collections::BTreeSet::new();
        for path in files {
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            if !needles.iter().any(|n| text.contains(n.as_str())) {
                continue;
            }
            if RUNTIME_SQL.iter().any(|(f, _)| *f == rel) {
                used.insert(rel);
            } else {
                offenders.push(rel);
            }
        }
        assert!(
            offenders.is_empty(),
            "runtime SQL outside the listed files (use sqlx::query! and run scripts/sqlx-prepare.sh): {offenders:?}"
        );
        let stale: Vec<_> = RUNTIME_SQL
            .iter()
            .filter(|(f, _)| !used.contains(*f))
            .map(|(f, _)| *f)
            .collect();
        assert!(
            stale.is_empty(),
            "listed but without runtime SQL: {stale:?}"
        );
    }
}
