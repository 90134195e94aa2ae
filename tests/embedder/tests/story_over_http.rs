//! The README's story over HTTP, against the help desk nested under `/helpdesk` in this
//! application and served on a real socket: the application's own route still answers, the
//! OpenAPI document names where the API is mounted, `/metrics` is not exposed by default, and
//! throttling sees each client's own address.

use serde_json::{Value, json};

const ADMIN_PW: &str = "harbor-lantern-quartz-71";
const PW: &str = "gravel-tundra-piano-15";

struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    async fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
        let url = format!("{}{path}", self.base);
        let mut rb = self.http.request(method.parse().unwrap(), url);
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let r = rb.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn sign_in(&self, email: &str, password: &str) -> String {
        let (s, body) = self
            .call("POST", "/helpdesk/api/v1/auth/login", None, Some(json!({"email": email, "password": password})))
            .await;
        assert_eq!(s, 200, "{body}");
        body["access_token"].as_str().unwrap().to_owned()
    }
}

#[tokio::test]
async fn the_story_runs_over_http_with_the_router_nested_under_helpdesk() {
    let dir = std::env::temp_dir().join(format!("helpdesk-embedder-{}", std::process::id()));
    let desk = helpdesk_storage_sled::help_desk(&dir).unwrap().build().unwrap();
    desk.ensure_admin(helpdesk_core::BootstrapAdmin::new("admin@example.com", ADMIN_PW, "Ada", "Admin")).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = helpdesk_embedder::app(desk, &base, b"an-embedder-test-secret-of-32-bytes");
    let server = tokio::spawn(helpdesk_embedder::serve(listener, app));
    let c = Client { http: reqwest::Client::new(), base };

    // The application's own route, and the help desk's surface where it is mounted.
    let own = c.http.get(format!("{}/", c.base)).send().await.unwrap().text().await.unwrap();
    assert_eq!(own, "the application's own page");
    let (s, doc) = c.call("GET", "/helpdesk/api/v1/openapi.json", None, None).await;
    assert_eq!(s, 200);
    assert_eq!(doc["servers"][0]["url"], "/helpdesk/api/v1", "the document names where the API is mounted");
    assert_eq!(c.call("GET", "/helpdesk/healthz", None, None).await.0, 200);
    assert_eq!(c.call("GET", "/helpdesk/metrics", None, None).await.0, 404, "no metrics unless the application asks");

    // Register two people, approve them, make one a coordinator.
    let admin = c.sign_in("admin@example.com", ADMIN_PW).await;
    let mut ids = Vec::new();
    for (email, company_id) in [("dominic@example.com", "MA0004"), ("cora@example.com", "MA0005")] {
        let body = json!({"email": email, "password": PW, "first_name": "Dana", "last_name": "Reyes", "company_id": company_id, "department": "it"});
        let (s, user) = c.call("POST", "/helpdesk/api/v1/auth/register", None, Some(body)).await;
        assert_eq!(s, 201, "{user}");
        let id = user["id"].as_str().unwrap().to_owned();
        let (s, _) = c.call("POST", &format!("/helpdesk/api/v1/users/{id}/approve"), Some(&admin), None).await;
        assert_eq!(s, 200);
        ids.push(id);
    }
    let (s, _) = c
        .call(
            "PATCH",
            &format!("/helpdesk/api/v1/users/{}/role", ids[1]),
            Some(&admin),
            Some(json!({"role": "coordinator"})),
        )
        .await;
    assert_eq!(s, 200);
    let dominic = c.sign_in("dominic@example.com", PW).await;
    let cora = c.sign_in("cora@example.com", PW).await;

    // File, triage, claim, resolve, close; the history tells it.
    let body = json!({"subject": "VPN drops every hour", "category": "network", "sub_category": "vpn", "description": "Since Monday."});
    let (s, t) = c.call("POST", "/helpdesk/api/v1/tickets", Some(&dominic), Some(body)).await;
    assert_eq!(s, 201, "{t}");
    let n = t["number"].as_str().unwrap().to_owned();
    for (action, body) in [
        ("approve", json!({"priority": "high", "department": "it"})),
        ("claim", json!({})),
        ("resolve", json!({"note": "New VPN profile pushed."})),
    ] {
        let (s, t) = c.call("POST", &format!("/helpdesk/api/v1/tickets/{n}/{action}"), Some(&cora), Some(body)).await;
        assert_eq!(s, 200, "{action}: {t}");
    }
    let (s, t) = c.call("POST", &format!("/helpdesk/api/v1/tickets/{n}/close"), Some(&dominic), Some(json!({}))).await;
    assert_eq!((s, t["status"].as_str()), (200, Some("closed")), "{t}");
    let (s, history) = c.call("GET", &format!("/helpdesk/api/v1/tickets/{n}/history"), Some(&dominic), None).await;
    assert_eq!(s, 200);
    let statuses: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["changes"].as_array())
        .flatten()
        .filter(|c| c["field"] == "status")
        .filter_map(|c| c["new"].as_str())
        .collect();
    assert_eq!(statuses, ["new", "open", "in_progress", "resolved", "closed"], "{history}");

    server.abort();
    let _ = std::fs::remove_dir_all(dir);
}
