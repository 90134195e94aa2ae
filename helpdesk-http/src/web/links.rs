//! The ticket page's linked tickets (staff): link another ticket by number, take a link away,
//! and merge a duplicate into another ticket after a confirmation page that says what moves
//! and that a merge is not undone. Core checks everything; refusals come back on the form.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use helpdesk_core::domain::TicketNumber;
use helpdesk_core::model::LinkKind;
use serde::Deserialize;

use super::pages::{form_allowed, status_label};
use super::session::PageUser;
use super::tickets::{Retyped, render_ticket};
use super::{Layout, page};
use crate::error::ApiError;
use crate::state::AppState;

use super::tickets::missing as not_found;

#[derive(Debug, Default, Deserialize)]
pub(crate) struct LinkForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    ticket: String,
}

/// `POST /tickets/{number}/links`.
pub(crate) async fn add(
    State(s): State<AppState>,
    who: PageUser,
    Path(number): Path<String>,
    method: Method,
    headers: HeaderMap,
    Form(f): Form<LinkForm>,
) -> Response {
    if let Some(refused) = form_allowed(&s, &who, &method, &headers, &f.csrf) {
        return refused;
    }
    let Ok(n) = TicketNumber::parse(&number) else { return not_found(&s, &who) };
    let result = match LinkKind::parse(&f.kind) {
        Some(kind) => s.desk().link_tickets(&who.principal, &n, kind, &f.ticket, None).await,
        None => Err(helpdesk_core::FieldError::new("kind", "invalid", "choose how the tickets relate").into()),
    };
    match result {
        Ok(_) => Redirect::to(&format!("/tickets/{n}?links=added")).into_response(),
        Err(helpdesk_core::Error::NotFound { .. }) => not_found(&s, &who),
        Err(err) => {
            let error = ApiError::from(err).first_message();
            let retyped = Retyped::Link { kind: f.kind, ticket: f.ticket, error };
            render_ticket(&s, &who, &number, None, retyped, StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

/// `POST /tickets/{number}/links/{other}/remove`.
pub(crate) async fn remove(
    State(s): State<AppState>,
    who: PageUser,
    Path((number, other)): Path<(String, String)>,
    method: Method,
    headers: HeaderMap,
    Form(f): Form<super::TokenForm>,
) -> Response {
    if let Some(refused) = form_allowed(&s, &who, &method, &headers, &f.csrf) {
        return refused;
    }
    let (Ok(n), Ok(o)) = (TicketNumber::parse(&number), TicketNumber::parse(&other)) else {
        return not_found(&s, &who);
    };
    match s.desk().unlink_tickets(&who.principal, &n, &o, None).await {
        Ok(_) => Redirect::to(&format!("/tickets/{n}?links=removed")).into_response(),
        Err(helpdesk_core::Error::NotFound { what: "ticket" }) => not_found(&s, &who),
        Err(err) => {
            let flash = Some(format!("The link was not taken away: {}", ApiError::from(err).first_message()));
            render_ticket(&s, &who, &number, flash, Retyped::Nothing, StatusCode::CONFLICT).await
        }
    }
}

#[derive(Template)]
#[template(path = "merge.html")]
struct MergeView {
    layout: Layout,
    number: String,
    subject: String,
    status: &'static str,
    comments: String,
    into: String,
    into_subject: String,
    into_status: &'static str,
    version: u64,
    note: String,
    error: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct MergeQuery {
    #[serde(default)]
    into: String,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct MergeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    into: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    version: u64,
}

/// The confirmation page: both tickets, what moves, the note.
async fn merge_page(
    s: &AppState,
    who: &PageUser,
    number: &str,
    into: &str,
    note: String,
    error: Option<String>,
) -> Response {
    if let Some(refused) = super::staff_only(s, who) {
        return refused;
    }
    let Ok(n) = TicketNumber::parse(number) else { return not_found(s, who) };
    let dup = match s.desk().ticket(&who.principal, &n).await {
        Ok(v) => v.ticket,
        Err(_) => return not_found(s, who),
    };
    let refuse = |message: String| async move {
        let retyped = Retyped::Nothing;
        render_ticket(s, who, number, Some(message), retyped, StatusCode::UNPROCESSABLE_ENTITY).await
    };
    let keep = match TicketNumber::parse(into.trim()) {
        Ok(k) if k == n => return refuse("A ticket cannot be merged into itself.".into()).await,
        Ok(k) => match s.desk().ticket(&who.principal, &k).await {
            Ok(v) => v.ticket,
            Err(_) => return refuse(format!("There is no ticket {} you can see.", into.trim())).await,
        },
        Err(_) => return refuse("Type the number of the ticket to merge into, like TX0042.".into()).await,
    };
    let comments = s.desk().comments(&who.principal, &n).await.map(|c| c.len()).unwrap_or(0);
    let (number_text, href) = (n.to_string(), format!("/tickets/{n}"));
    let layout = Layout::of(s, who).trail(&[("Queue", Some("/desk")), (&number_text, Some(&href)), ("Merge", None)]);
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    page(
        status,
        &MergeView {
            layout,
            number: number_text,
            subject: dup.subject.to_string(),
            status: status_label(dup.status),
            comments: match comments {
                0 => "no comments".to_owned(),
                1 => "1 comment".to_owned(),
                c => format!("{c} comments"),
            },
            into: keep.number.to_string(),
            into_subject: keep.subject.to_string(),
            into_status: status_label(keep.status),
            version: dup.version,
            note: if note.is_empty() {
                format!("This is the same request as {}; we go on there.", keep.number)
            } else {
                note
            },
            error,
        },
    )
}

/// `GET /tickets/{number}/merge?into=…`.
pub(crate) async fn merge_form(
    State(s): State<AppState>,
    who: PageUser,
    Path(number): Path<String>,
    Query(q): Query<MergeQuery>,
) -> Response {
    merge_page(&s, &who, &number, &q.into, String::new(), None).await
}

/// `POST /tickets/{number}/merge`: merges, and goes to the ticket that goes on.
pub(crate) async fn merge(
    State(s): State<AppState>,
    who: PageUser,
    Path(number): Path<String>,
    method: Method,
    headers: HeaderMap,
    Form(f): Form<MergeForm>,
) -> Response {
    if let Some(refused) = form_allowed(&s, &who, &method, &headers, &f.csrf) {
        return refused;
    }
    let Ok(n) = TicketNumber::parse(&number) else { return not_found(&s, &who) };
    match s.desk().merge_ticket(&who.principal, &n, &f.into, &f.note, Some(f.version)).await {
        Ok(kept) => Redirect::to(&format!("/tickets/{}?merged={n}", kept.number)).into_response(),
        Err(helpdesk_core::Error::VersionConflict { .. }) => {
            Redirect::to(&format!("/tickets/{n}?stale=1")).into_response()
        }
        Err(helpdesk_core::Error::NotFound { .. }) => not_found(&s, &who),
        Err(err) => {
            let message = ApiError::from(err).first_message();
            merge_page(&s, &who, &number, &f.into, f.note, Some(message)).await
        }
    }
}
