//! Staff accounts and API tokens as units of work in a clinic (see `domain::clinic`): each
//! change writes its audit event in its own transaction. Reading the staff list names no
//! patient and writes none.

use super::repo::{self, AccountRow, Accounts, TokenRow};
use super::service::{self, AccountError, StaffChange};
use super::{AccountStatus, Role, TokenScope};
use crate::domain::audit::action;
use crate::domain::clinic::Clinic;

pub async fn staff(c: &Clinic) -> sqlx::Result<Vec<AccountRow>> {
    Ok(staff_with_zone(c).await?.0)
}

/// The staff list and the clinic's time zone (to show sign-in times in it).
pub async fn staff_with_zone(c: &Clinic) -> sqlx::Result<(Vec<AccountRow>, chrono_tz::Tz)> {
    let mut u = c.begin().await?;
    let rows = repo::list(&mut u, Accounts::Staff).await?;
    let tz = crate::domain::scheduling::service::clinic_tz(&mut u).await?;
    u.finish_without_clinical_data().await?;
    Ok((rows, tz))
}

pub async fn staff_member(c: &Clinic, id: i64) -> sqlx::Result<Option<AccountRow>> {
    let mut u = c.begin().await?;
    let row = repo::by_id(&mut u, Accounts::Staff, id, false).await?;
    u.finish_without_clinical_data().await?;
    Ok(row)
}

/// A staff account by email (as typed; `None` if there is none or the email is malformed).
pub async fn staff_by_email(c: &Clinic, email: &str) -> sqlx::Result<Option<AccountRow>> {
    let Ok(e) = super::Email::parse(email) else {
        return Ok(None);
    };
    let mut u = c.begin().await?;
    let row = repo::by_email(&mut u, Accounts::Staff, e.as_str(), false).await?;
    u.finish_without_clinical_data().await?;
    Ok(row)
}

/// Refuses one more account in use (a new one, or `enabling` a disabled one) when the clinic's
/// plan allows no more (`settings::plan`).
async fn within_staff_limit(
    conn: &mut sqlx::PgConnection,
    enabling: Option<i64>,
) -> Result<(), AccountError> {
    let Some(max) = crate::domain::settings::plan::Limits::read(conn)
        .await?
        .max_staff
    else {
        return Ok(());
    };
    let rows = repo::list(conn, Accounts::Staff).await?;
    if enabling.is_some_and(|id| {
        rows.iter()
            .any(|r| r.id == id && r.status() != AccountStatus::Disabled)
    }) {
        return Ok(());
    }
    let in_use = rows
        .iter()
        .filter(|r| r.status() != AccountStatus::Disabled)
        .count() as i64;
    if in_use >= max {
        return Err(AccountError::StaffLimit(max));
    }
    Ok(())
}

/// A new staff account; without `password` a temporary one is made and returned once.
pub async fn create_staff(
    c: &Clinic,
    email: &str,
    display_name: &str,
    role: Role,
    password: Option<&str>,
) -> Result<(AccountRow, Option<String>), AccountError> {
    let mut u = c.begin().await?;
    within_staff_limit(&mut u, None).await?;
    let (row, temp) = service::create_account(
        &mut u,
        Accounts::Staff,
        email,
        display_name,
        Some(role),
        password,
        &c.names(),
        c.at(),
    )
    .await?;
    // A new clinician works the clinic's opening hours until their own are set: bookable at once.
    let hours = if role.is_clinical() {
        let rows = crate::domain::scheduling::repo::clinic_hours(&mut u).await?;
        crate::domain::scheduling::repo::replace_provider_hours(&mut u, row.id, &rows).await?;
        rows.len()
    } else {
        0
    };
    let ev = u
        .event(action::USER_CREATED)
        .resource("user", row.id)
        .details(serde_json::json!({ "role": role.as_str(), "hours_from_clinic": hours }));
    u.audit_and_commit(ev).await?;
    Ok((row, temp))
}

/// Name, role and status; the caller ends the account's sessions when `ends_sessions`.
pub async fn update_staff(
    c: &Clinic,
    id: i64,
    display_name: Option<&str>,
    role: Option<Role>,
    status: Option<AccountStatus>,
) -> Result<(StaffChange, AccountRow), AccountError> {
    let mut u = c.begin().await?;
    if status == Some(AccountStatus::Active) {
        within_staff_limit(&mut u, Some(id)).await?;
    }
    let change = service::update_staff(&mut u, id, display_name, role, status, c.at()).await?;
    let row = repo::by_id(&mut u, Accounts::Staff, id, false)
        .await?
        .ok_or(AccountError::NotFound)?;
    if change.changed.is_empty() {
        u.finish_without_clinical_data().await?;
    } else {
        let ev = u
            .event(action::USER_UPDATED)
            .resource("user", id)
            .details(serde_json::json!({ "changed": change.changed }));
        u.audit_and_commit(ev).await?;
    }
    Ok((change, row))
}

