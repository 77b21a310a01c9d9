//! Login, lockout, second factor, account and token management. Callers open the transaction
//! (a clinic transaction for staff, a plain one for operators) and write the audit row in it.

use chrono::{DateTime, Duration, Utc};
use sqlx::PgConnection;

use super::model::{AccountStatus, Email, Role, TokenScope};
use super::password::{self, NewPassword};
use super::repo::{self, AccountRow, Accounts, TokenRow};
use super::{tokens, totp};
use crate::ops::secrets::{Purpose, Secrets};

/// Failures before an account locks; each further failure doubles the lock (1, 2, 4… minutes,
/// at most an hour).
pub const MAX_FAILURES: i32 = 5;

pub fn lock_duration(failures: i32) -> Option<Duration> {
    if failures < MAX_FAILURES {
        return None;
    }
    let exp = (failures - MAX_FAILURES).min(6) as u32;
    Some(Duration::minutes((1i64 << exp).min(60)))
}

#[derive(Debug)]
pub enum PasswordCheck {
    /// Right password, no second factor: logged in.
    Ok(AccountRow),
    /// Right password; a TOTP or recovery code must follow.
    NeedsSecondFactor(AccountRow),
    /// Wrong email or password. `account` is set when the email exists (for the audit row);
    /// `locked_now` when this failure locked it.
    Invalid {
        account: Option<i64>,
        locked_now: bool,
    },
    Locked {
        account: i64,
        until: DateTime<Utc>,
    },
    Disabled {
        account: i64,
    },
}

