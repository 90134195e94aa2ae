//! Macros: named bundles of changes (a comment from a template, a priority, a department,
//! tags, a lifecycle action) that staff apply to a ticket in one action, shared with all staff
//! (admins keep them) or personal.
//!
//! Applying one is **one unit of work**: every part is checked the way it would be on its own
//! (the policy for each field and for the comment's visibility, the lifecycle for the action,
//! the field rules), and if any part is refused, nothing is written and the refusal names the
//! part. The parts' history events share one commit, one version and the macro's name, and
//! pages show them as one entry. A preview runs the same plan without writing it.
//!
//! Order of the parts: field changes, then the comment, then the action, so a resolve macro
//! writes its reply before the ticket is resolved, and an action that takes a priority or a
//! department as its input (triage) gets the macro's.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::HelpDesk;
use crate::domain::{
    CommentBody, DepartmentKey, MacroId, MacroName, Note, Priority, Tag, Template, TicketNumber, TicketStatus, UserId,
};
use crate::lifecycle::{Action, ActionInput, Input};
use crate::model::{FieldChange, Macro, MacroBook, MacroComment, Ticket, User};
use crate::policy::{Permission, Principal, Resource};
use crate::ports::{DocumentKey, UnitOfWork, Versioned};
use crate::{AuthFailure, Error, FieldError, Result, ValidationErrors};

/// The lifecycle actions a macro may take: the staff's own moves that need no more than a
/// priority, a department and a note (assigning needs a person; filing and withdrawing are
/// the requester's).
pub const MACRO_ACTIONS: &[Action] = &[
    Action::Approve,
    Action::Reject,
    Action::Claim,
    Action::Hold,
    Action::AwaitRequester,
    Action::Resume,
    Action::Resolve,
    Action::Reopen,
    Action::Close,
];

/// The most macros a deployment keeps (shared and personal together).
pub const MAX_MACROS: usize = 1_000;

/// A macro as written in a form or a request, checked by [`HelpDesk::save_macro`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MacroDraft {
    /// The name.
    pub name: String,
    /// Shared with all staff (admins only) rather than personal.
    pub shared: bool,
    /// A comment to write, with placeholders (empty: none).
    pub comment: Option<String>,
    /// The comment is an internal note.
    pub comment_internal: bool,
    /// A priority to set.
    pub priority: Option<Priority>,
    /// A department key to move the ticket to.
    pub department: Option<String>,
    /// Tags to add.
    pub add_tags: Vec<String>,
    /// Tags to take away.
    pub remove_tags: Vec<String>,
    /// A lifecycle action to take last.
    pub action: Option<Action>,
    /// The action's note (reason, resolution note, question), with placeholders.
    pub action_note: Option<String>,
}

/// What applying a macro to a ticket would do (nothing written).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MacroPreview {
    /// The macro.
    pub applied: Macro,
    /// The ticket's number.
    pub number: TicketNumber,
    /// The ticket's version the plan was made on (pass it to apply).
    pub version: u64,
    /// The comment as it would be written, placeholders filled.
    pub comment: Option<String>,
    /// True when the comment is an internal note.
    pub comment_internal: bool,
    /// The action's note as it would be written.
    pub action_note: Option<String>,
    /// Every field that would change (status and assignee included).
    pub changes: Vec<FieldChange>,
    /// The status after.
    pub status: TicketStatus,
}

