//! `clinicbox user …`, `clinicbox operator …` and `clinicbox token create`.

use std::path::PathBuf;

use clap::Subcommand;

use super::{CliResult, Failed};
use crate::config::Config;
use crate::db::Db;
use crate::domain::audit::{Actor, Context, Event, action};
use crate::domain::auth::repo::end_sessions_of;
use crate::domain::auth::service::AccountError;
use crate::domain::auth::{AccountRow, AccountStatus, Email, Role, TokenScope, work};
use crate::domain::clinic::Clinic;
use crate::domain::console::{self, Console};
use crate::domain::tenants::{self, Slug, Tenant};
use crate::ops::clock::SystemClock;

fn parse_slug(s: &str) -> Result<Slug, String> {
    Slug::parse(s).map_err(|e| e.to_string())
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| {
        format!("unknown role {s:?}; use one of clinic_admin, doctor, nurse, receptionist, billing")
    })
}

fn parse_scope(s: &str) -> Result<TokenScope, String> {
    TokenScope::parse(s).ok_or_else(|| format!("unknown scope {s:?}; use read or read-write"))
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a staff account. Without --password-file a temporary password is printed once.
    Add {
        #[arg(long, value_parser = parse_slug)]
        tenant: Slug,
        #[arg(long)]
        email: String,
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// Display name (defaults to the part of the email before @).
        #[arg(long)]
        name: Option<String>,
        /// File whose first line is the password.
        #[arg(long)]
        password_file: Option<PathBuf>,
    },
    /// Set a new temporary password (printed once) and end the account's sessions. Two-step
    /// sign-in stays in place.
    ResetPassword {
        #[arg(long, value_parser = parse_slug)]
        tenant: Slug,
        #[arg(long)]
        email: String,
    },
    /// Clear failed sign-in attempts and a lock.
    Unlock {
        #[arg(long, value_parser = parse_slug)]
        tenant: Slug,
        #[arg(long)]
        email: String,
    },
    /// Disable an account and end its sessions.
    Disable {
        #[arg(long, value_parser = parse_slug)]
        tenant: Slug,
        #[arg(long)]
        email: String,
    },
    /// List a clinic's staff accounts.
    List {
        #[arg(long, value_parser = parse_slug)]
        tenant: Slug,
    },
}

#[derive(Debug, Subcommand)]
pub enum OperatorCommand {
    /// Create a console operator. The password comes from --password-file or a prompt.
    Add {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        password_file: Option<PathBuf>,
    },
    /// Set a new password for an operator (from --password-file or a prompt).
    ResetPassword {
        #[arg(long)]
        email: String,
        #[arg(long)]
        password_file: Option<PathBuf>,
    },
    /// Print a one-time link to create the first operator in the browser (only while none exists).
    SetupLink,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an API token for a staff member; it is printed once.
    Create {
        #[arg(long, value_parser = parse_slug)]
        tenant: Slug,
        /// The staff member's email.
        #[arg(long)]
        user: String,
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "read", value_parser = parse_scope)]
        scope: TokenScope,
        /// Lifetime in days (1-365).
        #[arg(long, default_value_t = 90)]
        days: i64,
    },
}

/// A password from the first line of a file, or typed at a prompt (twice).
fn read_password(file: Option<&PathBuf>) -> Result<String, Failed> {
    if let Some(f) = file {
        let text = std::fs::read_to_string(f)
            .map_err(|e| Failed(format!("cannot read {}: {e}", f.display())))?;
        let pw = text.lines().next().unwrap_or("").to_owned();
        if pw.is_empty() {
            return Err(Failed(format!("{} is empty", f.display())));
        }
        return Ok(pw);
    }
    if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        return Err(Failed(
            "no terminal to ask for a password: pass --password-file".into(),
        ));
    }
    let a = rpassword::prompt_password("Password: ")?;
    let b = rpassword::prompt_password("Repeat password: ")?;
    if a != b {
        return Err(Failed("the two passwords differ".into()));
    }
    Ok(a)
}

pub(super) fn cli_ctx() -> Context {
    Context::system(SystemClock.now())
}

async fn tenant(db: &Db, slug: &Slug) -> Result<Tenant, Failed> {
    Ok(tenants::find(db, slug).await?)
}

/// The system acting in clinic `t` from the command line.
pub(super) fn as_system(db: &Db, t: &Tenant, ctx: &Context) -> Clinic {
    Clinic::new(db.pool.clone(), t.db.clone(), Actor::System, ctx.clone())
        .via("cli")
        .named(&t.display_name, t.slug.as_str())
}

async fn staff_by_email(c: &Clinic, email: &str) -> Result<AccountRow, Failed> {
    let e = Email::parse(email).map_err(|e| Failed(crate::i18n::en(e).to_owned()))?;
    work::staff_by_email(c, e.as_str())
        .await?
        .ok_or_else(|| Failed(format!("no staff account with email {}", e)))
}

/// The clinic `slug`, the system acting in it, and its staff account `email`.
async fn staff_in(
    db: &Db,
    slug: &Slug,
    email: &str,
    ctx: &Context,
) -> Result<(Tenant, Clinic, AccountRow), Failed> {
    let t = tenant(db, slug).await?;
    let c = as_system(db, &t, ctx);
    let acc = staff_by_email(&c, email).await?;
    Ok((t, c, acc))
}

fn default_name(email: &str) -> String {
    email.split('@').next().unwrap_or(email).to_owned()
}

