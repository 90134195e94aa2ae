//! The satisfaction-rating page behind the link in a resolution mail: no sign-in, the signed
//! link is the permission ([`helpdesk_core::HelpDesk::rate_ticket`]). Opening it records
//! nothing (mail scanners follow links): it shows the rating the mail's button chose, a comment
//! box and one button. Sending records the rating and shows the page again under a fresh link,
//! so the requester can change their mind while the link lasts; the used link is dead.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use helpdesk_core::RatingInvite;
use helpdesk_core::domain::TicketNumber;
use serde::Deserialize;

use super::{Layout, error_page, page, session};
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "rate.html")]
struct RateView {
    layout: Layout,
    number: String,
    subject: String,
    /// The rating given so far.
    current: Option<&'static str>,
    expires: String,
    /// Where the form posts: this link, or the fresh one after a rating.
    action: String,
    /// The choice shown checked.
    chosen: String,
    comment: String,
    rating_error: Option<String>,
    comment_error: Option<String>,
    /// After a rating: what was recorded.
    thanks: Option<String>,
}

/// The `rating` the mail's button put in the link.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RateQuery {
    #[serde(default)]
    rating: String,
}

/// What the requester sent.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RateForm {
    #[serde(default)]
    rating: String,
    #[serde(default)]
    comment: String,
}

fn link(number: &TicketNumber, token: &str) -> String {
    format!("/rate/{number}/{token}")
}

fn view(invite: &RatingInvite, action: String, chosen: &str, comment: String) -> RateView {
    let chosen = match chosen {
        "good" | "bad" => chosen.to_owned(),
        _ => invite.current.as_ref().map_or_else(String::new, |c| c.rating.as_str().to_owned()),
    };
    RateView {
        layout: Layout::anonymous().trail(&[("Rate your ticket", None)]),
        number: invite.number.to_string(),
        subject: invite.subject.to_string(),
        current: invite.current.as_ref().map(|c| c.rating.as_str()),
        expires: invite.expires_at.format("%Y-%m-%d %H:%M").to_string(),
        action,
        chosen,
        comment,
        rating_error: None,
        comment_error: None,
        thanks: None,
    }
}

fn refused(e: helpdesk_core::Error) -> Response {
    let e = ApiError::from(e);
    let message = match e.code {
        "rating.link_expired" => "This rating link has expired: the ticket can no longer be rated.",
        "rating.link_used" => {
            "This rating link was used already. To change your rating, use the page shown after your last rating."
        }
        "rating.ticket_reopened" => {
            "The ticket was reopened, so it cannot be rated now. You will be asked again when it is resolved."
        }
        "rating.link_invalid" | "resource.not_found" => {
            "This rating link is not valid. Use the link in the mail as it is."
        }
        _ => e.detail.as_str(),
    };
    error_page(e.status, Layout::anonymous(), message)
}

/// `GET /rate/{number}/{token}?rating=good|bad`: the form, the mail's choice checked.
pub(crate) async fn rate_form(
    State(s): State<AppState>,
    Path((number, token)): Path<(String, String)>,
    Query(q): Query<RateQuery>,
) -> Response {
    let Ok(n) = TicketNumber::parse(&number) else {
        return refused(helpdesk_core::Error::RatingLink(helpdesk_core::RatingLinkRefusal::Invalid));
    };
    match s.desk().rating_invite(&n, &token).await {
        Ok(invite) => {
            let comment = invite.current.as_ref().and_then(|c| c.comment.as_ref()).map(ToString::to_string);
            page(StatusCode::OK, &view(&invite, link(&n, &token), &q.rating, comment.unwrap_or_default()))
        }
        Err(e) => refused(e),
    }
}

/// `POST /rate/{number}/{token}`: records the rating, then shows the form under the fresh link.
pub(crate) async fn rate(
    State(s): State<AppState>,
    Path((number, token)): Path<(String, String)>,
    method: Method,
    headers: HeaderMap,
    Form(f): Form<RateForm>,
) -> Response {
    if !session::same_origin(&s, &method, &headers) {
        return error_page(StatusCode::FORBIDDEN, Layout::anonymous(), "This form was sent from another site.");
    }
    let Ok(n) = TicketNumber::parse(&number) else {
        return refused(helpdesk_core::Error::RatingLink(helpdesk_core::RatingLinkRefusal::Invalid));
    };
    match s.desk().rate_ticket(&n, &token, &f.rating, Some(&f.comment)).await {
        Ok(receipt) => {
            let comment = receipt.invite.current.as_ref().and_then(|c| c.comment.as_ref()).map(ToString::to_string);
            let mut v = view(&receipt.invite, link(&n, receipt.next.token.expose()), "", comment.unwrap_or_default());
            v.thanks = Some(format!(
                "Your rating, {}, is recorded. The help desk's staff will read it.",
                v.current.unwrap_or(f.rating.as_str())
            ));
            page(StatusCode::OK, &v)
        }
        Err(helpdesk_core::Error::Validation(errors)) => {
            // The link was fine (it is checked first): show the form again with the errors.
            let invite = match s.desk().rating_invite(&n, &token).await {
                Ok(invite) => invite,
                Err(e) => return refused(e),
            };
            let mut v = view(&invite, link(&n, &token), &f.rating, f.comment.clone());
            for e in &errors.0 {
                match e.field.as_str() {
                    "rating" => v.rating_error = Some("Choose good or bad.".to_owned()),
                    _ => v.comment_error = Some(format!("The comment {}.", e.message)),
                }
            }
            page(StatusCode::UNPROCESSABLE_ENTITY, &v)
        }
        Err(e) => refused(e),
    }
}
