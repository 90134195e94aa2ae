//! One's own profile, and user administration for admins: list with filters and cursor
//! paging, create (with an invitation), approve, reject (audited), deactivate, reactivate,
//! change role or department; rejection records; the security audit log; staff for pickers.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use helpdesk_core::domain::{DepartmentKey, Role, UserId, UserStatus};
use helpdesk_core::model::{AuditKind, RejectionRecord, UserSummary};
use helpdesk_core::ports::{AuditQuery, UserQuery};
use helpdesk_core::{NewUser, ProfileUpdate};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::{Caller, PasswordChangeCaller};
use crate::error::{ApiResult, Problem};
use crate::extract::{ApiJson, ApiPath, ApiQuery, IfMatch, OptionalJson, cursor, page_size, parse_enum};
use crate::state::AppState;
use crate::views::{ActorOut, UserOut};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(me, update_me))
        .routes(routes!(list_users, create_user))
        .routes(routes!(get_user))
        .routes(routes!(approve_user))
        .routes(routes!(reject_user))
        .routes(routes!(deactivate_user))
        .routes(routes!(reactivate_user))
        .routes(routes!(change_role))
        .routes(routes!(list_staff))
        .routes(routes!(list_rejections))
        .routes(routes!(audit_log))
}

/// One's own profile.
#[utoipa::path(get, path = "/me", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = UserOut), (status = 401, body = Problem)))]
async fn me(State(s): State<AppState>, PasswordChangeCaller(c): PasswordChangeCaller) -> ApiResult<Json<UserOut>> {
    Ok(Json((&s.desk().profile(&c.principal).await?).into()))
}

/// Names and suffix; omitted fields stay, `""` clears an optional one.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileBody {
    /// First name.
    #[schema(schema_with = crate::openapi::nullable_text_schema)]
    pub first_name: Option<String>,
    /// Middle name.
    #[schema(schema_with = crate::openapi::clearable_text_schema)]
    pub middle_name: Option<String>,
    /// Last name.
    #[schema(schema_with = crate::openapi::nullable_text_schema)]
    pub last_name: Option<String>,
    /// `Jr.`, `Sr.`, `II` … `X`, or null to clear.
    #[schema(schema_with = crate::openapi::suffix_schema)]
    pub suffix: Option<String>,
}

/// Update one's names and suffix (nothing else is the user's to set).
#[utoipa::path(patch, path = "/me", tag = "users", request_body = ProfileBody, security(("bearer" = [])),
    responses((status = 200, body = UserOut), (status = 412, body = Problem), (status = 422, body = Problem)))]
async fn update_me(
    State(s): State<AppState>,
    c: Caller,
    if_match: IfMatch,
    ApiJson(b): ApiJson<ProfileBody>,
) -> ApiResult<Json<UserOut>> {
    let u = ProfileUpdate {
        first_name: b.first_name,
        middle_name: b.middle_name,
        last_name: b.last_name,
        suffix: b.suffix,
    };
    let user = s.desk().update_profile(&c.principal, u, if_match.0).await.map_err(|e| if_match.error(e))?;
    Ok(Json((&user).into()))
}

/// Filters of the user list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct UserListParams {
    /// `employee`, `coordinator` or `admin`.
    #[param(schema_with = crate::openapi::role_schema)]
    pub role: Option<String>,
    /// `pending`, `approved` or `deactivated`.
    #[param(schema_with = crate::openapi::user_status_schema)]
    pub status: Option<String>,
    /// Department key.
    #[param(schema_with = crate::openapi::catalog_key_schema)]
    pub department: Option<String>,
    /// Text in email, name or company id.
    pub q: Option<String>,
    /// Cursor from the previous page.
    pub cursor: Option<String>,
    /// Page size (1–100, default 25).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

/// A page of users.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserPage {
    /// Users, newest first.
    pub items: Vec<UserOut>,
    /// Cursor of the next page, if any.
    pub next_cursor: Option<String>,
}

