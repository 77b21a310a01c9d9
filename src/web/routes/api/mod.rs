//! `/api/v1`: JSON for scripts, monitoring and integrations. Authenticated by
//! `Authorization: Bearer <token>` (or `X-API-Key`), or by the session cookie plus the
//! `X-CSRF-Token` header for unsafe methods. Errors are `application/problem+json`.

pub mod audit;
pub mod billing;
pub mod documents;
pub mod me;
pub mod openapi;
pub mod patients;
pub mod reports;
pub mod scheduling;
pub mod tokens;
pub mod users;
pub mod visits;

use crate::web::routes::table::Access::{Needs, SignedIn};
use crate::web::routes::table::Route;

/// `/api/v1`.
pub fn routes() -> Vec<Route> {
    use crate::domain::auth::Permission::{
        AppointmentsRead, AppointmentsWrite, AuditRead, BillingManage, DocumentsRead,
        DocumentsWrite, EncountersRead, EncountersSign, EncountersWrite, InvoicesRead,
        InvoicesVoid, InvoicesWrite, PatientsRead, PatientsWrite, ReportsRead, SettingsManage,
        UsersManage,
    };
    vec![
        Route::get("/api/v1/me", SignedIn, me::show),
        Route::get("/api/v1/users", Needs(UsersManage), users::list),
        Route::post("/api/v1/users", Needs(UsersManage), users::create),
        Route::get("/api/v1/users/{id}", Needs(UsersManage), users::show),
        Route::patch("/api/v1/users/{id}", Needs(UsersManage), users::update),
        Route::get("/api/v1/tokens", SignedIn, tokens::list),
        Route::post("/api/v1/tokens", SignedIn, tokens::create),
        Route::delete("/api/v1/tokens/{id}", SignedIn, tokens::revoke),
        Route::get("/api/v1/audit", Needs(AuditRead), audit::list),
        Route::get("/api/v1/patients", Needs(PatientsRead), patients::search),
        Route::post("/api/v1/patients", Needs(PatientsWrite), patients::create),
        Route::get("/api/v1/patients/{id}", Needs(PatientsRead), patients::show),
        Route::patch(
            "/api/v1/patients/{id}",
            Needs(PatientsWrite),
            patients::update,
        ),
        Route::get(
            "/api/v1/patients/{id}/appointments",
            Needs(AppointmentsRead),
            patients::appointments,
        ),
        Route::get(
            "/api/v1/appointments",
            Needs(AppointmentsRead),
            scheduling::list,
        ),
        Route::post(
            "/api/v1/appointments",
            Needs(AppointmentsWrite),
            scheduling::create,
        ),
        Route::get(
            "/api/v1/appointments/{id}",
            Needs(AppointmentsRead),
            scheduling::show,
        ),
        Route::post(
            "/api/v1/appointments/{id}/status",
            Needs(AppointmentsWrite),
            scheduling::status,
        ),
        Route::post(
            "/api/v1/appointments/{id}/cancel",
            Needs(AppointmentsWrite),
            scheduling::cancel,
        ),
        Route::post(
            "/api/v1/appointments/{id}/reschedule",
            Needs(AppointmentsWrite),
            scheduling::reschedule,
        ),
        Route::get(
            "/api/v1/providers",
            Needs(AppointmentsRead),
            scheduling::providers,
        ),
        Route::get(
            "/api/v1/appointment-types",
            Needs(AppointmentsRead),
            scheduling::types,
        ),
        Route::get("/api/v1/slots", Needs(AppointmentsRead), scheduling::slots),
        Route::post(
            "/api/v1/appointments/{id}/visit",
            Needs(EncountersWrite),
            visits::start,
        ),
        Route::get(
            "/api/v1/patients/{id}/visits",
            Needs(EncountersRead),
            visits::of_patient,
        ),
        Route::post(
            "/api/v1/patients/{id}/visits",
            Needs(EncountersWrite),
            visits::start_for_patient,
        ),
        Route::post(
            "/api/v1/patients/{id}/vitals",
            Needs(EncountersWrite),
            visits::triage,
        ),
        Route::get("/api/v1/visits/{id}", Needs(EncountersRead), visits::show),
        Route::patch(
            "/api/v1/visits/{id}",
            Needs(EncountersWrite),
            visits::update,
        ),
        Route::post(
            "/api/v1/visits/{id}/vitals",
            Needs(EncountersWrite),
            visits::vitals,
        ),
        Route::post(
            "/api/v1/visits/{id}/diagnoses",
            Needs(EncountersWrite),
            visits::add_diagnosis,
        ),
        Route::delete(
            "/api/v1/visits/{id}/diagnoses/{diagnosis}",
            Needs(EncountersWrite),
            visits::remove_diagnosis,
        ),
        Route::get(
            "/api/v1/visits/{id}/prescription",
            Needs(EncountersRead),
            visits::prescription,
        ),
        Route::post(
            "/api/v1/visits/{id}/prescription",
            Needs(EncountersWrite),
            visits::prescribe,
        ),
        Route::delete(
            "/api/v1/visits/{id}/prescription/{item}",
            Needs(EncountersWrite),
            visits::unprescribe,
        ),
        Route::get(
            "/api/v1/patients/{id}/documents",
            Needs(DocumentsRead),
            documents::list,
        ),
        Route::post(
            "/api/v1/patients/{id}/documents",
            Needs(DocumentsWrite),
            documents::upload,
        )
        .upload(),
        Route::get(
            "/api/v1/documents/{id}/content",
            Needs(DocumentsRead),
            documents::content,
        ),
        Route::delete(
            "/api/v1/documents/{id}",
            Needs(DocumentsWrite),
            documents::delete,
        ),
        Route::post(
            "/api/v1/visits/{id}/sign",
            Needs(EncountersSign),
            visits::sign,
        ),
        Route::post(
            "/api/v1/visits/{id}/amendments",
            Needs(EncountersSign),
            visits::amend,
        ),
        Route::get("/api/v1/codes", Needs(EncountersRead), visits::codes),
        Route::get("/api/v1/services", Needs(InvoicesRead), billing::services),
        Route::post(
            "/api/v1/services",
            Needs(SettingsManage),
            billing::create_service,
        ),
        Route::post(
            "/api/v1/visits/{id}/invoice",
            Needs(InvoicesWrite),
            billing::for_visit,
        ),
        Route::get(
            "/api/v1/patients/{id}/invoices",
            Needs(InvoicesRead),
            billing::of_patient,
        ),
        Route::post(
            "/api/v1/patients/{id}/invoices",
            Needs(InvoicesWrite),
            billing::for_patient,
        ),
        Route::post(
            "/api/v1/patients/{id}/deposits",
            Needs(InvoicesWrite),
            billing::deposit,
        ),
        Route::get("/api/v1/invoices/{id}", Needs(InvoicesRead), billing::show),
        Route::post(
            "/api/v1/invoices/{id}/lines",
            Needs(InvoicesWrite),
            billing::add_line,
        ),
        Route::delete(
            "/api/v1/invoices/{id}/lines/{line}",
            Needs(InvoicesWrite),
            billing::remove_line,
        ),
        Route::post(
            "/api/v1/invoices/{id}/discount",
            Needs(InvoicesWrite),
            billing::discount,
        ),
        Route::post(
            "/api/v1/invoices/{id}/issue",
            Needs(InvoicesWrite),
            billing::issue,
        ),
        Route::post(
            "/api/v1/invoices/{id}/approve-discount",
            Needs(BillingManage),
            billing::approve_discount,
        ),
        Route::post(
            "/api/v1/invoices/{id}/payments",
            Needs(InvoicesWrite),
            billing::pay,
        ),
        Route::post(
            "/api/v1/invoices/{id}/apply-credit",
            Needs(InvoicesWrite),
            billing::apply_credit,
        ),
        Route::post(
            "/api/v1/invoices/{id}/cancel",
            Needs(InvoicesVoid),
            billing::cancel,
        ),
        Route::post(
            "/api/v1/invoices/{id}/credit-notes",
            Needs(InvoicesVoid),
            billing::credit_note,
        ),
        Route::get(
            "/api/v1/payments/{id}",
            Needs(InvoicesRead),
            billing::payment,
        ),
        Route::post(
            "/api/v1/payments/{id}/refunds",
            Needs(BillingManage),
            billing::refund,
        ),
        Route::post("/api/v1/shifts", Needs(InvoicesWrite), billing::open_shift),
        Route::get("/api/v1/shifts/{id}", Needs(InvoicesRead), billing::shift),
        Route::post(
            "/api/v1/shifts/{id}/close",
            Needs(InvoicesWrite),
            billing::close_shift,
        ),
        Route::get("/api/v1/reports/day", Needs(ReportsRead), billing::day),
        Route::post(
            "/api/v1/reports/day/close",
            Needs(InvoicesVoid),
            billing::close_day,
        ),
        Route::get(
            "/api/v1/reports/revenue",
            Needs(ReportsRead),
            reports::revenue,
        ),
        Route::get(
            "/api/v1/reports/sales-register",
            Needs(ReportsRead),
            reports::sales_register,
        ),
        Route::get(
            "/api/v1/reports/cancellations",
            Needs(ReportsRead),
            reports::cancellations,
        ),
        Route::get(
            "/api/v1/reports/appointments",
            Needs(ReportsRead),
            reports::appointments,
        ),
        Route::get(
            "/api/v1/reports/diagnoses",
            Needs(ReportsRead),
            reports::diagnoses,
        ),
    ]
}
