//! The upload page (also what a refused upload shows), the file itself, and delete.

use askama::Template;
use axum::body::Bytes;
use axum::response::Response;
use tower_sessions::Session;

use super::{Documents, Received, document_error, file_response, receive};
use crate::domain::clinic::Clinic;
use crate::domain::documents::work::{self, Purpose, Target};
use crate::domain::documents::{CATEGORIES, Document, DocumentError, UploadInput};
use crate::domain::patients::Patient;
use crate::web::AppError;
use crate::web::extract::{Multipart, Path};
use crate::web::forms::{FormErrors, Pairs};
use crate::web::page::{Page, form_status, render_with_status};
use crate::web::page_ctx::{PageCtx, redirect_with_flash};

/// What the upload form needs wherever it is shown (chart, visit, its own page).
pub struct UploadForm {
    /// Where it posts.
    pub action: String,
    pub input: UploadInput,
    pub max_mb: u64,
    pub errors: FormErrors,
}

impl UploadForm {
    pub fn new(target: Target, max_file: u64) -> Self {
        Self {
            action: action_of(target),
            input: UploadInput {
                category: "other".into(),
                ..UploadInput::default()
            },
            max_mb: max_file >> 20,
            errors: FormErrors::new(),
        }
    }

    pub fn file_hint(&self, page: &Page) -> String {
        page.tf("documents.file_hint", &[("mb", &self.max_mb.to_string())])
    }

    pub fn categories(&self) -> &'static [&'static str] {
        &CATEGORIES
    }

    pub fn category_key(&self, c: &str) -> String {
        format!("documents.category_{c}")
    }
}

/// Documents as a chart or a visit lists them, with their thumbnails, and the upload form
/// for those who may add one.
pub struct DocumentList {
    pub items: Vec<(Document, Option<String>)>,
    pub form: Option<UploadForm>,
}

impl DocumentList {
    pub fn new(list: Vec<Document>, thumbs: Vec<Option<String>>, form: Option<UploadForm>) -> Self {
        Self {
            items: list.into_iter().zip(thumbs).collect(),
            form,
        }
    }
}

fn action_of(target: Target) -> String {
    match target {
        Target::Patient(p) => format!("/patients/{p}/documents"),
        Target::Visit(v) | Target::VisitOf { visit: v, .. } => format!("/visits/{v}/documents"),
    }
}

#[derive(Template)]
#[template(path = "documents/new.html")]
struct NewPage {
    page: Page,
    p: Patient,
    visit: Option<i64>,
    uf: UploadForm,
}

async fn render_new(
    clinic: &Clinic,
    page: Page,
    target: Target,
    input: Option<UploadInput>,
    errors: FormErrors,
) -> Result<Response, AppError> {
    let (p, visit, max_file) = work::upload_target(clinic, target)
        .await
        .map_err(document_error)?;
    let mut uf = UploadForm::new(target, max_file);
    if let Some(i) = input {
        uf.input = i;
    }
    uf.errors = errors;
    Ok(render_with_status(
        form_status(&uf.errors),
        &NewPage { page, p, visit, uf },
    ))
}

/// `GET /patients/{id}/documents/new`: the upload on its own page (a phone's camera).
pub async fn new(clinic: Clinic, page: PageCtx, Path(id): Path<i64>) -> Result<Response, AppError> {
    render_new(
        &clinic,
        page.into_page(),
        Target::Patient(id),
        None,
        FormErrors::new(),
    )
    .await
}

async fn upload(
    clinic: Clinic,
    docs: Documents,
    page: PageCtx,
    session: Session,
    target: Target,
    mp: Multipart,
) -> Result<Response, AppError> {
    let max_file = work::max_upload(&clinic).await.map_err(document_error)?;
    let Received { input, file, .. } = receive(mp, &*docs.store, max_file).await?;
    let refused = |errors: FormErrors, input: UploadInput| async {
        render_new(&clinic, page.into_page(), target, Some(input), errors).await
    };
    let file = match file {
        Ok(f) => f,
        Err(errors) => return refused(errors, input).await,
    };
    match work::upload(
        &clinic,
        docs.store.clone(),
        docs.quota,
        target,
        input.clone(),
        file,
    )
    .await
    {
        Ok(_) => {
            let to = match target {
                Target::Patient(p) => format!("/patients/{p}#documents"),
                Target::Visit(v) | Target::VisitOf { visit: v, .. } => {
                    format!("/visits/{v}#documents")
                }
            };
            Ok(redirect_with_flash(&session, "document_added", &to).await)
        }
        Err(DocumentError::Invalid(errors)) => refused(errors, input).await,
        Err(e @ DocumentError::VisitSigned) => {
            refused(FormErrors::with("_form", e.message()), input).await
        }
        Err(e) => Err(document_error(e)),
    }
}

/// `POST /patients/{id}/documents` (multipart: `title`, `category`, `file`).
pub async fn upload_to_patient(
    clinic: Clinic,
    docs: Documents,
    page: PageCtx,
    session: Session,
    Path(id): Path<i64>,
    mp: Multipart,
) -> Result<Response, AppError> {
    upload(clinic, docs, page, session, Target::Patient(id), mp).await
}

/// `POST /visits/{id}/documents`: the same, attached to the visit.
pub async fn upload_to_visit(
    clinic: Clinic,
    docs: Documents,
    page: PageCtx,
    session: Session,
    Path(id): Path<i64>,
    mp: Multipart,
) -> Result<Response, AppError> {
    upload(clinic, docs, page, session, Target::Visit(id), mp).await
}

async fn serve(
    clinic: Clinic,
    docs: Documents,
    id: i64,
    purpose: Purpose,
) -> Result<Response, AppError> {
    let (d, bytes) = work::open(&clinic, &*docs.store, id, purpose)
        .await
        .map_err(document_error)?;
    Ok(file_response(&d, bytes, purpose != Purpose::Download))
}

/// `GET /documents/{id}`: the file, shown by the browser.
pub async fn view(
    clinic: Clinic,
    docs: Documents,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    serve(clinic, docs, id, Purpose::View).await
}

/// `GET /documents/{id}/download`: the file, saved under its name.
pub async fn download(
    clinic: Clinic,
    docs: Documents,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    serve(clinic, docs, id, Purpose::Download).await
}

#[derive(Template)]
#[template(path = "documents/delete.html")]
struct DeletePage {
    page: Page,
    d: Document,
    reason: String,
    errors: FormErrors,
}

/// `GET /documents/{id}/delete`: asks why.
pub async fn confirm_delete(
    clinic: Clinic,
    page: PageCtx,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let d = work::get(&clinic, id).await.map_err(document_error)?;
    Ok(render_with_status(
        axum::http::StatusCode::OK,
        &DeletePage {
            page: page.into_page(),
            d,
            reason: String::new(),
            errors: FormErrors::new(),
        },
    ))
}

/// `POST /documents/{id}/delete` (`reason`).
pub async fn delete(
    clinic: Clinic,
    page: PageCtx,
    session: Session,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Response, AppError> {
    let f = Pairs::parse(&body);
    let reason = f.one("reason");
    match work::delete(&clinic, id, &reason).await {
        Ok(patient) => Ok(redirect_with_flash(
            &session,
            "document_deleted",
            &format!("/patients/{patient}#documents"),
        )
        .await),
        Err(DocumentError::Invalid(errors)) => {
            let d = work::get(&clinic, id).await.map_err(document_error)?;
            Ok(render_with_status(
                form_status(&errors),
                &DeletePage {
                    page: page.into_page(),
                    d,
                    reason,
                    errors,
                },
            ))
        }
        Err(e) => Err(document_error(e)),
    }
}
