//! SQL for the price list, invoices, payments, shifts and prints (inside a clinic transaction).

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;

use super::model::{
    Allocation, CashierTotal, FiscalStart, Line, Method, MethodTotal, Payment, Service,
    ServiceData, Shift,
};
use super::money::{Currency, LineTotals};

/// The clinic's billing settings.
#[derive(Clone, Debug)]
pub struct Config {
    pub currency: Currency,
    pub fiscal_start: FiscalStart,
    pub invoice_prefix: String,
    pub credit_prefix: String,
    pub receipt_prefix: String,
    pub refund_prefix: String,
    /// A discount above this share of the invoice (basis points) needs `billing_manage`.
    pub discount_limit_bp: i32,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            currency: Currency::default_currency(),
            fiscal_start: FiscalStart::Shrawan,
            invoice_prefix: "INV-".into(),
            credit_prefix: "CN-".into(),
            receipt_prefix: "RCP-".into(),
            refund_prefix: "RF-".into(),
            discount_limit_bp: 1000,
        }
    }
}

impl Config {
    pub fn prefix(&self, series: Series) -> &str {
        match series {
            Series::Invoice => &self.invoice_prefix,
            Series::CreditNote => &self.credit_prefix,
            Series::Receipt => &self.receipt_prefix,
            Series::Refund => &self.refund_prefix,
        }
    }
}

/// The numbered series.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Series {
    Invoice,
    CreditNote,
    Receipt,
    Refund,
}

impl Series {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Invoice => "invoice",
            Self::CreditNote => "credit_note",
            Self::Receipt => "receipt",
            Self::Refund => "refund",
        }
    }
}

pub const KEY_CURRENCY: &str = "billing.currency";
pub const KEY_FISCAL: &str = "billing.fiscal_year_start";
pub const KEY_INVOICE_PREFIX: &str = "billing.invoice_prefix";
pub const KEY_CREDIT_PREFIX: &str = "billing.credit_prefix";
pub const KEY_RECEIPT_PREFIX: &str = "billing.receipt_prefix";
pub const KEY_REFUND_PREFIX: &str = "billing.refund_prefix";
pub const KEY_DISCOUNT_LIMIT: &str = "billing.discount_limit_bp";

pub async fn config(conn: &mut PgConnection) -> sqlx::Result<Config> {
    let rows = sqlx::query!("SELECT key, value FROM settings WHERE key LIKE 'billing.%'")
        .fetch_all(conn)
        .await?;
    let mut c = Config::default();
    for r in rows {
        let text = r.value.as_str().map(str::to_owned);
        match (r.key.as_str(), text) {
            (KEY_CURRENCY, Some(t)) => c.currency = Currency::of(&t).unwrap_or(c.currency),
            (KEY_FISCAL, Some(t)) => {
                c.fiscal_start = FiscalStart::parse(&t).unwrap_or(c.fiscal_start)
            }
            (KEY_INVOICE_PREFIX, Some(t)) => c.invoice_prefix = t,
            (KEY_CREDIT_PREFIX, Some(t)) => c.credit_prefix = t,
            (KEY_RECEIPT_PREFIX, Some(t)) => c.receipt_prefix = t,
            (KEY_REFUND_PREFIX, Some(t)) => c.refund_prefix = t,
            (KEY_DISCOUNT_LIMIT, _) => {
                if let Some(n) = r.value.as_i64().and_then(|n| i32::try_from(n).ok()) {
                    c.discount_limit_bp = n;
                }
            }
            _ => {}
        }
    }
    Ok(c)
}

// ---- the price list ----

pub async fn services(conn: &mut PgConnection, all: bool) -> sqlx::Result<Vec<Service>> {
    sqlx::query_as!(
        Service,
        "SELECT id, code, name, category, price, tax_bp, active FROM services
          WHERE $1 OR active ORDER BY active DESC, lower(category), lower(name)",
        all
    )
    .fetch_all(conn)
    .await
}

pub async fn service(conn: &mut PgConnection, id: i64) -> sqlx::Result<Option<Service>> {
    sqlx::query_as!(
        Service,
        "SELECT id, code, name, category, price, tax_bp, active FROM services WHERE id = $1",
        id
    )
    .fetch_optional(conn)
    .await
}

/// Inserts or (with `id`) updates a service; `None` if the code is another service's.
pub async fn save_service(
    conn: &mut PgConnection,
    id: Option<i64>,
    s: &ServiceData,
) -> sqlx::Result<Option<i64>> {
    let taken = sqlx::query_scalar!(
        "SELECT id FROM services WHERE lower(code) = lower($1) AND id IS DISTINCT FROM $2",
        s.code,
        id
    )
    .fetch_optional(&mut *conn)
    .await?;
    if taken.is_some() {
        return Ok(None);
    }
    match id {
        None => sqlx::query_scalar!(
            "INSERT INTO services (code, name, category, price, tax_bp, active)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            s.code,
            s.name,
            s.category,
            s.price,
            s.tax_bp,
            s.active
        )
        .fetch_one(conn)
        .await
        .map(Some),
        Some(id) => {
            sqlx::query_scalar!(
                "UPDATE services SET code = $2, name = $3, category = $4, price = $5, tax_bp = $6,
                    active = $7 WHERE id = $1 RETURNING id",
                id,
                s.code,
                s.name,
                s.category,
                s.price,
                s.tax_bp,
                s.active
            )
            .fetch_optional(conn)
            .await
        }
    }
}

