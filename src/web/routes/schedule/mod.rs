//! The schedule: today's front-desk list, the day (a column per provider), the week of one
//! provider, and a printable day list. Times are shown in the clinic's time zone.

pub mod day;
pub mod print;
pub mod today;
pub mod week;

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;
use serde::Deserialize;

use crate::domain::clinic::Clinic;
use crate::domain::scheduling::{AppointmentType, work};
use crate::web::AppError;
use crate::web::routes::table::Access::Needs;
use crate::web::routes::table::Route;

#[derive(Debug, Deserialize, Default)]
pub struct DateQuery {
    #[serde(default)]
    pub date: String,
    #[serde(default)]
    pub provider: String,
}

/// The requested day (`YYYY-MM-DD`); empty means today in the clinic.
pub fn parse_day(s: &str) -> Result<Option<NaiveDate>, AppError> {
    if s.trim().is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map(Some)
        .map_err(|_| AppError::BadRequest("date: use the form YYYY-MM-DD".into()))
}

/// Local times of the grid rows for `date`: the clinic's opening hours that weekday (or
/// 08:00-18:00), widened to include every appointment shown.
pub fn grid_rows(
    open: &[(i16, NaiveTime, NaiveTime)],
    weekday: i16,
    step: i64,
    extra: impl Iterator<Item = (NaiveTime, NaiveTime)>,
) -> Vec<NaiveTime> {
    let mut from = NaiveTime::from_hms_opt(8, 0, 0).unwrap_or(NaiveTime::MIN);
    let mut to = NaiveTime::from_hms_opt(18, 0, 0).unwrap_or(NaiveTime::MIN);
    let day: Vec<_> = open.iter().filter(|(w, _, _)| *w == weekday).collect();
    if !day.is_empty() {
        from = day.iter().map(|(_, s, _)| *s).min().unwrap_or(from);
        to = day.iter().map(|(_, _, e)| *e).max().unwrap_or(to);
    }
    for (s, e) in extra {
        from = from.min(s);
        to = to.max(e);
    }
    let mut rows = Vec::new();
    let mut t = from;
    let step = Duration::minutes(step.max(5));
    while t < to && rows.len() < 24 * 12 {
        rows.push(t);
        let (next, wrapped) = t.overflowing_add_signed(step);
        if wrapped != 0 {
            break;
        }
        t = next;
    }
    rows
}

pub fn local_time(tz: Tz, t: DateTime<Utc>) -> NaiveTime {
    t.with_timezone(&tz).time()
}

pub fn hm(tz: Tz, t: &DateTime<Utc>) -> String {
    t.with_timezone(&tz).format("%H:%M").to_string()
}

/// `/schedule/types.css?v=…`: a class per appointment type with its colour (no inline styles
/// under the CSP).
pub async fn types_css(clinic: Clinic) -> Result<Response, AppError> {
    let types = work::types(&clinic, true).await?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/css; charset=utf-8"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, max-age=86400"),
            ),
        ],
        css(&types),
    )
        .into_response())
}

fn css(types: &[AppointmentType]) -> String {
    types
        .iter()
        .filter(|t| crate::domain::tenants::model::is_hex_color(&t.color))
        .map(|t| format!(".type-{} {{ border-left-color: {}; }}\n", t.id, t.color))
        .collect()
}

/// The stylesheet URL, versioned by the colours so a change shows at once.
pub fn types_css_url(types: &[AppointmentType]) -> String {
    use sha2::Digest;
    let h = sha2::Sha256::digest(css(types).as_bytes());
    format!("/schedule/types.css?v={}", hex::encode(&h[..4]))
}

/// The schedule's routes.
pub fn routes() -> Vec<Route> {
    use crate::domain::auth::Permission::AppointmentsRead;
    vec![
        Route::get("/today", Needs(AppointmentsRead), today::show),
        Route::get("/schedule/day", Needs(AppointmentsRead), day::show),
        Route::get("/schedule/week", Needs(AppointmentsRead), week::show)
            .query("provider={provider}"),
        Route::get("/schedule/print", Needs(AppointmentsRead), print::show),
        Route::get("/schedule/types.css", Needs(AppointmentsRead), types_css),
    ]
}
