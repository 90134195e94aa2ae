//! The ticket lifecycle of SPEC §4 as data, validated when built, and a pure transition
//! function that returns the next ticket state and the effects to emit.
//!
//! The table is a [`Lifecycle`]: rows of ([`Action`], moves, who, required input, effects).
//! [`Lifecycle::default`] is SPEC §4's table; an embedding application may build its own with
//! [`Lifecycle::new`], which runs the same validator (every status reachable from `new`,
//! terminal statuses without exit, every action with its actors and its required input).
//! [`Lifecycle::apply`] is pure: no clock, no storage, no I/O.

use std::collections::{BTreeSet, HashSet, VecDeque};
use std::fmt;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{ApiKeyId, DepartmentKey, EventId, Note, Priority, Role, TicketStatus, UserId};
use crate::model::{ActorRef, EventKind, FieldChange, HistoryEvent, Ticket, WorkflowEventKind};
use crate::{Error, FieldError};

/// A lifecycle action: one API route each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// File a ticket.
    Submit,
    /// Triage: accept.
    Approve,
    /// Triage: refuse.
    Reject,
    /// Take an open ticket.
    Claim,
    /// Give a ticket to a staff member.
    Assign,
    /// Pause.
    Hold,
    /// Ask the requester something.
    AwaitRequester,
    /// Continue after hold or waiting.
    Resume,
    /// Mark solved.
    Resolve,
    /// Reopen a resolved ticket.
    Reopen,
    /// Close a resolved ticket.
    Close,
    /// The requester withdraws.
    Withdraw,
}

impl Action {
    /// Every action.
    pub const ALL: &'static [Action] = &[
        Action::Submit,
        Action::Approve,
        Action::Reject,
        Action::Claim,
        Action::Assign,
        Action::Hold,
        Action::AwaitRequester,
        Action::Resume,
        Action::Resolve,
        Action::Reopen,
        Action::Close,
        Action::Withdraw,
    ];

    /// The wire name (also the route segment).
    pub const fn as_str(self) -> &'static str {
        match self {
            Action::Submit => "submit",
            Action::Approve => "approve",
            Action::Reject => "reject",
            Action::Claim => "claim",
            Action::Assign => "assign",
            Action::Hold => "hold",
            Action::AwaitRequester => "await_requester",
            Action::Resume => "resume",
            Action::Resolve => "resolve",
            Action::Reopen => "reopen",
            Action::Close => "close",
            Action::Withdraw => "withdraw",
        }
    }

    /// Input every table must require for this action.
    pub fn intrinsic_input(self) -> &'static [Input] {
        match self {
            Action::Approve => &[Input::Priority, Input::Department],
            Action::Reject => &[Input::Reason],
            Action::Assign => &[Input::Assignee],
            Action::Hold => &[Input::Note],
            Action::AwaitRequester => &[Input::Comment],
            Action::Resolve => &[Input::Note],
            Action::Reopen => &[Input::Reason],
            _ => &[],
        }
    }

    /// Actions the external system may never take, whatever the table says.
    pub const fn forbidden_to_external(self) -> bool {
        matches!(self, Action::Submit | Action::Approve | Action::Reject | Action::Reopen | Action::Withdraw)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who may take a row's action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Who {
    /// Any user with this role.
    Role(Role),
    /// The ticket's requester.
    Requester,
    /// The ticket's requester, within this many days of the ticket being resolved.
    RequesterWithinDays(u32),
    /// The ticket's assignee.
    Assignee,
    /// An external system with the push-workflow scope.
    ExternalSystem,
    /// The help desk's own timers.
    System,
}

impl fmt::Display for Who {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Who::Role(r) => write!(f, "{r}"),
            Who::Requester => f.write_str("requester"),
            Who::RequesterWithinDays(d) => write!(f, "requester (within {d} days)"),
            Who::Assignee => f.write_str("assignee"),
            Who::ExternalSystem => f.write_str("external system"),
            Who::System => f.write_str("system"),
        }
    }
}

/// Input an action requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Input {
    /// A priority.
    Priority,
    /// A department.
    Department,
    /// A staff user to assign.
    Assignee,
    /// A reason (text).
    Reason,
    /// A note (text).
    Note,
    /// A public comment (text).
    Comment,
}

