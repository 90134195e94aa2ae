//! A ticket's service levels, for staff (`GET /api/v1/tickets/{number}/sla`), and the
//! calendars and policies themselves, for admins (`GET` and `PUT /api/v1/admin/sla`).

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
    OpenApiRouter::new().routes(routes!(ticket_sla)).routes(routes!(sla_settings, save_sla_settings))
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

/// The service-level calendars and policies in force.
#[derive(Debug, Serialize, ToSchema)]
pub struct SlaSettingsOut {
    /// The saved version (pass it to the next save); 0 while the configured ones apply.
    pub version: u64,
    /// `calendars` (key, `time_zone`, `week` of working hours per day, `holidays`),
    /// `policies` (key, `calendar`, optional `departments` and `categories`, `targets` per
    /// priority in business minutes) and `warning_percent`: the configuration file's `[sla]`
    /// section as JSON (README, "Service levels").
    #[schema(value_type = Object)]
    pub sla: helpdesk_core::sla::SlaSpec,
}

impl From<helpdesk_core::SlaSettings> for SlaSettingsOut {
    fn from(s: helpdesk_core::SlaSettings) -> Self {
        Self { version: s.version, sla: s.sla }
    }
}

/// New service-level calendars and policies.
#[derive(Debug, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SlaSettingsBody {
    /// The version these replace (from `GET`; 0 while the configured ones apply).
    pub version: u64,
    /// As in the answer of `GET`.
    #[schema(value_type = Object)]
    pub sla: helpdesk_core::sla::SlaSpec,
}

/// The service-level calendars and policies in force (admins).
#[utoipa::path(get, path = "/admin/sla", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = SlaSettingsOut), (status = 403, body = Problem)))]
async fn sla_settings(State(s): State<AppState>, c: Caller) -> ApiResult<Json<SlaSettingsOut>> {
    Ok(Json(s.desk().sla_settings(&c.principal)?.into()))
}

/// Replaces the service-level calendars and policies (admins): checked first (errors name the
/// field, e.g. `sla.policies[0].calendar` for a policy naming a missing calendar), saved with
/// the version they replace (409 when another save came first), in force at once here and
/// within a minute in every other server process; the open tickets' due times follow.
#[utoipa::path(put, path = "/admin/sla", tag = "admin", request_body = SlaSettingsBody, security(("bearer" = [])),
    responses((status = 200, body = SlaSettingsOut), (status = 403, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
async fn save_sla_settings(
    State(s): State<AppState>,
    c: Caller,
    crate::extract::ApiJson(body): crate::extract::ApiJson<SlaSettingsBody>,
) -> ApiResult<Json<SlaSettingsOut>> {
    let saved = s.desk().save_sla_settings(&c.principal, body.sla, body.version).await.map_err(|e| match e {
        helpdesk_core::Error::Validation(v) => helpdesk_core::Error::Validation(helpdesk_core::ValidationErrors(
            v.0.into_iter().map(|f| helpdesk_core::FieldError { field: format!("sla.{}", f.field), ..f }).collect(),
        )),
        other => other,
    })?;
    Ok(Json(saved.into()))
}
