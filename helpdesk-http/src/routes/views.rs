//! Saved views of the queue: `GET/POST /views`, `PUT/DELETE /views/{id}`, and
//! `PUT /me/default-view` (core's `views`, `save_view`, `delete_view`, `set_default_view`).
//! A view's filter is relative ("assigned to me", "breached now"); its count is the caller's.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use helpdesk_core::domain::{CategoryKey, Priority, Tag, TicketStatus, UserId, ViewId};
use helpdesk_core::model::{SavedView, ViewAssignee, ViewColumn, ViewFilter};
use helpdesk_core::ports::{SortDirection, TicketSort, TicketSortField};
use helpdesk_core::{ValidationErrors, ViewDraft, ViewSummary};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{ApiJson, ApiPath};
use crate::state::AppState;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_views, create_view))
        .routes(routes!(save_view, delete_view))
        .routes(routes!(set_default_view))
}

fn status_items() -> utoipa::openapi::Array {
    utoipa::openapi::ArrayBuilder::new().items(crate::openapi::status_schema()).build()
}

fn priority_items() -> utoipa::openapi::Array {
    utoipa::openapi::ArrayBuilder::new()
        .items(crate::openapi::string_enum(Priority::ALL.iter().map(|p| p.as_str())))
        .build()
}

fn column_items() -> utoipa::openapi::Array {
    utoipa::openapi::ArrayBuilder::new()
        .items(crate::openapi::string_enum(ViewColumn::ALL.iter().map(|c| c.as_str())))
        .build()
}

fn sort_field(s: &str) -> Option<TicketSortField> {
    Some(match s {
        "created" => TicketSortField::Created,
        "updated" => TicketSortField::Updated,
        "priority" => TicketSortField::Priority,
        "number" => TicketSortField::Number,
        "due" => TicketSortField::Due,
        other => TicketSortField::Field(
            helpdesk_core::domain::FieldKey::parse_field("sort", other.strip_prefix("field:")?).ok()?,
        ),
    })
}

fn sort_name(f: TicketSortField) -> String {
    match f {
        TicketSortField::Created => "created".into(),
        TicketSortField::Updated => "updated".into(),
        TicketSortField::Priority => "priority".into(),
        TicketSortField::Number => "number".into(),
        TicketSortField::Due => "due".into(),
        TicketSortField::Field(k) => format!("field:{k}"),
    }
}

/// What a view lists, relative to whoever opens it.
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ViewFilterBody {
    /// Any of these statuses (none: every status).
    #[schema(schema_with = status_items)]
    pub statuses: Vec<String>,
    /// Any of these priorities.
    #[schema(schema_with = priority_items)]
    pub priorities: Vec<String>,
    /// Any of these department keys.
    pub departments: Vec<String>,
    /// Any of these category keys.
    pub categories: Vec<String>,
    /// `me` (whoever opens the view), `unassigned`, or a staff member's id.
    pub assignee: Option<String>,
    /// Words in the subject or description.
    pub text: Option<String>,
    /// Tickets carrying any of these tags.
    pub tags_any: Vec<String>,
    /// Only tickets with a service-level target past due when the view is opened.
    pub sla_breached: bool,
    /// `created` (default), `updated`, `priority`, `number` or `due`.
    #[schema(schema_with = crate::openapi::sort_schema)]
    pub sort: Option<String>,
    /// `desc` (default) or `asc`.
    #[schema(schema_with = crate::openapi::order_schema)]
    pub order: Option<String>,
}

