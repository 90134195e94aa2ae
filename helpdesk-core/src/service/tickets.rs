//! Tickets: create (idempotent), read, list with the forced scope, field edits, lifecycle
//! actions, comments, history, inbound workflow updates, and auto-close.

use chrono::{DateTime, NaiveDate, Utc};

use super::HelpDesk;
use super::notify::ticket_mail;
use crate::domain::{
    CommentBody, CommentId, Description, EventId, Note, Priority, Subject, Tag, TicketId, TicketNumber, TicketStatus,
    UserId, UserStatus,
};
use crate::lifecycle::{Action, ActionInput, Actor, Input};
use crate::model::{
    ActorRef, Attachment, Comment, EventKind, FieldBook, FieldChange, HistoryEvent, InboundMessage, InboundOutcome,
    NotificationKind, Ticket, UserSummary,
};
use crate::policy::{ListScope, Permission, Principal, Resource, TicketField};
use crate::ports::{
    IdempotencyBegin, IdempotencyKey, IdempotencyRecord, Page, StoreError, TicketQuery, TicketSortField, UnitOfWork,
    Versioned,
};
use crate::{AuthFailure, Error, FieldError, Result, ValidationErrors};

/// A new ticket, as typed.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct NewTicket {
    /// Subject.
    pub subject: String,
    /// Category key.
    pub category: String,
    /// Sub-category key.
    pub sub_category: String,
    /// Description.
    pub description: String,
    /// Requested date (not in the past).
    pub scheduled_date: Option<NaiveDate>,
    /// Custom field values by key (the requester sets the fields meant for them; staff any).
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub fields: std::collections::BTreeMap<String, serde_json::Value>,
}

/// Field edits; `None` leaves a field alone.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct TicketEdit {
    /// Subject (requester, while new).
    pub subject: Option<String>,
    /// Description (requester, while new).
    pub description: Option<String>,
    /// Category and sub-category (requester while new; staff).
    pub category: Option<(String, String)>,
    /// Scheduled date (requester, while new); `Some(None)` clears it.
    pub scheduled_date: Option<Option<NaiveDate>>,
    /// Priority (staff).
    pub priority: Option<Priority>,
    /// Department (staff).
    pub department: Option<String>,
    /// The whole set of tags, replacing the ticket's (staff); normalised, repeats dropped.
    pub tags: Option<Vec<String>>,
    /// Tags to add to the ticket's (or to `tags`), without touching the others: what a bulk
    /// action or a macro does, so it never undoes a colleague's tag.
    pub add_tags: Vec<String>,
    /// Tags to take away; one the ticket does not carry is no error.
    pub remove_tags: Vec<String>,
    /// Custom field values by key (`null` clears one); the others stay.
    pub fields: std::collections::BTreeMap<String, serde_json::Value>,
}

impl TicketEdit {
    /// True when it changes nothing.
    pub fn is_empty(&self) -> bool {
        self.subject.is_none()
            && self.description.is_none()
            && self.category.is_none()
            && self.scheduled_date.is_none()
            && self.priority.is_none()
            && self.department.is_none()
            && self.tags.is_none()
            && self.add_tags.is_empty()
            && self.remove_tags.is_empty()
            && self.fields.is_empty()
    }

    /// Checks the values that do not depend on the ticket (tags), naming the field.
    pub(crate) fn validate(&self) -> std::result::Result<(), FieldError> {
        edited_tags(&[], self).map(|_| ())
    }
}

/// The tags `edit` leaves on a ticket that carries `current`.
fn edited_tags(current: &[Tag], edit: &TicketEdit) -> std::result::Result<Vec<Tag>, FieldError> {
    let mut tags = match &edit.tags {
        Some(set) => Tag::parse_set("tags", set)?,
        None => current.to_vec(),
    };
    for s in &edit.add_tags {
        tags.push(Tag::parse_field("add_tags", s)?);
    }
    let remove = edit.remove_tags.iter().map(|s| Tag::parse_field("remove_tags", s)).collect::<Result<Vec<_>, _>>()?;
    tags.retain(|t| !remove.contains(t));
    tags.sort();
    tags.dedup();
    if tags.len() > Tag::MAX_PER_TICKET {
        let field = if edit.add_tags.is_empty() { "tags" } else { "add_tags" };
        return Err(FieldError::new(field, "too_many", format!("a ticket has {} tags at most", Tag::MAX_PER_TICKET)));
    }
    Ok(tags)
}

/// The input of a lifecycle action.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ActionRequest {
    /// Priority (approve).
    pub priority: Option<Priority>,
    /// Department key (approve).
    pub department: Option<String>,
    /// Assignee (assign).
    pub assignee: Option<UserId>,
    /// Reason, note or comment, as the action requires.
    pub text: Option<String>,
    /// Resolve a parent whose children are still open (staff, with the resolution note).
    pub force: bool,
}

impl NewTicket {
    /// A ticket to file: subject, category and sub-category keys of the catalogue (the
    /// default one is tabled on [`crate::domain::Catalog`]: `hardware` / `laptop`, `network` /
    /// `vpn`, …), and description. Checked by [`HelpDesk::create_ticket`].
    pub fn new(
        subject: impl Into<String>,
        category: impl Into<String>,
        sub_category: impl Into<String>,
        description: impl Into<String>,
    ) -> Self {
        Self {
            subject: subject.into(),
            category: category.into(),
            sub_category: sub_category.into(),
            description: description.into(),
            scheduled_date: None,
            fields: Default::default(),
        }
    }

    /// With a requested date (not in the past).
    #[must_use]
    pub fn scheduled_for(mut self, date: NaiveDate) -> Self {
        self.scheduled_date = Some(date);
        self
    }
}

impl ActionRequest {
    /// The input of `approve`: the priority and the department that will own the ticket.
    pub fn triage(priority: Priority, department: impl Into<String>) -> Self {
        Self { priority: Some(priority), department: Some(department.into()), ..Self::default() }
    }

    /// The input of `assign`: the staff member who takes the ticket.
    pub fn assign(assignee: UserId) -> Self {
        Self { assignee: Some(assignee), ..Self::default() }
    }

