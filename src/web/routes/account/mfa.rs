//! `/account/mfa`: enrol a TOTP authenticator (QR code), confirm it with a first code, see the
//! recovery codes once; or turn it off (password required, and only where policy allows).

use crate::web::extract::Form;
use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tower_sessions::Session;

use crate::app::AppState;
use crate::domain::auth::service::{self, AccountError, Enrolment};
use crate::domain::auth::signin;
use crate::web::AppError;
use crate::web::auth::{AuditCtx, ClinicSecurity, SignedIn};
use crate::web::forms::FormErrors;
use crate::web::page::{Page, form_status, render_page, render_with_status};
use crate::web::page_ctx::{PageCtx, redirect_with_flash};
use crate::web::realm::Realm;

#[derive(Template)]
#[template(path = "account/mfa.html")]
struct MfaPage {
    page: Page,
    enabled: bool,
    required: bool,
    enrolment: Option<Enrolment>,
    errors: FormErrors,
}

#[derive(Template)]
#[template(path = "account/recovery_codes.html")]
struct RecoveryCodesPage {
    page: Page,
    codes: Vec<String>,
}

fn required(me: &SignedIn, ext: &axum::http::Extensions) -> bool {
    match (me.role, ext.get::<ClinicSecurity>()) {
        (Some(role), Some(s)) => s.0.mfa_policy.requires(role),
        _ => false,
    }
}

async fn render(
    state: &AppState,
    realm: &Realm,
    me: &SignedIn,
    page: Page,
    required: bool,
    errors: FormErrors,
) -> Result<Response, AppError> {
    let ctx = crate::domain::audit::Context::system(state.clock.now());
    let acc = signin::account(&realm.domain(state, &ctx), me.id)
        .await?
        .ok_or(AppError::NotFound)?;
    let enrolment = service::pending_enrolment(&state.secrets, &acc, &realm.issuer())?;
    Ok(render_with_status(
        form_status(&errors),
        &MfaPage {
            page,
            enabled: acc.mfa_enabled(),
            required,
            enrolment: if acc.mfa_enabled() { None } else { enrolment },
            errors,
        },
    ))
}

pub async fn show(
    State(state): State<AppState>,
    realm: Realm,
    me: SignedIn,
    page: PageCtx,
    ext: axum::http::Extensions,
) -> Result<Response, AppError> {
    let req = required(&me, &ext);
    render(
        &state,
        &realm,
        &me,
        page.into_page(),
        req,
        FormErrors::new(),
    )
    .await
}

/// Creates a new pending secret (POST: GET never changes state).
pub async fn start(
    State(state): State<AppState>,
    realm: Realm,
    me: SignedIn,
    ctx: AuditCtx,
) -> Result<Response, AppError> {
    let r = realm.domain(&state, &ctx);
    if !signin::start_mfa(&r, &state.secrets, me.id, &realm.issuer()).await? {
        return Err(AppError::NotFound);
    }
    Ok(Redirect::to("/account/mfa").into_response())
}

#[derive(Deserialize)]
pub struct ConfirmForm {
    #[serde(default)]
    code: String,
}

pub async fn confirm(
    State(state): State<AppState>,
    realm: Realm,
    me: SignedIn,
    ctx: AuditCtx,
    page: PageCtx,
    ext: axum::http::Extensions,
    Form(form): Form<ConfirmForm>,
) -> Result<Response, AppError> {
    let r = realm.domain(&state, &ctx);
    let codes = signin::confirm_mfa(&r, &state.secrets, me.id, &form.code).await?;
    let page = page.into_page();
    match codes {
        Some(codes) => Ok(render_page(&RecoveryCodesPage { page, codes })),
        None => {
            let errors = FormErrors::with("code", "mfa.invalid");
            render(&state, &realm, &me, page, required(&me, &ext), errors).await
        }
    }
}

#[derive(Deserialize)]
pub struct DisableForm {
    #[serde(default)]
    password: String,
}

pub async fn disable(
    State(state): State<AppState>,
    realm: Realm,
    me: SignedIn,
    session: Session,
    ctx: AuditCtx,
    page: PageCtx,
    ext: axum::http::Extensions,
    Form(form): Form<DisableForm>,
) -> Result<Response, AppError> {
    let req = required(&me, &ext);
    let refused = if req {
        Some("mfa.required_cannot_disable")
    } else {
        let r = realm.domain(&state, &ctx);
        match signin::disable_mfa(&r, me.id, &form.password).await {
            Ok(true) => None,
            Ok(false) => Some("account.wrong_password"),
            Err(AccountError::NotFound) => return Err(AppError::NotFound),
            Err(e) => return Err(AppError::Internal(e.into())),
        }
    };
    match refused {
        Some(key) => {
            let errors = FormErrors::with("password", key);
            render(&state, &realm, &me, page.into_page(), req, errors).await
        }
        None => Ok(redirect_with_flash(&session, "mfa_disabled", "/account").await),
    }
}
