//! Saved views on the queue page: the list of views with their counts above the queue, the
//! "Save this view" form (the queue's filters as they are, a name, the columns, shared for
//! admins, "open the queue on it"), and a view's own controls (make it the default, delete it).
//! A view is translated to and from the queue's address parameters, so everything the queue
//! does with its filters (paging, the bulk form, the CSV) works on a view unchanged.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use helpdesk_core::domain::{CategoryKey, Priority, Tag, TicketStatus, UserId, ViewId};
use helpdesk_core::model::{SavedView, ViewAssignee, ViewColumn, ViewFilter};
use helpdesk_core::ports::{SortDirection, TicketSortField};
use helpdesk_core::{ViewDraft, ViewSummary};

use super::pages::form_allowed;
use super::session::PageUser;
use super::{Layout, error_page};
use crate::error::ApiError;
use crate::state::AppState;

/// Which of the queue's optional columns show.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cols {
    pub(crate) status: bool,
    pub(crate) priority: bool,
    pub(crate) department: bool,
    pub(crate) assignee: bool,
    pub(crate) filed: bool,
    pub(crate) due: bool,
}

impl Cols {
    /// Every column.
    pub(crate) fn all() -> Self {
        Self { status: true, priority: true, department: true, assignee: true, filed: true, due: true }
    }

    /// The columns of `view`.
    pub(crate) fn of(view: &SavedView) -> Self {
        Self {
            status: view.shows(ViewColumn::Status),
            priority: view.shows(ViewColumn::Priority),
            department: view.shows(ViewColumn::Department),
            assignee: view.shows(ViewColumn::Assignee),
            filed: view.shows(ViewColumn::Filed),
            due: view.shows(ViewColumn::Due),
        }
    }
}

/// A view in the list above the queue.
#[derive(Debug)]
pub(crate) struct ViewLink {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) count: u64,
    pub(crate) default: bool,
    pub(crate) shared: bool,
    /// The person may change or delete it.
    pub(crate) editable: bool,
}

impl ViewLink {
    pub(crate) fn of(s: &ViewSummary, admin: bool) -> Self {
        Self {
            id: s.view.id.to_string(),
            name: s.view.name.to_string(),
            count: s.count,
            default: s.default,
            shared: s.view.is_shared(),
            editable: !s.view.is_shared() || admin,
        }
    }
}

/// The queue's address parameters that show `view` (then the queue reads them as if typed).
pub(crate) fn params_of(view: &SavedView) -> Vec<(String, String)> {
    let f = &view.filter;
    let mut p: Vec<(String, String)> = f.statuses.iter().map(|s| ("status".into(), s.as_str().into())).collect();
    if f.statuses.is_empty() {
        p.push(("status".into(), String::new()));
    }
    p.extend(f.priorities.iter().map(|x| ("priority".into(), x.as_str().into())));
    p.extend(f.departments.first().map(|d| ("department".into(), d.to_string())));
    p.extend(f.categories.first().map(|c| ("category".into(), c.to_string())));
    p.extend(f.assignee.map(|a| {
        let v = match a {
            ViewAssignee::Me => "me".to_owned(),
            ViewAssignee::Unassigned => "unassigned".to_owned(),
            ViewAssignee::User(u) => u.to_string(),
        };
        ("assignee".to_owned(), v)
    }));
    p.extend(f.text.clone().map(|t| ("q".into(), t)));
    if !f.tags_any.is_empty() {
        p.push(("tag".into(), Tag::join(&f.tags_any)));
    }
    if f.sla_breached {
        p.push(("sla".into(), "breached".into()));
    }
    let sort = match f.sort.field {
        TicketSortField::Created => "created".to_owned(),
        TicketSortField::Updated => "updated".to_owned(),
        TicketSortField::Priority => "priority".to_owned(),
        TicketSortField::Number => "number".to_owned(),
        TicketSortField::Due => "due".to_owned(),
        TicketSortField::Field(k) => format!("field:{k}"),
    };
    p.push(("sort".into(), sort));
    p.push(("order".into(), if f.sort.direction == SortDirection::Asc { "asc" } else { "desc" }.into()));
    p.push(("view".into(), view.id.to_string()));
    p
}

