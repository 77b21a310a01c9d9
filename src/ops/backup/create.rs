//! Taking a backup: the whole installation, or one clinic.

use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::{DateTime, Utc};

use super::manifest::{AuditEntry, ClinicEntry, FileEntry, Kind, Manifest, hash_file};
use super::settings::{BackupSettings, Encryption};
use super::snapshot::{Snapshot, table_stats};
use super::{At, BackupError, Ctx, Progress, archive, backups_dir, documents_dir};
use crate::db::pgenv::libpq_env;
use crate::domain::audit::{LogId, transfer};
use crate::domain::tenants::{Ident, Slug, TenantIdent};

pub struct Created {
    pub path: PathBuf,
    pub bytes: u64,
    pub manifest: Manifest,
}

#[derive(sqlx::FromRow)]
struct ClinicRow {
    id: i64,
    slug: String,
    display_name: String,
    status: String,
    db_schema: String,
    db_role: String,
    schema_version: i64,
    branding: serde_json::Value,
}

/// `clinicbox-20261121T023000Z-daily.backup.tar[.age]`, `clinic-demo-…-export.backup.tar`.
pub fn file_name(clinic: Option<&str>, at: DateTime<Utc>, reason: &str, encrypted: bool) -> String {
    let prefix = match clinic {
        Some(slug) => format!("clinic-{slug}"),
        None => "clinicbox".to_owned(),
    };
    let ext = if encrypted { ".age" } else { "" };
    format!(
        "{prefix}-{}-{reason}.backup.tar{ext}",
        at.format("%Y%m%dT%H%M%SZ")
    )
}

/// Takes a backup. `clinic` limits it to one clinic; `out` overrides the file location.
pub async fn create(
    ctx: &Ctx<'_>,
    reason: &str,
    clinic: Option<&Slug>,
    out: Option<&Path>,
    progress: &dyn Progress,
) -> Result<Created, BackupError> {
    let started = Instant::now();
    let settings = BackupSettings::load(&ctx.db.pool).await?;
    let staging = super::WorkDir::new(ctx, "work")?;
    take(
        ctx,
        reason,
        clinic,
        out,
        &settings.encryption,
        &staging.0,
        started,
        progress,
    )
    .await
}

