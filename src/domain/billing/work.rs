//! Billing's units of work: each opens the clinic transaction, does one thing, writes its one
//! audit event and commits.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;

use super::model::{
    DENOMINATIONS, Invoice, Method, Payment, PaymentInput, Service, ServiceInput, Shift, Status,
};
use super::money::{self, LineIn, MoneyError};
use super::repo::{self, Balance, Config, DayReport, InvoiceSummary, LineData, Series, ToBill};
use crate::domain::audit::action;
use crate::domain::auth::Permission;
use crate::domain::clinic::{Clinic, Unit};
use crate::domain::patients::{self, Patient};
use crate::domain::scheduling;
use crate::domain::scheduling::slots::day_bounds;
use crate::domain::validation::Errors;

#[derive(Debug, thiserror::Error)]
pub enum BillingError {
    #[error("not found")]
    NotFound,
    #[error("{0:?}")]
    Invalid(Errors),
    /// The document is not in a state that allows this (message key).
    #[error("refused: {0}")]
    Refused(&'static str),
    /// Needs the `billing_manage` permission (refunds, discounts above the clinic's limit).
    #[error("needs the billing_manage permission")]
    NeedsManager,
    #[error(transparent)]
    Sql(sqlx::Error),
}

impl From<sqlx::Error> for BillingError {
    /// The database's own refusal of a time within a closed day (SQLSTATE CB001, raised when
    /// a payment raced the day's close) reads as the same refusal the checks give.
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(d) if d.code().as_deref() == Some("CB001") => {
                Self::Refused("billing.day_closed")
            }
            _ => Self::Sql(e),
        }
    }
}

impl BillingError {
    pub fn message(&self) -> &'static str {
        match self {
            Self::NotFound => "billing.not_found",
            Self::Invalid(_) => "form.fix_errors",
            Self::Refused(k) => k,
            Self::NeedsManager => "billing.needs_manager",
            Self::Sql(_) => "error.internal",
        }
    }
}

fn invalid(field: &'static str, key: impl Into<String>) -> BillingError {
    BillingError::Invalid(Errors::with(field, key))
}

async fn tz(u: &mut Unit<'_>) -> sqlx::Result<Tz> {
    scheduling::clinic_tz(u).await
}

/// Whether the acting staff member's role may refund and give large discounts.
async fn is_manager(u: &mut Unit<'_>) -> sqlx::Result<bool> {
    u.actor_can(Permission::BillingManage).await
}

// ---- settings ----

/// The price list (reference data, not audited): active services, or all.
pub async fn services(c: &Clinic, all: bool) -> sqlx::Result<Vec<Service>> {
    let mut u = c.begin().await?;
    let list = repo::services(&mut u, all).await?;
    u.finish_without_clinical_data().await?;
    Ok(list)
}

pub async fn service(c: &Clinic, id: i64) -> sqlx::Result<Option<Service>> {
    let mut u = c.begin().await?;
    let s = repo::service(&mut u, id).await?;
    u.finish_without_clinical_data().await?;
    Ok(s)
}

/// Adds (`id` none) or changes a service. `Ok(None)`: no such service. A price change applies
/// to invoices made from now on; issued ones keep theirs, drafts the price they were given.
pub async fn save_service(
    c: &Clinic,
    id: Option<i64>,
    input: &ServiceInput,
) -> Result<Option<i64>, BillingError> {
    let s = input.validate().map_err(BillingError::Invalid)?;
    let mut u = c.begin().await?;
    if let Some(id) = id
        && repo::service(&mut u, id).await?.is_none()
    {
        u.rollback().await?;
        return Ok(None);
    }
    let Some(saved) = repo::save_service(&mut u, id, &s).await? else {
        u.rollback().await?;
        return Err(invalid("code", "invalid.service_code_taken"));
    };
    let ev = u
        .event(action::SERVICE_SETTINGS)
        .resource("service", saved)
        .details(serde_json::json!({
            "created": id.is_none(), "price": s.price, "tax_bp": s.tax_bp, "active": s.active,
        }));
    u.audit_and_commit(ev).await?;
    Ok(Some(saved))
}

pub async fn config(c: &Clinic) -> sqlx::Result<Config> {
    let mut u = c.begin().await?;
    let cfg = repo::config(&mut u).await?;
    u.finish_without_clinical_data().await?;
    Ok(cfg)
}

/// The billing settings as typed.
#[derive(Clone, Debug, Default)]
pub struct ConfigInput {
    pub currency: String,
    pub fiscal_year_start: String,
    pub invoice_prefix: String,
    pub credit_prefix: String,
    pub receipt_prefix: String,
    pub refund_prefix: String,
    pub discount_limit: String,
}

fn prefix(e: &mut Errors, field: &'static str, v: &str) -> String {
    let v = v.trim();
    let ok = v.len() <= 10
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '/' | '_' | '.'));
    if !ok {
        e.add(field, "invalid.number_prefix");
    }
    v.to_owned()
}

/// Saves the currency, fiscal year, number prefixes and discount limit. The currency cannot
/// change once an invoice was issued in another.
pub async fn save_config(c: &Clinic, input: &ConfigInput) -> Result<(), BillingError> {
    let mut e = Errors::new();
    let currency = money::Currency::of(input.currency.trim());
    if currency.is_none() {
        e.add("currency", "invalid.currency");
    }
    let fiscal = super::model::FiscalStart::parse(input.fiscal_year_start.trim());
    if fiscal.is_none() {
        e.add("fiscal_year_start", "invalid.fiscal_year_start");
    }
    let p = [
        (
            repo::KEY_INVOICE_PREFIX,
            prefix(&mut e, "invoice_prefix", &input.invoice_prefix),
        ),
        (
            repo::KEY_CREDIT_PREFIX,
            prefix(&mut e, "credit_prefix", &input.credit_prefix),
        ),
        (
            repo::KEY_RECEIPT_PREFIX,
            prefix(&mut e, "receipt_prefix", &input.receipt_prefix),
        ),
        (
            repo::KEY_REFUND_PREFIX,
            prefix(&mut e, "refund_prefix", &input.refund_prefix),
        ),
    ];
    let limit = money::parse_percent(&input.discount_limit);
    if limit.is_none() {
        e.add("discount_limit", "invalid.percent");
    }
    let (Some(currency), Some(fiscal), Some(limit)) = (currency, fiscal, limit) else {
        return Err(BillingError::Invalid(e));
    };
    if !e.is_empty() {
        return Err(BillingError::Invalid(e));
    }
    let mut u = c.begin().await?;
    let other = sqlx::query_scalar!(
        "SELECT EXISTS (SELECT 1 FROM invoices WHERE status <> 'draft' AND currency <> $1) AS \"x!\"",
        currency.code
    )
    .fetch_one(&mut *u)
    .await?;
    if other {
        u.rollback().await?;
        return Err(invalid("currency", "invalid.currency_in_use"));
    }
    let at = c.at();
    use crate::domain::settings::Setting;
    Setting::<String>::clinic(repo::KEY_CURRENCY)
        .set(&mut u, &currency.code.to_owned(), at)
        .await?;
    Setting::<String>::clinic(repo::KEY_FISCAL)
        .set(&mut u, &fiscal.as_str().to_owned(), at)
        .await?;
    for (k, v) in &p {
        Setting::<String>::clinic(k).set(&mut u, v, at).await?;
    }
    Setting::<i64>::clinic(repo::KEY_DISCOUNT_LIMIT)
        .set(&mut u, &i64::from(limit), at)
        .await?;
    let ev = u.event(action::BILLING_SETTINGS).details(serde_json::json!({
        "currency": currency.code, "fiscal_year_start": fiscal.as_str(), "discount_limit_bp": limit,
    }));
    u.audit_and_commit(ev).await?;
    Ok(())
}

