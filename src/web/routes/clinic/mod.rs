//! Routes on a clinic's host. Every handler receives the `CurrentTenant` resolved by Host;
//! `authenticate_staff` and `guard_staff` run before each of them.

mod home;
mod theme;

use axum::Router;
use axum::routing::{get, post};

use super::{account, api, appointments, auth, patients, schedule, settings};
use crate::app::AppState;
use crate::web::auth::{authenticate_staff, guard_staff};

pub fn router(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/", get(home::show))
        .route("/theme.css", get(theme::css))
        .route("/login", get(auth::login::show).post(auth::login::submit))
        .route("/login/mfa", get(auth::mfa::show).post(auth::mfa::submit))
        .route("/logout", post(auth::logout::submit))
        .route("/account", get(account::show::show))
        .route(
            "/account/password",
            get(account::password::show).post(account::password::submit),
        )
        .route("/account/mfa", get(account::mfa::show))
        .route("/account/mfa/start", post(account::mfa::start))
        .route("/account/mfa/confirm", post(account::mfa::confirm))
        .route("/account/mfa/disable", post(account::mfa::disable))
        .route("/account/tokens", post(account::tokens::create))
        .route("/account/tokens/{id}/revoke", post(account::tokens::revoke))
        .route("/settings", get(settings::index::show))
        .route(
            "/settings/users",
            get(settings::users::list).post(settings::users::create),
        )
        .route(
            "/settings/users/{id}",
            get(settings::users::edit).post(settings::users::update),
        )
        .route(
            "/settings/users/{id}/reset-password",
            post(settings::users::reset_password),
        )
        .route("/settings/users/{id}/unlock", post(settings::users::unlock))
        .route(
            "/settings/users/{id}/reset-mfa",
            post(settings::users::reset_mfa),
        )
        .route("/settings/roles", get(settings::roles::show))
        .route(
            "/settings/security",
            get(settings::security::show).post(settings::security::save),
        )
        .route("/settings/audit", get(settings::audit::show))
        .route("/settings/audit.csv", get(settings::audit::export))
        .route("/patients", get(patients::list::page))
        .route("/patients/search", get(patients::list::partial))
        .route(
            "/patients/new",
            get(patients::new::show).post(patients::new::create),
        )
        .route("/patients/{id}", get(patients::chart::show))
        .route(
            "/patients/{id}/edit",
            get(patients::edit::show).post(patients::edit::save),
        )
        .route("/patients/{id}/delete", post(patients::edit::delete))
        .route("/patients/{id}/restore", post(patients::edit::restore))
        .route("/today", get(schedule::today::show))
        .route("/schedule/day", get(schedule::day::show))
        .route("/schedule/week", get(schedule::week::show))
        .route("/schedule/print", get(schedule::print::show))
        .route("/schedule/types.css", get(schedule::types_css))
        .route(
            "/appointments/new",
            get(appointments::new::show).post(appointments::new::create),
        )
        .route("/appointments/slots", get(appointments::new::slots))
        .route(
            "/appointments/walk-in",
            post(appointments::actions::walk_in),
        )
        .route("/appointments/{id}", get(appointments::show::show))
        .route(
            "/appointments/{id}/status",
            post(appointments::actions::status),
        )
        .route(
            "/appointments/{id}/cancel",
            post(appointments::actions::cancel),
        )
        .route(
            "/appointments/{id}/reschedule",
            post(appointments::actions::reschedule),
        )
        .route(
            "/settings/clinic",
            get(settings::clinic::show).post(settings::clinic::save),
        )
        .route(
            "/settings/hours",
            get(settings::hours::show).post(settings::hours::save),
        )
        .route("/settings/holidays", post(settings::hours::add_holiday))
        .route(
            "/settings/holidays/{day}/delete",
            post(settings::hours::remove_holiday),
        )
        .route(
            "/settings/appointment-types",
            get(settings::types::show).post(settings::types::add),
        )
        .route(
            "/settings/appointment-types/{id}",
            post(settings::types::update),
        )
        .route("/settings/providers", get(settings::providers::list))
        .route("/settings/providers/{id}", get(settings::providers::show))
        .route(
            "/settings/providers/{id}/hours",
            post(settings::providers::save_hours),
        )
        .route(
            "/settings/providers/{id}/absences",
            post(settings::providers::add_absence),
        )
        .route(
            "/settings/providers/{id}/absences/{absence}/delete",
            post(settings::providers::remove_absence),
        )
        .route("/api/v1/openapi.json", get(api::openapi::serve))
        .nest(
            "/api/v1",
            api::router().layer(axum::middleware::from_fn_with_state(
                state.clone(),
                crate::web::limits::api,
            )),
        )
        .layer(axum::middleware::from_fn(
            crate::web::middleware::label_route,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard_staff,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            authenticate_staff,
        ))
        .layer(crate::web::session::layer(
            state.db.pool.clone(),
            state.https,
        ))
}
