//! `/billing`: the desk; `/billing/day`: a day's takings; `/shifts`: the cashier's shift;
//! `/patients/{id}/billing`: a patient's account and deposits.

use std::collections::BTreeMap;

use askama::Template;
use axum::body::Bytes;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tower_sessions::Session;

use super::{AsMinor, Fmt, fatal};
use crate::domain::billing::model::{DENOMINATIONS, Method};
use crate::domain::billing::repo::{Balance, InvoiceSummary};
use crate::domain::billing::work::{self, DayRecord, Desk, denomination_field};
use crate::domain::billing::{BillingError, Payment, PaymentInput, Shift};
use crate::domain::clinic::Clinic;
use crate::web::AppError;
use crate::web::auth::CurrentUser;
use crate::web::extract::Path;
use crate::web::forms::{FormErrors, Pairs};
use crate::web::page::{Page, render_with_status};
use crate::web::page_ctx::{PageCtx, redirect_with_flash};

#[derive(Template)]
#[template(path = "billing/desk.html")]
struct DeskPage {
    page: Page,
    d: Desk,
    fmt: Fmt,
    float: String,
    errors: FormErrors,
    can_write: bool,
    can_report: bool,
}

impl DeskPage {
    fn m(&self, minor: impl AsMinor) -> String {
        self.fmt.money(minor.minor())
    }
    fn state(&self, i: &InvoiceSummary) -> &'static str {
        state_of(i)
    }
}

/// An invoice's state in a list.
pub fn state_of(i: &InvoiceSummary) -> &'static str {
    match (i.kind.as_str(), i.status.as_str()) {
        (_, "draft") => "draft",
        (_, "cancelled") => "cancelled",
        ("credit_note", _) => "issued",
        _ if i.credited > 0 && i.credited >= i.total.unwrap_or_default() => "credited",
        _ if i.due() == 0 => "paid",
        _ if i.paid > 0 => "partly_paid",
        _ => "unpaid",
    }
}

async fn render_desk(
    clinic: &Clinic,
    user: &CurrentUser,
    page: PageCtx,
    float: String,
    errors: FormErrors,
) -> Result<Response, AppError> {
    let d = work::desk(clinic).await.map_err(fatal)?;
    let fmt = Fmt {
        currency: d.config.currency,
        tz: d.tz,
    };
    use crate::domain::auth::Permission::{InvoicesWrite, ReportsRead};
    let status = crate::web::page::form_status(&errors);
    Ok(render_with_status(
        status,
        &DeskPage {
            page: page.into_page(),
            d,
            fmt,
            float,
            errors,
            can_write: user.can(InvoicesWrite),
            can_report: user.can(ReportsRead),
        },
    ))
}

pub async fn show(clinic: Clinic, user: CurrentUser, page: PageCtx) -> Result<Response, AppError> {
    render_desk(&clinic, &user, page, String::new(), FormErrors::new()).await
}

/// `POST /shifts`: opens the cashier's shift with the float counted into the drawer.
pub async fn open_shift(
    clinic: Clinic,
    user: CurrentUser,
    page: PageCtx,
    session: Session,
    body: Bytes,
) -> Result<Response, AppError> {
    let f = Pairs::parse(&body);
    match work::open_shift(&clinic, &f.one("float")).await {
        Ok(_) => Ok(redirect_with_flash(&session, "billing.shift_opened", "/billing").await),
        Err(BillingError::Invalid(e)) => render_desk(&clinic, &user, page, f.one("float"), e).await,
        Err(e @ BillingError::Refused(_)) => {
            Ok(redirect_with_flash(&session, e.message(), "/billing").await)
        }
        Err(e) => Err(fatal(e)),
    }
}

#[derive(Template)]
#[template(path = "billing/shift.html")]
struct ShiftPage {
    page: Page,
    s: Shift,
    fmt: Fmt,
    cashiers: Vec<(i64, String)>,
    counts: BTreeMap<String, String>,
    handed_to: String,
    note: String,
    errors: FormErrors,
    message: Option<String>,
}

