//! The compliance self-check: each safeguard an auditor asks about, with its live state, what
//! to do when it is not met and where. The console's Compliance page and
//! `clinicbox check --compliance [--json]` show the same list, from the same reads.
//!
//! Everything here is read from the database and the configuration as they are now, except
//! the audit chains: checking every chain reads every audit row, so the last check is recorded
//! (`audit.chains_verified`) and redone on request (the page's button, `check --compliance`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::config::TlsMode;
use crate::db::{Db, TenantDb};
use crate::domain::auth::model::{MfaPolicy, Role};
use crate::domain::settings::{Hsts, Security, Setting, console_idle_minutes};
use crate::domain::tenants::{self, HostRules, TenantStatus, TenantSummary};
use crate::ops::backup::{self, BackupSettings, Encryption};
use crate::ops::dashboard::{self, Component, Level, Sources, short};
use crate::ops::secrets::Secrets;

/// Idle logoff must come at or before this many minutes.
pub const MAX_IDLE_MINUTES: i64 = 15;
/// Audit rows must be kept at least this many years.
pub const MIN_RETENTION_YEARS: i64 = 7;
/// HSTS should last at least this long (180 days), as scanners and preload lists expect.
pub const MIN_HSTS_SECONDS: i64 = 15_552_000;
/// A check of the audit chains older than this is stale.
pub const CHAINS_STALE_DAYS: i64 = 7;
/// A backup verification older than this is stale.
pub const VERIFY_STALE_DAYS: i64 = 31;

/// A clinic an item names, with the page where its admin fixes it.
#[derive(Clone, Debug, Serialize)]
pub struct ClinicLink {
    pub slug: String,
    pub name: String,
    /// The clinic's own settings page (on its host; its admin signs in there).
    pub url: String,
}

/// One safeguard: its state (as the dashboard shows components) and the clinics where it is
/// not met.
#[derive(Clone, Debug, Serialize)]
pub struct Item {
    #[serde(flatten)]
    pub state: Component,
    pub clinics: Vec<ClinicLink>,
}