// ---- invoices ----

/// An invoice row, without its lines and payments.
#[derive(Clone, Debug)]
pub struct InvoiceRow {
    pub id: i64,
    pub kind: String,
    pub patient_id: i64,
    pub visit_id: Option<i64>,
    pub credits_id: Option<i64>,
    pub status: String,
    pub fiscal_year: Option<String>,
    pub number: Option<String>,
    pub discount: i64,
    pub discount_reason: String,
    pub discount_approved_bp: Option<i32>,
    pub note: String,
    pub currency: String,
    pub gross: Option<i64>,
    pub net: Option<i64>,
    pub tax: Option<i64>,
    pub total: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub issued_at: Option<DateTime<Utc>>,
    pub issued_by: Option<i64>,
    pub issued_by_name: Option<String>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub cancel_reason: Option<String>,
    pub version: i32,
}

/// The invoice, locked against concurrent changes (issuing, paying) when `lock`.
pub async fn invoice(
    conn: &mut PgConnection,
    id: i64,
    lock: bool,
) -> sqlx::Result<Option<InvoiceRow>> {
    if lock {
        let found = sqlx::query_scalar!("SELECT id FROM invoices WHERE id = $1 FOR UPDATE", id)
            .fetch_optional(&mut *conn)
            .await?;
        if found.is_none() {
            return Ok(None);
        }
    }
    sqlx::query_as!(
        InvoiceRow,
        r#"SELECT i.id, i.kind, i.patient_id, i.visit_id, i.credits_id, i.status, i.fiscal_year,
                  i.number, i.discount, i.discount_reason, i.discount_approved_bp, i.note, i.currency, i.gross, i.net,
                  i.tax, i.total, i.created_at, i.issued_at, i.issued_by,
                  u.display_name AS "issued_by_name?", i.cancelled_at, i.cancel_reason, i.version
             FROM invoices i LEFT JOIN users u ON u.id = i.issued_by
            WHERE i.id = $1"#,
        id
    )
    .fetch_optional(conn)
    .await
}

pub async fn lines(conn: &mut PgConnection, invoice: i64) -> sqlx::Result<Vec<Line>> {
    let rows = sqlx::query!(
        "SELECT id, service_id, credits_line_id, clinician_id, code, description, quantity,
                unit_price, tax_bp, discount, discount_reason, net, tax, total
           FROM invoice_lines WHERE invoice_id = $1 ORDER BY id",
        invoice
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let gross = r.unit_price * i64::from(r.quantity);
            let net = r.net.unwrap_or(gross - r.discount);
            Line {
                id: r.id,
                service_id: r.service_id,
                credits_line_id: r.credits_line_id,
                clinician_id: r.clinician_id,
                code: r.code,
                description: r.description,
                quantity: r.quantity,
                unit_price: r.unit_price,
                tax_bp: r.tax_bp,
                discount: r.discount,
                discount_reason: r.discount_reason,
                figures: LineTotals {
                    gross,
                    discount: gross - net,
                    net,
                    tax: r.tax.unwrap_or_default(),
                    total: r.total.unwrap_or(net),
                },
            }
        })
        .collect())
}

/// Paid towards an invoice (allocations), and credited by its issued credit notes.
pub async fn paid_and_credited(conn: &mut PgConnection, invoice: i64) -> sqlx::Result<(i64, i64)> {
    let r = sqlx::query!(
        r#"SELECT (SELECT coalesce(sum(amount), 0) FROM payment_allocations WHERE invoice_id = $1)::bigint AS "paid!",
                  (SELECT coalesce(sum(total), 0) FROM invoices
                    WHERE credits_id = $1 AND status = 'issued')::bigint AS "credited!""#,
        invoice
    )
    .fetch_one(conn)
    .await?;
    Ok((r.paid, r.credited))
}

/// Lines of `invoice` that its credit notes credit.
pub async fn credited_lines(conn: &mut PgConnection, invoice: i64) -> sqlx::Result<Vec<i64>> {
    sqlx::query_scalar!(
        r#"SELECT l.credits_line_id AS "id!" FROM invoice_lines l JOIN invoices c ON c.id = l.invoice_id
            WHERE c.credits_id = $1 AND l.credits_line_id IS NOT NULL"#,
        invoice
    )
    .fetch_all(conn)
    .await
}

pub struct NewInvoice<'a> {
    pub kind: &'a str,
    pub patient: i64,
    pub visit: Option<i64>,
    pub credits: Option<i64>,
    pub currency: &'a str,
}

pub async fn create_invoice(
    conn: &mut PgConnection,
    n: &NewInvoice<'_>,
    at: DateTime<Utc>,
    by: Option<i64>,
) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        "INSERT INTO invoices (kind, patient_id, visit_id, credits_id, currency, created_at, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        n.kind,
        n.patient,
        n.visit,
        n.credits,
        n.currency,
        at,
        by
    )
    .fetch_one(conn)
    .await
}

/// The invoice of a visit (not cancelled), if there is one.
pub async fn invoice_of_visit(conn: &mut PgConnection, visit: i64) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar!(
        "SELECT id FROM invoices WHERE visit_id = $1 AND kind = 'invoice' AND status <> 'cancelled'",
        visit
    )
    .fetch_optional(conn)
    .await
}