impl Input {
    /// The request field that carries it.
    pub const fn field(self) -> &'static str {
        match self {
            Input::Priority => "priority",
            Input::Department => "department",
            Input::Assignee => "assignee",
            Input::Reason => "reason",
            Input::Note => "note",
            Input::Comment => "comment",
        }
    }
}

/// Which mail an action sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MailTemplate {
    /// Ticket received.
    Received,
    /// Ticket approved.
    Approved,
    /// Ticket rejected.
    Rejected,
    /// Ticket assigned.
    Assigned,
    /// Waiting on the requester.
    WaitingOnRequester,
    /// Ticket resolved.
    Resolved,
    /// Ticket reopened.
    Reopened,
}

/// Who a mail goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Party {
    /// The requester.
    Requester,
    /// The assignee (after the change).
    Assignee,
}

/// What a row does besides moving the status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "effect")]
pub enum RowEffect {
    /// Record the first staff response (once) and the response time.
    RecordFirstResponse,
    /// Tell the workflow system the ticket is open; it then hears every later status change.
    WorkflowOpened,
    /// Send a mail.
    Mail {
        /// To whom.
        to: Party,
        /// Which.
        template: MailTemplate,
    },
    /// The acting user becomes the assignee (the external system keeps the assignee).
    AssignActor,
    /// The `assignee` input becomes the assignee.
    AssignInput,
    /// Set priority and department from the input.
    SetTriageFields,
    /// Record the resolution time and the rejection reason slot stays untouched.
    RecordResolution,
    /// Forget the previous resolution (reopen).
    ClearResolution,
    /// Record the closing time.
    RecordClosed,
    /// Store the reason as the ticket's rejection reason (visible to the requester).
    RecordRejectionReason,
}

impl fmt::Display for RowEffect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RowEffect::RecordFirstResponse => f.write_str("first response recorded"),
            RowEffect::WorkflowOpened => f.write_str("workflow push"),
            RowEffect::Mail { to, template } => {
                let to = match to {
                    Party::Requester => "requester",
                    Party::Assignee => "assignee",
                };
                let what = match template {
                    MailTemplate::Received => "received",
                    MailTemplate::Approved => "approved",
                    MailTemplate::Rejected => "rejected",
                    MailTemplate::Assigned => "assigned",
                    MailTemplate::WaitingOnRequester => "waiting on requester",
                    MailTemplate::Resolved => "resolved",
                    MailTemplate::Reopened => "reopened",
                };
                write!(f, "mail {to} \"{what}\"")
            }
            RowEffect::AssignActor => f.write_str("assignee = actor"),
            RowEffect::AssignInput => f.write_str("assignee = input"),
            RowEffect::SetTriageFields => f.write_str("priority and department set"),
            RowEffect::RecordResolution => f.write_str("resolution time"),
            RowEffect::ClearResolution => f.write_str("resolution cleared"),
            RowEffect::RecordClosed => f.write_str("closed time"),
            RowEffect::RecordRejectionReason => f.write_str("reason visible to the requester"),
        }
    }
}

/// One status move of a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Move {
    /// `None` only for submit.
    pub from: Option<TicketStatus>,
    /// The status after the move.
    pub to: TicketStatus,
}

/// One row of the table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    /// The action.
    pub action: Action,
    /// Its moves (one per from-status).
    pub moves: Vec<Move>,
    /// Who may take it.
    pub who: Vec<Who>,
    /// Required input.
    pub requires: Vec<Input>,
    /// Effects.
    pub effects: Vec<RowEffect>,
}

/// Why a table was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid lifecycle table: {0}")]
pub struct LifecycleError(pub String);

/// A validated lifecycle table.
#[derive(Debug, Clone)]
pub struct Lifecycle {
    rules: Vec<Rule>,
    /// The row of each (action, from) pair, at [`Lifecycle::slot`]: every ticket a page lists
    /// asks it for each action (a hashed map's lookups were a tenth of a page's conversion).
    by_action_from: Vec<Option<usize>>,
}

/// Who is acting, as the lifecycle needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A signed-in, approved user with their current role.
    User {
        /// Id.
        id: UserId,
        /// Role (read from storage on every request).
        role: Role,
    },
    /// An external system.
    ExternalSystem {
        /// Its key.
        key: ApiKeyId,
        /// Its name.
        name: String,
    },
    /// The help desk's timers.
    System,
}

