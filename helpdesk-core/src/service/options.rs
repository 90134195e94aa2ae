//! Typed options of the service, with SPEC §11's defaults. Libraries never read the
//! environment: the server binary builds these from its configuration.

use chrono::Duration;

use crate::domain::{Catalog, CompanyIdFormat, TicketNumberFormat};
use crate::password::PasswordPolicy;
use crate::policy::PolicyOptions;

/// Session lifetimes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionOptions {
    /// Ends if not refreshed for this long (default 24 h).
    pub idle: Duration,
    /// Ends this long after sign-in whatever happens (default 7 days).
    pub absolute: Duration,
}

impl Default for SessionOptions {
    fn default() -> Self {
        Self { idle: Duration::hours(24), absolute: Duration::days(7) }
    }
}

/// Brute-force and abuse limits kept in storage (shared by every instance).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThrottleOptions {
    /// Consecutive failed logins before delays start (default 5).
    pub free_login_failures: u32,
    /// First delay (default 1 s), doubled per further failure.
    pub base_delay: Duration,
    /// Longest delay (default 15 min): an attacker can slow, never lock out, a user.
    pub max_delay: Duration,
    /// Forgot-password requests per account per hour (default 5; extra ones are silently
    /// dropped so the answer stays the same).
    pub resets_per_account_per_hour: u64,
}

impl Default for ThrottleOptions {
    fn default() -> Self {
        Self {
            free_login_failures: 5,
            base_delay: Duration::seconds(1),
            max_delay: Duration::minutes(15),
            resets_per_account_per_hour: 5,
        }
    }
}

/// Attachment limits and the type allow list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentLimits {
    /// Largest file (default 10 MiB).
    pub max_file_bytes: u64,
    /// Most files on one ticket (default 10).
    pub max_files_per_ticket: usize,
    /// Most bytes on one ticket (default 50 MiB).
    pub max_bytes_per_ticket: u64,
    /// Allowed media types, decided from content.
    pub allowed_types: Vec<String>,
}

impl Default for AttachmentLimits {
    fn default() -> Self {
        Self {
            max_file_bytes: 10 * 1024 * 1024,
            max_files_per_ticket: 10,
            max_bytes_per_ticket: 50 * 1024 * 1024,
            allowed_types: [
                "image/png",
                "image/jpeg",
                "image/gif",
                "image/webp",
                "application/pdf",
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "application/vnd.openxmlformats-officedocument.presentationml.presentation",
                "application/msword",
                "application/vnd.ms-excel",
                "text/csv",
                "text/plain",
            ]
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
        }
    }
}

/// Outbox delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxOptions {
    /// Attempts before a message is dead (default 10).
    pub max_attempts: u32,
    /// First back-off (default 10 s), doubled per attempt.
    pub base_backoff: Duration,
    /// Longest back-off (default 1 h).
    pub max_backoff: Duration,
    /// How long a claim holds (default 60 s).
    pub lease: Duration,
    /// Longest a delivery may take (default 30 s).
    pub delivery_timeout: std::time::Duration,
    /// Messages per claim (default 32).
    pub batch: usize,
}

impl Default for OutboxOptions {
    fn default() -> Self {
        Self {
            max_attempts: 10,
            base_backoff: Duration::seconds(10),
            max_backoff: Duration::hours(1),
            lease: Duration::seconds(60),
            delivery_timeout: std::time::Duration::from_secs(30),
            batch: 32,
        }
    }
}

/// The key that signs satisfaction-rating links: 32 bytes or more, the same in every process
/// of a deployment (a link mailed by one must verify in another). Never shown by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct LinkKey(Vec<u8>);

impl LinkKey {
    /// The key, when it is at least 32 bytes long.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Option<Self> {
        let bytes = bytes.into();
        (bytes.len() >= 32).then_some(Self(bytes))
    }

    /// A key derived from a longer-lived secret (the server's token secret, say) for this one
    /// purpose: HMAC-SHA256 of a fixed label under `secret`, so the links' key never equals
    /// the secret itself.
    pub fn derive(secret: &[u8]) -> Self {
        use hmac::Mac as _;
        let mac = <hmac::Hmac<sha2::Sha256> as hmac::Mac>::new_from_slice(secret)
            .map(|m| m.chain_update(b"helpdesk satisfaction links v1").finalize().into_bytes().to_vec())
            .unwrap_or_default(); // HMAC takes keys of any length: never empty
        Self(mac)
    }

    /// A key derived from `secret` for another purpose than rating links, named by `label`
    /// (a key per purpose: a token made for one can never pass for another).
    pub fn derive_for(secret: &[u8], label: &str) -> Self {
        use hmac::Mac as _;
        let mac = <hmac::Hmac<sha2::Sha256> as hmac::Mac>::new_from_slice(secret)
            .map(|m| m.chain_update(label.as_bytes()).finalize().into_bytes().to_vec())
            .unwrap_or_default();
        Self(mac)
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for LinkKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkKey(<redacted>)")
    }
}

