//! Property-driven fuzzing of what the HTTP layer parses from clients (#15): the JSON body of
//! every write route the OpenAPI document lists, and the multipart reader of uploads. Any
//! input gets an answer below 500 in problem details when it is an error — never a panic, a
//! 500, or a hung request. `PROPTEST_CASES` cases per target (256 by default, as in CI).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::body::Body;
use axum::http::{Method, Request};
use common::TestApp;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256)
}

/// Any JSON value, a few levels deep, with the strings attackers like.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| json!(f)),
        ".{0,30}".prop_map(Value::String),
        prop::sample::select(vec![
            "",
            " ",
            "\u{0}",
            "a\u{0}b",
            "' OR 1=1 --",
            "<script>",
            "..\\..",
            "%00",
            "\u{202e}x"
        ])
        .prop_map(|s| Value::String(s.to_owned())),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map(
                prop::sample::select(vec![
                    "subject",
                    "description",
                    "category",
                    "sub_category",
                    "priority",
                    "department",
                    "note",
                    "reason",
                    "comment",
                    "assignee",
                    "body",
                    "internal",
                    "email",
                    "password",
                    "name",
                    "scopes",
                    "status",
                    "role",
                    "first_name",
                    "last_name",
                    "ids",
                    "token",
                    "x",
                ])
                .prop_map(str::to_owned),
                inner,
                0..6,
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// The write operations with a JSON body, from the served document, paths filled in.
async fn write_routes(app: &TestApp, number: &str, user: &str) -> Vec<(Method, String)> {
    let doc = app.call(Method::GET, "/api/v1/openapi.json", None, None).await.body;
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let json_body = op["requestBody"]["content"].get("application/json").is_some();
            if !json_body || path.contains("logout") || path.contains("password/change") {
                continue;
            }
            let path = path.replace("{number}", number).replace("{id}", user);
            out.push((method.to_uppercase().parse().unwrap(), format!("/api/v1{path}")));
        }
    }
    assert!(out.len() > 20, "only {} write routes found", out.len());
    out
}

#[test]
fn json_bodies_of_every_write_route_never_give_a_server_error() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (app, routes) = rt.block_on(async {
        let app = TestApp::new().await;
        let (user, emp) = app.user(1, "employee").await;
        let number = app.ticket(&emp, "Fuzzed").await;
        let routes = write_routes(&app, &number, &user).await;
        (app, routes)
    });
    let mut runner = TestRunner::new(Config { cases: cases(), failure_persistence: None, ..Config::default() });
    let strategy = (
        0..routes.len(),
        prop_oneof![
            json_value().prop_map(|v| v.to_string().into_bytes()),
            proptest::collection::vec(any::<u8>(), 0..200)
        ],
    );
    runner
        .run(&strategy, |(i, body)| {
            let (method, path) = &routes[i];
            let r = rt.block_on(async {
                let req = Request::builder()
                    .method(method.clone())
                    .uri(path.as_str())
                    .header("authorization", format!("Bearer {}", app.admin))
                    .header("content-type", "application/json")
                    .body(Body::from(body.clone()))
                    .unwrap();
                app.send(req).await
            });
            prop_assert!(
                r.status.as_u16() < 500,
                "{method} {path} {:?} -> {} {:?}",
                String::from_utf8_lossy(&body),
                r.status,
                r.body
            );
            if r.status.as_u16() >= 400 {
                prop_assert!(r.body["code"].is_string(), "{method} {path}: {} without problem details", r.status);
            }
            Ok(())
        })
        .unwrap();
}

/// A multipart part: a name, maybe a file name and type, and bytes.
fn part() -> impl Strategy<Value = (String, Option<String>, Option<String>, Vec<u8>)> {
    (
        prop::sample::select(vec!["file", "comment", "x", ""]).prop_map(str::to_owned),
        proptest::option::of(".{0,20}"),
        proptest::option::of(
            prop::sample::select(vec!["image/png", "text/plain", "text/html", "application/octet-stream", "x"])
                .prop_map(str::to_owned),
        ),
        proptest::collection::vec(any::<u8>(), 0..300),
    )
}

#[test]
fn the_multipart_reader_takes_any_upload() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (app, path, emp) = rt.block_on(async {
        let app = TestApp::new().await;
        let (_, emp) = app.user(1, "employee").await;
        let number = app.ticket(&emp, "Fuzzed uploads").await;
        (app, format!("/api/v1/tickets/{number}/attachments"), emp)
    });
    let mut runner = TestRunner::new(Config { cases: cases(), failure_persistence: None, ..Config::default() });
    let strategy = (
        proptest::collection::vec(part(), 0..4),
        any::<bool>(),
        proptest::collection::vec(any::<u8>(), 0..100),
        prop::sample::select(vec!["XyZ", "", "a b", "--"]),
    );
    runner
        .run(&strategy, |(parts, well_formed, garbage, boundary)| {
            let mut body = Vec::new();
            if well_formed {
                for (name, file_name, content_type, bytes) in &parts {
                    body.extend_from_slice(
                        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"").as_bytes(),
                    );
                    if let Some(f) = file_name {
                        body.extend_from_slice(format!("; filename=\"{f}\"").as_bytes());
                    }
                    body.extend_from_slice(b"\r\n");
                    if let Some(t) = content_type {
                        body.extend_from_slice(format!("Content-Type: {t}\r\n").as_bytes());
                    }
                    body.extend_from_slice(b"\r\n");
                    body.extend_from_slice(bytes);
                    body.extend_from_slice(b"\r\n");
                }
                body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
            } else {
                body.extend_from_slice(&garbage);
            }
            let r = rt.block_on(async {
                let req = Request::builder()
                    .method(Method::POST)
                    .uri(path.as_str())
                    .header("authorization", format!("Bearer {emp}"))
                    .header("content-type", format!("multipart/form-data; boundary={boundary}"))
                    .body(Body::from(body.clone()))
                    .unwrap();
                app.send(req).await
            });
            prop_assert!(r.status.as_u16() < 500, "{} {:?}", r.status, r.body);
            if r.status.as_u16() >= 400 {
                prop_assert!(r.body["code"].is_string(), "{} without problem details", r.status);
            }
            Ok(())
        })
        .unwrap();
}
