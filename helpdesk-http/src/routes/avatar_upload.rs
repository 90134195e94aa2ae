//! Avatar uploads (the `avatars` feature, on by default): PNG or JPEG up to 2 MiB, recognised
//! by content; the pixel count is read from the header and bounded before anything is decoded
//! (a decompression bomb costs a few bytes of parsing), decoding runs on the blocking pool with
//! the image library's own limits, and the result is re-encoded as a 256×256 PNG:
//! centre-cropped, no metadata carried over. The same bounded decoding makes the previews of
//! image attachments on the web pages ([`preview`]). Without the feature the route is not
//! mounted and the image decoders are not compiled.

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
    let img = decode_bounded(bytes, format)?;
    let side = img.width().min(img.height());
    let square = img.crop_imm((img.width() - side) / 2, (img.height() - side) / 2, side, side);
    let small = square.resize_exact(AVATAR_SIDE, AVATAR_SIDE, image::imageops::FilterType::Triangle).to_rgba8();
    let mut out = Cursor::new(Vec::new());
    small
        .write_to(&mut out, ImageFormat::Png)
        .map_err(|e| helpdesk_core::Error::Internal(format!("encoding an avatar: {e}")))?;
    Ok(out.into_inner())
}

/// Decodes a PNG or JPEG whose pixel count is checked from its header first (a decompression
/// bomb costs a few bytes of parsing), within the image library's own allocation limits.
/// Blocking: call it off the async workers.
///
/// # Errors
/// 413 over [`MAX_AVATAR_PIXELS`]; 422 when it cannot be decoded.
pub fn decode_bounded(bytes: &[u8], format: ImageFormat) -> Result<image::DynamicImage, ApiError> {
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
    reader.decode().map_err(undecodable)
}

/// A small JPEG of a PNG or JPEG attachment for the pages: at most `side` pixels either way,
/// aspect kept, transparency flattened onto white, nothing of the original's metadata.
/// Blocking: call it off the async workers.
///
/// # Errors
/// 415 unless PNG or JPEG by content; as [`decode_bounded`].
pub fn preview(bytes: &[u8], side: u32) -> Result<Vec<u8>, ApiError> {
    let format =
        image::guess_format(bytes).ok().filter(|f| matches!(f, ImageFormat::Png | ImageFormat::Jpeg)).ok_or_else(
            || ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "upload.unsupported_type", "not a PNG or JPEG"),
        )?;
    let img = decode_bounded(bytes, format)?;
    let small = img.thumbnail(side, side).to_rgba8();
    let mut flat = image::RgbImage::from_pixel(small.width(), small.height(), image::Rgb([255, 255, 255]));
    for (x, y, p) in small.enumerate_pixels() {
        let a = u32::from(p[3]);
        let blend = |c: u8| ((u32::from(c) * a + 255 * (255 - a)) / 255) as u8;
        flat.put_pixel(x, y, image::Rgb([blend(p[0]), blend(p[1]), blend(p[2])]));
    }
    let mut out = Cursor::new(Vec::new());
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80)
        .encode_image(&flat)
        .map_err(|e| helpdesk_core::Error::Internal(format!("encoding a preview: {e}")))?;
    Ok(out.into_inner())
}

/// Set one's avatar (the body is the PNG or JPEG image, at most 2 MiB).
#[utoipa::path(put, path = "/me/avatar", tag = "users", request_body(description = "the image's bytes: the server tells PNG from JPEG by content, whatever the Content-Type",
        content((crate::views::Binary = "application/octet-stream"), (crate::views::Binary = "image/png"), (crate::views::Binary = "image/jpeg"))),
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
