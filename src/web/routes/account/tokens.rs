//! `POST /account/tokens` and `POST /account/tokens/{id}/revoke` (clinic staff only).

use crate::web::extract::Form;
use crate::web::extract::Path;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use tower_sessions::Session;

use crate::app::AppState;
use crate::domain::auth::service::AccountError;
use crate::domain::auth::{TokenRow, TokenScope, work};
use crate::domain::clinic::Clinic;
use crate::web::AppError;
use crate::web::auth::{ClinicSecurity, SignedIn};
use crate::web::forms::FormErrors;
use crate::web::page::{Page, render_page, render_with_status};
use crate::web::page_ctx::{PageCtx, redirect_with_flash};
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
    clinic: Clinic,
    tenant: CurrentTenant,
    me: SignedIn,
    page: PageCtx,
    ext: axum::http::Extensions,
    Form(form): Form<TokenForm>,
) -> Result<Response, AppError> {
    let scope = TokenScope::parse(&form.scope).unwrap_or(TokenScope::Read);
    let result = if form.days.trim().is_empty() {
        work::create_token(&clinic, &form.name, scope, None).await
    } else {
        match form.days.trim().parse::<i64>() {
            Ok(days) => work::create_token(&clinic, &form.name, scope, Some(days)).await,
            Err(_) => Err(AccountError::TokenDays),
        }
    };
    match result {
        Ok((secret, token)) => Ok(render_page(&TokenCreatedPage {
            page: page.into_page(),
            secret,
            token,
        })),
        Err(
            e @ (AccountError::TokenName
            | AccountError::TokenDays
            | AccountError::Disabled
            | AccountError::MfaRequired),
        ) => {
            let security = ext.get::<ClinicSecurity>().cloned();
            let mut p = super::show::load(
                &state,
                &Realm::Clinic(tenant),
                me,
                page.into_page(),
                security,
            )
            .await?;
            p.token_errors = FormErrors::with(e.field().unwrap_or("name"), e.message());
            p.token_name = form.name;
            Ok(render_with_status(StatusCode::UNPROCESSABLE_ENTITY, &p))
        }
        Err(e) => Err(AppError::Internal(e.into())),
    }
}

pub async fn revoke(
    clinic: Clinic,
    session: Session,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    if !work::revoke_token(&clinic, id).await? {
        return Err(AppError::NotFound);
    }
    Ok(redirect_with_flash(&session, "token_revoked", "/account").await)
}
