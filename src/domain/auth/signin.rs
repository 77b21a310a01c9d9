//! Signing in and out as units of work in a realm (see `realm`): each checks what it must,
//! writes its audit events and commits. Sessions are the web layer's.

use super::realm::Realm;
use super::repo::AccountRow;
use super::service::{self, PasswordCheck, SecondFactor};
use crate::domain::audit::{Actor, Event, Outcome, action};
use crate::ops::secrets::Secrets;

/// After the password step.
pub enum PasswordStep {
    /// Signed in (no second factor).
    SignedIn(AccountRow),
    /// The password was right; a code must follow.
    SecondFactor(AccountRow),
    /// Wrong email or password, locked or disabled: the same answer for all.
    Refused,
}

pub async fn password(r: &Realm, email: &str, password: &str) -> sqlx::Result<PasswordStep> {
    let mut tx = r.begin().await?;
    let check = service::check_password(&mut tx, r.kind(), email, password, r.at()).await?;
    let failed = |actor: Actor, reason: &str| {
        Event::new(action::LOGIN_FAILED, actor)
            .outcome(Outcome::Failure)
            .details(serde_json::json!({ "reason": reason }))
    };
    let step = match check {
        PasswordCheck::Ok(acc) => {
            let ev = Event::new(action::LOGIN, r.actor(acc.id))
                .details(serde_json::json!({ "mfa": false }));
            r.audit(&mut tx, ev).await?;
            PasswordStep::SignedIn(acc)
        }
        PasswordCheck::NeedsSecondFactor(acc) => PasswordStep::SecondFactor(acc),
        PasswordCheck::Invalid {
            account,
            locked_now,
        } => {
            let (actor, reason) = match account {
                Some(id) => (r.actor(id), "bad_password"),
                None => (Actor::Anonymous, "unknown_account"),
            };
            r.audit(&mut tx, failed(actor, reason)).await?;
            if locked_now && let Some(id) = account {
                let ev = Event::new(action::LOCKED, r.actor(id)).outcome(Outcome::Failure);
                r.audit(&mut tx, ev).await?;
            }
            PasswordStep::Refused
        }
        PasswordCheck::Locked { account, .. } => {
            r.audit(&mut tx, failed(r.actor(account), "locked")).await?;
            PasswordStep::Refused
        }
        PasswordCheck::Disabled { account } => {
            r.audit(&mut tx, failed(r.actor(account), "disabled"))
                .await?;
            PasswordStep::Refused
        }
    };
    tx.commit().await?;
    Ok(step)
}

/// After the code step.
pub enum CodeStep {
    SignedIn(AccountRow),
    /// Signed in with a recovery code; `remaining` are left.
    Recovered {
        account: AccountRow,
        remaining: i64,
    },
    /// A wrong code (the account may now be locked): the form again.
    Wrong,
    /// The account is locked, gone or disabled: back to the start.
    Ended,
}

pub async fn second_factor(
    r: &Realm,
    secrets: &Secrets,
    account_id: i64,
    code: &str,
) -> anyhow::Result<CodeStep> {
    let mut tx = r.begin().await?;
    let result =
        service::check_second_factor(&mut tx, r.kind(), secrets, account_id, code, r.at()).await?;
    let actor = r.actor(account_id);
    let step = match result {
        SecondFactor::Totp(acc) => {
            let ev = Event::new(action::LOGIN, actor).details(serde_json::json!({ "mfa": "totp" }));
            r.audit(&mut tx, ev).await?;
            CodeStep::SignedIn(acc)
        }
        SecondFactor::RecoveryCode { account, remaining } => {
            let used = Event::new(action::RECOVERY_CODE_USED, actor)
                .details(serde_json::json!({ "remaining": remaining }));
            r.audit(&mut tx, used).await?;
            let ev = Event::new(action::LOGIN, actor)
                .details(serde_json::json!({ "mfa": "recovery_code" }));
            r.audit(&mut tx, ev).await?;
            CodeStep::Recovered { account, remaining }
        }
        SecondFactor::Invalid { locked_now } => {
            let ev = Event::new(action::MFA_FAILED, actor).outcome(Outcome::Failure);
            r.audit(&mut tx, ev).await?;
            if locked_now {
                let ev = Event::new(action::LOCKED, actor).outcome(Outcome::Failure);
                r.audit(&mut tx, ev).await?;
            }
            CodeStep::Wrong
        }
        SecondFactor::Locked | SecondFactor::Gone => {
            let ev = Event::new(action::MFA_FAILED, actor)
                .outcome(Outcome::Failure)
                .details(serde_json::json!({ "reason": "locked_or_disabled" }));
            r.audit(&mut tx, ev).await?;
            CodeStep::Ended
        }
    };
    tx.commit().await?;
    Ok(step)
}

