//! `/settings/services`: the price list (code, name, category, price, tax rate, active);
//! `/settings/billing`: currency, fiscal year, number prefixes, the discount limit, and each
//! appointment type's default service.

use askama::Template;
use axum::body::Bytes;
use axum::response::Response;
use tower_sessions::Session;

use crate::domain::billing::model::FiscalStart;
use crate::domain::billing::money::{self, CURRENCIES, Currency};
use crate::domain::billing::repo::Config;
use crate::domain::billing::work::{self, ConfigInput};
use crate::domain::billing::{BillingError, Service, ServiceInput};
use crate::domain::clinic::Clinic;
use crate::web::AppError;
use crate::web::extract::Path;
use crate::web::forms::{FormErrors, Pairs};
use crate::web::page::{Page, form_status, render_with_status};
use crate::web::page_ctx::{PageCtx, redirect_with_flash};
use crate::web::routes::billing::fatal;

#[derive(Template)]
#[template(path = "settings/services.html")]
struct ServicesPage {
    page: Page,
    services: Vec<Service>,
    editing: Option<i64>,
    f: ServiceInput,
    errors: FormErrors,
    currency: Currency,
}

impl ServicesPage {
    fn price(&self, s: &Service) -> String {
        self.currency.format(s.price)
    }
    fn tax(&self, s: &Service) -> String {
        if s.tax_bp == 0 {
            self.page.t("billing.exempt").to_owned()
        } else {
            format!("{}%", money::percent_label(s.tax_bp))
        }
    }
}

fn input_of(s: &Service) -> ServiceInput {
    ServiceInput {
        code: s.code.clone(),
        name: s.name.clone(),
        category: s.category.clone(),
        price: Currency::default_currency()
            .number(s.price)
            .replace(',', ""),
        tax: money::percent_label(s.tax_bp),
        active: s.active,
    }
}

fn from_form(f: &Pairs) -> ServiceInput {
    ServiceInput {
        code: f.one("code"),
        name: f.one("name"),
        category: f.one("category"),
        price: f.one("price"),
        tax: f.one("tax"),
        active: f.flag("active"),
    }
}

async fn render(
    clinic: &Clinic,
    page: Page,
    editing: Option<i64>,
    f: ServiceInput,
    errors: FormErrors,
) -> Result<Response, AppError> {
    let services = work::services(clinic, true).await?;
    let currency = work::config(clinic).await?.currency;
    Ok(render_with_status(
        form_status(&errors),
        &ServicesPage {
            page,
            services,
            editing,
            f,
            errors,
            currency,
        },
    ))
}

pub async fn list(clinic: Clinic, page: PageCtx) -> Result<Response, AppError> {
    let blank = ServiceInput {
        tax: "0".into(),
        active: true,
        ..ServiceInput::default()
    };
    render(&clinic, page.into_page(), None, blank, FormErrors::new()).await
}

pub async fn edit(
    clinic: Clinic,
    page: PageCtx,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let s = work::service(&clinic, id)
        .await?
        .ok_or(AppError::NotFound)?;
    render(
        &clinic,
        page.into_page(),
        Some(id),
        input_of(&s),
        FormErrors::new(),
    )
    .await
}

async fn save(
    clinic: Clinic,
    session: Session,
    page: PageCtx,
    id: Option<i64>,
    body: Bytes,
) -> Result<Response, AppError> {
    let f = Pairs::parse(&body);
    let input = from_form(&f);
    match work::save_service(&clinic, id, &input).await {
        Ok(Some(_)) => Ok(redirect_with_flash(&session, "saved", "/settings/services").await),
        Ok(None) => Err(AppError::NotFound),
        Err(BillingError::Invalid(errors)) => {
            render(&clinic, page.into_page(), id, input, errors).await
        }
        Err(e) => Err(fatal(e)),
    }
}

