//! The console's dashboard: what runs (version, uptime), how each component stands (database,
//! migrations, certificates, backups, disk, log directory) with what to do when one is not
//! green, and what the installation holds (clinics, staff, patients, storage).

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::{Config, TlsMode};
use crate::db::migrate::{self, Migrations};
use crate::db::{Db, TenantDb};
use crate::domain::tenants::{self, HostRules, TenantStatus, TenantSummary};

/// Green, amber or red.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Ok,
    Warning,
    Failing,
}

impl Level {
    /// Failing if any is, else Warning if any is, else Ok.
    pub fn worst(levels: impl IntoIterator<Item = Level>) -> Level {
        levels.into_iter().fold(Level::Ok, |w, l| match (w, l) {
            (Level::Failing, _) | (_, Level::Failing) => Level::Failing,
            (Level::Warning, _) | (_, Level::Warning) => Level::Warning,
            _ => Level::Ok,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Warning => "warning",
            Self::Failing => "failing",
        }
    }
}

/// One component's state: what it is, how it stands, and what to do about it.
#[derive(Clone, Debug, Serialize)]
pub struct Component {
    /// `dashboard.<key>` names it.
    pub key: &'static str,
    pub level: Level,
    pub detail: String,
    /// What to do when it is not green.
    pub fix: Option<String>,
    /// The console page that deals with it.
    pub link: Option<&'static str>,
}

impl Component {
    pub(crate) fn new(key: &'static str, level: Level, detail: impl Into<String>) -> Self {
        Self {
            key,
            level,
            detail: detail.into(),
            fix: None,
            link: None,
        }
    }
    pub(crate) fn fix(mut self, fix: impl Into<String>) -> Self {
        if self.level != Level::Ok {
            self.fix = Some(fix.into());
        }
        self
    }
    pub(crate) fn link(mut self, to: &'static str) -> Self {
        self.link = Some(to);
        self
    }
}

/// What one clinic holds.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Usage {
    /// Staff accounts that are not disabled.
    pub staff: i64,
    /// Patients on the registry (deleted ones not counted).
    pub patients: i64,
    /// Its tables and indexes in PostgreSQL.
    pub database_bytes: i64,
    /// Its documents in the document store (with thumbnails).
    pub document_bytes: i64,
}

#[derive(Debug, Serialize)]
pub struct ClinicRow {
    #[serde(flatten)]
    pub clinic: TenantSummary,
    /// None when the clinic's schema could not be read (the reason is logged).
    pub usage: Option<Usage>,
}

#[derive(Debug, Serialize)]
pub struct Dashboard {
    pub version: &'static str,
    pub uptime_seconds: u64,
    pub components: Vec<Component>,
    pub clinics: Vec<ClinicRow>,
    pub active_clinics: usize,
    pub staff: i64,
    pub patients: i64,
    pub database_bytes: Option<i64>,
    pub last_backup: Option<DateTime<Utc>>,
}

impl Dashboard {
    /// The worst level of any component.
    pub fn overall(&self) -> Level {
        Level::worst(self.components.iter().map(|c| c.level))
    }
}

/// Everything the installation needs to say about itself.
pub struct Sources<'a> {
    pub db: &'a Db,
    pub migrations: &'a Migrations,
    pub hosts: &'a HostRules,
    pub config: &'a Config,
    pub now: DateTime<Utc>,
    pub uptime: Duration,
}

/// Below this share of free space on the data directory's file system, the disk is amber;
/// below the second, red.
const DISK_WARN_PERCENT: f64 = 10.0;
const DISK_FAIL_PERCENT: f64 = 3.0;