/// A line to add, checked.
#[derive(Clone, Debug)]
pub struct LineData {
    pub service_id: Option<i64>,
    pub credits_line_id: Option<i64>,
    pub clinician_id: Option<i64>,
    pub code: String,
    pub description: String,
    pub quantity: i32,
    pub unit_price: i64,
    pub tax_bp: i32,
    pub discount: i64,
    pub discount_reason: String,
}

pub async fn add_line(
    conn: &mut PgConnection,
    invoice: i64,
    l: &LineData,
    at: DateTime<Utc>,
) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        "INSERT INTO invoice_lines (invoice_id, service_id, credits_line_id, clinician_id, code,
                description, quantity, unit_price, tax_bp, discount, discount_reason, added_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
        invoice,
        l.service_id,
        l.credits_line_id,
        l.clinician_id,
        l.code,
        l.description,
        l.quantity,
        l.unit_price,
        l.tax_bp,
        l.discount,
        l.discount_reason,
        at
    )
    .fetch_one(conn)
    .await
}

pub async fn remove_line(conn: &mut PgConnection, invoice: i64, line: i64) -> sqlx::Result<bool> {
    let r = sqlx::query!(
        "DELETE FROM invoice_lines WHERE id = $1 AND invoice_id = $2",
        line,
        invoice
    )
    .execute(conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn set_discount(
    conn: &mut PgConnection,
    invoice: i64,
    discount: i64,
    reason: &str,
    note: &str,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE invoices SET discount = $2, discount_reason = $3, note = $4, version = version + 1
          WHERE id = $1",
        invoice,
        discount,
        reason,
        note
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A billing manager's approval of the draft's discounts up to `bp` of its amount.
pub async fn approve_discount(
    conn: &mut PgConnection,
    invoice: i64,
    bp: i32,
    by: Option<i64>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE invoices SET discount_approved_bp = $2, discount_approved_by = $3,
                version = version + 1
          WHERE id = $1 AND status = 'draft'",
        invoice,
        bp,
        by
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn delete_draft(conn: &mut PgConnection, invoice: i64) -> sqlx::Result<bool> {
    let r = sqlx::query!(
        "DELETE FROM invoices WHERE id = $1 AND status = 'draft'",
        invoice
    )
    .execute(conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Takes the next number of `series` in `fiscal_year`: the row stays locked until the
/// transaction ends. Returns the number and the document's time (never before the previous
/// number's).
pub async fn take_number(
    conn: &mut PgConnection,
    series: Series,
    fiscal_year: &str,
    at: DateTime<Utc>,
) -> sqlx::Result<(i32, DateTime<Utc>)> {
    let r = sqlx::query!(
        "INSERT INTO number_series AS s (series, fiscal_year, last_no, last_at)
         VALUES ($1, $2, 1, $3)
         ON CONFLICT (series, fiscal_year)
         DO UPDATE SET last_no = s.last_no + 1, last_at = greatest(s.last_at, EXCLUDED.last_at)
         RETURNING last_no, last_at",
        series.as_str(),
        fiscal_year,
        at
    )
    .fetch_one(conn)
    .await?;
    Ok((r.last_no, r.last_at))
}

pub async fn freeze_line(conn: &mut PgConnection, line: i64, t: &LineTotals) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE invoice_lines SET net = $2, tax = $3, total = $4 WHERE id = $1",
        line,
        t.net,
        t.tax,
        t.total
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub struct Issue<'a> {
    pub fiscal_year: &'a str,
    pub seq: i32,
    pub number: &'a str,
    pub gross: i64,
    pub net: i64,
    pub tax: i64,
    pub total: i64,
    pub at: DateTime<Utc>,
    pub by: Option<i64>,
}

pub async fn issue(conn: &mut PgConnection, invoice: i64, i: &Issue<'_>) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE invoices SET status = 'issued', fiscal_year = $2, seq = $3, number = $4,
                gross = $5, net = $6, tax = $7, total = $8, issued_at = $9, issued_by = $10,
                version = version + 1
          WHERE id = $1 AND status = 'draft'",
        invoice,
        i.fiscal_year,
        i.seq,
        i.number,
        i.gross,
        i.net,
        i.tax,
        i.total,
        i.at,
        i.by
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn cancel(
    conn: &mut PgConnection,
    invoice: i64,
    reason: &str,
    at: DateTime<Utc>,
    by: Option<i64>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE invoices SET status = 'cancelled', cancelled_at = $2, cancelled_by = $3,
                cancel_reason = $4, version = version + 1
          WHERE id = $1 AND status = 'issued'",
        invoice,
        at,
        by,
        reason
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// An invoice in a list.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct InvoiceSummary {
    pub id: i64,
    pub kind: String,
    pub number: Option<String>,
    pub status: String,
    pub patient_id: i64,
    pub patient_name: String,
    pub mrn: String,
    pub visit_id: Option<i64>,
    /// Frozen when issued; none for a draft.
    pub total: Option<i64>,
    pub paid: i64,
    pub credited: i64,
    pub created_at: DateTime<Utc>,
    pub issued_at: Option<DateTime<Utc>>,
}

impl InvoiceSummary {
    pub fn due(&self) -> i64 {
        if self.status == "issued" && self.kind == "invoice" {
            (self.total.unwrap_or_default() - self.paid - self.credited).max(0)
        } else {
            0
        }
    }
}

/// Invoices of one patient (`patient`), or of the clinic: drafts and those issued between
/// `from` and `to`.
pub async fn list(
    conn: &mut PgConnection,
    patient: Option<i64>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    limit: i64,
) -> sqlx::Result<Vec<InvoiceSummary>> {
    sqlx::query_as!(
        InvoiceSummary,
        r#"SELECT i.id, i.kind, i.number, i.status, i.patient_id,
                  p.given_name || ' ' || p.family_name AS "patient_name!", p.mrn, i.visit_id,
                  i.total,
                  coalesce((SELECT sum(amount) FROM payment_allocations a WHERE a.invoice_id = i.id), 0)::bigint AS "paid!",
                  coalesce((SELECT sum(c.total) FROM invoices c WHERE c.credits_id = i.id AND c.status = 'issued'), 0)::bigint AS "credited!",
                  i.created_at, i.issued_at
             FROM invoices i JOIN patients p ON p.id = i.patient_id
            WHERE ($1::bigint IS NULL OR i.patient_id = $1)
              AND ($1::bigint IS NOT NULL OR i.status = 'draft' OR i.issued_at >= $2 AND i.issued_at < $3)
            ORDER BY i.status = 'draft' DESC, coalesce(i.issued_at, i.created_at) DESC, i.id DESC
            LIMIT $4"#,
        patient,
        from,
        to,
        limit
    )
    .fetch_all(conn)
    .await
}

/// A visit without an invoice: what the desk still has to bill.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ToBill {
    pub visit_id: i64,
    pub patient_id: i64,
    pub patient_name: String,
    pub mrn: String,
    pub clinician_name: String,
    pub started_at: DateTime<Utc>,
    pub signed: bool,
    pub appointment_type: Option<String>,
}

pub async fn visits_to_bill(
    conn: &mut PgConnection,
    since: DateTime<Utc>,
) -> sqlx::Result<Vec<ToBill>> {
    sqlx::query_as!(
        ToBill,
        r#"SELECT v.id AS visit_id, v.patient_id,
                  p.given_name || ' ' || p.family_name AS "patient_name!", p.mrn,
                  u.display_name AS clinician_name, v.started_at,
                  v.signed_at IS NOT NULL AS "signed!", t.name AS "appointment_type?"
             FROM visits v
             JOIN patients p ON p.id = v.patient_id
             JOIN users u ON u.id = v.clinician_id
             LEFT JOIN appointments a ON a.id = v.appointment_id
             LEFT JOIN appointment_types t ON t.id = a.type_id
            WHERE v.started_at >= $1 AND p.deleted_at IS NULL
              AND NOT EXISTS (SELECT 1 FROM invoices i WHERE i.visit_id = v.id
                                 AND i.kind = 'invoice' AND i.status <> 'cancelled')
            ORDER BY v.started_at DESC LIMIT 200"#,
        since
    )
    .fetch_all(conn)
    .await
}

/// The visit's patient, clinician and its type's default service.
pub struct VisitToBill {
    pub patient_id: i64,
    pub clinician_id: i64,
    pub service_id: Option<i64>,
}

pub async fn visit_to_bill(
    conn: &mut PgConnection,
    visit: i64,
) -> sqlx::Result<Option<VisitToBill>> {
    sqlx::query_as!(
        VisitToBill,
        r#"SELECT v.patient_id, v.clinician_id, t.service_id AS "service_id?"
             FROM visits v
             LEFT JOIN appointments a ON a.id = v.appointment_id
             LEFT JOIN appointment_types t ON t.id = a.type_id
            WHERE v.id = $1"#,
        visit
    )
    .fetch_optional(conn)
    .await
}

// ---- payments ----

pub struct NewPayment<'a> {
    pub kind: &'a str,
    pub fiscal_year: &'a str,
    pub seq: i32,
    pub number: &'a str,
    pub patient: i64,
    pub method: Method,
    pub reference: &'a str,
    pub amount: i64,
    pub currency: &'a str,
    pub refund_of: Option<i64>,
    pub reason: &'a str,
    pub shift: Option<i64>,
    pub at: DateTime<Utc>,
    pub by: Option<i64>,
}

pub async fn insert_payment(conn: &mut PgConnection, p: &NewPayment<'_>) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        "INSERT INTO payments (kind, fiscal_year, seq, number, patient_id, method, reference,
                amount, currency, refund_of, reason, shift_id, received_at, received_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id",
        p.kind,
        p.fiscal_year,
        p.seq,
        p.number,
        p.patient,
        p.method.as_str(),
        p.reference,
        p.amount,
        p.currency,
        p.refund_of,
        p.reason,
        p.shift,
        p.at,
        p.by
    )
    .fetch_one(conn)
    .await
}

pub async fn allocate(
    conn: &mut PgConnection,
    payment: i64,
    invoice: i64,
    amount: i64,
    at: DateTime<Utc>,
    by: Option<i64>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO payment_allocations (payment_id, invoice_id, amount, at, by_user)
         VALUES ($1, $2, $3, $4, $5)",
        payment,
        invoice,
        amount,
        at,
        by
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Receipts of a patient with money not paying any invoice (deposits and what cancelled or
/// credited invoices gave back), oldest first, locked: (receipt, unallocated).
pub async fn unallocated(conn: &mut PgConnection, patient: i64) -> sqlx::Result<Vec<(i64, i64)>> {
    let rows = sqlx::query!(
        r#"SELECT p.id, (p.amount
                  - coalesce((SELECT sum(a.amount) FROM payment_allocations a WHERE a.payment_id = p.id), 0)
                  - coalesce((SELECT sum(r.amount) FROM payments r WHERE r.refund_of = p.id), 0))::bigint AS "free!"
             FROM payments p
            WHERE p.patient_id = $1 AND p.kind = 'receipt'
            ORDER BY p.received_at, p.id
              FOR UPDATE OF p"#,
        patient
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .filter(|r| r.free > 0)
        .map(|r| (r.id, r.free))
        .collect())
}

/// Receipts allocated to an invoice, newest first, with what each still pays of it.
pub async fn allocations_of(
    conn: &mut PgConnection,
    invoice: i64,
) -> sqlx::Result<Vec<(i64, i64)>> {
    let rows = sqlx::query!(
        r#"SELECT payment_id, sum(amount)::bigint AS "amount!"
             FROM payment_allocations WHERE invoice_id = $1
            GROUP BY payment_id HAVING sum(amount) > 0
            ORDER BY payment_id DESC"#,
        invoice
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.payment_id, r.amount)).collect())
}

pub async fn payment(conn: &mut PgConnection, id: i64) -> sqlx::Result<Option<Payment>> {
    Ok(payments_where(conn, Some(id), None, None).await?.pop())
}

/// Payments by id, of an invoice (receipts allocated to it and their refunds), or of a patient.
pub async fn payments_where(
    conn: &mut PgConnection,
    id: Option<i64>,
    invoice: Option<i64>,
    patient: Option<i64>,
) -> sqlx::Result<Vec<Payment>> {
    let rows = sqlx::query!(
        r#"SELECT p.id, p.kind, p.number, p.patient_id, p.method, p.reference, p.amount,
                  p.currency, p.refund_of, p.reason, p.shift_id, p.received_at, p.received_by,
                  u.display_name AS "received_by_name?",
                  (p.amount
                   - coalesce((SELECT sum(a.amount) FROM payment_allocations a WHERE a.payment_id = p.id), 0)
                   - coalesce((SELECT sum(r.amount) FROM payments r WHERE r.refund_of = p.id), 0))::bigint AS "free!",
                  coalesce((SELECT jsonb_agg(jsonb_build_array(a.invoice_id, i.number, a.amount) ORDER BY a.invoice_id)
                              FROM (SELECT invoice_id, sum(amount) AS amount FROM payment_allocations
                                     WHERE payment_id = p.id GROUP BY invoice_id HAVING sum(amount) <> 0) a
                              JOIN invoices i ON i.id = a.invoice_id), '[]') AS "allocations!"
             FROM payments p LEFT JOIN users u ON u.id = p.received_by
            WHERE ($1::bigint IS NULL OR p.id = $1)
              AND ($2::bigint IS NULL
                   OR p.id IN (SELECT payment_id FROM payment_allocations WHERE invoice_id = $2)
                   OR p.refund_of IN (SELECT payment_id FROM payment_allocations WHERE invoice_id = $2))
              AND ($3::bigint IS NULL OR p.patient_id = $3)
            ORDER BY p.received_at, p.id"#,
        id,
        invoice,
        patient
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let allocations =
                serde_json::from_value::<Vec<(i64, Option<String>, i64)>>(r.allocations)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(invoice_id, invoice_number, amount)| Allocation {
                        invoice_id,
                        invoice_number,
                        amount,
                    })
                    .collect();
            Payment {
                id: r.id,
                unallocated: if r.kind == "receipt" { r.free } else { 0 },
                kind: r.kind,
                number: r.number,
                patient_id: r.patient_id,
                method: Method::parse(&r.method).unwrap_or(Method::Cash),
                reference: r.reference,
                amount: r.amount,
                currency: r.currency,
                refund_of: r.refund_of,
                reason: r.reason,
                shift_id: r.shift_id,
                received_at: r.received_at,
                received_by: r.received_by,
                received_by_name: r.received_by_name,
                allocations,
            }
        })
        .collect())
}

