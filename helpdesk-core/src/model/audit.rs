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
    /// A mail of ours bounced: the recipient's address is failing (the target is the user, when
    /// the address is one's).
    MailBounced,
}

impl AuditKind {
    /// Every kind.
    pub const ALL: &'static [AuditKind] = &[
        AuditKind::LoginSucceeded,
        AuditKind::LoginFailed,
        AuditKind::LoginThrottled,
        AuditKind::RefreshReused,
        AuditKind::PasswordChanged,
        AuditKind::PasswordResetRequested,
        AuditKind::AccessDenied,
        AuditKind::AttachmentDownloaded,
        AuditKind::UserAdministered,
        AuditKind::ApiKeyChanged,
        AuditKind::OutboxRetried,
        AuditKind::MailBounced,
    ];

    /// The wire name (`login_failed`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            AuditKind::LoginSucceeded => "login_succeeded",
            AuditKind::LoginFailed => "login_failed",
            AuditKind::LoginThrottled => "login_throttled",
            AuditKind::RefreshReused => "refresh_reused",
            AuditKind::PasswordChanged => "password_changed",
            AuditKind::PasswordResetRequested => "password_reset_requested",
            AuditKind::AccessDenied => "access_denied",
            AuditKind::AttachmentDownloaded => "attachment_downloaded",
            AuditKind::UserAdministered => "user_administered",
            AuditKind::ApiKeyChanged => "api_key_changed",
            AuditKind::OutboxRetried => "outbox_retried",
            AuditKind::MailBounced => "mail_bounced",
        }
    }
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