// ---- invoices ----

/// Everything the invoice page shows.
pub struct InvoiceRecord {
    pub invoice: Invoice,
    pub patient: Patient,
    pub payments: Vec<Payment>,
    /// Its credit notes (of an invoice), or the invoice it credits (of a credit note).
    pub related: Vec<InvoiceSummary>,
    pub balance: Balance,
    pub config: Config,
    /// For a draft: the active price list to add from.
    pub services: Vec<Service>,
    /// Whether the reader may refund and give discounts above the limit.
    pub manager: bool,
    /// The reader's open shift, if any.
    pub shift: Option<i64>,
    /// Lines of this invoice that a credit note credits already.
    pub credited_lines: Vec<i64>,
    pub tz: Tz,
}

/// The invoice with its figures: computed for a draft, as frozen for an issued one.
async fn load(u: &mut Unit<'_>, id: i64, lock: bool) -> Result<Invoice, BillingError> {
    let r = repo::invoice(u, id, lock)
        .await?
        .ok_or(BillingError::NotFound)?;
    let mut lines = repo::lines(u, id).await?;
    let status = Status::parse(&r.status);
    let totals = match (r.total, status) {
        (Some(total), Status::Issued | Status::Cancelled) => money::Totals {
            lines: lines.iter().map(|l| l.figures).collect(),
            gross: r.gross.unwrap_or_default(),
            discount: r.gross.unwrap_or_default() - r.net.unwrap_or_default(),
            net: r.net.unwrap_or_default(),
            tax: r.tax.unwrap_or_default(),
            total,
        },
        _ => {
            let priced: Vec<LineIn> = lines.iter().map(|l| l.priced()).collect();
            // A draft whose discounts no longer fit (a line removed) shows them unshared.
            let t = money::totals(&priced, r.discount)
                .or_else(|_| money::totals(&priced, 0))
                .unwrap_or_default();
            for (l, f) in lines.iter_mut().zip(&t.lines) {
                l.figures = *f;
            }
            t
        }
    };
    let (paid, credited) = repo::paid_and_credited(u, id).await?;
    Ok(Invoice {
        id: r.id,
        kind: r.kind,
        patient_id: r.patient_id,
        visit_id: r.visit_id,
        credits_id: r.credits_id,
        status,
        number: r.number,
        fiscal_year: r.fiscal_year,
        discount: r.discount,
        discount_reason: r.discount_reason,
        discount_approved_bp: r.discount_approved_bp,
        note: r.note,
        currency: r.currency,
        lines,
        totals,
        created_at: r.created_at,
        issued_at: r.issued_at,
        issued_by: r.issued_by,
        issued_by_name: r.issued_by_name,
        cancelled_at: r.cancelled_at,
        cancel_reason: r.cancel_reason,
        paid,
        credited,
        version: r.version,
    })
}

async fn load_draft(u: &mut Unit<'_>, id: i64) -> Result<Invoice, BillingError> {
    let inv = load(u, id, true).await?;
    if inv.status != Status::Draft {
        return Err(BillingError::Refused("billing.issued_final"));
    }
    Ok(inv)
}

/// Opens an invoice (or credit note) with its patient, payments and related documents.
pub async fn open(c: &Clinic, id: i64) -> Result<InvoiceRecord, BillingError> {
    let mut u = c.begin().await?;
    let invoice = load(&mut u, id, false).await?;
    let patient = patients::repo::get(&mut u, invoice.patient_id)
        .await?
        .ok_or(BillingError::NotFound)?;
    let payments = repo::payments_where(&mut u, None, Some(id), None).await?;
    let ids = match invoice.credits_id {
        Some(of) => vec![of],
        None => {
            sqlx::query_scalar!("SELECT id FROM invoices WHERE credits_id = $1", id)
                .fetch_all(&mut *u)
                .await?
        }
    };
    let related = if ids.is_empty() {
        Vec::new()
    } else {
        repo::list(&mut u, Some(invoice.patient_id), c.at(), c.at(), 500)
            .await?
            .into_iter()
            .filter(|s| ids.contains(&s.id))
            .collect()
    };
    let balance = repo::balance(&mut u, invoice.patient_id).await?;
    let config = repo::config(&mut u).await?;
    let services = if invoice.status == Status::Draft {
        repo::services(&mut u, false).await?
    } else {
        Vec::new()
    };
    let manager = is_manager(&mut u).await?;
    let shift = match c.user_id() {
        Some(me) => repo::open_shift_of(&mut u, me).await?,
        None => None,
    };
    let credited_lines = repo::credited_lines(&mut u, id).await?;
    let tz = tz(&mut u).await?;
    let ev = u
        .event(action::INVOICE_VIEW)
        .resource("invoice", id)
        .patient(invoice.patient_id);
    u.audit_and_commit(ev).await?;
    Ok(InvoiceRecord {
        invoice,
        patient,
        payments,
        related,
        balance,
        config,
        services,
        manager,
        shift,
        credited_lines,
        tz,
    })
}

/// Starts the invoice of a visit with its type's service, or finds the one made already.
/// Returns (invoice, created).
pub async fn for_visit(c: &Clinic, visit: i64) -> Result<(i64, bool), BillingError> {
    let mut u = c.begin().await?;
    if let Some(id) = repo::invoice_of_visit(&mut u, visit).await? {
        // Nothing changed: the invoice page audits its reading.
        u.rollback().await?;
        return Ok((id, false));
    }
    let v = repo::visit_to_bill(&mut u, visit)
        .await?
        .ok_or(BillingError::NotFound)?;
    let cfg = repo::config(&mut u).await?;
    let id = repo::create_invoice(
        &mut u,
        &repo::NewInvoice {
            kind: "invoice",
            patient: v.patient_id,
            visit: Some(visit),
            credits: None,
            currency: cfg.currency.code,
        },
        c.at(),
        c.user_id(),
    )
    .await?;
    let mut lines = 0;
    if let Some(sid) = v.service_id
        && let Some(s) = repo::service(&mut u, sid).await?
        && s.active
    {
        repo::add_line(
            &mut u,
            id,
            &line_of_service(&s, 1, Some(v.clinician_id)),
            c.at(),
        )
        .await?;
        lines += 1;
    }
    let ev = u
        .event(action::INVOICE_CREATED)
        .resource("invoice", id)
        .patient(v.patient_id)
        .details(serde_json::json!({ "visit": visit, "lines": lines }));
    u.audit_and_commit(ev).await?;
    Ok((id, true))
}

