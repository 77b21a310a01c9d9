//! `/api/v1/tokens`: the caller's own API tokens.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::AppState;
use crate::db::TenantDb;
use crate::domain::audit::{self, Event, action};
use crate::domain::auth::service::{self, AccountError};
use crate::domain::auth::{TokenRow, TokenScope, repo};
use crate::web::AppError;
use crate::web::auth::{AuditCtx, CurrentUser};
use crate::web::forms::FormErrors;
use crate::web::site::CurrentTenant;

#[utoipa::path(get, operation_id = "tokens_list", path = "/api/v1/tokens", tag = "account",
    responses((status = 200, body = Vec<TokenRow>)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn list(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    user: CurrentUser,
) -> Result<Json<Vec<TokenRow>>, AppError> {
    let mut tx = TenantDb::begin(&state.db.pool, &tenant.db).await?;
    let rows = repo::tokens_of(&mut tx, user.id).await?;
    tx.commit().await?;
    Ok(Json(rows))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    pub name: String,
    pub scope: TokenScope,
    /// Lifetime in days, 1-365 (default 90).
    pub days: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedToken {
    /// The token itself. Shown only in this response.
    pub token: String,
    #[serde(flatten)]
    pub info: TokenRow,
}

#[utoipa::path(post, operation_id = "tokens_create", path = "/api/v1/tokens", tag = "account", request_body = NewToken,
    responses((status = 201, body = CreatedToken), (status = 422)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn create(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    user: CurrentUser,
    ctx: AuditCtx,
    Json(body): Json<NewToken>,
) -> Result<Response, AppError> {
    let mut tx = TenantDb::begin(&state.db.pool, &tenant.db).await?;
    let (secret, row) =
        service::create_token(&mut tx, user.id, &body.name, body.scope, body.days, ctx.at)
            .await
            .map_err(|e| match e {
                e @ (AccountError::TokenName | AccountError::TokenDays) => AppError::Validation(
                    FormErrors::with(e.field().unwrap_or("name"), e.to_string()),
                ),
                e => AppError::Internal(e.into()),
            })?;
    audit::record(
        &mut tx,
        &ctx,
        Event::new(action::TOKEN_CREATED, user.actor())
            .resource("api_token", row.id)
            .details(serde_json::json!({ "scope": row.scope, "via": "api" })),
    )
    .await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedToken {
            token: secret,
            info: row,
        }),
    )
        .into_response())
}

#[utoipa::path(delete, operation_id = "tokens_revoke", path = "/api/v1/tokens/{id}", tag = "account",
    params(("id" = i64, Path)),
    responses((status = 204), (status = 404)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn revoke(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    user: CurrentUser,
    ctx: AuditCtx,
    Path(id): Path<i64>,
) -> Result<StatusCode, AppError> {
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
    Ok(StatusCode::NO_CONTENT)
}