/// The filter of the queue's address parameters, as a view keeps it (dates and the requester,
/// which are not relative, stay out).
fn filter_of(params: &[(String, String)]) -> ViewFilter {
    let mut f = ViewFilter { sort: ViewFilter::newest_first(), ..ViewFilter::default() };
    for (k, v) in params {
        let v = v.trim();
        match k.as_str() {
            "status" => f.statuses.extend(TicketStatus::ALL.iter().copied().find(|s| s.as_str() == v)),
            "priority" => f.priorities.extend(Priority::parse(v).ok()),
            "department" if !v.is_empty() => {
                f.departments.extend(helpdesk_core::domain::DepartmentKey::parse(v).ok());
            }
            "category" if !v.is_empty() => f.categories.extend(CategoryKey::parse(v).ok()),
            "assignee" => {
                f.assignee = match v {
                    "" => None,
                    "me" => Some(ViewAssignee::Me),
                    "unassigned" => Some(ViewAssignee::Unassigned),
                    id => id.parse::<UserId>().ok().map(ViewAssignee::User),
                }
            }
            "q" if !v.is_empty() => f.text = Some(v.to_owned()),
            "tag" => f.tags_any = Tag::parse_list("tag", v).unwrap_or_default(),
            "sla" => f.sla_breached = v == "breached",
            "sort" => {
                f.sort.field = match v {
                    "updated" => TicketSortField::Updated,
                    "priority" => TicketSortField::Priority,
                    "number" => TicketSortField::Number,
                    "due" => TicketSortField::Due,
                    f => f
                        .strip_prefix("field:")
                        .and_then(|k| helpdesk_core::domain::FieldKey::parse_field("sort", k).ok())
                        .map_or(TicketSortField::Created, TicketSortField::Field),
                }
            }
            "order" => f.sort.direction = if v == "asc" { SortDirection::Asc } else { SortDirection::Desc },
            _ => {}
        }
    }
    if f.sort.field == TicketSortField::Due {
        f.sort.direction = SortDirection::Asc;
    }
    f
}

fn refuse(s: &AppState, who: &PageUser, status: StatusCode, message: &str) -> Response {
    error_page(status, Layout::of(s, who), message)
}

/// `POST /desk/views`: saves the queue's current filters as a view.
pub(crate) async fn save(
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
        return refuse(&s, &who, StatusCode::NOT_FOUND, "There is no page at this address.");
    }
    // The queue's address parameters as the form carried them (`filters`: its query string).
    let params: Vec<(String, String)> = serde_urlencoded::from_str(field("filters")).unwrap_or_default();
    let columns: Vec<ViewColumn> = pairs
        .iter()
        .filter(|(k, _)| k == "column")
        .filter_map(|(_, v)| ViewColumn::ALL.iter().copied().find(|c| c.as_str() == v))
        .collect();
    let draft = ViewDraft {
        name: field("name").to_owned(),
        shared: !field("shared").is_empty(),
        filter: filter_of(&params),
        columns,
    };
    let view = match s.desk().save_view(&who.principal, None, draft).await {
        Ok(v) => v,
        Err(e) => {
            let message = format!("The view was not saved: {}", ApiError::from(e).first_message());
            return refuse(&s, &who, StatusCode::UNPROCESSABLE_ENTITY, &message);
        }
    };
    if !field("default").is_empty()
        && let Err(e) = s.desk().set_default_view(&who.principal, Some(view.id)).await
    {
        tracing::warn!(error = %e, "a new view could not be made the default");
    }
    Redirect::to(&format!("/desk?view={}", view.id)).into_response()
}

/// `POST /desk/views/{id}/{action}`: `default` (open the queue on it), `undefault`, `delete`.
pub(crate) async fn change(
    State(s): State<AppState>,
    who: PageUser,
    Path((id, action)): Path<(String, String)>,
    method: Method,
    headers: HeaderMap,
    Form(f): Form<super::TokenForm>,
) -> Response {
    if let Some(refused) = form_allowed(&s, &who, &method, &headers, &f.csrf) {
        return refused;
    }
    let Ok(id) = id.parse::<ViewId>() else { return super::not_found() };
    let desk = s.desk();
    let done = match action.as_str() {
        "default" => desk.set_default_view(&who.principal, Some(id)).await.map(|()| format!("/desk?view={id}")),
        "undefault" => desk.set_default_view(&who.principal, None).await.map(|()| format!("/desk?view={id}")),
        "delete" => desk.delete_view(&who.principal, id).await.map(|()| "/desk".to_owned()),
        _ => return super::not_found(),
    };
    match done {
        Ok(to) => Redirect::to(&to).into_response(),
        Err(helpdesk_core::Error::NotFound { .. }) => super::not_found(),
        Err(e) => refuse(
            &s,
            &who,
            StatusCode::FORBIDDEN,
            &format!("Nothing was changed: {}", ApiError::from(e).first_message()),
        ),
    }
}