    /// The text an action takes: the *note* of `hold` and `resolve`, the *reason* of `reject`
    /// and `reopen`, the public *comment* (question) of `await requester`, the optional
    /// comment of `close` and `withdraw` (the lifecycle table's "input" column).
    pub fn text(text: impl Into<String>) -> Self {
        Self { text: Some(text.into()), ..Self::default() }
    }
}

/// A ticket with what the principal may do to it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketView {
    /// The ticket.
    pub ticket: Ticket,
    /// Lifecycle actions the principal may take now.
    pub actions: Vec<Action>,
    /// Whether the principal sees internal content.
    pub sees_internal: bool,
    /// Where the ticket's running service-level targets stand now ([`SlaSchedule::state_at`]
    /// (crate::model::SlaSchedule::state_at)): staff only, `None` when none runs.
    pub sla_state: Option<crate::sla::TargetState>,
    /// Whether the principal may change the ticket's tags now.
    pub can_tag: bool,
    /// Whether the principal may add and remove the ticket's followers.
    pub can_manage_followers: bool,
}

/// A ticket with everything its page shows (see [`HelpDesk::ticket_thread`]).
#[derive(Debug, Clone)]
pub struct TicketThread {
    /// The ticket and the principal's actions.
    pub view: TicketView,
    /// Comments, oldest first.
    pub comments: Vec<Comment>,
    /// History, oldest first.
    pub history: Vec<HistoryEvent>,
    /// Attachments, oldest first.
    pub attachments: Vec<crate::model::Attachment>,
    /// What may be shown of the people on the ticket (requester, assignee, authors of the
    /// comments and history the principal sees), by id.
    pub people: Vec<UserSummary>,
    /// The requester's email, for staff (to reach them outside the help desk).
    pub requester_email: Option<crate::domain::Email>,
    /// Where the ticket stands against its service levels, for staff, when a policy applies.
    pub sla: Option<super::TicketSla>,
}

/// Writes a use case commits with its own: mail in's message record and the files it carried,
/// so a message, its ticket or comment, and its attachments exist together or not at all.
#[derive(Debug, Clone, Default)]
pub(crate) struct Extras {
    /// The new ticket's id (its files' blobs were written under it before the commit).
    pub ticket_id: Option<TicketId>,
    /// Attachments whose blobs are written; the ticket and comment are filled in here.
    pub files: Vec<Attachment>,
    /// The message's record; its outcome is set here (the ticket or comment written).
    pub inbound: Option<Versioned<InboundMessage>>,
}

impl Extras {
    fn add_to(
        self,
        uow: &mut UnitOfWork,
        ticket: &Ticket,
        comment: Option<CommentId>,
        actor: ActorRef,
        now: DateTime<Utc>,
        outcome: InboundOutcome,
    ) {
        for mut a in self.files {
            a.ticket = ticket.id;
            a.comment = comment;
            uow.events.push(HistoryEvent {
                id: EventId::random(),
                ticket: ticket.id,
                at: now,
                actor: actor.clone(),
                kind: EventKind::AttachmentAdded { attachment: a.id },
                changes: vec![FieldChange::new("attachment", None, Some(a.file_name.to_string()))],
                note: None,
                internal: false,
                version: ticket.version,
                by_macro: None,
            });
            uow.attachments.push(a);
        }
        if let Some(mut w) = self.inbound {
            w.value.outcome = outcome;
            uow.inbound.push(w);
        }
    }
}

/// A filed ticket, and whether an earlier request with the same idempotency key filed it.
#[derive(Debug, Clone)]
pub struct Filed {
    /// The ticket.
    pub ticket: Ticket,
    /// True when this call replayed an earlier one and filed nothing.
    pub replayed: bool,
}

/// How long an idempotent write may run: past it the attempt is abandoned (its key released),
/// so no attempt outlives [`IN_PROGRESS_STALE`].
const IDEMPOTENT_DEADLINE: std::time::Duration = std::time::Duration::from_secs(15);

/// An in-progress idempotency record older than this belongs to an attempt that died (a crash,
/// a dropped connection): twice [`IDEMPOTENT_DEADLINE`], so a live attempt is never overtaken.
const IN_PROGRESS_STALE: chrono::Duration = chrono::Duration::seconds(30);

/// The history a principal may see: internal events and the names of the macros that made
/// changes (staff's own tools) only for those who see internal content.
fn visible_history(history: Vec<HistoryEvent>, internal: bool) -> Vec<HistoryEvent> {
    history
        .into_iter()
        .filter(|e| internal || !e.internal)
        .map(|mut e| {
            if !internal {
                e.by_macro = None;
            }
            e
        })
        .collect()
}

/// Runs an idempotent write under [`IDEMPOTENT_DEADLINE`].
async fn within_deadline<T>(write: impl std::future::Future<Output = Result<T>>) -> Result<T> {
    tokio::time::timeout(IDEMPOTENT_DEADLINE, write)
        .await
        .unwrap_or_else(|_| Err(Error::Unavailable("the write did not finish in time".into())))
}

impl HelpDesk {
    /// Loads a ticket the principal may see; others' tickets are "not found", not "forbidden".
    pub(crate) async fn visible_ticket(&self, principal: &Principal, number: &TicketNumber) -> Result<Ticket> {
        let t = self.inner.store.ticket_by_number(number).await?.ok_or(Error::NotFound { what: "ticket" })?;
        if !self.allowed(principal, Permission::ViewTicket, &Resource::ticket(&t)) {
            return Err(Error::NotFound { what: "ticket" });
        }
        self.know_fields_of(principal, std::slice::from_ref(&t)).await?;
        Ok(t)
    }

    /// Makes sure this process holds fresh custom field definitions when `tickets` carry
    /// values `principal` might not see: what `view` hides from them comes from those.
    pub(crate) async fn know_fields_of(&self, principal: &Principal, tickets: &[Ticket]) -> Result<()> {
        if !principal.is_staff() && tickets.iter().any(|t| !t.fields.is_empty()) {
            self.fresh_fields(false).await?;
        }
        Ok(())
    }

    /// Loads a visible ticket by id.
    pub(crate) async fn visible_ticket_by_id(&self, principal: &Principal, id: TicketId) -> Result<Ticket> {
        let t = self.inner.store.ticket(id).await?.ok_or(Error::NotFound { what: "ticket" })?;
        if !self.allowed(principal, Permission::ViewTicket, &Resource::ticket(&t)) {
            return Err(Error::NotFound { what: "ticket" });
        }
        self.know_fields_of(principal, std::slice::from_ref(&t)).await?;
        Ok(t)
    }

