//! `clinicbox audit verify|prune`

use clap::Subcommand;

use super::{CliResult, Failed};
use crate::config::Config;
use crate::db::TenantDb;
use crate::domain::audit::{self, Actor, Context, Event, VerifyReport, action};
use crate::domain::settings::Security;
use crate::domain::tenants::{self, Slug};
use crate::ops::clock::{Clock, SystemClock};

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
    match cmd {
        AuditCommand::Verify {
            tenant,
            system,
            json,
        } => {
            if system {
                let r = audit::verify_system(&db.pool).await?;
                print(&r, "system audit log", json)
            } else if let Some(slug) = tenant {
                let t = tenants::find(&db, &slug).await?;
                let r = audit::verify_tenant(&db.pool, &t).await?;
                print(&r, &format!("clinic {slug} audit log"), json)
            } else {
                Err(Failed("give --tenant SLUG or --system".into()))
            }
        }
        AuditCommand::Prune { tenant: slug } => {
            let t = tenants::find(&db, &slug).await?;
            let now = SystemClock.now();
            let mut tx = TenantDb::begin(&db.pool, &t.db).await?;
            let years = Security::load(&mut tx).await?.audit_retention_years;
            tx.commit().await?;
            let removed = audit::prune(
                &db.pool,
                &db.login_role,
                &t,
                u32::try_from(years).unwrap_or(7),
                now,
            )
            .await?;
            let mut tx = TenantDb::begin(&db.pool, &t.db).await?;
            audit::record(
                &mut tx,
                &Context::system(now),
                Event::new(action::AUDIT_PRUNED, Actor::System)
                    .details(serde_json::json!({ "rows": removed, "retention_years": years })),
            )
            .await?;
            tx.commit().await?;
            say!("clinic {slug}: removed {removed} audit rows older than {years} years");
            Ok(())
        }
    }
}