/// What a patient owes over all issued invoices (less credit notes and payments), and the
/// money of theirs not paying any invoice (deposits).
#[derive(Clone, Copy, Debug, Default, serde::Serialize, utoipa::ToSchema)]
pub struct Balance {
    /// Still due on issued invoices.
    pub due: i64,
    /// Deposits and amounts given back by cancelled or credited invoices, less refunds.
    pub credit: i64,
}

pub async fn balance(conn: &mut PgConnection, patient: i64) -> sqlx::Result<Balance> {
    let r = sqlx::query!(
        r#"SELECT
             coalesce((SELECT sum(greatest(i.total
                   - coalesce((SELECT sum(a.amount) FROM payment_allocations a WHERE a.invoice_id = i.id), 0)
                   - coalesce((SELECT sum(c.total) FROM invoices c WHERE c.credits_id = i.id AND c.status = 'issued'), 0), 0))
                FROM invoices i WHERE i.patient_id = $1 AND i.kind = 'invoice' AND i.status = 'issued'), 0)::bigint AS "due!",
             coalesce((SELECT sum(p.amount
                   - coalesce((SELECT sum(a.amount) FROM payment_allocations a WHERE a.payment_id = p.id), 0)
                   - coalesce((SELECT sum(r.amount) FROM payments r WHERE r.refund_of = p.id), 0))
                FROM payments p WHERE p.patient_id = $1 AND p.kind = 'receipt'), 0)::bigint AS "credit!""#,
        patient
    )
    .fetch_one(conn)
    .await?;
    Ok(Balance {
        due: r.due,
        credit: r.credit,
    })
}

