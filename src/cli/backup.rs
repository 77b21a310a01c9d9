//! `clinicbox backup run|list|verify|restore` and `clinicbox tenant export`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};

use super::{CliResult, Failed};
use crate::config::Config;
use crate::domain::audit::{self, Actor, Context, Event, action};
use crate::domain::tenants::Slug;
use crate::ops::backup::{self, BackupSettings, Ctx, Key, Progress};
use crate::ops::clock::SystemClock;
use crate::ops::secrets::Secrets;

#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// Take a backup of the whole installation now (database, documents, manifest).
    Run {
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
        /// Why: kept in the file name; pre-upgrade backups are kept 30 days by retention.
        #[arg(long, default_value = "manual", value_parser = ["manual", "pre-upgrade"])]
        reason: String,
    },
    /// List the backups in <data_dir>/backups, newest first.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Restore a backup into a scratch database and compare every table with its manifest.
    Verify {
        file: PathBuf,
        #[command(flatten)]
        key: KeyArgs,
        #[arg(long)]
        json: bool,
    },
    /// Replace the installation (or one clinic) with a backup, after a safety backup.
    Restore {
        file: PathBuf,
        /// Restore only this clinic's schema and documents; every other clinic is untouched.
        #[arg(long, value_parser = super::tenant::parse_slug)]
        tenant: Option<Slug>,
        #[command(flatten)]
        key: KeyArgs,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, clap::Args)]
pub struct KeyArgs {
    /// age identity file (AGE-SECRET-KEY-1…) for a backup encrypted to a public key.
    #[arg(long, conflicts_with = "passphrase_file")]
    identity: Option<PathBuf>,
    /// File holding the passphrase of a passphrase-encrypted backup (default: the stored one).
    #[arg(long)]
    passphrase_file: Option<PathBuf>,
}

/// A bar on a terminal, one line per step otherwise.
pub struct CliProgress {
    bar: Mutex<Option<ProgressBar>>,
    tty: bool,
    quiet: bool,
}

impl CliProgress {
    pub fn new(quiet: bool) -> Self {
        Self {
            bar: Mutex::new(None),
            tty: std::io::stderr().is_terminal(),
            quiet,
        }
    }
}

impl Progress for CliProgress {
    fn start(&self, steps: usize) {
        if self.tty && !self.quiet {
            let bar = ProgressBar::new(steps as u64);
            if let Ok(style) = ProgressStyle::with_template("{spinner} {bar:30} {pos}/{len} {msg}")
            {
                bar.set_style(style);
            }
            bar.enable_steady_tick(std::time::Duration::from_millis(200));
            *self.bar.lock().unwrap_or_else(|p| p.into_inner()) = Some(bar);
        }
    }

    fn step(&self, what: &str) {
        let guard = self.bar.lock().unwrap_or_else(|p| p.into_inner());
        match guard.as_ref() {
            Some(bar) => {
                bar.set_message(what.to_owned());
                // Never past the end, should a step be counted twice.
                if bar.length().is_some_and(|len| bar.position() + 1 > len) {
                    bar.inc_length(1);
                }
                bar.inc(1);
            }
            None if !self.quiet => eprintln!("{what}"),
            None => {}
        }
    }

    fn finish(&self, _what: &str) {
        if let Some(bar) = self.bar.lock().unwrap_or_else(|p| p.into_inner()).take() {
            bar.finish_and_clear();
        }
    }
}

/// The key that opens `file`: an identity or passphrase file when given, otherwise the
/// passphrase stored in the settings (a backup made here with a passphrase).
pub(crate) async fn key_for(
    file: &Path,
    args: &KeyArgs,
    db: &crate::db::Db,
    secrets: &Secrets,
) -> Result<Key, Failed> {
    if let Some(p) = &args.identity {
        return Ok(Key::identity_file(p)?);
    }
    if let Some(p) = &args.passphrase_file {
        return Ok(Key::passphrase_file(p)?);
    }
    let encrypted = {
        let file = file.to_owned();
        tokio::task::spawn_blocking(move || backup::archive::is_encrypted(&file)).await??
    };
    if !encrypted {
        return Ok(Key::None);
    }
    let settings = BackupSettings::load(&db.pool).await?;
    match Key::stored(&settings.encryption, secrets)? {
        Key::None => Err(Failed(format!(
            "{} is encrypted: give its key with --identity FILE (encrypted to an age public key) or --passphrase-file FILE",
            file.display()
        ))),
        k => Ok(k),
    }
}

