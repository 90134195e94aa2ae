//! The storage port: small read traits under one [`Store`], and one atomic write,
//! [`UnitOfWorkStore::commit`].
//!
//! # Contract (all traits)
//! - Every write that belongs to one use case goes through a single [`UnitOfWork`]: the
//!   changed rows with their expected versions, history events, comments, attachments,
//!   outbox messages, audit entries, rejection records, tokens, session revocations and the
//!   idempotency record commit together or not at all.
//! - Reads see committed data only. Stores used by several processes (PostgreSQL) give the
//!   same answers from every process.
//! - Lists are ordered by their sort key, then by id, and are stable under paging.
//! - Times are stored with at least microsecond precision.
//! - **Cancel-safe.** A caller may drop any store future at any `.await` (a client that went
//!   away, a time-out, a `select!`). A write then either happens whole or not at all, exactly
//!   as if the call had run to its end or never started, and it leaves nothing behind that a
//!   later call could trip over (an open transaction, a held lock, a poisoned connection).
//!   A dropped write's outcome is unknown to its caller, never half-applied. The sled store
//!   guarantees it by construction: a write is one synchronous sled transaction (no `.await`
//!   inside), followed by an awaited flush that a dropped caller merely stops waiting for (the
//!   background flusher still makes it durable). The PostgreSQL store runs every write on a
//!   task of its own and checks connections on their way back to the pool
//!   (`helpdesk_storage_postgres::cancel`). The in-memory store's writes take one lock
//!   without an `.await` inside.
//!
//! # Errors
//! [`StoreError`] is semantic: `NotFound`, `AlreadyExists`, `VersionMismatch`, `Conflict`,
//! `Unavailable` (retry later), and `Backend` for anything else.
//!
//! # Implementing
//! Keep transactions inside the adapter; do no I/O inside sled transaction closures. Make
//! every call cancel-safe (above): if a transaction spans `.await`s, run it where the caller's
//! drop cannot reach it (a spawned task) and never return a connection that is still inside a
//! transaction to a pool. Run the
//! conformance suite (`helpdesk_core::testing::conformance`) with one macro call.

use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::query::{AuditQuery, Cursor, Page, PageSize, TicketQuery, UserQuery};
use crate::domain::{
    ApiKeyId, AttachmentId, CompanyId, Email, InboundId, MessageId, NoticeId, SessionId, TicketId, TicketNumber,
    TicketStatus, UserId,
};
use crate::model::{
    ApiKey, Attachment, AuditEntry, Comment, HistoryEvent, InboundMessage, Notice, OneTimeToken, OutboxMessage,
    OutboxRecord, OutboxState, RejectionRecord, Session, Ticket, TokenHash, User,
};
use crate::report::{PerformanceReport, ReportRange, Summary};

/// A storage failure, by meaning.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The record to change does not exist.
    #[error("{what} not found")]
    NotFound {
        /// Which record.
        what: &'static str,
    },
    /// A unique field clashes (`email`, `company_id`, `ticket_number`, `id`).
    #[error("{what} already exists")]
    AlreadyExists {
        /// Which field.
        what: &'static str,
    },
    /// The stored version is not the expected one.
    #[error("version mismatch: expected {expected}, found {found}")]
    VersionMismatch {
        /// The version the caller read.
        expected: u64,
        /// The version in the store.
        found: u64,
    },
    /// A state that forbids the write (used token, lease lost, …).
    #[error("conflict: {what}")]
    Conflict {
        /// What conflicted (`lease`, `token`, …).
        what: &'static str,
    },
    /// The backend cannot be reached now; retry later.
    #[error("storage unavailable: {source}")]
    Unavailable {
        /// The underlying error, for logs.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// This store does not do what was asked (an online backup of a database server, say,
    /// which has its own tools).
    #[error("not supported by this store: {what}")]
    Unsupported {
        /// What, and what to use instead.
        what: &'static str,
    },
    /// Any other backend failure.
    #[error("{backend} error: {source}")]
    Backend {
        /// Which backend.
        backend: &'static str,
        /// The underlying error, for logs.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// A store result.
pub type StoreResult<T> = Result<T, StoreError>;

/// A row to write: `expected == None` inserts; `Some(v)` replaces version `v` (the new row
/// carries `v + 1`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned<T> {
    /// The row after the change.
    pub value: T,
    /// The version it replaces, or `None` for an insert.
    pub expected: Option<u64>,
}

impl<T> Versioned<T> {
    /// An insert.
    pub fn insert(value: T) -> Self {
        Self { value, expected: None }
    }
    /// An update of version `expected`.
    pub fn update(value: T, expected: u64) -> Self {
        Self { value, expected: Some(expected) }
    }
}

/// Ends a user's sessions, optionally keeping one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRevocation {
    /// The user whose session it is.
    pub user: UserId,
    /// Keep this one (password change from this session).
    pub except: Option<SessionId>,
}

