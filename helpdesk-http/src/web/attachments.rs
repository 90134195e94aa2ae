//! Attachments in the pages: several files added to a ticket in one form (each checked by
//! core's upload use case: type from the content, size limits; a refused file says why and the
//! others are kept), and downloads through the same grant and headers as the API.

use axum::extract::multipart::Field;
use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use futures::TryStreamExt as _;
use helpdesk_core::Upload;
use helpdesk_core::domain::{AttachmentId, CommentId, TicketNumber};

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

/// Side of the previews shown on ticket pages, in pixels.
#[cfg(feature = "avatars")]
const PREVIEW_SIDE: u32 = 320;

/// A small JPEG of a PNG or JPEG attachment, after the same access check (and audit entry) as
/// a download. An attachment never changes under its id, so browsers keep the preview.
#[cfg(feature = "avatars")]
pub(crate) async fn preview(
    State(s): State<AppState>,
    who: PageUser,
    addr: ClientAddress,
    Path(id): Path<String>,
) -> Response {
    use object_store::ObjectStoreExt as _;
    let not_found = || error_page(StatusCode::NOT_FOUND, Layout::of(&s, &who), "There is no such file.");
    let Ok(id) = id.parse::<uuid::Uuid>() else { return not_found() };
    let grant = match s.desk().download(&who.principal, AttachmentId::from_uuid(id), addr.get()).await {
        Ok(g) => g,
        Err(helpdesk_core::Error::NotFound { .. }) => return not_found(),
        Err(e) => return ApiError::from(e).into_response(),
    };
    if !matches!(grant.attachment().content_type.as_str(), "image/png" | "image/jpeg") {
        return not_found();
    }
    let bytes = match s.desk().blobs().get(grant.location()).await {
        Ok(r) => match r.bytes().await {
            Ok(b) => b,
            Err(e) => return ApiError::from(helpdesk_core::Error::Unavailable(e.to_string())).into_response(),
        },
        Err(e) => return ApiError::from(helpdesk_core::Error::Unavailable(e.to_string())).into_response(),
    };
    let made = tokio::task::spawn_blocking(move || crate::routes::avatar_upload::preview(&bytes, PREVIEW_SIDE)).await;
    match made {
        Ok(Ok(jpeg)) => (
            [
                (axum::http::header::CONTENT_TYPE, "image/jpeg"),
                (axum::http::header::CACHE_CONTROL, "private, max-age=31536000, immutable"),
                (axum::http::header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            jpeg,
        )
            .into_response(),
        // An image that cannot be previewed (too many pixels, damaged) is still a file to download.
        Ok(Err(_)) => not_found(),
        Err(e) => ApiError::from(helpdesk_core::Error::Internal(format!("preview task: {e}"))).into_response(),
    }
}

/// Without an image decoder, the preview is the image itself.
#[cfg(not(feature = "avatars"))]
pub(crate) async fn preview(Path(id): Path<String>) -> Response {
    Redirect::to(&format!("/attachments/{}", super::encode(&id))).into_response()
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
    let mut files = Stored::default();
    loop {
        let field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                files.cut_short(&e);
                break;
            }
        };
        files.store(&s, &who, &n, None, field).await;
    }
    let Stored { count: stored, mut refusals } = files;
    if refusals.is_empty() && stored == 0 {
        refusals.push("Choose at least one file.".to_owned());
    }
    if refusals.is_empty() {
        return Redirect::to(&format!("/tickets/{n}?uploaded={stored}")).into_response();
    }
    let message = format!("{} Refused — {}", files_added(stored), refusals.join("; "));
    render_ticket(&s, &who, &number, Some(message), super::tickets::Retyped::Nothing, StatusCode::UNPROCESSABLE_ENTITY)
        .await
}

/// "2 files added." in words.
pub(crate) fn files_added(n: usize) -> String {
    match n {
        0 => "No file added.".to_owned(),
        1 => "1 file added.".to_owned(),
        n => format!("{n} files added."),
    }
}

/// Files of one form, stored one by one through core's upload use case as they stream in: how
/// many were stored, and why each refused one was.
#[derive(Debug, Default)]
pub(crate) struct Stored {
    pub(crate) count: usize,
    pub(crate) refusals: Vec<String>,
}

impl Stored {
    /// Stores `field` if it is a chosen file (an empty file input sends a part without a name).
    pub(crate) async fn store(
        &mut self,
        s: &AppState,
        who: &PageUser,
        number: &TicketNumber,
        comment: Option<CommentId>,
        field: Field<'_>,
    ) {
        let Some(file_name) = field.file_name().filter(|f| !f.is_empty()).map(str::to_owned) else { return };
        let body = field.map_err(|e| e.body_text());
        let upload = Upload { file_name: file_name.clone(), comment };
        match s.desk().upload_attachment(&who.principal, number, upload, body).await {
            Ok(_) => self.count += 1,
            Err(e) => {
                let e = ApiError::from(e);
                let why = match e.status {
                    StatusCode::UNSUPPORTED_MEDIA_TYPE => "this kind of file is not accepted".to_owned(),
                    StatusCode::PAYLOAD_TOO_LARGE => format!("too large ({})", e.detail),
                    _ => e.first_message(),
                };
                self.refusals.push(format!("{file_name}: {why}"));
            }
        }
    }

    /// Notes a form that ended early (a dropped connection, a body over the limit).
    pub(crate) fn cut_short(&mut self, e: &axum::extract::multipart::MultipartError) {
        self.refusals.push(format!("The upload was cut short: {}", e.body_text()));
    }
}

/// What the file inputs say about the limits, from the help desk's options.
pub(crate) fn files_hint(s: &AppState) -> String {
    let limits = &s.desk().options().attachments;
    let kinds: Vec<&str> = [
        ("image/", "images"),
        ("application/pdf", "PDF"),
        ("wordprocessingml", "Word"),
        ("msword", "Word"),
        ("spreadsheetml", "Excel"),
        ("ms-excel", "Excel"),
        ("presentationml", "PowerPoint"),
        ("text/csv", "CSV"),
        ("text/plain", "text"),
    ]
    .iter()
    .filter(|(needle, _)| limits.allowed_types.iter().any(|t| t.contains(needle)))
    .map(|(_, name)| *name)
    .fold(Vec::new(), |mut v, n| {
        if !v.contains(&n) {
            v.push(n);
        }
        v
    });
    format!(
        "Up to {} a file and {} files a ticket: {}.",
        super::tickets::size_words(limits.max_file_bytes),
        limits.max_files_per_ticket,
        kinds.join(", ")
    )
}
