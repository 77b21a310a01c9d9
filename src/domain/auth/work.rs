//! Staff accounts and API tokens as units of work in a clinic (see `domain::clinic`): each
//! change writes its audit event in its own transaction. Reading the staff list names no
//! patient and writes none.

use super::repo::{self, AccountRow, Accounts, TokenRow};
use super::service::{self, AccountError, StaffChange};
use super::{AccountStatus, Role, TokenScope};
use crate::domain::audit::action;
use crate::domain::clinic::Clinic;

pub async fn staff(c: &Clinic) -> sqlx::Result<Vec<AccountRow>> {
    let mut u = c.begin().await?;
    let rows = repo::list(&mut u, Accounts::Staff).await?;
    u.finish_without_clinical_data().await?;
    Ok(rows)
}

pub async fn staff_member(c: &Clinic, id: i64) -> sqlx::Result<Option<AccountRow>> {
    let mut u = c.begin().await?;
    let row = repo::by_id(&mut u, Accounts::Staff, id, false).await?;
    u.finish_without_clinical_data().await?;
    Ok(row)
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
    let ev = u
        .event(action::USER_CREATED)
        .resource("user", row.id)
        .details(serde_json::json!({ "role": role.as_str() }));
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
    let mut u = c.begin().await?;
    let (secret, token) = service::create_token(&mut u, user, name, scope, days, c.at()).await?;
    let ev = u
        .event(action::TOKEN_CREATED)
        .resource("api_token", token.id)
        .details(serde_json::json!({ "scope": token.scope, "expires_at": token.expires_at }));
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
