//! `/settings/appointment-types`: the clinic's appointment types (name, length, colour).

use crate::web::extract::Path;
use askama::Template;
use axum::body::Bytes;
use axum::response::Response;
use tower_sessions::Session;

use crate::domain::clinic::Clinic;
use crate::domain::scheduling::config::{self, TypeError, TypeInput};
use crate::domain::scheduling::{AppointmentType, work};
use crate::domain::tenants::model::is_hex_color;
use crate::domain::visits::{self, templates::NoteTemplate};
use crate::web::AppError;
use crate::web::forms::{FormErrors, Pairs};
use crate::web::page::{Page, form_status, render_with_status};
use crate::web::page_ctx::{PageCtx, redirect_with_flash};

#[derive(Template)]
#[template(path = "settings/types.html")]
struct TypesPage {
    page: Page,
    types: Vec<AppointmentType>,
    /// The note templates a type can choose.
    templates: Vec<NoteTemplate>,
    errors: FormErrors,
}

impl TypesPage {
    fn chosen(&self, t: &AppointmentType, template: &i64) -> bool {
        t.note_template_id == Some(*template)
    }
}

fn parse_type(f: &Pairs) -> Result<TypeInput, FormErrors> {
    let mut errors = FormErrors::new();
    let name = f.one("name").trim().to_owned();
    if name.is_empty() || name.chars().count() > 80 {
        errors.add("name", "invalid.max_80");
    }
    let minutes = f
        .one("duration_minutes")
        .trim()
        .parse::<i32>()
        .ok()
        .filter(|m| (5..=480).contains(m));
    if minutes.is_none() {
        errors.add("duration_minutes", "invalid.duration");
    }
    let color = f.one("color").trim().to_owned();
    if !is_hex_color(&color) {
        errors.add("color", "invalid.color");
    }
    let template = match f.one("note_template").trim() {
        "" => None,
        t => match t.parse::<i64>() {
            Ok(id) => Some(id),
            Err(_) => {
                errors.add("note_template", "invalid.template_missing");
                None
            }
        },
    };
    match minutes {
        Some(minutes) if errors.is_empty() => Ok(TypeInput {
            name,
            minutes,
            color,
            template,
        }),
        _ => Err(errors),
    }
}

async fn types_page(clinic: &Clinic, page: Page, errors: FormErrors) -> Result<Response, AppError> {
    let types = work::types(clinic, true).await?;
    let templates = visits::work::templates(clinic).await?;
    Ok(render_with_status(
        form_status(&errors),
        &TypesPage {
            page,
            types,
            templates,
            errors,
        },
    ))
}

pub async fn show(clinic: Clinic, page: PageCtx) -> Result<Response, AppError> {
    types_page(&clinic, page.into_page(), FormErrors::new()).await
}

/// After a save: back to the list, or the list again with the error.
async fn saved(
    clinic: &Clinic,
    session: &Session,
    page: PageCtx,
    result: Result<(), TypeError>,
) -> Result<Response, AppError> {
    match result {
        Ok(()) => Ok(redirect_with_flash(session, "saved", "/settings/appointment-types").await),
        Err(TypeError::NotFound) => Err(AppError::NotFound),
        Err(TypeError::NameTaken) => {
            types_page(
                clinic,
                page.into_page(),
                FormErrors::with("name", "invalid.type_name_taken"),
            )
            .await
        }
        Err(TypeError::NoSuchTemplate) => {
            types_page(
                clinic,
                page.into_page(),
                FormErrors::with("note_template", "invalid.template_missing"),
            )
            .await
        }
        Err(TypeError::Sql(e)) => Err(e.into()),
    }
}

pub async fn add(
    clinic: Clinic,
    session: Session,
    page: PageCtx,
    body: Bytes,
) -> Result<Response, AppError> {
    let result = match parse_type(&Pairs::parse(&body)) {
        Ok(t) => config::add_type(&clinic, &t).await.map(|_| ()),
        Err(errors) => return types_page(&clinic, page.into_page(), errors).await,
    };
    saved(&clinic, &session, page, result).await
}

pub async fn update(
    clinic: Clinic,
    session: Session,
    page: PageCtx,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Response, AppError> {
    let f = Pairs::parse(&body);
    let result = match parse_type(&f) {
        Ok(t) => config::update_type(&clinic, id, &t, f.flag("active")).await,
        Err(errors) => return types_page(&clinic, page.into_page(), errors).await,
    };
    saved(&clinic, &session, page, result).await
}
