//! `clinicbox tenant create|list|show|suspend|resume|limits|export|delete`

use clap::Subcommand;

use super::{CliResult, Failed};
use crate::config::Config;
use crate::db::migrate::Migrations;
use crate::domain::tenants::{
    self, DisplayName, Hostname, NewTenant, Slug, TenantStatus, TenantSummary,
};
use crate::ops::clock::SystemClock;

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a clinic with its own schema and database role.
    Create {
        /// Short name: 2-31 of a-z, 0-9 and '-'; the clinic is reached at <slug>.<base_domain>.
        #[arg(value_parser = parse_slug)]
        slug: Slug,
        /// The clinic's name as staff see it.
        #[arg(long)]
        name: String,
        /// An extra hostname (the clinic's own domain); repeat for several.
        #[arg(long = "host", value_parser = parse_host)]
        hosts: Vec<Hostname>,
    },
    /// List clinics.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show one clinic.
    Show {
        #[arg(value_parser = parse_slug)]
        slug: Slug,
        #[arg(long)]
        json: bool,
    },
    /// Stop serving a clinic: its hosts answer "suspended", no data is served.
    Suspend {
        #[arg(value_parser = parse_slug)]
        slug: Slug,
    },
    /// Serve a suspended clinic again.
    Resume {
        #[arg(value_parser = parse_slug)]
        slug: Slug,
    },
    /// Show or set a clinic's plan limits: staff accounts in use and document storage.
    /// Without options it shows them; `none` lifts one.
    Limits {
        #[arg(value_parser = parse_slug)]
        slug: Slug,
        /// Staff accounts not disabled, at most (1-10000, or none).
        #[arg(long)]
        staff: Option<String>,
        /// Document storage in MB (1-10000000, or none for the installation's quota).
        #[arg(long = "documents-mb")]
        documents_mb: Option<String>,
    },
    /// Write one clinic (schema and documents) to a file in the backup format.
    Export {
        #[arg(value_parser = parse_slug)]
        slug: Slug,
        /// Where to write it (default: <data_dir>/backups/clinic-<slug>-<time>-export.backup.tar).
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
    /// Delete a clinic after writing a pg_dump of its schema to <data_dir>/deleted/.
    Delete {
        #[arg(value_parser = parse_slug)]
        slug: Slug,
        /// Repeat the slug to confirm.
        #[arg(long)]
        confirm: String,
    },
}

pub(crate) fn parse_slug(s: &str) -> Result<Slug, String> {
    Slug::parse(s).map_err(|e| e.to_string())
}

fn parse_host(s: &str) -> Result<Hostname, String> {
    Hostname::parse(s).map_err(|e| e.to_string())
}

/// Records a clinic lifecycle action in the system audit log (actor: the command line).
async fn audit_system(
    db: &crate::db::Db,
    now: chrono::DateTime<chrono::Utc>,
    action: &'static str,
    tenant_id: Option<i64>,
    details: serde_json::Value,
) -> Result<(), Failed> {
    super::audit_event(
        db,
        now,
        crate::domain::audit::Event::new(action, crate::domain::audit::Actor::System)
            .details(details),
        tenant_id,
    )
    .await
}

