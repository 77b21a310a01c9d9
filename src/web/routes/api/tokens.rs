//! `/api/v1/tokens`: the caller's own API tokens.

use crate::web::extract::Json;
use crate::web::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::auth::service::AccountError;
use crate::domain::auth::{TokenRow, TokenScope, work};
use crate::domain::clinic::Clinic;
use crate::web::AppError;
use crate::web::forms::FormErrors;

#[utoipa::path(get, operation_id = "tokens_list", path = "/api/v1/tokens", tag = "account",
    responses((status = 200, body = Vec<TokenRow>)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn list(clinic: Clinic) -> Result<Json<Vec<TokenRow>>, AppError> {
    Ok(Json(work::own_tokens(&clinic).await?))
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
pub async fn create(clinic: Clinic, Json(body): Json<NewToken>) -> Result<Response, AppError> {
    let (secret, row) = work::create_token(&clinic, &body.name, body.scope, body.days)
        .await
        .map_err(|e| match e {
            e @ (AccountError::TokenName | AccountError::TokenDays) => {
                AppError::Validation(FormErrors::with(e.field().unwrap_or("name"), e.message()))
            }
            e => AppError::Internal(e.into()),
        })?;
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
pub async fn revoke(clinic: Clinic, Path(id): Path<i64>) -> Result<StatusCode, AppError> {
    if !work::revoke_token(&clinic, id).await? {
        return Err(AppError::NotFound);
    }
    Ok(StatusCode::NO_CONTENT)
}
