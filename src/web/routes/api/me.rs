//! `GET /api/v1/me`

use crate::web::extract::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::auth::{Permission, Role};
use crate::web::auth::{AuthVia, CurrentUser};
use crate::web::site::CurrentTenant;

#[derive(Serialize, ToSchema)]
pub struct Me {
    pub id: i64,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub permissions: Vec<Permission>,
    pub mfa_enabled: bool,
    /// `session` or `token`.
    pub auth: &'static str,
    /// For token requests: `read` or `read-write`.
    pub token_scope: Option<&'static str>,
    pub clinic: ClinicRef,
}

#[derive(Serialize, ToSchema)]
pub struct ClinicRef {
    pub slug: String,
    pub name: String,
}

/// The signed-in staff member and what they may do.
#[utoipa::path(get, operation_id = "me_show", path = "/api/v1/me", tag = "account",
    responses((status = 200, body = Me), (status = 401, description = "Not signed in")),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn show(tenant: CurrentTenant, user: CurrentUser) -> Json<Me> {
    let (auth, token_scope) = match user.via {
        AuthVia::Session => ("session", None),
        AuthVia::Token { scope, .. } => ("token", Some(scope.as_str())),
    };
    Json(Me {
        id: user.id,
        email: user.email.clone(),
        display_name: user.display_name.clone(),
        role: user.role,
        permissions: user.role.permissions(),
        mfa_enabled: user.mfa_enabled,
        auth,
        token_scope,
        clinic: ClinicRef {
            slug: tenant.slug.to_string(),
            name: tenant.display_name.clone(),
        },
    })
}
