//! In-app notifications: `/notifications` lists the signed-in user's newest notices (what
//! happened to which ticket, never its content), each opening its ticket; one or all are
//! marked read. The bell in the header shows the unread count, kept live by [`super::live`].

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use helpdesk_core::domain::{NoticeId, TicketNumber};
use helpdesk_core::model::{Notice, NoticeKind};
use serde::Deserialize;

use super::pages::{form_allowed, status_label};
use super::session::PageUser;
use super::{Layout, error_page, page, when};
use crate::error::ApiError;
use crate::state::AppState;

/// How many notices the page shows.
const SHOWN: usize = 50;

#[derive(Debug)]
struct NoticeRow {
    id: String,
    number: String,
    subject: String,
    what: String,
    unread: bool,
    at: String,
    at_iso: String,
}

/// What a notice says, in the words its reader's pages use.
fn what(n: &Notice, staff: bool) -> String {
    match n.kind {
        NoticeKind::StatusChanged { status } if staff => {
            format!("Now: {}", super::desk::staff_status(status).to_lowercase())
        }
        NoticeKind::StatusChanged { status } => format!("Now: {}", status_label(status).to_lowercase()),
        NoticeKind::Commented => "A new reply".to_owned(),
        NoticeKind::Assigned => "Assigned to you".to_owned(),
        NoticeKind::RequesterAnswered => "The requester answered".to_owned(),
        NoticeKind::NewTicket => "New in your department".to_owned(),
        NoticeKind::Rated { rating } => format!("The requester rated it {rating}"),
    }
}

#[derive(Template)]
#[template(path = "notices.html")]
struct NoticesView {
    layout: Layout,
    rows: Vec<NoticeRow>,
    unread: u64,
    staff: bool,
}

pub(crate) async fn notices(State(s): State<AppState>, who: PageUser) -> Response {
    let list = match s.desk().notices(&who.principal, SHOWN).await {
        Ok(l) => l,
        Err(e) => {
            let e = ApiError::from(e);
            return error_page(e.status, Layout::of(&s, &who), &e.detail);
        }
    };
    let staff = who.user.role.is_staff();
    let rows = list
        .iter()
        .map(|n| {
            let (at, at_iso) = when(n.created_at);
            NoticeRow {
                id: n.id.to_string(),
                number: n.number.clone(),
                subject: n.subject.clone(),
                what: what(n, staff),
                unread: n.read_at.is_none(),
                at,
                at_iso,
            }
        })
        .collect();
    let unread = who.unread;
    let layout = Layout::of(&s, &who).trail(&[("Notifications", None)]);
    page(StatusCode::OK, &NoticesView { layout, rows, unread, staff })
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct NoticeForm {
    #[serde(default)]
    csrf: String,
    /// The ticket to open after marking read (`open`).
    #[serde(default)]
    ticket: String,
}

/// `POST /notifications/read`: marks every notice read.
pub(crate) async fn mark_all_read(
    State(s): State<AppState>,
    who: PageUser,
    method: Method,
    headers: HeaderMap,
    Form(f): Form<NoticeForm>,
) -> Response {
    if let Some(refused) = form_allowed(&s, &who, &method, &headers, &f.csrf) {
        return refused;
    }
    match s.desk().mark_notices_read(&who.principal, None).await {
        Ok(_) => Redirect::to("/notifications").into_response(),
        Err(e) => error_page(ApiError::from(e).status, Layout::of(&s, &who), "Nothing was marked read; try again."),
    }
}

/// `POST /notifications/{id}/read` marks one read; `…/open` also goes to its ticket.
pub(crate) async fn mark_read(
    State(s): State<AppState>,
    who: PageUser,
    Path((id, action)): Path<(String, String)>,
    method: Method,
    headers: HeaderMap,
    Form(f): Form<NoticeForm>,
) -> Response {
    if let Some(refused) = form_allowed(&s, &who, &method, &headers, &f.csrf) {
        return refused;
    }
    let not_found = || error_page(StatusCode::NOT_FOUND, Layout::of(&s, &who), "There is no such notification.");
    let Ok(id) = id.parse::<NoticeId>() else { return not_found() };
    let target = match action.as_str() {
        "read" => "/notifications".to_owned(),
        "open" => match TicketNumber::parse(&f.ticket) {
            Ok(n) => format!("/tickets/{n}"),
            Err(_) => return not_found(),
        },
        _ => return not_found(),
    };
    match s.desk().mark_notices_read(&who.principal, Some(id)).await {
        Ok(_) => Redirect::to(&target).into_response(),
        Err(e) => error_page(ApiError::from(e).status, Layout::of(&s, &who), "Nothing was marked read; try again."),
    }
}