/// List users (admins).
#[utoipa::path(get, path = "/users", tag = "users", params(UserListParams), security(("bearer" = [])),
    responses((status = 200, body = UserPage), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn list_users(
    State(s): State<AppState>,
    c: Caller,
    ApiQuery(p): ApiQuery<UserListParams>,
) -> ApiResult<Json<UserPage>> {
    // A filter, as on the ticket list: a well-formed key the catalog does not have finds no one.
    let department = match p.department.as_deref() {
        Some(d) => Some(DepartmentKey::parse_field("department", d).map_err(helpdesk_core::Error::from)?),
        None => None,
    };
    let q = UserQuery {
        role: p
            .role
            .as_deref()
            .map(|r| parse_enum::<Role>("role", r, &["employee", "coordinator", "admin"]))
            .transpose()?,
        status: p
            .status
            .as_deref()
            .map(|r| parse_enum::<UserStatus>("status", r, &["pending", "approved", "deactivated"]))
            .transpose()?,
        department,
        text: p.q,
        cursor: cursor(p.cursor.as_deref())?,
        limit: page_size(p.limit)?,
    };
    let page = s.desk().list_users(&c.principal, &q).await?;
    Ok(Json(UserPage {
        items: page.items.iter().map(UserOut::from).collect(),
        next_cursor: page.next.map(|c| c.encode()),
    }))
}

/// A user created by an admin; they get a mail to choose their password.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUserBody {
    /// The new user's email; the invitation goes there.
    pub email: String,
    /// First name.
    pub first_name: String,
    /// Middle name.
    #[serde(default)]
    pub middle_name: Option<String>,
    /// Last name.
    pub last_name: String,
    /// `Jr.`, `Sr.`, `II` … `X`.
    #[serde(default)]
    pub suffix: Option<String>,
    /// Company id; left out for the next free one.
    #[serde(default)]
    pub company_id: Option<String>,
    /// Department key.
    #[serde(default)]
    pub department: Option<String>,
    /// Role (default `employee`).
    #[serde(default)]
    #[schema(schema_with = crate::openapi::optional_role_schema)]
    pub role: Option<String>,
}

/// Create a user (admins); an invitation mail lets them set a password.
#[utoipa::path(post, path = "/users", tag = "users", request_body = NewUserBody, security(("bearer" = [])),
    responses((status = 201, body = UserOut), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn create_user(
    State(s): State<AppState>,
    c: Caller,
    ApiJson(b): ApiJson<NewUserBody>,
) -> ApiResult<(StatusCode, Json<UserOut>)> {
    let role = match b.role.as_deref() {
        Some(r) => parse_enum::<Role>("role", r, &["employee", "coordinator", "admin"])?,
        None => Role::Employee,
    };
    let n = NewUser {
        email: b.email,
        first_name: b.first_name,
        middle_name: b.middle_name,
        last_name: b.last_name,
        suffix: b.suffix,
        company_id: b.company_id,
        department: b.department,
        role,
    };
    let user = s.desk().create_user(&c.principal, n).await?;
    Ok((StatusCode::CREATED, Json((&user).into())))
}

/// One user (admins).
#[utoipa::path(get, path = "/users/{id}", tag = "users", params(("id" = Uuid, Path)), security(("bearer" = [])),
    responses((status = 200, body = UserOut), (status = 404, body = Problem)))]
async fn get_user(State(s): State<AppState>, c: Caller, ApiPath(id): ApiPath<Uuid>) -> ApiResult<Json<UserOut>> {
    Ok(Json((&s.desk().user(&c.principal, UserId::from_uuid(id)).await?).into()))
}

/// The account moves an admin makes with no input.
#[derive(Debug, Clone, Copy)]
enum AccountMove {
    Approve,
    Deactivate,
    Reactivate,
}

async fn account_move(
    s: &AppState,
    c: &Caller,
    if_match: IfMatch,
    id: Uuid,
    m: AccountMove,
) -> ApiResult<Json<UserOut>> {
    let (desk, id) = (s.desk(), UserId::from_uuid(id));
    let user = match m {
        AccountMove::Approve => desk.approve_user(&c.principal, id, if_match.0).await,
        AccountMove::Deactivate => desk.deactivate_user(&c.principal, id, if_match.0).await,
        AccountMove::Reactivate => desk.reactivate_user(&c.principal, id, if_match.0).await,
    }
    .map_err(|e| if_match.error(e))?;
    Ok(Json((&user).into()))
}

/// Approve a pending registration (mails "account ready").
#[utoipa::path(post, path = "/users/{id}/approve", tag = "users", params(("id" = Uuid, Path)), security(("bearer" = [])),
    responses((status = 200, body = UserOut), (status = 409, body = Problem), (status = 412, body = Problem)))]
async fn approve_user(
    State(s): State<AppState>,
    c: Caller,
    if_match: IfMatch,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<UserOut>> {
    account_move(&s, &c, if_match, id, AccountMove::Approve).await
}

/// Why a registration was refused.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectUserBody {
    /// Optional reason, mailed to the registrant.
    pub reason: Option<String>,
}