impl Actor {
    /// The reference recorded in history.
    pub fn to_ref(&self) -> ActorRef {
        match self {
            Actor::User { id, .. } => ActorRef::User { id: *id },
            Actor::ExternalSystem { key, name } => ActorRef::ExternalSystem { key: *key, name: name.clone() },
            Actor::System => ActorRef::System,
        }
    }
    /// True for coordinators and admins.
    pub fn is_staff(&self) -> bool {
        matches!(self, Actor::User { role, .. } if role.is_staff())
    }
}

/// The input given with an action.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActionInput {
    /// Priority (approve).
    pub priority: Option<Priority>,
    /// Department (approve).
    pub department: Option<DepartmentKey>,
    /// Assignee (assign); the service checks that it is a staff user.
    pub assignee: Option<UserId>,
    /// The text: reason, note or comment, whichever the row requires.
    pub text: Option<Note>,
    /// Staff resolve a parent ticket whose children are still open (the service checks it;
    /// the table does not look at links).
    pub force: bool,
}

/// Something a transition asks the service to do after computing the new state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Enqueue a mail.
    Mail {
        /// To whom.
        to: Party,
        /// Which.
        template: MailTemplate,
    },
    /// Enqueue a workflow push.
    Workflow(WorkflowEventKind),
}

/// The result of a transition: the ticket after it, the history event and the effects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// The ticket after the change (version + 1).
    pub ticket: Ticket,
    /// The history event recording it.
    pub event: HistoryEvent,
    /// Mails and workflow pushes to enqueue in the same commit.
    pub effects: Vec<Effect>,
}

fn rule(
    action: Action,
    moves: &[(Option<TicketStatus>, TicketStatus)],
    who: &[Who],
    requires: &[Input],
    effects: &[RowEffect],
) -> Rule {
    Rule {
        action,
        moves: moves.iter().map(|&(from, to)| Move { from, to }).collect(),
        who: who.to_vec(),
        requires: requires.to_vec(),
        effects: effects.to_vec(),
    }
}

/// SPEC §4's table; `reopen_days` is the requester's reopen window.
pub fn default_rules(reopen_days: u32) -> Vec<Rule> {
    use Action as A;
    use Input as I;
    use RowEffect as E;
    use TicketStatus::*;
    const C: Who = Who::Role(Role::Coordinator);
    const AD: Who = Who::Role(Role::Admin);
    const EMP: Who = Who::Role(Role::Employee);
    let mail = |to, template| E::Mail { to, template };
    vec![
        rule(A::Submit, &[(None, New)], &[EMP, C, AD], &[], &[mail(Party::Requester, MailTemplate::Received)]),
        rule(
            A::Approve,
            &[(Some(New), Open)],
            &[C, AD],
            &[I::Priority, I::Department],
            &[
                E::SetTriageFields,
                E::RecordFirstResponse,
                E::WorkflowOpened,
                mail(Party::Requester, MailTemplate::Approved),
            ],
        ),
        rule(
            A::Reject,
            &[(Some(New), Rejected)],
            &[C, AD],
            &[I::Reason],
            &[E::RecordFirstResponse, E::RecordRejectionReason, mail(Party::Requester, MailTemplate::Rejected)],
        ),
        rule(A::Claim, &[(Some(Open), InProgress)], &[C, AD, Who::ExternalSystem], &[], &[E::AssignActor]),
        rule(
            A::Assign,
            &[
                (Some(Open), InProgress),
                (Some(InProgress), InProgress),
                (Some(OnHold), OnHold),
                (Some(Pending), Pending),
            ],
            &[C, AD],
            &[I::Assignee],
            &[E::AssignInput, mail(Party::Assignee, MailTemplate::Assigned)],
        ),
        rule(A::Hold, &[(Some(InProgress), OnHold)], &[Who::Assignee, C, AD, Who::ExternalSystem], &[I::Note], &[]),
        rule(
            A::AwaitRequester,
            &[(Some(InProgress), Pending)],
            &[Who::Assignee, C, AD, Who::ExternalSystem],
            &[I::Comment],
            &[mail(Party::Requester, MailTemplate::WaitingOnRequester)],
        ),
        rule(
            A::Resume,
            &[(Some(OnHold), InProgress), (Some(Pending), InProgress)],
            &[Who::Assignee, C, AD, Who::ExternalSystem, Who::System],
            &[],
            &[],
        ),
        rule(
            A::Resolve,
            &[(Some(InProgress), Resolved), (Some(OnHold), Resolved), (Some(Pending), Resolved)],
            &[Who::Assignee, C, AD, Who::ExternalSystem],
            &[I::Note],
            &[E::RecordResolution, mail(Party::Requester, MailTemplate::Resolved)],
        ),
        rule(
            A::Reopen,
            &[(Some(Resolved), InProgress)],
            &[Who::RequesterWithinDays(reopen_days), C, AD],
            &[I::Reason],
            &[E::ClearResolution, mail(Party::Assignee, MailTemplate::Reopened)],
        ),
        rule(
            A::Close,
            &[(Some(Resolved), Closed)],
            &[Who::Requester, C, AD, Who::System, Who::ExternalSystem],
            &[],
            &[E::RecordClosed],
        ),
        rule(
            A::Withdraw,
            &[
                (Some(New), Withdrawn),
                (Some(Open), Withdrawn),
                (Some(InProgress), Withdrawn),
                (Some(OnHold), Withdrawn),
                (Some(Pending), Withdrawn),
            ],
            &[Who::Requester],
            &[],
            &[],
        ),
    ]
}