/// The principal-scoped idempotency key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct IdempotencyKey {
    /// `user:<id>` or `key:<id>`.
    pub principal: String,
    /// The client's `Idempotency-Key`.
    pub key: String,
}

/// A completed idempotent request: what to answer on a replay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    /// The key.
    pub key: IdempotencyKey,
    /// SHA-256 of the request body (hex).
    pub request_hash: String,
    /// The response to replay.
    pub response: serde_json::Value,
    /// Kept until.
    pub expires_at: DateTime<Utc>,
}

/// The answer of [`IdempotencyStore::begin_idempotent`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyBegin {
    /// No live record: one is now in progress for this caller.
    Started,
    /// The first request is still running (or died without a word: the row counts as absent
    /// once it is older than the caller's `stale_before`).
    InProgress {
        /// When the first request began.
        started_at: DateTime<Utc>,
    },
    /// The same key was used with another body.
    Mismatch,
    /// Done before: replay this.
    Completed(IdempotencyRecord),
}

/// An idempotency row as stores keep it; [`answer`](Self::answer) is the decision every store
/// makes the same way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdempotencyState {
    /// SHA-256 of the first request's body.
    pub request_hash: String,
    /// The response, once completed.
    pub response: Option<serde_json::Value>,
    /// When the first request began.
    pub started_at: DateTime<Utc>,
    /// Kept until (set on completion).
    pub expires_at: Option<DateTime<Utc>>,
}

impl IdempotencyState {
    /// What [`IdempotencyStore::begin_idempotent`] answers for this row, or `None` when the row
    /// counts as absent (expired, or in progress since before `stale_before`): the store then
    /// replaces it with a new in-progress row and answers `Started`.
    pub fn answer(
        &self,
        key: &IdempotencyKey,
        hash: &str,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
    ) -> Option<IdempotencyBegin> {
        let live = match (&self.response, self.expires_at) {
            (Some(_), Some(exp)) => exp > now,
            _ => self.started_at >= stale_before,
        };
        if !live {
            return None;
        }
        Some(match (&self.response, self.request_hash == hash) {
            (_, false) => IdempotencyBegin::Mismatch,
            (None, true) => IdempotencyBegin::InProgress { started_at: self.started_at },
            (Some(r), true) => IdempotencyBegin::Completed(IdempotencyRecord {
                key: key.clone(),
                request_hash: self.request_hash.clone(),
                response: r.clone(),
                expires_at: self.expires_at.unwrap_or(now),
            }),
        })
    }
}

/// Everything one use case writes, committed atomically.
#[derive(Debug, Clone, Default)]
pub struct UnitOfWork {
    /// Tickets inserted or updated.
    pub tickets: Vec<Versioned<Ticket>>,
    /// Users inserted or updated.
    pub users: Vec<Versioned<User>>,
    /// Users deleted (rejected registrations), with the version expected.
    pub deleted_users: Vec<(UserId, u64)>,
    /// History events.
    pub events: Vec<HistoryEvent>,
    /// New comments.
    pub comments: Vec<Comment>,
    /// New attachments.
    pub attachments: Vec<Attachment>,
    /// Outbox messages.
    pub outbox: Vec<OutboxMessage>,
    /// Security audit entries.
    pub audit: Vec<AuditEntry>,
    /// Rejection audit records.
    pub rejections: Vec<RejectionRecord>,
    /// New single-use tokens.
    pub new_tokens: Vec<OneTimeToken>,
    /// A token to mark used; the commit fails with `Conflict { what: "token" }` when it is
    /// unknown or already used.
    pub consume_token: Option<(TokenHash, DateTime<Utc>)>,
    /// Sessions to end.
    pub revoke_sessions: Vec<(SessionRevocation, DateTime<Utc>)>,
    /// Completes an idempotency record begun with [`IdempotencyStore::begin_idempotent`].
    pub idempotency: Option<IdempotencyRecord>,
    /// New in-app notifications (unread).
    pub notices: Vec<Notice>,
    /// Messages that came in by mail, inserted (their `key` unique:
    /// `AlreadyExists { what: "inbound message" }` on a clash) or updated at their version.
    pub inbound: Vec<Versioned<InboundMessage>>,
}

