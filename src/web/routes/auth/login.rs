//! `GET/POST /login`

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tower_sessions::Session;

use crate::app::AppState;
use crate::domain::audit::{Actor, Event, Outcome, action};
use crate::domain::auth::service::{self, PasswordCheck};
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
    let mut tx = realm.begin(&state).await?;
    let check =
        service::check_password(&mut tx, realm.kind(), &form.email, &form.password, ctx.at).await?;
    let failed = |actor: Actor, reason: &str| {
        Event::new(action::LOGIN_FAILED, actor)
            .outcome(Outcome::Failure)
            .details(serde_json::json!({ "reason": reason }))
    };
    let page = page.into_page();
    let error = match check {
        PasswordCheck::Ok(acc) => {
            realm
                .audit(
                    &mut tx,
                    &ctx,
                    Event::new(action::LOGIN, realm.actor(acc.id))
                        .details(serde_json::json!({ "mfa": false })),
                )
                .await?;
            tx.commit().await?;
            super::complete_login(&session, &realm, &acc, ctx.at.timestamp(), &host).await?;
            return Ok(Redirect::to(&safe_next(&form.next)).into_response());
        }
        PasswordCheck::NeedsSecondFactor(acc) => {
            tx.commit().await?;
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
        PasswordCheck::Invalid {
            account,
            locked_now,
        } => {
            let (actor, reason) = match account {
                Some(id) => (realm.actor(id), "bad_password"),
                None => (Actor::Anonymous, "unknown_account"),
            };
            realm.audit(&mut tx, &ctx, failed(actor, reason)).await?;
            if locked_now && let Some(id) = account {
                realm
                    .audit(
                        &mut tx,
                        &ctx,
                        Event::new(action::LOCKED, realm.actor(id)).outcome(Outcome::Failure),
                    )
                    .await?;
            }
            page.t("login.invalid")
        }
        PasswordCheck::Locked { account, .. } => {
            realm
                .audit(&mut tx, &ctx, failed(realm.actor(account), "locked"))
                .await?;
            page.t("login.invalid")
        }
        PasswordCheck::Disabled { account } => {
            realm
                .audit(&mut tx, &ctx, failed(realm.actor(account), "disabled"))
                .await?;
            page.t("login.invalid")
        }
    };
    tx.commit().await?;
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
