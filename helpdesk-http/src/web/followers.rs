//! The ticket page's followers card: the requester or staff add a colleague by address and
//! remove followers; a follower stops following (and, no longer able to see the ticket, lands
//! on their home page). Core decides who may; refusals come back on the form with what was
//! typed.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use helpdesk_core::domain::{TicketNumber, UserId};
use serde::Deserialize;

use super::pages::form_allowed;
use super::session::PageUser;
use super::tickets::{Retyped, render_ticket};
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Debug, Default, Deserialize)]
pub(crate) struct FollowerForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
}

use super::tickets::missing as not_found;

/// `POST /tickets/{number}/followers`: adds the colleague with this address.
pub(crate) async fn add(
    State(s): State<AppState>,
    who: PageUser,
    Path(number): Path<String>,
    method: Method,
    headers: HeaderMap,
    Form(f): Form<FollowerForm>,
) -> Response {
    if let Some(refused) = form_allowed(&s, &who, &method, &headers, &f.csrf) {
        return refused;
    }
    let Ok(n) = TicketNumber::parse(&number) else { return not_found(&s, &who) };
    match s.desk().add_follower(&who.principal, &n, &f.email, None).await {
        Ok(_) => Redirect::to(&format!("/tickets/{n}?followers=added")).into_response(),
        Err(helpdesk_core::Error::NotFound { .. }) => not_found(&s, &who),
        Err(err) => {
            let error = ApiError::from(err).first_message();
            let retyped = Retyped::Follower { email: f.email, error };
            render_ticket(&s, &who, &number, None, retyped, StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

/// `POST /tickets/{number}/followers/{user}/remove`: removes a follower, or the viewer stops
/// following.
pub(crate) async fn remove(
    State(s): State<AppState>,
    who: PageUser,
    Path((number, user)): Path<(String, String)>,
    method: Method,
    headers: HeaderMap,
    Form(f): Form<super::TokenForm>,
) -> Response {
    if let Some(refused) = form_allowed(&s, &who, &method, &headers, &f.csrf) {
        return refused;
    }
    let (Ok(n), Ok(user)) = (TicketNumber::parse(&number), user.parse::<UserId>()) else {
        return not_found(&s, &who);
    };
    match s.desk().remove_follower(&who.principal, &n, user, None).await {
        Ok(_) if user == who.user.id => Redirect::to("/?unfollowed=1").into_response(),
        Ok(_) => Redirect::to(&format!("/tickets/{n}?followers=removed")).into_response(),
        Err(helpdesk_core::Error::NotFound { what: "ticket" }) => not_found(&s, &who),
        Err(err) => {
            let message = ApiError::from(err).first_message();
            let flash = Some(format!("Nobody was removed: {message}"));
            render_ticket(&s, &who, &number, flash, Retyped::Nothing, StatusCode::CONFLICT).await
        }
    }
}
