//! `PageCtx`: the `Page` for the current request, built from the site, the signed-in person
//! and the session (CSRF token, flash message). Handlers take it as an extractor.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use tower_sessions::Session;

use crate::app::AppState;
use crate::domain::auth::Permission;
use crate::web::AppError;
use crate::web::auth::{OperatorIdentity, StaffIdentity};
use crate::web::middleware::RequestId;
use crate::web::page::{Nav, NavLink, Page};
use crate::web::session::{self, SessionState};
use crate::web::site::CurrentTenant;

pub struct PageCtx(pub Page);

impl std::ops::Deref for PageCtx {
    type Target = Page;
    fn deref(&self) -> &Page {
        &self.0
    }
}

impl PageCtx {
    pub fn into_page(self) -> Page {
        self.0
    }
}

/// Messages set by one request and shown once by the next, as i18n keys.
/// A redirect to `to` that shows the notice `key` on the next page (303).
pub async fn redirect_with_flash(
    session: &Session,
    key: &str,
    to: &str,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    set_flash(session, key).await;
    axum::response::Redirect::to(to).into_response()
}

pub async fn set_flash(session: &Session, key: &str) {
    if let Some(mut st) = session::load(session).await {
        st.flash = Some(key.to_owned());
        let _ = session::store(session, &st).await;
    }
}

fn clinic_nav(user: &StaffIdentity, path: &str) -> Nav {
    let mut links = vec![NavLink {
        href: "/",
        label: "nav.home",
        active: path == "/",
    }];
    if user.can(Permission::AppointmentsRead) {
        links.push(NavLink {
            href: "/today",
            label: "nav.today",
            active: path == "/today",
        });
        links.push(NavLink {
            href: "/schedule/day",
            label: "nav.schedule",
            active: path.starts_with("/schedule") || path.starts_with("/appointments"),
        });
    }
    if user.can(Permission::PatientsRead) {
        links.push(NavLink {
            href: "/patients",
            label: "nav.patients",
            active: path.starts_with("/patients"),
        });
    }
    if user.can(Permission::InvoicesRead) {
        links.push(NavLink {
            href: "/billing",
            label: "nav.billing",
            active: path.starts_with("/billing")
                || path.starts_with("/invoices")
                || path.starts_with("/payments")
                || path.starts_with("/shifts"),
        });
    }
    if user.can(Permission::ReportsRead) {
        links.push(NavLink {
            href: "/reports",
            label: "nav.reports",
            active: path.starts_with("/reports"),
        });
    }
    if user.can(Permission::UsersManage)
        || user.can(Permission::SettingsManage)
        || user.can(Permission::AuditRead)
    {
        links.push(NavLink {
            href: "/settings",
            label: "nav.settings",
            active: path.starts_with("/settings"),
        });
    }
    links.push(NavLink {
        href: "/account",
        label: "nav.account",
        active: path.starts_with("/account"),
    });
    Nav {
        user_name: user.display_name.clone(),
        links,
    }
}

fn console_nav(op: &OperatorIdentity, path: &str) -> Nav {
    Nav {
        user_name: op.display_name.clone(),
        links: vec![
            NavLink {
                href: "/",
                label: "console.clinics",
                active: path == "/",
            },
            NavLink {
                href: "/certificates",
                label: "certs.title",
                active: path.starts_with("/certificates"),
            },
            NavLink {
                href: "/backups",
                label: "backups.title",
                active: path.starts_with("/backups"),
            },
            NavLink {
                href: "/compliance",
                label: "compliance.title",
                active: path.starts_with("/compliance"),
            },
            NavLink {
                href: "/security",
                label: "limits.title",
                active: path.starts_with("/security"),
            },
            NavLink {
                href: "/account",
                label: "nav.account",
                active: path.starts_with("/account"),
            },
        ],
    }
}

impl FromRequestParts<AppState> for PageCtx {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let rid = parts
            .extensions
            .get::<RequestId>()
            .map(|r| r.0.clone())
            .unwrap_or_default();
        let tenant = parts.extensions.get::<CurrentTenant>().cloned();
        let path = parts.uri.path().to_owned();
        let mut page = match &tenant {
            Some(t) => Page::for_clinic(t, &rid),
            None => Page::for_console(&rid),
        };
        if let Some(u) = parts.extensions.get::<StaffIdentity>() {
            page.nav = Some(clinic_nav(u, &path));
            page.search = u.can(Permission::PatientsRead);
            if path == "/patients" {
                page.search_q = parts
                    .uri
                    .query()
                    .and_then(|q| {
                        url::form_urlencoded::parse(q.as_bytes())
                            .find(|(k, _)| k == "q")
                            .map(|(_, v)| v.into_owned())
                    })
                    .unwrap_or_default();
            }
        } else if let Some(o) = parts.extensions.get::<OperatorIdentity>() {
            page.nav = Some(console_nav(o, &path));
        }
        let session = Session::from_request_parts(parts, state)
            .await
            .map_err(|_| AppError::Internal(anyhow::anyhow!("session layer missing")))?;
        let mut st = session::load(&session)
            .await
            .unwrap_or_else(|| SessionState {
                tenant: tenant.as_ref().map(|t| t.id),
                ..SessionState::default()
            });
        let mut dirty = false;
        if st.csrf.is_empty() {
            st.csrf = session::new_csrf();
            dirty = true;
        }
        if let Some(key) = st.flash.take() {
            // A bare name is a notice of `[flash]`; anything else an i18n message (a refusal).
            page.flash = Some(if key.contains('.') {
                page.message(&key)
            } else {
                page.t(&format!("flash.{key}")).to_owned()
            });
            dirty = true;
        }
        if dirty {
            session::store(&session, &st)
                .await
                .map_err(|e| AppError::Internal(anyhow::anyhow!("session: {e}")))?;
        }
        page.csrf = st.csrf;
        Ok(PageCtx(page))
    }
}
