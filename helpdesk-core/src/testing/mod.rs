//! Test support, behind the `testing` feature: a complete [`InMemoryStore`], a settable
//! [`ManualClock`], recording mail and workflow doubles, `mockall` mocks of every port
//! (re-exported here), fixtures, and the storage [`conformance`] suite that every store runs
//! with one macro call, [`store_conformance!`](crate::store_conformance).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

pub mod conformance;
pub mod fixtures;
mod memory;
mod mock_store;
pub mod seed;
pub mod stored;

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};

pub use memory::InMemoryStore;
pub use mock_store::MockStore;

pub use crate::ports::{
    MockApiKeyStore, MockAuditStore, MockClock, MockIdempotencyStore, MockMailer, MockMaintenanceStore,
    MockOutboxStore, MockReportStore, MockSessionStore, MockThrottleStore, MockTicketStore, MockTokenStore,
    MockUnitOfWorkStore, MockUserStore, MockWorkflowSink,
};

use crate::domain::MessageId;
use crate::model::{Notification, WorkflowEvent};
use crate::ports::{Clock, DeliveryError, Mailer, WorkflowSink};

/// Skips a test that needs a server that is not available, loudly; fails instead when the
/// environment variable `HELPDESK_REQUIRE_SERVICES` is set (CI sets it, so adapter tests can
/// never pass silently there).
pub fn skip(test: &str, why: &str) {
    if std::env::var_os("HELPDESK_REQUIRE_SERVICES").is_some() {
        panic!("{test}: required service missing: {why}");
    }
    eprintln!("\n!!!!! SKIPPED {test}: {why} (run ./scripts/test.sh to start the servers) !!!!!\n");
}

/// The password of the admin that [`desk_with_admin`] creates.
pub const ADMIN_PASSWORD: &str = "harbor-lantern-quartz-71";

/// A help desk over `store` with in-memory attachments, cheap password hashing and `clock`,
/// and a signed-in admin (`admin@example.com`, [`ADMIN_PASSWORD`]).
pub async fn desk_with_admin(
    store: Arc<dyn crate::ports::Store>,
    clock: Arc<dyn Clock>,
) -> (crate::HelpDesk, crate::policy::Principal) {
    use crate::password::{Argon2Hasher, Argon2Options, Password};
    let desk = crate::HelpDesk::builder(store, Arc::new(object_store::memory::InMemory::new()))
        .clock(clock)
        .hasher(Arc::new(Argon2Hasher::new(Argon2Options::insecure_fast_for_tests()).unwrap()))
        .build()
        .unwrap();
    let admin = crate::BootstrapAdmin {
        email: "admin@example.com".into(),
        password: Some(Password::new(ADMIN_PASSWORD)),
        first_name: "Ada".into(),
        last_name: "Admin".into(),
    };
    desk.ensure_admin(admin).await.unwrap();
    let login = crate::LoginRequest {
        email: "admin@example.com".into(),
        password: Password::new(ADMIN_PASSWORD),
        address: None,
    };
    let s = desk.login(login).await.unwrap();
    let (principal, _) = desk.authenticate_session(s.session.id).await.unwrap();
    (desk, principal)
}

/// A clock that moves only when told.
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    /// A clock at `t`.
    pub fn new(t: DateTime<Utc>) -> Arc<Self> {
        Arc::new(Self(Mutex::new(t)))
    }
    /// A clock at 2026-01-05 09:00 UTC.
    pub fn default_start() -> Arc<Self> {
        Self::new(DateTime::parse_from_rfc3339("2026-01-05T09:00:00Z").unwrap().with_timezone(&Utc))
    }
    /// Moves forward.
    pub fn advance(&self, d: Duration) {
        let mut t = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *t += d;
    }
    /// Sets the time.
    pub fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = at;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A mailer that records what it was asked to send and can be told to fail.
#[derive(Debug, Default)]
pub struct RecordingMailer {
    sent: Mutex<Vec<(MessageId, Notification)>>,
    fail_with: Mutex<Option<DeliveryError>>,
}

impl RecordingMailer {
    /// A working mailer.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }
    /// Fails every send with `e` (or works again with `None`).
    pub fn fail_with(&self, e: Option<DeliveryError>) {
        *self.fail_with.lock().unwrap() = e;
    }
    /// What was sent.
    pub fn sent(&self) -> Vec<(MessageId, Notification)> {
        self.sent.lock().unwrap().clone()
    }
}

#[async_trait]
impl Mailer for RecordingMailer {
    async fn send(&self, id: MessageId, n: &Notification) -> Result<(), DeliveryError> {
        if let Some(e) = self.fail_with.lock().unwrap().clone() {
            return Err(e);
        }
        self.sent.lock().unwrap().push((id, n.clone()));
        Ok(())
    }
}

/// A workflow sink that records events.
#[derive(Debug, Default)]
pub struct RecordingWorkflowSink {
    events: Mutex<Vec<(MessageId, WorkflowEvent)>>,
}

impl RecordingWorkflowSink {
    /// A new sink.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }
    /// What was delivered.
    pub fn events(&self) -> Vec<(MessageId, WorkflowEvent)> {
        self.events.lock().unwrap().clone()
    }
}

#[async_trait]
impl WorkflowSink for RecordingWorkflowSink {
    async fn deliver(&self, id: MessageId, e: &WorkflowEvent) -> Result<(), DeliveryError> {
        self.events.lock().unwrap().push((id, e.clone()));
        Ok(())
    }
}