impl UnitOfWork {
    /// An empty unit of work.
    pub fn new() -> Self {
        Self::default()
    }
    /// True when it writes nothing.
    pub fn is_empty(&self) -> bool {
        self.tickets.is_empty()
            && self.users.is_empty()
            && self.deleted_users.is_empty()
            && self.events.is_empty()
            && self.comments.is_empty()
            && self.attachments.is_empty()
            && self.outbox.is_empty()
            && self.audit.is_empty()
            && self.rejections.is_empty()
            && self.new_tokens.is_empty()
            && self.consume_token.is_none()
            && self.revoke_sessions.is_empty()
            && self.idempotency.is_none()
            && self.notices.is_empty()
            && self.inbound.is_empty()
    }
}

/// The one atomic write, and a liveness check.
#[cfg_attr(feature = "testing", mockall::automock)]
#[async_trait]
pub trait UnitOfWorkStore: Send + Sync + fmt::Debug + 'static {
    /// Commits `uow` atomically.
    ///
    /// # Contract
    /// All or nothing. Checks before writing: every `Versioned` update's stored version equals
    /// `expected` (`VersionMismatch` otherwise, `NotFound` if absent); inserts do not clash
    /// on id (outbox message ids included: a message is enqueued once, never replaced), user
    /// email, company id or ticket number (`AlreadyExists { what }`); deleted users exist at
    /// the expected version; `consume_token` is known and unused
    /// (`Conflict { what: "token" }`). Durable when it returns `Ok`.
    async fn commit(&self, uow: UnitOfWork) -> StoreResult<()>;

    /// Checks that the store answers.
    async fn ping(&self) -> StoreResult<()>;
}

/// Tickets and what hangs off them.
#[cfg_attr(feature = "testing", mockall::automock)]
#[async_trait]
pub trait TicketStore: Send + Sync + fmt::Debug + 'static {
    /// A ticket by id.
    async fn ticket(&self, id: TicketId) -> StoreResult<Option<Ticket>>;
    /// A ticket by number.
    async fn ticket_by_number(&self, number: &TicketNumber) -> StoreResult<Option<Ticket>>;
    /// A page of tickets matching `query` ([`TicketQuery::selects`]), in its sort order.
    async fn list_tickets(&self, query: &TicketQuery) -> StoreResult<Page<Ticket>>;
    /// How many tickets pass `query`'s filters, per status (statuses without tickets left
    /// out). The query's status filter, cursor, sort and page size are ignored, so one call
    /// gives the counts beside a list filtered by any of the statuses.
    async fn ticket_counts(&self, query: &TicketQuery) -> StoreResult<Vec<(TicketStatus, u64)>>;
    /// Resolved tickets whose `resolved_at` is before `cutoff` (auto-close), at most `limit`.
    async fn resolved_before(&self, cutoff: DateTime<Utc>, limit: usize) -> StoreResult<Vec<Ticket>>;
    /// The service-level alert moments ([`SlaSchedule::alerts`](crate::model::SlaSchedule)) of
    /// every ticket that fall in `(after, until]`, as `(moment, ticket)` in time order (ties
    /// by ticket id), at most `limit`: what the alert loop works through.
    async fn sla_alerts_between(
        &self,
        after: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> StoreResult<Vec<(DateTime<Utc>, TicketId)>>;
    /// A ticket's history, oldest first.
    async fn history(&self, ticket: TicketId) -> StoreResult<Vec<HistoryEvent>>;
    /// A ticket's comments, oldest first.
    async fn comments(&self, ticket: TicketId) -> StoreResult<Vec<Comment>>;
    /// A ticket's attachments, oldest first.
    async fn attachments(&self, ticket: TicketId) -> StoreResult<Vec<Attachment>>;
    /// One attachment.
    async fn attachment(&self, id: AttachmentId) -> StoreResult<Option<Attachment>>;
    /// Allocates the next ticket sequence number.
    ///
    /// # Contract
    /// Unique across every process using the store and never reused, even after a crash.
    /// Gaps are allowed only for allocations whose commit never happened; no large jumps.
    async fn allocate_ticket_number(&self) -> StoreResult<u64>;
}