impl ShiftPage {
    fn m(&self, minor: impl AsMinor) -> String {
        self.fmt.money(minor.minor())
    }
    fn denominations(&self) -> &'static [i64] {
        DENOMINATIONS
    }
    fn field(&self, d: &i64) -> &'static str {
        denomination_field(*d)
    }
    fn count(&self, d: &i64) -> String {
        self.counts.get(&d.to_string()).cloned().unwrap_or_default()
    }
    /// What was counted: "1000 × 2 · 500 × 1 · coins Rs. 7.50".
    fn counted_line(&self) -> String {
        let Some(c) = &self.s.counted else {
            return String::new();
        };
        let mut parts: Vec<String> = DENOMINATIONS
            .iter()
            .filter_map(|d| c.0.get(&d.to_string()).map(|n| format!("{d} × {n}")))
            .collect();
        if let Some(coins) = c.0.get("coins_minor") {
            parts.push(format!(
                "{} {}",
                self.page.t("billing.coins"),
                self.fmt.money(*coins)
            ));
        }
        parts.join(" · ")
    }
    fn coins(&self) -> String {
        self.counts.get("coins").cloned().unwrap_or_default()
    }
    fn method_label(&self, m: &Method) -> String {
        self.page
            .t(&format!("pay_method.{}", m.as_str()))
            .to_owned()
    }
    fn variance_class(&self) -> &'static str {
        match self.s.variance() {
            Some(0) | None => "ok",
            Some(_) => "warn",
        }
    }
}

async fn render_shift(
    clinic: &Clinic,
    page: PageCtx,
    id: i64,
    form: Option<&Pairs>,
    errors: FormErrors,
    message: Option<String>,
) -> Result<Response, AppError> {
    let work::ShiftRecord {
        shift: s,
        config,
        cashiers,
        tz,
    } = work::shift(clinic, id).await.map_err(fatal)?;
    let fmt = Fmt {
        currency: config.currency,
        tz,
    };
    let counts = form
        .map(|f| {
            let mut m: BTreeMap<String, String> = DENOMINATIONS
                .iter()
                .map(|d| (d.to_string(), f.one(denomination_field(*d))))
                .collect();
            m.insert("coins".into(), f.one("coins"));
            m
        })
        .unwrap_or_default();
    let status = crate::web::page::outcome_status(&message, &errors);
    Ok(render_with_status(
        status,
        &ShiftPage {
            page: page.into_page(),
            cashiers: cashiers
                .into_iter()
                .filter(|c| c.0 != s.cashier_id)
                .collect(),
            s,
            fmt,
            counts,
            handed_to: form.map(|f| f.one("handed_to")).unwrap_or_default(),
            note: form.map(|f| f.one("close_note")).unwrap_or_default(),
            errors,
            message,
        },
    ))
}

pub async fn shift(
    clinic: Clinic,
    page: PageCtx,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    render_shift(&clinic, page, id, None, FormErrors::new(), None).await
}

