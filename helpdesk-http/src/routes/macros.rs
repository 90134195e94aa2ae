//! Macros: `GET/POST /macros`, `PUT/DELETE /macros/{id}` to keep them, and
//! `POST /tickets/{number}/macros/{id}/preview` and `…/apply` to use them (core's
//! `preview_macro` / `apply_macro`: one unit of work, all or nothing).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use helpdesk_core::domain::{MacroId, Priority};
use helpdesk_core::lifecycle::Action;
use helpdesk_core::model::Macro;
use helpdesk_core::{MacroDraft, MacroPreview};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::tickets::{TicketReply, number, reply};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{ApiJson, ApiPath, IdempotencyKey, IfMatch};
use crate::state::AppState;
use crate::views::{ChangeOut, TicketOut};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_macros, create_macro))
        .routes(routes!(save_macro, delete_macro))
        .routes(routes!(preview_macro))
        .routes(routes!(apply_macro))
}

/// A macro as written: at least one of comment, priority, department, tags or action.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MacroBody {
    /// The name staff pick it by (1–80 characters; unique among the macros its owner sees).
    pub name: String,
    /// Shared with all staff (admins only); otherwise personal.
    #[serde(default)]
    pub shared: bool,
    /// A comment, with placeholders: `{{requester.first_name}}`, `{{requester.name}}`,
    /// `{{ticket.number}}`, `{{ticket.subject}}`, `{{agent.first_name}}`, `{{agent.name}}`.
    pub comment: Option<String>,
    /// The comment is an internal note (staff only).
    #[serde(default)]
    pub comment_internal: bool,
    /// A priority to set.
    #[schema(schema_with = crate::openapi::priority_schema)]
    pub priority: Option<String>,
    /// A department key to move the ticket to.
    pub department: Option<String>,
    /// Tags to add.
    #[serde(default)]
    #[schema(max_items = 20)]
    pub add_tags: Vec<String>,
    /// Tags to take away.
    #[serde(default)]
    #[schema(max_items = 20)]
    pub remove_tags: Vec<String>,
    /// A lifecycle action to take last.
    #[schema(schema_with = macro_action_schema)]
    pub action: Option<String>,
    /// The action's note (reason, resolution note, the question), with placeholders.
    pub action_note: Option<String>,
}

fn macro_action_schema() -> utoipa::openapi::schema::Schema {
    crate::openapi::nullable_enum(helpdesk_core::MACRO_ACTIONS.iter().map(|a| a.as_str()))
}

impl MacroBody {
    fn into_draft(self) -> Result<MacroDraft, ApiError> {
        let priority = self.priority.as_deref().map(Priority::parse).transpose().map_err(helpdesk_core::Error::from)?;
        let action = self
            .action
            .as_deref()
            .map(|a| {
                Action::ALL
                    .iter()
                    .copied()
                    .find(|x| x.as_str() == a.trim())
                    .ok_or_else(|| ApiError::field("action", "invalid", &format!("`{a}` is not an action")))
            })
            .transpose()?;
        Ok(MacroDraft {
            name: self.name,
            shared: self.shared,
            comment: self.comment,
            comment_internal: self.comment_internal,
            priority,
            department: self.department,
            add_tags: self.add_tags,
            remove_tags: self.remove_tags,
            action,
            action_note: self.action_note,
        })
    }
}

/// A macro.
#[derive(Debug, Serialize, ToSchema)]
pub struct MacroOut {
    /// Its id.
    pub id: Uuid,
    /// Its name.
    pub name: String,
    /// Shared with all staff, or personal.
    pub shared: bool,
    /// The comment, placeholders as written.
    pub comment: Option<String>,
    /// The comment is an internal note.
    pub comment_internal: bool,
    /// The priority it sets.
    pub priority: Option<String>,
    /// The department it moves the ticket to.
    pub department: Option<String>,
    /// Tags it adds.
    pub add_tags: Vec<String>,
    /// Tags it takes away.
    pub remove_tags: Vec<String>,
    /// The lifecycle action it takes.
    pub action: Option<String>,
    /// The action's note, placeholders as written.
    pub action_note: Option<String>,
    /// When it was last saved.
    #[serde(serialize_with = "crate::json_time::rfc3339")]
    pub updated_at: DateTime<Utc>,
}

impl From<&Macro> for MacroOut {
    fn from(m: &Macro) -> Self {
        Self {
            id: m.id.as_uuid(),
            name: m.name.to_string(),
            shared: m.is_shared(),
            comment: m.comment.as_ref().map(|c| c.body.as_str().to_owned()),
            comment_internal: m.comment.as_ref().is_some_and(|c| c.internal),
            priority: m.priority.map(|p| p.to_string()),
            department: m.department.as_ref().map(|d| d.to_string()),
            add_tags: m.add_tags.iter().map(|t| t.as_str().to_owned()).collect(),
            remove_tags: m.remove_tags.iter().map(|t| t.as_str().to_owned()).collect(),
            action: m.action.map(|a| a.as_str().to_owned()),
            action_note: m.action_note.as_ref().map(|n| n.as_str().to_owned()),
            updated_at: m.updated_at,
        }
    }
}

