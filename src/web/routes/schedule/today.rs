//! `GET /today`: the front desk's list for today — every provider, or one (a doctor or nurse
//! sees their own by default), statuses changed in place — and the queue of patients who have
//! arrived (always the whole waiting room).

use askama::Template;
use axum::extract::Query;
use axum::response::Response;
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::Deserialize;

use super::{hm, types_css_url};
use crate::domain::auth::{Permission, Role};
use crate::domain::billing::repo::Dues;
use crate::domain::clinic::Clinic;
use crate::domain::scheduling::work::{self, View};
use crate::domain::scheduling::{Appointment, Provider, Status};
use crate::web::AppError;
use crate::web::auth::CurrentUser;
use crate::web::page::{Page, render_page};
use crate::web::page_ctx::PageCtx;

#[derive(Template)]
#[template(path = "schedule/today.html")]
struct TodayPage {
    page: Page,
    today: NaiveDate,
    rows: Vec<Row>,
    queue_card: QueueCard,
    types_css: String,
    providers: Vec<Provider>,
    /// The clinician whose list is shown; `None`: everyone's.
    clinician: Option<i64>,
}

impl TodayPage {
    fn is_shown(&self, id: &i64) -> bool {
        self.clinician == Some(*id)
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct TodayQuery {
    /// `all`, a clinician's id, or unset (a doctor's or nurse's own list, everyone's for others).
    #[serde(default)]
    clinician: String,
}

/// The waiting-room queue; also sent out of band with each htmx status change.
#[derive(Template)]
#[template(path = "schedule/_queue.html")]
pub struct QueueCard {
    pub page: Page,
    pub queue: Vec<Row>,
    pub oob: bool,
}

/// Today's arrived patients in queue order.
pub fn queue(rows: &[Row]) -> Vec<Row> {
    let mut q: Vec<Row> = rows
        .iter()
        .filter(|r| r.a.status() == Status::Arrived)
        .cloned()
        .collect();
    q.sort_by_key(|r| r.a.queue_number.unwrap_or(i32::MAX));
    q
}

/// Appointments as rows of the today list; `visits`: the signed-in clinician (if they may
/// write visits) and whether they sign them; `dues`: what patients owe (for a reader who may
/// see invoices).
pub fn rows(
    list: Vec<Appointment>,
    page: &Page,
    tz: Tz,
    now: DateTime<Utc>,
    can_write: bool,
    visits: Option<(i64, bool)>,
    dues: Option<&Dues>,
) -> Vec<Row> {
    list.into_iter()
        .map(|a| Row {
            page: page.clone(),
            due: dues.and_then(|d| d.of(a.patient_id)),
            a,
            tz,
            can_write,
            can_visit: visits.is_some(),
            me: visits.map(|v| v.0),
            signs: visits.is_some_and(|v| v.1),
            now,
        })
        .collect()
}

/// One appointment line, as the page and its htmx partial render it.
#[derive(Template, Clone)]
#[template(path = "schedule/_today_row.html")]
pub struct Row {
    pub page: Page,
    pub a: Appointment,
    pub tz: Tz,
    pub can_write: bool,
    /// May record vitals and start visits (clinicians): "Start" opens the visit, for a doctor
    /// or the appointment's own clinician (a nurse does not take over a doctor's patient).
    pub can_visit: bool,
    /// The signed-in clinician, and whether they sign visits (a doctor).
    pub me: Option<i64>,
    pub signs: bool,
    pub now: DateTime<Utc>,
    /// What the patient owes on issued invoices (`Rs. 465.00`), shown at check-in.
    pub due: Option<String>,
}

impl Row {
    pub fn time(&self) -> String {
        hm(self.tz, &self.a.starts_at)
    }
    pub fn next(&self) -> Vec<Status> {
        if self.can_write {
            self.a.status().next()
        } else {
            Vec::new()
        }
    }
    /// "Start" opens the visit rather than only changing the status.
    pub fn starts_visit(&self) -> bool {
        self.can_visit
            && (self.signs || self.a.provider_id.is_none() || self.a.provider_id == self.me)
    }
    pub fn waiting(&self) -> String {
        self.a
            .arrived_at
            .map(|t| format!("{} min", (self.now - t).num_minutes().max(0)))
            .unwrap_or_default()
    }
}

pub async fn show(
    clinic: Clinic,
    user: CurrentUser,
    page: PageCtx,
    Query(q): Query<TodayQuery>,
) -> Result<Response, AppError> {
    let page = page.into_page();
    let can_write = user.can(Permission::AppointmentsWrite);
    let s = work::schedule(&clinic, View::Today, None)
        .await?
        .ok_or(AppError::NotFound)?;
    let is_provider = |id: i64| s.providers.iter().any(|p| p.id == id);
    let clinician = match q.clinician.as_str() {
        "all" => None,
        "" => Some(user.id)
            .filter(|id| matches!(user.role, Role::Doctor | Role::Nurse) && is_provider(*id)),
        v => v.parse().ok().filter(|id| is_provider(*id)),
    };
    let today = s.date;
    let visits = user
        .can(Permission::EncountersWrite)
        .then(|| (user.id, user.can(Permission::EncountersSign)));
    let dues = s
        .dues
        .as_ref()
        .filter(|_| user.can(Permission::InvoicesRead));
    let all = rows(
        s.appointments,
        &page,
        s.tz,
        clinic.at(),
        can_write,
        visits,
        dues,
    );
    let queue_card = QueueCard {
        page: page.clone(),
        queue: queue(&all),
        oob: false,
    };
    // One clinician's list keeps the walk-ins for "next free clinician": they may take them.
    let rows = all
        .into_iter()
        .filter(|r| clinician.is_none_or(|c| r.a.provider_id.is_none_or(|p| p == c)))
        .collect();
    Ok(render_page(&TodayPage {
        page,
        today,
        rows,
        queue_card,
        types_css: types_css_url(&s.types),
        providers: s.providers,
        clinician,
    }))
}
