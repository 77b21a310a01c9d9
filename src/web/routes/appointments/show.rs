//! `GET /appointments/{id}`: one appointment, with its actions.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::app::AppState;
use crate::db::TenantDb;
use crate::domain::audit::{self, Event, action};
use crate::domain::auth::Permission;
use crate::domain::scheduling::{self, Appointment, Provider, Status, repo};
use crate::web::AppError;
use crate::web::auth::{AuditCtx, CurrentUser};
use crate::web::page::{Page, render_page};
use crate::web::page_ctx::PageCtx;
use crate::web::site::CurrentTenant;

#[derive(Template)]
#[template(path = "appointments/show.html")]
pub struct AppointmentPage {
    pub page: Page,
    pub a: Appointment,
    pub tz: Tz,
    pub can_write: bool,
    pub providers: Vec<Provider>,
    pub error: Option<String>,
}

impl AppointmentPage {
    fn local(&self, t: &DateTime<Utc>) -> String {
        t.with_timezone(&self.tz)
            .format("%a %d %b %Y %H:%M")
            .to_string()
    }
    fn date(&self) -> String {
        self.a
            .starts_at
            .with_timezone(&self.tz)
            .format("%Y-%m-%d")
            .to_string()
    }
    fn time(&self) -> String {
        self.a
            .starts_at
            .with_timezone(&self.tz)
            .format("%H:%M")
            .to_string()
    }
    fn next(&self) -> Vec<Status> {
        if self.can_write {
            self.a.status().next()
        } else {
            Vec::new()
        }
    }
    fn cancellable(&self) -> bool {
        self.can_write && self.a.status().can_become(Status::Cancelled)
    }
    fn provider_is(&self, id: &i64) -> bool {
        self.a.provider_id == Some(*id)
    }
    fn movable(&self) -> bool {
        self.can_write && self.a.status() == Status::Booked && !self.a.walk_in
    }
}

pub async fn load(
    state: &AppState,
    tenant: &CurrentTenant,
    user: &CurrentUser,
    ctx: &crate::domain::audit::Context,
    id: i64,
) -> Result<(Appointment, Tz, Vec<Provider>), AppError> {
    let mut tx = TenantDb::begin(&state.db.pool, &tenant.db).await?;
    let a = repo::appointment(&mut tx, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let tz = scheduling::clinic_tz(&mut tx).await?;
    let providers = repo::providers(&mut tx).await?;
    audit::record(
        &mut tx,
        ctx,
        Event::new(action::APPOINTMENT_VIEW, user.actor())
            .resource("appointment", id)
            .patient(a.patient_id),
    )
    .await?;
    tx.commit().await?;
    Ok((a, tz, providers))
}

pub async fn show(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    user: CurrentUser,
    ctx: AuditCtx,
    page: PageCtx,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    user.require(Permission::AppointmentsRead)?;
    let (a, tz, providers) = load(&state, &tenant, &user, &ctx, id).await?;
    Ok(render_page(&AppointmentPage {
        page: page.into_page(),
        a,
        tz,
        can_write: user.can(Permission::AppointmentsWrite),
        providers,
        error: None,
    }))
}
