//! Booking, viewing and moving appointments along their status flow.

pub mod actions;
pub mod new;
pub mod show;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::web::routes::table::Access::Needs;
use crate::web::routes::table::Route;

/// A slot as offered in a form: its instant (the submitted value) and what people read.
#[derive(Clone, Debug)]
pub struct SlotChoice {
    pub value: String,
    pub label: String,
}

pub fn choices(tz: Tz, slots: &[DateTime<Utc>], with_date: bool) -> Vec<SlotChoice> {
    slots
        .iter()
        .map(|s| SlotChoice {
            value: s.to_rfc3339(),
            label: s
                .with_timezone(&tz)
                .format(if with_date { "%a %d %b %H:%M" } else { "%H:%M" })
                .to_string(),
        })
        .collect()
}

/// Booking and the appointment's actions.
pub fn routes() -> Vec<Route> {
    use crate::domain::auth::Permission::{AppointmentsRead, AppointmentsWrite};
    vec![
        Route::get("/appointments/new", Needs(AppointmentsWrite), new::show)
            .query("patient={patient}"),
        Route::post("/appointments/new", Needs(AppointmentsWrite), new::create),
        Route::get("/appointments/slots", Needs(AppointmentsWrite), new::slots),
        Route::post(
            "/appointments/walk-in",
            Needs(AppointmentsWrite),
            actions::walk_in,
        ),
        Route::get("/appointments/{id}", Needs(AppointmentsRead), show::show),
        Route::post(
            "/appointments/{id}/status",
            Needs(AppointmentsWrite),
            actions::status,
        ),
        Route::post(
            "/appointments/{id}/cancel",
            Needs(AppointmentsWrite),
            actions::cancel,
        ),
        Route::post(
            "/appointments/{id}/reschedule",
            Needs(AppointmentsWrite),
            actions::reschedule,
        ),
    ]
}
