//! Plan limits: what an operator allows one clinic — how many staff accounts may be in use
//! and how much its documents may take. Set from the console or `clinicbox tenant limits`,
//! kept in the clinic's own settings and enforced inside the clinic's units of work, so the
//! pages, the API and the command line meet the same limit with the same message.

use sqlx::PgConnection;

use super::Setting;
use crate::domain::validation::Errors;

/// Staff accounts not disabled, at most (unset or 0: no limit).
pub const MAX_STAFF: Setting<i64> = Setting::clinic("plan.max_staff");
/// Document storage in MiB, at most (unset or 0: the installation's
/// `storage.document_quota_mb`).
pub const MAX_DOCUMENT_MB: Setting<i64> = Setting::clinic("plan.max_document_mb");

pub const STAFF_RANGE: std::ops::RangeInclusive<i64> = 1..=10_000;
pub const DOCUMENT_MB_RANGE: std::ops::RangeInclusive<i64> = 1..=10_000_000;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Limits {
    pub max_staff: Option<i64>,
    pub max_document_mb: Option<i64>,
}

impl Limits {
    pub async fn read(conn: &mut PgConnection) -> sqlx::Result<Self> {
        let positive = |v: Option<i64>| v.filter(|n| *n > 0);
        Ok(Self {
            max_staff: positive(MAX_STAFF.get(conn).await?),
            max_document_mb: positive(MAX_DOCUMENT_MB.get(conn).await?),
        })
    }

    pub async fn save(
        &self,
        conn: &mut PgConnection,
        now: chrono::DateTime<chrono::Utc>,
    ) -> sqlx::Result<()> {
        MAX_STAFF
            .set(conn, &self.max_staff.unwrap_or(0), now)
            .await?;
        MAX_DOCUMENT_MB
            .set(conn, &self.max_document_mb.unwrap_or(0), now)
            .await
    }

    /// The document quota in bytes: the clinic's own, else the installation's.
    pub fn document_quota(&self, installation: u64) -> u64 {
        self.max_document_mb
            .map_or(installation, |mb| mb as u64 * 1024 * 1024)
    }

    /// As typed in a form or on the command line: empty (or "none") for no limit, else a whole
    /// number in range. Field names `max_staff`, `max_document_mb`.
    pub fn parse(staff: &str, document_mb: &str) -> Result<Self, Errors> {
        let mut e = Errors::new();
        let mut field = |name: &'static str, text: &str, range: std::ops::RangeInclusive<i64>| {
            let t = text.trim().replace([',', ' ', '_'], "");
            if t.is_empty() || t.eq_ignore_ascii_case("none") {
                return None;
            }
            match t.parse::<i64>() {
                Ok(n) if range.contains(&n) => Some(n),
                _ => {
                    e.add(
                        name,
                        crate::i18n::msg(
                            "invalid.plan_limit",
                            &[("min", range.start()), ("max", range.end())],
                        ),
                    );
                    None
                }
            }
        };
        let l = Self {
            max_staff: field("max_staff", staff, STAFF_RANGE),
            max_document_mb: field("max_document_mb", document_mb, DOCUMENT_MB_RANGE),
        };
        if e.is_empty() { Ok(l) } else { Err(e) }
    }
}

/// Sets the clinic's limits in its own unit of work (one audit row); returns the ones before.
pub async fn save_in(c: &crate::domain::clinic::Clinic, limits: &Limits) -> sqlx::Result<Limits> {
    let mut u = c.begin().await?;
    let before = Limits::read(&mut u).await?;
    limits.save(&mut u, c.at()).await?;
    let ev = u
        .event(crate::domain::audit::action::SETTINGS_UPDATED)
        .resource("settings", "plan")
        .details(serde_json::json!({ "before": before, "after": limits }));
    u.audit_and_commit(ev).await?;
    Ok(before)
}

/// The clinic's limits, read on their own (the console's clinic page).
pub async fn of(c: &crate::domain::clinic::Clinic) -> sqlx::Result<Limits> {
    let mut u = c.begin().await?;
    let l = Limits::read(&mut u).await?;
    u.finish_without_clinical_data().await?;
    Ok(l)
}
