//! The admin page of ticket fields: the definitions in a table, a form to add one, and the
//! same form to change one (label, options, who fills it in, required, internal, retired;
//! the key and the kind never change). Each save names the version it was made on, so two
//! admins cannot overwrite each other; refusals come back beside the inputs.

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use helpdesk_core::domain::FieldKey;
use helpdesk_core::model::{FieldBook, FieldDef, FieldKind};
use serde::Deserialize;

use super::pages::form_allowed;
use super::session::PageUser;
use super::{Layout, page};
use crate::error::ApiError;
use crate::state::AppState;

/// A definition as the table shows it.
struct FieldRow {
    key: String,
    label: String,
    holds: String,
    who: &'static str,
    required: bool,
    retired: bool,
}

/// What the form holds.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct FieldForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    version: u64,
    #[serde(default)]
    key: String,
    #[serde(default)]
    label: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    options: String,
    #[serde(default, deserialize_with = "checked")]
    requester_sets: bool,
    #[serde(default, deserialize_with = "checked")]
    required: bool,
    #[serde(default, deserialize_with = "checked")]
    internal: bool,
    #[serde(default, deserialize_with = "checked")]
    retired: bool,
}

/// A checkbox: present (`on`) or not.
fn checked<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Option::<String>::deserialize(d).map(|v| v.is_some())
}

impl FieldForm {
    fn of(d: &FieldDef) -> Self {
        Self {
            key: d.key.to_string(),
            label: d.label.clone(),
            kind: d.kind.as_str().to_owned(),
            options: d.options.join("\n"),
            requester_sets: d.requester_sets,
            required: d.required,
            internal: d.internal,
            retired: d.retired,
            ..Self::default()
        }
    }
}

/// The form's errors, by input.
#[derive(Debug, Default)]
struct FieldErrors {
    key: Option<String>,
    label: Option<String>,
    options: Option<String>,
    other: Option<String>,
}

#[derive(Template)]
#[template(path = "fields.html")]
struct FieldsView {
    layout: Layout,
    rows: Vec<FieldRow>,
    editing: Option<String>,
    version: u64,
    form: FieldForm,
    kind_words: &'static str,
    kinds: Vec<(&'static str, &'static str)>,
    errors: FieldErrors,
    error: Option<String>,
}

fn kind_words(k: FieldKind) -> &'static str {
    match k {
        FieldKind::Text => "text",
        FieldKind::Number => "a number",
        FieldKind::Date => "a date",
        FieldKind::Choice => "one choice",
        FieldKind::MultiChoice => "several choices",
        FieldKind::Checkbox => "yes or no",
    }
}

fn admin_only(s: &AppState, who: &PageUser) -> Option<Response> {
    (who.user.role != helpdesk_core::domain::Role::Admin)
        .then(|| super::error_page(StatusCode::NOT_FOUND, Layout::of(s, who), "There is no page at this address."))
}

