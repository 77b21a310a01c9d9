//! `clinicbox audit verify|prune`

use clap::Subcommand;

use super::{CliResult, Failed};
use crate::config::Config;
use crate::domain::audit::{self, Actor, Context, VerifyReport};
use crate::domain::clinic::Clinic;
use crate::domain::tenants::{self, Slug};
use crate::ops::clock::SystemClock;

fn parse_slug(s: &str) -> Result<Slug, String> {
    Slug::parse(s).map_err(|e| e.to_string())
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the hash chain of a clinic's audit log (or the system log); names the first
    /// broken row.
    Verify {
        #[arg(long, value_parser = parse_slug, required_unless_present = "system")]
        tenant: Option<Slug>,
        /// The system audit log (operators and CLI) instead of a clinic's.
        #[arg(long, conflicts_with = "tenant")]
        system: bool,
        /// Also check that the log still reaches the head recorded in this backup's manifest
        /// (rows removed since the backup are then named).
        #[arg(long)]
        backup: Option<std::path::PathBuf>,
        #[command(flatten)]
        key: super::backup::KeyArgs,
        #[arg(long)]
        json: bool,
    },
    /// Remove a clinic's audit rows older than its retention setting (Settings → Sign-in and
    /// audit; default 7 years).
    Prune {
        #[arg(long, value_parser = parse_slug)]
        tenant: Slug,
    },
}

fn print(report: &VerifyReport, what: &str, json: bool) -> CliResult {
    if json {
        say!("{}", serde_json::to_string_pretty(report)?);
    } else if let Some((seq, why)) = &report.broken {
        say!(
            "{what}: BROKEN at row {seq}: {why} ({} rows checked)",
            report.rows
        );
    } else {
        say!(
            "{what}: OK, {} rows, chain intact{}",
            report.rows,
            report
                .first_seq
                .zip(report.last_seq)
                .map(|(a, b)| format!(" (rows {a}-{b})"))
                .unwrap_or_default()
        );
    }
    if report.ok() {
        Ok(())
    } else {
        Err(Failed(format!("{what}: audit chain broken")))
    }
}

pub async fn run(cfg: &Config, cmd: AuditCommand) -> CliResult {
    let db = super::connect(cfg).await?;
    // The chains are keyed with the installation's secret key: the right one, or every entry
    // would look altered.
    let secrets = crate::ops::secrets::Secrets::load_or_create(&cfg.storage.key_file)?;
    if let crate::ops::keycheck::KeyMatch::Mismatch { why } =
        crate::ops::keycheck::verify_or_record(&db.pool, &secrets, SystemClock.now()).await?
    {
        return Err(Failed(crate::ops::keycheck::mismatch_message(
            &cfg.storage.key_file,
            &why,
        )));
    }
    match cmd {
        AuditCommand::Verify {
            tenant,
            system,
            backup,
            key,
            json,
        } => {
            let manifest = match &backup {
                Some(file) => {
                    let k = super::backup::key_for(file, &key, &db, &secrets).await?;
                    let file = file.clone();
                    Some(
                        tokio::task::spawn_blocking(move || {
                            crate::ops::backup::archive::read_manifest(&file, &k)
                        })
                        .await??,
                    )
                }
                None => None,
            };
            if system {
                let expected = manifest.as_ref().and_then(|m| m.system_audit.as_ref());
                let r = audit::verify_system(&db.pool, &secrets, expected.map(|a| &a.head)).await?;
                print(&r, "system audit log", json)
            } else if let Some(slug) = tenant {
                let t = tenants::find(&db, &slug).await?;
                let expected = manifest
                    .as_ref()
                    .and_then(|m| m.clinic(slug.as_str()))
                    .and_then(|c| c.audit.as_ref());
                if manifest.is_some() && expected.is_none() {
                    return Err(Failed(format!(
                        "the backup holds no audit log of clinic {slug}"
                    )));
                }
                let r =
                    audit::verify_tenant(&db.pool, &secrets, &t, expected.map(|a| &a.head)).await?;
                print(&r, &format!("clinic {slug} audit log"), json)
            } else {
                Err(Failed("give --tenant SLUG or --system".into()))
            }
        }
        AuditCommand::Prune { tenant: slug } => {
            let t = tenants::find(&db, &slug).await?;
            let now = SystemClock.now();
            let c = Clinic::new(
                db.pool.clone(),
                t.db.clone(),
                Actor::System,
                Context::system(now),
            )
            .via("cli");
            let years = audit::work::retention_years(&c).await?;
            let removed = audit::prune(
                &db.pool,
                &secrets,
                &t,
                u32::try_from(years).unwrap_or(7),
                now,
            )
            .await?;
            audit::work::record_pruned(&c, removed, years).await?;
            say!("clinic {slug}: removed {removed} audit rows older than {years} years");
            Ok(())
        }
    }
}