/// What each of `patients` owes on issued invoices (only those who owe), in the clinic's
/// currency: for the front desk's list, so that the balance is asked for at check-in.
pub async fn dues(conn: &mut PgConnection, patients: &[i64]) -> sqlx::Result<Dues> {
    let currency = config(&mut *conn).await?.currency;
    let rows = sqlx::query!(
        r#"SELECT i.patient_id,
                  sum(greatest(i.total - coalesce(a.paid, 0) - coalesce(c.credited, 0), 0))::bigint AS "due!"
             FROM invoices i
             LEFT JOIN LATERAL (SELECT sum(amount) AS paid FROM payment_allocations
                                 WHERE invoice_id = i.id) a ON true
             LEFT JOIN LATERAL (SELECT sum(total) AS credited FROM invoices
                                 WHERE credits_id = i.id AND status = 'issued') c ON true
            WHERE i.patient_id = ANY($1) AND i.kind = 'invoice' AND i.status = 'issued'
            GROUP BY i.patient_id"#,
        patients
    )
    .fetch_all(conn)
    .await?;
    Ok(Dues {
        currency,
        by_patient: rows
            .into_iter()
            .filter(|r| r.due > 0)
            .map(|r| (r.patient_id, r.due))
            .collect(),
    })
}

/// What patients owe, by patient id.
#[derive(Clone, Debug)]
pub struct Dues {
    pub currency: Currency,
    pub by_patient: std::collections::BTreeMap<i64, i64>,
}

