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