    /// `ticket` as `principal` sees it: with the actions they may take now. For callers that
    /// already hold a ticket the service returned (after an action or an edit).
    pub fn view(&self, principal: &Principal, mut ticket: Ticket) -> TicketView {
        let now = self.now();
        let actions = match principal.actor() {
            Some(actor) if self.allowed(principal, Permission::TransitionTicket, &Resource::ticket(&ticket)) => {
                self.inner.lifecycle.available_actions(&ticket, &actor, now)
            }
            _ => Vec::new(),
        };
        let sees_internal = self.allowed(principal, Permission::ViewInternal, &Resource::ticket(&ticket));
        let sla_state = if sees_internal { ticket.sla.state_at(now) } else { None };
        // The rating is for staff and the requester who gave it, never another employee.
        if !sees_internal && principal.user().map(|u| u.id) != Some(ticket.requester) {
            ticket.satisfaction = None;
        }
        // Tags are staff's labels, shown to requesters only where they may tag too.
        if !sees_internal && !self.requesters_see_tags() {
            ticket.tags.clear();
        }
        // Links are staff's; the pointer of a merged ticket stays (pages follow it).
        if !sees_internal {
            ticket.links.clear();
            ticket.fields.retain(|k, _| !self.field_is_internal(k.as_str()));
        }
        let can_tag = self.allowed(principal, Permission::EditTicket, &Resource::field(&ticket, TicketField::Tags));
        let can_manage_followers = self.allowed(principal, Permission::ManageFollowers, &Resource::ticket(&ticket));
        TicketView { ticket, actions, sees_internal, sla_state, can_tag, can_manage_followers }
    }

    /// True when the policy options let requesters tag (and so see the tags of) their tickets.
    fn requesters_see_tags(&self) -> bool {
        self.inner.options.policy.requesters_tag_new_tickets
    }

    pub(crate) fn check_ticket_version(t: &Ticket, expected: Option<u64>) -> Result<()> {
        match expected {
            Some(v) if v != t.version => Err(Error::VersionConflict { expected: v, found: t.version }),
            _ => Ok(()),
        }
    }

    pub(crate) async fn begin_idempotency(
        &self,
        principal: &Principal,
        key: &str,
        request_hash: &str,
    ) -> Result<Option<serde_json::Value>> {
        let key = key.trim();
        if key.is_empty() || key.len() > 255 || key.chars().any(char::is_control) {
            return Err(
                FieldError::new("idempotency_key", "invalid", "1 to 255 characters, no control characters").into()
            );
        }
        let now = self.now();
        let k = IdempotencyKey { principal: principal.key(), key: key.to_owned() };
        match self.inner.store.begin_idempotent(&k, request_hash, now, now - IN_PROGRESS_STALE).await? {
            IdempotencyBegin::Started => Ok(None),
            IdempotencyBegin::InProgress { started_at } => {
                let left = (started_at + IN_PROGRESS_STALE - now).to_std().unwrap_or_default();
                Err(Error::IdempotencyInProgress { retry_after: left.max(std::time::Duration::from_secs(1)) })
            }
            IdempotencyBegin::Mismatch => Err(Error::IdempotencyMismatch),
            IdempotencyBegin::Completed(rec) => Ok(Some(rec.response)),
        }
    }

    pub(crate) async fn replayed_ticket(&self, principal: &Principal, response: &serde_json::Value) -> Result<Ticket> {
        let id = response
            .get("ticket_id")
            .and_then(|v| v.as_str())
            .and_then(|s| s.parse::<TicketId>().ok())
            .ok_or_else(|| Error::Internal("malformed idempotency record".into()))?;
        self.visible_ticket_by_id(principal, id).await
    }

    pub(crate) fn idempotency_record(
        &self,
        principal: &Principal,
        key: &str,
        request_hash: &str,
        ticket: TicketId,
    ) -> IdempotencyRecord {
        IdempotencyRecord {
            key: IdempotencyKey { principal: principal.key(), key: key.trim().to_owned() },
            request_hash: request_hash.to_owned(),
            response: serde_json::json!({ "ticket_id": ticket.to_string() }),
            expires_at: self.now() + self.inner.options.idempotency_ttl,
        }
    }

    pub(crate) async fn release(&self, principal: &Principal, key: Option<&str>) {
        if let Some(k) = key {
            let k = IdempotencyKey { principal: principal.key(), key: k.trim().to_owned() };
            if let Err(e) = self.inner.store.release_idempotent(&k).await {
                tracing::warn!(error = %e, "could not release an idempotency key");
            }
        }
    }

    /// Files a ticket. With an idempotency key, a replay of the same request returns the same
    /// ticket; the same key with another body is refused.
    ///
    /// # Errors
    /// `Validation` naming each bad field; `IdempotencyMismatch`; `IdempotencyInProgress`.
    pub async fn create_ticket(
        &self,
        principal: &Principal,
        input: NewTicket,
        idempotency_key: Option<&str>,
    ) -> Result<Ticket> {
        Ok(self.file_ticket(principal, input, idempotency_key).await?.ticket)
    }

    /// [`create_ticket`](Self::create_ticket), saying whether this call filed the ticket or
    /// replayed an earlier one (a form that uploads files with the ticket adds them only once).
    ///
    /// # Errors
    /// As [`create_ticket`](Self::create_ticket).
    pub async fn file_ticket(
        &self,
        principal: &Principal,
        input: NewTicket,
        idempotency_key: Option<&str>,
    ) -> Result<Filed> {
        self.file_ticket_with(principal, input, idempotency_key, Extras::default()).await
    }

