//! Tickets: create (with `Idempotency-Key`), list with every filter of SPEC §4 and cursor
//! paging, get (with `ETag`), edit within the field rules (`If-Match`), one route per
//! lifecycle action, history, and public and internal comments.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, Utc};
use helpdesk_core::domain::{CategoryKey, DepartmentKey, Priority, Tag, TicketNumber, TicketStatus, UserId};
use helpdesk_core::lifecycle::Action;
use helpdesk_core::model::Ticket;
use helpdesk_core::policy::Principal;
use helpdesk_core::ports::{AssigneeFilter, SortDirection, TicketQuery, TicketSort, TicketSortField};
use helpdesk_core::{ActionRequest, NewTicket, TicketEdit, TicketView};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::{Caller, TicketCaller};
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{ApiJson, ApiPath, ApiQuery, IdempotencyKey, IfMatch, cursor, etag, page_size};
use crate::state::AppState;
use crate::views::{CommentOut, EventOut, TicketOut};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_tickets, create_ticket))
        .routes(routes!(get_ticket, edit_ticket))
        .routes(routes!(history))
        .routes(routes!(comments, add_comment))
        .merge(super::bulk::router())
        .merge(super::actions::router())
        .merge(super::sla::router())
}

/// What a list route reserves per ticket for its page's JSON, so that the buffer is taken once
/// instead of doubled from 128 bytes (the `ticket_json` bench's page of 50 is 34.9 KB, about
/// 700 bytes a ticket; a ticket with a long description or many tags grows the buffer as before).
const TICKET_JSON_BYTES: usize = 1024;

/// A ticket response: the status, then the ticket as [`TicketOut`] with its `ETag`.
#[derive(Debug)]
pub struct TicketReply(pub StatusCode, pub TicketView);

impl IntoResponse for TicketReply {
    fn into_response(self) -> Response {
        let tag = etag(self.1.ticket.version);
        let mut res = (self.0, Json(TicketOut::from(&self.1))).into_response();
        if let Ok(v) = HeaderValue::from_str(&tag) {
            res.headers_mut().insert(header::ETAG, v);
        }
        res
    }
}

pub(crate) fn reply(s: &AppState, c: &Caller, status: StatusCode, t: Ticket) -> TicketReply {
    TicketReply(status, s.desk().view(&c.principal, t))
}

pub(crate) fn number(n: &str) -> Result<TicketNumber, ApiError> {
    TicketNumber::parse(n).map_err(|_| ApiError::new(StatusCode::NOT_FOUND, "resource.not_found", "ticket not found"))
}

/// A new ticket. Status, number, requester and timestamps are the server's.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTicketBody {
    /// Subject.
    pub subject: String,
    /// Category key (see `/catalog`).
    pub category: String,
    /// Sub-category key.
    pub sub_category: String,
    /// Description.
    pub description: String,
    /// Requested date (not in the past).
    #[serde(default)]
    pub scheduled_date: Option<NaiveDate>,
    /// Custom field values by key (`GET /custom-fields`): the requester sets the fields meant
    /// for them (`requester_sets`), and every required one of those; staff any.
    #[serde(default)]
    #[schema(value_type = HashMap<String, super::custom_fields::CustomFieldValue>)]
    pub fields: BTreeMap<String, serde_json::Value>,
}