fn text(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

impl HelpDesk {
    async fn macro_book(&self) -> Result<(MacroBook, u64)> {
        self.load_document(DocumentKey::Macros).await
    }

    async fn change_macro_book<T>(&self, change: impl Fn(&mut MacroBook) -> Result<T>) -> Result<T> {
        self.change_document(DocumentKey::Macros, change).await
    }

    fn sees_macro(principal: &Principal, m: &Macro) -> bool {
        m.owner.is_none() || m.owner == principal.user().map(|u| u.id)
    }

    fn may_change_macro(&self, principal: &Principal, m: &Macro) -> bool {
        match m.owner {
            Some(owner) => principal.user().is_some_and(|u| u.id == owner),
            None => self.allowed(principal, Permission::ManageSharedMacros, &Resource::none()),
        }
    }

    /// The macros the principal may apply: the shared ones and their own, by name.
    ///
    /// # Errors
    /// `Forbidden` for anyone but staff.
    pub async fn macros(&self, principal: &Principal) -> Result<Vec<Macro>> {
        self.require(principal, Permission::UseMacros, &Resource::none())?;
        let (book, _) = self.macro_book().await?;
        let mut out: Vec<Macro> = book.macros.into_iter().filter(|m| Self::sees_macro(principal, m)).collect();
        out.sort_by_key(|m| m.name.as_str().to_lowercase());
        Ok(out)
    }

    /// One macro the principal may apply.
    ///
    /// # Errors
    /// `Forbidden`; `NotFound` (also for another person's personal macro).
    pub async fn macro_by_id(&self, principal: &Principal, id: MacroId) -> Result<Macro> {
        self.require(principal, Permission::UseMacros, &Resource::none())?;
        let (book, _) = self.macro_book().await?;
        book.macros
            .into_iter()
            .find(|m| m.id == id && Self::sees_macro(principal, m))
            .ok_or(Error::NotFound { what: "macro" })
    }

    fn checked_macro(&self, draft: &MacroDraft, by: UserId) -> Result<Macro> {
        let mut errs = ValidationErrors::new();
        let name = errs.check(MacroName::parse_field("name", &draft.name));
        let comment = text(&draft.comment).and_then(|c| {
            errs.check(Template::parse_field("comment", c, CommentBody::MAX_CHARS))
                .map(|body| MacroComment { body, internal: draft.comment_internal })
        });
        let department: Option<DepartmentKey> = text(&draft.department)
            .and_then(|d| errs.check(self.inner.options.catalog.parse_department("department", d)));
        let add_tags = errs.check(Tag::parse_set("add_tags", &draft.add_tags)).unwrap_or_default();
        let remove_tags = errs.check(Tag::parse_set("remove_tags", &draft.remove_tags)).unwrap_or_default();
        if let Some(both) = add_tags.iter().find(|t| remove_tags.contains(t)) {
            errs.push(FieldError::new("remove_tags", "invalid", format!("`{both}` is both added and taken away")));
        }
        let action_note =
            text(&draft.action_note).and_then(|n| errs.check(Template::parse_field("action_note", n, Note::MAX_CHARS)));
        if let Some(action) = draft.action {
            if MACRO_ACTIONS.contains(&action) {
                let needs = |input: &[Input]| {
                    self.inner
                        .lifecycle
                        .rules()
                        .iter()
                        .filter(|r| r.action == action)
                        .any(|r| r.requires.iter().any(|i| input.contains(i)))
                };
                if action_note.is_none() && needs(&[Input::Reason, Input::Note, Input::Comment]) {
                    errs.push(FieldError::new(
                        "action_note",
                        "required",
                        format!("the action {} needs a note", action.as_str()),
                    ));
                }
                if draft.priority.is_none() && needs(&[Input::Priority]) {
                    errs.push(FieldError::new(
                        "priority",
                        "required",
                        format!("the action {} needs a priority", action.as_str()),
                    ));
                }
            } else {
                errs.push(FieldError::new(
                    "action",
                    "invalid",
                    format!(
                        "a macro may take one of: {}",
                        MACRO_ACTIONS.iter().map(|a| a.as_str()).collect::<Vec<_>>().join(", ")
                    ),
                ));
            }
        } else if action_note.is_some() {
            errs.push(FieldError::new("action_note", "invalid", "a note goes with an action"));
        }
        if text(&draft.comment).is_none()
            && draft.priority.is_none()
            && text(&draft.department).is_none()
            && draft.add_tags.is_empty()
            && draft.remove_tags.is_empty()
            && draft.action.is_none()
        {
            errs.push(FieldError::new(
                "comment",
                "required",
                "a macro does at least one thing: a comment, a priority, a department, tags or an action",
            ));
        }
        errs.into_result()?;
        let name = name.ok_or_else(|| Error::Internal("a checked macro has no name".into()))?;
        Ok(Macro {
            id: MacroId::random(),
            name,
            owner: (!draft.shared).then_some(by),
            comment,
            priority: draft.priority,
            department,
            add_tags,
            remove_tags,
            action: draft.action,
            action_note,
            updated_at: self.now(),
            updated_by: by,
        })
    }

    /// Saves a macro: a new one (`id: None`) or a change to one the principal may change (their
    /// own; a shared one with [`Permission::ManageSharedMacros`]). A shared macro's name is
    /// unique among the shared ones, a personal one's among the shared ones and its owner's.
    ///
    /// # Errors
    /// `Forbidden`; `NotFound`; `Validation` naming the field (`name` taken, an unknown
    /// placeholder in `comment`, an action a macro cannot take, an action that needs a note
    /// or a priority the macro does not give, …).
    pub async fn save_macro(&self, principal: &Principal, id: Option<MacroId>, draft: MacroDraft) -> Result<Macro> {
        self.require(principal, Permission::UseMacros, &Resource::none())?;
        let user = principal.user().ok_or(Error::Unauthenticated(AuthFailure::Missing))?.id;
        if draft.shared {
            self.require(principal, Permission::ManageSharedMacros, &Resource::none())?;
        }
        let checked = self.checked_macro(&draft, user)?;
        let saved = self
            .change_macro_book(|book| {
                let mut m = checked.clone();
                if let Some(id) = id {
                    let old = book
                        .macros
                        .iter()
                        .find(|o| o.id == id && Self::sees_macro(principal, o))
                        .ok_or(Error::NotFound { what: "macro" })?;
                    if !self.may_change_macro(principal, old) {
                        return Err(Error::Forbidden("change this macro"));
                    }
                    m.id = id;
                }
                let key = m.name.as_str().to_lowercase();
                let clash = book.macros.iter().any(|o| {
                    o.id != m.id
                        && o.name.as_str().to_lowercase() == key
                        && (o.owner.is_none() || (m.owner.is_some() && o.owner == m.owner))
                });
                if clash {
                    return Err(FieldError::new("name", "taken", "another macro has this name").into());
                }
                let full = book.macros.len() >= MAX_MACROS;
                match book.macros.iter_mut().find(|o| o.id == m.id) {
                    Some(slot) => *slot = m.clone(),
                    None if full => return Err(Error::Conflict("this help desk keeps at most 1,000 macros")),
                    None => book.macros.push(m.clone()),
                }
                Ok(m)
            })
            .await?;
        tracing::info!(id = %saved.id, shared = saved.is_shared(), "macro saved");
        Ok(saved)
    }

    /// Deletes a macro the principal may change. Tickets keep the history it wrote (events
    /// name the macro as it was).
    ///
    /// # Errors
    /// `Forbidden`; `NotFound`.
    pub async fn delete_macro(&self, principal: &Principal, id: MacroId) -> Result<()> {
        self.require(principal, Permission::UseMacros, &Resource::none())?;
        self.change_macro_book(|book| {
            let at = book
                .macros
                .iter()
                .position(|o| o.id == id && Self::sees_macro(principal, o))
                .ok_or(Error::NotFound { what: "macro" })?;
            if !self.may_change_macro(principal, &book.macros[at]) {
                return Err(Error::Forbidden("change this macro"));
            }
            book.macros.remove(at);
            Ok(())
        })
        .await
    }

    /// What applying macro `id` to the ticket would do, checked like the real thing (a part
    /// the policy or the lifecycle would refuse is refused here too); nothing is written.
    ///
    /// # Errors
    /// As [`apply_macro`](Self::apply_macro).
    pub async fn preview_macro(
        &self,
        principal: &Principal,
        number: &TicketNumber,
        id: MacroId,
    ) -> Result<MacroPreview> {
        let m = self.macro_by_id(principal, id).await?;
        let t = self.visible_ticket(principal, number).await?;
        Ok(self.plan_macro(principal, &t, &m, self.now()).await?.2)
    }

    /// Applies macro `id` to the ticket as one unit of work: all of it or nothing. With an
    /// idempotency key, a retry answers the ticket as the first request left it without
    /// applying anything again.
    ///
    /// # Errors
    /// `NotFound` (ticket or macro); `Forbidden` naming the part the policy refuses;
    /// `InvalidTransition` / `ActionNotAllowed` when the lifecycle refuses the action;
    /// `Validation` (a comment too long once filled in); `VersionConflict`;
    /// `Idempotency*`.
    pub async fn apply_macro(
        &self,
        principal: &Principal,
        number: &TicketNumber,
        id: MacroId,
        expected: Option<u64>,
        idempotency_key: Option<&str>,
    ) -> Result<Ticket> {
        let m = self.macro_by_id(principal, id).await?;
        let request_hash = super::sha256_hex(format!("macro|{number}|{id}|{expected:?}").as_bytes());
        if let Some(key) = idempotency_key
            && let Some(response) = self.begin_idempotency(principal, key, &request_hash).await?
        {
            return self.replayed_ticket(principal, &response).await;
        }
        let result = async {
            let t = self.visible_ticket(principal, number).await?;
            if let Some(e) = expected
                && e != t.version
            {
                return Err(Error::VersionConflict { expected: e, found: t.version });
            }
            let (mut uow, next, _) = self.plan_macro(principal, &t, &m, self.now()).await?;
            if uow.events.is_empty() {
                return Ok(t);
            }
            uow.idempotency = idempotency_key.map(|key| self.idempotency_record(principal, key, &request_hash, t.id));
            uow.tickets.push(Versioned::update(next, t.version));
            self.commit_ticket(uow).await
        }
        .await;
        if result.is_err() {
            self.release(principal, idempotency_key).await;
        }
        if result.is_ok() {
            tracing::info!(macro_id = %m.id, ticket = %number, "macro applied");
        }
        result
    }

    async fn placeholder_people(&self, principal: &Principal, t: &Ticket) -> Result<(Option<User>, Option<User>)> {
        let requester = self.inner.store.user(t.requester).await?;
        let agent = match principal.user() {
            Some(u) => self.inner.store.user(u.id).await?,
            None => None,
        };
        Ok((requester, agent))
    }

    /// The unit of work of `m` on `t`, the ticket after it and the preview.
    async fn plan_macro(
        &self,
        principal: &Principal,
        t: &Ticket,
        m: &Macro,
        now: DateTime<Utc>,
    ) -> Result<(UnitOfWork, Ticket, MacroPreview)> {
        self.require(principal, Permission::UseMacros, &Resource::none())?;
        let actor = principal.actor().ok_or(Error::Unauthenticated(AuthFailure::Missing))?;
        let (requester, agent) = self.placeholder_people(principal, t).await?;
        let fill = |tpl: &Template| {
            tpl.render(|p| {
                use crate::domain::Placeholder as P;
                let first = |u: &Option<User>| u.as_ref().map(|u| u.first_name.as_str().to_owned()).unwrap_or_default();
                let full = |u: &Option<User>| u.as_ref().map(User::display_name).unwrap_or_default();
                match p {
                    P::RequesterFirstName => first(&requester),
                    P::RequesterName => full(&requester),
                    P::TicketNumber => t.number.to_string(),
                    P::TicketSubject => t.subject.to_string(),
                    P::AgentFirstName => first(&agent),
                    P::AgentName => full(&agent),
                }
            })
        };
        // An action that takes a priority or a department as its input (triage) gets the
        // macro's; the others get them as field changes.
        let action_inputs: &[Input] = m
            .action
            .and_then(|a| self.inner.lifecycle.rule_for(a, Some(t.status)))
            .map_or(&[], |r| r.requires.as_slice());
        let priority_to_action = action_inputs.contains(&Input::Priority);
        let department_to_action = action_inputs.contains(&Input::Department) || m.action == Some(Action::Approve);
        let edit = crate::TicketEdit {
            priority: m.priority.filter(|_| !priority_to_action),
            department: m.department.as_ref().filter(|_| !department_to_action).map(|d| d.to_string()),
            add_tags: m.add_tags.iter().map(|t| t.as_str().to_owned()).collect(),
            remove_tags: m.remove_tags.iter().map(|t| t.as_str().to_owned()).collect(),
            ..crate::TicketEdit::default()
        };
        let mut uow = UnitOfWork::new();
        let (mut next, changes) = self.planned_edit(principal, t, &edit, now, &crate::model::FieldBook::default())?;
        let edited = !changes.is_empty();
        let mut preview_changes = changes.clone();
        if edited {
            uow.events = self.edit_events(&next, &actor.to_ref(), changes, now);
        }
        let mut comment_text = None;
        if let Some(c) = &m.comment {
            let body = CommentBody::parse_field("comment", &fill(&c.body))?;
            comment_text = Some(body.to_string());
            self.stage_comment(principal, &actor, t, &mut next, body, c.internal, now, &mut uow).await?;
        }
        let mut note_text = None;
        if let Some(action) = m.action {
            self.require(principal, Permission::TransitionTicket, &Resource::ticket(t))?;
            let text_field = self
                .inner
                .lifecycle
                .rule_for(action, Some(next.status))
                .and_then(|r| r.requires.iter().find(|i| matches!(i, Input::Reason | Input::Note | Input::Comment)))
                .map_or("action_note", |i| i.field());
            let text = m.action_note.as_ref().map(|n| Note::parse_field(text_field, &fill(n))).transpose()?;
            note_text = text.as_ref().map(|n| n.to_string());
            let input = ActionInput {
                priority: m.priority.filter(|_| priority_to_action),
                department: m
                    .department
                    .clone()
                    .filter(|_| department_to_action)
                    .or_else(|| if action == Action::Approve { next.department.clone() } else { None }),
                assignee: None,
                text,
                force: false,
            };
            let before = uow.events.len();
            next = self.stage_transition(principal, &next, action, &actor, &input, now, &mut uow).await?;
            for e in &uow.events[before..] {
                preview_changes.extend(e.changes.iter().cloned());
            }
        }
        // One commit, one version: an internal note alone leaves the version (as it does on its
        // own); anything else moves it by one.
        let public = edited || m.action.is_some() || m.comment.as_ref().is_some_and(|c| !c.internal);
        next.version = if public { t.version + 1 } else { t.version };
        if public {
            next.updated_at = now;
        }
        for e in &mut uow.events {
            e.version = next.version;
            e.by_macro = Some(m.name.to_string());
        }
        let preview = MacroPreview {
            applied: m.clone(),
            number: t.number.clone(),
            version: t.version,
            comment: comment_text,
            comment_internal: m.comment.as_ref().is_some_and(|c| c.internal),
            action_note: note_text,
            changes: preview_changes.into_iter().filter(|c| c.field != "first_response_at").collect(),
            status: next.status,
        };
        Ok((uow, next, preview))
    }
}
