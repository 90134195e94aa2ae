//! The ticket page (facts, description, files, the conversation with its form, history, the
//! actions allowed now; for staff also the requester, internal notes and the details form),
//! all through core's use cases, which decide what this visitor may see (another employee's
//! ticket is not found, an internal note does not exist for an employee).

use std::collections::BTreeMap;

use helpdesk_core::model::FieldBook;

use askama::Template;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use helpdesk_core::domain::{TicketNumber, UserId};
use helpdesk_core::lifecycle::Action;
use helpdesk_core::model::{ActorRef, EventKind, HistoryEvent, UserSummary};
use serde::Deserialize;

use super::attachments::Stored;
use super::pages::{multipart_allowed, status_label};
use super::session::PageUser;
use super::{Choice, Layout, error_page, page, when};
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Debug)]
struct CommentRow {
    internal: bool,
    author: String,
    avatar: Option<String>,
    initials: String,
    body: String,
    at: String,
    at_iso: String,
    files: Vec<AttachmentRow>,
}

#[derive(Debug)]
struct AttachmentRow {
    href: String,
    name: String,
    size: String,
    image: bool,
}

pub(crate) fn size_words(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{} MiB", b >> 20),
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / f64::from(1 << 20)),
        b if b >= 1 << 10 => format!("{} KiB", b >> 10),
        b => format!("{b} bytes"),
    }
}

#[derive(Debug)]
struct EventRow {
    what: String,
    at: String,
    at_iso: String,
}

#[derive(Template)]
#[template(path = "ticket.html")]
struct TicketPageView {
    layout: Layout,
    number: String,
    subject: String,
    status_key: &'static str,
    status_label: &'static str,
    category: String,
    priority: String,
    department: String,
    assignee: String,
    created: String,
    created_iso: String,
    updated: String,
    updated_iso: String,
    needed_on: Option<String>,
    resolved: Option<(String, String)>,
    description: String,
    rejection_reason: Option<String>,
    actions: Vec<ActionLink>,
    version: u64,
    can_comment: bool,
    /// Staff may write internal notes.
    can_note: bool,
    staff: Option<StaffFacts>,
    /// Service-level badges, for staff, when a policy applies.
    sla: Vec<SlaBadge>,
    /// The requester's rating (good?, comment), for staff and the requester.
    satisfaction: Option<(bool, String)>,
    /// The tags the viewer sees, each with the queue filtered by it (staff) or nothing.
    tags: Vec<(String, Option<String>)>,
    /// The viewer may add and remove tags.
    can_tag: bool,
    /// The custom field values the viewer sees.
    field_facts: Vec<super::fields::FieldFact>,
    /// Staff's inputs of the custom fields in use (empty for others).
    field_inputs: Vec<super::fields::FieldInput>,
    /// The macros staff may apply here: (id, name).
    macros: Vec<(String, String)>,
    /// Who follows the ticket.
    followers: Vec<FollowerRow>,
    /// The viewer may add and remove followers.
    can_manage_followers: bool,
    /// The address typed in the add-a-follower form, and why it was refused.
    follower_email: String,
    follower_error: Option<String>,
    /// Links to other tickets (staff).
    links: Vec<LinkRow>,
    /// The link form's kinds (value, words), what was typed in it, and why it was refused.
    link_kinds: Vec<Choice>,
    link_ticket: String,
    link_error: Option<String>,
    /// The ticket this one was merged into (shown when the viewer cannot go there).
    merged_into: Option<String>,
    files_hint: String,
    attachments: Vec<AttachmentRow>,
    comment: String,
    comment_error: Option<String>,
    comments: Vec<CommentRow>,
    history: Vec<EventRow>,
}

/// How a ticket relates to another, in words ("duplicate of TX0042").
pub(crate) fn link_words(kind: helpdesk_core::model::LinkKind) -> &'static str {
    use helpdesk_core::model::LinkKind;
    match kind {
        LinkKind::DuplicateOf => "duplicate of",
        LinkKind::DuplicatedBy => "duplicated by",
        LinkKind::RelatedTo => "related to",
        LinkKind::ParentOf => "parent of",
        LinkKind::ChildOf => "part of",
    }
}

/// A link as the ticket page lists it.
struct LinkRow {
    words: &'static str,
    number: String,
    subject: String,
    status: &'static str,
}

