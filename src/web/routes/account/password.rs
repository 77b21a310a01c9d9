//! `GET/POST /account/password`: change one's own password (also the forced change after an
//! admin reset). Ends the account's other sessions.

use crate::web::extract::Form;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tower_sessions::Session;

use crate::app::AppState;
use crate::domain::auth::service::AccountError;
use crate::domain::auth::signin;
use crate::web::AppError;
use crate::web::auth::{AuditCtx, SignedIn};
use crate::web::forms::FormErrors;
use crate::web::page::{Page, render_page, render_with_status};
use crate::web::page_ctx::PageCtx;
use crate::web::realm::Realm;
use crate::web::session;

#[derive(Template)]
#[template(path = "account/password.html")]
struct PasswordPage {
    page: Page,
    forced: bool,
    errors: FormErrors,
}

pub async fn show(me: SignedIn, page: PageCtx) -> Response {
    render_page(&PasswordPage {
        page: page.into_page(),
        forced: me.must_change_password,
        errors: FormErrors::new(),
    })
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    current: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
}

pub async fn submit(
    State(state): State<AppState>,
    realm: Realm,
    me: SignedIn,
    session: Session,
    ctx: AuditCtx,
    page: PageCtx,
    Form(form): Form<PasswordForm>,
) -> Result<Response, AppError> {
    let r = realm.domain(&state, &ctx);
    match signin::change_password(&r, me.id, &form.current, &form.password, &form.confirm).await {
        Ok(()) => {
            // Every other session of this account ends; this one continues under a new id.
            let current = session::load(&session).await.unwrap_or_default();
            session::end_sessions_of(&state.db.pool, realm.tenant_id(), me.id).await?;
            let _ = session.cycle_id().await;
            let st = session::SessionState {
                csrf: session::new_csrf(),
                flash: Some("password_changed".into()),
                ..current
            };
            session::store(&session, &st)
                .await
                .map_err(|e| AppError::Internal(anyhow::anyhow!("session: {e}")))?;
            Ok(Redirect::to("/account").into_response())
        }
        Err(e @ (AccountError::WrongPassword | AccountError::Password(_))) => {
            let field = match e {
                AccountError::WrongPassword => "current",
                _ => "password",
            };
            Ok(render_with_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                &PasswordPage {
                    page: page.into_page(),
                    forced: me.must_change_password,
                    errors: FormErrors::with(field, e.message()),
                },
            ))
        }
        Err(e) => Err(AppError::Internal(e.into())),
    }
}
