//! `GET /schedule/week?provider=&date=`: one provider's week (Monday to Sunday).

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use chrono::{Datelike, Duration, NaiveDate, NaiveTime};
use chrono_tz::Tz;

use super::day::place;
use super::{DateQuery, bounds, day_or_today, grid_rows, hm, local_time, types_css_url};
use crate::app::AppState;
use crate::db::TenantDb;
use crate::domain::audit::{self, Event, action};
use crate::domain::auth::Permission;
use crate::domain::scheduling::{self, Appointment, Provider, repo};
use crate::web::AppError;
use crate::web::auth::{AuditCtx, CurrentUser};
use crate::web::page::{Page, render_page};
use crate::web::page_ctx::PageCtx;
use crate::web::site::CurrentTenant;

#[derive(Template)]
#[template(path = "schedule/week.html")]
struct WeekPage {
    page: Page,
    providers: Vec<Provider>,
    provider: Option<Provider>,
    days: Vec<NaiveDate>,
    prev: NaiveDate,
    next: NaiveDate,
    rows: Vec<(NaiveTime, Vec<Vec<Appointment>>)>,
    tz: Tz,
    types_css: String,
}

impl WeekPage {
    fn hm(&self, a: &Appointment) -> String {
        format!("{}–{}", hm(self.tz, &a.starts_at), hm(self.tz, &a.ends_at))
    }
    fn selected(&self, id: &i64) -> bool {
        self.provider.as_ref().is_some_and(|p| p.id == *id)
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
    let monday = date - Duration::days(i64::from(date.weekday().num_days_from_monday()));
    let days: Vec<NaiveDate> = (0..7).map(|i| monday + Duration::days(i)).collect();
    let providers = repo::providers(&mut tx).await?;
    let provider = match q.provider.trim() {
        "" => providers.first().cloned(),
        p => {
            let id: i64 = p
                .parse()
                .map_err(|_| AppError::BadRequest("provider: a number".into()))?;
            Some(
                providers
                    .iter()
                    .find(|x| x.id == id)
                    .cloned()
                    .ok_or(AppError::NotFound)?,
            )
        }
    };
    let (from, _) = bounds(tz, days[0]);
    let (_, to) = bounds(tz, days[6]);
    let list: Vec<Appointment> = match &provider {
        Some(p) => repo::between(&mut tx, from, to, Some(p.id))
            .await?
            .into_iter()
            .filter(|a| a.status().is_active() && !a.walk_in)
            .collect(),
        None => Vec::new(),
    };
    let open = repo::clinic_hours(&mut tx).await?;
    let step = repo::slot_minutes(&mut tx).await?;
    let types = repo::types(&mut tx, true).await?;
    audit::record(
        &mut tx,
        &ctx,
        Event::new(action::SCHEDULE_VIEW, user.actor()).details(serde_json::json!({
            "view": "week", "from": days[0], "provider": provider.as_ref().map(|p| p.id),
            "appointments": list.len(),
        })),
    )
    .await?;
    tx.commit().await?;
    // Rows span the widest opening of the week.
    let mut times: Vec<NaiveTime> = Vec::new();
    for d in &days {
        let w = d.weekday().number_from_monday() as i16;
        for t in grid_rows(
            &open,
            w,
            step,
            list.iter()
                .map(|a| (local_time(tz, a.starts_at), local_time(tz, a.ends_at))),
        ) {
            if !times.contains(&t) {
                times.push(t);
            }
        }
    }
    times.sort();
    let rows = place(
        &times,
        step,
        7,
        list.into_iter().filter_map(|a| {
            let d = scheduling::local_date(tz, a.starts_at);
            let col = days.iter().position(|x| *x == d)?;
            Some((col, local_time(tz, a.starts_at), a))
        }),
    );
    Ok(render_page(&WeekPage {
        page: page.into_page(),
        providers,
        provider,
        prev: monday - Duration::days(7),
        next: monday + Duration::days(7),
        days,
        rows,
        tz,
        types_css: types_css_url(&types),
    }))
}
