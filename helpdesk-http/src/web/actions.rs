//! Lifecycle actions from the pages, for requesters and staff alike: each action has a page
//! that asks for what the action needs (priority and department to accept, a staff member to
//! assign, a reason, a note, a question) and confirms it; actions that need nothing and undo
//! nothing (claim, resume) are one button. Core decides who may do what: a page only offers
//! what the ticket's view lists, and a stale page (someone acted first) says so.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use helpdesk_core::ActionRequest;
use helpdesk_core::domain::{Priority, TicketNumber, UserId};
use helpdesk_core::lifecycle::{Action, Input};
use serde::Deserialize;

use super::pages::form_allowed;
use super::session::PageUser;
use super::{Choice, Layout, error_page, page};
use crate::error::ApiError;
use crate::state::AppState;

/// What the pages say about an action.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ActionWords {
    pub(crate) action: Action,
    /// The button and the confirmation page's title.
    pub(crate) title: &'static str,
    /// What it does, said on the confirmation page.
    explanation: &'static str,
    /// The label of its text, if it takes one.
    text_label: Option<&'static str>,
    /// True when it needs no input and changes nothing that cannot be changed back: a button.
    pub(crate) direct: bool,
}

/// Every action the pages offer, in the order they are shown.
pub(crate) const ACTIONS: &[ActionWords] = &[
    ActionWords {
        action: Action::Approve,
        title: "Accept",
        explanation: "Accepting puts the ticket in the queue with a priority, owned by a department (proposed from its category).",
        text_label: None,
        direct: false,
    },
    ActionWords {
        action: Action::Reject,
        title: "Reject",
        explanation: "Rejecting ends the ticket. The requester gets the reason by mail.",
        text_label: Some("Reason (sent to the requester)"),
        direct: false,
    },
    ActionWords {
        action: Action::Claim,
        title: "Take it",
        explanation: "Taking the ticket makes you its assignee and starts the work.",
        text_label: None,
        direct: true,
    },
    ActionWords {
        action: Action::Assign,
        title: "Assign",
        explanation: "Give the ticket to a member of the help desk; they get a mail.",
        text_label: None,
        direct: false,
    },
    ActionWords {
        action: Action::AwaitRequester,
        title: "Ask the requester",
        explanation: "Your question is added to the conversation and mailed to the requester; the ticket waits for the answer.",
        text_label: Some("Question"),
        direct: false,
    },
    ActionWords {
        action: Action::Hold,
        title: "Put on hold",
        explanation: "The ticket waits for something outside the help desk (a delivery, another team).",
        text_label: Some("Note: what it waits for"),
        direct: false,
    },
    ActionWords {
        action: Action::Resume,
        title: "Resume",
        explanation: "Work on the ticket continues.",
        text_label: None,
        direct: true,
    },
    ActionWords {
        action: Action::Resolve,
        title: "Resolve",
        explanation: "Resolving tells the requester the problem is solved; they can close or reopen it.",
        text_label: Some("Resolution (sent to the requester)"),
        direct: false,
    },
    ActionWords {
        action: Action::Close,
        title: "Close the ticket",
        explanation: "Closing says the problem is solved for you. The ticket cannot be reopened afterwards.",
        text_label: Some("Comment (optional)"),
        direct: false,
    },
    ActionWords {
        action: Action::Reopen,
        title: "Reopen",
        explanation: "Reopening sends the ticket back to the help desk. Say what is still wrong.",
        text_label: Some("Why reopen it?"),
        direct: false,
    },
    ActionWords {
        action: Action::Withdraw,
        title: "Withdraw",
        explanation: "Withdrawing tells the help desk you no longer need this. It cannot be undone.",
        text_label: Some("Comment (optional)"),
        direct: false,
    },
];

/// The action named in a URL segment (`await_requester`, …).
pub(crate) fn words_for(name: &str) -> Option<&'static ActionWords> {
    ACTIONS.iter().find(|w| w.action.as_str() == name)
}