/// Starts an invoice for a patient without a visit (a lab test, a certificate).
pub async fn for_patient(c: &Clinic, patient: i64) -> Result<i64, BillingError> {
    let mut u = c.begin().await?;
    let p = patients::repo::get(&mut u, patient)
        .await?
        .ok_or(BillingError::NotFound)?;
    if p.deleted {
        return Err(BillingError::NotFound);
    }
    let cfg = repo::config(&mut u).await?;
    let id = repo::create_invoice(
        &mut u,
        &repo::NewInvoice {
            kind: "invoice",
            patient,
            visit: None,
            credits: None,
            currency: cfg.currency.code,
        },
        c.at(),
        c.user_id(),
    )
    .await?;
    let ev = u
        .event(action::INVOICE_CREATED)
        .resource("invoice", id)
        .patient(patient);
    u.audit_and_commit(ev).await?;
    Ok(id)
}

fn line_of_service(s: &Service, quantity: i32, clinician: Option<i64>) -> LineData {
    LineData {
        service_id: Some(s.id),
        credits_line_id: None,
        clinician_id: clinician,
        code: s.code.clone(),
        description: s.name.clone(),
        quantity,
        unit_price: s.price,
        tax_bp: s.tax_bp,
        discount: 0,
        discount_reason: String::new(),
    }
}

/// A line as typed: a service of the price list, or a description and price by hand.
#[derive(Clone, Debug, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineInput {
    /// A service's id; empty or left out for a line typed by hand.
    #[serde(default)]
    pub service_id: String,
    /// A line typed by hand: what it is, its price and tax rate (percent).
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub price: String,
    #[serde(default)]
    pub tax: String,
    /// 1 when empty.
    #[serde(default)]
    pub quantity: String,
    /// An amount (`50`) or a percentage of the line (`10%`).
    #[serde(default)]
    pub discount: String,
    #[serde(default)]
    pub discount_reason: String,
}

/// A discount typed as an amount or a percentage of `of`.
fn discount_of(e: &mut Errors, field: &'static str, v: &str, of: i64) -> i64 {
    let t = v.trim();
    if t.is_empty() {
        return 0;
    }
    if let Some(p) = t.strip_suffix('%') {
        return match money::parse_percent(p) {
            Some(bp) => money::percent_of(of, bp),
            None => {
                e.add(field, "invalid.discount");
                0
            }
        };
    }
    match money::parse_amount(t) {
        Some(a) if a <= of => a,
        Some(_) => {
            e.add(field, "invalid.discount_over");
            0
        }
        None => {
            e.add(field, "invalid.discount");
            0
        }
    }
}

/// Adds a line to a draft.
pub async fn add_line(c: &Clinic, invoice: i64, input: &LineInput) -> Result<i64, BillingError> {
    let mut e = Errors::new();
    let quantity = match input.quantity.trim() {
        "" => 1,
        q => q
            .parse::<i32>()
            .ok()
            .filter(|q| (1..=100_000).contains(q))
            .unwrap_or_else(|| {
                e.add("quantity", "invalid.quantity");
                1
            }),
    };
    let mut u = c.begin().await?;
    let inv = load_draft(&mut u, invoice).await?;
    let clinician = match inv.visit_id {
        Some(v) => repo::visit_to_bill(&mut u, v)
            .await?
            .map(|v| v.clinician_id),
        None => None,
    };
    let mut line = match input.service_id.trim() {
        "" => {
            let description =
                super::model::bounded(&mut e, "description", &input.description, 200, true);
            let price =
                super::model::amount(&mut e, "price", &input.price, true).unwrap_or_default();
            let tax_bp = match input.tax.trim() {
                "" => 0,
                t => money::parse_percent(t).unwrap_or_else(|| {
                    e.add("tax", "invalid.percent");
                    0
                }),
            };
            LineData {
                service_id: None,
                credits_line_id: None,
                clinician_id: clinician,
                code: String::new(),
                description,
                quantity,
                unit_price: price,
                tax_bp,
                discount: 0,
                discount_reason: String::new(),
            }
        }
        sid => {
            let s = match sid.parse::<i64>() {
                Ok(id) => repo::service(&mut u, id).await?.filter(|s| s.active),
                Err(_) => None,
            };
            match s {
                Some(s) => line_of_service(&s, quantity, clinician),
                None => {
                    e.add("service_id", "invalid.service");
                    return Err(BillingError::Invalid(e));
                }
            }
        }
    };
    let gross = line.unit_price.saturating_mul(i64::from(line.quantity));
    line.discount = discount_of(&mut e, "discount", &input.discount, gross);
    line.discount_reason = super::model::bounded(
        &mut e,
        "discount_reason",
        &input.discount_reason,
        200,
        false,
    );
    if line.discount > 0 && line.discount_reason.is_empty() {
        e.add("discount_reason", "invalid.discount_reason");
    }
    if !e.is_empty() {
        return Err(BillingError::Invalid(e));
    }
    // The invoice with this line must still add up.
    let mut priced: Vec<LineIn> = inv.lines.iter().map(|l| l.priced()).collect();
    priced.push(LineIn {
        unit_price: line.unit_price,
        quantity: line.quantity,
        tax_bp: line.tax_bp,
        discount: line.discount,
    });
    if let Err(err) = money::totals(&priced, 0) {
        return Err(money_error(err));
    }
    let id = repo::add_line(&mut u, invoice, &line, c.at()).await?;
    let ev = u
        .event(action::INVOICE_UPDATED)
        .resource("invoice", invoice)
        .patient(inv.patient_id)
        .details(serde_json::json!({ "line_added": id, "service": line.service_id }));
    u.audit_and_commit(ev).await?;
    Ok(id)
}

fn money_error(e: MoneyError) -> BillingError {
    match e {
        MoneyError::LineDiscount(_) => invalid("discount", "invalid.discount_over"),
        MoneyError::InvoiceDiscount => invalid("invoice_discount", "invalid.discount_over"),
        MoneyError::OutOfRange(_) | MoneyError::TooLarge => {
            invalid("price", "invalid.amount_too_large")
        }
    }
}

pub async fn remove_line(c: &Clinic, invoice: i64, line: i64) -> Result<(), BillingError> {
    let mut u = c.begin().await?;
    let inv = load_draft(&mut u, invoice).await?;
    if !repo::remove_line(&mut u, invoice, line).await? {
        return Err(BillingError::NotFound);
    }
    let ev = u
        .event(action::INVOICE_UPDATED)
        .resource("invoice", invoice)
        .patient(inv.patient_id)
        .details(serde_json::json!({ "line_removed": line }));
    u.audit_and_commit(ev).await?;
    Ok(())
}

/// The invoice's own discount (amount or percentage) and its reason, and its note.
pub async fn set_discount(
    c: &Clinic,
    invoice: i64,
    discount: &str,
    reason: &str,
    note: &str,
) -> Result<(), BillingError> {
    let mut u = c.begin().await?;
    let inv = load_draft(&mut u, invoice).await?;
    let mut e = Errors::new();
    let base = inv.totals.gross - inv.lines.iter().map(|l| l.discount).sum::<i64>();
    let amount = discount_of(&mut e, "invoice_discount", discount, base);
    let reason = super::model::bounded(&mut e, "invoice_discount_reason", reason, 200, false);
    let note = super::model::bounded(&mut e, "note", note, 500, false);
    if amount > 0 && reason.is_empty() {
        e.add("invoice_discount_reason", "invalid.discount_reason");
    }
    if !e.is_empty() {
        return Err(BillingError::Invalid(e));
    }
    repo::set_discount(&mut u, invoice, amount, &reason, &note).await?;
    let ev = u
        .event(action::INVOICE_UPDATED)
        .resource("invoice", invoice)
        .patient(inv.patient_id)
        .details(serde_json::json!({ "discount": amount }));
    u.audit_and_commit(ev).await?;
    Ok(())
}