/// What applying a macro would do; nothing was written.
#[derive(Debug, Serialize, ToSchema)]
pub struct MacroPreviewOut {
    /// The macro.
    #[serde(rename = "macro")]
    pub applied: MacroOut,
    /// The ticket's version the preview was made on (send it as `If-Match` to apply).
    pub version: u64,
    /// The comment as it would be written, placeholders filled.
    pub comment: Option<String>,
    /// The comment would be an internal note.
    pub comment_internal: bool,
    /// The action's note as it would be written.
    pub action_note: Option<String>,
    /// Every field that would change, status included.
    pub changes: Vec<ChangeOut>,
    /// The status after.
    #[schema(schema_with = crate::openapi::status_schema)]
    pub status: String,
}

impl From<MacroPreview> for MacroPreviewOut {
    fn from(p: MacroPreview) -> Self {
        Self {
            applied: (&p.applied).into(),
            version: p.version,
            comment: p.comment,
            comment_internal: p.comment_internal,
            action_note: p.action_note,
            changes: p.changes.into_iter().map(|c| ChangeOut { field: c.field, old: c.old, new: c.new }).collect(),
            status: p.status.to_string(),
        }
    }
}

/// The macros the caller may apply: the shared ones and their own, by name.
#[utoipa::path(get, path = "/macros", tag = "macros", security(("bearer" = [])),
    responses((status = 200, body = Vec<MacroOut>), (status = 403, body = Problem)))]
async fn list_macros(State(s): State<AppState>, c: Caller) -> ApiResult<Json<Vec<MacroOut>>> {
    Ok(Json(s.desk().macros(&c.principal).await?.iter().map(MacroOut::from).collect()))
}

/// Make a macro (personal; `shared: true` for admins).
#[utoipa::path(post, path = "/macros", tag = "macros", request_body = MacroBody, security(("bearer" = [])),
    responses((status = 201, body = MacroOut), (status = 403, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
async fn create_macro(
    State(s): State<AppState>,
    c: Caller,
    ApiJson(b): ApiJson<MacroBody>,
) -> ApiResult<(StatusCode, Json<MacroOut>)> {
    let m = s.desk().save_macro(&c.principal, None, b.into_draft()?).await?;
    Ok((StatusCode::CREATED, Json((&m).into())))
}

/// Replace a macro the caller may change (their own; a shared one as an admin).
#[utoipa::path(put, path = "/macros/{id}", tag = "macros", request_body = MacroBody, params(("id" = Uuid, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = MacroOut), (status = 403, body = Problem), (status = 409, body = Problem),
        (status = 404, body = Problem),
        (status = 422, body = Problem)))]
async fn save_macro(
    State(s): State<AppState>,
    c: Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(b): ApiJson<MacroBody>,
) -> ApiResult<Json<MacroOut>> {
    let m = s.desk().save_macro(&c.principal, Some(MacroId::from_uuid(id)), b.into_draft()?).await?;
    Ok(Json((&m).into()))
}

/// Delete a macro the caller may change; tickets keep the history it wrote.
#[utoipa::path(delete, path = "/macros/{id}", tag = "macros", params(("id" = Uuid, Path)), security(("bearer" = [])),
    responses((status = 204), (status = 403, body = Problem), (status = 409, body = Problem),
        (status = 404, body = Problem)))]
async fn delete_macro(State(s): State<AppState>, c: Caller, ApiPath(id): ApiPath<Uuid>) -> ApiResult<StatusCode> {
    s.desk().delete_macro(&c.principal, MacroId::from_uuid(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What applying the macro to the ticket would do, checked like the real thing; writes
/// nothing.
#[utoipa::path(post, path = "/tickets/{number}/macros/{id}/preview", tag = "macros",
    params(("number" = String, Path), ("id" = Uuid, Path)), security(("bearer" = [])),
    responses((status = 200, body = MacroPreviewOut), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn preview_macro(
    State(s): State<AppState>,
    c: Caller,
    ApiPath((n, id)): ApiPath<(String, Uuid)>,
) -> ApiResult<Json<MacroPreviewOut>> {
    let p = s.desk().preview_macro(&c.principal, &number(&n)?, MacroId::from_uuid(id)).await?;
    Ok(Json(p.into()))
}

/// Apply the macro to the ticket: every part (fields, tags, comment, action) in one unit of
/// work, or nothing when any part is refused. With `Idempotency-Key`, a retry answers the
/// ticket without applying anything again.
#[utoipa::path(post, path = "/tickets/{number}/macros/{id}/apply", tag = "macros",
    params(("number" = String, Path), ("id" = Uuid, Path),
        ("If-Match" = Option<String>, Header, description = "the ETag the macro is applied to"),
        ("Idempotency-Key" = Option<String>, Header, description = "retry-safe application")),
    security(("bearer" = [])),
    responses((status = 200, body = TicketOut<'_>), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 412, body = Problem), (status = 422, body = Problem)))]
async fn apply_macro(
    State(s): State<AppState>,
    c: Caller,
    if_match: IfMatch,
    key: IdempotencyKey,
    ApiPath((n, id)): ApiPath<(String, Uuid)>,
) -> ApiResult<TicketReply> {
    let t = s
        .desk()
        .apply_macro(&c.principal, &number(&n)?, MacroId::from_uuid(id), if_match.0, key.0.as_deref())
        .await
        .map_err(|e| if_match.error(e))?;
    Ok(reply(&s, &c, StatusCode::OK, t))
}
