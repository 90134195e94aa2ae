//! Satisfaction ratings over HTTP: the link of the resolution mail through the JSON routes
//! and the page, without signing in; its attacks (a reused link, another ticket's link, a
//! tampered token, a form from another site); the rating on the ticket for staff and the
//! requester; the report and the CSV columns.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use common::{Resp, TestApp};
use serde_json::json;

/// A ticket of a new employee's, approved, claimed and resolved by the admin: (employee's
/// token, number, the mailed rating token).
async fn resolved(app: &TestApp, n: u32) -> (String, String, String) {
    let (_, emp) = app.user(n, "employee").await;
    let number = app.ticket(&emp, "Dock flickers").await;
    for (action, body) in [
        ("approve", json!({"priority": "high", "department": "it"})),
        ("claim", json!({})),
        ("resolve", json!({"note": "New dock firmware"})),
    ] {
        let r = app.post(&format!("/api/v1/tickets/{number}/{action}"), &app.admin, body).await;
        assert_eq!(r.status, StatusCode::OK, "{action}: {:?}", r.body);
    }
    let token = app.rating_token(&number).expect("the resolution mail carries a rating link");
    (emp, number, token)
}

async fn rate(app: &TestApp, number: &str, token: &str, body: serde_json::Value) -> Resp {
    app.call(Method::POST, &format!("/api/v1/ratings/{number}/{token}"), None, Some(body)).await
}

/// A form post to the rating page, from the page itself unless `site` says otherwise.
async fn post_page(app: &TestApp, path: &str, form: &str, site: &str) -> Resp {
    let req = Request::post(path)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header("sec-fetch-site", site)
        .body(Body::from(form.to_owned()))
        .unwrap();
    app.send(req).await
}

fn html(r: &Resp) -> &str {
    r.body.as_str().unwrap_or_default()
}

#[tokio::test]
async fn the_json_routes_rate_once_per_link_and_refuse_every_attack() {
    let app = TestApp::new().await;
    let (emp, number, token) = resolved(&app, 1).await;
    let (_, other_number, other_token) = resolved(&app, 2).await;

    let r = app.call(Method::GET, &format!("/api/v1/ratings/{number}/{token}"), None, None).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!((r.body["number"].as_str(), &r.body["current"]), (Some(number.as_str()), &serde_json::Value::Null));

    // Bad input names the field and spends nothing.
    let r = rate(&app, &number, &token, json!({"rating": "meh"})).await;
    assert_eq!((r.status, r.field_names()), (StatusCode::UNPROCESSABLE_ENTITY, vec!["rating".to_owned()]));

    let r = rate(&app, &number, &token, json!({"rating": "good", "comment": "Quick <b>fix</b>"})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["current"]["rating"], "good");
    let next = r.body["next_token"].as_str().unwrap().to_owned();
    assert_ne!(next, token);

    // Reused.
    let r = rate(&app, &number, &token, json!({"rating": "bad"})).await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "rating.link_used"));
    // Another ticket's link.
    let r = rate(&app, &number, &other_token, json!({"rating": "bad"})).await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "rating.link_invalid"));
    // Tampered: a character over the link's number changed, the signature kept.
    let mut tampered = token.clone().into_bytes();
    tampered[58] = if tampered[58] == b'B' { b'C' } else { b'B' };
    let r = rate(&app, &number, std::str::from_utf8(&tampered).unwrap(), json!({"rating": "bad"})).await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "rating.link_invalid"));
    for garbage in ["x", "%2e%2e", &"A".repeat(300)] {
        let r = app.call(Method::GET, &format!("/api/v1/ratings/{number}/{garbage}"), None, None).await;
        assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "rating.link_invalid"), "{garbage}");
    }
    let r = app.call(Method::GET, &format!("/api/v1/ratings/not-a-number/{token}"), None, None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // The fresh link changes the rating.
    let r = rate(&app, &number, &next, json!({"rating": "bad", "comment": "It flickers again"})).await;
    assert_eq!((r.status, r.body["current"]["rating"].as_str()), (StatusCode::OK, Some("bad")));

    // Staff and the requester see it on the ticket; the other ticket is untouched.
    for who in [&app.admin, &emp] {
        let t = app.get(&format!("/api/v1/tickets/{number}"), who).await;
        assert_eq!(t.body["satisfaction"]["rating"], "bad", "{:?}", t.body);
        assert_eq!(t.body["satisfaction"]["comment"], "It flickers again");
    }
    let t = app.get(&format!("/api/v1/tickets/{other_number}"), &app.admin).await;
    assert!(t.body.get("satisfaction").is_none(), "{:?}", t.body);

    // The report and the export.
    let r = app.get("/api/v1/reports/satisfaction", &app.admin).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!((r.body["overall"]["good"].as_u64(), r.body["overall"]["bad"].as_u64()), (Some(0), Some(1)));
    assert_eq!(r.body["overall"]["score_per_mille"], 0);
    assert_eq!(r.body["response_percent"], 50);
    assert_eq!(r.body["ratings"][0]["comment"], "It flickers again");
    let r = app.get("/api/v1/reports/satisfaction", &emp).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let csv = app.get("/api/v1/reports/tickets.csv?status=resolved", &app.admin).await;
    let text = csv.body.as_str().unwrap();
    assert!(text.lines().next().unwrap().ends_with(",satisfaction,satisfaction_comment,rated_at,tags"), "{text}");
    assert!(text.contains(",bad,It flickers again,"), "{text}");
}

