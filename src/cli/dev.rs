//! `clinicbox dev seed`: generated patients for benchmarks and trials. Never on a live clinic.

use std::io::IsTerminal;

use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};

use super::{CliResult, Failed};
use crate::config::Config;
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
}

pub async fn run(cfg: &Config, cmd: DevCommand) -> CliResult {
    let DevCommand::Seed { tenant, patients } = cmd;
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
