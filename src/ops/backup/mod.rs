//! Backups: one archive per backup (a PostgreSQL dump per schema taken in one snapshot, the
//! documents, and a manifest with sizes, SHA-256 sums and per-table row counts and
//! checksums), optionally encrypted with age; retention; a daily schedule inside `serve`;
//! verification by restoring into a scratch database; restore of everything or one clinic.
//!
//! Files live in `<data_dir>/backups/` (mode 0700, files 0600). The installation secret key
//! is not in them: keep `/etc/clinicbox/` (config and `secret.key`) safe separately.

pub mod archive;
pub mod create;
pub mod manifest;
pub mod restore;
pub mod retention;
pub mod schedule;
pub mod settings;
pub mod snapshot;

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::db::Db;
use crate::ops::secrets::Secrets;

pub use archive::Key;
pub use settings::{BackupSettings, Encryption, LastRun};

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("cannot open {0}: {1}")]
    Open(PathBuf, String),
    #[error("{0} is damaged or not a ClinicBox backup: {1}")]
    Damaged(PathBuf, String),
    #[error("{0}")]
    Key(String),
    #[error("{0}")]
    Tool(String),
    #[error("{0}")]
    Other(String),
    #[error(transparent)]
    PgTool(#[from] crate::ops::pgtools::PgToolError),
    #[error(transparent)]
    Secrets(#[from] crate::ops::secrets::SecretsError),
    #[error("database: {0}")]
    Sql(#[from] sqlx::Error),
    /// A file or directory that could not be read or written, named.
    #[error("{}: {source}", path.display())]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Names the file an I/O error happened on: "…/backups/x.tar.partial: No space left on device".
pub(crate) trait At<T> {
    fn at(self, path: &Path) -> Result<T, BackupError>;
}

impl<T> At<T> for std::io::Result<T> {
    fn at(self, path: &Path) -> Result<T, BackupError> {
        self.map_err(|source| BackupError::File {
            path: path.to_owned(),
            source,
        })
    }
}

/// What every backup operation needs.
pub struct Ctx<'a> {
    pub db: &'a Db,
    pub config: &'a Config,
    pub secrets: &'a Secrets,
    pub now: DateTime<Utc>,
}

/// Progress of a long operation: a bar on a terminal, plain lines otherwise, nothing inside
/// the server.
pub trait Progress: Sync {
    fn start(&self, _steps: usize) {}
    fn step(&self, _what: &str) {}
    fn finish(&self, _what: &str) {}
}

pub struct Quiet;
impl Progress for Quiet {}

pub fn backups_dir(cfg: &Config) -> PathBuf {
    cfg.storage.data_dir.join("backups")
}

/// Uploaded documents, one directory per clinic: `<data_dir>/documents/<slug>/…`.
pub fn documents_dir(cfg: &Config) -> PathBuf {
    cfg.storage.data_dir.join("documents")
}

/// A private working directory next to the backups, removed on drop.
pub(crate) struct WorkDir(pub(crate) PathBuf);

impl WorkDir {
    pub(crate) fn new(ctx: &Ctx<'_>, what: &str) -> Result<Self, BackupError> {
        let dir = backups_dir(ctx.config).join(format!(
            ".{what}-{}",
            hex::encode(crate::ops::secrets::random_bytes::<6>()?)
        ));
        // The backups directory itself first: it may not exist yet.
        let backups = backups_dir(ctx.config);
        ensure_private_dir(&backups).at(&backups)?;
        ensure_private_dir(&dir).at(&dir)?;
        Ok(Self(dir))
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn ensure_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

pub fn human_bytes(n: u64) -> String {
    let n = n as f64;
    if n >= 1e9 {
        format!("{:.1} GB", n / 1e9)
    } else if n >= 1e6 {
        format!("{:.1} MB", n / 1e6)
    } else if n >= 1e3 {
        format!("{:.0} kB", n / 1e3)
    } else {
        format!("{n} B")
    }
}

/// One file in the backups directory.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Listed {
    pub file: String,
    pub path: PathBuf,
    pub bytes: u64,
    pub encrypted: bool,
    pub created_at: Option<DateTime<Utc>>,
    pub clinic: Option<String>,
    pub reason: Option<String>,
}

/// Backups in the directory, newest first. Dates and kinds come from the file names, so
/// encrypted backups are listed without their key.
pub fn list(cfg: &Config) -> std::io::Result<Vec<Listed>> {
    let dir = backups_dir(cfg);
    let rd = match std::fs::read_dir(&dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for e in rd {
        let e = e?;
        let name = e.file_name().to_string_lossy().into_owned();
        let encrypted = name.ends_with(".backup.tar.age");
        if !(name.ends_with(".backup.tar") || encrypted) || !e.file_type()?.is_file() {
            continue;
        }
        let (created_at, clinic, reason) = parse_name(&name);
        out.push(Listed {
            bytes: e.metadata()?.len(),
            path: e.path(),
            file: name,
            encrypted,
            created_at,
            clinic,
            reason,
        });
    }
    out.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.file.cmp(&a.file)));
    Ok(out)
}

/// `clinicbox-<ts>-<reason>.backup.tar[.age]` or `clinic-<slug>-<ts>-<reason>…`.
pub fn parse_name(name: &str) -> (Option<DateTime<Utc>>, Option<String>, Option<String>) {
    let stem = name
        .trim_end_matches(".age")
        .trim_end_matches(".backup.tar");
    let (clinic, rest) = if let Some(rest) = stem.strip_prefix("clinicbox-") {
        (None, rest)
    } else if let Some(rest) = stem.strip_prefix("clinic-") {
        // The slug may contain '-'; the timestamp is the first part that parses as one.
        let parts: Vec<&str> = rest.split('-').collect();
        match parts.iter().position(|p| parse_ts(p).is_some()) {
            Some(i) => (
                Some(parts[..i].join("-")),
                &rest[parts[..i].join("-").len() + 1..],
            ),
            None => return (None, None, None),
        }
    } else {
        return (None, None, None);
    };
    let (ts, reason) = rest.split_once('-').unwrap_or((rest, ""));
    (
        parse_ts(ts),
        clinic,
        (!reason.is_empty()).then(|| reason.to_owned()),
    )
}

fn parse_ts(s: &str) -> Option<DateTime<Utc>> {
    chrono::NaiveDateTime::parse_from_str(s, "%Y%m%dT%H%M%SZ")
        .ok()
        .map(|n| n.and_utc())
}

/// How backups stand, for `/readyz`, `/metrics`, `check` and the console.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Status {
    pub enabled: bool,
    pub last: Option<LastRun>,
    pub last_success: Option<LastRun>,
    /// Seconds since the last successful backup.
    pub age_seconds: Option<i64>,
    /// Something an operator should look at, in one sentence.
    pub warning: Option<String>,
}

/// A daily backup older than this is late.
pub const STALE_AFTER_HOURS: i64 = 26;

pub async fn status(pool: &sqlx::PgPool, now: DateTime<Utc>) -> sqlx::Result<Status> {
    let settings = BackupSettings::load(pool).await?;
    let (last, last_success) = settings::last_run(pool).await?;
    // Never negative, even when a clock moved backwards.
    let age_seconds = last_success
        .as_ref()
        .map(|l| (now - l.at).num_seconds().max(0));
    let warning = if let Some(l) = last.as_ref().filter(|l| !l.ok) {
        Some(format!(
            "the last backup failed ({}): {}",
            l.at.format("%Y-%m-%d %H:%M UTC"),
            l.error.as_deref().unwrap_or("unknown error")
        ))
    } else if !settings.enabled {
        Some("scheduled backups are turned off".into())
    } else if age_seconds.is_some_and(|a| a > STALE_AFTER_HOURS * 3600) {
        Some(format!(
            "the last successful backup is {} hours old",
            age_seconds.unwrap_or_default() / 3600
        ))
    } else if last_success.is_none() {
        Some("no backup has been taken yet".into())
    } else {
        None
    };
    Ok(Status {
        enabled: settings.enabled,
        last,
        last_success,
        age_seconds,
        warning,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        let at = DateTime::parse_from_rfc3339("2026-11-21T02:30:00Z")
            .unwrap()
            .to_utc();
        let n = create::file_name(None, at, "daily", false);
        assert_eq!(n, "clinicbox-20261121T023000Z-daily.backup.tar");
        assert_eq!(parse_name(&n), (Some(at), None, Some("daily".into())));
        let n = create::file_name(Some("st-mary"), at, "pre-restore", true);
        assert_eq!(
            n,
            "clinic-st-mary-20261121T023000Z-pre-restore.backup.tar.age"
        );
        assert_eq!(
            parse_name(&n),
            (Some(at), Some("st-mary".into()), Some("pre-restore".into()))
        );
        assert_eq!(parse_name("notes.txt"), (None, None, None));
    }
}