impl ViewFilterBody {
    /// The filter, each bad field named.
    pub(crate) fn parse(self, s: &AppState) -> Result<ViewFilter, ApiError> {
        let mut errs = ValidationErrors::new();
        let mut filter = ViewFilter { sort: ViewFilter::newest_first(), ..ViewFilter::default() };
        for st in &self.statuses {
            match TicketStatus::ALL.iter().find(|x| x.as_str() == st.trim()) {
                Some(x) => filter.statuses.push(*x),
                None => {
                    errs.push(helpdesk_core::FieldError::new("statuses", "invalid", format!("`{st}` is not a status")))
                }
            }
        }
        for p in &self.priorities {
            filter.priorities.extend(errs.check(Priority::parse(p.trim()).map_err(|mut e| {
                e.field = "priorities".into();
                e
            })));
        }
        let catalog = &s.desk().options().catalog;
        for d in &self.departments {
            filter.departments.extend(errs.check(catalog.parse_department("departments", d)));
        }
        for c in &self.categories {
            match CategoryKey::parse_field("categories", c) {
                Ok(k) if catalog.category(&k).is_some() => filter.categories.push(k),
                _ => errs.push(helpdesk_core::FieldError::new(
                    "categories",
                    "invalid",
                    format!("`{c}` is not a category"),
                )),
            }
        }
        filter.assignee = match self.assignee.as_deref().map(str::trim) {
            None | Some("") => None,
            Some("me") => Some(ViewAssignee::Me),
            Some("unassigned") => Some(ViewAssignee::Unassigned),
            Some(id) => match id.parse::<UserId>() {
                Ok(u) => Some(ViewAssignee::User(u)),
                Err(_) => {
                    errs.push(helpdesk_core::FieldError::new("assignee", "invalid", "`me`, `unassigned` or a user id"));
                    None
                }
            },
        };
        filter.text = self.text;
        filter.tags_any = errs.check(Tag::parse_set("tags_any", &self.tags_any)).unwrap_or_default();
        filter.sla_breached = self.sla_breached;
        if let Some(f) = self.sort.as_deref() {
            match sort_field(f.trim()) {
                Some(f) => filter.sort.field = f,
                None => errs.push(helpdesk_core::FieldError::new(
                    "sort",
                    "invalid",
                    "created, updated, priority, number or due",
                )),
            }
        }
        match self.order.as_deref().map(str::trim) {
            None | Some("desc") => {}
            Some("asc") => filter.sort.direction = SortDirection::Asc,
            Some(_) => errs.push(helpdesk_core::FieldError::new("order", "invalid", "asc or desc")),
        }
        errs.into_result()?;
        Ok(filter)
    }

    fn of(f: &ViewFilter) -> Self {
        let TicketSort { field, direction } = f.sort;
        Self {
            statuses: f.statuses.iter().map(|s| s.as_str().to_owned()).collect(),
            priorities: f.priorities.iter().map(|p| p.as_str().to_owned()).collect(),
            departments: f.departments.iter().map(ToString::to_string).collect(),
            categories: f.categories.iter().map(ToString::to_string).collect(),
            assignee: f.assignee.map(|a| match a {
                ViewAssignee::Me => "me".to_owned(),
                ViewAssignee::Unassigned => "unassigned".to_owned(),
                ViewAssignee::User(u) => u.to_string(),
            }),
            text: f.text.clone(),
            tags_any: f.tags_any.iter().map(|t| t.as_str().to_owned()).collect(),
            sla_breached: f.sla_breached,
            sort: Some(sort_name(field).to_owned()),
            order: Some(if direction == SortDirection::Asc { "asc" } else { "desc" }.to_owned()),
        }
    }
}

/// A view as written.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ViewBody {
    /// The name the queue lists it by (1–80 characters; unique among the views its owner sees).
    pub name: String,
    /// Shared with all staff (admins only); otherwise personal.
    #[serde(default)]
    pub shared: bool,
    /// What it lists.
    #[serde(default)]
    pub filter: ViewFilterBody,
    /// The columns it shows besides number and subject (empty: all).
    #[serde(default)]
    #[schema(schema_with = column_items)]
    pub columns: Vec<String>,
}

impl ViewBody {
    fn into_draft(self, s: &AppState) -> Result<ViewDraft, ApiError> {
        let mut columns = Vec::new();
        for c in &self.columns {
            match ViewColumn::ALL.iter().find(|x| x.as_str() == c.trim()) {
                Some(x) => columns.push(*x),
                None => return Err(ApiError::field("columns", "invalid", &format!("`{c}` is not a column"))),
            }
        }
        Ok(ViewDraft { name: self.name, shared: self.shared, filter: self.filter.parse(s)?, columns })
    }
}

