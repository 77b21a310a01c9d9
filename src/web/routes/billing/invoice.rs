//! `/invoices/{id}`: a draft's lines and discount, issuing it, taking payments, applying a
//! deposit, cancelling and crediting. A refused action shows the page again with what was
//! typed and the message next to its field.

use askama::Template;
use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use tower_sessions::Session;

use super::{AsMinor, Fmt, fatal};
use crate::domain::billing::model::{Line, Method};
use crate::domain::billing::work::{self, InvoiceRecord, LineInput};
use crate::domain::billing::{BillingError, PaymentInput, Status};
use crate::domain::clinic::Clinic;
use crate::web::AppError;
use crate::web::auth::CurrentUser;
use crate::web::extract::Path;
use crate::web::forms::{FormErrors, Pairs};
use crate::web::page::{Page, render_with_status};
use crate::web::page_ctx::{PageCtx, redirect_with_flash};

/// What the forms of the page hold (as typed after a refusal).
#[derive(Default)]
pub struct Typed {
    pub line: LineInput,
    pub pay: PaymentInput,
    pub discount: String,
    pub discount_reason: String,
    pub note: String,
    pub cancel_reason: String,
    pub credit_reason: String,
    pub credit_lines: Vec<i64>,
    pub errors: FormErrors,
    pub message: Option<String>,
}

#[derive(Template)]
#[template(path = "billing/invoice.html")]
struct InvoicePage {
    page: Page,
    r: InvoiceRecord,
    f: Typed,
    fmt: Fmt,
    can_write: bool,
    can_void: bool,
}

impl InvoicePage {
    fn m(&self, minor: impl AsMinor) -> String {
        self.fmt.money(minor.minor())
    }
    fn methods(&self) -> &'static [Method] {
        &Method::ALL
    }
    fn is_draft(&self) -> bool {
        self.r.invoice.status == Status::Draft
    }
    fn credited_line(&self, l: &Line) -> bool {
        self.r.credited_lines.contains(&l.id)
    }
    fn chosen(&self, l: &Line) -> bool {
        self.f.credit_lines.contains(&l.id)
    }
    fn title(&self) -> String {
        match &self.r.invoice.number {
            Some(n) => n.clone(),
            None => self.page.t("billing.draft").to_owned(),
        }
    }
    /// What the payment form's amount starts with: what is due.
    fn pay_amount(&self) -> String {
        if self.f.pay.amount.is_empty() {
            self.fmt
                .currency
                .number(self.r.invoice.due())
                .replace(',', "")
        } else {
            self.f.pay.amount.clone()
        }
    }
    fn is_issued(&self) -> bool {
        self.r.invoice.status == Status::Issued
    }
    fn needs_approval(&self) -> bool {
        self.r
            .invoice
            .needs_approval(self.r.config.discount_limit_bp)
    }
    fn approval_note(&self) -> String {
        let pct = crate::domain::billing::money::percent_label(self.r.invoice.discount_bp());
        self.page
            .tf("billing.needs_approval", &[("pct", pct.as_str())])
    }
    fn limit_hint(&self) -> String {
        let pct = crate::domain::billing::money::percent_label(self.r.config.discount_limit_bp);
        self.page
            .tf("billing.discount_limit_hint", &[("pct", pct.as_str())])
    }
    /// The invoice discount's field: as typed, else as saved.
    fn discount_value(&self) -> String {
        if !self.f.discount.is_empty() || self.f.errors.get("invoice_discount").is_some() {
            self.f.discount.clone()
        } else if self.r.invoice.discount > 0 {
            self.fmt
                .currency
                .number(self.r.invoice.discount)
                .replace(',', "")
        } else {
            String::new()
        }
    }
    fn discount_reason_value(&self) -> String {
        if self.f.errors.is_empty() {
            self.r.invoice.discount_reason.clone()
        } else {
            self.f.discount_reason.clone()
        }
    }
    fn note_value(&self) -> String {
        if self.f.errors.is_empty() {
            self.r.invoice.note.clone()
        } else {
            self.f.note.clone()
        }
    }
    fn kind_label(&self) -> &str {
        if self.r.invoice.is_credit_note() {
            self.page.t("billing.credit_note")
        } else {
            self.page.t("billing.invoice")
        }
    }
    fn state_label(&self) -> String {
        self.page
            .t(&format!(
                "billing.state_{}",
                self.r.invoice.state().as_str()
            ))
            .to_owned()
    }
}

pub async fn render(
    clinic: &Clinic,
    user: &CurrentUser,
    page: PageCtx,
    id: i64,
    f: Typed,
    status: StatusCode,
) -> Result<Response, AppError> {
    let r = work::open(clinic, id).await.map_err(fatal)?;
    let fmt = Fmt {
        currency: r.config.currency,
        tz: r.tz,
    };
    use crate::domain::auth::Permission::{InvoicesVoid, InvoicesWrite};
    Ok(render_with_status(
        status,
        &InvoicePage {
            page: page.into_page(),
            r,
            f,
            fmt,
            can_write: user.can(InvoicesWrite),
            can_void: user.can(InvoicesVoid),
        },
    ))
}

pub async fn show(
    clinic: Clinic,
    user: CurrentUser,
    page: PageCtx,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    render(&clinic, &user, page, id, Typed::default(), StatusCode::OK).await
}

