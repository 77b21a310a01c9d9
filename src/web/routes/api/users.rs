//! `/api/v1/users` (clinic admins).

use crate::web::extract::Json;
use crate::web::extract::Path;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::AppState;
use crate::domain::auth::service::AccountError;
use crate::domain::auth::{AccountRow, AccountStatus, Role, work};
use crate::domain::clinic::Clinic;
use crate::web::AppError;
use crate::web::forms::FormErrors;
use crate::web::session::end_sessions_of;
use crate::web::site::CurrentTenant;

#[derive(Serialize, ToSchema)]
pub struct UserOut {
    pub id: i64,
    pub email: String,
    pub display_name: String,
    pub role: Option<Role>,
    pub status: AccountStatus,
    pub mfa_enabled: bool,
    pub locked: bool,
    pub created_at: DateTime<Utc>,
    pub last_login_at: Option<DateTime<Utc>>,
}

impl UserOut {
    pub fn from_row(r: &AccountRow, now: DateTime<Utc>) -> Self {
        Self {
            id: r.id,
            email: r.email.clone(),
            display_name: r.display_name.clone(),
            role: r.role(),
            status: r.status(),
            mfa_enabled: r.mfa_enabled(),
            locked: r.is_locked(now),
            created_at: r.created_at,
            last_login_at: r.last_login_at,
        }
    }
}

fn account_error(e: AccountError) -> AppError {
    match e {
        AccountError::NotFound => AppError::NotFound,
        e @ (AccountError::Email(_)
        | AccountError::EmailTaken
        | AccountError::Name(_)
        | AccountError::Password(_)
        | AccountError::LastAdmin) => {
            AppError::Validation(FormErrors::with(e.field().unwrap_or("_form"), e.message()))
        }
        e @ AccountError::StaffLimit(_) => {
            AppError::Conflict(crate::i18n::en_message(&e.message()), None)
        }
        e => AppError::Internal(e.into()),
    }
}

/// Staff accounts of this clinic.
#[utoipa::path(get, operation_id = "users_list", path = "/api/v1/users", tag = "users",
    responses((status = 200, body = Vec<UserOut>), (status = 403, description = "Not a clinic admin")),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn list(clinic: Clinic) -> Result<Json<Vec<UserOut>>, AppError> {
    let rows = work::staff(&clinic).await?;
    Ok(Json(
        rows.iter()
            .map(|r| UserOut::from_row(r, clinic.at()))
            .collect(),
    ))
}

#[utoipa::path(get, operation_id = "users_show", path = "/api/v1/users/{id}", tag = "users",
    params(("id" = i64, Path)),
    responses((status = 200, body = UserOut), (status = 404)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn show(clinic: Clinic, Path(id): Path<i64>) -> Result<Json<UserOut>, AppError> {
    let row = work::staff_member(&clinic, id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(Json(UserOut::from_row(&row, clinic.at())))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub email: String,
    pub display_name: String,
    pub role: Role,
    /// Optional: without it a temporary password is generated and returned once; the
    /// holder must change it at first sign-in.
    pub password: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedUser {
    pub user: UserOut,
    pub temporary_password: Option<String>,
}

#[utoipa::path(post, operation_id = "users_create", path = "/api/v1/users", tag = "users", request_body = NewUser,
    responses((status = 201, body = CreatedUser), (status = 409, description = "The clinic's plan allows no more staff accounts in use"), (status = 422, description = "Invalid input")),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn create(clinic: Clinic, Json(body): Json<NewUser>) -> Result<Response, AppError> {
    let (row, temp) = work::create_staff(
        &clinic,
        &body.email,
        &body.display_name,
        body.role,
        body.password.as_deref(),
    )
    .await
    .map_err(account_error)?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedUser {
            user: UserOut::from_row(&row, clinic.at()),
            temporary_password: temp,
        }),
    )
        .into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    pub display_name: Option<String>,
    pub role: Option<Role>,
    pub status: Option<AccountStatus>,
}

/// Changing role or status ends the user's sessions.
#[utoipa::path(patch, operation_id = "users_update", path = "/api/v1/users/{id}", tag = "users", request_body = UserPatch,
    params(("id" = i64, Path)),
    responses((status = 200, body = UserOut), (status = 404), (status = 409, description = "Enabling the account would exceed the clinic's plan"), (status = 422)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn update(
    State(state): State<AppState>,
    clinic: Clinic,
    tenant: CurrentTenant,
    Path(id): Path<i64>,
    Json(body): Json<UserPatch>,
) -> Result<Json<UserOut>, AppError> {
    let (change, row) = work::update_staff(
        &clinic,
        id,
        body.display_name.as_deref(),
        body.role,
        body.status,
    )
    .await
    .map_err(account_error)?;
    if change.ends_sessions {
        end_sessions_of(&state.db.pool, Some(tenant.id), id).await?;
    }
    Ok(Json(UserOut::from_row(&row, clinic.at())))
}
