//! `GET/POST /login`

use crate::web::extract::Form;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tower_sessions::Session;

use crate::app::AppState;
use crate::domain::auth::signin::{self, PasswordStep};
use crate::web::AppError;
use crate::web::auth::{AuditCtx, OperatorIdentity, StaffIdentity};
use crate::web::forms::safe_next;
use crate::web::page::{Page, render_page, render_with_status};
use crate::web::page_ctx::PageCtx;
use crate::web::realm::Realm;
use crate::web::session;
use crate::web::site::RequestHost;

#[derive(Template)]
#[template(path = "auth/login.html")]
pub struct LoginPage {
    pub page: Page,
    pub email: String,
    pub next: String,
    pub error: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct NextQuery {
    #[serde(default)]
    pub next: String,
}

pub async fn show(
    page: PageCtx,
    Query(q): Query<NextQuery>,
    parts: axum::http::Extensions,
) -> Response {
    if parts.get::<StaffIdentity>().is_some() || parts.get::<OperatorIdentity>().is_some() {
        return Redirect::to(&safe_next(&q.next)).into_response();
    }
    render_page(&LoginPage {
        page: page.into_page(),
        email: String::new(),
        next: q.next,
        error: None,
    })
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
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
    Form(form): Form<LoginForm>,
) -> Result<Response, AppError> {
    state.limits.sign_in(ctx.ip, &form.email)?;
    let page = page.into_page();
    match signin::password(&realm.domain(&state, &ctx), &form.email, &form.password).await? {
        PasswordStep::SignedIn(acc) => {
            super::complete_login(&session, &realm, &acc, ctx.at.timestamp(), &host).await?;
            return Ok(Redirect::to(&safe_next(&form.next)).into_response());
        }
        PasswordStep::SecondFactor(acc) => {
            let mut st = session::load(&session).await.unwrap_or_default();
            st.tenant = realm.tenant_id();
            st.mfa_pending = Some(acc.id);
            st.mfa_started = Some(ctx.at.timestamp());
            session::store(&session, &st)
                .await
                .map_err(|e| AppError::Internal(anyhow::anyhow!("session: {e}")))?;
            let next =
                url::form_urlencoded::byte_serialize(form.next.as_bytes()).collect::<String>();
            return Ok(Redirect::to(&format!("/login/mfa?next={next}")).into_response());
        }
        PasswordStep::Refused => {}
    }
    let error = page.t("login.invalid");
    Ok(render_with_status(
        StatusCode::UNPROCESSABLE_ENTITY,
        &LoginPage {
            error: Some(error.to_owned()),
            page,
            email: form.email.chars().take(254).collect(),
            next: form.next,
        },
    ))
}
