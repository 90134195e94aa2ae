//! Snapshot of every mail of SPEC §6, text and HTML, with single-use tokens redacted; user
//! text is escaped in HTML; links come only from the configured public URL.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::TimeZone;
use helpdesk_core::domain::{Email, TicketStatus};
use helpdesk_core::model::{Notification, NotificationKind, SecretToken, TicketMail};
use helpdesk_mail::{MailSettings, render};

fn settings() -> MailSettings {
    MailSettings {
        from: "Acme Help Desk <helpdesk@acme.example>".into(),
        product_name: "Acme Help Desk".into(),
        public_url: "https://help.acme.example".into(),
        logo_url: Some("https://help.acme.example/logo.png".into()),
    }
}

const TOKEN: &str = "Zq3-live-token-value-9d8f";

pub fn every_kind() -> Vec<NotificationKind> {
    let t = TicketMail {
        number: "TX0042".into(),
        subject: "Laptop <screen> flickers & dies".into(),
        status: TicketStatus::Open,
    };
    let at = chrono::Utc.with_ymd_and_hms(2026, 11, 28, 10, 30, 0).unwrap();
    vec![
        NotificationKind::RegistrationReceived,
        NotificationKind::AccountApproved,
        NotificationKind::RegistrationRejected { reason: Some("Not an employee of Acme".into()) },
        NotificationKind::Invitation { token: SecretToken::new(TOKEN), expires_at: at },
        NotificationKind::PasswordReset { token: SecretToken::new(TOKEN), expires_at: at },
        NotificationKind::PasswordChanged,
        NotificationKind::TicketReceived { ticket: t.clone() },
        NotificationKind::TicketApproved { ticket: t.clone() },
        NotificationKind::TicketRejected { ticket: t.clone(), reason: "Duplicate of TX0041".into() },
        NotificationKind::TicketAssigned { ticket: t.clone() },
        NotificationKind::WaitingOnRequester { ticket: t.clone(), comment: "Which dock model?\nA photo helps.".into() },
        NotificationKind::TicketResolved { ticket: t.clone(), note: "Dock firmware updated.".into() },
        NotificationKind::TicketReopened { ticket: t.clone(), reason: "Flickers again".into() },
        NotificationKind::PublicComment {
            ticket: t,
            author: "Ben Ramos".into(),
            body: "<script>alert(1)</script> done".into(),
        },
    ]
}

#[test]
fn every_mail_renders_as_its_snapshot() {
    for kind in every_kind() {
        let name = kind.name();
        let n = Notification {
            to: Email::parse("ana@acme.example").unwrap(),
            to_name: "Ana Cruz".into(),
            language: "en".into(),
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
