//! `/backups`: how backups stand (last result, age), the archives on this server, a "back up
//! now" button, and the schedule, retention and encryption settings.

use crate::web::extract::Form;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::NaiveTime;
use serde::Deserialize;
use tower_sessions::Session;

use crate::app::AppState;
use crate::domain::audit::Context;
use crate::domain::console::{self, Console};
use crate::ops::backup::{self, BackupSettings, Ctx, Encryption, Listed, Status};
use crate::web::AppError;
use crate::web::auth::{AuditCtx, CurrentOperator};
use crate::web::forms::FormErrors;
use crate::web::page::{Page, render_page, render_with_status};
use crate::web::page_ctx::{PageCtx, redirect_with_flash};

#[derive(Template)]
#[template(path = "console/backups.html")]
struct BackupsPage {
    page: Page,
    dir: String,
    status: Status,
    files: Vec<Listed>,
    form: SettingsForm,
    encryption_mode: &'static str,
    last_verify: Option<backup::schedule::LastVerify>,
    errors: FormErrors,
}

impl BackupsPage {
    fn date(t: &Option<chrono::DateTime<chrono::Utc>>) -> String {
        t.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or_else(|| "–".into())
    }

    fn size(b: &u64) -> String {
        backup::human_bytes(*b)
    }
}

fn mode(e: &Encryption) -> &'static str {
    match e {
        Encryption::None => "none",
        Encryption::Recipient(_) => "recipient",
        Encryption::Passphrase(_) => "passphrase",
    }
}

/// The settings form as typed (or as stored, for display).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct SettingsForm {
    #[serde(default)]
    enabled: Option<String>,
    #[serde(default)]
    at: String,
    #[serde(default)]
    keep_daily: String,
    #[serde(default)]
    keep_weekly: String,
    #[serde(default)]
    keep_monthly: String,
    #[serde(default)]
    encryption: String,
    #[serde(default)]
    recipient: String,
    #[serde(default)]
    passphrase: String,
}

impl SettingsForm {
    fn from_settings(s: &BackupSettings) -> Self {
        Self {
            enabled: s.enabled.then(|| "on".to_owned()),
            at: s.at.format("%H:%M").to_string(),
            keep_daily: s.keep_daily.to_string(),
            keep_weekly: s.keep_weekly.to_string(),
            keep_monthly: s.keep_monthly.to_string(),
            encryption: mode(&s.encryption).to_owned(),
            recipient: match &s.encryption {
                Encryption::Recipient(r) => r.clone(),
                _ => String::new(),
            },
            passphrase: String::new(),
        }
    }
}

/// The page; `form` is what was typed (after an error), otherwise the stored settings.
async fn load(
    state: &AppState,
    page: Page,
    form: Option<SettingsForm>,
    errors: FormErrors,
) -> Result<BackupsPage, AppError> {
    let status = backup::status(&state.db.pool, state.clock.now()).await?;
    let settings = BackupSettings::load(&state.db.pool).await?;
    let form = form.unwrap_or_else(|| SettingsForm::from_settings(&settings));
    let files = backup::list(&state.config).map_err(|e| AppError::Internal(e.into()))?;
    Ok(BackupsPage {
        page,
        dir: backup::backups_dir(&state.config).display().to_string(),
        status,
        files,
        form,
        encryption_mode: mode(&settings.encryption),
        last_verify: backup::schedule::last_verify(&state.db.pool).await?,
        errors,
    })
}

pub async fn show(
    State(state): State<AppState>,
    _op: CurrentOperator,
    page: PageCtx,
) -> Result<Response, AppError> {
    let p = load(&state, page.into_page(), None, FormErrors::new()).await?;
    Ok(render_page(&p))
}

/// Starts a full backup in the background, under the same lock as the nightly one.
pub async fn run_now(
    State(state): State<AppState>,
    op: CurrentOperator,
    session: Session,
    ctx: AuditCtx,
) -> Result<Response, AppError> {
    let Some(lock) =
        crate::db::locks::try_acquire(&state.db.pool, crate::db::locks::BACKUP).await?
    else {
        return Ok(redirect_with_flash(&session, "backup_busy", "/backups").await);
    };
    let actor = op.actor();
    let audit_ctx: Context = ctx.0.clone();
    let st = state.clone();
    tokio::spawn(async move {
        let now = st.clock.now();
        let c = Ctx {
            db: &st.db,
            config: &st.config,
            secrets: &st.secrets,
            now,
        };
        match backup::schedule::run_recorded(&c, "manual", actor, &audit_ctx, &backup::Quiet).await
        {
            Ok(c) => tracing::info!(file = %c.path.display(), "backup taken from the console"),
            Err(e) => tracing::error!("backup from the console failed: {e}"),
        }
        if let Err(e) = lock.release().await {
            tracing::warn!(error = %e, "backup lock release");
        }
    });
    Ok(redirect_with_flash(&session, "backup_started", "/backups").await)
}

#[derive(Debug, Deserialize)]
pub struct VerifyForm {
    #[serde(default)]
    file: String,
}

