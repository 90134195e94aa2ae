//! Service levels of one ticket, for staff: the policy that applies and each target's latest
//! cycle, computed from the ticket's history ([`crate::sla`]); and the service-level report
//! over the tickets filed in a range, for reports readers.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use futures::{StreamExt as _, TryStreamExt as _};
use serde::Serialize;

use super::HelpDesk;
use crate::Result;
use crate::domain::{EventId, TicketNumber};
use crate::lifecycle::Action;
use crate::model::{ActorRef, EventKind, FieldChange, HistoryEvent, SlaSchedule, Ticket};
use crate::policy::{Permission, Principal, Resource};
use crate::ports::{PageSize, StoreResult, TicketQuery, UnitOfWork};
use crate::report::ReportRange;
use crate::sla::{SlaRules, TargetCycle, TargetKind, TargetState, current, cycles};

/// Where a ticket stands against its service levels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TicketSla {
    /// The policy that applies (the first whose conditions match the ticket).
    pub policy: String,
    /// The calendar its targets count in.
    pub calendar: String,
    /// The latest cycle of each target the policy sets for the ticket's priority.
    pub targets: Vec<TargetCycle>,
}

/// The history field under which the policy chosen for a ticket is recorded.
pub const SLA_POLICY_FIELD: &str = "sla_policy";

/// The policy last recorded in a ticket's history: `Some(None)` when it was recorded that none
/// applies, `None` when nothing was recorded (tickets filed before policies existed).
fn recorded_policy(history: &[HistoryEvent]) -> Option<Option<&str>> {
    history
        .iter()
        .rev()
        .flat_map(|e| e.changes.iter().rev())
        .find(|c| c.field == SLA_POLICY_FIELD)
        .map(|c| c.new.as_deref())
}

/// The policy of `rules` that applies to `ticket`: the one recorded in its history when it
/// still exists (so editing the policies' conditions never moves a ticket to another policy
/// behind its back), else the first that matches it now.
pub(super) fn applicable<'r>(
    rules: &'r SlaRules,
    ticket: &Ticket,
    history: &[HistoryEvent],
) -> Option<(&'r crate::sla::SlaPolicy, &'r crate::sla::BusinessCalendar)> {
    match recorded_policy(history) {
        Some(Some(key)) => rules.policy(key).or_else(|| rules.policy_for(ticket)),
        Some(None) => None,
        None => rules.policy_for(ticket),
    }
}

impl HelpDesk {
    /// Brings the service levels of each ticket `uow` writes up to date: records, as an
    /// internal history event, the policy chosen for a ticket that is filed or whose
    /// department or category changes (when the choice differs from the one recorded
    /// before), then stores the moments of its running targets on the ticket
    /// ([`SlaSchedule`]). Reads each changed ticket's history (not a filed one's); nothing
    /// when there are no policies.
    pub(crate) async fn record_sla(&self, uow: &mut UnitOfWork, now: DateTime<Utc>) -> StoreResult<()> {
        let rules = self.sla_rules();
        if rules.is_empty() {
            for w in &mut uow.tickets {
                w.value.sla = SlaSchedule::default();
            }
            return Ok(());
        }
        let mut recorded = Vec::new();
        let mut schedules = Vec::with_capacity(uow.tickets.len());
        for w in &uow.tickets {
            let t = &w.value;
            let mut events: Vec<HistoryEvent> = uow.events.iter().filter(|e| e.ticket == t.id).cloned().collect();
            let (mut filed, mut moved) = (false, false);
            for e in &events {
                filed |= matches!(e.kind, EventKind::Action { action: Action::Submit });
                moved |= e.changes.iter().any(|c| c.field == "department" || c.field == "category");
            }
            let mut history = if filed { Vec::new() } else { self.inner.store.history(t.id).await? };
            if filed || moved {
                let chosen = rules.policy_for(t).map(|(p, _)| p.key.clone());
                let before = recorded_policy(&history).map(|p| p.map(str::to_owned));
                if before.as_ref() != Some(&chosen) && (before.is_some() || chosen.is_some()) {
                    let event = HistoryEvent {
                        id: EventId::random(),
                        ticket: t.id,
                        at: now,
                        actor: ActorRef::System,
                        kind: EventKind::Edited,
                        changes: vec![FieldChange::new(SLA_POLICY_FIELD, before.flatten(), chosen)],
                        note: None,
                        internal: true,
                        version: t.version,
                        by_macro: None,
                    };
                    events.push(event.clone());
                    recorded.push(event);
                }
            }
            history.append(&mut events);
            schedules.push(self.schedule_of(t, &history, now));
        }
        for (w, schedule) in uow.tickets.iter_mut().zip(schedules) {
            w.value.sla = schedule;
        }
        uow.events.extend(recorded);
        Ok(())
    }