impl Default for Lifecycle {
    fn default() -> Self {
        match Lifecycle::new(default_rules(7)) {
            Ok(l) => l,
            Err(e) => unreachable!("the default table is valid: {e}"),
        }
    }
}

impl Lifecycle {
    /// Validates and builds a table.
    ///
    /// # Errors
    /// [`LifecycleError`] when: there is not exactly one `submit` row moving from nothing to
    /// `new`; a row has no actors or no moves; a row omits its action's intrinsic input; a move
    /// leaves a terminal status; two rows share an action and a from-status; a status used by
    /// the table is unreachable from `new`; the external system is given an action it may never
    /// take, or two rows let it make the same move; a requester window is used on a row that
    /// does not start at `resolved`.
    pub fn new(rules: Vec<Rule>) -> Result<Self, LifecycleError> {
        let err = |s: String| Err(LifecycleError(s));
        let submits: Vec<&Rule> = rules.iter().filter(|r| r.action == Action::Submit).collect();
        if submits.len() != 1 || submits[0].moves != [Move { from: None, to: TicketStatus::New }] {
            return err("exactly one submit row, moving from nothing to new, is required".into());
        }
        let mut by_action_from = vec![None; Action::ALL.len() * (TicketStatus::ALL.len() + 1)];
        let mut external_moves = HashSet::new();
        for (i, r) in rules.iter().enumerate() {
            if r.who.is_empty() {
                return err(format!("{} has nobody who may take it", r.action));
            }
            if r.moves.is_empty() {
                return err(format!("{} has no moves", r.action));
            }
            for need in r.action.intrinsic_input() {
                if !r.requires.contains(need) {
                    return err(format!("{} must require {}", r.action, need.field()));
                }
            }
            let external = r.who.contains(&Who::ExternalSystem);
            if external && r.action.forbidden_to_external() {
                return err(format!("the external system may never {}", r.action));
            }
            for m in &r.moves {
                if m.from.is_none() && r.action != Action::Submit {
                    return err(format!("{} starts from nothing; only submit may", r.action));
                }
                if let Some(from) = m.from
                    && from.is_terminal()
                {
                    return err(format!("{} leaves terminal status {from}", r.action));
                }
                if by_action_from[Self::slot(r.action, m.from)].replace(i).is_some() {
                    return err(format!("{} appears twice from the same status", r.action));
                }
                if external && !external_moves.insert((m.from, m.to)) && m.from != Some(m.to) {
                    return err(format!("two rows let the external system move to {}", m.to));
                }
            }
            for w in &r.who {
                if matches!(w, Who::RequesterWithinDays(_))
                    && r.moves.iter().any(|m| m.from != Some(TicketStatus::Resolved))
                {
                    return err(format!("{}: a requester window only applies to moves from resolved", r.action));
                }
            }
        }
        // Reachability from `new` over every move.
        let used: BTreeSet<TicketStatus> =
            rules.iter().flat_map(|r| r.moves.iter().flat_map(|m| m.from.into_iter().chain([m.to]))).collect();
        let mut seen = HashSet::from([TicketStatus::New]);
        let mut queue = VecDeque::from([TicketStatus::New]);
        while let Some(s) = queue.pop_front() {
            for m in rules.iter().flat_map(|r| &r.moves).filter(|m| m.from == Some(s)) {
                if seen.insert(m.to) {
                    queue.push_back(m.to);
                }
            }
        }
        if let Some(s) = used.iter().find(|s| !seen.contains(s)) {
            return err(format!("status {s} is not reachable from new"));
        }
        Ok(Self { rules, by_action_from })
    }