/// Users and rejection records.
#[cfg_attr(feature = "testing", mockall::automock)]
#[async_trait]
pub trait UserStore: Send + Sync + fmt::Debug + 'static {
    /// A user by id.
    async fn user(&self, id: UserId) -> StoreResult<Option<User>>;
    /// A user by (normalised) email.
    async fn user_by_email(&self, email: &Email) -> StoreResult<Option<User>>;
    /// A user by company id.
    async fn user_by_company_id(&self, id: &CompanyId) -> StoreResult<Option<User>>;
    /// A page of users ([`UserQuery::selects`]), newest first.
    async fn list_users(&self, query: &UserQuery) -> StoreResult<Page<User>>;
    /// How many users exist.
    async fn user_count(&self) -> StoreResult<u64>;
    /// Rejection records, newest first.
    async fn rejections(&self, cursor: Option<Cursor>, limit: PageSize) -> StoreResult<Page<RejectionRecord>>;
    /// How many rejection records exist.
    async fn rejection_count(&self) -> StoreResult<u64>;
}

/// What presenting a refresh token did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshOutcome {
    /// Rotated: the presented token is now used; the session carries the new hash.
    Rotated(Session),
    /// The token was used before: the whole session was revoked.
    Reused {
        /// The revoked session.
        session: SessionId,
        /// Its owner.
        user: UserId,
    },
    /// The session is revoked or expired.
    Ended,
    /// No such token.
    Unknown,
}

/// Login sessions and their refresh-token families.
#[cfg_attr(feature = "testing", mockall::automock)]
#[async_trait]
pub trait SessionStore: Send + Sync + fmt::Debug + 'static {
    /// Stores a new session (its `refresh_hash` becomes a valid token).
    async fn create_session(&self, session: &Session) -> StoreResult<()>;
    /// A session with its user, in one read: liveness plus current role, status, department.
    async fn session(&self, id: SessionId) -> StoreResult<Option<(Session, User)>>;
    /// Presents refresh token `presented`; if it is the session's current one and the session
    /// is live at `now`, atomically marks it used, makes `next` current and moves the idle
    /// expiry to `idle_expires_at` (never past the absolute expiry).
    ///
    /// # Contract
    /// Exactly one of two concurrent presentations of the same token can rotate; the other
    /// sees it as reused and revokes the session.
    async fn rotate_refresh(
        &self,
        presented: &TokenHash,
        next: &TokenHash,
        now: DateTime<Utc>,
        idle_expires_at: DateTime<Utc>,
    ) -> StoreResult<RefreshOutcome>;
    /// A user's sessions that are not revoked (expired ones included; the caller decides with
    /// [`Session::is_live`]), oldest first.
    async fn user_sessions(&self, user: UserId) -> StoreResult<Vec<Session>>;
    /// Ends one session (idempotent).
    async fn revoke_session(&self, id: SessionId, now: DateTime<Utc>) -> StoreResult<()>;
    /// Ends all of a user's sessions but `except`; returns how many ended.
    async fn revoke_user_sessions(
        &self,
        user: UserId,
        except: Option<SessionId>,
        now: DateTime<Utc>,
    ) -> StoreResult<u64>;
}

/// Single-use reset and invitation tokens (written and consumed through units of work).
#[cfg_attr(feature = "testing", mockall::automock)]
#[async_trait]
pub trait TokenStore: Send + Sync + fmt::Debug + 'static {
    /// A token by hash.
    async fn one_time_token(&self, hash: &TokenHash) -> StoreResult<Option<OneTimeToken>>;
}

