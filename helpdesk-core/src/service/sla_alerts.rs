//! Service-level alerts: when a running target of a ticket enters its warning share or passes
//! its due time, its assignee (or, while unassigned, the department's coordinators) gets a
//! mail and the workflow system, when it follows the ticket, an event — once.
//!
//! The loop reads the alert moments that fell due since its last run from the store's index
//! ([`TicketStore::sla_alerts_between`](crate::ports::TicketStore::sla_alerts_between)), so a
//! run costs the tickets due, not the tickets open. For each ticket found it recomputes the
//! targets from the history (the stored moments only say where to look) and enqueues, in one
//! unit of work, the messages of each target now in `warning` or `breached`.
//!
//! Exactly once, with any number of processes: every message's id is a UUID v5 of the ticket,
//! the target, the start of its cycle, the state and the recipient. The stores refuse a unit of
//! work that repeats an outbox id, so when two processes find the same moment, one commit
//! lands and the other is refused as a whole; a process that finds the messages already in
//! the outbox skips them. A reopened ticket's new cycle has a new start, so it alerts again.

use std::collections::{BTreeSet, HashSet};

use chrono::{DateTime, Duration, Utc};
use futures::StreamExt as _;

use super::HelpDesk;
use super::notify::ticket_mail;
use crate::Result;
use crate::domain::{MessageId, Role, TicketId, UserId, UserStatus};
use crate::model::{NotificationKind, OutboxPayload, SlaAlert, Ticket, WorkflowEventKind};
use crate::ports::{PageSize, StoreError, UnitOfWork, UserQuery};
use crate::sla::{TargetCycle, TargetState, cycles};

/// The namespace of alert message ids (a UUID v5 of each alert's identity).
const ALERT_NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x6d1c_58a2_3f0e_4c7b_9a55_2e8b_d4a1_c0f3);

/// Tickets alerted at once.
const TICKETS_IN_FLIGHT: usize = 16;

/// Alert moments read per store call.
const MOMENTS_PER_READ: usize = 1_000;

/// What one alert run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SlaAlertRun {
    /// Alert moments read from the index.
    pub moments: usize,
    /// Distinct tickets looked at.
    pub tickets: usize,
    /// Alerts (a target's warning or breach) enqueued by this run.
    pub alerted: usize,
    /// Alerts found already enqueued (by an earlier run or another process).
    pub already: usize,
}

/// Where the alert loop of one process stands: the end of the last window it read, and the
/// moments it handled recently (so that the overlap each run re-reads costs no store reads).
#[derive(Debug, Clone)]
pub struct SlaAlertCursor {
    until: DateTime<Utc>,
    seen: HashSet<(DateTime<Utc>, TicketId)>,
}

impl SlaAlertCursor {
    /// Starts reading at `lookback` before `now` (moments that fell due while no process ran,
    /// within that time, are alerted late rather than never).
    pub fn starting(now: DateTime<Utc>, lookback: Duration) -> Self {
        Self { until: now - lookback, seen: HashSet::new() }
    }
}

/// How far each run reads back before the previous window's end: a change committed while a
/// run was reading can hold a moment just before the time that run read to.
const OVERLAP: Duration = Duration::seconds(60);

/// The id of the message telling `recipient` (a user, or the workflow system) about a target
/// cycle's state.
fn alert_id(ticket: TicketId, cycle: &TargetCycle, recipient: &str) -> MessageId {
    let name = format!(
        "{}/{}/{}/{}/{recipient}",
        ticket.as_uuid(),
        cycle.kind.as_str(),
        cycle.started_at.timestamp_micros(),
        cycle.state.as_str()
    );
    MessageId::from_uuid(uuid::Uuid::new_v5(&ALERT_NAMESPACE, name.as_bytes()))
}