/// Verifies one backup of the list in the background (restored into a scratch database and
/// compared with its manifest), under the backup lock; the result shows on this page and on
/// Compliance. A backup encrypted to a public key needs its private key, which this server
/// does not keep: the command line takes it.
pub async fn verify(
    State(state): State<AppState>,
    op: CurrentOperator,
    session: Session,
    ctx: AuditCtx,
    Form(form): Form<VerifyForm>,
) -> Result<Response, AppError> {
    let files = backup::list(&state.config).map_err(|e| AppError::Internal(e.into()))?;
    // Only a file of the list: the name never becomes a path by itself.
    let Some(file) = files.into_iter().find(|f| f.file == form.file) else {
        return Ok(redirect_with_flash(&session, "backup_unknown", "/backups").await);
    };
    let key = if file.encrypted {
        let settings = BackupSettings::load(&state.db.pool).await?;
        match backup::Key::stored(&settings.encryption, &state.secrets) {
            Ok(backup::Key::None) | Err(_) => {
                return Ok(redirect_with_flash(&session, "verify_needs_key", "/backups").await);
            }
            Ok(k) => k,
        }
    } else {
        backup::Key::None
    };
    let Some(lock) =
        crate::db::locks::try_acquire(&state.db.pool, crate::db::locks::BACKUP).await?
    else {
        return Ok(redirect_with_flash(&session, "backup_busy", "/backups").await);
    };
    let actor = op.actor();
    let audit_ctx: Context = ctx.0.clone();
    let st = state.clone();
    tokio::spawn(async move {
        let c = Ctx {
            db: &st.db,
            config: &st.config,
            secrets: &st.secrets,
            now: st.clock.now(),
        };
        match backup::schedule::verify_recorded(
            &c,
            &file.path,
            key,
            actor,
            &audit_ctx,
            &backup::Quiet,
        )
        .await
        {
            Ok((_, cmp)) if cmp.ok() => {
                tracing::info!(file = %file.file, "backup verified from the console")
            }
            Ok((_, cmp)) => {
                tracing::warn!(file = %file.file, problems = cmp.problems.len(), "backup verification found differences")
            }
            Err(e) => tracing::error!(file = %file.file, "backup verification failed: {e}"),
        }
        if let Err(e) = lock.release().await {
            tracing::warn!(error = %e, "backup lock release");
        }
    });
    Ok(redirect_with_flash(&session, "verify_started", "/backups").await)
}

fn parse_keep(errors: &mut FormErrors, field: &'static str, v: &str) -> u32 {
    match v.trim().parse::<u32>() {
        Ok(n) if n <= 1000 => n,
        _ => {
            errors.add(field, "invalid.whole_0_1000");
            0
        }
    }
}

pub async fn save_settings(
    State(state): State<AppState>,
    op: CurrentOperator,
    session: Session,
    ctx: AuditCtx,
    page: PageCtx,
    Form(form): Form<SettingsForm>,
) -> Result<Response, AppError> {
    let before = BackupSettings::load(&state.db.pool).await?;
    let mut errors = FormErrors::new();
    let at = NaiveTime::parse_from_str(form.at.trim(), "%H:%M").unwrap_or_else(|_| {
        errors.add("at", "invalid.time");
        before.at
    });
    let keep_daily = parse_keep(&mut errors, "keep_daily", &form.keep_daily);
    let keep_weekly = parse_keep(&mut errors, "keep_weekly", &form.keep_weekly);
    let keep_monthly = parse_keep(&mut errors, "keep_monthly", &form.keep_monthly);
    if keep_daily + keep_weekly + keep_monthly == 0 {
        errors.add("keep_daily", "invalid.keep_one");
    }
    let encryption = match form.encryption.as_str() {
        "none" => Encryption::None,
        "recipient" => BackupSettings::recipient(&form.recipient).unwrap_or_else(|e| {
            errors.add("recipient", e);
            Encryption::None
        }),
        "passphrase" if form.passphrase.is_empty() => match &before.encryption {
            e @ Encryption::Passphrase(_) => e.clone(),
            _ => {
                errors.add("passphrase", "invalid.passphrase");
                Encryption::None
            }
        },
        "passphrase" => BackupSettings::passphrase(&state.secrets, &form.passphrase)
            .unwrap_or_else(|e| {
                errors.add("passphrase", e);
                Encryption::None
            }),
        _ => {
            errors.add("encryption", "invalid.encryption");
            Encryption::None
        }
    };
    if !errors.is_empty() {
        let mut shown = form.clone();
        shown.passphrase.clear();
        let p = load(&state, page.into_page(), Some(shown), errors).await?;
        return Ok(render_with_status(StatusCode::UNPROCESSABLE_ENTITY, &p));
    }
    let after = BackupSettings {
        enabled: form.enabled.is_some(),
        at,
        keep_daily,
        keep_weekly,
        keep_monthly,
        encryption,
    };
    // The audit row names the encryption mode, never a key or passphrase.
    let describe = |s: &BackupSettings| {
        serde_json::json!({
            "enabled": s.enabled, "at": s.at.format("%H:%M").to_string(),
            "keep_daily": s.keep_daily, "keep_weekly": s.keep_weekly,
            "keep_monthly": s.keep_monthly, "encryption": mode(&s.encryption),
        })
    };
    let c = Console::new(state.db.pool.clone(), op.actor(), ctx.0.clone());
    console::save_backup_settings(&c, &before, &after, describe).await?;
    Ok(redirect_with_flash(&session, "saved", "/backups").await)
}
