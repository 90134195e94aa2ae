//! Bulk changes: one edit (tags to add or take away, a priority, a department), one macro or
//! one lifecycle action applied to many tickets from the queue.
//!
//! Each ticket is its own unit of work, checked by the policy and the field rules like a
//! single edit: one that fails (not visible, not editable by this user, changed meanwhile
//! twice in a row) is reported and does not stop the others, so the answer lists what happened
//! to each ticket. The edit itself is validated once, before anything is written: a bad tag
//! refuses the whole request with the field named.
//!
//! With an idempotency key the answer is recorded once every ticket was handled, and a retry
//! gets the recorded answer instead of a second run. A run that died half-way leaves its key
//! in progress until it goes stale; a retry then runs again, which is safe for what a bulk
//! edit can do (adding a tag twice leaves one, setting a priority twice leaves it set) and for
//! an action (the lifecycle refuses to take it twice); each ticket's macro carries a key of
//! its own derived from the request's, so a macro's reply is never written twice either.

use futures::StreamExt as _;
use serde::{Deserialize, Serialize};

use super::HelpDesk;
use super::tickets::{ActionRequest, TicketEdit};
use crate::domain::{MacroId, TicketNumber};
use crate::lifecycle::Action;
use crate::policy::Principal;
use crate::ports::{IdempotencyKey, IdempotencyRecord, PageSize, TicketQuery, UnitOfWork};
use crate::{Error, FieldError, Result};

/// The most tickets one bulk request may change.
pub const MAX_BULK_TICKETS: usize = 1_000;

/// How many tickets are changed at once: the store commits them side by side (sled and
/// PostgreSQL both share a flush between concurrent commits).
const IN_FLIGHT: usize = 16;

/// What a bulk request does to each ticket.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BulkChange {
    /// Edit fields and tags.
    Edit(TicketEdit),
    /// Apply a macro (each ticket all or nothing).
    Macro(MacroId),
    /// Take a lifecycle action (its note, priority and department as given).
    Action {
        /// The action.
        action: Action,
        /// Its input.
        request: ActionRequest,
    },
}

/// Which tickets a bulk request changes.
enum BulkTarget {
    /// These (checked: 1 to the limit, no repeats).
    Numbers(Vec<TicketNumber>),
    /// Those a list query matches for the principal.
    Matching(Box<TicketQuery>),
}

/// What a bulk change did to one ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum BulkOutcome {
    /// Changed; its new version.
    Changed {
        /// The ticket's version after the change.
        version: u64,
    },
    /// It already was as asked.
    Unchanged,
    /// Refused or failed; the ticket is as it was.
    Refused {
        /// `not_found`, `forbidden`, `invalid`, `conflict` or `unavailable`.
        code: String,
        /// A sentence for people.
        message: String,
    },
}

/// One ticket's line of a bulk answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BulkItem {
    /// The ticket's number as given.
    pub number: String,
    /// What happened to it.
    #[serde(flatten)]
    pub outcome: BulkOutcome,
}

/// The answer of a bulk change: one line per ticket, in the order given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BulkResult {
    /// What happened to each ticket.
    pub items: Vec<BulkItem>,
    /// True when this answer is the recorded one of an earlier request with the same key.
    #[serde(default)]
    pub replayed: bool,
}

impl BulkResult {
    /// How many tickets changed.
    pub fn changed(&self) -> usize {
        self.items.iter().filter(|i| matches!(i.outcome, BulkOutcome::Changed { .. })).count()
    }

    /// The lines of the tickets that were refused.
    pub fn refused(&self) -> impl Iterator<Item = &BulkItem> {
        self.items.iter().filter(|i| matches!(i.outcome, BulkOutcome::Refused { .. }))
    }
}

