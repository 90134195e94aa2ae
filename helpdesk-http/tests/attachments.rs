//! Attachments and reports through the router: uploads decided by content, odd names,
//! limits, access rules, download headers, ETag and ranges; the reports and the CSV export.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::{Resp, TestApp, multipart};
use serde_json::json;

const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, b'I', b'H', b'D', b'R', 0, 0, 0, 1, 0, 0, 0, 1, 8, 6,
    0, 0, 0, 0x1F, 0x15, 0xC4, 0x89, 0, 0, 0, 10, b'I', b'D', b'A', b'T', 0x78, 0x9C, 0x63, 0, 1, 0, 0, 5, 0, 1, 0x0D,
    0x0A, 0x2D, 0xB4, 0, 0, 0, 0, b'I', b'E', b'N', b'D', 0xAE, 0x42, 0x60, 0x82,
];

async fn upload(app: &TestApp, token: &str, number: &str, parts: &[(&str, Option<&str>, &[u8])]) -> Resp {
    let (ct, body) = multipart(parts);
    let req = Request::builder()
        .method(Method::POST)
        .uri(format!("/api/v1/tickets/{number}/attachments"))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", ct)
        .body(Body::from(body))
        .unwrap();
    app.send(req).await
}

async fn get_with(
    app: &TestApp,
    token: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    use http_body_util::BodyExt as _;
    use tower::ServiceExt as _;
    let auth = if token.starts_with("ApiKey ") { token.to_owned() } else { format!("Bearer {token}") };
    let mut b = Request::builder().uri(path).header("authorization", auth);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let res = app.router.clone().oneshot(b.body(Body::empty()).unwrap()).await.unwrap();
    let (status, h) = (res.status(), res.headers().clone());
    (status, h, res.into_body().collect().await.unwrap().to_bytes().to_vec())
}

#[tokio::test]
async fn uploads_are_typed_by_content_and_downloads_carry_safe_headers_etags_and_ranges() {
    let app = TestApp::new().await;
    let (_, emp) = app.user(1, "employee").await;
    let n = app.ticket(&emp, "Screenshot attached").await;
    // A NUL cannot travel in a multipart header: a clear 400, nothing stored.
    let r = upload(&app, &emp, &n, &[("file", Some("a\0.png"), PNG)]).await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "request.malformed_multipart"));
    let r = upload(&app, &emp, &n, &[("file", Some("../../etc/pass\u{202E}gnp.exe.png"), PNG)]).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let a = &r.body[0];
    assert_eq!(a["content_type"], "image/png");
    let name = a["file_name"].as_str().unwrap();
    assert!(!name.contains('/') && !name.contains('\u{202E}') && !name.starts_with('.'), "{name:?}");
    assert_eq!(a["size"], PNG.len());
    let id = a["id"].as_str().unwrap();

    let (s, h, body) = get_with(&app, &emp, &format!("/api/v1/attachments/{id}"), &[]).await;
    assert_eq!((s, body.as_slice()), (StatusCode::OK, PNG));
    assert_eq!(h["content-type"], "image/png");
    assert!(h["content-disposition"].to_str().unwrap().starts_with("inline; filename=\""));
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert!(h["content-security-policy"].to_str().unwrap().starts_with("sandbox"));
    assert!(h["cache-control"].to_str().unwrap().contains("private"));
    let etag = h["etag"].to_str().unwrap().to_owned();
    let (s, _, body) = get_with(&app, &emp, &format!("/api/v1/attachments/{id}"), &[("if-none-match", &etag)]).await;
    assert_eq!((s, body.len()), (StatusCode::NOT_MODIFIED, 0));
    let (s, h, body) = get_with(&app, &emp, &format!("/api/v1/attachments/{id}"), &[("range", "bytes=0-7")]).await;
    assert_eq!((s, body.as_slice()), (StatusCode::PARTIAL_CONTENT, &PNG[..8]));
    assert_eq!(h["content-range"], format!("bytes 0-7/{}", PNG.len()));
    let (s, _, body) = get_with(&app, &emp, &format!("/api/v1/attachments/{id}"), &[("range", "bytes=-4")]).await;
    assert_eq!((s, body.as_slice()), (StatusCode::PARTIAL_CONTENT, &PNG[PNG.len() - 4..]));
    let (s, h, _) = get_with(&app, &emp, &format!("/api/v1/attachments/{id}"), &[("range", "bytes=5000-")]).await;
    assert_eq!(
        (s, h["content-range"].to_str().unwrap()),
        (StatusCode::RANGE_NOT_SATISFIABLE, format!("bytes */{}", PNG.len()).as_str())
    );

    // A PNG header on an HTML body is a PNG (and served as one, with nosniff): never HTML.
    let mut polyglot = PNG[..16].to_vec();
    polyglot.extend_from_slice(b"<html><script>alert(1)</script></html>");
    let r = upload(&app, &emp, &n, &[("file", Some("page.html"), &polyglot)]).await;
    assert_eq!(
        (r.status, r.body[0]["content_type"].as_str()),
        (StatusCode::CREATED, Some("image/png")),
        "{:?}",
        r.body
    );
    // HTML named .pdf and an SVG with script are refused, whatever their names say.
    let r =
        upload(&app, &emp, &n, &[("file", Some("invoice.pdf"), b"<!DOCTYPE html><html><body>hi</body></html>")]).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNSUPPORTED_MEDIA_TYPE, "upload.unsupported_type"), "{:?}", r.body);
    let svg = br#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#;
    let r = upload(&app, &emp, &n, &[("file", Some("logo.png"), svg)]).await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{:?}", r.body);
    // A very long name is shortened.
    let long = format!("{}.txt", "x".repeat(5000));
    let r = upload(&app, &emp, &n, &[("file", Some(&long), b"plain notes")]).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert!(r.body[0]["file_name"].as_str().unwrap().len() <= 255);
    // Not multipart at all.
    let r = app.post(&format!("/api/v1/tickets/{n}/attachments"), &emp, json!({"file": "x"})).await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn limits_are_enforced_while_reading() {
    let app = TestApp::new().await;
    let (_, emp) = app.user(1, "employee").await;
    let n = app.ticket(&emp, "Big files").await;
    let big = vec![b'a'; 10 * 1024 * 1024 + 1];
    let r = upload(&app, &emp, &n, &[("file", Some("big.txt"), &big)]).await;
    assert_eq!((r.status, r.code()), (StatusCode::PAYLOAD_TOO_LARGE, "upload.too_large"), "{:?}", r.body);
    for i in 0..10 {
        let r = upload(&app, &emp, &n, &[("file", Some(&format!("n{i}.txt")), format!("note {i}").as_bytes())]).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    }
    let r = upload(&app, &emp, &n, &[("file", Some("eleventh.txt"), b"one too many")]).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{:?}", r.body);
    let list = app.get(&format!("/api/v1/tickets/{n}/attachments"), &emp).await;
    assert_eq!(list.body.as_array().unwrap().len(), 10, "nothing half-stored");
}

