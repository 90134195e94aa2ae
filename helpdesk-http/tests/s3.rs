//! The attachment store on a real S3-compatible server (moto, started per test by the test
//! itself from the virtualenv `scripts/test.sh` prepares): upload, download with ranges,
//! a deleted object, and an outage that answers 503 quickly instead of hanging.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use helpdesk_http::config::{AdminConfig, Config, PasswordHashConfig, Secret};
use http_body_util::BodyExt as _;
use object_store::ObjectStoreExt as _;
use serde_json::{Value, json};
use tower::ServiceExt as _;

async fn call(router: &axum::Router, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let res = router.clone().oneshot(req).await.unwrap();
    let (s, h) = (res.status(), res.headers().clone());
    (s, h, res.into_body().collect().await.unwrap().to_bytes().to_vec())
}

fn json_req(method: &str, path: &str, token: Option<&str>, body: Value) -> Request<Body> {
    let mut b = Request::builder().method(method).uri(path).header("content-type", "application/json");
    if let Some(t) = token {
        b = b.header("authorization", format!("Bearer {t}"));
    }
    b.body(Body::from(body.to_string())).unwrap()
}

#[tokio::test]
async fn attachments_on_s3_upload_download_ranges_deletion_and_outage() {
    let port = helpdesk_mail::testing::free_port();
    let Some(moto) = common::start_moto(port) else {
        helpdesk_core::testing::skip(
            "attachments_on_s3_upload_download_ranges_deletion_and_outage",
            "HELPDESK_TEST_MOTO is not set: run the tests with scripts/test.sh, which installs moto",
        );
        return;
    };
    let endpoint = format!("http://127.0.0.1:{port}");
    let r = reqwest::Client::new().put(format!("{endpoint}/helpdesk-test")).send().await.unwrap();
    assert!(r.status().is_success(), "create bucket: {}", r.status());

    let dir = tempfile::tempdir().unwrap();
    let mut config = Config {
        data_dir: dir.path().to_path_buf(),
        attachments_url: Some("s3://helpdesk-test/attachments-prefix".into()),
        password_hash: PasswordHashConfig { memory_kib: 64, iterations: 1 },
        bootstrap_admin: Some(AdminConfig {
            email: "admin@example.com".into(),
            password: Some(Secret::new("harbor-lantern-quartz-71")),
            first_name: "Ada".into(),
            last_name: "Admin".into(),
        }),
        ..Config::default()
    };
    config.s3.endpoint = Some(endpoint.clone());
    config.s3.path_style = true;
    config.s3.access_key_id = Some("test".into());
    config.s3.secret_access_key = Some(Secret::new("test"));
    config.s3.timeout_secs = 2;
    config.s3.max_retries = 1;
    let app = helpdesk_http::server::compose(&config).await.unwrap();
    let router = helpdesk_http::router(app.state.clone());
    let (_, _, login) = call(
        &router,
        json_req(
            "POST",
            "/api/v1/auth/login",
            None,
            json!({"email": "admin@example.com", "password": "harbor-lantern-quartz-71"}),
        ),
    )
    .await;
    let token = serde_json::from_slice::<Value>(&login).unwrap()["access_token"].as_str().unwrap().to_owned();
    let (s, _, t) = call(&router, json_req("POST", "/api/v1/tickets", Some(&token),
        json!({"subject": "Scan", "category": "hardware", "sub_category": "printer", "description": "See attached"}))).await;
    assert_eq!(s, StatusCode::CREATED);
    let number = serde_json::from_slice::<Value>(&t).unwrap()["number"].as_str().unwrap().to_owned();
    assert_eq!(call(&router, Request::get("/readyz").body(Body::empty()).unwrap()).await.0, StatusCode::OK);

    let upload = |data: Vec<u8>| {
        let (ct, body) = common::multipart(&[("file", Some("notes.txt"), &data)]);
        Request::post(format!("/api/v1/tickets/{number}/attachments"))
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", ct)
            .body(Body::from(body))
            .unwrap()
    };
    let data: Vec<u8> = (0..200_000u32).map(|i| b"abcdefghij\n"[(i % 11) as usize]).collect();
    let (s, _, body) = call(&router, upload(data.clone())).await;
    assert_eq!(s, StatusCode::CREATED, "{}", String::from_utf8_lossy(&body));
    let id = serde_json::from_slice::<Value>(&body).unwrap()[0]["id"].as_str().unwrap().to_owned();
    let get = |range: Option<&str>| {
        let mut b =
            Request::get(format!("/api/v1/attachments/{id}")).header("authorization", format!("Bearer {token}"));
        if let Some(r) = range {
            b = b.header("range", r);
        }
        b.body(Body::empty()).unwrap()
    };
    let (s, _, body) = call(&router, get(None)).await;
    assert_eq!((s, body.len()), (StatusCode::OK, data.len()));
    assert_eq!(body, data);
    let (s, h, body) = call(&router, get(Some("bytes=100000-100009"))).await;
    assert_eq!((s, body.as_slice()), (StatusCode::PARTIAL_CONTENT, &data[100_000..100_010]));
    assert_eq!(h["content-range"], format!("bytes 100000-100009/{}", data.len()));

    // The object is really in the bucket, under the prefix and a server-generated key.
    let blobs = app.state.desk().blobs().clone();
    let listed: Vec<_> = futures::StreamExt::collect::<Vec<_>>(blobs.list(None)).await;
    let keys: Vec<String> = listed.into_iter().map(|m| m.unwrap().location.to_string()).collect();
    assert!(keys.iter().any(|k| k.starts_with("attachments/") && k.ends_with(&id)), "{keys:?}");
    // A deleted object is a 404, not a hang or a 500.
    let key = keys.iter().find(|k| k.ends_with(&id)).unwrap().clone();
    blobs.delete(&object_store::path::Path::from(key)).await.unwrap();
    assert_eq!(call(&router, get(None)).await.0, StatusCode::NOT_FOUND);

    // Outage: quick 503 with Retry-After, and nothing half-stored.
    drop(moto);
    let started = Instant::now();
    let (s, h, _) = call(&router, upload(b"during the outage".to_vec())).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    assert!(h.contains_key("retry-after"));
    assert!(started.elapsed() < Duration::from_secs(10), "answered in {:?}", started.elapsed());
    let (s, _, _) = call(&router, Request::get("/readyz").body(Body::empty()).unwrap()).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    let (s, _, list) = call(
        &router,
        Request::get(format!("/api/v1/tickets/{number}/attachments"))
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!((s, serde_json::from_slice::<Value>(&list).unwrap().as_array().unwrap().len()), (StatusCode::OK, 1));
}
