//! `GET /schedule/print?date=`: the day's list by provider, for paper.

use askama::Template;
use axum::extract::Query;
use axum::response::Response;
use chrono::NaiveDate;
use chrono_tz::Tz;

use super::{DateQuery, hm, parse_day};
use crate::domain::clinic::Clinic;
use crate::domain::scheduling::Appointment;
use crate::domain::scheduling::work::{self, View};
use crate::web::AppError;
use crate::web::page::{Page, render_page};
use crate::web::page_ctx::PageCtx;

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
    clinic: Clinic,
    page: PageCtx,
    Query(q): Query<DateQuery>,
) -> Result<Response, AppError> {
    let s = work::schedule(&clinic, View::Print, parse_day(&q.date)?)
        .await?
        .ok_or(AppError::NotFound)?;
    let (tz, date, list) = (s.tz, s.date, s.appointments);
    let page = page.into_page().printed_at(clinic.at(), tz);
    let mut groups: Vec<(String, Vec<Appointment>)> = Vec::new();
    for a in list {
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
