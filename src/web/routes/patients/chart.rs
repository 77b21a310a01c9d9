//! `GET /patients/{id}`: the chart. Viewing it is audited.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

use crate::app::AppState;
use crate::db::TenantDb;
use crate::domain::audit::{self, Event, action};
use crate::domain::auth::Permission;
use crate::domain::patients::{Patient, Severity, age_label, repo};
use crate::domain::scheduling::{self, Appointment, AppointmentType, Provider};
use crate::web::AppError;
use crate::web::auth::{AuditCtx, CurrentUser};
use crate::web::page::{Page, render_page};
use crate::web::page_ctx::PageCtx;
use crate::web::site::CurrentTenant;

#[derive(Template)]
#[template(path = "patients/chart.html")]
struct ChartPage {
    page: Page,
    p: Patient,
    upcoming: Vec<Appointment>,
    past: Vec<Appointment>,
    today: NaiveDate,
    tz: Tz,
    can_edit: bool,
    can_book: bool,
    providers: Vec<Provider>,
    types: Vec<AppointmentType>,
}

impl ChartPage {
    fn age(&self) -> String {
        self.p
            .birth_date
            .map(|b| age_label(b, self.p.birth_date_estimated, self.today))
            .unwrap_or_default()
    }
    fn severe(&self) -> bool {
        self.p
            .allergies
            .iter()
            .any(|a| a.severity == Severity::Severe)
    }
    fn local(&self, t: &DateTime<Utc>) -> String {
        t.with_timezone(&self.tz)
            .format("%a %d %b %Y %H:%M")
            .to_string()
    }
}

pub async fn show(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    user: CurrentUser,
    ctx: AuditCtx,
    page: PageCtx,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    user.require(Permission::PatientsRead)?;
    let mut tx = TenantDb::begin(&state.db.pool, &tenant.db).await?;
    let p = repo::get(&mut tx, id).await?.ok_or(AppError::NotFound)?;
    let tz = scheduling::clinic_tz(&mut tx).await?;
    let (upcoming, past) = if user.can(Permission::AppointmentsRead) {
        let all = scheduling::repo::of_patient(&mut tx, id).await?;
        let (mut up, past): (Vec<_>, Vec<_>) = all
            .into_iter()
            .partition(|a| a.ends_at >= ctx.at && a.status().is_active());
        up.reverse();
        (up, past)
    } else {
        (Vec::new(), Vec::new())
    };
    let providers = scheduling::repo::providers(&mut tx).await?;
    let types = scheduling::repo::types(&mut tx, false).await?;
    audit::record(
        &mut tx,
        &ctx,
        Event::new(action::PATIENT_VIEW, user.actor())
            .resource("patient", id)
            .patient(id),
    )
    .await?;
    tx.commit().await?;
    Ok(render_page(&ChartPage {
        page: page.into_page(),
        p,
        upcoming,
        past,
        today: scheduling::local_date(tz, ctx.at),
        tz,
        can_edit: user.can(Permission::PatientsWrite),
        can_book: user.can(Permission::AppointmentsWrite),
        providers,
        types,
    }))
}