/// Checks email and password, counting failures. Unknown emails and locked accounts still
/// verify a password hash, so every path costs one argon2 verification.
pub async fn check_password(
    conn: &mut PgConnection,
    kind: Accounts,
    email: &str,
    pw: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<PasswordCheck> {
    let Ok(email) = Email::parse(email) else {
        password::verify(pw, None).await;
        return Ok(PasswordCheck::Invalid {
            account: None,
            locked_now: false,
        });
    };
    let Some(acc) = repo::by_email(conn, kind, email.as_str(), true).await? else {
        password::verify(pw, None).await;
        return Ok(PasswordCheck::Invalid {
            account: None,
            locked_now: false,
        });
    };
    if let Some(until) = acc.locked_until.filter(|t| *t > now) {
        password::verify(pw, None).await;
        return Ok(PasswordCheck::Locked {
            account: acc.id,
            until,
        });
    }
    if !password::verify(pw, acc.password_hash.as_deref()).await {
        let locked_now = fail(conn, kind, &acc, now).await?;
        return Ok(PasswordCheck::Invalid {
            account: Some(acc.id),
            locked_now,
        });
    }
    if acc.status() == AccountStatus::Disabled {
        return Ok(PasswordCheck::Disabled { account: acc.id });
    }
    if acc.mfa_enabled() {
        return Ok(PasswordCheck::NeedsSecondFactor(acc));
    }
    repo::record_success(conn, kind, acc.id, now).await?;
    Ok(PasswordCheck::Ok(acc))
}

/// Counts a failure; returns whether the account is now locked.
async fn fail(
    conn: &mut PgConnection,
    kind: Accounts,
    acc: &AccountRow,
    now: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let failed = acc.failed_logins + 1;
    let until = lock_duration(failed).map(|d| now + d);
    repo::record_failure(conn, kind, acc.id, failed, until, now).await?;
    Ok(until.is_some())
}

#[derive(Debug)]
pub enum SecondFactor {
    Totp(AccountRow),
    RecoveryCode { account: AccountRow, remaining: i64 },
    Invalid { locked_now: bool },
    Locked,
    Gone,
}

/// Checks a TOTP code (each step once) or an unused recovery code.
pub async fn check_second_factor(
    conn: &mut PgConnection,
    kind: Accounts,
    secrets: &Secrets,
    account_id: i64,
    code: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<SecondFactor> {
    let Some(acc) = repo::by_id(conn, kind, account_id, true).await? else {
        return Ok(SecondFactor::Gone);
    };
    if acc.status() == AccountStatus::Disabled {
        return Ok(SecondFactor::Gone);
    }
    if acc.is_locked(now) {
        return Ok(SecondFactor::Locked);
    }
    let Some(sealed) = acc.mfa_secret.as_deref() else {
        return Ok(SecondFactor::Gone);
    };
    let secret = secrets.decrypt(Purpose::Totp, sealed)?;
    let unix = u64::try_from(now.timestamp()).unwrap_or(0);
    if let Some(step) = totp::check(&secret, code, unix, acc.mfa_last_step)
        && repo::advance_mfa_step(conn, kind, acc.id, step).await?
    {
        repo::record_success(conn, kind, acc.id, now).await?;
        return Ok(SecondFactor::Totp(acc));
    }
    let normalized = totp::normalize_recovery_code(code);
    if normalized.len() == 10
        && repo::use_recovery_code(
            conn,
            kind,
            acc.id,
            &totp::recovery_code_hash(secrets, code),
            now,
        )
        .await?
    {
        repo::record_success(conn, kind, acc.id, now).await?;
        let remaining = repo::unused_recovery_codes(conn, kind, acc.id).await?;
        return Ok(SecondFactor::RecoveryCode {
            account: acc,
            remaining,
        });
    }
    let locked_now = fail(conn, kind, &acc, now).await?;
    Ok(SecondFactor::Invalid { locked_now })
}

/// A secret being enrolled: shown as QR code and text until confirmed with a code.
pub struct Enrolment {
    pub secret_base32: String,
    pub otpauth_url: String,
    pub qr_svg: String,
}

/// Starts (or restarts) enrolment; the previous pending secret is replaced.
pub async fn begin_enrolment(
    conn: &mut PgConnection,
    kind: Accounts,
    secrets: &Secrets,
    acc: &AccountRow,
    issuer: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<Enrolment> {
    let secret = totp::new_secret()?;
    let sealed = secrets.encrypt(Purpose::Totp, &secret)?;
    repo::set_mfa_pending(conn, kind, acc.id, Some(&sealed), now).await?;
    enrolment_view(&secret, issuer, &acc.email)
}

/// The pending enrolment (to show the same QR code again after a mistyped code).
pub fn pending_enrolment(
    secrets: &Secrets,
    acc: &AccountRow,
    issuer: &str,
) -> anyhow::Result<Option<Enrolment>> {
    match acc.mfa_pending.as_deref() {
        Some(sealed) => {
            let secret = secrets.decrypt(Purpose::Totp, sealed)?;
            enrolment_view(&secret, issuer, &acc.email).map(Some)
        }
        None => Ok(None),
    }
}

fn enrolment_view(secret: &[u8], issuer: &str, account: &str) -> anyhow::Result<Enrolment> {
    let url = totp::otpauth_url(secret, issuer, account)?;
    Ok(Enrolment {
        secret_base32: totp::secret_base32(secret),
        qr_svg: totp::qr_svg(&url)?,
        otpauth_url: url,
    })
}

/// Confirms enrolment with a first code. Returns the recovery codes (to show once), or `None`
/// when the code is wrong.
pub async fn confirm_enrolment(
    conn: &mut PgConnection,
    kind: Accounts,
    secrets: &Secrets,
    account_id: i64,
    code: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<Vec<String>>> {
    let Some(acc) = repo::by_id(conn, kind, account_id, true).await? else {
        return Ok(None);
    };
    let Some(sealed) = acc.mfa_pending.as_deref() else {
        return Ok(None);
    };
    let secret = secrets.decrypt(Purpose::Totp, sealed)?;
    let unix = u64::try_from(now.timestamp()).unwrap_or(0);
    let Some(step) = totp::check(&secret, code, unix, None) else {
        return Ok(None);
    };
    repo::set_mfa(conn, kind, acc.id, Some(sealed), Some(step), now).await?;
    let codes = totp::new_recovery_codes()?;
    let hashes: Vec<Vec<u8>> = codes
        .iter()
        .map(|c| totp::recovery_code_hash(secrets, c))
        .collect();
    repo::replace_recovery_codes(conn, kind, acc.id, &hashes).await?;
    Ok(Some(codes))
}

pub async fn disable_mfa(
    conn: &mut PgConnection,
    kind: Accounts,
    account_id: i64,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    repo::set_mfa(conn, kind, account_id, None, None, now).await
}

/// Why an account change was refused. What staff read is [`AccountError::message`] (an i18n
/// message); `Display` is its English text.
#[derive(Debug)]
pub enum AccountError {
    Email(&'static str),
    Name(&'static str),
    Password(password::PasswordError),
    EmailTaken,
    WrongPassword,
    NotFound,
    LastAdmin,
    TokenName,
    TokenDays,
    Disabled,
    MfaRequired,
    /// The clinic's plan allows this many staff accounts in use, and all are.
    StaffLimit(i64),
    Sql(sqlx::Error),
    Other(anyhow::Error),
}

impl std::fmt::Display for AccountError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sql(e) => e.fmt(f),
            Self::Other(e) => e.fmt(f),
            _ => f.write_str(&crate::i18n::en_message(&self.message())),
        }
    }
}

impl std::error::Error for AccountError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Password(e) => Some(e),
            Self::Sql(e) => Some(e),
            Self::Other(e) => Some(e.as_ref()),
            _ => None,
        }
    }
}