/// A follower as the ticket page lists them.
struct FollowerRow {
    id: String,
    name: String,
    /// "Remove", "Stop following", or nothing when the viewer may not remove them.
    remove_label: Option<&'static str>,
    /// Someone other than the viewer.
    other: bool,
}

/// "added vip, printer; removed old" for a change of tags.
fn tag_change_words(c: &helpdesk_core::model::FieldChange) -> String {
    let split = |v: &Option<String>| -> Vec<String> {
        v.as_deref().unwrap_or("").split(", ").filter(|s| !s.is_empty()).map(str::to_owned).collect()
    };
    let (old, new) = (split(&c.old), split(&c.new));
    let added: Vec<&str> = new.iter().filter(|g| !old.contains(g)).map(String::as_str).collect();
    let removed: Vec<&str> = old.iter().filter(|g| !new.contains(g)).map(String::as_str).collect();
    let mut parts = Vec::new();
    if !added.is_empty() {
        parts.push(format!("added {}", added.join(", ")));
    }
    if !removed.is_empty() {
        parts.push(format!("removed {}", removed.join(", ")));
    }
    parts.join("; ")
}

fn action_words(a: Action) -> &'static str {
    match a {
        Action::Submit => "Filed",
        Action::Approve => "Accepted by the help desk",
        Action::Reject => "Rejected",
        Action::Claim => "Taken on by the help desk",
        Action::Assign => "Assigned",
        Action::Hold => "Put on hold",
        Action::AwaitRequester => "Waiting for your answer",
        Action::Resume => "Work resumed",
        Action::Resolve => "Resolved",
        Action::Reopen => "Reopened",
        Action::Close => "Closed",
        Action::Withdraw => "Withdrawn",
    }
}

/// One history event in words.
fn event_words(e: &HistoryEvent, who: &PageUser, people: &[UserSummary], book: &FieldBook) -> String {
    match &e.kind {
        EventKind::Action { action } => action_words(*action).to_owned(),
        EventKind::Edited => {
            if let Some(c) = e.changes.iter().find(|c| c.field == helpdesk_core::SLA_POLICY_FIELD) {
                format!("Service-level policy: {}", c.new.as_deref().unwrap_or("none"))
            } else if let [c] = e.changes.as_slice()
                && c.field == "tags"
            {
                format!("Tags changed by {}: {}", who_wrote(&e.actor, who, people), tag_change_words(c))
            } else if !e.changes.is_empty() && e.changes.iter().all(|c| c.field.starts_with("fields.")) {
                let parts: Vec<String> = e
                    .changes
                    .iter()
                    .map(|c| {
                        let key = c.field.trim_start_matches("fields.");
                        let label = book.get_str(key).map_or(key, |d| d.label.as_str());
                        match &c.new {
                            Some(v) => format!("{label} set to {v}"),
                            None => format!("{label} cleared"),
                        }
                    })
                    .collect();
                format!("{} by {}", parts.join("; "), who_wrote(&e.actor, who, people))
            } else {
                "Edited".to_owned()
            }
        }
        EventKind::Commented { .. } => format!("Comment by {}", who_wrote(&e.actor, who, people)),
        EventKind::AttachmentAdded { .. } => "Attachment added".to_owned(),
        EventKind::Rated { rating } => match e.note.as_deref() {
            Some(comment) => format!("Rated {rating} by the requester: \u{201c}{comment}\u{201d}"),
            None => format!("Rated {rating} by the requester"),
        },
        EventKind::FollowerAdded { user } => {
            format!("{} added {} as a follower", who_wrote(&e.actor, who, people), person_name(*user, who, people))
        }
        EventKind::FollowerRemoved { user } if e.actor.user() == Some(*user) => {
            format!("{} stopped following", who_wrote(&e.actor, who, people))
        }
        EventKind::FollowerRemoved { user } => {
            format!(
                "{} removed {} from the followers",
                who_wrote(&e.actor, who, people),
                person_name(*user, who, people)
            )
        }
        EventKind::Linked { kind, ticket } => {
            format!("{} linked it: {} {ticket}", who_wrote(&e.actor, who, people), link_words(*kind))
        }
        EventKind::Unlinked { kind, ticket } => {
            format!("{} took away the link: {} {ticket}", who_wrote(&e.actor, who, people), link_words(*kind))
        }
        EventKind::MergedInto { ticket } => {
            format!("Merged into {ticket} by {}; it goes on there", who_wrote(&e.actor, who, people))
        }
        EventKind::MergedFrom { ticket } => {
            format!("{ticket} merged into this ticket by {}, with its conversation", who_wrote(&e.actor, who, people))
        }
    }
}