/// Records a sign-out (the caller ends the sessions).
pub async fn logout(r: &Realm, account_id: i64) -> sqlx::Result<()> {
    let mut tx = r.begin().await?;
    r.audit(&mut tx, Event::new(action::LOGOUT, r.actor(account_id)))
        .await?;
    tx.commit().await
}

// ---- the signed-in person's own account ---------------------------------------------------

/// The account page's facts: recovery codes left (with two-step sign-in on) and, for staff,
/// their API tokens.
pub async fn overview(
    r: &Realm,
    id: i64,
    mfa_enabled: bool,
    with_tokens: bool,
) -> sqlx::Result<(i64, Vec<super::repo::TokenRow>)> {
    let mut tx = r.begin().await?;
    let left = if mfa_enabled {
        super::repo::unused_recovery_codes(&mut tx, r.kind(), id).await?
    } else {
        0
    };
    let tokens = if with_tokens {
        super::repo::tokens_of(&mut tx, id).await?
    } else {
        Vec::new()
    };
    tx.commit().await?;
    Ok((left, tokens))
}

/// The signed-in person's account row.
pub async fn account(r: &Realm, id: i64) -> sqlx::Result<Option<AccountRow>> {
    let mut tx = r.begin().await?;
    let acc = super::repo::by_id(&mut tx, r.kind(), id, false).await?;
    tx.commit().await?;
    Ok(acc)
}

/// Changes one's own password (the current one is checked); the caller ends the other sessions.
pub async fn change_password(
    r: &Realm,
    id: i64,
    current: &str,
    new: &str,
    confirm: &str,
) -> Result<(), service::AccountError> {
    let mut tx = r.begin().await?;
    service::change_own_password(
        &mut tx,
        r.kind(),
        id,
        current,
        new,
        confirm,
        &r.names(),
        r.at(),
    )
    .await?;
    let ev = Event::new(action::PASSWORD_CHANGED, r.actor(id)).resource("account", id);
    r.audit(&mut tx, ev).await?;
    tx.commit().await?;
    Ok(())
}

/// A new pending authenticator secret (unless two-step sign-in is on already); `false` if
/// there is no such account.
pub async fn start_mfa(
    r: &Realm,
    secrets: &Secrets,
    id: i64,
    issuer: &str,
) -> anyhow::Result<bool> {
    let mut tx = r.begin().await?;
    let Some(acc) = super::repo::by_id(&mut tx, r.kind(), id, true).await? else {
        return Ok(false);
    };
    if !acc.mfa_enabled() {
        service::begin_enrolment(&mut tx, r.kind(), secrets, &acc, issuer, r.at()).await?;
    }
    tx.commit().await?;
    Ok(true)
}

/// Turns two-step sign-in on with a first code; the recovery codes, or `None` for a wrong code.
pub async fn confirm_mfa(
    r: &Realm,
    secrets: &Secrets,
    id: i64,
    code: &str,
) -> anyhow::Result<Option<Vec<String>>> {
    let mut tx = r.begin().await?;
    let codes = service::confirm_enrolment(&mut tx, r.kind(), secrets, id, code, r.at()).await?;
    let ev = match codes {
        Some(_) => Event::new(action::MFA_ENROLLED, r.actor(id)).resource("account", id),
        None => Event::new(action::MFA_FAILED, r.actor(id))
            .outcome(Outcome::Failure)
            .details(serde_json::json!({ "step": "enrolment" })),
    };
    r.audit(&mut tx, ev).await?;
    tx.commit().await?;
    Ok(codes)
}

/// Turns two-step sign-in off after checking the password; `false` for a wrong password.
pub async fn disable_mfa(
    r: &Realm,
    id: i64,
    password: &str,
) -> Result<bool, service::AccountError> {
    let mut tx = r.begin().await?;
    let acc = super::repo::by_id(&mut tx, r.kind(), id, true)
        .await?
        .ok_or(service::AccountError::NotFound)?;
    if !super::password::verify(password, acc.password_hash.as_deref()).await {
        return Ok(false);
    }
    service::disable_mfa(&mut tx, r.kind(), id, r.at()).await?;
    let ev = Event::new(action::MFA_DISABLED, r.actor(id)).resource("account", id);
    r.audit(&mut tx, ev).await?;
    tx.commit().await?;
    Ok(true)
}
