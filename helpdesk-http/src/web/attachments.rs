//! Attachments in the pages: several files added to a ticket in one form (each checked by
//! core's upload use case: type from the content, size limits; a refused file says why and the
//! others are kept), and downloads through the same grant and headers as the API.

use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use futures::TryStreamExt as _;
use helpdesk_core::Upload;
use helpdesk_core::domain::{AttachmentId, TicketNumber};

use super::pages::multipart_allowed;
use super::session::PageUser;
use super::tickets::render_ticket;
use super::{Layout, error_page};
use crate::auth::ClientAddress;
use crate::error::ApiError;
use crate::routes::attachments::serve_download;
use crate::state::AppState;

pub(crate) async fn download(
    State(s): State<AppState>,
    who: PageUser,
    addr: ClientAddress,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Ok(id) = id.parse::<uuid::Uuid>() else {
        return error_page(StatusCode::NOT_FOUND, Layout::of(&s, &who), "There is no such file.");
    };
    match serve_download(&s, &who.principal, AttachmentId::from_uuid(id), addr.get(), &headers).await {
        Ok(res) => res,
        Err(e) if e.status == StatusCode::NOT_FOUND || e.status == StatusCode::FORBIDDEN => {
            error_page(StatusCode::NOT_FOUND, Layout::of(&s, &who), "There is no such file.")
        }
        Err(e) => e.into_response(),
    }
}

/// To the ticket with `?uploaded=N`; when a file is refused, the ticket page says which and why.
pub(crate) async fn upload(
    State(s): State<AppState>,
    who: PageUser,
    Path(number): Path<String>,
    method: Method,
    headers: HeaderMap,
    mut form: Multipart,
) -> Response {
    let Ok(n) = TicketNumber::parse(&number) else {
        return error_page(StatusCode::NOT_FOUND, Layout::of(&s, &who), "There is no such ticket of yours.");
    };
    if let Some(refused) = multipart_allowed(&s, &who, &method, &headers, &mut form).await {
        return refused;
    }
    let mut stored = 0;
    let mut refusals = Vec::new();
    loop {
        let field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                refusals.push(format!("The upload was cut short: {}", e.body_text()));
                break;
            }
        };
        let Some(file_name) = field.file_name().filter(|f| !f.is_empty()).map(str::to_owned) else { continue };
        let body = field.map_err(|e| e.body_text());
        match s
            .desk()
            .upload_attachment(&who.principal, &n, Upload { file_name: file_name.clone(), comment: None }, body)
            .await
        {
            Ok(_) => stored += 1,
            Err(e) => {
                let e = ApiError::from(e);
                let why = e.errors.first().map_or(e.detail.clone(), |f| f.message.clone());
                refusals.push(format!("{file_name}: {why}"));
            }
        }
    }
    if refusals.is_empty() && stored == 0 {
        refusals.push("Choose at least one file.".to_owned());
    }
    if refusals.is_empty() {
        return Redirect::to(&format!("/tickets/{n}?uploaded={stored}")).into_response();
    }
    let message = format!("{stored} file(s) added. Refused — {}", refusals.join("; "));
    render_ticket(&s, &who, &number, Some(message), None, String::new(), StatusCode::UNPROCESSABLE_ENTITY).await
}
