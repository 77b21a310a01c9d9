//! The price list, invoices, payments and the cash desk's shifts.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::money::{self, LineIn};
use crate::domain::validation::Errors;

/// A service of the price list.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Service {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub category: String,
    /// Minor units (paisa), before tax.
    pub price: i64,
    /// Basis points: 1300 is 13 %.
    pub tax_bp: i32,
    pub active: bool,
}

/// A service as typed in Settings → Price list (or sent to the API).
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceInput {
    pub code: String,
    pub name: String,
    #[serde(default)]
    pub category: String,
    /// As typed: `1,250.50`.
    pub price: String,
    /// A percentage: `13`, `0` for exempt.
    #[serde(default)]
    pub tax: String,
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

/// A service checked, ready to store.
pub struct ServiceData {
    pub code: String,
    pub name: String,
    pub category: String,
    pub price: i64,
    pub tax_bp: i32,
    pub active: bool,
}

pub(super) fn bounded(
    e: &mut Errors,
    field: &'static str,
    v: &str,
    max: usize,
    required: bool,
) -> String {
    let v = v.trim();
    if required && v.is_empty() {
        e.add(field, "invalid.required");
    } else if v.chars().count() > max || v.chars().any(|c| c.is_control() && c != '\n') {
        e.add(
            field,
            crate::i18n::msg("invalid.max_chars", &[("max", &max)]),
        );
    }
    v.to_owned()
}

/// An amount typed in `field`: `Some` when valid, a message next to the field otherwise.
pub(super) fn amount(e: &mut Errors, field: &'static str, v: &str, required: bool) -> Option<i64> {
    if v.trim().is_empty() && !required {
        return Some(0);
    }
    let a = money::parse_amount(v);
    if a.is_none() {
        e.add(field, "invalid.amount");
    }
    a
}

impl ServiceInput {
    pub fn validate(&self) -> Result<ServiceData, Errors> {
        let mut e = Errors::new();
        let code = self.code.trim().to_owned();
        let code_ok = !code.is_empty()
            && code.len() <= 20
            && code
                .chars()
                .enumerate()
                .all(|(i, c)| c.is_ascii_alphanumeric() || (i > 0 && matches!(c, '.' | '_' | '-')));
        if !code_ok {
            e.add("code", "invalid.service_code");
        }
        let name = bounded(&mut e, "name", &self.name, 120, true);
        let category = bounded(&mut e, "category", &self.category, 60, false);
        let price = amount(&mut e, "price", &self.price, true).unwrap_or_default();
        let tax_bp = match self.tax.trim() {
            "" => 0,
            t => money::parse_percent(t).unwrap_or_else(|| {
                e.add("tax", "invalid.percent");
                0
            }),
        };
        e.into_result(ServiceData {
            code,
            name,
            category,
            price,
            tax_bp,
            active: self.active,
        })
    }
}

/// How money was paid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    Cash,
    Card,
    /// A mobile wallet (eSewa, Khalti, UPI…).
    Wallet,
    Bank,
    Insurance,
}

impl Method {
    pub const ALL: [Method; 5] = [
        Method::Cash,
        Method::Card,
        Method::Wallet,
        Method::Bank,
        Method::Insurance,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cash => "cash",
            Self::Card => "card",
            Self::Wallet => "wallet",
            Self::Bank => "bank",
            Self::Insurance => "insurance",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

/// Draft, issued or cancelled; how much is paid is the payments' business ([`Invoice::state`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = InvoiceStatus)]
pub enum Status {
    Draft,
    Issued,
    Cancelled,
}

impl Status {
    pub fn parse(s: &str) -> Self {
        match s {
            "issued" => Self::Issued,
            "cancelled" => Self::Cancelled,
            _ => Self::Draft,
        }
    }
}

/// An invoice line as stored. Its figures are computed while the invoice is a draft and
/// frozen when it is issued.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Line {
    pub id: i64,
    pub service_id: Option<i64>,
    pub credits_line_id: Option<i64>,
    pub clinician_id: Option<i64>,
    pub code: String,
    pub description: String,
    pub quantity: i32,
    pub unit_price: i64,
    pub tax_bp: i32,
    /// The line's own discount.
    pub discount: i64,
    pub discount_reason: String,
    /// The line's figures (the invoice discount's share included).
    pub figures: money::LineTotals,
}

impl Line {
    pub fn priced(&self) -> LineIn {
        LineIn {
            unit_price: self.unit_price,
            quantity: self.quantity,
            tax_bp: self.tax_bp,
            discount: self.discount,
        }
    }
    pub fn tax_label(&self) -> String {
        money::percent_label(self.tax_bp)
    }
}

/// An invoice or a credit note.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Invoice {
    pub id: i64,
    /// `invoice` or `credit_note`.
    pub kind: String,
    pub patient_id: i64,
    pub visit_id: Option<i64>,
    /// A credit note's invoice.
    pub credits_id: Option<i64>,
    pub status: Status,
    /// `INV-2026/27-00042`; none for a draft.
    pub number: Option<String>,
    pub fiscal_year: Option<String>,
    pub discount: i64,
    pub discount_reason: String,
    /// Discounts up to this share (basis points) approved by a billing manager.
    pub discount_approved_bp: Option<i32>,
    pub note: String,
    pub currency: String,
    pub lines: Vec<Line>,
    pub totals: money::Totals,
    pub created_at: DateTime<Utc>,
    pub issued_at: Option<DateTime<Utc>>,
    pub issued_by: Option<i64>,
    pub issued_by_name: Option<String>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub cancel_reason: Option<String>,
    /// Paid towards it (receipts allocated, less what was given back).
    pub paid: i64,
    /// Credited by credit notes.
    pub credited: i64,
    pub version: i32,
}

