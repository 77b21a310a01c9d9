//! `clinicbox check [--json]` and `clinicbox check --remote https://host`.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use clap::Args;

use super::{CliResult, Failed};
use crate::ops::check::{self, Report};

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Print the checks as JSON.
    #[arg(long)]
    json: bool,
    /// Check a running server from outside instead: https://console.example.org
    #[arg(long, value_name = "URL")]
    remote: Option<String>,
    /// With --remote: also trust this root certificate (PEM), e.g. a private CA.
    #[arg(long, requires = "remote")]
    ca_file: Option<PathBuf>,
    /// With --remote: connect to this address instead of resolving the host name.
    #[arg(long, requires = "remote", value_name = "IP")]
    resolve: Option<IpAddr>,
    /// With --remote: the plain-HTTP port that must redirect to HTTPS.
    #[arg(long, requires = "remote", default_value_t = 80)]
    http_port: u16,
    /// Skip asking each host over HTTP whether its DNS leads here.
    #[arg(long)]
    no_dns: bool,
    /// The compliance self-check instead (audit chains, backups, TLS, HSTS, MFA, idle logoff,
    /// audit retention, passwords): the console's Compliance page. Checks every audit chain
    /// first, and records that check.
    #[arg(long, conflicts_with = "remote")]
    compliance: bool,
}

fn finish(report: &Report, json: bool) -> CliResult {
    if json {
        say!("{}", serde_json::to_string_pretty(report)?);
    } else {
        crate::cli::write_stdout(format_args!("{}", report.render()));
    }
    if report.failed() {
        return Err(Failed("some checks failed (see FAIL above)".into()));
    }
    Ok(())
}

pub async fn run(config_path: &Path, args: CheckArgs) -> CliResult {
    if let Some(url) = args.remote {
        let report = check::remote::run(&check::remote::Options {
            url,
            ca_file: args.ca_file,
            resolve: args.resolve,
            http_port: args.http_port,
        })
        .await;
        return finish(&report, args.json);
    }
    let cfg = match crate::config::Config::load(config_path) {
        Ok(c) => c,
        Err(e) => {
            let mut r = Report::default();
            r.fail("config", e.to_string());
            return finish(&r, args.json);
        }
    };
    if args.compliance {
        return compliance(&cfg, args.json).await;
    }
    let report = check::local::run(
        &cfg,
        &check::local::Options {
            config_path,
            dns: !args.no_dns,
        },
    )
    .await;
    finish(&report, args.json)
}

async fn compliance(cfg: &crate::config::Config, json: bool) -> CliResult {
    use crate::ops::compliance;
    use crate::ops::dashboard::{Level, Sources};
    let now = crate::ops::clock::SystemClock.now();
    let db = super::connect(cfg).await?;
    // The chains are keyed with the installation's secret key: with another one every entry
    // would look altered.
    let secrets = crate::ops::secrets::Secrets::load(&cfg.storage.key_file)?;
    if let crate::ops::keycheck::KeyMatch::Mismatch { why } =
        crate::ops::keycheck::verify_or_record(&db.pool, &secrets, now).await?
    {
        return Err(Failed(crate::ops::keycheck::mismatch_message(
            &cfg.storage.key_file,
            &why,
        )));
    }
    let hosts = cfg.server.host_rules();
    let chains = compliance::verify_chains(&db, &secrets, &hosts, now).await?;
    let console = crate::domain::console::Console::new(
        db.pool.clone(),
        crate::domain::audit::Actor::System,
        crate::domain::audit::Context::system(now),
    );
    crate::domain::console::record_chains_verified(&console, &chains).await?;
    let c = compliance::collect(&Sources {
        db: &db,
        migrations: crate::db::migrate::Migrations::embedded(),
        hosts: &hosts,
        config: cfg,
        now,
        uptime: std::time::Duration::ZERO,
    })
    .await;
    if json {
        say!("{}", serde_json::to_string_pretty(&c)?);
    } else {
        let mut out = String::new();
        for i in &c.items {
            let tag = match i.state.level {
                Level::Ok => "OK  ",
                Level::Warning => "WARN",
                Level::Failing => "FAIL",
            };
            out.push_str(&format!("{tag} {:<18} {}\n", i.state.key, i.state.detail));
            if let Some(f) = &i.state.fix {
                out.push_str(&format!("     {:<18} fix: {f}\n", ""));
            }
            for l in &i.clinics {
                out.push_str(&format!("     {:<18} {}: {}\n", "", l.slug, l.url));
            }
        }
        out.push_str(&format!(
            "{} of {} safeguards met\n",
            c.met(),
            c.items.len()
        ));
        crate::cli::write_stdout(format_args!("{out}"));
    }
    if c.overall == Level::Failing {
        return Err(Failed(
            "some safeguards are not met (see FAIL above)".into(),
        ));
    }
    Ok(())
}