async fn audit_row(
    db: &crate::db::Db,
    now: chrono::DateTime<chrono::Utc>,
    action: &'static str,
    ok: bool,
    file: &Path,
    tenant_id: Option<i64>,
    details: serde_json::Value,
) -> Result<(), Failed> {
    super::audit_event(
        db,
        now,
        Event::new(action, Actor::System)
            .outcome(if ok {
                audit::Outcome::Success
            } else {
                audit::Outcome::Failure
            })
            .resource(
                "backup",
                file.file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned(),
            )
            .details(details),
        tenant_id,
    )
    .await
}

fn confirm(question: &str) -> Result<bool, Failed> {
    if !std::io::stdin().is_terminal() {
        return Err(Failed(format!(
            "{question} Not asking on a non-interactive input: add --yes"
        )));
    }
    eprint!("{question} Type 'yes' to go on: ");
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    Ok(line.trim() == "yes")
}

pub async fn run(cfg: &Config, cmd: BackupCommand) -> CliResult {
    if let BackupCommand::List { json } = cmd {
        return list(cfg, json);
    }
    let db = super::connect(cfg).await?;
    let secrets = Secrets::load_or_create(&cfg.storage.key_file)?;
    let now = SystemClock.now();
    if let crate::ops::keycheck::KeyMatch::Mismatch { why } =
        crate::ops::keycheck::inspect(&db.pool, &secrets)
            .await?
            .unwrap_or(crate::ops::keycheck::KeyMatch::Recorded)
    {
        return Err(Failed(crate::ops::keycheck::mismatch_message(
            &cfg.storage.key_file,
            &why,
        )));
    }
    let ctx = Ctx {
        db: &db,
        config: cfg,
        secrets: &secrets,
        now,
    };
    match cmd {
        BackupCommand::List { .. } => Ok(()),
        BackupCommand::Run { json, reason } => {
            let progress = CliProgress::new(json);
            let c = backup::schedule::run_recorded(
                &ctx,
                &reason,
                Actor::System,
                &Context::system(now),
                &progress,
            )
            .await?;
            if json {
                say!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({
                        "file": c.path,
                        "bytes": c.bytes,
                        "clinics": c.manifest.clinics.len(),
                        "documents": c.manifest.documents.len(),
                        "tables": c.manifest.tables.len(),
                        "rows": c.manifest.tables.iter().map(|t| t.rows).sum::<i64>(),
                        "duration_ms": c.manifest.duration_ms,
                    }))?
                );
            } else {
                say!(
                    "backup written: {} ({}, {} clinic(s), {} document(s), {} rows in {} tables)",
                    c.path.display(),
                    backup::human_bytes(c.bytes),
                    c.manifest.clinics.len(),
                    c.manifest.documents.len(),
                    c.manifest.tables.iter().map(|t| t.rows).sum::<i64>(),
                    c.manifest.tables.len()
                );
            }
            Ok(())
        }
        BackupCommand::Verify { file, key, json } => {
            let k = key_for(&file, &key, &db, &secrets).await?;
            let progress = CliProgress::new(json);
            let result = backup::schedule::verify_recorded(
                &ctx,
                &file,
                k,
                Actor::System,
                &Context::system(now),
                &progress,
            )
            .await;
            let (m, c) = result?;
            if json {
                say!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({
                        "file": file, "ok": c.ok(), "created_at": m.created_at,
                        "version": m.version, "kind": m.kind, "comparison": c,
                    }))?
                );
            }
            if !c.ok() {
                for p in &c.problems {
                    eprintln!("  {p}");
                }
                return Err(Failed(format!(
                    "{} restored, but {} table(s) differ from its manifest",
                    file.display(),
                    c.problems.len()
                )));
            }
            if !json {
                say!(
                    "OK {}: made {} by clinicbox {}; restored into a scratch database, {} tables and {} rows match the manifest; {} document(s) match their SHA-256",
                    file.display(),
                    m.created_at.format("%Y-%m-%d %H:%M UTC"),
                    m.version,
                    c.tables,
                    c.rows,
                    c.documents
                );
            }
            Ok(())
        }
        BackupCommand::Restore {
            file,
            tenant,
            key,
            yes,
        } => {
            let k = key_for(&file, &key, &db, &secrets).await?;
            let what = match &tenant {
                Some(s) => {
                    format!("clinic '{s}' (its data and documents; other clinics are untouched)")
                }
                None => {
                    "the WHOLE installation (every clinic, account, setting and document)".into()
                }
            };
            if !yes
                && !confirm(&format!(
                    "This replaces {what} with the contents of {}. A safety backup is taken first.",
                    file.display()
                ))?
            {
                return Err(Failed("nothing restored".into()));
            }
            let progress = CliProgress::new(false);
            let result = backup::restore::restore(&ctx, &file, k, tenant.as_ref(), &progress).await;
            let tenant_id = match &tenant {
                Some(s) => crate::domain::tenants::find(&db, s)
                    .await
                    .ok()
                    .map(|t| t.id),
                None => None,
            };
            let details = match &result {
                Ok(r) => serde_json::json!({
                    "clinic": tenant.as_ref().map(Slug::as_str),
                    "safety_backup": r.safety_backup, "clinics": r.clinics,
                    "rows": r.comparison.rows, "problems": r.comparison.problems,
                    "skipped_hosts": r.skipped_hosts,
                }),
                Err(e) => serde_json::json!({
                    "clinic": tenant.as_ref().map(Slug::as_str), "error": e.to_string(),
                }),
            };
            let ok = matches!(&result, Ok(r) if r.comparison.ok());
            audit_row(
                &db,
                now,
                action::BACKUP_RESTORED,
                ok,
                &file,
                tenant_id,
                details,
            )
            .await?;
            let r = result?;
            for h in &r.skipped_hosts {
                eprintln!("warning: host {h} was not restored");
            }
            if !r.comparison.ok() {
                for p in &r.comparison.problems {
                    eprintln!("  {p}");
                }
                return Err(Failed(format!(
                    "restored, but {} table(s) differ from the manifest; the safety backup is {}",
                    r.comparison.problems.len(),
                    r.safety_backup.display()
                )));
            }
            say!(
                "restored {} from {}: {} rows in {} tables and {} document(s) match the manifest",
                r.clinics.join(", "),
                file.display(),
                r.comparison.rows,
                r.comparison.tables,
                r.comparison.documents
            );
            if !r.safety_backup.as_os_str().is_empty() {
                say!("what was there before is in {}", r.safety_backup.display());
            }
            Ok(())
        }
    }
}

