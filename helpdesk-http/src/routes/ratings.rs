//! Satisfaction ratings through the signed link of a resolution mail, for clients other than
//! the built-in page (`/rate/{number}/{token}`): no sign-in, the link is the permission. Reading
//! records nothing; posting records the rating and answers the fresh token that changes it
//! (the used one is spent).

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use helpdesk_core::domain::TicketNumber;
use helpdesk_core::{RatingInvite, RatingLinkRefusal};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiResult, Problem};
use crate::extract::ApiJson;
use crate::state::AppState;
use crate::views::SatisfactionOut;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(rating_invite, rate_ticket))
}

/// The ticket a rating link rates, and the rating so far.
#[derive(Debug, Serialize, ToSchema)]
pub struct RatingInviteOut<'a> {
    /// The ticket's number.
    pub number: &'a str,
    /// Its subject.
    pub subject: &'a str,
    /// The rating given so far.
    pub current: Option<SatisfactionOut<'a>>,
    /// Until when the rating can be given or changed.
    #[serde(serialize_with = "crate::json_time::rfc3339")]
    pub expires_at: DateTime<Utc>,
}

impl<'a> From<&'a RatingInvite> for RatingInviteOut<'a> {
    fn from(i: &'a RatingInvite) -> Self {
        Self {
            number: i.number.as_str(),
            subject: i.subject.as_str(),
            current: i.current.as_ref().map(SatisfactionOut::from),
            expires_at: i.expires_at,
        }
    }
}

/// A recorded rating and the token that changes it.
#[derive(Debug, Serialize, ToSchema)]
pub struct RatingReceiptOut<'a> {
    /// The ticket and its rating now.
    #[serde(flatten)]
    pub invite: RatingInviteOut<'a>,
    /// The fresh token (`/ratings/{number}/{next_token}`); the one used is spent.
    pub next_token: &'a str,
}

/// A rating.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RatingBody {
    /// `good` or `bad`.
    pub rating: String,
    /// An optional comment (at most 5,000 characters), read by staff only.
    #[serde(default)]
    pub comment: Option<String>,
}

fn number(raw: &str) -> Result<TicketNumber, helpdesk_core::Error> {
    TicketNumber::parse(raw).map_err(|_| helpdesk_core::Error::RatingLink(RatingLinkRefusal::Invalid))
}

/// The ticket a rating link rates and its rating so far; records nothing.
#[utoipa::path(get, path = "/ratings/{number}/{token}", tag = "ratings",
    params(("number" = String, Path, description = "the ticket's number"), ("token" = String, Path, description = "the link's token")),
    responses((status = 200, body = RatingInviteOut<'_>), (status = 403, body = Problem, description = "not a valid link for this ticket"),
        (status = 409, body = Problem, description = "the link was used, or the ticket reopened"),
        (status = 410, body = Problem, description = "the link expired")))]
async fn rating_invite(State(s): State<AppState>, Path((n, token)): Path<(String, String)>) -> ApiResult<Response> {
    let invite = s.desk().rating_invite(&number(&n)?, &token).await?;
    Ok(Json(RatingInviteOut::from(&invite)).into_response())
}

/// Rate the ticket (or change the rating) through its link: once per link; the answer carries
/// the next link's token.
#[utoipa::path(post, path = "/ratings/{number}/{token}", tag = "ratings", request_body = RatingBody,
    params(("number" = String, Path, description = "the ticket's number"), ("token" = String, Path, description = "the link's token")),
    responses((status = 200, body = RatingReceiptOut<'_>), (status = 403, body = Problem, description = "not a valid link for this ticket"),
        (status = 409, body = Problem, description = "the link was used, or the ticket reopened"),
        (status = 410, body = Problem, description = "the link expired"), (status = 422, body = Problem)))]
async fn rate_ticket(
    State(s): State<AppState>,
    Path((n, token)): Path<(String, String)>,
    ApiJson(b): ApiJson<RatingBody>,
) -> ApiResult<Response> {
    let receipt = s.desk().rate_ticket(&number(&n)?, &token, &b.rating, b.comment.as_deref()).await?;
    Ok(Json(RatingReceiptOut {
        invite: RatingInviteOut::from(&receipt.invite),
        next_token: receipt.next.token.expose(),
    })
    .into_response())
}