/// `POST /shifts/{id}/close`: the cash counted by denomination, who takes over, a note.
pub async fn close_shift(
    clinic: Clinic,
    page: PageCtx,
    session: Session,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Response, AppError> {
    let f = Pairs::parse(&body);
    let mut counts: BTreeMap<String, String> = DENOMINATIONS
        .iter()
        .map(|d| (d.to_string(), f.one(denomination_field(*d))))
        .collect();
    counts.insert("coins".into(), f.one("coins"));
    match work::close_shift(
        &clinic,
        id,
        &counts,
        &f.one("handed_to"),
        &f.one("close_note"),
    )
    .await
    {
        Ok(_) => Ok(redirect_with_flash(
            &session,
            "billing.shift_closed_ok",
            &format!("/shifts/{id}"),
        )
        .await),
        Err(BillingError::Invalid(e)) => render_shift(&clinic, page, id, Some(&f), e, None).await,
        Err(e @ BillingError::Refused(_)) => {
            let m = e.message().to_owned();
            render_shift(&clinic, page, id, Some(&f), FormErrors::new(), Some(m)).await
        }
        Err(e) => Err(fatal(e)),
    }
}

#[derive(Template)]
#[template(path = "billing/day.html")]
struct DayPage {
    page: Page,
    r: DayRecord,
    fmt: Fmt,
    can_close: bool,
    note: String,
    errors: FormErrors,
    message: Option<String>,
}

impl DayPage {
    fn m(&self, minor: impl AsMinor) -> String {
        self.fmt.money(minor.minor())
    }
    fn method_label(&self, m: &Method) -> String {
        self.page
            .t(&format!("pay_method.{}", m.as_str()))
            .to_owned()
    }
    fn total(&self) -> i64 {
        self.r.report.receipts - self.r.report.refunds
    }
    fn closed_by(&self, d: &crate::domain::billing::repo::DayClose) -> String {
        self.page.tf(
            "billing.day_closed_by",
            &[
                ("at", self.fmt.at(&d.closed_at).as_str()),
                ("who", d.closed_by_name.as_str()),
            ],
        )
    }
    fn confirm(&self) -> String {
        self.page.tf(
            "billing.day_close_confirm",
            &[("day", self.r.day.format("%d %b %Y").to_string().as_str())],
        )
    }
}

#[derive(Deserialize)]
pub struct DayQuery {
    #[serde(default)]
    date: String,
}

/// `GET /billing/day?date=YYYY-MM-DD`: takings by method and cashier, and the day's shifts.
pub async fn day(
    clinic: Clinic,
    user: CurrentUser,
    page: PageCtx,
    Query(q): Query<DayQuery>,
) -> Result<Response, AppError> {
    let day = match q.date.trim() {
        "" => None,
        d => Some(
            chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
                .map_err(|_| AppError::BadRequest("date: YYYY-MM-DD".into()))?,
        ),
    };
    render_day(
        &clinic,
        &user,
        page,
        day,
        String::new(),
        FormErrors::new(),
        None,
    )
    .await
}

async fn render_day(
    clinic: &Clinic,
    user: &CurrentUser,
    page: PageCtx,
    day: Option<chrono::NaiveDate>,
    note: String,
    errors: FormErrors,
    message: Option<String>,
) -> Result<Response, AppError> {
    let r = work::day(clinic, day).await.map_err(fatal)?;
    let fmt = Fmt {
        currency: r.config.currency,
        tz: r.tz,
    };
    let page = page.into_page().printed_at(clinic.at(), r.tz);
    let status = crate::web::page::outcome_status(&message, &errors);
    Ok(render_with_status(
        status,
        &DayPage {
            page,
            r,
            fmt,
            can_close: user.can(crate::domain::auth::Permission::InvoicesVoid),
            note,
            errors,
            message,
        },
    ))
}

/// `POST /billing/day/close`: freezes a day's totals (the date and an optional note).
pub async fn close_day(
    clinic: Clinic,
    user: CurrentUser,
    page: PageCtx,
    session: Session,
    body: Bytes,
) -> Result<Response, AppError> {
    let f = Pairs::parse(&body);
    let (date, note) = (f.one("date"), f.one("note"));
    let shown = chrono::NaiveDate::parse_from_str(date.trim(), "%Y-%m-%d").ok();
    match work::close_day(&clinic, &date, &note).await {
        Ok(day) => Ok(redirect_with_flash(
            &session,
            "billing.day_closed_ok",
            &format!("/billing/day?date={day}"),
        )
        .await),
        Err(BillingError::Invalid(e)) => {
            render_day(&clinic, &user, page, shown, note, e, None).await
        }
        Err(e @ BillingError::Refused(_)) => {
            let m = e.message().to_owned();
            render_day(
                &clinic,
                &user,
                page,
                shown,
                note,
                FormErrors::new(),
                Some(m),
            )
            .await
        }
        Err(e) => Err(fatal(e)),
    }
}

#[derive(Template)]
#[template(path = "billing/patient.html")]
struct PatientPage {
    page: Page,
    patient: i64,
    name: String,
    mrn: String,
    invoices: Vec<InvoiceSummary>,
    balance: Balance,
    payments: Vec<Payment>,
    fmt: Fmt,
    f: PaymentInput,
    errors: FormErrors,
    message: Option<String>,
    can_write: bool,
}

impl PatientPage {
    fn m(&self, minor: impl AsMinor) -> String {
        self.fmt.money(minor.minor())
    }
    fn state(&self, i: &InvoiceSummary) -> &'static str {
        state_of(i)
    }
    fn methods(&self) -> &'static [Method] {
        &Method::ALL
    }
}

