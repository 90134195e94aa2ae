//! The web pages through the router (`oneshot`): cookie sessions on core's sessions, CSRF and
//! origin checks on every form, escaping, the page CSP, the hashed stylesheet, and error pages
//! for page routes while the API keeps its problem details.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use common::{PASSWORD, TestApp};
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;

struct Page {
    status: StatusCode,
    headers: HeaderMap,
    html: String,
}

async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    cookie: Option<&str>,
    form: Option<&str>,
    extra: &[(&str, &str)],
) -> Page {
    let mut b = Request::builder().method(method).uri(path);
    if let Some(c) = cookie {
        b = b.header(header::COOKIE, c);
    }
    if form.is_some() {
        b = b.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    }
    for (k, v) in extra {
        b = b.header(*k, *v);
    }
    let res = app
        .router
        .clone()
        .oneshot(b.body(form.map_or_else(Body::empty, |f| Body::from(f.to_owned()))).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let html = String::from_utf8_lossy(&res.into_body().collect().await.unwrap().to_bytes()).into_owned();
    Page { status, headers, html }
}

/// A `multipart/form-data` POST from the help desk's own pages.
async fn send_multipart(app: &TestApp, path: &str, cookie: &str, parts: &[(&str, Option<&str>, &[u8])]) -> Page {
    let (ct, body) = common::multipart(parts);
    let req = Request::post(path)
        .header(header::COOKIE, cookie)
        .header(header::CONTENT_TYPE, ct)
        .header("sec-fetch-site", "same-origin")
        .body(Body::from(body))
        .unwrap();
    let res = app.router.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let html = String::from_utf8_lossy(&res.into_body().collect().await.unwrap().to_bytes()).into_owned();
    Page { status, headers, html }
}

fn form_encode(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            let enc: String = v
                .bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                        (b as char).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect();
            format!("{k}={enc}")
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// A form POST from the help desk's own pages (same origin) with `fields`, signed in as `cookie`.
async fn post_form(app: &TestApp, path: &str, cookie: &str, fields: &[(&str, &str)]) -> Page {
    send(app, Method::POST, path, Some(cookie), Some(&form_encode(fields)), &[("sec-fetch-site", "same-origin")]).await
}

/// Signs in through the page; the `Cookie` header value.
async fn sign_in(app: &TestApp, email: &str) -> String {
    let p = send(
        app,
        Method::POST,
        "/sign-in",
        None,
        Some(&form_encode(&[("email", email), ("password", PASSWORD), ("next", "/")])),
        &[("sec-fetch-site", "same-origin")],
    )
    .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.html);
    let set = p.headers.get(header::SET_COOKIE).unwrap().to_str().unwrap().to_owned();
    assert!(set.contains("HttpOnly") && set.contains("SameSite=Lax") && set.contains("Path=/"), "{set}");
    set.split(';').next().unwrap().to_owned()
}

fn csrf_of(html: &str) -> String {
    let i = html.find("name=\"csrf\" value=\"").unwrap() + "name=\"csrf\" value=\"".len();
    html[i..i + 64].to_owned()
}

#[tokio::test]
async fn an_employee_signs_in_sees_their_tickets_and_signs_out() {
    let app = TestApp::new().await;
    let (_, token) = app.user(1, "employee").await;
    app.ticket(&token, "<script>alert(1)</script> printer").await;

    // Not signed in: to the sign-in page, and back afterwards.
    let p = send(&app, Method::GET, "/", None, None, &[]).await;
    assert_eq!(
        (p.status, p.headers.get(header::LOCATION).unwrap().to_str().unwrap()),
        (StatusCode::SEE_OTHER, "/sign-in")
    );
    let p = send(&app, Method::GET, "/password?x=1", None, None, &[]).await;
    assert_eq!(p.headers.get(header::LOCATION).unwrap(), "/sign-in?next=/password%3Fx%3D1");

    let p = send(&app, Method::GET, "/sign-in", None, None, &[]).await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(
        p.headers
            .get(header::CONTENT_SECURITY_POLICY)
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("default-src 'self'; script-src 'self'")
    );
    assert_eq!(
        p.html.matches("<script").count(),
        p.html.matches("<script src=\"/static/app.").count(),
        "no inline script on the pages: only the hashed enhancing file"
    );
    let css = p.html.split("rel=\"stylesheet\" href=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    assert!(css.starts_with("/static/app.") && css.ends_with(".css"), "{css}");
    let s = send(&app, Method::GET, &css, None, None, &[]).await;
    assert_eq!(s.status, StatusCode::OK);
    assert!(s.headers.get(header::CACHE_CONTROL).unwrap().to_str().unwrap().contains("immutable"));
    assert_eq!(send(&app, Method::GET, "/static/app.0000.css", None, None, &[]).await.status, StatusCode::NOT_FOUND);

    // A wrong password: the form again, with the email kept (escaped) and the reason.
    let p = send(
        &app,
        Method::POST,
        "/sign-in",
        None,
        Some(&form_encode(&[("email", "user1@example.com\"><b>"), ("password", "nope")])),
        &[("sec-fetch-site", "same-origin")],
    )
    .await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.html.contains("Wrong email or password."));
    assert!(
        p.html.contains("user1@example.com&#34;&#62;&#60;b&#62;")
            || p.html.contains("user1@example.com&quot;&gt;&lt;b&gt;"),
        "{}",
        p.html
    );

    let cookie = sign_in(&app, "user1@example.com").await;
    let p = send(&app, Method::GET, "/", Some(&cookie), None, &[]).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.html);
    assert!(
        p.html.contains("&#60;script&#62;alert(1)&#60;/script&#62; printer")
            || p.html.contains("&lt;script&gt;alert(1)&lt;/script&gt; printer"),
        "{}",
        p.html
    );
    assert!(p.html.contains("Waiting for review"));
    let csrf = csrf_of(&p.html);

    // Sign-out needs the session's form token and the help desk's own origin.
    let out = |token: String, site: &'static str| {
        let (app, cookie) = (&app, cookie.clone());
        async move {
            send(
                app,
                Method::POST,
                "/sign-out",
                Some(&cookie),
                Some(&form_encode(&[("csrf", &token)])),
                &[("sec-fetch-site", site)],
            )
            .await
        }
    };
    assert_eq!(out(String::new(), "same-origin").await.status, StatusCode::FORBIDDEN);
    assert_eq!(out("0".repeat(64), "same-origin").await.status, StatusCode::FORBIDDEN);
    assert_eq!(out(csrf.clone(), "cross-site").await.status, StatusCode::FORBIDDEN);
    let p = out(csrf, "same-origin").await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert!(p.headers.get(header::SET_COOKIE).unwrap().to_str().unwrap().contains("Max-Age=0"));
    // The session ended in storage: the old cookie no longer works.
    assert_eq!(send(&app, Method::GET, "/", Some(&cookie), None, &[]).await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn forged_cookies_other_sites_and_open_redirects_are_refused() {
    let app = TestApp::new().await;
    app.user(2, "employee").await;
    let cookie = sign_in(&app, "user2@example.com").await;
    let (name, value) = cookie.split_once('=').unwrap();
    let (sid, _) = value.split_once('.').unwrap();
    let forged = format!("{name}={sid}.{}", "a".repeat(64));
    assert_eq!(send(&app, Method::GET, "/", Some(&forged), None, &[]).await.status, StatusCode::SEE_OTHER);

    let login = form_encode(&[("email", "user2@example.com"), ("password", PASSWORD), ("next", "//evil.example/x")]);
    let p = send(&app, Method::POST, "/sign-in", None, Some(&login), &[("origin", "https://evil.example")]).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN, "a sign-in form posted from another site");
    let p = send(&app, Method::POST, "/sign-in", None, Some(&login), &[("origin", "http://test")]).await;
    assert_eq!(
        (p.status, p.headers.get(header::LOCATION).unwrap().to_str().unwrap()),
        (StatusCode::SEE_OTHER, "/"),
        "never to another site"
    );
}

#[tokio::test]
async fn unknown_pages_get_a_page_and_the_api_keeps_problem_details() {
    let app = TestApp::new().await;
    let p = send(&app, Method::GET, "/no/such/page", None, None, &[]).await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);
    assert!(p.headers.get(header::CONTENT_TYPE).unwrap().to_str().unwrap().starts_with("text/html"));
    assert!(p.html.contains("Not found"));
    let p = send(&app, Method::GET, "/api/v1/no/such/route", None, None, &[]).await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);
    assert_eq!(p.headers.get(header::CONTENT_TYPE).unwrap(), "application/problem+json");
}

#[tokio::test]
async fn an_employee_files_a_ticket_once_sees_it_and_never_sees_another_employees() {
    let app = TestApp::new().await;
    app.user(3, "employee").await;
    let (_, other) = app.user(4, "employee").await;
    let others = app.ticket(&other, "Not yours").await;
    let cookie = sign_in(&app, "user3@example.com").await;

    let form = send(&app, Method::GET, "/tickets/new", Some(&cookie), None, &[]).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.html.contains("<optgroup label=\"Network\">") && form.html.contains("value=\"network/vpn\""));
    let csrf = csrf_of(&form.html);
    let key = {
        let i =
            form.html.find("name=\"idempotency_key\" value=\"").unwrap() + "name=\"idempotency_key\" value=\"".len();
        form.html[i..i + 36].to_owned()
    };

    // A missing subject: the form again, input kept, the message next to the field, and
    // the files asked for again (a browser cannot keep them).
    let fields = |subject: &'static str| -> Vec<(&'static str, Option<&'static str>, Vec<u8>)> {
        vec![
            ("idempotency_key", None, key.clone().into_bytes()),
            ("kind", None, b"network/vpn".to_vec()),
            ("subject", None, subject.as_bytes().to_vec()),
            ("description", None, b"Since <Monday>.".to_vec()),
            ("scheduled_date", None, Vec::new()),
            ("files", Some("notes.txt"), b"VPN log excerpt\n".to_vec()),
            ("files", Some("times.csv"), b"when,what\n09:00,drop\n".to_vec()),
        ]
    };
    let post = |parts: Vec<(&'static str, Option<&'static str>, Vec<u8>)>, token: Option<String>| {
        let (app, cookie) = (&app, cookie.clone());
        async move {
            let mut all: Vec<(&str, Option<&str>, &[u8])> = Vec::new();
            if let Some(t) = &token {
                all.push(("csrf", None, t.as_bytes()));
            }
            all.extend(parts.iter().map(|(n, f, d)| (*n, *f, d.as_slice())));
            send_multipart(app, "/tickets/new", &cookie, &all).await
        }
    };
    let p = post(fields(""), Some(csrf.clone())).await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.html.contains("id=\"subject-error\""), "{}", p.html);
    assert!(p.html.contains("id=\"files-again\""), "the files are asked for again");
    assert!(
        p.html.contains("Since &#60;Monday&#62;.") || p.html.contains("Since &lt;Monday&gt;."),
        "input kept, escaped"
    );

    // Filed once with its two files, even when the form is sent twice.
    let first = post(fields("VPN drops"), Some(csrf.clone())).await;
    assert_eq!(first.status, StatusCode::SEE_OTHER, "{}", first.html);
    let to = first.headers.get(header::LOCATION).unwrap().to_str().unwrap().to_owned();
    assert!(to.ends_with("?filed=2"), "{to}");
    let again = post(fields("VPN drops"), Some(csrf.clone())).await;
    let number = to.trim_start_matches("/tickets/").split('?').next().unwrap().to_owned();
    assert!(
        again.headers.get(header::LOCATION).unwrap().to_str().unwrap().starts_with(&format!("/tickets/{number}?")),
        "a double submit files once"
    );
    let p = send(&app, Method::GET, &to, Some(&cookie), None, &[]).await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.html.contains("filed with 2 files.") && p.html.contains("VPN drops"), "{}", p.html);
    assert_eq!(p.html.matches("times.csv").count(), 1, "the replay stored no file");
    assert!(p.html.contains("notes.txt"));
    let list = send(&app, Method::GET, "/tickets", Some(&cookie), None, &[]).await;
    assert_eq!(list.html.matches("VPN drops").count(), 1);

    // Without the form token, nothing is filed.
    assert_eq!(post(fields("forged"), None).await.status, StatusCode::FORBIDDEN);
    let list = send(&app, Method::GET, "/tickets", Some(&cookie), None, &[]).await;
    assert!(!list.html.contains("forged"));

    // Another employee's ticket does not exist for this one.
    let p = send(&app, Method::GET, &format!("/tickets/{others}"), Some(&cookie), None, &[]).await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);
    assert!(!p.html.contains("Not yours"));
}