#[tokio::test]
async fn the_page_shows_the_mails_choice_records_on_post_and_offers_a_fresh_link() {
    let app = TestApp::new().await;
    let (_, number, token) = resolved(&app, 1).await;
    let path = format!("/rate/{number}/{token}");

    // Opening the link records nothing; the mail's choice is checked.
    let r = app.call(Method::GET, &format!("{path}?rating=bad"), None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    let page = html(&r);
    assert!(page.contains(r#"value="bad" checked"#), "{page}");
    assert!(page.contains(&format!(r#"action="{path}""#)));
    let t = app.get(&format!("/api/v1/tickets/{number}"), &app.admin).await;
    assert!(t.body.get("satisfaction").is_none());

    // A form from another site is refused and records nothing.
    let r = post_page(&app, &path, "rating=good", "cross-site").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // Without a choice: the form again, the field named, the link unspent.
    let r = post_page(&app, &path, "rating=&comment=Hi", "same-origin").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html(&r).contains("Choose good or bad."), "{}", html(&r));

    let r = post_page(&app, &path, "rating=good&comment=Thanks%20%3Cb%3Eall%3C%2Fb%3E", "same-origin").await;
    assert_eq!(r.status, StatusCode::OK, "{}", html(&r));
    let page = html(&r);
    assert!(page.contains("Thank you") && page.contains("Change my rating"), "{page}");
    assert!(
        page.contains("Thanks &#60;b&#62;all&#60;/b&#62;") || page.contains("Thanks &lt;b&gt;all&lt;/b&gt;"),
        "{page}"
    );
    let fresh = page.split(&format!(r#"action="/rate/{number}/"#)).nth(1).unwrap().split('"').next().unwrap();
    assert_ne!(fresh, token);

    // The used link now says so; the fresh one works.
    let r = post_page(&app, &path, "rating=bad", "same-origin").await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(html(&r).contains("was used already"), "{}", html(&r));
    let r = post_page(&app, &format!("/rate/{number}/{fresh}"), "rating=bad", "same-origin").await;
    assert_eq!(r.status, StatusCode::OK);
    let t = app.get(&format!("/api/v1/tickets/{number}"), &app.admin).await;
    assert_eq!(t.body["satisfaction"]["rating"], "bad");
    assert!(t.body["satisfaction"]["comment"].is_null(), "an empty comment box clears the comment");

    // A broken link says so.
    let r = app.call(Method::GET, &format!("/rate/{number}/garbage"), None, None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(html(&r).contains("not valid"));
}