    /// The moments of `ticket`'s running, unpaused targets given its whole `history`.
    pub(super) fn schedule_of(&self, ticket: &Ticket, history: &[HistoryEvent], now: DateTime<Utc>) -> SlaSchedule {
        let rules = self.sla_rules();
        let Some((policy, calendar)) = applicable(&rules, ticket, history) else { return SlaSchedule::default() };
        let all =
            cycles(ticket.requester, history, &policy.targets(ticket.priority), calendar, rules.warning_percent(), now);
        let running: Vec<&TargetCycle> = all.iter().filter(|c| c.ended_at.is_none()).collect();
        // A moment already past (a ticket found late by a change: raised to critical, resumed
        // after its due time) is stored as now, so that the alert loop, which reads moments
        // from where it stopped, still sees it; the alert's id keeps it to one.
        let mut alerts: Vec<DateTime<Utc>> =
            running.iter().flat_map(|c| [c.warning_at, c.due_at]).flatten().map(|a| a.max(now)).collect();
        alerts.sort_unstable();
        alerts.dedup();
        SlaSchedule {
            due_at: running.iter().filter_map(|c| c.due_at).min(),
            warn_at: running.iter().filter_map(|c| c.warning_at).min(),
            alerts,
        }
    }

    /// The service levels of `ticket` given its whole `history`, or `None` when no policy
    /// applies (none configured, or none recorded or matching).
    pub fn sla_of(&self, ticket: &Ticket, history: &[HistoryEvent]) -> Option<TicketSla> {
        let rules = self.sla_rules();
        let (policy, calendar) = applicable(&rules, ticket, history)?;
        let targets = policy.targets(ticket.priority);
        let all = cycles(ticket.requester, history, &targets, calendar, rules.warning_percent(), self.now());
        Some(TicketSla {
            policy: policy.key.clone(),
            calendar: calendar.key().to_owned(),
            targets: current(&all).into_iter().cloned().collect(),
        })
    }

    /// The service levels of a ticket, for staff (`Forbidden` for others; `NotFound` for a
    /// ticket the principal may not see). `None` when no policy applies.
    ///
    /// # Errors
    /// `NotFound`, `Forbidden`, store failures.
    pub async fn ticket_sla(&self, principal: &Principal, number: &TicketNumber) -> Result<Option<TicketSla>> {
        let t = self.visible_ticket(principal, number).await?;
        self.require(principal, Permission::ViewInternal, &Resource::ticket(&t))?;
        if self.sla_rules().is_empty() {
            return Ok(None);
        }
        let history = self.inner.store.history(t.id).await?;
        Ok(self.sla_of(&t, &history))
    }
}

/// How many targets ended within their time and how many did not.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SlaTally {
    /// Ended within the target.
    pub met: u64,
    /// Past the target (ended late, or still running past it).
    pub breached: u64,
    /// Still running within the target (`ok`, `warning` or `paused`).
    pub running: u64,
    /// Met targets per thousand decided ones (met or breached); `None` before any is decided.
    pub achievement_per_mille: Option<u64>,
}

impl SlaTally {
    fn add(&mut self, state: TargetState) {
        match state {
            TargetState::Met => self.met += 1,
            TargetState::Breached => self.breached += 1,
            TargetState::Ok | TargetState::Warning | TargetState::Paused => self.running += 1,
        }
        let decided = self.met + self.breached;
        self.achievement_per_mille = (decided > 0).then(|| self.met * 1000 / decided);
    }
}

/// One tally per key (a policy, a priority, a department or an assignee) and target kind.
pub type SlaTallies = BTreeMap<String, BTreeMap<TargetKind, SlaTally>>;

/// A target that was breached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SlaBreach {
    /// The ticket.
    pub number: TicketNumber,
    /// Which target.
    pub kind: TargetKind,
    /// The policy.
    pub policy: String,
    /// When it was due.
    pub due_at: Option<DateTime<Utc>>,
    /// When the cycle ended, if it did (late).
    pub ended_at: Option<DateTime<Utc>>,
}