    /// [`file_ticket`](Self::file_ticket), committing `extras` with the ticket.
    pub(crate) async fn file_ticket_with(
        &self,
        principal: &Principal,
        input: NewTicket,
        idempotency_key: Option<&str>,
        extras: Extras,
    ) -> Result<Filed> {
        self.require(principal, Permission::CreateTicket, &Resource::none())?;
        let requester = principal.user().ok_or(Error::Forbidden("only users file tickets"))?.id;
        let actor = principal.actor().ok_or(Error::Unauthenticated(AuthFailure::Missing))?;
        let now = self.now();
        let mut errs = ValidationErrors::new();
        let subject = errs.check(Subject::parse(&input.subject));
        let description = errs.check(Description::parse(&input.description));
        let category = match self.inner.options.catalog.parse_category(&input.category, &input.sub_category) {
            Ok((c, s, def)) => Some((c, s, def.department.clone())),
            Err(es) => {
                es.into_iter().for_each(|e| errs.push(e));
                None
            }
        };
        if let Some(d) = input.scheduled_date
            && d < now.date_naive()
        {
            errs.push(FieldError::new("scheduled_date", "in_past", "may not be in the past"));
        }
        let (Some(subject), Some(description), Some((category, sub_category, department))) =
            (subject, description, category)
        else {
            return Err(Error::Validation(errs));
        };
        let mut ticket = Ticket {
            id: extras.ticket_id.unwrap_or_else(TicketId::random),
            number: TicketNumber::new(&self.inner.options.ticket_number_format, 0),
            requester,
            subject,
            category,
            sub_category,
            description,
            scheduled_date: input.scheduled_date,
            priority: None,
            department: Some(department),
            status: TicketStatus::New,
            assignee: None,
            created_at: now,
            updated_at: now,
            first_response_at: None,
            resolved_at: None,
            closed_at: None,
            response_secs: None,
            resolution_secs: None,
            rejection_reason: None,
            workflow_linked: false,
            version: 1,
            sla: crate::model::SlaSchedule::default(),
            satisfaction: None,
            tags: Vec::new(),
            followers: Vec::new(),
            links: Vec::new(),
            merged_into: None,
            fields: Default::default(),
        };
        let book = self.fields_for(input.fields.keys().map(String::as_str)).await?;
        // A message carries no custom fields: a ticket by mail waits for staff to fill in the
        // required ones (before it is resolved) instead of being refused.
        let by_mail = extras.inbound.is_some();
        ticket.fields = self.new_ticket_fields(principal, &ticket, &book, &input.fields, !by_mail, &mut errs);
        errs.into_result()?;
        let request_hash = super::sha256_hex(serde_json::to_string(&input).unwrap_or_default().as_bytes());
        if let Some(key) = idempotency_key
            && let Some(response) = self.begin_idempotency(principal, key, &request_hash).await?
        {
            let ticket = self.replayed_ticket(principal, &response).await?;
            return Ok(Filed { ticket, replayed: true });
        }
        let result = within_deadline(async {
            let effects = self.inner.lifecycle.submit_effects(&actor)?;
            let seq = self.inner.store.allocate_ticket_number().await?;
            ticket.number = TicketNumber::new(&self.inner.options.ticket_number_format, seq);
            let mut uow = UnitOfWork::new();
            uow.outbox = self.effect_messages(&ticket, &effects, Some(requester), None, now).await?;
            uow.events.push(HistoryEvent {
                id: EventId::random(),
                ticket: ticket.id,
                at: now,
                actor: actor.to_ref(),
                kind: EventKind::Action { action: Action::Submit },
                changes: vec![FieldChange::new("status", None, Some(TicketStatus::New.to_string()))],
                note: None,
                internal: false,
                version: 1,
                by_macro: None,
            });
            if let Some(key) = idempotency_key {
                uow.idempotency = Some(self.idempotency_record(principal, key, &request_hash, ticket.id));
            }
            extras.clone().add_to(
                &mut uow,
                &ticket,
                None,
                actor.to_ref(),
                now,
                InboundOutcome::Ticket { number: ticket.number.clone() },
            );
            uow.tickets.push(Versioned::insert(ticket));
            let ticket = self.commit(uow).await?.swap_remove(0);
            Ok(Filed { ticket, replayed: false })
        })
        .await;
        if result.is_err() {
            self.release(principal, idempotency_key).await;
        }
        result
    }

    /// How many tickets of `query` the principal may see, per status (the query's status
    /// filter ignored), scoped as [`list_tickets`](Self::list_tickets) is.
    ///
    /// # Errors
    /// `Unauthenticated` for anonymous callers.
    pub async fn ticket_counts(&self, principal: &Principal, query: &TicketQuery) -> Result<Vec<(TicketStatus, u64)>> {
        match self.scoped(principal, query)? {
            Some(q) => Ok(self.inner.store.ticket_counts(&q).await?),
            None => Ok(Vec::new()),
        }
    }

    /// `query` narrowed to what the principal may see; `None` when that is nothing.
    fn scoped(&self, principal: &Principal, query: &TicketQuery) -> Result<Option<TicketQuery>> {
        if matches!(principal, Principal::Anonymous) {
            return Err(Error::Unauthenticated(AuthFailure::Missing));
        }
        let mut q = query.clone();
        match self.inner.policy.list_scope(principal) {
            ListScope::All => {}
            ListScope::Department(d) => {
                if !q.departments.is_empty() && !q.departments.contains(&d) {
                    return Ok(None);
                }
                q.departments = vec![d];
            }
            ListScope::Own(me) => {
                if q.sort.field == TicketSortField::Due || q.due_before.is_some() {
                    return Err(Error::Forbidden("sort or filter by service levels (staff only)"));
                }
                if q.filters_tags() && !self.requesters_see_tags() {
                    return Err(Error::Forbidden("filter by tags (staff only)"));
                }
                // The tickets one follows are visible to one; any other list is one's own.
                if q.follower != Some(me) {
                    if q.requester.is_some_and(|r| r != me) {
                        return Ok(None);
                    }
                    q.requester = Some(me);
                }
            }
            ListScope::Nothing => return Ok(None),
        }
        Ok(Some(q))
    }

    /// One ticket with the actions the principal may take.
    ///
    /// # Errors
    /// `NotFound` for unknown tickets and tickets the principal may not see.
    pub async fn ticket(&self, principal: &Principal, number: &TicketNumber) -> Result<TicketView> {
        let t = self.visible_ticket(principal, number).await?;
        Ok(self.view(principal, t))
    }

