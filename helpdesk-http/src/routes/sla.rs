//! A ticket's service levels, for staff: `GET /api/v1/tickets/{number}/sla`.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use helpdesk_core::TicketSla;
use helpdesk_core::sla::{TargetCycle, TargetKind, TargetState};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Caller;
use crate::error::{ApiResult, Problem};
use crate::extract::ApiPath;
use crate::state::AppState;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(ticket_sla))
}

/// Where a ticket stands against its service levels.
#[derive(Debug, Serialize, ToSchema)]
pub struct SlaOut {
    /// The policy that applies (the first whose conditions match), or `null` when none does.
    pub policy: Option<String>,
    /// The calendar the targets count in.
    pub calendar: Option<String>,
    /// The latest cycle of each target the policy sets for the ticket's priority.
    pub targets: Vec<TargetOut>,
}

/// One target's latest cycle.
#[derive(Debug, Serialize, ToSchema)]
pub struct TargetOut {
    /// `first_response`, `next_response` or `resolution`.
    #[schema(value_type = String, example = "resolution")]
    pub kind: TargetKind,
    /// `ok`, `warning`, `breached`, `met` or `paused`.
    #[schema(value_type = String, example = "ok")]
    pub state: TargetState,
    /// When the cycle started (submission, a requester's comment, or a reopening).
    #[serde(serialize_with = "crate::json_time::rfc3339")]
    pub started_at: DateTime<Utc>,
    /// When it ended, if it did.
    #[serde(serialize_with = "crate::json_time::rfc3339_opt")]
    pub ended_at: Option<DateTime<Utc>>,
    /// When it is (or was) due; `null` while paused.
    #[serde(serialize_with = "crate::json_time::rfc3339_opt")]
    pub due_at: Option<DateTime<Utc>>,
    /// The target, in minutes of business time.
    pub target_minutes: i64,
    /// Business time counted so far, in seconds.
    pub elapsed_seconds: i64,
}

impl From<&TargetCycle> for TargetOut {
    fn from(c: &TargetCycle) -> Self {
        Self {
            kind: c.kind,
            state: c.state,
            started_at: c.started_at,
            ended_at: c.ended_at,
            due_at: c.due_at,
            target_minutes: c.target.num_minutes(),
            elapsed_seconds: c.elapsed.num_seconds(),
        }
    }
}

impl From<Option<TicketSla>> for SlaOut {
    fn from(s: Option<TicketSla>) -> Self {
        match s {
            Some(s) => Self {
                policy: Some(s.policy),
                calendar: Some(s.calendar),
                targets: s.targets.iter().map(TargetOut::from).collect(),
            },
            None => Self { policy: None, calendar: None, targets: Vec::new() },
        }
    }
}

/// A ticket's service levels, computed from its history in its policy's calendar (staff only).
#[utoipa::path(get, path = "/tickets/{number}/sla", tag = "tickets", params(("number" = String, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = SlaOut), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn ticket_sla(State(s): State<AppState>, c: Caller, ApiPath(n): ApiPath<String>) -> ApiResult<Json<SlaOut>> {
    let number = super::tickets::number(&n)?;
    Ok(Json(s.desk().ticket_sla(&c.principal, &number).await?.into()))
}