fn refusal(e: &Error) -> BulkOutcome {
    let code = match e {
        Error::NotFound { .. } => "not_found",
        Error::Forbidden(_) => "forbidden",
        Error::Validation(_) => "invalid",
        Error::VersionConflict { .. } | Error::InvalidTransition { .. } | Error::Conflict(_) => "conflict",
        Error::ActionNotAllowed { .. } => "forbidden",
        Error::Unavailable(_) => "unavailable",
        _ => "error",
    };
    let message = match e {
        Error::Validation(v) => {
            v.0.iter().map(|f| format!("{}: {}", f.field, f.message)).collect::<Vec<_>>().join("; ")
        }
        other => other.to_string(),
    };
    BulkOutcome::Refused { code: code.to_owned(), message }
}

impl HelpDesk {
    /// Applies `edit` to each of `numbers`: [`bulk_change`](Self::bulk_change) with
    /// [`BulkChange::Edit`].
    ///
    /// # Errors
    /// As [`bulk_change`](Self::bulk_change).
    pub async fn bulk_edit(
        &self,
        principal: &Principal,
        numbers: &[TicketNumber],
        edit: &TicketEdit,
        idempotency_key: Option<&str>,
    ) -> Result<BulkResult> {
        self.bulk_change(principal, numbers, &BulkChange::Edit(edit.clone()), idempotency_key).await
    }

    /// Applies `change` to each of `numbers` (at most [`MAX_BULK_TICKETS`], repeats ignored),
    /// each ticket in its own unit of work, and answers what happened to each.
    ///
    /// # Errors
    /// `Validation` when the list is empty or too long, the edit changes nothing or carries a
    /// bad value (nothing is written then); `NotFound` for a macro the principal cannot use;
    /// `Unauthenticated`; the idempotency errors.
    pub async fn bulk_change(
        &self,
        principal: &Principal,
        numbers: &[TicketNumber],
        change: &BulkChange,
        idempotency_key: Option<&str>,
    ) -> Result<BulkResult> {
        let mut seen = std::collections::HashSet::new();
        let numbers: Vec<TicketNumber> = numbers.iter().filter(|n| seen.insert(n.to_string())).cloned().collect();
        if numbers.is_empty() || numbers.len() > MAX_BULK_TICKETS {
            return Err(FieldError::new("numbers", "invalid", format!("1 to {MAX_BULK_TICKETS} tickets")).into());
        }
        let identity = serde_json::to_string(&(numbers.iter().map(|n| n.to_string()).collect::<Vec<_>>(), change))
            .unwrap_or_default();
        self.run_bulk(principal, BulkTarget::Numbers(numbers), change, idempotency_key, &identity).await
    }

    /// Applies `change` to every ticket `query` lists for the principal (their list scope
    /// applied; cursor and page size ignored), at most [`MAX_BULK_TICKETS`]: "all the tickets
    /// of this view". With an idempotency key, a retry answers the first run's result even
    /// when the first run changed which tickets the filter matches.
    ///
    /// # Errors
    /// As [`bulk_change`](Self::bulk_change); `Validation` (`filter`) when the query matches
    /// no ticket or more than [`MAX_BULK_TICKETS`] (nothing is written then).
    pub async fn bulk_change_matching(
        &self,
        principal: &Principal,
        query: &TicketQuery,
        change: &BulkChange,
        idempotency_key: Option<&str>,
    ) -> Result<BulkResult> {
        let query = TicketQuery { cursor: None, ..query.clone() };
        let identity = serde_json::to_string(&("matching", &query, change)).unwrap_or_default();
        self.run_bulk(principal, BulkTarget::Matching(Box::new(query)), change, idempotency_key, &identity).await
    }

    /// The tickets `query` lists for the principal, at most one more than the bulk limit.
    async fn matching_numbers(&self, principal: &Principal, query: TicketQuery) -> Result<Vec<TicketNumber>> {
        let mut query = TicketQuery { limit: PageSize::new(200).unwrap_or_default(), ..query };
        let mut numbers = Vec::new();
        loop {
            let page = self.list_tickets(principal, &query).await?;
            numbers.extend(page.items.iter().map(|t| t.number.clone()));
            match page.next {
                Some(next) if numbers.len() <= MAX_BULK_TICKETS => query.cursor = Some(next),
                _ => break,
            }
        }
        if numbers.is_empty() {
            return Err(FieldError::new("filter", "empty", "no ticket matches this filter").into());
        }
        if numbers.len() > MAX_BULK_TICKETS {
            return Err(FieldError::new(
                "filter",
                "too_many",
                format!("more than {MAX_BULK_TICKETS} tickets match; narrow the filter"),
            )
            .into());
        }
        Ok(numbers)
    }