/// What an action did, for the message after it.
pub(crate) fn done_words(a: Action) -> &'static str {
    match a {
        Action::Submit => "filed",
        Action::Approve => "accepted",
        Action::Reject => "rejected",
        Action::Claim => "taken on",
        Action::Assign => "assigned",
        Action::Hold => "put on hold",
        Action::AwaitRequester => "question sent",
        Action::Resume => "resumed",
        Action::Resolve => "resolved",
        Action::Reopen => "reopened",
        Action::Close => "closed",
        Action::Withdraw => "withdrawn",
    }
}

#[derive(Template)]
#[template(path = "confirm_action.html")]
struct ConfirmView {
    layout: Layout,
    number: String,
    subject: String,
    action: &'static str,
    title: &'static str,
    explanation: &'static str,
    text_label: Option<&'static str>,
    text_required: bool,
    text: String,
    priorities: Vec<Choice>,
    departments: Vec<Choice>,
    assignees: Vec<Choice>,
    version: u64,
    error: Option<String>,
    /// A parent's child tickets still open ("TX0003, TX0007"), when staff resolve it.
    open_children: Option<String>,
    /// "Resolve it anyway" was ticked.
    force: bool,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct ActionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    version: u64,
    #[serde(default)]
    priority: String,
    #[serde(default)]
    department: String,
    #[serde(default)]
    assignee: String,
    /// `yes` to resolve a parent whose children are open.
    #[serde(default)]
    force: String,
}

use super::tickets::missing as not_found;

