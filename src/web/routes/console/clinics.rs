//! `/clinics/new`, `POST /clinics`: an operator creates a clinic with its first clinic admin;
//! `POST /clinics/{slug}/suspend` and `/resume`.

use askama::Template;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use tower_sessions::Session;

use crate::app::AppState;
use crate::domain::console::{self, ClinicError, Console, CreatedClinic, NewClinicForm};
use crate::domain::tenants::{Hostname, TenantError, TenantStatus};
use crate::web::AppError;
use crate::web::auth::{AuditCtx, CurrentOperator};
use crate::web::extract::{Form, Path};
use crate::web::forms::FormErrors;
use crate::web::page::{Page, render_page, render_with_status};
use crate::web::page_ctx::{PageCtx, redirect_with_flash};

#[derive(Template)]
#[template(path = "console/clinic_new.html")]
struct NewClinicPage {
    page: Page,
    f: NewClinicForm,
    errors: FormErrors,
    base_domain: String,
}

impl NewClinicPage {
    fn slug_help(&self) -> String {
        self.page
            .tf("console.slug_help", &[("base", self.base_domain.as_str())])
    }
}

#[derive(Template)]
#[template(path = "console/clinic_created.html")]
struct CreatedPage {
    page: Page,
    c: CreatedClinic,
    hosts: Vec<String>,
    sign_in: String,
}

pub async fn new(
    State(state): State<AppState>,
    _op: CurrentOperator,
    page: PageCtx,
) -> Result<Response, AppError> {
    Ok(render_page(&NewClinicPage {
        page: page.into_page(),
        f: NewClinicForm::default(),
        errors: FormErrors::new(),
        base_domain: state.hosts.base_domain.to_string(),
    }))
}

/// Creates the clinic. The first admin's one-time password is on this response only (never
/// stored in the session, never cached), to hand over in person or by phone.
pub async fn create(
    State(state): State<AppState>,
    op: CurrentOperator,
    ctx: AuditCtx,
    page: PageCtx,
    Form(f): Form<NewClinicForm>,
) -> Result<Response, AppError> {
    let c = Console::new(state.db.pool.clone(), op.actor(), ctx.0.clone());
    match console::create_clinic(&c, &state.db, state.migrations, &state.hosts, &f).await {
        Ok(created) => {
            let sub = Hostname::subdomain(&created.tenant.slug, &state.hosts.base_domain);
            let mut hosts = vec![sub.to_string()];
            hosts.extend(
                f.hosts
                    .split(|ch: char| ch == ',' || ch.is_whitespace())
                    .filter_map(|h| Hostname::parse(h).ok())
                    .map(|h| h.to_string()),
            );
            hosts.dedup();
            let sign_in = state.config.url_of(sub.as_str(), "/login");
            let mut resp = render_with_status(
                StatusCode::CREATED,
                &CreatedPage {
                    page: page.into_page(),
                    c: created,
                    hosts,
                    sign_in,
                },
            );
            resp.headers_mut().insert(
                header::CACHE_CONTROL,
                header::HeaderValue::from_static("no-store"),
            );
            Ok(resp)
        }
        Err(ClinicError::Invalid(errors)) => Ok(render_with_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            &NewClinicPage {
                page: page.into_page(),
                f,
                errors,
                base_domain: state.hosts.base_domain.to_string(),
            },
        )),
        Err(e) => Err(fatal(e)),
    }
}

fn fatal(e: ClinicError) -> AppError {
    match e {
        ClinicError::Tenant(TenantError::NotFound(_)) => AppError::NotFound,
        ClinicError::Tenant(TenantError::Sql(e)) => e.into(),
        ClinicError::Tenant(e) => AppError::Internal(e.into()),
        ClinicError::Account(e) => AppError::Internal(anyhow::anyhow!("first admin: {e}")),
        ClinicError::Invalid(e) => AppError::Validation(e),
    }
}

async fn set_status(
    state: &AppState,
    op: &CurrentOperator,
    ctx: &AuditCtx,
    session: &Session,
    slug: &str,
    status: TenantStatus,
) -> Result<Response, AppError> {
    let c = Console::new(state.db.pool.clone(), op.actor(), ctx.0.clone());
    console::set_clinic_status(&c, slug, status)
        .await
        .map_err(fatal)?;
    let done = match status {
        TenantStatus::Suspended => "console.suspended_ok",
        TenantStatus::Active => "console.resumed_ok",
    };
    Ok(redirect_with_flash(session, done, "/")
        .await
        .into_response())
}

pub async fn suspend(
    State(state): State<AppState>,
    op: CurrentOperator,
    ctx: AuditCtx,
    session: Session,
    Path(slug): Path<String>,
) -> Result<Response, AppError> {
    set_status(&state, &op, &ctx, &session, &slug, TenantStatus::Suspended).await
}

pub async fn resume(
    State(state): State<AppState>,
    op: CurrentOperator,
    ctx: AuditCtx,
    session: Session,
    Path(slug): Path<String>,
) -> Result<Response, AppError> {
    set_status(&state, &op, &ctx, &session, &slug, TenantStatus::Active).await
}