    /// The rows.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The row for `action` from `from`, if the table has one.
    pub fn rule_for(&self, action: Action, from: Option<TicketStatus>) -> Option<&Rule> {
        self.by_action_from.get(Self::slot(action, from)).copied().flatten().map(|i| &self.rules[i])
    }

    /// Where the row of (`action`, `from`) is kept in `by_action_from`.
    fn slot(action: Action, from: Option<TicketStatus>) -> usize {
        action as usize * (TicketStatus::ALL.len() + 1) + from.map_or(0, |s| s as usize + 1)
    }

    /// The actions `actor` may take on `ticket` now (for clients to show buttons).
    pub fn available_actions(&self, ticket: &Ticket, actor: &Actor, now: DateTime<Utc>) -> Vec<Action> {
        Action::ALL
            .iter()
            .copied()
            .filter(|a| *a != Action::Submit)
            .filter(|a| self.rule_for(*a, Some(ticket.status)).is_some_and(|r| self.permits(r, ticket, actor, now)))
            .collect()
    }

    /// The row the external system applies to reach `target` from the ticket's status.
    pub fn external_rule_to(&self, from: TicketStatus, target: TicketStatus) -> Option<&Rule> {
        self.rules.iter().find(|r| {
            r.who.contains(&Who::ExternalSystem)
                && r.moves.iter().any(|m| m.from == Some(from) && m.to == target && m.from != Some(m.to))
        })
    }

    fn permits(&self, rule: &Rule, ticket: &Ticket, actor: &Actor, now: DateTime<Utc>) -> bool {
        rule.who.iter().any(|w| match (w, actor) {
            (Who::Role(r), Actor::User { role, .. }) => r == role,
            (Who::Requester, Actor::User { id, .. }) => *id == ticket.requester,
            (Who::RequesterWithinDays(days), Actor::User { id, .. }) => {
                *id == ticket.requester
                    && ticket.resolved_at.is_some_and(|at| now - at <= Duration::days(i64::from(*days)))
            }
            (Who::Assignee, Actor::User { id, .. }) => ticket.assignee == Some(*id),
            (Who::ExternalSystem, Actor::ExternalSystem { .. }) => true,
            (Who::System, Actor::System) => true,
            _ => false,
        })
    }

    /// Why `actor` may not take `action` when it is not a matter of the ticket's state: no row
    /// for the action names anyone the actor could be on this ticket (their role, being its
    /// requester, being staff who could be assigned). `None` when some row could apply in
    /// another status or at another time (then the refusal is a state conflict), or when no
    /// row has the action at all.
    fn refusal(&self, action: Action, ticket: &Ticket, actor: &Actor) -> Option<Error> {
        let rows: Vec<&Rule> = self.rules.iter().filter(|r| r.action == action).collect();
        let could_ever = rows.iter().flat_map(|r| &r.who).any(|w| match (w, actor) {
            (Who::Role(r), Actor::User { role, .. }) => r == role,
            (Who::Requester | Who::RequesterWithinDays(_), Actor::User { id, .. }) => *id == ticket.requester,
            (Who::Assignee, Actor::User { role, .. }) => role.is_staff(),
            (Who::ExternalSystem, Actor::ExternalSystem { .. }) | (Who::System, Actor::System) => true,
            _ => false,
        });
        if rows.is_empty() || could_ever {
            return None;
        }
        let mut who: Vec<String> = Vec::new();
        for w in rows.iter().flat_map(|r| &r.who) {
            let name = match w {
                Who::RequesterWithinDays(_) => Who::Requester.to_string(),
                other => other.to_string(),
            };
            if !who.contains(&name) {
                who.push(name);
            }
        }
        Some(Error::ActionNotAllowed { action: action.as_str().to_owned(), who: who.join(", ") })
    }

