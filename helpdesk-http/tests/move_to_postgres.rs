//! The move from the embedded default to production storage, step by step as the README gives
//! it, with the `helpdesk` binary: a server on sled with attachments on local disk takes
//! tickets, files and comments; it stops; `helpdesk export --attachments`; `helpdesk migrate`
//! and `helpdesk import` with a configuration naming PostgreSQL and an S3 bucket; a server on
//! the new configuration serves the same tickets (history, comments, attachments from S3),
//! the same sign-ins, and numbers new tickets after the old ones. Runs against the throwaway
//! cluster and moto that `scripts/test.sh` provides; skips loudly without them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use serde_json::{Value, json};

use common::{CLI_ADMIN as ADMIN, CLI_PASSWORD as PASSWORD, cli as helpdesk, run_cli as run, serve_cli as serve};

async fn get(client: &reqwest::Client, url: String, token: &str) -> Value {
    let r = client.get(&url).bearer_auth(token).send().await.unwrap();
    assert_eq!(r.status(), 200, "{url}");
    r.json().await.unwrap()
}

/// What a client sees of every ticket: the ticket, its history, comments and attachments
/// with their bytes.
async fn everything(client: &reqwest::Client, root: &str, token: &str) -> Vec<Value> {
    let api = format!("{root}/api/v1");
    let list = get(client, format!("{api}/tickets?limit=100&sort=number"), token).await;
    let mut out = Vec::new();
    for t in list["items"].as_array().unwrap() {
        let n = t["number"].as_str().unwrap();
        let mut files = Vec::new();
        for a in get(client, format!("{api}/tickets/{n}/attachments"), token).await.as_array().unwrap() {
            let url = format!("{api}/attachments/{}", a["id"].as_str().unwrap());
            let r = client.get(&url).bearer_auth(token).send().await.unwrap();
            assert_eq!(r.status(), 200, "{n}: {url}");
            files.push(json!({"meta": a, "bytes": r.text().await.unwrap()}));
        }
        out.push(json!({
            "ticket": t,
            "history": get(client, format!("{api}/tickets/{n}/history"), token).await,
            "comments": get(client, format!("{api}/tickets/{n}/comments"), token).await,
            "files": files,
        }));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sled_and_local_files_move_to_postgres_and_s3() {
    let test = "sled_and_local_files_move_to_postgres_and_s3";
    if let Some(why) = common::pg_missing() {
        helpdesk_core::testing::skip(test, &why);
        return;
    }
    let port = helpdesk_mail::testing::free_port();
    let Some(_moto) = common::start_moto(port) else {
        helpdesk_core::testing::skip(test, "HELPDESK_TEST_MOTO is not set: run the tests with scripts/test.sh");
        return;
    };
    let client = reqwest::Client::new();
    let s3 = format!("http://127.0.0.1:{port}");
    assert!(client.put(format!("{s3}/helpdesk")).send().await.unwrap().status().is_success());
    let dir = tempfile::tempdir().unwrap();
    let (old, new, file) = (dir.path().join("old"), dir.path().join("new"), dir.path().join("helpdesk.tar.gz"));
    let sled_env: Vec<(String, String)> = Vec::new();

    // Before: the embedded default, with tickets, files and comments.
    let (mut server, root) = serve(&old, &sled_env);
    common::wait_ready(&root).await;
    let api = format!("{root}/api/v1");
    let token = common::sign_in(&client, &api, ADMIN, PASSWORD).await;
    for i in 0..6 {
        let body = json!({"subject": format!("Printer {i} jams"), "category": "hardware", "sub_category": "laptop", "description": "Paper everywhere."});
        let r: Value = client
            .post(format!("{api}/tickets"))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let n = r["number"].as_str().unwrap().to_owned();
        let r = client
            .post(format!("{api}/tickets/{n}/comments"))
            .bearer_auth(&token)
            .json(&json!({"body": format!("Looking at {n}"), "internal": i % 2 == 0}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let part = reqwest::multipart::Part::bytes(format!("notes of {n}\n").into_bytes())
            .file_name("notes.txt")
            .mime_str("text/plain")
            .unwrap();
        let r = client
            .post(format!("{api}/tickets/{n}/attachments"))
            .bearer_auth(&token)
            .multipart(reqwest::multipart::Form::new().part("file", part))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    let before = everything(&client, &root, &token).await;
    assert_eq!(before.len(), 6);

    // 1. Stop the server. 2. Export with the attachments.
    server.kill().unwrap();
    server.wait().unwrap();
    let out = run(&old, &sled_env, &["export", "--attachments", "--to", file.to_str().unwrap()]);
    assert!(out.contains("tickets.ndjson") && out.contains("blobs.ndjson"), "{out}");
    run(&old, &sled_env, &["import", "--check", "--from", file.to_str().unwrap()]);

    // 3. The new configuration: PostgreSQL and S3. 4. migrate, then import.
    let new_env: Vec<(String, String)> = [
        ("HELPDESK_STORAGE_URL", common::fresh_database().await),
        ("HELPDESK_ATTACHMENTS_URL", "s3://helpdesk/attachments".to_owned()),
        ("HELPDESK_S3__ENDPOINT", s3.clone()),
        ("HELPDESK_S3__REGION", "us-east-1".to_owned()),
        ("HELPDESK_S3__ACCESS_KEY_ID", "test".to_owned()),
        ("HELPDESK_S3__SECRET_ACCESS_KEY", "test".to_owned()),
        ("HELPDESK_S3__PATH_STYLE", "true".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    run(&new, &new_env, &["migrate"]);
    let out = run(&new, &new_env, &["import", "--from", file.to_str().unwrap()]);
    assert!(out.contains("imported"), "{out}");
    let again = helpdesk(&new, &new_env).args(["import", "--from", file.to_str().unwrap()]).output().unwrap();
    assert!(!again.status.success() && String::from_utf8_lossy(&again.stderr).contains("not empty"));
    let listed = client.get(format!("{s3}/helpdesk?list-type=2")).send().await.unwrap().text().await.unwrap();
    assert_eq!(listed.matches("<Key>attachments/").count(), 6, "{listed}");

    // 5. Start on the new configuration: the same tickets, sign-ins and files; numbers go on.
    let (mut server, root) = serve(&new, &new_env);
    common::wait_ready(&root).await;
    let api = format!("{root}/api/v1");
    let token = common::sign_in(&client, &api, ADMIN, PASSWORD).await;
    assert_eq!(everything(&client, &root, &token).await, before);
    let body = json!({"subject": "After the move", "category": "hardware", "sub_category": "laptop", "description": "On PostgreSQL."});
    let r: Value = client
        .post(format!("{api}/tickets"))
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let next = r["number"].as_str().unwrap();
    assert!(before.iter().all(|t| t["ticket"]["number"].as_str().unwrap() < next), "{next} reused a number");
    server.kill().unwrap();
    server.wait().unwrap();
}
