//! The [`HelpDesk`] service: every use case of SPEC §2–§7, each taking the acting
//! [`Principal`] and enforcing the policy here, in core, whatever the transport.
//!
//! One use case reads what it needs, decides with pure code (lifecycle, policy, account
//! lifecycle, password policy) and writes one [`UnitOfWork`]. Mails and workflow pushes are
//! outbox messages in that same commit, so a failing mail server never half-applies a change.

mod accounts;
mod attachments;
mod avatars;
mod background;
mod bulk;
mod documents;
mod fields;
mod followers;
mod links;
mod live;
mod macros;
mod mail_in;
mod notify;
mod options;
mod reports;
mod satisfaction;
mod sessions;
mod sla;
mod sla_alerts;
mod sla_refresh;
mod sla_settings;
mod tickets;
mod views;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use object_store::ObjectStore;
use rand::RngCore;

pub use accounts::{BootstrapAdmin, ImportOutcome, ImportedUser, NewUser, ProfileUpdate, Registration};
pub use attachments::{DownloadGrant, Upload, sniff_content_type};
pub use background::Background;
pub use bulk::{BulkChange, BulkItem, BulkOutcome, BulkResult, MAX_BULK_TICKETS};
pub use fields::{FIELDS_FRESH_FOR, FieldSettings};
pub use live::notices_for;
pub use macros::{MACRO_ACTIONS, MAX_MACROS, MacroDraft, MacroPreview};
pub use mail_in::IngestReceipt;
pub use options::{
    AttachmentLimits, HelpDeskOptions, LinkKey, MailInOptions, OutboxOptions, SatisfactionOptions, SessionOptions,
    ThrottleOptions,
};
pub use satisfaction::{RatedTicket, RatingInvite, RatingLink, RatingReceipt, SatisfactionReport, SatisfactionTally};
pub use sessions::{IssuedSession, LoginRequest};
pub use sla::{SLA_POLICY_FIELD, SlaBreach, SlaReport, SlaTallies, SlaTally, TicketSla};
pub use sla_alerts::{SlaAlertCursor, SlaAlertRun};
pub use sla_refresh::SlaRefresh;
pub use sla_settings::SlaSettings;
pub use tickets::{ActionRequest, Filed, NewTicket, TicketEdit, TicketThread, TicketView};
pub use views::{MAX_VIEWS, ViewDraft, ViewSummary};

use crate::domain::AuditId;
use crate::lifecycle::Lifecycle;
use crate::model::{AuditEntry, AuditKind, PasswordHash};
use crate::password::{Argon2Hasher, Argon2Options, Password, PasswordHasher};
use crate::policy::{Decision, Permission, Policy, Principal, Resource, RulePolicy};
use crate::ports::{ChangeFeed, Clock, LocalChangeFeed, Store, SystemClock, UnitOfWork};
use crate::{Error, Result};

/// The help desk: every use case, each taking the acting [`Principal`]. Cheap to clone;
/// share one per process.
///
/// Built from a store and an attachment store ([`HelpDesk::builder`]); on sled,
/// `helpdesk_storage_sled::help_desk(dir)` does both. Run [`HelpDesk::background`] beside it so
/// that mail goes out and resolved tickets close.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use helpdesk_core::{BootstrapAdmin, HelpDesk, NewTicket};
/// use helpdesk_core::testing::InMemoryStore; // or SledStore, PgStore
///
/// let desk = HelpDesk::builder(Arc::new(InMemoryStore::new()), Arc::new(object_store::memory::InMemory::new()))
///     .build()?;
/// desk.ensure_admin(BootstrapAdmin::new("admin@example.com", "harbor-lantern-quartz-71", "Ada", "Admin")).await?;
/// let admin = desk.sign_in("admin@example.com", "harbor-lantern-quartz-71").await?;
/// let ticket = desk.create_ticket(&admin, NewTicket::new("Printer jam", "hardware", "printer", "Tray 2."), None).await?;
/// assert_eq!(ticket.number.to_string(), "TX0001");
/// assert_eq!(desk.ticket(&admin, &ticket.number).await?.ticket.subject.as_str(), "Printer jam");
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct HelpDesk {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Arc<dyn Store>,
    blobs: Arc<dyn ObjectStore>,
    clock: Arc<dyn Clock>,
    hasher: Arc<dyn PasswordHasher>,
    policy: Arc<dyn Policy>,
    lifecycle: Lifecycle,
    options: HelpDeskOptions,
    changes: Arc<dyn ChangeFeed>,
    staff: live::StaffCache,
    /// The service-level rules in force and the version of the saved ones they come from (0:
    /// the configured ones); replaced when an admin saves new ones.
    sla: std::sync::RwLock<(Arc<crate::sla::SlaRules>, u64)>,
    /// The custom field definitions this process read last (see [`fields`]).
    fields: fields::CachedFields,
}