pub async fn add(
    clinic: Clinic,
    session: Session,
    page: PageCtx,
    body: Bytes,
) -> Result<Response, AppError> {
    save(clinic, session, page, None, body).await
}

pub async fn update(
    clinic: Clinic,
    session: Session,
    page: PageCtx,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Response, AppError> {
    save(clinic, session, page, Some(id), body).await
}

#[derive(Template)]
#[template(path = "settings/billing.html")]
struct BillingPage {
    page: Page,
    f: ConfigInput,
    errors: FormErrors,
    types: Vec<(i64, String, Option<i64>)>,
    services: Vec<Service>,
}

impl BillingPage {
    fn currencies(&self) -> &'static [Currency] {
        CURRENCIES
    }
    fn starts(&self) -> [FiscalStart; 3] {
        FiscalStart::ALL
    }
    fn chosen(&self, t: &Option<i64>, s: &i64) -> bool {
        *t == Some(*s)
    }
}

fn config_input(c: &Config) -> ConfigInput {
    ConfigInput {
        currency: c.currency.code.to_owned(),
        fiscal_year_start: c.fiscal_start.as_str().to_owned(),
        invoice_prefix: c.invoice_prefix.clone(),
        credit_prefix: c.credit_prefix.clone(),
        receipt_prefix: c.receipt_prefix.clone(),
        refund_prefix: c.refund_prefix.clone(),
        discount_limit: money::percent_label(c.discount_limit_bp),
    }
}

async fn render_billing(
    clinic: &Clinic,
    page: Page,
    f: ConfigInput,
    errors: FormErrors,
) -> Result<Response, AppError> {
    let types = work::type_services(clinic).await?;
    let services = work::services(clinic, false).await?;
    Ok(render_with_status(
        form_status(&errors),
        &BillingPage {
            page,
            f,
            errors,
            types,
            services,
        },
    ))
}

pub async fn billing(clinic: Clinic, page: PageCtx) -> Result<Response, AppError> {
    let c = work::config(&clinic).await?;
    render_billing(
        &clinic,
        page.into_page(),
        config_input(&c),
        FormErrors::new(),
    )
    .await
}

/// `POST /settings/billing`: the settings form, or (with `types=1`) the types' services.
pub async fn save_billing(
    clinic: Clinic,
    session: Session,
    page: PageCtx,
    body: Bytes,
) -> Result<Response, AppError> {
    let f = Pairs::parse(&body);
    if f.flag("types") {
        let mut choices = Vec::new();
        for (k, v) in &f.0 {
            if let Some(t) = k.strip_prefix("type_").and_then(|t| t.parse::<i64>().ok()) {
                let s = match v.trim() {
                    "" => None,
                    s => Some(
                        s.parse::<i64>()
                            .map_err(|_| AppError::BadRequest(format!("{k}: not an id")))?,
                    ),
                };
                choices.push((t, s));
            }
        }
        return match work::save_type_services(&clinic, &choices).await {
            Ok(()) => Ok(redirect_with_flash(&session, "saved", "/settings/billing").await),
            Err(BillingError::Invalid(e)) => {
                let c = work::config(&clinic).await?;
                render_billing(&clinic, page.into_page(), config_input(&c), e).await
            }
            Err(e) => Err(fatal(e)),
        };
    }
    let input = ConfigInput {
        currency: f.one("currency"),
        fiscal_year_start: f.one("fiscal_year_start"),
        invoice_prefix: f.one("invoice_prefix"),
        credit_prefix: f.one("credit_prefix"),
        receipt_prefix: f.one("receipt_prefix"),
        refund_prefix: f.one("refund_prefix"),
        discount_limit: f.one("discount_limit"),
    };
    match work::save_config(&clinic, &input).await {
        Ok(()) => Ok(redirect_with_flash(&session, "saved", "/settings/billing").await),
        Err(BillingError::Invalid(e)) => render_billing(&clinic, page.into_page(), input, e).await,
        Err(e) => Err(fatal(e)),
    }
}
