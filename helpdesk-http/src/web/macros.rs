//! Macros on the pages: the staff's Macros page (their own and the shared ones, made and
//! changed with one form, no script), and on a ticket the macro picker, the preview page that
//! says exactly what will happen (the comment with its placeholders filled, each field's old
//! and new value, the status after), and its Apply button, which sends the version previewed
//! and an idempotency key, so a double click or a ticket that changed meanwhile applies
//! nothing twice or blindly.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use helpdesk_core::domain::{MacroId, Placeholder, Priority, TicketNumber};
use helpdesk_core::lifecycle::Action;
use helpdesk_core::model::{FieldChange, Macro};
use helpdesk_core::{MACRO_ACTIONS, MacroDraft};
use serde::Deserialize;

use super::pages::{form_allowed, status_label};
use super::session::PageUser;
use super::tickets::priority_words;
use super::{Layout, error_page, page};
use crate::error::ApiError;
use crate::state::AppState;

fn action_title(a: Action) -> &'static str {
    super::actions::words_for(a.as_str()).map_or(a.as_str(), |w| w.title)
}

/// What a macro does, in a line.
pub(crate) fn summary(s: &AppState, m: &Macro) -> String {
    let mut parts = Vec::new();
    if let Some(c) = &m.comment {
        parts.push(if c.internal { "internal note".to_owned() } else { "public reply".to_owned() });
    }
    if let Some(p) = m.priority {
        parts.push(format!("priority {}", priority_words(p).to_lowercase()));
    }
    if m.department.is_some() {
        parts.push(format!("to {}", super::department_name(s, m.department.as_ref(), "")));
    }
    if !m.add_tags.is_empty() {
        parts.push(format!("tags + {}", m.add_tags.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(", ")));
    }
    if !m.remove_tags.is_empty() {
        parts.push(format!("tags − {}", m.remove_tags.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(", ")));
    }
    if let Some(a) = m.action {
        parts.push(action_title(a).to_lowercase());
    }
    parts.join(" · ")
}

/// The form's fields, as typed (kept on an error so nothing typed is lost).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct MacroForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    shared: Option<String>,
    #[serde(default)]
    comment: String,
    comment_internal: Option<String>,
    #[serde(default)]
    priority: String,
    #[serde(default)]
    department: String,
    #[serde(default)]
    add_tags: String,
    #[serde(default)]
    remove_tags: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    action_note: String,
}

fn tag_list(s: &str) -> Vec<String> {
    s.split(',').map(str::trim).filter(|g| !g.is_empty()).map(str::to_owned).collect()
}

impl MacroForm {
    fn of(m: &Macro) -> Self {
        Self {
            csrf: String::new(),
            name: m.name.to_string(),
            shared: m.is_shared().then(|| "on".to_owned()),
            comment: m.comment.as_ref().map(|c| c.body.as_str().to_owned()).unwrap_or_default(),
            comment_internal: m.comment.as_ref().filter(|c| c.internal).map(|_| "on".to_owned()),
            priority: m.priority.map(|p| p.as_str().to_owned()).unwrap_or_default(),
            department: m.department.as_ref().map(|d| d.to_string()).unwrap_or_default(),
            add_tags: m.add_tags.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(", "),
            remove_tags: m.remove_tags.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(", "),
            action: m.action.map(|a| a.as_str().to_owned()).unwrap_or_default(),
            action_note: m.action_note.as_ref().map(|n| n.as_str().to_owned()).unwrap_or_default(),
        }
    }

    fn draft(&self) -> Result<MacroDraft, String> {
        let priority = match self.priority.as_str() {
            "" => None,
            p => Some(Priority::parse(p).map_err(|e| e.message)?),
        };
        let action = match self.action.as_str() {
            "" => None,
            a => {
                Some(MACRO_ACTIONS.iter().copied().find(|x| x.as_str() == a).ok_or("Choose an action from the list.")?)
            }
        };
        Ok(MacroDraft {
            name: self.name.clone(),
            shared: self.shared.is_some(),
            comment: Some(self.comment.clone()),
            comment_internal: self.comment_internal.is_some(),
            priority,
            department: Some(self.department.clone()),
            add_tags: tag_list(&self.add_tags),
            remove_tags: tag_list(&self.remove_tags),
            action,
            action_note: Some(self.action_note.clone()),
        })
    }
}

#[derive(Debug)]
struct MacroRow {
    id: String,
    name: String,
    shared: bool,
    does: String,
    editable: bool,
}

#[derive(Template)]
#[template(path = "macros.html")]
struct MacrosView {
    layout: Layout,
    rows: Vec<MacroRow>,
    /// `Some(id)` while changing a macro, `None` for a new one.
    editing: Option<String>,
    form: MacroForm,
    error: Option<String>,
    may_share: bool,
    priorities: Vec<(&'static str, &'static str)>,
    departments: Vec<(String, String)>,
    actions: Vec<(&'static str, &'static str)>,
    placeholders: Vec<String>,
}