    /// Checks the submit row's actors for a new ticket and returns its effects. The ticket
    /// itself is built by the service (it needs a number from the store).
    ///
    /// # Errors
    /// [`Error::Forbidden`] when the actor may not submit.
    pub fn submit_effects(&self, actor: &Actor) -> Result<Vec<Effect>, Error> {
        let rule = self.rule_for(Action::Submit, None).ok_or(Error::Forbidden("submit"))?;
        let allowed = rule.who.iter().any(|w| match (w, actor) {
            (Who::Role(r), Actor::User { role, .. }) => r == role,
            (Who::Requester | Who::RequesterWithinDays(_), Actor::User { .. }) => true,
            (Who::ExternalSystem, Actor::ExternalSystem { .. }) | (Who::System, Actor::System) => true,
            _ => false,
        });
        if !allowed {
            return Err(Error::Forbidden("this principal may not file tickets"));
        }
        Ok(rule
            .effects
            .iter()
            .filter_map(|e| match e {
                RowEffect::Mail { to, template } => Some(Effect::Mail { to: *to, template: *template }),
                _ => None,
            })
            .collect())
    }

    /// Applies `action` by `actor` to `ticket` at `now`: pure.
    ///
    /// # Errors
    /// - [`Error::ActionNotAllowed`] when the actor can never take the action on this ticket
    ///   (no row for it names their role or their relation to the ticket);
    /// - [`Error::InvalidTransition`] when the table has no row for the action from the
    ///   ticket's status, or the actor is not among the row's actors now;
    /// - [`Error::Validation`] naming each required input that is missing.
    pub fn apply(
        &self,
        ticket: &Ticket,
        action: Action,
        actor: &Actor,
        input: &ActionInput,
        now: DateTime<Utc>,
    ) -> Result<Transition, Error> {
        let invalid =
            || Error::InvalidTransition { action: action.as_str().to_owned(), from: ticket.status.as_str().to_owned() };
        if action == Action::Submit {
            return Err(invalid());
        }
        let rule = match self.rule_for(action, Some(ticket.status)) {
            Some(rule) if self.permits(rule, ticket, actor, now) => rule,
            _ => return Err(self.refusal(action, ticket, actor).unwrap_or_else(invalid)),
        };
        let mut missing = crate::ValidationErrors::new();
        for need in &rule.requires {
            let present = match need {
                Input::Priority => input.priority.is_some(),
                Input::Department => input.department.is_some(),
                Input::Assignee => input.assignee.is_some(),
                Input::Reason | Input::Note | Input::Comment => input.text.is_some(),
            };
            if !present {
                missing.push(FieldError::new(need.field(), "required", format!("{} needs a {}", action, need.field())));
            }
        }
        missing.into_result()?;
        let to = rule.moves.iter().find(|m| m.from == Some(ticket.status)).map(|m| m.to).ok_or_else(invalid)?;

        let mut next = ticket.clone();
        let mut changes = Vec::new();
        let mut effects = Vec::new();
        if to != ticket.status {
            changes.push(FieldChange::new("status", Some(ticket.status.to_string()), Some(to.to_string())));
            next.status = to;
        }
        let secs_since_created = |at: DateTime<Utc>| (at - ticket.created_at).num_seconds();
        for e in &rule.effects {
            match *e {
                RowEffect::SetTriageFields => {
                    if input.priority != ticket.priority {
                        changes.push(FieldChange::new(
                            "priority",
                            ticket.priority.map(|p| p.to_string()),
                            input.priority.map(|p| p.to_string()),
                        ));
                        next.priority = input.priority;
                    }
                    if input.department.is_some() && input.department != ticket.department {
                        changes.push(FieldChange::new(
                            "department",
                            ticket.department.as_ref().map(|d| d.to_string()),
                            input.department.as_ref().map(|d| d.to_string()),
                        ));
                        next.department = input.department.clone();
                    }
                }
                RowEffect::RecordFirstResponse => {
                    if next.first_response_at.is_none() {
                        next.first_response_at = Some(now);
                        next.response_secs = Some(secs_since_created(now));
                    }
                }
                RowEffect::WorkflowOpened => {
                    next.workflow_linked = true;
                    effects.push(Effect::Workflow(WorkflowEventKind::Opened));
                }
                RowEffect::Mail { to, template } => effects.push(Effect::Mail { to, template }),
                RowEffect::AssignActor => {
                    if let Actor::User { id, .. } = actor
                        && ticket.assignee != Some(*id)
                    {
                        changes.push(FieldChange::new(
                            "assignee",
                            ticket.assignee.map(|a| a.to_string()),
                            Some(id.to_string()),
                        ));
                        next.assignee = Some(*id);
                    }
                }
                RowEffect::AssignInput => {
                    if input.assignee != ticket.assignee {
                        changes.push(FieldChange::new(
                            "assignee",
                            ticket.assignee.map(|a| a.to_string()),
                            input.assignee.map(|a| a.to_string()),
                        ));
                        next.assignee = input.assignee;
                    }
                }
                RowEffect::RecordResolution => {
                    next.resolved_at = Some(now);
                    next.resolution_secs = Some(secs_since_created(now));
                }
                RowEffect::ClearResolution => {
                    next.resolved_at = None;
                    next.resolution_secs = None;
                }
                RowEffect::RecordClosed => next.closed_at = Some(now),
                RowEffect::RecordRejectionReason => {
                    next.rejection_reason = input.text.as_ref().map(|t| t.as_str().to_owned())
                }
            }
        }
        // A ticket the workflow system was told about hears every later status change.
        if ticket.workflow_linked && to != ticket.status {
            effects.push(Effect::Workflow(WorkflowEventKind::StatusChanged));
        }
        next.updated_at = now;
        next.version = ticket.version + 1;
        let event = HistoryEvent {
            id: EventId::random(),
            ticket: ticket.id,
            at: now,
            actor: actor.to_ref(),
            kind: EventKind::Action { action },
            changes,
            note: input.text.as_ref().map(|t| t.as_str().to_owned()),
            internal: false,
            version: next.version,
            by_macro: None,
        };
        Ok(Transition { ticket: next, event, effects })
    }

