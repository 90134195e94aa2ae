//! The queue's bulk change: tick tickets in the queue (or take every ticket of the view, at
//! most 1,000), say which tags to add or take away (or a priority), or pick a macro, and apply; core changes each ticket in its own unit of work and the page
//! that follows lists what happened to each. The form carries an idempotency key made when
//! the queue was drawn, so a form sent twice (a double click, a reload of the answer) changes
//! nothing the second time.

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use helpdesk_core::domain::{MacroId, Priority, TicketNumber};
use helpdesk_core::{BulkChange, BulkOutcome, TicketEdit};

use super::pages::form_allowed;
use super::session::PageUser;
use super::{Layout, error_page, page};
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "bulk_done.html")]
struct BulkDoneView {
    layout: Layout,
    changed: usize,
    total: usize,
    /// (number, what happened, refused?)
    rows: Vec<(String, String, bool)>,
    back: String,
}

/// The queue view to go back to: one of the queue's own addresses, nothing else.
fn back_to(v: &str) -> String {
    if v == "/desk" || v.starts_with("/desk?") { v.to_owned() } else { "/desk".to_owned() }
}

/// Applies the queue's bulk form.
pub(crate) async fn bulk(
    State(s): State<AppState>,
    who: PageUser,
    method: Method,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let field = |k: &str| pairs.iter().find(|(n, _)| n == k).map_or("", |(_, v)| v.as_str());
    if let Some(refused) = form_allowed(&s, &who, &method, &headers, field("csrf")) {
        return refused;
    }
    if !who.user.role.is_staff() {
        return error_page(StatusCode::NOT_FOUND, Layout::of(&s, &who), "There is no page at this address.");
    }
    let back = back_to(field("back"));
    let refuse = |message: &str| error_page(StatusCode::UNPROCESSABLE_ENTITY, Layout::of(&s, &who), message);
    let numbers: Vec<TicketNumber> =
        pairs.iter().filter(|(k, _)| k == "number").filter_map(|(_, v)| TicketNumber::parse(v).ok()).collect();
    let every = field("scope") == "all";
    if numbers.is_empty() && !every {
        return refuse("Tick at least one ticket in the queue, then apply the change.");
    }
    let split = |v: &str| v.split(',').filter(|g| !g.trim().is_empty()).map(str::to_owned).collect::<Vec<_>>();
    let priority = match field("priority") {
        "" => None,
        p => match Priority::parse(p) {
            Ok(p) => Some(p),
            Err(_) => return refuse("Choose a priority from the list."),
        },
    };
    let edit = TicketEdit {
        add_tags: split(field("add")),
        remove_tags: split(field("remove")),
        priority,
        ..TicketEdit::default()
    };
    let change = match field("macro") {
        "" if edit.is_empty() => {
            return refuse("Say what to change: tags to add or take away, a priority, or a macro.");
        }
        "" => BulkChange::Edit(edit),
        _ if !edit.is_empty() => return refuse("A macro goes alone: leave the tags and the priority empty."),
        m => match m.parse::<MacroId>() {
            Ok(id) => BulkChange::Macro(id),
            Err(_) => return refuse("Choose a macro from the list."),
        },
    };
    let key = Some(field("idempotency")).filter(|k| !k.is_empty());
    let done = if every {
        // The view's filters as the form carried them (the queue's own address parameters).
        let params: Vec<(String, String)> = serde_urlencoded::from_str(field("filters")).unwrap_or_default();
        match super::desk::query_of(&s, &who, &params).await {
            Ok(query) => s.desk().bulk_change_matching(&who.principal, &query, &change, key).await,
            Err(why) => return refuse(&format!("{why} Nothing was changed.")),
        }
    } else {
        s.desk().bulk_change(&who.principal, &numbers, &change, key).await
    };
    let done = match done {
        Ok(d) => d,
        Err(e) => {
            let e = ApiError::from(e);
            let message = e.first_message();
            return refuse(&format!("Nothing was changed: {message}"));
        }
    };
    let rows = done
        .items
        .iter()
        .map(|i| match &i.outcome {
            BulkOutcome::Changed { .. } => (i.number.clone(), "Changed".to_owned(), false),
            BulkOutcome::Unchanged => (i.number.clone(), "Already so; nothing to change".to_owned(), false),
            BulkOutcome::Refused { message, .. } => (i.number.clone(), format!("Not changed: {message}"), true),
        })
        .collect();
    let view = BulkDoneView {
        layout: Layout::of(&s, &who).trail(&[("Queue", Some(back.as_str())), ("Changed tickets", None)]),
        changed: done.changed(),
        total: done.items.len(),
        rows,
        back,
    };
    page(StatusCode::OK, &view)
}