/// What one event of a macro did, as a part of its entry.
fn macro_part_words(e: &HistoryEvent) -> String {
    match &e.kind {
        EventKind::Action { action } => action_words(*action).to_owned(),
        EventKind::Commented { .. } if e.internal => "internal note".to_owned(),
        EventKind::Commented { .. } => "reply".to_owned(),
        _ => {
            let fields: Vec<&str> = e.changes.iter().map(|c| c.field.as_str()).collect();
            match e.changes.as_slice() {
                [c] if c.field == "tags" => format!("tags: {}", tag_change_words(c)),
                _ => format!("changed {}", fields.join(", ").replace('_', " ")),
            }
        }
    }
}

/// The history as the page lists it: the events one macro wrote (one commit, one version)
/// make one entry that names the macro and what it did.
fn history_rows(history: &[HistoryEvent], who: &PageUser, people: &[UserSummary], book: &FieldBook) -> Vec<EventRow> {
    let mut rows = Vec::with_capacity(history.len());
    let mut i = 0;
    while let Some(e) = history.get(i) {
        let (at, at_iso) = when(e.at);
        let group = match &e.by_macro {
            Some(name) => history[i..]
                .iter()
                .take_while(|x| x.by_macro.as_ref() == Some(name) && x.version == e.version && x.at == e.at)
                .count(),
            None => 1,
        };
        let what = match &e.by_macro {
            Some(name) => {
                let parts: Vec<String> = history[i..i + group].iter().map(macro_part_words).collect();
                format!(
                    "Macro \u{201c}{name}\u{201d} applied by {}: {}",
                    who_wrote(&e.actor, who, people),
                    parts.join("; ")
                )
            }
            None => event_words(e, who, people, book),
        };
        rows.push(EventRow { what, at, at_iso });
        i += group.max(1);
    }
    rows
}

/// Who did something, as the page names them: "You", a name with "(help desk)" for staff, the
/// external system's name, or "helpdesk" for the system itself.
fn who_wrote(actor: &ActorRef, me: &PageUser, people: &[UserSummary]) -> String {
    match actor {
        ActorRef::User { id } if *id == me.user.id => "You".to_owned(),
        ActorRef::User { id } => match people.iter().find(|p| p.id == *id) {
            Some(p) if p.role.is_staff() => format!("{} (help desk)", p.name),
            Some(p) => p.name.clone(),
            None => "Help desk".to_owned(),
        },
        ActorRef::ExternalSystem { name, .. } => name.clone(),
        ActorRef::System => "helpdesk".to_owned(),
    }
}

/// Someone a history entry is about (not its actor): "you", their name, or "someone" for an
/// account that is gone.
fn person_name(id: UserId, me: &PageUser, people: &[UserSummary]) -> String {
    if id == me.user.id {
        return "you".to_owned();
    }
    people.iter().find(|p| p.id == id).map_or_else(|| "someone".to_owned(), |p| p.name.clone())
}

/// "Network / VPN": the catalogue's names for a ticket's keys (the keys if it no longer has them).
fn category_name(s: &AppState, who: &PageUser, category: &str, sub: &str) -> String {
    let found = s.desk().catalog(&who.principal).ok().and_then(|c| {
        let cat = c.categories.iter().find(|c| c.key.as_str() == category)?;
        let sub = cat.sub_categories.iter().find(|x| x.key.as_str() == sub)?;
        Some(format!("{} / {}", cat.name, sub.name))
    });
    found.unwrap_or_else(|| format!("{category} / {sub}"))
}

#[derive(Debug, Deserialize)]
pub(crate) struct TicketQuery {
    filed: Option<String>,
    done: Option<String>,
    stale: Option<String>,
    commented: Option<String>,
    uploaded: Option<String>,
    edited: Option<String>,
    #[serde(rename = "macro")]
    macro_applied: Option<String>,
    followers: Option<String>,
    links: Option<String>,
    merged: Option<String>,
}