async fn confirm_page(
    s: &AppState,
    who: &PageUser,
    number: &str,
    name: &str,
    f: ActionForm,
    error: Option<String>,
) -> Response {
    let (Some(words), Ok(n)) = (words_for(name), TicketNumber::parse(number)) else { return not_found(s, who) };
    let view = match s.desk().ticket(&who.principal, &n).await {
        Ok(v) => v,
        Err(helpdesk_core::Error::NotFound { .. }) => return not_found(s, who),
        Err(e) => {
            let e = ApiError::from(e);
            return error_page(e.status, Layout::of(s, who), &e.detail);
        }
    };
    if !view.actions.contains(&words.action) {
        return Redirect::to(&format!("/tickets/{n}?stale=1")).into_response();
    }
    let t = &view.ticket;
    let needs = words.action.intrinsic_input();
    let priorities = if needs.contains(&Input::Priority) {
        let current =
            if f.priority.is_empty() { t.priority.map(|p| p.as_str().to_owned()) } else { Some(f.priority.clone()) };
        Priority::ALL
            .iter()
            .map(|p| Choice {
                value: p.as_str().to_owned(),
                label: super::tickets::priority_words(*p).to_owned(),
                selected: current.as_deref().unwrap_or("medium") == p.as_str(),
            })
            .collect()
    } else {
        Vec::new()
    };
    let departments = if needs.contains(&Input::Department) {
        let current = if f.department.is_empty() {
            t.department.as_ref().map(ToString::to_string).unwrap_or_default()
        } else {
            f.department.clone()
        };
        s.desk()
            .options()
            .catalog
            .departments
            .iter()
            .map(|d| Choice { value: d.key.to_string(), label: d.name.clone(), selected: d.key.as_str() == current })
            .collect()
    } else {
        Vec::new()
    };
    let assignees = if needs.contains(&Input::Assignee) {
        match s.desk().list_staff(&who.principal).await {
            Ok(staff) => staff
                .into_iter()
                .map(|u| Choice {
                    selected: u.id.to_string() == f.assignee || (f.assignee.is_empty() && t.assignee == Some(u.id)),
                    value: u.id.to_string(),
                    label: u.name,
                })
                .collect(),
            Err(e) => {
                let e = ApiError::from(e);
                return error_page(e.status, Layout::of(s, who), &e.detail);
            }
        }
    } else {
        Vec::new()
    };
    let open_children = if words.action == Action::Resolve && view.sees_internal {
        let open = s.desk().open_children(t).await.unwrap_or_default();
        (!open.is_empty()).then(|| open.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "))
    } else {
        None
    };
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let (number_text, href) = (n.to_string(), format!("/tickets/{n}"));
    let list = if who.user.role.is_staff() { ("Queue", "/desk") } else { ("My tickets", "/tickets") };
    let layout = Layout::of(s, who).trail(&[(list.0, Some(list.1)), (&number_text, Some(&href)), (words.title, None)]);
    let text_required = needs.iter().any(|i| matches!(i, Input::Reason | Input::Note | Input::Comment));
    page(
        status,
        &ConfirmView {
            layout,
            number: number_text,
            subject: t.subject.to_string(),
            action: words.action.as_str(),
            title: words.title,
            explanation: words.explanation,
            text_label: words.text_label,
            text_required,
            text: f.text,
            priorities,
            departments,
            assignees,
            version: t.version,
            error,
            open_children,
            force: f.force == "yes",
        },
    )
}

pub(crate) async fn action_form(
    State(s): State<AppState>,
    who: PageUser,
    Path((number, name)): Path<(String, String)>,
) -> Response {
    confirm_page(&s, &who, &number, &name, ActionForm::default(), None).await
}

pub(crate) async fn act(
    State(s): State<AppState>,
    who: PageUser,
    Path((number, name)): Path<(String, String)>,
    method: Method,
    headers: HeaderMap,
    Form(f): Form<ActionForm>,
) -> Response {
    if let Some(refused) = form_allowed(&s, &who, &method, &headers, &f.csrf) {
        return refused;
    }
    let (Some(words), Ok(n)) = (words_for(&name), TicketNumber::parse(&number)) else { return not_found(&s, &who) };
    let text = f.text.trim();
    let mut req = if text.is_empty() { ActionRequest::default() } else { ActionRequest::text(text) };
    if !f.priority.is_empty() {
        match Priority::parse(&f.priority) {
            Ok(p) => req.priority = Some(p),
            Err(_) => return confirm_page(&s, &who, &number, &name, f, Some("Choose a priority.".into())).await,
        }
    }
    if !f.department.is_empty() {
        req.department = Some(f.department.clone());
    }
    req.force = f.force == "yes";
    if !f.assignee.is_empty() {
        match f.assignee.parse::<uuid::Uuid>() {
            Ok(id) => req.assignee = Some(UserId::from_uuid(id)),
            Err(_) => return confirm_page(&s, &who, &number, &name, f, Some("Choose who takes it.".into())).await,
        }
    }
    match s.desk().act(&who.principal, &n, words.action, req, Some(f.version)).await {
        Ok(_) => Redirect::to(&format!("/tickets/{n}?done={}", words.action.as_str())).into_response(),
        Err(helpdesk_core::Error::VersionConflict { .. } | helpdesk_core::Error::InvalidTransition { .. }) => {
            Redirect::to(&format!("/tickets/{n}?stale=1")).into_response()
        }
        Err(helpdesk_core::Error::NotFound { .. }) => not_found(&s, &who),
        Err(e) => {
            let e = ApiError::from(e);
            if e.errors.is_empty() && e.status != StatusCode::FORBIDDEN {
                return error_page(e.status, Layout::of(&s, &who), &e.detail);
            }
            let message = e.first_message();
            confirm_page(&s, &who, &number, &name, f, Some(message)).await
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct TagForm {
    #[serde(default)]
    csrf: String,
    /// Tags to add, comma-separated.
    #[serde(default)]
    add: String,
    /// One tag to take away.
    #[serde(default)]
    remove: String,
}

/// Adds or removes tags (the ticket page's tag controls). Adding and removing leave the other
/// tags alone, so two people tagging one ticket at once do not undo each other.
pub(crate) async fn tags(
    State(s): State<AppState>,
    who: PageUser,
    Path(number): Path<String>,
    method: Method,
    headers: HeaderMap,
    Form(f): Form<TagForm>,
) -> Response {
    if let Some(refused) = form_allowed(&s, &who, &method, &headers, &f.csrf) {
        return refused;
    }
    let Ok(n) = TicketNumber::parse(&number) else { return not_found(&s, &who) };
    let e = helpdesk_core::TicketEdit {
        add_tags: f.add.split(',').filter(|g| !g.trim().is_empty()).map(str::to_owned).collect(),
        remove_tags: Some(f.remove).filter(|g| !g.trim().is_empty()).into_iter().collect(),
        ..helpdesk_core::TicketEdit::default()
    };
    if e.add_tags.is_empty() && e.remove_tags.is_empty() {
        return Redirect::to(&format!("/tickets/{n}")).into_response();
    }
    match s.desk().edit_ticket(&who.principal, &n, e, None).await {
        Ok(_) => Redirect::to(&format!("/tickets/{n}?edited=1")).into_response(),
        Err(helpdesk_core::Error::NotFound { .. }) => not_found(&s, &who),
        Err(helpdesk_core::Error::VersionConflict { .. }) => {
            Redirect::to(&format!("/tickets/{n}?stale=1")).into_response()
        }
        Err(err) => {
            let err = ApiError::from(err);
            let message = err.first_message();
            super::tickets::render_ticket(
                &s,
                &who,
                &number,
                Some(format!("The tags were not changed: {message}")),
                super::tickets::Retyped::Nothing,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct EditForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    version: u64,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    priority: String,
    #[serde(default)]
    department: String,
    #[serde(default)]
    scheduled_date: String,
}

/// Staff's edits of a ticket's details (what the policy allows them: category, priority,
/// department, date). Only what changed is sent to core, so a field the policy keeps from
/// this user is refused only when they try to change it.
pub(crate) async fn edit(
    State(s): State<AppState>,
    who: PageUser,
    Path(number): Path<String>,
    method: Method,
    headers: HeaderMap,
    Form(f): Form<EditForm>,
) -> Response {
    if let Some(refused) = form_allowed(&s, &who, &method, &headers, &f.csrf) {
        return refused;
    }
    let Ok(n) = TicketNumber::parse(&number) else { return not_found(&s, &who) };
    let t = match s.desk().ticket(&who.principal, &n).await {
        Ok(v) => v.ticket,
        Err(helpdesk_core::Error::NotFound { .. }) => return not_found(&s, &who),
        Err(e) => return ApiError::from(e).into_response(),
    };
    let refuse = |message: String| {
        let (s, who, number) = (s.clone(), who.clone(), number.clone());
        async move {
            super::tickets::render_ticket(
                &s,
                &who,
                &number,
                Some(message),
                super::tickets::Retyped::Nothing,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    };
    let mut e = helpdesk_core::TicketEdit::default();
    if let Some((c, sub)) = f.kind.split_once('/')
        && (c != t.category.as_str() || sub != t.sub_category.as_str())
    {
        e.category = Some((c.to_owned(), sub.to_owned()));
    }
    if !f.priority.is_empty() && Some(f.priority.as_str()) != t.priority.map(|p| p.as_str()) {
        match Priority::parse(&f.priority) {
            Ok(p) => e.priority = Some(p),
            Err(_) => return refuse("Choose a priority from the list.".into()).await,
        }
    }
    if !f.department.is_empty() && Some(f.department.as_str()) != t.department.as_ref().map(|d| d.as_str()) {
        e.department = Some(f.department.clone());
    }
    let date = f.scheduled_date.trim();
    let current = t.scheduled_date.map(|d| d.format("%Y-%m-%d").to_string()).unwrap_or_default();
    if date != current {
        e.scheduled_date = Some(if date.is_empty() {
            None
        } else {
            match chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d") {
                Ok(d) => Some(d),
                Err(_) => return refuse("Give the date as year-month-day.".into()).await,
            }
        });
    }
    let nothing = e.category.is_none() && e.priority.is_none() && e.department.is_none() && e.scheduled_date.is_none();
    if nothing {
        return Redirect::to(&format!("/tickets/{n}")).into_response();
    }
    match s.desk().edit_ticket(&who.principal, &n, e, Some(f.version)).await {
        Ok(_) => Redirect::to(&format!("/tickets/{n}?edited=1")).into_response(),
        Err(helpdesk_core::Error::VersionConflict { .. }) => {
            Redirect::to(&format!("/tickets/{n}?stale=1")).into_response()
        }
        Err(err) => {
            let err = ApiError::from(err);
            let message = err.errors.first().map_or(err.detail.clone(), |f| format!("{}: {}", f.field, f.message));
            refuse(format!("Nothing was changed. {message}")).await
        }
    }
}