    /// The table as Markdown, in SPEC §4's layout (printed in the crate docs).
    pub fn to_markdown(&self) -> String {
        let mut out = String::from("| action | from | to | who | input | effects |\n|---|---|---|---|---|---|\n");
        for r in &self.rules {
            let from: Vec<String> = r.moves.iter().map(|m| m.from.map_or("—".to_owned(), |s| s.to_string())).collect();
            let changing: Vec<&Move> = r.moves.iter().filter(|m| m.from != Some(m.to)).collect();
            let to = if changing.len() == r.moves.len() {
                changing
                    .iter()
                    .map(|m| m.to.to_string())
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect::<Vec<_>>()
                    .join(", ")
            } else {
                let exceptions: Vec<String> = changing
                    .iter()
                    .map(|m| format!("{} → {}", m.from.map_or("—".into(), |f| f.to_string()), m.to))
                    .collect();
                if exceptions.is_empty() {
                    "unchanged".to_owned()
                } else {
                    format!("unchanged ({})", exceptions.join(", "))
                }
            };
            let who: Vec<String> = r.who.iter().map(|w| w.to_string()).collect();
            let input: Vec<&str> = r.requires.iter().map(|i| i.field()).collect();
            let effects: Vec<String> = r.effects.iter().map(|e| e.to_string()).collect();
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} |\n",
                r.action,
                from.join(", "),
                to,
                who.join(", "),
                if input.is_empty() { "—".to_owned() } else { input.join(", ") },
                if effects.is_empty() { "—".to_owned() } else { effects.join("; ") },
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_and_origin_has_its_own_slot() {
        let mut seen = HashSet::new();
        for &a in Action::ALL {
            for from in std::iter::once(None).chain(TicketStatus::ALL.iter().copied().map(Some)) {
                let slot = Lifecycle::slot(a, from);
                assert!(slot < Action::ALL.len() * (TicketStatus::ALL.len() + 1), "{a:?} from {from:?}");
                assert!(seen.insert(slot), "{a:?} from {from:?} shares slot {slot}");
            }
        }
    }
}
