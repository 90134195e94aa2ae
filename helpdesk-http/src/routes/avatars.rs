//! Avatars: PNG or JPEG up to 2 MiB, recognised by content; the pixel count is read from the
//! header and bounded before anything is decoded (a decompression bomb costs a few bytes of
//! parsing), decoding runs on the blocking pool with the image library's own limits, and the
//! result is re-encoded as a 256×256 PNG: centre-cropped, no metadata carried over.

use std::io::Cursor;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use helpdesk_core::domain::UserId;
use image::{ImageFormat, ImageReader, Limits};
use object_store::ObjectStoreExt as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{ApiPath, RawBody};
use crate::state::AppState;
use crate::views::UserOut;

/// Largest avatar upload.
pub const MAX_AVATAR_BYTES: usize = 2 * 1024 * 1024;
/// Largest image accepted, in pixels (e.g. 4,000 × 4,000).
pub const MAX_AVATAR_PIXELS: u64 = 16_000_000;
/// Side of the stored square thumbnail.
pub const AVATAR_SIDE: u32 = 256;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(upload_avatar))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_AVATAR_BYTES + 1))
        .routes(routes!(get_avatar))
}

/// Checks, decodes and re-encodes an avatar (blocking: call it off the async workers).
///
/// # Errors
/// 415 unless PNG or JPEG by content; 413 over the pixel bound; 422 when it cannot be decoded.
pub fn thumbnail(bytes: &[u8]) -> Result<Vec<u8>, ApiError> {
    let unsupported = || {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "upload.unsupported_type",
            "an avatar must be a PNG or JPEG image",
        )
    };
    let format = image::guess_format(bytes).map_err(|_| unsupported())?;
    if !matches!(format, ImageFormat::Png | ImageFormat::Jpeg) {
        return Err(unsupported());
    }
    let undecodable =
        |e: image::ImageError| ApiError::field("file", "invalid_image", &format!("the image cannot be decoded: {e}"));
    let (w, h) = ImageReader::with_format(Cursor::new(bytes), format).into_dimensions().map_err(undecodable)?;
    if u64::from(w) * u64::from(h) > MAX_AVATAR_PIXELS {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "upload.too_many_pixels",
            format!("the image is {w}×{h}; at most {MAX_AVATAR_PIXELS} pixels"),
        ));
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(8192);
    limits.max_image_height = Some(8192);
    limits.max_alloc = Some(256 * 1024 * 1024);
    reader.limits(limits);
    let img = reader.decode().map_err(undecodable)?;
    let side = img.width().min(img.height());
    let square = img.crop_imm((img.width() - side) / 2, (img.height() - side) / 2, side, side);
    let small = square.resize_exact(AVATAR_SIDE, AVATAR_SIDE, image::imageops::FilterType::Triangle).to_rgba8();
    let mut out = Cursor::new(Vec::new());
    small
        .write_to(&mut out, ImageFormat::Png)
        .map_err(|e| helpdesk_core::Error::Internal(format!("encoding an avatar: {e}")))?;
    Ok(out.into_inner())
}

/// Set one's avatar (the body is the PNG or JPEG image, at most 2 MiB).
#[utoipa::path(put, path = "/me/avatar", tag = "users", request_body(content = Vec<u8>, content_type = "image/png"),
    security(("bearer" = [])),
    responses((status = 200, body = UserOut), (status = 413, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem)))]
async fn upload_avatar(State(s): State<AppState>, c: Caller, RawBody(body): RawBody) -> ApiResult<axum::Json<UserOut>> {
    if body.len() > MAX_AVATAR_BYTES {
        return Err(ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "upload.too_large", "an avatar is at most 2 MiB"));
    }
    let png = tokio::task::spawn_blocking(move || thumbnail(&body))
        .await
        .map_err(|e| helpdesk_core::Error::Internal(format!("avatar task: {e}")))??;
    let user = s.desk().set_avatar(&c.principal, Bytes::from(png)).await?;
    Ok(axum::Json((&user).into()))
}

/// A user's avatar (any signed-in user).
#[utoipa::path(get, path = "/users/{id}/avatar", tag = "users", params(("id" = Uuid, Path)), security(("bearer" = [])),
    responses((status = 200, content_type = "image/png", description = "the 256×256 PNG"), (status = 304), (status = 404, body = Problem)))]
async fn get_avatar(
    State(s): State<AppState>,
    c: Caller,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let (path, key) = s.desk().avatar(&c.principal, UserId::from_uuid(id)).await?;
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
