//! `/clinics/new`, `POST /clinics`: an operator creates a clinic with its first clinic admin;
//! `/clinics/{slug}`: one clinic, with `POST …/suspend`, `…/resume`, `…/export` (its archive,
//! downloaded) and `…/delete` (after typing the slug again, a dump taken first); the clinic's
//! own domains with `POST …/hosts`, `…/hosts/remove` and a live DNS check (`?dns=host`).

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use tower_sessions::Session;

use crate::app::AppState;
use crate::domain::console::{self, ClinicError, Console, CreatedClinic, NewClinicForm};
use crate::domain::settings::plan::Limits as PlanLimits;
use crate::domain::tenants::{Hostname, Slug, TenantError, TenantStatus, TenantSummary};
use crate::ops::dashboard::{self, Usage};
use crate::tls::preflight::{DnsCheck, Preflight};
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
    let c = console_of(&state, &op, &ctx);
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

/// The signed-in operator acting on the installation.
fn console_of(state: &AppState, op: &CurrentOperator, ctx: &AuditCtx) -> Console {
    Console::new(state.db.pool.clone(), op.actor(), ctx.0.clone())
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
    let c = console_of(state, op, ctx);
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

#[derive(Template)]
#[template(path = "console/clinic.html")]
struct ClinicPage {
    page: Page,
    c: TenantSummary,
    usage: Option<Usage>,
    limits: LimitsForm,
    /// The installation's document quota, in MiB (when the clinic sets none).
    default_quota_mb: u64,
    confirm: String,
    /// The clinic's own domains (not its `<slug>.<base>` name).
    custom_hosts: Vec<String>,
    console_host: String,
    host: String,
    dns: Option<DnsCheck>,
    errors: FormErrors,
    message: Option<String>,
}

impl ClinicPage {
    fn dns_of(&self, host: &str) -> Option<&DnsCheck> {
        self.dns.as_ref().filter(|d| d.host == host)
    }
    fn dns_text(&self, d: &DnsCheck) -> String {
        let found = d.found.join(", ");
        let expected = d.expected.join(", ");
        let error = d.error.clone().unwrap_or_default();
        self.page.tf(
            &format!("console.dns_{}", d.state.as_str()),
            &[
                ("host", d.host.as_str()),
                ("found", found.as_str()),
                ("expected", expected.as_str()),
                ("console", self.console_host.as_str()),
                ("error", error.as_str()),
            ],
        )
    }
    fn remove_confirm(&self, host: &str) -> String {
        self.page
            .tf("console.host_remove_confirm", &[("host", host)])
    }
    fn bytes(&self, n: &i64) -> String {
        dashboard::human(*n)
    }
    fn status_label(&self) -> String {
        self.page
            .t(&format!("status.{}", self.c.tenant.status.as_str()))
            .to_owned()
    }
    fn created(&self) -> String {
        self.c
            .tenant
            .created_at
            .format("%Y-%m-%d %H:%M UTC")
            .to_string()
    }
    fn suspend_confirm(&self) -> String {
        self.page.tf(
            "console.suspend_confirm",
            &[("name", self.c.tenant.display_name.as_str())],
        )
    }
    fn quota_help(&self) -> String {
        self.page.tf(
            "console.plan_documents_help",
            &[("mb", self.default_quota_mb.to_string().as_str())],
        )
    }
    fn delete_help(&self) -> String {
        self.page.tf(
            "console.delete_help",
            &[("slug", self.c.tenant.slug.as_str())],
        )
    }
}

async fn summary(state: &AppState, slug: &str) -> Result<TenantSummary, AppError> {
    let slug = Slug::parse(slug).map_err(|_| AppError::NotFound)?;
    crate::domain::tenants::list(&state.db, &state.hosts)
        .await
        .map_err(|e| AppError::Internal(e.into()))?
        .into_iter()
        .find(|s| s.tenant.slug == slug)
        .ok_or(AppError::NotFound)
}

/// The plan limits form, as typed or as stored.
#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct LimitsForm {
    #[serde(default)]
    max_staff: String,
    #[serde(default)]
    max_document_mb: String,
}

impl LimitsForm {
    fn of(l: &PlanLimits) -> Self {
        let text = |v: Option<i64>| v.map(|n| n.to_string()).unwrap_or_default();
        Self {
            max_staff: text(l.max_staff),
            max_document_mb: text(l.max_document_mb),
        }
    }
}

/// What the clinic page shows besides the clinic: the limits as typed (after an error), the
/// slug typed for deleting, field errors, a refusal.
#[derive(Default)]
struct Shown {
    typed: Option<LimitsForm>,
    confirm: String,
    /// The hostname typed into "Add a hostname" (after an error).
    host: String,
    /// A DNS check of one of the clinic's own domains.
    dns: Option<DnsCheck>,
    errors: FormErrors,
    message: Option<String>,
}