impl HelpDesk {
    /// One run of the alert loop at `now`, continuing from `cursor`: reads the alert moments
    /// due since the last run and enqueues the alerts they call for. Safe to run in every
    /// process at once (see the module docs). Nothing when there are no policies.
    ///
    /// # Errors
    /// Store failures; the cursor then stays, and the next run reads the same window again.
    pub async fn sla_alerts(&self, cursor: &mut SlaAlertCursor, now: DateTime<Utc>) -> Result<SlaAlertRun> {
        let mut run = SlaAlertRun::default();
        if self.sla_rules().is_empty() || now <= cursor.until - OVERLAP {
            return Ok(run);
        }
        let from = cursor.until - OVERLAP;
        let mut after = from;
        let mut due: BTreeSet<(DateTime<Utc>, TicketId)> = BTreeSet::new();
        loop {
            let batch = self.inner.store.sla_alerts_between(after, now, MOMENTS_PER_READ).await?;
            run.moments += batch.len();
            let full = batch.len() == MOMENTS_PER_READ;
            let last = batch.last().map(|(at, _)| *at);
            due.extend(batch.into_iter().filter(|m| !cursor.seen.contains(m)));
            match last {
                // A full read may have cut a group of moments at the same instant: read on
                // from just before it (the set drops what is read twice).
                Some(at) if full && at - Duration::microseconds(1) > after => after = at - Duration::microseconds(1),
                Some(at) if full => after = at,
                _ => break,
            }
        }
        let tickets: BTreeSet<TicketId> = due.iter().map(|(_, t)| *t).collect();
        run.tickets = tickets.len();
        // Tickets are independent: several at once, so their commits share the store's
        // flushes (a first run after a long stop may find tens of thousands).
        let mut each =
            futures::stream::iter(tickets).map(|id| self.alert_ticket(id, now)).buffer_unordered(TICKETS_IN_FLIGHT);
        while let Some(done) = each.next().await {
            let (alerted, already) = done?;
            run.alerted += alerted;
            run.already += already;
        }
        cursor.seen.retain(|(at, _)| *at > from);
        cursor.seen.extend(due);
        cursor.until = now;
        Ok(run)
    }

    /// Enqueues the alerts `ticket`'s running targets call for at `now`; answers how many were
    /// enqueued and how many were there already.
    async fn alert_ticket(&self, id: TicketId, now: DateTime<Utc>) -> Result<(usize, usize)> {
        let store = &self.inner.store;
        let Some(ticket) = store.ticket(id).await? else { return Ok((0, 0)) };
        let history = store.history(id).await?;
        let rules = self.sla_rules();
        let Some((policy, calendar)) = super::sla::applicable(&rules, &ticket, &history) else { return Ok((0, 0)) };
        let all = cycles(
            ticket.requester,
            &history,
            &policy.targets(ticket.priority),
            calendar,
            rules.warning_percent(),
            now,
        );
        let recipients = self.alert_recipients(&ticket).await?;
        let (mut alerted, mut already) = (0, 0);
        for c in all.iter().filter(|c| c.ended_at.is_none()) {
            if !matches!(c.state, TargetState::Warning | TargetState::Breached) {
                continue;
            }
            let alert = SlaAlert { target: c.kind, state: c.state, due_at: c.due_at, policy: policy.key.clone() };
            let mut uow = UnitOfWork::new();
            for user in &recipients {
                let kind = NotificationKind::ServiceLevelAlert { ticket: ticket_mail(&ticket), alert: alert.clone() };
                let mut m = self.mail_to(user, kind, now);
                m.id = alert_id(id, c, &user.id.to_string());
                uow.outbox.push(m);
            }
            if ticket.workflow_linked {
                let kind = match c.state {
                    TargetState::Breached => WorkflowEventKind::SlaBreached,
                    _ => WorkflowEventKind::SlaWarning,
                };
                let mut m = self.workflow_message(kind, &ticket, now).await?;
                m.id = alert_id(id, c, "workflow");
                if let OutboxPayload::Workflow(e) = &mut m.payload {
                    e.sla = Some(alert.clone());
                }
                uow.outbox.push(m);
            }
            let Some(first) = uow.outbox.first() else { continue };
            if store.outbox_message(first.id).await?.is_some() {
                already += 1;
                continue;
            }
            match self.inner.store.commit(uow).await {
                Ok(()) => alerted += 1,
                // Another process enqueued the same alert first.
                Err(StoreError::AlreadyExists { .. }) => already += 1,
                Err(e) => return Err(e.into()),
            }
        }
        Ok((alerted, already))
    }

    /// Who hears of a ticket's service levels: its assignee; while unassigned, the approved
    /// staff of its department; failing those, the approved admins.
    async fn alert_recipients(&self, ticket: &Ticket) -> Result<Vec<crate::model::User>> {
        let store = &self.inner.store;
        let approved = |u: &crate::model::User| u.status == UserStatus::Approved;
        if let Some(a) = ticket.assignee
            && let Some(u) = store.user(a).await?.filter(approved)
        {
            return Ok(vec![u]);
        }
        let mut ids: Vec<UserId> = match &ticket.department {
            Some(d) => self.department_staff(d).await?,
            None => Vec::new(),
        };
        if ids.is_empty() {
            let q = UserQuery {
                role: Some(Role::Admin),
                status: Some(UserStatus::Approved),
                limit: PageSize::new(PageSize::MAX).unwrap_or_default(),
                ..UserQuery::default()
            };
            ids = store.list_users(&q).await?.items.into_iter().map(|u| u.id).collect();
        }
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.extend(store.user(id).await?.filter(approved));
        }
        Ok(out)
    }
}