/// What a reader of an invoice sees: its state in words.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = InvoiceState)]
pub enum State {
    Draft,
    /// A credit note, once issued.
    Issued,
    Unpaid,
    PartlyPaid,
    Paid,
    Credited,
    Cancelled,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Issued => "issued",
            Self::Unpaid => "unpaid",
            Self::PartlyPaid => "partly_paid",
            Self::Paid => "paid",
            Self::Credited => "credited",
            Self::Cancelled => "cancelled",
        }
    }
}

impl Invoice {
    /// The discounts' share of the invoice's amount, in basis points, rounded up.
    pub fn discount_bp(&self) -> i32 {
        let g = i128::from(self.totals.gross);
        if g <= 0 {
            return 0;
        }
        let d = i128::from(self.totals.discount) * 10_000;
        i32::try_from((d + g - 1) / g).unwrap_or(i32::MAX)
    }
    /// Whether issuing needs a billing manager: discounts above `limit_bp` not approved.
    pub fn needs_approval(&self, limit_bp: i32) -> bool {
        let bp = self.discount_bp();
        bp > limit_bp && self.discount_approved_bp.is_none_or(|a| bp > a)
    }
    pub fn is_credit_note(&self) -> bool {
        self.kind == "credit_note"
    }
    /// What is still owed on it.
    pub fn due(&self) -> i64 {
        match self.status {
            Status::Issued if !self.is_credit_note() => {
                (self.totals.total - self.credited - self.paid).max(0)
            }
            _ => 0,
        }
    }
    pub fn state(&self) -> State {
        match self.status {
            Status::Draft => State::Draft,
            Status::Cancelled => State::Cancelled,
            Status::Issued if self.is_credit_note() => State::Issued,
            Status::Issued if self.credited > 0 && self.credited >= self.totals.total => {
                State::Credited
            }
            Status::Issued if self.due() == 0 => State::Paid,
            Status::Issued if self.paid > 0 => State::PartlyPaid,
            Status::Issued => State::Unpaid,
        }
    }
}

/// A receipt or a refund.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Payment {
    pub id: i64,
    /// `receipt` or `refund`.
    pub kind: String,
    /// `RCP-2026/27-00007`.
    pub number: String,
    pub patient_id: i64,
    pub method: Method,
    pub reference: String,
    pub amount: i64,
    pub currency: String,
    pub refund_of: Option<i64>,
    pub reason: String,
    pub shift_id: Option<i64>,
    pub received_at: DateTime<Utc>,
    pub received_by: Option<i64>,
    pub received_by_name: Option<String>,
    /// Of a receipt: what is not paying any invoice (a deposit), less refunds.
    pub unallocated: i64,
    /// Of a receipt: the invoices it pays and how much of each.
    pub allocations: Vec<Allocation>,
}

impl Payment {
    pub fn is_refund(&self) -> bool {
        self.kind == "refund"
    }
}

/// Part of a receipt paying one invoice.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Allocation {
    pub invoice_id: i64,
    pub invoice_number: Option<String>,
    pub amount: i64,
}

/// A payment as typed at the desk.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentInput {
    /// `cash`, `card`, `wallet`, `bank` or `insurance`.
    pub method: String,
    /// As typed: `500`, `1,250.50`.
    pub amount: String,
    /// The card slip, wallet transaction or transfer number; the insurer's claim number.
    #[serde(default)]
    pub reference: String,
}

pub struct PaymentData {
    pub method: Method,
    pub amount: i64,
    pub reference: String,
}

impl PaymentInput {
    pub fn validate(&self) -> Result<PaymentData, Errors> {
        let mut e = Errors::new();
        let method = Method::parse(self.method.trim());
        if method.is_none() {
            e.add("method", "invalid.pay_method");
        }
        let amount = amount(&mut e, "amount", &self.amount, true).unwrap_or_default();
        if e.get("amount").is_none() && amount == 0 {
            e.add("amount", "invalid.amount_zero");
        }
        let reference = bounded(&mut e, "reference", &self.reference, 100, false);
        if e.get("reference").is_none()
            && reference.is_empty()
            && matches!(
                method,
                Some(Method::Wallet | Method::Bank | Method::Insurance)
            )
        {
            e.add("reference", "invalid.pay_reference");
        }
        match method {
            Some(method) if e.is_empty() => Ok(PaymentData {
                method,
                amount,
                reference,
            }),
            _ => Err(e),
        }
    }
}

