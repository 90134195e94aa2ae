//! Outbox administration: list messages by state (dead ones above all) and put a dead message
//! back in the queue. Message contents are summarised (kind and recipient), never shown: a
//! reset or invitation message holds a live token until it is delivered.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use helpdesk_core::domain::MessageId;
use helpdesk_core::model::{OutboxPayload, OutboxRecord, OutboxState};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{ApiPath, ApiQuery, cursor, page_size};
use crate::state::AppState;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_outbox)).routes(routes!(retry_message))
}

/// Which messages to list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct OutboxParams {
    /// `dead` (default), `pending` or `delivered`.
    #[param(schema_with = crate::openapi::outbox_state_schema)]
    pub state: Option<String>,
    /// Cursor from the previous page.
    pub cursor: Option<String>,
    /// Page size (1–100, default 25).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

/// An outbox message, summarised.
#[derive(Debug, Serialize, ToSchema)]
pub struct OutboxOut {
    /// Message id (also the Message-ID and webhook event id).
    pub id: Uuid,
    /// Enqueued.
    pub created_at: DateTime<Utc>,
    /// `mail`, `workflow` or `redacted` (a delivered message whose secret was cleared).
    pub channel: String,
    /// Mail kind (`password_reset`, …) or workflow event kind.
    pub kind: String,
    /// Mail recipient.
    pub recipient: Option<String>,
    /// `pending`, `delivered` or `dead`.
    pub state: String,
    /// Attempts made.
    pub attempts: u32,
    /// Next attempt.
    pub next_attempt_at: DateTime<Utc>,
    /// Last failure.
    pub last_error: Option<String>,
    /// Delivered.
    pub delivered_at: Option<DateTime<Utc>>,
}

impl From<&OutboxRecord> for OutboxOut {
    fn from(r: &OutboxRecord) -> Self {
        let (channel, kind, recipient) = match &r.message.payload {
            OutboxPayload::Mail(n) => ("mail", n.kind.name().to_owned(), Some(n.to.as_str().to_owned())),
            OutboxPayload::Workflow(e) => (
                "workflow",
                serde_json::to_value(e.kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default(),
                None,
            ),
            _ => ("redacted", String::new(), None),
        };
        Self {
            id: r.message.id.as_uuid(),
            created_at: r.message.created_at,
            channel: channel.into(),
            kind,
            recipient,
            state: r.state.as_str().into(),
            attempts: r.attempts,
            next_attempt_at: r.next_attempt_at,
            last_error: r.last_error.clone(),
            delivered_at: r.delivered_at,
        }
    }
}

/// A page of outbox messages.
#[derive(Debug, Serialize, ToSchema)]
pub struct OutboxPage {
    /// Messages.
    pub items: Vec<OutboxOut>,
    /// Cursor of the next page.
    pub next_cursor: Option<String>,
}

/// Outbox messages by state (admins).
#[utoipa::path(get, path = "/admin/outbox", tag = "admin", params(OutboxParams), security(("bearer" = [])),
    responses((status = 200, body = OutboxPage), (status = 403, body = Problem)))]
async fn list_outbox(
    State(s): State<AppState>,
    c: Caller,
    ApiQuery(p): ApiQuery<OutboxParams>,
) -> ApiResult<Json<OutboxPage>> {
    let state = match p.state.as_deref().unwrap_or("dead") {
        "dead" => OutboxState::Dead,
        "pending" => OutboxState::Pending,
        "delivered" => OutboxState::Delivered,
        _ => return Err(ApiError::field("state", "invalid", "one of: dead, pending, delivered")),
    };
    let page = s.desk().outbox_messages(&c.principal, state, cursor(p.cursor.as_deref())?, page_size(p.limit)?).await?;
    Ok(Json(OutboxPage {
        items: page.items.iter().map(OutboxOut::from).collect(),
        next_cursor: page.next.map(|c| c.encode()),
    }))
}

/// Put a dead message back in the queue (admins).
#[utoipa::path(post, path = "/admin/outbox/{id}/retry", tag = "admin", params(("id" = Uuid, Path)), security(("bearer" = [])),
    responses((status = 204), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn retry_message(State(s): State<AppState>, c: Caller, ApiPath(id): ApiPath<Uuid>) -> ApiResult<StatusCode> {
    s.desk().retry_outbox_message(&c.principal, MessageId::from_uuid(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}
