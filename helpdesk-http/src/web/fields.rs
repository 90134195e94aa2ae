//! Custom fields on the pages: their inputs (the new-ticket form: the fields the requester
//! sets; the ticket page: every field for staff), their values as facts, the staff form that
//! saves them, and reading a posted form into the values core checks.
//!
//! A checkbox field is offered as a choice of "Yes", "No" and "Not set": an unticked HTML
//! checkbox sends nothing, which cannot tell "no" from "not touched".

use std::collections::BTreeMap;

use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use helpdesk_core::domain::TicketNumber;
use helpdesk_core::model::{FieldDef, FieldKind, FieldValues};

use super::PageUser;
use super::pages::form_allowed;
use crate::error::ApiError;
use crate::state::AppState;

/// One input of a custom field.
#[derive(Debug, Clone)]
pub(crate) struct FieldInput {
    /// `field.<key>`: the form field's name.
    pub(crate) name: String,
    /// The element's id.
    pub(crate) id: String,
    pub(crate) label: String,
    /// `text`, `number`, `date`, `choice`, `multi` or `checkbox`.
    pub(crate) kind: &'static str,
    pub(crate) required: bool,
    /// The value as typed or stored (text, number and date inputs).
    pub(crate) value: String,
    /// The options, each with whether it is chosen (choices, multiple choices; a checkbox's
    /// `true` and `false`).
    pub(crate) options: Vec<(String, String, bool)>,
    pub(crate) hint: &'static str,
    pub(crate) error: Option<String>,
}

/// A custom field's value as the ticket page shows it.
#[derive(Debug, Clone)]
pub(crate) struct FieldFact {
    pub(crate) label: String,
    pub(crate) value: String,
    /// The field is retired (the value stays, staff see it marked).
    pub(crate) retired: bool,
}

/// The values a form holds, by key: what was posted (several for a multiple choice).
pub(crate) type Posted = BTreeMap<String, Vec<String>>;

/// The inputs of `defs` holding `values` (stored), or `posted` (typed, when a form comes back
/// with errors), with the errors beside them (`fields.<key>` → message).
pub(crate) fn inputs(
    defs: &[&FieldDef],
    values: &FieldValues,
    posted: Option<&Posted>,
    errors: &BTreeMap<String, String>,
) -> Vec<FieldInput> {
    defs.iter()
        .map(|d| {
            let key = d.key.as_str();
            let typed: Vec<String> = match posted {
                Some(p) => p.get(key).cloned().unwrap_or_default(),
                None => match values.get(&d.key) {
                    Some(helpdesk_core::model::FieldValue::List(l)) => l.clone(),
                    Some(v) => vec![v.form_text()],
                    None => Vec::new(),
                },
            };
            let chosen = |o: &str| typed.iter().any(|t| t == o);
            let (kind, options, hint) = match d.kind {
                FieldKind::Text => ("text", Vec::new(), ""),
                FieldKind::Number => ("number", Vec::new(), "A number, up to four decimals."),
                FieldKind::Date => ("date", Vec::new(), ""),
                FieldKind::Choice => {
                    ("choice", d.options.iter().map(|o| (o.clone(), o.clone(), chosen(o))).collect(), "")
                }
                FieldKind::MultiChoice => {
                    ("multi", d.options.iter().map(|o| (o.clone(), o.clone(), chosen(o))).collect(), "")
                }
                FieldKind::Checkbox => (
                    "checkbox",
                    vec![("true".into(), "Yes".into(), chosen("true")), ("false".into(), "No".into(), chosen("false"))],
                    "",
                ),
            };
            FieldInput {
                name: format!("field.{key}"),
                id: format!("field-{}", key.replace('_', "-")),
                label: d.label.clone(),
                kind,
                required: d.required,
                value: typed.first().cloned().unwrap_or_default(),
                options,
                hint,
                error: errors.get(&format!("fields.{key}")).cloned(),
            }
        })
        .collect()
}

/// The facts of `values` the viewer sees, in the definitions' order (a value of a field
/// no longer defined is left out).
pub(crate) fn facts(book: &helpdesk_core::model::FieldBook, values: &FieldValues) -> Vec<FieldFact> {
    book.fields
        .iter()
        .filter_map(|d| {
            values.get(&d.key).map(|v| FieldFact { label: d.label.clone(), value: v.display(), retired: d.retired })
        })
        .collect()
}

