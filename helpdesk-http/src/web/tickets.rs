//! Tickets in the pages: filing one (the catalogue as one grouped list, field errors next to
//! their fields, an idempotency key per rendered form so a double submit files once) and the
//! ticket page (facts, description, public conversation, history), all through core's use
//! cases, which decide what this visitor may see (another employee's ticket is not found).

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, NaiveDate, Utc};
use helpdesk_core::NewTicket;
use helpdesk_core::domain::TicketNumber;
use helpdesk_core::lifecycle::Action;
use helpdesk_core::model::{ActorRef, EventKind};
use serde::Deserialize;

use super::pages::{form_allowed, status_label};
use super::session::PageUser;
use super::{Layout, error_page, page};
use crate::error::ApiError;
use crate::state::AppState;

fn when(at: DateTime<Utc>) -> (String, String) {
    (at.format("%Y-%m-%d %H:%M UTC").to_string(), at.to_rfc3339())
}

/// One choice of the grouped category list: `category/sub-category`.
#[derive(Debug)]
struct KindOption {
    value: String,
    name: String,
}

#[derive(Debug)]
struct KindGroup {
    name: String,
    options: Vec<KindOption>,
}

/// Field errors of the form, by field.
#[derive(Debug, Default)]
struct FormErrors {
    category: Option<String>,
    subject: Option<String>,
    description: Option<String>,
    scheduled_date: Option<String>,
}

impl FormErrors {
    fn is_empty(&self) -> bool {
        self.category.is_none() && self.subject.is_none() && self.description.is_none() && self.scheduled_date.is_none()
    }
}

#[derive(Template)]
#[template(path = "new_ticket.html")]
struct NewTicketView {
    layout: Layout,
    groups: Vec<KindGroup>,
    idempotency_key: String,
    kind: String,
    subject: String,
    description: String,
    scheduled_date: String,
    errors: FormErrors,
}

/// What the visitor typed (empty for a fresh form).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct NewTicketForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    idempotency_key: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    scheduled_date: String,
}

fn new_ticket_page(s: &AppState, who: &PageUser, f: NewTicketForm, errors: FormErrors, status: StatusCode) -> Response {
    let groups = match s.desk().catalog(&who.principal) {
        Ok(c) => c
            .categories
            .iter()
            .map(|cat| KindGroup {
                name: cat.name.clone(),
                options: cat
                    .sub_categories
                    .iter()
                    .map(|sub| KindOption { value: format!("{}/{}", cat.key, sub.key), name: sub.name.clone() })
                    .collect(),
            })
            .collect(),
        Err(e) => {
            let e = ApiError::from(e);
            return error_page(e.status, Layout::of(s, who), &e.detail);
        }
    };
    let idempotency_key =
        if f.idempotency_key.is_empty() { uuid::Uuid::new_v4().to_string() } else { f.idempotency_key };
    let view = NewTicketView {
        layout: Layout::of(s, who),
        groups,
        idempotency_key,
        kind: f.kind,
        subject: f.subject,
        description: f.description,
        scheduled_date: f.scheduled_date,
        errors,
    };
    page(status, &view)
}

pub(crate) async fn new_ticket_form(State(s): State<AppState>, who: PageUser) -> Response {
    new_ticket_page(&s, &who, NewTicketForm::default(), FormErrors::default(), StatusCode::OK)
}

