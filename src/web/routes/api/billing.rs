//! `/api/v1/services`, invoices, payments, shifts and the day report: the same units of work
//! as the billing pages. Amounts in requests are strings as a person types them (`"1,250.50"`);
//! amounts in answers are integers in the currency's minor units (paisa).

use std::collections::BTreeMap;

use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::visits::Created;
use crate::domain::billing::repo::{Balance, DayReport, InvoiceSummary};
use crate::domain::billing::work::{self, LineInput};
use crate::domain::billing::{Invoice, Payment, PaymentInput, Service, ServiceInput, Shift, State};
use crate::domain::clinic::Clinic;
use crate::web::AppError;
use crate::web::extract::{Json, Path};
use crate::web::routes::billing::fatal;

fn created(id: i64) -> Response {
    (StatusCode::CREATED, Json(Created { id })).into_response()
}

#[utoipa::path(get, operation_id = "services_list", path = "/api/v1/services", tag = "billing",
    responses((status = 200, body = Vec<Service>)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn services(clinic: Clinic) -> Result<Json<Vec<Service>>, AppError> {
    Ok(Json(work::services(&clinic, true).await?))
}

#[utoipa::path(post, operation_id = "services_create", path = "/api/v1/services", tag = "billing",
    request_body = ServiceInput,
    responses((status = 201, body = Created), (status = 422)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn create_service(
    clinic: Clinic,
    Json(input): Json<ServiceInput>,
) -> Result<Response, AppError> {
    let id = work::save_service(&clinic, None, &input)
        .await
        .map_err(fatal)?
        .ok_or(AppError::NotFound)?;
    Ok(created(id))
}

/// An invoice with its state and what is still due.
#[derive(Serialize, ToSchema)]
pub struct InvoiceRecord {
    pub invoice: Invoice,
    pub state: State,
    pub due: i64,
    /// Receipts paying it and their refunds.
    pub payments: Vec<Payment>,
}

#[derive(Serialize, ToSchema)]
pub struct VisitInvoice {
    pub id: i64,
    /// False when the visit had its invoice already.
    pub created: bool,
}

#[utoipa::path(post, operation_id = "invoices_for_visit", path = "/api/v1/visits/{id}/invoice", tag = "billing", params(("id" = i64, Path)),
    responses((status = 201, body = VisitInvoice), (status = 200, body = VisitInvoice), (status = 404)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn for_visit(clinic: Clinic, Path(id): Path<i64>) -> Result<Response, AppError> {
    let (id, created) = work::for_visit(&clinic, id).await.map_err(fatal)?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(VisitInvoice { id, created })).into_response())
}

#[utoipa::path(post, operation_id = "invoices_for_patient", path = "/api/v1/patients/{id}/invoices", tag = "billing", params(("id" = i64, Path)),
    responses((status = 201, body = Created), (status = 404)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn for_patient(clinic: Clinic, Path(id): Path<i64>) -> Result<Response, AppError> {
    Ok(created(
        work::for_patient(&clinic, id).await.map_err(fatal)?,
    ))
}

/// A patient's invoices, payments and balance.
#[derive(Serialize, ToSchema)]
#[schema(as = BillingAccount)]
pub struct Account {
    pub invoices: Vec<InvoiceSummary>,
    pub payments: Vec<Payment>,
    pub balance: Balance,
}

#[utoipa::path(get, operation_id = "invoices_of_patient", path = "/api/v1/patients/{id}/invoices", tag = "billing", params(("id" = i64, Path)),
    responses((status = 200, body = Account), (status = 404)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn of_patient(clinic: Clinic, Path(id): Path<i64>) -> Result<Json<Account>, AppError> {
    let a = work::of_patient(&clinic, id).await.map_err(fatal)?;
    Ok(Json(Account {
        invoices: a.invoices,
        payments: a.payments,
        balance: a.balance,
    }))
}

#[utoipa::path(get, operation_id = "invoices_show", path = "/api/v1/invoices/{id}", tag = "billing", params(("id" = i64, Path)),
    responses((status = 200, body = InvoiceRecord), (status = 404)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn show(clinic: Clinic, Path(id): Path<i64>) -> Result<Json<InvoiceRecord>, AppError> {
    let r = work::open(&clinic, id).await.map_err(fatal)?;
    Ok(Json(InvoiceRecord {
        state: r.invoice.state(),
        due: r.invoice.due(),
        invoice: r.invoice,
        payments: r.payments,
    }))
}

#[utoipa::path(post, operation_id = "invoices_add_line", path = "/api/v1/invoices/{id}/lines", tag = "billing", params(("id" = i64, Path)),
    request_body = LineInput,
    responses((status = 201, body = Created), (status = 404), (status = 409), (status = 422)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn add_line(
    clinic: Clinic,
    Path(id): Path<i64>,
    Json(input): Json<LineInput>,
) -> Result<Response, AppError> {
    Ok(created(
        work::add_line(&clinic, id, &input).await.map_err(fatal)?,
    ))
}

#[utoipa::path(delete, operation_id = "invoices_remove_line", path = "/api/v1/invoices/{id}/lines/{line}", tag = "billing",
    params(("id" = i64, Path), ("line" = i64, Path)),
    responses((status = 204), (status = 404), (status = 409)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn remove_line(
    clinic: Clinic,
    Path((id, line)): Path<(i64, i64)>,
) -> Result<StatusCode, AppError> {
    work::remove_line(&clinic, id, line).await.map_err(fatal)?;
    Ok(StatusCode::NO_CONTENT)
}

/// The invoice's own discount (`"100"` or `"5%"`), its reason, and the invoice's note.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DiscountInput {
    #[serde(default)]
    pub discount: String,
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub note: String,
}

#[utoipa::path(post, operation_id = "invoices_discount", path = "/api/v1/invoices/{id}/discount", tag = "billing", params(("id" = i64, Path)),
    request_body = DiscountInput,
    responses((status = 204), (status = 404), (status = 409), (status = 422)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn discount(
    clinic: Clinic,
    Path(id): Path<i64>,
    Json(d): Json<DiscountInput>,
) -> Result<StatusCode, AppError> {
    work::set_discount(&clinic, id, &d.discount, &d.reason, &d.note)
        .await
        .map_err(fatal)?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, operation_id = "invoices_approve_discount", path = "/api/v1/invoices/{id}/approve-discount", tag = "billing", params(("id" = i64, Path)),
    responses((status = 204), (status = 403), (status = 404), (status = 409)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn approve_discount(clinic: Clinic, Path(id): Path<i64>) -> Result<StatusCode, AppError> {
    work::approve_discount(&clinic, id).await.map_err(fatal)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct Issued {
    pub number: String,
}

#[utoipa::path(post, operation_id = "invoices_issue", path = "/api/v1/invoices/{id}/issue", tag = "billing", params(("id" = i64, Path)),
    responses((status = 200, body = Issued), (status = 403, description = "A discount above the clinic's limit needs billing_manage"), (status = 404), (status = 409)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn issue(clinic: Clinic, Path(id): Path<i64>) -> Result<Json<Issued>, AppError> {
    Ok(Json(Issued {
        number: work::issue(&clinic, id).await.map_err(fatal)?,
    }))
}

#[utoipa::path(post, operation_id = "invoices_pay", path = "/api/v1/invoices/{id}/payments", tag = "billing", params(("id" = i64, Path)),
    request_body = PaymentInput,
    responses((status = 201, body = Created, description = "The receipt"), (status = 404), (status = 409), (status = 422)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn pay(
    clinic: Clinic,
    Path(id): Path<i64>,
    Json(input): Json<PaymentInput>,
) -> Result<Response, AppError> {
    Ok(created(
        work::pay(&clinic, id, &input).await.map_err(fatal)?,
    ))
}

#[derive(Serialize, ToSchema)]
pub struct Applied {
    pub amount: i64,
}

#[utoipa::path(post, operation_id = "invoices_apply_credit", path = "/api/v1/invoices/{id}/apply-credit", tag = "billing", params(("id" = i64, Path)),
    responses((status = 200, body = Applied), (status = 404), (status = 409)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn apply_credit(clinic: Clinic, Path(id): Path<i64>) -> Result<Json<Applied>, AppError> {
    Ok(Json(Applied {
        amount: work::apply_credit(&clinic, id).await.map_err(fatal)?,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CancelReason)]
pub struct Reason {
    pub reason: String,
}

#[utoipa::path(post, operation_id = "invoices_cancel", path = "/api/v1/invoices/{id}/cancel", tag = "billing", params(("id" = i64, Path)),
    request_body = Reason,
    responses((status = 204), (status = 404), (status = 409), (status = 422)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn cancel(
    clinic: Clinic,
    Path(id): Path<i64>,
    Json(r): Json<Reason>,
) -> Result<StatusCode, AppError> {
    work::cancel(&clinic, id, &r.reason).await.map_err(fatal)?;
    Ok(StatusCode::NO_CONTENT)
}

/// The lines of the invoice to credit (each at most once) and why.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreditInput {
    pub lines: Vec<i64>,
    pub reason: String,
}

#[utoipa::path(post, operation_id = "invoices_credit_note", path = "/api/v1/invoices/{id}/credit-notes", tag = "billing", params(("id" = i64, Path)),
    request_body = CreditInput,
    responses((status = 201, body = Created, description = "The credit note"), (status = 404), (status = 409), (status = 422)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn credit_note(
    clinic: Clinic,
    Path(id): Path<i64>,
    Json(c): Json<CreditInput>,
) -> Result<Response, AppError> {
    Ok(created(
        work::credit_note(&clinic, id, &c.lines, &c.reason)
            .await
            .map_err(fatal)?,
    ))
}

#[utoipa::path(post, operation_id = "payments_deposit", path = "/api/v1/patients/{id}/deposits", tag = "billing", params(("id" = i64, Path)),
    request_body = PaymentInput,
    responses((status = 201, body = Created, description = "The receipt"), (status = 404), (status = 409), (status = 422)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn deposit(
    clinic: Clinic,
    Path(id): Path<i64>,
    Json(input): Json<PaymentInput>,
) -> Result<Response, AppError> {
    Ok(created(
        work::deposit(&clinic, id, &input).await.map_err(fatal)?,
    ))
}

#[utoipa::path(get, operation_id = "payments_show", path = "/api/v1/payments/{id}", tag = "billing", params(("id" = i64, Path)),
    responses((status = 200, body = Payment), (status = 404)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn payment(clinic: Clinic, Path(id): Path<i64>) -> Result<Json<Payment>, AppError> {
    Ok(Json(
        work::payment(&clinic, id).await.map_err(fatal)?.payment,
    ))
}

/// How much of the receipt to pay back (`"500"`) and why.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundInput {
    pub amount: String,
    pub reason: String,
}

#[utoipa::path(post, operation_id = "payments_refund", path = "/api/v1/payments/{id}/refunds", tag = "billing", params(("id" = i64, Path)),
    request_body = RefundInput,
    responses((status = 201, body = Created, description = "The refund"), (status = 403), (status = 404), (status = 409), (status = 422)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn refund(
    clinic: Clinic,
    Path(id): Path<i64>,
    Json(r): Json<RefundInput>,
) -> Result<Response, AppError> {
    Ok(created(
        work::refund(&clinic, id, &r.amount, &r.reason)
            .await
            .map_err(fatal)?,
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenShift {
    /// The cash counted into the drawer (`"2000"`); empty for none.
    #[serde(default)]
    pub float: String,
}

#[utoipa::path(post, operation_id = "shifts_open", path = "/api/v1/shifts", tag = "billing",
    request_body = OpenShift,
    responses((status = 201, body = Created), (status = 409, description = "A shift is open already"), (status = 422)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn open_shift(clinic: Clinic, Json(o): Json<OpenShift>) -> Result<Response, AppError> {
    Ok(created(
        work::open_shift(&clinic, &o.float).await.map_err(fatal)?,
    ))
}

#[utoipa::path(get, operation_id = "shifts_show", path = "/api/v1/shifts/{id}", tag = "billing", params(("id" = i64, Path)),
    responses((status = 200, body = Shift), (status = 404)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn shift(clinic: Clinic, Path(id): Path<i64>) -> Result<Json<Shift>, AppError> {
    Ok(Json(work::shift(&clinic, id).await.map_err(fatal)?.shift))
}

/// The cash counted: how many of each note (`{"1000": 3, "500": 1}`), coins as an amount.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseShift {
    #[serde(default)]
    pub counts: BTreeMap<String, u32>,
    #[serde(default)]
    pub coins: String,
    /// A colleague's account id who takes the drawer over.
    pub handed_to: Option<i64>,
    #[serde(default)]
    pub note: String,
}

#[derive(Serialize, ToSchema)]
pub struct Closed {
    /// Counted less expected, in minor units: negative when cash is missing.
    pub variance: i64,
}

#[utoipa::path(post, operation_id = "shifts_close", path = "/api/v1/shifts/{id}/close", tag = "billing", params(("id" = i64, Path)),
    request_body = CloseShift,
    responses((status = 200, body = Closed), (status = 404), (status = 409), (status = 422)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn close_shift(
    clinic: Clinic,
    Path(id): Path<i64>,
    Json(c): Json<CloseShift>,
) -> Result<Json<Closed>, AppError> {
    let mut counts: BTreeMap<String, String> = c
        .counts
        .iter()
        .map(|(k, v)| (k.clone(), v.to_string()))
        .collect();
    if let Some(bad) = counts.keys().find(|k| {
        !crate::domain::billing::model::DENOMINATIONS
            .iter()
            .any(|d| d.to_string() == **k)
    }) {
        return Err(AppError::Validation(
            crate::domain::validation::Errors::with(
                "counts",
                crate::i18n::msg("invalid.denomination", &[("d", bad)]),
            ),
        ));
    }
    counts.insert("coins".into(), c.coins);
    let handed = c.handed_to.map(|h| h.to_string()).unwrap_or_default();
    let variance = work::close_shift(&clinic, id, &counts, &handed, &c.note)
        .await
        .map_err(fatal)?;
    Ok(Json(Closed { variance }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DayParams {
    /// `YYYY-MM-DD` in the clinic's time zone; today when left out.
    pub date: Option<String>,
}

/// A day's takings, with the day it covers.
#[derive(Serialize, ToSchema)]
#[schema(as = BillingDay)]
pub struct Day {
    pub date: String,
    /// For a closed day, its totals as they stood when it was closed.
    pub report: DayReport,
    pub shifts: Vec<Shift>,
    /// Set once the day is closed.
    pub closed: Option<DayClosed>,
}

/// When and by whom a day was closed.
#[derive(Serialize, ToSchema)]
pub struct DayClosed {
    pub closed_at: chrono::DateTime<chrono::Utc>,
    pub closed_by: Option<i64>,
    pub note: String,
    /// The figures read now differ from the frozen ones (an invoice of the day cancelled
    /// later).
    pub changed_since: bool,
}

impl From<work::DayRecord> for Day {
    fn from(r: work::DayRecord) -> Self {
        Day {
            date: r.day.to_string(),
            closed: r.closed.map(|d| DayClosed {
                closed_at: d.closed_at,
                closed_by: d.closed_by,
                note: d.note,
                changed_since: r.changed_since_close,
            }),
            report: r.report,
            shifts: r.shifts,
        }
    }
}

/// Closing a day.
#[derive(Deserialize, ToSchema)]
pub struct CloseDay {
    /// `YYYY-MM-DD` in the clinic's time zone: today or earlier.
    pub date: String,
    #[serde(default)]
    pub note: String,
}

#[utoipa::path(get, operation_id = "reports_day", path = "/api/v1/reports/day", tag = "billing", params(DayParams),
    responses((status = 200, body = Day), (status = 400)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn day(clinic: Clinic, Query(q): Query<DayParams>) -> Result<Json<Day>, AppError> {
    let day = match q.date.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(d) => Some(
            chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
                .map_err(|_| AppError::BadRequest("date: YYYY-MM-DD".into()))?,
        ),
    };
    let r = work::day(&clinic, day).await.map_err(fatal)?;
    Ok(Json(r.into()))
}

/// Closes a day: its totals are frozen and nothing more can be dated within it. Every shift
/// of the day must be closed first (409 otherwise, as for a future or closed day).
#[utoipa::path(post, operation_id = "reports_day_close", path = "/api/v1/reports/day/close", tag = "billing",
    request_body = CloseDay,
    responses((status = 200, body = Day), (status = 409), (status = 422)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn close_day(clinic: Clinic, Json(b): Json<CloseDay>) -> Result<Json<Day>, AppError> {
    let day = work::close_day(&clinic, &b.date, &b.note)
        .await
        .map_err(fatal)?;
    let r = work::day(&clinic, Some(day)).await.map_err(fatal)?;
    Ok(Json(r.into()))
}
