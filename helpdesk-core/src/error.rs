//! The one error type of the core, with a stable machine code per variant.
//!
//! Adapters translate their own failures into [`StoreError`](crate::ports::StoreError) or
//! [`DeliveryError`](crate::ports::DeliveryError); the service turns those into [`Error`]. The
//! HTTP crate maps [`Error::code`] to a status in one place. No HTTP types live here.

use std::fmt;
use std::time::Duration;

use crate::ports::StoreError;

/// One field that failed validation, named as the client sent it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    /// The field's name in the request (`email`, `subject`, `scheduled_date`, …).
    pub field: String,
    /// A stable code (`too_long`, `invalid`, `required`, `common_password`, …).
    pub code: String,
    /// A sentence for people.
    pub message: String,
}

impl FieldError {
    /// Builds a field error.
    pub fn new(field: impl Into<String>, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), code: code.into(), message: message.into() }
    }
}

/// Every field that failed, gathered so a client can show them all at once.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ValidationErrors(pub Vec<FieldError>);

impl ValidationErrors {
    /// An empty set.
    pub fn new() -> Self {
        Self(Vec::new())
    }
    /// Adds one failure.
    pub fn push(&mut self, e: FieldError) {
        self.0.push(e);
    }
    /// Records the error of a parse result, keeping the value when it parsed.
    pub fn check<T>(&mut self, r: Result<T, FieldError>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.0.push(e);
                None
            }
        }
    }
    /// `Ok(())` when nothing failed.
    pub fn into_result(self) -> Result<(), Error> {
        if self.0.is_empty() { Ok(()) } else { Err(Error::Validation(self)) }
    }
    /// True when nothing failed.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|e| format!("{}: {}", e.field, e.message)).collect();
        write!(f, "{}", parts.join("; "))
    }
}

impl From<FieldError> for Error {
    fn from(e: FieldError) -> Self {
        Error::Validation(ValidationErrors(vec![e]))
    }
}

/// Why authentication failed. Each reason has its own code; messages never say whether an
/// account exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthFailure {
    /// Wrong email or password (or no such account: indistinguishable on purpose).
    InvalidCredentials,
    /// The password was right but the account awaits approval.
    AccountPending,
    /// The password was right but the account is deactivated.
    AccountDeactivated,
    /// The session ended (logout, expiry, revocation, password change).
    SessionEnded,
    /// A refresh token was presented twice: the whole session family is revoked.
    RefreshReused,
    /// A token or key that does not parse or verify.
    InvalidToken,
    /// No credentials at all.
    Missing,
}

impl AuthFailure {
    /// The stable code.
    pub fn code(self) -> &'static str {
        match self {
            Self::InvalidCredentials => "auth.invalid_credentials",
            Self::AccountPending => "auth.account_pending",
            Self::AccountDeactivated => "auth.account_deactivated",
            Self::SessionEnded => "auth.session_ended",
            Self::RefreshReused => "auth.refresh_reused",
            Self::InvalidToken => "auth.invalid_token",
            Self::Missing => "auth.missing_credentials",
        }
    }
}

/// Why a satisfaction-rating link was refused. Each reason has its own code and says what the
/// requester can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RatingLinkRefusal {
    /// Malformed, tampered with, or not this ticket's link.
    Invalid,
    /// Past its expiry: the rating can no longer be given or changed.
    Expired,
    /// Used already: each link works once (the page after a rating offers a fresh one).
    Used,
    /// The ticket was reopened after the mail went out: it is being worked on again.
    Reopened,
}

impl RatingLinkRefusal {
    /// The stable code.
    pub fn code(self) -> &'static str {
        match self {
            Self::Invalid => "rating.link_invalid",
            Self::Expired => "rating.link_expired",
            Self::Used => "rating.link_used",
            Self::Reopened => "rating.ticket_reopened",
        }
    }

    /// What to tell the person holding the link.
    pub fn message(self) -> &'static str {
        match self {
            Self::Invalid => "this rating link is not valid",
            Self::Expired => "this rating link has expired",
            Self::Used => "this rating link was used already; use the link shown after your last rating",
            Self::Reopened => "the ticket was reopened, so it cannot be rated now",
        }
    }
}

