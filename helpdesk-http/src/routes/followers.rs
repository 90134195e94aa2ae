//! Followers of a ticket: `GET/POST /tickets/{number}/followers` and
//! `DELETE /tickets/{number}/followers/{user}` (core's `followers`, `add_follower`,
//! `remove_follower`: the requester or staff add colleagues by address; a follower may leave).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use helpdesk_core::domain::UserId;
use helpdesk_core::model::UserSummary;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::tickets::{TicketReply, number, reply};
use crate::auth::Caller;
use crate::error::{ApiResult, Problem};
use crate::extract::{ApiJson, ApiPath, IfMatch};
use crate::state::AppState;
use crate::views::TicketOut;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_followers, add_follower)).routes(routes!(remove_follower))
}

/// Someone following a ticket.
#[derive(Debug, Serialize, ToSchema)]
pub struct FollowerOut {
    /// The user's id.
    pub id: Uuid,
    /// Display name.
    pub name: String,
}

impl From<&UserSummary> for FollowerOut {
    fn from(u: &UserSummary) -> Self {
        Self { id: u.id.as_uuid(), name: u.name.clone() }
    }
}

/// A colleague to add, by their address.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FollowerBody {
    /// The address of an approved user.
    #[schema(max_length = 254)]
    pub email: String,
}

/// The people following the ticket.
#[utoipa::path(get, path = "/tickets/{number}/followers", tag = "tickets", params(("number" = String, Path)),
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, body = Vec<FollowerOut>), (status = 404, body = Problem)))]
async fn list_followers(
    State(s): State<AppState>,
    c: Caller,
    ApiPath(n): ApiPath<String>,
) -> ApiResult<Json<Vec<FollowerOut>>> {
    let people = s.desk().followers(&c.principal, &number(&n)?).await?;
    Ok(Json(people.iter().map(FollowerOut::from).collect()))
}

/// Add an approved colleague as a follower (the requester or staff): they read the public
/// thread, get the ticket's mails and may comment, never anything internal. Adding someone
/// who follows already changes nothing.
#[utoipa::path(post, path = "/tickets/{number}/followers", tag = "tickets",
    params(("number" = String, Path),
        ("If-Match" = Option<String>, Header, description = "the ETag the change is made to")),
    request_body = FollowerBody, security(("bearer" = [])),
    responses((status = 200, body = TicketOut<'_>), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 412, body = Problem), (status = 422, body = Problem)))]
async fn add_follower(
    State(s): State<AppState>,
    c: Caller,
    if_match: IfMatch,
    ApiPath(n): ApiPath<String>,
    ApiJson(body): ApiJson<FollowerBody>,
) -> ApiResult<TicketReply> {
    let t = s
        .desk()
        .add_follower(&c.principal, &number(&n)?, &body.email, if_match.0)
        .await
        .map_err(|e| if_match.error(e))?;
    Ok(reply(&s, &c, StatusCode::OK, t))
}

/// Remove a follower (the requester or staff; a follower may remove themselves). Their
/// access ends at their next request.
#[utoipa::path(delete, path = "/tickets/{number}/followers/{user}", tag = "tickets",
    params(("number" = String, Path), ("user" = Uuid, Path),
        ("If-Match" = Option<String>, Header, description = "the ETag the change is made to")),
    security(("bearer" = [])),
    responses((status = 200, body = TicketOut<'_>), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 412, body = Problem)))]
async fn remove_follower(
    State(s): State<AppState>,
    c: Caller,
    if_match: IfMatch,
    ApiPath((n, user)): ApiPath<(String, Uuid)>,
) -> ApiResult<TicketReply> {
    let t = s
        .desk()
        .remove_follower(&c.principal, &number(&n)?, UserId::from_uuid(user), if_match.0)
        .await
        .map_err(|e| if_match.error(e))?;
    Ok(reply(&s, &c, StatusCode::OK, t))
}
