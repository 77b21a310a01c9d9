//! `/settings/drugs`: the clinic's drug list that prescriptions choose from (generic name,
//! brand names, strength, form, class for allergy warnings, bottle size of liquids).

use askama::Template;
use axum::body::Bytes;
use axum::response::Response;
use tower_sessions::Session;

use crate::domain::clinic::Clinic;
use crate::domain::prescriptions::work::{self, SaveError};
use crate::domain::prescriptions::{Drug, DrugInput, dose};
use crate::web::AppError;
use crate::web::extract::Path;
use crate::web::forms::{FormErrors, Pairs};
use crate::web::page::{Page, form_status, render_with_status};
use crate::web::page_ctx::{PageCtx, redirect_with_flash};

#[derive(Template)]
#[template(path = "settings/drugs.html")]
struct DrugsPage {
    page: Page,
    drugs: Vec<Drug>,
    /// The drug being edited (none: the form adds one).
    editing: Option<i64>,
    f: DrugInput,
    errors: FormErrors,
}

impl DrugsPage {
    fn forms(&self) -> &'static [&'static str] {
        dose::FORMS
    }
}

fn input_of(d: &Drug) -> DrugInput {
    DrugInput {
        generic_name: d.generic_name.clone(),
        brand_names: d.brand_names.clone(),
        strength: d.strength.clone(),
        form: d.form.clone(),
        drug_class: d.drug_class.clone(),
        pack_ml: d.pack_ml.map(|p| p.to_string()).unwrap_or_default(),
        active: d.active,
    }
}

fn from_form(f: &Pairs) -> DrugInput {
    DrugInput {
        generic_name: f.one("generic_name"),
        brand_names: f.one("brand_names"),
        strength: f.one("strength"),
        form: f.one("form"),
        drug_class: f.one("drug_class"),
        pack_ml: f.one("pack_ml"),
        active: f.flag("active"),
    }
}

async fn render(
    clinic: &Clinic,
    page: Page,
    editing: Option<i64>,
    f: DrugInput,
    errors: FormErrors,
) -> Result<Response, AppError> {
    let drugs = work::drugs(clinic, true).await?;
    Ok(render_with_status(
        form_status(&errors),
        &DrugsPage {
            page,
            drugs,
            editing,
            f,
            errors,
        },
    ))
}

pub async fn list(clinic: Clinic, page: PageCtx) -> Result<Response, AppError> {
    let blank = DrugInput {
        form: "tablet".into(),
        active: true,
        ..DrugInput::default()
    };
    render(&clinic, page.into_page(), None, blank, FormErrors::new()).await
}

pub async fn edit(
    clinic: Clinic,
    page: PageCtx,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let d = work::drug(&clinic, id).await?.ok_or(AppError::NotFound)?;
    render(
        &clinic,
        page.into_page(),
        Some(id),
        input_of(&d),
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
    match work::save_drug(&clinic, id, &input).await {
        Ok(Some(_)) => Ok(redirect_with_flash(&session, "saved", "/settings/drugs").await),
        Ok(None) => Err(AppError::NotFound),
        Err(SaveError::Invalid(errors)) => {
            render(&clinic, page.into_page(), id, input, errors).await
        }
        Err(SaveError::Sql(e)) => Err(e.into()),
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