/// File a ticket. With `Idempotency-Key`, a retry returns the same ticket.
#[utoipa::path(post, path = "/tickets", tag = "tickets", request_body = NewTicketBody, security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "retry-safe creation")),
    responses((status = 201, body = TicketOut<'_>), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn create_ticket(
    State(s): State<AppState>,
    c: Caller,
    key: IdempotencyKey,
    ApiJson(b): ApiJson<NewTicketBody>,
) -> ApiResult<TicketReply> {
    let n = NewTicket {
        subject: b.subject,
        category: b.category,
        sub_category: b.sub_category,
        description: b.description,
        scheduled_date: b.scheduled_date,
        fields: b.fields,
    };
    let t = s.desk().create_ticket(&c.principal, n, key.0.as_deref()).await?;
    Ok(reply(&s, &c, StatusCode::CREATED, t))
}

/// Filters, sort and paging of the ticket list. Lists take comma-separated values.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct TicketListParams {
    /// Statuses, e.g. `open,in_progress`.
    #[param(schema_with = crate::openapi::status_list_schema)]
    pub status: Option<String>,
    /// Priorities, e.g. `critical,high`.
    #[param(schema_with = crate::openapi::priority_list_schema)]
    pub priority: Option<String>,
    /// Department keys.
    #[param(schema_with = crate::openapi::catalog_key_list_schema)]
    pub department: Option<String>,
    /// Category keys.
    #[param(schema_with = crate::openapi::catalog_key_list_schema)]
    pub category: Option<String>,
    /// Assignee's user id, or `none` for unassigned tickets.
    #[param(pattern = "^\\s*(none|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})?\\s*$")]
    pub assignee: Option<String>,
    /// Requester's user id.
    pub requester: Option<Uuid>,
    /// Created at or after (RFC 3339).
    pub created_from: Option<DateTime<Utc>>,
    /// Created before (RFC 3339).
    pub created_to: Option<DateTime<Utc>>,
    /// Case-insensitive text in subject or description.
    pub q: Option<String>,
    /// Tickets carrying any of these tags, e.g. `vip,printer` (staff; requesters where the
    /// policy lets them tag).
    #[param(schema_with = crate::openapi::tag_list_schema)]
    pub tags_any: Option<String>,
    /// Tickets carrying all of these tags.
    #[param(schema_with = crate::openapi::tag_list_schema)]
    pub tags_all: Option<String>,
    /// Tickets this user follows: a user id, or `me` (for an employee, the tickets they
    /// follow instead of their own).
    #[param(pattern = "^\\s*(me|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})?\\s*$")]
    pub follower: Option<String>,
    /// Custom field filters, a JSON object of field keys and the values wanted, e.g.
    /// `{"site":"Lisbon","vip":true}` (a multiple choice: the options that must all be
    /// chosen). Internal fields for staff only.
    pub fields: Option<String>,
    /// `breached`: only tickets with a running service-level target past its due time
    /// (staff only).
    #[param(schema_with = crate::openapi::sla_filter_schema)]
    pub sla: Option<String>,
    /// Only tickets whose earliest running service-level target falls due before this
    /// (RFC 3339; staff only).
    pub due_before: Option<DateTime<Utc>>,
    /// `created` (default), `updated`, `priority`, `number`, `due` (the earliest running
    /// service-level target's due time, soonest first by default; lists only tickets with one
    /// running; staff only), or `field:<key>` for a number, date or checkbox custom field
    /// (tickets without a value come last in either order).
    #[param(schema_with = crate::openapi::sort_schema)]
    pub sort: Option<String>,
    /// `desc` (default) or `asc`.
    #[param(schema_with = crate::openapi::order_schema)]
    pub order: Option<String>,
    /// Cursor from the previous page.
    pub cursor: Option<String>,
    /// Page size (1–100, default 25).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

/// A page of tickets.
#[derive(Debug, Serialize, ToSchema)]
pub struct TicketPage<'a> {
    /// Tickets in the requested order.
    pub items: Vec<TicketOut<'a>>,
    /// Cursor of the next page, if any.
    pub next_cursor: Option<String>,
}

fn list<T>(
    field: &str,
    v: Option<&str>,
    parse: impl Fn(&str) -> Result<T, helpdesk_core::FieldError>,
) -> ApiResult<Vec<T>> {
    v.unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| parse(s).map_err(|e| ApiError::field(field, "invalid", &e.message)))
        .collect()
}