pub(crate) async fn create_ticket(
    State(s): State<AppState>,
    who: PageUser,
    method: Method,
    headers: HeaderMap,
    Form(f): Form<NewTicketForm>,
) -> Response {
    if let Some(refused) = form_allowed(&s, &who, &method, &headers, &f.csrf) {
        return refused;
    }
    let mut errors = FormErrors::default();
    let (category, sub_category) = f.kind.split_once('/').unwrap_or((f.kind.as_str(), ""));
    let scheduled_date = match f.scheduled_date.trim() {
        "" => None,
        d => match NaiveDate::parse_from_str(d, "%Y-%m-%d") {
            Ok(date) => Some(date),
            Err(_) => {
                errors.scheduled_date = Some("Give the date as year-month-day.".into());
                None
            }
        },
    };
    if !errors.is_empty() {
        return new_ticket_page(&s, &who, f, errors, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let mut new = NewTicket::new(f.subject.clone(), category, sub_category, f.description.clone());
    new.scheduled_date = scheduled_date;
    let key = (!f.idempotency_key.is_empty()).then_some(f.idempotency_key.as_str());
    match s.desk().create_ticket(&who.principal, new, key).await {
        Ok(t) => Redirect::to(&format!("/tickets/{}?filed=1", t.number)).into_response(),
        Err(e) => {
            let e = ApiError::from(e);
            if e.errors.is_empty() {
                return error_page(e.status, Layout::of(&s, &who), &e.detail);
            }
            for fe in &e.errors {
                let slot = match fe.field.as_str() {
                    "category" | "sub_category" => &mut errors.category,
                    "subject" => &mut errors.subject,
                    "description" => &mut errors.description,
                    "scheduled_date" => &mut errors.scheduled_date,
                    _ => &mut errors.description,
                };
                slot.get_or_insert_with(|| fe.message.clone());
            }
            new_ticket_page(&s, &who, f, errors, StatusCode::UNPROCESSABLE_ENTITY)
        }
    }
}

#[derive(Debug)]
struct CommentRow {
    author: String,
    body: String,
    at: String,
    at_iso: String,
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
    created: String,
    created_iso: String,
    description: String,
    rejection_reason: Option<String>,
    comments: Vec<CommentRow>,
    history: Vec<EventRow>,
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

fn who_wrote(actor: &ActorRef, me: &PageUser) -> String {
    match actor {
        ActorRef::User { id } if *id == me.user.id => "You".to_owned(),
        ActorRef::User { .. } => "Help desk".to_owned(),
        ActorRef::ExternalSystem { name, .. } => name.clone(),
        ActorRef::System => "helpdesk".to_owned(),
    }
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
}

pub(crate) async fn ticket_page(
    State(s): State<AppState>,
    who: PageUser,
    Path(number): Path<String>,
    Query(q): Query<TicketQuery>,
) -> Response {
    let not_found = || error_page(StatusCode::NOT_FOUND, Layout::of(&s, &who), "There is no such ticket of yours.");
    let Ok(number) = TicketNumber::parse(&number) else { return not_found() };
    let desk = s.desk();
    let loaded = async {
        let view = desk.ticket(&who.principal, &number).await?;
        let comments = desk.comments(&who.principal, &number).await?;
        let history = desk.history(&who.principal, &number).await?;
        Ok::<_, helpdesk_core::Error>((view, comments, history))
    };
    let (view, comments, history) = match loaded.await {
        Ok(x) => x,
        Err(helpdesk_core::Error::NotFound { .. }) => return not_found(),
        Err(e) => {
            let e = ApiError::from(e);
            return error_page(e.status, Layout::of(&s, &who), &e.detail);
        }
    };
    let t = view.ticket;
    let (created, created_iso) = when(t.created_at);
    let mut layout = Layout::of(&s, &who);
    if q.filed.is_some() {
        layout.flash = Some(format!("Ticket {} filed. You will get a mail at each step.", t.number));
    }
    let page_view = TicketPageView {
        layout,
        number: t.number.to_string(),
        subject: t.subject.to_string(),
        status_key: t.status.as_str(),
        status_label: status_label(t.status),
        category: category_name(&s, &who, &t.category.to_string(), &t.sub_category.to_string()),
        priority: t.priority.map_or_else(|| "Not set yet".to_owned(), |p| p.to_string()),
        created,
        created_iso,
        description: t.description.to_string(),
        rejection_reason: t.rejection_reason.clone(),
        comments: comments
            .iter()
            .map(|c| {
                let (at, at_iso) = when(c.created_at);
                CommentRow { author: who_wrote(&c.author, &who), body: c.body.to_string(), at, at_iso }
            })
            .collect(),
        history: history
            .iter()
            .map(|e| {
                let what = match &e.kind {
                    EventKind::Action { action } => action_words(*action).to_owned(),
                    EventKind::Edited => "Edited".to_owned(),
                    EventKind::Commented { .. } => format!("Comment by {}", who_wrote(&e.actor, &who)),
                    EventKind::AttachmentAdded { .. } => "Attachment added".to_owned(),
                };
                let (at, at_iso) = when(e.at);
                EventRow { what, at, at_iso }
            })
            .collect(),
    };
    page(StatusCode::OK, &page_view)
}