impl Dues {
    /// `Rs. 465.00` when `patient` owes.
    pub fn of(&self, patient: i64) -> Option<String> {
        self.by_patient
            .get(&patient)
            .map(|d| self.currency.format(*d))
    }
}

// ---- shifts ----

pub async fn open_shift_of(conn: &mut PgConnection, cashier: i64) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar!(
        "SELECT id FROM cash_shifts WHERE cashier_id = $1 AND closed_at IS NULL",
        cashier
    )
    .fetch_optional(conn)
    .await
}

/// `None` when the cashier has a shift open already.
pub async fn open_shift(
    conn: &mut PgConnection,
    cashier: i64,
    float: i64,
    at: DateTime<Utc>,
) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar!(
        "INSERT INTO cash_shifts (cashier_id, opened_at, opening_float) VALUES ($1, $2, $3)
         ON CONFLICT (cashier_id) WHERE closed_at IS NULL DO NOTHING RETURNING id",
        cashier,
        at,
        float
    )
    .fetch_optional(conn)
    .await
}

pub async fn shift(conn: &mut PgConnection, id: i64, lock: bool) -> sqlx::Result<Option<Shift>> {
    if lock {
        sqlx::query_scalar!("SELECT id FROM cash_shifts WHERE id = $1 FOR UPDATE", id)
            .fetch_optional(&mut *conn)
            .await?;
    }
    let Some(r) = sqlx::query!(
        r#"SELECT s.id, s.cashier_id, c.display_name AS cashier_name, s.opened_at,
                  s.opening_float, s.closed_at, s.counted, s.counted_cash, s.expected_cash,
                  s.handed_to, h.display_name AS "handed_to_name?", s.close_note
             FROM cash_shifts s JOIN users c ON c.id = s.cashier_id
             LEFT JOIN users h ON h.id = s.handed_to
            WHERE s.id = $1"#,
        id
    )
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(None);
    };
    let by = sqlx::query!(
        r#"SELECT method, sum(CASE WHEN kind = 'refund' THEN -amount ELSE amount END)::bigint AS "amount!"
             FROM payments WHERE shift_id = $1 GROUP BY method"#,
        id
    )
    .fetch_all(&mut *conn)
    .await?;
    let by_method: Vec<MethodTotal> = Method::ALL
        .into_iter()
        .map(|method| MethodTotal {
            method,
            amount: by
                .iter()
                .find(|b| b.method == method.as_str())
                .map_or(0, |b| b.amount),
        })
        .collect();
    let cash = by_method
        .iter()
        .find(|t| t.method == Method::Cash)
        .map_or(0, |t| t.amount);
    Ok(Some(Shift {
        id: r.id,
        cashier_id: r.cashier_id,
        cashier_name: r.cashier_name,
        opened_at: r.opened_at,
        opening_float: r.opening_float,
        closed_at: r.closed_at,
        counted: r
            .counted
            .and_then(|v| serde_json::from_value(v).ok())
            .map(sqlx::types::Json),
        counted_cash: r.counted_cash,
        expected_cash: r.expected_cash.unwrap_or(r.opening_float + cash),
        handed_to: r.handed_to,
        handed_to_name: r.handed_to_name,
        close_note: r.close_note,
        by_method,
    }))
}

