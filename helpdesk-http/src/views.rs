//! Response bodies shared by several routes. They are written out (not the core models
//! serialised as they are) so that nothing private leaves the server by accident: no
//! password hash, no secret hash, no storage key.

use chrono::{DateTime, NaiveDate, Utc};
use helpdesk_core::TicketView;
use helpdesk_core::model::{ActorRef, Comment, FieldValue, HistoryEvent, User};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// A user as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserOut {
    /// The user's id (stable; use it in `/users/{id}` routes).
    pub id: Uuid,
    /// Email (lower-case).
    pub email: String,
    /// First name.
    pub first_name: String,
    /// Middle name.
    pub middle_name: Option<String>,
    /// Last name.
    pub last_name: String,
    /// Suffix (Jr., Sr., II … X).
    pub suffix: Option<String>,
    /// Company id.
    pub company_id: String,
    /// Department key.
    pub department: Option<String>,
    /// `employee`, `coordinator` or `admin`.
    pub role: String,
    /// `pending`, `approved`, `rejected` or `deactivated`.
    pub status: String,
    /// Whether an avatar was uploaded.
    pub has_avatar: bool,
    /// Whether the user must choose a new password before anything else.
    pub must_change_password: bool,
    /// The version of the terms of use accepted at registration (when the deployment asks).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub terms_version: Option<String>,
    /// When they were accepted.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(serialize_with = "crate::json_time::rfc3339_opt")]
    pub terms_accepted_at: Option<DateTime<Utc>>,
    /// When the account was created.
    #[serde(serialize_with = "crate::json_time::rfc3339")]
    pub created_at: DateTime<Utc>,
    /// When the account last changed (profile, role, status).
    #[serde(serialize_with = "crate::json_time::rfc3339")]
    pub updated_at: DateTime<Utc>,
    /// Version (for `If-Match`).
    pub version: u64,
}

impl From<&User> for UserOut {
    fn from(u: &User) -> Self {
        Self {
            id: u.id.as_uuid(),
            email: u.email.as_str().to_owned(),
            first_name: u.first_name.as_str().to_owned(),
            middle_name: u.middle_name.as_ref().map(|m| m.as_str().to_owned()),
            last_name: u.last_name.as_str().to_owned(),
            suffix: u.suffix.map(|s| s.as_str().to_owned()),
            company_id: u.company_id.as_str().to_owned(),
            department: u.department.as_ref().map(|d| d.as_str().to_owned()),
            role: u.role.as_str().to_owned(),
            status: u.status.as_str().to_owned(),
            has_avatar: u.avatar.is_some(),
            must_change_password: u.must_change_password,
            terms_version: u.terms_accepted.as_ref().map(|t| t.version.clone()),
            terms_accepted_at: u.terms_accepted.as_ref().map(|t| t.at),
            created_at: u.created_at,
            updated_at: u.updated_at,
            version: u.version,
        }
    }
}

/// Who did something.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActorOut {
    /// `user`, `external_system` or `system`.
    pub kind: String,
    /// The user's id, for users.
    pub user: Option<Uuid>,
    /// The external system's name, for API keys.
    pub name: Option<String>,
}

impl From<&ActorRef> for ActorOut {
    fn from(a: &ActorRef) -> Self {
        match a {
            ActorRef::User { id } => Self { kind: "user".into(), user: Some(id.as_uuid()), name: None },
            ActorRef::ExternalSystem { name, .. } => {
                Self { kind: "external_system".into(), user: None, name: Some(name.clone()) }
            }
            _ => Self { kind: "system".into(), user: None, name: None },
        }
    }
}

