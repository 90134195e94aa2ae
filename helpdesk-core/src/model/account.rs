//! User accounts, rejection audit records and external-system API keys.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::TokenHash;
use crate::domain::Note;
use crate::domain::{
    ApiKeyId, CompanyId, DepartmentKey, Email, PersonName, RejectionId, Role, StorageKey, Suffix, UserId, UserStatus,
};

/// An encoded password hash (argon2id PHC string, or an imported Django PBKDF2 hash).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PasswordHash(pub String);

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(<redacted>)")
    }
}

/// Which terms of use a person accepted, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TermsAcceptance {
    /// The version of the terms (from the deployment's configuration).
    pub version: String,
    /// When they were accepted.
    pub at: DateTime<Utc>,
}

/// A user account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Unique id of the user (stable across email changes).
    pub id: UserId,
    /// Sign-in address, unique case-insensitively.
    pub email: Email,
    /// `None` until an invited user sets a password.
    pub password: Option<PasswordHash>,
    /// First name.
    pub first_name: PersonName,
    /// Middle name.
    pub middle_name: Option<PersonName>,
    /// Last name.
    pub last_name: PersonName,
    /// Jr., Sr., II…X.
    pub suffix: Option<Suffix>,
    /// Unique company id.
    pub company_id: CompanyId,
    /// Department (staff may be limited to it by policy).
    pub department: Option<DepartmentKey>,
    /// What the user may do: employee, coordinator or admin (re-read on every request).
    pub role: Role,
    /// Account status.
    pub status: UserStatus,
    /// Avatar thumbnail, if uploaded.
    pub avatar: Option<StorageKey>,
    /// Set for imported weak passwords and the generated first admin.
    pub must_change_password: bool,
    /// The terms of use accepted at registration, when the deployment asks for them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terms_accepted: Option<TermsAcceptance>,
    /// When the account was created (registration, invitation or import).
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
    /// Optimistic-concurrency version, starting at 1.
    pub version: u64,
}

impl User {
    /// "First Middle Last Suffix".
    pub fn display_name(&self) -> String {
        let mut s = self.first_name.as_str().to_owned();
        if let Some(m) = &self.middle_name {
            s.push(' ');
            s.push_str(m.as_str());
        }
        s.push(' ');
        s.push_str(self.last_name.as_str());
        if let Some(x) = self.suffix {
            s.push(' ');
            s.push_str(x.as_str());
        }
        s
    }

    /// The fields other users may see.
    pub fn summary(&self) -> UserSummary {
        UserSummary {
            id: self.id,
            name: self.display_name(),
            role: self.role,
            department: self.department.clone(),
            avatar: self.avatar.clone(),
        }
    }
}

/// What other users may see of a user (assignee pickers, comment authors).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSummary {
    /// The user's id.
    pub id: UserId,
    /// Display name.
    pub name: String,
    /// The user's role.
    pub role: Role,
    /// The user's department, when they have one.
    pub department: Option<DepartmentKey>,
    /// The user's avatar, if any (its key changes with each new picture: a cache key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar: Option<StorageKey>,
}

/// The audit record a rejected registration leaves once its personal data is gone from the
/// user table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectionRecord {
    /// Unique id of the record.
    pub id: RejectionId,
    /// Email as registered.
    pub email: Email,
    /// First name.
    pub first_name: PersonName,
    /// Last name.
    pub last_name: PersonName,
    /// Company id as registered.
    pub company_id: CompanyId,
    /// Department as registered.
    pub department: Option<DepartmentKey>,
    /// The admin's reason, if given.
    pub reason: Option<Note>,
    /// The admin who rejected.
    pub rejected_by: UserId,
    /// When the registration was rejected.
    pub rejected_at: DateTime<Utc>,
}

/// What an external system's key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApiScope {
    /// Read tickets and download their (non-internal) attachments.
    ReadTickets,
    /// Push workflow status updates.
    PushWorkflow,
    /// Hand the help desk raw mail messages (a mail service's inbound webhook).
    IngestMail,
}

impl ApiScope {
    /// Every scope.
    pub const ALL: &'static [ApiScope] = &[ApiScope::ReadTickets, ApiScope::PushWorkflow, ApiScope::IngestMail];
    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            ApiScope::ReadTickets => "read_tickets",
            ApiScope::PushWorkflow => "push_workflow",
            ApiScope::IngestMail => "ingest_mail",
        }
    }
}

/// An external system's API key. The secret is shown once and stored only as a hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    /// Public id (`ApiKey <id>.<secret>`).
    pub id: ApiKeyId,
    /// Name, recorded as the actor of the system's actions.
    pub name: String,
    /// What the key may do; a route outside them answers 403.
    pub scopes: Vec<ApiScope>,
    /// SHA-256 of the secret.
    pub secret_hash: TokenHash,
    /// When the key was created.
    pub created_at: DateTime<Utc>,
    /// The admin who created it (`None` from the CLI).
    pub created_by: Option<UserId>,
    /// Set once revoked.
    pub revoked_at: Option<DateTime<Utc>>,
}