async fn render_clinic(
    state: &AppState,
    console: &Console,
    page: PageCtx,
    slug: &str,
    shown: Shown,
) -> Result<Response, AppError> {
    let c = summary(state, slug).await?;
    let usage = dashboard::usage(&state.db, &c).await.ok();
    let limits = match shown.typed {
        Some(f) => f,
        None => {
            let clinic = console::in_clinic(console, &state.db, &c.tenant);
            LimitsForm::of(&crate::domain::settings::plan::of(&clinic).await?)
        }
    };
    let Shown {
        confirm,
        host,
        dns,
        errors,
        message,
        ..
    } = shown;
    let own = Hostname::subdomain(&c.tenant.slug, &state.hosts.base_domain).to_string();
    let custom_hosts = c.hosts.iter().filter(|h| **h != own).cloned().collect();
    let status = crate::web::page::outcome_status(&message, &errors);
    Ok(render_with_status(
        status,
        &ClinicPage {
            page: page.into_page(),
            c,
            usage,
            limits,
            default_quota_mb: state.config.storage.document_quota_mb,
            confirm,
            custom_hosts,
            console_host: state.hosts.console_host.to_string(),
            host,
            dns,
            errors,
            message,
        },
    ))
}

/// `POST /clinics/{slug}/limits`: the clinic's plan limits (empty: none).
pub async fn save_limits(
    State(state): State<AppState>,
    op: CurrentOperator,
    ctx: AuditCtx,
    session: Session,
    page: PageCtx,
    Path(slug): Path<String>,
    Form(f): Form<LimitsForm>,
) -> Result<Response, AppError> {
    let c = console_of(&state, &op, &ctx);
    match console::save_plan_limits(&c, &state.db, &slug, &f.max_staff, &f.max_document_mb).await {
        Ok(_) => Ok(
            redirect_with_flash(&session, "saved", &format!("/clinics/{slug}"))
                .await
                .into_response(),
        ),
        Err(ClinicError::Invalid(errors)) => {
            let shown = Shown {
                typed: Some(f),
                errors,
                ..Shown::default()
            };
            render_clinic(&state, &c, page, &slug, shown).await
        }
        Err(e) => Err(fatal(e)),
    }
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct ShowQuery {
    /// One of the clinic's own domains, to look up in DNS now.
    #[serde(default)]
    dns: Option<String>,
}

/// `GET /clinics/{slug}[?dns=host]`.
pub async fn show(
    State(state): State<AppState>,
    op: CurrentOperator,
    ctx: AuditCtx,
    page: PageCtx,
    Path(slug): Path<String>,
    Query(q): Query<ShowQuery>,
) -> Result<Response, AppError> {
    let c = console_of(&state, &op, &ctx);
    let mut shown = Shown::default();
    if let Some(host) = q.dns {
        // Only a name the clinic has: the lookup is not an open resolver.
        let s = summary(&state, &slug).await?;
        if s.hosts.contains(&host) {
            shown.dns = Some(dns_check(&state, &host).await?);
        }
    }
    render_clinic(&state, &c, page, &slug, shown).await
}

async fn dns_check(state: &AppState, host: &str) -> Result<DnsCheck, AppError> {
    let p = Preflight::new(
        state.config.tls.preflight_resolver,
        state.config.server.http_listen.port(),
    )
    .map_err(|e| AppError::Internal(anyhow::anyhow!(e)))?;
    Ok(p.dns_check(state.hosts.console_host.as_str(), host).await)
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct HostForm {
    #[serde(default)]
    host: String,
}

fn clinic_url(slug: &str, dns: Option<&str>) -> String {
    match dns {
        Some(h) => format!(
            "/clinics/{slug}?dns={}#hosts",
            url::form_urlencoded::byte_serialize(h.as_bytes()).collect::<String>()
        ),
        None => format!("/clinics/{slug}#hosts"),
    }
}

/// `POST /clinics/{slug}/hosts`: adds one of the clinic's own domains, then shows its DNS
/// check. A refused name stays in the field with the reason next to it.
pub async fn add_host(
    State(state): State<AppState>,
    op: CurrentOperator,
    ctx: AuditCtx,
    session: Session,
    page: PageCtx,
    Path(slug): Path<String>,
    Form(f): Form<HostForm>,
) -> Result<Response, AppError> {
    let c = console_of(&state, &op, &ctx);
    let s = summary(&state, &slug).await?;
    match console::add_clinic_host(&c, &state.hosts, &s.tenant, &f.host).await {
        Ok(h) => Ok(redirect_with_flash(
            &session,
            "host_added",
            &clinic_url(s.tenant.slug.as_str(), Some(h.as_str())),
        )
        .await
        .into_response()),
        Err(ClinicError::Invalid(errors)) => {
            let shown = Shown {
                host: f.host,
                errors,
                ..Shown::default()
            };
            render_clinic(&state, &c, page, &slug, shown).await
        }
        Err(e) => Err(fatal(e)),
    }
}

/// `POST /clinics/{slug}/hosts/remove`.
pub async fn remove_host(
    State(state): State<AppState>,
    op: CurrentOperator,
    ctx: AuditCtx,
    session: Session,
    Path(slug): Path<String>,
    Form(f): Form<HostForm>,
) -> Result<Response, AppError> {
    let c = console_of(&state, &op, &ctx);
    let s = summary(&state, &slug).await?;
    let gone = console::remove_clinic_host(&c, &s.tenant, f.host.trim())
        .await
        .map_err(fatal)?;
    let flash = if gone { "host_removed" } else { "host_unknown" };
    Ok(
        redirect_with_flash(&session, flash, &clinic_url(s.tenant.slug.as_str(), None))
            .await
            .into_response(),
    )
}

/// `POST /clinics/{slug}/export`: makes the clinic's archive (encrypted as backups are) and
/// sends it as a download; the file also stays in the backup directory.
pub async fn export(
    State(state): State<AppState>,
    op: CurrentOperator,
    ctx: AuditCtx,
    page: PageCtx,
    Path(slug): Path<String>,
) -> Result<Response, AppError> {
    let c = summary(&state, &slug).await?;
    let bctx = crate::ops::backup::Ctx {
        db: &state.db,
        config: &state.config,
        secrets: &state.secrets,
        now: state.clock.now(),
    };
    let made = crate::ops::backup::create::create(
        &bctx,
        "export",
        Some(&c.tenant.slug),
        None,
        &crate::ops::backup::Quiet,
    )
    .await;
    let console = console_of(&state, &op, &ctx);
    let details = match &made {
        Ok(m) => serde_json::json!({
            "slug": c.tenant.slug, "bytes": m.bytes, "file": m.path, "via": "console",
        }),
        Err(e) => {
            serde_json::json!({ "slug": c.tenant.slug, "error": e.to_string(), "via": "console" })
        }
    };
    console::clinic_exported(&console, &c.tenant, made.is_ok(), details).await?;
    let made = match made {
        Ok(m) => m,
        Err(e) => {
            tracing::warn!(tenant = %c.tenant.slug, error = %e, "export from the console failed");
            let m = crate::i18n::msg("console.export_failed", &[("error", &e)]);
            let shown = Shown {
                message: Some(m),
                ..Shown::default()
            };
            return render_clinic(&state, &console, page, &slug, shown).await;
        }
    };
    let file = tokio::fs::File::open(&made.path)
        .await
        .map_err(|e| AppError::Internal(e.into()))?;
    let name = made
        .path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| format!("{}.cbx", c.tenant.slug));
    let stream = futures::stream::unfold(file, |mut f| async move {
        use tokio::io::AsyncReadExt;
        let mut buf = vec![0u8; 64 * 1024];
        match f.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::io::Error>(axum::body::Bytes::from(buf)), f))
            }
            Err(e) => Some((Err(e), f)),
        }
    });
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}\"", name.replace('"', "")),
            ),
            (header::CONTENT_LENGTH, made.bytes.to_string()),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        axum::body::Body::from_stream(stream),
    )
        .into_response())
}

