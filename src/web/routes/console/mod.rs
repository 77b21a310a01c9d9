//! Routes on the console host (operators).

mod backups;
mod certificates;
mod clinics;
mod compliance;
mod home;
mod security;

use axum::Router;
use axum::routing::{get, post};

use super::{account, auth};
use crate::app::AppState;
use crate::web::auth::{authenticate_operator, guard_operator};

pub fn router(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/", get(home::show))
        .route("/login", get(auth::login::show).post(auth::login::submit))
        .route("/login/mfa", get(auth::mfa::show).post(auth::mfa::submit))
        .route("/logout", post(auth::logout::submit))
        .route(
            "/setup/{token}",
            get(auth::setup::show).post(auth::setup::submit),
        )
        .route("/clinics/new", get(clinics::new))
        .route("/clinics", post(clinics::create))
        .route("/clinics/{slug}", get(clinics::show))
        .route("/clinics/{slug}/export", post(clinics::export))
        .route("/clinics/{slug}/limits", post(clinics::save_limits))
        .route("/clinics/{slug}/hosts", post(clinics::add_host))
        .route("/clinics/{slug}/hosts/remove", post(clinics::remove_host))
        .route("/clinics/{slug}/delete", post(clinics::delete))
        .route("/clinics/{slug}/suspend", post(clinics::suspend))
        .route("/clinics/{slug}/resume", post(clinics::resume))
        .route("/backups", get(backups::show))
        .route("/backups/run", post(backups::run_now))
        .route("/backups/verify", post(backups::verify))
        .route("/compliance", get(compliance::show))
        .route(
            "/compliance/audit-chains",
            post(compliance::check_audit_chains),
        )
        .route("/backups/settings", post(backups::save_settings))
        .route("/security", get(security::show))
        .route("/security/limits", post(security::save_limits))
        .route("/certificates", get(certificates::show))
        .route("/certificates/renew", post(certificates::renew))
        .route("/certificates/hsts", post(certificates::save_hsts))
        .route("/account", get(account::show::show))
        .route(
            "/account/password",
            get(account::password::show).post(account::password::submit),
        )
        .route("/account/mfa", get(account::mfa::show))
        .route("/account/mfa/start", post(account::mfa::start))
        .route("/account/mfa/confirm", post(account::mfa::confirm))
        .route("/account/mfa/disable", post(account::mfa::disable))
        .layer(axum::middleware::from_fn(
            crate::web::middleware::label_route,
        ))
        .layer(axum::middleware::from_fn(guard_operator))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            authenticate_operator,
        ))
        .layer(crate::web::session::layer(
            state.db.pool.clone(),
            state.https,
        ))
}