    /// A page of tickets. Employees' queries are limited to their own tickets here, in core
    /// (and department-limited coordinators' to their department), whatever the query says.
    ///
    /// # Errors
    /// `Unauthenticated` for anonymous callers.
    pub async fn list_tickets(&self, principal: &Principal, query: &TicketQuery) -> Result<Page<Ticket>> {
        match self.scoped(principal, query)? {
            Some(q) => {
                let page = self.inner.store.list_tickets(&q).await?;
                self.know_fields_of(principal, &page.items).await?;
                Ok(page)
            }
            None => Ok(Page { items: Vec::new(), next: None }),
        }
    }

    /// Edits fields within the field rules (requester: subject, description, category and
    /// scheduled date while new; staff: priority, department, category). Status, number and
    /// timestamps are never edited directly.
    ///
    /// # Errors
    /// `Forbidden` naming the field; `Validation`; `VersionConflict`.
    pub async fn edit_ticket(
        &self,
        principal: &Principal,
        number: &TicketNumber,
        edit: TicketEdit,
        expected: Option<u64>,
    ) -> Result<Ticket> {
        Ok(self.edit_ticket_changed(principal, number, edit, expected).await?.0)
    }

    /// [`edit_ticket`](Self::edit_ticket), saying whether anything changed.
    pub(crate) async fn edit_ticket_changed(
        &self,
        principal: &Principal,
        number: &TicketNumber,
        edit: TicketEdit,
        expected: Option<u64>,
    ) -> Result<(Ticket, bool)> {
        let t = self.visible_ticket(principal, number).await?;
        Self::check_ticket_version(&t, expected)?;
        let actor = principal.actor().ok_or(Error::Unauthenticated(AuthFailure::Missing))?;
        let now = self.now();
        let book = self.book_for_edit(&edit).await?;
        let (mut next, changes) = self.planned_edit(principal, &t, &edit, now, &book)?;
        if changes.is_empty() {
            return Ok((t, false));
        }
        next.updated_at = now;
        next.version = t.version + 1;
        let mut uow = UnitOfWork::new();
        uow.events = self.edit_events(&next, &actor.to_ref(), changes, now);
        uow.tickets.push(Versioned::update(next, t.version));
        Ok((self.commit_ticket(uow).await?, true))
    }

    /// `edit` checked against the policy and the field rules on `t`: the ticket after it
    /// (version and time not yet moved) and what changed.
    pub(crate) fn planned_edit(
        &self,
        principal: &Principal,
        t: &Ticket,
        edit: &TicketEdit,
        now: DateTime<Utc>,
        book: &FieldBook,
    ) -> Result<(Ticket, Vec<FieldChange>)> {
        let mut fields = Vec::new();
        if edit.subject.is_some() {
            fields.push(TicketField::Subject);
        }
        if edit.description.is_some() {
            fields.push(TicketField::Description);
        }
        if edit.category.is_some() {
            fields.push(TicketField::Category);
        }
        if edit.scheduled_date.is_some() {
            fields.push(TicketField::ScheduledDate);
        }
        if edit.priority.is_some() {
            fields.push(TicketField::Priority);
        }
        if edit.department.is_some() {
            fields.push(TicketField::Department);
        }
        if edit.tags.is_some() || !edit.add_tags.is_empty() || !edit.remove_tags.is_empty() {
            fields.push(TicketField::Tags);
        }
        for f in &fields {
            if !self.allowed(principal, Permission::EditTicket, &Resource::field(t, *f)) {
                return Err(Error::Forbidden(match f {
                    TicketField::Subject => "edit subject",
                    TicketField::Description => "edit description",
                    TicketField::Category => "edit category",
                    TicketField::ScheduledDate => "edit scheduled_date",
                    TicketField::Priority => "edit priority",
                    TicketField::Department => "edit department",
                    TicketField::Tags => "edit tags",
                    TicketField::CustomField => "edit fields",
                    TicketField::InternalField => "edit internal fields",
                }));
            }
        }
        let mut errs = ValidationErrors::new();
        let mut next = t.clone();
        let mut changes = Vec::new();
        if let Some(s) = &edit.subject
            && let Some(v) = errs.check(Subject::parse(s))
            && v != t.subject
        {
            changes.push(FieldChange::new("subject", Some(t.subject.to_string()), Some(v.to_string())));
            next.subject = v;
        }
        if let Some(s) = &edit.description
            && let Some(v) = errs.check(Description::parse(s))
            && v != t.description
        {
            changes.push(FieldChange::new("description", Some(t.description.to_string()), Some(v.to_string())));
            next.description = v;
        }
        if let Some((c, s)) = &edit.category {
            match self.inner.options.catalog.parse_category(c, s) {
                Ok((c, s, def)) => {
                    if c != t.category || s != t.sub_category {
                        changes.push(FieldChange::new(
                            "category",
                            Some(format!("{}/{}", t.category, t.sub_category)),
                            Some(format!("{c}/{s}")),
                        ));
                        next.category = c;
                        next.sub_category = s;
                        // Before triage the department follows the category's proposal.
                        if t.status == TicketStatus::New
                            && edit.department.is_none()
                            && next.department.as_ref() != Some(&def.department)
                        {
                            changes.push(FieldChange::new(
                                "department",
                                t.department.as_ref().map(|d| d.to_string()),
                                Some(def.department.to_string()),
                            ));
                            next.department = Some(def.department.clone());
                        }
                    }
                }
                Err(es) => es.into_iter().for_each(|e| errs.push(e)),
            }
        }
        if let Some(d) = edit.scheduled_date {
            if d.is_some_and(|d| d < now.date_naive()) {
                errs.push(FieldError::new("scheduled_date", "in_past", "may not be in the past"));
            } else if d != t.scheduled_date {
                changes.push(FieldChange::new(
                    "scheduled_date",
                    t.scheduled_date.map(|d| d.to_string()),
                    d.map(|d| d.to_string()),
                ));
                next.scheduled_date = d;
            }
        }
        if let Some(p) = edit.priority
            && Some(p) != t.priority
        {
            changes.push(FieldChange::new("priority", t.priority.map(|p| p.to_string()), Some(p.to_string())));
            next.priority = Some(p);
        }
        if let Some(d) = &edit.department
            && let Some(d) = errs.check(self.inner.options.catalog.parse_department("department", d))
            && Some(&d) != next.department.as_ref()
        {
            changes.push(FieldChange::new(
                "department",
                next.department.as_ref().map(|d| d.to_string()),
                Some(d.to_string()),
            ));
            next.department = Some(d);
        }
        if let Some(tags) = errs.check(edited_tags(&t.tags, edit))
            && tags != t.tags
        {
            let shown = |tags: &[Tag]| Some(Tag::join(tags)).filter(|s| !s.is_empty());
            changes.push(FieldChange::new("tags", shown(&t.tags), shown(&tags)));
            next.tags = tags;
        }
        self.edit_fields(principal, t, &mut next, book, &edit.fields, &mut errs, &mut changes)?;
        errs.into_result()?;
        Ok((next, changes))
    }

