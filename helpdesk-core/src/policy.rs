//! Authorization as a pure function: default deny, deny wins.
//!
//! [`RulePolicy`] holds the role × permission matrix of SPEC §2–§5 as data ([`PolicyRule`]s).
//! A decision collects every rule whose subject, permission and conditions match: any `Deny`
//! wins, otherwise any `Allow` allows, otherwise the answer is deny. An embedding application
//! may supply its own [`Policy`]. Lifecycle moves are authorised by the lifecycle table's "who"
//! column on top of [`Permission::TransitionTicket`].

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::domain::{ApiKeyId, DepartmentKey, Role, SessionId, TicketStatus, UserId};
use crate::lifecycle::Actor;
use crate::model::{ApiScope, Ticket, User};

/// A signed-in user, as read from storage on this request (never from token claims).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserPrincipal {
    /// The signed-in user.
    pub id: UserId,
    /// Current role.
    pub role: Role,
    /// Current department.
    pub department: Option<DepartmentKey>,
    /// The session the request came through.
    pub session: Option<SessionId>,
}

/// An external system authenticated by API key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemPrincipal {
    /// Key id.
    pub key: ApiKeyId,
    /// Key name.
    pub name: String,
    /// What the key may do.
    pub scopes: Vec<ApiScope>,
}

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// Nobody signed in.
    Anonymous,
    /// A user.
    User(UserPrincipal),
    /// An external system.
    ExternalSystem(SystemPrincipal),
    /// The help desk's timers and CLI.
    System,
}

impl Principal {
    /// `user` as a principal without a session: what the policy would let them do (mail in,
    /// and who may follow a ticket, ask this of someone other than the caller).
    pub fn of_user(user: &User) -> Self {
        Principal::User(UserPrincipal {
            id: user.id,
            role: user.role,
            department: user.department.clone(),
            session: None,
        })
    }

    /// The actor the lifecycle sees.
    pub fn actor(&self) -> Option<Actor> {
        match self {
            Principal::User(u) => Some(Actor::User { id: u.id, role: u.role }),
            Principal::ExternalSystem(s) => Some(Actor::ExternalSystem { key: s.key, name: s.name.clone() }),
            Principal::System => Some(Actor::System),
            Principal::Anonymous => None,
        }
    }
    /// The user, when a user asks.
    pub fn user(&self) -> Option<&UserPrincipal> {
        match self {
            Principal::User(u) => Some(u),
            _ => None,
        }
    }
    /// True for coordinators and admins.
    pub fn is_staff(&self) -> bool {
        self.user().is_some_and(|u| u.role.is_staff())
    }
    /// A key for idempotency records and throttles.
    pub fn key(&self) -> String {
        match self {
            Principal::Anonymous => "anonymous".into(),
            Principal::User(u) => format!("user:{}", u.id),
            Principal::ExternalSystem(s) => format!("key:{}", s.key),
            Principal::System => "system".into(),
        }
    }
}

/// What may be asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// Register an account (anyone, signed in or not).
    Register,
    /// Read the catalog.
    ViewCatalog,
    /// Read and update one's own profile and avatar.
    ManageOwnProfile,
    /// Fetch any user's avatar.
    ViewAvatar,
    /// List staff users (assignee pickers).
    ListStaff,
    /// List and read users.
    ViewUsers,
    /// Approve, reject, deactivate, reactivate, change role or department, create users.
    ManageUsers,
    /// Read rejection records.
    ViewRejections,
    /// Read the security audit log.
    ViewAuditLog,
    /// Create, list and revoke API keys.
    ManageApiKeys,
    /// List and retry dead outbox messages.
    ManageOutbox,
    /// Read and replace the service-level calendars and policies.
    ManageServiceLevels,
    /// Read reports and export CSV.
    ViewReports,
    /// File a ticket.
    CreateTicket,
    /// List every ticket (otherwise lists are limited to one's own).
    ListAllTickets,
    /// Read one ticket.
    ViewTicket,
    /// Edit one field of a ticket.
    EditTicket,
    /// Take a lifecycle action (the table's "who" decides which).
    TransitionTicket,
    /// Write a public comment.
    CommentPublic,
    /// Write an internal comment.
    CommentInternal,
    /// See internal comments, events and attachments.
    ViewInternal,
    /// Upload an attachment.
    UploadAttachment,
    /// Download an attachment.
    DownloadAttachment,
    /// Push a workflow status update.
    PushWorkflowStatus,
    /// Hand over a raw mail message to be processed.
    IngestMail,
    /// List messages that came in by mail, read them, and run held or failed ones again.
    ManageInboundMail,
    /// See, preview and apply macros, and keep macros of one's own.
    UseMacros,
    /// Make, change and delete the macros shared with all staff.
    ManageSharedMacros,
    /// Keep views of the queue of one's own, open the shared ones, choose a default.
    UseViews,
    /// Make, change and delete the views shared with all staff.
    ManageSharedViews,
    /// Add colleagues as followers of a ticket, and remove them.
    ManageFollowers,
    /// Stop following a ticket one follows.
    StopFollowing,
    /// Link tickets to each other (duplicate of, related to, parent / child).
    LinkTickets,
    /// Merge a duplicate ticket into another.
    MergeTickets,
    /// Define, change and retire the custom fields of tickets.
    ManageCustomFields,
}

