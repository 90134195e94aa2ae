//! Bringing stored service-level schedules up to date with the policies in force.
//!
//! Each change of a ticket stores the schedule of its running targets ([`SlaSchedule`]), so a
//! ticket's schedule follows the policies as they were at its last change. When the policies
//! or calendars change (a deployment adds its first policy, fixes a calendar's holidays), the
//! open tickets' schedules are recomputed here, from each history, and rewritten where they
//! differ. The rewrite keeps the ticket's version (like an internal note), so nobody editing
//! the ticket meanwhile gets a conflict for it; a ticket changed under the refresh is skipped,
//! its own change having stored a fresh schedule.

use futures::{StreamExt as _, TryStreamExt as _};

use super::HelpDesk;
use crate::Result;
use crate::domain::TicketStatus;
use crate::model::{HistoryEvent, SlaSchedule, Ticket};
use crate::ports::{
    PageSize, SortDirection, StoreError, TicketQuery, TicketSort, TicketSortField, UnitOfWork, Versioned,
};

/// What a refresh did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SlaRefresh {
    /// Tickets not yet closed, rejected or withdrawn that were looked at.
    pub checked: u64,
    /// Tickets whose stored schedule changed.
    pub updated: u64,
    /// Tickets changed by someone else during the refresh (their change stored a schedule).
    pub skipped: u64,
}

impl HelpDesk {
    /// Recomputes the schedule of every ticket not closed, rejected or withdrawn and stores
    /// it where it differs. The background loop runs it once when it starts; safe to run in
    /// several processes at once. Reads each ticket's history, so over many thousands of open
    /// tickets it takes seconds.
    ///
    /// # Errors
    /// Store failures.
    pub async fn refresh_sla_schedules(&self) -> Result<SlaRefresh> {
        let store = &self.inner.store;
        let mut report = SlaRefresh::default();
        let mut query = TicketQuery {
            statuses: TicketStatus::ALL.iter().copied().filter(|s| !s.is_terminal()).collect(),
            limit: PageSize::new(PageSize::MAX).map_err(|e| crate::Error::Internal(e.to_string()))?,
            ..TicketQuery::default()
        };
        // Without policies only stored schedules need clearing: the tickets with a due time.
        let none = self.sla_rules().is_empty();
        if none {
            query.sort = TicketSort { field: TicketSortField::Due, direction: SortDirection::Asc };
        }
        loop {
            let page = store.list_tickets(&query).await?;
            let threads: Vec<(Ticket, Vec<HistoryEvent>)> =
                futures::stream::iter(page.items)
                    .map(|t| async move {
                        if none { Ok((t, Vec::new())) } else { store.history(t.id).await.map(|h| (t, h)) }
                    })
                    .buffered(super::sla::HISTORIES_IN_FLIGHT)
                    .try_collect()
                    .await?;
            let now = self.now();
            for (t, history) in threads {
                report.checked += 1;
                let fresh = if none { SlaSchedule::default() } else { self.schedule_of(&t, &history, now) };
                if fresh == t.sla {
                    continue;
                }
                let version = t.version;
                let mut uow = UnitOfWork::new();
                uow.tickets.push(Versioned::update(Ticket { sla: fresh, ..t }, version));
                match store.commit(uow).await {
                    Ok(()) => report.updated += 1,
                    Err(StoreError::VersionMismatch { .. } | StoreError::NotFound { .. }) => report.skipped += 1,
                    Err(e) => return Err(e.into()),
                }
            }
            match page.next {
                Some(c) => query.cursor = Some(c),
                None => break,
            }
        }
        Ok(report)
    }
}
