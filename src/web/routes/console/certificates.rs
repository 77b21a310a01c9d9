//! `/certificates`: HTTPS status per host (why a host is still pending, when it renews), a
//! "renew now" button, and the HSTS policy.

use crate::web::extract::Form;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use tower_sessions::Session;

use crate::app::AppState;
use crate::config::TlsMode;
use crate::domain::console::{self, Console};
use crate::domain::settings::Hsts;
use crate::tls::certs::CertInfo;
use crate::tls::repo::{self, OrderRow};
use crate::tls::status::{self, HostStatus};
use crate::web::AppError;
use crate::web::auth::{AuditCtx, CurrentOperator};
use crate::web::forms::FormErrors;
use crate::web::page::{Page, render_page, render_with_status};
use crate::web::page_ctx::{PageCtx, redirect_with_flash};

#[derive(Template)]
#[template(path = "console/certificates.html")]
struct CertificatesPage {
    page: Page,
    mode: &'static str,
    directory: String,
    hosts: Vec<HostStatus>,
    manual: Vec<CertInfo>,
    orders: Vec<OrderRow>,
    hsts: Hsts,
    errors: FormErrors,
}

impl CertificatesPage {
    fn state_name(s: &HostStatus) -> &'static str {
        match s.state {
            status::State::Valid => "valid",
            status::State::Renewing => "renewing",
            status::State::Pending => "pending",
            status::State::Expired => "expired",
        }
    }

    fn state_key(s: &HostStatus) -> String {
        format!("certs.state_{}", Self::state_name(s))
    }

    fn date(t: &Option<chrono::DateTime<chrono::Utc>>) -> String {
        t.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or_else(|| "–".into())
    }

    fn days(d: &Option<f64>) -> String {
        d.map(|d| format!("{d:.0}")).unwrap_or_else(|| "–".into())
    }
}

async fn load(
    state: &AppState,
    page: Page,
    hsts: Hsts,
    errors: FormErrors,
) -> Result<CertificatesPage, AppError> {
    let now = state.clock.now();
    let (mode, hosts, orders) = match state.config.tls.mode {
        TlsMode::Acme => (
            "acme",
            status::collect(&state.db, &state.hosts, now)
                .await
                .map_err(AppError::Internal)?,
            repo::orders(&state.db.pool, None, 20).await?,
        ),
        TlsMode::Manual => ("manual", Vec::new(), Vec::new()),
        TlsMode::Off => ("off", Vec::new(), Vec::new()),
    };
    let manual = state
        .tls()
        .map(|t| t.store.manual_infos())
        .unwrap_or_default();
    Ok(CertificatesPage {
        page,
        mode,
        directory: state.config.tls.acme_directory.clone(),
        hosts,
        manual,
        orders,
        hsts,
        errors,
    })
}

pub async fn show(
    State(state): State<AppState>,
    _op: CurrentOperator,
    page: PageCtx,
) -> Result<Response, AppError> {
    let hsts = Hsts::load(&state.db.pool).await?;
    let p = load(&state, page.into_page(), hsts, FormErrors::new()).await?;
    Ok(render_page(&p))
}

#[derive(Deserialize)]
pub struct RenewForm {
    #[serde(default)]
    host: String,
}

pub async fn renew(
    State(state): State<AppState>,
    op: CurrentOperator,
    session: Session,
    ctx: AuditCtx,
    Form(form): Form<RenewForm>,
) -> Result<Response, AppError> {
    if state.config.tls.mode != TlsMode::Acme {
        return Err(AppError::BadRequest(
            "certificates are renewed automatically only in tls.mode = \"acme\"".into(),
        ));
    }
    let known = crate::tls::renewal::known_hosts(&state.db, &state.hosts)
        .await
        .map_err(|e| AppError::Internal(e.into()))?;
    let host = form.host.trim().to_ascii_lowercase();
    if !known.contains(&host) {
        return Err(AppError::NotFound);
    }
    let c = Console::new(state.db.pool.clone(), op.actor(), ctx.0.clone());
    console::request_renewal(&c, &host).await?;
    if let Some(tls) = state.tls() {
        tls.wake.notify_one();
    }
    Ok(redirect_with_flash(&session, "renew_requested", "/certificates").await)
}

#[derive(Deserialize)]
pub struct HstsForm {
    #[serde(default)]
    max_age: String,
    #[serde(default)]
    include_subdomains: Option<String>,
}

pub async fn save_hsts(
    State(state): State<AppState>,
    op: CurrentOperator,
    session: Session,
    ctx: AuditCtx,
    page: PageCtx,
    Form(form): Form<HstsForm>,
) -> Result<Response, AppError> {
    let mut errors = FormErrors::new();
    let max_age = match form.max_age.trim().parse::<i64>() {
        Ok(n) if (0..=Hsts::MAX_AGE_LIMIT).contains(&n) => n,
        _ => {
            errors.add("max_age", "invalid.hsts_max_age");
            0
        }
    };
    let hsts = Hsts {
        max_age,
        include_subdomains: form.include_subdomains.is_some(),
    };
    if !errors.is_empty() {
        let p = load(&state, page.into_page(), hsts, errors).await?;
        return Ok(render_with_status(StatusCode::UNPROCESSABLE_ENTITY, &p));
    }
    let before = Hsts::load(&state.db.pool).await?;
    let c = Console::new(state.db.pool.clone(), op.actor(), ctx.0.clone());
    console::save_hsts(&c, &before, &hsts).await?;
    if let Some(tls) = state.tls() {
        tls.set_hsts(hsts);
    }
    Ok(redirect_with_flash(&session, "saved", "/certificates").await)
}
