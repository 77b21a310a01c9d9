//! `clinicbox codes list|import`: the diagnosis code sets clinics search.

use std::path::PathBuf;

use clap::Subcommand;

use super::accounts::cli_ctx;
use super::{CliResult, Failed};
use crate::config::Config;
use crate::domain::audit::Actor;
use crate::domain::codes;
use crate::domain::console::{self, Console};

#[derive(Debug, Subcommand)]
pub enum CodesCommand {
    /// The loaded code sets.
    List,
    /// Load a code set from a file, or replace one already loaded (in one transaction).
    ///
    /// The file has one code per line: `code<TAB>title` or `code<TAB>billable<TAB>title`
    /// (billable 1 or 0), or the same as CSV; `#` lines are comments, a first line starting
    /// with `code` is a header; UTF-8, optionally gzip-compressed. A clinic uses a set once
    /// its settings name it (diagnosis code set).
    Import {
        /// The file.
        file: PathBuf,
        /// The set's short name, e.g. `who-icd10` or `icd11` (a-z, 0-9, '.', '_', '-').
        #[arg(long)]
        system: String,
        /// What staff read, e.g. "WHO ICD-10 2019".
        #[arg(long)]
        name: String,
    },
}

pub async fn run(cfg: &Config, cmd: CodesCommand) -> CliResult {
    let db = super::connect(cfg).await?;
    match cmd {
        CodesCommand::List => {
            for s in codes::systems(&db.pool).await? {
                say!(
                    "{}\t{} codes\t{}\tloaded {}",
                    s.system,
                    s.codes,
                    s.name,
                    s.loaded_at.format("%Y-%m-%d %H:%M UTC")
                );
            }
        }
        CodesCommand::Import { file, system, name } => {
            let data = std::fs::read(&file)
                .map_err(|e| Failed(format!("cannot read {}: {e}", file.display())))?;
            let c = Console::new(db.pool.clone(), Actor::System, cli_ctx());
            let n = console::import_codes(&c, &system, &name, &data)
                .await
                .map_err(|e| Failed(format!("{}: {e}", file.display())))?;
            say!("{system}: {n} codes loaded");
        }
    }
    Ok(())
}