async fn take(
    ctx: &Ctx<'_>,
    reason: &str,
    clinic: Option<&Slug>,
    out: Option<&Path>,
    enc: &Encryption,
    staging: &Path,
    started: Instant,
    progress: &dyn Progress,
) -> Result<Created, BackupError> {
    // The chains first, so that the heads in the manifest cover every row written so far.
    seal_audit_logs(ctx, clinic).await?;
    let mut snap = Snapshot::begin(&ctx.db.pool).await?;
    let control_version: i64 = sqlx::query_scalar!(
        r#"SELECT coalesce(max(version), 0) AS "v!" FROM clinicbox.schema_migrations"#
    )
    .fetch_one(snap.conn())
    .await?;
    let mut rows: Vec<ClinicRow> = sqlx::query_as!(
        ClinicRow,
        "SELECT id, slug, display_name, status, db_schema, db_role, schema_version, branding
           FROM clinicbox.tenants ORDER BY slug"
    )
    .fetch_all(snap.conn())
    .await?;
    if let Some(s) = clinic {
        rows.retain(|r| r.slug == s.as_str());
        if rows.is_empty() {
            return Err(BackupError::Other(format!("no clinic with slug '{s}'")));
        }
    }
    let hosts: Vec<(i64, String)> = sqlx::query!(
        "SELECT tenant_id, hostname FROM clinicbox.tenant_hostnames ORDER BY hostname"
    )
    .map(|r| (r.tenant_id, r.hostname))
    .fetch_all(snap.conn())
    .await?;

    // One per clinic, the control schema, checksums, documents, the archive.
    let total_steps = rows.len() + usize::from(clinic.is_none()) + 3;
    progress.start(total_steps);
    let control = if clinic.is_none() {
        progress.step("database: control schema");
        let path = staging.join("control.dump");
        pg_dump(ctx, &snap.id, "clinicbox", None, &path).await?;
        Some(entry(staging, "control.dump")?)
    } else {
        None
    };
    let clinics_dir = staging.join("clinics");
    std::fs::create_dir_all(&clinics_dir).at(&clinics_dir)?;
    // Two dumps at a time (the snapshot is shared, the server does the work).
    let mut dumps = Vec::with_capacity(rows.len());
    for pair in rows.chunks(2) {
        match pair {
            [a, b] => {
                let (x, y) = tokio::join!(
                    dump_clinic(ctx, &snap.id, staging, a, progress),
                    dump_clinic(ctx, &snap.id, staging, b, progress)
                );
                dumps.push(x);
                dumps.push(y);
            }
            [a] => dumps.push(dump_clinic(ctx, &snap.id, staging, a, progress).await),
            _ => {}
        }
    }
    let mut clinics: Vec<ClinicEntry> = Vec::new();
    for (r, dump) in rows.iter().zip(dumps) {
        let rel = dump?;
        let custom_hosts = hosts
            .iter()
            .filter(|(t, _)| *t == r.id)
            .map(|(_, n)| n.clone())
            .collect();
        clinics.push(ClinicEntry {
            slug: r.slug.clone(),
            display_name: r.display_name.clone(),
            status: r.status.clone(),
            db_schema: r.db_schema.clone(),
            db_role: r.db_role.clone(),
            schema_version: r.schema_version,
            custom_hosts,
            branding: r.branding.clone(),
            dump: entry(staging, &rel)?,
            audit: None,
        });
    }

    progress.step("checksums of every table");
    let mut tables = Vec::new();
    if clinic.is_none() {
        tables.extend(table_stats(snap.conn(), "clinicbox", None).await?);
    }
    for r in &rows {
        tables.extend(table_stats(snap.conn(), &r.db_schema, Some(&r.db_role)).await?);
    }
    // The audit logs, in the same snapshot, with the heads of their chains.
    let system_audit = if clinic.is_none() {
        Some(export_audit(snap.conn(), staging, &LogId::system(), "control", None).await?)
    } else {
        None
    };
    for (r, c) in rows.iter().zip(clinics.iter_mut()) {
        let ident = clinic_ident(r)?;
        c.audit = Some(
            export_audit(
                snap.conn(),
                staging,
                &LogId::clinic(&ident),
                &format!("clinics/{}", r.slug),
                Some(&r.db_role),
            )
            .await?,
        );
    }
    snap.end().await?;

    progress.step("documents");
    let docs_root = documents_dir(ctx.config);
    let mut documents = Vec::new();
    let doc_dirs: Vec<PathBuf> = match clinic {
        Some(s) => vec![docs_root.join(s.as_str())],
        None => vec![docs_root.clone()],
    };
    for d in doc_dirs {
        collect_documents(&docs_root, &d, &mut documents)?;
    }

    let manifest = Manifest {
        format: super::manifest::FORMAT,
        product: "clinicbox".into(),
        version: crate::VERSION.into(),
        created_at: ctx.now,
        kind: if clinic.is_some() {
            Kind::Clinic
        } else {
            Kind::Full
        },
        reason: reason.to_owned(),
        login_role: ctx.db.login_role.as_str().to_owned(),
        control_version,
        control,
        clinics,
        documents,
        tables,
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        system_audit,
    };
    let encrypted = *enc != Encryption::None;
    let path = match out {
        Some(p) => p.to_owned(),
        None => backups_dir(ctx.config).join(file_name(
            clinic.map(Slug::as_str),
            ctx.now,
            reason,
            encrypted,
        )),
    };
    progress.step("writing the archive");
    let docs_parent = docs_root
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let manifest_c = manifest.clone();
    let staging_c = staging.to_owned();
    let path_c = path.clone();
    let enc_c = enc.clone();
    let secrets = ctx.secrets.clone();
    let bytes = tokio::task::spawn_blocking(move || {
        archive::write(
            &path_c,
            &manifest_c,
            &|rel: &str| {
                if rel.starts_with("documents/") {
                    docs_parent.join(rel)
                } else {
                    staging_c.join(rel)
                }
            },
            &enc_c,
            &secrets,
        )
    })
    .await
    .map_err(|e| BackupError::Other(e.to_string()))??;
    progress.finish(&format!(
        "{} ({})",
        path.display(),
        super::human_bytes(bytes)
    ));
    Ok(Created {
        path,
        bytes,
        manifest,
    })
}

async fn dump_clinic(
    ctx: &Ctx<'_>,
    snapshot: &str,
    staging: &Path,
    r: &ClinicRow,
    progress: &dyn Progress,
) -> Result<String, BackupError> {
    let rel = format!("clinics/{}.dump", r.slug);
    pg_dump(
        ctx,
        snapshot,
        &r.db_schema,
        Some(&r.db_role),
        &staging.join(&rel),
    )
    .await?;
    progress.step(&format!("database: clinic {}", r.slug));
    Ok(rel)
}

async fn seal_audit_logs(ctx: &Ctx<'_>, clinic: Option<&Slug>) -> Result<(), BackupError> {
    let pool = &ctx.db.pool;
    if clinic.is_none() {
        crate::domain::audit::seal_system(pool, ctx.secrets).await?;
    }
    for t in crate::domain::tenants::list(ctx.db, &ctx.config.server.host_rules())
        .await
        .map_err(|e| BackupError::Other(e.to_string()))?
    {
        if clinic.is_none_or(|s| *s == t.tenant.slug) {
            crate::domain::audit::seal_clinic(pool, ctx.secrets, &t.tenant.db).await?;
        }
    }
    Ok(())
}

