//! Clinic settings for admins: staff accounts, roles (read-only), security, audit log; the
//! clinic's time zone and MRN prefix, opening hours, appointment types and providers' hours.

pub mod audit;
pub mod branding;
pub mod clinic;
pub mod drugs;
pub mod hours;
pub mod index;
pub mod providers;
pub mod roles;
pub mod security;
pub mod services;
pub mod templates;
pub mod types;
pub mod users;
mod week;

use crate::web::routes::table::Access::{Needs, SignedIn};
use crate::web::routes::table::Route;

/// The clinic's settings pages.
pub fn routes() -> Vec<Route> {
    use crate::domain::auth::Permission::{AuditRead, SettingsManage, UsersManage};
    vec![
        Route::get("/settings", SignedIn, index::show),
        Route::get("/settings/users", Needs(UsersManage), users::list),
        Route::post("/settings/users", Needs(UsersManage), users::create),
        Route::get("/settings/users/{id}", Needs(UsersManage), users::edit),
        Route::post("/settings/users/{id}", Needs(UsersManage), users::update),
        Route::post(
            "/settings/users/{id}/reset-password",
            Needs(UsersManage),
            users::reset_password,
        ),
        Route::post(
            "/settings/users/{id}/unlock",
            Needs(UsersManage),
            users::unlock,
        ),
        Route::post(
            "/settings/users/{id}/reset-mfa",
            Needs(UsersManage),
            users::reset_mfa,
        ),
        Route::get("/settings/roles", SignedIn, roles::show),
        Route::get("/settings/security", Needs(SettingsManage), security::show),
        Route::post("/settings/security", Needs(SettingsManage), security::save),
        Route::get("/settings/audit", Needs(AuditRead), audit::show),
        Route::get("/settings/audit.csv", Needs(AuditRead), audit::export),
        Route::get("/settings/clinic", Needs(SettingsManage), clinic::show),
        Route::get("/settings/branding", Needs(SettingsManage), branding::show),
        Route::post("/settings/branding", Needs(SettingsManage), branding::save).upload(),
        Route::post("/settings/clinic", Needs(SettingsManage), clinic::save),
        Route::get("/settings/drugs", Needs(SettingsManage), drugs::list),
        Route::post("/settings/drugs", Needs(SettingsManage), drugs::add),
        Route::get("/settings/drugs/{id}", Needs(SettingsManage), drugs::edit),
        Route::post("/settings/drugs/{id}", Needs(SettingsManage), drugs::update),
        Route::get("/settings/services", Needs(SettingsManage), services::list),
        Route::post("/settings/services", Needs(SettingsManage), services::add),
        Route::get(
            "/settings/services/{id}",
            Needs(SettingsManage),
            services::edit,
        ),
        Route::post(
            "/settings/services/{id}",
            Needs(SettingsManage),
            services::update,
        ),
        Route::get(
            "/settings/billing",
            Needs(SettingsManage),
            services::billing,
        ),
        Route::post(
            "/settings/billing",
            Needs(SettingsManage),
            services::save_billing,
        ),
        Route::get(
            "/settings/templates",
            Needs(SettingsManage),
            templates::list,
        ),
        Route::post("/settings/templates", Needs(SettingsManage), templates::add),
        Route::get(
            "/settings/templates/{id}",
            Needs(SettingsManage),
            templates::edit,
        ),
        Route::post(
            "/settings/templates/{id}",
            Needs(SettingsManage),
            templates::update,
        ),
        Route::get("/settings/hours", Needs(SettingsManage), hours::show),
        Route::post("/settings/hours", Needs(SettingsManage), hours::save),
        Route::post(
            "/settings/holidays",
            Needs(SettingsManage),
            hours::add_holiday,
        ),
        Route::post(
            "/settings/holidays/{day}/delete",
            Needs(SettingsManage),
            hours::remove_holiday,
        ),
        Route::get(
            "/settings/appointment-types",
            Needs(SettingsManage),
            types::show,
        ),
        Route::post(
            "/settings/appointment-types",
            Needs(SettingsManage),
            types::add,
        ),
        Route::post(
            "/settings/appointment-types/{id}",
            Needs(SettingsManage),
            types::update,
        ),
        Route::get(
            "/settings/providers",
            Needs(SettingsManage),
            providers::list,
        ),
        Route::get(
            "/settings/providers/{id}",
            Needs(SettingsManage),
            providers::show,
        ),
        Route::post(
            "/settings/providers/{id}/hours",
            Needs(SettingsManage),
            providers::save_hours,
        ),
        Route::post(
            "/settings/providers/{id}/prescriber",
            Needs(SettingsManage),
            providers::save_prescriber,
        ),
        Route::post(
            "/settings/providers/{id}/absences",
            Needs(SettingsManage),
            providers::add_absence,
        ),
        Route::post(
            "/settings/providers/{id}/absences/{absence}/delete",
            Needs(SettingsManage),
            providers::remove_absence,
        ),
    ]
}
