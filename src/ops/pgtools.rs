//! Finding and running PostgreSQL's own programs (initdb, postgres, pg_dump…).

use std::path::{Path, PathBuf};

use crate::config::DatabaseUrl;
use crate::db::pgenv::libpq_env;

#[derive(Debug, thiserror::Error)]
pub enum PgToolError {
    #[error(
        "PostgreSQL program `{0}` not found on PATH or under /usr/lib/postgresql/<version>/bin; install the Debian package `{1}` (apt-get install {1})"
    )]
    NotFound(String, &'static str),
    #[error("{tool} failed: {message}")]
    Failed { tool: String, message: String },
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// `PATH` first, then Debian's versioned directories, newest version first.
pub fn find(tool: &str) -> Result<PathBuf, PgToolError> {
    if let Some(paths) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&paths) {
            let p = dir.join(tool);
            if is_executable(&p) {
                return Ok(p);
            }
        }
    }
    if let Some(dir) = debian_bin_dirs()
        .into_iter()
        .find(|d| is_executable(&d.join(tool)))
    {
        return Ok(dir.join(tool));
    }
    let package = match tool {
        "pg_dump" | "pg_restore" | "psql" => "postgresql-client",
        _ => "postgresql",
    };
    Err(PgToolError::NotFound(tool.to_owned(), package))
}

/// The directory that holds `initdb` and `postgres` (server binaries, which Debian keeps off PATH).
pub fn server_bin_dir() -> Result<PathBuf, PgToolError> {
    // Resolve symlinks (e.g. /usr/local/bin/initdb -> /usr/lib/postgresql/15/bin/initdb) so the
    // sibling programs are found too.
    let initdb = find("initdb")?;
    let initdb = initdb.canonicalize().unwrap_or(initdb);
    let dir = initdb.parent().map(Path::to_path_buf).unwrap_or_default();
    if ["postgres", "pg_ctl", "pg_isready"]
        .iter()
        .all(|p| is_executable(&dir.join(p)))
    {
        Ok(dir)
    } else {
        Err(PgToolError::NotFound("postgres".into(), "postgresql"))
    }
}

fn debian_bin_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            Some((v, e.path().join("bin")))
        })
        .collect();
    dirs.sort_by_key(|d| std::cmp::Reverse(d.0));
    dirs.into_iter().map(|(_, d)| d).collect()
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Creates `path` with mode 0600 so that a dump of clinic data is never world-readable.
pub fn create_private_file(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map(|_| ())
}

/// `pg_dump --format=custom --schema=<schema>` as the clinic's role (the login role cannot read
/// clinic tables by itself).
pub async fn dump_schema(
    url: &DatabaseUrl,
    clinic: &crate::domain::tenants::TenantIdent,
    out: &Path,
) -> Result<(), PgToolError> {
    let pg_dump = find("pg_dump")?;
    create_private_file(out)?;
    let output = tokio::process::Command::new(&pg_dump)
        .envs(libpq_env(url))
        .arg("--format=custom")
        .arg(format!("--schema={}", clinic.schema.as_str()))
        .arg(format!("--schema={}", clinic.audit_schema().as_str()))
        .arg(format!("--role={}", clinic.role.as_str()))
        .arg(format!("--file={}", out.display()))
        .stdin(std::process::Stdio::null())
        .output()
        .await?;
    if !output.status.success() {
        let _ = std::fs::remove_file(out);
        return Err(PgToolError::Failed {
            tool: "pg_dump".into(),
            message: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        });
    }
    let size = std::fs::metadata(out)?.len();
    if size == 0 {
        return Err(PgToolError::Failed {
            tool: "pg_dump".into(),
            message: "wrote an empty file".into(),
        });
    }
    Ok(())
}
