//! The body and path extractors handlers use: axum's `Form`, `Json` and `Path`, whose
//! rejections become an [`AppError`] (problem+json on the API, the error page otherwise) with
//! axum's status and its description, which names the field and never logs the value.
//! `clippy.toml` forbids axum's own types everywhere else. `Json` is also the response type.

#![allow(
    clippy::disallowed_types,
    reason = "the one place that wraps axum's extractors"
)]

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::web::error::AppError;

type AxumForm<T> = axum::Form<T>;
type AxumJson<T> = axum::Json<T>;
type AxumPath<T> = axum::extract::Path<T>;

/// A form body (`application/x-www-form-urlencoded`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Form<T>(pub T);

/// A JSON body, or a JSON response.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

/// A `multipart/form-data` body (document uploads), read part by part.
pub struct Multipart(pub axum::extract::Multipart);

impl<S: Send + Sync> FromRequest<S> for Multipart {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, AppError> {
        match axum::extract::Multipart::from_request(req, state).await {
            Ok(m) => Ok(Self(m)),
            Err(r) => Err(AppError::rejected(r.status(), r.body_text())),
        }
    }
}

/// Path parameters.
#[derive(Debug, Clone, Copy)]
pub struct Path<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Form<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, AppError> {
        match AxumForm::<T>::from_request(req, state).await {
            Ok(axum::Form(v)) => Ok(Self(v)),
            Err(r) => Err(AppError::rejected(r.status(), r.body_text())),
        }
    }
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, AppError> {
        match AxumJson::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Self(v)),
            Err(r) => Err(AppError::rejected(r.status(), r.body_text())),
        }
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        match AxumPath::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(Self(v)),
            Err(r) => Err(AppError::rejected(r.status(), r.body_text())),
        }
    }
}