pub async fn run(cfg: &Config, cmd: TenantCommand) -> CliResult {
    use crate::domain::audit::action;
    if let TenantCommand::Export { slug, out } = cmd {
        return super::backup::export(cfg, &slug, out).await;
    }
    let db = super::connect(cfg).await?;
    let now = SystemClock.now();
    let suspend = matches!(cmd, TenantCommand::Suspend { .. });
    match cmd {
        TenantCommand::Create { slug, name, hosts } => {
            let name = DisplayName::parse(&name)?;
            let (t, seeded) = crate::domain::console::provision_clinic(
                &db,
                Migrations::embedded(),
                &cfg.server.host_rules(),
                NewTenant { slug, name, hosts },
                now,
            )
            .await?;
            audit_system(
                &db,
                now,
                action::TENANT_CREATED,
                Some(t.id),
                serde_json::json!({ "slug": t.slug, "via": "cli" }),
            )
            .await?;
            say!(
                "created clinic {} \"{}\" (schema {}, role {}, version {})",
                t.slug,
                t.display_name,
                t.db.schema,
                t.db.role,
                t.schema_version
            );
            let summary = find_summary(&db, cfg, &t.slug).await?;
            say!("hosts: {}", summary.hosts.join(", "));
            if seeded.types > 0 || seeded.hours > 0 {
                say!(
                    "ready to book: appointment types Consultation (20 min) and Follow-up (10 min), open Mon–Fri 09:00–17:00 and Sat 09:00–13:00; change them in Settings"
                );
            }
        }
        TenantCommand::List { json } => {
            let list = tenants::list(&db, &cfg.server.host_rules()).await?;
            if json {
                say!("{}", serde_json::to_string_pretty(&list)?);
            } else if list.is_empty() {
                say!(
                    "no clinics yet; create one with `clinicbox tenant create <slug> --name \"…\"`"
                );
            } else {
                say!(
                    "{:<24} {:<10} {:<8} {:<32} HOSTS",
                    "SLUG",
                    "STATUS",
                    "VERSION",
                    "NAME"
                );
                for s in &list {
                    say!(
                        "{:<24} {:<10} {:<8} {:<32} {}",
                        s.tenant.slug,
                        s.tenant.status.as_str(),
                        s.tenant.schema_version,
                        crate::i18n::shorten(&s.tenant.display_name, 32),
                        s.hosts.join(" ")
                    );
                }
            }
        }
        TenantCommand::Show { slug, json } => {
            let s = find_summary(&db, cfg, &slug).await?;
            if json {
                say!("{}", serde_json::to_string_pretty(&s)?);
            } else {
                let t = &s.tenant;
                say!("slug:       {}", t.slug);
                say!("name:       {}", t.display_name);
                say!("status:     {}", t.status.as_str());
                say!("hosts:      {}", s.hosts.join(", "));
                say!("schema:     {} (version {})", t.db.schema, t.schema_version);
                say!("role:       {}", t.db.role);
                say!("created:    {}", t.created_at.format("%Y-%m-%d %H:%M UTC"));
            }
        }
        TenantCommand::Suspend { slug } | TenantCommand::Resume { slug } => {
            let status = if suspend {
                TenantStatus::Suspended
            } else {
                TenantStatus::Active
            };
            tenants::set_status(&db, &slug, status, now).await?;
            let t = tenants::find(&db, &slug).await?;
            audit_system(
                &db,
                now,
                action::TENANT_STATUS,
                Some(t.id),
                serde_json::json!({ "status": status.as_str(), "via": "cli" }),
            )
            .await?;
            match status {
                TenantStatus::Suspended => {
                    say!("clinic {slug} suspended: its hosts now answer 503 and serve no data")
                }
                TenantStatus::Active => say!("clinic {slug} is active again"),
            }
        }
        TenantCommand::Export { .. } => {}
        TenantCommand::Limits {
            slug,
            staff,
            documents_mb,
        } => {
            let t = tenants::find(&db, &slug).await?;
            let ctx = super::accounts::cli_ctx();
            let clinic = super::accounts::as_system(&db, &t, &ctx);
            let mut limits = crate::domain::settings::plan::of(&clinic).await?;
            if staff.is_some() || documents_mb.is_some() {
                let text = |v: Option<i64>| v.map(|n| n.to_string()).unwrap_or_default();
                let typed = crate::domain::settings::plan::Limits::parse(
                    &staff.unwrap_or_else(|| text(limits.max_staff)),
                    &documents_mb.unwrap_or_else(|| text(limits.max_document_mb)),
                )
                .map_err(|e| {
                    let fields: Vec<String> = ["max_staff", "max_document_mb"]
                        .iter()
                        .filter_map(|f| {
                            e.get(f).map(|m| {
                                let flag = if *f == "max_staff" {
                                    "--staff"
                                } else {
                                    "--documents-mb"
                                };
                                format!("{flag}: {}", crate::i18n::en_message(m))
                            })
                        })
                        .collect();
                    Failed(format!("not changed: {}", fields.join("; ")))
                })?;
                crate::domain::settings::plan::save_in(&clinic, &typed).await?;
                limits = typed;
            }
            let or_none = |v: Option<i64>, unit: &str| {
                v.map(|n| format!("{n}{unit}"))
                    .unwrap_or_else(|| "no limit".into())
            };
            say!("staff accounts in use: {}", or_none(limits.max_staff, ""));
            say!(
                "document storage:      {}",
                match limits.max_document_mb {
                    Some(mb) => format!("{mb} MB"),
                    None => format!(
                        "the installation's quota ({} MB)",
                        cfg.storage.document_quota_mb
                    ),
                }
            );
        }
        TenantCommand::Delete { slug, confirm } => {
            if confirm != slug.as_str() {
                return Err(Failed(format!(
                    "not deleted: --confirm must repeat the slug exactly ({slug})"
                )));
            }
            let id = tenants::find(&db, &slug).await?.id;
            let dump =
                tenants::delete(&db, &cfg.database.url, &slug, &cfg.storage.data_dir, now).await?;
            audit_system(
                &db,
                now,
                action::TENANT_DELETED,
                Some(id),
                serde_json::json!({ "slug": slug, "dump": dump.display().to_string(), "via": "cli" }),
            )
            .await?;
            say!(
                "clinic {slug} deleted; its data was saved to {} (restore with pg_restore)",
                dump.display()
            );
        }
    }
    Ok(())
}

async fn find_summary(
    db: &crate::db::Db,
    cfg: &Config,
    slug: &Slug,
) -> Result<TenantSummary, Failed> {
    tenants::list(db, &cfg.server.host_rules())
        .await?
        .into_iter()
        .find(|s| &s.tenant.slug == slug)
        .ok_or_else(|| Failed(format!("no clinic with slug '{slug}'")))
}
