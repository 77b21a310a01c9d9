//! `GET /invoices/{id}/print?paper=a4|a5|thermal` and `GET /payments/{id}/print?paper=…`: the
//! invoice or receipt on the clinic's letterhead. Every request is a recorded print: the first
//! is the original, later ones say "COPY OF ORIGINAL".

use askama::Template;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::{AsMinor, Fmt, fatal};
use crate::domain::billing::Payment;
use crate::domain::billing::model::Invoice;
use crate::domain::billing::repo::Config;
use crate::domain::billing::work::{self, Paper, Printed};
use crate::domain::clinic::Clinic;
use crate::domain::patients::Patient;
use crate::web::AppError;
use crate::web::extract::Path;
use crate::web::page::{Page, render_with_status};
use crate::web::page_ctx::PageCtx;

#[derive(Deserialize)]
pub struct PrintQuery {
    #[serde(default)]
    paper: String,
}

fn paper(q: &PrintQuery) -> Result<Paper, AppError> {
    Paper::parse(q.paper.trim())
        .ok_or_else(|| AppError::BadRequest("paper: a4, a5 or thermal".into()))
}

#[derive(Template)]
#[template(path = "billing/print_invoice.html")]
struct InvoicePrint {
    page: Page,
    p: Printed<(Invoice, Patient, Config)>,
    paper: Paper,
    fmt: Fmt,
}

impl InvoicePrint {
    fn m(&self, minor: impl AsMinor) -> String {
        self.fmt.money(minor.minor())
    }
    fn inv(&self) -> &Invoice {
        &self.p.record.0
    }
    fn words(&self) -> String {
        self.fmt.currency.words(self.inv().totals.total)
    }
    fn paper_class(&self) -> &'static str {
        self.paper.as_str()
    }
    /// Who printed it, when not who issued it.
    fn other_printer(&self) -> Option<&str> {
        self.p
            .printed_by
            .as_deref()
            .filter(|by| Some(*by) != self.inv().issued_by_name.as_deref())
    }
}

pub async fn invoice(
    clinic: Clinic,
    page: PageCtx,
    Path(id): Path<i64>,
    Query(q): Query<PrintQuery>,
) -> Result<Response, AppError> {
    let paper = paper(&q)?;
    let p = work::print_invoice(&clinic, id, paper)
        .await
        .map_err(fatal)?;
    let fmt = Fmt {
        currency: p.record.2.currency,
        tz: p.tz,
    };
    Ok(render_with_status(
        StatusCode::OK,
        &InvoicePrint {
            page: page.into_page(),
            p,
            paper,
            fmt,
        },
    ))
}

#[derive(Template)]
#[template(path = "billing/print_payment.html")]
struct PaymentPrint {
    page: Page,
    p: Printed<(Payment, Patient, Config)>,
    paper: Paper,
    fmt: Fmt,
}

impl PaymentPrint {
    fn m(&self, minor: impl AsMinor) -> String {
        self.fmt.money(minor.minor())
    }
    fn pay(&self) -> &Payment {
        &self.p.record.0
    }
    fn words(&self) -> String {
        self.fmt.currency.words(self.pay().amount)
    }
    fn method(&self) -> String {
        self.page
            .t(&format!("pay_method.{}", self.pay().method.as_str()))
            .to_owned()
    }
    fn paper_class(&self) -> &'static str {
        self.paper.as_str()
    }
}

pub async fn payment(
    clinic: Clinic,
    page: PageCtx,
    Path(id): Path<i64>,
    Query(q): Query<PrintQuery>,
) -> Result<Response, AppError> {
    let paper = paper(&q)?;
    let p = work::print_payment(&clinic, id, paper)
        .await
        .map_err(fatal)?;
    let fmt = Fmt {
        currency: p.record.2.currency,
        tz: p.tz,
    };
    Ok(render_with_status(
        StatusCode::OK,
        &PaymentPrint {
            page: page.into_page(),
            p,
            paper,
            fmt,
        },
    ))
}