/// The query of list parameters `p`, asked by `principal` (`follower=me` names them);
/// custom field filters and sorts are checked against the definitions they see.
pub(crate) async fn ticket_query(
    s: &AppState,
    principal: &Principal,
    mut p: TicketListParams,
) -> ApiResult<TicketQuery> {
    let fields = match p.fields.take().as_deref().map(str::trim) {
        None | Some("") => Vec::new(),
        Some(json) => {
            let map: BTreeMap<String, serde_json::Value> = serde_json::from_str(json)
                .map_err(|_| helpdesk_core::Error::from(super::custom_fields::bad_filter()))?;
            s.desk().field_filters(principal, &map).await?
        }
    };
    let sort_field = match p.sort.as_deref().and_then(|s| s.strip_prefix("field:")) {
        Some(key) => Some(s.desk().sort_field(principal, key.trim()).await?),
        None => None,
    };
    let mut q = parsed_query(p, principal.user().map(|u| u.id), s.desk().now())?;
    q.fields = fields;
    if let Some(k) = sort_field {
        q.sort.field = TicketSortField::Field(k);
    }
    Ok(q)
}

/// The query of the built-in list parameters, asked by `me` at `now`.
fn parsed_query(p: TicketListParams, me: Option<UserId>, now: DateTime<Utc>) -> ApiResult<TicketQuery> {
    let statuses = list("status", p.status.as_deref(), |s| s.parse::<TicketStatus>())?;
    let priorities = list("priority", p.priority.as_deref(), Priority::parse)?;
    let departments = list("department", p.department.as_deref(), |s| DepartmentKey::parse_field("department", s))?;
    let categories = list("category", p.category.as_deref(), |s| CategoryKey::parse_field("category", s))?;
    let assignee = match p.assignee.as_deref().map(str::trim) {
        None | Some("") => None,
        Some("none") => Some(AssigneeFilter::Nobody),
        Some(id) => Some(AssigneeFilter::User(
            id.parse::<UserId>().map_err(|_| ApiError::field("assignee", "invalid", "a user id or `none`"))?,
        )),
    };
    let bad_follower = || ApiError::field("follower", "invalid", "a user id or `me`");
    let follower = match p.follower.as_deref().map(str::trim) {
        None | Some("") => None,
        Some("me") => Some(me.ok_or_else(bad_follower)?),
        Some(id) => Some(id.parse::<UserId>().map_err(|_| bad_follower())?),
    };
    let field = match p.sort.as_deref() {
        None | Some("created") => TicketSortField::Created,
        Some("updated") => TicketSortField::Updated,
        Some("priority") => TicketSortField::Priority,
        Some("number") => TicketSortField::Number,
        Some("due") => TicketSortField::Due,
        // Checked and set by `ticket_query`.
        Some(f) if f.starts_with("field:") => TicketSortField::Created,
        Some(_) => {
            return Err(ApiError::field(
                "sort",
                "invalid",
                "one of: created, updated, priority, number, due, field:<key>",
            ));
        }
    };
    let due_before = match p.sla.as_deref().map(str::trim) {
        None | Some("") => p.due_before,
        Some("breached") => Some(p.due_before.map_or(now, |d| d.min(now))),
        Some(_) => return Err(ApiError::field("sla", "invalid", "`breached`")),
    };
    let direction = match p.order.as_deref() {
        None if field == TicketSortField::Due => SortDirection::Asc,
        None | Some("desc") => SortDirection::Desc,
        Some("asc") => SortDirection::Asc,
        Some(_) => return Err(ApiError::field("order", "invalid", "one of: asc, desc")),
    };
    Ok(TicketQuery {
        statuses,
        priorities,
        departments,
        categories,
        assignee,
        requester: p.requester.map(UserId::from_uuid),
        created_from: p.created_from,
        created_to: p.created_to,
        text: p.q,
        due_before,
        tags_any: Tag::parse_list("tags_any", p.tags_any.as_deref().unwrap_or(""))
            .map_err(helpdesk_core::Error::from)?,
        tags_all: Tag::parse_list("tags_all", p.tags_all.as_deref().unwrap_or(""))
            .map_err(helpdesk_core::Error::from)?,
        follower,
        fields: Vec::new(),
        sort: TicketSort { field, direction },
        cursor: cursor(p.cursor.as_deref())?,
        limit: page_size(p.limit)?,
    })
}

