//! External systems: API keys (admins create, list and revoke them; the secret is shown once)
//! and the inbound workflow status route the keys call.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use helpdesk_core::domain::{ApiKeyId, TicketStatus};
use helpdesk_core::model::{ApiKey, ApiScope};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::tickets::{TicketReply, number, reply};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{ApiJson, ApiPath, IdempotencyKey, parse_enum};
use crate::state::AppState;
use crate::views::TicketOut;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_keys, create_key))
        .routes(routes!(revoke_key))
        .routes(routes!(workflow_status))
}

/// An API key (never its secret).
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyOut {
    /// Id (the part before the dot of the credential).
    pub id: Uuid,
    /// Name, recorded as the actor of its changes.
    pub name: String,
    /// `read_tickets`, `push_workflow`.
    #[schema(schema_with = crate::openapi::scopes_schema)]
    pub scopes: Vec<String>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Revoked.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<&ApiKey> for ApiKeyOut {
    fn from(k: &ApiKey) -> Self {
        Self {
            id: k.id.as_uuid(),
            name: k.name.clone(),
            scopes: k.scopes.iter().map(|s| s.as_str().to_owned()).collect(),
            created_at: k.created_at,
            revoked_at: k.revoked_at,
        }
    }
}

/// API keys (admins).
#[utoipa::path(get, path = "/api-keys", tag = "integrations", security(("bearer" = [])),
    responses((status = 200, body = Vec<ApiKeyOut>), (status = 403, body = Problem)))]
async fn list_keys(State(s): State<AppState>, c: Caller) -> ApiResult<Json<Vec<ApiKeyOut>>> {
    Ok(Json(s.desk().list_api_keys(&c.principal).await?.iter().map(ApiKeyOut::from).collect()))
}

/// A new key's name and scopes.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKeyBody {
    /// Name of the external system.
    #[schema(schema_with = crate::openapi::name_schema)]
    pub name: String,
    /// `read_tickets`, `push_workflow`.
    pub scopes: Vec<String>,
}

/// A created key with its credential, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedKey {
    /// The key.
    pub key: ApiKeyOut,
    /// Send as `Authorization: ApiKey <credential>`.
    pub credential: String,
}

pub(crate) fn parse_scopes(v: &[String]) -> Result<Vec<ApiScope>, ApiError> {
    let names: Vec<&str> = ApiScope::ALL.iter().map(|s| s.as_str()).collect();
    v.iter()
        .map(|s| {
            ApiScope::ALL
                .iter()
                .copied()
                .find(|x| x.as_str() == s.trim())
                .ok_or_else(|| ApiError::field("scopes", "invalid", &format!("each one of: {}", names.join(", "))))
        })
        .collect()
}

/// Create an API key (admins); the credential is shown once.
#[utoipa::path(post, path = "/api-keys", tag = "integrations", request_body = NewKeyBody, security(("bearer" = [])),
    responses((status = 201, body = CreatedKey), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn create_key(
    State(s): State<AppState>,
    c: Caller,
    ApiJson(b): ApiJson<NewKeyBody>,
) -> ApiResult<(StatusCode, Json<CreatedKey>)> {
    let (key, credential) = s.desk().create_api_key(&c.principal, &b.name, parse_scopes(&b.scopes)?).await?;
    Ok((StatusCode::CREATED, Json(CreatedKey { key: (&key).into(), credential })))
}

/// Revoke an API key (admins).
#[utoipa::path(delete, path = "/api-keys/{id}", tag = "integrations", params(("id" = Uuid, Path)),
    security(("bearer" = [])), responses((status = 204), (status = 404, body = Problem)))]
async fn revoke_key(State(s): State<AppState>, c: Caller, ApiPath(id): ApiPath<Uuid>) -> ApiResult<StatusCode> {
    s.desk().revoke_api_key(&c.principal, ApiKeyId::from_uuid(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A status the workflow system asks for.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkflowStatusBody {
    /// Target status (`in_progress`, `on_hold`, `pending`, `resolved`, `closed`).
    #[schema(schema_with = crate::openapi::status_schema)]
    pub status: String,
    /// Note recorded with the change (required).
    pub note: String,
}

/// Push a status change from the workflow system (API key with `push_workflow`).
/// `Idempotency-Key` is required; a status with no move from the current one is refused.
#[utoipa::path(post, path = "/workflow/tickets/{number}/status", tag = "integrations",
    params(("number" = String, Path), ("Idempotency-Key" = String, Header)), request_body = WorkflowStatusBody,
    security(("api_key" = [])), responses((status = 200, body = TicketOut<'_>), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
async fn workflow_status(
    State(s): State<AppState>,
    c: Caller,
    key: IdempotencyKey,
    ApiPath(n): ApiPath<String>,
    ApiJson(b): ApiJson<WorkflowStatusBody>,
) -> ApiResult<TicketReply> {
    let names: Vec<&str> = TicketStatus::ALL.iter().map(|s| s.as_str()).collect();
    let target = parse_enum::<TicketStatus>("status", &b.status, &names)?;
    let t =
        s.desk().workflow_update(&c.principal, &number(&n)?, target, &b.note, key.0.as_deref().unwrap_or("")).await?;
    Ok(reply(&s, &c, StatusCode::OK, t))
}