/// Builds a [`HelpDesk`]; only the store and the attachment store are required.
#[derive(Debug)]
pub struct HelpDeskBuilder {
    store: Arc<dyn Store>,
    blobs: Arc<dyn ObjectStore>,
    clock: Option<Arc<dyn Clock>>,
    hasher: Option<Arc<dyn PasswordHasher>>,
    policy: Option<Arc<dyn Policy>>,
    lifecycle: Option<Lifecycle>,
    options: HelpDeskOptions,
    changes: Option<Arc<dyn ChangeFeed>>,
    sla: crate::sla::SlaRules,
}

impl HelpDeskBuilder {
    /// The clock (default: the wall clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }
    /// The password hasher (default: argon2id with [`Argon2Options::default`]).
    pub fn hasher(mut self, hasher: Arc<dyn PasswordHasher>) -> Self {
        self.hasher = Some(hasher);
        self
    }
    /// The policy (default: [`RulePolicy`] built from the options).
    pub fn policy(mut self, policy: Arc<dyn Policy>) -> Self {
        self.policy = Some(policy);
        self
    }
    /// A custom lifecycle table (default: SPEC §4's, with the options' reopen window).
    pub fn lifecycle(mut self, lifecycle: Lifecycle) -> Self {
        self.lifecycle = Some(lifecycle);
        self
    }
    /// Where committed changes are published for live pages (default: [`LocalChangeFeed`],
    /// one process; several processes on PostgreSQL use `PgChangeFeed`).
    pub fn changes(mut self, changes: Arc<dyn ChangeFeed>) -> Self {
        self.changes = Some(changes);
        self
    }
    /// The options.
    pub fn options(mut self, options: HelpDeskOptions) -> Self {
        self.options = options;
        self
    }
    /// Service-level calendars and policies (default: none, so tickets have no targets).
    /// Check them with [`SlaSpec::compile`](crate::sla::SlaSpec::compile).
    pub fn sla(mut self, rules: crate::sla::SlaRules) -> Self {
        self.sla = rules;
        self
    }
    /// Builds the service.
    ///
    /// # Errors
    /// [`Error::Internal`] when the catalog or the argon2 parameters are invalid.
    pub fn build(self) -> Result<HelpDesk> {
        self.options.catalog.validate().map_err(Error::Internal)?;
        let hasher = match self.hasher {
            Some(h) => h,
            None => Arc::new(Argon2Hasher::new(Argon2Options::default()).map_err(Error::Internal)?),
        };
        let lifecycle = match self.lifecycle {
            Some(l) => l,
            None => Lifecycle::new(crate::lifecycle::default_rules(self.options.reopen_window_days))
                .map_err(|e| Error::Internal(e.to_string()))?,
        };
        let policy = self.policy.unwrap_or_else(|| Arc::new(RulePolicy::new(&self.options.policy)));
        Ok(HelpDesk {
            inner: Arc::new(Inner {
                store: self.store,
                blobs: self.blobs,
                clock: self.clock.unwrap_or_else(|| Arc::new(SystemClock)),
                hasher,
                policy,
                lifecycle,
                options: self.options,
                changes: self.changes.unwrap_or_else(|| Arc::new(LocalChangeFeed::default())),
                staff: live::StaffCache::default(),
                sla: std::sync::RwLock::new((Arc::new(self.sla), 0)),
                fields: std::sync::RwLock::new(None),
            }),
        })
    }
}

impl HelpDesk {
    /// Starts building a help desk over `store` with attachments in `blobs`.
    pub fn builder(store: Arc<dyn Store>, blobs: Arc<dyn ObjectStore>) -> HelpDeskBuilder {
        HelpDeskBuilder {
            store,
            blobs,
            clock: None,
            hasher: None,
            policy: None,
            lifecycle: None,
            options: HelpDeskOptions::default(),
            changes: None,
            sla: crate::sla::SlaRules::default(),
        }
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }
    /// The attachment store.
    pub fn blobs(&self) -> &Arc<dyn ObjectStore> {
        &self.inner.blobs
    }
    /// The options.
    pub fn options(&self) -> &HelpDeskOptions {
        &self.inner.options
    }
    /// The service-level calendars and policies in force.
    pub fn sla_rules(&self) -> Arc<crate::sla::SlaRules> {
        self.sla_in_force().0
    }
    /// The rules in force and the saved version they come from (0: the configured ones).
    pub(crate) fn sla_in_force(&self) -> (Arc<crate::sla::SlaRules>, u64) {
        match self.inner.sla.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
    /// Puts `rules` (saved as `version`) in force.
    pub(crate) fn put_sla_in_force(&self, rules: crate::sla::SlaRules, version: u64) {
        let mut g = match self.inner.sla.write() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        *g = (Arc::new(rules), version);
    }
    /// The lifecycle table.
    pub fn lifecycle(&self) -> &Lifecycle {
        &self.inner.lifecycle
    }
    /// The policy.
    pub fn policy(&self) -> &Arc<dyn Policy> {
        &self.inner.policy
    }
    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }
    /// Now, from the clock port.
    pub fn now(&self) -> DateTime<Utc> {
        self.inner.clock.now()
    }

