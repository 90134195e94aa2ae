//! `helpdesk backup` while the server runs and files tickets under load (the running server
//! writes the store through its control socket), then `helpdesk restore` into a new data
//! directory, and a server on the restored directory: every restored ticket has its whole
//! history, every attachment downloads, numbering goes on after the highest one.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Value, json};

use common::{CLI_ADMIN as ADMIN, CLI_PASSWORD as PASSWORD};

fn helpdesk(data: &Path) -> std::process::Command {
    common::cli(data, &[])
}

fn run(data: &Path, args: &[&str]) -> String {
    common::run_cli(data, &[], args)
}

fn serve(data: &Path) -> (std::process::Child, String) {
    common::serve_cli(data, &[])
}

async fn sign_in(root: &str) -> String {
    common::sign_in(&reqwest::Client::new(), &format!("{root}/api/v1"), ADMIN, PASSWORD).await
}

async fn get_json(client: &reqwest::Client, url: String, token: &str) -> Value {
    client.get(url).bearer_auth(token).send().await.unwrap().json().await.unwrap()
}

async fn file_ticket(client: &reqwest::Client, root: &str, token: &str, with_file: bool) -> String {
    let body = json!({"subject": "Printer jam", "category": "hardware", "sub_category": "laptop", "description": "Paper everywhere."});
    let r = client.post(format!("{root}/api/v1/tickets")).bearer_auth(token).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let number = r.json::<Value>().await.unwrap()["number"].as_str().unwrap().to_owned();
    if with_file {
        let part = reqwest::multipart::Part::bytes(format!("notes of {number}\n").into_bytes())
            .file_name("notes.txt")
            .mime_str("text/plain")
            .unwrap();
        let form = reqwest::multipart::Form::new().part("file", part);
        let r = client
            .post(format!("{root}/api/v1/tickets/{number}/attachments"))
            .bearer_auth(token)
            .multipart(form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    number
}

async fn all_tickets(client: &reqwest::Client, root: &str, token: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{root}/api/v1/tickets?limit=100");
        if let Some(c) = &cursor {
            url += &format!("&cursor={c}");
        }
        let page = get_json(client, url, token).await;
        out.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return out,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn backup_under_load_then_restore_into_a_new_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let (live, backup, restored) = (dir.path().join("live"), dir.path().join("backup"), dir.path().join("restored"));
    let (mut server, root) = serve(&live);
    common::wait_ready(&root).await;
    let token = sign_in(&root).await;
    let client = reqwest::Client::new();
    for i in 0..20 {
        file_ticket(&client, &root, &token, i % 2 == 0).await;
    }

    // Two clients keep filing tickets (half with an attachment) while the backup runs.
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..2 {
        let (client, root, token, stop) = (client.clone(), root.clone(), token.clone(), stop.clone());
        writers.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                file_ticket(&client, &root, &token, (n + w) % 2 == 0).await;
                n += 1;
            }
            n
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let out = tokio::task::spawn_blocking({
        let (live, backup) = (live.clone(), backup.clone());
        move || run(&live, &["backup", "--to", backup.to_str().unwrap()])
    })
    .await
    .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        assert!(w.await.unwrap() > 0, "a writer filed nothing");
    }
    assert!(out.contains("written by the running server"), "{out}");
    let live_count = all_tickets(&client, &root, &token).await.len();
    server.kill().unwrap();
    server.wait().unwrap();
    let manifest: Value = serde_json::from_slice(&std::fs::read(backup.join("backup.json")).unwrap()).unwrap();
    let cut = manifest["store"]["tickets"].as_u64().unwrap() as usize;
    assert!(cut >= 20 && cut < live_count, "{manifest} of {live_count}");

    // A second backup into the same directory is refused; restore needs an empty target.
    let refused = helpdesk(&live).args(["backup", "--to", backup.to_str().unwrap()]).output().unwrap();
    assert!(!refused.status.success() && String::from_utf8_lossy(&refused.stderr).contains("not empty"));
    let out = run(&restored, &["restore", "--from", backup.to_str().unwrap()]);
    assert!(out.contains("consistency checked"), "{out}");
    let refused = helpdesk(&restored).args(["restore", "--from", backup.to_str().unwrap()]).output().unwrap();
    assert!(!refused.status.success(), "a restore over a store in use must be refused");

    let (mut server, root) = serve(&restored);
    common::wait_ready(&root).await;
    let token = sign_in(&root).await;
    let tickets = all_tickets(&client, &root, &token).await;
    assert_eq!(tickets.len(), cut);
    let mut files = 0;
    for t in &tickets {
        let number = t["number"].as_str().unwrap();
        let history = get_json(&client, format!("{root}/api/v1/tickets/{number}/history"), &token).await;
        // Filed, then an attachment (which is not a lifecycle change): one event per version.
        let events = history.as_array().unwrap_or_else(|| panic!("{number}: {history}"));
        assert_eq!(events.len() as u64, t["version"].as_u64().unwrap(), "{number}: history {history} for {t}");
        let listed = get_json(&client, format!("{root}/api/v1/tickets/{number}/attachments"), &token).await;
        for a in listed.as_array().unwrap_or_else(|| panic!("{number}: {listed}")) {
            let r = client
                .get(format!("{root}/api/v1/attachments/{}", a["id"].as_str().unwrap()))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "{number}: an attachment of the cut is missing");
            assert_eq!(r.text().await.unwrap(), format!("notes of {number}\n"));
            files += 1;
        }
    }
    assert!(files >= 10, "{files} attachments");
    let next = file_ticket(&client, &root, &token, false).await;
    assert!(tickets.iter().all(|t| t["number"].as_str().unwrap() < next.as_str()), "number {next} reused");
    server.kill().unwrap();
    server.wait().unwrap();
}