/// A new temporary password, returned once (the account must change it at sign-in).
pub async fn reset_password(c: &Clinic, id: i64) -> Result<(String, AccountRow), AccountError> {
    let mut u = c.begin().await?;
    let temp = service::reset_password(&mut u, Accounts::Staff, id, c.at()).await?;
    let row = repo::by_id(&mut u, Accounts::Staff, id, false)
        .await?
        .ok_or(AccountError::NotFound)?;
    let ev = u.event(action::USER_PASSWORD_RESET).resource("user", id);
    u.audit_and_commit(ev).await?;
    Ok((temp, row))
}

/// Lifts a lockout; `false` if there is no such account.
pub async fn unlock(c: &Clinic, id: i64) -> sqlx::Result<bool> {
    let mut u = c.begin().await?;
    if !repo::unlock(&mut u, Accounts::Staff, id, c.at()).await? {
        u.rollback().await?;
        return Ok(false);
    }
    let ev = u.event(action::USER_UNLOCKED).resource("user", id);
    u.audit_and_commit(ev).await?;
    Ok(true)
}

/// Turns two-step sign-in off for an account (it sets it up again); `false` if none.
pub async fn reset_mfa(c: &Clinic, id: i64) -> sqlx::Result<bool> {
    let mut u = c.begin().await?;
    if repo::by_id(&mut u, Accounts::Staff, id, true)
        .await?
        .is_none()
    {
        u.rollback().await?;
        return Ok(false);
    }
    service::disable_mfa(&mut u, Accounts::Staff, id, c.at()).await?;
    let ev = u.event(action::USER_MFA_RESET).resource("user", id);
    u.audit_and_commit(ev).await?;
    Ok(true)
}

/// The acting user's own tokens.
pub async fn own_tokens(c: &Clinic) -> sqlx::Result<Vec<TokenRow>> {
    let mut u = c.begin().await?;
    let rows = match c.user_id() {
        Some(id) => repo::tokens_of(&mut u, id).await?,
        None => Vec::new(),
    };
    u.finish_without_clinical_data().await?;
    Ok(rows)
}

/// A token for the acting user; the secret is returned once.
pub async fn create_token(
    c: &Clinic,
    name: &str,
    scope: TokenScope,
    days: Option<i64>,
) -> Result<(String, TokenRow), AccountError> {
    let user = c.user_id().ok_or(AccountError::NotFound)?;
    create_token_for(c, user, name, scope, days).await
}

/// A token for `user` (the acting user, or anyone when the system acts: the CLI). Refused for
/// a disabled account, and while the clinic requires two-step sign-in of one who has not set
/// it up (the token would not work).
pub async fn create_token_for(
    c: &Clinic,
    user: i64,
    name: &str,
    scope: TokenScope,
    days: Option<i64>,
) -> Result<(String, TokenRow), AccountError> {
    let mut u = c.begin().await?;
    let acc = repo::by_id(&mut u, Accounts::Staff, user, false)
        .await?
        .ok_or(AccountError::NotFound)?;
    if acc.status() != AccountStatus::Active {
        return Err(AccountError::Disabled);
    }
    let policy = crate::domain::settings::Security::load(&mut u)
        .await?
        .mfa_policy;
    if !acc.mfa_enabled() && acc.role().is_some_and(|r| policy.requires(r)) {
        return Err(AccountError::MfaRequired);
    }
    let (secret, token) = service::create_token(&mut u, user, name, scope, days, c.at()).await?;
    let mut details = serde_json::json!({ "scope": token.scope, "expires_at": token.expires_at });
    if c.user_id() != Some(user) {
        details["for_user"] = user.into();
    }
    let ev = u
        .event(action::TOKEN_CREATED)
        .resource("api_token", token.id)
        .details(details);
    u.audit_and_commit(ev).await?;
    Ok((secret, token))
}

/// Revokes one of the acting user's tokens; `false` if they have no such token.
pub async fn revoke_token(c: &Clinic, id: i64) -> sqlx::Result<bool> {
    let Some(user) = c.user_id() else {
        return Ok(false);
    };
    let mut u = c.begin().await?;
    if !repo::revoke_token(&mut u, user, id, c.at()).await? {
        u.rollback().await?;
        return Ok(false);
    }
    let ev = u.event(action::TOKEN_REVOKED).resource("api_token", id);
    u.audit_and_commit(ev).await?;
    Ok(true)
}