impl Permission {
    /// Every permission.
    pub const ALL: &'static [Permission] = &[
        Permission::Register,
        Permission::ViewCatalog,
        Permission::ManageOwnProfile,
        Permission::ViewAvatar,
        Permission::ListStaff,
        Permission::ViewUsers,
        Permission::ManageUsers,
        Permission::ViewRejections,
        Permission::ViewAuditLog,
        Permission::ManageApiKeys,
        Permission::ManageOutbox,
        Permission::ManageServiceLevels,
        Permission::ViewReports,
        Permission::CreateTicket,
        Permission::ListAllTickets,
        Permission::ViewTicket,
        Permission::EditTicket,
        Permission::TransitionTicket,
        Permission::CommentPublic,
        Permission::CommentInternal,
        Permission::ViewInternal,
        Permission::UploadAttachment,
        Permission::DownloadAttachment,
        Permission::PushWorkflowStatus,
        Permission::IngestMail,
        Permission::ManageInboundMail,
        Permission::UseMacros,
        Permission::ManageSharedMacros,
        Permission::UseViews,
        Permission::ManageSharedViews,
        Permission::ManageFollowers,
        Permission::StopFollowing,
        Permission::LinkTickets,
        Permission::MergeTickets,
        Permission::ManageCustomFields,
    ];
}

/// A ticket field a client may try to edit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketField {
    /// The subject.
    Subject,
    /// The description.
    Description,
    /// Category and sub-category.
    Category,
    /// The priority (staff).
    Priority,
    /// The owning department (staff).
    Department,
    /// Scheduled date.
    ScheduledDate,
    /// The ticket's tags (staff; the requester of a new ticket when
    /// [`PolicyOptions::requesters_tag_new_tickets`] says so).
    Tags,
    /// A custom field requesters see (staff edit it; the requester sets it only when filing,
    /// when its definition says so).
    CustomField,
    /// An internal custom field (staff only).
    InternalField,
}

impl TicketField {
    /// The request field name.
    pub const fn as_str(self) -> &'static str {
        match self {
            TicketField::Subject => "subject",
            TicketField::Description => "description",
            TicketField::Category => "category",
            TicketField::Priority => "priority",
            TicketField::Department => "department",
            TicketField::ScheduledDate => "scheduled_date",
            TicketField::Tags => "tags",
            TicketField::CustomField => "fields",
            TicketField::InternalField => "internal fields",
        }
    }
}

/// The facts about a ticket a decision may depend on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketFacts {
    /// Who filed the ticket (employees see only their own).
    pub requester: UserId,
    /// The owning department (for department-limited coordinators).
    pub department: Option<DepartmentKey>,
    /// The ticket's status.
    pub status: TicketStatus,
    /// Who follows the ticket (sorted).
    pub followers: Vec<UserId>,
}

impl From<&Ticket> for TicketFacts {
    fn from(t: &Ticket) -> Self {
        Self {
            requester: t.requester,
            department: t.department.clone(),
            status: t.status,
            followers: t.followers.clone(),
        }
    }
}

/// What the permission is asked about.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resource {
    /// The ticket, for ticket permissions.
    pub ticket: Option<TicketFacts>,
    /// The field, for [`Permission::EditTicket`].
    pub field: Option<TicketField>,
    /// True for internal comments and their attachments.
    pub internal: bool,
}