fn clinic_ident(r: &ClinicRow) -> Result<TenantIdent, BackupError> {
    let bad = |e: crate::domain::tenants::NameError| BackupError::Other(e.to_string());
    Ok(TenantIdent {
        schema: Ident::parse(&r.db_schema).map_err(bad)?,
        role: Ident::parse(&r.db_role).map_err(bad)?,
    })
}

/// Exports one audit log into `<prefix>.audit.{rows,chain,anchors}` of the staging directory,
/// reading it as `role` (a clinic's log is readable only by its clinic's role).
async fn export_audit(
    conn: &mut sqlx::PgConnection,
    staging: &Path,
    log: &LogId,
    prefix: &str,
    role: Option<&str>,
) -> Result<AuditEntry, BackupError> {
    if let Some(r) = role {
        sqlx::query_scalar!("SELECT set_config('role', $1, true)", r)
            .fetch_one(&mut *conn)
            .await?;
    }
    let rel = |what: &str| format!("{prefix}.audit.{what}");
    let (rows, chain, anchors) = (
        staging.join(rel("rows")),
        staging.join(rel("chain")),
        staging.join(rel("anchors")),
    );
    let exported = transfer::export(
        conn,
        log,
        &transfer::Files {
            rows: &rows,
            chain: &chain,
            anchors: &anchors,
        },
    )
    .await
    .map_err(|e| BackupError::Other(format!("audit log {}: {e}", log.as_str())))?;
    if role.is_some() {
        sqlx::query_scalar!("SELECT set_config('role', 'none', true)")
            .fetch_one(&mut *conn)
            .await?;
    }
    Ok(AuditEntry {
        rows: entry(staging, &rel("rows"))?,
        chain: entry(staging, &rel("chain"))?,
        anchors: entry(staging, &rel("anchors"))?,
        head: exported.head,
        legacy_anchor: exported.legacy_anchor,
    })
}

fn entry(staging: &Path, rel: &str) -> Result<FileEntry, BackupError> {
    let path = staging.join(rel);
    let (sha256, bytes) = hash_file(&path).at(&path)?;
    Ok(FileEntry {
        path: rel.to_owned(),
        bytes,
        sha256,
    })
}

fn collect_documents(root: &Path, dir: &Path, out: &mut Vec<FileEntry>) -> Result<(), BackupError> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(BackupError::File {
                path: dir.to_owned(),
                source: e,
            });
        }
    };
    let mut entries: Vec<_> = rd.collect::<Result<_, _>>().at(dir)?;
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for e in entries {
        let p = e.path();
        let ft = e.file_type().at(&p)?;
        if ft.is_dir() {
            collect_documents(root, &p, out)?;
        } else if ft.is_file() {
            let rel = p.strip_prefix(root).map_err(|_| {
                BackupError::Other(format!(
                    "{} is outside the documents directory",
                    p.display()
                ))
            })?;
            let rel = format!("documents/{}", rel.to_string_lossy());
            if !super::manifest::safe_relative(&rel) {
                return Err(BackupError::Other(format!(
                    "document name {rel:?} cannot be backed up"
                )));
            }
            let (sha256, bytes) = hash_file(&p).at(&p)?;
            out.push(FileEntry {
                path: rel,
                bytes,
                sha256,
            });
        }
    }
    Ok(())
}

/// `pg_dump --format=custom` of one schema in the exported snapshot; as the clinic's role for
/// a clinic schema (the login role cannot read clinic tables itself).
async fn pg_dump(
    ctx: &Ctx<'_>,
    snapshot: &str,
    schema: &str,
    role: Option<&str>,
    out: &Path,
) -> Result<(), BackupError> {
    let pg_dump = crate::ops::pgtools::find("pg_dump")?;
    let mut cmd = tokio::process::Command::new(&pg_dump);
    cmd.envs(libpq_env(&ctx.config.database.url))
        .arg("--format=custom")
        .arg("--no-sync")
        .arg(format!("--snapshot={snapshot}"))
        .arg(format!("--schema={schema}"))
        .arg(format!("--file={}", out.display()))
        .stdin(std::process::Stdio::null());
    if let Some(r) = role {
        cmd.arg(format!("--role={r}"));
    }
    let output = cmd.output().await.at(&pg_dump)?;
    if !output.status.success() {
        let _ = std::fs::remove_file(out);
        return Err(BackupError::Tool(format!(
            "pg_dump of {schema} into {} failed: {}",
            out.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(())
}
