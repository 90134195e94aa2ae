//! Request extractors whose rejections are problem details: JSON bodies (content type checked,
//! unknown fields refused, body size bounded by the router's limit), queries, paths, and the
//! `If-Match` and `Idempotency-Key` headers.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

use crate::error::{ApiError, body_error};

fn is_json(parts_ct: Option<&axum::http::HeaderValue>) -> bool {
    parts_ct.and_then(|v| v.to_str().ok()).is_some_and(|ct| {
        let mime = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
    })
}

async fn read_body<S: Send + Sync>(req: Request, state: &S) -> Result<(bool, Bytes), ApiError> {
    let json = is_json(req.headers().get(header::CONTENT_TYPE));
    let bytes = Bytes::from_request(req, state).await.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "request.too_large",
                "the body is larger than this route accepts",
            )
        } else {
            ApiError::new(StatusCode::BAD_REQUEST, "request.unreadable_body", "the body could not be read")
        }
    })?;
    Ok((json, bytes))
}

fn unsupported() -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "request.unsupported_media_type",
        "send the body as application/json",
    )
}

/// A JSON body (`Content-Type: application/json` required).
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let (json, bytes) = read_body(req, state).await?;
        if !json {
            return Err(unsupported());
        }
        serde_json::from_slice(&bytes).map(ApiJson).map_err(|e| body_error(&e))
    }
}

/// A JSON body that may be left out entirely (then `T::default()`), for actions whose input is
/// optional; a body that is present must still be JSON and fit `T`.
#[derive(Debug, Clone, Copy, Default)]
pub struct OptionalJson<T>(pub T);

impl<T: DeserializeOwned + Default, S: Send + Sync> FromRequest<S> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let (json, bytes) = read_body(req, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(T::default()));
        }
        if !json {
            return Err(unsupported());
        }
        serde_json::from_slice(&bytes).map(OptionalJson).map_err(|e| body_error(&e))
    }
}

/// Query parameters; unknown or malformed ones are a 422 naming the parameter.
#[derive(Debug, Clone, Default)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        query_from(&parts.uri).map(ApiQuery)
    }
}

fn query_from<T: DeserializeOwned>(uri: &axum::http::Uri) -> Result<T, ApiError> {
    axum::extract::Query::<T>::try_from_uri(uri).map(|v| v.0).map_err(|e| {
        let msg = e.body_text();
        let field = msg.split('`').nth(1).unwrap_or("query").to_owned();
        let mut err = ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "request.invalid_query",
            "the query parameters do not fit this route",
        );
        let code = if msg.contains("unknown field") { "unknown_field" } else { "invalid" };
        err.errors.push(helpdesk_core::FieldError::new(field, code, msg));
        err
    })
}

/// The version an `If-Match` header names (`"7"` or `W/"7"`; `*` matches any version).
#[derive(Debug, Clone, Copy, Default)]
pub struct IfMatch(pub Option<u64>);

impl IfMatch {
    /// Whether the client sent a version to match.
    pub fn sent(self) -> bool {
        self.0.is_some()
    }

    /// The problem for a core error of a write this header guarded: a version conflict is 412
    /// when the client sent a version, 409 otherwise (SPEC §11).
    pub fn error(self, e: helpdesk_core::Error) -> ApiError {
        ApiError::from(e).precondition_if(self.sent())
    }
}

/// The `ETag` of a resource at `version`.
pub fn etag(version: u64) -> String {
    format!("\"{version}\"")
}

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let Some(v) = parts.headers.get(header::IF_MATCH) else { return Ok(Self(None)) };
        let s = v.to_str().unwrap_or("").trim();
        // An empty header field is no condition, as if it were not sent.
        if s == "*" || s.is_empty() {
            return Ok(Self(None));
        }
        // This API's entity tags are versions in quotes (`"7"`, weak or not); anything else is
        // not a tag it gave, so a malformed header (400), not a failed precondition.
        let tag = s.strip_prefix("W/").unwrap_or(s).strip_prefix('"').and_then(|t| t.strip_suffix('"'));
        tag.filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|t| t.parse::<u64>().ok())
            .map(|n| Self(Some(n)))
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "request.malformed_if_match",
                    "If-Match takes `*` or an ETag this API gave (a version in quotes, like \"7\")",
                )
            })
    }
}

/// The `Idempotency-Key` header, if sent.
#[derive(Debug, Clone, Default)]
pub struct IdempotencyKey(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        match parts.headers.get("idempotency-key") {
            None => Ok(Self(None)),
            Some(v) => v
                .to_str()
                .map(|s| Self(Some(s.to_owned())))
                .map_err(|_| ApiError::field("idempotency_key", "invalid", "must be printable ASCII")),
        }
    }
}

/// Path parameters; one that does not parse names no resource (404).
#[derive(Debug, Clone)]
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| ApiPath(p.0))
            .map_err(|_| ApiError::new(StatusCode::NOT_FOUND, "resource.not_found", "no such resource"))
    }
}

/// Parses a page size (`limit`), naming the field.
pub fn page_size(limit: Option<u32>) -> Result<helpdesk_core::ports::PageSize, ApiError> {
    match limit {
        None => Ok(helpdesk_core::ports::PageSize::default()),
        Some(n) => helpdesk_core::ports::PageSize::new(n).map_err(|e| helpdesk_core::Error::from(e).into()),
    }
}

/// Parses an opaque cursor, naming the field.
pub fn cursor(c: Option<&str>) -> Result<Option<helpdesk_core::ports::Cursor>, ApiError> {
    c.filter(|s| !s.is_empty())
        .map(helpdesk_core::ports::Cursor::decode)
        .transpose()
        .map_err(|e| helpdesk_core::Error::from(e).into())
}

/// Parses an enum value of a closed set, naming the field.
pub fn parse_enum<T: std::str::FromStr>(field: &str, v: &str, allowed: &[&str]) -> Result<T, ApiError> {
    v.trim().parse::<T>().map_err(|_| ApiError::field(field, "invalid", &format!("one of: {}", allowed.join(", "))))
}

/// A raw body (an image upload), bounded by the route's body limit; over it is a 413 problem.
#[derive(Debug, Clone)]
pub struct RawBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        read_body(req, state).await.map(|(_, b)| RawBody(b))
    }
}