impl Resource {
    /// No resource (global permissions).
    pub fn none() -> Self {
        Self::default()
    }
    /// A ticket.
    pub fn ticket(t: &Ticket) -> Self {
        Self { ticket: Some(t.into()), ..Self::default() }
    }
    /// A ticket's field.
    pub fn field(t: &Ticket, field: TicketField) -> Self {
        Self { ticket: Some(t.into()), field: Some(field), internal: false }
    }
    /// Something on a ticket with a visibility (comment, attachment).
    pub fn on_ticket(t: &Ticket, internal: bool) -> Self {
        Self { ticket: Some(t.into()), field: None, internal }
    }
}

/// Allow or deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// The rule grants the permission.
    Allow,
    /// The rule refuses it; a deny always wins over an allow.
    Deny,
}

/// Which tickets a principal's lists may contain; forced into every list query by the service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListScope {
    /// Every ticket.
    All,
    /// Tickets of this department only.
    Department(DepartmentKey),
    /// Only the principal's own tickets.
    Own(UserId),
    /// The rule does not apply; the next one decides (none left: denied).
    Nothing,
}

/// An authorization policy. Must be pure and cheap: it runs on every request.
pub trait Policy: Send + Sync + fmt::Debug + 'static {
    /// Decides whether `principal` may do `permission` on `resource`.
    fn decide(&self, principal: &Principal, permission: Permission, resource: &Resource) -> Decision;

    /// The filter forced into the principal's ticket lists.
    fn list_scope(&self, principal: &Principal) -> ListScope;
}

/// Whom a rule is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Subject {
    /// Nobody signed in.
    Anonymous,
    /// Any signed-in user.
    AnyUser,
    /// Users with this role.
    Role(Role),
    /// Coordinators and admins.
    Staff,
    /// Users who are not staff.
    NonStaff,
    /// External systems.
    ExternalSystem,
    /// The help desk itself.
    System,
}

/// A condition on the resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    /// The principal is the ticket's requester.
    IsRequester,
    /// The ticket has this status.
    StatusIs(TicketStatus),
    /// The ticket is not terminal.
    NotTerminal,
    /// The comment or attachment is internal.
    Internal,
    /// The comment or attachment is public.
    Public,
    /// The edited field is one of these.
    FieldIn(Vec<TicketField>),
    /// The key has this scope.
    HasScope(ApiScope),
    /// The principal is not the ticket's requester.
    NotRequester,
    /// The ticket's department is not the principal's.
    OutsideOwnDepartment,
    /// The principal follows the ticket.
    IsFollower,
}

/// One rule of a [`RulePolicy`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyRule {
    /// Allow or deny.
    pub effect: Decision,
    /// Whom it is about.
    pub subject: Subject,
    /// Which permissions.
    pub permissions: Vec<Permission>,
    /// Conditions that must all hold.
    pub when: Vec<Condition>,
}

/// Options of the default policy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PolicyOptions {
    /// Limit coordinators to tickets of their own department (admins see everything).
    pub coordinators_limited_to_department: bool,
    /// Let requesters tag their own tickets while they are new, and see their tickets' tags
    /// (staff always may).
    pub requesters_tag_new_tickets: bool,
}

/// A policy made of rules: default deny, deny wins.
#[derive(Debug, Clone)]
pub struct RulePolicy {
    rules: Vec<PolicyRule>,
    department_limited: bool,
}

fn allow(subject: Subject, permissions: &[Permission], when: Vec<Condition>) -> PolicyRule {
    PolicyRule { effect: Decision::Allow, subject, permissions: permissions.to_vec(), when }
}
fn deny(subject: Subject, permissions: &[Permission], when: Vec<Condition>) -> PolicyRule {
    PolicyRule { effect: Decision::Deny, subject, permissions: permissions.to_vec(), when }
}

impl Default for RulePolicy {
    fn default() -> Self {
        Self::new(&PolicyOptions::default())
    }
}