/// Customer-satisfaction ratings (CSAT).
#[derive(Debug, Clone)]
pub struct SatisfactionOptions {
    /// Signs the rating links of resolution mails; `None` (the default) leaves them out, so
    /// nobody is asked. The reference server derives it from its token secret.
    pub link_key: Option<LinkKey>,
    /// How long after the resolution the link works and the rating can be changed (default 14
    /// days).
    pub link_ttl: Duration,
}

impl Default for SatisfactionOptions {
    fn default() -> Self {
        Self { link_key: None, link_ttl: Duration::days(14) }
    }
}

/// Mail in: tickets and replies by mail.
#[derive(Debug, Clone)]
pub struct MailInOptions {
    /// The support address people write to (`support@example.com`). With a
    /// [`link_key`](Self::link_key), every mail about a ticket says
    /// `Reply-To: support+<token>@example.com`, a reply address signed for its ticket and
    /// recipient. `None` (the default): mails carry no reply address.
    pub address: Option<String>,
    /// The help desk's own addresses besides `address` (the From address of its mail): mail
    /// from them is never processed, so the help desk cannot answer itself.
    pub own_addresses: Vec<String>,
    /// The domain of the help desk's own Message-IDs (`<id@domain>`, the From address's
    /// domain): a message with one of them, or a reference to one, is ours.
    pub message_id_domain: String,
    /// The authserv-ids (RFC 8601) of the receiving MTAs whose `Authentication-Results` are
    /// believed. Empty (the default): no header proves a sender, and a new ticket by mail needs
    /// the sender's confirmation.
    pub trusted_authserv_ids: Vec<String>,
    /// The category and sub-category of tickets opened by mail; `None`: the catalogue's first.
    pub category: Option<(String, String)>,
    /// Messages one sender may send per hour before the next ones are held (default 20).
    pub per_sender_per_hour: u64,
    /// Largest message accepted, in bytes (default 25 MiB); a larger one is refused whole.
    pub max_message_bytes: u64,
    /// Signs reply addresses and confirmation links; `None` (the default): no reply addresses,
    /// and unproven senders are held for an admin without a link.
    pub link_key: Option<LinkKey>,
    /// How long a confirmation link works (default 3 days).
    pub confirm_ttl: Duration,
}

impl Default for MailInOptions {
    fn default() -> Self {
        Self {
            address: None,
            own_addresses: Vec::new(),
            message_id_domain: "localhost".into(),
            trusted_authserv_ids: Vec::new(),
            category: None,
            per_sender_per_hour: 20,
            max_message_bytes: 25 * 1024 * 1024,
            link_key: None,
            confirm_ttl: Duration::days(3),
        }
    }
}

/// Everything the service can be told.
#[derive(Debug, Clone)]
pub struct HelpDeskOptions {
    /// Departments and categories.
    pub catalog: Catalog,
    /// Company id format.
    pub company_id_format: CompanyIdFormat,
    /// Ticket number format.
    pub ticket_number_format: TicketNumberFormat,
    /// Password rules.
    pub password_policy: PasswordPolicy,
    /// Policy options.
    pub policy: PolicyOptions,
    /// Sessions.
    pub sessions: SessionOptions,
    /// Throttling.
    pub throttle: ThrottleOptions,
    /// Attachments.
    pub attachments: AttachmentLimits,
    /// Outbox.
    pub outbox: OutboxOptions,
    /// Reset links are valid this long (default 30 min).
    pub reset_ttl: Duration,
    /// Invitations are valid this long (default 72 h).
    pub invitation_ttl: Duration,
    /// The requester may reopen this many days after resolution (default 7).
    pub reopen_window_days: u32,
    /// Resolved tickets close automatically after this long (default 7 days).
    pub auto_close_after: Duration,
    /// Idempotency records are kept this long (default 24 h).
    pub idempotency_ttl: Duration,
    /// Orphaned attachment blobs are swept after this long (default 1 h).
    pub orphan_after: Duration,
    /// Language of mails (default `en`).
    pub language: String,
    /// The version of the terms of use a registration must accept; `None` (the default)
    /// asks for none. The acceptance is recorded with the account.
    pub terms_version: Option<String>,
    /// Satisfaction ratings.
    pub satisfaction: SatisfactionOptions,
    /// Mail in.
    pub mail_in: MailInOptions,
}

impl Default for HelpDeskOptions {
    fn default() -> Self {
        Self {
            catalog: Catalog::default(),
            company_id_format: CompanyIdFormat::default(),
            ticket_number_format: TicketNumberFormat::default(),
            password_policy: PasswordPolicy::default(),
            policy: PolicyOptions::default(),
            sessions: SessionOptions::default(),
            throttle: ThrottleOptions::default(),
            attachments: AttachmentLimits::default(),
            outbox: OutboxOptions::default(),
            reset_ttl: Duration::minutes(30),
            invitation_ttl: Duration::hours(72),
            reopen_window_days: 7,
            auto_close_after: Duration::days(7),
            idempotency_ttl: Duration::hours(24),
            orphan_after: Duration::hours(1),
            language: "en".to_owned(),
            terms_version: None,
            satisfaction: SatisfactionOptions::default(),
            mail_in: MailInOptions::default(),
        }
    }
}