/// A rejected registration, as audited.
#[derive(Debug, Serialize, ToSchema)]
pub struct RejectionOut {
    /// The rejection record's id.
    pub id: Uuid,
    /// The email the registration used (free to register again).
    pub email: String,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// Company id.
    pub company_id: String,
    /// The department the registration named.
    pub department: Option<String>,
    /// The reason the admin gave, if any.
    pub reason: Option<String>,
    /// The admin who rejected it.
    pub rejected_by: Uuid,
    /// When the registration was rejected.
    pub rejected_at: DateTime<Utc>,
}

impl From<&RejectionRecord> for RejectionOut {
    fn from(r: &RejectionRecord) -> Self {
        Self {
            id: r.id.as_uuid(),
            email: r.email.as_str().to_owned(),
            first_name: r.first_name.as_str().to_owned(),
            last_name: r.last_name.as_str().to_owned(),
            company_id: r.company_id.as_str().to_owned(),
            department: r.department.as_ref().map(|d| d.as_str().to_owned()),
            reason: r.reason.as_ref().map(|n| n.as_str().to_owned()),
            rejected_by: r.rejected_by.as_uuid(),
            rejected_at: r.rejected_at,
        }
    }
}

/// Reject a pending registration: audited, personal data deleted, mailed.
#[utoipa::path(post, path = "/users/{id}/reject", tag = "users", params(("id" = Uuid, Path)), request_body = Option<RejectUserBody>,
    security(("bearer" = [])), responses((status = 200, body = RejectionOut), (status = 409, body = Problem)))]
async fn reject_user(
    State(s): State<AppState>,
    c: Caller,
    if_match: IfMatch,
    ApiPath(id): ApiPath<Uuid>,
    OptionalJson(b): OptionalJson<RejectUserBody>,
) -> ApiResult<Json<RejectionOut>> {
    let r = s
        .desk()
        .reject_user(&c.principal, UserId::from_uuid(id), b.reason.as_deref(), if_match.0)
        .await
        .map_err(|e| if_match.error(e))?;
    Ok(Json((&r).into()))
}

/// Deactivate an account (its sessions stop working at once).
#[utoipa::path(post, path = "/users/{id}/deactivate", tag = "users", params(("id" = Uuid, Path)), security(("bearer" = [])),
    responses((status = 200, body = UserOut), (status = 409, body = Problem)))]
async fn deactivate_user(
    State(s): State<AppState>,
    c: Caller,
    if_match: IfMatch,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<UserOut>> {
    account_move(&s, &c, if_match, id, AccountMove::Deactivate).await
}

/// Reactivate a deactivated account.
#[utoipa::path(post, path = "/users/{id}/reactivate", tag = "users", params(("id" = Uuid, Path)), security(("bearer" = [])),
    responses((status = 200, body = UserOut), (status = 409, body = Problem)))]
async fn reactivate_user(
    State(s): State<AppState>,
    c: Caller,
    if_match: IfMatch,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<UserOut>> {
    account_move(&s, &c, if_match, id, AccountMove::Reactivate).await
}

/// A new role and/or department; `department: null` clears it.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleBody {
    /// `employee`, `coordinator` or `admin`.
    #[schema(schema_with = crate::openapi::optional_role_schema)]
    pub role: Option<String>,
    /// Department key, or null to clear.
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub department: Option<Option<String>>,
}

mod double_option {
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
        Option::<String>::deserialize(d).map(Some)
    }
}

/// Change a user's role or department (acts on their next request).
#[utoipa::path(patch, path = "/users/{id}/role", tag = "users", params(("id" = Uuid, Path)), request_body = RoleBody,
    security(("bearer" = [])), responses((status = 200, body = UserOut), (status = 422, body = Problem)))]
async fn change_role(
    State(s): State<AppState>,
    c: Caller,
    if_match: IfMatch,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(b): ApiJson<RoleBody>,
) -> ApiResult<Json<UserOut>> {
    let role =
        b.role.as_deref().map(|r| parse_enum::<Role>("role", r, &["employee", "coordinator", "admin"])).transpose()?;
    let u = s
        .desk()
        .change_role(&c.principal, UserId::from_uuid(id), role, b.department, if_match.0)
        .await
        .map_err(|e| if_match.error(e))?;
    Ok(Json((&u).into()))
}

/// A staff member, for assignee pickers.
#[derive(Debug, Serialize, ToSchema)]
pub struct StaffOut {
    /// The user's id.
    pub id: Uuid,
    /// Display name.
    pub name: String,
    /// `employee`, `coordinator` or `admin`.
    pub role: String,
    /// The user's department key, if any.
    pub department: Option<String>,
}

