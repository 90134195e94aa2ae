//! `POST /tickets/bulk`: one edit (tags, priority, department), one macro or one lifecycle
//! action applied to many tickets, each in its own unit of work; the answer says what happened
//! to each (core's `bulk_change`).

use axum::Json;
use axum::extract::State;
use helpdesk_core::domain::{MacroId, Priority, TicketNumber};
use helpdesk_core::lifecycle::Action;
use helpdesk_core::{ActionRequest, BulkChange, BulkOutcome, BulkResult, TicketEdit};
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

/// The tickets and what to do to each: an edit (tags, priority, department), or a macro
/// (`macro_id`, alone), or a lifecycle action (`action`, with its `note`, and for `approve` a
/// `priority` and `department`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkBody {
    /// Ticket numbers, at most 1,000 (repeats are ignored); or give `filter` instead.
    #[serde(default)]
    #[schema(max_items = 1000)]
    pub numbers: Vec<String>,
    /// Instead of `numbers`: every ticket this filter lists for the caller (as a saved view's
    /// filter: `me` is the caller), at most 1,000.
    pub filter: Option<super::views::ViewFilterBody>,
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
    /// A macro to apply to each ticket (each all or nothing).
    pub macro_id: Option<uuid::Uuid>,
    /// A lifecycle action to take on each ticket.
    #[schema(schema_with = bulk_action_schema)]
    pub action: Option<String>,
    /// The action's reason, note or comment.
    pub note: Option<String>,
}

fn bulk_action_schema() -> utoipa::openapi::schema::Schema {
    crate::openapi::nullable_enum(helpdesk_core::lifecycle::Action::ALL.iter().map(|a| a.as_str()))
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
    /// Why it was refused: `not_found`, `forbidden`, `invalid`, `conflict` (changed meanwhile,
    /// or the lifecycle does not allow the action from the ticket's status) or `unavailable`.
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

/// Change many tickets at once (an edit, a macro or an action; 404 for a macro the caller
/// cannot use): each ticket is its own unit of work, so one that is refused (not visible,
/// not editable, changed meanwhile, an action its status does not allow) does not stop the
/// others. With `Idempotency-Key`, a retry answers the recorded result without applying
/// anything again.
#[utoipa::path(post, path = "/tickets/bulk", tag = "tickets", request_body = BulkBody, security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "retry-safe bulk change")),
    responses((status = 200, body = BulkOut), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
async fn bulk_edit(
    State(s): State<AppState>,
    c: Caller,
    key: IdempotencyKey,
    ApiJson(mut b): ApiJson<BulkBody>,
) -> ApiResult<Json<BulkOut>> {
    let filter = match b.filter.take() {
        Some(_) if !b.numbers.is_empty() => {
            return Err(ApiError::field("filter", "invalid", "give the numbers or a filter, not both"));
        }
        Some(f) => Some(f.parse(&s)?),
        None if b.numbers.is_empty() => {
            return Err(ApiError::field("numbers", "invalid", "1 to 1000 tickets, or a filter"));
        }
        None => None,
    };
    let numbers = b
        .numbers
        .iter()
        .map(|n| {
            TicketNumber::parse(n)
                .map_err(|_| ApiError::field("numbers", "invalid", &format!("`{n}` is not a ticket number")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let priority = b.priority.as_deref().map(Priority::parse).transpose().map_err(helpdesk_core::Error::from)?;
    let change = match (b.macro_id, b.action.as_deref()) {
        (Some(_), _)
            if b.action.is_some()
                || b.note.is_some()
                || priority.is_some()
                || b.department.is_some()
                || !b.add_tags.is_empty()
                || !b.remove_tags.is_empty() =>
        {
            return Err(ApiError::field("macro_id", "invalid", "a macro goes alone"));
        }
        (Some(id), _) => BulkChange::Macro(MacroId::from_uuid(id)),
        (None, Some(_)) if !b.add_tags.is_empty() || !b.remove_tags.is_empty() => {
            return Err(ApiError::field(
                "action",
                "invalid",
                "an action goes with its note, priority and department only",
            ));
        }
        (None, Some(a)) => {
            let action = Action::ALL
                .iter()
                .copied()
                .find(|x| x.as_str() == a.trim())
                .ok_or_else(|| ApiError::field("action", "invalid", &format!("`{a}` is not an action")))?;
            let request =
                ActionRequest { priority, department: b.department, text: b.note, ..ActionRequest::default() };
            BulkChange::Action { action, request }
        }
        (None, None) if b.note.is_some() => {
            return Err(ApiError::field("note", "invalid", "a note goes with an action"));
        }
        (None, None) => BulkChange::Edit(TicketEdit {
            add_tags: b.add_tags,
            remove_tags: b.remove_tags,
            priority,
            department: b.department,
            ..TicketEdit::default()
        }),
    };
    let done = match filter {
        Some(f) => {
            let query = f.query(c.principal.user().map(|u| u.id), s.desk().now());
            s.desk().bulk_change_matching(&c.principal, &query, &change, key.0.as_deref()).await?
        }
        None => s.desk().bulk_change(&c.principal, &numbers, &change, key.0.as_deref()).await?,
    };
    Ok(Json(done.into()))
}
