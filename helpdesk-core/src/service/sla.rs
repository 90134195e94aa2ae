//! Service levels of one ticket, for staff: the policy that applies and each target's latest
//! cycle, computed from the ticket's history ([`crate::sla`]).

use serde::Serialize;

use super::HelpDesk;
use crate::Result;
use crate::domain::TicketNumber;
use crate::model::{HistoryEvent, Ticket};
use crate::policy::{Permission, Principal, Resource};
use crate::sla::{TargetCycle, current, cycles};

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

impl HelpDesk {
    /// The service levels of `ticket` given its whole `history`, or `None` when no policy
    /// applies (none configured, or none matching).
    pub fn sla_of(&self, ticket: &Ticket, history: &[HistoryEvent]) -> Option<TicketSla> {
        let rules = &self.inner.sla;
        let (policy, calendar) = rules.policy_for(ticket)?;
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
        if self.inner.sla.is_empty() {
            return Ok(None);
        }
        let history = self.inner.store.history(t.id).await?;
        Ok(self.sla_of(&t, &history))
    }
}
