//! Clinic settings (table `settings` in the clinic's schema): one JSON value per key.

use sqlx::PgPool;

use crate::db::TenantDb;
use crate::domain::tenants::Tenant;

/// The clinic's IANA time zone, `UTC` until an admin sets one.
pub async fn timezone(pool: &PgPool, tenant: &Tenant) -> Result<String, sqlx::Error> {
    let mut tx = TenantDb::begin(pool, &tenant.db).await?;
    let tz: Option<String> =
        sqlx::query_scalar("SELECT value #>> '{}' FROM settings WHERE key = 'timezone'")
            .fetch_optional(&mut *tx)
            .await?;
    tx.commit().await?;
    Ok(tz.unwrap_or_else(|| "UTC".to_owned()))
}