impl From<password::PasswordError> for AccountError {
    fn from(e: password::PasswordError) -> Self {
        Self::Password(e)
    }
}

impl From<sqlx::Error> for AccountError {
    fn from(e: sqlx::Error) -> Self {
        Self::Sql(e)
    }
}

impl From<anyhow::Error> for AccountError {
    fn from(e: anyhow::Error) -> Self {
        Self::Other(e)
    }
}

impl AccountError {
    /// What to show next to the field (or above the form), as an i18n message.
    pub fn message(&self) -> String {
        match self {
            Self::Email(k) | Self::Name(k) => (*k).to_owned(),
            Self::Password(e) => e.message(),
            Self::EmailTaken => "invalid.email_taken".into(),
            Self::WrongPassword => "invalid.wrong_password".into(),
            Self::NotFound => "invalid.no_account".into(),
            Self::LastAdmin => "invalid.last_admin".into(),
            Self::TokenName => "invalid.token_name".into(),
            Self::TokenDays => {
                crate::i18n::msg("invalid.token_days", &[("max", &tokens::MAX_DAYS)])
            }
            Self::Disabled => "invalid.account_disabled".into(),
            Self::MfaRequired => "invalid.mfa_required".into(),
            Self::StaffLimit(max) => crate::i18n::msg("invalid.staff_limit", &[("max", max)]),
            Self::Sql(_) | Self::Other(_) => "error.internal".into(),
        }
    }

    /// The form field an error belongs to, for showing it next to the input.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            Self::Email(_) | Self::EmailTaken => Some("email"),
            Self::Name(_) => Some("display_name"),
            Self::Password(_) | Self::WrongPassword => Some("password"),
            Self::TokenName => Some("name"),
            Self::TokenDays => Some("days"),
            _ => None,
        }
    }
}

fn map_email_taken(e: sqlx::Error) -> AccountError {
    if let sqlx::Error::Database(d) = &e
        && matches!(
            d.constraint(),
            Some("users_email_key" | "operators_email_key")
        )
    {
        return AccountError::EmailTaken;
    }
    AccountError::Sql(e)
}

