//! Reports (admins), answered by storage queries.

use chrono::{DateTime, Utc};

use super::HelpDesk;
use crate::Result;
use crate::domain::MessageId;
use crate::model::AuditKind;
use crate::model::{OutboxRecord, OutboxState};
use crate::policy::{Permission, Principal, Resource};
use crate::ports::PurgeBefore;
use crate::ports::{Cursor, Page, PageSize};
use crate::report::{PerformanceReport, ReportRange, Summary};

impl HelpDesk {
    /// Checks that `principal` may read reports (for callers that assemble one themselves,
    /// such as a streamed export of a ticket list).
    ///
    /// # Errors
    /// `Forbidden` (anonymous: `Unauthenticated`).
    pub fn authorize_reports(&self, principal: &Principal) -> Result<()> {
        self.require(principal, Permission::ViewReports, &Resource::none())
    }

    /// The summary report.
    ///
    /// # Errors
    /// `Forbidden`.
    pub async fn summary_report(&self, principal: &Principal) -> Result<Summary> {
        self.require(principal, Permission::ViewReports, &Resource::none())?;
        Ok(self.inner.store.summary(self.now()).await?)
    }

    /// The performance report over `range` (default: the last 30 days).
    ///
    /// # Errors
    /// `Forbidden`.
    pub async fn performance_report(
        &self,
        principal: &Principal,
        range: Option<ReportRange>,
    ) -> Result<PerformanceReport> {
        self.require(principal, Permission::ViewReports, &Resource::none())?;
        let range = range.unwrap_or_else(|| ReportRange::last_30_days(self.now()));
        Ok(self.inner.store.performance(range).await?)
    }

    /// Outbox messages in a state (admins: dead ones to retry).
    ///
    /// # Errors
    /// `Forbidden`.
    pub async fn outbox_messages(
        &self,
        principal: &Principal,
        state: OutboxState,
        cursor: Option<Cursor>,
        limit: PageSize,
    ) -> Result<Page<OutboxRecord>> {
        self.require(principal, Permission::ManageOutbox, &Resource::none())?;
        Ok(self.inner.store.list_outbox(state, cursor, limit).await?)
    }

    /// Puts a dead message back in the queue.
    ///
    /// # Errors
    /// `Forbidden`, `NotFound`, `Conflict` unless dead.
    pub async fn retry_outbox_message(&self, principal: &Principal, id: MessageId) -> Result<()> {
        self.require(principal, Permission::ManageOutbox, &Resource::none())?;
        self.inner.store.retry_outbox(id, self.now()).await?;
        self.audit(
            principal.actor().map(|a| a.to_ref()),
            AuditKind::OutboxRetried,
            Some(id.to_string()),
            None,
            "dead message retried".into(),
        )
        .await
    }

    /// Deletes what is past retention (SPEC §11): delivered outbox rows after 7 days,
    /// idempotency records once expired, security audit after a year, ended sessions and
    /// tokens after a day, in-app notifications after 90 days (read or not).
    ///
    /// # Errors
    /// Storage failures.
    pub async fn purge(&self, now: DateTime<Utc>) -> Result<crate::ports::PurgeReport> {
        let before = PurgeBefore {
            delivered_outbox: now - chrono::Duration::days(7),
            idempotency: now,
            audit: now - chrono::Duration::days(365),
            sessions_and_tokens: now - chrono::Duration::days(1),
            notices: now - chrono::Duration::days(90),
        };
        Ok(self.inner.store.purge(before).await?)
    }
}
