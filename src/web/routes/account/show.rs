//! `GET /account`

use askama::Template;
use axum::extract::State;
use axum::response::Response;

use crate::app::AppState;
use crate::domain::auth::{TokenRow, signin};
use crate::web::AppError;
use crate::web::auth::{ClinicSecurity, SignedIn};
use crate::web::forms::FormErrors;
use crate::web::page::{Page, render_page};
use crate::web::page_ctx::PageCtx;
use crate::web::realm::Realm;

#[derive(Template)]
#[template(path = "account/show.html")]
pub struct AccountPage {
    pub page: Page,
    pub me: SignedIn,
    pub is_staff: bool,
    pub mfa_required: bool,
    pub recovery_codes_left: i64,
    pub tokens: Vec<TokenRow>,
    pub now: chrono::DateTime<chrono::Utc>,
    pub token_errors: FormErrors,
    pub token_name: String,
}

impl AccountPage {
    pub fn role_label(&self) -> String {
        self.me
            .role
            .map(|r| self.page.t(&format!("role.{}", r.as_str())).to_owned())
            .unwrap_or_else(|| self.page.t("console.operator").to_owned())
    }
}

pub async fn load(
    state: &AppState,
    realm: &Realm,
    me: SignedIn,
    page: Page,
    security: Option<ClinicSecurity>,
) -> Result<AccountPage, AppError> {
    let ctx = crate::domain::audit::Context::system(state.clock.now());
    let (recovery_codes_left, tokens) = signin::overview(
        &realm.domain(state, &ctx),
        me.id,
        me.mfa_enabled,
        matches!(realm, Realm::Clinic(_)),
    )
    .await?;
    let mfa_required = match (me.role, security) {
        (Some(role), Some(s)) => s.0.mfa_policy.requires(role),
        _ => false,
    };
    Ok(AccountPage {
        page,
        is_staff: matches!(realm, Realm::Clinic(_)),
        me,
        mfa_required,
        recovery_codes_left,
        tokens,
        now: state.clock.now(),
        token_errors: FormErrors::new(),
        token_name: String::new(),
    })
}

pub async fn show(
    State(state): State<AppState>,
    realm: Realm,
    me: SignedIn,
    page: PageCtx,
    ext: axum::http::Extensions,
) -> Result<Response, AppError> {
    let security = ext.get::<ClinicSecurity>().cloned();
    let p = load(&state, &realm, me, page.into_page(), security).await?;
    Ok(render_page(&p))
}