impl From<Component> for Item {
    fn from(state: Component) -> Self {
        Self {
            state,
            clinics: Vec::new(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Compliance {
    pub at: DateTime<Utc>,
    pub overall: Level,
    pub items: Vec<Item>,
}

impl Compliance {
    pub fn met(&self) -> usize {
        self.items
            .iter()
            .filter(|i| i.state.level == Level::Ok)
            .count()
    }
}

/// The last check of every audit chain.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ChainsVerified {
    pub at: DateTime<Utc>,
    /// Logs checked: the installation's and one per clinic.
    pub logs: usize,
    pub rows: i64,
    /// Each log whose chain breaks or could not be read ("system" or the clinic's slug), with
    /// where and why.
    pub broken: Vec<String>,
}

pub const CHAINS_VERIFIED: Setting<ChainsVerified> = Setting::system("audit.chains_verified");

pub async fn chains_verified(db: &Db) -> sqlx::Result<Option<ChainsVerified>> {
    let mut conn = db.pool.acquire().await?;
    CHAINS_VERIFIED.get(&mut conn).await
}

/// Seals, then checks the installation's log and every clinic's (suspended ones too: their
/// records are kept). A log that cannot be read counts as broken.
pub async fn verify_chains(
    db: &Db,
    secrets: &Secrets,
    hosts: &HostRules,
    now: DateTime<Utc>,
) -> Result<ChainsVerified, tenants::TenantError> {
    let mut v = ChainsVerified {
        at: now,
        logs: 1,
        rows: 0,
        broken: Vec::new(),
    };
    let mut note = |name: &str, r: sqlx::Result<crate::domain::audit::VerifyReport>| match r {
        Ok(r) => {
            v.rows += r.rows;
            if let Some((seq, why)) = r.broken {
                v.broken.push(format!("{name}: row {seq}: {why}"));
            }
        }
        Err(e) => v.broken.push(format!("{name}: {}", short(&e))),
    };
    note(
        "system",
        crate::domain::audit::verify_system(&db.pool, secrets, None).await,
    );
    let clinics = tenants::list(db, hosts).await?;
    for c in &clinics {
        note(
            c.tenant.slug.as_str(),
            crate::domain::audit::verify_tenant(&db.pool, secrets, &c.tenant, None).await,
        );
    }
    v.logs += clinics.len();
    Ok(v)
}

/// What one active clinic has set, read in its own transaction as its role (settings and
/// account flags; no patient is read).
struct ClinicFacts {
    clinic: TenantSummary,
    security: Security,
    /// Active accounts whose temporary password was never replaced.
    temporary_passwords: i64,
}

async fn clinic_facts(db: &Db, clinic: TenantSummary) -> sqlx::Result<ClinicFacts> {
    let mut tx = TenantDb::begin(&db.pool, &clinic.tenant.db).await?;
    let security = Security::load(&mut tx).await?;
    let temporary_passwords = sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM users WHERE status = 'active' AND must_change_password"#
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.rollback().await?;
    Ok(ClinicFacts {
        clinic,
        security,
        temporary_passwords,
    })
}

struct OperatorFacts {
    without_mfa: i64,
    temporary_passwords: i64,
    idle_minutes: i64,
}

async fn operator_facts(db: &Db) -> sqlx::Result<OperatorFacts> {
    let r = sqlx::query!(
        r#"SELECT count(*) FILTER (WHERE mfa_secret IS NULL) AS "without_mfa!",
                  count(*) FILTER (WHERE must_change_password) AS "temporary!"
             FROM clinicbox.operators WHERE status = 'active'"#
    )
    .fetch_one(&db.pool)
    .await?;
    Ok(OperatorFacts {
        without_mfa: r.without_mfa,
        temporary_passwords: r.temporary,
        idle_minutes: console_idle_minutes(&db.pool).await?,
    })
}

fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn read_error(key: &'static str, e: &sqlx::Error) -> Item {
    Component::new(
        key,
        Level::Failing,
        format!("could not be read: {}", short(e)),
    )
    .into()
}

pub async fn collect(s: &Sources<'_>) -> Compliance {
    let mut items: Vec<Item> = Vec::new();
    let db = s.db;
    items.push(match chains_verified(db).await {
        Ok(v) => audit_chains(v.as_ref(), s.now),
        Err(e) => read_error("audit_chains", &e),
    });
    items.extend(backups(s).await);
    items.push(certificates(s).await);
    items.push(match Hsts::load(&db.pool).await {
        Ok(h) => hsts(&h, s.config.tls.mode),
        Err(e) => read_error("hsts", &e),
    });
    items.push(tls_versions(s));

    let operators = operator_facts(db).await;
    let clinics = match tenants::list(db, s.hosts).await {
        Ok(list) => {
            let mut facts = Vec::new();
            for c in list
                .into_iter()
                .filter(|c| c.tenant.status == TenantStatus::Active)
            {
                let slug = c.tenant.slug.clone();
                match clinic_facts(db, c).await {
                    Ok(f) => facts.push(f),
                    Err(e) => {
                        tracing::warn!(tenant = %slug, error = %e, "compliance: clinic settings unreadable");
                    }
                }
            }
            Ok(facts)
        }
        Err(e) => Err(e.to_string()),
    };
    match (&operators, &clinics) {
        (Ok(o), Ok(c)) => {
            items.push(mfa(s, o, c));
            items.push(idle(s, o, c));
            items.push(retention(s, c));
            items.push(passwords(s, o, c));
        }
        (Err(e), _) => {
            for key in ["mfa_admins", "idle_logoff", "audit_retention", "passwords"] {
                items.push(read_error(key, e));
            }
        }
        (_, Err(e)) => {
            for key in ["mfa_admins", "idle_logoff", "audit_retention", "passwords"] {
                items.push(Component::new(key, Level::Failing, e.clone()).into());
            }
        }
    }
    Compliance {
        at: s.now,
        overall: Level::worst(items.iter().map(|i| i.state.level)),
        items,
    }
}

/// Behind a proxy ClinicBox cannot see the certificates: the item cannot be green.
async fn certificates(s: &Sources<'_>) -> Item {
    if s.config.tls.mode != TlsMode::Off {
        return dashboard::certificates(s).await.into();
    }
    Component::new(
        "certificates",
        Level::Warning,
        "HTTPS is terminated by the proxy in front (tls.mode = \"off\"): ClinicBox cannot see its certificates",
    )
    .fix("Check the proxy's certificates from outside (clinicbox check --remote https://your-host), or let ClinicBox terminate HTTPS (tls.mode = \"acme\").")
    .into()
}

fn audit_chains(v: Option<&ChainsVerified>, now: DateTime<Utc>) -> Item {
    let c = match v {
        None => Component::new(
            "audit_chains",
            Level::Failing,
            "audit logging is on for every clinic and the console; the hash chains have never been checked",
        )
        .fix("Press Check the audit chains now (or run clinicbox check --compliance)."),
        Some(v) if !v.broken.is_empty() => Component::new(
            "audit_chains",
            Level::Failing,
            format!(
                "checked {}: {} of {} log(s) do not verify: {}",
                when(v.at),
                v.broken.len(),
                v.logs,
                v.broken.join("; ")
            ),
        )
        .fix("A broken chain means rows were changed or removed outside ClinicBox. Keep the database as it is, compare it with a backup (clinicbox audit verify --tenant SLUG --backup FILE) and find out who had access."),
        Some(v) if (now - v.at).num_days() >= CHAINS_STALE_DAYS => Component::new(
            "audit_chains",
            Level::Warning,
            format!(
                "last checked {} ({} log(s), {} rows, all intact); that is more than {CHAINS_STALE_DAYS} days ago",
                when(v.at),
                v.logs,
                v.rows
            ),
        )
        .fix("Press Check the audit chains now."),
        Some(v) => Component::new(
            "audit_chains",
            Level::Ok,
            format!(
                "audit logging is on; checked {}: {} log(s), {} rows, every chain intact",
                when(v.at),
                v.logs,
                v.rows
            ),
        ),
    };
    c.link("/compliance#audit_chains").into()
}

async fn backups(s: &Sources<'_>) -> Vec<Item> {
    let pool = &s.db.pool;
    let fresh = match backup::status(pool, s.now).await {
        Ok(b) => {
            let fresh = b.last.as_ref().is_some_and(|l| l.ok)
                && b.age_seconds
                    .is_some_and(|a| a < backup::STALE_AFTER_HOURS * 3600);
            let detail = match (&b.last_success, &b.warning) {
                (Some(l), Some(w)) => format!("last backup {}; {w}", when(l.at)),
                (Some(l), None) => format!("last backup {}", when(l.at)),
                (None, Some(w)) => w.clone(),
                (None, None) => "no backup has been taken yet".to_owned(),
            };
            Component::new(
                "backups_fresh",
                if fresh { Level::Ok } else { Level::Failing },
                detail,
            )
            .fix(format!(
                "Open Backups: keep daily backups on, and press Back up now; a backup must be less than {} hours old.",
                backup::STALE_AFTER_HOURS
            ))
            .link("/backups")
            .into()
        }
        Err(e) => read_error("backups_fresh", &e),
    };
    let verified = match backup::schedule::last_verify(pool).await {
        Ok(None) => Component::new(
            "backup_verified",
            Level::Failing,
            "no backup has been verified (restored into a scratch database and compared)",
        ),
        Ok(Some(v)) if !v.ok => Component::new(
            "backup_verified",
            Level::Failing,
            format!(
                "the last verification ({}, {}) failed",
                when(v.at),
                v.file.unwrap_or_default()
            ),
        ),
        Ok(Some(v)) if (s.now - v.at).num_days() >= VERIFY_STALE_DAYS => Component::new(
            "backup_verified",
            Level::Warning,
            format!(
                "last verified {} ({}), more than {VERIFY_STALE_DAYS} days ago",
                when(v.at),
                v.file.unwrap_or_default()
            ),
        ),
        Ok(Some(v)) => Component::new(
            "backup_verified",
            Level::Ok,
            format!(
                "last verification passed: {} ({})",
                when(v.at),
                v.file.unwrap_or_default()
            ),
        ),
        Err(e) => return vec![fresh, read_error("backup_verified", &e)],
    }
    .fix("Open Backups and press Verify next to the newest backup (or run clinicbox backup verify FILE); read what it reports if it fails.")
    .link("/backups");
    let encrypted = match BackupSettings::load(pool).await {
        Ok(b) => match b.encryption {
            Encryption::None => Component::new(
                "backups_encrypted",
                Level::Failing,
                "backups are written unencrypted: anyone with a copy can read every record",
            ),
            Encryption::Recipient(_) => Component::new(
                "backups_encrypted",
                Level::Ok,
                "backups are encrypted (age) to a public key; its private key is kept off this server",
            ),
            Encryption::Passphrase(_) => Component::new(
                "backups_encrypted",
                Level::Ok,
                "backups are encrypted (age) with a passphrase",
            ),
        }
        .fix("Open Backups and choose encryption to an age public key (best: the private key stays off the server) or a passphrase.")
        .link("/backups")
        .into(),
        Err(e) => read_error("backups_encrypted", &e),
    };
    vec![fresh, verified.into(), encrypted]
}

fn hsts(h: &Hsts, mode: TlsMode) -> Item {
    let c = if mode == TlsMode::Off {
        Component::new(
            "hsts",
            Level::Warning,
            "HTTPS is terminated by the proxy in front (tls.mode = \"off\"): it must send Strict-Transport-Security",
        )
        .fix("Configure the proxy to send Strict-Transport-Security with max-age of at least 180 days.")
    } else if h.max_age <= 0 {
        Component::new(
            "hsts",
            Level::Failing,
            "HSTS is off: browsers may be led to plain HTTP",
        )
        .fix("Open Certificates and set HSTS max-age to at least 180 days (15552000 seconds).")
    } else if h.max_age < MIN_HSTS_SECONDS {
        Component::new(
            "hsts",
            Level::Warning,
            format!("HSTS is on, but for only {} day(s)", h.max_age / 86_400),
        )
        .fix("Open Certificates and set HSTS max-age to at least 180 days (15552000 seconds).")
    } else {
        Component::new(
            "hsts",
            Level::Ok,
            format!(
                "Strict-Transport-Security: max-age={} ({} days){}",
                h.max_age,
                h.max_age / 86_400,
                if h.include_subdomains {
                    "; includeSubDomains"
                } else {
                    ""
                }
            ),
        )
    };
    c.link("/certificates").into()
}

fn tls_versions(s: &Sources<'_>) -> Item {
    match s.config.tls.mode {
        TlsMode::Acme | TlsMode::Manual => Component::new(
            "tls_versions",
            Level::Ok,
            "TLS 1.3 and 1.2 only, with forward-secret AEAD ciphers (rustls: SSL and TLS 1.0/1.1 are not implemented); plain HTTP only redirects",
        ),
        TlsMode::Off if !s.config.server.trusted_proxies.is_empty() => Component::new(
            "tls_versions",
            Level::Warning,
            "HTTPS is terminated by the proxy in front (tls.mode = \"off\"): ClinicBox cannot see which TLS versions it accepts",
        )
        .fix("Check the proxy from outside: clinicbox check --remote https://your-host (or testssl.sh) must show TLS 1.2 and 1.3 only."),
        TlsMode::Off => Component::new(
            "tls_versions",
            Level::Failing,
            "pages are served over plain HTTP (tls.mode = \"off\" and no trusted proxy)",
        )
        .fix("Set tls.mode = \"acme\" in /etc/clinicbox/clinicbox.toml (or put an HTTPS proxy in front and list it in server.trusted_proxies)."),
    }
    .into()
}

fn link(s: &Sources<'_>, f: &ClinicFacts, path: &str) -> ClinicLink {
    let host = f.clinic.hosts.first().map(String::as_str).unwrap_or("");
    ClinicLink {
        slug: f.clinic.tenant.slug.to_string(),
        name: f.clinic.tenant.display_name.clone(),
        url: s.config.url_of(host, path),
    }
}

fn slugs(links: &[ClinicLink]) -> String {
    links
        .iter()
        .map(|l| l.slug.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Builds an item from the clinics that fail `bad` and what the console itself lacks.
fn per_clinic(
    s: &Sources<'_>,
    clinics: &[ClinicFacts],
    key: &'static str,
    path: &str,
    bad: impl Fn(&ClinicFacts) -> bool,
    console_problem: Option<String>,
    ok: String,
    fix: &str,
) -> Item {
    let failing: Vec<ClinicLink> = clinics
        .iter()
        .filter(|f| bad(f))
        .map(|f| link(s, f, path))
        .collect();
    let mut problems = Vec::new();
    if !failing.is_empty() {
        problems.push(format!(
            "{} of {} clinic(s): {}",
            failing.len(),
            clinics.len(),
            slugs(&failing)
        ));
    }
    problems.extend(console_problem);
    let c = if problems.is_empty() {
        Component::new(key, Level::Ok, ok)
    } else {
        Component::new(key, Level::Failing, problems.join("; ")).fix(fix)
    };
    Item {
        state: c,
        clinics: failing,
    }
}

fn mfa(s: &Sources<'_>, o: &OperatorFacts, clinics: &[ClinicFacts]) -> Item {
    per_clinic(
        s,
        clinics,
        "mfa_admins",
        "/settings/security",
        |f| !f.security.mfa_policy.requires(Role::ClinicAdmin),
        (o.without_mfa > 0).then(|| {
            format!(
                "{} operator account(s) without a second factor",
                o.without_mfa
            )
        }),
        format!(
            "every clinic requires a second factor of its admins (policy \"{}\" or stricter) and every operator has one",
            MfaPolicy::Admins.as_str()
        ),
        "In each clinic named, its admin sets Settings → Sign-in and audit → Two-factor to \"clinic admins\" or \"everyone\"; each operator turns on two-factor under Account.",
    )
}

fn idle(s: &Sources<'_>, o: &OperatorFacts, clinics: &[ClinicFacts]) -> Item {
    per_clinic(
        s,
        clinics,
        "idle_logoff",
        "/settings/security",
        |f| f.security.idle_minutes > MAX_IDLE_MINUTES,
        (o.idle_minutes > MAX_IDLE_MINUTES)
            .then(|| format!("console sessions end after {} idle minutes", o.idle_minutes)),
        format!(
            "every session ends after at most {MAX_IDLE_MINUTES} idle minutes (console: {})",
            o.idle_minutes
        ),
        &format!(
            "In each clinic named, its admin sets Settings → Sign-in and audit → Idle logoff to {MAX_IDLE_MINUTES} minutes or less."
        ),
    )
}

fn retention(s: &Sources<'_>, clinics: &[ClinicFacts]) -> Item {
    per_clinic(
        s,
        clinics,
        "audit_retention",
        "/settings/security",
        |f| f.security.audit_retention_years < MIN_RETENTION_YEARS,
        None,
        format!("every clinic keeps its audit log at least {MIN_RETENTION_YEARS} years"),
        &format!(
            "In each clinic named, its admin sets Settings → Sign-in and audit → Keep the audit log to {MIN_RETENTION_YEARS} years or more."
        ),
    )
}

fn passwords(s: &Sources<'_>, o: &OperatorFacts, clinics: &[ClinicFacts]) -> Item {
    let mut item = per_clinic(
        s,
        clinics,
        "passwords",
        "/settings/users",
        |f| f.temporary_passwords > 0,
        (o.temporary_passwords > 0).then(|| {
            format!(
                "{} operator account(s) still on a temporary password",
                o.temporary_passwords
            )
        }),
        "no account is still on a temporary password, and every password chosen here was checked against 1,000,000 breached ones".to_owned(),
        "A temporary password was handed out and never replaced: its owner signs in and chooses their own, or an admin disables the account (Settings → Staff).",
    );
    if item.state.level == Level::Failing {
        // Accounts waiting for their first sign-in are expected right after they were made.
        item.state.level = Level::Warning;
    }
    item
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn chains_never_checked_broken_stale_and_fresh() {
        let now = at("2026-12-03T10:00:00Z");
        assert_eq!(audit_chains(None, now).state.level, Level::Failing);
        let mut v = ChainsVerified {
            at: at("2026-12-03T09:00:00Z"),
            logs: 3,
            rows: 120,
            broken: vec![],
        };
        assert_eq!(audit_chains(Some(&v), now).state.level, Level::Ok);
        v.at = at("2026-11-25T09:00:00Z");
        assert_eq!(audit_chains(Some(&v), now).state.level, Level::Warning);
        v.at = now;
        v.broken.push("alpha: row 7: hash differs".into());
        let item = audit_chains(Some(&v), now);
        assert_eq!(item.state.level, Level::Failing);
        assert!(item.state.detail.contains("alpha: row 7"));
        assert!(item.state.fix.is_some());
    }

    #[test]
    fn hsts_off_short_and_long() {
        let mut h = Hsts {
            max_age: 0,
            include_subdomains: false,
        };
        assert_eq!(hsts(&h, TlsMode::Acme).state.level, Level::Failing);
        h.max_age = 86_400;
        assert_eq!(hsts(&h, TlsMode::Acme).state.level, Level::Warning);
        h.max_age = MIN_HSTS_SECONDS;
        assert_eq!(hsts(&h, TlsMode::Acme).state.level, Level::Ok);
        assert_eq!(hsts(&h, TlsMode::Off).state.level, Level::Warning);
    }
}
