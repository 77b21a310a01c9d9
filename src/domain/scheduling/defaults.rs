//! What a new clinic starts with, so that booking works on its first day: two appointment
//! types and opening hours (Monday to Friday 09:00–17:00, Saturday 09:00–13:00). Clinicians
//! added later work the opening hours until their own are set (see `auth::work::create_staff`).
//! Everything here is an ordinary setting the clinic admin changes in Settings.

use chrono::NaiveTime;
use sqlx::{PgConnection, PgPool};

use super::repo::{self, WeekRows};
use crate::db::TenantDb;
use crate::domain::tenants::Tenant;

/// The appointment types of a new clinic: (name, minutes, colour).
pub const TYPES: [(&str, i32, &str); 2] = [
    ("Consultation", 20, "#1f6f8b"),
    ("Follow-up", 10, "#2e7d32"),
];

/// The opening hours of a new clinic.
pub fn hours() -> WeekRows {
    let t = |h: u32| NaiveTime::from_hms_opt(h, 0, 0).unwrap_or(NaiveTime::MIN);
    let mut rows: WeekRows = (1..=5).map(|w| (w, t(9), t(17))).collect();
    rows.push((6, t(9), t(13)));
    rows
}

/// What `seed` added.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Seeded {
    pub types: usize,
    pub hours: usize,
}

/// Adds the defaults to a clinic that has none of them (a clinic's own types or hours are
/// never touched), inside the clinic's transaction.
pub async fn seed(conn: &mut PgConnection) -> sqlx::Result<Seeded> {
    let mut out = Seeded::default();
    if repo::types(&mut *conn, true).await?.is_empty() {
        for (name, minutes, color) in TYPES {
            repo::insert_type(&mut *conn, name, minutes, color, None).await?;
        }
        out.types = TYPES.len();
    }
    if repo::clinic_hours(&mut *conn).await?.is_empty() {
        let rows = hours();
        repo::replace_clinic_hours(&mut *conn, &rows).await?;
        out.hours = rows.len();
    }
    Ok(out)
}

/// `seed` for a clinic just created (the CLI's `tenant create`), in a transaction of its own.
pub async fn seed_new_clinic(pool: &PgPool, tenant: &Tenant) -> sqlx::Result<Seeded> {
    let mut tx = TenantDb::begin(pool, &tenant.db).await?;
    let out = seed(&mut tx).await?;
    tx.commit().await?;
    Ok(out)
}