/// List the tickets the caller may see (employees: their own).
#[utoipa::path(get, path = "/tickets", tag = "tickets", params(TicketListParams), security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, body = TicketPage<'_>), (status = 422, body = Problem)))]
async fn list_tickets(
    State(s): State<AppState>,
    c: Caller,
    ApiQuery(p): ApiQuery<TicketListParams>,
) -> ApiResult<Response> {
    let q = ticket_query(&s, &c.principal, p).await?;
    let page = s.desk().list_tickets(&c.principal, &q).await?;
    let views: Vec<TicketView> = page.items.into_iter().map(|t| s.desk().view(&c.principal, t)).collect();
    let page =
        TicketPage { items: views.iter().map(TicketOut::from).collect(), next_cursor: page.next.map(|c| c.encode()) };
    Ok(crate::views::sized_json_response(&page, 64 + TICKET_JSON_BYTES * page.items.len()))
}

/// One ticket by number (another employee's ticket is 404).
#[utoipa::path(get, path = "/tickets/{number}", tag = "tickets", params(("number" = String, Path)),
    security(("bearer" = []), ("api_key" = [])), responses((status = 200, body = TicketOut<'_>), (status = 404, body = Problem)))]
async fn get_ticket(State(s): State<AppState>, c: TicketCaller, ApiPath(n): ApiPath<String>) -> ApiResult<TicketReply> {
    let (_, v) = c.with_ticket(&s, number(&n)).await?;
    Ok(TicketReply(StatusCode::OK, v))
}

/// Field edits; who may change what is in SPEC §4's field rules.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TicketEditBody {
    /// Subject (requester, while new).
    pub subject: Option<String>,
    /// Description (requester, while new).
    pub description: Option<String>,
    /// Category key (with `sub_category`).
    pub category: Option<String>,
    /// Sub-category key (with `category`).
    pub sub_category: Option<String>,
    /// Requested date (requester, while new); null clears it.
    #[serde(default, deserialize_with = "some_option")]
    #[schema(value_type = Option<NaiveDate>)]
    pub scheduled_date: Option<Option<NaiveDate>>,
    /// Priority (staff).
    #[schema(schema_with = crate::openapi::priority_schema)]
    pub priority: Option<String>,
    /// Department key (staff).
    pub department: Option<String>,
    /// The whole set of tags, replacing the ticket's (staff): normalised (lower case,
    /// whitespace as `-`), repeats dropped, 20 at most.
    pub tags: Option<Vec<String>>,
    /// Tags to add, leaving the others alone (staff).
    pub add_tags: Option<Vec<String>>,
    /// Tags to take away, leaving the others alone (staff).
    pub remove_tags: Option<Vec<String>>,
    /// Custom field values by key (staff), `null` clearing one; the fields left out stay.
    #[schema(value_type = Option<HashMap<String, super::custom_fields::CustomFieldValue>>)]
    pub fields: Option<BTreeMap<String, serde_json::Value>>,
}

fn some_option<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<NaiveDate>>, D::Error> {
    Option::<NaiveDate>::deserialize(d).map(Some)
}

/// Edit fields of a ticket.
#[utoipa::path(patch, path = "/tickets/{number}", tag = "tickets", params(("number" = String, Path),
    ("If-Match" = Option<String>, Header, description = "the ETag this edit is based on")), request_body = TicketEditBody,
    security(("bearer" = [])), responses((status = 200, body = TicketOut<'_>), (status = 403, body = Problem),
        (status = 409, body = Problem), (status = 412, body = Problem), (status = 422, body = Problem)))]
