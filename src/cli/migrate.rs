//! `clinicbox migrate`

use std::io::IsTerminal;
use std::sync::Mutex;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use super::{CliResult, Failed};
use crate::config::Config;
use crate::db::migrate::{self, Migrations, Progress};

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// How many clinics to migrate at the same time.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub parallel: u16,
}

/// A bar on a terminal, one line per clinic otherwise (journal, CI, pipes).
pub struct CliProgress {
    bar: Mutex<Option<ProgressBar>>,
    tty: bool,
}

impl CliProgress {
    pub fn new() -> Self {
        Self {
            bar: Mutex::new(None),
            tty: std::io::stderr().is_terminal(),
        }
    }

    fn finish(&self) {
        if let Some(bar) = self.bar.lock().unwrap_or_else(|p| p.into_inner()).take() {
            bar.finish_and_clear();
        }
    }
}

impl Progress for CliProgress {
    fn start(&self, pending: usize) {
        if self.tty {
            let bar = ProgressBar::new(pending as u64);
            if let Ok(style) = ProgressStyle::with_template(
                "{spinner} migrating clinics {bar:30} {pos}/{len} {msg}",
            ) {
                bar.set_style(style);
            }
            *self.bar.lock().unwrap_or_else(|p| p.into_inner()) = Some(bar);
        } else {
            say!("migrating {pending} clinic(s)");
        }
    }

    fn tenant_done(&self, slug: &str, result: &Result<(i64, i64), String>) {
        let guard = self.bar.lock().unwrap_or_else(|p| p.into_inner());
        match (guard.as_ref(), result) {
            (Some(bar), Ok(_)) => {
                bar.set_message(slug.to_owned());
                bar.inc(1);
            }
            (Some(bar), Err(e)) => {
                bar.println(format!("FAILED {slug}: {e}"));
                bar.inc(1);
            }
            (None, Ok((from, to))) => say!("migrated {slug}: {from} -> {to}"),
            (None, Err(e)) => say!("FAILED {slug}: {e}"),
        }
    }
}

pub async fn run(cfg: &Config, args: MigrateArgs) -> CliResult {
    let db = super::connect(cfg).await?;
    let progress = CliProgress::new();
    let report = migrate::run(
        &db,
        Migrations::embedded(),
        usize::from(args.parallel),
        &progress,
    )
    .await;
    progress.finish();
    let report = report?;
    for v in &report.control_applied {
        say!("control schema: applied migration {v}");
    }
    if report.codes_loaded > 0 {
        say!(
            "diagnosis codes: loaded {} ICD-10-CM codes",
            report.codes_loaded
        );
    }
    say!(
        "{} clinic(s): {} upgraded, {} failed, {} already current ({:.0} ms)",
        report.tenants_total,
        report.tenants_upgraded.len(),
        report.tenants_failed.len(),
        report.tenants_total
            - report.tenants_upgraded.len() as i64
            - report.tenants_failed.len() as i64,
        report.elapsed.as_secs_f64() * 1000.0
    );
    if report.tenants_failed.is_empty() {
        Ok(())
    } else {
        let names: Vec<String> = report
            .tenants_failed
            .iter()
            .map(|(slug, e)| format!("{slug} ({e})"))
            .collect();
        Err(Failed(format!(
            "these clinics stay at their previous version until the problem is fixed and `clinicbox migrate` is run again: {}",
            names.join("; ")
        )))
    }
}
