//! Mail in over HTTP: a mail service (or `helpdesk mail ingest --url`, the MTA pipe of a
//! server it cannot share a store with) posts one raw RFC 5322 message with an API key that has
//! the `ingest_mail` scope; admins list what came in, read a raw message, and run a held or
//! failed one again. A sender confirms a held message through the link mailed to them, without
//! signing in.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use helpdesk_core::IngestReceipt;
use helpdesk_core::domain::InboundId;
use helpdesk_core::model::{InboundChannel, InboundMessage, InboundOutcome};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{ApiPath, ApiQuery};
use crate::state::AppState;

/// Largest body the route reads; the configured message limit (25 MiB by default) is checked
/// by the core and answered with 413.
const BODY_LIMIT: usize = 64 << 20;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(ingest))
        .layer(axum::extract::DefaultBodyLimit::max(BODY_LIMIT))
        .routes(routes!(list_inbound))
        .routes(routes!(raw_message))
        .routes(routes!(rerun))
        .routes(routes!(confirm))
}

/// What became of a message.
#[derive(Debug, Serialize, ToSchema)]
pub struct IngestOut {
    /// The message's record.
    pub id: Uuid,
    /// `ticket`, `comment`, `held`, `ignored` or `failed`.
    pub outcome: String,
    /// The ticket it opened or answered.
    pub ticket: Option<String>,
    /// Why it was held or ignored, or what failed.
    pub reason: Option<String>,
    /// True when the message came before and nothing was done this time.
    pub duplicate: bool,
}

fn outcome_parts(o: &InboundOutcome) -> (Option<String>, Option<String>) {
    match o {
        InboundOutcome::Ticket { number } | InboundOutcome::Comment { number } => (Some(number.to_string()), None),
        InboundOutcome::Held { reason } => (None, Some(reason.as_str().to_owned())),
        InboundOutcome::Ignored { reason, .. } => (None, Some(reason.as_str().to_owned())),
        InboundOutcome::Failed { error } => (None, Some(error.clone())),
    }
}

impl From<&IngestReceipt> for IngestOut {
    fn from(r: &IngestReceipt) -> Self {
        let (ticket, reason) = outcome_parts(&r.outcome);
        Self { id: r.id.as_uuid(), outcome: r.outcome.name().into(), ticket, reason, duplicate: r.duplicate }
    }
}

/// A message that came in, for admins.
#[derive(Debug, Serialize, ToSchema)]
pub struct InboundOut {
    /// Id.
    pub id: Uuid,
    /// Its Message-ID.
    pub message_id: Option<String>,
    /// The From address it gave (not proof of anything).
    pub from: String,
    /// Its subject.
    pub subject: String,
    /// `pipe`, `http` or `imap`.
    pub channel: String,
    /// Size in bytes.
    pub size: u64,
    /// First received.
    #[serde(serialize_with = "crate::json_time::rfc3339")]
    pub received_at: DateTime<Utc>,
    /// Last processed.
    #[serde(serialize_with = "crate::json_time::rfc3339")]
    pub processed_at: DateTime<Utc>,
    /// Times processed.
    pub attempts: u32,
    /// `ticket`, `comment`, `held`, `ignored` or `failed`.
    pub outcome: String,
    /// The ticket it opened or answered.
    pub ticket: Option<String>,
    /// Why it was held or ignored, or what failed.
    pub reason: Option<String>,
    /// For a bounce of our own mail: the recipient whose delivery failed.
    pub failed_recipient: Option<String>,
}

impl From<&InboundMessage> for InboundOut {
    fn from(m: &InboundMessage) -> Self {
        let (ticket, reason) = outcome_parts(&m.outcome);
        let failed_recipient = match &m.outcome {
            InboundOutcome::Ignored { failed_recipient, .. } => failed_recipient.clone(),
            _ => None,
        };
        Self {
            id: m.id.as_uuid(),
            message_id: m.message_id.clone(),
            from: m.from.clone(),
            subject: m.subject.clone(),
            channel: m.channel.as_str().into(),
            size: m.size,
            received_at: m.received_at,
            processed_at: m.processed_at,
            attempts: m.attempts,
            outcome: m.outcome.name().into(),
            ticket,
            reason,
            failed_recipient,
        }
    }
}

/// A page of messages.
#[derive(Debug, Serialize, ToSchema)]
pub struct InboundPage {
    /// Newest first.
    pub items: Vec<InboundOut>,
    /// Cursor of the next page.
    pub next_cursor: Option<String>,
}

/// Which messages to list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct InboundParams {
    /// Only this outcome: `ticket`, `comment`, `held`, `ignored` or `failed`.
    #[param(schema_with = crate::openapi::inbound_outcome_schema)]
    pub outcome: Option<String>,
    /// Cursor from the previous page.
    pub cursor: Option<String>,
    /// Page size (1–100, default 25).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

/// The outcome names a list may filter by.
pub(crate) const OUTCOMES: [&str; 5] = ["ticket", "comment", "held", "ignored", "failed"];

/// The list's cursor, like every list's: base64url of 24 bytes (the last record's time in
/// microseconds and its id), so any such string is a cursor.
fn encode_cursor(m: &InboundMessage) -> String {
    let mut b = m.received_at.timestamp_micros().to_be_bytes().to_vec();
    b.extend_from_slice(m.id.as_uuid().as_bytes());
    URL_SAFE_NO_PAD.encode(b)
}

