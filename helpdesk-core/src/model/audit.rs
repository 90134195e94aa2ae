//! The security audit log: sign-ins, failures, denials, downloads and admin actions.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ActorRef;
use crate::domain::AuditId;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditKind {
    /// Successful sign-in.
    LoginSucceeded,
    /// Failed sign-in (the target holds the masked address).
    LoginFailed,
    /// Sign-in refused while throttled.
    LoginThrottled,
    /// A refresh token was reused; its session family was revoked.
    RefreshReused,
    /// Password changed or reset.
    PasswordChanged,
    /// Password reset requested.
    PasswordResetRequested,
    /// A request the policy denied.
    AccessDenied,
    /// An attachment was downloaded.
    AttachmentDownloaded,
    /// An admin action on a user (approve, reject, deactivate, role change, …).
    UserAdministered,
    /// An API key was created or revoked.
    ApiKeyChanged,
    /// A dead outbox message was retried.
    OutboxRetried,
}

/// One audit entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Id.
    pub id: AuditId,
    /// When.
    pub at: DateTime<Utc>,
    /// Who acted, if known.
    pub actor: Option<ActorRef>,
    /// What happened.
    pub kind: AuditKind,
    /// What it was done to (user id, ticket number, masked email, …).
    pub target: Option<String>,
    /// The client's address, if known.
    pub address: Option<String>,
    /// Detail for people.
    pub detail: String,
}