// It borrows its text from the `TicketView` it shows (`TicketOut::from(&view)`): a list page
// writes 50 of them as JSON, and copying each string first cost a quarter of that work
// (`cargo bench -p helpdesk-http --bench ticket_json`). Not a doc comment: the OpenAPI
// document would carry it.
/// A ticket, with the lifecycle actions the caller may take on it now.
#[derive(Debug, Serialize, ToSchema)]
pub struct TicketOut<'a> {
    /// The ticket's id (routes use the number instead).
    pub id: Uuid,
    /// Human-friendly number, e.g. `TX0042`.
    pub number: &'a str,
    /// Requester's user id.
    pub requester: Uuid,
    /// The one-line summary.
    pub subject: &'a str,
    /// Category key.
    pub category: &'a str,
    /// Sub-category key.
    pub sub_category: &'a str,
    /// What the requester needs, as typed.
    pub description: &'a str,
    /// Requested date.
    pub scheduled_date: Option<NaiveDate>,
    /// `critical`, `high`, `medium` or `low` (set at triage).
    pub priority: Option<&'static str>,
    /// Department key.
    pub department: Option<&'a str>,
    /// `new`, `open`, `in_progress`, `on_hold`, `pending`, `resolved`, `closed`, `rejected` or `withdrawn`.
    pub status: &'static str,
    /// Assignee's user id.
    pub assignee: Option<Uuid>,
    /// When the requester submitted it.
    #[serde(serialize_with = "crate::json_time::rfc3339")]
    pub created_at: DateTime<Utc>,
    /// When it last changed (any action, edit or comment).
    #[serde(serialize_with = "crate::json_time::rfc3339")]
    pub updated_at: DateTime<Utc>,
    /// First staff response.
    #[serde(serialize_with = "crate::json_time::rfc3339_opt")]
    pub first_response_at: Option<DateTime<Utc>>,
    /// When it was resolved, if it was.
    #[serde(serialize_with = "crate::json_time::rfc3339_opt")]
    pub resolved_at: Option<DateTime<Utc>>,
    /// When it was closed, if it was.
    #[serde(serialize_with = "crate::json_time::rfc3339_opt")]
    pub closed_at: Option<DateTime<Utc>>,
    /// Seconds from submission to the first staff response.
    pub response_secs: Option<i64>,
    /// Seconds from submission to resolution.
    pub resolution_secs: Option<i64>,
    /// Why triage rejected it.
    pub rejection_reason: Option<&'a str>,
    /// Version (the `ETag`).
    pub version: u64,
    /// Lifecycle actions the caller may take now (routes under `/tickets/{number}/`).
    pub actions: Vec<&'static str>,
    /// Staff only: when the earliest running service-level target falls due (absent when
    /// none runs, or for employees). Each target's figures: `GET /tickets/{number}/sla`.
    #[serde(serialize_with = "crate::json_time::rfc3339_opt", skip_serializing_if = "Option::is_none")]
    pub sla_due_at: Option<DateTime<Utc>>,
    /// Staff only: `ok`, `warning` or `breached`, for the running targets now (absent when
    /// none runs, or for employees).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub sla_state: Option<&'static str>,
    /// The requester's satisfaction rating, once given through the resolution mail's link:
    /// for staff and the requester only (absent otherwise, and before a rating).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub satisfaction: Option<SatisfactionOut<'a>>,
    /// Staff's labels, sorted (empty for requesters unless the policy lets them tag).
    pub tags: Vec<&'a str>,
    /// The users following the ticket (`GET /tickets/{number}/followers` names them).
    pub followers: Vec<Uuid>,
    /// Links to other tickets, as this ticket sees them (staff only; empty otherwise).
    pub links: Vec<LinkOut<'a>>,
    /// The ticket this one was merged into (it is then closed and only points there).
    pub merged_into: Option<&'a str>,
    /// Custom field values by key (`GET /custom-fields` defines them; internal ones for staff
    /// only).
    #[schema(value_type = HashMap<String, crate::routes::custom_fields::CustomFieldValue>)]
    pub fields: std::collections::BTreeMap<&'a str, &'a FieldValue>,
}

/// A link to another ticket.
#[derive(Debug, Serialize, ToSchema)]
pub struct LinkOut<'a> {
    /// `duplicate_of`, `duplicated_by`, `related_to`, `parent_of` or `child_of`: how this
    /// ticket relates to the other.
    #[schema(value_type = String)]
    pub kind: &'static str,
    /// The other ticket's number.
    pub ticket: &'a str,
}

