//! Reading a backup back: `verify` restores it into a scratch database and compares every
//! table with the manifest; `restore` puts it in place of the installation, or of one clinic.

use std::path::{Path, PathBuf};

use sqlx::PgPool;
use sqlx::postgres::PgConnectOptions;

use super::archive::{self, Key};
use super::manifest::{AuditEntry, ClinicEntry, Kind, Manifest, TableStat};
use super::snapshot::{quote_ident, stable_settings, table_stats};
use super::{BackupError, Ctx, Progress, WorkDir, documents_dir};
use crate::db::TenantDb;
use crate::db::migrate::Migrations;
use crate::db::pgenv::libpq_env;
use crate::domain::audit::{LogId, transfer};
use crate::domain::tenants::{self, DisplayName, Hostname, Ident, Slug, TenantIdent};

/// The result of comparing a restored database with a manifest.
#[derive(Debug, Default, serde::Serialize)]
pub struct Comparison {
    pub tables: usize,
    pub rows: i64,
    pub documents: usize,
    pub problems: Vec<String>,
}

impl Comparison {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

pub fn compare(expected: &[TableStat], found: &[TableStat]) -> Comparison {
    let mut c = Comparison {
        tables: expected.len(),
        rows: expected.iter().map(|t| t.rows).sum(),
        ..Comparison::default()
    };
    for e in expected {
        match found
            .iter()
            .find(|f| f.schema == e.schema && f.table == e.table)
        {
            None => c
                .problems
                .push(format!("{}.{}: missing", e.schema, e.table)),
            Some(f) if f.rows != e.rows => c.problems.push(format!(
                "{}.{}: {} rows instead of {}",
                e.schema, e.table, f.rows, e.rows
            )),
            Some(f) if f.checksum != e.checksum => c.problems.push(format!(
                "{}.{}: contents differ (checksum)",
                e.schema, e.table
            )),
            Some(_) => {}
        }
    }
    for f in found {
        if !expected
            .iter()
            .any(|e| e.schema == f.schema && e.table == f.table)
        {
            c.problems
                .push(format!("{}.{}: not in the backup", f.schema, f.table));
        }
    }
    c
}

async fn extract(path: &Path, key: Key, dest: &Path) -> Result<Manifest, BackupError> {
    let (file, dest) = (path.to_owned(), dest.to_owned());
    let m = tokio::task::spawn_blocking(move || archive::extract(&file, &key, &dest))
        .await
        .map_err(|e| BackupError::Other(e.to_string()))??;
    check_names(&m).map_err(|why| BackupError::Damaged(path.to_owned(), why))?;
    Ok(m)
}

/// Schema and role names from the manifest end up in SQL: each must be exactly what the
/// clinic's slug and the login role make of it, as when the clinic was created.
fn check_names(m: &Manifest) -> Result<(), String> {
    let login = Ident::parse_login_role(&m.login_role).map_err(|e| e.to_string())?;
    for c in &m.clinics {
        let slug = Slug::parse(&c.slug).map_err(|e| e.to_string())?;
        if c.db_schema != slug.schema_name().as_str()
            || c.db_role != slug.role_name(&login).as_str()
        {
            return Err(format!(
                "clinic {} names schema {:?} and role {:?}, not its own",
                c.slug, c.db_schema, c.db_role
            ));
        }
    }
    Ok(())
}

/// `pg_restore` of one dump into database `dbname`. A clinic dump is restored as the clinic's
/// role into its schema, which the caller has created (so the dump's own CREATE SCHEMA is left
/// out): every object ends up owned by the clinic role, exactly as migrations create them.
async fn pg_restore(
    ctx: &Ctx<'_>,
    dbname: &str,
    dump: &Path,
    clinic: Option<&ClinicEntry>,
    work: &Path,
) -> Result<(), BackupError> {
    let tool = crate::ops::pgtools::find("pg_restore")?;
    let env = libpq_env(&ctx.config.database.url);
    let mut cmd = tokio::process::Command::new(&tool);
    cmd.envs(&env)
        .arg(format!("--dbname={dbname}"))
        .arg("--exit-on-error")
        .arg("--single-transaction")
        .stdin(std::process::Stdio::null());
    if let Some(c) = clinic {
        let list = tokio::process::Command::new(&tool)
            .envs(&env)
            .arg("--list")
            .arg(dump)
            .output()
            .await?;
        if !list.status.success() {
            return Err(BackupError::Tool(format!(
                "pg_restore --list {}: {}",
                dump.display(),
                String::from_utf8_lossy(&list.stderr).trim()
            )));
        }
        let needle = format!(" SCHEMA - {} ", c.db_schema);
        let filtered: String = String::from_utf8_lossy(&list.stdout)
            .lines()
            .filter(|l| !l.contains(&needle))
            .map(|l| format!("{l}\n"))
            .collect();
        let list_file = work.join(format!("{}.list", c.slug));
        std::fs::write(&list_file, filtered)?;
        cmd.arg(format!("--use-list={}", list_file.display()))
            .arg(format!("--role={}", c.db_role))
            .arg("--no-owner");
    }
    cmd.arg(dump);
    let out = cmd.output().await?;
    if !out.status.success() {
        return Err(BackupError::Tool(format!(
            "pg_restore of {} failed: {}",
            dump.file_name().unwrap_or_default().to_string_lossy(),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

/// Table statistics of what is now in `pool` for the schemas the manifest describes.
async fn stats_of(pool: &PgPool, m: &Manifest) -> Result<Vec<TableStat>, BackupError> {
    let mut tx = crate::db::begin(pool).await?;
    stable_settings(&mut tx).await?;
    let mut out = Vec::new();
    if m.kind == Kind::Full {
        out.extend(table_stats(&mut tx, "clinicbox", None).await?);
    }
    for c in &m.clinics {
        out.extend(table_stats(&mut tx, &c.db_schema, Some(&c.db_role)).await?);
    }
    tx.commit().await?;
    Ok(out)
}

fn check_versions(m: &Manifest, migs: &Migrations) -> Result<(), BackupError> {
    if m.control_version > migs.latest_control()
        || m.clinics
            .iter()
            .any(|c| c.schema_version > migs.latest_tenant())
    {
        return Err(BackupError::Other(format!(
            "this backup was made by clinicbox {} with a newer database schema; install that version (or newer) to restore it",
            m.version
        )));
    }
    Ok(())
}

fn check_login(ctx: &Ctx<'_>, m: &Manifest) -> Result<(), BackupError> {
    let login = ctx.db.login_role.as_str();
    if m.login_role != login {
        return Err(BackupError::Other(format!(
            "this backup belongs to an installation whose database role is {}, this one uses {login}; clinic roles are named after it, so connect as {} to restore it",
            m.login_role, m.login_role
        )));
    }
    Ok(())
}

/// Restores the backup into a scratch database and compares every table with the manifest.
pub async fn verify(
    ctx: &Ctx<'_>,
    path: &Path,
    key: Key,
    progress: &dyn Progress,
) -> Result<(Manifest, Comparison), BackupError> {
    progress.start(5);
    let work = WorkDir::new(ctx, "verify")?;
    progress.step("reading and checking the archive");
    let m = extract(path, key, &work.0).await?;
    check_versions(&m, Migrations::embedded())?;
    check_login(ctx, &m)?;

    let scratch = format!(
        "{}_verify_{}",
        ctx.db.login_role.as_str(),
        hex::encode(crate::ops::secrets::random_bytes::<4>()?)
    );
    progress.step("creating a scratch database");
    sqlx::raw_sql(&format!(
        "CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'",
        quote_ident(&scratch)
    ))
    .execute(&ctx.db.pool)
    .await
    .map_err(|e| match &e {
        sqlx::Error::Database(d) if d.code().as_deref() == Some("42501") => BackupError::Other(format!(
            "backup verify restores into a scratch database, which needs CREATEDB: run `ALTER ROLE {} CREATEDB;` as the postgres user",
            ctx.db.login_role.as_str()
        )),
        _ => BackupError::Sql(e),
    })?;
    let mut created_roles = Vec::new();
    let result = verify_in(ctx, &m, &scratch, &work.0, &mut created_roles, progress).await;
    // Clean up whatever happened.
    let drop_db = sqlx::raw_sql(&format!(
        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
        quote_ident(&scratch)
    ))
    .execute(&ctx.db.pool)
    .await;
    for r in created_roles {
        if let (Ok(role), Ok(mut conn)) = (Ident::parse(&r), ctx.db.pool.acquire().await) {
            let _ = tenants::drop_clinic_role(&mut conn, &role).await;
        }
    }
    let mut c = result?;
    drop_db?;
    c.documents = m.documents.len();
    c.problems.extend(audit_problems(ctx, &m, &work.0));
    progress.finish(if c.ok() {
        "the backup restores and matches its manifest"
    } else {
        "the restored data does not match the manifest"
    });
    Ok((m, c))
}

async fn verify_in(
    ctx: &Ctx<'_>,
    m: &Manifest,
    scratch: &str,
    work: &Path,
    created_roles: &mut Vec<String>,
    progress: &dyn Progress,
) -> Result<Comparison, BackupError> {
    let opts: PgConnectOptions = ctx
        .config
        .database
        .url
        .normalized()
        .parse::<PgConnectOptions>()?
        .database(scratch);
    let pool = crate::db::pool_options(2).connect_with(opts).await?;
    let result = async {
        // What control migrations 0001 and 0003 put outside the clinicbox schema.
        let mut ddl =
            String::from("CREATE SCHEMA extensions; GRANT USAGE ON SCHEMA extensions TO PUBLIC;\n");
        if let Some(ext) = Migrations::embedded()
            .control
            .iter()
            .find(|mig| mig.name.contains("extensions"))
        {
            ddl.push_str(&ext.sql);
        }
        sqlx::raw_sql(&ddl).execute(&pool).await?;
        for c in &m.clinics {
            if ensure_clinic_role(ctx, &pool, &c.db_role).await? {
                created_roles.push(c.db_role.clone());
            }
        }
        progress.step("restoring into the scratch database");
        if let Some(control) = &m.control {
            pg_restore(ctx, scratch, &work.join(&control.path), None, work).await?;
        }
        for c in &m.clinics {
            sqlx::raw_sql(&format!(
                "CREATE SCHEMA {} AUTHORIZATION {}",
                quote_ident(&c.db_schema),
                quote_ident(&c.db_role)
            ))
            .execute(&pool)
            .await?;
            pg_restore(ctx, scratch, &work.join(&c.dump.path), Some(c), work).await?;
        }
        progress.step("comparing every table with the manifest");
        let found = stats_of(&pool, m).await?;
        Ok::<_, BackupError>(compare(&m.tables, &found))
    }
    .await;
    pool.close().await;
    result
}

/// The audit logs in the backup, checked from their files with this installation's key: every
/// link of each chain, up to the head the manifest recorded.
fn audit_problems(ctx: &Ctx<'_>, m: &Manifest, work: &Path) -> Vec<String> {
    let mut logs: Vec<(String, LogId, &AuditEntry)> = Vec::new();
    if let Some(a) = &m.system_audit {
        logs.push(("the installation's audit log".into(), LogId::system(), a));
    }
    for c in &m.clinics {
        if let (Some(a), Some(ident)) = (&c.audit, clinic_ident(c)) {
            logs.push((
                format!("clinic {}'s audit log", c.slug),
                LogId::clinic(&ident),
                a,
            ));
        }
    }
    let mut problems = Vec::new();
    for (what, log, a) in logs {
        let files = transfer::Files {
            rows: &work.join(&a.rows.path),
            chain: &work.join(&a.chain.path),
            anchors: &work.join(&a.anchors.path),
        };
        match transfer::verify_files(ctx.secrets, &log, &files, &a.head) {
            Ok(r) => {
                if let Some((seq, why)) = r.broken {
                    problems.push(format!("{what}: broken at entry {seq}: {why}"));
                }
            }
            Err(e) => problems.push(format!("{what}: {e}")),
        }
    }
    problems
}

fn clinic_ident(c: &ClinicEntry) -> Option<TenantIdent> {
    Some(TenantIdent {
        schema: Ident::parse(&c.db_schema).ok()?,
        role: Ident::parse(&c.db_role).ok()?,
    })
}

/// A clinic's audit log from the backup, when the clinic has none here (it was deleted, or this
/// is another server). A log that exists is the record of what happened and stays as it is.
async fn import_audit(ctx: &Ctx<'_>, c: &ClinicEntry, work: &Path) -> Result<bool, BackupError> {
    let (Some(a), Some(ident)) = (&c.audit, clinic_ident(c)) else {
        return Ok(false);
    };
    let log = LogId::clinic(&ident);
    let mut tx = TenantDb::begin(&ctx.db.pool, &ident).await?;
    if transfer::exists(&mut tx, &log).await? {
        tx.rollback().await?;
        return Ok(false);
    }
    let files = transfer::Files {
        rows: &work.join(&a.rows.path),
        chain: &work.join(&a.chain.path),
        anchors: &work.join(&a.anchors.path),
    };
    transfer::import(
        &mut tx,
        &log,
        &ident.role,
        &crate::db::privileged::auditor_role(&ctx.db.login_role),
        &files,
        a.legacy_anchor.as_ref(),
    )
    .await
    .map_err(|e| BackupError::Other(format!("importing clinic {}'s audit log: {e}", c.slug)))?;
    tx.commit().await?;
    Ok(true)
}

/// Creates a clinic role (as clinic creation does) unless it exists; true when it created it.
async fn ensure_clinic_role(ctx: &Ctx<'_>, pool: &PgPool, role: &str) -> Result<bool, BackupError> {
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)")
            .bind(role)
            .fetch_one(pool)
            .await?;
    if exists {
        return Ok(false);
    }
    let role = Ident::parse(role).map_err(|e| BackupError::Other(e.to_string()))?;
    // Roles belong to the cluster: made through the application database's provisioner.
    let mut conn = ctx.db.pool.acquire().await?;
    tenants::create_clinic_role(&mut conn, &role).await?;
    Ok(true)
}

/// What a restore did.
#[derive(Debug, serde::Serialize)]
pub struct Restored {
    pub safety_backup: PathBuf,
    pub clinics: Vec<String>,
    pub comparison: Comparison,
    pub skipped_hosts: Vec<String>,
}

/// Restores the whole installation (`clinic` = None) or one clinic, after a safety backup of
/// what is about to be replaced.
pub async fn restore(
    ctx: &Ctx<'_>,
    path: &Path,
    key: Key,
    clinic: Option<&Slug>,
    progress: &dyn Progress,
) -> Result<Restored, BackupError> {
    progress.start(6);
    let work = WorkDir::new(ctx, "restore")?;
    progress.step("reading and checking the archive");
    let m = extract(path, key, &work.0).await?;
    check_versions(&m, Migrations::embedded())?;
    check_login(ctx, &m)?;
    match clinic {
        Some(slug) => restore_clinic(ctx, &m, &work.0, slug, progress).await,
        None => restore_all(ctx, &m, &work.0, progress).await,
    }
}

async fn restore_clinic(
    ctx: &Ctx<'_>,
    m: &Manifest,
    work: &Path,
    slug: &Slug,
    progress: &dyn Progress,
) -> Result<Restored, BackupError> {
    let entry = m
        .clinic(slug.as_str())
        .ok_or_else(|| {
            BackupError::Other(format!(
                "clinic '{slug}' is not in this backup (it holds: {})",
                m.clinics
                    .iter()
                    .map(|c| c.slug.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?
        .clone();
    let existing = match tenants::find(ctx.db, slug).await {
        Ok(t) => Some(t),
        Err(tenants::TenantError::NotFound(_)) => None,
        Err(e) => return Err(BackupError::Other(e.to_string())),
    };
    progress.step("safety backup of the clinic");
    let safety = match &existing {
        Some(_) => {
            super::create::create(ctx, "pre-restore", Some(slug), None, &super::Quiet)
                .await?
                .path
        }
        None => PathBuf::new(),
    };
    let previous_status = existing.as_ref().map(|t| t.status);
    if existing.is_some() {
        tenants::set_status(ctx.db, slug, tenants::TenantStatus::Suspended, ctx.now)
            .await
            .map_err(|e| BackupError::Other(e.to_string()))?;
    }
    let result = async {
        progress.step("restoring the clinic's data");
        let name = DisplayName::parse(&entry.display_name)
            .map_err(|e| BackupError::Other(e.to_string()))?;
        let hosts: Vec<Hostname> = entry
            .custom_hosts
            .iter()
            .filter_map(|h| Hostname::parse(h).ok())
            .collect();
        let rules = ctx.config.server.host_rules();
        let (tenant, skipped) =
            tenants::prepare_restore(ctx.db, &rules, slug, &name, &hosts, ctx.now)
                .await
                .map_err(|e| BackupError::Other(e.to_string()))?;
        let dbname = current_db(ctx).await?;
        pg_restore(
            ctx,
            &dbname,
            &work.join(&entry.dump.path),
            Some(&entry),
            work,
        )
        .await?;
        progress.step("comparing the clinic's tables with the manifest");
        let expected: Vec<TableStat> = m
            .tables
            .iter()
            .filter(|t| t.schema == entry.db_schema)
            .cloned()
            .collect();
        let one = Manifest {
            kind: Kind::Clinic,
            clinics: vec![entry.clone()],
            system_audit: None,
            ..m.clone()
        };
        let comparison = compare(&expected, &stats_of(&ctx.db.pool, &one).await?);
        progress.step("documents");
        let mut c = comparison;
        c.documents = replace_documents(ctx, m, work, Some(slug.as_str()))?;
        tenants::finish_restore(ctx.db, Migrations::embedded(), &tenant)
            .await
            .map_err(|e| BackupError::Other(e.to_string()))?;
        c.problems.extend(audit_problems(ctx, &one, work));
        import_audit(ctx, &entry, work).await?;
        Ok::<_, BackupError>((c, skipped))
    }
    .await;
    // The clinic serves again in the state it was in (a new clinic: as in the backup).
    let status = previous_status
        .or_else(|| tenants::TenantStatus::parse(&entry.status))
        .unwrap_or(tenants::TenantStatus::Active);
    let _ = tenants::set_status(ctx.db, slug, status, ctx.now).await;
    let (comparison, skipped_hosts) = result?;
    progress.finish("clinic restored");
    Ok(Restored {
        safety_backup: safety,
        clinics: vec![slug.to_string()],
        comparison,
        skipped_hosts,
    })
}

async fn current_db(ctx: &Ctx<'_>) -> Result<String, BackupError> {
    Ok(sqlx::query_scalar("SELECT current_database()::text")
        .fetch_one(&ctx.db.pool)
        .await?)
}

async fn restore_all(
    ctx: &Ctx<'_>,
    m: &Manifest,
    work: &Path,
    progress: &dyn Progress,
) -> Result<Restored, BackupError> {
    if m.kind != Kind::Full {
        return Err(BackupError::Other(
            "this backup holds one clinic: restore it with --tenant <slug>".into(),
        ));
    }
    let Some(control) = &m.control else {
        return Err(BackupError::Other(
            "the backup has no control schema".into(),
        ));
    };
    // No server may use the database while it is replaced.
    let Some(lock) = crate::db::locks::try_acquire(&ctx.db.pool, crate::db::locks::SERVE).await?
    else {
        return Err(BackupError::Other(
            "clinicbox serve is running on this database: stop it first (systemctl stop clinicbox)"
                .into(),
        ));
    };
    let result = async {
        progress.step("safety backup of the current installation");
        let safety = super::create::create(ctx, "pre-restore", None, None, &super::Quiet)
            .await?
            .path;
        progress.step("removing the current data");
        let current: Vec<(String, String)> =
            sqlx::query_as("SELECT db_schema, db_role FROM clinicbox.tenants")
                .fetch_all(&ctx.db.pool)
                .await?;
        for (schema, role) in &current {
            let mut tx = crate::db::begin(&ctx.db.pool).await?;
            sqlx::raw_sql(&format!(
                "SET LOCAL ROLE {r}; DROP SCHEMA IF EXISTS {s} CASCADE",
                r = quote_ident(role),
                s = quote_ident(schema)
            ))
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        }
        sqlx::raw_sql("DROP SCHEMA clinicbox CASCADE")
            .execute(&ctx.db.pool)
            .await?;
        progress.step("restoring the database");
        let dbname = current_db(ctx).await?;
        pg_restore(ctx, &dbname, &work.join(&control.path), None, work).await?;
        for c in &m.clinics {
            ensure_clinic_role(ctx, &ctx.db.pool, &c.db_role).await?;
            sqlx::raw_sql(&format!(
                "CREATE SCHEMA {} AUTHORIZATION {}",
                quote_ident(&c.db_schema),
                quote_ident(&c.db_role)
            ))
            .execute(&ctx.db.pool)
            .await?;
            pg_restore(ctx, &dbname, &work.join(&c.dump.path), Some(c), work).await?;
        }
        progress.step("comparing every table with the manifest");
        let mut comparison = compare(&m.tables, &stats_of(&ctx.db.pool, m).await?);
        comparison.problems.extend(audit_problems(ctx, m, work));
        progress.step("documents");
        comparison.documents = replace_documents(ctx, m, work, None)?;
        // A backup from an older release: bring it to this binary's schema.
        crate::db::migrate::run(
            ctx.db,
            Migrations::embedded(),
            2,
            &crate::db::migrate::NoProgress,
        )
        .await
        .map_err(|e| BackupError::Other(format!("restored, but migrating it failed: {e}")))?;
        // Audit logs: a clinic's log here stays as it is; one that is not here comes from the
        // backup; the logs and roles of clinics the backup does not have go with them. The
        // installation's own log is never replaced.
        for c in &m.clinics {
            import_audit(ctx, c, work).await?;
        }
        for (schema, role) in &current {
            if m.clinics.iter().any(|c| &c.db_role == role) {
                continue;
            }
            let mut tx = crate::db::begin(&ctx.db.pool).await?;
            sqlx::query("SELECT clinicbox_audit.drop_log($1)")
                .bind(format!("{schema}_audit"))
                .execute(&mut *tx)
                .await?;
            if let Ok(r) = Ident::parse(role) {
                tenants::drop_clinic_role(&mut tx, &r).await?;
            }
            tx.commit().await?;
        }
        Ok::<_, BackupError>((safety, comparison))
    }
    .await;
    lock.release().await?;
    let (safety, comparison) = result?;
    progress.finish("installation restored");
    Ok(Restored {
        safety_backup: safety,
        clinics: m.clinics.iter().map(|c| c.slug.clone()).collect(),
        comparison,
        skipped_hosts: Vec::new(),
    })
}

/// Puts the backup's documents in place of the current ones (all, or one clinic's). The
/// current files are moved aside first and removed once the new ones are in place.
fn replace_documents(
    ctx: &Ctx<'_>,
    m: &Manifest,
    work: &Path,
    clinic: Option<&str>,
) -> Result<usize, BackupError> {
    let root = documents_dir(ctx.config);
    let (target, source) = match clinic {
        Some(slug) => (root.join(slug), work.join("documents").join(slug)),
        None => (root.clone(), work.join("documents")),
    };
    let aside = target.with_file_name(format!(
        ".{}-before-restore-{}",
        target.file_name().unwrap_or_default().to_string_lossy(),
        ctx.now.format("%Y%m%dT%H%M%S")
    ));
    if target.exists() {
        std::fs::rename(&target, &aside)?;
    }
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent)?;
    }
    if source.exists() {
        std::fs::rename(&source, &target)?;
    } else {
        std::fs::create_dir_all(&target)?;
    }
    if aside.exists() {
        std::fs::remove_dir_all(&aside)?;
    }
    let prefix = match clinic {
        Some(slug) => format!("documents/{slug}/"),
        None => "documents/".to_owned(),
    };
    Ok(m.documents
        .iter()
        .filter(|d| d.path.starts_with(&prefix))
        .count())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(table: &str, rows: i64, sum: &str) -> TableStat {
        TableStat {
            schema: "s".into(),
            table: table.into(),
            rows,
            checksum: sum.into(),
        }
    }

    #[test]
    fn comparison_names_every_difference() {
        let expected = vec![t("a", 1, "x"), t("b", 2, "y"), t("c", 3, "z")];
        let found = vec![t("a", 1, "x"), t("b", 2, "other"), t("d", 0, "")];
        let c = compare(&expected, &found);
        assert_eq!(
            c.problems,
            vec![
                "s.b: contents differ (checksum)",
                "s.c: missing",
                "s.d: not in the backup"
            ]
        );
        assert_eq!(c.rows, 6);
        assert!(compare(&expected, &expected).ok());
    }
}
