//! Signing in and out, on clinic hosts and the console host alike.

pub mod login;
pub mod logout;
pub mod mfa;
pub mod setup;

use tower_sessions::Session;

use crate::domain::auth::AccountRow;
use crate::web::AppError;
use crate::web::realm::Realm;
use crate::web::routes::table::Access::Public;
use crate::web::routes::table::Route;
use crate::web::session::{self, SessionState};
use crate::web::site::RequestHost;

/// Completes a sign-in: a new session id (the old one is deleted), a new CSRF token.
pub async fn complete_login(
    session: &Session,
    realm: &Realm,
    account: &AccountRow,
    now: i64,
    host: &RequestHost,
) -> Result<(), AppError> {
    session
        .cycle_id()
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("session: {e}")))?;
    let st = SessionState {
        tenant: realm.tenant_id(),
        account: Some(account.id),
        host: Some(host.0.clone()),
        auth_at: Some(now),
        seen_at: Some(now),
        csrf: session::new_csrf(),
        ..SessionState::default()
    };
    session::store(session, &st)
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("session: {e}")))
}

/// Signing in and out on a clinic's host.
pub fn routes() -> Vec<Route> {
    vec![
        Route::get("/login", Public, login::show),
        Route::post("/login", Public, login::submit),
        Route::get("/login/mfa", Public, mfa::show),
        Route::post("/login/mfa", Public, mfa::submit),
        Route::post("/logout", Public, logout::submit),
    ]
}
