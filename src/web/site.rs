//! Which site a request is for, by Host: the console, a clinic, or nothing (404).
//!
//! On `/api/` paths `X-Tenant-ID` may name the clinic: on a clinic's host it must agree with
//! the host; on the console host it selects the clinic (credentials must then belong to it).

use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderName, header};
use axum::response::{IntoResponse, Response};
use tower::ServiceExt;

use crate::app::AppState;
use crate::domain::tenants::{self, Site, Slug, Tenant, TenantStatus};
use crate::web::AppError;

pub static X_TENANT_ID: HeaderName = HeaderName::from_static("x-tenant-id");

/// The clinic the current request is for. Present on every clinic route.
#[derive(Clone, Debug)]
pub struct CurrentTenant(pub Arc<Tenant>);

impl std::ops::Deref for CurrentTenant {
    type Target = Tenant;
    fn deref(&self) -> &Tenant {
        &self.0
    }
}

impl<S: Send + Sync> FromRequestParts<S> for CurrentTenant {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        parts
            .extensions
            .get::<CurrentTenant>()
            .cloned()
            .ok_or(AppError::NotFound)
    }
}

/// Extractor: the host the client addressed (lowercased, without port).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestHost(pub String);

impl<S: Send + Sync> FromRequestParts<S> for RequestHost {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        host_of(&parts.uri, &parts.headers)
            .map(Self)
            .ok_or_else(|| AppError::BadRequest("missing Host header".into()))
    }
}

fn host_of(uri: &axum::http::Uri, headers: &axum::http::HeaderMap) -> Option<String> {
    let raw = uri.authority().map(|a| a.host().to_owned()).or_else(|| {
        headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_owned)
    })?;
    let host = if raw.starts_with('[') {
        raw.split(']').next().map(|s| format!("{s}]"))?
    } else {
        raw.split(':').next()?.to_owned()
    };
    Some(host.to_ascii_lowercase())
}

/// Put on responses so that error pages can be branded for the clinic.
#[derive(Clone, Debug)]
pub struct ResponseSite(pub Option<Arc<Tenant>>);

/// The request's host name without port, lowercased. HTTP/2 carries it in `:authority`.
pub fn request_host(req: &Request) -> Option<String> {
    host_of(req.uri(), req.headers())
}

/// `host[:port]` as the client addressed it, lowercased: compared with `Origin`.
pub fn request_host_with_port(req: &Request) -> Option<String> {
    req.uri()
        .authority()
        .map(|a| a.as_str().to_owned())
        .or_else(|| {
            req.headers()
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .map(str::to_owned)
        })
        .map(|h| h.to_ascii_lowercase())
}

#[derive(Clone)]
pub struct Dispatch {
    state: AppState,
    console: Router,
    clinic: Router,
}

impl Dispatch {
    pub fn service(
        state: AppState,
        console: Router,
        clinic: Router,
    ) -> impl tower::Service<
        Request,
        Response = Response,
        Error = Infallible,
        Future = impl Future<Output = Result<Response, Infallible>> + Send,
    > + Clone
    + Send
    + 'static {
        let d = Arc::new(Self {
            state,
            console,
            clinic,
        });
        tower::service_fn(move |req: Request| {
            let d = d.clone();
            async move { Ok::<_, Infallible>(d.route(req).await) }
        })
    }

    async fn route(&self, mut req: Request) -> Response {
        let Some(host) = request_host(&req) else {
            return AppError::NotFound.into_response();
        };
        let site = match tenants::resolve_host(&self.state.db, &self.state.hosts, &host).await {
            Ok(s) => s,
            Err(e) => return AppError::from(e).into_response(),
        };
        let is_api = req.uri().path().starts_with("/api/");
        let header_slug = if is_api {
            match req.headers().get(&X_TENANT_ID) {
                None => None,
                Some(v) => match v.to_str().ok().and_then(|s| Slug::parse(s.trim()).ok()) {
                    Some(s) => Some(s),
                    None => {
                        return AppError::BadRequest(
                            "X-Tenant-ID is not a valid clinic slug".into(),
                        )
                        .into_response();
                    }
                },
            }
        } else {
            None
        };
        let tenant = match (site, header_slug) {
            (Site::Unknown, _) => return AppError::NotFound.into_response(),
            (Site::Console, None) => {
                return self.console.clone().oneshot(req).await.into_response();
            }
            (Site::Console, Some(slug)) => match tenants::find(&self.state.db, &slug).await {
                Ok(t) => t,
                Err(tenants::TenantError::NotFound(_)) => {
                    return AppError::NotFound.into_response();
                }
                Err(e) => return AppError::Internal(e.into()).into_response(),
            },
            (Site::Clinic(t), Some(slug)) if t.slug != slug => {
                return AppError::BadRequest(
                    "X-Tenant-ID does not match the clinic this host belongs to".into(),
                )
                .into_response();
            }
            (Site::Clinic(t), _) => t,
        };
        let tenant = Arc::new(tenant);
        let mut resp = if tenant.status == TenantStatus::Suspended {
            AppError::Suspended.into_response()
        } else {
            req.extensions_mut().insert(CurrentTenant(tenant.clone()));
            self.clinic.clone().oneshot(req).await.into_response()
        };
        resp.extensions_mut().insert(ResponseSite(Some(tenant)));
        resp
    }
}
