//! Clinic lifecycle rules.

use std::path::{Path, PathBuf};

use serde::Serialize;
use sqlx::PgConnection;

use super::model::{DisplayName, Hostname, Ident, Slug, Tenant, TenantIdent, TenantStatus};
use super::repo;
use crate::db::Db;
use crate::db::migrate::{MigrateError, Migrations, apply_tenant_migrations};

/// What the server's hostnames are, so clinic hosts never collide with them.
#[derive(Clone, Debug)]
pub struct HostRules {
    pub base_domain: Hostname,
    pub console_host: Hostname,
}

#[derive(Debug)]
pub struct NewTenant {
    pub slug: Slug,
    pub name: DisplayName,
    pub hosts: Vec<Hostname>,
}

#[derive(Debug, thiserror::Error)]
pub enum TenantError {
    #[error("a clinic with slug '{0}' already exists")]
    SlugTaken(String),
    #[error("hostname {host} is already used by clinic '{owner}'")]
    HostTaken { host: String, owner: String },
    #[error("hostname {host} cannot be used: {why}")]
    HostReserved { host: String, why: String },
    #[error(
        "database role {0} already exists although no clinic uses it; drop it or pick another slug"
    )]
    RoleExists(String),
    #[error("no clinic with slug '{0}'")]
    NotFound(String),
    #[error("{0}")]
    Dump(String),
    #[error(transparent)]
    Migrate(#[from] MigrateError),
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
}

impl HostRules {
    fn check_slug(&self, slug: &Slug) -> Result<(), TenantError> {
        let sub = Hostname::subdomain(slug, &self.base_domain);
        if sub == self.console_host {
            return Err(TenantError::HostReserved {
                host: sub.to_string(),
                why: "it is the console host; pick another slug".into(),
            });
        }
        Ok(())
    }

    fn check_custom_host(&self, host: &Hostname) -> Result<(), TenantError> {
        let reserved = |why: String| TenantError::HostReserved {
            host: host.to_string(),
            why,
        };
        if host == &self.console_host {
            return Err(reserved("it is the console host".into()));
        }
        let name = host.as_str();
        if !name.contains('.') {
            return Err(reserved(
                "give the fully qualified name, such as portal.cityclinic.org".into(),
            ));
        }
        // Names that never reach this server from the internet (RFC 6761, 6762, 8375, 9476).
        let special = [
            "localhost",
            "local",
            "invalid",
            "arpa",
            "home.arpa",
            "alt",
            "internal",
        ];
        if let Some(tld) = special
            .iter()
            .find(|s| name == **s || name.ends_with(&format!(".{s}")))
        {
            return Err(reserved(format!(
                "names under .{tld} are reserved and cannot be reached from the internet"
            )));
        }
        let base = self.base_domain.as_str();
        if host.as_str() == base || host.as_str().ends_with(&format!(".{base}")) {
            return Err(reserved(format!(
                "names under {base} are given automatically as <slug>.{base}; add only the clinic's own domains"
            )));
        }
        Ok(())
    }
}