/// A satisfaction rating.
#[derive(Debug, Serialize, ToSchema)]
pub struct SatisfactionOut<'a> {
    /// `good` or `bad`.
    #[schema(value_type = String)]
    pub rating: &'static str,
    /// What the requester wrote with it.
    pub comment: Option<&'a str>,
    /// When it was given (or last changed).
    #[serde(serialize_with = "crate::json_time::rfc3339")]
    pub rated_at: DateTime<Utc>,
}

impl<'a> From<&'a helpdesk_core::model::Satisfaction> for SatisfactionOut<'a> {
    fn from(s: &'a helpdesk_core::model::Satisfaction) -> Self {
        Self { rating: s.rating.as_str(), comment: s.comment.as_ref().map(|c| c.as_str()), rated_at: s.rated_at }
    }
}

impl<'a> From<&'a TicketView> for TicketOut<'a> {
    fn from(v: &'a TicketView) -> Self {
        let t = &v.ticket;
        Self {
            id: t.id.as_uuid(),
            number: t.number.as_str(),
            requester: t.requester.as_uuid(),
            subject: t.subject.as_str(),
            category: t.category.as_str(),
            sub_category: t.sub_category.as_str(),
            description: t.description.as_str(),
            scheduled_date: t.scheduled_date,
            priority: t.priority.map(|p| p.as_str()),
            department: t.department.as_ref().map(|d| d.as_str()),
            status: t.status.as_str(),
            assignee: t.assignee.map(|a| a.as_uuid()),
            created_at: t.created_at,
            updated_at: t.updated_at,
            first_response_at: t.first_response_at,
            resolved_at: t.resolved_at,
            closed_at: t.closed_at,
            response_secs: t.response_secs,
            resolution_secs: t.resolution_secs,
            rejection_reason: t.rejection_reason.as_deref(),
            version: t.version,
            actions: v.actions.iter().map(|a| a.as_str()).collect(),
            sla_due_at: if v.sees_internal { t.sla.due_at } else { None },
            sla_state: v.sla_state.map(|s| s.as_str()),
            satisfaction: t.satisfaction.as_ref().map(SatisfactionOut::from),
            tags: t.tags.iter().map(|g| g.as_str()).collect(),
            followers: t.followers.iter().map(|f| f.as_uuid()).collect(),
            links: t.links.iter().map(|l| LinkOut { kind: l.kind.as_str(), ticket: l.ticket.as_str() }).collect(),
            merged_into: t.merged_into.as_ref().map(|n| n.as_str()),
            fields: t.fields.iter().map(|(k, v)| (k.as_str(), v)).collect(),
        }
    }
}

/// A comment.
#[derive(Debug, Serialize, ToSchema)]
pub struct CommentOut {
    /// The comment's id.
    pub id: Uuid,
    /// Who wrote it.
    pub author: ActorOut,
    /// The text, as written (plain text).
    pub body: String,
    /// Internal comments are seen by staff only.
    pub internal: bool,
    /// When it was written.
    #[serde(serialize_with = "crate::json_time::rfc3339")]
    pub created_at: DateTime<Utc>,
}

impl From<&Comment> for CommentOut {
    fn from(c: &Comment) -> Self {
        Self {
            id: c.id.as_uuid(),
            author: (&c.author).into(),
            body: c.body.as_str().to_owned(),
            internal: c.internal,
            created_at: c.created_at,
        }
    }
}

/// One field changed by an event.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChangeOut {
    /// Field name.
    pub field: String,
    /// Value before.
    pub old: Option<String>,
    /// Value after.
    pub new: Option<String>,
}

