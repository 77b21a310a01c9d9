//! `GET /schedule/print?date=`: the day's list by provider, for paper.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use chrono::NaiveDate;
use chrono_tz::Tz;

use super::{DateQuery, bounds, day_or_today, hm};
use crate::app::AppState;
use crate::db::TenantDb;
use crate::domain::audit::{self, Event, action};
use crate::domain::auth::Permission;
use crate::domain::scheduling::{self, Appointment, repo};
use crate::web::AppError;
use crate::web::auth::{AuditCtx, CurrentUser};
use crate::web::page::{Page, render_page};
use crate::web::page_ctx::PageCtx;
use crate::web::site::CurrentTenant;

#[derive(Template)]
#[template(path = "schedule/print.html")]
struct PrintPage {
    page: Page,
    date: NaiveDate,
    groups: Vec<(String, Vec<Appointment>)>,
    tz: Tz,
}

impl PrintPage {
    fn hm(&self, a: &Appointment) -> String {
        format!("{}–{}", hm(self.tz, &a.starts_at), hm(self.tz, &a.ends_at))
    }
}

pub async fn show(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    user: CurrentUser,
    ctx: AuditCtx,
    page: PageCtx,
    Query(q): Query<DateQuery>,
) -> Result<Response, AppError> {
    user.require(Permission::AppointmentsRead)?;
    let mut tx = TenantDb::begin(&state.db.pool, &tenant.db).await?;
    let tz = scheduling::clinic_tz(&mut tx).await?;
    let date = day_or_today(&q.date, tz, ctx.at)?;
    let (from, to) = bounds(tz, date);
    let list = repo::between(&mut tx, from, to, None).await?;
    audit::record(
        &mut tx,
        &ctx,
        Event::new(action::SCHEDULE_VIEW, user.actor()).details(serde_json::json!({
            "view": "print", "date": date, "appointments": list.len(),
        })),
    )
    .await?;
    tx.commit().await?;
    let page = page.into_page();
    let mut groups: Vec<(String, Vec<Appointment>)> = Vec::new();
    for a in list.into_iter().filter(|a| a.status().is_active()) {
        let name = a
            .provider_name
            .clone()
            .unwrap_or_else(|| page.t("appointments.any_provider").to_owned());
        match groups.iter_mut().find(|(n, _)| *n == name) {
            Some((_, v)) => v.push(a),
            None => groups.push((name, vec![a])),
        }
    }
    groups.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(render_page(&PrintPage {
        page,
        date,
        groups,
        tz,
    }))
}