pub(crate) fn decode_cursor(c: &str) -> Result<Option<(DateTime<Utc>, InboundId)>, ApiError> {
    if c.is_empty() {
        return Ok(None);
    }
    let bad = || ApiError::field("cursor", "invalid", "not a cursor this list gave");
    let raw = URL_SAFE_NO_PAD.decode(c).map_err(|_| bad())?;
    let (micros, id) = raw.split_at_checked(8).filter(|(_, id)| id.len() == 16).ok_or_else(bad)?;
    let micros = i64::from_be_bytes(micros.try_into().map_err(|_| bad())?);
    let at = DateTime::from_timestamp_micros(micros).unwrap_or(if micros < 0 {
        DateTime::<Utc>::MIN_UTC
    } else {
        DateTime::<Utc>::MAX_UTC
    });
    Ok(Some((at, InboundId::from_uuid(uuid::Uuid::from_slice(id).map_err(|_| bad())?))))
}

/// Hand over one raw RFC 5322 message (`message/rfc822`), as a mail service's inbound webhook
/// does. Needs an API key with the `ingest_mail` scope. A message that came before answers
/// `duplicate: true` and changes nothing, so a retry is always safe.
#[utoipa::path(post, path = "/mail/inbound", tag = "mail",
    request_body(description = "the raw RFC 5322 message; sent as `message/rfc822` or any other Content-Type, it is read as bytes",
        content((crate::views::Binary = "application/octet-stream"))),
    security(("api_key" = [])),
    responses((status = 200, body = IngestOut), (status = 403, body = Problem),
        (status = 413, body = Problem, description = "larger than the configured message limit"),
        (status = 422, body = Problem, description = "not a mail message"),
        (status = 503, body = Problem, description = "try again later: nothing was recorded")))]
async fn ingest(State(s): State<AppState>, c: Caller, body: Bytes) -> ApiResult<Json<IngestOut>> {
    let receipt = s.desk().ingest_mail(&c.principal, &body, InboundChannel::Http).await?;
    Ok(Json(IngestOut::from(&receipt)))
}

/// Messages that came in by mail, newest first (admins).
#[utoipa::path(get, path = "/mail/inbound", tag = "mail", params(InboundParams), security(("bearer" = [])),
    responses((status = 200, body = InboundPage), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn list_inbound(
    State(s): State<AppState>,
    c: Caller,
    ApiQuery(p): ApiQuery<InboundParams>,
) -> ApiResult<Json<InboundPage>> {
    let outcome =
        match p.outcome.as_deref() {
            None => None,
            Some(o) => Some(OUTCOMES.into_iter().find(|x| *x == o).ok_or_else(|| {
                ApiError::field("outcome", "invalid", "one of: ticket, comment, held, ignored, failed")
            })?),
        };
    let limit = match p.limit {
        None => 25,
        Some(l @ 1..=100) => l as usize,
        Some(_) => return Err(ApiError::field("limit", "out_of_range", "between 1 and 100")),
    };
    let before = p.cursor.as_deref().map(decode_cursor).transpose()?.flatten();
    let items = s.desk().list_inbound(&c.principal, outcome, before, limit + 1).await?;
    let more = items.len() > limit;
    let items = &items[..items.len().min(limit)];
    Ok(Json(InboundPage {
        next_cursor: if more { items.last().map(encode_cursor) } else { None },
        items: items.iter().map(InboundOut::from).collect(),
    }))
}

/// One message as it came in, byte for byte (admins).
#[utoipa::path(get, path = "/mail/inbound/{id}/raw", tag = "mail", params(("id" = Uuid, Path)), security(("bearer" = [])),
    responses((status = 200, content_type = "message/rfc822", body = crate::views::Binary), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn raw_message(State(s): State<AppState>, c: Caller, ApiPath(id): ApiPath<Uuid>) -> ApiResult<Response> {
    let (_, raw) = s.desk().inbound_message(&c.principal, InboundId::from_uuid(id)).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "message/rfc822".to_owned()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"message-{id}.eml\"")),
        ],
        raw,
    )
        .into_response())
}

/// Run a held or failed message again (admins): an admin's run counts as proof of its sender.
#[utoipa::path(post, path = "/mail/inbound/{id}/rerun", tag = "mail", params(("id" = Uuid, Path)), security(("bearer" = [])),
    responses((status = 200, body = IngestOut), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "the message was processed already")))]
async fn rerun(State(s): State<AppState>, c: Caller, ApiPath(id): ApiPath<Uuid>) -> ApiResult<Json<IngestOut>> {
    let receipt = s.desk().rerun_inbound(&c.principal, InboundId::from_uuid(id)).await?;
    Ok(Json(IngestOut::from(&receipt)))
}

/// Confirm a held message's sender with the link mailed to its From address; the message is
/// then processed. No sign-in: the link is the proof.
#[utoipa::path(post, path = "/mail/confirm/{id}/{token}", tag = "mail",
    params(("id" = Uuid, Path), ("token" = String, Path, description = "the link's token")),
    responses((status = 200, body = IngestOut), (status = 403, body = Problem, description = "not a valid link"),
        (status = 409, body = Problem, description = "expired, or the message was handled already")))]
async fn confirm(State(s): State<AppState>, Path((id, token)): Path<(String, String)>) -> ApiResult<Json<IngestOut>> {
    let id: InboundId = id.parse().map_err(|_| helpdesk_core::Error::Forbidden("this link is not valid"))?;
    let receipt = s.desk().confirm_inbound(id, &token).await?;
    Ok(Json(IngestOut::from(&receipt)))
}