#[tokio::test]
async fn downloads_follow_the_access_rules() {
    let app = TestApp::new().await;
    let (_, alice) = app.user(1, "employee").await;
    let (_, bob) = app.user(2, "employee").await;
    let (_, coord) = app.user(3, "coordinator").await;
    let n = app.ticket(&alice, "Private files").await;
    let r = upload(&app, &alice, &n, &[("file", Some("mine.txt"), b"alice's notes")]).await;
    let public_id = r.body[0]["id"].as_str().unwrap().to_owned();
    let c =
        app.post(&format!("/api/v1/tickets/{n}/comments"), &coord, json!({"body": "HR only", "internal": true})).await;
    let comment = c.body["id"].as_str().unwrap().to_owned();
    let r =
        upload(&app, &coord, &n, &[("comment", None, comment.as_bytes()), ("file", Some("hr.txt"), b"salary data")])
            .await;
    assert_eq!((r.status, r.body[0]["internal"].as_bool()), (StatusCode::CREATED, Some(true)), "{:?}", r.body);
    let internal_id = r.body[0]["id"].as_str().unwrap().to_owned();

    let url = |id: &str| format!("/api/v1/attachments/{id}");
    assert_eq!(get_with(&app, &bob, &url(&public_id), &[]).await.0, StatusCode::NOT_FOUND, "another employee's");
    assert_eq!(
        get_with(&app, &alice, &url(&internal_id), &[]).await.0,
        StatusCode::NOT_FOUND,
        "internal, as the employee"
    );
    assert_eq!(get_with(&app, &coord, &url(&internal_id), &[]).await.0, StatusCode::OK);
    let listed = app.get(&format!("/api/v1/tickets/{n}/attachments"), &alice).await;
    assert_eq!(listed.body.as_array().unwrap().len(), 1);
    assert_eq!(get_with(&app, &alice, &url(&uuid::Uuid::new_v4().to_string()), &[]).await.0, StatusCode::NOT_FOUND);

    let k = app.post("/api/v1/api-keys", &app.admin, json!({"name": "archive", "scopes": ["read_tickets"]})).await;
    let key = format!("ApiKey {}", k.body["credential"].as_str().unwrap());
    let (s, _, body) = get_with(&app, &key, &url(&public_id), &[]).await;
    assert_eq!((s, body.as_slice()), (StatusCode::OK, b"alice's notes".as_slice()));
    let audit = app.get("/api/v1/audit?kind=attachment_downloaded", &app.admin).await;
    assert!(audit.body["items"].as_array().unwrap().len() >= 2, "downloads are audited");
}

#[tokio::test]
async fn reports_and_the_csv_export_are_for_admins() {
    let app = TestApp::new().await;
    let (_, emp) = app.user(1, "employee").await;
    let (_, coord) = app.user(2, "coordinator").await;
    let n = app.ticket(&emp, "=cmd|' /C calc'!A0, \"quoted\"").await;
    app.post(&format!("/api/v1/tickets/{n}/approve"), &coord, json!({"priority": "high"})).await;
    app.ticket(&emp, "Second").await;

    let s = app.get("/api/v1/reports/summary", &app.admin).await;
    assert_eq!((s.status, s.body["total_tickets"].as_u64()), (StatusCode::OK, Some(2)), "{:?}", s.body);
    let p = app.get("/api/v1/reports/performance", &app.admin).await;
    assert_eq!(p.status, StatusCode::OK, "{:?}", p.body);
    assert!(p.body["per_day"].is_array() && p.body["by_department"].is_array());
    let bad =
        app.get("/api/v1/reports/performance?from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z", &app.admin).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "at most a year");
    assert_eq!(app.get("/api/v1/reports/summary", &emp).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.get("/api/v1/reports/tickets.csv", &emp).await.status, StatusCode::FORBIDDEN);

    let (s, h, body) = get_with(&app, &app.admin, "/api/v1/reports/tickets.csv?status=open", &[]).await;
    assert_eq!(s, StatusCode::OK);
    assert!(h["content-type"].to_str().unwrap().starts_with("text/csv"));
    let text = String::from_utf8(body).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[0].starts_with("number,status,priority"));
    assert!(lines[1].contains("\"'=cmd|' /C calc'!A0, \"\"quoted\"\"\""), "formula defused and quoted: {}", lines[1]);
}
