//! Snapshot of every mail of SPEC §6, text and HTML, with single-use tokens redacted; user
//! text is escaped in HTML; links come only from the configured public URL.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{TOKEN, every_kind};
use helpdesk_core::domain::Email;
use helpdesk_core::model::Notification;
use helpdesk_mail::{MailSettings, render};

fn settings() -> MailSettings {
    MailSettings {
        from: "Acme Help Desk <helpdesk@acme.example>".into(),
        product_name: "Acme Help Desk".into(),
        public_url: "https://help.acme.example".into(),
        logo_url: Some("https://help.acme.example/logo.png".into()),
    }
}

#[test]
fn every_mail_renders_as_its_snapshot() {
    for kind in every_kind() {
        let name = kind.name();
        let n = Notification {
            to: Email::parse("ana@acme.example").unwrap(),
            to_name: "Ana Cruz".into(),
            language: "en".into(),
            reply_to: None,
            kind,
        };
        let m = render(&settings(), &n);
        for body in [&m.text, &m.html] {
            for url in body.split(['"', ' ', '\n']).filter(|w| w.starts_with("http")) {
                assert!(url.starts_with("https://help.acme.example"), "{name}: link {url} not from the public URL");
            }
        }
        assert!(!m.html.contains("<script>"), "{name}: user text is escaped in HTML");
        let shown = format!("Subject: {}\n\n{}\n----- html -----\n{}", m.subject, m.text, m.html)
            .replace(TOKEN, "[redacted token]");
        insta::assert_snapshot!(name, shown);
    }
}

#[test]
fn a_resolution_mail_asks_for_a_rating_only_with_a_link() {
    use helpdesk_core::model::NotificationKind;
    let with = every_kind().into_iter().find(|k| k.name() == "ticket_resolved").unwrap();
    let NotificationKind::TicketResolved { ticket, note, .. } = with.clone() else { unreachable!() };
    let mail = |kind| {
        render(
            &settings(),
            &Notification {
                to: Email::parse("ana@acme.example").unwrap(),
                to_name: "Ana Cruz".into(),
                language: "en".into(),
                reply_to: None,
                kind,
            },
        )
    };
    let asked = mail(with);
    for answer in ["good", "bad"] {
        let link = format!("https://help.acme.example/rate/TX0042/{TOKEN}?rating={answer}");
        assert!(asked.text.contains(&link), "{answer} link in the text");
        assert!(asked.html.contains(&link), "{answer} link in the HTML");
    }
    let silent = mail(NotificationKind::TicketResolved { ticket, note, rating: None });
    assert!(!silent.text.contains("/rate/") && !silent.html.contains("/rate/"));
}
