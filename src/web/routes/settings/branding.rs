//! `/settings/branding`: the clinic's profile and branding (name, logo, colour, letterhead),
//! one multipart form; a refused save shows the form again as typed, with the message next to
//! the field, and changes nothing.

use askama::Template;
use axum::response::Response;
use tower_sessions::Session;

use crate::domain::clinic::Clinic;
use crate::domain::settings::branding::{self, LogoChange, MAX_LOGO, Profile, ProfileError};
use crate::web::AppError;
use crate::web::extract::Multipart;
use crate::web::forms::FormErrors;
use crate::web::page::{Page, form_status, render_with_status};
use crate::web::page_ctx::{PageCtx, redirect_with_flash};
use crate::web::site::CurrentTenant;

#[derive(Template)]
#[template(path = "settings/branding.html")]
struct BrandingPage {
    page: Page,
    f: Profile,
    errors: FormErrors,
    max_logo_kb: usize,
}

impl BrandingPage {
    fn logo_hint(&self) -> String {
        self.page.tf(
            "branding.logo_hint",
            &[("kb", &self.max_logo_kb.to_string())],
        )
    }
}

fn render(page: Page, f: Profile, errors: FormErrors) -> Response {
    render_with_status(
        form_status(&errors),
        &BrandingPage {
            page,
            f,
            errors,
            max_logo_kb: MAX_LOGO / 1024,
        },
    )
}

pub async fn show(
    clinic: Clinic,
    tenant: CurrentTenant,
    page: PageCtx,
) -> Result<Response, AppError> {
    let f = branding::load(&clinic, &tenant).await?;
    Ok(render(page.into_page(), f, FormErrors::new()))
}

/// Longest text field read, in bytes.
const TEXT_FIELD_MAX: usize = 4096;

/// The form's fields and its logo (kept in memory: at most `MAX_LOGO` and one byte, which is
/// enough to refuse a larger one).
async fn read(Multipart(mut mp): Multipart) -> Result<(Profile, LogoChange), AppError> {
    let bad =
        |e: axum::extract::multipart::MultipartError| AppError::rejected(e.status(), e.body_text());
    let mut f = Profile::default();
    let mut logo = LogoChange::Keep;
    let mut remove = false;
    while let Some(mut field) = mp.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or("").to_owned();
        let cap = if name == "logo" {
            MAX_LOGO + 1
        } else {
            TEXT_FIELD_MAX
        };
        let mut bytes = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(bad)? {
            let room = cap.saturating_sub(bytes.len());
            bytes.extend_from_slice(&chunk[..chunk.len().min(room)]);
        }
        if name == "logo" {
            if !bytes.is_empty() {
                logo = LogoChange::Replace(bytes);
            }
            continue;
        }
        let text = String::from_utf8_lossy(&bytes).into_owned();
        match name.as_str() {
            "display_name" => f.display_name = text,
            "primary_color" => f.primary_color = text,
            "address" => f.letterhead.address = text,
            "phone" => f.letterhead.phone = text,
            "email" => f.letterhead.email = text,
            "tax_number" => f.letterhead.tax_number = text,
            "registration_number" => f.letterhead.registration_number = text,
            "footer" => f.letterhead.footer = text,
            "remove_logo" => remove = matches!(text.as_str(), "1" | "on"),
            _ => {}
        }
    }
    if remove && matches!(logo, LogoChange::Keep) {
        logo = LogoChange::Remove;
    }
    Ok((f, logo))
}

pub async fn save(
    clinic: Clinic,
    tenant: CurrentTenant,
    session: Session,
    page: PageCtx,
    mp: Multipart,
) -> Result<Response, AppError> {
    let (f, logo) = read(mp).await?;
    match branding::save(&clinic, &tenant, &f, logo).await {
        Ok(_) => Ok(redirect_with_flash(&session, "saved", "/settings/branding").await),
        Err(ProfileError::Invalid(errors)) => Ok(render(page.into_page(), f, errors)),
        Err(ProfileError::Sql(e)) => Err(e.into()),
    }
}