impl RulePolicy {
    /// SPEC §2–§5's matrix with these options.
    pub fn new(options: &PolicyOptions) -> Self {
        use Condition as C;
        use Permission as P;
        use Subject as S;
        let ticket_staff = [
            P::ListAllTickets,
            P::ViewTicket,
            P::TransitionTicket,
            P::CommentPublic,
            P::CommentInternal,
            P::ViewInternal,
            P::UploadAttachment,
            P::DownloadAttachment,
        ];
        let mut rules = vec![
            allow(S::Anonymous, &[P::Register], vec![]),
            allow(S::AnyUser, &[P::ViewCatalog, P::ManageOwnProfile, P::ViewAvatar, P::CreateTicket], vec![]),
            allow(S::Staff, &ticket_staff, vec![]),
            allow(S::Staff, &[P::ListStaff, P::UseMacros, P::UseViews], vec![]),
            allow(
                S::Staff,
                &[P::EditTicket],
                vec![C::FieldIn(vec![
                    TicketField::Priority,
                    TicketField::Department,
                    TicketField::Category,
                    TicketField::Tags,
                    TicketField::CustomField,
                    TicketField::InternalField,
                ])],
            ),
            allow(
                S::Role(Role::Admin),
                &[
                    P::ViewUsers,
                    P::ManageUsers,
                    P::ViewRejections,
                    P::ViewAuditLog,
                    P::ManageApiKeys,
                    P::ManageOutbox,
                    P::ManageInboundMail,
                    P::ManageServiceLevels,
                    P::ViewReports,
                    P::ManageSharedMacros,
                    P::ManageSharedViews,
                    P::ManageCustomFields,
                ],
                vec![],
            ),
            allow(S::AnyUser, &[P::ViewTicket, P::TransitionTicket, P::CommentPublic], vec![C::IsRequester]),
            allow(S::AnyUser, &[P::UploadAttachment], vec![C::IsRequester, C::NotTerminal, C::Public]),
            allow(S::AnyUser, &[P::DownloadAttachment], vec![C::IsRequester, C::Public]),
            allow(S::Staff, &[P::ManageFollowers, P::LinkTickets, P::MergeTickets], vec![]),
            allow(S::AnyUser, &[P::ManageFollowers], vec![C::IsRequester]),
            // Followers read the public thread, write public comments with attachments and may
            // leave; the denies below keep everything internal from them.
            allow(S::AnyUser, &[P::ViewTicket, P::CommentPublic, P::StopFollowing], vec![C::IsFollower]),
            allow(S::AnyUser, &[P::UploadAttachment], vec![C::IsFollower, C::NotTerminal, C::Public]),
            allow(S::AnyUser, &[P::DownloadAttachment], vec![C::IsFollower, C::Public]),
            allow(
                S::AnyUser,
                &[P::EditTicket],
                vec![
                    C::IsRequester,
                    C::StatusIs(TicketStatus::New),
                    C::FieldIn(vec![
                        TicketField::Subject,
                        TicketField::Description,
                        TicketField::Category,
                        TicketField::ScheduledDate,
                    ]),
                ],
            ),
            allow(S::ExternalSystem, &[P::ListAllTickets, P::ViewTicket], vec![C::HasScope(ApiScope::ReadTickets)]),
            allow(S::ExternalSystem, &[P::DownloadAttachment], vec![C::HasScope(ApiScope::ReadTickets), C::Public]),
            // The push scope reaches the workflow route only (SPEC §6, §11: with an idempotency
            // key and a note), never the ordinary action routes: no `TransitionTicket`.
            allow(
                S::ExternalSystem,
                &[P::ViewTicket, P::PushWorkflowStatus],
                vec![C::HasScope(ApiScope::PushWorkflow)],
            ),
            allow(S::ExternalSystem, &[P::IngestMail], vec![C::HasScope(ApiScope::IngestMail)]),
            allow(
                S::System,
                &[P::ListAllTickets, P::ViewTicket, P::TransitionTicket, P::ViewInternal, P::IngestMail],
                vec![],
            ),
            // Internal content never reaches anyone who is not staff: deny wins over the
            // requester's allows above.
            deny(S::NonStaff, &[P::ViewInternal, P::CommentInternal], vec![]),
            deny(S::NonStaff, &[P::UploadAttachment, P::DownloadAttachment], vec![C::Internal]),
            deny(
                S::ExternalSystem,
                &[P::ViewInternal, P::CommentInternal, P::DownloadAttachment, P::UploadAttachment, P::EditTicket],
                vec![C::Internal],
            ),
        ];
        if options.requesters_tag_new_tickets {
            rules.push(allow(
                S::AnyUser,
                &[P::EditTicket],
                vec![C::IsRequester, C::StatusIs(TicketStatus::New), C::FieldIn(vec![TicketField::Tags])],
            ));
        }
        if options.coordinators_limited_to_department {
            let mut all_ticket = ticket_staff.to_vec();
            all_ticket.extend([P::EditTicket, P::ManageFollowers, P::LinkTickets, P::MergeTickets]);
            // A coordinator's own tickets stay theirs wherever they are filed.
            rules.push(deny(S::Role(Role::Coordinator), &all_ticket, vec![C::OutsideOwnDepartment, C::NotRequester]));
        }
        Self { rules, department_limited: options.coordinators_limited_to_department }
    }

