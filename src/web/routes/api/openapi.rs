//! `GET /api/v1/openapi.json`: the OpenAPI 3.1 document, generated from the handlers.

use axum::Json;
use utoipa::OpenApi;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};

use super::{audit, me, patients, scheduling, tokens, users};

struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "ClinicBox API",
        description = "Clinic data over JSON. Send requests to the clinic's own host \
            (https://<slug>.<base_domain>) or name the clinic with X-Tenant-ID on the console \
            host. Authenticate with `Authorization: Bearer <token>` (create tokens under \
            Account, or with `clinicbox token create`). Errors are application/problem+json \
            (RFC 9457)."
    ),
    paths(
        me::show,
        users::list, users::show, users::create, users::update,
        tokens::list, tokens::create, tokens::revoke,
        audit::list,
        patients::search, patients::create, patients::show, patients::update, patients::appointments,
        scheduling::list, scheduling::create, scheduling::show, scheduling::status,
        scheduling::cancel, scheduling::reschedule, scheduling::providers, scheduling::types,
        scheduling::slots,
    ),
    modifiers(&Security),
    tags(
        (name = "account", description = "The caller's own account and tokens"),
        (name = "users", description = "Staff accounts (clinic admins)"),
        (name = "audit", description = "The clinic's audit log (clinic admins)"),
        (name = "patients", description = "The patient registry"),
        (name = "appointments", description = "Providers, free slots and appointments"),
    )
)]
pub struct ApiDoc;

pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

pub async fn serve() -> Json<utoipa::openapi::OpenApi> {
    Json(document())
}
