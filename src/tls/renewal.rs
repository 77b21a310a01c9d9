//! The certificate task of a running server.
//!
//! Every node keeps its certificate store in step with the database (new hosts, certificates
//! issued by any node). The node holding the renewal advisory lock also orders: a host is due
//! when it has no certificate yet, when its renewal time has come (ACME Renewal Information
//! when the CA offers it, otherwise a third of the lifetime before expiry), or when an operator
//! forced it. Failures back off (1 min, 10 min, 100 min, then every 6 hours by default) while
//! the current certificate keeps serving; Let's Encrypt's limits on duplicate certificates and
//! failed validations are checked against the order log before each order.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use tokio::sync::watch;

use super::acme::{Acme, Challenge, FailureKind};
use super::preflight::{Preflight, Verdict};
use super::repo::{self, CertRow};
use super::store::{Served, Source};
use super::{Tls, certs};
use crate::app::AppState;
use crate::config::{ChallengeKind, TlsMode};
use crate::domain::audit;
use crate::domain::settings::Hsts;
use crate::domain::tenants::{self, TenantStatus};
use crate::ops::secrets::Purpose;

/// Orders running at once; the rest wait for the next round.
const PARALLEL_ORDERS: usize = 4;
/// Re-read hosts and certificates at least this often, notifications or not.
const MAX_SLEEP: Duration = Duration::from_secs(300);
/// Let's Encrypt: 5 certificates for the same set of names per 7 days.
const DUPLICATES_PER_WEEK: i64 = 5;
/// Let's Encrypt: 5 failed validations per hostname per hour.
const FAILURES_PER_HOUR: i64 = 5;

/// The wait after the `failures`-th failure in a row: first × 10^(n-1), at most 6 hours.
pub fn backoff(failures: i32, first: Duration) -> Duration {
    let cap = Duration::from_secs(6 * 3600);
    let mut d = first;
    for _ in 1..failures.max(1) {
        d = d.saturating_mul(10);
        if d >= cap {
            return cap;
        }
    }
    d.min(cap)
}

/// When to renew a certificate without renewal information: a third of its lifetime before
/// it expires.
pub fn renew_after(not_before: DateTime<Utc>, not_after: DateTime<Utc>) -> DateTime<Utc> {
    not_after - (not_after - not_before) / 3
}

/// Which challenge the next order answers.
pub fn choose_challenge(kind: ChallengeKind, row: &CertRow) -> Challenge {
    match kind {
        ChallengeKind::Http01 => Challenge::Http01,
        ChallengeKind::TlsAlpn01 => Challenge::TlsAlpn01,
        // What worked last time (port 80 may be closed for good), the other one after a
        // failure, HTTP-01 first.
        ChallengeKind::Auto => {
            let tls_alpn = Some(Challenge::TlsAlpn01.as_str());
            let http = Some(Challenge::Http01.as_str());
            match (row.failures, row.last_challenge.as_deref()) {
                (0, last) if last == tls_alpn => Challenge::TlsAlpn01,
                (1.., last) if last == http => Challenge::TlsAlpn01,
                _ => Challenge::Http01,
            }
        }
    }
}

/// Hosts that should have a certificate: the console and every active clinic's hosts.
pub async fn known_hosts(
    db: &crate::db::Db,
    rules: &tenants::HostRules,
) -> Result<Vec<String>, tenants::TenantError> {
    let mut hosts = vec![rules.console_host.to_string()];
    for c in tenants::list(db, rules).await? {
        if c.tenant.status == TenantStatus::Active {
            hosts.extend(c.hosts);
        }
    }
    hosts.sort();
    hosts.dedup();
    Ok(hosts)
}

struct Renewer {
    state: AppState,
    tls: Arc<Tls>,
    acme: Option<Arc<Acme>>,
    preflight: Option<Arc<Preflight>>,
}

