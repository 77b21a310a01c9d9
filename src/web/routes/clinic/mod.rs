//! Routes on a clinic's host. Every handler receives the `CurrentTenant` resolved by Host;
//! `authenticate_staff` and `guard_staff` run before each of them.

mod home;
mod theme;

use axum::Router;
use axum::routing::{get, post};

use super::{account, api, auth, settings};
use crate::app::AppState;
use crate::web::auth::{authenticate_staff, guard_staff};

pub fn router(state: &AppState) -> Router<AppState> {
    let login_limit = state.limits.login_layer();
    Router::new()
        .route("/", get(home::show))
        .route("/theme.css", get(theme::css))
        .route(
            "/login",
            get(auth::login::show)
                .post(auth::login::submit)
                .layer(login_limit.clone()),
        )
        .route(
            "/login/mfa",
            get(auth::mfa::show)
                .post(auth::mfa::submit)
                .layer(login_limit),
        )
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
        .route("/api/v1/openapi.json", get(api::openapi::serve))
        .nest("/api/v1", api::router().layer(state.limits.api_layer()))
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
