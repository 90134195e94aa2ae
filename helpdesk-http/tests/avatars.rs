//! Avatars: PNG and JPEG re-encoded as a 256×256 PNG without metadata; a pixel bomb is refused
//! from its header, cheaply; other types and oversize uploads are refused; any signed-in user
//! may fetch an avatar.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::Cursor;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::TestApp;
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// A tiny valid PNG whose header claims `w`×`h` pixels.
fn png_claiming(w: u32, h: u32) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    image::RgbaImage::new(1, 1).write_to(&mut out, image::ImageFormat::Png).unwrap();
    let mut png = out.into_inner();
    png[16..20].copy_from_slice(&w.to_be_bytes());
    png[20..24].copy_from_slice(&h.to_be_bytes());
    let crc = crc32(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
    png
}

fn image_bytes(w: u32, h: u32, format: image::ImageFormat) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 128]));
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, format).unwrap();
    out.into_inner()
}

async fn put_avatar(app: &TestApp, token: &str, bytes: Vec<u8>) -> (StatusCode, serde_json::Value) {
    let req = Request::put("/api/v1/me/avatar")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "image/png")
        .body(Body::from(bytes))
        .unwrap();
    let r = app.send(req).await;
    (r.status, r.body)
}

#[tokio::test]
async fn avatars_are_reencoded_bounded_and_visible_to_signed_in_users() {
    let app = TestApp::new().await;
    let (uid, emp) = app.user(1, "employee").await;
    let (_, other) = app.user(2, "employee").await;

    let (s, body) = put_avatar(&app, &emp, image_bytes(640, 480, image::ImageFormat::Jpeg)).await;
    assert_eq!((s, body["has_avatar"].as_bool()), (StatusCode::OK, Some(true)), "{body}");
    let req = Request::get(format!("/api/v1/users/{uid}/avatar"))
        .header("authorization", format!("Bearer {other}"))
        .body(Body::empty())
        .unwrap();
    let res = app.router.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "image/png");
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    let img = image::load_from_memory(&bytes).unwrap();
    assert_eq!((img.width(), img.height()), (256, 256), "a square thumbnail");
    assert!(!bytes.windows(4).any(|w| w == b"eXIf" || w == b"tEXt"), "no metadata chunks");

    // Replacing it works too (PNG this time).
    let (s, _) = put_avatar(&app, &emp, image_bytes(300, 900, image::ImageFormat::Png)).await;
    assert_eq!(s, StatusCode::OK);

    // A decompression bomb: refused from its header, quickly.
    let started = Instant::now();
    let (s, body) = put_avatar(&app, &emp, png_claiming(100_000, 100_000)).await;
    assert_eq!((s, body["code"].as_str()), (StatusCode::PAYLOAD_TOO_LARGE, Some("upload.too_many_pixels")), "{body}");
    assert!(started.elapsed() < Duration::from_secs(1));
    // Not an image, a GIF, too large, a truncated PNG.
    assert_eq!(put_avatar(&app, &emp, b"<svg onload=alert(1)>".to_vec()).await.0, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(put_avatar(&app, &emp, b"GIF89a\x01\x00\x01\x00".to_vec()).await.0, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(put_avatar(&app, &emp, vec![0u8; 3 * 1024 * 1024]).await.0, StatusCode::PAYLOAD_TOO_LARGE);
    let mut truncated = image_bytes(64, 64, image::ImageFormat::Png);
    truncated.truncate(60);
    assert_eq!(put_avatar(&app, &emp, truncated).await.0, StatusCode::UNPROCESSABLE_ENTITY);

    // No avatar is a 404; anonymous is a 401.
    let (uid2, _) = (uuid::Uuid::new_v4(), ());
    let req = Request::get(format!("/api/v1/users/{uid2}/avatar"))
        .header("authorization", format!("Bearer {other}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(app.router.clone().oneshot(req).await.unwrap().status(), StatusCode::NOT_FOUND);
    let req = Request::get(format!("/api/v1/users/{uid}/avatar")).body(Body::empty()).unwrap();
    assert_eq!(app.router.clone().oneshot(req).await.unwrap().status(), StatusCode::UNAUTHORIZED);
}
