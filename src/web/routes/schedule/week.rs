//! `GET /schedule/week?provider=&date=`: one provider's week (Monday to Sunday).

use askama::Template;
use axum::extract::Query;
use axum::response::Response;
use chrono::{Datelike, Duration, NaiveDate, NaiveTime};
use chrono_tz::Tz;

use super::day::place;
use super::{DateQuery, grid_rows, hm, local_time, parse_day, types_css_url};
use crate::domain::clinic::Clinic;
use crate::domain::scheduling::work::{self, View};
use crate::domain::scheduling::{self, Appointment, Provider};
use crate::web::AppError;
use crate::web::page::{Page, render_page};
use crate::web::page_ctx::PageCtx;

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
    clinic: Clinic,
    page: PageCtx,
    Query(q): Query<DateQuery>,
) -> Result<Response, AppError> {
    let provider = match q.provider.trim() {
        "" => None,
        p => Some(
            p.parse::<i64>()
                .map_err(|_| AppError::BadRequest("provider: a number".into()))?,
        ),
    };
    let s = work::schedule(&clinic, View::Week { provider }, parse_day(&q.date)?)
        .await?
        .ok_or(AppError::NotFound)?;
    let (tz, monday, list, providers, provider, open, step, types) = (
        s.tz,
        s.date,
        s.appointments,
        s.providers,
        s.provider,
        s.opening_hours,
        s.slot_minutes,
        s.types,
    );
    let days: Vec<NaiveDate> = (0..7).map(|i| monday + Duration::days(i)).collect();
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
