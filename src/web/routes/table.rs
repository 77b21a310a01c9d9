//! Route tables. Each area lists its routes once — method, path, who may use it, handler — in a
//! `routes()` function; the clinic router is made from those lists, and the tests walk the same
//! lists (cross-clinic access, permissions), so a new route is covered by being added.

use axum::Router;
use axum::extract::{Request, State};
use axum::handler::Handler;
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;

use crate::app::AppState;
use crate::domain::auth::Permission;
use crate::web::AppError;
use crate::web::auth::StaffIdentity;

/// Who may use a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone: the sign-in pages, the stylesheet, the API's description.
    Public,
    /// Any signed-in staff member: their own account, the start page. Checked before the
    /// request is read, like a permission.
    SignedIn,
    /// Staff whose role has the permission. Checked before anything of the request is read;
    /// without it the answer is 403 (and an `access.denied` audit row), signed out it is the
    /// sign-in page (401 on the API).
    Needs(Permission),
}

pub struct Route {
    pub method: Method,
    /// The full path, as the router matches it (`/patients/{id}`).
    pub path: &'static str,
    pub access: Access,
    /// A query string the route takes ids from (`patient={patient}`), for the tests to fill.
    pub query: Option<&'static str>,
    /// Takes a document upload: a body up to [`UPLOAD_BODY_CEILING`] instead of the usual
    /// limit.
    ///
    /// [`UPLOAD_BODY_CEILING`]: crate::web::routes::documents::UPLOAD_BODY_CEILING
    pub upload: bool,
    handler: MethodRouter<AppState>,
}

impl Route {
    fn new(method: Method, path: &'static str, access: Access, h: MethodRouter<AppState>) -> Self {
        Self {
            method,
            path,
            access,
            query: None,
            upload: false,
            handler: h,
        }
    }

    pub fn get<H: Handler<T, AppState>, T: 'static>(
        path: &'static str,
        access: Access,
        h: H,
    ) -> Self {
        Self::new(Method::GET, path, access, axum::routing::get(h))
    }

    pub fn post<H: Handler<T, AppState>, T: 'static>(
        path: &'static str,
        access: Access,
        h: H,
    ) -> Self {
        Self::new(Method::POST, path, access, axum::routing::post(h))
    }

    pub fn patch<H: Handler<T, AppState>, T: 'static>(
        path: &'static str,
        access: Access,
        h: H,
    ) -> Self {
        Self::new(Method::PATCH, path, access, axum::routing::patch(h))
    }

    pub fn delete<H: Handler<T, AppState>, T: 'static>(
        path: &'static str,
        access: Access,
        h: H,
    ) -> Self {
        Self::new(Method::DELETE, path, access, axum::routing::delete(h))
    }

    /// The ids this route reads from its query string, e.g. `patient={patient}`.
    pub fn query(mut self, q: &'static str) -> Self {
        self.query = Some(q);
        self
    }

    /// A route that takes a document upload (multipart, large body).
    pub fn upload(mut self) -> Self {
        self.upload = true;
        self
    }
}

/// A router of `routes`; permissions are checked as the table says, before the handler runs.
pub fn router(routes: Vec<Route>) -> Router<AppState> {
    routes.into_iter().fold(Router::new(), |r, route| {
        let h = match route.access {
            Access::Needs(p) => route
                .handler
                .route_layer(axum::middleware::from_fn_with_state(p, require)),
            Access::SignedIn => route
                .handler
                .route_layer(axum::middleware::from_fn(require_signed_in)),
            Access::Public => route.handler,
        };
        let h = if route.upload {
            h.layer(axum::extract::DefaultBodyLimit::max(
                crate::web::routes::documents::UPLOAD_BODY_CEILING,
            ))
        } else {
            h
        };
        r.route(route.path, h)
    })
}

async fn require_signed_in(req: Request, next: Next) -> Response {
    match req.extensions().get::<StaffIdentity>() {
        None => AppError::Unauthenticated.into_response(),
        Some(_) => next.run(req).await,
    }
}

async fn require(State(p): State<Permission>, req: Request, next: Next) -> Response {
    match req.extensions().get::<StaffIdentity>() {
        None => AppError::Unauthenticated.into_response(),
        Some(i) if i.role.can(p) => next.run(req).await,
        Some(_) => AppError::Denied(Some(p)).into_response(),
    }
}
