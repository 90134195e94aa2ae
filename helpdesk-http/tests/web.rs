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
    assert!(!p.html.contains("<script"), "no script on the pages");
    let css = p.html.split("href=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
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

    // A missing subject: the form again, input kept, the message next to the field.
    let bad = form_encode(&[
        ("csrf", &csrf),
        ("idempotency_key", &key),
        ("kind", "network/vpn"),
        ("subject", ""),
        ("description", "Since <Monday>."),
    ]);
    let p =
        send(&app, Method::POST, "/tickets/new", Some(&cookie), Some(&bad), &[("sec-fetch-site", "same-origin")]).await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.html.contains("id=\"subject-error\""), "{}", p.html);
    assert!(
        p.html.contains("Since &#60;Monday&#62;.") || p.html.contains("Since &lt;Monday&gt;."),
        "input kept, escaped"
    );

    // Filed once, even when the form is sent twice.
    let good = form_encode(&[
        ("csrf", &csrf),
        ("idempotency_key", &key),
        ("kind", "network/vpn"),
        ("subject", "VPN drops"),
        ("description", "Since Monday."),
    ]);
    let first =
        send(&app, Method::POST, "/tickets/new", Some(&cookie), Some(&good), &[("sec-fetch-site", "same-origin")])
            .await;
    assert_eq!(first.status, StatusCode::SEE_OTHER, "{}", first.html);
    let to = first.headers.get(header::LOCATION).unwrap().to_str().unwrap().to_owned();
    let again =
        send(&app, Method::POST, "/tickets/new", Some(&cookie), Some(&good), &[("sec-fetch-site", "same-origin")])
            .await;
    assert_eq!(again.headers.get(header::LOCATION).unwrap().to_str().unwrap(), to, "a double submit files once");
    let p = send(&app, Method::GET, &to, Some(&cookie), None, &[]).await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.html.contains("filed.") && p.html.contains("VPN drops") && p.html.contains("Filed"), "{}", p.html);
    let home = send(&app, Method::GET, "/", Some(&cookie), None, &[]).await;
    assert_eq!(home.html.matches("VPN drops").count(), 1);

    // Without the form token, nothing is filed.
    let forged = form_encode(&[("kind", "network/vpn"), ("subject", "forged"), ("description", "x")]);
    assert_eq!(
        send(&app, Method::POST, "/tickets/new", Some(&cookie), Some(&forged), &[]).await.status,
        StatusCode::FORBIDDEN
    );

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
    let same = [("sec-fetch-site", "same-origin")];

    // A comment on the page, then it shows in the conversation.
    let page = send(&app, Method::GET, &format!("/tickets/{fresh}"), Some(&cookie), None, &[]).await;
    let csrf = csrf_of(&page.html);
    assert!(page.html.contains("href=\"/tickets/") && page.html.contains("Withdraw"), "{}", page.html);
    let empty = send(
        &app,
        Method::POST,
        &format!("/tickets/{fresh}/comments"),
        Some(&cookie),
        Some(&form_encode(&[("csrf", &csrf), ("body", "  ")])),
        &same,
    )
    .await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(empty.html.contains("id=\"body-error\""));
    let ok = send(
        &app,
        Method::POST,
        &format!("/tickets/{fresh}/comments"),
        Some(&cookie),
        Some(&form_encode(&[("csrf", &csrf), ("body", "The USB-C kind, please.")])),
        &same,
    )
    .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    let page = send(&app, Method::GET, &format!("/tickets/{fresh}?commented=1"), Some(&cookie), None, &[]).await;
    assert!(page.html.contains("Comment added.") && page.html.contains("The USB-C kind, please."));

    // Withdraw asks first (a page, no script), then does it.
    let confirm = send(&app, Method::GET, &format!("/tickets/{fresh}/withdraw"), Some(&cookie), None, &[]).await;
    assert_eq!(confirm.status, StatusCode::OK);
    assert!(confirm.html.contains("It cannot be undone."));
    let version = {
        let i = confirm.html.find("name=\"version\" value=\"").unwrap() + "name=\"version\" value=\"".len();
        confirm.html[i..].split('"').next().unwrap().to_owned()
    };
    // A stale page: someone changed the ticket meanwhile; nothing is done and the page says so.
    let stale = send(
        &app,
        Method::POST,
        &format!("/tickets/{fresh}/withdraw"),
        Some(&cookie),
        Some(&form_encode(&[("csrf", &csrf), ("version", "1"), ("text", "")])),
        &same,
    )
    .await;
    assert_eq!(stale.headers.get(header::LOCATION).unwrap().to_str().unwrap(), format!("/tickets/{fresh}?stale=1"));
    let done = send(
        &app,
        Method::POST,
        &format!("/tickets/{fresh}/withdraw"),
        Some(&cookie),
        Some(&form_encode(&[("csrf", &csrf), ("version", &version), ("text", "Found one.")])),
        &same,
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
    let confirm = send(&app, Method::GET, &format!("/tickets/{resolved}/close"), Some(&cookie), None, &[]).await;
    let version = {
        let i = confirm.html.find("name=\"version\" value=\"").unwrap() + "name=\"version\" value=\"".len();
        confirm.html[i..].split('"').next().unwrap().to_owned()
    };
    let done = send(
        &app,
        Method::POST,
        &format!("/tickets/{resolved}/close"),
        Some(&cookie),
        Some(&form_encode(&[("csrf", &csrf), ("version", &version), ("text", "")])),
        &same,
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
    let fields = |company_id: &'static str, password: &'static str| {
        form_encode(&[
            ("first_name", "Nadia"),
            ("middle_name", ""),
            ("last_name", "Okafor"),
            ("suffix", "Jr."),
            ("company_id", company_id),
            ("department", "asset"),
            ("email", "nadia@example.com"),
            ("password", password),
            ("confirm_password", password),
        ])
    };
    // A bad company id and a common password: both named, input kept.
    let p = send(&app, Method::POST, "/register", None, Some(&fields("42", "password1234")), &same).await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.html.contains("id=\"company_id-error\"") && p.html.contains("id=\"password-error\""), "{}", p.html);
    assert!(p.html.contains("value=\"Nadia\""));
    let p =
        send(&app, Method::POST, "/register", None, Some(&fields("MA0777", "copper-lantern-meadow-19")), &same).await;
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
    assert!(page.html.contains("<script src=\"/static/token.") && page.html.contains("paste here"));
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
    assert!(empty.html.contains("You have not filed a ticket yet."), "a clear empty state");
    for i in 0..27 {
        app.ticket(&emp, &format!("Ticket number {i:02}")).await;
    }
    let withdrawn = app.ticket(&emp, "Keyboard sticks").await;
    assert_eq!(
        app.post(&format!("/api/v1/tickets/{withdrawn}/withdraw"), &emp, serde_json::json!({})).await.status,
        StatusCode::OK
    );

    let all = send(&app, Method::GET, "/", Some(&cookie), None, &[]).await;
    assert_eq!(all.html.matches("<tr><td>").count(), 25, "a page of 25");
    let next = all
        .html
        .split("<p class=\"more\"><a href=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .replace("&#38;", "&")
        .replace("&amp;", "&");
    let older = send(&app, Method::GET, &next, Some(&cookie), None, &[]).await;
    assert_eq!(older.html.matches("<tr><td>").count(), 3, "the rest on the next page");
    assert!(!older.html.contains("class=\"more\""));

    let active = send(&app, Method::GET, "/?show=active", Some(&cookie), None, &[]).await;
    assert!(!active.html.contains("Keyboard sticks") && active.html.contains("aria-current=\"page\">Active"));
    let done = send(&app, Method::GET, "/?show=done", Some(&cookie), None, &[]).await;
    assert!(done.html.contains("Keyboard sticks") && done.html.contains("Withdrawn"));
    let found = send(&app, Method::GET, "/?show=all&q=number+07", Some(&cookie), None, &[]).await;
    assert_eq!(found.html.matches("<tr><td>").count(), 1);
    let none = send(&app, Method::GET, "/?q=nothing-like-this", Some(&cookie), None, &[]).await;
    assert!(none.html.contains("No ticket of yours matches."));
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
    assert!(p.html.contains("1 file(s) added. Refused — tool.exe:"), "{}", p.html);
    assert!(p.html.contains("shot.png") && p.html.contains("class=\"thumb\""));
    let href = p.html.split("<a href=\"/attachments/").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let file = send(&app, Method::GET, &format!("/attachments/{href}"), Some(&cookie), None, &[]).await;
    assert_eq!(file.status, StatusCode::OK);
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
    assert!(p.html.contains("MA1010") && p.html.contains("coordinator"), "read-only facts shown");
    let csrf = csrf_of(&p.html);
    let version = p.html.split("name=\"version\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let same = [("sec-fetch-site", "same-origin")];
    let bad = send(
        &app,
        Method::POST,
        "/profile",
        Some(&cookie),
        Some(&form_encode(&[
            ("csrf", &csrf),
            ("version", &version),
            ("first_name", ""),
            ("last_name", "User10"),
            ("suffix", ""),
        ])),
        &same,
    )
    .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let ok = send(
        &app,
        Method::POST,
        "/profile",
        Some(&cookie),
        Some(&form_encode(&[
            ("csrf", &csrf),
            ("version", &version),
            ("first_name", "Renamed"),
            ("middle_name", ""),
            ("last_name", "User10"),
            ("suffix", "III"),
        ])),
        &same,
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

    // Sign out everywhere else: the other browser and the API token end; this page stays.
    let p = send(
        &app,
        Method::POST,
        "/profile/sign-out-elsewhere",
        Some(&cookie),
        Some(&form_encode(&[("csrf", &csrf)])),
        &same,
    )
    .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(send(&app, Method::GET, "/", Some(&other_cookie), None, &[]).await.status, StatusCode::SEE_OTHER);
    assert_eq!(app.get("/api/v1/me", &api_token).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(send(&app, Method::GET, "/", Some(&cookie), None, &[]).await.status, StatusCode::OK);
}
