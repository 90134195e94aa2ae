//! `POST /tickets/bulk`: one edit (tags, priority, department) applied to many tickets, each
//! in its own unit of work; the answer says what happened to each (core's `bulk_edit`).

use axum::Json;
use axum::extract::State;
use helpdesk_core::domain::{Priority, TicketNumber};
use helpdesk_core::{BulkOutcome, BulkResult, TicketEdit};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{ApiJson, IdempotencyKey};
use crate::state::AppState;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(bulk_edit))
}

/// The tickets and what to change on each (at least one change).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkBody {
    /// Ticket numbers, at most 1,000 (repeats are ignored).
    #[schema(min_items = 1, max_items = 1000)]
    pub numbers: Vec<String>,
    /// Tags to add to each ticket, leaving its others alone.
    #[serde(default)]
    pub add_tags: Vec<String>,
    /// Tags to take away from each ticket.
    #[serde(default)]
    pub remove_tags: Vec<String>,
    /// A priority to set on each ticket.
    #[schema(schema_with = crate::openapi::priority_schema)]
    pub priority: Option<String>,
    /// A department key to set on each ticket.
    pub department: Option<String>,
}

/// What happened to one ticket.
#[derive(Debug, Serialize, ToSchema)]
pub struct BulkItemOut {
    /// The ticket's number, as given.
    pub number: String,
    /// `changed`, `unchanged` or `refused`.
    pub outcome: &'static str,
    /// The ticket's version after the change (`changed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    /// Why it was refused: `not_found`, `forbidden`, `invalid`, `conflict` or `unavailable`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The refusal, for people.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The answer: one line per ticket, in the order given.
#[derive(Debug, Serialize, ToSchema)]
pub struct BulkOut {
    /// What happened to each ticket.
    pub items: Vec<BulkItemOut>,
    /// How many changed.
    pub changed: usize,
    /// True when this is the recorded answer of an earlier request with the same
    /// `Idempotency-Key` (nothing was applied again).
    pub replayed: bool,
}

impl From<BulkResult> for BulkOut {
    fn from(r: BulkResult) -> Self {
        let changed = r.changed();
        let items = r
            .items
            .into_iter()
            .map(|i| match i.outcome {
                BulkOutcome::Changed { version } => BulkItemOut {
                    number: i.number,
                    outcome: "changed",
                    version: Some(version),
                    code: None,
                    message: None,
                },
                BulkOutcome::Unchanged => {
                    BulkItemOut { number: i.number, outcome: "unchanged", version: None, code: None, message: None }
                }
                BulkOutcome::Refused { code, message } => BulkItemOut {
                    number: i.number,
                    outcome: "refused",
                    version: None,
                    code: Some(code),
                    message: Some(message),
                },
            })
            .collect();
        Self { items, changed, replayed: r.replayed }
    }
}

/// Change many tickets at once: each ticket is its own unit of work, so one that is refused
/// (not visible, not editable, changed meanwhile) does not stop the others. With
/// `Idempotency-Key`, a retry answers the recorded result without applying anything again.
#[utoipa::path(post, path = "/tickets/bulk", tag = "tickets", request_body = BulkBody, security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "retry-safe bulk change")),
    responses((status = 200, body = BulkOut), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn bulk_edit(
    State(s): State<AppState>,
    c: Caller,
    key: IdempotencyKey,
    ApiJson(b): ApiJson<BulkBody>,
) -> ApiResult<Json<BulkOut>> {
    let numbers = b
        .numbers
        .iter()
        .map(|n| {
            TicketNumber::parse(n)
                .map_err(|_| ApiError::field("numbers", "invalid", &format!("`{n}` is not a ticket number")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let edit = TicketEdit {
        add_tags: b.add_tags,
        remove_tags: b.remove_tags,
        priority: b.priority.as_deref().map(Priority::parse).transpose().map_err(helpdesk_core::Error::from)?,
        department: b.department,
        ..TicketEdit::default()
    };
    let done = s.desk().bulk_edit(&c.principal, &numbers, &edit, key.0.as_deref()).await?;
    Ok(Json(done.into()))
}
