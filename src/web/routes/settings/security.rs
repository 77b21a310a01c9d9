//! `GET/POST /settings/security`: MFA policy, session timeouts, audit retention.

use crate::web::extract::Form;
use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use tower_sessions::Session;

use crate::domain::auth::MfaPolicy;
use crate::domain::clinic::Clinic;
use crate::domain::settings::{self, Security};
use crate::web::AppError;
use crate::web::forms::FormErrors;
use crate::web::page::{Page, render_page, render_with_status};
use crate::web::page_ctx::{PageCtx, redirect_with_flash};

#[derive(Template)]
#[template(path = "settings/security.html")]
struct SecurityPage {
    page: Page,
    s: Security,
    errors: FormErrors,
}

pub async fn show(clinic: Clinic, page: PageCtx) -> Result<Response, AppError> {
    let s = settings::security(&clinic).await?;
    Ok(render_page(&SecurityPage {
        page: page.into_page(),
        s,
        errors: FormErrors::new(),
    }))
}

#[derive(Deserialize)]
pub struct SecurityForm {
    #[serde(default)]
    mfa_policy: String,
    #[serde(default)]
    idle_minutes: String,
    #[serde(default)]
    session_hours: String,
    #[serde(default)]
    audit_retention_years: String,
}

pub async fn save(
    clinic: Clinic,
    session: Session,
    page: PageCtx,
    Form(form): Form<SecurityForm>,
) -> Result<Response, AppError> {
    let mut errors = FormErrors::new();
    let num = |errors: &mut FormErrors, field: &'static str, v: &str| -> i64 {
        v.trim().parse::<i64>().unwrap_or_else(|_| {
            errors.add(field, "invalid.whole_number");
            0
        })
    };
    let s = Security {
        mfa_policy: MfaPolicy::parse(&form.mfa_policy).unwrap_or_else(|| {
            errors.add("mfa_policy", "invalid.option");
            MfaPolicy::Optional
        }),
        idle_minutes: num(&mut errors, "idle_minutes", &form.idle_minutes),
        session_hours: num(&mut errors, "session_hours", &form.session_hours),
        audit_retention_years: num(
            &mut errors,
            "audit_retention_years",
            &form.audit_retention_years,
        ),
    };
    if errors.is_empty()
        && let Err((field, msg)) = s.validate()
    {
        errors.add(field, msg);
    }
    if !errors.is_empty() {
        return Ok(render_with_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            &SecurityPage {
                page: page.into_page(),
                s,
                errors,
            },
        ));
    }
    settings::save_security(&clinic, &s).await?;
    Ok(redirect_with_flash(&session, "saved", "/settings/security").await)
}
