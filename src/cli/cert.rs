//! `clinicbox cert status|renew`

use std::time::{Duration, Instant};

use clap::Subcommand;

use super::{CliResult, Failed};
use crate::config::{Config, TlsMode};
use crate::domain::audit::{Actor, Event, action};
use crate::domain::tenants::Hostname;
use crate::ops::clock::SystemClock;
use crate::tls::status::{self, HostStatus};
use crate::tls::{certs, repo};

#[derive(Debug, Subcommand)]
pub enum CertCommand {
    /// Certificate of every host: issuer, expiry, next attempt, last error.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Ask the running server to order new certificates now (all hosts, or one).
    Renew {
        #[arg(long, value_parser = parse_host)]
        host: Option<Hostname>,
        /// Seconds to wait for the result; 0 returns at once.
        #[arg(long, default_value_t = 180)]
        wait: u64,
    },
}

fn parse_host(s: &str) -> Result<Hostname, String> {
    Hostname::parse(s).map_err(|e| e.to_string())
}

pub async fn run(cfg: &Config, cmd: CertCommand) -> CliResult {
    match cfg.tls.mode {
        TlsMode::Off => {
            return Err(Failed(
                "tls.mode = \"off\": certificates are handled by the proxy in front of ClinicBox"
                    .into(),
            ));
        }
        TlsMode::Manual => return manual_status(cfg, &cmd),
        TlsMode::Acme => {}
    }
    let db = super::connect(cfg).await?;
    let rules = cfg.server.host_rules();
    match cmd {
        CertCommand::Status { json } => {
            let rows = status::collect(&db, &rules, SystemClock.now())
                .await
                .map_err(|e| Failed(e.to_string()))?;
            if json {
                say!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                print_table(&rows);
            }
        }
        CertCommand::Renew { host, wait } => {
            let known = crate::tls::renewal::known_hosts(&db, &rules).await?;
            if let Some(h) = &host
                && !known.iter().any(|k| k == h.as_str())
            {
                return Err(Failed(format!(
                    "{h} is not a host of this installation (hosts: {})",
                    known.join(", ")
                )));
            }
            let now = SystemClock.now();
            repo::ensure_rows(&db.pool, &known, now).await?;
            let before = repo::all(&db.pool).await?;
            let marked: Vec<String> =
                repo::request_renewal(&db.pool, host.as_ref().map(Hostname::as_str), now)
                    .await?
                    .into_iter()
                    .filter(|h| known.contains(h))
                    .collect();
            super::audit_event(
                &db,
                now,
                Event::new(action::CERT_RENEW, Actor::System)
                    .resource("host", host.as_ref().map_or("*", Hostname::as_str))
                    .details(serde_json::json!({ "via": "cli", "hosts": marked })),
                None,
            )
            .await?;
            say!(
                "renewal requested for {}; the running server orders now",
                marked.join(", ")
            );
            if wait == 0 {
                return Ok(());
            }
            wait_for(&db, &marked, &before, Duration::from_secs(wait)).await?;
        }
    }
    Ok(())
}

/// Waits until every marked host has a new attempt recorded, and reports each outcome.
async fn wait_for(
    db: &crate::db::Db,
    hosts: &[String],
    before: &[repo::CertRow],
    patience: Duration,
) -> CliResult {
    let started = Instant::now();
    let last = |rows: &[repo::CertRow], h: &str| {
        rows.iter()
            .find(|r| r.hostname == h)
            .and_then(|r| r.last_attempt_at)
    };
    loop {
        let rows = repo::all(&db.pool).await?;
        let done: Vec<&repo::CertRow> = hosts
            .iter()
            .filter_map(|h| {
                let r = rows.iter().find(|r| &r.hostname == h)?;
                (!r.force_renew && last(&rows, h) != last(before, h)).then_some(r)
            })
            .collect();
        if done.len() == hosts.len() {
            let mut failed = 0;
            for r in done {
                match &r.last_error {
                    None => say!(
                        "{}: new certificate from {}, valid until {}",
                        r.hostname,
                        r.issuer.as_deref().unwrap_or("?"),
                        r.not_after
                            .map(|t| t.format("%Y-%m-%d").to_string())
                            .unwrap_or_default()
                    ),
                    Some(e) => {
                        failed += 1;
                        say!(
                            "{}: not renewed: {e} (next attempt {})",
                            r.hostname,
                            r.next_attempt_at.format("%Y-%m-%d %H:%M UTC")
                        );
                    }
                }
            }
            return if failed == 0 {
                Ok(())
            } else {
                Err(Failed(format!("{failed} host(s) not renewed")))
            };
        }
        if started.elapsed() > patience {
            return Err(Failed(format!(
                "no result within {} s; is `clinicbox serve` running? The request stays queued (see `clinicbox cert status`)",
                patience.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn print_table(rows: &[HostStatus]) {
    say!(
        "{:<34} {:<9} {:>9}  {:<24} {:<17} LAST ERROR",
        "HOST",
        "STATE",
        "DAYS LEFT",
        "ISSUER",
        "NEXT ATTEMPT"
    );
    for r in rows {
        let days = r
            .days_left
            .map(|d| format!("{d:.1}"))
            .unwrap_or_else(|| "-".into());
        let state = serde_json::to_value(r.state)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        say!(
            "{:<34} {:<9} {:>9}  {:<24} {:<17} {}",
            r.host,
            state,
            days,
            r.issuer.as_deref().unwrap_or("-"),
            r.next_attempt_at
                .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                .unwrap_or_else(|| "-".into()),
            r.last_error.as_deref().unwrap_or("")
        );
    }
}

fn manual_status(cfg: &Config, cmd: &CertCommand) -> CliResult {
    if let CertCommand::Renew { .. } = cmd {
        return Err(Failed(
            "tls.mode = \"manual\": replace the files, then `systemctl reload clinicbox`".into(),
        ));
    }
    let path = cfg
        .tls
        .cert_file
        .as_ref()
        .ok_or_else(|| Failed("tls.cert_file is not set".into()))?;
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failed(format!("tls.cert_file = {}: {e}", path.display())))?;
    let chain = certs::parse_chain(&text)
        .map_err(|e| Failed(format!("tls.cert_file = {}: {e}", path.display())))?;
    let info = certs::info(&chain[0])?;
    let days = (info.not_after - SystemClock.now()).num_seconds() as f64 / 86_400.0;
    if matches!(cmd, CertCommand::Status { json: true }) {
        say!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "mode": "manual",
                "file": path,
                "issuer": info.issuer,
                "names": info.names,
                "not_after": info.not_after,
                "days_left": days,
            }))?
        );
    } else {
        say!("manual certificate {}", path.display());
        say!("  names:     {}", info.names.join(", "));
        say!("  issuer:    {}", info.issuer);
        say!(
            "  expires:   {} ({days:.1} days)",
            info.not_after.format("%Y-%m-%d %H:%M UTC")
        );
        for h in std::iter::once(cfg.server.console_host.as_str()) {
            if !info.covers(h) {
                say!("  warning:   does not cover the console host {h}");
            }
        }
    }
    Ok(())
}
