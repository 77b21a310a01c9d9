//! `POST /account/tokens` and `POST /account/tokens/{id}/revoke` (clinic staff only).

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tower_sessions::Session;

use crate::app::AppState;
use crate::db::TenantDb;
use crate::domain::audit::{self, Event, action};
use crate::domain::auth::service::{self, AccountError};
use crate::domain::auth::{TokenRow, TokenScope, repo};
use crate::web::AppError;
use crate::web::auth::{AuditCtx, ClinicSecurity, CurrentUser, SignedIn};
use crate::web::forms::FormErrors;
use crate::web::page::{Page, render_page, render_with_status};
use crate::web::page_ctx::{PageCtx, set_flash};
use crate::web::realm::Realm;
use crate::web::site::CurrentTenant;

#[derive(Template)]
#[template(path = "account/token_created.html")]
struct TokenCreatedPage {
    page: Page,
    secret: String,
    token: TokenRow,
}

#[derive(Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    days: String,
}

pub async fn create(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    user: CurrentUser,
    me: SignedIn,
    ctx: AuditCtx,
    page: PageCtx,
    ext: axum::http::Extensions,
    Form(form): Form<TokenForm>,
) -> Result<Response, AppError> {
    let scope = TokenScope::parse(&form.scope).unwrap_or(TokenScope::Read);
    let days = if form.days.trim().is_empty() {
        Ok(None)
    } else {
        form.days.trim().parse::<i64>().map(Some)
    };
    let mut tx = TenantDb::begin(&state.db.pool, &tenant.db).await?;
    let result = match days {
        Ok(days) => service::create_token(&mut tx, user.id, &form.name, scope, days, ctx.at).await,
        Err(_) => Err(AccountError::TokenDays),
    };
    match result {
        Ok((secret, token)) => {
            audit::record(
                &mut tx,
                &ctx,
                Event::new(action::TOKEN_CREATED, user.actor())
                    .resource("api_token", token.id)
                    .details(
                        serde_json::json!({ "scope": token.scope, "expires_at": token.expires_at }),
                    ),
            )
            .await?;
            tx.commit().await?;
            Ok(render_page(&TokenCreatedPage {
                page: page.into_page(),
                secret,
                token,
            }))
        }
        Err(e @ (AccountError::TokenName | AccountError::TokenDays)) => {
            tx.rollback().await?;
            let security = ext.get::<ClinicSecurity>().cloned();
            let mut p = super::show::load(
                &state,
                &Realm::Clinic(tenant),
                me,
                page.into_page(),
                security,
            )
            .await?;
            p.token_errors = FormErrors::with(e.field().unwrap_or("name"), e.to_string());
            p.token_name = form.name;
            Ok(render_with_status(StatusCode::UNPROCESSABLE_ENTITY, &p))
        }
        Err(e) => Err(AppError::Internal(e.into())),
    }
}

pub async fn revoke(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    user: CurrentUser,
    session: Session,
    ctx: AuditCtx,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let mut tx = TenantDb::begin(&state.db.pool, &tenant.db).await?;
    if !repo::revoke_token(&mut tx, user.id, id, ctx.at).await? {
        return Err(AppError::NotFound);
    }
    audit::record(
        &mut tx,
        &ctx,
        Event::new(action::TOKEN_REVOKED, user.actor()).resource("api_token", id),
    )
    .await?;
    tx.commit().await?;
    set_flash(&session, "token_revoked").await;
    Ok(Redirect::to("/account").into_response())
}
