//! `POST /logout`: ends every session of the account, not only this one.

use axum::extract::State;
use axum::response::Response;
use tower_sessions::Session;

use crate::app::AppState;

use crate::web::AppError;
use crate::web::auth::{AuditCtx, OperatorIdentity, StaffIdentity};
use crate::web::page_ctx::redirect_with_flash;
use crate::web::realm::Realm;
use crate::web::session::{self, SessionState};

pub async fn submit(
    State(state): State<AppState>,
    realm: Realm,
    session: Session,
    ctx: AuditCtx,
    ext: axum::http::Extensions,
) -> Result<Response, AppError> {
    let account = ext
        .get::<StaffIdentity>()
        .map(|s| s.id)
        .or_else(|| ext.get::<OperatorIdentity>().map(|o| o.id));
    if let Some(id) = account {
        crate::domain::auth::signin::logout(&realm.domain(&state, &ctx), id).await?;
        session::end_sessions_of(&state.db.pool, realm.tenant_id(), id).await?;
    }
    let _ = session.flush().await;
    // A fresh anonymous session carries the "signed out" notice.
    let _ = session::store(
        &session,
        &SessionState {
            tenant: realm.tenant_id(),
            csrf: session::new_csrf(),
            ..SessionState::default()
        },
    )
    .await;
    Ok(redirect_with_flash(&session, "signed_out", "/login").await)
}