    /// The catalog, for any signed-in principal.
    ///
    /// # Errors
    /// [`Error::Forbidden`] for anonymous callers.
    pub fn catalog(&self, principal: &Principal) -> Result<&crate::domain::Catalog> {
        self.require(principal, Permission::ViewCatalog, &Resource::none())?;
        Ok(&self.inner.options.catalog)
    }

    /// Checks `permission`, answering `Forbidden` (anonymous: `Unauthenticated`).
    fn require(&self, principal: &Principal, permission: Permission, resource: &Resource) -> Result<()> {
        if self.allowed(principal, permission, resource) {
            return Ok(());
        }
        if matches!(principal, Principal::Anonymous) {
            return Err(Error::Unauthenticated(crate::AuthFailure::Missing));
        }
        Err(Error::Forbidden(permission_name(permission)))
    }

    fn allowed(&self, principal: &Principal, permission: Permission, resource: &Resource) -> bool {
        self.inner.policy.decide(principal, permission, resource) == Decision::Allow
    }

    /// Records an audit entry in its own commit (security events outside a larger change).
    async fn audit(
        &self,
        actor: Option<crate::model::ActorRef>,
        kind: AuditKind,
        target: Option<String>,
        address: Option<String>,
        detail: String,
    ) -> Result<()> {
        let mut uow = UnitOfWork::new();
        uow.audit.push(audit_entry(self.now(), actor, kind, target, address, detail));
        self.commit(uow).await?;
        Ok(())
    }

    /// Runs a password hash on the blocking pool when a Tokio runtime is present.
    async fn hash_password(&self, password: Password) -> Result<PasswordHash> {
        let hasher = self.inner.hasher.clone();
        blocking(move || hasher.hash(&password)).await?.map_err(Error::Internal)
    }

    /// Verifies a password on the blocking pool.
    async fn verify_password(
        &self,
        password: Password,
        hash: Option<PasswordHash>,
    ) -> Result<crate::password::Verification> {
        let hasher = self.inner.hasher.clone();
        blocking(move || match hash {
            Some(h) => hasher.verify(&password, &h),
            None => {
                hasher.verify_dummy(&password);
                crate::password::Verification::Invalid
            }
        })
        .await
    }
}

fn permission_name(p: Permission) -> &'static str {
    match p {
        Permission::Register => "register",
        Permission::ViewCatalog => "view the catalog",
        Permission::ManageOwnProfile => "manage the profile",
        Permission::ViewAvatar => "view avatars",
        Permission::ListStaff => "list staff",
        Permission::ViewUsers => "view users",
        Permission::ManageUsers => "manage users",
        Permission::ViewRejections => "view rejections",
        Permission::ViewAuditLog => "view the audit log",
        Permission::ManageApiKeys => "manage API keys",
        Permission::ManageOutbox => "manage the outbox",
        Permission::ManageServiceLevels => "manage service levels",
        Permission::ViewReports => "view reports",
        Permission::CreateTicket => "create tickets",
        Permission::ListAllTickets => "list all tickets",
        Permission::ViewTicket => "view this ticket",
        Permission::EditTicket => "edit this field",
        Permission::TransitionTicket => "change this ticket",
        Permission::CommentPublic => "comment",
        Permission::CommentInternal => "write internal comments",
        Permission::ViewInternal => "view internal content",
        Permission::UploadAttachment => "upload attachments here",
        Permission::DownloadAttachment => "download this attachment",
        Permission::PushWorkflowStatus => "push workflow status",
        Permission::IngestMail => "hand over mail",
        Permission::ManageInboundMail => "manage incoming mail",
        Permission::UseMacros => "use macros",
        Permission::ManageSharedMacros => "manage shared macros",
        Permission::UseViews => "use saved views",
        Permission::ManageSharedViews => "manage shared views",
        Permission::ManageFollowers => "manage followers",
        Permission::StopFollowing => "stop following",
        Permission::LinkTickets => "link tickets",
        Permission::MergeTickets => "merge tickets",
        Permission::ManageCustomFields => "manage custom fields",
    }
}

pub(crate) fn audit_entry(
    at: DateTime<Utc>,
    actor: Option<crate::model::ActorRef>,
    kind: AuditKind,
    target: Option<String>,
    address: Option<String>,
    detail: String,
) -> AuditEntry {
    AuditEntry { id: AuditId::random(), at, actor, kind, target, address, detail }
}

/// Runs CPU-heavy work off the async workers when a Tokio runtime is present.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => handle.spawn_blocking(f).await.map_err(|e| Error::Internal(format!("blocking task failed: {e}"))),
        Err(_) => Ok(f()),
    }
}

/// A random secret of 32 bytes (256 bits), URL-safe base64.
pub(crate) fn random_secret() -> String {
    use base64::Engine as _;
    let mut buf = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

/// Hex SHA-256 of some bytes.
pub(crate) fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}
