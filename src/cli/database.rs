//! `clinicbox database setup-sql`: the part of the database setup a superuser runs.

use clap::Subcommand;

use super::{CliResult, Failed};
use crate::config::Config;
use crate::domain::tenants::Ident;

#[derive(Debug, Subcommand)]
pub enum DatabaseCommand {
    /// Print the SQL a PostgreSQL superuser runs in the application's database, once at
    /// install and after each upgrade (the .deb does it for a local PostgreSQL):
    /// `clinicbox database setup-sql | sudo -u postgres psql -v ON_ERROR_STOP=1 -d clinicbox`.
    /// It creates the roles that own the audit logs and make clinic roles, and takes
    /// CREATEROLE from the login role. Safe to run again.
    SetupSql {
        /// The application's login role; default: the user in `database.url`.
        #[arg(long)]
        login_role: Option<String>,
    },
}

pub fn run(cfg: &Config, cmd: DatabaseCommand) -> CliResult {
    let DatabaseCommand::SetupSql { login_role } = cmd;
    let name = match login_role {
        Some(n) => n,
        None => cfg
            .database
            .url
            .user()
            .ok_or_else(|| Failed("database.url names no user: pass --login-role".into()))?,
    };
    let login = Ident::parse_login_role(&name).map_err(|e| Failed(e.to_string()))?;
    say!("{}", crate::db::privileged::setup_sql(&login));
    Ok(())
}
