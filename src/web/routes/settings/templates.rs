//! `/settings/templates`: the clinic's note templates (fields and headings per kind of visit),
//! written as text, one line each; appointment types choose theirs on their own page.

use askama::Template;
use axum::body::Bytes;
use axum::response::Response;
use tower_sessions::Session;

use crate::domain::clinic::Clinic;
use crate::domain::visits::VisitError;
use crate::domain::visits::templates::{NoteTemplate, TemplateInput};
use crate::domain::visits::work;
use crate::web::AppError;
use crate::web::extract::Path;
use crate::web::forms::{FormErrors, Pairs};
use crate::web::page::{Page, form_status, render_with_status};
use crate::web::page_ctx::{PageCtx, redirect_with_flash};

#[derive(Template)]
#[template(path = "settings/templates.html")]
struct TemplatesPage {
    page: Page,
    templates: Vec<NoteTemplate>,
    /// The template being edited (none: the form adds one).
    editing: Option<i64>,
    f: TemplateInput,
    errors: FormErrors,
}

impl TemplatesPage {
    fn example(&self) -> &'static str {
        "[examination] Eye examination\nVisual acuity, right eye\nVisual acuity, left eye\nIntraocular pressure, right | mmHg\nIntraocular pressure, left | mmHg\n[plan]\nGlasses prescription"
    }
}

fn from_form(f: &Pairs) -> TemplateInput {
    TemplateInput {
        name: f.one("name"),
        layout: f.one("layout"),
        is_default: f.flag("is_default"),
        active: f.flag("active"),
    }
}

async fn render(
    clinic: &Clinic,
    page: Page,
    editing: Option<i64>,
    f: TemplateInput,
    errors: FormErrors,
) -> Result<Response, AppError> {
    let templates = work::templates(clinic).await?;
    Ok(render_with_status(
        form_status(&errors),
        &TemplatesPage {
            page,
            templates,
            editing,
            f,
            errors,
        },
    ))
}

pub async fn list(clinic: Clinic, page: PageCtx) -> Result<Response, AppError> {
    let blank = TemplateInput {
        active: true,
        ..TemplateInput::default()
    };
    render(&clinic, page.into_page(), None, blank, FormErrors::new()).await
}

pub async fn edit(
    clinic: Clinic,
    page: PageCtx,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let t = work::template(&clinic, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let f = TemplateInput::of(&t);
    render(&clinic, page.into_page(), Some(id), f, FormErrors::new()).await
}

async fn save(
    clinic: Clinic,
    session: Session,
    page: PageCtx,
    id: Option<i64>,
    body: Bytes,
) -> Result<Response, AppError> {
    let input = from_form(&Pairs::parse(&body));
    match work::save_template(&clinic, id, &input).await {
        Ok(Some(_)) => Ok(redirect_with_flash(&session, "saved", "/settings/templates").await),
        Ok(None) => Err(AppError::NotFound),
        Err(VisitError::Invalid(errors)) => {
            render(&clinic, page.into_page(), id, input, errors).await
        }
        Err(e) => Err(AppError::Internal(e.into())),
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