fn list(cfg: &Config, json: bool) -> CliResult {
    let all = backup::list(cfg)?;
    if json {
        say!("{}", serde_json::to_string_pretty(&all)?);
        return Ok(());
    }
    if all.is_empty() {
        say!(
            "no backups in {} yet; take one with `clinicbox backup run`",
            backup::backups_dir(cfg).display()
        );
        return Ok(());
    }
    say!(
        "{:<20} {:<12} {:<14} {:>10} {:<9} FILE",
        "CREATED (UTC)",
        "KIND",
        "REASON",
        "SIZE",
        "ENCRYPTED"
    );
    for b in &all {
        say!(
            "{:<20} {:<12} {:<14} {:>10} {:<9} {}",
            b.created_at
                .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                .unwrap_or_default(),
            b.clinic
                .as_deref()
                .map_or_else(|| "full".to_owned(), |c| format!("clinic {c}")),
            b.reason.as_deref().unwrap_or(""),
            backup::human_bytes(b.bytes),
            if b.encrypted { "yes" } else { "no" },
            b.file
        );
    }
    Ok(())
}

/// `clinicbox tenant export <slug> [--out FILE]`: one clinic in the backup format.
pub async fn export(cfg: &Config, slug: &Slug, out: Option<PathBuf>) -> CliResult {
    let db = super::connect(cfg).await?;
    let secrets = Secrets::load_or_create(&cfg.storage.key_file)?;
    let now = SystemClock.now();
    let tenant = crate::domain::tenants::find(&db, slug).await?;
    let ctx = Ctx {
        db: &db,
        config: cfg,
        secrets: &secrets,
        now,
    };
    let progress = CliProgress::new(false);
    let result =
        backup::create::create(&ctx, "export", Some(slug), out.as_deref(), &progress).await;
    let (ok, file, details) = match &result {
        Ok(c) => (
            true,
            c.path.clone(),
            serde_json::json!({ "slug": slug.as_str(), "bytes": c.bytes, "file": c.path }),
        ),
        Err(e) => (
            false,
            out.clone().unwrap_or_default(),
            serde_json::json!({ "slug": slug.as_str(), "error": e.to_string() }),
        ),
    };
    audit_row(
        &db,
        now,
        action::TENANT_EXPORTED,
        ok,
        &file,
        Some(tenant.id),
        details,
    )
    .await?;
    let c = result?;
    say!(
        "clinic {slug} exported to {} ({}); restore it with `clinicbox backup restore {} --tenant {slug}`",
        c.path.display(),
        backup::human_bytes(c.bytes),
        c.path.display()
    );
    Ok(())
}