/// One event of a ticket's history.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventOut {
    /// The event's id.
    pub id: Uuid,
    /// When the change was committed.
    #[serde(serialize_with = "crate::json_time::rfc3339")]
    pub at: DateTime<Utc>,
    /// Who made the change.
    pub actor: ActorOut,
    /// `action`, `edited`, `commented`, `attachment_added`, `rated`, `follower_added`,
    /// `follower_removed`, `linked`, `unlinked`, `merged_into` or `merged_from`.
    pub kind: String,
    /// The lifecycle action, for `action` events.
    pub action: Option<String>,
    /// The follower, for `follower_added` and `follower_removed` events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<Uuid>,
    /// The other ticket, for `linked`, `unlinked`, `merged_into` and `merged_from` events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
    /// The link's kind as this ticket sees it, for `linked` and `unlinked` events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// Fields changed, with old and new values.
    pub changes: Vec<ChangeOut>,
    /// Reason, note or comment given with the change.
    pub note: Option<String>,
    /// Internal events are seen by staff only.
    pub internal: bool,
    /// The ticket's version after this event.
    pub version: u64,
    /// The macro that made the change (its events share one version), by its name then.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by_macro: Option<String>,
}

impl From<&HistoryEvent> for EventOut {
    fn from(e: &HistoryEvent) -> Self {
        use helpdesk_core::model::EventKind;
        let (mut action, mut user, mut ticket, mut link) = (None, None, None, None);
        let kind = match &e.kind {
            EventKind::Action { action: a } => {
                action = Some(a.as_str().to_owned());
                "action"
            }
            EventKind::Edited => "edited",
            EventKind::Commented { .. } => "commented",
            EventKind::AttachmentAdded { .. } => "attachment_added",
            EventKind::Rated { .. } => "rated",
            EventKind::FollowerAdded { user: u } | EventKind::FollowerRemoved { user: u } => {
                user = Some(u.as_uuid());
                if matches!(e.kind, EventKind::FollowerAdded { .. }) { "follower_added" } else { "follower_removed" }
            }
            EventKind::Linked { kind, ticket: t } | EventKind::Unlinked { kind, ticket: t } => {
                (ticket, link) = (Some(t.to_string()), Some(kind.as_str().to_owned()));
                if matches!(e.kind, EventKind::Linked { .. }) { "linked" } else { "unlinked" }
            }
            EventKind::MergedInto { ticket: t } => {
                ticket = Some(t.to_string());
                "merged_into"
            }
            EventKind::MergedFrom { ticket: t } => {
                ticket = Some(t.to_string());
                "merged_from"
            }
        };
        Self {
            id: e.id.as_uuid(),
            at: e.at,
            actor: (&e.actor).into(),
            kind: kind.to_owned(),
            action,
            user,
            ticket,
            link,
            changes: e
                .changes
                .iter()
                .map(|c| ChangeOut { field: c.field.clone(), old: c.old.clone(), new: c.new.clone() })
                .collect(),
            note: e.note.clone(),
            internal: e.internal,
            version: e.version,
            by_macro: e.by_macro.clone(),
        }
    }
}

/// Raw bytes (an image, a file): `type: string, format: binary` in the document, so generated
/// clients take and return a file.
#[derive(Debug, ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct Binary(pub Vec<u8>);

/// A JSON response written into a buffer of `size_hint` bytes taken up front.
///
/// axum's `Json` starts its buffer at 128 bytes and doubles it as the value is written, so a
/// page of 50 tickets (35 KB and more) is reallocated and copied nine times on its way out; a list
/// route knows roughly how large its page will be and asks for it once. A value that
/// outgrows the hint still grows as before. A value that cannot be serialised is a logged 500
/// problem, as any internal error.
pub fn sized_json_response<T: Serialize>(value: &T, size_hint: usize) -> axum::response::Response {
    use axum::http::{HeaderValue, header};
    use axum::response::IntoResponse;
    let mut buf = Vec::with_capacity(size_hint);
    match serde_json::to_writer(&mut buf, value) {
        Ok(()) => ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], buf).into_response(),
        Err(e) => {
            crate::error::ApiError::from(helpdesk_core::Error::Internal(format!("response body: {e}"))).into_response()
        }
    }
}