/// The error of every use case.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Input that does not parse; each field is named.
    #[error("validation failed: {0}")]
    Validation(ValidationErrors),
    /// Authentication failed.
    #[error("authentication failed ({})", .0.code())]
    Unauthenticated(AuthFailure),
    /// The principal may see the resource but not do this.
    #[error("not allowed: {0}")]
    Forbidden(&'static str),
    /// No such resource, or one the principal may not see.
    #[error("{what} not found")]
    NotFound {
        /// What was looked for (`ticket`, `user`, …).
        what: &'static str,
    },
    /// The resource exists already (email or company id taken, …).
    #[error("{what} already exists")]
    AlreadyExists {
        /// The clashing field.
        what: &'static str,
    },
    /// The lifecycle has no such move from the ticket's status, or the actor may not make it.
    #[error("cannot {action} a ticket that is {from}")]
    InvalidTransition {
        /// The action asked for.
        action: String,
        /// The ticket's status.
        from: String,
    },
    /// The caller can never take this action on this ticket, whatever its status: their role
    /// (or their relation to the ticket) is not among the lifecycle row's actors.
    #[error("your role may not {action} this ticket (it is for: {who})")]
    ActionNotAllowed {
        /// The action asked for.
        action: String,
        /// Who the table lets take it.
        who: String,
    },
    /// The account's status does not allow this action (approving an approved account, …).
    #[error("cannot {action} an account that is {from}")]
    AccountTransition {
        /// The action asked for (`approve`, `reject`, `deactivate`, `reactivate`).
        action: String,
        /// The account's status.
        from: String,
    },
    /// The resource changed since the client read it.
    #[error("version conflict: expected {expected}, found {found}")]
    VersionConflict {
        /// The version the change was based on.
        expected: u64,
        /// The version stored now.
        found: u64,
    },
    /// A state that forbids the operation (a rejected user approved again, a used token, …).
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// Too many attempts; try again later.
    #[error("too many attempts, retry after {retry_after:?}")]
    Throttled {
        /// How long to wait.
        retry_after: Duration,
    },
    /// The idempotency key was used with another request body.
    #[error("idempotency key reused with a different request")]
    IdempotencyMismatch,
    /// The first request with this idempotency key is still running (or died: then its
    /// record lapses after `retry_after` at most).
    #[error("a request with this idempotency key is in progress; retry in {} s", retry_after.as_secs().max(1))]
    IdempotencyInProgress {
        /// When a retry can expect an answer: the time left until the first attempt's record
        /// lapses.
        retry_after: Duration,
    },
    /// An upload or body exceeds a limit.
    #[error("too large: {0}")]
    TooLarge(&'static str),
    /// A file type outside the allow list.
    #[error("unsupported media type")]
    UnsupportedMedia,
    /// A dependency (storage, attachment store) is down; retry later.
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// A satisfaction-rating link that cannot be used.
    #[error("{}", .0.message())]
    RatingLink(RatingLinkRefusal),
    /// Anything else: logged, never shown.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// The stable machine code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Validation(_) => "validation.failed",
            Error::Unauthenticated(a) => a.code(),
            Error::Forbidden(_) => "auth.forbidden",
            Error::NotFound { .. } => "resource.not_found",
            Error::AlreadyExists { .. } => "resource.already_exists",
            Error::InvalidTransition { .. } => "ticket.invalid_transition",
            Error::AccountTransition { .. } => "account.invalid_transition",
            Error::ActionNotAllowed { .. } => "ticket.action_forbidden",
            Error::VersionConflict { .. } => "resource.version_conflict",
            Error::Conflict(_) => "resource.conflict",
            Error::Throttled { .. } => "rate_limited",
            Error::IdempotencyMismatch => "idempotency.mismatch",
            Error::IdempotencyInProgress { .. } => "idempotency.in_progress",
            Error::TooLarge(_) => "upload.too_large",
            Error::UnsupportedMedia => "upload.unsupported_type",
            Error::Unavailable(_) => "service.unavailable",
            Error::RatingLink(r) => r.code(),
            Error::Internal(_) => "internal",
        }
    }

    /// Shorthand for a one-field validation error.
    pub fn field(field: &str, code: &str, message: &str) -> Self {
        FieldError::new(field, code, message).into()
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { what } => Error::NotFound { what },
            StoreError::AlreadyExists { what } => Error::AlreadyExists { what },
            StoreError::VersionMismatch { expected, found } => Error::VersionConflict { expected, found },
            StoreError::Conflict { what } => Error::Conflict(what),
            StoreError::Unavailable { source } => Error::Unavailable(source.to_string()),
            StoreError::Unsupported { what } => Error::Internal(format!("not supported by this store: {what}")),
            StoreError::Backend { backend, source } => Error::Internal(format!("{backend}: {source}")),
        }
    }
}

/// The result of every use case.
pub type Result<T, E = Error> = std::result::Result<T, E>;