pub async fn collect(s: &Sources<'_>) -> Dashboard {
    let mut components = Vec::new();
    let size = database_size(s.db).await;
    components.push(match &size {
        Ok((version, bytes)) => Component::new(
            "database",
            Level::Ok,
            format!("{version}, {}", human(*bytes)),
        ),
        Err(e) => Component::new("database", Level::Failing, short(e))
            .fix("Check that PostgreSQL runs (systemctl status postgresql) and that database.url in /etc/clinicbox/clinicbox.toml points at it."),
    });
    components.push(match migrate::status(&s.db.pool, s.migrations).await {
        Ok(st) => match st.problem() {
            None => Component::new(
                "migrations",
                Level::Ok,
                format!(
                    "control schema {}, every clinic at version {}",
                    st.control_version,
                    s.migrations.latest_tenant()
                ),
            ),
            Some(p) => Component::new("migrations", Level::Failing, p.clone())
                .fix("The service migrates when it starts: restart it (systemctl restart clinicbox), or run clinicbox migrate and read what it says."),
        },
        Err(e) => Component::new("migrations", Level::Failing, short(&e))
            .fix("The database does not answer; see the database line."),
    });
    components.push(certificates(s).await);
    let backup = crate::ops::backup::status(&s.db.pool, s.now).await;
    let last_backup = backup
        .as_ref()
        .ok()
        .and_then(|b| b.last_success.as_ref().map(|l| l.at));
    components.push(match backup {
        Ok(b) => {
            let last = b.last_success.as_ref().map(|l| {
                format!(
                    "last backup {} ({})",
                    l.at.format("%Y-%m-%d %H:%M UTC"),
                    l.bytes.map(|n| human(n as i64)).unwrap_or_default()
                )
            });
            match b.warning {
                None => Component::new(
                    "backups",
                    Level::Ok,
                    last.unwrap_or_else(|| "no backup yet".to_owned()),
                ),
                Some(w) => Component::new(
                    "backups",
                    Level::Warning,
                    match last {
                        Some(l) => format!("{l}; {w}"),
                        None => w,
                    },
                )
                    .fix("Open Backups: turn daily backups on, or press Back up now and read the error if it fails."),
            }
            .link("/backups")
        }
        Err(e) => Component::new("backups", Level::Failing, short(&e)).link("/backups"),
    });
    components.push(disk(&s.config.storage.data_dir));
    components.push(log_dir(s.config.log.dir.as_deref()));

    let clinics = clinic_rows(s).await;
    let active_clinics = clinics
        .iter()
        .filter(|c| c.clinic.tenant.status == TenantStatus::Active)
        .count();
    let staff = clinics
        .iter()
        .filter_map(|c| c.usage.as_ref())
        .map(|u| u.staff)
        .sum();
    let patients = clinics
        .iter()
        .filter_map(|c| c.usage.as_ref())
        .map(|u| u.patients)
        .sum();
    Dashboard {
        version: crate::VERSION,
        uptime_seconds: s.uptime.as_secs(),
        components,
        clinics,
        active_clinics,
        staff,
        patients,
        database_bytes: size.ok().map(|(_, b)| b),
        last_backup,
    }
}

async fn database_size(db: &Db) -> Result<(String, i64), sqlx::Error> {
    let check = tokio::time::timeout(
        Duration::from_secs(3),
        sqlx::query!(
            r#"SELECT 'PostgreSQL ' || current_setting('server_version') AS "version!",
                      pg_database_size(current_database()) AS "bytes!""#
        )
        .fetch_one(&db.pool),
    )
    .await;
    let r = check.unwrap_or(Err(sqlx::Error::PoolTimedOut))?;
    Ok((r.version, r.bytes))
}

pub(crate) async fn certificates(s: &Sources<'_>) -> Component {
    if s.config.tls.mode == TlsMode::Off {
        return Component::new(
            "certificates",
            Level::Ok,
            "HTTPS is handled by the proxy in front of ClinicBox (tls.mode = \"off\")",
        )
        .link("/certificates");
    }
    if s.config.tls.mode == TlsMode::Manual {
        return Component::new(
            "certificates",
            Level::Ok,
            "certificates come from files (tls.mode = \"manual\")",
        )
        .link("/certificates");
    }
    match crate::tls::status::collect(s.db, s.hosts, s.now).await {
        Ok(hosts) => {
            use crate::tls::status::State;
            let count = |st: State| hosts.iter().filter(|h| h.state == st).count();
            let (valid, renewing, pending, expired) = (
                count(State::Valid),
                count(State::Renewing),
                count(State::Pending),
                count(State::Expired),
            );
            let detail = format!(
                "{valid} valid, {renewing} renewing, {pending} pending, {expired} expired of {} host(s)",
                hosts.len()
            );
            let level = if expired > 0 {
                Level::Failing
            } else if pending > 0 {
                Level::Warning
            } else {
                Level::Ok
            };
            Component::new("certificates", level, detail)
                .fix("Open Certificates: each host says why it has none yet (often a DNS record that does not point here yet), and Renew now tries again.")
                .link("/certificates")
        }
        Err(e) => {
            Component::new("certificates", Level::Failing, format!("{e:#}")).link("/certificates")
        }
    }
}

