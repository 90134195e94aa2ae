//! Avatars: any signed-in user fetches the stored 256×256 PNG of a user (uploads are in
//! [`super::avatar_upload`], behind the `avatars` feature).

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use helpdesk_core::domain::UserId;
use object_store::ObjectStoreExt as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::ApiPath;
use crate::state::AppState;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_avatar))
}

/// A user's avatar (any signed-in user).
#[utoipa::path(get, path = "/users/{id}/avatar", tag = "users", params(("id" = Uuid, Path)), security(("bearer" = [])),
    responses((status = 200, content_type = "image/png", body = crate::views::Binary, description = "the 256×256 PNG"), (status = 304), (status = 404, body = Problem)))]
async fn get_avatar(
    State(s): State<AppState>,
    c: Caller,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    serve_avatar(&s, &c.principal, UserId::from_uuid(id), &headers).await
}

/// A user's avatar PNG for `principal` (ETag per avatar version, private caching, sandboxed).
/// Shared by the API route and the web pages.
pub(crate) async fn serve_avatar(
    s: &AppState,
    principal: &helpdesk_core::policy::Principal,
    user: UserId,
    headers: &HeaderMap,
) -> ApiResult<Response> {
    let (path, key) = s.desk().avatar(principal, user).await?;
    let etag = format!("\"{}\"", key.as_str().rsplit('/').next().unwrap_or("0"));
    let mut out = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        out.insert(header::ETAG, v);
    }
    out.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=300"));
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag))
    {
        return Ok((StatusCode::NOT_MODIFIED, out).into_response());
    }
    let result = s.desk().blobs().get(&path).await.map_err(|e| match e {
        object_store::Error::NotFound { .. } => {
            ApiError::new(StatusCode::NOT_FOUND, "resource.not_found", "avatar not found")
        }
        other => helpdesk_core::Error::Unavailable(format!("attachment store: {other}")).into(),
    })?;
    out.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/png"));
    out.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("sandbox; default-src 'none'"));
    Ok((StatusCode::OK, out, Body::from_stream(result.into_stream())).into_response())
}