/// Reads `field.<key>` pairs of a posted form.
pub(crate) fn posted<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Posted {
    let mut out = Posted::new();
    for (k, v) in pairs {
        if let Some(key) = k.strip_prefix("field.") {
            let e = out.entry(key.to_owned()).or_default();
            if !v.trim().is_empty() {
                e.push(v.to_owned());
            }
        }
    }
    out
}

/// The JSON values core checks for the fields of `defs` a form carried: every field on the
/// form (an empty one clears the value; a multiple choice with nothing ticked too).
pub(crate) fn values_of(defs: &[&FieldDef], posted: &Posted) -> BTreeMap<String, serde_json::Value> {
    use serde_json::Value as J;
    defs.iter()
        .map(|d| {
            let typed = posted.get(d.key.as_str()).cloned().unwrap_or_default();
            let v = match d.kind {
                FieldKind::MultiChoice => J::Array(typed.into_iter().map(J::String).collect()),
                _ => typed.into_iter().next().map_or(J::Null, J::String),
            };
            (d.key.to_string(), v)
        })
        .collect()
}

/// Only the values that were given (the new-ticket form: a field left empty is not sent).
pub(crate) fn given_values(defs: &[&FieldDef], posted: &Posted) -> BTreeMap<String, serde_json::Value> {
    values_of(defs, posted)
        .into_iter()
        .filter(|(_, v)| !(v.is_null() || v.as_array().is_some_and(Vec::is_empty)))
        .collect()
}

/// The errors of a refusal about custom fields, by `fields.<key>`.
pub(crate) fn field_errors(e: &ApiError) -> BTreeMap<String, String> {
    e.errors.iter().filter(|f| f.field.starts_with("fields.")).map(|f| (f.field.clone(), f.message.clone())).collect()
}

/// Staff's save of a ticket's custom fields: every field on the form is sent, so a cleared
/// input clears its value; only what changed is recorded. Refusals come back beside the
/// inputs, with what was typed.
pub(crate) async fn save(
    State(s): State<AppState>,
    who: PageUser,
    Path(number): Path<String>,
    method: Method,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let csrf = pairs.iter().find(|(k, _)| k == "csrf").map(|(_, v)| v.clone()).unwrap_or_default();
    if let Some(refused) = form_allowed(&s, &who, &method, &headers, &csrf) {
        return refused;
    }
    let Ok(n) = TicketNumber::parse(&number) else { return super::tickets::missing(&s, &who) };
    let version = pairs.iter().find(|(k, _)| k == "version").and_then(|(_, v)| v.parse::<u64>().ok());
    let book = match s.desk().custom_fields(&who.principal).await {
        Ok(f) => f.book,
        Err(e) => return super::tickets::failed(&s, &who, e),
    };
    let posted = posted(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let defs: Vec<&FieldDef> = book.active().filter(|d| posted.contains_key(d.key.as_str())).collect();
    let edit = helpdesk_core::TicketEdit { fields: values_of(&defs, &posted), ..helpdesk_core::TicketEdit::default() };
    if edit.fields.is_empty() {
        return Redirect::to(&format!("/tickets/{n}")).into_response();
    }
    match s.desk().edit_ticket(&who.principal, &n, edit, version).await {
        Ok(_) => Redirect::to(&format!("/tickets/{n}?edited=1")).into_response(),
        Err(helpdesk_core::Error::NotFound { .. }) => super::tickets::missing(&s, &who),
        Err(helpdesk_core::Error::VersionConflict { .. }) => {
            Redirect::to(&format!("/tickets/{n}?stale=1")).into_response()
        }
        Err(err) => {
            let err = ApiError::from(err);
            let errors = field_errors(&err);
            let flash = if errors.is_empty() {
                format!("The fields were not saved: {}", err.first_message())
            } else {
                "The fields were not saved: please correct the ones marked below.".to_owned()
            };
            super::tickets::render_ticket(
                &s,
                &who,
                &number,
                Some(flash),
                super::tickets::Retyped::Fields { posted, errors },
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}
