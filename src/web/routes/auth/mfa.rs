//! `GET/POST /login/mfa`: the second step of signing in.

use crate::web::extract::Form;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tower_sessions::Session;

use super::login::NextQuery;
use crate::app::AppState;
use crate::domain::auth::signin::{self, CodeStep};
use crate::web::AppError;
use crate::web::auth::AuditCtx;
use crate::web::forms::safe_next;
use crate::web::page::{Page, render_page, render_with_status};
use crate::web::page_ctx::{PageCtx, redirect_with_flash};
use crate::web::realm::Realm;
use crate::web::session;
use crate::web::site::RequestHost;

/// Time allowed between the password and the code.
const PENDING_SECS: i64 = 300;

#[derive(Template)]
#[template(path = "auth/mfa.html")]
struct MfaPage {
    page: Page,
    next: String,
    error: Option<String>,
}

async fn pending_account(session: &Session, now: i64) -> Option<i64> {
    let st = session::load(session).await?;
    let started = st.mfa_started?;
    (now - started <= PENDING_SECS).then_some(st.mfa_pending?)
}

pub async fn show(
    State(state): State<AppState>,
    session: Session,
    page: PageCtx,
    Query(q): Query<NextQuery>,
) -> Response {
    if pending_account(&session, state.clock.now().timestamp())
        .await
        .is_none()
    {
        return Redirect::to("/login").into_response();
    }
    render_page(&MfaPage {
        page: page.into_page(),
        next: q.next,
        error: None,
    })
}

#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    next: String,
}

pub async fn submit(
    State(state): State<AppState>,
    realm: Realm,
    session: Session,
    host: RequestHost,
    ctx: AuditCtx,
    page: PageCtx,
    Form(form): Form<CodeForm>,
) -> Result<Response, AppError> {
    let Some(account_id) = pending_account(&session, ctx.at.timestamp()).await else {
        return Ok(redirect_with_flash(&session, "expired", "/login").await);
    };
    state.limits.sign_in(ctx.ip, &format!("mfa:{account_id}"))?;
    let step = signin::second_factor(
        &realm.domain(&state, &ctx),
        &state.secrets,
        account_id,
        &form.code,
    )
    .await?;
    match step {
        CodeStep::SignedIn(acc) => {
            super::complete_login(&session, &realm, &acc, ctx.at.timestamp(), &host).await?;
            Ok(Redirect::to(&safe_next(&form.next)).into_response())
        }
        CodeStep::Recovered { account, .. } => {
            super::complete_login(&session, &realm, &account, ctx.at.timestamp(), &host).await?;
            Ok(redirect_with_flash(&session, "recovery_code_used", "/account").await)
        }
        CodeStep::Wrong => {
            let page = page.into_page();
            let error = page.t("mfa.invalid").to_owned();
            Ok(render_with_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                &MfaPage {
                    page,
                    next: form.next,
                    error: Some(error),
                },
            ))
        }
        CodeStep::Ended => {
            let mut st = session::load(&session).await.unwrap_or_default();
            st.mfa_pending = None;
            st.mfa_started = None;
            st.flash = Some("locked".into());
            let _ = session::store(&session, &st).await;
            Ok(Redirect::to("/login").into_response())
        }
    }
}