    async fn run_bulk(
        &self,
        principal: &Principal,
        target: BulkTarget,
        change: &BulkChange,
        idempotency_key: Option<&str>,
        identity: &str,
    ) -> Result<BulkResult> {
        principal.actor().ok_or(Error::Unauthenticated(crate::AuthFailure::Missing))?;
        match change {
            BulkChange::Edit(edit) if edit.is_empty() => {
                return Err(FieldError::new("edit", "required", "say what to change").into());
            }
            BulkChange::Edit(edit) => edit.validate()?,
            BulkChange::Macro(id) => {
                self.macro_by_id(principal, *id).await?;
            }
            BulkChange::Action { .. } => {}
        }
        let request_hash = super::sha256_hex(identity.as_bytes());
        if let Some(key) = idempotency_key
            && let Some(response) = self.begin_idempotency(principal, key, &request_hash).await?
        {
            let mut done: BulkResult =
                serde_json::from_value(response).map_err(|_| Error::Internal("malformed idempotency record".into()))?;
            done.replayed = true;
            return Ok(done);
        }
        let numbers = match target {
            BulkTarget::Numbers(n) => n,
            BulkTarget::Matching(query) => match self.matching_numbers(principal, *query).await {
                Ok(n) => n,
                Err(e) => {
                    self.release(principal, idempotency_key).await;
                    return Err(e);
                }
            },
        };
        let items: Vec<BulkItem> =
            futures::stream::iter(numbers.into_iter().map(|n| self.bulk_one(principal, n, change, idempotency_key)))
                .buffered(IN_FLIGHT)
                .collect()
                .await;
        let done = BulkResult { items, replayed: false };
        if let Some(key) = idempotency_key {
            let mut uow = UnitOfWork::new();
            uow.idempotency = Some(IdempotencyRecord {
                key: IdempotencyKey { principal: principal.key(), key: key.trim().to_owned() },
                request_hash,
                response: serde_json::to_value(&done).unwrap_or_default(),
                expires_at: self.now() + self.inner.options.idempotency_ttl,
            });
            if let Err(e) = self.commit(uow).await {
                // The changes stand; only the replay is lost (a retry runs again, harmlessly).
                tracing::warn!(error = %e, "could not record a bulk change's answer");
                self.release(principal, Some(key)).await;
            }
        }
        Ok(done)
    }

    /// One ticket of a bulk change.
    async fn bulk_one(
        &self,
        principal: &Principal,
        n: TicketNumber,
        change: &BulkChange,
        idempotency_key: Option<&str>,
    ) -> BulkItem {
        let once = || async {
            match change {
                BulkChange::Edit(edit) => self
                    .edit_ticket_changed(principal, &n, edit.clone(), None)
                    .await
                    .map(|(t, changed)| changed.then_some(t.version)),
                BulkChange::Macro(id) => {
                    let key = idempotency_key.map(|k| format!("{}:{n}", k.trim()));
                    self.apply_macro(principal, &n, *id, None, key.as_deref()).await.map(|t| Some(t.version))
                }
                BulkChange::Action { action, request } => {
                    self.act(principal, &n, *action, request.clone(), None).await.map(|t| Some(t.version))
                }
            }
        };
        let mut attempt = once().await;
        // Changed between our read and our write (nothing written): read it again, once.
        if matches!(attempt, Err(Error::VersionConflict { .. })) {
            attempt = once().await;
        }
        let outcome = match attempt {
            Ok(Some(version)) => BulkOutcome::Changed { version },
            Ok(None) => BulkOutcome::Unchanged,
            Err(e) => refusal(&e),
        };
        BulkItem { number: n.to_string(), outcome }
    }
}