fn with_site<'a>(own: &[&'a str], site: &[&'a str]) -> Vec<&'a str> {
    own.iter().chain(site).copied().collect()
}

/// Creates an account. Without a password a temporary one is generated and returned (to hand
/// over once); the holder must change it at first login.
/// `site`: words about where the account lives (the clinic's name and slug), which its password
/// must not be built on.
pub async fn create_account(
    conn: &mut PgConnection,
    kind: Accounts,
    email: &str,
    display_name: &str,
    role: Option<Role>,
    password: Option<&str>,
    site: &[&str],
    now: DateTime<Utc>,
) -> Result<(AccountRow, Option<String>), AccountError> {
    let email = Email::parse(email).map_err(AccountError::Email)?;
    let name = super::model::parse_display_name(display_name).map_err(AccountError::Name)?;
    let (pw, temporary) = match password {
        Some(p) => (
            NewPassword::parse(p, &with_site(&[email.as_str(), &name], site))?,
            None,
        ),
        None => {
            let t = password::generate_temporary().map_err(anyhow::Error::from)?;
            (NewPassword::parse(&t, &[])?, Some(t))
        }
    };
    if repo::by_email(conn, kind, email.as_str(), false)
        .await?
        .is_some()
    {
        return Err(AccountError::EmailTaken);
    }
    let hash = password::hash(&pw).await?;
    let acc = repo::insert(
        conn,
        kind,
        email.as_str(),
        &name,
        role,
        &hash,
        temporary.is_some(),
        now,
    )
    .await
    .map_err(map_email_taken)?;
    Ok((acc, temporary))
}

/// The holder changes their own password (the current one is required).
pub async fn change_own_password(
    conn: &mut PgConnection,
    kind: Accounts,
    account_id: i64,
    current: &str,
    new: &str,
    confirm: &str,
    site: &[&str],
    now: DateTime<Utc>,
) -> Result<(), AccountError> {
    let acc = repo::by_id(conn, kind, account_id, true)
        .await?
        .ok_or(AccountError::NotFound)?;
    if !password::verify(current, acc.password_hash.as_deref()).await {
        return Err(AccountError::WrongPassword);
    }
    let pw = NewPassword::parse_confirmed(
        new,
        confirm,
        &with_site(&[&acc.email, &acc.display_name], site),
    )?;
    if password::verify(new, acc.password_hash.as_deref()).await {
        return Err(AccountError::Password(password::PasswordError::Weak(
            ": choose a password different from the current one".into(),
        )));
    }
    let hash = password::hash(&pw).await?;
    repo::set_password(conn, kind, acc.id, &hash, false, now).await?;
    Ok(())
}

/// Sets a new temporary password (returned, to hand over once). Any second factor stays:
/// a reset never bypasses MFA.
pub async fn reset_password(
    conn: &mut PgConnection,
    kind: Accounts,
    account_id: i64,
    now: DateTime<Utc>,
) -> Result<String, AccountError> {
    repo::by_id(conn, kind, account_id, true)
        .await?
        .ok_or(AccountError::NotFound)?;
    let t = password::generate_temporary().map_err(anyhow::Error::from)?;
    let hash = password::hash(&NewPassword::parse(&t, &[])?).await?;
    repo::set_password(conn, kind, account_id, &hash, true, now).await?;
    Ok(t)
}

/// Sets a chosen password (CLI `--password-file`); the holder need not change it.
pub async fn set_password(
    conn: &mut PgConnection,
    kind: Accounts,
    account_id: i64,
    new: &str,
    site: &[&str],
    now: DateTime<Utc>,
) -> Result<(), AccountError> {
    let acc = repo::by_id(conn, kind, account_id, true)
        .await?
        .ok_or(AccountError::NotFound)?;
    let pw = NewPassword::parse(new, &with_site(&[&acc.email, &acc.display_name], site))?;
    let hash = password::hash(&pw).await?;
    repo::set_password(conn, kind, acc.id, &hash, false, now).await?;
    Ok(())
}

/// What changed in a staff account, for the audit row (field names, not values).
#[derive(Debug, Default)]
pub struct StaffChange {
    pub changed: Vec<&'static str>,
    /// Role or status changed: the account's sessions must end.
    pub ends_sessions: bool,
}

/// Edits name, role and status of a staff account, keeping at least one active admin.
pub async fn update_staff(
    conn: &mut PgConnection,
    account_id: i64,
    display_name: Option<&str>,
    role: Option<Role>,
    status: Option<AccountStatus>,
    now: DateTime<Utc>,
) -> Result<StaffChange, AccountError> {
    let acc = repo::by_id(conn, Accounts::Staff, account_id, true)
        .await?
        .ok_or(AccountError::NotFound)?;
    let name = match display_name {
        Some(n) => super::model::parse_display_name(n).map_err(AccountError::Name)?,
        None => acc.display_name.clone(),
    };
    let old_role = acc.role().unwrap_or(Role::Receptionist);
    let new_role = role.unwrap_or(old_role);
    let new_status = status.unwrap_or(acc.status());
    let mut change = StaffChange::default();
    if name != acc.display_name {
        change.changed.push("display_name");
    }
    if new_role != old_role {
        change.changed.push("role");
        change.ends_sessions = true;
    }
    if new_status != acc.status() {
        change.changed.push("status");
        change.ends_sessions = true;
    }
    let was_active_admin = old_role == Role::ClinicAdmin && acc.status() == AccountStatus::Active;
    let stays_active_admin = new_role == Role::ClinicAdmin && new_status == AccountStatus::Active;
    if was_active_admin && !stays_active_admin && repo::active_admins(conn).await? <= 1 {
        return Err(AccountError::LastAdmin);
    }
    if !change.changed.is_empty() {
        repo::update_staff(conn, account_id, &name, new_role, new_status, now).await?;
    }
    Ok(change)
}

/// Creates an API token for a staff member. Returns the secret (shown once) and its row.
pub async fn create_token(
    conn: &mut PgConnection,
    user_id: i64,
    name: &str,
    scope: TokenScope,
    days: Option<i64>,
    now: DateTime<Utc>,
) -> Result<(String, TokenRow), AccountError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(AccountError::TokenName);
    }
    let days = days.unwrap_or(tokens::DEFAULT_DAYS);
    if !(1..=tokens::MAX_DAYS).contains(&days) {
        return Err(AccountError::TokenDays);
    }
    let t = tokens::generate()?;
    let row = repo::insert_token(
        conn,
        user_id,
        name,
        &t.hash,
        &t.display_prefix,
        scope,
        now,
        now + Duration::days(days),
    )
    .await?;
    Ok((t.secret, row))
}