fn disk(dir: &Path) -> Component {
    match nix::sys::statvfs::statvfs(dir) {
        Ok(v) => {
            let block = v.fragment_size() as f64;
            let total = v.blocks() as f64 * block;
            let free = v.blocks_available() as f64 * block;
            let pct = if total > 0.0 { free * 100.0 / total } else { 0.0 };
            let level = if pct < DISK_FAIL_PERCENT {
                Level::Failing
            } else if pct < DISK_WARN_PERCENT {
                Level::Warning
            } else {
                Level::Ok
            };
            Component::new(
                "disk",
                level,
                format!(
                    "{} free of {} ({pct:.0} %) on {}",
                    human(free as i64),
                    human(total as i64),
                    dir.display()
                ),
            )
            .fix("Make room: fewer backups kept (Backups → retention), old files under the backup directory, or a larger disk. PostgreSQL stops writing when the disk is full.")
        }
        Err(e) => Component::new(
            "disk",
            Level::Failing,
            format!("{}: {e}", dir.display()),
        )
        .fix("The data directory (storage.data_dir) is missing or unreadable; reinstall the package or fix its owner (clinicbox)."),
    }
}

fn log_dir(dir: Option<&Path>) -> Component {
    let Some(dir) = dir else {
        return Component::new(
            "log_directory",
            Level::Ok,
            "logs go to the journal (journalctl -u clinicbox)",
        );
    };
    match nix::unistd::access(dir, nix::unistd::AccessFlags::W_OK) {
        Ok(()) => Component::new(
            "log_directory",
            Level::Ok,
            format!("{} is writable", dir.display()),
        ),
        Err(e) => Component::new(
            "log_directory",
            Level::Failing,
            format!("{}: {e}", dir.display()),
        )
        .fix("Create the directory and give it to the clinicbox user, or remove log.dir to log to the journal only."),
    }
}

/// Every clinic with what it holds: one short read-only transaction per clinic, as its own
/// role (counts only; no patient's record is read).
async fn clinic_rows(s: &Sources<'_>) -> Vec<ClinicRow> {
    let list = match tenants::list(s.db, s.hosts).await {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(error = %e, "dashboard: clinics could not be listed");
            return Vec::new();
        }
    };
    let sizes = schema_sizes(s.db).await.unwrap_or_default();
    let mut rows = Vec::with_capacity(list.len());
    for clinic in list {
        let usage = match counts(s.db, &clinic).await {
            Ok(mut u) => {
                u.database_bytes = sizes
                    .iter()
                    .find(|(schema, _)| schema == clinic.tenant.db.schema.as_str())
                    .map_or(0, |(_, b)| *b);
                Some(u)
            }
            Err(e) => {
                tracing::warn!(tenant = %clinic.tenant.slug, error = %e, "dashboard: clinic usage unreadable");
                None
            }
        };
        rows.push(ClinicRow { clinic, usage });
    }
    rows
}

/// What one clinic holds (the console's clinic page).
pub async fn usage(db: &Db, c: &TenantSummary) -> sqlx::Result<Usage> {
    let mut u = counts(db, c).await?;
    u.database_bytes = schema_sizes(db)
        .await?
        .into_iter()
        .find(|(schema, _)| schema == c.tenant.db.schema.as_str())
        .map_or(0, |(_, b)| b);
    Ok(u)
}

async fn counts(db: &Db, c: &TenantSummary) -> sqlx::Result<Usage> {
    let mut tx = TenantDb::begin(&db.pool, &c.tenant.db).await?;
    let r = sqlx::query!(
        r#"SELECT (SELECT count(*) FROM users WHERE status <> 'disabled') AS "staff!",
                  (SELECT count(*) FROM patients WHERE deleted_at IS NULL) AS "patients!",
                  (SELECT coalesce(sum(size_bytes + coalesce(thumb_bytes, 0)), 0)::bigint
                     FROM documents) AS "documents!""#
    )
    .fetch_one(&mut *tx)
    .await?;
    let (staff, patients, document_bytes) = (r.staff, r.patients, r.documents);
    tx.rollback().await?;
    Ok(Usage {
        staff,
        patients,
        database_bytes: 0,
        document_bytes,
    })
}

/// Bytes of every clinic schema's tables and indexes, from the catalog.
async fn schema_sizes(db: &Db) -> sqlx::Result<Vec<(String, i64)>> {
    let rows = sqlx::query!(
        r#"SELECT n.nspname::text AS "schema!",
                  coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint AS "bytes!"
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'm') AND n.nspname LIKE 'tenant\_%'
            GROUP BY n.nspname"#
    )
    .fetch_all(&db.pool)
    .await?;
    Ok(rows.into_iter().map(|r| (r.schema, r.bytes)).collect())
}

pub(crate) fn short(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::PoolTimedOut => "no answer within 3 s".into(),
        sqlx::Error::Io(io) => io.kind().to_string(),
        other => other.to_string().chars().take(200).collect(),
    }
}

/// Bytes as people read them (1.2 GB, 340 MB, 12 kB).
pub fn human(n: i64) -> String {
    crate::ops::backup::human_bytes(n.max(0) as u64)
}
