//! The clinic's start page, by role: a clinician's day (their queue, who needs vitals, their
//! unsigned visits), the front desk's today (numbers and the waiting queue), or a welcome.

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::app::AppState;
use crate::domain::auth::Permission;
use crate::domain::clinic::Clinic;
use crate::domain::scheduling::work::{self as scheduling, View};
use crate::domain::scheduling::{Appointment, Status};
use crate::domain::settings;
use crate::domain::visits::VisitSummary;
use crate::domain::visits::work::{self as visits, Waiting};
use crate::web::AppError;
use crate::web::auth::CurrentUser;
use crate::web::page::{Page, render_page};
use crate::web::page_ctx::PageCtx;
use crate::web::site::CurrentTenant;

/// What the page shows below the welcome.
enum Start {
    Clinician {
        queue: Vec<Waiting>,
        /// Shown to nurses: everyone checked in who needs vitals.
        triage: Vec<Appointment>,
        unsigned: Vec<VisitSummary>,
        can_start: bool,
    },
    FrontDesk {
        /// (status, count) for today's appointments.
        counts: Vec<(Status, usize)>,
        waiting: Vec<Appointment>,
    },
    Welcome,
}

#[derive(Template)]
#[template(path = "clinic/home.html")]
struct HomePage {
    page: Page,
    user_name: String,
    timezone: String,
    start: Start,
    tz: Tz,
    now: DateTime<Utc>,
}

impl HomePage {
    fn hm(&self, t: &DateTime<Utc>) -> String {
        t.with_timezone(&self.tz).format("%H:%M").to_string()
    }
    fn day(&self, t: &DateTime<Utc>) -> String {
        t.with_timezone(&self.tz)
            .format("%a %d %b %H:%M")
            .to_string()
    }
    fn waited(&self, a: &Appointment) -> String {
        let minutes = a
            .arrived_at
            .map(|t| (self.now - t).num_minutes().max(0))
            .unwrap_or(0);
        self.page
            .tf("visits.waiting", &[("minutes", &minutes.to_string())])
    }
}

pub async fn show(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    clinic: Clinic,
    user: CurrentUser,
    page: PageCtx,
) -> Result<Response, AppError> {
    let timezone = settings::timezone(&state.db.pool, &tenant).await?;
    let tz: Tz = timezone.parse().unwrap_or(chrono_tz::UTC);
    let start = if user.can(Permission::EncountersRead) {
        let day = visits::my_day(&clinic).await?;
        Start::Clinician {
            queue: day.queue,
            triage: if user.role == crate::domain::auth::Role::Nurse {
                day.triage
            } else {
                Vec::new()
            },
            unsigned: day.unsigned,
            can_start: user.can(Permission::EncountersWrite),
        }
    } else if user.can(Permission::AppointmentsRead) {
        let s = scheduling::schedule(&clinic, View::Home, None)
            .await?
            .ok_or(AppError::NotFound)?;
        let counts = Status::ALL
            .into_iter()
            .map(|st| {
                (
                    st,
                    s.appointments.iter().filter(|a| a.status() == st).count(),
                )
            })
            .filter(|(_, n)| *n > 0)
            .collect();
        let mut waiting: Vec<Appointment> = s
            .appointments
            .into_iter()
            .filter(|a| a.status() == Status::Arrived)
            .collect();
        waiting.sort_by_key(|a| a.queue_number.unwrap_or(i32::MAX));
        Start::FrontDesk { counts, waiting }
    } else {
        Start::Welcome
    };
    Ok(render_page(&HomePage {
        page: page.into_page(),
        user_name: user.display_name.clone(),
        timezone,
        start,
        tz,
        now: clinic.at(),
    }))
}
