//! The one render path for HTML: every page carries a `Page` (site name, language, theme,
//! assets) and goes through `render_page`, which sets the content type. Security and cache
//! headers are added for every response by `middleware::security_headers`.

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::domain::tenants::Tenant;
use crate::i18n::{Lang, Tr};
use crate::web::assets;

/// Layout context shared by every page.
#[derive(Clone, Debug)]
pub struct Page {
    pub tr: Tr,
    pub site_name: String,
    /// `/theme.css?v=…` for clinic pages: the clinic's colours without inline styles (CSP).
    pub theme_url: Option<String>,
    /// `/logo?v=…` when the clinic has a logo (the header, the sign-in page, printouts).
    pub logo_url: Option<String>,
    pub request_id: String,
    pub is_console: bool,
    /// The session's CSRF token, put into every form (and a meta tag for htmx).
    pub csrf: String,
    /// Navigation for a signed-in person.
    pub nav: Option<Nav>,
    /// A one-line notice carried over from the previous request.
    pub flash: Option<String>,
    /// The patient search box in the header (staff who may see patients).
    pub search: bool,
    pub search_q: String,
    /// When the page was printed, in the clinic's zone, for the letterhead of a printout.
    pub printed: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Nav {
    pub user_name: String,
    pub links: Vec<NavLink>,
}

#[derive(Clone, Debug)]
pub struct NavLink {
    pub href: &'static str,
    pub label: &'static str,
    pub active: bool,
}

impl Page {
    /// A page of a site called `site_name`, before the request's CSRF token, navigation and
    /// flash are added.
    fn base(site_name: String, request_id: &str, theme_url: Option<String>, console: bool) -> Self {
        Self {
            tr: Tr::new(Lang::En),
            site_name,
            theme_url,
            logo_url: None,
            request_id: request_id.to_owned(),
            is_console: console,
            csrf: String::new(),
            nav: None,
            flash: None,
            search: false,
            search_q: String::new(),
            printed: None,
        }
    }

    /// The letterhead of a printout says when (now, in the clinic's zone `tz`).
    pub fn printed_at(mut self, now: chrono::DateTime<chrono::Utc>, tz: chrono_tz::Tz) -> Self {
        self.printed = Some(now.with_timezone(&tz).format("%d %b %Y %H:%M").to_string());
        self
    }

    pub fn for_clinic(t: &Tenant, request_id: &str) -> Self {
        let mut p = Self::base(
            t.display_name.clone(),
            request_id,
            Some(theme_url(t)),
            false,
        );
        p.logo_url = crate::domain::settings::branding::logo_url(&t.branding);
        p
    }

    pub fn for_console(request_id: &str) -> Self {
        Self::base(
            crate::i18n::en("console.title").to_owned(),
            request_id,
            None,
            true,
        )
    }

    /// For pages outside any site (unknown host).
    pub fn plain(request_id: &str) -> Self {
        Self::base(
            crate::i18n::en("app.name").to_owned(),
            request_id,
            None,
            false,
        )
    }

    pub fn t<'a>(&self, key: &'a str) -> &'a str {
        self.tr.t(key)
    }

    pub fn tf(&self, key: &str, args: &[(&str, &str)]) -> String {
        self.tr.tf(key, args)
    }

    /// A field error or other message made by `i18n::msg` (or a bare key).
    pub fn message(&self, m: &str) -> String {
        self.tr.message(m)
    }

    pub fn lang(&self) -> &'static str {
        self.tr.lang.code()
    }

    pub fn asset(&self, name: &str) -> String {
        assets::url(name)
    }
}

/// A short hash of the branding so the stylesheet URL changes when the colours do.
fn theme_url(t: &Tenant) -> String {
    use sha2::Digest;
    let h = sha2::Sha256::digest(t.branding.primary_color.as_bytes());
    format!("/theme.css?v={}", hex::encode(&h[..4]))
}

/// Renders a template as an HTML response (200).
pub fn render_page<T: Template>(t: &T) -> Response {
    render_with_status(StatusCode::OK, t)
}

/// A form page's status: 200, or 422 when it shows errors.
pub fn form_status(errors: &crate::web::forms::FormErrors) -> StatusCode {
    if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    }
}

/// A page shown again after a refusal (409) or with field errors (422), else 200.
pub fn outcome_status(
    refusal: &Option<String>,
    errors: &crate::web::forms::FormErrors,
) -> StatusCode {
    if refusal.is_some() {
        StatusCode::CONFLICT
    } else {
        form_status(errors)
    }
}

pub fn render_with_status<T: Template>(status: StatusCode, t: &T) -> Response {
    match t.render() {
        Ok(body) => (
            status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            )],
            body,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template rendering failed");
            crate::web::AppError::Internal(anyhow::anyhow!("template: {e}")).into_response()
        }
    }
}