/// Before the first connection: the hosts this server knows (so each gets its own-name fallback
/// rather than the anonymous one), the HSTS policy and the certificates already in the
/// database. The renewal task keeps all three current afterwards.
pub async fn warm_up(state: &AppState, tls: &Tls) -> Result<(), anyhow::Error> {
    let hosts = known_hosts(&state.db, &state.hosts).await?;
    tls.store.set_known(hosts);
    tls.set_hsts(Hsts::load(&state.db.pool).await?);
    if tls.mode == TlsMode::Acme {
        tls.load_stored(&repo::all(&state.db.pool).await?, &state.secrets);
    }
    Ok(())
}

pub async fn run(state: AppState, tls: Arc<Tls>, mut shutdown: watch::Receiver<bool>) {
    let mut listener = match sqlx::postgres::PgListener::connect_with(&state.db.pool).await {
        Ok(mut l) => match l.listen("clinicbox_tls").await {
            Ok(()) => Some(l),
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for certificate changes; polling instead");
                None
            }
        },
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for certificate changes; polling instead");
            None
        }
    };
    let mut r = Renewer {
        state,
        tls,
        acme: None,
        preflight: None,
    };
    loop {
        let next = match r.round().await {
            Ok(next) => next,
            Err(e) => {
                tracing::warn!(error = %e, "certificate check failed; retrying in a minute");
                r.now() + chrono::Duration::minutes(1)
            }
        };
        let wait = (next - r.now())
            .to_std()
            .unwrap_or(Duration::ZERO)
            .clamp(Duration::from_millis(200), MAX_SLEEP);
        let notified = async {
            match listener.as_mut() {
                Some(l) => {
                    if l.recv().await.is_err() {
                        tokio::time::sleep(Duration::from_secs(5)).await;
                    }
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = notified => {}
            () = r.tls.wake.notified() => {}
            _ = shutdown.changed() => return,
        }
        if *shutdown.borrow() {
            return;
        }
    }
}

impl Renewer {
    fn now(&self) -> DateTime<Utc> {
        self.state.clock.now()
    }

    /// One pass; returns when the next host is due.
    async fn round(&mut self) -> Result<DateTime<Utc>, anyhow::Error> {
        let pool = self.state.db.pool.clone();
        let hosts = known_hosts(&self.state.db, &self.state.hosts).await?;
        self.tls.store.set_known(hosts.iter().cloned());
        self.tls.set_hsts(Hsts::load(&pool).await?);
        let default_next = self.now() + chrono::Duration::from_std(MAX_SLEEP)?;
        if self.tls.mode != TlsMode::Acme {
            return Ok(default_next);
        }
        repo::ensure_rows(&pool, &hosts, self.now()).await?;
        self.tls
            .load_stored(&repo::all(&pool).await?, &self.state.secrets);

        let Some(lock) =
            crate::db::locks::try_acquire(&pool, crate::db::locks::TLS_RENEWAL).await?
        else {
            // Another node orders; this one only follows the database.
            return Ok(self.now() + chrono::Duration::minutes(1));
        };
        let result = self.renew_due(&hosts).await;
        lock.release().await?;
        result?;

        let rows = repo::all(&pool).await?;
        self.tls.load_stored(&rows, &self.state.secrets);
        let next = rows
            .iter()
            .filter(|r| hosts.contains(&r.hostname))
            .flat_map(|r| {
                let ari = r.ari_next_check.filter(|_| r.chain_pem.is_some());
                [Some(r.next_attempt_at), ari]
            })
            .flatten()
            .min()
            .unwrap_or(default_next);
        Ok(next.min(default_next))
    }

    async fn account(&mut self) -> Result<Arc<Acme>, String> {
        if let Some(a) = &self.acme {
            return Ok(a.clone());
        }
        let a = Arc::new(
            Acme::load_or_register(
                &self.state.config.tls,
                &self.state.db.pool,
                &self.state.secrets,
                self.now(),
            )
            .await
            .map_err(|e| e.to_string())?,
        );
        self.acme = Some(a.clone());
        Ok(a)
    }

    async fn renew_due(&mut self, hosts: &[String]) -> Result<(), anyhow::Error> {
        let pool = self.state.db.pool.clone();
        let now = self.now();
        let rows: Vec<CertRow> = repo::all(&pool)
            .await?
            .into_iter()
            .filter(|r| hosts.contains(&r.hostname))
            .collect();
        let due: Vec<CertRow> = rows
            .iter()
            .filter(|r| r.force_renew || r.next_attempt_at <= now)
            .cloned()
            .collect();
        let ari_due: Vec<CertRow> = rows
            .iter()
            .filter(|r| r.chain_pem.is_some() && r.ari_next_check.is_some_and(|t| t <= now))
            .filter(|r| !due.iter().any(|d| d.hostname == r.hostname))
            .cloned()
            .collect();
        if due.is_empty() && ari_due.is_empty() {
            return Ok(());
        }
        let acme = match self.account().await {
            Ok(a) => a,
            Err(e) => {
                // Without an account nothing can be ordered: every due host waits, without it
                // counting as a failure of the host (nothing was validated).
                tracing::warn!("ACME account unavailable: {e}");
                let next = now + chrono::Duration::from_std(self.first_retry())?;
                for r in &due {
                    repo::save_failure(&pool, &r.hostname, &e, None, false, next, now).await?;
                }
                return Ok(());
            }
        };
        for r in &ari_due {
            self.refresh_window(&acme, r).await?;
        }
        if self.state.config.tls.preflight && self.preflight.is_none() {
            let p = Preflight::new(
                self.state.config.tls.preflight_resolver,
                self.state.config.server.http_listen.port(),
            )
            .map_err(anyhow::Error::msg)?;
            self.preflight = Some(Arc::new(p));
        }
        let gone = self.attempt_all(&acme, due, false).await?;
        if !gone.is_empty() {
            // The CA has forgotten the account (a reset CA, a deactivated account): register a
            // new one and order again; a second refusal is recorded as any failure.
            tracing::warn!(directory = %acme.directory, "the CA no longer knows this installation's ACME account; registering a new one");
            self.acme = None;
            let fresh =
                match Acme::register_new(&self.state.config.tls, &pool, &self.state.secrets, now)
                    .await
                {
                    Ok(a) => Arc::new(a),
                    Err(e) => {
                        let e = e.to_string();
                        let next = now + chrono::Duration::from_std(self.first_retry())?;
                        for r in &gone {
                            repo::save_failure(&pool, &r.hostname, &e, None, false, next, now)
                                .await?;
                        }
                        return Ok(());
                    }
                };
            self.acme = Some(fresh.clone());
            self.attempt_all(&fresh, gone, true).await?;
        }
        Ok(())
    }

    /// Orders for `rows`, a few at a time. Returns the hosts whose order found the account
    /// gone (not recorded, unless `last_try`).
    async fn attempt_all(
        &self,
        acme: &Arc<Acme>,
        rows: Vec<CertRow>,
        last_try: bool,
    ) -> Result<Vec<CertRow>, anyhow::Error> {
        let outcomes = futures::stream::iter(rows)
            .map(|row| {
                let acme = acme.clone();
                async move { self.attempt(&acme, row, last_try).await }
            })
            .buffer_unordered(PARALLEL_ORDERS)
            .collect::<Vec<_>>()
            .await;
        let mut gone = Vec::new();
        for o in outcomes {
            if let Some(row) = o? {
                gone.push(row);
            }
        }
        Ok(gone)
    }

    fn first_retry(&self) -> Duration {
        Duration::from_secs(self.state.config.tls.first_retry_secs)
    }

    /// Asks the CA when to renew (RFC 9773). Without renewal information at this CA the
    /// one-third rule set at issuance stands and the question is asked again in a day.
    async fn refresh_window(&self, acme: &Acme, row: &CertRow) -> Result<(), anyhow::Error> {
        let pool = &self.state.db.pool;
        let now = self.now();
        let Some(chain) = row.chain_pem.as_deref() else {
            return Ok(());
        };
        let leaf = certs::parse_chain(chain)?.remove(0);
        let fallback = row.renew_after.unwrap_or(now);
        let (renew, next_check) = match acme.renewal_window(&leaf).await {
            Ok(Some((start, end, retry))) => {
                let span = (end - start).num_seconds().max(0);
                let offset = if span > 0 {
                    let r = u64::from_le_bytes(crate::ops::secrets::random_bytes::<8>()?);
                    (r % span.unsigned_abs()) as i64
                } else {
                    0
                };
                let retry = retry.clamp(Duration::from_secs(3600), Duration::from_secs(86_400));
                (
                    start + chrono::Duration::seconds(offset),
                    now + chrono::Duration::from_std(retry)?,
                )
            }
            Ok(None) => (fallback, now + chrono::Duration::days(1)),
            Err(e) => {
                tracing::info!(host = %row.hostname, error = %e, "renewal information unavailable; keeping the current schedule");
                (fallback, now + chrono::Duration::hours(6))
            }
        };
        repo::save_schedule(pool, &row.hostname, renew, next_check).await?;
        Ok(())
    }

    /// One order for one host, with its bookkeeping. Errors returned here are database errors;
    /// everything the CA or the network does is recorded on the host instead — except an
    /// account the CA no longer knows, which hands the row back (unless `last_try`).
    async fn attempt(
        &self,
        acme: &Acme,
        row: CertRow,
        last_try: bool,
    ) -> Result<Option<CertRow>, anyhow::Error> {
        let pool = &self.state.db.pool;
        let host = row.hostname.as_str();
        let started = self.now();

        if let Some((why, until)) = self.rate_limited(&row, started).await? {
            repo::save_failure(pool, host, &why, None, false, until, started).await?;
            repo::log_order(pool, host, started, started, "deferred", None, Some(&why)).await?;
            tracing::warn!(host, "certificate order deferred: {why}");
            return Ok(None);
        }

        if let Some(p) = &self.preflight {
            match p.check(pool, host).await {
                Ok(Verdict::Reaches) => {}
                Ok(Verdict::Unreachable(detail)) => tracing::info!(
                    host,
                    "preflight: could not reach {host} from this server ({detail}); ordering anyway"
                ),
                Err(why) => {
                    self.failed(&row, started, None, &why, FailureKind::Refused)
                        .await?;
                    return Ok(None);
                }
            }
        }

        let challenge = choose_challenge(self.state.config.tls.challenge, &row);
        let current = row
            .chain_pem
            .as_deref()
            .and_then(|c| certs::parse_chain(c).ok())
            .and_then(|mut c| (!c.is_empty()).then(|| c.remove(0)));
        let replaces = current
            .as_ref()
            .filter(|_| row.directory_url.as_deref() == Some(acme.directory.as_str()));
        match acme.issue(pool, host, challenge, replaces, started).await {
            Ok(issued) => {
                self.store_issued(acme, &row, challenge, issued, started)
                    .await?
            }
            Err(f) if f.kind == FailureKind::AccountGone && !last_try => return Ok(Some(row)),
            Err(f) => {
                self.failed(&row, started, Some(challenge), &f.message, f.kind)
                    .await?
            }
        }
        Ok(None)
    }

    async fn rate_limited(
        &self,
        row: &CertRow,
        now: DateTime<Utc>,
    ) -> Result<Option<(String, DateTime<Utc>)>, anyhow::Error> {
        let pool = &self.state.db.pool;
        let host = &row.hostname;
        let week_ago = now - chrono::Duration::days(7);
        let issued = repo::count_orders(pool, host, "issued", week_ago).await?;
        if issued >= DUPLICATES_PER_WEEK {
            return Ok(Some((
                format!(
                    "{issued} certificates for {host} in the last 7 days already (the CA allows {DUPLICATES_PER_WEEK}); the current certificate keeps serving"
                ),
                now + chrono::Duration::days(1),
            )));
        }
        let failed =
            repo::count_orders(pool, host, "failed", now - chrono::Duration::hours(1)).await?;
        if failed >= FAILURES_PER_HOUR {
            return Ok(Some((
                format!(
                    "{failed} failed attempts for {host} in the last hour; waiting an hour as the CA requires"
                ),
                now + chrono::Duration::hours(1),
            )));
        }
        Ok(None)
    }

    async fn failed(
        &self,
        row: &CertRow,
        started: DateTime<Utc>,
        challenge: Option<Challenge>,
        why: &str,
        kind: FailureKind,
    ) -> Result<(), anyhow::Error> {
        let pool = &self.state.db.pool;
        let host = row.hostname.as_str();
        let now = self.now();
        let ch = challenge.map(Challenge::as_str);
        if kind == FailureKind::Transient {
            // The CA or the network had a bad moment, several times over: nothing was
            // validated, so no backoff, no failure counted, the same challenge next time.
            let next = now + chrono::Duration::from_std(self.first_retry())?;
            repo::save_failure(pool, host, why, None, false, next, now).await?;
            repo::log_order(pool, host, started, now, "transient", ch, Some(why)).await?;
            tracing::warn!(host, next_attempt = %next.format("%Y-%m-%d %H:%M:%S UTC"), "certificate for {host} not issued yet: {why}; retrying soon");
            return Ok(());
        }
        let mut wait = backoff(row.failures + 1, self.first_retry());
        if kind == FailureKind::RateLimited {
            wait = wait.max(Duration::from_secs(3600));
        }
        let next = now + chrono::Duration::from_std(wait)?;
        repo::save_failure(pool, host, why, ch, true, next, now).await?;
        repo::log_order(pool, host, started, now, "failed", ch, Some(why)).await?;
        let serving = if self
            .tls
            .store
            .acme_info(host)
            .is_some_and(|i| i.not_after > now)
        {
            "the current certificate keeps serving"
        } else {
            "a temporary self-signed certificate is served meanwhile"
        };
        tracing::warn!(
            host,
            failures = row.failures + 1,
            next_attempt = %next.format("%Y-%m-%d %H:%M:%S UTC"),
            "certificate for {host} not issued: {why}; {serving}"
        );
        Ok(())
    }

    async fn store_issued(
        &self,
        acme: &Acme,
        row: &CertRow,
        challenge: Challenge,
        issued: super::acme::Issued,
        started: DateTime<Utc>,
    ) -> Result<(), anyhow::Error> {
        let pool = &self.state.db.pool;
        let host = row.hostname.as_str();
        let now = self.now();
        let chain = certs::parse_chain(&issued.chain_pem);
        let served = chain.and_then(|c| certs::certified_key(c, certs::key_der(&issued.key)));
        let served = match served.and_then(|ck| Served::new(ck, Source::Acme)) {
            Ok(s) if s.info.covers(host) => s,
            Ok(_) => {
                let why = "the CA returned a certificate that does not name this host";
                return self
                    .failed(row, started, Some(challenge), why, FailureKind::Refused)
                    .await;
            }
            Err(e) => {
                let why = format!("the CA returned an unusable certificate: {e}");
                return self
                    .failed(row, started, Some(challenge), &why, FailureKind::Refused)
                    .await;
            }
        };
        let key_enc = self
            .state
            .secrets
            .encrypt(Purpose::TlsKey, &issued.key.serialize_der())?;
        let info = served.info.clone();
        repo::save_issued(
            pool,
            &repo::Issued {
                host,
                directory_url: &acme.directory,
                chain_pem: &issued.chain_pem,
                key_enc: &key_enc,
                issuer: &info.issuer,
                not_before: info.not_before,
                not_after: info.not_after,
                renew_after: renew_after(info.not_before, info.not_after),
                challenge: challenge.as_str(),
            },
            now,
        )
        .await?;
        // Served from the moment it is stored: nothing reads "issued" in the database while the
        // old certificate is still the one presented.
        self.tls.adopt(host, served, now);
        repo::log_order(
            pool,
            host,
            started,
            now,
            "issued",
            Some(challenge.as_str()),
            None,
        )
        .await?;
        let mut conn = pool.acquire().await?;
        audit::record_system(
            &mut conn,
            &audit::Context::system(now),
            audit::Event::new(audit::action::CERT_ISSUED, audit::Actor::System)
                .resource("host", host)
                .details(serde_json::json!({
                    "issuer": info.issuer,
                    "not_after": info.not_after,
                    "challenge": challenge.as_str(),
                    "forced": row.force_renew,
                })),
            None,
        )
        .await?;
        drop(conn);
        tracing::info!(
            host,
            issuer = %info.issuer,
            not_after = %info.not_after.format("%Y-%m-%d"),
            challenge = challenge.as_str(),
            "certificate issued and now served"
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_tenfold_to_six_hours() {
        let m = Duration::from_secs(60);
        assert_eq!(backoff(1, m), Duration::from_secs(60));
        assert_eq!(backoff(2, m), Duration::from_secs(600));
        assert_eq!(backoff(3, m), Duration::from_secs(6000));
        assert_eq!(backoff(4, m), Duration::from_secs(21_600));
        assert_eq!(backoff(40, m), Duration::from_secs(21_600));
        assert_eq!(backoff(0, m), Duration::from_secs(60));
    }

    #[test]
    fn renews_with_a_third_of_the_lifetime_left() {
        let nb = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .to_utc();
        let na = nb + chrono::Duration::days(90);
        assert_eq!(renew_after(nb, na), nb + chrono::Duration::days(60));
    }

    fn row(failures: i32, last: Option<&str>) -> CertRow {
        CertRow {
            hostname: "a.test".into(),
            directory_url: None,
            chain_pem: None,
            key_enc: None,
            issuer: None,
            not_before: None,
            not_after: None,
            renew_after: None,
            ari_next_check: None,
            issued_at: None,
            next_attempt_at: chrono::DateTime::UNIX_EPOCH,
            failures,
            last_attempt_at: None,
            last_challenge: last.map(str::to_owned),
            last_error: None,
            force_renew: false,
            updated_at: chrono::DateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn auto_alternates_after_an_http_failure() {
        assert_eq!(
            choose_challenge(ChallengeKind::Auto, &row(0, None)),
            Challenge::Http01
        );
        assert_eq!(
            choose_challenge(ChallengeKind::Auto, &row(1, Some("http-01"))),
            Challenge::TlsAlpn01
        );
        assert_eq!(
            choose_challenge(ChallengeKind::Auto, &row(2, Some("tls-alpn-01"))),
            Challenge::Http01
        );
        // Renewals use what worked: with port 80 closed, TLS-ALPN-01 keeps being chosen.
        assert_eq!(
            choose_challenge(ChallengeKind::Auto, &row(0, Some("tls-alpn-01"))),
            Challenge::TlsAlpn01
        );
        assert_eq!(
            choose_challenge(ChallengeKind::Auto, &row(0, Some("http-01"))),
            Challenge::Http01
        );
        assert_eq!(
            choose_challenge(ChallengeKind::TlsAlpn01, &row(0, None)),
            Challenge::TlsAlpn01
        );
        assert_eq!(
            choose_challenge(ChallengeKind::Http01, &row(3, Some("http-01"))),
            Challenge::Http01
        );
    }
}
