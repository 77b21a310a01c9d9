//! `/payments/{id}`: a receipt or refund, with what it pays and (for a billing manager) the
//! refund form.

use askama::Template;
use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use super::{AsMinor, Fmt, fatal};
use crate::domain::billing::BillingError;
use crate::domain::billing::work::{self, PaymentRecord};
use crate::domain::clinic::Clinic;
use crate::web::AppError;
use crate::web::extract::Path;
use crate::web::forms::{FormErrors, Pairs};
use crate::web::page::{Page, render_with_status};
use crate::web::page_ctx::PageCtx;

#[derive(Template)]
#[template(path = "billing/payment.html")]
struct PaymentPage {
    page: Page,
    r: PaymentRecord,
    fmt: Fmt,
    amount: String,
    reason: String,
    errors: FormErrors,
}

impl PaymentPage {
    fn m(&self, minor: impl AsMinor) -> String {
        self.fmt.money(minor.minor())
    }
    fn method(&self) -> String {
        self.page
            .t(&format!("pay_method.{}", self.r.payment.method.as_str()))
            .to_owned()
    }
}

async fn render(
    clinic: &Clinic,
    page: PageCtx,
    id: i64,
    amount: String,
    reason: String,
    errors: FormErrors,
) -> Result<Response, AppError> {
    let r = work::payment(clinic, id).await.map_err(fatal)?;
    let fmt = Fmt {
        currency: r.config.currency,
        tz: r.tz,
    };
    Ok(render_with_status(
        crate::web::page::form_status(&errors),
        &PaymentPage {
            page: page.into_page(),
            r,
            fmt,
            amount,
            reason,
            errors,
        },
    ))
}

pub async fn show(
    clinic: Clinic,
    page: PageCtx,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    render(
        &clinic,
        page,
        id,
        String::new(),
        String::new(),
        FormErrors::new(),
    )
    .await
}

/// `POST /payments/{id}/refund`: pays back money of the receipt that pays no invoice, by its
/// method (a billing manager only).
pub async fn refund(
    clinic: Clinic,
    page: PageCtx,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Response, AppError> {
    let f = Pairs::parse(&body);
    match work::refund(
        &clinic,
        id,
        &f.one("refund_amount"),
        &f.one("refund_reason"),
    )
    .await
    {
        Ok(r) => Ok(Redirect::to(&format!("/payments/{r}")).into_response()),
        Err(BillingError::Invalid(e)) => {
            render(
                &clinic,
                page,
                id,
                f.one("refund_amount"),
                f.one("refund_reason"),
                e,
            )
            .await
        }
        Err(e @ BillingError::Refused(_)) => {
            let e = FormErrors::with("refund_amount", e.message());
            let mut r = render(
                &clinic,
                page,
                id,
                f.one("refund_amount"),
                f.one("refund_reason"),
                e,
            )
            .await?;
            *r.status_mut() = StatusCode::CONFLICT;
            Ok(r)
        }
        Err(e) => Err(fatal(e)),
    }
}