/// What staff see of the requester, and the fields they may edit.
#[derive(Debug)]
struct StaffFacts {
    requester: String,
    requester_email: String,
    requester_department: String,
    kinds: Vec<super::filing::KindGroup>,
    kind: String,
    priorities: Vec<(String, &'static str, bool)>,
    departments: Vec<(String, String, bool)>,
    scheduled_date: String,
}

/// One service-level target as the ticket page shows it.
#[derive(Debug)]
struct SlaBadge {
    target: &'static str,
    state_key: &'static str,
    state_label: &'static str,
    /// When it is (or was) due, shown and as RFC 3339.
    due: Option<(String, String)>,
}

impl SlaBadge {
    fn of(c: &helpdesk_core::sla::TargetCycle) -> Self {
        use helpdesk_core::sla::TargetKind as K;
        let target = match c.kind {
            K::FirstResponse => "First response",
            K::NextResponse => "Next response",
            K::Resolution => "Resolution",
        };
        let (state_key, state_label) = sla_words(c.state);
        Self { target, state_key, state_label, due: c.due_at.map(when) }
    }
}

/// A service-level state's class suffix and the words the pages show for it.
pub(crate) fn sla_words(state: helpdesk_core::sla::TargetState) -> (&'static str, &'static str) {
    use helpdesk_core::sla::TargetState as S;
    match state {
        S::Ok => ("ok", "on track"),
        S::Warning => ("warning", "due soon"),
        S::Breached => ("breached", "breached"),
        S::Met => ("met", "met"),
        S::Paused => ("paused", "paused"),
    }
}

/// An action the ticket page offers: a link to its page, or (`direct`) a one-button form.
#[derive(Debug)]
struct ActionLink {
    href: String,
    label: &'static str,
    direct: bool,
}

/// A priority in words.
pub(crate) fn priority_words(p: helpdesk_core::domain::Priority) -> &'static str {
    use helpdesk_core::domain::Priority;
    match p {
        Priority::Critical => "Critical",
        Priority::High => "High",
        Priority::Medium => "Medium",
        Priority::Low => "Low",
    }
}

pub(crate) async fn ticket_page(
    State(s): State<AppState>,
    who: PageUser,
    Path(number): Path<String>,
    Query(q): Query<TicketQuery>,
) -> Response {
    let flash = if let Some(files) = q.filed.as_deref() {
        let with = match files.parse::<usize>().unwrap_or(0) {
            0 => String::new(),
            1 => " with 1 file".to_owned(),
            n => format!(" with {n} files"),
        };
        Some(format!("Ticket {number} filed{with}. You will get a mail at each step."))
    } else if q.edited.is_some() {
        Some("Details saved.".to_owned())
    } else if q.macro_applied.is_some() {
        Some("Macro applied.".to_owned())
    } else if let Some(from) = q.merged.as_deref().and_then(|n| TicketNumber::parse(n).ok()) {
        Some(format!(
            "{from} was merged into this ticket; its conversation is below and its requester follows this one."
        ))
    } else if let Some(change) = q.links.as_deref() {
        Some(
            if change == "added" { "Link saved on both tickets." } else { "Link taken away from both tickets." }
                .to_owned(),
        )
    } else if let Some(change) = q.followers.as_deref() {
        Some(if change == "added" { "Follower added; they got a mail." } else { "Follower removed." }.to_owned())
    } else if q.stale.is_some() {
        Some("The ticket changed since you opened it; here it is now. Nothing was done.".to_owned())
    } else if let Some(files) = q.commented.as_deref() {
        Some(match files.parse::<usize>().unwrap_or(0) {
            0 => "Comment added.".to_owned(),
            1 => "Comment added with 1 file.".to_owned(),
            n => format!("Comment added with {n} files."),
        })
    } else if let Some(n) = q.uploaded.as_deref().and_then(|n| n.parse::<u32>().ok()) {
        Some(if n == 1 { "File added.".to_owned() } else { format!("{n} files added.") })
    } else {
        q.done
            .as_deref()
            .and_then(super::actions::words_for)
            .map(|w| format!("Done: {}.", super::actions::done_words(w.action)))
    };
    render_ticket(&s, &who, &number, flash, Retyped::Nothing, StatusCode::OK).await
}