#[derive(Debug)]
pub enum TokenCheck {
    Valid {
        account: Box<AccountRow>,
        token: Box<TokenRow>,
    },
    Unknown,
    Expired {
        token_id: i64,
        user_id: i64,
    },
    Revoked {
        token_id: i64,
        user_id: i64,
    },
    AccountDisabled {
        token_id: i64,
        user_id: i64,
    },
}

/// Resolves a bearer token within the current clinic's transaction: a token of another clinic
/// is simply not in this clinic's table.
pub async fn check_token(
    conn: &mut PgConnection,
    token: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<TokenCheck> {
    if !tokens::plausible(token) {
        return Ok(TokenCheck::Unknown);
    }
    let Some(row) = repo::token_by_hash(conn, &tokens::hash(token)).await? else {
        return Ok(TokenCheck::Unknown);
    };
    let (token_id, user_id) = (row.id, row.user_id);
    if row.revoked_at.is_some() {
        return Ok(TokenCheck::Revoked { token_id, user_id });
    }
    if row.expires_at <= now {
        return Ok(TokenCheck::Expired { token_id, user_id });
    }
    let Some(acc) = repo::by_id(conn, Accounts::Staff, row.user_id, false).await? else {
        return Ok(TokenCheck::Unknown);
    };
    if acc.status() != AccountStatus::Active {
        return Ok(TokenCheck::AccountDisabled { token_id, user_id });
    }
    repo::touch_token(conn, row.id, now).await?;
    Ok(TokenCheck::Valid {
        account: Box::new(acc),
        token: Box::new(row),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lockout_grows() {
        assert_eq!(lock_duration(4), None);
        assert_eq!(lock_duration(5), Some(Duration::minutes(1)));
        assert_eq!(lock_duration(6), Some(Duration::minutes(2)));
        assert_eq!(lock_duration(8), Some(Duration::minutes(8)));
        assert_eq!(lock_duration(11), Some(Duration::minutes(60)));
        assert_eq!(lock_duration(40), Some(Duration::minutes(60)));
    }
}