/// The fiscal year of `at` in the clinic's time zone.
fn fiscal_year(cfg: &Config, tz: Tz, at: DateTime<Utc>) -> String {
    cfg.fiscal_start.year_of(at.with_timezone(&tz).date_naive())
}

/// Issues a draft: its figures are frozen and it takes the next number of the fiscal year.
/// Returns the number.
pub async fn issue(c: &Clinic, invoice: i64) -> Result<String, BillingError> {
    let mut u = c.begin().await?;
    let inv = load_draft(&mut u, invoice).await?;
    if inv.lines.is_empty() {
        return Err(BillingError::Refused("billing.no_lines"));
    }
    let priced: Vec<LineIn> = inv.lines.iter().map(|l| l.priced()).collect();
    let t = money::totals(&priced, inv.discount).map_err(money_error)?;
    let cfg = repo::config(&mut u).await?;
    if inv.needs_approval(cfg.discount_limit_bp) && !is_manager(&mut u).await? {
        return Err(BillingError::NeedsManager);
    }
    let tz = tz(&mut u).await?;
    open_day(&mut u, c.at()).await?;
    let fy = fiscal_year(&cfg, tz, c.at());
    for (l, f) in inv.lines.iter().zip(&t.lines) {
        repo::freeze_line(&mut u, l.id, f).await?;
    }
    let (seq, at) = repo::take_number(&mut u, Series::Invoice, &fy, c.at()).await?;
    let number = super::model::number(cfg.prefix(Series::Invoice), &fy, seq);
    repo::issue(
        &mut u,
        invoice,
        &repo::Issue {
            fiscal_year: &fy,
            seq,
            number: &number,
            gross: t.gross,
            net: t.net,
            tax: t.tax,
            total: t.total,
            at,
            by: c.user_id(),
        },
    )
    .await?;
    let ev = u
        .event(action::INVOICE_ISSUED)
        .resource("invoice", invoice)
        .patient(inv.patient_id)
        .details(serde_json::json!({ "number": number, "total": t.total }));
    u.audit_and_commit(ev).await?;
    Ok(number)
}

/// A billing manager approves the draft's discounts as they stand (above the clinic's
/// limit), so that the desk can issue it.
pub async fn approve_discount(c: &Clinic, invoice: i64) -> Result<(), BillingError> {
    let mut u = c.begin().await?;
    if !is_manager(&mut u).await? {
        return Err(BillingError::NeedsManager);
    }
    let inv = load_draft(&mut u, invoice).await?;
    let bp = inv.discount_bp();
    repo::approve_discount(&mut u, invoice, bp, c.user_id()).await?;
    let ev = u
        .event(action::INVOICE_DISCOUNT_APPROVED)
        .resource("invoice", invoice)
        .patient(inv.patient_id)
        .details(serde_json::json!({ "discount": inv.totals.discount, "discount_bp": bp }));
    u.audit_and_commit(ev).await?;
    Ok(())
}

/// Throws a draft away (an issued invoice is cancelled instead).
pub async fn discard(c: &Clinic, invoice: i64) -> Result<(), BillingError> {
    let mut u = c.begin().await?;
    let inv = load_draft(&mut u, invoice).await?;
    repo::delete_draft(&mut u, invoice).await?;
    let ev = u
        .event(action::INVOICE_DISCARDED)
        .resource("invoice", invoice)
        .patient(inv.patient_id);
    u.audit_and_commit(ev).await?;
    Ok(())
}

fn reason_of(reason: &str, field: &'static str) -> Result<String, BillingError> {
    let r = reason.trim();
    if r.is_empty() {
        return Err(invalid(field, "invalid.reason_required"));
    }
    if r.chars().count() > 300 {
        return Err(invalid(
            field,
            crate::i18n::msg("invalid.max_chars", &[("max", &300)]),
        ));
    }
    Ok(r.to_owned())
}

/// Gives back `amount` of what receipts pay towards `invoice` (newest receipt first): the
/// money becomes the patient's credit, to apply elsewhere or refund.
async fn release(
    u: &mut Unit<'_>,
    invoice: i64,
    mut amount: i64,
    at: DateTime<Utc>,
    by: Option<i64>,
) -> sqlx::Result<i64> {
    let mut released = 0;
    for (payment, paying) in repo::allocations_of(u, invoice).await? {
        if amount == 0 {
            break;
        }
        let x = paying.min(amount);
        repo::allocate(u, payment, invoice, -x, at, by).await?;
        amount -= x;
        released += x;
    }
    Ok(released)
}

/// Cancels an issued invoice with a reason. It keeps its number (the cancellation report
/// lists it); what was paid towards it becomes the patient's credit.
pub async fn cancel(c: &Clinic, invoice: i64, reason: &str) -> Result<(), BillingError> {
    let reason = reason_of(reason, "cancel_reason")?;
    let mut u = c.begin().await?;
    let inv = load(&mut u, invoice, true).await?;
    if inv.status != Status::Issued || inv.is_credit_note() {
        return Err(BillingError::Refused("billing.cannot_cancel"));
    }
    if inv.credited > 0 {
        return Err(BillingError::Refused("billing.cancel_credited"));
    }
    open_day(&mut u, c.at()).await?;
    let released = release(&mut u, invoice, inv.paid, c.at(), c.user_id()).await?;
    repo::cancel(&mut u, invoice, &reason, c.at(), c.user_id()).await?;
    let ev = u
        .event(action::INVOICE_CANCELLED)
        .resource("invoice", invoice)
        .patient(inv.patient_id)
        .details(serde_json::json!({ "number": inv.number, "released": released }));
    u.audit_and_commit(ev).await?;
    Ok(())
}