/// A form of the ticket page sent back with what was typed and why it was refused.
#[derive(Debug, Default)]
pub(crate) enum Retyped {
    /// Every form empty.
    #[default]
    Nothing,
    /// The comment form.
    Comment { body: String, error: String },
    /// The form adding a follower.
    Follower { email: String, error: String },
    /// The form linking another ticket.
    Link { kind: String, ticket: String, error: String },
    /// The custom fields' form, with its errors by `fields.<key>`.
    Fields { posted: super::fields::Posted, errors: BTreeMap<String, String> },
}

/// The page for a ticket that does not exist or that the visitor may not see (the same
/// words for both: a page never tells whether someone else's ticket exists).
pub(crate) fn missing(s: &AppState, who: &PageUser) -> Response {
    error_page(StatusCode::NOT_FOUND, Layout::of(s, who), "There is no such ticket of yours.")
}

/// The page for a failure of core (its status and words).
pub(crate) fn failed(s: &AppState, who: &PageUser, e: helpdesk_core::Error) -> Response {
    let e = ApiError::from(e);
    error_page(e.status, Layout::of(s, who), &e.detail)
}

/// The ticket page, with an optional message on top and a form sent back with its error.
pub(crate) async fn render_ticket(
    s: &AppState,
    who: &PageUser,
    number: &str,
    flash: Option<String>,
    retyped: Retyped,
    status: StatusCode,
) -> Response {
    let (mut comment, mut comment_error, mut follower_email, mut follower_error) =
        (String::new(), None, String::new(), None);
    let (mut link_kind, mut link_ticket, mut link_error) = (String::new(), String::new(), None);
    let (mut fields_posted, mut field_errors) = (None, BTreeMap::new());
    match retyped {
        Retyped::Fields { posted, errors } => (fields_posted, field_errors) = (Some(posted), errors),
        Retyped::Nothing => {}
        Retyped::Comment { body, error } => (comment, comment_error) = (body, Some(error)),
        Retyped::Follower { email, error } => (follower_email, follower_error) = (email, Some(error)),
        Retyped::Link { kind, ticket, error } => (link_kind, link_ticket, link_error) = (kind, ticket, Some(error)),
    }
    let not_found = || error_page(StatusCode::NOT_FOUND, Layout::of(s, who), "There is no such ticket of yours.");
    let Ok(number) = TicketNumber::parse(number) else { return not_found() };
    let (view, comments, history, attachments, people, requester_email, sla) =
        match s.desk().ticket_thread(&who.principal, &number).await {
            Ok(x) => (x.view, x.comments, x.history, x.attachments, x.people, x.requester_email, x.sla),
            Err(helpdesk_core::Error::NotFound { .. }) => return not_found(),
            Err(e) => {
                let e = ApiError::from(e);
                return error_page(e.status, Layout::of(s, who), &e.detail);
            }
        };
    let t = view.ticket;
    let book = match s.desk().custom_fields(&who.principal).await {
        Ok(f) => f.book,
        Err(e) => return failed(s, who, e),
    };
    // A merged ticket is a pointer: those who may see where it went are sent there.
    if let Some(into) = &t.merged_into
        && s.desk().ticket(&who.principal, into).await.is_ok()
    {
        return Redirect::to(&format!("/tickets/{into}?merged={}", t.number)).into_response();
    }
    let mut links = Vec::with_capacity(t.links.len());
    for l in &t.links {
        let other = s.desk().ticket(&who.principal, &l.ticket).await.ok();
        links.push(LinkRow {
            words: link_words(l.kind),
            number: l.ticket.to_string(),
            subject: other.as_ref().map(|o| o.ticket.subject.to_string()).unwrap_or_default(),
            status: other.as_ref().map_or("", |o| status_label(o.ticket.status)),
        });
    }
    let (created, created_iso) = when(t.created_at);
    let (updated, updated_iso) = when(t.updated_at);
    let number_text = t.number.to_string();
    let mine = t.requester == who.user.id;
    let list = if mine {
        ("My tickets", "/tickets")
    } else if !who.user.role.is_staff() {
        // A colleague's ticket they follow: listed on their home page.
        ("Home", "/")
    } else {
        ("Queue", "/desk")
    };
    let layout = Layout::of(s, who).flash(flash).trail(&[(list.0, Some(list.1)), (&number_text, None)]);
    let is_staff_view = who.user.role.is_staff() && view.sees_internal;
    let staff = is_staff_view.then(|| {
        let requester = people.iter().find(|p| p.id == t.requester);
        StaffFacts {
            requester: requester.map_or_else(|| "(unknown)".to_owned(), |p| p.name.clone()),
            requester_email: requester_email.as_ref().map(ToString::to_string).unwrap_or_default(),
            requester_department: super::department_name(s, requester.and_then(|p| p.department.as_ref()), "None"),
            kinds: super::filing::kind_groups(s),
            kind: format!("{}/{}", t.category, t.sub_category),
            priorities: helpdesk_core::domain::Priority::ALL
                .iter()
                .map(|p| (p.as_str().to_owned(), priority_words(*p), t.priority == Some(*p)))
                .collect(),
            departments: s
                .desk()
                .options()
                .catalog
                .departments
                .iter()
                .map(|d| (d.key.to_string(), d.name.clone(), t.department.as_ref() == Some(&d.key)))
                .collect(),
            scheduled_date: t.scheduled_date.map(|d| d.format("%Y-%m-%d").to_string()).unwrap_or_default(),
        }
    });
    let row = |a: &helpdesk_core::model::Attachment| AttachmentRow {
        href: format!("/attachments/{}", a.id),
        name: a.file_name.as_str().to_owned(),
        size: size_words(a.size),
        image: matches!(a.content_type.as_str(), "image/png" | "image/jpeg"),
    };
    let actions = super::actions::ACTIONS
        .iter()
        .filter(|w| view.actions.contains(&w.action))
        .map(|w| ActionLink {
            href: format!("/tickets/{}/{}", t.number, w.action.as_str()),
            label: w.title,
            direct: w.direct,
        })
        .collect();
    let macros = if staff.is_some() {
        s.desk()
            .macros(&who.principal)
            .await
            .unwrap_or_default()
            .iter()
            .map(|m| (m.id.to_string(), m.name.to_string()))
            .collect()
    } else {
        Vec::new()
    };
    let page_view = TicketPageView {
        layout,
        number: t.number.to_string(),
        subject: t.subject.to_string(),
        status_key: t.status.as_str(),
        status_label: status_label(t.status),
        category: category_name(s, who, t.category.as_str(), t.sub_category.as_str()),
        priority: t.priority.map_or("Not set yet", priority_words).to_owned(),
        department: super::department_name(s, t.department.as_ref(), "Not set yet"),
        assignee: match t.assignee {
            Some(id) if id == who.user.id => "You".to_owned(),
            Some(id) => people.iter().find(|p| p.id == id).map_or_else(|| "Help desk".to_owned(), |p| p.name.clone()),
            None => "Nobody yet".to_owned(),
        },
        created,
        created_iso,
        updated,
        updated_iso,
        needed_on: t.scheduled_date.map(|d| d.format("%Y-%m-%d").to_string()),
        resolved: t.resolved_at.map(when),
        description: t.description.to_string(),
        rejection_reason: t.rejection_reason.clone(),
        actions,
        version: t.version,
        can_note: view.sees_internal,
        staff,
        sla: sla.iter().flat_map(|x| x.targets.iter()).map(SlaBadge::of).collect(),
        satisfaction: t.satisfaction.as_ref().map(|r| {
            (
                r.rating == helpdesk_core::model::Rating::Good,
                r.comment.as_ref().map_or_else(String::new, ToString::to_string),
            )
        }),
        tags: t
            .tags
            .iter()
            .map(|g| {
                let href = who.user.role.is_staff().then(|| format!("/desk?tag={}", super::encode(g.as_str())));
                (g.to_string(), href)
            })
            .collect(),
        can_tag: view.can_tag,
        field_facts: super::fields::facts(&book, &t.fields),
        field_inputs: if is_staff_view && !t.status.is_terminal() {
            super::fields::inputs(&book.active().collect::<Vec<_>>(), &t.fields, fields_posted.as_ref(), &field_errors)
        } else {
            Vec::new()
        },
        macros,
        followers: t
            .followers
            .iter()
            .map(|id| FollowerRow {
                id: id.to_string(),
                name: if *id == who.user.id {
                    "You".to_owned()
                } else {
                    people.iter().find(|p| p.id == *id).map_or_else(|| "(unknown)".to_owned(), |p| p.name.clone())
                },
                other: *id != who.user.id,
                remove_label: if *id == who.user.id {
                    Some("Stop following")
                } else {
                    view.can_manage_followers.then_some("Remove")
                },
            })
            .collect(),
        can_manage_followers: view.can_manage_followers && !t.status.is_terminal(),
        follower_email,
        follower_error,
        links,
        link_kinds: helpdesk_core::model::LinkKind::ALL
            .iter()
            .map(|k| Choice {
                value: k.as_str().to_owned(),
                label: link_words(*k).to_owned(),
                selected: k.as_str() == link_kind,
            })
            .collect(),
        link_ticket,
        link_error,
        merged_into: t.merged_into.as_ref().map(ToString::to_string),
        can_comment: !t.status.is_terminal() || view.sees_internal,
        files_hint: super::attachments::files_hint(s),
        attachments: attachments.iter().filter(|a| a.comment.is_none()).map(row).collect(),
        comment,
        comment_error,
        comments: comments
            .iter()
            .map(|c| {
                let (at, at_iso) = when(c.created_at);
                let files = attachments.iter().filter(|a| a.comment == Some(c.id)).map(row).collect();
                let face = match &c.author {
                    ActorRef::User { id } => people.iter().find(|p| p.id == *id),
                    _ => None,
                };
                CommentRow {
                    internal: c.internal,
                    author: who_wrote(&c.author, who, &people),
                    avatar: face.and_then(|p| super::avatar_url(p.id, p.avatar.as_ref())),
                    initials: face.map_or_else(|| "HD".to_owned(), |p| super::initials(&p.name)),
                    body: c.body.to_string(),
                    at,
                    at_iso,
                    files,
                }
            })
            .collect(),
        history: history_rows(&history, who, &people, &book),
    };
    page(status, &page_view)
}

