//! `GET /schedule/day?date=`: one column per provider, one row per slot length.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use chrono::{Datelike, Duration, NaiveDate, NaiveTime};
use chrono_tz::Tz;

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
#[template(path = "schedule/day.html")]
struct DayPage {
    page: Page,
    date: NaiveDate,
    prev: NaiveDate,
    next: NaiveDate,
    providers: Vec<Provider>,
    rows: Vec<(NaiveTime, Vec<Vec<Appointment>>)>,
    tz: Tz,
    types_css: String,
    can_book: bool,
}

impl DayPage {
    fn hm(&self, a: &Appointment) -> String {
        format!("{}–{}", hm(self.tz, &a.starts_at), hm(self.tz, &a.ends_at))
    }
}

/// Appointments in a grid: for each row, the ones starting within it, per column.
pub fn place(
    rows: &[NaiveTime],
    step: i64,
    columns: usize,
    items: impl Iterator<Item = (usize, NaiveTime, Appointment)>,
) -> Vec<(NaiveTime, Vec<Vec<Appointment>>)> {
    let mut grid: Vec<(NaiveTime, Vec<Vec<Appointment>>)> = rows
        .iter()
        .map(|t| (*t, vec![Vec::new(); columns]))
        .collect();
    for (col, start, a) in items {
        let idx = rows
            .iter()
            .rposition(|r| *r <= start)
            .unwrap_or(0)
            .min(grid.len().saturating_sub(1));
        if let Some(row) = grid.get_mut(idx)
            && let Some(cell) = row.1.get_mut(col)
            && rows
                .get(idx)
                .is_some_and(|r| start < *r + Duration::minutes(step) || idx + 1 == rows.len())
        {
            cell.push(a);
        }
    }
    grid
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
    let list: Vec<Appointment> = repo::between(&mut tx, from, to, None)
        .await?
        .into_iter()
        .filter(|a| a.status().is_active() && !a.walk_in)
        .collect();
    let providers = repo::providers(&mut tx).await?;
    let open = repo::clinic_hours(&mut tx).await?;
    let step = repo::slot_minutes(&mut tx).await?;
    let types = repo::types(&mut tx, true).await?;
    audit::record(
        &mut tx,
        &ctx,
        Event::new(action::SCHEDULE_VIEW, user.actor()).details(serde_json::json!({
            "view": "day", "date": date, "appointments": list.len(),
        })),
    )
    .await?;
    tx.commit().await?;
    let weekday = date.weekday().number_from_monday() as i16;
    let times = grid_rows(
        &open,
        weekday,
        step,
        list.iter()
            .map(|a| (local_time(tz, a.starts_at), local_time(tz, a.ends_at))),
    );
    let rows = place(
        &times,
        step,
        providers.len(),
        list.into_iter().filter_map(|a| {
            let col = providers.iter().position(|p| Some(p.id) == a.provider_id)?;
            Some((col, local_time(tz, a.starts_at), a))
        }),
    );
    Ok(render_page(&DayPage {
        page: page.into_page(),
        prev: date.pred_opt().unwrap_or(date),
        next: date.succ_opt().unwrap_or(date),
        date,
        providers,
        rows,
        tz,
        types_css: types_css_url(&types),
        can_book: user.can(Permission::AppointmentsWrite),
    }))
}