/// Issues a credit note for `lines` of an issued invoice (each line at most once, over all
/// its credit notes). What was paid beyond what is still owed becomes the patient's credit.
/// Returns the credit note's id.
pub async fn credit_note(
    c: &Clinic,
    invoice: i64,
    lines: &[i64],
    reason: &str,
) -> Result<i64, BillingError> {
    let reason = reason_of(reason, "credit_reason")?;
    let mut u = c.begin().await?;
    let inv = load(&mut u, invoice, true).await?;
    if inv.status != Status::Issued || inv.is_credit_note() {
        return Err(BillingError::Refused("billing.cannot_credit"));
    }
    open_day(&mut u, c.at()).await?;
    let credited_lines = repo::credited_lines(&mut u, invoice).await?;
    let chosen: Vec<_> = inv
        .lines
        .iter()
        .filter(|l| lines.contains(&l.id) && !credited_lines.contains(&l.id))
        .collect();
    if chosen.is_empty() || chosen.len() != lines.len() {
        return Err(invalid("credit_lines", "invalid.credit_lines"));
    }
    let cfg = repo::config(&mut u).await?;
    let tz = tz(&mut u).await?;
    let cn = repo::create_invoice(
        &mut u,
        &repo::NewInvoice {
            kind: "credit_note",
            patient: inv.patient_id,
            visit: inv.visit_id,
            credits: Some(invoice),
            currency: &inv.currency,
        },
        c.at(),
        c.user_id(),
    )
    .await?;
    let (mut gross, mut net, mut tax, mut total) = (0, 0, 0, 0);
    for l in &chosen {
        // The line as it was invoiced, its frozen figures included: no rounding again.
        let id = repo::add_line(
            &mut u,
            cn,
            &LineData {
                service_id: l.service_id,
                credits_line_id: Some(l.id),
                clinician_id: l.clinician_id,
                code: l.code.clone(),
                description: l.description.clone(),
                quantity: l.quantity,
                unit_price: l.unit_price,
                tax_bp: l.tax_bp,
                discount: l.figures.discount,
                discount_reason: l.discount_reason.clone(),
            },
            c.at(),
        )
        .await?;
        repo::freeze_line(&mut u, id, &l.figures).await?;
        gross += l.figures.gross;
        net += l.figures.net;
        tax += l.figures.tax;
        total += l.figures.total;
    }
    sqlx::query!("UPDATE invoices SET note = $2 WHERE id = $1", cn, reason)
        .execute(&mut *u)
        .await?;
    let fy = fiscal_year(&cfg, tz, c.at());
    let (seq, at) = repo::take_number(&mut u, Series::CreditNote, &fy, c.at()).await?;
    let number = super::model::number(cfg.prefix(Series::CreditNote), &fy, seq);
    repo::issue(
        &mut u,
        cn,
        &repo::Issue {
            fiscal_year: &fy,
            seq,
            number: &number,
            gross,
            net,
            tax,
            total,
            at,
            by: c.user_id(),
        },
    )
    .await?;
    // Paid beyond what the invoice now asks for goes back to the receipts.
    let over = inv.paid - (inv.totals.total - inv.credited - total).max(0);
    let released = if over > 0 {
        release(&mut u, invoice, over, c.at(), c.user_id()).await?
    } else {
        0
    };
    let ev = u
        .event(action::INVOICE_CREDITED)
        .resource("invoice", invoice)
        .patient(inv.patient_id)
        .details(serde_json::json!({
            "credit_note": cn, "number": number, "total": total, "released": released,
        }));
    u.audit_and_commit(ev).await?;
    Ok(cn)
}

// ---- payments ----

async fn take_receipt(
    u: &mut Unit<'_>,
    c: &Clinic,
    kind: Series,
    patient: i64,
    p: &super::model::PaymentData,
    refund_of: Option<i64>,
    reason: &str,
) -> Result<(i64, String), BillingError> {
    open_day(u, c.at()).await?;
    let cfg = repo::config(u).await?;
    let mut shift = match c.user_id() {
        Some(me) => repo::open_shift_of(u, me).await?,
        None => None,
    };
    // A billing manager without a drawer pays a cash refund from the receipt's own shift, if
    // that is still open.
    if shift.is_none()
        && let Some(of) = refund_of
        && let Some(original) = repo::payment(u, of).await?.and_then(|r| r.shift_id)
        && repo::shift(u, original, false)
            .await?
            .is_some_and(|s| s.closed_at.is_none())
    {
        shift = Some(original);
    }
    if p.method == Method::Cash && shift.is_none() {
        return Err(BillingError::Refused(if refund_of.is_some() {
            "billing.no_shift_refund"
        } else {
            "billing.no_shift"
        }));
    }
    let tz = tz(u).await?;
    let fy = fiscal_year(&cfg, tz, c.at());
    let (seq, at) = repo::take_number(u, kind, &fy, c.at()).await?;
    let number = super::model::number(cfg.prefix(kind), &fy, seq);
    let id = repo::insert_payment(
        u,
        &repo::NewPayment {
            kind: if kind == Series::Refund {
                "refund"
            } else {
                "receipt"
            },
            fiscal_year: &fy,
            seq,
            number: &number,
            patient,
            method: p.method,
            reference: &p.reference,
            amount: p.amount,
            currency: cfg.currency.code,
            refund_of,
            reason,
            shift,
            at,
            by: c.user_id(),
        },
    )
    .await?;
    Ok((id, number))
}

/// Takes a payment towards an issued invoice (all or part of what is due). Returns the
/// receipt's id.
pub async fn pay(c: &Clinic, invoice: i64, input: &PaymentInput) -> Result<i64, BillingError> {
    let p = input.validate().map_err(BillingError::Invalid)?;
    let mut u = c.begin().await?;
    let inv = load(&mut u, invoice, true).await?;
    if inv.status != Status::Issued || inv.is_credit_note() {
        return Err(BillingError::Refused("billing.pay_not_issued"));
    }
    let due = inv.due();
    if due == 0 {
        return Err(BillingError::Refused("billing.nothing_due"));
    }
    if p.amount > due {
        let cfg = repo::config(&mut u).await?;
        return Err(invalid(
            "amount",
            crate::i18n::msg(
                "invalid.amount_over_due",
                &[("due", &cfg.currency.format(due))],
            ),
        ));
    }
    let (id, number) =
        take_receipt(&mut u, c, Series::Receipt, inv.patient_id, &p, None, "").await?;
    repo::allocate(&mut u, id, invoice, p.amount, c.at(), c.user_id()).await?;
    let ev = u
        .event(action::PAYMENT_RECEIVED)
        .resource("payment", id)
        .patient(inv.patient_id)
        .details(serde_json::json!({
            "invoice": invoice, "number": number, "amount": p.amount, "method": p.method.as_str(),
        }));
    u.audit_and_commit(ev).await?;
    Ok(id)
}

/// Takes an advance deposit from a patient (a receipt paying no invoice yet).
pub async fn deposit(c: &Clinic, patient: i64, input: &PaymentInput) -> Result<i64, BillingError> {
    let p = input.validate().map_err(BillingError::Invalid)?;
    let mut u = c.begin().await?;
    let found = patients::repo::get(&mut u, patient).await?;
    if found.is_none_or(|p| p.deleted) {
        return Err(BillingError::NotFound);
    }
    let (id, number) = take_receipt(&mut u, c, Series::Receipt, patient, &p, None, "").await?;
    let ev = u
        .event(action::PAYMENT_RECEIVED)
        .resource("payment", id)
        .patient(patient)
        .details(serde_json::json!({
            "deposit": true, "number": number, "amount": p.amount, "method": p.method.as_str(),
        }));
    u.audit_and_commit(ev).await?;
    Ok(id)
}

