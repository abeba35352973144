//! Extractors whose rejections are JSON errors like every other failure of the API.
//!
//! axum's own extractors answer bad input with a plain-text body; these wrap them and turn
//! the rejection into an [`ApiError`] with the same status and axum's message, which names
//! the field and position serde reported.

use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// A rejection's status and text as an [`ApiError`]. Well-formed JSON of the wrong shape is
/// a 400 like any other bad input (axum says 422); an oversize body says so plainly.
fn rejected(status: StatusCode, text: String) -> ApiError {
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            status,
            format!(
                "request body is too large (limit {} MiB, {} MiB for imports)",
                super::state::MAX_BODY >> 20,
                super::state::MAX_IMPORT_BODY >> 20
            ),
        ),
        StatusCode::UNPROCESSABLE_ENTITY => ApiError::bad_request(text),
        _ => ApiError::new(status, text),
    }
}

/// A JSON request body, or a JSON response.
#[derive(Debug)]
pub(crate) struct Json<T>(pub(crate) T);

impl<S, T> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(e) => Err(json_rejection(&e)),
        }
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

fn json_rejection(rejection: &JsonRejection) -> ApiError {
    rejected(rejection.status(), rejection.body_text())
}

/// A raw request body, bounded by the route's body limit.
#[derive(Debug)]
pub(crate) struct Body(pub(crate) Bytes);

impl<S> FromRequest<S> for Body
where
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        Bytes::from_request(req, state)
            .await
            .map(Self)
            .map_err(|e: BytesRejection| rejected(e.status(), e.body_text()))
    }
}

/// Query parameters.
#[derive(Debug)]
pub(crate) struct Query<T>(pub(crate) T);

impl<S, T> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| Self(value))
            .map_err(|e: QueryRejection| rejected(e.status(), e.body_text()))
    }
}

/// Path parameters.
#[derive(Debug)]
pub(crate) struct Path<T>(pub(crate) T);

impl<S, T> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| Self(value))
            .map_err(|e: PathRejection| rejected(e.status(), e.body_text()))
    }
}