async fn macros_page(
    s: &AppState,
    who: &PageUser,
    flash: Option<String>,
    editing: Option<String>,
    form: MacroForm,
    error: Option<String>,
) -> Response {
    let list = match s.desk().macros(&who.principal).await {
        Ok(l) => l,
        Err(e) => {
            let e = ApiError::from(e);
            return error_page(e.status, Layout::of(s, who), &e.detail);
        }
    };
    let admin = who.user.role == helpdesk_core::domain::Role::Admin;
    let view = MacrosView {
        layout: Layout::of(s, who).flash(flash).trail(&[("Macros", None)]),
        rows: list
            .iter()
            .map(|m| MacroRow {
                id: m.id.to_string(),
                name: m.name.to_string(),
                shared: m.is_shared(),
                does: summary(s, m),
                editable: !m.is_shared() || admin,
            })
            .collect(),
        editing,
        form,
        error,
        may_share: admin,
        priorities: Priority::ALL.iter().map(|p| (p.as_str(), priority_words(*p))).collect(),
        departments: s
            .desk()
            .options()
            .catalog
            .departments
            .iter()
            .map(|d| (d.key.to_string(), d.name.clone()))
            .collect(),
        actions: MACRO_ACTIONS.iter().map(|a| (a.as_str(), action_title(*a))).collect(),
        placeholders: Placeholder::ALL.iter().map(|p| format!("{{{{{}}}}}", p.name())).collect(),
    };
    page(if view.error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK }, &view)
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct DoneQuery {
    done: Option<String>,
}

/// `GET /macros`: the list and the form for a new one.
pub(crate) async fn macros(State(s): State<AppState>, who: PageUser, Query(q): Query<DoneQuery>) -> Response {
    if let Some(refused) = super::staff_only(&s, &who) {
        return refused;
    }
    let flash = q.done.as_deref().map(|d| match d {
        "deleted" => "Macro deleted.".to_owned(),
        _ => "Macro saved.".to_owned(),
    });
    macros_page(&s, &who, flash, None, MacroForm::default(), None).await
}

/// `GET /macros/{id}`: the form filled with the macro, to change it.
pub(crate) async fn edit_form(State(s): State<AppState>, who: PageUser, Path(id): Path<String>) -> Response {
    if let Some(refused) = super::staff_only(&s, &who) {
        return refused;
    }
    let Ok(id) = id.parse::<MacroId>() else { return super::not_found() };
    match s.desk().macro_by_id(&who.principal, id).await {
        Ok(m) => macros_page(&s, &who, None, Some(id.to_string()), MacroForm::of(&m), None).await,
        Err(_) => super::not_found(),
    }
}

async fn save(s: &AppState, who: &PageUser, id: Option<MacroId>, f: MacroForm) -> Response {
    let editing = id.map(|i| i.to_string());
    let draft = match f.draft() {
        Ok(d) => d,
        Err(message) => return macros_page(s, who, None, editing, f, Some(message)).await,
    };
    match s.desk().save_macro(&who.principal, id, draft).await {
        Ok(_) => Redirect::to("/macros?done=saved").into_response(),
        Err(helpdesk_core::Error::NotFound { .. }) => super::not_found(),
        Err(e) => {
            let message = format!("The macro was not saved: {}", ApiError::from(e).first_message());
            macros_page(s, who, None, editing, f, Some(message)).await
        }
    }
}

/// `POST /macros`: a new macro.
pub(crate) async fn create(
    State(s): State<AppState>,
    who: PageUser,
    method: Method,
    headers: HeaderMap,
    Form(f): Form<MacroForm>,
) -> Response {
    if let Some(refused) = super::staff_only(&s, &who).or_else(|| form_allowed(&s, &who, &method, &headers, &f.csrf)) {
        return refused;
    }
    save(&s, &who, None, f).await
}

/// `POST /macros/{id}`: a changed macro.
pub(crate) async fn update(
    State(s): State<AppState>,
    who: PageUser,
    Path(id): Path<String>,
    method: Method,
    headers: HeaderMap,
    Form(f): Form<MacroForm>,
) -> Response {
    if let Some(refused) = super::staff_only(&s, &who).or_else(|| form_allowed(&s, &who, &method, &headers, &f.csrf)) {
        return refused;
    }
    let Ok(id) = id.parse::<MacroId>() else { return super::not_found() };
    save(&s, &who, Some(id), f).await
}

/// `POST /macros/{id}/delete`.
pub(crate) async fn delete(
    State(s): State<AppState>,
    who: PageUser,
    Path(id): Path<String>,
    method: Method,
    headers: HeaderMap,
    Form(f): Form<super::TokenForm>,
) -> Response {
    if let Some(refused) = super::staff_only(&s, &who).or_else(|| form_allowed(&s, &who, &method, &headers, &f.csrf)) {
        return refused;
    }
    let Ok(id) = id.parse::<MacroId>() else { return super::not_found() };
    match s.desk().delete_macro(&who.principal, id).await {
        Ok(()) => Redirect::to("/macros?done=deleted").into_response(),
        Err(helpdesk_core::Error::NotFound { .. }) => super::not_found(),
        Err(e) => {
            let message = format!("The macro was not deleted: {}", ApiError::from(e).first_message());
            macros_page(&s, &who, None, None, MacroForm::default(), Some(message)).await
        }
    }
}