/// Applies the patient's credit (deposits, oldest first) to what an invoice still asks for.
/// Returns the amount applied.
pub async fn apply_credit(c: &Clinic, invoice: i64) -> Result<i64, BillingError> {
    let mut u = c.begin().await?;
    let inv = load(&mut u, invoice, true).await?;
    if inv.status != Status::Issued || inv.is_credit_note() {
        return Err(BillingError::Refused("billing.pay_not_issued"));
    }
    let mut due = inv.due();
    let mut applied = 0;
    for (payment, free) in repo::unallocated(&mut u, inv.patient_id).await? {
        if due == 0 {
            break;
        }
        let x = free.min(due);
        repo::allocate(&mut u, payment, invoice, x, c.at(), c.user_id()).await?;
        due -= x;
        applied += x;
    }
    if applied == 0 {
        return Err(BillingError::Refused("billing.no_credit"));
    }
    let ev = u
        .event(action::CREDIT_APPLIED)
        .resource("invoice", invoice)
        .patient(inv.patient_id)
        .details(serde_json::json!({ "amount": applied }));
    u.audit_and_commit(ev).await?;
    Ok(applied)
}

/// Pays back (part of) a receipt's money that pays no invoice, by the receipt's own method.
/// Needs the `billing_manage` permission. Returns the refund's id.
pub async fn refund(
    c: &Clinic,
    payment: i64,
    amount: &str,
    reason: &str,
) -> Result<i64, BillingError> {
    let mut u = c.begin().await?;
    if !is_manager(&mut u).await? {
        return Err(BillingError::NeedsManager);
    }
    let receipt = repo::payment(&mut u, payment)
        .await?
        .filter(|p| !p.is_refund())
        .ok_or(BillingError::NotFound)?;
    // Lock the receipts of the patient, so that two refunds cannot both take the same money.
    let free = repo::unallocated(&mut u, receipt.patient_id)
        .await?
        .into_iter()
        .find(|(id, _)| *id == payment)
        .map_or(0, |(_, f)| f);
    let mut e = Errors::new();
    let amount = super::model::amount(&mut e, "refund_amount", amount, true).unwrap_or_default();
    let reason = super::model::bounded(&mut e, "refund_reason", reason, 300, true);
    if e.is_empty() && amount == 0 {
        e.add("refund_amount", "invalid.amount_zero");
    }
    if e.is_empty() && amount > free {
        let cfg = repo::config(&mut u).await?;
        e.add(
            "refund_amount",
            crate::i18n::msg(
                "invalid.refund_over",
                &[("free", &cfg.currency.format(free))],
            ),
        );
    }
    if !e.is_empty() {
        return Err(BillingError::Invalid(e));
    }
    let data = super::model::PaymentData {
        method: receipt.method,
        amount,
        reference: receipt.reference.clone(),
    };
    let (id, number) = take_receipt(
        &mut u,
        c,
        Series::Refund,
        receipt.patient_id,
        &data,
        Some(payment),
        &reason,
    )
    .await?;
    let ev = u
        .event(action::PAYMENT_REFUNDED)
        .resource("payment", id)
        .patient(receipt.patient_id)
        .details(serde_json::json!({
            "receipt": payment, "number": number, "amount": amount, "method": receipt.method.as_str(),
        }));
    u.audit_and_commit(ev).await?;
    Ok(id)
}

/// Everything a receipt (or refund) page and print shows.
pub struct PaymentRecord {
    pub payment: Payment,
    pub patient: Patient,
    pub config: Config,
    /// The refunds of a receipt.
    pub refunds: Vec<Payment>,
    pub manager: bool,
    pub tz: Tz,
}

pub async fn payment(c: &Clinic, id: i64) -> Result<PaymentRecord, BillingError> {
    let mut u = c.begin().await?;
    let payment = repo::payment(&mut u, id)
        .await?
        .ok_or(BillingError::NotFound)?;
    let patient = patients::repo::get(&mut u, payment.patient_id)
        .await?
        .ok_or(BillingError::NotFound)?;
    let refunds = repo::payments_where(&mut u, None, None, Some(payment.patient_id))
        .await?
        .into_iter()
        .filter(|p| p.refund_of == Some(id))
        .collect();
    let config = repo::config(&mut u).await?;
    let manager = is_manager(&mut u).await?;
    let tz = tz(&mut u).await?;
    let ev = u
        .event(action::PAYMENT_VIEW)
        .resource("payment", id)
        .patient(payment.patient_id);
    u.audit_and_commit(ev).await?;
    Ok(PaymentRecord {
        payment,
        patient,
        config,
        refunds,
        manager,
        tz,
    })
}

// ---- prints ----

/// The paper a bill prints on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Paper {
    A4,
    A5,
    /// An 80 mm receipt printer.
    Thermal,
}

impl Paper {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "a4" => Some(Self::A4),
            "a5" | "" => Some(Self::A5),
            "thermal" | "80mm" => Some(Self::Thermal),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::A4 => "a4",
            Self::A5 => "a5",
            Self::Thermal => "thermal",
        }
    }
}

/// A print of an invoice or receipt: which copy it is (1: the original).
pub struct Printed<T> {
    pub record: T,
    pub copy: i32,
    pub letterhead: crate::domain::settings::Letterhead,
    pub tz: Tz,
    pub printed_at: DateTime<Utc>,
    pub printed_by: Option<String>,
}

async fn printed_by(u: &mut Unit<'_>) -> sqlx::Result<Option<String>> {
    match u.clinic().user_id() {
        Some(id) => {
            sqlx::query_scalar!("SELECT display_name FROM users WHERE id = $1", id)
                .fetch_optional(&mut **u)
                .await
        }
        None => Ok(None),
    }
}

/// Records the print of `document` `id` (of `patient`), writes its audit event and commits:
/// the last step of both prints.
#[allow(clippy::too_many_arguments)]
async fn printed<T>(
    mut u: Unit<'_>,
    c: &Clinic,
    document: &'static str,
    id: i64,
    patient: i64,
    paper: Paper,
    action: &'static str,
    record: T,
) -> Result<Printed<T>, BillingError> {
    let copy =
        repo::record_print(&mut u, document, id, paper.as_str(), c.at(), c.user_id()).await?;
    let letterhead = crate::domain::settings::Letterhead::read(&mut u).await?;
    let tz = tz(&mut u).await?;
    let by = printed_by(&mut u).await?;
    let ev = u
        .event(action)
        .resource(document, id)
        .patient(patient)
        .details(serde_json::json!({ "copy": copy, "paper": paper.as_str() }));
    u.audit_and_commit(ev).await?;
    Ok(Printed {
        record,
        copy,
        letterhead,
        tz,
        printed_at: c.at(),
        printed_by: by,
    })
}

/// Prints an issued invoice or credit note (a draft cannot be printed).
pub async fn print_invoice(
    c: &Clinic,
    id: i64,
    paper: Paper,
) -> Result<Printed<(Invoice, Patient, Config)>, BillingError> {
    let mut u = c.begin().await?;
    let inv = load(&mut u, id, false).await?;
    if inv.status == Status::Draft {
        return Err(BillingError::Refused("billing.print_draft"));
    }
    let patient = patients::repo::get(&mut u, inv.patient_id)
        .await?
        .ok_or(BillingError::NotFound)?;
    let cfg = repo::config(&mut u).await?;
    let of = inv.patient_id;
    printed(
        u,
        c,
        "invoice",
        id,
        of,
        paper,
        action::INVOICE_PRINTED,
        (inv, patient, cfg),
    )
    .await
}