/// The comment form, `multipart/form-data`: the token, the text, then files. The comment is
/// added when the first file arrives (or at the end); its files are attached to it.
pub(crate) async fn add_comment(
    State(s): State<AppState>,
    who: PageUser,
    Path(number): Path<String>,
    method: Method,
    headers: HeaderMap,
    mut form: Multipart,
) -> Response {
    let Ok(n) = TicketNumber::parse(&number) else {
        return error_page(StatusCode::NOT_FOUND, Layout::of(&s, &who), "There is no such ticket of yours.");
    };
    if let Some(refused) = multipart_allowed(&s, &who, &method, &headers, &mut form).await {
        return refused;
    }
    let mut body = String::new();
    let mut internal = false;
    let mut comment = None;
    let mut files = Stored::default();
    let refused = |e: helpdesk_core::Error, body: String, chosen: bool| {
        let e = ApiError::from(e);
        let mut message = e.first_message();
        if chosen {
            message.push_str(" The files were not kept: choose them again.");
        }
        render_ticket(
            &s,
            &who,
            &number,
            None,
            Retyped::Comment { body, error: message },
            StatusCode::UNPROCESSABLE_ENTITY,
        )
    };
    loop {
        let field = match form.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) => {
                files.cut_short(&e);
                break;
            }
        };
        match field.name() {
            Some("body") => body = field.text().await.unwrap_or_default(),
            Some("internal") => internal = !field.text().await.unwrap_or_default().is_empty(),
            Some("files") => {
                let chosen = field.file_name().is_some_and(|n| !n.is_empty());
                if comment.is_none() {
                    match s.desk().add_comment(&who.principal, &n, &body, internal).await {
                        Ok(c) => comment = Some(c.id),
                        Err(e) => return refused(e, body, chosen).await,
                    }
                }
                files.store(&s, &who, &n, comment, field).await;
            }
            _ => {}
        }
    }
    if comment.is_none()
        && let Err(e) = s.desk().add_comment(&who.principal, &n, &body, internal).await
    {
        return refused(e, body, false).await;
    }
    if files.refusals.is_empty() {
        return Redirect::to(&format!("/tickets/{n}?commented={}", files.count)).into_response();
    }
    let message = format!(
        "Comment added. {} Refused — {}",
        super::attachments::files_added(files.count),
        files.refusals.join("; ")
    );
    render_ticket(&s, &who, &number, Some(message), Retyped::Nothing, StatusCode::OK).await
}
