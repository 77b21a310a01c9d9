//! `GET/POST /security` on the console: installation-wide sign-in and API rate limits.

use crate::web::extract::Form;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use tower_sessions::Session;

use crate::app::AppState;
use crate::domain::console::{self, Console};
use crate::domain::settings::RateLimits;
use crate::web::AppError;
use crate::web::auth::{AuditCtx, CurrentOperator};
use crate::web::forms::FormErrors;
use crate::web::page::{Page, render_page, render_with_status};
use crate::web::page_ctx::{PageCtx, redirect_with_flash};

#[derive(Template)]
#[template(path = "console/security.html")]
struct SecurityPage {
    page: Page,
    form: LimitsForm,
    errors: FormErrors,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct LimitsForm {
    #[serde(default)]
    login_per_account: String,
    #[serde(default)]
    login_per_address: String,
    #[serde(default)]
    api_per_credential: String,
    #[serde(default)]
    api_per_address: String,
}

impl LimitsForm {
    fn of(l: RateLimits) -> Self {
        Self {
            login_per_account: l.login_per_account.to_string(),
            login_per_address: l.login_per_address.to_string(),
            api_per_credential: l.api_per_credential.to_string(),
            api_per_address: l.api_per_address.to_string(),
        }
    }

    fn parse(&self, page: &Page) -> Result<RateLimits, FormErrors> {
        let mut errors = FormErrors::new();
        let mut field = |name: &'static str, text: &str, (lo, hi): (u32, u32)| -> u32 {
            match text.trim().replace([',', ' ', '_'], "").parse::<u32>() {
                Ok(n) if (lo..=hi).contains(&n) => n,
                _ => {
                    errors.add(
                        name,
                        page.tf(
                            "limits.range",
                            &[
                                ("min", lo.to_string().as_str()),
                                ("max", hi.to_string().as_str()),
                            ],
                        ),
                    );
                    0
                }
            }
        };
        let l = RateLimits {
            login_per_account: field(
                "login_per_account",
                &self.login_per_account,
                RateLimits::LOGIN_PER_ACCOUNT,
            ),
            login_per_address: field(
                "login_per_address",
                &self.login_per_address,
                RateLimits::LOGIN_PER_ADDRESS,
            ),
            api_per_credential: field(
                "api_per_credential",
                &self.api_per_credential,
                RateLimits::API_PER_CREDENTIAL,
            ),
            api_per_address: field(
                "api_per_address",
                &self.api_per_address,
                RateLimits::API_PER_ADDRESS,
            ),
        };
        if errors.is_empty() {
            Ok(l)
        } else {
            Err(errors)
        }
    }
}

pub async fn show(
    State(state): State<AppState>,
    _op: CurrentOperator,
    page: PageCtx,
) -> Result<Response, AppError> {
    Ok(render_page(&SecurityPage {
        page: page.into_page(),
        form: LimitsForm::of(state.limits.limits()),
        errors: FormErrors::new(),
    }))
}

pub async fn save_limits(
    State(state): State<AppState>,
    op: CurrentOperator,
    session: Session,
    ctx: AuditCtx,
    page: PageCtx,
    Form(form): Form<LimitsForm>,
) -> Result<Response, AppError> {
    let page = page.into_page();
    let limits = match form.parse(&page) {
        Ok(l) => l,
        // What was typed stays in the form, next to its message; nothing is saved.
        Err(errors) => {
            return Ok(render_with_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                &SecurityPage { page, form, errors },
            ));
        }
    };
    let before = state.limits.limits();
    let c = Console::new(state.db.pool.clone(), op.actor(), ctx.0.clone());
    console::save_rate_limits(&c, &before, &limits).await?;
    state.limits.apply(limits);
    Ok(redirect_with_flash(&session, "saved", "/security").await)
}