pub async fn print_payment(
    c: &Clinic,
    id: i64,
    paper: Paper,
) -> Result<Printed<(Payment, Patient, Config)>, BillingError> {
    let mut u = c.begin().await?;
    let p = repo::payment(&mut u, id)
        .await?
        .ok_or(BillingError::NotFound)?;
    let patient = patients::repo::get(&mut u, p.patient_id)
        .await?
        .ok_or(BillingError::NotFound)?;
    let cfg = repo::config(&mut u).await?;
    let of = p.patient_id;
    printed(
        u,
        c,
        "payment",
        id,
        of,
        paper,
        action::PAYMENT_PRINTED,
        (p, patient, cfg),
    )
    .await
}

// ---- the desk ----

/// The billing desk's page: drafts and today's invoices, visits still to bill, the day's
/// takings and the reader's shift.
pub struct Desk {
    pub invoices: Vec<InvoiceSummary>,
    pub to_bill: Vec<ToBill>,
    pub today: DayReport,
    pub shift: Option<Shift>,
    pub config: Config,
    pub tz: Tz,
}

pub async fn desk(c: &Clinic) -> Result<Desk, BillingError> {
    let mut u = c.begin().await?;
    let tz = tz(&mut u).await?;
    let today = c.at().with_timezone(&tz).date_naive();
    let (from, to) = day_bounds(tz, today);
    let invoices = repo::list(&mut u, None, from, to, 200).await?;
    let to_bill = repo::visits_to_bill(&mut u, from - Duration::days(6)).await?;
    let report = repo::day_report(&mut u, from, to).await?;
    let shift = match c.user_id() {
        Some(me) => match repo::open_shift_of(&mut u, me).await? {
            Some(id) => repo::shift(&mut u, id, false).await?,
            None => None,
        },
        None => None,
    };
    let config = repo::config(&mut u).await?;
    let ev = u.event(action::BILLING_DESK).details(serde_json::json!({
        "invoices": invoices.len(), "to_bill": to_bill.len(),
    }));
    u.audit_and_commit(ev).await?;
    Ok(Desk {
        invoices,
        to_bill,
        today: report,
        shift,
        config,
        tz,
    })
}

/// A patient's account: invoices, payments and balance.
pub struct Account {
    pub patient: Patient,
    pub invoices: Vec<InvoiceSummary>,
    pub balance: Balance,
    pub payments: Vec<Payment>,
    pub config: Config,
    pub tz: Tz,
}

/// A patient's invoices, payments and balance (their billing page, the API).
pub async fn of_patient(c: &Clinic, patient: i64) -> Result<Account, BillingError> {
    let mut u = c.begin().await?;
    let p = patients::repo::get(&mut u, patient)
        .await?
        .ok_or(BillingError::NotFound)?;
    let invoices = repo::list(&mut u, Some(patient), c.at(), c.at(), 500).await?;
    let balance = repo::balance(&mut u, patient).await?;
    let payments = repo::payments_where(&mut u, None, None, Some(patient)).await?;
    let config = repo::config(&mut u).await?;
    let tz = tz(&mut u).await?;
    let ev = u
        .event(action::INVOICE_LIST)
        .resource("patient", patient)
        .patient(patient);
    u.audit_and_commit(ev).await?;
    Ok(Account {
        patient: p,
        invoices,
        balance,
        payments,
        config,
        tz,
    })
}

/// Opens the acting cashier's shift with a float.
pub async fn open_shift(c: &Clinic, float: &str) -> Result<i64, BillingError> {
    let me = c
        .user_id()
        .ok_or(BillingError::Refused("billing.no_cashier"))?;
    let mut e = Errors::new();
    let float = super::model::amount(&mut e, "float", float, false).unwrap_or_default();
    if !e.is_empty() {
        return Err(BillingError::Invalid(e));
    }
    let mut u = c.begin().await?;
    open_day(&mut u, c.at()).await?;
    let Some(id) = repo::open_shift(&mut u, me, float, c.at()).await? else {
        return Err(BillingError::Refused("billing.shift_open"));
    };
    let ev = u
        .event(action::SHIFT_OPENED)
        .resource("shift", id)
        .details(serde_json::json!({ "float": float }));
    u.audit_and_commit(ev).await?;
    Ok(id)
}

/// A shift with what its page needs: the settings, who may take over, the time zone.
pub struct ShiftRecord {
    pub shift: Shift,
    pub config: Config,
    pub cashiers: Vec<(i64, String)>,
    pub tz: Tz,
}

pub async fn shift(c: &Clinic, id: i64) -> Result<ShiftRecord, BillingError> {
    let mut u = c.begin().await?;
    let shift = repo::shift(&mut u, id, false)
        .await?
        .ok_or(BillingError::NotFound)?;
    let config = repo::config(&mut u).await?;
    let cashiers = repo::cashiers(&mut u).await?;
    let tz = tz(&mut u).await?;
    let ev = u.event(action::SHIFT_VIEW).resource("shift", id);
    u.audit_and_commit(ev).await?;
    Ok(ShiftRecord {
        shift,
        config,
        cashiers,
        tz,
    })
}

/// Closes a shift by the cash counted per denomination. Only its cashier (or a manager)
/// closes it. Returns the variance (counted less expected).
pub async fn close_shift(
    c: &Clinic,
    id: i64,
    counts: &BTreeMap<String, String>,
    handed_to: &str,
    note: &str,
) -> Result<i64, BillingError> {
    let mut e = Errors::new();
    let mut counted = BTreeMap::new();
    let mut cash: i64 = 0;
    for d in DENOMINATIONS {
        let key = d.to_string();
        let n = match counts.get(&key).map(|s| s.trim()).unwrap_or("") {
            "" => 0,
            s => match s.parse::<i64>() {
                Ok(n) if (0..=100_000).contains(&n) => n,
                _ => {
                    e.add(denomination_field(*d), "invalid.count");
                    0
                }
            },
        };
        if n > 0 {
            counted.insert(key, n);
        }
        cash += n * d * 100;
    }
    // Coins below the smallest note, as an amount.
    let coins = super::model::amount(
        &mut e,
        "coins",
        counts.get("coins").map_or("", |s| s),
        false,
    )
    .unwrap_or_default();
    if coins > 0 {
        counted.insert("coins_minor".to_owned(), coins);
    }
    cash += coins;
    let note = super::model::bounded(&mut e, "close_note", note, 500, false);
    if !e.is_empty() {
        return Err(BillingError::Invalid(e));
    }
    let mut u = c.begin().await?;
    let s = repo::shift(&mut u, id, true)
        .await?
        .ok_or(BillingError::NotFound)?;
    if s.closed_at.is_some() {
        return Err(BillingError::Refused("billing.shift_closed"));
    }
    if Some(s.cashier_id) != c.user_id() && !is_manager(&mut u).await? {
        return Err(BillingError::Refused("billing.not_your_shift"));
    }
    let handed = match handed_to.trim() {
        "" => None,
        h => {
            let cashiers = repo::cashiers(&mut u).await?;
            match h
                .parse::<i64>()
                .ok()
                .filter(|id| cashiers.iter().any(|c| c.0 == *id))
            {
                Some(id) => Some(id),
                None => return Err(invalid("handed_to", "invalid.handed_to")),
            }
        }
    };
    if s.counted_cash.is_none() && cash != s.expected_cash && note.is_empty() {
        return Err(invalid("close_note", "invalid.variance_note"));
    }
    repo::close_shift(
        &mut u,
        id,
        &repo::Close {
            counted: &counted,
            counted_cash: cash,
            expected_cash: s.expected_cash,
            handed_to: handed,
            note: &note,
            at: c.at(),
        },
    )
    .await?;
    let variance = cash - s.expected_cash;
    let ev = u
        .event(action::SHIFT_CLOSED)
        .resource("shift", id)
        .details(serde_json::json!({
            "counted": cash, "expected": s.expected_cash, "variance": variance, "handed_to": handed,
        }));
    u.audit_and_commit(ev).await?;
    Ok(variance)
}