/// Creates the clinic's role and schema, migrates the schema and registers the clinic and its
/// hosts, all in one transaction: on any error nothing is left behind.
pub async fn create(
    db: &Db,
    migs: &Migrations,
    rules: &HostRules,
    new: NewTenant,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Tenant, TenantError> {
    rules.check_slug(&new.slug)?;
    let mut hosts = new.hosts.clone();
    hosts.sort();
    hosts.dedup();
    for h in &hosts {
        rules.check_custom_host(h)?;
    }
    if repo::by_slug(&db.pool, &new.slug).await?.is_some() {
        return Err(TenantError::SlugTaken(new.slug.to_string()));
    }
    for h in &hosts {
        if let Some(owner) = repo::host_owner(&db.pool, h.as_str()).await? {
            return Err(TenantError::HostTaken {
                host: h.to_string(),
                owner,
            });
        }
    }
    let ident = TenantIdent {
        schema: new.slug.schema_name(),
        role: new.slug.role_name(&db.login_role),
    };
    if repo::role_exists(&db.pool, &ident.role).await? {
        return Err(TenantError::RoleExists(ident.role.to_string()));
    }

    let mut tx = crate::db::begin(&db.pool).await?;
    create_role_and_schema(&mut tx, &ident).await?;
    let mut tenant = repo::insert(&mut tx, &new.slug, new.name.as_str(), &ident, now)
        .await
        .map_err(|e| map_unique(e, &new.slug, None))?;
    for h in &hosts {
        repo::insert_host(&mut tx, tenant.id, h.as_str())
            .await
            .map_err(|e| map_unique(e, &new.slug, Some(h)))?;
    }
    let version = migrate_as_clinic(&mut tx, &ident, migs).await?;
    repo::set_version(&mut tx, tenant.id, version).await?;
    tx.commit().await?;
    tenant.schema_version = version;
    tracing::info!(tenant = %tenant.slug, version, "clinic created");
    Ok(tenant)
}

/// Applies the clinic's pending migrations as the clinic's role with its search path, inside
/// the caller's transaction, and switches back. Returns the clinic's new version.
async fn migrate_as_clinic(
    tx: &mut PgConnection,
    ident: &TenantIdent,
    migs: &Migrations,
) -> Result<i64, TenantError> {
    sqlx::query!(
        r#"SELECT set_config('role', $1, true) AS "role",
                  set_config('search_path', $2 || ', extensions', true) AS "path""#,
        ident.role.as_str(),
        ident.schema.quoted()
    )
    .fetch_one(&mut *tx)
    .await?;
    let version = apply_tenant_migrations(&mut *tx, ident, migs).await?;
    // Not `raw_sql(…).execute(tx)`, whose future is not provably `Send` (sqlx issue #3150).
    sqlx::Executor::execute(
        &mut *tx,
        sqlx::raw_sql("SET LOCAL ROLE NONE; SET LOCAL search_path TO DEFAULT"),
    )
    .await?;
    Ok(version)
}

/// A clinic's role, made by the provisioner (`db::privileged`): the login role has no
/// CREATEROLE of its own. It may switch to the role but never inherits it.
pub async fn create_clinic_role(conn: &mut PgConnection, role: &Ident) -> sqlx::Result<()> {
    sqlx::query!(
        "SELECT clinicbox_priv.create_clinic_role($1)",
        role.as_str()
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn drop_clinic_role(conn: &mut PgConnection, role: &Ident) -> sqlx::Result<()> {
    sqlx::query!("SELECT clinicbox_priv.drop_clinic_role($1)", role.as_str())
        .execute(conn)
        .await?;
    Ok(())
}

/// The clinic's role and its schema. A new schema grants nothing to PUBLIC, so other clinic
/// roles cannot even look into it. Identifiers come only from validated [`Ident`]s.
async fn create_role_and_schema(conn: &mut PgConnection, ident: &TenantIdent) -> sqlx::Result<()> {
    create_clinic_role(conn, &ident.role).await?;
    let ddl = format!(
        "CREATE SCHEMA {} AUTHORIZATION {}",
        ident.schema.quoted(),
        ident.role.quoted()
    );
    sqlx::Executor::execute(conn, sqlx::raw_sql(&ddl)).await?;
    Ok(())
}

fn map_unique(e: sqlx::Error, slug: &Slug, host: Option<&Hostname>) -> TenantError {
    if let sqlx::Error::Database(d) = &e {
        match d.constraint() {
            Some("tenants_slug_key") => return TenantError::SlugTaken(slug.to_string()),
            Some("tenant_hostnames_pkey") => {
                return TenantError::HostTaken {
                    host: host.map(ToString::to_string).unwrap_or_default(),
                    owner: "another clinic".into(),
                };
            }
            _ => {}
        }
    }
    TenantError::Sql(e)
}

pub async fn find(db: &Db, slug: &Slug) -> Result<Tenant, TenantError> {
    repo::by_slug(&db.pool, slug)
        .await?
        .ok_or_else(|| TenantError::NotFound(slug.to_string()))
}

/// A clinic with every name it answers to.
#[derive(Debug, Serialize)]
pub struct TenantSummary {
    #[serde(flatten)]
    pub tenant: Tenant,
    pub hosts: Vec<String>,
}

pub async fn list(db: &Db, rules: &HostRules) -> Result<Vec<TenantSummary>, TenantError> {
    Ok(repo::all_with_hosts(&db.pool)
        .await?
        .into_iter()
        .map(|(tenant, custom)| {
            let mut hosts = vec![Hostname::subdomain(&tenant.slug, &rules.base_domain).to_string()];
            hosts.extend(custom);
            TenantSummary { tenant, hosts }
        })
        .collect())
}

/// Who a request's Host belongs to.
#[derive(Debug, Clone)]
pub enum Site {
    Console,
    Clinic(Tenant),
    Unknown,
}

pub async fn resolve_host(db: &Db, rules: &HostRules, host: &str) -> Result<Site, sqlx::Error> {
    let Ok(host) = Hostname::parse(host) else {
        return Ok(Site::Unknown);
    };
    if host == rules.console_host {
        return Ok(Site::Console);
    }
    let sub = host.slug_under(&rules.base_domain);
    Ok(
        match repo::by_host(&db.pool, host.as_str(), sub.as_ref().map(Slug::as_str)).await? {
            Some(t) => Site::Clinic(t),
            None => Site::Unknown,
        },
    )
}

pub async fn set_status(
    db: &Db,
    slug: &Slug,
    status: TenantStatus,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), TenantError> {
    if repo::set_status(&db.pool, slug, status, now).await? {
        tracing::info!(tenant = %slug, status = status.as_str(), "clinic status changed");
        Ok(())
    } else {
        Err(TenantError::NotFound(slug.to_string()))
    }
}

/// `set_status` inside the caller's transaction (the console's, with its audit event); the
/// clinic as it now is.
pub async fn set_status_in(
    conn: &mut PgConnection,
    slug: &Slug,
    status: TenantStatus,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Tenant, TenantError> {
    let Some(t) = repo::by_slug(&mut *conn, slug).await? else {
        return Err(TenantError::NotFound(slug.to_string()));
    };
    repo::set_status(&mut *conn, slug, status, now).await?;
    tracing::info!(tenant = %slug, status = status.as_str(), "clinic status changed");
    Ok(Tenant { status, ..t })
}

/// Adds one of the clinic's own domains, inside the caller's transaction (the console's, with
/// its audit event). The same rules as at creation: not the console host, not under the base
/// domain, not a reserved name, not another clinic's.
pub async fn add_host_in(
    conn: &mut PgConnection,
    rules: &HostRules,
    tenant: &Tenant,
    host: &Hostname,
) -> Result<(), TenantError> {
    rules.check_custom_host(host)?;
    if let Some(owner) = repo::host_owner(&mut *conn, host.as_str()).await? {
        return Err(TenantError::HostTaken {
            host: host.to_string(),
            owner,
        });
    }
    repo::insert_host(&mut *conn, tenant.id, host.as_str())
        .await
        .map_err(|e| map_unique(e, &tenant.slug, Some(host)))?;
    tracing::info!(tenant = %tenant.slug, "clinic hostname added");
    Ok(())
}

/// Removes one of the clinic's own domains (its `<slug>.<base>` name stays); whether it was
/// there.
pub async fn remove_host_in(
    conn: &mut PgConnection,
    tenant: &Tenant,
    host: &str,
) -> Result<bool, TenantError> {
    let gone = repo::delete_host(&mut *conn, tenant.id, host).await?;
    if gone {
        tracing::info!(tenant = %tenant.slug, "clinic hostname removed");
    }
    Ok(gone)
}

/// Dumps the clinic's schema to `<data_dir>/deleted/`, then drops schema, role and control rows.
/// Returns the dump's path. Nothing is dropped unless the dump was written.
pub async fn delete(
    db: &Db,
    db_url: &crate::config::DatabaseUrl,
    slug: &Slug,
    data_dir: &Path,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<PathBuf, TenantError> {
    let tenant = find(db, slug).await?;
    let dir = data_dir.join("deleted");
    std::fs::create_dir_all(&dir)
        .map_err(|e| TenantError::Dump(format!("cannot create {}: {e}", dir.display())))?;
    let file = dir.join(format!(
        "{}-{}.dump",
        tenant.slug,
        now.format("%Y%m%dT%H%M%SZ")
    ));
    crate::ops::pgtools::dump_schema(db_url, &tenant.db, &file)
        .await
        .map_err(|e| TenantError::Dump(format!("not deleted: the safety dump failed: {e}")))?;

    // Only the clinic's role owns its schema, so the schema is dropped as that role.
    let mut tx = crate::db::begin(&db.pool).await?;
    let ddl = format!(
        "SET LOCAL ROLE {role}; DROP SCHEMA {schema} CASCADE; SET LOCAL ROLE NONE;",
        role = tenant.db.role.quoted(),
        schema = tenant.db.schema.quoted()
    );
    // Not `raw_sql(…).execute(tx)`, whose future is not provably `Send` (sqlx issue #3150):
    // the console deletes clinics on the server.
    sqlx::Executor::execute(&mut *tx, sqlx::raw_sql(&ddl)).await?;
    repo::delete(&mut tx, tenant.id).await?;
    // The audit log goes with the clinic (it is in the dump), once the clinic is gone.
    let log = tenant.db.audit_schema();
    sqlx::query!("SELECT clinicbox_audit.drop_log($1)", log.as_str())
        .fetch_one(&mut *tx)
        .await?;
    drop_clinic_role(&mut tx, &tenant.db.role).await?;
    tx.commit().await?;
    tracing::info!(tenant = %slug, dump = %file.display(), "clinic deleted");
    Ok(file)
}

/// For restoring a clinic from a backup: makes sure the clinic's role exists and its schema is
/// empty and owned by it, and that the clinic is registered (with the hosts from the backup
/// that no other clinic uses here). The caller fills the schema from the dump. Returns the
/// clinic and the hosts that had to be left out.
pub async fn prepare_restore(
    db: &Db,
    rules: &HostRules,
    slug: &Slug,
    name: &DisplayName,
    hosts: &[Hostname],
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(Tenant, Vec<String>), TenantError> {
    let ident = TenantIdent {
        schema: slug.schema_name(),
        role: slug.role_name(&db.login_role),
    };
    let mut tx = crate::db::begin(&db.pool).await?;
    let existing = repo::by_slug(&mut *tx, slug).await?;
    if repo::role_exists(&mut *tx, &ident.role).await? {
        let schema_exists: bool = sqlx::query_scalar!(
            r#"SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1) AS "v!""#,
            ident.schema.as_str()
        )
        .fetch_one(&mut *tx)
        .await?;
        let mut ddl = format!("SET LOCAL ROLE {};", ident.role.quoted());
        if schema_exists {
            ddl.push_str(&format!("DROP SCHEMA {} CASCADE;", ident.schema.quoted()));
        }
        ddl.push_str("SET LOCAL ROLE NONE;");
        ddl.push_str(&format!(
            "CREATE SCHEMA {} AUTHORIZATION {};",
            ident.schema.quoted(),
            ident.role.quoted()
        ));
        sqlx::raw_sql(&ddl).execute(&mut *tx).await?;
    } else {
        create_role_and_schema(&mut tx, &ident).await?;
    }
    let mut skipped = Vec::new();
    let tenant = match existing {
        Some(t) => t,
        None => {
            let t = repo::insert(&mut tx, slug, name.as_str(), &ident, now).await?;
            for h in hosts {
                if rules.check_custom_host(h).is_err() {
                    continue;
                }
                match repo::host_owner(&mut *tx, h.as_str()).await? {
                    None => repo::insert_host(&mut tx, t.id, h.as_str()).await?,
                    Some(owner) => skipped.push(format!("{h} (used by {owner})")),
                }
            }
            t
        }
    };
    tx.commit().await?;
    Ok((tenant, skipped))
}

/// After a clinic schema was filled from a dump: reads the version the dump brought, brings the
/// schema to this binary's version, and records it.
pub async fn finish_restore(
    db: &Db,
    migs: &Migrations,
    tenant: &Tenant,
) -> Result<i64, TenantError> {
    let mut tx = crate::db::begin(&db.pool).await?;
    let version = migrate_as_clinic(&mut tx, &tenant.db, migs).await?;
    repo::set_version(&mut tx, tenant.id, version).await?;
    tx.commit().await?;
    Ok(version)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> HostRules {
        HostRules {
            base_domain: Hostname::parse("clinics.example.com").unwrap(),
            console_host: Hostname::parse("admin.clinics.example.com").unwrap(),
        }
    }

    #[test]
    fn console_subdomain_is_reserved() {
        assert!(rules().check_slug(&Slug::parse("admin").unwrap()).is_err());
        assert!(rules().check_slug(&Slug::parse("demo").unwrap()).is_ok());
    }

    #[test]
    fn custom_hosts_outside_base_only() {
        let r = rules();
        for bad in [
            "admin.clinics.example.com",
            "x.clinics.example.com",
            "clinics.example.com",
        ] {
            assert!(
                r.check_custom_host(&Hostname::parse(bad).unwrap()).is_err(),
                "{bad}"
            );
        }
        assert!(
            r.check_custom_host(&Hostname::parse("portal.cityclinic.org").unwrap())
                .is_ok()
        );
    }
}
