//! The profile page, the same for every role: names and suffix (editable), email, company id,
//! department and role (read-only), the picture (uploaded through the same checks as the API's
//! avatar route, with the `avatars` feature), the password change and "sign out everywhere
//! else". Avatars of any user are served to signed-in visitors, as in the API.

use askama::Template;
use axum::Form;
use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use helpdesk_core::ProfileUpdate;
use helpdesk_core::domain::UserId;
use serde::Deserialize;

use super::pages::{form_allowed, multipart_allowed, suffix_choices};
use super::session::PageUser;
use super::{Layout, error_page, page, when};
use crate::error::ApiError;
use crate::routes::avatars::serve_avatar;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "profile.html")]
struct ProfileView {
    layout: Layout,
    layout_initials: String,
    avatar: Option<String>,
    email: String,
    company_id: String,
    department: String,
    role: String,
    first_name: String,
    middle_name: String,
    last_name: String,
    suffix: String,
    suffixes: Vec<String>,
    version: u64,
    avatars: bool,
    error: Option<String>,
    sessions: Vec<SessionRow>,
}

/// One of the user's live sessions, as the profile lists them.
#[derive(Debug)]
struct SessionRow {
    started: String,
    started_iso: String,
    last_used: String,
    last_used_iso: String,
    address: Option<String>,
    current: bool,
}

async fn profile_page(s: &AppState, who: &PageUser, flash: Option<String>, error: Option<String>) -> Response {
    let u = &who.user;
    let layout = Layout::of(s, who).flash(flash).trail(&[("Profile", None)]);
    let sessions = match s.desk().my_sessions(&who.principal).await {
        Ok(v) => v,
        Err(e) => {
            let e = ApiError::from(e);
            return error_page(e.status, Layout::of(s, who), &e.detail);
        }
    };
    let sessions = sessions
        .iter()
        .rev()
        .map(|x| {
            let (started, started_iso) = when(x.created_at);
            let (last_used, last_used_iso) = when(x.last_used_at);
            SessionRow {
                started,
                started_iso,
                last_used,
                last_used_iso,
                address: x.address.clone(),
                current: x.id == who.session,
            }
        })
        .collect();
    let initials: String =
        [u.first_name.as_str(), u.last_name.as_str()].iter().filter_map(|n| n.chars().next()).collect();
    let view = ProfileView {
        layout,
        layout_initials: initials.to_uppercase(),
        avatar: super::avatar_url(u.id, u.avatar.as_ref()),
        email: u.email.to_string(),
        company_id: u.company_id.to_string(),
        department: super::department_name(s, u.department.as_ref(), "None"),
        role: match u.role {
            helpdesk_core::domain::Role::Employee => "Employee",
            helpdesk_core::domain::Role::Coordinator => "Ticket coordinator",
            helpdesk_core::domain::Role::Admin => "Administrator",
        }
        .to_owned(),
        first_name: u.first_name.to_string(),
        middle_name: u.middle_name.as_ref().map(|m| m.to_string()).unwrap_or_default(),
        last_name: u.last_name.to_string(),
        suffix: u.suffix.map(|x| x.as_str().to_owned()).unwrap_or_default(),
        suffixes: suffix_choices(),
        version: u.version,
        avatars: cfg!(feature = "avatars"),
        error,
        sessions,
    };
    let status = if view.error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    page(status, &view)
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct ProfileQuery {
    saved: Option<String>,
}

pub(crate) async fn profile(
    State(s): State<AppState>,
    who: PageUser,
    axum::extract::Query(q): axum::extract::Query<ProfileQuery>,
) -> Response {
    let flash = match q.saved.as_deref() {
        Some("names") => Some("Profile saved.".to_owned()),
        Some("avatar") => Some("Picture updated.".to_owned()),
        Some(n) => n.parse::<u64>().ok().map(|n| format!("Signed out of {n} other session(s).")),
        None => None,
    };
    profile_page(&s, &who, flash, None).await
}

#[derive(Debug, Deserialize)]
pub(crate) struct ProfileForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    version: u64,
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    middle_name: String,
    #[serde(default)]
    last_name: String,
    #[serde(default)]
    suffix: String,
}

