//! The outbox dispatcher: claims due messages under a lease, delivers them through the
//! [`Mailer`] or [`WorkflowSink`], acknowledges, retries with exponential back-off, and marks
//! a message dead after the configured attempts (an admin may retry it).
//!
//! Core exposes one step, [`OutboxDispatcher::run_once`]; the server owns the loop and its
//! shutdown. Delivery is at least once: a crash between delivery and acknowledgement delivers
//! again after the lease expires, and receivers de-duplicate by message id.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use futures::StreamExt;

use crate::model::{OutboxPayload, OutboxRecord};
use crate::ports::{Clock, DeliveryError, DeliveryFailure, Lease, Mailer, Store, StoreError, WorkflowSink};
use crate::service::OutboxOptions;

/// What one step did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DispatchReport {
    /// Messages claimed.
    pub claimed: usize,
    /// Delivered and acknowledged.
    pub delivered: usize,
    /// Failed, scheduled again.
    pub retried: usize,
    /// Failed for good.
    pub dead: usize,
    /// When the next pending message is due, if any.
    pub next_due: Option<DateTime<Utc>>,
}

/// Delivers outbox messages: claims due messages under a lease, hands each to the mailer or
/// the workflow sink, and acknowledges, reschedules (exponential back-off) or buries it.
/// [`HelpDesk::background`](crate::HelpDesk::background) runs it on a schedule; call
/// [`run_once`](Self::run_once) to drive it yourself.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use helpdesk_core::OutboxDispatcher;
/// use helpdesk_core::ports::SystemClock;
/// use helpdesk_core::testing::{InMemoryStore, RecordingMailer, RecordingWorkflowSink, desk_with_admin};
/// use std::sync::Arc;
///
/// let store = Arc::new(InMemoryStore::new());
/// let (desk, admin) = desk_with_admin(store.clone(), Arc::new(SystemClock)).await;
/// desk.create_ticket(&admin, helpdesk_core::NewTicket::new("Mouse", "hardware", "peripheral", "Broken."), None).await?;
/// let mailer = RecordingMailer::new();
/// let dispatcher = OutboxDispatcher::new(store, mailer.clone(), RecordingWorkflowSink::new(), Arc::new(SystemClock), desk.options().outbox.clone());
/// let report = dispatcher.run_once().await?;
/// assert_eq!((report.delivered, mailer.sent().len()), (1, 1)); // "ticket received"
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct OutboxDispatcher {
    store: Arc<dyn Store>,
    mailer: Arc<dyn Mailer>,
    workflow: Arc<dyn WorkflowSink>,
    clock: Arc<dyn Clock>,
    options: OutboxOptions,
    concurrency: usize,
}

enum Outcome {
    Delivered,
    Retried,
    Dead,
    LeaseLost,
}

impl OutboxDispatcher {
    /// A dispatcher over these ports.
    pub fn new(
        store: Arc<dyn Store>,
        mailer: Arc<dyn Mailer>,
        workflow: Arc<dyn WorkflowSink>,
        clock: Arc<dyn Clock>,
        options: OutboxOptions,
    ) -> Self {
        Self { store, mailer, workflow, clock, options, concurrency: 8 }
    }

    /// Deliveries in flight at once (default 8).
    pub fn with_concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// The wait before attempt `attempts + 1`: base × 2^(attempts − 1), capped.
    pub fn backoff(&self, attempts: u32) -> Duration {
        let exp = attempts.saturating_sub(1).min(30);
        let factor = 1i64 << exp;
        let secs = self.options.base_backoff.num_seconds().saturating_mul(factor);
        Duration::seconds(secs).min(self.options.max_backoff)
    }

    /// Claims and delivers one batch.
    ///
    /// # Errors
    /// Storage failures of the claim; failures of single messages are recorded on them.
    pub async fn run_once(&self) -> Result<DispatchReport, StoreError> {
        let now = self.clock.now();
        let lease = Lease { token: uuid::Uuid::new_v4(), until: now + self.options.lease };
        let claimed = self.store.claim_outbox(now, self.options.batch, lease).await?;
        let mut report = DispatchReport { claimed: claimed.len(), ..DispatchReport::default() };
        let outcomes: Vec<Result<Outcome, StoreError>> = futures::stream::iter(claimed)
            .map(|rec| self.deliver_one(rec, lease))
            .buffer_unordered(self.concurrency)
            .collect()
            .await;
        for o in outcomes {
            match o? {
                Outcome::Delivered => report.delivered += 1,
                Outcome::Retried => report.retried += 1,
                Outcome::Dead => report.dead += 1,
                Outcome::LeaseLost => {}
            }
        }
        report.next_due = self.store.next_outbox_due().await?;
        Ok(report)
    }

    async fn deliver_one(&self, rec: OutboxRecord, lease: Lease) -> Result<Outcome, StoreError> {
        let id = rec.message.id;
        let attempt = async {
            match &rec.message.payload {
                OutboxPayload::Mail(n) => self.mailer.send(id, n).await,
                OutboxPayload::Workflow(e) => self.workflow.deliver(id, e).await,
                OutboxPayload::Redacted => Ok(()),
            }
        };
        let result = match tokio::time::timeout(self.options.delivery_timeout, attempt).await {
            Ok(r) => r,
            Err(_) => Err(DeliveryError::Transient("delivery timed out".into())),
        };
        let now = self.clock.now();
        let outcome = match result {
            Ok(()) => self.store.ack_outbox(id, lease.token, now).await.map(|()| Outcome::Delivered),
            Err(e) => {
                let dead = matches!(e, DeliveryError::Permanent(_)) || rec.attempts >= self.options.max_attempts;
                tracing::warn!(message = %id, attempts = rec.attempts, dead, error = %e, "outbox delivery failed");
                let failure = DeliveryFailure {
                    error: e.to_string(),
                    retry_at: (!dead).then(|| now + self.backoff(rec.attempts)),
                };
                self.store
                    .fail_outbox(id, lease.token, failure)
                    .await
                    .map(|()| if dead { Outcome::Dead } else { Outcome::Retried })
            }
        };
        match outcome {
            Err(StoreError::Conflict { .. }) => Ok(Outcome::LeaseLost),
            other => other,
        }
    }
}