#[derive(Debug)]
struct ChangeRow {
    field: String,
    old: String,
    new: String,
}

fn field_words(c: &FieldChange) -> ChangeRow {
    let field = match c.field.as_str() {
        "status" => "Status",
        "priority" => "Priority",
        "department" => "Department",
        "tags" => "Tags",
        "assignee" => "Assigned to",
        "resolved_at" => "Resolved",
        other => other,
    };
    let shown = |v: &Option<String>| match (c.field.as_str(), v.as_deref()) {
        (_, None) => "—".to_owned(),
        ("status", Some(s)) => s.parse().map_or_else(|_| s.to_owned(), |st| status_label(st).to_owned()),
        ("priority", Some(p)) => Priority::parse(p).map_or_else(|_| p.to_owned(), |p| priority_words(p).to_owned()),
        (_, Some(v)) => v.to_owned(),
    };
    ChangeRow { field: field.to_owned(), old: shown(&c.old), new: shown(&c.new) }
}

#[derive(Template)]
#[template(path = "macro_preview.html")]
struct PreviewView {
    layout: Layout,
    number: String,
    subject: String,
    id: String,
    name: String,
    version: u64,
    key: String,
    comment: Option<String>,
    comment_internal: bool,
    action: Option<&'static str>,
    action_note: Option<String>,
    changes: Vec<ChangeRow>,
    status: &'static str,
}

/// The ticket page again, with why the macro was not applied on top (409: the ticket's state
/// or a rule refused it).
async fn refused_on_ticket(s: &AppState, who: &PageUser, number: &str, message: String) -> Response {
    super::tickets::render_ticket(s, who, number, Some(message), super::tickets::Retyped::Nothing, StatusCode::CONFLICT)
        .await
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct PickQuery {
    #[serde(default)]
    id: String,
}

/// `GET /tickets/{number}/macro?id=…`: what the macro would do to the ticket, and the button
/// that does it.
pub(crate) async fn preview(
    State(s): State<AppState>,
    who: PageUser,
    Path(number): Path<String>,
    Query(q): Query<PickQuery>,
) -> Response {
    let Ok(n) = TicketNumber::parse(&number) else { return super::not_found() };
    let Ok(id) = q.id.parse::<MacroId>() else {
        return Redirect::to(&format!("/tickets/{n}")).into_response();
    };
    let (p, t) =
        match futures::try_join!(s.desk().preview_macro(&who.principal, &n, id), s.desk().ticket(&who.principal, &n)) {
            Ok(x) => x,
            Err(helpdesk_core::Error::NotFound { .. }) => return super::not_found(),
            Err(e) => {
                let message = format!("This macro cannot be applied to {n}: {}", ApiError::from(e).first_message());
                return refused_on_ticket(&s, &who, &number, message).await;
            }
        };
    let number_text = n.to_string();
    let view = PreviewView {
        layout: Layout::of(&s, &who).trail(&[
            ("Queue", Some("/desk")),
            (&number_text, Some(&format!("/tickets/{n}"))),
            ("Apply a macro", None),
        ]),
        number: number_text.clone(),
        subject: t.ticket.subject.to_string(),
        id: id.to_string(),
        name: p.applied.name.to_string(),
        version: p.version,
        key: helpdesk_core::domain::MessageId::random().to_string(),
        comment: p.comment,
        comment_internal: p.comment_internal,
        action: p.applied.action.map(action_title),
        action_note: p.action_note,
        changes: p
            .changes
            .iter()
            .filter(|c| c.field != "resolved_at" && c.field != "closed_at")
            .map(field_words)
            .collect(),
        status: status_label(p.status),
    };
    page(StatusCode::OK, &view)
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct ApplyForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    id: String,
    #[serde(default)]
    version: u64,
    #[serde(default)]
    key: String,
}

/// `POST /tickets/{number}/macro`: applies the macro previewed, at the version previewed.
pub(crate) async fn apply(
    State(s): State<AppState>,
    who: PageUser,
    Path(number): Path<String>,
    method: Method,
    headers: HeaderMap,
    Form(f): Form<ApplyForm>,
) -> Response {
    if let Some(refused) = form_allowed(&s, &who, &method, &headers, &f.csrf) {
        return refused;
    }
    let Ok(n) = TicketNumber::parse(&number) else { return super::not_found() };
    let Ok(id) = f.id.parse::<MacroId>() else { return super::not_found() };
    let key = Some(f.key.as_str()).filter(|k| !k.is_empty());
    match s.desk().apply_macro(&who.principal, &n, id, Some(f.version), key).await {
        Ok(_) => Redirect::to(&format!("/tickets/{n}?macro=1")).into_response(),
        Err(helpdesk_core::Error::NotFound { .. }) => super::not_found(),
        Err(helpdesk_core::Error::VersionConflict { .. }) => {
            Redirect::to(&format!("/tickets/{n}?stale=1")).into_response()
        }
        Err(e) => {
            let message = format!("The macro was not applied; nothing changed: {}", ApiError::from(e).first_message());
            refused_on_ticket(&s, &who, &number, message).await
        }
    }
}