/// External systems' API keys.
#[cfg_attr(feature = "testing", mockall::automock)]
#[async_trait]
pub trait ApiKeyStore: Send + Sync + fmt::Debug + 'static {
    /// Stores a new key (`AlreadyExists` on an id clash).
    async fn create_api_key(&self, key: &ApiKey) -> StoreResult<()>;
    /// A key by id (revoked ones included).
    async fn api_key(&self, id: ApiKeyId) -> StoreResult<Option<ApiKey>>;
    /// Every key, oldest first.
    async fn list_api_keys(&self) -> StoreResult<Vec<ApiKey>>;
    /// Revokes a key (`NotFound` if unknown; idempotent otherwise).
    async fn revoke_api_key(&self, id: ApiKeyId, now: DateTime<Utc>) -> StoreResult<()>;
}

/// The security audit log (written through units of work).
#[cfg_attr(feature = "testing", mockall::automock)]
#[async_trait]
pub trait AuditStore: Send + Sync + fmt::Debug + 'static {
    /// A page of entries, newest first (cursor key: `at` in microseconds).
    async fn list_audit(&self, query: &AuditQuery) -> StoreResult<Page<AuditEntry>>;
}

/// Idempotency records, per principal.
#[cfg_attr(feature = "testing", mockall::automock)]
#[async_trait]
pub trait IdempotencyStore: Send + Sync + fmt::Debug + 'static {
    /// Starts an idempotent request.
    ///
    /// # Contract
    /// Atomic: of two concurrent calls with the same key, one gets `Started`. A completed
    /// record answers `Completed` (same hash) or `Mismatch`; an in-progress one `InProgress`
    /// (same hash) or `Mismatch`. Records past `expires_at`, and in-progress records older
    /// than `stale_before`, count as absent.
    async fn begin_idempotent(
        &self,
        key: &IdempotencyKey,
        request_hash: &str,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
    ) -> StoreResult<IdempotencyBegin>;
    /// Drops an in-progress record whose request failed (no-op if completed).
    async fn release_idempotent(&self, key: &IdempotencyKey) -> StoreResult<()>;
}

/// Consecutive login failures of one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FailureState {
    /// Consecutive failures.
    pub count: u32,
    /// The last one.
    pub last_at: Option<DateTime<Utc>>,
}

/// Shared throttling state, so every server instance sees the same counts.
#[cfg_attr(feature = "testing", mockall::automock)]
#[async_trait]
pub trait ThrottleStore: Send + Sync + fmt::Debug + 'static {
    /// The failure state of `key`.
    async fn login_failures(&self, key: &str) -> StoreResult<FailureState>;
    /// Records one failure atomically and returns the new state.
    async fn record_login_failure(&self, key: &str, now: DateTime<Utc>) -> StoreResult<FailureState>;
    /// Clears the failures of `key`.
    async fn clear_login_failures(&self, key: &str) -> StoreResult<()>;
    /// Counts one hit of `key` in the fixed window starting at `window_start` and returns the
    /// window's count (atomic increment).
    async fn hit_window(&self, key: &str, window_start: DateTime<Utc>) -> StoreResult<u64>;
}

/// A dispatcher's claim on messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    /// Identifies the claim; only its holder may acknowledge.
    pub token: uuid::Uuid,
    /// The claim expires then.
    pub until: DateTime<Utc>,
}

/// What to do after a failed delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryFailure {
    /// The error, for admins.
    pub error: String,
    /// Try again at this time, or `None` to mark the message dead.
    pub retry_at: Option<DateTime<Utc>>,
}

