//! The command line. Output for people goes to stdout; diagnostics go through tracing to stderr.

/// `println!` for command output: a reader that stops reading (`clinicbox tenant list | head`)
/// must not kill the command half-way, so a closed stdout is ignored (see [`write_stdout`]).
macro_rules! say {
    () => { $crate::cli::write_stdout(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::cli::write_stdout(format_args!("{}\n", format_args!($($arg)*))) };
}

mod accounts;
mod audit;
mod backup;
mod cert;
mod check;
mod codes;
mod database;
mod demo;
mod dev;
mod migrate;
mod serve;
mod tenant;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{self, Config};

#[derive(Debug, Parser)]
#[command(
    name = "clinicbox",
    version,
    about = "Clinic management server: one binary, one PostgreSQL, one systemd unit",
    long_about = None,
)]
pub struct Cli {
    /// Configuration file (every key can be overridden by CLINICBOX_<SECTION>_<KEY>).
    #[arg(long, global = true, env = "CLINICBOX_CONFIG", default_value = config::DEFAULT_PATH)]
    pub config: PathBuf,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a demo on a private PostgreSQL cluster in ./.clinicbox-demo (no config needed).
    Demo(demo::DemoArgs),
    /// Run the service (used by the systemd unit). Never migrates: run `migrate` first.
    Serve,
    /// Bring the control schema and every clinic schema to this binary's version.
    Migrate(migrate::MigrateArgs),
    /// Create, list, suspend, resume or delete clinics.
    #[command(subcommand)]
    Tenant(tenant::TenantCommand),
    /// Clinic staff accounts.
    #[command(subcommand)]
    User(accounts::UserCommand),
    /// System console operators.
    #[command(subcommand)]
    Operator(accounts::OperatorCommand),
    /// API tokens for scripts and monitoring.
    #[command(subcommand)]
    Token(accounts::TokenCommand),
    /// Diagnosis code sets (ICD-10-CM is built in): list, import another.
    #[command(subcommand)]
    Codes(codes::CodesCommand),
    /// Audit log integrity and retention.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// The part of the database setup that needs a PostgreSQL superuser.
    #[command(subcommand)]
    Database(database::DatabaseCommand),
    /// HTTPS certificates: status per host, forced renewal.
    #[command(subcommand)]
    Cert(cert::CertCommand),
    /// Check the installation (config, database, migrations, listeners, DNS, certificates,
    /// disk, backups, clock), or a running server from outside with --remote.
    Check(check::CheckArgs),
    /// Backups: take, list, verify (restore into a scratch database), restore.
    #[command(subcommand)]
    Backup(backup::BackupCommand),
    /// Development and benchmark helpers.
    #[command(subcommand)]
    Dev(dev::DevCommand),
    /// Write the man pages (clinicbox.1 and one per command) to a directory (packaging).
    #[command(hide = true)]
    Manpage {
        #[arg(long)]
        out: PathBuf,
    },
}

static STDOUT_CLOSED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Writes to stdout. When the reader has gone (EPIPE), the rest of the output is dropped and the
/// command carries on: a backup or migration is never abandoned because `head` stopped reading.
pub(crate) fn write_stdout(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    use std::sync::atomic::Ordering;
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(args).and_then(|()| out.flush()) {
        STDOUT_CLOSED.store(true, Ordering::Relaxed);
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            tracing::warn!(error = %e, "cannot write to standard output");
        }
    }
}

/// A failure already explained to the user; the process exits with status 1.
#[derive(Debug)]
pub struct Failed(pub String);

impl<E: std::fmt::Display> From<E> for Failed {
    fn from(e: E) -> Self {
        Failed(e.to_string())
    }
}

pub type CliResult = Result<(), Failed>;

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // One crypto provider for the whole process (rustls clients build on the default).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(cli));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failed(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> CliResult {
    match cli.command {
        Command::Demo(args) => demo::run(args).await,
        Command::Serve => serve::run(&load_config(&cli.config)?).await,
        Command::Migrate(args) => {
            crate::ops::telemetry::init_cli();
            migrate::run(&load_config(&cli.config)?, args).await
        }
        Command::Tenant(cmd) => {
            crate::ops::telemetry::init_cli();
            tenant::run(&load_config(&cli.config)?, cmd).await
        }
        Command::User(cmd) => {
            crate::ops::telemetry::init_cli();
            accounts::user(&load_config(&cli.config)?, cmd).await
        }
        Command::Operator(cmd) => {
            crate::ops::telemetry::init_cli();
            accounts::operator(&load_config(&cli.config)?, cmd).await
        }
        Command::Token(cmd) => {
            crate::ops::telemetry::init_cli();
            accounts::token(&load_config(&cli.config)?, cmd).await
        }
        Command::Codes(cmd) => {
            crate::ops::telemetry::init_cli();
            codes::run(&load_config(&cli.config)?, cmd).await
        }
        Command::Audit(cmd) => {
            crate::ops::telemetry::init_cli();
            audit::run(&load_config(&cli.config)?, cmd).await
        }
        Command::Database(cmd) => database::run(&load_config(&cli.config)?, cmd),
        Command::Cert(cmd) => {
            crate::ops::telemetry::init_cli();
            cert::run(&load_config(&cli.config)?, cmd).await
        }
        Command::Check(args) => {
            crate::ops::telemetry::init_cli();
            check::run(&cli.config, args).await
        }
        Command::Backup(cmd) => {
            crate::ops::telemetry::init_cli();
            backup::run(&load_config(&cli.config)?, cmd).await
        }
        Command::Manpage { out } => manpages(&out),
        Command::Dev(cmd) => {
            crate::ops::telemetry::init_cli();
            dev::run(&cli.config, cmd).await
        }
    }
}

/// `clinicbox.1` plus `clinicbox-<command>[-<subcommand>].1` for every visible command.
fn manpages(out: &std::path::Path) -> CliResult {
    use clap::CommandFactory;
    fn write(out: &std::path::Path, name: &str, c: clap::Command) -> CliResult {
        let mut buf = Vec::new();
        clap_mangen::Man::new(c.clone()).render(&mut buf)?;
        std::fs::write(out.join(format!("{name}.1")), buf)?;
        for sub in c.get_subcommands().filter(|s| !s.is_hide_set()) {
            let sub_name = format!("{name}-{}", sub.get_name());
            let named = sub
                .clone()
                .display_name(sub_name.clone())
                .bin_name(sub_name.clone());
            write(out, &sub_name, named)?;
        }
        Ok(())
    }
    std::fs::create_dir_all(out)?;
    write(out, "clinicbox", Cli::command())
}

/// A system audit row for something done from the command line, on a connection of its own
/// (actor: system).
pub(crate) async fn audit_event(
    db: &crate::db::Db,
    now: chrono::DateTime<chrono::Utc>,
    event: crate::domain::audit::Event,
    tenant_id: Option<i64>,
) -> Result<(), Failed> {
    let mut conn = db.pool.acquire().await?;
    crate::domain::audit::record_system(
        &mut conn,
        &crate::domain::audit::Context::system(now),
        event,
        tenant_id,
    )
    .await?;
    Ok(())
}

fn load_config(path: &std::path::Path) -> Result<Config, Failed> {
    Config::load(path).map_err(|e| Failed(e.to_string()))
}

/// Connects with the configured URL and checks the login role is set up for isolation.
pub(crate) async fn connect(cfg: &Config) -> Result<crate::db::Db, Failed> {
    let db = crate::db::connect(&cfg.database).await?;
    crate::db::check_login_role(&db).await.map_err(Failed)?;
    Ok(db)
}
