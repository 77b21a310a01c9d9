//! The signed-in person's own account: overview, password, second factor, API tokens.

pub mod mfa;
pub mod password;
pub mod show;
pub mod tokens;

use crate::web::routes::table::Access::SignedIn;
use crate::web::routes::table::Route;

/// The signed-in person's own account (clinic hosts).
pub fn routes() -> Vec<Route> {
    vec![
        Route::get("/account", SignedIn, show::show),
        Route::get("/account/password", SignedIn, password::show),
        Route::post("/account/password", SignedIn, password::submit),
        Route::get("/account/mfa", SignedIn, mfa::show),
        Route::post("/account/mfa/start", SignedIn, mfa::start),
        Route::post("/account/mfa/confirm", SignedIn, mfa::confirm),
        Route::post("/account/mfa/disable", SignedIn, mfa::disable),
        Route::post("/account/tokens", SignedIn, tokens::create),
        Route::post("/account/tokens/{id}/revoke", SignedIn, tokens::revoke),
    ]
}
