//! RFC 9457 problem details: the one place where a core [`Error`] becomes an HTTP status, and
//! where extractor rejections (bad JSON, unknown fields, wrong content type, bad query) get the
//! same shape. A 500 never carries internals; they go to the log with the request id.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use helpdesk_core::{AuthFailure, Error, FieldError, RatingLinkRefusal};
use serde::Serialize;
use utoipa::ToSchema;

/// A problem response (`application/problem+json`).
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine code, e.g. `ticket.invalid_transition`.
    pub code: &'static str,
    /// Human-readable explanation (never internals).
    pub detail: String,
    /// Per-field messages of a validation error.
    pub errors: Vec<FieldError>,
    /// Seconds for `Retry-After` (429, 503).
    pub retry_after: Option<u64>,
}

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the problem type (`urn:helpdesk:problem:<code>`).
    #[serde(rename = "type")]
    pub kind: String,
    /// Short summary of the problem type.
    pub title: String,
    /// HTTP status.
    pub status: u16,
    /// Explanation of this occurrence.
    pub detail: String,
    /// Stable machine code.
    pub code: String,
    /// Per-field messages (validation errors).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ProblemField>,
}

/// One field's message in a problem.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProblemField {
    /// The field, as named in the request.
    pub field: String,
    /// Stable code, e.g. `required`, `too_long`, `unknown_field`.
    pub code: String,
    /// Human-readable message.
    pub message: String,
}

/// Handler result.
pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    /// What a page says about it: the first field's message, or the detail.
    #[cfg(feature = "web")]
    pub(crate) fn first_message(&self) -> String {
        self.errors.first().map_or_else(|| self.detail.clone(), |f| f.message.clone())
    }

    /// A problem with no field errors.
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self { status, code, detail: detail.into(), errors: Vec::new(), retry_after: None }
    }

    /// 422 naming one field.
    pub fn field(field: &str, code: &str, message: &str) -> Self {
        Error::field(field, code, message).into()
    }

    /// A version conflict becomes 412 when the client sent `If-Match` (SPEC §11).
    pub fn precondition_if(mut self, sent_if_match: bool) -> Self {
        if sent_if_match && self.code == "resource.version_conflict" {
            self.status = StatusCode::PRECONDITION_FAILED;
            self.code = "resource.precondition_failed";
            self.detail = "the resource changed since the version given in If-Match".into();
        }
        self
    }

    /// 401 for a missing or bad credential.
    pub fn unauthenticated(failure: AuthFailure) -> Self {
        Error::Unauthenticated(failure).into()
    }
}

