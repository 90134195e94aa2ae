//! Avatar uploads (the `avatars` feature, on by default): PNG or JPEG up to 2 MiB, recognised
//! by content; the pixel count is read from the header and bounded before anything is decoded
//! (a decompression bomb costs a few bytes of parsing), decoding runs on the blocking pool with
//! the image library's own limits, and the result is re-encoded as a 256×256 PNG:
//! centre-cropped, no metadata carried over. Without the feature the route is not mounted and
//! the image decoders are not compiled.

use std::io::Cursor;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use image::{ImageFormat, ImageReader, Limits};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::RawBody;
use crate::state::AppState;
use crate::views::UserOut;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(upload_avatar))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_AVATAR_BYTES + 1))
}

/// Largest avatar upload.
pub const MAX_AVATAR_BYTES: usize = 2 * 1024 * 1024;
/// Largest image accepted, in pixels (e.g. 4,000 × 4,000).
pub const MAX_AVATAR_PIXELS: u64 = 16_000_000;
/// Side of the stored square thumbnail.
pub const AVATAR_SIDE: u32 = 256;

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