pub async fn user(cfg: &Config, cmd: UserCommand) -> CliResult {
    let db = super::connect(cfg).await?;
    let ctx = cli_ctx();
    match cmd {
        UserCommand::Add {
            tenant: slug,
            email,
            role,
            name,
            password_file,
        } => {
            let t = tenant(&db, &slug).await?;
            let pw = password_file
                .as_ref()
                .map(|f| read_password(Some(f)))
                .transpose()?;
            let name = name.unwrap_or_else(|| default_name(&email));
            let c = as_system(&db, &t, &ctx);
            let (acc, temp) = work::create_staff(&c, &email, &name, role, pw.as_deref()).await?;
            say!("created {} ({}) in clinic {slug}", acc.email, role);
            if let Some(t) = temp {
                say!("temporary password (shown once; must be changed at first sign-in): {t}");
            }
        }
        UserCommand::ResetPassword {
            tenant: slug,
            email,
        } => {
            let (t, c, acc) = staff_in(&db, &slug, &email, &ctx).await?;
            let (temp, _) = work::reset_password(&c, acc.id).await?;
            end_sessions_of(&db.pool, Some(t.id), acc.id).await?;
            say!(
                "temporary password for {} (shown once; must be changed at first sign-in): {temp}",
                acc.email
            );
            if acc.mfa_enabled() {
                say!("two-step sign-in stays on for this account");
            }
        }
        UserCommand::Unlock {
            tenant: slug,
            email,
        } => {
            let (_, c, acc) = staff_in(&db, &slug, &email, &ctx).await?;
            work::unlock(&c, acc.id).await?;
            say!("{} is unlocked", acc.email);
        }
        UserCommand::Disable {
            tenant: slug,
            email,
        } => {
            let (t, c, acc) = staff_in(&db, &slug, &email, &ctx).await?;
            work::update_staff(&c, acc.id, None, None, Some(AccountStatus::Disabled)).await?;
            end_sessions_of(&db.pool, Some(t.id), acc.id).await?;
            say!("{} is disabled and signed out", acc.email);
        }
        UserCommand::List { tenant: slug } => {
            let t = tenant(&db, &slug).await?;
            let rows = work::staff(&as_system(&db, &t, &ctx)).await?;
            say!(
                "{:<6} {:<36} {:<14} {:<9} {:<4} NAME",
                "ID",
                "EMAIL",
                "ROLE",
                "STATUS",
                "MFA"
            );
            for r in rows {
                say!(
                    "{:<6} {:<36} {:<14} {:<9} {:<4} {}",
                    r.id,
                    r.email,
                    r.role.as_deref().unwrap_or(""),
                    r.status,
                    if r.mfa_enabled() { "yes" } else { "no" },
                    r.display_name
                );
            }
        }
    }
    Ok(())
}

pub async fn operator(cfg: &Config, cmd: OperatorCommand) -> CliResult {
    let db = super::connect(cfg).await?;
    let ctx = cli_ctx();
    match cmd {
        OperatorCommand::Add {
            email,
            name,
            password_file,
        } => {
            let pw = read_password(password_file.as_ref())?;
            let name = name.unwrap_or_else(|| default_name(&email));
            let c = Console::new(db.pool.clone(), Actor::System, ctx.clone());
            let acc = console::add_operator(&c, &email, &name, &pw).await?;
            crate::domain::auth::setup::forget_link_file(&cfg.storage.data_dir);
            say!(
                "operator {} created; sign in at the console host",
                acc.email
            );
        }
        OperatorCommand::ResetPassword {
            email,
            password_file,
        } => {
            let pw = read_password(password_file.as_ref())?;
            let e = Email::parse(&email).map_err(|e| Failed(crate::i18n::en(e).to_owned()))?;
            let c = Console::new(db.pool.clone(), Actor::System, ctx.clone());
            let acc = console::reset_operator_password(&c, e.as_str(), &pw)
                .await?
                .ok_or_else(|| Failed(format!("no operator with email {e}")))?;
            end_sessions_of(&db.pool, None, acc.id).await?;
            say!("password of operator {e} changed; their sessions ended");
        }
        OperatorCommand::SetupLink => {
            match crate::domain::auth::setup::create_token(&db.pool, ctx.at).await? {
                Some(token) => {
                    super::audit_event(
                        &db,
                        ctx.at,
                        Event::new(action::SETUP_LINK, Actor::System),
                        None,
                    )
                    .await?;
                    say!("{}", super::serve::setup_link(cfg, &token));
                }
                None => {
                    return Err(Failed(
                        "an operator account already exists; use `clinicbox operator add` or `operator reset-password`".into(),
                    ));
                }
            }
        }
    }
    Ok(())
}

pub async fn token(cfg: &Config, cmd: TokenCommand) -> CliResult {
    let TokenCommand::Create {
        tenant: slug,
        user,
        name,
        scope,
        days,
    } = cmd;
    let db = super::connect(cfg).await?;
    let ctx = cli_ctx();
    let t = tenant(&db, &slug).await?;
    let c = as_system(&db, &t, &ctx);
    let acc = staff_by_email(&c, &user).await?;
    let (secret, row) = work::create_token_for(&c, acc.id, &name, scope, Some(days))
        .await
        .map_err(|e| match e {
            AccountError::Disabled => Failed(format!("{} is disabled", acc.email)),
            AccountError::MfaRequired => Failed(format!(
                "clinic {slug} requires two-step sign-in for {}, who has not set it up: a token would not work until they do. They turn it on under Account → Two-step sign-in; then create the token",
                acc.email
            )),
            e => Failed(e.to_string()),
        })?;
    eprintln!(
        "token \"{}\" for {} ({}), expires {}; shown once:",
        row.name,
        acc.email,
        row.scope,
        row.expires_at.format("%Y-%m-%d")
    );
    say!("{secret}");
    Ok(())
}
