//! `GET /appointments/{id}`: one appointment, with its actions.

use crate::web::extract::Path;
use askama::Template;
use axum::response::Response;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::domain::auth::Permission;
use crate::domain::clinic::Clinic;
use crate::domain::scheduling::{Appointment, Provider, Status, work};
use crate::web::AppError;
use crate::web::auth::CurrentUser;
use crate::web::page::{Page, render_page};
use crate::web::page_ctx::PageCtx;

#[derive(Template)]
#[template(path = "appointments/show.html")]
pub struct AppointmentPage {
    pub page: Page,
    pub a: Appointment,
    pub tz: Tz,
    pub can_write: bool,
    pub providers: Vec<Provider>,
    pub error: Option<String>,
    /// A refused move: what was typed (shown again) and the free times offered instead.
    pub moving: Option<Move>,
}

/// What a refused reschedule keeps, and the times it offers (each a one-click form).
#[derive(Clone, Debug, Default)]
pub struct Move {
    pub provider_id: Option<i64>,
    pub date: String,
    pub time: String,
    pub outside_hours: bool,
    pub suggestions: Vec<DateTime<Utc>>,
}

impl AppointmentPage {
    fn local(&self, t: &DateTime<Utc>) -> String {
        t.with_timezone(&self.tz)
            .format("%a %d %b %Y %H:%M")
            .to_string()
    }
    /// The move form's date: what was typed, else the appointment's.
    fn date(&self) -> String {
        match &self.moving {
            Some(m) => m.date.clone(),
            None => self.local_as(&self.a.starts_at, "%Y-%m-%d"),
        }
    }
    fn time(&self) -> String {
        match &self.moving {
            Some(m) => m.time.clone(),
            None => self.local_as(&self.a.starts_at, "%H:%M"),
        }
    }
    fn local_as(&self, t: &DateTime<Utc>, format: &str) -> String {
        t.with_timezone(&self.tz).format(format).to_string()
    }
    fn outside_hours(&self) -> bool {
        self.moving.as_ref().is_some_and(|m| m.outside_hours)
    }
    fn suggestions(&self) -> Vec<DateTime<Utc>> {
        self.moving
            .as_ref()
            .map(|m| m.suggestions.clone())
            .unwrap_or_default()
    }
    /// The clinician of the move form (typed, else the appointment's).
    fn move_provider_id(&self) -> Option<i64> {
        self.moving
            .as_ref()
            .and_then(|m| m.provider_id)
            .or(self.a.provider_id)
    }
    fn move_provider(&self) -> String {
        self.move_provider_id()
            .map(|p| p.to_string())
            .unwrap_or_default()
    }
    fn next(&self) -> Vec<Status> {
        if self.can_write {
            self.a.status().next()
        } else {
            Vec::new()
        }
    }
    fn cancellable(&self) -> bool {
        self.can_write && self.a.status().can_become(Status::Cancelled)
    }
    fn provider_is(&self, id: &i64) -> bool {
        self.move_provider_id() == Some(*id)
    }
    fn movable(&self) -> bool {
        self.can_write && self.a.status() == Status::Booked && !self.a.walk_in
    }
}

pub async fn show(
    clinic: Clinic,
    user: CurrentUser,
    page: PageCtx,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let (a, tz, providers) = work::appointment(&clinic, id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(render_page(&AppointmentPage {
        page: page.into_page().printed_at(clinic.at(), tz),
        a,
        tz,
        can_write: user.can(Permission::AppointmentsWrite),
        providers,
        error: None,
        moving: None,
    }))
}