impl From<&UserSummary> for StaffOut {
    fn from(u: &UserSummary) -> Self {
        Self {
            id: u.id.as_uuid(),
            name: u.name.clone(),
            role: u.role.as_str().to_owned(),
            department: u.department.as_ref().map(|d| d.as_str().to_owned()),
        }
    }
}

/// Approved coordinators and admins (staff only).
#[utoipa::path(get, path = "/staff", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = Vec<StaffOut>), (status = 403, body = Problem)))]
async fn list_staff(State(s): State<AppState>, c: Caller) -> ApiResult<Json<Vec<StaffOut>>> {
    Ok(Json(s.desk().list_staff(&c.principal).await?.iter().map(StaffOut::from).collect()))
}

/// Paging parameters.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PageParams {
    /// Cursor from the previous page.
    pub cursor: Option<String>,
    /// Page size (1–100, default 25).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

/// Rejected registrations with their count.
#[derive(Debug, Serialize, ToSchema)]
pub struct RejectionPage {
    /// Records, newest first.
    pub items: Vec<RejectionOut>,
    /// Cursor of the next page.
    pub next_cursor: Option<String>,
    /// How many registrations were rejected in all.
    pub count: u64,
}

/// Rejection records and their count (admins).
#[utoipa::path(get, path = "/rejections", tag = "users", params(PageParams), security(("bearer" = [])),
    responses((status = 200, body = RejectionPage), (status = 403, body = Problem)))]
async fn list_rejections(
    State(s): State<AppState>,
    c: Caller,
    ApiQuery(p): ApiQuery<PageParams>,
) -> ApiResult<Json<RejectionPage>> {
    let (page, count) = s.desk().rejections(&c.principal, cursor(p.cursor.as_deref())?, page_size(p.limit)?).await?;
    Ok(Json(RejectionPage {
        items: page.items.iter().map(RejectionOut::from).collect(),
        next_cursor: page.next.map(|c| c.encode()),
        count,
    }))
}

/// Filters of the audit log.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditParams {
    /// Kind, e.g. `login_failed`, `access_denied`, `user_administered`.
    #[param(schema_with = crate::openapi::audit_kind_schema)]
    pub kind: Option<String>,
    /// Cursor from the previous page.
    pub cursor: Option<String>,
    /// Page size (1–100, default 25).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

/// A security event.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditOut {
    /// The entry's id.
    pub id: Uuid,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// Who did it (absent for anonymous attempts).
    pub actor: Option<ActorOut>,
    /// What happened (`login_failed`, `access_denied`, `role_changed`, …).
    pub kind: String,
    /// What it concerned.
    pub target: Option<String>,
    /// Client address.
    pub address: Option<String>,
    /// Details (never secrets; addresses and emails masked).
    pub detail: String,
}

/// A page of the audit log.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    /// Entries, newest first.
    pub items: Vec<AuditOut>,
    /// Cursor of the next page.
    pub next_cursor: Option<String>,
}

/// The security audit log (admins).
#[utoipa::path(get, path = "/audit", tag = "users", params(AuditParams), security(("bearer" = [])),
    responses((status = 200, body = AuditPage), (status = 403, body = Problem)))]
async fn audit_log(
    State(s): State<AppState>,
    c: Caller,
    ApiQuery(p): ApiQuery<AuditParams>,
) -> ApiResult<Json<AuditPage>> {
    let kind = match p.kind.as_deref() {
        Some(k) => Some(
            serde_json::from_value::<AuditKind>(serde_json::Value::String(k.to_owned()))
                .map_err(|_| crate::error::ApiError::field("kind", "invalid", "not an audit kind"))?,
        ),
        None => None,
    };
    let q = AuditQuery { kind, target: None, cursor: cursor(p.cursor.as_deref())?, limit: page_size(p.limit)? };
    let page = s.desk().audit_log(&c.principal, &q).await?;
    let items = page
        .items
        .iter()
        .map(|a| AuditOut {
            id: a.id.as_uuid(),
            at: a.at,
            actor: a.actor.as_ref().map(ActorOut::from),
            kind: serde_json::to_value(a.kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default(),
            target: a.target.clone(),
            address: a.address.clone(),
            detail: a.detail.clone(),
        })
        .collect();
    Ok(Json(AuditPage { items, next_cursor: page.next.map(|c| c.encode()) }))
}