/// The transactional outbox.
#[cfg_attr(feature = "testing", mockall::automock)]
#[async_trait]
pub trait OutboxStore: Send + Sync + fmt::Debug + 'static {
    /// Claims up to `limit` pending messages due at `now` whose lease is absent or expired,
    /// under `lease`, oldest due first.
    ///
    /// # Contract
    /// Two concurrent claims never return the same message (PostgreSQL: `FOR UPDATE SKIP
    /// LOCKED`); each claimed message's `attempts` grows by one.
    async fn claim_outbox(&self, now: DateTime<Utc>, limit: usize, lease: Lease) -> StoreResult<Vec<OutboxRecord>>;
    /// Marks a claimed message delivered; clears sensitive payloads. `Conflict { what:
    /// "lease" }` when `lease_token` no longer holds it.
    async fn ack_outbox(&self, id: MessageId, lease_token: uuid::Uuid, now: DateTime<Utc>) -> StoreResult<()>;
    /// Records a failed attempt: back to pending at `retry_at`, or dead. Same lease rule.
    async fn fail_outbox(&self, id: MessageId, lease_token: uuid::Uuid, failure: DeliveryFailure) -> StoreResult<()>;
    /// Messages in `state`, oldest first (cursor key: `created_at` in microseconds).
    async fn list_outbox(
        &self,
        state: OutboxState,
        cursor: Option<Cursor>,
        limit: PageSize,
    ) -> StoreResult<Page<OutboxRecord>>;
    /// One message.
    async fn outbox_message(&self, id: MessageId) -> StoreResult<Option<OutboxRecord>>;
    /// Puts a dead message back to pending, due at `now`, with its attempts reset
    /// (`NotFound`; `Conflict { what: "state" }` unless dead).
    async fn retry_outbox(&self, id: MessageId, now: DateTime<Utc>) -> StoreResult<()>;
    /// The earliest time a pending message becomes due (lease expiry included), if any.
    async fn next_outbox_due(&self) -> StoreResult<Option<DateTime<Utc>>>;
}

/// Report queries (SPEC §7), answered by the store without loading every ticket.
#[cfg_attr(feature = "testing", mockall::automock)]
#[async_trait]
pub trait ReportStore: Send + Sync + fmt::Debug + 'static {
    /// The summary at `now`.
    async fn summary(&self, now: DateTime<Utc>) -> StoreResult<Summary>;
    /// The performance report over `range`.
    async fn performance(&self, range: ReportRange) -> StoreResult<PerformanceReport>;
    /// What the satisfaction report reads of the tickets created in `range`: how many of them
    /// have been resolved (`resolved_at` set), and every one of them that carries a rating
    /// (in no particular order).
    async fn satisfaction_samples(&self, range: ReportRange) -> StoreResult<SatisfactionSamples>;
}

/// The tickets a satisfaction report reads ([`ReportStore::satisfaction_samples`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SatisfactionSamples {
    /// Tickets created in the range that have been resolved.
    pub resolved: u64,
    /// Tickets created in the range that carry a rating.
    pub rated: Vec<Ticket>,
}

/// Cut-offs for retention.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PurgeBefore {
    /// Delivered outbox messages delivered before.
    pub delivered_outbox: DateTime<Utc>,
    /// Idempotency records expired before.
    pub idempotency: DateTime<Utc>,
    /// Audit entries older than.
    pub audit: DateTime<Utc>,
    /// Sessions that ended before, one-time tokens that expired before, throttle windows that
    /// started before.
    pub sessions_and_tokens: DateTime<Utc>,
    /// In-app notifications made before, read or not.
    pub notices: DateTime<Utc>,
}

/// How many records a purge removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurgeReport {
    /// Outbox messages.
    pub outbox: u64,
    /// Idempotency records.
    pub idempotency: u64,
    /// Audit entries.
    pub audit: u64,
    /// Sessions, tokens and throttle windows.
    pub sessions_and_tokens: u64,
    /// In-app notifications.
    #[serde(default)]
    pub notices: u64,
}

/// In-app notifications, per user, newest first.
#[cfg_attr(feature = "testing", mockall::automock)]
#[async_trait]
pub trait NoticeStore: Send + Sync + fmt::Debug + 'static {
    /// The user's newest `limit` notices, newest first (ties by id, descending).
    async fn notices(&self, user: UserId, limit: usize) -> StoreResult<Vec<Notice>>;
    /// How many of the user's notices are unread.
    async fn unread_notices(&self, user: UserId) -> StoreResult<u64>;
    /// Marks one notice (`Some`) or all (`None`) of the user's unread notices read at `now`;
    /// answers how many changed. A notice of another user is never touched (0).
    async fn mark_notices_read(&self, user: UserId, id: Option<NoticeId>, now: DateTime<Utc>) -> StoreResult<u64>;
}