    /// The history events of an edit that produced `next`: a change of tags requesters may
    /// not see is an internal event of its own.
    pub(crate) fn edit_events(
        &self,
        next: &Ticket,
        actor: &ActorRef,
        changes: Vec<FieldChange>,
        now: DateTime<Utc>,
    ) -> Vec<HistoryEvent> {
        let (tag_changes, changes): (Vec<_>, Vec<_>) = changes.into_iter().partition(|c| {
            (c.field == "tags" && !self.requesters_see_tags())
                || c.field.strip_prefix("fields.").is_some_and(|k| self.field_is_internal(k))
        });
        [(changes, false), (tag_changes, true)]
            .into_iter()
            .filter(|(changes, _)| !changes.is_empty())
            .map(|(changes, internal)| HistoryEvent {
                id: EventId::random(),
                ticket: next.id,
                at: now,
                actor: actor.clone(),
                kind: EventKind::Edited,
                changes,
                note: None,
                internal,
                version: next.version,
                by_macro: None,
            })
            .collect()
    }

    /// Commits a unit of work that writes one ticket first; answers it as written.
    pub(crate) async fn commit_ticket(&self, uow: UnitOfWork) -> Result<Ticket> {
        match self.commit(uow).await {
            Err(StoreError::VersionMismatch { expected, found }) => Err(Error::VersionConflict { expected, found }),
            Err(e) => Err(e.into()),
            Ok(mut written) if !written.is_empty() => Ok(written.swap_remove(0)),
            Ok(_) => Err(Error::Internal("a ticket change wrote no ticket".into())),
        }
    }

