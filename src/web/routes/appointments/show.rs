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
}

impl AppointmentPage {
    fn local(&self, t: &DateTime<Utc>) -> String {
        t.with_timezone(&self.tz)
            .format("%a %d %b %Y %H:%M")
            .to_string()
    }
    fn date(&self) -> String {
        self.a
            .starts_at
            .with_timezone(&self.tz)
            .format("%Y-%m-%d")
            .to_string()
    }
    fn time(&self) -> String {
        self.a
            .starts_at
            .with_timezone(&self.tz)
            .format("%H:%M")
            .to_string()
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
        self.a.provider_id == Some(*id)
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
        page: page.into_page(),
        a,
        tz,
        can_write: user.can(Permission::AppointmentsWrite),
        providers,
        error: None,
    }))
}