/// Messages that came in by mail (see [`InboundMessage`]).
#[cfg_attr(feature = "testing", mockall::automock)]
#[async_trait]
pub trait InboundStore: Send + Sync + fmt::Debug + 'static {
    /// One record by id.
    async fn inbound(&self, id: InboundId) -> StoreResult<Option<InboundMessage>>;
    /// The record of the message with this identity ([`InboundMessage::key`]), if it came
    /// before.
    async fn inbound_by_key(&self, key: &str) -> StoreResult<Option<InboundMessage>>;
    /// Records newest first (by `received_at`, then id, descending), optionally only those
    /// whose outcome is named `outcome` (`held`, `failed`, …), at most `limit`, starting after
    /// `before` (the last record of the previous page).
    async fn list_inbound(
        &self,
        outcome: Option<&'static str>,
        before: Option<(DateTime<Utc>, InboundId)>,
        limit: usize,
    ) -> StoreResult<Vec<InboundMessage>>;
}

/// What [`MaintenanceStore::backup_to`] copied.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupSummary {
    /// Records (keys or rows) copied, every kind together.
    pub records: u64,
    /// Tickets among them.
    pub tickets: u64,
    /// How long writes waited for the cut, in milliseconds.
    pub writes_waited_ms: u64,
}

/// Retention and backups.
#[cfg_attr(feature = "testing", mockall::automock)]
#[async_trait]
pub trait MaintenanceStore: Send + Sync + fmt::Debug + 'static {
    /// Deletes what is past retention.
    async fn purge(&self, before: PurgeBefore) -> StoreResult<PurgeReport>;

    /// Writes a consistent copy of the whole store into `to`, a directory that must not exist
    /// yet or be empty, while the store goes on serving: the copy is one cut of the store
    /// (every write before it, none after), writes wait while it is taken, reads do not.
    /// For embedded stores; a database server has its own tools (PostgreSQL: `pg_dump`,
    /// point-in-time recovery), and the default answers [`StoreError::Unsupported`].
    async fn backup_to(&self, to: &std::path::Path) -> StoreResult<BackupSummary> {
        let _ = to;
        Err(StoreError::Unsupported { what: "online backup: use the database's own tools (pg_dump)" })
    }
}

/// Reads that a store may answer together. Each method has a default made of the single
/// reads, so a store that has nothing to gain implements this with an empty `impl`;
/// PostgreSQL answers each in one round trip (the hottest request, reading one ticket, then
/// costs one statement instead of two).
#[async_trait]
pub trait CombinedReads: SessionStore + TicketStore {
    /// A session with its user (as [`SessionStore::session`]) and, in the same read, a ticket
    /// by number (as [`TicketStore::ticket_by_number`]): an authenticated request for one
    /// ticket. `None` when there is no such session.
    async fn session_and_ticket(
        &self,
        id: SessionId,
        number: &TicketNumber,
    ) -> StoreResult<Option<(Session, User, Option<Ticket>)>> {
        let Some((session, user)) = self.session(id).await? else { return Ok(None) };
        Ok(Some((session, user, self.ticket_by_number(number).await?)))
    }
}

/// The whole storage port, implemented automatically by any type implementing every part.
pub trait Store:
    UnitOfWorkStore
    + TicketStore
    + UserStore
    + SessionStore
    + TokenStore
    + ApiKeyStore
    + AuditStore
    + IdempotencyStore
    + ThrottleStore
    + OutboxStore
    + ReportStore
    + MaintenanceStore
    + NoticeStore
    + InboundStore
    + CombinedReads
    + super::ArchiveStore
    + super::SettingsStore
{
}

impl<T> Store for T where
    T: UnitOfWorkStore
        + TicketStore
        + UserStore
        + SessionStore
        + TokenStore
        + ApiKeyStore
        + AuditStore
        + IdempotencyStore
        + ThrottleStore
        + OutboxStore
        + ReportStore
        + MaintenanceStore
        + NoticeStore
        + InboundStore
        + CombinedReads
        + super::ArchiveStore
        + super::SettingsStore
{
}