#[tokio::test]
async fn the_requester_comments_and_closes_or_withdraws_after_confirming() {
    let app = TestApp::new().await;
    let (_, emp) = app.user(5, "employee").await;
    let (_, coord) = app.user(6, "coordinator").await;
    let resolved = app.ticket(&emp, "Monitor flickers").await;
    for (action, body) in [
        ("approve", serde_json::json!({"priority": "low", "department": "it"})),
        ("claim", serde_json::json!({})),
        ("resolve", serde_json::json!({"note": "Cable replaced."})),
    ] {
        let r = app.post(&format!("/api/v1/tickets/{resolved}/{action}"), &coord, body).await;
        assert_eq!(r.status, StatusCode::OK, "{action}: {:?}", r.body);
    }
    let fresh = app.ticket(&emp, "Need a dock").await;
    let cookie = sign_in(&app, "user5@example.com").await;

    // A comment on the page, then it shows in the conversation.
    let page = send(&app, Method::GET, &format!("/tickets/{fresh}"), Some(&cookie), None, &[]).await;
    let csrf = csrf_of(&page.html);
    assert!(page.html.contains("href=\"/tickets/") && page.html.contains("Withdraw"), "{}", page.html);
    let comments = format!("/tickets/{fresh}/comments");
    let empty =
        send_multipart(&app, &comments, &cookie, &[("csrf", None, csrf.as_bytes()), ("body", None, b"  ")]).await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(empty.html.contains("id=\"body-error\""));
    let ok = send_multipart(
        &app,
        &comments,
        &cookie,
        &[
            ("csrf", None, csrf.as_bytes()),
            ("body", None, b"The USB-C kind, please."),
            ("files", Some("dock.txt"), b"Model: any USB-C dock"),
        ],
    )
    .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.html);
    let to = ok.headers.get(header::LOCATION).unwrap().to_str().unwrap().to_owned();
    let page = send(&app, Method::GET, &to, Some(&cookie), None, &[]).await;
    assert!(page.html.contains("Comment added with 1 file.") && page.html.contains("The USB-C kind, please."));
    let comment = page.html.split("<article class=\"comment\">").nth(1).unwrap();
    assert!(comment.contains("dock.txt"), "the file shows with its comment");

    // Withdraw asks first (a page, no script), then does it.
    let confirm = send(&app, Method::GET, &format!("/tickets/{fresh}/withdraw"), Some(&cookie), None, &[]).await;
    assert_eq!(confirm.status, StatusCode::OK);
    assert!(confirm.html.contains("It cannot be undone."));
    let version = {
        let i = confirm.html.find("name=\"version\" value=\"").unwrap() + "name=\"version\" value=\"".len();
        confirm.html[i..].split('"').next().unwrap().to_owned()
    };
    // A stale page: someone changed the ticket meanwhile; nothing is done and the page says so.
    let stale = post_form(
        &app,
        &format!("/tickets/{fresh}/withdraw"),
        &cookie,
        &[("csrf", &csrf), ("version", "1"), ("text", "")],
    )
    .await;
    assert_eq!(stale.headers.get(header::LOCATION).unwrap().to_str().unwrap(), format!("/tickets/{fresh}?stale=1"));
    let done = post_form(
        &app,
        &format!("/tickets/{fresh}/withdraw"),
        &cookie,
        &[("csrf", &csrf), ("version", &version), ("text", "Found one.")],
    )
    .await;
    assert_eq!(
        done.headers.get(header::LOCATION).unwrap().to_str().unwrap(),
        format!("/tickets/{fresh}?done=withdraw")
    );
    let page = send(&app, Method::GET, &format!("/tickets/{fresh}?done=withdraw"), Some(&cookie), None, &[]).await;
    assert!(page.html.contains("Done: withdrawn.") && page.html.contains(">Withdrawn<"), "{}", page.html);

    // Close the resolved one; reopen was offered too.
    let page = send(&app, Method::GET, &format!("/tickets/{resolved}"), Some(&cookie), None, &[]).await;
    assert!(page.html.contains("Reopen") && page.html.contains("Close the ticket"));
    assert!(page.html.contains("<dt>Assigned to</dt><dd>Test User6</dd>"), "the assignee is named");
    assert!(page.html.contains("<dt>Resolved</dt>"));
    let confirm = send(&app, Method::GET, &format!("/tickets/{resolved}/close"), Some(&cookie), None, &[]).await;
    let version = {
        let i = confirm.html.find("name=\"version\" value=\"").unwrap() + "name=\"version\" value=\"".len();
        confirm.html[i..].split('"').next().unwrap().to_owned()
    };
    let done = post_form(
        &app,
        &format!("/tickets/{resolved}/close"),
        &cookie,
        &[("csrf", &csrf), ("version", &version), ("text", "")],
    )
    .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    let r = app.get(&format!("/api/v1/tickets/{resolved}"), &emp).await;
    assert_eq!(r.body["status"], "closed");
    // Nothing to confirm any more: back to the ticket.
    let gone = send(&app, Method::GET, &format!("/tickets/{resolved}/reopen"), Some(&cookie), None, &[]).await;
    assert_eq!(gone.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn register_then_approved_and_a_forgotten_password_reset_through_the_pages() {
    let app = TestApp::new().await;
    let same = [("sec-fetch-site", "same-origin")];
    let form = send(&app, Method::GET, "/register", None, None, &[]).await;
    assert_eq!(form.status, StatusCode::OK);
    for f in [
        "first_name",
        "middle_name",
        "last_name",
        "suffix",
        "company_id",
        "department",
        "email",
        "password",
        "confirm_password",
    ] {
        assert!(form.html.contains(&format!("for=\"{f}\"")), "{f} has a label");
    }
    let register = |company_id: &'static str, password: &'static str| {
        let app = &app;
        async move {
            let parts: Vec<(&str, Option<&str>, &[u8])> = vec![
                ("first_name", None, b"Nadia"),
                ("middle_name", None, b""),
                ("last_name", None, b"Okafor"),
                ("suffix", None, b"Jr."),
                ("company_id", None, company_id.as_bytes()),
                ("department", None, b"asset"),
                ("email", None, b"nadia@example.com"),
                ("password", None, password.as_bytes()),
                ("confirm_password", None, password.as_bytes()),
                ("avatar", Some(""), b""),
            ];
            send_multipart(app, "/register", "", &parts).await
        }
    };
    // A bad company id and a common password: both named, input kept.
    let p = register("42", "password1234").await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.html.contains("id=\"company_id-error\"") && p.html.contains("id=\"password-error\""), "{}", p.html);
    assert!(p.html.contains("value=\"Nadia\""));
    let p = register("MA0777", "copper-lantern-meadow-19").await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.html.contains("Registration received"));
    // Pending: signing in says why, once the password was right.
    let p = send(
        &app,
        Method::POST,
        "/sign-in",
        None,
        Some(&form_encode(&[("email", "nadia@example.com"), ("password", "copper-lantern-meadow-19")])),
        &same,
    )
    .await;
    assert!(p.html.contains("waiting for an administrator"), "{}", p.html);
    let users = app.get("/api/v1/users?status=pending", &app.admin).await;
    let id = users.body["items"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        app.post(&format!("/api/v1/users/{id}/approve"), &app.admin, serde_json::json!({})).await.status,
        StatusCode::OK
    );

    // Forgot: the same answer for an unknown address; the mailed token resets the password.
    for email in ["nobody@example.com", "nadia@example.com"] {
        let p =
            send(&app, Method::POST, "/forgot-password", None, Some(&form_encode(&[("email", email)])), &same).await;
        assert!(p.html.contains("Check your mail"), "{email}");
    }
    let page = send(&app, Method::GET, "/reset-password", None, None, &[]).await;
    assert!(page.html.contains("<script src=\"/static/app.") && page.html.contains("paste here"));
    let script = page.html.split("<script src=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    assert_eq!(send(&app, Method::GET, &script, None, None, &[]).await.status, StatusCode::OK);
    let token = app.mailed_token("nadia@example.com").unwrap();
    let bad = send(
        &app,
        Method::POST,
        "/reset-password",
        None,
        Some(&form_encode(&[
            ("token", "not-a-token"),
            ("new_password", "granite-willow-harbor-88"),
            ("confirm_password", "granite-willow-harbor-88"),
        ])),
        &same,
    )
    .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let ok = send(
        &app,
        Method::POST,
        "/reset-password",
        None,
        Some(&form_encode(&[
            ("token", &token),
            ("new_password", "granite-willow-harbor-88"),
            ("confirm_password", "granite-willow-harbor-88"),
        ])),
        &same,
    )
    .await;
    assert!(ok.html.contains("Password set"), "{}", ok.html);
    let p = send(
        &app,
        Method::POST,
        "/sign-in",
        None,
        Some(&form_encode(&[("email", "nadia@example.com"), ("password", "granite-willow-harbor-88")])),
        &same,
    )
    .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn the_list_filters_searches_and_pages_from_the_address_bar() {
    let app = TestApp::new().await;
    let (_, emp) = app.user(7, "employee").await;
    let cookie = sign_in(&app, "user7@example.com").await;
    let empty = send(&app, Method::GET, "/", Some(&cookie), None, &[]).await;
    assert!(empty.html.contains("No tickets yet"), "a clear empty state on the home page");
    let empty = send(&app, Method::GET, "/tickets", Some(&cookie), None, &[]).await;
    assert!(empty.html.contains("You have not filed a ticket yet."), "and on the list");
    for i in 0..27 {
        app.ticket(&emp, &format!("Ticket number {i:02}")).await;
    }
    let withdrawn = app.ticket(&emp, "Keyboard sticks").await;
    assert_eq!(
        app.post(&format!("/api/v1/tickets/{withdrawn}/withdraw"), &emp, serde_json::json!({})).await.status,
        StatusCode::OK
    );
    let rows = |html: &str| html.matches("<tr><td><a href=\"/tickets/").count();

    let all = send(&app, Method::GET, "/tickets", Some(&cookie), None, &[]).await;
    assert_eq!(rows(&all.html), 25, "a page of 25");
    assert!(all.html.contains(">All <span class=\"count\">28</span>"), "counts beside the filters");
    assert!(all.html.contains(">Closed or withdrawn <span class=\"count\">1</span>"));
    assert!(all.html.contains("aria-label=\"Withdraw TX"), "withdraw straight from a row");
    let next = all
        .html
        .split("<p class=\"more\"><a href=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .replace("&#38;", "&")
        .replace("&amp;", "&")
        .replace("&#38;", "&");
    let older = send(&app, Method::GET, &next, Some(&cookie), None, &[]).await;
    assert_eq!(rows(&older.html), 3, "the rest on the next page");
    assert!(!older.html.contains("class=\"more\""));

    let active = send(&app, Method::GET, "/tickets?show=active", Some(&cookie), None, &[]).await;
    assert!(!active.html.contains("Keyboard sticks") && active.html.contains("aria-current=\"page\">Active"));
    let done = send(&app, Method::GET, "/tickets?show=done", Some(&cookie), None, &[]).await;
    assert!(done.html.contains("Keyboard sticks") && done.html.contains("Withdrawn"));
    let one_status = send(&app, Method::GET, "/tickets?show=withdrawn", Some(&cookie), None, &[]).await;
    assert_eq!(rows(&one_status.html), 1, "a status card's link shows that status");
    let found = send(&app, Method::GET, "/tickets?show=all&q=number+07", Some(&cookie), None, &[]).await;
    assert_eq!(rows(&found.html), 1);
    assert!(found.html.contains(">All <span class=\"count\">1</span>"), "counts follow the search");
    let none = send(&app, Method::GET, "/tickets?q=nothing-like-this", Some(&cookie), None, &[]).await;
    assert!(none.html.contains("No ticket of yours matches."));

    // The home page: counts per status, the five changed last.
    let home = send(&app, Method::GET, "/", Some(&cookie), None, &[]).await;
    assert_eq!(rows(&home.html), 5, "the five most recently updated");
    assert!(home.html.contains("Keyboard sticks"), "the last changed is among them");
    assert!(home.html.contains("<span class=\"count\">28</span> All"));
    assert!(home.html.contains("<span class=\"count\">27</span> Waiting for review"));
    assert!(home.html.contains("href=\"/tickets?show=withdrawn\"><span class=\"count\">1</span> Withdrawn"));
}

#[tokio::test]
async fn the_deployment_notice_and_terms_of_use_show_and_the_terms_are_required() {
    let app = TestApp::with_web(helpdesk_http::WebOptions {
        notice: Some("Support hours: 8–18. Urgent: call 555-0100 <now>.".into()),
        terms: Some(helpdesk_http::Terms {
            version: "2026-11".into(),
            url: Some("https://intranet.example/terms".into()),
            text: None,
        }),
        ..helpdesk_http::WebOptions::default()
    })
    .await;
    app.user(10, "employee").await;
    let cookie = sign_in(&app, "user10@example.com").await;
    let home = send(&app, Method::GET, "/", Some(&cookie), None, &[]).await;
    assert!(home.html.contains("Urgent: call 555-0100 &#60;now&#62;.") || home.html.contains("555-0100 &lt;now&gt;."));

    let form = send(&app, Method::GET, "/register", None, None, &[]).await;
    assert!(form.html.contains("name=\"accept_terms\"") && form.html.contains("https://intranet.example/terms"));
    let register = |accept: bool| {
        let app = &app;
        async move {
            let mut parts: Vec<(&str, Option<&str>, &[u8])> = vec![
                ("first_name", None, b"Tomas"),
                ("last_name", None, b"Berg"),
                ("company_id", None, b"MA0888"),
                ("email", None, b"tomas@example.com"),
                ("password", None, b"copper-lantern-meadow-19"),
                ("confirm_password", None, b"copper-lantern-meadow-19"),
            ];
            if accept {
                parts.push(("accept_terms", None, b"yes"));
            }
            send_multipart(app, "/register", "", &parts).await
        }
    };
    let refused = register(false).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.html.contains("id=\"terms-error\""), "{}", refused.html);
    let accepted = register(true).await;
    assert!(accepted.html.contains("Registration received"), "{}", accepted.html);
}

fn png() -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    image::RgbImage::from_pixel(4, 4, image::Rgb([200, 30, 30])).write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

#[tokio::test]
async fn files_are_added_in_one_form_refused_ones_say_why_and_downloads_follow_the_rules() {
    let app = TestApp::new().await;
    let (_, emp) = app.user(8, "employee").await;
    app.user(9, "employee").await;
    let number = app.ticket(&emp, "Screen glitch").await;
    let cookie = sign_in(&app, "user8@example.com").await;
    let page = send(&app, Method::GET, &format!("/tickets/{number}"), Some(&cookie), None, &[]).await;
    assert!(page.html.contains("enctype=\"multipart/form-data\""));
    let csrf = csrf_of(&page.html);

    // Without the form token nothing is stored.
    let path = format!("/tickets/{number}/files");
    let image = png();
    let p = send_multipart(&app, &path, &cookie, &[("csrf", None, b"nope"), ("file", Some("shot.png"), &image)]).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    // Two files in one submit: the image is kept, the program is refused with the reason.
    let program: &[u8] = b"MZ\x90\x00\x03\x00\x00\x00 not a document";
    let parts = [
        ("csrf", None, csrf.as_bytes()),
        ("file", Some("shot.png"), image.as_slice()),
        ("file", Some("tool.exe"), program),
    ];
    let p = send_multipart(&app, &path, &cookie, &parts).await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", p.html);
    assert!(p.html.contains("1 file added. Refused — tool.exe: this kind of file is not accepted"), "{}", p.html);
    assert!(p.html.contains("shot.png") && p.html.contains("class=\"thumb\""));
    let href = p.html.split("<a href=\"/attachments/").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let file = send(&app, Method::GET, &format!("/attachments/{href}"), Some(&cookie), None, &[]).await;
    assert_eq!(file.status, StatusCode::OK);
    assert!(p.html.contains(&format!("src=\"/attachments/{href}/preview\"")), "images show as previews");
    let preview = send(&app, Method::GET, &format!("/attachments/{href}/preview"), Some(&cookie), None, &[]).await;
    assert_eq!(preview.status, StatusCode::OK);
    assert_eq!(preview.headers.get(header::CONTENT_TYPE).unwrap(), "image/jpeg");
    assert_eq!(file.headers.get(header::CONTENT_TYPE).unwrap(), "image/png");
    assert_eq!(file.headers.get(header::X_CONTENT_TYPE_OPTIONS).unwrap(), "nosniff");
    // Another employee cannot fetch it.
    let other = sign_in(&app, "user9@example.com").await;
    assert_eq!(
        send(&app, Method::GET, &format!("/attachments/{href}"), Some(&other), None, &[]).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_profile_edits_names_takes_a_picture_and_signs_out_elsewhere() {
    let app = TestApp::new().await;
    let (_, api_token) = app.user(10, "coordinator").await;
    let cookie = sign_in(&app, "user10@example.com").await;
    let other_cookie = sign_in(&app, "user10@example.com").await;
    let p = send(&app, Method::GET, "/profile", Some(&cookie), None, &[]).await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.html.contains("MA1010") && p.html.contains("Ticket coordinator"), "read-only facts shown");
    let csrf = csrf_of(&p.html);
    let version = p.html.split("name=\"version\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let bad = post_form(
        &app,
        "/profile",
        &cookie,
        &[("csrf", &csrf), ("version", &version), ("first_name", ""), ("last_name", "User10"), ("suffix", "")],
    )
    .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let ok = post_form(
        &app,
        "/profile",
        &cookie,
        &[
            ("csrf", &csrf),
            ("version", &version),
            ("first_name", "Renamed"),
            ("middle_name", ""),
            ("last_name", "User10"),
            ("suffix", "III"),
        ],
    )
    .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.html);
    let p = send(&app, Method::GET, "/profile?saved=names", Some(&cookie), None, &[]).await;
    assert!(p.html.contains("Profile saved.") && p.html.contains("Renamed User10 III"), "{}", p.html);

    // A picture, shown in the header afterwards.
    let image = png();
    let res = send_multipart(
        &app,
        "/profile/avatar",
        &cookie,
        &[("csrf", None, csrf.as_bytes()), ("avatar", Some("me.png"), &image)],
    )
    .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let p = send(&app, Method::GET, "/profile?saved=avatar", Some(&cookie), None, &[]).await;
    let src = p
        .html
        .split("<img class=\"mini\" src=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .replace("&#61;", "=")
        .replace("&#x3d;", "=");
    let img = send(&app, Method::GET, &src, Some(&cookie), None, &[]).await;
    assert_eq!(
        (img.status, img.headers.get(header::CONTENT_TYPE).unwrap().to_str().unwrap()),
        (StatusCode::OK, "image/png")
    );

    // The sessions are listed (this browser marked), and ending the others asks first.
    let p = send(&app, Method::GET, "/profile", Some(&cookie), None, &[]).await;
    assert_eq!(p.html.matches("<strong>This browser</strong>").count(), 1);
    assert_eq!(p.html.matches("Another browser or device").count(), 2, "the other page session and the API's");
    let confirm = send(&app, Method::GET, "/profile/sign-out-elsewhere", Some(&cookie), None, &[]).await;
    assert!(confirm.html.contains("This ends your sessions on 2 other devices or browsers."), "{}", confirm.html);

    // Sign out everywhere else: the other browser and the API token end; this page stays.
    let p = post_form(&app, "/profile/sign-out-elsewhere", &cookie, &[("csrf", &csrf)]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(send(&app, Method::GET, "/", Some(&other_cookie), None, &[]).await.status, StatusCode::SEE_OTHER);
    assert_eq!(app.get("/api/v1/me", &api_token).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(send(&app, Method::GET, "/", Some(&cookie), None, &[]).await.status, StatusCode::OK);
    let p = send(&app, Method::GET, "/profile", Some(&cookie), None, &[]).await;
    assert!(!p.html.contains("Another browser or device") && p.html.contains("You are signed in nowhere else."));
}

#[tokio::test]
async fn a_coordinator_works_a_ticket_from_its_page_and_internal_notes_stay_internal() {
    let app = TestApp::new().await;
    let (_, emp) = app.user(11, "employee").await;
    app.user(12, "coordinator").await;
    let number = app.ticket(&emp, "Laptop will not boot").await;
    let staff = sign_in(&app, "user12@example.com").await;
    let employee = sign_in(&app, "user11@example.com").await;
    let ticket = format!("/tickets/{number}");

    let p = send(&app, Method::GET, &ticket, Some(&staff), None, &[]).await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.html.contains("user11@example.com"), "staff see the requester's email");
    assert!(p.html.contains(">Accept<") && p.html.contains(">Reject<"), "triage is offered");
    let csrf = csrf_of(&p.html);
    let version =
        |html: &str| html.split("name=\"version\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();

    // Accept with a priority (the department proposed), then take it with one button.
    let form = send(&app, Method::GET, &format!("{ticket}/approve"), Some(&staff), None, &[]).await;
    assert!(form.html.contains("id=\"priority\"") && form.html.contains("id=\"department\""));
    let v = version(&form.html);
    let done = post_form(
        &app,
        &format!("{ticket}/approve"),
        &staff,
        &[("csrf", &csrf), ("version", &v), ("priority", "high"), ("department", "it")],
    )
    .await;
    assert_eq!(done.headers.get(header::LOCATION).unwrap().to_str().unwrap(), format!("{ticket}?done=approve"));
    let p = send(&app, Method::GET, &format!("{ticket}?done=approve"), Some(&staff), None, &[]).await;
    assert!(p.html.contains("Done: accepted.") && p.html.contains("<dt>Priority</dt><dd>High</dd>"), "{}", p.html);
    assert!(p.html.contains("action=\"/tickets/") && p.html.contains(">Take it</button>"), "claim is one button");
    let v = version(&p.html);
    let claimed = post_form(&app, &format!("{ticket}/claim"), &staff, &[("csrf", &csrf), ("version", &v)]).await;
    assert_eq!(claimed.status, StatusCode::SEE_OTHER);

    // An internal note: marked for staff, absent for the requester.
    let note = send_multipart(
        &app,
        &format!("{ticket}/comments"),
        &staff,
        &[("csrf", None, csrf.as_bytes()), ("body", None, b"Warranty ends next week."), ("internal", None, b"yes")],
    )
    .await;
    assert_eq!(note.status, StatusCode::SEE_OTHER, "{}", note.html);
    let p = send(&app, Method::GET, &ticket, Some(&staff), None, &[]).await;
    assert!(p.html.contains("Internal note</strong>") && p.html.contains("Warranty ends next week."));
    let mine = send(&app, Method::GET, &ticket, Some(&employee), None, &[]).await;
    assert!(!mine.html.contains("Warranty") && !mine.html.contains("Internal note"), "{}", mine.html);
    assert!(!mine.html.contains("name=\"internal\""), "employees cannot write internal notes");
    assert!(mine.html.contains("<dt>Assigned to</dt><dd>Test User12</dd>"));

    // Details: the priority changed from the page; a stale form changes nothing.
    let v = version(&p.html);
    let edited = post_form(
        &app,
        &format!("{ticket}/edit"),
        &staff,
        &[
            ("csrf", &csrf),
            ("version", &v),
            ("kind", "hardware/laptop"),
            ("priority", "critical"),
            ("department", "it"),
            ("scheduled_date", ""),
        ],
    )
    .await;
    assert_eq!(edited.headers.get(header::LOCATION).unwrap().to_str().unwrap(), format!("{ticket}?edited=1"));
    let stale = post_form(
        &app,
        &format!("{ticket}/edit"),
        &staff,
        &[("csrf", &csrf), ("version", &v), ("kind", "hardware/laptop"), ("priority", "low")],
    )
    .await;
    assert_eq!(stale.headers.get(header::LOCATION).unwrap().to_str().unwrap(), format!("{ticket}?stale=1"));
    let r = app.get(&format!("/api/v1/tickets/{number}"), &emp).await;
    assert_eq!(r.body["priority"], "critical");

    // An employee cannot act as staff through the pages.
    let p = send(&app, Method::GET, &format!("{ticket}/resolve"), Some(&employee), None, &[]).await;
    assert_eq!(p.headers.get(header::LOCATION).unwrap().to_str().unwrap(), format!("{ticket}?stale=1"));
    let ecsrf = csrf_of(&send(&app, Method::GET, &ticket, Some(&employee), None, &[]).await.html);
    let forced = post_form(
        &app,
        &format!("{ticket}/resolve"),
        &employee,
        &[("csrf", &ecsrf), ("version", "4"), ("text", "done")],
    )
    .await;
    assert!(
        forced.headers.get(header::LOCATION).is_none_or(|l| l.to_str().unwrap().ends_with("?stale=1")),
        "refused, never done"
    );
    let r = app.get(&format!("/api/v1/tickets/{number}"), &emp).await;
    assert_eq!(r.body["status"], "in_progress", "nothing was resolved");
}

#[tokio::test]
async fn the_queue_filters_from_the_address_bar_counts_and_triages_from_a_row() {
    let app = TestApp::new().await;
    let (_, emp) = app.user(13, "employee").await;
    app.user(14, "coordinator").await;
    let first = app.ticket(&emp, "Projector flickers").await;
    let second = app.ticket(&emp, "VPN token expired").await;
    let third = app.ticket(&emp, "Need a second monitor").await;
    let staff = sign_in(&app, "user14@example.com").await;
    let employee = sign_in(&app, "user13@example.com").await;

    assert_eq!(send(&app, Method::GET, "/desk", Some(&employee), None, &[]).await.status, StatusCode::NOT_FOUND);
    let home = send(&app, Method::GET, "/", Some(&staff), None, &[]).await;
    assert!(home.html.contains("<span class=\"count\">3</span> New"), "the staff home counts per status");
    assert!(home.html.contains("My open tickets"));

    let q = send(&app, Method::GET, "/desk", Some(&staff), None, &[]).await;
    assert_eq!(q.status, StatusCode::OK);
    assert_eq!(q.html.matches("<tr>").count() + q.html.matches("<tr class").count(), 4, "three rows and the header");
    assert!(q.html.contains(">New <span class=\"count\">3</span>"));
    let csrf = csrf_of(&q.html);
    let version = |html: &str, number: &str| {
        let at = html.find(&format!("action=\"/tickets/{number}/approve\"")).unwrap();
        html[at..].split("name=\"version\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned()
    };

    // Accept from the row, with a priority; then take it from the row.
    let v = version(&q.html, &first);
    let r = post_form(
        &app,
        &format!("/tickets/{first}/approve"),
        &staff,
        &[("csrf", &csrf), ("version", &v), ("priority", "critical")],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let q = send(&app, Method::GET, "/desk?status=open", Some(&staff), None, &[]).await;
    assert!(q.html.contains(&first) && !q.html.contains(&second) && q.html.contains(">Critical<"));
    assert!(q.html.contains(&format!("aria-label=\"Take {first}\"")));
    let at = q.html.find(&format!("action=\"/tickets/{first}/claim\"")).unwrap();
    let v = q.html[at..].split("name=\"version\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let r = post_form(&app, &format!("/tickets/{first}/claim"), &staff, &[("csrf", &csrf), ("version", &v)]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);

    // Several statuses at once, "me", text, and a bookmarkable address.
    let mine =
        send(&app, Method::GET, "/desk?status=new&status=in_progress&assignee=me", Some(&staff), None, &[]).await;
    assert!(mine.html.contains(&first) && !mine.html.contains(&second), "{}", mine.html);
    let both = send(&app, Method::GET, "/desk?status=new&status=in_progress", Some(&staff), None, &[]).await;
    assert!(both.html.contains(&first) && both.html.contains(&second) && both.html.contains(&third));
    let text = send(&app, Method::GET, "/desk?status=&q=monitor", Some(&staff), None, &[]).await;
    assert!(text.html.contains(&third) && !text.html.contains(&first));
    let bad = send(&app, Method::GET, "/desk?from=yesterday", Some(&staff), None, &[]).await;
    assert!(bad.html.contains("is not understood"), "a bad filter says so");
    let home = send(&app, Method::GET, "/", Some(&staff), None, &[]).await;
    assert!(home.html.contains("Projector flickers"), "my open tickets on the staff home");
}

#[tokio::test]
async fn an_admin_approves_rejects_and_manages_users_and_others_cannot() {
    let app = TestApp::new().await;
    app.user(15, "coordinator").await;
    let (_, emp) = app.user(16, "employee").await;
    app.ticket(&emp, "Chair squeaks").await;
    assert_eq!(app.register(17).await.status, StatusCode::CREATED);
    assert_eq!(app.register(18).await.status, StatusCode::CREATED);
    let admin = {
        let p = send(
            &app,
            Method::POST,
            "/sign-in",
            None,
            Some(&form_encode(&[
                ("email", "admin@example.com"),
                ("password", helpdesk_core::testing::ADMIN_PASSWORD),
                ("next", "/"),
            ])),
            &[("sec-fetch-site", "same-origin")],
        )
        .await;
        p.headers.get(header::SET_COOKIE).unwrap().to_str().unwrap().split(';').next().unwrap().to_owned()
    };
    let coordinator = sign_in(&app, "user15@example.com").await;

    assert_eq!(send(&app, Method::GET, "/users", Some(&coordinator), None, &[]).await.status, StatusCode::NOT_FOUND);
    let home = send(&app, Method::GET, "/", Some(&admin), None, &[]).await;
    assert!(
        home.html.contains("Registrations awaiting approval")
            && home.html.contains("aria-label=\"Approve Test User17\"")
    );
    assert!(!send(&app, Method::GET, "/", Some(&coordinator), None, &[]).await.html.contains("awaiting approval"));
    let users = send(&app, Method::GET, "/users", Some(&admin), None, &[]).await;
    assert_eq!(users.status, StatusCode::OK);
    assert!(users.html.contains("Awaiting approval (2)"), "{}", users.html);
    let csrf = csrf_of(&users.html);
    let id_of = |html: &str, n: u32| {
        let at = html.find(&format!("user{n}@example.com")).unwrap();
        let before = &html[..at];
        let start = before.rfind("href=\"/users/").unwrap() + "href=\"/users/".len();
        before[start..start + 36].to_owned()
    };
    let (approve, reject) = (id_of(&users.html, 17), id_of(&users.html, 18));

    // Approve in place, from the list.
    let r = post_form(
        &app,
        &format!("/users/{approve}/approve"),
        &admin,
        &[("csrf", &csrf), ("version", "1"), ("back", "list")],
    )
    .await;
    assert_eq!(r.headers.get(header::LOCATION).unwrap().to_str().unwrap(), "/users?done=approved");
    // Reject: a reason is required.
    let path = format!("/users/{reject}/reject");
    let form = send(&app, Method::GET, &path, Some(&admin), None, &[]).await;
    assert!(form.html.contains("id=\"reason\""));
    let empty = post_form(&app, &path, &admin, &[("csrf", &csrf), ("version", "1"), ("reason", " ")]).await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    let done =
        post_form(&app, &path, &admin, &[("csrf", &csrf), ("version", "1"), ("reason", "Not an employee of ours.")])
            .await;
    assert_eq!(done.headers.get(header::LOCATION).unwrap().to_str().unwrap(), "/users?done=rejected");
    let users = send(&app, Method::GET, "/users", Some(&admin), None, &[]).await;
    assert!(users.html.contains("No registration is waiting.") && !users.html.contains("user18@example.com"));

    // A user's page: make the employee a coordinator; deactivate ends their page session.
    let employee_id = id_of(&users.html, 16);
    let page_of = send(&app, Method::GET, &format!("/users/{employee_id}"), Some(&admin), None, &[]).await;
    assert!(page_of.html.contains("Chair squeaks"), "their tickets");
    assert!(page_of.html.contains("End all their sessions"), "their sessions");
    let spare = sign_in(&app, "user16@example.com").await;
    let r =
        post_form(&app, &format!("/users/{employee_id}/end-sessions"), &admin, &[("csrf", &csrf), ("version", "0")])
            .await;
    assert_eq!(
        r.headers.get(header::LOCATION).unwrap().to_str().unwrap(),
        format!("/users/{employee_id}?done=sessions")
    );
    assert_eq!(send(&app, Method::GET, "/", Some(&spare), None, &[]).await.status, StatusCode::SEE_OTHER, "ended");
    let employee = sign_in(&app, "user16@example.com").await;
    let version = page_of.html.split("name=\"version\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let r = post_form(
        &app,
        &format!("/users/{employee_id}/role"),
        &admin,
        &[("csrf", &csrf), ("version", &version), ("role", "coordinator"), ("department", "it")],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        send(&app, Method::GET, "/desk", Some(&employee), None, &[]).await.status,
        StatusCode::OK,
        "the role applies at once"
    );
    let page_of = send(&app, Method::GET, &format!("/users/{employee_id}"), Some(&admin), None, &[]).await;
    let history = page_of.html.split("History of the account").nth(1).unwrap().split("</section>").next().unwrap();
    for step in ["Role employee → coordinator, department it → it", "Ended 2 session(s)", "Approve", "Registered"] {
        assert!(history.contains(step), "the account's history has {step:?}: {history}");
    }
    assert!(history.find("Role employee").unwrap() < history.find("Registered").unwrap(), "newest first");
    let version = page_of.html.split("name=\"version\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let r =
        post_form(&app, &format!("/users/{employee_id}/deactivate"), &admin, &[("csrf", &csrf), ("version", &version)])
            .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        send(&app, Method::GET, "/", Some(&employee), None, &[]).await.status,
        StatusCode::SEE_OTHER,
        "signed out"
    );

    // Create a user: they get an invitation.
    let r = post_form(
        &app,
        "/users/new",
        &admin,
        &[
            ("csrf", &csrf),
            ("email", "newbie@example.com"),
            ("first_name", "New"),
            ("last_name", "Bie"),
            ("company_id", ""),
            ("department", "it"),
            ("role", "employee"),
        ],
    )
    .await;
    assert_eq!(r.headers.get(header::LOCATION).unwrap().to_str().unwrap(), "/users?done=invited");
    assert!(app.mailed_token("newbie@example.com").is_some(), "the invitation is mailed");
}

#[tokio::test]
async fn the_reports_page_draws_the_api_s_numbers_and_exports_csv() {
    let app = TestApp::new().await;
    let (_, emp) = app.user(19, "employee").await;
    app.user(20, "coordinator").await;
    for subject in ["Mouse broken", "Keyboard broken", "<b>Screen</b> broken"] {
        let n = app.ticket(&emp, subject).await;
        let r = app
            .call(
                Method::PATCH,
                &format!("/api/v1/tickets/{n}"),
                Some(&app.admin),
                Some(serde_json::json!({"tags": ["peripheral"]})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
    }
    let admin = {
        let p = send(
            &app,
            Method::POST,
            "/sign-in",
            None,
            Some(&form_encode(&[("email", "admin@example.com"), ("password", helpdesk_core::testing::ADMIN_PASSWORD)])),
            &[("sec-fetch-site", "same-origin")],
        )
        .await;
        p.headers.get(header::SET_COOKIE).unwrap().to_str().unwrap().split(';').next().unwrap().to_owned()
    };
    let coordinator = sign_in(&app, "user20@example.com").await;
    assert_eq!(send(&app, Method::GET, "/reports", Some(&coordinator), None, &[]).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        send(&app, Method::GET, "/desk/tickets.csv", Some(&coordinator), None, &[]).await.status,
        StatusCode::NOT_FOUND
    );

    let p = send(&app, Method::GET, "/reports", Some(&admin), None, &[]).await;
    assert_eq!(p.status, StatusCode::OK);
    let summary = app.get("/api/v1/reports/summary", &app.admin).await;
    let new = summary.body["by_status"]["new"].as_u64().unwrap();
    assert_eq!(new, 3);
    assert!(
        p.html.contains(&format!("<tr><th scope=\"row\">New</th><td>{new}</td></tr>")),
        "the table has the API's figure"
    );
    assert!(p.html.contains("<svg class=\"chart\"") && p.html.contains("<polyline"), "charts drawn on the server");
    assert!(
        p.html.contains("Tickets by tag") && p.html.contains("<tr><th scope=\"row\">peripheral</th><td>3</td></tr>"),
        "tickets by tag"
    );
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    assert!(
        p.html.contains(&format!("<tr><th scope=\"row\">{today}</th><td>3</td><td>0</td><td>3</td></tr>")),
        "{}",
        p.html
    );

    // An empty period draws empty charts; a bad one says so.
    let empty = send(&app, Method::GET, "/reports?from=2020-01-01&to=2020-01-31", Some(&admin), None, &[]).await;
    assert_eq!(empty.status, StatusCode::OK);
    assert!(!empty.html.contains("NaN"));
    let bad = send(&app, Method::GET, "/reports?from=2020-01-31&to=2020-01-01", Some(&admin), None, &[]).await;
    assert!(bad.html.contains("showing the last 30 days"));

    // The CSV of a queue view, with the page session.
    let csv = send(&app, Method::GET, "/desk/tickets.csv?status=new", Some(&admin), None, &[]).await;
    assert_eq!(csv.status, StatusCode::OK);
    assert_eq!(csv.headers.get(header::CONTENT_TYPE).unwrap(), "text/csv; charset=utf-8");
    assert_eq!(csv.html.lines().count(), 4, "a header and three tickets");
}

/// Signs the admin in through the page.
async fn admin_cookie(app: &TestApp) -> String {
    let p = send(
        app,
        Method::POST,
        "/sign-in",
        None,
        Some(&form_encode(&[("email", "admin@example.com"), ("password", helpdesk_core::testing::ADMIN_PASSWORD)])),
        &[("sec-fetch-site", "same-origin")],
    )
    .await;
    p.headers.get(header::SET_COOKIE).unwrap().to_str().unwrap().split(';').next().unwrap().to_owned()
}

#[tokio::test]
async fn the_admin_s_records_keys_and_deliveries_and_nobody_else_s() {
    let app = TestApp::new().await;
    app.user(21, "coordinator").await;
    assert_eq!(app.register(22).await.status, StatusCode::CREATED);
    let admin = admin_cookie(&app).await;
    let coordinator = sign_in(&app, "user21@example.com").await;
    let same = [("sec-fetch-site", "same-origin")];
    for path in ["/users/rejections", "/audit", "/integrations"] {
        assert_eq!(
            send(&app, Method::GET, path, Some(&coordinator), None, &[]).await.status,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }

    // A rejection leaves its record; the audit log lists sign-ins and the administration.
    let pending = app.get("/api/v1/users?status=pending", &app.admin).await;
    let id = pending.body["items"][0]["id"].as_str().unwrap().to_owned();
    let r = app
        .post(&format!("/api/v1/users/{id}/reject"), &app.admin, serde_json::json!({"reason": "Unknown person"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let p = send(&app, Method::GET, "/users/rejections", Some(&admin), None, &[]).await;
    assert!(p.html.contains("user22@example.com") && p.html.contains("Unknown person"), "{}", p.html);
    let p = send(&app, Method::GET, "/audit", Some(&admin), None, &[]).await;
    assert!(p.html.contains("Signed in") && p.html.contains("User administered"));
    let p = send(&app, Method::GET, "/audit?kind=login_succeeded", Some(&admin), None, &[]).await;
    assert!(p.html.contains("Signed in") && !p.html.contains("<td>User administered</td>"));

    // An API key: its secret on the answering page only, and it works; then revoked.
    let page_of = send(&app, Method::GET, "/integrations", Some(&admin), None, &[]).await;
    assert!(page_of.html.contains("Every mail and webhook went out.") && page_of.html.contains("Version"));
    let csrf = csrf_of(&page_of.html);
    let none = post_form(&app, "/integrations/keys", &admin, &[("csrf", &csrf), ("name", "Workflow")]).await;
    assert!(none.html.contains("Choose at least one scope."));
    let made = send(
        &app,
        Method::POST,
        "/integrations/keys",
        Some(&admin),
        Some(&format!("{}&scope=read_tickets", form_encode(&[("csrf", &csrf), ("name", "Workflow")]))),
        &same,
    )
    .await;
    assert_eq!(made.status, StatusCode::OK);
    assert_eq!(made.headers.get(header::CACHE_CONTROL).unwrap(), "no-store");
    let secret = made.html.split("<code class=\"secret-value\">").nth(1).unwrap().split('<').next().unwrap().to_owned();
    assert!(secret.starts_with("ApiKey "));
    let (status, _) = common::call_router(&app.router, "GET", "/api/v1/tickets", Some(&secret), None).await;
    assert_eq!(status, StatusCode::OK, "the key works");
    let again = send(&app, Method::GET, "/integrations", Some(&admin), None, &[]).await;
    assert!(!again.html.contains(&secret), "shown once");
    let key_id = again.html.split("action=\"/integrations/keys/").nth(1).unwrap().split('/').next().unwrap().to_owned();
    let r = post_form(&app, &format!("/integrations/keys/{key_id}/revoke"), &admin, &[("csrf", &csrf)]).await;
    assert_eq!(r.headers.get(header::LOCATION).unwrap(), "/integrations?done=revoked");
    let (status, _) = common::call_router(&app.router, "GET", "/api/v1/tickets", Some(&secret), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a revoked key is refused");

    // A mail that gave up: listed with its address masked and the error, then retried.
    use helpdesk_core::ports::{DeliveryFailure, Lease, OutboxStore as _};
    let now = chrono::Utc::now() + chrono::Duration::hours(1);
    let lease = Lease { token: uuid::Uuid::new_v4(), until: now + chrono::Duration::minutes(1) };
    let claimed = app.store.claim_outbox(now, 100, lease).await.unwrap();
    let dead = claimed
        .iter()
        .find(|r| {
            matches!(&r.message.payload, helpdesk_core::model::OutboxPayload::Mail(m) if m.to.as_str() == "user22@example.com")
        })
        .unwrap();
    let failure = DeliveryFailure { error: "550 mailbox unavailable".into(), retry_at: None };
    app.store.fail_outbox(dead.message.id, lease.token, failure).await.unwrap();
    let p = send(&app, Method::GET, "/integrations", Some(&admin), None, &[]).await;
    assert!(p.html.contains("u***@example.com") && p.html.contains("550 mailbox unavailable"), "{}", p.html);
    assert!(!p.html.contains("user22@example.com"), "the address is masked");
    let r =
        post_form(&app, &format!("/integrations/outbox/{}/retry", dead.message.id), &admin, &[("csrf", &csrf)]).await;
    assert_eq!(r.headers.get(header::LOCATION).unwrap(), "/integrations?done=retried");
    let p = send(&app, Method::GET, "/integrations", Some(&admin), None, &[]).await;
    assert!(p.html.contains("Every mail and webhook went out."));
}

#[tokio::test]
async fn a_generated_password_is_changed_before_anything_else() {
    let app = TestApp::new().await;
    let generated = app
        .desk
        .ensure_admin(helpdesk_core::BootstrapAdmin {
            email: "second.admin@example.com".into(),
            password: None,
            first_name: "Sec".into(),
            last_name: "Ond".into(),
        })
        .await
        .unwrap()
        .unwrap();
    let p = send(
        &app,
        Method::POST,
        "/sign-in",
        None,
        Some(&form_encode(&[
            ("email", "second.admin@example.com"),
            ("password", generated.expose()),
            ("next", "/desk"),
        ])),
        &[("sec-fetch-site", "same-origin")],
    )
    .await;
    assert_eq!(p.headers.get(header::LOCATION).unwrap(), "/password");
    let cookie = p.headers.get(header::SET_COOKIE).unwrap().to_str().unwrap().split(';').next().unwrap().to_owned();
    for path in ["/", "/desk", "/users", "/tickets/new", "/profile"] {
        let r = send(&app, Method::GET, path, Some(&cookie), None, &[]).await;
        assert_eq!(r.headers.get(header::LOCATION).map(|l| l.to_str().unwrap()), Some("/password"), "{path}");
    }
    let form = send(&app, Method::GET, "/password", Some(&cookie), None, &[]).await;
    assert_eq!(form.status, StatusCode::OK);
    let csrf = csrf_of(&form.html);
    let r = send(
        &app,
        Method::POST,
        "/password",
        Some(&cookie),
        Some(&form_encode(&[
            ("csrf", &csrf),
            ("current_password", generated.expose()),
            ("new_password", "meadow-quartz-lantern-56"),
            ("confirm_password", "meadow-quartz-lantern-56"),
        ])),
        &[("sec-fetch-site", "same-origin")],
    )
    .await;
    assert_eq!(r.headers.get(header::LOCATION).unwrap(), "/");
    assert_eq!(send(&app, Method::GET, "/desk", Some(&cookie), None, &[]).await.status, StatusCode::OK);
}

/// The next server-sent event on `body` as (name, data), or `None` when none comes within
/// `wait`. Keep-alive comments are skipped.
async fn next_event(body: &mut Body, buf: &mut String, wait: std::time::Duration) -> Option<(String, String)> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        if let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            let (mut name, mut data) = (String::new(), String::new());
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    name = v.trim().to_owned();
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push_str(v.trim());
                }
            }
            if name.is_empty() {
                continue;
            }
            return Some((name, data));
        }
        let frame = tokio::time::timeout_at(deadline, body.frame()).await.ok()??.ok()?;
        if let Ok(bytes) = frame.into_data() {
            buf.push_str(&String::from_utf8_lossy(&bytes));
        }
    }
}

#[tokio::test]
async fn the_bell_counts_what_concerns_me_and_the_live_stream_tells_only_what_i_may_see() {
    use std::time::Duration;
    let app = TestApp::new().await;
    let (_, emp_api) = app.user(30, "employee").await;
    let (_, coord_api) = app.user(31, "coordinator").await;
    let employee = sign_in(&app, "user30@example.com").await;
    let same = [("sec-fetch-site", "same-origin")];

    // The employee's open page listens.
    let res = app
        .router
        .clone()
        .oneshot(Request::get("/live").header(header::COOKIE, &employee).body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::CONTENT_TYPE], "text/event-stream");
    let mut body = res.into_body();
    let mut buf = String::new();
    let wait = Duration::from_secs(5);
    assert_eq!(next_event(&mut body, &mut buf, wait).await.unwrap(), ("ready".to_owned(), "0".to_owned()));
    let anonymous = send(&app, Method::GET, "/live", None, None, &[]).await;
    assert_eq!(anonymous.status, StatusCode::SEE_OTHER, "no stream without a session");

    // Their own new ticket: one event naming it, nothing of its content.
    let number = app.ticket(&emp_api, "Dock flickers").await;
    let (name, data) = next_event(&mut body, &mut buf, wait).await.unwrap();
    assert_eq!(name, "ticket");
    let v: serde_json::Value = serde_json::from_str(&data).unwrap();
    assert_eq!(v, serde_json::json!({ "number": number, "version": 1 }));

    // An internal note: the employee's stream hears nothing at all.
    let note = app
        .post(
            &format!("/api/v1/tickets/{number}/comments"),
            &coord_api,
            serde_json::json!({ "body": "warranty?", "internal": true }),
        )
        .await;
    assert_eq!(note.status, StatusCode::CREATED, "{:?}", note.body);
    assert_eq!(next_event(&mut body, &mut buf, Duration::from_millis(400)).await, None, "internal notes stay internal");
    // Another employee's ticket: nothing either.
    let (_, other_api) = app.user(32, "employee").await;
    app.ticket(&other_api, "Not yours").await;
    assert_eq!(next_event(&mut body, &mut buf, Duration::from_millis(400)).await, None, "never another's ticket");

    // Accepting it: the ticket changes and the bell goes to 1.
    let ok = app
        .post(
            &format!("/api/v1/tickets/{number}/approve"),
            &coord_api,
            serde_json::json!({ "priority": "high", "department": "it" }),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{:?}", ok.body);
    let mut heard = Vec::new();
    while let Some(e) = next_event(&mut body, &mut buf, Duration::from_secs(2)).await {
        heard.push(e);
        if heard.len() == 2 {
            break;
        }
    }
    assert!(heard.iter().any(|(n, _)| n == "ticket"), "{heard:?}");
    assert!(heard.contains(&("notices".to_owned(), "1".to_owned())), "{heard:?}");

    // The bell on every page, the list, and marking read.
    let home = send(&app, Method::GET, "/", Some(&employee), None, &[]).await;
    assert!(home.html.contains("id=\"unread-count\">1<"), "the bell shows 1");
    let list = send(&app, Method::GET, "/notifications", Some(&employee), None, &[]).await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.html.contains(&number) && list.html.contains("Now: accepted"), "{}", list.html);
    assert!(!list.html.contains("warranty"), "a notice never carries content");
    let csrf = csrf_of(&list.html);
    let forged = send(&app, Method::POST, "/notifications/read", Some(&employee), Some("csrf=nope"), &same).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let before_open = list.html.split("/open\"").next().unwrap();
    let id = before_open.rsplit("/notifications/").next().unwrap().to_owned();
    let open =
        post_form(&app, &format!("/notifications/{id}/open"), &employee, &[("csrf", &csrf), ("ticket", &number)]).await;
    assert_eq!(open.headers[header::LOCATION], format!("/tickets/{number}").as_str());
    assert_eq!(next_event(&mut body, &mut buf, wait).await.unwrap(), ("notices".to_owned(), "0".to_owned()));
    let home = send(&app, Method::GET, "/", Some(&employee), None, &[]).await;
    assert!(home.html.contains("id=\"unread-count\" hidden>0<"), "read: the count is hidden");

    // The coordinator was told of the new ticket in their department; the employee's session
    // ending closes their stream with `signed-out`.
    let coordinator = sign_in(&app, "user31@example.com").await;
    let theirs = send(&app, Method::GET, "/notifications", Some(&coordinator), None, &[]).await;
    assert!(theirs.html.contains("New in your department"), "{}", theirs.html);
    let uid = app.get("/api/v1/me", &emp_api).await.body["id"].as_str().unwrap().to_owned();
    let off = app.post(&format!("/api/v1/users/{uid}/deactivate"), &app.admin, serde_json::json!({})).await;
    assert_eq!(off.status, StatusCode::OK, "{:?}", off.body);
    let mut saw_signed_out = false;
    while let Some((name, _)) = next_event(&mut body, &mut buf, Duration::from_secs(3)).await {
        if name == "signed-out" {
            saw_signed_out = true;
            break;
        }
    }
    assert!(saw_signed_out, "a stream ends with its session");
}

#[tokio::test]
async fn notifications_over_the_api_list_count_and_mark_read() {
    let app = TestApp::new().await;
    let (_, emp) = app.user(40, "employee").await;
    let (_, coord) = app.user(41, "coordinator").await;
    let number = app.ticket(&emp, "Printer offline").await;
    let ok =
        app.post(&format!("/api/v1/tickets/{number}/approve"), &coord, serde_json::json!({ "priority": "low" })).await;
    assert_eq!(ok.status, StatusCode::OK, "{:?}", ok.body);

    let mine = app.get("/api/v1/notifications", &emp).await;
    assert_eq!(mine.status, StatusCode::OK, "{:?}", mine.body);
    assert_eq!(mine.body["unread"], 1);
    let item = &mine.body["items"][0];
    assert_eq!(
        (item["ticket"].as_str(), item["kind"].as_str(), item["status"].as_str()),
        (Some(number.as_str()), Some("status_changed"), Some("open"))
    );
    assert!(item["read_at"].is_null());
    let theirs = app.get("/api/v1/notifications", &coord).await;
    assert_eq!(theirs.body["items"][0]["kind"], "new_ticket", "the department's coordinator heard of it");

    let bad = app.get("/api/v1/notifications?limit=0", &emp).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.body["errors"][0]["field"], "limit");
    let other = theirs.body["items"][0]["id"].clone();
    let none = app.post("/api/v1/notifications/read", &emp, serde_json::json!({ "id": other })).await;
    assert_eq!((none.body["marked"].as_u64(), none.body["unread"].as_u64()), (Some(0), Some(1)), "never another's");
    let all = app.post("/api/v1/notifications/read", &emp, serde_json::json!({})).await;
    assert_eq!((all.body["marked"].as_u64(), all.body["unread"].as_u64()), (Some(1), Some(0)));
    assert!(!app.get("/api/v1/notifications", &emp).await.body["items"][0]["read_at"].is_null());
    let anonymous = app.call(Method::GET, "/api/v1/notifications", None, None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_account_action_that_does_not_apply_says_so_in_account_terms() {
    let app = TestApp::new().await;
    let (id, _) = app.user(42, "employee").await;
    for action in ["reject", "approve", "reactivate"] {
        let body = if action == "reject" { serde_json::json!({ "reason": "x" }) } else { serde_json::json!({}) };
        let r = app.post(&format!("/api/v1/users/{id}/{action}"), &app.admin, body).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::CONFLICT, "account.invalid_transition"),
            "{action}: {:?}",
            r.body
        );
        assert_eq!(r.body["detail"], format!("cannot {action} an account that is approved"));
    }
}

#[tokio::test]
async fn staff_see_service_level_badges_on_the_ticket_page_and_requesters_do_not() {
    let app =
        TestApp::with_always_open_sla(serde_json::json!({"first_response_minutes": 60, "resolution_minutes": 480}))
            .await;
    let (_, emp) = app.user(1, "employee").await;
    app.user(2, "coordinator").await;
    let n = app.ticket(&emp, "Laptop will not boot").await;
    let coord = sign_in(&app, "user2@example.com").await;
    let page = send(&app, Method::GET, &format!("/tickets/{n}"), Some(&coord), None, &[]).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.html.contains("Service levels"), "{}", page.html);
    assert!(page.html.contains(r#"<span class="sla sla-ok">First response: on track</span>"#), "{}", page.html);
    assert!(page.html.contains(r#"<span class="sla sla-ok">Resolution: on track</span>"#));
    assert!(page.html.contains("due <time datetime="));
    assert!(page.html.contains("Service-level policy: standard"), "the choice is in the staff's history");
    let requester = sign_in(&app, "user1@example.com").await;
    let page = send(&app, Method::GET, &format!("/tickets/{n}"), Some(&requester), None, &[]).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.html.contains("Service levels") && !page.html.contains("class=\"sla "), "{}", page.html);
    assert!(!page.html.contains("Service-level policy"), "{}", page.html);
}

#[tokio::test]
async fn the_reports_page_shows_service_levels_when_there_are_policies() {
    let app =
        TestApp::with_always_open_sla(serde_json::json!({"first_response_minutes": 60, "resolution_minutes": 480}))
            .await;
    let (_, emp) = app.user(1, "employee").await;
    app.user(2, "admin").await;
    let n = app.ticket(&emp, "Laptop will not boot").await;
    let r = app
        .post(
            &format!("/api/v1/tickets/{n}/approve"),
            &app.admin,
            serde_json::json!({"priority": "high", "department": "it"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let admin = sign_in(&app, "user2@example.com").await;
    let page = send(&app, Method::GET, "/reports", Some(&admin), None, &[]).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.html.contains("Service levels of the tickets filed"), "{}", page.html);
    assert!(
        page.html.contains("<th scope=\"row\">standard</th><td>100.0 % (1 of 1 met)</td><td>—</td><td>1 running</td>"),
        "{}",
        page.html
    );
    assert!(page.html.contains("No target was breached."));

    let plain = TestApp::new().await;
    plain.user(2, "admin").await;
    let admin = sign_in(&plain, "user2@example.com").await;
    let page = send(&plain, Method::GET, "/reports", Some(&admin), None, &[]).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.html.contains("Service levels"), "no policies, no section");
}

#[tokio::test]
async fn coordinators_add_and_remove_tags_on_the_page_and_filter_the_queue_by_them() {
    let app = TestApp::new().await;
    let (_, emp) = app.user(1, "employee").await;
    app.user(2, "coordinator").await;
    let n = app.ticket(&emp, "Dock flickers").await;
    let staff = sign_in(&app, "user2@example.com").await;
    let p = send(&app, Method::GET, &format!("/tickets/{n}"), Some(&staff), None, &[]).await;
    assert!(p.html.contains(&format!("action=\"/tickets/{n}/tags\"")), "the staff page offers the tag form");
    let csrf = csrf_of(&p.html);
    let tags = format!("/tickets/{n}/tags");
    let r = post_form(&app, &tags, &staff, &[("csrf", &csrf), ("add", "Docking, Floor 2")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.html);
    let t = app.get(&format!("/api/v1/tickets/{n}"), &app.admin).await;
    assert_eq!(t.body["tags"], serde_json::json!(["docking", "floor-2"]));
    let r = post_form(&app, &tags, &staff, &[("csrf", &csrf), ("remove", "docking")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let bad = post_form(&app, &tags, &staff, &[("csrf", &csrf), ("add", &"x".repeat(60))]).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.html.contains("The tags were not changed"), "{}", bad.html);
    let p = send(&app, Method::GET, &format!("/tickets/{n}"), Some(&staff), None, &[]).await;
    assert!(p.html.contains("aria-label=\"Remove the tag floor-2\""), "{}", p.html);
    assert!(p.html.contains("Tags changed by") && p.html.contains("removed docking"), "the history names the change");
    // The queue filters by tag and shows the tags beside the subject, each a link to its view.
    let q = send(&app, Method::GET, "/desk?tag=Floor-2", Some(&staff), None, &[]).await;
    assert!(q.html.contains(&format!("/tickets/{n}\"")), "{}", q.html);
    assert!(q.html.contains("class=\"tag\" href=\"/desk?tag=floor-2\""), "{}", q.html);
    let none = send(&app, Method::GET, "/desk?tag=docking", Some(&staff), None, &[]).await;
    assert!(!none.html.contains(&format!("/tickets/{n}\"")));
    // A form from another site changes nothing.
    let cross = send(
        &app,
        Method::POST,
        &tags,
        Some(&staff),
        Some(&form_encode(&[("csrf", &csrf), ("add", "evil")])),
        &[("sec-fetch-site", "cross-site")],
    )
    .await;
    assert_eq!(cross.status, StatusCode::FORBIDDEN);
    // The requester's page neither shows the tags nor offers the controls.
    let theirs = sign_in(&app, "user1@example.com").await;
    let p = send(&app, Method::GET, &format!("/tickets/{n}"), Some(&theirs), None, &[]).await;
    assert!(!p.html.contains("floor-2") && !p.html.contains("/tags\""), "{}", p.html);
    let r = post_form(&app, &tags, &theirs, &[("csrf", &csrf_of(&p.html)), ("add", "mine")]).await;
    assert_ne!(r.status, StatusCode::SEE_OTHER);
    let t = app.get(&format!("/api/v1/tickets/{n}"), &app.admin).await;
    assert_eq!(t.body["tags"], serde_json::json!(["floor-2"]));
}

#[tokio::test]
async fn the_queue_changes_the_ticked_tickets_at_once_and_a_second_send_changes_nothing() {
    let app = TestApp::new().await;
    let (_, emp) = app.user(1, "employee").await;
    app.user(2, "coordinator").await;
    let a = app.ticket(&emp, "Mouse dead").await;
    let b = app.ticket(&emp, "Keyboard dead").await;
    let c = app.ticket(&emp, "Screen dead").await;
    let staff = sign_in(&app, "user2@example.com").await;
    let q = send(&app, Method::GET, "/desk", Some(&staff), None, &[]).await;
    assert!(q.html.contains(&format!("aria-label=\"Select {a}\"")), "the rows can be ticked");
    let csrf = csrf_of(&q.html);
    let key = q.html.split("name=\"idempotency\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let fields = [
        ("csrf", csrf.as_str()),
        ("back", "/desk?status=new"),
        ("idempotency", key.as_str()),
        ("number", a.as_str()),
        ("number", b.as_str()),
        ("add", "Peripherals, Floor 2"),
        ("remove", ""),
        ("priority", "low"),
    ];
    let done = post_form(&app, "/desk/bulk", &staff, &fields).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.html);
    assert!(done.html.contains("2 tickets of 2 changed"), "{}", done.html);
    assert!(done.html.contains("href=\"/desk?status=new\""), "back to the same view");
    for n in [&a, &b] {
        let t = app.get(&format!("/api/v1/tickets/{n}"), &app.admin).await;
        assert_eq!(t.body["tags"], serde_json::json!(["floor-2", "peripherals"]), "{n}");
        assert_eq!(t.body["priority"], "low");
    }
    let t = app.get(&format!("/api/v1/tickets/{c}"), &app.admin).await;
    assert_eq!(t.body["tags"], serde_json::json!([]), "an unticked ticket is left alone");
    // The same form again (a double click, a reload): the recorded answer, nothing applied.
    let r = app
        .call(
            Method::PATCH,
            &format!("/api/v1/tickets/{a}"),
            Some(&app.admin),
            Some(serde_json::json!({"remove_tags": ["floor-2"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let again = post_form(&app, "/desk/bulk", &staff, &fields).await;
    assert!(again.html.contains("2 tickets of 2 changed"), "{}", again.html);
    let t = app.get(&format!("/api/v1/tickets/{a}"), &app.admin).await;
    assert_eq!(t.body["tags"], serde_json::json!(["peripherals"]));
    // Every ticket of the view (here: the tickets tagged peripherals), none ticked.
    let q = send(&app, Method::GET, "/desk?tag=peripherals", Some(&staff), None, &[]).await;
    assert!(q.html.contains("All 2 tickets of this view"), "{}", q.html);
    let filters = q
        .html
        .split("name=\"filters\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&")
        .replace("&#38;", "&");
    let all = [("csrf", csrf.as_str()), ("scope", "all"), ("filters", filters.as_str()), ("add", "whole-view")];
    let done = post_form(&app, "/desk/bulk", &staff, &all).await;
    assert!(done.html.contains("2 tickets of 2 changed"), "{}", done.html);
    let t = app.get(&format!("/api/v1/tickets/{c}"), &app.admin).await;
    assert_eq!(t.body["tags"], serde_json::json!([]), "a ticket outside the view is left alone");
    // Nothing ticked, or nothing to change: said plainly, nothing written.
    let none = post_form(&app, "/desk/bulk", &staff, &[("csrf", &csrf), ("add", "x")]).await;
    assert_eq!(none.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(none.html.contains("Tick at least one ticket"), "{}", none.html);
    let nothing = post_form(&app, "/desk/bulk", &staff, &[("csrf", &csrf), ("number", &c)]).await;
    assert!(nothing.html.contains("Say what to change"), "{}", nothing.html);
    // Employees have no queue and no bulk change.
    let theirs = sign_in(&app, "user1@example.com").await;
    let p = send(&app, Method::GET, "/", Some(&theirs), None, &[]).await;
    let r = post_form(&app, "/desk/bulk", &theirs, &[("csrf", &csrf_of(&p.html)), ("number", &a), ("add", "x")]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_coordinator_makes_a_macro_previews_it_on_a_ticket_and_applies_it_once() {
    let app = TestApp::new().await;
    let (_, emp) = app.user(1, "employee").await;
    app.user(2, "coordinator").await;
    let n = app.ticket(&emp, "Printer <b>jams</b>").await;
    let staff = sign_in(&app, "user2@example.com").await;
    let p = send(&app, Method::GET, "/macros", Some(&staff), None, &[]).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.html);
    assert!(p.html.contains("No macro yet") && p.html.contains("{{requester.first_name}}"), "{}", p.html);
    assert!(!p.html.contains("name=\"shared\""), "only admins share macros");
    let csrf = csrf_of(&p.html);
    // A mistake keeps what was typed and names the problem.
    let bad = [
        ("csrf", csrf.as_str()),
        ("name", "Ask for the model"),
        ("comment", "Hi {{requester.nickname}}"),
        ("action", "await_requester"),
        ("action_note", "Which model is it?"),
    ];
    let r = post_form(&app, "/macros", &staff, &bad).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.html);
    assert!(r.html.contains("unknown placeholder") && r.html.contains("Which model is it?"), "{}", r.html);
    let good = [
        ("csrf", csrf.as_str()),
        ("name", "Ask for the model"),
        ("comment", "Internal: {{requester.name}} asked about {{ticket.subject}}"),
        ("comment_internal", "on"),
        ("add_tags", "needs-info"),
        ("priority", "low"),
        ("action", "hold"),
        ("action_note", "Waiting for the model of {{ticket.number}}"),
    ];
    let r = post_form(&app, "/macros", &staff, &good).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.html);
    let p = send(&app, Method::GET, "/macros?done=saved", Some(&staff), None, &[]).await;
    assert!(p.html.contains("Ask for the model") && p.html.contains("internal note"), "{}", p.html);

    // Hold needs an open ticket: triage and take it first.
    let r =
        app.post(&format!("/api/v1/tickets/{n}/approve"), &app.admin, serde_json::json!({"priority": "high"})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = app.post(&format!("/api/v1/tickets/{n}/claim"), &app.admin, serde_json::json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let t = send(&app, Method::GET, &format!("/tickets/{n}"), Some(&staff), None, &[]).await;
    assert!(t.html.contains(&format!("action=\"/tickets/{n}/macro\"")), "the ticket offers its macros");
    let id =
        t.html.split("<select id=\"macro-id\" name=\"id\"><option value=\"").nth(1).unwrap().split('"').next().unwrap();
    let preview = send(&app, Method::GET, &format!("/tickets/{n}/macro?id={id}"), Some(&staff), None, &[]).await;
    assert_eq!(preview.status, StatusCode::OK, "{}", preview.html);
    // Placeholders filled, the requester's text escaped, the old and new values shown.
    assert!(
        preview.html.contains("Printer &#60;b&#62;jams&#60;/b&#62;") || preview.html.contains("Printer &lt;b&gt;jams"),
        "{}",
        preview.html
    );
    assert!(!preview.html.contains("<b>jams"), "{}", preview.html);
    assert!(preview.html.contains(&format!("Waiting for the model of {n}")), "{}", preview.html);
    assert!(preview.html.contains("needs-info") && preview.html.contains("On hold"), "{}", preview.html);
    let version = preview.html.split("name=\"version\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let key = preview.html.split("name=\"key\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let before = app.get(&format!("/api/v1/tickets/{n}"), &app.admin).await;
    assert_eq!(before.body["version"].to_string(), version, "the preview wrote nothing");
    let fields = [("csrf", csrf.as_str()), ("id", id), ("version", version.as_str()), ("key", key.as_str())];
    let r = post_form(&app, &format!("/tickets/{n}/macro"), &staff, &fields).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.html);
    let after = app.get(&format!("/api/v1/tickets/{n}"), &app.admin).await;
    assert_eq!((after.body["status"].as_str(), after.body["priority"].as_str()), (Some("on_hold"), Some("low")));
    // A second send of the same form (a double click) applies nothing again.
    let again = post_form(&app, &format!("/tickets/{n}/macro"), &staff, &fields).await;
    assert_eq!(again.status, StatusCode::SEE_OTHER);
    let comments = app.get(&format!("/api/v1/tickets/{n}/comments"), &app.admin).await;
    assert_eq!(comments.body.as_array().unwrap().len(), 1, "{:?}", comments.body);
    // The queue applies it to ticked tickets too, each all or nothing.
    let m = app.ticket(&emp, "Scanner jams").await;
    app.post(&format!("/api/v1/tickets/{m}/approve"), &app.admin, serde_json::json!({"priority": "high"})).await;
    app.post(&format!("/api/v1/tickets/{m}/claim"), &app.admin, serde_json::json!({})).await;
    let q = send(&app, Method::GET, "/desk", Some(&staff), None, &[]).await;
    assert!(q.html.contains("id=\"bulk-macro\"") && q.html.contains("Ask for the model"), "{}", q.html);
    let both = [
        ("csrf", csrf.as_str()),
        ("number", m.as_str()),
        ("number", n.as_str()),
        ("macro", id),
        ("idempotency", "b-1"),
    ];
    let done = post_form(&app, "/desk/bulk", &staff, &both).await;
    assert!(
        done.html.contains("1 ticket of 2 changed") || done.html.contains("1 tickets of 2 changed"),
        "{}",
        done.html
    );
    assert!(done.html.contains("Not changed"), "the held ticket cannot be held again: {}", done.html);
    let mixed = [("csrf", csrf.as_str()), ("number", m.as_str()), ("macro", id), ("add", "x")];
    assert!(post_form(&app, "/desk/bulk", &staff, &mixed).await.html.contains("A macro goes alone"));
    let page = send(&app, Method::GET, &format!("/tickets/{n}?macro=1"), Some(&staff), None, &[]).await;
    assert!(page.html.contains("Macro applied."), "{}", page.html);
    assert!(page.html.contains("Macro “Ask for the model” applied by You"), "{}", page.html);
    // The requester sees the status change, never the macro's name or its internal note.
    let theirs = sign_in(&app, "user1@example.com").await;
    let p = send(&app, Method::GET, &format!("/tickets/{n}"), Some(&theirs), None, &[]).await;
    assert!(!p.html.contains("Ask for the model") && !p.html.contains("Internal:"), "{}", p.html);
    assert!(!p.html.contains("macro-id"), "{}", p.html);
    let r = send(&app, Method::GET, "/macros", Some(&theirs), None, &[]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_coordinator_saves_the_queue_as_a_view_opens_it_by_default_and_deletes_it() {
    let app = TestApp::new().await;
    let (_, emp) = app.user(1, "employee").await;
    app.user(2, "coordinator").await;
    let a = app.ticket(&emp, "Projector dim").await;
    let b = app.ticket(&emp, "Projector loud").await;
    let c = app.ticket(&emp, "Projector hot").await;
    app.post(&format!("/api/v1/tickets/{a}/approve"), &app.admin, serde_json::json!({"priority": "critical"})).await;
    app.post(&format!("/api/v1/tickets/{c}/approve"), &app.admin, serde_json::json!({"priority": "low"})).await;
    let staff = sign_in(&app, "user2@example.com").await;
    let q = send(&app, Method::GET, "/desk?status=open&priority=critical", Some(&staff), None, &[]).await;
    assert!(q.html.contains("Save this view"), "{}", q.html);
    let csrf = csrf_of(&q.html);
    let filters = q
        .html
        .split("name=\"filters\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&")
        .replace("&#38;", "&");
    assert!(filters.contains("&priority=critical"), "{filters}");
    let fields = [
        ("csrf", csrf.as_str()),
        ("filters", filters.as_str()),
        ("name", "Critical, open"),
        ("column", "priority"),
        ("column", "assignee"),
        ("default", "1"),
    ];
    let r = post_form(&app, "/desk/views", &staff, &fields).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.html);
    // The queue now opens on it: its count, its rows, only its columns.
    let q = send(&app, Method::GET, "/desk", Some(&staff), None, &[]).await;
    assert!(q.html.contains("View: <strong>Critical, open</strong>"), "{}", q.html);
    assert!(q.html.contains("Critical, open <span class=\"count\">1</span>"), "{}", q.html);
    assert!(q.html.contains(&format!("/tickets/{a}\"")), "{}", q.html);
    assert!(!q.html.contains(&format!("/tickets/{b}\"")) && !q.html.contains(&format!("/tickets/{c}\"")), "{}", q.html);
    assert!(
        q.html.contains("<th scope=\"col\">Priority</th>") && !q.html.contains("<th scope=\"col\">Department</th>")
    );
    let id = q.html.split("action=\"/desk/views/").nth(1).unwrap().split('/').next().unwrap().to_owned();
    // The same name again is refused, saying why.
    let again = post_form(&app, "/desk/views", &staff, &fields).await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(again.html.contains("another view has this name"), "{}", again.html);
    // No longer the default: the queue opens on the open work again.
    let r = post_form(&app, &format!("/desk/views/{id}/undefault"), &staff, &[("csrf", &csrf)]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let q = send(&app, Method::GET, "/desk", Some(&staff), None, &[]).await;
    assert!(!q.html.contains("View: <strong>") && q.html.contains(&format!("/tickets/{b}\"")), "{}", q.html);
    let r = post_form(&app, &format!("/desk/views/{id}/delete"), &staff, &[("csrf", &csrf)]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let gone = send(&app, Method::GET, &format!("/desk?view={id}"), Some(&staff), None, &[]).await;
    assert!(gone.html.contains("That view does not exist"), "{}", gone.html);
}

/// The followers card: the requester adds a colleague (a refused address comes back on the
/// form with what was typed), the colleague finds the ticket on their home page, reads and
/// answers it without internal notes, and stops following.
#[tokio::test]
async fn a_requester_adds_a_colleague_who_follows_from_their_home_page_and_leaves() {
    let app = TestApp::new().await;
    let (_, emp) = app.user(1, "employee").await;
    let (mate_id, _) = app.user(2, "employee").await;
    let requester = sign_in(&app, "user1@example.com").await;
    let n = app.ticket(&emp, "Badge reader broken").await;
    app.post(
        &format!("/api/v1/tickets/{n}/comments"),
        &app.admin,
        serde_json::json!({ "body": "INTERNAL: reader model 7", "internal": true }),
    )
    .await;
    let p = send(&app, Method::GET, &format!("/tickets/{n}"), Some(&requester), None, &[]).await;
    assert!(p.html.contains(&format!("action=\"/tickets/{n}/followers\"")), "{}", p.html);
    let csrf = csrf_of(&p.html);
    let add = format!("/tickets/{n}/followers");
    let bad = post_form(&app, &add, &requester, &[("csrf", &csrf), ("email", "nobody@example.com")]).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.html.contains("no approved user has this address"), "{}", bad.html);
    assert!(bad.html.contains("value=\"nobody@example.com\"") && bad.html.contains("aria-invalid=\"true\""));
    let r = post_form(&app, &add, &requester, &[("csrf", &csrf), ("email", "user2@example.com")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.html);
    let p = send(&app, Method::GET, &format!("/tickets/{n}?followers=added"), Some(&requester), None, &[]).await;
    assert!(p.html.contains("Follower added") && p.html.contains("Test User2"), "{}", p.html);
    assert!(p.html.contains("aria-label=\"Remove Test User2 from the followers\""));
    assert!(p.html.contains("You added Test User2 as a follower"), "the history names it");

    // The colleague: on their home page, the thread without the internal note, and a way out.
    let mate = sign_in(&app, "user2@example.com").await;
    let home = send(&app, Method::GET, "/", Some(&mate), None, &[]).await;
    assert!(home.html.contains("Tickets you follow") && home.html.contains(&format!("/tickets/{n}\"")));
    assert!(home.html.contains("href=\"/tickets?whose=following\""));
    let list = send(&app, Method::GET, "/tickets?whose=following&show=active", Some(&mate), None, &[]).await;
    assert!(list.html.contains("<h1>Tickets you follow</h1>") && list.html.contains(&format!("/tickets/{n}\"")));
    assert!(list.html.contains("whose=following&amp;show=all") || list.html.contains("whose=following&#38;show=all"));
    let own = send(&app, Method::GET, "/tickets", Some(&mate), None, &[]).await;
    assert!(!own.html.contains(&format!("/tickets/{n}\"")), "their own list stays their own");
    let p = send(&app, Method::GET, &format!("/tickets/{n}"), Some(&mate), None, &[]).await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(!p.html.contains("INTERNAL") && !p.html.contains("reader model"), "{}", p.html);
    assert!(!p.html.contains(&format!("action=\"/tickets/{n}/followers\"")), "a follower does not add others");
    assert!(p.html.contains(">Stop following<") && p.html.contains("name=\"body\""), "{}", p.html);
    let csrf = csrf_of(&p.html);
    let r = post_form(&app, &format!("/tickets/{n}/followers/{mate_id}/remove"), &mate, &[("csrf", &csrf)]).await;
    assert_eq!(
        (r.status, r.headers.get(header::LOCATION).unwrap().to_str().unwrap()),
        (StatusCode::SEE_OTHER, "/?unfollowed=1")
    );
    let p = send(&app, Method::GET, &format!("/tickets/{n}"), Some(&mate), None, &[]).await;
    assert_eq!(p.status, StatusCode::NOT_FOUND, "access ends at the next request");
    let home = send(&app, Method::GET, "/?unfollowed=1", Some(&mate), None, &[]).await;
    assert!(home.html.contains("You no longer follow that ticket") && !home.html.contains("Tickets you follow"));
}

/// Linked tickets and a merge from the pages: a coordinator links two tickets, a refused
/// number comes back on the form, the merge asks first, the duplicate's old address leads to
/// the survivor, and resolving a parent with an open child offers "resolve anyway".
#[tokio::test]
async fn a_coordinator_links_tickets_and_merges_a_duplicate_after_confirming() {
    let app = TestApp::new().await;
    let (_, emp) = app.user(1, "employee").await;
    let (_, other) = app.user(2, "employee").await;
    app.user(3, "coordinator").await;
    let a = app.ticket(&emp, "Projector in room 4").await;
    let b = app.ticket(&emp, "Room 4 refurbishment").await;
    let dup = app.ticket(&other, "Room 4 projector dead").await;
    let staff = sign_in(&app, "user3@example.com").await;
    let p = send(&app, Method::GET, &format!("/tickets/{b}"), Some(&staff), None, &[]).await;
    assert!(p.html.contains("Linked tickets") && p.html.contains(&format!("action=\"/tickets/{b}/links\"")));
    let csrf = csrf_of(&p.html);
    let links = format!("/tickets/{b}/links");
    let bad = post_form(&app, &links, &staff, &[("csrf", &csrf), ("kind", "parent_of"), ("ticket", "TX9999")]).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.html.contains("no ticket you can see has this number") && bad.html.contains("value=\"TX9999\""));
    let r = post_form(&app, &links, &staff, &[("csrf", &csrf), ("kind", "parent_of"), ("ticket", &a)]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.html);
    let p = send(&app, Method::GET, &format!("/tickets/{a}"), Some(&staff), None, &[]).await;
    assert!(p.html.contains(&format!("part of <a href=\"/tickets/{b}\">{b}</a>")), "{}", p.html);
    let mine = sign_in(&app, "user1@example.com").await;
    let p = send(&app, Method::GET, &format!("/tickets/{a}"), Some(&mine), None, &[]).await;
    assert!(
        !p.html.contains("Linked tickets") && !p.html.contains(&format!("/tickets/{b}\"")),
        "requesters see no links"
    );

    // Resolving the parent offers "resolve anyway" while its child is open.
    for n in [&a, &b] {
        app.post(&format!("/api/v1/tickets/{n}/approve"), &app.admin, serde_json::json!({"priority": "low"})).await;
        app.post(&format!("/api/v1/tickets/{n}/claim"), &app.admin, serde_json::json!({})).await;
    }
    let p = send(&app, Method::GET, &format!("/tickets/{b}/resolve"), Some(&staff), None, &[]).await;
    assert!(p.html.contains(&format!("Its child tickets {a} are still open")) && p.html.contains("name=\"force\""));
    let version = app.get(&format!("/api/v1/tickets/{b}"), &app.admin).await.body["version"].to_string();
    let resolve = format!("/tickets/{b}/resolve");
    let r = post_form(&app, &resolve, &staff, &[("csrf", &csrf), ("version", &version), ("text", "Done")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.html.contains("still open"), "{}", r.html);
    let fields = [("csrf", csrf.as_str()), ("version", &version), ("text", "Done"), ("force", "yes")];
    let r = post_form(&app, &resolve, &staff, &fields).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.html);

    // The merge: a confirmation page, then the survivor; the old address leads there.
    let p = send(&app, Method::GET, &format!("/tickets/{dup}/merge?into={a}"), Some(&staff), None, &[]).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.html);
    assert!(p.html.contains(&format!("Merge {dup} into {a}")) && p.html.contains("is not undone"));
    let version = app.get(&format!("/api/v1/tickets/{dup}"), &app.admin).await.body["version"].to_string();
    let fields = [("csrf", csrf.as_str()), ("version", &version), ("into", &a), ("note", "Same projector")];
    let r = post_form(&app, &format!("/tickets/{dup}/merge"), &staff, &fields).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.html);
    assert_eq!(r.headers.get(header::LOCATION).unwrap().to_str().unwrap(), format!("/tickets/{a}?merged={dup}"));
    let theirs = sign_in(&app, "user2@example.com").await;
    let p = send(&app, Method::GET, &format!("/tickets/{dup}"), Some(&theirs), None, &[]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "the duplicate's requester is sent to the survivor");
    let p = send(&app, Method::GET, &format!("/tickets/{a}?merged={dup}"), Some(&theirs), None, &[]).await;
    assert!(p.html.contains(&format!("{dup} was merged into this ticket")), "{}", p.html);
}

/// Custom fields from the pages: an admin adds fields on the Ticket fields page (a bad key
/// comes back beside its input), the requester fills theirs in when filing (a required one
/// left empty is said beside it), staff fill in the rest on the ticket (the internal one
/// never reaches the requester's page), and the queue filters and sorts by them.
#[tokio::test]
async fn an_admin_defines_fields_requesters_and_staff_fill_them_in_and_the_queue_filters_by_them() {
    let app = TestApp::new().await;
    let (_, _) = app.user(1, "employee").await;
    let (_, _) = app.user(2, "coordinator").await;
    let admin = admin_cookie(&app).await;
    let p = send(&app, Method::GET, "/integrations", Some(&admin), None, &[]).await;
    assert!(p.html.contains("href=\"/fields\""), "the System page leads there");
    let p = send(&app, Method::GET, "/fields", Some(&admin), None, &[]).await;
    assert!(p.html.contains("No field yet"), "{}", p.html);
    let csrf = csrf_of(&p.html);
    let add = |fields: Vec<(&'static str, &'static str)>| {
        let (app, admin, csrf) = (&app, admin.clone(), csrf.clone());
        async move {
            let version = send(app, Method::GET, "/fields", Some(&admin), None, &[]).await;
            let v =
                version.html.split("name=\"version\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
            let mut all = vec![("csrf", csrf.as_str()), ("version", v.as_str())];
            all.extend(fields);
            post_form(app, "/fields", &admin, &all).await
        }
    };
    let bad = add(vec![("key", "Site Name"), ("label", "Site"), ("kind", "choice"), ("options", "Lisbon")]).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.html.contains("id=\"key-error\"") && bad.html.contains("value=\"Site Name\""), "{}", bad.html);
    let ok = add(vec![
        ("key", "site"),
        ("label", "Site"),
        ("kind", "choice"),
        ("options", "Lisbon\r\nBerlin\r\n"),
        ("requester_sets", "on"),
        ("required", "on"),
    ])
    .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.html);
    let ok = add(vec![("key", "cost"), ("label", "Cost"), ("kind", "number"), ("internal", "on")]).await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.html);
    let p = send(&app, Method::GET, "/fields?done=saved", Some(&admin), None, &[]).await;
    assert!(p.html.contains("Field saved.") && p.html.contains("one choice: Lisbon, Berlin"), "{}", p.html);
    assert!(p.html.contains("Staff (internal)") && p.html.contains("href=\"/fields/cost\""));

    // The requester: the site is asked for (required), the cost is not offered.
    let requester = sign_in(&app, "user1@example.com").await;
    let form = send(&app, Method::GET, "/tickets/new", Some(&requester), None, &[]).await;
    assert!(form.html.contains("name=\"field.site\"") && !form.html.contains("field.cost"), "{}", form.html);
    let csrf = csrf_of(&form.html);
    let file = |site: &'static str| {
        let (app, cookie, csrf) = (&app, requester.clone(), csrf.clone());
        async move {
            let parts: Vec<(&str, Option<&str>, &[u8])> = vec![
                ("csrf", None, csrf.as_bytes()),
                ("idempotency_key", None, b""),
                ("kind", None, b"hardware/laptop"),
                ("subject", None, b"Dock flickers"),
                ("description", None, b"Since the update."),
                ("field.site", None, site.as_bytes()),
            ];
            send_multipart(app, "/tickets/new", &cookie, &parts).await
        }
    };
    let refused = file("").await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.html.contains("id=\"field-site-error\"") && refused.html.contains("Site is required"),
        "{}",
        refused.html
    );
    let filed = file("Berlin").await;
    assert_eq!(filed.status, StatusCode::SEE_OTHER, "{}", filed.html);
    let to = filed.headers.get(header::LOCATION).unwrap().to_str().unwrap().to_owned();
    let n = to.trim_start_matches("/tickets/").split('?').next().unwrap().to_owned();

    // Staff fill in the cost; a bad number comes back beside its input.
    let coord = sign_in(&app, "user2@example.com").await;
    let p = send(&app, Method::GET, &format!("/tickets/{n}"), Some(&coord), None, &[]).await;
    assert!(
        p.html.contains("<dt>Site</dt><dd>Berlin")
            && p.html.contains("action=\"/tickets/{n}/fields\"".replace("{n}", &n).as_str()),
        "{}",
        p.html
    );
    let csrf = csrf_of(&p.html);
    let save = format!("/tickets/{n}/fields");
    let bad =
        post_form(&app, &save, &coord, &[("csrf", &csrf), ("field.site", "Berlin"), ("field.cost", "lots")]).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.html.contains("id=\"field-cost-error\"") && bad.html.contains("value=\"lots\""), "{}", bad.html);
    let ok =
        post_form(&app, &save, &coord, &[("csrf", &csrf), ("field.site", "Berlin"), ("field.cost", "129.50")]).await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.html);
    let p = send(&app, Method::GET, &format!("/tickets/{n}"), Some(&coord), None, &[]).await;
    assert!(p.html.contains("<dt>Cost</dt><dd>129.5"), "{}", p.html);
    let mine = send(&app, Method::GET, &format!("/tickets/{n}"), Some(&requester), None, &[]).await;
    assert!(
        mine.html.contains("<dt>Site</dt>") && !mine.html.contains("Cost") && !mine.html.contains("129.5"),
        "{}",
        mine.html
    );
    assert!(!mine.html.contains("name=\"field.site\""), "requesters do not edit fields after filing");

    // The queue filters and sorts by them.
    let q = send(&app, Method::GET, "/desk?field.site=Berlin&sort=field:cost", Some(&coord), None, &[]).await;
    assert!(
        q.html.contains(&format!("/tickets/{n}\"")) && q.html.contains("<option value=\"field:cost\" selected>"),
        "{}",
        q.html
    );
    let q = send(&app, Method::GET, "/desk?field.site=Lisbon", Some(&coord), None, &[]).await;
    assert!(!q.html.contains(&format!("/tickets/{n}\"")), "{}", q.html);
    let q = send(&app, Method::GET, "/desk?field.cost=abc", Some(&coord), None, &[]).await;
    assert!(q.html.contains("Showing the tickets without that filter"), "{}", q.html);
}
