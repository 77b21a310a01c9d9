//! Connection pool, clinic transactions and migrations.
//!
//! The application's login role is NOINHERIT: it can read a clinic's tables only inside a
//! transaction opened by [`TenantDb::begin`], which switches to that clinic's role.

pub mod locks;
pub mod migrate;
pub mod pgenv;

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
    #[error("cannot connect to PostgreSQL: {0}")]
    Connect(#[source] sqlx::Error),
    #[error(transparent)]
    Name(#[from] crate::domain::tenants::NameError),
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
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
}

pub async fn connect(cfg: &DatabaseConfig) -> Result<Db, DbError> {
    let opts: PgConnectOptions = cfg
        .url
        .normalized()
        .parse::<PgConnectOptions>()
        .map_err(DbError::Connect)?
        .application_name("clinicbox");
    let pool = pool_options(cfg.max_connections)
        .connect_with(opts)
        .await
        .map_err(DbError::Connect)?;
    Db::from_pool(pool).await
}

impl Db {
    pub async fn from_pool(pool: PgPool) -> Result<Self, DbError> {
        let (role, version): (String, String) =
            sqlx::query_as("SELECT current_user::text, current_setting('server_version_num')")
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
        pool.begin_with(Self::begin_sql(t)).await
    }

    /// The role and schema are validated identifiers (`[a-z0-9_]`), so they can appear as literals.
    fn begin_sql(t: &TenantIdent) -> String {
        format!(
            "BEGIN; SELECT set_config('role', '{}', true), set_config('search_path', '{}, extensions', true)",
            t.role.as_str(),
            t.schema.quoted()
        )
    }
}

/// The login role must not be able to read clinic data by itself: not a superuser (that bypasses
/// every privilege), NOINHERIT (clinic roles' rights only after switching), and CREATEROLE to
/// provision clinics. See docs/database.md.
pub async fn check_login_role(db: &Db) -> Result<(), String> {
    let (superuser, inherit, createrole): (bool, bool, bool) = sqlx::query_as(
        "SELECT rolsuper, rolinherit, rolcreaterole FROM pg_roles WHERE rolname = current_user",
    )
    .fetch_one(&db.pool)
    .await
    .map_err(|e| format!("cannot read the database role: {e}"))?;
    let role = db.login_role.as_str();
    if superuser {
        return Err(format!(
            "database role {role} is a superuser, which bypasses clinic isolation; connect as a NOINHERIT CREATEROLE role (see docs/database.md)"
        ));
    }
    if inherit {
        return Err(format!(
            "database role {role} has INHERIT; run `ALTER ROLE {role} NOINHERIT;` so it reaches clinic data only through clinic transactions (see docs/database.md)"
        ));
    }
    if !createrole {
        return Err(format!(
            "database role {role} lacks CREATEROLE, needed to create a role per clinic; run `ALTER ROLE {role} CREATEROLE;`"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::tenants::Slug;

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
            "BEGIN; SELECT set_config('role', 'clinicbox_t_city_clinic', true), set_config('search_path', '\"tenant_city_clinic\", extensions', true)"
        );
    }
}