    async fn parse_action_input(&self, ticket: &Ticket, action: Action, req: &ActionRequest) -> Result<ActionInput> {
        let text_field = self
            .inner
            .lifecycle
            .rule_for(action, Some(ticket.status))
            .and_then(|r| r.requires.iter().find(|i| matches!(i, Input::Reason | Input::Note | Input::Comment)))
            .map_or("comment", |i| i.field());
        let mut errs = ValidationErrors::new();
        let text = match req.text.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(s) => errs.check(Note::parse_field(text_field, s)),
            None => None,
        };
        // Triage confirms the department proposed from the category unless it names another.
        let department = match req.department.as_deref() {
            Some(d) => errs.check(self.inner.options.catalog.parse_department("department", d)),
            None if action == Action::Approve => ticket.department.clone(),
            None => None,
        };
        if let Some(a) = req.assignee {
            match self.inner.store.user(a).await? {
                Some(u) if u.role.is_staff() && u.status == UserStatus::Approved => {}
                _ => errs.push(FieldError::new("assignee", "invalid", "must be an approved coordinator or admin")),
            }
        }
        errs.into_result()?;
        Ok(ActionInput { priority: req.priority, department, assignee: req.assignee, text, force: req.force })
    }

    /// Takes a lifecycle action. The table decides who may; the history event, mails and
    /// workflow push are committed with the change.
    ///
    /// # Errors
    /// `NotFound` (invisible ticket), `InvalidTransition` (no such move, or not this actor's),
    /// `Validation` (missing or bad input), `VersionConflict`.
    pub async fn act(
        &self,
        principal: &Principal,
        number: &TicketNumber,
        action: Action,
        req: ActionRequest,
        expected: Option<u64>,
    ) -> Result<Ticket> {
        let t = self.visible_ticket(principal, number).await?;
        self.require(principal, Permission::TransitionTicket, &Resource::ticket(&t))?;
        Self::check_ticket_version(&t, expected)?;
        let actor = principal.actor().ok_or(Error::Unauthenticated(AuthFailure::Missing))?;
        let input = self.parse_action_input(&t, action, &req).await?;
        self.apply_transition(principal, &t, action, &actor, input, None).await
    }

    async fn apply_transition(
        &self,
        principal: &Principal,
        t: &Ticket,
        action: Action,
        actor: &Actor,
        input: ActionInput,
        idempotency: Option<IdempotencyRecord>,
    ) -> Result<Ticket> {
        let now = self.now();
        let mut uow = UnitOfWork::new();
        let next = self.stage_transition(principal, t, action, actor, &input, now, &mut uow).await?;
        uow.idempotency = idempotency;
        uow.tickets.push(Versioned::update(next, t.version));
        self.commit_ticket(uow).await
    }

    /// Adds a lifecycle action on `t` (as the unit of work leaves it so far) to `uow`: its
    /// event, its mails and workflow messages, and the question to the requester as a public
    /// comment; answers the ticket after it.
    ///
    /// # Errors
    /// `InvalidTransition`, `Validation` (missing input).
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn stage_transition(
        &self,
        principal: &Principal,
        t: &Ticket,
        action: Action,
        actor: &Actor,
        input: &ActionInput,
        now: DateTime<Utc>,
        uow: &mut UnitOfWork,
    ) -> Result<Ticket> {
        let mut tr = self.inner.lifecycle.apply(t, action, actor, input, now)?;
        if action == Action::Resolve {
            let open = self.open_children(t).await?;
            if !open.is_empty() {
                let list = open.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
                if !input.force {
                    return Err(FieldError::new(
                        "force",
                        "open_children",
                        format!("{list} still open: resolve them first, or resolve this one anyway with a note"),
                    )
                    .into());
                }
                if !principal.is_staff() {
                    return Err(Error::Forbidden("resolve a ticket with open children"));
                }
                tr.event.changes.push(FieldChange::new("open_children", None, Some(list)));
            }
            // Staff fill the required fields before they resolve (the workflow system's pushes
            // are not held up by them).
            if principal.is_staff() {
                let missing = self.missing_required_fields(t).await?;
                if !missing.is_empty() {
                    let mut errs = ValidationErrors::new();
                    for d in missing {
                        errs.push(FieldError::new(
                            format!("fields.{}", d.key),
                            "required",
                            format!("{} is required before the ticket is resolved", d.label),
                        ));
                    }
                    return Err(Error::Validation(errs));
                }
            }
        }
        let text = input.text.as_ref().map(|n| n.to_string());
        let actor_user = principal.user().map(|u| u.id);
        uow.outbox.extend(self.effect_messages(&tr.ticket, &tr.effects, actor_user, text.as_deref(), now).await?);
        if action == Action::AwaitRequester
            && let Some(body) = &text
        {
            let c = Comment {
                id: CommentId::random(),
                ticket: t.id,
                author: actor.to_ref(),
                body: CommentBody::parse(body)?,
                internal: false,
                created_at: now,
            };
            uow.comments.push(c);
        }
        uow.events.push(tr.event);
        Ok(tr.ticket)
    }

    /// Applies an external system's status update: the one row whose "who" includes the
    /// external system from the current status to `target`; the assignee is kept, the note
    /// is required, the key's name is recorded as the actor.
    ///
    /// # Errors
    /// `Forbidden` without the push scope; `NotFound`; `InvalidTransition` when no such move
    /// exists (never applied blindly); `Validation` for a missing note or key;
    /// `Idempotency*`.
    pub async fn workflow_update(
        &self,
        principal: &Principal,
        number: &TicketNumber,
        target: TicketStatus,
        note: &str,
        idempotency_key: &str,
    ) -> Result<Ticket> {
        let t = self.inner.store.ticket_by_number(number).await?.ok_or(Error::NotFound { what: "ticket" })?;
        self.require(principal, Permission::PushWorkflowStatus, &Resource::ticket(&t))?;
        let actor = principal.actor().ok_or(Error::Unauthenticated(AuthFailure::Missing))?;
        let note = Note::parse_field("note", note)?;
        let request_hash = super::sha256_hex(format!("{number}|{target}|{note}").as_bytes());
        if let Some(response) = self.begin_idempotency(principal, idempotency_key, &request_hash).await? {
            return self.replayed_ticket(principal, &response).await;
        }
        let result = within_deadline(async {
            let rule = self.inner.lifecycle.external_rule_to(t.status, target).ok_or_else(|| {
                Error::InvalidTransition { action: format!("move to {target}"), from: t.status.to_string() }
            })?;
            let input = ActionInput { text: Some(note.clone()), ..ActionInput::default() };
            let record = self.idempotency_record(principal, idempotency_key, &request_hash, t.id);
            self.apply_transition(principal, &t, rule.action, &actor, input, Some(record)).await
        })
        .await;
        if result.is_err() {
            self.release(principal, Some(idempotency_key)).await;
        }
        result
    }

    /// Writes a comment. Public staff comments count as the first response; a requester's
    /// public comment resumes a ticket waiting on them; the other party is mailed about public
    /// comments only.
    ///
    /// # Errors
    /// `NotFound`, `Forbidden` (internal by non-staff), `Validation`, `Conflict` on a terminal
    /// ticket for non-staff.
    pub async fn add_comment(
        &self,
        principal: &Principal,
        number: &TicketNumber,
        body: &str,
        internal: bool,
    ) -> Result<Comment> {
        self.add_comment_with(principal, number, body, internal, Extras::default()).await
    }

    /// [`add_comment`](Self::add_comment), committing `extras` with the comment.
    pub(crate) async fn add_comment_with(
        &self,
        principal: &Principal,
        number: &TicketNumber,
        body: &str,
        internal: bool,
        extras: Extras,
    ) -> Result<Comment> {
        let t = self.visible_ticket(principal, number).await?;
        let actor = principal.actor().ok_or(Error::Unauthenticated(AuthFailure::Missing))?;
        let body = CommentBody::parse(body)?;
        let now = self.now();
        let mut next = t.clone();
        let mut uow = UnitOfWork::new();
        let comment = self.stage_comment(principal, &actor, &t, &mut next, body, internal, now, &mut uow).await?;
        extras.add_to(
            &mut uow,
            &next,
            Some(comment.id),
            actor.to_ref(),
            now,
            InboundOutcome::Comment { number: next.number.clone() },
        );
        uow.tickets.push(Versioned::update(next, t.version));
        self.commit_ticket(uow).await?;
        Ok(comment)
    }

    /// Adds a comment by `principal` to `uow`: its event, the first response it may be, the
    /// resumption of a ticket waiting on its requester, and the mail to the other party.
    /// `t` is the ticket as stored, `next` as the unit of work leaves it so far (its version
    /// moves to `t.version + 1` for a public comment; an internal note leaves it).
    ///
    /// # Errors
    /// `Forbidden` (internal by non-staff), `Conflict` on a terminal ticket for non-staff.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn stage_comment(
        &self,
        principal: &Principal,
        actor: &Actor,
        t: &Ticket,
        next: &mut Ticket,
        body: CommentBody,
        internal: bool,
        now: DateTime<Utc>,
        uow: &mut UnitOfWork,
    ) -> Result<Comment> {
        let perm = if internal { Permission::CommentInternal } else { Permission::CommentPublic };
        self.require(principal, perm, &Resource::on_ticket(t, internal))?;
        if t.status.is_terminal() && !principal.is_staff() {
            return Err(Error::Conflict("this ticket is closed to comments"));
        }
        // A merged ticket only points to the one that goes on: what is written goes there.
        if t.merged_into.is_some() {
            return Err(Error::Conflict("this ticket was merged into another: comment there"));
        }
        let comment =
            Comment { id: CommentId::random(), ticket: t.id, author: actor.to_ref(), body, internal, created_at: now };
        let mut changes = Vec::new();
        let is_requester = principal.user().is_some_and(|u| u.id == t.requester);
        if !internal && principal.is_staff() && next.first_response_at.is_none() && !is_requester {
            next.first_response_at = Some(now);
            next.response_secs = Some((now - t.created_at).num_seconds());
            changes.push(FieldChange::new("first_response_at", None, Some(now.to_rfc3339())));
        }
        // An internal note changes nothing the requester sees: the version and `updated_at`
        // stay, so nothing the requester reads lets them count internal events (the row is
        // still written at its version, which serialises the note with other changes).
        if !internal {
            next.updated_at = now;
            next.version = t.version + 1;
        }
        uow.events.push(HistoryEvent {
            id: EventId::random(),
            ticket: t.id,
            at: now,
            actor: actor.to_ref(),
            kind: EventKind::Commented { comment: comment.id },
            changes,
            note: Some(comment.body.to_string()),
            internal,
            version: next.version,
            by_macro: None,
        });
        if !internal
            && is_requester
            && next.status == TicketStatus::Pending
            && let Ok(tr) =
                self.inner.lifecycle.apply(next, Action::Resume, &Actor::System, &ActionInput::default(), now)
        {
            let mut ev = tr.event;
            ev.note = Some("the requester replied".into());
            uow.events.push(ev);
            uow.outbox.extend(self.effect_messages(&tr.ticket, &tr.effects, None, None, now).await?);
            *next = tr.ticket;
        }
        if !internal {
            // The other party (the assignee for the requester's comment, the requester for
            // anyone else's), the assignee too for a follower's, and every follower.
            let me = principal.user().map(|u| u.id);
            let mut to: Vec<UserId> = Vec::new();
            if is_requester || me.is_some_and(|m| t.is_followed_by(m)) {
                to.extend(next.assignee);
            }
            if !is_requester {
                to.push(t.requester);
            }
            to.retain(|r| Some(*r) != me);
            let mut people = Vec::new();
            for r in to {
                people.extend(self.inner.store.user(r).await?);
            }
            people.extend(self.followers_to_mail(next, me).await?);
            if !people.is_empty() {
                let author = match principal.user() {
                    Some(_) => self.display_name_of(principal).await?,
                    None => actor.to_ref().to_string(),
                };
                for user in people {
                    let kind = NotificationKind::PublicComment {
                        ticket: ticket_mail(next),
                        author: author.clone(),
                        body: comment.body.to_string(),
                    };
                    uow.outbox.push(self.mail_to(&user, kind, now));
                }
            }
        }
        uow.comments.push(comment.clone());
        Ok(comment)
    }

    /// A ticket's comments the principal may see (internal ones only for staff).
    ///
    /// # Errors
    /// `NotFound`.
    pub async fn comments(&self, principal: &Principal, number: &TicketNumber) -> Result<Vec<Comment>> {
        let t = self.visible_ticket(principal, number).await?;
        let internal = self.allowed(principal, Permission::ViewInternal, &Resource::ticket(&t));
        Ok(self.inner.store.comments(t.id).await?.into_iter().filter(|c| internal || !c.internal).collect())
    }

    /// Everything a ticket's page shows, read once: the ticket with the principal's actions,
    /// and the comments, history and attachments the principal may see (internal ones only
    /// for staff) — what [`ticket`](Self::ticket), [`comments`](Self::comments),
    /// [`history`](Self::history) and [`attachments`](Self::attachments) give, without
    /// loading and checking the ticket four times.
    ///
    /// # Errors
    /// `NotFound` for unknown tickets and tickets the principal may not see.
    pub async fn ticket_thread(&self, principal: &Principal, number: &TicketNumber) -> Result<TicketThread> {
        let t = self.visible_ticket(principal, number).await?;
        let internal = self.allowed(principal, Permission::ViewInternal, &Resource::ticket(&t));
        let store = &self.inner.store;
        let (comments, history, attachments) = (store.comments(t.id), store.history(t.id), store.attachments(t.id));
        let (comments, history, attachments) = futures::try_join!(comments, history, attachments)?;
        let attachments = attachments
            .into_iter()
            .filter(|a| self.allowed(principal, Permission::DownloadAttachment, &Resource::on_ticket(&t, a.internal)))
            .collect();
        let comments: Vec<Comment> = comments.into_iter().filter(|c| internal || !c.internal).collect();
        let sla = if internal { self.sla_of(&t, &history) } else { None };
        let history = visible_history(history, internal);
        // The people the page names: requester, assignee, followers, and who wrote, acted or
        // was added or removed.
        let mut ids: Vec<UserId> = [Some(t.requester), t.assignee].into_iter().flatten().collect();
        ids.extend(t.followers.iter().copied());
        let actors = comments.iter().map(|c| &c.author).chain(history.iter().map(|e| &e.actor));
        ids.extend(actors.filter_map(|a| match a {
            ActorRef::User { id } => Some(*id),
            _ => None,
        }));
        ids.extend(history.iter().filter_map(|e| match e.kind {
            EventKind::FollowerAdded { user } | EventKind::FollowerRemoved { user } => Some(user),
            _ => None,
        }));
        ids.sort_unstable();
        ids.dedup();
        let mut people = Vec::with_capacity(ids.len());
        let mut requester_email = None;
        for id in ids {
            if let Some(u) = store.user(id).await? {
                if id == t.requester && principal.is_staff() {
                    requester_email = Some(u.email.clone());
                }
                people.push(u.summary());
            }
        }
        Ok(TicketThread { comments, history, attachments, people, requester_email, sla, view: self.view(principal, t) })
    }

    /// A ticket's history the principal may see (internal events only for staff).
    ///
    /// # Errors
    /// `NotFound`.
    pub async fn history(&self, principal: &Principal, number: &TicketNumber) -> Result<Vec<HistoryEvent>> {
        let t = self.visible_ticket(principal, number).await?;
        let internal = self.allowed(principal, Permission::ViewInternal, &Resource::ticket(&t));
        Ok(visible_history(self.inner.store.history(t.id).await?, internal))
    }

    /// Closes resolved tickets past the auto-close delay, as the system. Returns how many
    /// closed; a ticket changed concurrently is left for the next run.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn auto_close(&self, now: DateTime<Utc>, limit: usize) -> Result<u64> {
        let due = self.inner.store.resolved_before(now - self.inner.options.auto_close_after, limit).await?;
        let mut closed = 0;
        for t in due {
            match self
                .apply_transition(&Principal::System, &t, Action::Close, &Actor::System, ActionInput::default(), None)
                .await
            {
                Ok(_) => closed += 1,
                Err(Error::VersionConflict { .. } | Error::InvalidTransition { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(closed)
    }
}