fn status_of(e: &Error) -> StatusCode {
    match e {
        Error::Validation(_) | Error::IdempotencyMismatch => StatusCode::UNPROCESSABLE_ENTITY,
        Error::Unauthenticated(AuthFailure::AccountPending | AuthFailure::AccountDeactivated) => StatusCode::FORBIDDEN,
        Error::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
        Error::Forbidden(_) | Error::ActionNotAllowed { .. } => StatusCode::FORBIDDEN,
        Error::NotFound { .. } => StatusCode::NOT_FOUND,
        Error::AlreadyExists { .. }
        | Error::InvalidTransition { .. }
        | Error::AccountTransition { .. }
        | Error::VersionConflict { .. }
        | Error::Conflict(_)
        | Error::IdempotencyInProgress { .. } => StatusCode::CONFLICT,
        Error::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
        Error::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
        Error::UnsupportedMedia => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        Error::RatingLink(RatingLinkRefusal::Expired) => StatusCode::GONE,
        Error::RatingLink(RatingLinkRefusal::Used | RatingLinkRefusal::Reopened) => StatusCode::CONFLICT,
        Error::RatingLink(_) => StatusCode::FORBIDDEN,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let status = status_of(&e);
        let code = e.code();
        let (detail, errors, retry_after) = match &e {
            Error::Validation(v) => ("the request has invalid fields".to_owned(), v.0.clone(), None),
            Error::Unauthenticated(AuthFailure::InvalidCredentials) => {
                ("the email or password is not right".to_owned(), Vec::new(), None)
            }
            Error::Unauthenticated(AuthFailure::AccountPending) => {
                ("this account is waiting for an administrator's approval".to_owned(), Vec::new(), None)
            }
            Error::Unauthenticated(AuthFailure::AccountDeactivated) => {
                ("this account is deactivated".to_owned(), Vec::new(), None)
            }
            Error::Unauthenticated(AuthFailure::RefreshReused) => {
                ("this refresh token was already used; the session has been ended".to_owned(), Vec::new(), None)
            }
            Error::Unauthenticated(AuthFailure::SessionEnded) => {
                ("the session has ended; sign in again".to_owned(), Vec::new(), None)
            }
            Error::Unauthenticated(AuthFailure::Missing) => {
                ("this route needs a bearer token or an API key".to_owned(), Vec::new(), None)
            }
            Error::Unauthenticated(_) => ("the credential is not valid".to_owned(), Vec::new(), None),
            Error::Throttled { retry_after } => {
                let secs = retry_after.as_secs().max(1);
                (format!("too many attempts; retry in {secs} s"), Vec::new(), Some(secs))
            }
            Error::IdempotencyInProgress { retry_after } => {
                let secs = retry_after.as_secs().max(1);
                (e.to_string(), Vec::new(), Some(secs))
            }
            Error::Unavailable(inner) => {
                tracing::warn!(error = %inner, "dependency unavailable");
                ("a dependency is unavailable; retry shortly".to_owned(), Vec::new(), Some(5))
            }
            Error::Internal(inner) => {
                tracing::error!(error = %inner, "internal error");
                ("an internal error occurred".to_owned(), Vec::new(), None)
            }
            other if status == StatusCode::INTERNAL_SERVER_ERROR => {
                tracing::error!(error = %other, "unmapped error");
                ("an internal error occurred".to_owned(), Vec::new(), None)
            }
            other => (other.to_string(), Vec::new(), None),
        };
        Self { status, code, detail, errors, retry_after }
    }
}

fn title_of(status: StatusCode) -> &'static str {
    status.canonical_reason().unwrap_or("Error")
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Problem {
            kind: format!("urn:helpdesk:problem:{}", self.code),
            title: title_of(self.status).to_owned(),
            status: self.status.as_u16(),
            detail: self.detail,
            code: self.code.to_owned(),
            errors: self
                .errors
                .into_iter()
                .map(|f| ProblemField { field: f.field, code: f.code, message: f.message })
                .collect(),
        };
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        let mut res = (self.status, bytes).into_response();
        let h = res.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if let Some(secs) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            h.insert(header::RETRY_AFTER, v);
        }
        if self.status == StatusCode::UNAUTHORIZED {
            h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if self.status == StatusCode::FORBIDDEN {
            res.extensions_mut().insert(crate::middleware::Denied);
        }
        res
    }
}