async fn edit_ticket(
    State(s): State<AppState>,
    c: Caller,
    if_match: IfMatch,
    ApiPath(n): ApiPath<String>,
    ApiJson(b): ApiJson<TicketEditBody>,
) -> ApiResult<TicketReply> {
    let category = match (b.category, b.sub_category) {
        (Some(c), Some(sc)) => Some((c, sc)),
        (None, None) => None,
        (Some(_), None) => return Err(ApiError::field("sub_category", "required", "give it with the category")),
        (None, Some(_)) => return Err(ApiError::field("category", "required", "give it with the sub-category")),
    };
    let edit = TicketEdit {
        subject: b.subject,
        description: b.description,
        category,
        scheduled_date: b.scheduled_date,
        priority: b.priority.as_deref().map(Priority::parse).transpose().map_err(helpdesk_core::Error::from)?,
        department: b.department,
        tags: b.tags,
        add_tags: b.add_tags.unwrap_or_default(),
        remove_tags: b.remove_tags.unwrap_or_default(),
        fields: b.fields.unwrap_or_default(),
    };
    let t = s.desk().edit_ticket(&c.principal, &number(&n)?, edit, if_match.0).await.map_err(|e| if_match.error(e))?;
    Ok(reply(&s, &c, StatusCode::OK, t))
}

/// A ticket's history (internal events for staff only).
#[utoipa::path(get, path = "/tickets/{number}/history", tag = "tickets", params(("number" = String, Path)),
    security(("bearer" = [])), responses((status = 200, body = Vec<EventOut>), (status = 404, body = Problem)))]
async fn history(State(s): State<AppState>, c: Caller, ApiPath(n): ApiPath<String>) -> ApiResult<Json<Vec<EventOut>>> {
    Ok(Json(s.desk().history(&c.principal, &number(&n)?).await?.iter().map(EventOut::from).collect()))
}

/// A ticket's comments (internal ones for staff only).
#[utoipa::path(get, path = "/tickets/{number}/comments", tag = "tickets", params(("number" = String, Path)),
    security(("bearer" = [])), responses((status = 200, body = Vec<CommentOut>), (status = 404, body = Problem)))]
async fn comments(
    State(s): State<AppState>,
    c: Caller,
    ApiPath(n): ApiPath<String>,
) -> ApiResult<Json<Vec<CommentOut>>> {
    Ok(Json(s.desk().comments(&c.principal, &number(&n)?).await?.iter().map(CommentOut::from).collect()))
}

/// A comment.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommentBody {
    /// Text.
    pub body: String,
    /// Internal (staff only; never shown or mailed to employees).
    #[serde(default)]
    pub internal: bool,
}

/// Comment on a ticket. A requester's public comment resumes a ticket waiting on them.
#[utoipa::path(post, path = "/tickets/{number}/comments", tag = "tickets", params(("number" = String, Path)),
    request_body = CommentBody, security(("bearer" = [])),
    responses((status = 201, body = CommentOut), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn add_comment(
    State(s): State<AppState>,
    c: Caller,
    ApiPath(n): ApiPath<String>,
    ApiJson(b): ApiJson<CommentBody>,
) -> ApiResult<(StatusCode, Json<CommentOut>)> {
    let comment = s.desk().add_comment(&c.principal, &number(&n)?, &b.body, b.internal).await?;
    Ok((StatusCode::CREATED, Json((&comment).into())))
}

pub(crate) async fn act(
    s: &AppState,
    c: &Caller,
    n: &str,
    action: Action,
    req: ActionRequest,
    if_match: IfMatch,
) -> ApiResult<TicketReply> {
    let t = s.desk().act(&c.principal, &number(n)?, action, req, if_match.0).await.map_err(|e| if_match.error(e))?;
    Ok(reply(s, c, StatusCode::OK, t))
}