pub struct Close<'a> {
    pub counted: &'a std::collections::BTreeMap<String, i64>,
    pub counted_cash: i64,
    pub expected_cash: i64,
    pub handed_to: Option<i64>,
    pub note: &'a str,
    pub at: DateTime<Utc>,
}

pub async fn close_shift(conn: &mut PgConnection, id: i64, c: &Close<'_>) -> sqlx::Result<bool> {
    let counted = serde_json::to_value(c.counted).unwrap_or_default();
    let r = sqlx::query!(
        "UPDATE cash_shifts SET closed_at = $2, counted = $3, counted_cash = $4,
                expected_cash = $5, handed_to = $6, close_note = nullif($7, '')
          WHERE id = $1 AND closed_at IS NULL",
        id,
        c.at,
        counted,
        c.counted_cash,
        c.expected_cash,
        c.handed_to,
        c.note
    )
    .execute(conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// The shifts opened in `[from, to)`, newest first.
pub async fn shifts(
    conn: &mut PgConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> sqlx::Result<Vec<i64>> {
    sqlx::query_scalar!(
        "SELECT id FROM cash_shifts WHERE opened_at >= $1 AND opened_at < $2
          ORDER BY opened_at DESC LIMIT 100",
        from,
        to
    )
    .fetch_all(conn)
    .await
}

/// Staff who may take over a drawer: active accounts that take payments.
pub async fn cashiers(conn: &mut PgConnection) -> sqlx::Result<Vec<(i64, String)>> {
    let rows = sqlx::query!(
        "SELECT id, display_name FROM users
          WHERE status = 'active' AND role IN ('billing', 'receptionist')
          ORDER BY lower(display_name)"
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.id, r.display_name)).collect())
}

// ---- the day report ----

/// Money taken in `[from, to)`: by method and by cashier, refunds subtracted.
#[derive(
    Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
pub struct DayReport {
    pub by_method: Vec<MethodTotal>,
    pub by_cashier: Vec<CashierTotal>,
    pub receipts: i64,
    pub refunds: i64,
    /// Issued in the period: invoice count, their totals, and credit notes' totals.
    pub invoices: i64,
    pub invoiced: i64,
    pub credited: i64,
    pub cancelled: i64,
}

pub async fn day_report(
    conn: &mut PgConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> sqlx::Result<DayReport> {
    let rows = sqlx::query!(
        r#"SELECT p.method, p.received_by, u.display_name AS "name?",
                  sum(CASE WHEN p.kind = 'receipt' THEN p.amount ELSE 0 END)::bigint AS "receipts!",
                  sum(CASE WHEN p.kind = 'refund' THEN p.amount ELSE 0 END)::bigint AS "refunds!"
             FROM payments p LEFT JOIN users u ON u.id = p.received_by
            WHERE p.received_at >= $1 AND p.received_at < $2
            GROUP BY p.method, p.received_by, u.display_name"#,
        from,
        to
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut r = DayReport::default();
    for method in Method::ALL {
        let amount = rows
            .iter()
            .filter(|x| x.method == method.as_str())
            .map(|x| x.receipts - x.refunds)
            .sum();
        r.by_method.push(MethodTotal { method, amount });
    }
    for x in &rows {
        r.receipts += x.receipts;
        r.refunds += x.refunds;
        match r
            .by_cashier
            .iter_mut()
            .find(|c| c.cashier_id == x.received_by)
        {
            Some(c) => c.amount += x.receipts - x.refunds,
            None => r.by_cashier.push(CashierTotal {
                cashier_id: x.received_by,
                name: x.name.clone().unwrap_or_default(),
                amount: x.receipts - x.refunds,
            }),
        }
    }
    r.by_cashier.sort_by(|a, b| a.name.cmp(&b.name));
    let i = sqlx::query!(
        r#"SELECT count(*) FILTER (WHERE kind = 'invoice') AS "invoices!",
                  coalesce(sum(total) FILTER (WHERE kind = 'invoice' AND status = 'issued'), 0)::bigint AS "invoiced!",
                  coalesce(sum(total) FILTER (WHERE kind = 'credit_note'), 0)::bigint AS "credited!",
                  count(*) FILTER (WHERE status = 'cancelled') AS "cancelled!"
             FROM invoices WHERE issued_at >= $1 AND issued_at < $2"#,
        from,
        to
    )
    .fetch_one(conn)
    .await?;
    r.invoices = i.invoices;
    r.invoiced = i.invoiced;
    r.credited = i.credited;
    r.cancelled = i.cancelled;
    Ok(r)
}

/// A patient who owes on issued invoices.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Outstanding {
    pub patient_id: i64,
    pub patient_name: String,
    pub mrn: String,
    /// Issued invoices with something still due.
    pub invoices: i64,
    /// When the oldest of them was issued.
    pub oldest: DateTime<Utc>,
    pub due: i64,
}

/// Everyone who owes, most owed first.
pub async fn outstanding(conn: &mut PgConnection, limit: i64) -> sqlx::Result<Vec<Outstanding>> {
    sqlx::query_as!(
        Outstanding,
        r#"SELECT i.patient_id, p.given_name || ' ' || p.family_name AS "patient_name!", p.mrn,
                  count(*) AS "invoices!", min(i.issued_at) AS "oldest!",
                  sum(i.total - coalesce(a.paid, 0) - coalesce(c.credited, 0))::bigint AS "due!"
             FROM invoices i
             JOIN patients p ON p.id = i.patient_id
             LEFT JOIN LATERAL (SELECT sum(amount) AS paid FROM payment_allocations
                                 WHERE invoice_id = i.id) a ON true
             LEFT JOIN LATERAL (SELECT sum(total) AS credited FROM invoices x
                                 WHERE x.credits_id = i.id AND x.status = 'issued') c ON true
            WHERE i.kind = 'invoice' AND i.status = 'issued'
              AND i.total - coalesce(a.paid, 0) - coalesce(c.credited, 0) > 0
            GROUP BY i.patient_id, p.given_name, p.family_name, p.mrn
            ORDER BY 6 DESC, 2
            LIMIT $1"#,
        limit
    )
    .fetch_all(conn)
    .await
}

// ---- prints ----

/// Records a print; returns its copy number (1: the original).
pub async fn record_print(
    conn: &mut PgConnection,
    document: &str,
    id: i64,
    paper: &str,
    at: DateTime<Utc>,
    by: Option<i64>,
) -> sqlx::Result<i32> {
    sqlx::query_scalar!(
        r#"INSERT INTO billing_prints (document, doc_id, copy, paper, printed_at, printed_by)
           SELECT $1, $2, coalesce(max(copy), 0) + 1, $3, $4, $5
             FROM billing_prints WHERE document = $1 AND doc_id = $2
           RETURNING copy"#,
        document,
        id,
        paper,
        at,
        by
    )
    .fetch_one(conn)
    .await
}

// ---- closing the day ----

/// A closed day: when and by whom, and its totals as they stood then.
#[derive(Clone, Debug)]
pub struct DayClose {
    pub day: NaiveDate,
    pub closed_at: DateTime<Utc>,
    pub closed_by: Option<i64>,
    pub closed_by_name: String,
    pub note: String,
    pub totals: DayReport,
}

pub async fn day_close(conn: &mut PgConnection, day: NaiveDate) -> sqlx::Result<Option<DayClose>> {
    let Some(r) = sqlx::query!(
        r#"SELECT d.day, d.closed_at, d.closed_by, u.display_name AS "name?", d.note, d.totals
             FROM day_closes d LEFT JOIN users u ON u.id = d.closed_by
            WHERE d.day = $1"#,
        day
    )
    .fetch_optional(conn)
    .await?
    else {
        return Ok(None);
    };
    let totals = serde_json::from_value(r.totals).map_err(|e| sqlx::Error::Decode(e.into()))?;
    Ok(Some(DayClose {
        day: r.day,
        closed_at: r.closed_at,
        closed_by: r.closed_by,
        closed_by_name: r.name.unwrap_or_default(),
        note: r.note,
        totals,
    }))
}

/// The closed day that `at` falls in, if any.
pub async fn closed_day_at(
    conn: &mut PgConnection,
    at: DateTime<Utc>,
) -> sqlx::Result<Option<NaiveDate>> {
    sqlx::query_scalar!(
        "SELECT day FROM day_closes WHERE starts_at <= $1 AND ends_at > $1",
        at
    )
    .fetch_optional(conn)
    .await
}

/// Closing a day and dating money within one exclude each other through one advisory lock per
/// clinic: closing takes it alone (`close`), waiting for every unit of work that dates a
/// payment, an invoice or a cancellation, which takes it shared. Both take it before reading
/// whether the day is closed, so a close never misses a payment committed after its totals,
/// and no payment lands in a day once its close is committed. Held until the transaction ends.
pub async fn lock_day(conn: &mut PgConnection, close: bool) -> sqlx::Result<()> {
    if close {
        sqlx::query!(
            "SELECT pg_advisory_xact_lock(hashtext('clinicbox.day.' || current_schema()))"
        )
        .execute(conn)
        .await?;
    } else {
        sqlx::query!(
            "SELECT pg_advisory_xact_lock_shared(hashtext('clinicbox.day.' || current_schema()))"
        )
        .execute(conn)
        .await?;
    }
    Ok(())
}

/// The cashiers of shifts opened before `to` and still open.
pub async fn open_shifts_before(
    conn: &mut PgConnection,
    to: DateTime<Utc>,
) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar!(
        "SELECT u.display_name FROM cash_shifts s JOIN users u ON u.id = s.cashier_id
          WHERE s.closed_at IS NULL AND s.opened_at < $1 ORDER BY lower(u.display_name)",
        to
    )
    .fetch_all(conn)
    .await
}

pub struct NewDayClose<'a> {
    pub day: NaiveDate,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub at: DateTime<Utc>,
    pub by: Option<i64>,
    pub totals: &'a DayReport,
    pub note: &'a str,
}

/// Records the day as closed; false when it already was.
pub async fn close_day(conn: &mut PgConnection, d: &NewDayClose<'_>) -> sqlx::Result<bool> {
    let totals = serde_json::to_value(d.totals).map_err(|e| sqlx::Error::Encode(e.into()))?;
    let r = sqlx::query!(
        "INSERT INTO day_closes (day, starts_at, ends_at, closed_at, closed_by, totals, note)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (day) DO NOTHING",
        d.day,
        d.starts_at,
        d.ends_at,
        d.at,
        d.by,
        totals,
        d.note
    )
    .execute(conn)
    .await?;
    Ok(r.rows_affected() == 1)
}