/// A view, with what it holds for the caller now.
#[derive(Debug, Serialize, ToSchema)]
pub struct ViewOut {
    /// Its id.
    pub id: Uuid,
    /// Its name.
    pub name: String,
    /// Shared with all staff, or personal.
    pub shared: bool,
    /// What it lists.
    pub filter: ViewFilterBody,
    /// The columns it shows (empty: all).
    pub columns: Vec<String>,
    /// How many tickets it lists for the caller now (absent where not counted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// True when it is the caller's default view.
    pub default: bool,
    /// When it was last saved.
    #[serde(serialize_with = "crate::json_time::rfc3339")]
    pub updated_at: DateTime<Utc>,
}

impl ViewOut {
    fn of(v: &SavedView, count: Option<u64>, default: bool) -> Self {
        Self {
            id: v.id.as_uuid(),
            name: v.name.to_string(),
            shared: v.is_shared(),
            filter: ViewFilterBody::of(&v.filter),
            columns: v.columns.iter().map(|c| c.as_str().to_owned()).collect(),
            count,
            default,
            updated_at: v.updated_at,
        }
    }
}

impl From<&ViewSummary> for ViewOut {
    fn from(s: &ViewSummary) -> Self {
        Self::of(&s.view, Some(s.count), s.default)
    }
}

/// The views the caller may open (shared and their own, by name), each with its count now.
#[utoipa::path(get, path = "/views", tag = "views", security(("bearer" = [])),
    responses((status = 200, body = Vec<ViewOut>), (status = 403, body = Problem)))]
async fn list_views(State(s): State<AppState>, c: Caller) -> ApiResult<Json<Vec<ViewOut>>> {
    Ok(Json(s.desk().views(&c.principal).await?.iter().map(ViewOut::from).collect()))
}

/// Save a view (personal; `shared: true` for admins).
#[utoipa::path(post, path = "/views", tag = "views", request_body = ViewBody, security(("bearer" = [])),
    responses((status = 201, body = ViewOut), (status = 403, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
async fn create_view(
    State(s): State<AppState>,
    c: Caller,
    ApiJson(b): ApiJson<ViewBody>,
) -> ApiResult<(StatusCode, Json<ViewOut>)> {
    let v = s.desk().save_view(&c.principal, None, b.into_draft(&s)?).await?;
    Ok((StatusCode::CREATED, Json(ViewOut::of(&v, None, false))))
}

/// Replace a view the caller may change (their own; a shared one as an admin).
#[utoipa::path(put, path = "/views/{id}", tag = "views", request_body = ViewBody, params(("id" = Uuid, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = ViewOut), (status = 403, body = Problem), (status = 409, body = Problem),
        (status = 404, body = Problem),
        (status = 422, body = Problem)))]
async fn save_view(
    State(s): State<AppState>,
    c: Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(b): ApiJson<ViewBody>,
) -> ApiResult<Json<ViewOut>> {
    let v = s.desk().save_view(&c.principal, Some(ViewId::from_uuid(id)), b.into_draft(&s)?).await?;
    Ok(Json(ViewOut::of(&v, None, false)))
}

/// Delete a view the caller may change; defaults that pointed at it are forgotten.
#[utoipa::path(delete, path = "/views/{id}", tag = "views", params(("id" = Uuid, Path)), security(("bearer" = [])),
    responses((status = 204), (status = 403, body = Problem), (status = 409, body = Problem),
        (status = 404, body = Problem)))]
async fn delete_view(State(s): State<AppState>, c: Caller, ApiPath(id): ApiPath<Uuid>) -> ApiResult<StatusCode> {
    s.desk().delete_view(&c.principal, ViewId::from_uuid(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller's default view.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DefaultViewBody {
    /// A view the caller can open, or `null` for none (the queue's open work).
    pub id: Option<Uuid>,
}

/// Choose the view the queue opens on (`null`: none).
#[utoipa::path(put, path = "/me/default-view", tag = "views", request_body = DefaultViewBody,
    security(("bearer" = [])),
    responses((status = 204), (status = 403, body = Problem), (status = 409, body = Problem),
        (status = 404, body = Problem)))]
async fn set_default_view(
    State(s): State<AppState>,
    c: Caller,
    ApiJson(b): ApiJson<DefaultViewBody>,
) -> ApiResult<StatusCode> {
    s.desk().set_default_view(&c.principal, b.id.map(ViewId::from_uuid)).await?;
    Ok(StatusCode::NO_CONTENT)
}