#[derive(serde::Deserialize)]
pub struct DeleteForm {
    #[serde(default)]
    confirm: String,
}

/// `POST /clinics/{slug}/delete`: the slug typed again; the clinic's dump is written before
/// anything is dropped.
pub async fn delete(
    State(state): State<AppState>,
    op: CurrentOperator,
    ctx: AuditCtx,
    session: Session,
    page: PageCtx,
    Path(slug): Path<String>,
    Form(f): Form<DeleteForm>,
) -> Result<Response, AppError> {
    let c = console_of(&state, &op, &ctx);
    match console::delete_clinic(
        &c,
        &state.db,
        &state.config.database.url,
        &state.config.storage.data_dir,
        &slug,
        &f.confirm,
    )
    .await
    {
        Ok(_) => Ok(redirect_with_flash(&session, "console.deleted_ok", "/")
            .await
            .into_response()),
        Err(ClinicError::Invalid(errors)) => {
            let shown = Shown {
                confirm: f.confirm,
                errors,
                ..Shown::default()
            };
            render_clinic(&state, &c, page, &slug, shown).await
        }
        Err(ClinicError::Tenant(TenantError::Dump(why))) => {
            tracing::warn!(tenant = %slug, error = %why, "delete refused: no safety dump");
            let m = crate::i18n::msg("console.delete_failed", &[("error", &why)]);
            let shown = Shown {
                confirm: f.confirm,
                message: Some(m),
                ..Shown::default()
            };
            render_clinic(&state, &c, page, &slug, shown).await
        }
        Err(e) => Err(fatal(e)),
    }
}