/// What a bearer token gets its request.
pub enum TokenAuth {
    /// The token and its owner, who may use it.
    Valid {
        account: Box<AccountRow>,
        token: Box<TokenRow>,
    },
    /// The clinic requires two-step sign-in of the owner, who has not set it up.
    MfaRequired,
    /// Unknown, expired, revoked, or its owner is disabled (recorded as `token.refused`).
    Refused,
}

/// Checks a bearer token in the clinic of `c` (whose actor is anonymous until it is known),
/// with the clinic's security settings. Refusals are audited; a valid token is not (the
/// request's own unit of work records what it does).
pub async fn check_token(
    c: &Clinic,
    token: &str,
) -> sqlx::Result<(TokenAuth, crate::domain::settings::Security)> {
    use crate::domain::audit::{Actor, Outcome};
    use service::TokenCheck;
    let mut u = c.begin().await?;
    let security = crate::domain::settings::Security::load(&mut u).await?;
    let check = service::check_token(&mut u, token, c.at()).await?;
    let refused = |u: &crate::domain::clinic::Unit<'_>, reason: &str, token_id: i64, user: i64| {
        u.event_by(action::TOKEN_REFUSED, Actor::User(user))
            .outcome(Outcome::Failure)
            .resource("api_token", token_id)
            .details(serde_json::json!({ "reason": reason }))
    };
    let (outcome, ev) = match check {
        TokenCheck::Valid { account, token }
            if !account.mfa_enabled()
                && account
                    .role()
                    .is_some_and(|r| security.mfa_policy.requires(r)) =>
        {
            let ev = refused(&u, "mfa_required", token.id, account.id);
            (TokenAuth::MfaRequired, Some(ev))
        }
        TokenCheck::Valid { account, token } => (TokenAuth::Valid { account, token }, None),
        TokenCheck::Unknown => (
            TokenAuth::Refused,
            Some(
                u.event_by(action::TOKEN_REFUSED, Actor::Anonymous)
                    .outcome(Outcome::Failure)
                    .details(serde_json::json!({ "reason": "unknown" })),
            ),
        ),
        TokenCheck::Expired { token_id, user_id } => (
            TokenAuth::Refused,
            Some(refused(&u, "expired", token_id, user_id)),
        ),
        TokenCheck::Revoked { token_id, user_id } => (
            TokenAuth::Refused,
            Some(refused(&u, "revoked", token_id, user_id)),
        ),
        TokenCheck::AccountDisabled { token_id, user_id } => (
            TokenAuth::Refused,
            Some(refused(&u, "account_disabled", token_id, user_id)),
        ),
    };
    match ev {
        Some(ev) => u.audit_and_commit(ev).await?,
        None => u.finish_without_clinical_data().await?,
    }
    Ok((outcome, security))
}

/// A session's view of the clinic: its security settings and (for a signed-in session) the
/// account. `refused`: the session belongs elsewhere (another clinic or host), recorded as
/// `session.refused` with this reason, and no account is read.
pub async fn check_session(
    c: &Clinic,
    account: Option<i64>,
    refused: Option<&'static str>,
) -> sqlx::Result<(crate::domain::settings::Security, Option<AccountRow>)> {
    use crate::domain::audit::{Actor, Outcome};
    let mut u = c.begin().await?;
    let security = crate::domain::settings::Security::load(&mut u).await?;
    if let Some(reason) = refused {
        let ev = u
            .event_by(action::SESSION_REFUSED, Actor::Anonymous)
            .outcome(Outcome::Denied)
            .details(serde_json::json!({ "reason": reason }));
        u.audit_and_commit(ev).await?;
        return Ok((security, None));
    }
    let row = match account {
        Some(id) => repo::by_id(&mut u, Accounts::Staff, id, false).await?,
        None => None,
    };
    u.finish_without_clinical_data().await?;
    Ok((security, row))
}

/// Records a refused request (`access.denied`) by the acting identity.
pub async fn record_denial(c: &Clinic, details: serde_json::Value) -> sqlx::Result<()> {
    use crate::domain::audit::Outcome;
    let u = c.begin().await?;
    let ev = u
        .event(action::ACCESS_DENIED)
        .outcome(Outcome::Denied)
        .details(details);
    u.audit_and_commit(ev).await
}
