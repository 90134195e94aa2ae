//! Links and merges (staff): `POST /tickets/{number}/links`,
//! `DELETE /tickets/{number}/links/{other}` and `POST /tickets/{number}/merge` (core's
//! `link_tickets`, `unlink_tickets`, `merge_ticket`: both tickets in one unit of work).

use axum::extract::State;
use axum::http::StatusCode;
use helpdesk_core::model::LinkKind;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::tickets::{TicketReply, number, reply};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{ApiJson, ApiPath, IfMatch};
use crate::state::AppState;
use crate::views::TicketOut;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(link)).routes(routes!(unlink)).routes(routes!(merge))
}

/// A link to make.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkBody {
    /// How this ticket relates to the other: `duplicate_of`, `duplicated_by`, `related_to`,
    /// `parent_of` or `child_of`.
    #[schema(schema_with = link_kind_schema)]
    pub kind: String,
    /// The other ticket's number.
    #[schema(max_length = 32)]
    pub ticket: String,
}

fn link_kind_schema() -> utoipa::openapi::schema::Object {
    crate::openapi::string_enum(LinkKind::ALL.iter().map(|k| k.as_str()))
}

/// A merge to make.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeBody {
    /// The ticket that goes on (the one worked on).
    #[schema(max_length = 32)]
    pub into: String,
    /// Why, for the requester (1–2000 characters).
    #[schema(max_length = 2000)]
    pub note: String,
}

/// Link this ticket to another (staff); the other ticket holds the reverse link. Linking a
/// ticket already linked replaces the kind.
#[utoipa::path(post, path = "/tickets/{number}/links", tag = "tickets",
    params(("number" = String, Path),
        ("If-Match" = Option<String>, Header, description = "the ETag the change is made to")),
    request_body = LinkBody, security(("bearer" = [])),
    responses((status = 200, body = TicketOut<'_>), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 412, body = Problem), (status = 422, body = Problem)))]
async fn link(
    State(s): State<AppState>,
    c: Caller,
    if_match: IfMatch,
    ApiPath(n): ApiPath<String>,
    ApiJson(body): ApiJson<LinkBody>,
) -> ApiResult<TicketReply> {
    let kind = LinkKind::parse(body.kind.trim()).ok_or_else(|| {
        ApiError::field("kind", "invalid", "one of: duplicate_of, duplicated_by, related_to, parent_of, child_of")
    })?;
    let t = s
        .desk()
        .link_tickets(&c.principal, &number(&n)?, kind, &body.ticket, if_match.0)
        .await
        .map_err(|e| if_match.error(e))?;
    Ok(reply(&s, &c, StatusCode::OK, t))
}

/// Take away the link between this ticket and another (staff), on both.
#[utoipa::path(delete, path = "/tickets/{number}/links/{other}", tag = "tickets",
    params(("number" = String, Path), ("other" = String, Path),
        ("If-Match" = Option<String>, Header, description = "the ETag the change is made to")),
    security(("bearer" = [])),
    responses((status = 200, body = TicketOut<'_>), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 412, body = Problem)))]
async fn unlink(
    State(s): State<AppState>,
    c: Caller,
    if_match: IfMatch,
    ApiPath((n, other)): ApiPath<(String, String)>,
) -> ApiResult<TicketReply> {
    let t = s
        .desk()
        .unlink_tickets(&c.principal, &number(&n)?, &number(&other)?, if_match.0)
        .await
        .map_err(|e| if_match.error(e))?;
    Ok(reply(&s, &c, StatusCode::OK, t))
}

/// Merge this ticket (a duplicate) into another (staff): its comments and files are copied
/// there, its requester and followers follow the other ticket and are told by mail, and this
/// ticket is closed as a pointer (`merged_into`). There is no unmerge. Answers the ticket
/// that goes on.
#[utoipa::path(post, path = "/tickets/{number}/merge", tag = "tickets",
    params(("number" = String, Path),
        ("If-Match" = Option<String>, Header, description = "the ETag of the ticket merged")),
    request_body = MergeBody, security(("bearer" = [])),
    responses((status = 200, body = TicketOut<'_>), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 412, body = Problem), (status = 422, body = Problem)))]
async fn merge(
    State(s): State<AppState>,
    c: Caller,
    if_match: IfMatch,
    ApiPath(n): ApiPath<String>,
    ApiJson(body): ApiJson<MergeBody>,
) -> ApiResult<TicketReply> {
    let t = s
        .desk()
        .merge_ticket(&c.principal, &number(&n)?, &body.into, &body.note, if_match.0)
        .await
        .map_err(|e| if_match.error(e))?;
    Ok(reply(&s, &c, StatusCode::OK, t))
}