pub(crate) async fn save(
    State(s): State<AppState>,
    who: PageUser,
    method: Method,
    headers: HeaderMap,
    Form(f): Form<ProfileForm>,
) -> Response {
    if let Some(refused) = form_allowed(&s, &who, &method, &headers, &f.csrf) {
        return refused;
    }
    let update = ProfileUpdate {
        first_name: Some(f.first_name),
        middle_name: Some(f.middle_name),
        last_name: Some(f.last_name),
        suffix: Some(f.suffix),
    };
    match s.desk().update_profile(&who.principal, update, Some(f.version)).await {
        Ok(_) => Redirect::to("/profile?saved=names").into_response(),
        Err(e) => {
            let e = ApiError::from(e);
            let message = e.first_message();
            profile_page(&s, &who, None, Some(message)).await
        }
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

#[derive(Template)]
#[template(path = "confirm_sign_out.html")]
struct ConfirmSignOutView {
    layout: Layout,
    others: usize,
}

/// Asks before ending the other sessions.
pub(crate) async fn confirm_sign_out_elsewhere(State(s): State<AppState>, who: PageUser) -> Response {
    let others = match s.desk().my_sessions(&who.principal).await {
        Ok(v) => v.iter().filter(|x| x.id != who.session).count(),
        Err(e) => {
            let e = ApiError::from(e);
            return error_page(e.status, Layout::of(&s, &who), &e.detail);
        }
    };
    let layout = Layout::of(&s, &who).trail(&[("Profile", Some("/profile")), ("Sign out everywhere else", None)]);
    page(StatusCode::OK, &ConfirmSignOutView { layout, others })
}

pub(crate) async fn sign_out_elsewhere(
    State(s): State<AppState>,
    who: PageUser,
    method: Method,
    headers: HeaderMap,
    Form(f): Form<CsrfOnly>,
) -> Response {
    if let Some(refused) = form_allowed(&s, &who, &method, &headers, &f.csrf) {
        return refused;
    }
    match s.desk().sign_out_elsewhere(&who.principal).await {
        Ok(n) => Redirect::to(&format!("/profile?saved={n}")).into_response(),
        Err(e) => {
            let e = ApiError::from(e);
            error_page(e.status, Layout::of(&s, &who), &e.detail)
        }
    }
}

/// The picture: the token first, then the image, checked and re-encoded as the API does.
pub(crate) async fn upload_avatar(
    State(s): State<AppState>,
    who: PageUser,
    method: Method,
    headers: HeaderMap,
    mut form: Multipart,
) -> Response {
    if let Some(refused) = multipart_allowed(&s, &who, &method, &headers, &mut form).await {
        return refused;
    }
    let bytes = match form.next_field().await {
        Ok(Some(field)) if field.name() == Some("avatar") => field.bytes().await.ok(),
        _ => None,
    };
    let Some(bytes) = bytes.filter(|b| !b.is_empty()) else {
        return profile_page(&s, &who, None, Some("Choose a PNG or JPEG picture.".to_owned())).await;
    };
    let set = async {
        let png = avatar_thumbnail(bytes).await?;
        s.desk().set_avatar(&who.principal, png).await.map_err(ApiError::from)
    };
    match set.await {
        Ok(_) => Redirect::to("/profile?saved=avatar").into_response(),
        Err(e) => {
            let message = e.first_message();
            profile_page(&s, &who, None, Some(message)).await
        }
    }
}

/// An uploaded picture checked, decoded and re-encoded as the API's avatar route does.
#[cfg(feature = "avatars")]
pub(crate) async fn avatar_thumbnail(bytes: axum::body::Bytes) -> Result<axum::body::Bytes, ApiError> {
    use crate::routes::avatar_upload::{MAX_AVATAR_BYTES, thumbnail};
    if bytes.len() > MAX_AVATAR_BYTES {
        return Err(ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "upload.too_large", "A picture is at most 2 MiB."));
    }
    let png = tokio::task::spawn_blocking(move || thumbnail(&bytes))
        .await
        .map_err(|e| ApiError::from(helpdesk_core::Error::Internal(format!("avatar task: {e}"))))??;
    Ok(axum::body::Bytes::from(png))
}

/// Without the `avatars` feature there is no image decoder: pictures are refused.
#[cfg(not(feature = "avatars"))]
pub(crate) async fn avatar_thumbnail(_: axum::body::Bytes) -> Result<axum::body::Bytes, ApiError> {
    Err(ApiError::new(StatusCode::NOT_FOUND, "resource.not_found", "Pictures are not enabled here."))
}

pub(crate) async fn avatar(
    State(s): State<AppState>,
    who: PageUser,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Ok(id) = id.parse::<uuid::Uuid>() else { return axum::http::StatusCode::NOT_FOUND.into_response() };
    match serve_avatar(&s, &who.principal, UserId::from_uuid(id), &headers).await {
        Ok(res) => res,
        Err(e) => e.into_response(),
    }
}
