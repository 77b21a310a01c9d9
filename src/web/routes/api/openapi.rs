//! `GET /api/v1/openapi.json`: the OpenAPI 3.1 document, generated from the handlers.

use crate::web::extract::Json;
use utoipa::OpenApi;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};

use super::{audit, billing, documents, me, patients, reports, scheduling, tokens, users, visits};

/// An RFC 9457 problem: every error of the API.
#[derive(utoipa::ToSchema)]
#[expect(
    dead_code,
    reason = "a schema for the OpenAPI document; the body is built in web::error"
)]
pub struct Problem {
    /// Always `about:blank`.
    r#type: String,
    title: String,
    status: u16,
    detail: Option<String>,
    /// A stable code, e.g. `validation`, `not_found`, `conflict`.
    code: String,
    request_id: String,
    /// Per field, what is wrong (422).
    errors: Option<std::collections::BTreeMap<String, String>>,
}

/// Every operation's error answers, documented once: what the error middleware can send.
struct Problems;

impl utoipa::Modify for Problems {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
        let problem = |what: &str| {
            RefOr::T(
                ResponseBuilder::new()
                    .description(what)
                    .content(
                        "application/problem+json",
                        ContentBuilder::new()
                            .schema(Some(Ref::from_schema_name("Problem")))
                            .build(),
                    )
                    .build(),
            )
        };
        let components = openapi.components.get_or_insert_with(Default::default);
        components
            .schemas
            .entry("Problem".into())
            .or_insert_with(<Problem as utoipa::PartialSchema>::schema);
        for (path, item) in openapi.paths.paths.iter_mut() {
            let has_id = path.contains('{');
            for op in [
                item.get.as_mut(),
                item.post.as_mut(),
                item.patch.as_mut(),
                item.delete.as_mut(),
                item.put.as_mut(),
            ]
            .into_iter()
            .flatten()
            {
                let with_body = op.request_body.is_some();
                let with_query = op.parameters.iter().flatten().any(|p| {
                    matches!(p, RefOr::T(p) if p.parameter_in == utoipa::openapi::path::ParameterIn::Query)
                });
                let r = &mut op.responses.responses;
                // OpenAPI requires a description on every response.
                for (code, resp) in r.iter_mut() {
                    if let RefOr::T(resp) = resp
                        && resp.description.is_empty()
                    {
                        resp.description = match code.as_str() {
                            "200" => "OK",
                            "201" => "Created",
                            "204" => "Done, nothing to return",
                            "404" => "No such record in this clinic",
                            "409" => "Not possible in the current state",
                            "422" => "The input does not validate; `errors` names each field",
                            _ => "See the problem's detail",
                        }
                        .to_owned();
                    }
                }
                let mut add = |code: &str, what: &str| {
                    r.entry(code.to_owned()).or_insert_with(|| problem(what));
                };
                add(
                    "400",
                    "The request cannot be understood (a bad parameter, a control character)",
                );
                add(
                    "401",
                    "No valid credentials (a missing, unknown, expired or revoked token)",
                );
                add(
                    "403",
                    "Not allowed: the role lacks the permission, a read-only token, or a policy (two-step sign-in) stands in the way",
                );
                add("429", "Too many requests; see Retry-After");
                add("503", "The database is unavailable; see Retry-After");
                if has_id || with_body {
                    add(
                        "404",
                        "No such record in this clinic (in the path or named in the body)",
                    );
                }
                if with_body {
                    add("415", "The body is not JSON");
                }
                if with_body || with_query {
                    add(
                        "422",
                        "The input does not validate; `errors` names each field",
                    );
                }
            }
        }
    }
}

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
        visits::show, visits::start, visits::start_for_patient, visits::of_patient, visits::update,
        visits::vitals, visits::triage, visits::add_diagnosis, visits::remove_diagnosis,
        visits::sign, visits::amend, visits::codes, visits::prescription, visits::prescribe,
        visits::unprescribe,
        documents::list, documents::upload, documents::content, documents::delete,
        billing::services, billing::create_service, billing::for_visit, billing::for_patient,
        billing::of_patient, billing::show, billing::add_line, billing::remove_line,
        billing::discount, billing::approve_discount, billing::issue, billing::pay, billing::apply_credit, billing::cancel,
        billing::credit_note, billing::deposit, billing::payment, billing::refund,
        billing::open_shift, billing::shift, billing::close_shift, billing::day, billing::close_day,
        reports::revenue, reports::sales_register, reports::cancellations, reports::appointments,
        reports::diagnoses,
    ),
    modifiers(&Security, &Problems),
    tags(
        (name = "account", description = "The caller's own account and tokens"),
        (name = "users", description = "Staff accounts (clinic admins)"),
        (name = "audit", description = "The clinic's audit log (clinic admins)"),
        (name = "patients", description = "The patient registry"),
        (name = "appointments", description = "Providers, free slots and appointments"),
        (name = "visits", description = "Visits, vitals, diagnoses, signing and amendments; diagnosis code search"),
        (name = "documents", description = "Documents on a patient's chart or a visit (PDF, JPEG, PNG)"),
        (name = "billing", description = "The price list, invoices and credit notes, payments, deposits and refunds, cash shifts and the day report. Amounts in answers are integers in minor units (paisa)"),
        (name = "reports", description = "Revenue, the sales register, cancellations, appointments and no-shows, visits by diagnosis: tables over a date range or a fiscal year"),
    )
)]
pub struct ApiDoc;

pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

pub async fn serve() -> Json<utoipa::openapi::OpenApi> {
    Json(document())
}