#[allow(clippy::too_many_arguments)]
async fn fields_page(
    s: &AppState,
    who: &PageUser,
    flash: Option<String>,
    editing: Option<String>,
    form: FieldForm,
    errors: FieldErrors,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    let settings = match s.desk().custom_fields(&who.principal).await {
        Ok(x) => x,
        Err(e) => return super::tickets::failed(s, who, e),
    };
    let rows = settings
        .book
        .fields
        .iter()
        .map(|d| FieldRow {
            key: d.key.to_string(),
            label: d.label.clone(),
            holds: if d.kind.has_options() {
                format!("{}: {}", kind_words(d.kind), d.options.join(", "))
            } else {
                kind_words(d.kind).to_owned()
            },
            who: match (d.internal, d.requester_sets) {
                (true, _) => "Staff (internal)",
                (false, true) => "The requester, when filing",
                (false, false) => "Staff",
            },
            required: d.required,
            retired: d.retired,
        })
        .collect();
    let kind_word = FieldKind::parse(&form.kind).map_or("text", kind_words);
    let view = FieldsView {
        layout: Layout::of(s, who)
            .flash(flash)
            .trail(&[("Integrations and system", Some("/integrations")), ("Ticket fields", None)]),
        rows,
        editing,
        version: settings.version,
        form,
        kind_words: kind_word,
        kinds: FieldKind::ALL.iter().map(|k| (k.as_str(), kind_words(*k))).collect(),
        errors,
        error,
    };
    page(status, &view)
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct DoneQuery {
    done: Option<String>,
}

/// `GET /fields`: the table and the form for a new field.
pub(crate) async fn list(State(s): State<AppState>, who: PageUser, Query(q): Query<DoneQuery>) -> Response {
    if let Some(refused) = admin_only(&s, &who) {
        return refused;
    }
    let flash = q.done.map(|_| "Field saved.".to_owned());
    let form = FieldForm { kind: "text".into(), ..FieldForm::default() };
    fields_page(&s, &who, flash, None, form, FieldErrors::default(), None, StatusCode::OK).await
}

/// `GET /fields/{key}`: the form filled with the field, to change it.
pub(crate) async fn edit_form(State(s): State<AppState>, who: PageUser, Path(key): Path<String>) -> Response {
    if let Some(refused) = admin_only(&s, &who) {
        return refused;
    }
    let book = s.desk().custom_fields(&who.principal).await.map(|f| f.book).unwrap_or_default();
    match book.get_str(&key) {
        Some(d) => {
            let form = FieldForm::of(d);
            fields_page(&s, &who, None, Some(key), form, FieldErrors::default(), None, StatusCode::OK).await
        }
        None => super::not_found(),
    }
}

/// `POST /fields`: adds a field.
pub(crate) async fn create(
    State(s): State<AppState>,
    who: PageUser,
    method: Method,
    headers: HeaderMap,
    Form(f): Form<FieldForm>,
) -> Response {
    save(&s, &who, &method, &headers, None, f).await
}

/// `POST /fields/{key}`: changes a field.
pub(crate) async fn update(
    State(s): State<AppState>,
    who: PageUser,
    Path(key): Path<String>,
    method: Method,
    headers: HeaderMap,
    Form(f): Form<FieldForm>,
) -> Response {
    save(&s, &who, &method, &headers, Some(key), f).await
}

async fn save(
    s: &AppState,
    who: &PageUser,
    method: &Method,
    headers: &HeaderMap,
    editing: Option<String>,
    mut f: FieldForm,
) -> Response {
    if let Some(refused) = form_allowed(s, who, method, headers, &f.csrf) {
        return refused;
    }
    if let Some(refused) = admin_only(s, who) {
        return refused;
    }
    let mut book: FieldBook = match s.desk().custom_fields(&who.principal).await {
        Ok(x) if x.version == f.version => x.book,
        Ok(_) => {
            let error = Some("Someone saved the fields meanwhile: look at them again, then save.".to_owned());
            return fields_page(s, who, None, editing, f, FieldErrors::default(), error, StatusCode::CONFLICT).await;
        }
        Err(e) => return super::tickets::failed(s, who, e),
    };
    let options: Vec<String> = f.options.lines().map(str::trim).filter(|o| !o.is_empty()).map(str::to_owned).collect();
    let index = match &editing {
        Some(key) => match book.fields.iter().position(|d| d.key.as_str() == key) {
            Some(i) => {
                let d = &mut book.fields[i];
                f.key = d.key.to_string();
                f.kind = d.kind.as_str().to_owned();
                d.label = f.label.clone();
                d.options = options;
                (d.requester_sets, d.required, d.internal, d.retired) =
                    (f.requester_sets, f.required, f.internal, f.retired);
                i
            }
            None => return super::not_found(),
        },
        None => {
            let key = match FieldKey::parse_field("key", &f.key) {
                Ok(k) => k,
                Err(e) => {
                    let errors = FieldErrors { key: Some(e.message), ..FieldErrors::default() };
                    return fields_page(s, who, None, editing, f, errors, None, StatusCode::UNPROCESSABLE_ENTITY).await;
                }
            };
            book.fields.push(FieldDef {
                key,
                label: f.label.clone(),
                kind: FieldKind::parse(&f.kind).unwrap_or(FieldKind::Text),
                options,
                required: f.required,
                requester_sets: f.requester_sets,
                internal: f.internal,
                retired: false,
            });
            book.fields.len() - 1
        }
    };
    match s.desk().save_custom_fields(&who.principal, book, f.version).await {
        Ok(_) => Redirect::to("/fields?done=saved").into_response(),
        Err(e) => {
            let e = ApiError::from(e);
            let mut errors = FieldErrors::default();
            let at = format!("fields[{index}].");
            for fe in &e.errors {
                let slot = match fe.field.strip_prefix(&at).map(|r| r.split(['[', '.']).next().unwrap_or(r)) {
                    Some("key") => &mut errors.key,
                    Some("label") => &mut errors.label,
                    Some("options") => &mut errors.options,
                    _ => &mut errors.other,
                };
                slot.get_or_insert_with(|| fe.message.clone());
            }
            if e.errors.is_empty() {
                errors.other = Some(e.detail.clone());
            }
            fields_page(s, who, None, editing, f, errors, None, e.status).await
        }
    }
}
