//! `clinicbox dev seed`: generated patients for benchmarks and trials. Never on a live clinic.

use std::io::IsTerminal;

use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};

use super::{CliResult, Failed};
use crate::domain::tenants::{self, Slug};

fn parse_slug(s: &str) -> Result<Slug, String> {
    Slug::parse(s).map_err(|e| e.to_string())
}

#[derive(Debug, Subcommand)]
pub enum DevCommand {
    /// Add N generated patients to a clinic (1,000,000 take a few minutes).
    Seed {
        #[arg(long, value_parser = parse_slug)]
        tenant: Slug,
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
        patients: u64,
    },
    /// Build the breached-password filter (src/domain/auth/breached.bloom) from a list, one
    /// password per line; only those of 12 characters or more are kept (shorter ones are
    /// refused by length).
    BreachedFilter {
        #[arg(long)]
        list: std::path::PathBuf,
        #[arg(long)]
        out: std::path::PathBuf,
    },
}

pub async fn run(config: &std::path::Path, cmd: DevCommand) -> CliResult {
    let (tenant, patients) = match cmd {
        DevCommand::BreachedFilter { list, out } => return breached_filter(&list, &out),
        DevCommand::Seed { tenant, patients } => (tenant, patients),
    };
    let cfg = &super::load_config(config)?;
    let db = super::connect(cfg).await?;
    let t = tenants::find(&db, &tenant).await?;
    let bar = std::io::stderr().is_terminal().then(|| {
        let b = ProgressBar::new(patients);
        if let Ok(s) = ProgressStyle::with_template("{spinner} patients {bar:30} {pos}/{len} {eta}")
        {
            b.set_style(s);
        }
        b
    });
    let took = crate::ops::seed::bulk_patients(&db, &t, patients, |done| match &bar {
        Some(b) => b.set_position(done),
        None => say!("{done}/{patients}"),
    })
    .await
    .map_err(|e| Failed(e.to_string()))?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    say!(
        "added {patients} patients to {tenant} in {:.1} s",
        took.as_secs_f64()
    );
    Ok(())
}

fn breached_filter(list: &std::path::Path, out: &std::path::Path) -> CliResult {
    let text =
        std::fs::read_to_string(list).map_err(|e| Failed(format!("{}: {e}", list.display())))?;
    let mut words: Vec<String> = text
        .lines()
        .map(|l| l.trim().to_lowercase())
        .filter(|l| l.chars().count() >= crate::domain::auth::password::MIN_LEN)
        .collect();
    words.sort();
    words.dedup();
    let filter = crate::domain::auth::breached::build(words.iter().map(String::as_str), 1e-6);
    std::fs::write(out, &filter).map_err(|e| Failed(format!("{}: {e}", out.display())))?;
    say!(
        "{} passwords of {}+ characters -> {} ({} bytes)",
        words.len(),
        crate::domain::auth::password::MIN_LEN,
        out.display(),
        filter.len()
    );
    Ok(())
}