/// Service-level achievement of the tickets filed in a range: every target cycle of each,
/// computed from its history as of now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SlaReport {
    /// Start of the range (inclusive).
    pub from: DateTime<Utc>,
    /// End of the range (exclusive).
    pub to: DateTime<Utc>,
    /// Tickets filed in the range with a policy.
    pub tickets: u64,
    /// All targets, by kind.
    pub overall: BTreeMap<TargetKind, SlaTally>,
    /// By policy.
    pub by_policy: SlaTallies,
    /// By priority (`untriaged` for none).
    pub by_priority: SlaTallies,
    /// By department (`none` for none).
    pub by_department: SlaTallies,
    /// By assignee's user id (`unassigned` for none).
    pub by_assignee: SlaTallies,
    /// The breaches, newest due first, at most [`SlaReport::MAX_BREACHES`].
    pub breaches: Vec<SlaBreach>,
}

impl SlaReport {
    /// The most breaches a report lists.
    pub const MAX_BREACHES: usize = 500;
}

/// Tickets whose histories are read at once.
pub(super) const HISTORIES_IN_FLIGHT: usize = 16;

impl HelpDesk {
    /// The service-level report over `range` (default: the last 30 days): for reports readers.
    ///
    /// Reads each ticket's history (tickets filed in the range, 16 at a time); a report over
    /// many thousands of tickets takes seconds, not milliseconds.
    ///
    /// # Errors
    /// `Forbidden`, store failures.
    pub async fn sla_report(&self, principal: &Principal, range: Option<ReportRange>) -> Result<SlaReport> {
        self.require(principal, Permission::ViewReports, &Resource::none())?;
        let range = range.unwrap_or_else(|| ReportRange::last_30_days(self.now()));
        let mut report = SlaReport {
            from: range.from(),
            to: range.to(),
            tickets: 0,
            overall: BTreeMap::new(),
            by_policy: BTreeMap::new(),
            by_priority: BTreeMap::new(),
            by_department: BTreeMap::new(),
            by_assignee: BTreeMap::new(),
            breaches: Vec::new(),
        };
        let rules = self.sla_rules();
        if rules.is_empty() {
            return Ok(report);
        }
        let store = &self.inner.store;
        let mut query = TicketQuery {
            created_from: Some(range.from()),
            created_to: Some(range.to()),
            limit: PageSize::new(PageSize::MAX).map_err(|e| crate::Error::Internal(e.to_string()))?,
            ..TicketQuery::default()
        };
        loop {
            let page = store.list_tickets(&query).await?;
            let threads: Vec<(Ticket, Vec<HistoryEvent>)> = futures::stream::iter(page.items)
                .map(|t| async move { store.history(t.id).await.map(|h| (t, h)) })
                .buffered(HISTORIES_IN_FLIGHT)
                .try_collect()
                .await?;
            for (t, history) in &threads {
                let Some((policy, _)) = applicable(&rules, t, history) else { continue };
                let policy = policy.key.clone();
                report.tickets += 1;
                let keys = [
                    (&mut report.by_policy, policy.clone()),
                    (&mut report.by_priority, t.priority.map_or_else(|| "untriaged".to_owned(), |p| p.to_string())),
                    (
                        &mut report.by_department,
                        t.department.as_ref().map_or_else(|| "none".to_owned(), |d| d.to_string()),
                    ),
                    (&mut report.by_assignee, t.assignee.map_or_else(|| "unassigned".to_owned(), |a| a.to_string())),
                ];
                let targets = &self.sla_cycles(t, history);
                for c in targets {
                    report.overall.entry(c.kind).or_default().add(c.state);
                    if c.state == TargetState::Breached {
                        report.breaches.push(SlaBreach {
                            number: t.number.clone(),
                            kind: c.kind,
                            policy: policy.clone(),
                            due_at: c.due_at,
                            ended_at: c.ended_at,
                        });
                    }
                }
                for (tallies, key) in keys {
                    let entry = tallies.entry(key).or_default();
                    for c in targets {
                        entry.entry(c.kind).or_default().add(c.state);
                    }
                }
            }
            match page.next {
                Some(c) => query.cursor = Some(c),
                None => break,
            }
        }
        report.breaches.sort_by(|a, b| b.due_at.cmp(&a.due_at).then_with(|| a.number.seq().cmp(&b.number.seq())));
        report.breaches.truncate(SlaReport::MAX_BREACHES);
        Ok(report)
    }

    /// Every target cycle of `ticket` (not only the latest of each kind).
    fn sla_cycles(&self, ticket: &Ticket, history: &[HistoryEvent]) -> Vec<TargetCycle> {
        let rules = self.sla_rules();
        let Some((policy, calendar)) = applicable(&rules, ticket, history) else { return Vec::new() };
        cycles(
            ticket.requester,
            history,
            &policy.targets(ticket.priority),
            calendar,
            rules.warning_percent(),
            self.now(),
        )
    }
}