/// A cashier's shift.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Shift {
    pub id: i64,
    pub cashier_id: i64,
    pub cashier_name: String,
    pub opened_at: DateTime<Utc>,
    pub opening_float: i64,
    pub closed_at: Option<DateTime<Utc>>,
    /// Counted cash by denomination (major units → count).
    #[schema(value_type = Option<Object>)]
    pub counted: Option<sqlx::types::Json<std::collections::BTreeMap<String, i64>>>,
    pub counted_cash: Option<i64>,
    /// Float plus cash received less cash refunded (frozen at close; live while open).
    pub expected_cash: i64,
    pub handed_to: Option<i64>,
    pub handed_to_name: Option<String>,
    pub close_note: Option<String>,
    /// Received in the shift by method, refunds subtracted.
    pub by_method: Vec<MethodTotal>,
}

/// Money taken by one method, refunds subtracted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MethodTotal {
    pub method: Method,
    pub amount: i64,
}

/// Money taken by one staff member, refunds subtracted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CashierTotal {
    pub cashier_id: Option<i64>,
    pub name: String,
    pub amount: i64,
}

impl Shift {
    /// Counted less expected: negative when cash is missing.
    pub fn variance(&self) -> Option<i64> {
        self.counted_cash.map(|c| c - self.expected_cash)
    }
}

/// The notes and coins a cashier counts, in major units.
pub const DENOMINATIONS: &[i64] = &[1000, 500, 100, 50, 20, 10, 5, 2, 1];

/// When the clinic's fiscal year starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FiscalStart {
    /// January 1.
    January,
    /// April 1 (India).
    April,
    /// July 16, Shrawan 1 (Nepal).
    Shrawan,
}

impl FiscalStart {
    pub const ALL: [FiscalStart; 3] = [Self::Shrawan, Self::April, Self::January];
    pub fn as_str(self) -> &'static str {
        match self {
            Self::January => "01-01",
            Self::April => "04-01",
            Self::Shrawan => "07-16",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == s)
    }
    fn month_day(self) -> (u32, u32) {
        match self {
            Self::January => (1, 1),
            Self::April => (4, 1),
            Self::Shrawan => (7, 16),
        }
    }
    /// The fiscal year `day` falls in: `2026` (from January) or `2026/27`.
    pub fn year_of(self, day: NaiveDate) -> String {
        let (m, d) = self.month_day();
        let starts = if (day.month(), day.day()) >= (m, d) {
            day.year()
        } else {
            day.year() - 1
        };
        match self {
            Self::January => format!("{starts}"),
            _ => format!("{starts}/{:02}", (starts + 1) % 100),
        }
    }
    /// The first day of the fiscal year `day` falls in.
    pub fn start_of(self, day: NaiveDate) -> NaiveDate {
        let (m, d) = self.month_day();
        let y = if (day.month(), day.day()) >= (m, d) {
            day.year()
        } else {
            day.year() - 1
        };
        NaiveDate::from_ymd_opt(y, m, d).unwrap_or(day)
    }
}

/// A document's number: the series' prefix, the fiscal year and the number in it.
pub fn number(prefix: &str, fiscal_year: &str, seq: i32) -> String {
    format!("{prefix}{fiscal_year}-{seq:05}")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn fiscal_years() {
        assert_eq!(FiscalStart::Shrawan.year_of(d(2026, 7, 15)), "2025/26");
        assert_eq!(FiscalStart::Shrawan.year_of(d(2026, 7, 16)), "2026/27");
        assert_eq!(FiscalStart::April.year_of(d(2027, 3, 31)), "2026/27");
        assert_eq!(FiscalStart::April.year_of(d(2099, 4, 1)), "2099/00");
        assert_eq!(FiscalStart::January.year_of(d(2026, 12, 31)), "2026");
        assert_eq!(FiscalStart::Shrawan.start_of(d(2027, 1, 2)), d(2026, 7, 16));
        assert_eq!(number("INV-", "2026/27", 42), "INV-2026/27-00042");
    }

    #[test]
    fn payments_as_typed() {
        let p = |m: &str, a: &str, r: &str| PaymentInput {
            method: m.into(),
            amount: a.into(),
            reference: r.into(),
        };
        assert!(p("cash", "500", "").validate().is_ok());
        let e = p("wallet", "0", "").validate().err().unwrap();
        assert_eq!(e.get("amount").unwrap(), "invalid.amount_zero");
        assert_eq!(e.get("reference").unwrap(), "invalid.pay_reference");
        let e = p("cheque", "x", "").validate().err().unwrap();
        assert!(e.get("method").is_some() && e.get("amount").is_some());
    }

    #[test]
    fn services_as_typed() {
        let s = ServiceInput {
            code: "XR-01".into(),
            name: "X-ray chest".into(),
            price: "1,200".into(),
            tax: "13".into(),
            ..Default::default()
        };
        let v = s.validate().unwrap();
        assert_eq!((v.price, v.tax_bp), (120_000, 1300));
        let bad = ServiceInput {
            code: "-x".into(),
            tax: "200".into(),
            ..Default::default()
        };
        let e = bad.validate().err().unwrap();
        for f in ["code", "name", "price", "tax"] {
            assert!(e.get(f).is_some(), "{f}");
        }
    }
}
