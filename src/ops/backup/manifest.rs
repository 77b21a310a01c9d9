//! What a backup archive holds, written as `manifest.json` at its start.

use std::io::Read;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub const FORMAT: u32 = 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// The whole installation: control schema, every clinic, every document.
    Full,
    /// One clinic (`tenant export`, safety copies before a clinic restore).
    Clinic,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct FileEntry {
    /// Path inside the archive.
    pub path: String,
    pub bytes: u64,
    pub sha256: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ClinicEntry {
    pub slug: String,
    pub display_name: String,
    pub status: String,
    pub db_schema: String,
    pub db_role: String,
    pub schema_version: i64,
    /// The clinic's own domains (its `<slug>.<base_domain>` name is implied).
    pub custom_hosts: Vec<String>,
    pub branding: serde_json::Value,
    pub dump: FileEntry,
    /// The clinic's audit log (backups from before release 0.2 have it inside the dump).
    #[serde(default)]
    pub audit: Option<AuditEntry>,
}

/// An audit log, exported as CSV in the snapshot of the dumps, with the head of its chain so
/// that a log cut short later is noticed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AuditEntry {
    pub rows: FileEntry,
    pub chain: FileEntry,
    pub anchors: FileEntry,
    pub head: crate::domain::audit::Head,
    /// Where an earlier release's chain resumed after pruning (see `clinicbox_audit.legacy_anchors`).
    #[serde(default)]
    pub legacy_anchor: Option<crate::domain::audit::Head>,
}

impl AuditEntry {
    pub fn files(&self) -> [&FileEntry; 3] {
        [&self.rows, &self.chain, &self.anchors]
    }
}

/// Rows and a checksum of one table, taken in the same snapshot as the dumps.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct TableStat {
    pub schema: String,
    pub table: String,
    pub rows: i64,
    pub checksum: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub product: String,
    pub version: String,
    pub created_at: DateTime<Utc>,
    pub kind: Kind,
    /// daily, manual, pre-upgrade, pre-restore, export
    pub reason: String,
    pub login_role: String,
    pub control_version: i64,
    pub control: Option<FileEntry>,
    pub clinics: Vec<ClinicEntry>,
    pub documents: Vec<FileEntry>,
    pub tables: Vec<TableStat>,
    pub duration_ms: u64,
    /// The installation's audit log (full backups).
    #[serde(default)]
    pub system_audit: Option<AuditEntry>,
}

impl Manifest {
    /// Every file the archive must contain besides the manifest.
    pub fn files(&self) -> impl Iterator<Item = &FileEntry> {
        self.control
            .iter()
            .chain(self.clinics.iter().map(|c| &c.dump))
            .chain(
                self.clinics
                    .iter()
                    .filter_map(|c| c.audit.as_ref())
                    .chain(self.system_audit.iter())
                    .flat_map(AuditEntry::files),
            )
            .chain(self.documents.iter())
    }

    pub fn total_bytes(&self) -> u64 {
        self.files().map(|f| f.bytes).sum()
    }

    pub fn clinic(&self, slug: &str) -> Option<&ClinicEntry> {
        self.clinics.iter().find(|c| c.slug == slug)
    }
}

/// SHA-256 (hex) and size of a file.
pub fn hash_file(path: &Path) -> std::io::Result<(String, u64)> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut n = 0u64;
    loop {
        let k = f.read(&mut buf)?;
        if k == 0 {
            break;
        }
        h.update(&buf[..k]);
        n += k as u64;
    }
    Ok((hex::encode(h.finalize()), n))
}

/// Only plain relative paths may come out of an archive: no `..`, no absolute paths.
pub fn safe_relative(path: &str) -> bool {
    let p = Path::new(path);
    !path.is_empty()
        && p.components()
            .all(|c| matches!(c, std::path::Component::Normal(_)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_relative_paths_are_safe() {
        assert!(safe_relative("documents/demo/a.pdf"));
        assert!(!safe_relative("../etc/passwd"));
        assert!(!safe_relative("/etc/passwd"));
        assert!(!safe_relative("documents/../../x"));
        assert!(!safe_relative(""));
    }
}
