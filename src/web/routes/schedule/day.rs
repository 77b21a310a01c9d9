//! `GET /schedule/day?date=`: one column per provider, one row per slot length.

use askama::Template;
use axum::extract::Query;
use axum::response::Response;
use chrono::{Datelike, Duration, NaiveDate, NaiveTime};
use chrono_tz::Tz;

use super::{DateQuery, grid_rows, hm, local_time, parse_day, types_css_url};
use crate::domain::auth::Permission;
use crate::domain::clinic::Clinic;
use crate::domain::scheduling::work::{self, View};
use crate::domain::scheduling::{Appointment, Provider};
use crate::web::AppError;
use crate::web::auth::CurrentUser;
use crate::web::page::{Page, render_page};
use crate::web::page_ctx::PageCtx;

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
    clinic: Clinic,
    user: CurrentUser,
    page: PageCtx,
    Query(q): Query<DateQuery>,
) -> Result<Response, AppError> {
    let s = work::schedule(&clinic, View::Day, parse_day(&q.date)?)
        .await?
        .ok_or(AppError::NotFound)?;
    let (tz, date, list, providers, open, step, types) = (
        s.tz,
        s.date,
        s.appointments,
        s.providers,
        s.opening_hours,
        s.slot_minutes,
        s.types,
    );
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
