//! Filing a ticket from the pages: the catalogue as one grouped list, field errors next to
//! their fields, several files in the same form, and an idempotency key per rendered form so a
//! double submit files once (and stores its files once).

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Multipart, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::NaiveDate;
use helpdesk_core::{Filed, NewTicket};

use super::attachments::Stored;
use super::pages::multipart_allowed;
use super::session::PageUser;
use super::tickets::render_ticket;
use super::{Layout, page};
use crate::error::ApiError;
use crate::state::AppState;

/// One choice of the grouped category list: `category/sub-category`.
#[derive(Debug)]
pub(crate) struct KindOption {
    pub(crate) value: String,
    pub(crate) name: String,
}

/// A category with its sub-categories.
#[derive(Debug)]
pub(crate) struct KindGroup {
    pub(crate) name: String,
    pub(crate) options: Vec<KindOption>,
}

/// Field errors of the form, by field.
#[derive(Debug, Default)]
struct FormErrors {
    category: Option<String>,
    subject: Option<String>,
    description: Option<String>,
    scheduled_date: Option<String>,
    /// Custom fields' errors by `fields.<key>`.
    fields: BTreeMap<String, String>,
}

impl FormErrors {
    fn is_empty(&self) -> bool {
        self.category.is_none()
            && self.subject.is_none()
            && self.description.is_none()
            && self.scheduled_date.is_none()
            && self.fields.is_empty()
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
    /// The custom fields the requester sets.
    field_inputs: Vec<super::fields::FieldInput>,
    files_hint: String,
    /// Files were chosen but the ticket was refused: browsers cannot keep them in the form.
    files_again: bool,
}

/// What the visitor typed (empty for a fresh form).
#[derive(Debug, Default)]
pub(crate) struct NewTicketForm {
    idempotency_key: String,
    kind: String,
    subject: String,
    description: String,
    scheduled_date: String,
    /// Custom field values as typed.
    fields: super::fields::Posted,
}

/// The catalogue as one grouped list of `category/sub-category` choices.
pub(crate) fn kind_groups(s: &AppState) -> Vec<KindGroup> {
    s.desk()
        .options()
        .catalog
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
        .collect()
}

async fn new_ticket_page(
    s: &AppState,
    who: &PageUser,
    f: NewTicketForm,
    errors: FormErrors,
    files_again: bool,
    status: StatusCode,
) -> Response {
    let groups = kind_groups(s);
    let book = s.desk().custom_fields(&who.principal).await.map(|f| f.book).unwrap_or_default();
    let defs: Vec<_> = book.active().filter(|d| d.requester_sets && !d.internal).collect();
    let field_inputs = super::fields::inputs(&defs, &Default::default(), Some(&f.fields), &errors.fields);
    let idempotency_key =
        if f.idempotency_key.is_empty() { uuid::Uuid::new_v4().to_string() } else { f.idempotency_key };
    let view = NewTicketView {
        layout: Layout::of(s, who).trail(&[("My tickets", Some("/tickets")), ("New ticket", None)]),
        groups,
        idempotency_key,
        kind: f.kind,
        subject: f.subject,
        description: f.description,
        scheduled_date: f.scheduled_date,
        errors,
        field_inputs,
        files_hint: super::attachments::files_hint(s),
        files_again,
    };
    page(status, &view)
}

pub(crate) async fn new_ticket_form(State(s): State<AppState>, who: PageUser) -> Response {
    new_ticket_page(&s, &who, NewTicketForm::default(), FormErrors::default(), false, StatusCode::OK).await
}

/// Files the ticket of a form (once per idempotency key), or says what is wrong with it.
async fn file_from_form(s: &AppState, who: &PageUser, f: &NewTicketForm) -> Result<Filed, FormErrors> {
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
        return Err(errors);
    }
    let mut new = NewTicket::new(f.subject.clone(), category, sub_category, f.description.clone());
    new.scheduled_date = scheduled_date;
    if !f.fields.is_empty() {
        let book = s.desk().custom_fields(&who.principal).await.map(|f| f.book).unwrap_or_default();
        let defs: Vec<_> = book.active().collect();
        new.fields = super::fields::given_values(&defs, &f.fields);
    }
    let key = (!f.idempotency_key.is_empty()).then_some(f.idempotency_key.as_str());
    s.desk().file_ticket(&who.principal, new, key).await.map_err(|e| {
        let e = ApiError::from(e);
        if e.errors.is_empty() {
            errors.description = Some(e.detail.clone());
        }
        for fe in &e.errors {
            if fe.field.starts_with("fields.") {
                errors.fields.entry(fe.field.clone()).or_insert_with(|| fe.message.clone());
                continue;
            }
            let slot = match fe.field.as_str() {
                "category" | "sub_category" => &mut errors.category,
                "subject" => &mut errors.subject,
                "scheduled_date" => &mut errors.scheduled_date,
                _ => &mut errors.description,
            };
            slot.get_or_insert_with(|| fe.message.clone());
        }
        errors
    })
}

/// The new-ticket form, `multipart/form-data`: the token, the fields, then the files. The
/// ticket is filed when the first file arrives (or at the end), then each file is stored as
/// it streams in; a replayed submit (same idempotency key) stores none, the first did.
pub(crate) async fn create_ticket(
    State(s): State<AppState>,
    who: PageUser,
    method: Method,
    headers: HeaderMap,
    mut form: Multipart,
) -> Response {
    if let Some(refused) = multipart_allowed(&s, &who, &method, &headers, &mut form).await {
        return refused;
    }
    let mut f = NewTicketForm::default();
    let mut filed: Option<Filed> = None;
    let mut files = Stored::default();
    loop {
        let field = match form.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) => {
                files.cut_short(&e);
                break;
            }
        };
        let name = field.name().unwrap_or_default().to_owned();
        if name != "files" {
            let value = field.text().await.unwrap_or_default();
            match name.as_str() {
                "idempotency_key" => f.idempotency_key = value,
                "kind" => f.kind = value,
                "subject" => f.subject = value,
                "description" => f.description = value,
                "scheduled_date" => f.scheduled_date = value,
                k if k.starts_with("field.") => {
                    let e = f.fields.entry(k.trim_start_matches("field.").to_owned()).or_default();
                    if !value.trim().is_empty() {
                        e.push(value);
                    }
                }
                _ => {}
            }
            continue;
        }
        let chosen = field.file_name().is_some_and(|n| !n.is_empty());
        if filed.is_none() {
            match file_from_form(&s, &who, &f).await {
                Ok(x) => filed = Some(x),
                Err(errors) => {
                    return new_ticket_page(&s, &who, f, errors, chosen, StatusCode::UNPROCESSABLE_ENTITY).await;
                }
            }
        }
        if let Some(x) = filed.as_ref().filter(|x| !x.replayed) {
            files.store(&s, &who, &x.ticket.number, None, field).await;
        }
    }
    let filed = match filed {
        Some(x) => x,
        None => match file_from_form(&s, &who, &f).await {
            Ok(x) => x,
            Err(errors) => {
                return new_ticket_page(&s, &who, f, errors, false, StatusCode::UNPROCESSABLE_ENTITY).await;
            }
        },
    };
    let number = filed.ticket.number.to_string();
    if files.refusals.is_empty() {
        return Redirect::to(&format!("/tickets/{number}?filed={}", files.count)).into_response();
    }
    let message = format!(
        "Ticket {number} filed. {} Refused — {}",
        super::attachments::files_added(files.count),
        files.refusals.join("; ")
    );
    render_ticket(&s, &who, &number, Some(message), super::tickets::Retyped::Nothing, StatusCode::OK).await
}
