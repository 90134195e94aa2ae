//! The page behind the link mailed to the sender of a held message: no sign-in, the signed
//! link is the permission ([`helpdesk_core::HelpDesk::confirm_inbound`]). Opening it processes
//! nothing (mail scanners follow links); the button does, once.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use helpdesk_core::domain::InboundId;
use helpdesk_core::model::InboundOutcome;

use super::{Layout, error_page, page, session};
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "mail_confirm.html")]
struct ConfirmView {
    layout: Layout,
    subject: String,
    received: String,
    expires: String,
    action: String,
    done: Option<String>,
}

fn refused(e: helpdesk_core::Error) -> Response {
    let e = ApiError::from(e);
    let message = match e.status {
        StatusCode::FORBIDDEN => "This link is not valid. Use the link in the mail as it is.",
        StatusCode::CONFLICT => e.detail.as_str(),
        _ => e.detail.as_str(),
    };
    error_page(e.status, Layout::anonymous(), &format!("{message}."))
}

fn layout() -> Layout {
    Layout::anonymous().trail(&[("Confirm your message", None)])
}

/// `GET /mail/confirm/{id}/{token}`: what is held, and one button.
pub(crate) async fn confirm_form(State(s): State<AppState>, Path((id, token)): Path<(String, String)>) -> Response {
    let Ok(id) = id.parse::<InboundId>() else { return refused(helpdesk_core::Error::Forbidden("invalid")) };
    match s.desk().confirmation(id, &token).await {
        Ok(m) => {
            let expires = s.desk().options().mail_in.confirm_ttl;
            page(
                StatusCode::OK,
                &ConfirmView {
                    layout: layout(),
                    subject: m.subject.clone(),
                    received: m.received_at.format("%Y-%m-%d %H:%M").to_string(),
                    expires: (m.processed_at + expires).format("%Y-%m-%d %H:%M").to_string(),
                    action: format!("/mail/confirm/{id}/{token}"),
                    done: None,
                },
            )
        }
        Err(e) => refused(e),
    }
}

/// `POST /mail/confirm/{id}/{token}`: files the message.
pub(crate) async fn confirm(
    State(s): State<AppState>,
    Path((id, token)): Path<(String, String)>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    if !session::same_origin(&s, &method, &headers) {
        return error_page(StatusCode::FORBIDDEN, Layout::anonymous(), "This form was sent from another site.");
    }
    let Ok(id) = id.parse::<InboundId>() else { return refused(helpdesk_core::Error::Forbidden("invalid")) };
    match s.desk().confirm_inbound(id, &token).await {
        Ok(r) => {
            let done = match &r.outcome {
                InboundOutcome::Ticket { number } => format!("Your message is filed as ticket {number}."),
                InboundOutcome::Comment { number } => format!("Your message is added to ticket {number}."),
                InboundOutcome::Held { reason } => format!("Your message is still held: {}.", reason.explain()),
                InboundOutcome::Failed { .. } | InboundOutcome::Ignored { .. } => {
                    "Your message could not be filed; an administrator can see it.".to_owned()
                }
            };
            page(
                StatusCode::OK,
                &ConfirmView {
                    layout: layout(),
                    subject: String::new(),
                    received: String::new(),
                    expires: String::new(),
                    action: String::new(),
                    done: Some(done),
                },
            )
        }
        Err(e) => refused(e),
    }
}