async fn render_patient(
    clinic: &Clinic,
    user: &CurrentUser,
    page: PageCtx,
    id: i64,
    f: PaymentInput,
    errors: FormErrors,
    message: Option<String>,
) -> Result<Response, AppError> {
    let a = work::of_patient(clinic, id).await.map_err(fatal)?;
    let fmt = Fmt {
        currency: a.config.currency,
        tz: a.tz,
    };
    let status = crate::web::page::outcome_status(&message, &errors);
    use crate::domain::auth::Permission::InvoicesWrite;
    Ok(render_with_status(
        status,
        &PatientPage {
            page: page.into_page(),
            patient: id,
            name: a.patient.full_name(),
            mrn: a.patient.mrn,
            invoices: a.invoices,
            balance: a.balance,
            payments: a.payments,
            fmt,
            f,
            errors,
            message,
            can_write: user.can(InvoicesWrite),
        },
    ))
}

pub async fn patient(
    clinic: Clinic,
    user: CurrentUser,
    page: PageCtx,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    render_patient(
        &clinic,
        &user,
        page,
        id,
        PaymentInput::default(),
        FormErrors::new(),
        None,
    )
    .await
}

/// `POST /patients/{id}/deposits`: an advance deposit.
pub async fn deposit(
    clinic: Clinic,
    user: CurrentUser,
    page: PageCtx,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Response, AppError> {
    let f = Pairs::parse(&body);
    let input = PaymentInput {
        method: f.one("method"),
        amount: f.one("amount"),
        reference: f.one("reference"),
    };
    match work::deposit(&clinic, id, &input).await {
        Ok(p) => Ok(Redirect::to(&format!("/payments/{p}")).into_response()),
        Err(BillingError::Invalid(e)) => {
            render_patient(&clinic, &user, page, id, input, e, None).await
        }
        Err(e @ BillingError::Refused(_)) => {
            let m = e.message().to_owned();
            render_patient(&clinic, &user, page, id, input, FormErrors::new(), Some(m)).await
        }
        Err(e) => Err(fatal(e)),
    }
}

#[derive(Template)]
#[template(path = "billing/outstanding.html")]
struct OutstandingPage {
    page: Page,
    list: Vec<crate::domain::billing::repo::Outstanding>,
    fmt: Fmt,
}

impl OutstandingPage {
    fn m(&self, minor: impl AsMinor) -> String {
        self.fmt.money(minor.minor())
    }
    fn total(&self) -> i64 {
        self.list.iter().map(|o| o.due).sum()
    }
}

/// `GET /billing/outstanding`: everyone who owes, most owed first.
pub async fn outstanding(clinic: Clinic, page: PageCtx) -> Result<Response, AppError> {
    let (list, config, tz) = work::outstanding(&clinic).await.map_err(fatal)?;
    let fmt = Fmt {
        currency: config.currency,
        tz,
    };
    let page = page.into_page().printed_at(clinic.at(), tz);
    Ok(render_with_status(
        StatusCode::OK,
        &OutstandingPage { page, list, fmt },
    ))
}
