//! Certificate status per host, as `clinicbox cert status`, the console and `/metrics` show it.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::renewal::known_hosts;
use super::repo::{self, CertRow};
use crate::db::Db;
use crate::domain::tenants::HostRules;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// A certificate is served and not due.
    Valid,
    /// Served, and its renewal time has come (or a renewal failed: see `last_error`).
    Renewing,
    /// No certificate yet: the self-signed fallback is served.
    Pending,
    /// The certificate has expired and no new one could be obtained.
    Expired,
}

#[derive(Clone, Debug, Serialize)]
pub struct HostStatus {
    pub host: String,
    pub state: State,
    pub issuer: Option<String>,
    pub not_after: Option<DateTime<Utc>>,
    /// Days until expiry (fractional; negative once expired).
    pub days_left: Option<f64>,
    pub renew_after: Option<DateTime<Utc>>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub failures: i32,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub last_challenge: Option<String>,
    pub last_error: Option<String>,
}

impl HostStatus {
    pub fn from_row(host: &str, row: Option<&CertRow>, now: DateTime<Utc>) -> Self {
        let Some(r) = row else {
            return Self {
                host: host.to_owned(),
                state: State::Pending,
                issuer: None,
                not_after: None,
                days_left: None,
                renew_after: None,
                next_attempt_at: None,
                failures: 0,
                last_attempt_at: None,
                last_challenge: None,
                last_error: None,
            };
        };
        let state = match (r.chain_pem.is_some(), r.not_after) {
            (true, Some(na)) if na <= now => State::Expired,
            (true, _)
                if r.failures > 0 || r.force_renew || r.renew_after.is_some_and(|t| t <= now) =>
            {
                State::Renewing
            }
            (true, _) => State::Valid,
            (false, _) => State::Pending,
        };
        Self {
            host: host.to_owned(),
            state,
            issuer: r.issuer.clone(),
            not_after: r.not_after,
            days_left: r
                .not_after
                .map(|na| (na - now).num_seconds() as f64 / 86_400.0),
            renew_after: r.renew_after,
            next_attempt_at: Some(r.next_attempt_at),
            failures: r.failures,
            last_attempt_at: r.last_attempt_at,
            last_challenge: r.last_challenge.clone(),
            last_error: r.last_error.clone(),
        }
    }
}

/// Every host that should have a certificate, in name order.
pub async fn collect(
    db: &Db,
    rules: &HostRules,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<HostStatus>> {
    let hosts = known_hosts(db, rules).await?;
    let rows = repo::all(&db.pool).await?;
    Ok(hosts
        .iter()
        .map(|h| HostStatus::from_row(h, rows.iter().find(|r| &r.hostname == h), now))
        .collect())
}