/// The page again after a refusal, or the error page for what it cannot show.
async fn refused(
    clinic: &Clinic,
    user: &CurrentUser,
    page: PageCtx,
    id: i64,
    mut f: Typed,
    e: BillingError,
) -> Result<Response, AppError> {
    let status = match e {
        BillingError::Invalid(errors) => {
            f.errors = errors;
            StatusCode::UNPROCESSABLE_ENTITY
        }
        e @ (BillingError::Refused(_) | BillingError::NeedsManager) => {
            f.message = Some(e.message().to_owned());
            StatusCode::CONFLICT
        }
        e => return Err(fatal(e)),
    };
    render(clinic, user, page, id, f, status).await
}

fn typed(form: &Pairs) -> Typed {
    Typed {
        line: LineInput {
            service_id: form.one("service_id"),
            description: form.one("description"),
            price: form.one("price"),
            tax: form.one("tax"),
            quantity: form.one("quantity"),
            discount: form.one("discount"),
            discount_reason: form.one("discount_reason"),
        },
        pay: PaymentInput {
            method: form.one("method"),
            amount: form.one("amount"),
            reference: form.one("reference"),
        },
        discount: form.one("invoice_discount"),
        discount_reason: form.one("invoice_discount_reason"),
        note: form.one("note"),
        cancel_reason: form.one("cancel_reason"),
        credit_reason: form.one("credit_reason"),
        credit_lines: form
            .all("credit_line")
            .iter()
            .filter_map(|s| s.parse().ok())
            .collect(),
        errors: FormErrors::new(),
        message: None,
    }
}

fn to_invoice(id: i64) -> Response {
    Redirect::to(&format!("/invoices/{id}")).into_response()
}

/// `POST /visits/{id}/invoice`: "Bill" on the desk; the visit's invoice, new or made already.
pub async fn for_visit(clinic: Clinic, Path(id): Path<i64>) -> Result<Response, AppError> {
    let (invoice, _) = work::for_visit(&clinic, id).await.map_err(fatal)?;
    Ok(to_invoice(invoice))
}

/// `POST /patients/{id}/invoices`: an invoice without a visit.
pub async fn for_patient(clinic: Clinic, Path(id): Path<i64>) -> Result<Response, AppError> {
    let invoice = work::for_patient(&clinic, id).await.map_err(fatal)?;
    Ok(to_invoice(invoice))
}

/// Runs `act` with the form, then back to the invoice (with `flash`), or the page again.
macro_rules! action {
    ($name:ident, $flash:expr, |$c:ident, $id:ident, $f:ident| $body:expr) => {
        pub async fn $name(
            $c: Clinic,
            user: CurrentUser,
            page: PageCtx,
            session: Session,
            Path($id): Path<i64>,
            body: Bytes,
        ) -> Result<Response, AppError> {
            let form = Pairs::parse(&body);
            let typed_form = typed(&form);
            let $f = (&form, &typed_form);
            let result: Result<(), BillingError> = $body.await.map(|_| ());
            match result {
                Ok(()) => {
                    Ok(redirect_with_flash(&session, $flash, &format!("/invoices/{}", $id)).await)
                }
                Err(e) => refused(&$c, &user, page, $id, typed_form, e).await,
            }
        }
    };
}

action!(add_line, "billing.line_added", |clinic, id, f| {
    work::add_line(&clinic, id, &f.1.line)
});

action!(discount, "saved", |clinic, id, f| work::set_discount(
    &clinic,
    id,
    &f.0.one("invoice_discount"),
    &f.0.one("invoice_discount_reason"),
    &f.0.one("note"),
));

action!(
    approve_discount,
    "billing.discount_approved",
    |clinic, id, _f| work::approve_discount(&clinic, id)
);

action!(issue, "billing.issued", |clinic, id, _f| work::issue(
    &clinic, id
));

action!(pay, "billing.paid_flash", |clinic, id, f| work::pay(
    &clinic, id, &f.1.pay
));

action!(apply_credit, "billing.credit_applied", |clinic, id, _f| {
    work::apply_credit(&clinic, id)
});

action!(cancel, "billing.cancelled", |clinic, id, f| work::cancel(
    &clinic,
    id,
    &f.0.one("cancel_reason")
));

action!(credit_note, "billing.credited_flash", |clinic, id, f| {
    credit_note_of(&clinic, id, f.0)
});

async fn credit_note_of(clinic: &Clinic, id: i64, f: &Pairs) -> Result<i64, BillingError> {
    work::credit_note(clinic, id, &typed(f).credit_lines, &f.one("credit_reason")).await
}

/// `POST /invoices/{id}/lines/{line}/remove`.
pub async fn remove_line(
    clinic: Clinic,
    user: CurrentUser,
    page: PageCtx,
    session: Session,
    Path((id, line)): Path<(i64, i64)>,
) -> Result<Response, AppError> {
    match work::remove_line(&clinic, id, line).await {
        Ok(()) => {
            Ok(
                redirect_with_flash(&session, "billing.line_removed", &format!("/invoices/{id}"))
                    .await,
            )
        }
        Err(e) => refused(&clinic, &user, page, id, Typed::default(), e).await,
    }
}

/// `POST /invoices/{id}/discard`: a draft thrown away; back to the desk.
pub async fn discard(
    clinic: Clinic,
    user: CurrentUser,
    page: PageCtx,
    session: Session,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    match work::discard(&clinic, id).await {
        Ok(()) => Ok(redirect_with_flash(&session, "billing.discarded", "/billing").await),
        Err(e) => refused(&clinic, &user, page, id, Typed::default(), e).await,
    }
}
