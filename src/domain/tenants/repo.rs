//! SQL for the control-plane tables `clinicbox.tenants` and `clinicbox.tenant_hostnames`.

use sqlx::{PgConnection, PgExecutor};

use super::model::{Branding, Ident, Slug, Tenant, TenantIdent, TenantStatus};

pub(super) struct TenantRow {
    id: i64,
    slug: String,
    display_name: String,
    status: String,
    db_schema: String,
    db_role: String,
    schema_version: i64,
    branding: serde_json::Value,
    created_at: chrono::DateTime<chrono::Utc>,
}

/// Clinic rows: `$head` + the columns of `clinicbox.tenants t` + `$tail` (string literals).
macro_rules! tenant_rows {
    ($db:expr, $fetch:ident, $head:tt, $tail:tt $(, $arg:expr)* $(,)?) => {
        sqlx::query_as!(
            TenantRow,
            $head + "t.id, t.slug, t.display_name, t.status, t.db_schema, t.db_role,
                     t.schema_version, t.branding, t.created_at" + $tail $(, $arg)*
        )
        .$fetch($db)
        .await
    };
}

impl TenantRow {
    /// Re-validates what the database holds before it is used to build SQL identifiers.
    pub(super) fn into_tenant(self) -> Result<Tenant, sqlx::Error> {
        let bad = |what: &str| {
            sqlx::Error::Decode(format!("clinic {} has an invalid {what}", self.id).into())
        };
        Ok(Tenant {
            id: self.id,
            slug: Slug::parse(&self.slug).map_err(|_| bad("slug"))?,
            status: TenantStatus::parse(&self.status).ok_or_else(|| bad("status"))?,
            db: TenantIdent {
                schema: Ident::parse(&self.db_schema).map_err(|_| bad("schema name"))?,
                role: Ident::parse(&self.db_role).map_err(|_| bad("role name"))?,
            },
            schema_version: self.schema_version,
            branding: Branding::from_json(&self.branding),
            created_at: self.created_at,
            display_name: self.display_name,
        })
    }
}

pub(super) async fn by_slug(
    db: impl PgExecutor<'_>,
    slug: &Slug,
) -> Result<Option<Tenant>, sqlx::Error> {
    let row = tenant_rows!(
        db,
        fetch_optional,
        "SELECT ",
        " FROM clinicbox.tenants t WHERE t.slug = $1",
        slug.as_str()
    )?;
    row.map(TenantRow::into_tenant).transpose()
}

/// A custom hostname wins over the `<slug>.<base>` form; one round trip either way.
pub(super) async fn by_host(
    db: impl PgExecutor<'_>,
    host: &str,
    subdomain_slug: Option<&str>,
) -> Result<Option<Tenant>, sqlx::Error> {
    let row = tenant_rows!(
        db,
        fetch_optional,
        "SELECT ",
        " FROM clinicbox.tenants t
          WHERE t.id = (SELECT tenant_id FROM clinicbox.tenant_hostnames WHERE hostname = $1)
             OR t.slug = $2
          ORDER BY (t.slug = $2) NULLS FIRST
          LIMIT 1",
        host,
        subdomain_slug
    )?;
    row.map(TenantRow::into_tenant).transpose()
}

pub(super) async fn all_with_hosts(
    db: impl PgExecutor<'_>,
) -> Result<Vec<(Tenant, Vec<String>)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT t.id, t.slug, t.display_name, t.status, t.db_schema, t.db_role,
                  t.schema_version, t.branding, t.created_at,
                  coalesce(array_agg(h.hostname ORDER BY h.hostname)
                           FILTER (WHERE h.hostname IS NOT NULL), '{}') AS "hosts!"
             FROM clinicbox.tenants t
             LEFT JOIN clinicbox.tenant_hostnames h ON h.tenant_id = t.id
            GROUP BY t.id
            ORDER BY t.slug"#
    )
    .fetch_all(db)
    .await?;
    rows.into_iter()
        .map(|r| {
            let t = TenantRow {
                id: r.id,
                slug: r.slug,
                display_name: r.display_name,
                status: r.status,
                db_schema: r.db_schema,
                db_role: r.db_role,
                schema_version: r.schema_version,
                branding: r.branding,
                created_at: r.created_at,
            };
            Ok((t.into_tenant()?, r.hosts))
        })
        .collect()
}

pub(super) async fn host_owner(
    db: impl PgExecutor<'_>,
    host: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!("SELECT t.slug FROM clinicbox.tenant_hostnames h JOIN clinicbox.tenants t ON t.id = h.tenant_id
          WHERE h.hostname = $1", host)
    .fetch_optional(db)
    .await
}

pub(super) async fn role_exists(
    db: impl PgExecutor<'_>,
    role: &Ident,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1) AS "v!""#,
        role.as_str()
    )
    .fetch_one(db)
    .await
}

pub(super) async fn insert(
    conn: &mut PgConnection,
    slug: &Slug,
    name: &str,
    ident: &TenantIdent,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Tenant, sqlx::Error> {
    let row = tenant_rows!(
        conn,
        fetch_one,
        "INSERT INTO clinicbox.tenants AS t (slug, display_name, db_schema, db_role, created_at)
         VALUES ($1, $2, $3, $4, $5)
         RETURNING ",
        "",
        slug.as_str(),
        name,
        ident.schema.as_str(),
        ident.role.as_str(),
        now
    )?;
    row.into_tenant()
}

pub(super) async fn insert_host(
    conn: &mut PgConnection,
    tenant_id: i64,
    host: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO clinicbox.tenant_hostnames (hostname, tenant_id) VALUES ($1, $2)",
        host,
        tenant_id
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub(super) async fn delete_host(
    conn: &mut PgConnection,
    tenant_id: i64,
    host: &str,
) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query!(
        "DELETE FROM clinicbox.tenant_hostnames WHERE hostname = $1 AND tenant_id = $2",
        host,
        tenant_id
    )
    .execute(conn)
    .await?
    .rows_affected()
        > 0)
}

pub(super) async fn set_version(
    conn: &mut PgConnection,
    tenant_id: i64,
    version: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE clinicbox.tenants SET schema_version = $1 WHERE id = $2",
        version,
        tenant_id
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub(super) async fn set_status(
    db: impl PgExecutor<'_>,
    slug: &Slug,
    status: TenantStatus,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<bool, sqlx::Error> {
    let n = sqlx::query!(
        "UPDATE clinicbox.tenants SET status = $2, status_changed_at = $3 WHERE slug = $1",
        slug.as_str(),
        status.as_str(),
        now
    )
    .execute(db)
    .await?
    .rows_affected();
    Ok(n == 1)
}

pub(super) async fn delete(conn: &mut PgConnection, tenant_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query!("DELETE FROM clinicbox.tenants WHERE id = $1", tenant_id)
        .execute(conn)
        .await?;
    Ok(())
}