/// The form field of a denomination's count.
pub fn denomination_field(d: i64) -> &'static str {
    match d {
        1000 => "n1000",
        500 => "n500",
        100 => "n100",
        50 => "n50",
        20 => "n20",
        10 => "n10",
        5 => "n5",
        2 => "n2",
        _ => "n1",
    }
}

/// The takings of one day, with its shifts. A closed day's report is its totals as they
/// stood when it was closed.
pub struct DayRecord {
    pub day: NaiveDate,
    pub report: DayReport,
    pub shifts: Vec<Shift>,
    pub config: Config,
    pub tz: Tz,
    pub closed: Option<repo::DayClose>,
    /// Closed, and the figures read today differ from the frozen ones (an invoice of the day
    /// cancelled on a later day).
    pub changed_since_close: bool,
    /// The day is today or earlier, so it can be closed once.
    pub closable: bool,
}

pub async fn day(c: &Clinic, day: Option<NaiveDate>) -> Result<DayRecord, BillingError> {
    let mut u = c.begin().await?;
    let tz = tz(&mut u).await?;
    let today = c.at().with_timezone(&tz).date_naive();
    let day = day.unwrap_or(today);
    let (from, to) = day_bounds(tz, day);
    let live = repo::day_report(&mut u, from, to).await?;
    let closed = repo::day_close(&mut u, day).await?;
    let changed_since_close = closed.as_ref().is_some_and(|d| d.totals != live);
    let report = match &closed {
        Some(d) => d.totals.clone(),
        None => live,
    };
    let mut shifts = Vec::new();
    for id in repo::shifts(&mut u, from, to).await? {
        if let Some(s) = repo::shift(&mut u, id, false).await? {
            shifts.push(s);
        }
    }
    let config = repo::config(&mut u).await?;
    let ev = u
        .event(action::REPORT_VIEW)
        .details(serde_json::json!({ "report": "day", "day": day.to_string() }));
    u.audit_and_commit(ev).await?;
    Ok(DayRecord {
        day,
        report,
        shifts,
        config,
        tz,
        closable: closed.is_none() && day <= today,
        closed,
        changed_since_close,
    })
}

/// Refuses money or documents dated within a closed day (the database refuses them too),
/// after waiting for a close in progress (`repo::lock_day`).
async fn open_day(u: &mut Unit<'_>, at: DateTime<Utc>) -> Result<(), BillingError> {
    repo::lock_day(u, false).await?;
    match repo::closed_day_at(u, at).await? {
        Some(_) => Err(BillingError::Refused("billing.day_closed")),
        None => Ok(()),
    }
}

/// Closes a day (today or earlier, in the clinic's time zone): its totals are frozen as they
/// stand, and no payment, invoice or cancellation can be dated within it afterwards. Every
/// shift opened before the day's end must be closed first.
pub async fn close_day(c: &Clinic, day: &str, note: &str) -> Result<NaiveDate, BillingError> {
    let mut e = Errors::new();
    let day = match NaiveDate::parse_from_str(day.trim(), "%Y-%m-%d") {
        Ok(d) => Some(d),
        Err(_) => {
            e.add("date", "invalid.date");
            None
        }
    };
    let note = super::model::bounded(&mut e, "note", note, 500, false);
    let Some(day) = day.filter(|_| e.is_empty()) else {
        return Err(BillingError::Invalid(e));
    };
    let mut u = c.begin().await?;
    let tz = tz(&mut u).await?;
    if day > c.at().with_timezone(&tz).date_naive() {
        return Err(BillingError::Refused("billing.day_not_over"));
    }
    repo::lock_day(&mut u, true).await?;
    if repo::day_close(&mut u, day).await?.is_some() {
        return Err(BillingError::Refused("billing.day_already_closed"));
    }
    let (from, to) = day_bounds(tz, day);
    if !repo::open_shifts_before(&mut u, to).await?.is_empty() {
        return Err(BillingError::Refused("billing.day_open_shifts"));
    }
    let totals = repo::day_report(&mut u, from, to).await?;
    let closed = repo::close_day(
        &mut u,
        &repo::NewDayClose {
            day,
            starts_at: from,
            ends_at: to,
            at: c.at(),
            by: c.user_id(),
            totals: &totals,
            note: &note,
        },
    )
    .await?;
    if !closed {
        return Err(BillingError::Refused("billing.day_already_closed"));
    }
    let ev = u.event(action::DAY_CLOSED).details(serde_json::json!({
        "day": day.to_string(),
        "receipts": totals.receipts,
        "refunds": totals.refunds,
        "invoices": totals.invoices,
    }));
    u.audit_and_commit(ev).await?;
    Ok(day)
}

/// Each appointment type's default service: (type id, name, service id).
pub async fn type_services(c: &Clinic) -> sqlx::Result<Vec<(i64, String, Option<i64>)>> {
    let mut u = c.begin().await?;
    let rows = sqlx::query!(
        "SELECT id, name, service_id FROM appointment_types WHERE active ORDER BY lower(name)"
    )
    .fetch_all(&mut *u)
    .await?;
    u.finish_without_clinical_data().await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.id, r.name, r.service_id))
        .collect())
}

/// Sets the service a visit of each appointment type is billed by default (`None`: none).
pub async fn save_type_services(
    c: &Clinic,
    choices: &[(i64, Option<i64>)],
) -> Result<(), BillingError> {
    let mut u = c.begin().await?;
    for (t, s) in choices {
        if let Some(s) = s
            && repo::service(&mut u, *s).await?.is_none()
        {
            return Err(invalid("type_services", "invalid.service"));
        }
        let r = sqlx::query!(
            "UPDATE appointment_types SET service_id = $2 WHERE id = $1",
            t,
            *s
        )
        .execute(&mut *u)
        .await?;
        if r.rows_affected() == 0 {
            return Err(BillingError::NotFound);
        }
    }
    let ev = u
        .event(action::BILLING_SETTINGS)
        .details(serde_json::json!({ "type_services": choices.len() }));
    u.audit_and_commit(ev).await?;
    Ok(())
}

/// Everyone who owes on issued invoices, most owed first (at most 500).
pub async fn outstanding(c: &Clinic) -> Result<(Vec<repo::Outstanding>, Config, Tz), BillingError> {
    let mut u = c.begin().await?;
    let list = repo::outstanding(&mut u, 500).await?;
    let config = repo::config(&mut u).await?;
    let tz = tz(&mut u).await?;
    let ev = u.event(action::REPORT_VIEW).details(serde_json::json!({
        "report": "outstanding", "patients": list.len(),
    }));
    u.audit_and_commit(ev).await?;
    Ok((list, config, tz))
}
