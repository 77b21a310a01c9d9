//! `GET /api/v1/audit` (clinic admins, read-only).

use crate::web::extract::Json;
use axum::extract::Query;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::domain::audit::{AuditRow, work};
use crate::domain::clinic::Clinic;
use crate::web::AppError;
use crate::web::forms::FormErrors;
use crate::web::routes::settings::audit::{FilterForm, filter_names};

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Staff user id.
    pub user: Option<String>,
    pub patient: Option<String>,
    /// An action (`auth.login`) or a prefix (`auth`).
    pub action: Option<String>,
    /// First day, `YYYY-MM-DD` (UTC).
    pub from: Option<String>,
    /// Last day, `YYYY-MM-DD` (UTC), inclusive.
    pub to: Option<String>,
    /// Return rows older than this `seq` (the previous page's `next_before`).
    pub before: Option<String>,
    /// 1-500, default 100.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct AuditPage {
    pub items: Vec<AuditRow>,
    /// Pass as `before` for the next (older) page; absent on the last page.
    pub next_before: Option<i64>,
}

#[utoipa::path(get, operation_id = "audit_list", path = "/api/v1/audit", tag = "audit", params(AuditQuery),
    responses((status = 200, body = AuditPage), (status = 403), (status = 422)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn list(
    clinic: Clinic,
    Query(q): Query<AuditQuery>,
) -> Result<Json<AuditPage>, AppError> {
    let form = FilterForm {
        user: q.user.unwrap_or_default(),
        patient: q.patient.unwrap_or_default(),
        action: q.action.unwrap_or_default(),
        from: q.from.unwrap_or_default(),
        to: q.to.unwrap_or_default(),
        before: q.before.unwrap_or_default(),
    };
    let filter = form.parse().map_err(AppError::Validation)?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(AppError::Validation(FormErrors::with(
            "limit",
            "invalid.between_1_500",
        )));
    }
    let mut items = work::browse(
        &clinic,
        Some(&filter),
        limit + 1,
        &filter_names(&form),
        false,
    )
    .await?
    .rows;
    let next_before = if items.len() as i64 > limit {
        items.truncate(limit as usize);
        items.last().map(|r| r.seq)
    } else {
        None
    };
    Ok(Json(AuditPage { items, next_before }))
}
