//! [`MockStore`]: a `mockall` mock of the whole [`Store`](crate::ports::Store), so a test can
//! back a [`HelpDesk`](crate::HelpDesk) with expectations (the per-trait mocks cannot: a
//! `HelpDesk` needs one value that is every store trait at once).
//!
//! ```
//! use std::sync::Arc;
//! use helpdesk_core::HelpDesk;
//! use helpdesk_core::testing::MockStore;
//!
//! let mut store = MockStore::new();
//! store.expect_ping().times(1).returning(|| Ok(()));
//! let desk = HelpDesk::builder(Arc::new(store), Arc::new(object_store::memory::InMemory::new())).build().unwrap();
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! desk.store().ping().await.unwrap();
//! # });
//! ```

#![allow(missing_docs)] // the methods are the traits' own, documented there

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::domain::*;
use crate::model::*;
use crate::ports::*;
use crate::report::*;

mockall::mock! {
    /// Every store trait at once; expectations per method, as with any `mockall` mock.
    pub Store {}

    #[async_trait]
    impl UnitOfWorkStore for Store {
        async fn commit(&self, uow: UnitOfWork) -> StoreResult<()>;
        async fn ping(&self) -> StoreResult<()>;
    }

    #[async_trait]
    impl TicketStore for Store {
        async fn ticket(&self, id: TicketId) -> StoreResult<Option<Ticket>>;
        async fn ticket_by_number(&self, number: &TicketNumber) -> StoreResult<Option<Ticket>>;
        async fn list_tickets(&self, query: &TicketQuery) -> StoreResult<Page<Ticket>>;
        async fn ticket_counts(&self, query: &TicketQuery) -> StoreResult<Vec<(TicketStatus, u64)>>;
        async fn resolved_before(&self, cutoff: DateTime<Utc>, limit: usize) -> StoreResult<Vec<Ticket>>;
        async fn sla_alerts_between(
            &self,
            after: DateTime<Utc>,
            until: DateTime<Utc>,
            limit: usize,
        ) -> StoreResult<Vec<(DateTime<Utc>, TicketId)>>;
        async fn history(&self, ticket: TicketId) -> StoreResult<Vec<HistoryEvent>>;
        async fn comments(&self, ticket: TicketId) -> StoreResult<Vec<Comment>>;
        async fn attachments(&self, ticket: TicketId) -> StoreResult<Vec<Attachment>>;
        async fn attachment(&self, id: AttachmentId) -> StoreResult<Option<Attachment>>;
        async fn allocate_ticket_number(&self) -> StoreResult<u64>;
    }

    #[async_trait]
    impl UserStore for Store {
        async fn user(&self, id: UserId) -> StoreResult<Option<User>>;
        async fn user_by_email(&self, email: &Email) -> StoreResult<Option<User>>;
        async fn user_by_company_id(&self, id: &CompanyId) -> StoreResult<Option<User>>;
        async fn list_users(&self, query: &UserQuery) -> StoreResult<Page<User>>;
        async fn user_count(&self) -> StoreResult<u64>;
        async fn rejections(&self, cursor: Option<Cursor>, limit: PageSize) -> StoreResult<Page<RejectionRecord>>;
        async fn rejection_count(&self) -> StoreResult<u64>;
    }

    #[async_trait]
    impl SessionStore for Store {
        async fn create_session(&self, session: &Session) -> StoreResult<()>;
        async fn session(&self, id: SessionId) -> StoreResult<Option<(Session, User)>>;
        async fn rotate_refresh( &self, presented: &TokenHash, next: &TokenHash, now: DateTime<Utc>, idle_expires_at: DateTime<Utc>, ) -> StoreResult<RefreshOutcome>;
        async fn user_sessions(&self, user: UserId) -> StoreResult<Vec<Session>>;
        async fn revoke_session(&self, id: SessionId, now: DateTime<Utc>) -> StoreResult<()>;
        async fn revoke_user_sessions( &self, user: UserId, except: Option<SessionId>, now: DateTime<Utc>, ) -> StoreResult<u64>;
    }

    #[async_trait]
    impl TokenStore for Store {
        async fn one_time_token(&self, hash: &TokenHash) -> StoreResult<Option<OneTimeToken>>;
    }

    #[async_trait]
    impl ApiKeyStore for Store {
        async fn create_api_key(&self, key: &ApiKey) -> StoreResult<()>;
        async fn api_key(&self, id: ApiKeyId) -> StoreResult<Option<ApiKey>>;
        async fn list_api_keys(&self) -> StoreResult<Vec<ApiKey>>;
        async fn revoke_api_key(&self, id: ApiKeyId, now: DateTime<Utc>) -> StoreResult<()>;
    }

    #[async_trait]
    impl AuditStore for Store {
        async fn list_audit(&self, query: &AuditQuery) -> StoreResult<Page<AuditEntry>>;
    }

    #[async_trait]
    impl IdempotencyStore for Store {
        async fn begin_idempotent( &self, key: &IdempotencyKey, request_hash: &str, now: DateTime<Utc>, stale_before: DateTime<Utc>, ) -> StoreResult<IdempotencyBegin>;
        async fn release_idempotent(&self, key: &IdempotencyKey) -> StoreResult<()>;
    }

    #[async_trait]
    impl ThrottleStore for Store {
        async fn login_failures(&self, key: &str) -> StoreResult<FailureState>;
        async fn record_login_failure(&self, key: &str, now: DateTime<Utc>) -> StoreResult<FailureState>;
        async fn clear_login_failures(&self, key: &str) -> StoreResult<()>;
        async fn hit_window(&self, key: &str, window_start: DateTime<Utc>) -> StoreResult<u64>;
    }

    #[async_trait]
    impl OutboxStore for Store {
        async fn claim_outbox(&self, now: DateTime<Utc>, limit: usize, lease: Lease) -> StoreResult<Vec<OutboxRecord>>;
        async fn ack_outbox(&self, id: MessageId, lease_token: uuid::Uuid, now: DateTime<Utc>) -> StoreResult<()>;
        async fn fail_outbox(&self, id: MessageId, lease_token: uuid::Uuid, failure: DeliveryFailure) -> StoreResult<()>;
        async fn list_outbox( &self, state: OutboxState, cursor: Option<Cursor>, limit: PageSize, ) -> StoreResult<Page<OutboxRecord>>;
        async fn outbox_message(&self, id: MessageId) -> StoreResult<Option<OutboxRecord>>;
        async fn retry_outbox(&self, id: MessageId, now: DateTime<Utc>) -> StoreResult<()>;
        async fn next_outbox_due(&self) -> StoreResult<Option<DateTime<Utc>>>;
    }

    #[async_trait]
    impl ReportStore for Store {
        async fn summary(&self, now: DateTime<Utc>) -> StoreResult<Summary>;
        async fn performance(&self, range: ReportRange) -> StoreResult<PerformanceReport>;
        async fn satisfaction_samples(&self, range: ReportRange) -> StoreResult<SatisfactionSamples>;
    }

    #[async_trait]
    impl MaintenanceStore for Store {
        async fn purge(&self, before: PurgeBefore) -> StoreResult<PurgeReport>;
    }

    #[async_trait]
    impl NoticeStore for Store {
        async fn notices(&self, user: UserId, limit: usize) -> StoreResult<Vec<Notice>>;
        async fn unread_notices(&self, user: UserId) -> StoreResult<u64>;
        async fn mark_notices_read(&self, user: UserId, id: Option<NoticeId>, now: DateTime<Utc>) -> StoreResult<u64>;
    }

    #[async_trait]
    impl crate::ports::InboundStore for Store {
        async fn inbound(&self, id: crate::domain::InboundId) -> StoreResult<Option<crate::model::InboundMessage>>;
        async fn inbound_by_key(&self, key: &str) -> StoreResult<Option<crate::model::InboundMessage>>;
        async fn list_inbound(
            &self,
            outcome: Option<&'static str>,
            before: Option<(DateTime<Utc>, crate::domain::InboundId)>,
            limit: usize,
        ) -> StoreResult<Vec<crate::model::InboundMessage>>;
    }

    #[async_trait]
    impl crate::ports::SettingsStore for Store {
        async fn document(&self, key: crate::ports::DocumentKey) -> StoreResult<Option<(serde_json::Value, u64)>>;
        async fn save_document(
            &self,
            key: crate::ports::DocumentKey,
            doc: &serde_json::Value,
            expected: u64,
        ) -> StoreResult<u64>;
    }

    #[async_trait]
    impl ArchiveStore for Store {
        async fn one_time_tokens(&self) -> StoreResult<Vec<OneTimeToken>>;
        async fn ticket_number_high_water(&self) -> StoreResult<u64>;
        async fn raise_ticket_number(&self, at_least: u64) -> StoreResult<()>;
        async fn import_outbox(&self, records: Vec<OutboxRecord>) -> StoreResult<()>;
    }
}

/// The combined reads by their defaults, from the mocked single reads.
impl crate::ports::CombinedReads for MockStore {}

impl std::fmt::Debug for MockStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MockStore")
    }
}
