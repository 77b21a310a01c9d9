//! The billing pages: the desk (what to bill, today's invoices, the cashier's shift), an
//! invoice (draft lines, issuing, payments, cancelling, credit notes), receipts and refunds,
//! the prints of each, a patient's account, and the day's takings.

pub mod desk;
pub mod invoice;
pub mod payment;
pub mod print;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::domain::billing::BillingError;
use crate::domain::billing::money::Currency;
use crate::web::AppError;
use crate::web::routes::table::Access::Needs;
use crate::web::routes::table::Route;

/// An amount in minor units, as a template hands it over (by value or by reference).
pub trait AsMinor {
    fn minor(&self) -> i64;
}

impl AsMinor for i64 {
    fn minor(&self) -> i64 {
        *self
    }
}

impl<T: AsMinor + ?Sized> AsMinor for &T {
    fn minor(&self) -> i64 {
        (**self).minor()
    }
}

/// Money and times as the billing pages show them.
#[derive(Clone, Copy, Debug)]
pub struct Fmt {
    pub currency: Currency,
    pub tz: Tz,
}

impl Fmt {
    pub fn money(&self, minor: i64) -> String {
        self.currency.format(minor)
    }
    pub fn at(&self, t: &DateTime<Utc>) -> String {
        t.with_timezone(&self.tz)
            .format("%d %b %Y %H:%M")
            .to_string()
    }
    pub fn time(&self, t: &DateTime<Utc>) -> String {
        t.with_timezone(&self.tz).format("%H:%M").to_string()
    }
}

/// A billing error that is not the page's to show (field errors and refusals are).
pub fn fatal(e: BillingError) -> AppError {
    match e {
        BillingError::NotFound => AppError::NotFound,
        BillingError::Sql(e) => e.into(),
        BillingError::NeedsManager => {
            AppError::Denied(Some(crate::domain::auth::Permission::BillingManage))
        }
        BillingError::Invalid(errors) => AppError::Validation(errors),
        BillingError::Refused(k) => AppError::Conflict(crate::i18n::en(k).to_owned(), None),
    }
}

pub fn routes() -> Vec<Route> {
    use crate::domain::auth::Permission::{
        BillingManage, InvoicesRead, InvoicesVoid, InvoicesWrite, ReportsRead,
    };
    vec![
        Route::get("/billing", Needs(InvoicesRead), desk::show),
        Route::get("/billing/day", Needs(ReportsRead), desk::day),
        Route::post("/billing/day/close", Needs(InvoicesVoid), desk::close_day),
        Route::get(
            "/billing/outstanding",
            Needs(InvoicesRead),
            desk::outstanding,
        ),
        Route::post(
            "/visits/{id}/invoice",
            Needs(InvoicesWrite),
            invoice::for_visit,
        ),
        Route::get("/patients/{id}/billing", Needs(InvoicesRead), desk::patient),
        Route::post(
            "/patients/{id}/invoices",
            Needs(InvoicesWrite),
            invoice::for_patient,
        ),
        Route::post(
            "/patients/{id}/deposits",
            Needs(InvoicesWrite),
            desk::deposit,
        ),
        Route::get("/invoices/{id}", Needs(InvoicesRead), invoice::show),
        Route::post(
            "/invoices/{id}/lines",
            Needs(InvoicesWrite),
            invoice::add_line,
        ),
        Route::post(
            "/invoices/{id}/lines/{line}/remove",
            Needs(InvoicesWrite),
            invoice::remove_line,
        ),
        Route::post(
            "/invoices/{id}/discount",
            Needs(InvoicesWrite),
            invoice::discount,
        ),
        Route::post("/invoices/{id}/issue", Needs(InvoicesWrite), invoice::issue),
        Route::post(
            "/invoices/{id}/approve-discount",
            Needs(BillingManage),
            invoice::approve_discount,
        ),
        Route::post(
            "/invoices/{id}/discard",
            Needs(InvoicesWrite),
            invoice::discard,
        ),
        Route::post(
            "/invoices/{id}/payments",
            Needs(InvoicesWrite),
            invoice::pay,
        ),
        Route::post(
            "/invoices/{id}/apply-credit",
            Needs(InvoicesWrite),
            invoice::apply_credit,
        ),
        Route::post(
            "/invoices/{id}/cancel",
            Needs(InvoicesVoid),
            invoice::cancel,
        ),
        Route::post(
            "/invoices/{id}/credit-note",
            Needs(InvoicesVoid),
            invoice::credit_note,
        ),
        Route::get("/invoices/{id}/print", Needs(InvoicesRead), print::invoice).query("paper=a5"),
        Route::get("/payments/{id}", Needs(InvoicesRead), payment::show),
        Route::get("/payments/{id}/print", Needs(InvoicesRead), print::payment)
            .query("paper=thermal"),
        Route::post(
            "/payments/{id}/refund",
            Needs(BillingManage),
            payment::refund,
        ),
        Route::post("/shifts", Needs(InvoicesWrite), desk::open_shift),
        Route::get("/shifts/{id}", Needs(InvoicesRead), desk::shift),
        Route::post(
            "/shifts/{id}/close",
            Needs(InvoicesWrite),
            desk::close_shift,
        ),
    ]
}