    /// A policy of custom rules (default deny, deny wins).
    pub fn from_rules(rules: Vec<PolicyRule>) -> Self {
        let department_limited =
            rules.iter().any(|r| r.effect == Decision::Deny && r.when.contains(&Condition::OutsideOwnDepartment));
        Self { rules, department_limited }
    }

    /// The rules.
    pub fn rules(&self) -> &[PolicyRule] {
        &self.rules
    }

    fn subject_matches(subject: Subject, p: &Principal) -> bool {
        match (subject, p) {
            (Subject::Anonymous, Principal::Anonymous) => true,
            (Subject::AnyUser, Principal::User(_)) => true,
            (Subject::Role(r), Principal::User(u)) => u.role == r,
            (Subject::Staff, Principal::User(u)) => u.role.is_staff(),
            (Subject::NonStaff, Principal::User(u)) => !u.role.is_staff(),
            (Subject::NonStaff, Principal::Anonymous) => true,
            (Subject::ExternalSystem, Principal::ExternalSystem(_)) => true,
            (Subject::System, Principal::System) => true,
            _ => false,
        }
    }

    fn condition_holds(c: &Condition, p: &Principal, r: &Resource) -> bool {
        match c {
            Condition::IsRequester => matches!((p, &r.ticket), (Principal::User(u), Some(t)) if t.requester == u.id),
            Condition::NotRequester => !matches!((p, &r.ticket), (Principal::User(u), Some(t)) if t.requester == u.id),
            Condition::StatusIs(s) => r.ticket.as_ref().is_some_and(|t| t.status == *s),
            Condition::NotTerminal => r.ticket.as_ref().is_some_and(|t| !t.status.is_terminal()),
            Condition::Internal => r.internal,
            Condition::Public => !r.internal,
            Condition::FieldIn(fields) => r.field.is_some_and(|f| fields.contains(&f)),
            Condition::IsFollower => matches!((p, &r.ticket),
                (Principal::User(u), Some(t)) if t.followers.binary_search(&u.id).is_ok()),
            Condition::HasScope(s) => matches!(p, Principal::ExternalSystem(k) if k.scopes.contains(s)),
            Condition::OutsideOwnDepartment => match (p, &r.ticket) {
                (Principal::User(u), Some(t)) => u.department.is_none() || t.department != u.department,
                // A list or global question: judged per ticket by list_scope.
                (_, None) => false,
                _ => true,
            },
        }
    }

    /// The matrix as Markdown (printed in the crate docs).
    pub fn to_markdown(&self) -> String {
        let mut out = String::from("| effect | subject | permissions | when |\n|---|---|---|---|\n");
        for r in &self.rules {
            let perms: Vec<String> = r.permissions.iter().map(|p| format!("{p:?}")).collect();
            let when: Vec<String> = r.when.iter().map(|c| format!("{c:?}")).collect();
            out.push_str(&format!(
                "| {:?} | {:?} | {} | {} |\n",
                r.effect,
                r.subject,
                perms.join(", "),
                if when.is_empty() { "always".into() } else { when.join(" and ") }
            ));
        }
        out
    }
}

impl Policy for RulePolicy {
    fn decide(&self, principal: &Principal, permission: Permission, resource: &Resource) -> Decision {
        let mut allowed = false;
        for rule in &self.rules {
            if !rule.permissions.contains(&permission) || !Self::subject_matches(rule.subject, principal) {
                continue;
            }
            if !rule.when.iter().all(|c| Self::condition_holds(c, principal, resource)) {
                continue;
            }
            match rule.effect {
                Decision::Deny => return Decision::Deny,
                Decision::Allow => allowed = true,
            }
        }
        if allowed { Decision::Allow } else { Decision::Deny }
    }

    fn list_scope(&self, principal: &Principal) -> ListScope {
        if self.decide(principal, Permission::ListAllTickets, &Resource::none()) == Decision::Allow {
            match principal {
                Principal::User(u) if self.department_limited && u.role == Role::Coordinator => {
                    u.department.clone().map_or(ListScope::Nothing, ListScope::Department)
                }
                _ => ListScope::All,
            }
        } else if let Principal::User(u) = principal {
            ListScope::Own(u.id)
        } else {
            ListScope::Nothing
        }
    }
}