/// Turns a serde error about a request body into a field name, when it names one.
pub(crate) fn body_error(e: &serde_json::Error) -> ApiError {
    let msg = e.to_string();
    if e.is_syntax() || e.is_eof() {
        return ApiError::new(
            StatusCode::BAD_REQUEST,
            "request.malformed_json",
            format!("the body is not valid JSON: {msg}"),
        );
    }
    let between_ticks = |s: &str| s.split('`').nth(1).map(str::to_owned);
    let (field, code) = if msg.starts_with("unknown field") {
        (between_ticks(&msg).unwrap_or_default(), "unknown_field")
    } else if msg.starts_with("missing field") {
        (between_ticks(&msg).unwrap_or_default(), "required")
    } else {
        (String::new(), "invalid")
    };
    let mut err =
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "request.invalid_body", "the body does not fit this route");
    let message = msg.split(" at line ").next().unwrap_or(&msg).to_owned();
    err.errors.push(FieldError::new(if field.is_empty() { "body".to_owned() } else { field }, code, message));
    err
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::time::Duration;

    use super::*;

    #[test]
    fn every_core_error_maps_to_its_status_and_code() {
        let cases: Vec<(Error, u16, &str)> = vec![
            (Error::field("subject", "required", "needed"), 422, "validation.failed"),
            (Error::Unauthenticated(AuthFailure::InvalidCredentials), 401, "auth.invalid_credentials"),
            (Error::Unauthenticated(AuthFailure::AccountPending), 403, "auth.account_pending"),
            (Error::Unauthenticated(AuthFailure::AccountDeactivated), 403, "auth.account_deactivated"),
            (Error::Unauthenticated(AuthFailure::SessionEnded), 401, "auth.session_ended"),
            (Error::Unauthenticated(AuthFailure::RefreshReused), 401, "auth.refresh_reused"),
            (Error::Unauthenticated(AuthFailure::InvalidToken), 401, "auth.invalid_token"),
            (Error::Unauthenticated(AuthFailure::Missing), 401, "auth.missing_credentials"),
            (Error::RatingLink(RatingLinkRefusal::Invalid), 403, "rating.link_invalid"),
            (Error::RatingLink(RatingLinkRefusal::Expired), 410, "rating.link_expired"),
            (Error::RatingLink(RatingLinkRefusal::Used), 409, "rating.link_used"),
            (Error::RatingLink(RatingLinkRefusal::Reopened), 409, "rating.ticket_reopened"),
            (Error::Forbidden("no"), 403, "auth.forbidden"),
            (Error::NotFound { what: "ticket" }, 404, "resource.not_found"),
            (Error::AlreadyExists { what: "user" }, 409, "resource.already_exists"),
            (
                Error::ActionNotAllowed { action: "approve".into(), who: "coordinator, admin".into() },
                403,
                "ticket.action_forbidden",
            ),
            (Error::InvalidTransition { action: "close".into(), from: "new".into() }, 409, "ticket.invalid_transition"),
            (
                Error::AccountTransition { action: "reject".into(), from: "approved".into() },
                409,
                "account.invalid_transition",
            ),
            (Error::VersionConflict { expected: 1, found: 2 }, 409, "resource.version_conflict"),
            (Error::Conflict("x"), 409, "resource.conflict"),
            (Error::Throttled { retry_after: Duration::from_secs(7) }, 429, "rate_limited"),
            (Error::IdempotencyMismatch, 422, "idempotency.mismatch"),
            (Error::IdempotencyInProgress { retry_after: Duration::from_secs(3) }, 409, "idempotency.in_progress"),
            (Error::TooLarge("file"), 413, "upload.too_large"),
            (Error::UnsupportedMedia, 415, "upload.unsupported_type"),
            (Error::Unavailable("db down".into()), 503, "service.unavailable"),
            (Error::Internal("secret detail".into()), 500, "internal"),
        ];
        for (e, status, code) in cases {
            let a = ApiError::from(e);
            assert_eq!((a.status.as_u16(), a.code), (status, code));
            assert!(!a.detail.contains("secret detail") && !a.detail.contains("db down"), "no internals leak");
        }
    }

    #[test]
    fn a_stale_if_match_is_412_and_a_stale_version_without_it_409() {
        let e = || ApiError::from(Error::VersionConflict { expected: 1, found: 2 });
        assert_eq!(e().precondition_if(true).status, StatusCode::PRECONDITION_FAILED);
        assert_eq!(e().precondition_if(false).status, StatusCode::CONFLICT);
    }

    #[test]
    fn throttling_carries_retry_after_and_validation_names_fields() {
        let r = ApiError::from(Error::Throttled { retry_after: Duration::from_millis(2500) }).into_response();
        assert_eq!(r.headers()[header::RETRY_AFTER], "2");
        assert_eq!(r.headers()[header::CONTENT_TYPE], "application/problem+json");
        let a = ApiError::from(Error::field("subject", "required", "needed"));
        assert_eq!(a.errors[0].field, "subject");
    }

    #[test]
    fn unknown_fields_are_named() {
        #[derive(Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct B {
            a: u8,
        }
        let e = serde_json::from_str::<B>(r#"{"a":1,"role":"admin"}"#).unwrap_err();
        let a = body_error(&e);
        assert_eq!(
            (a.status.as_u16(), a.errors[0].field.as_str(), a.errors[0].code.as_str()),
            (422, "role", "unknown_field")
        );
        let e = serde_json::from_str::<B>("{").unwrap_err();
        assert_eq!(body_error(&e).status, StatusCode::BAD_REQUEST);
    }
}
