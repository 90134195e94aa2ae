//! `SmtpMailer` against a real SMTP server (aiosmtpd, started per test): every kind of mail
//! arrives with our Message-ID; a permanent refusal and an unreachable server are told apart.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use helpdesk_core::domain::{Email, MessageId};
use helpdesk_core::model::Notification;
use helpdesk_core::ports::{DeliveryError, Mailer};
use helpdesk_mail::testing::{Behaviour, SmtpServer, free_port, smtp_missing, wait_for};
use helpdesk_mail::{MailSettings, SmtpMailer};

fn notification(kind: helpdesk_core::model::NotificationKind) -> Notification {
    Notification {
        to: Email::parse("ana@example.com").unwrap(),
        to_name: "Ana Cruz".into(),
        language: "en".into(),
        reply_to: None,
        kind,
    }
}

fn mailer(url: &str) -> SmtpMailer {
    SmtpMailer::from_url(url, MailSettings::default(), Duration::from_secs(5)).unwrap()
}

#[tokio::test]
async fn every_kind_of_mail_reaches_a_real_smtp_server() {
    if let Some(why) = smtp_missing() {
        helpdesk_core::testing::skip("every_kind_of_mail_reaches_a_real_smtp_server", &why);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = SmtpServer::start(free_port(), Behaviour::Accept, dir.path());
    let m = mailer(&server.url());
    m.check().await.unwrap();
    let mut ids = Vec::new();
    for kind in common::every_kind() {
        let id = MessageId::random();
        m.send(id, &notification(kind)).await.unwrap();
        ids.push(id);
    }
    let got = wait_for(dir.path(), Duration::from_secs(10), |g| g.len() >= ids.len()).await;
    assert_eq!(got.len(), ids.len());
    for id in ids {
        assert!(got.iter().any(|m| m.contains(&format!("Message-ID: <{id}@localhost>"))), "{id} missing");
    }
    assert!(got.iter().all(|m| m.contains("To: \"Ana Cruz\" <ana@example.com>") && m.contains("text/html")));
}

#[tokio::test]
async fn refusals_are_permanent_and_an_unreachable_server_is_transient() {
    if let Some(why) = smtp_missing() {
        helpdesk_core::testing::skip("refusals_are_permanent_and_an_unreachable_server_is_transient", &why);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let n = notification(helpdesk_core::model::NotificationKind::AccountApproved);
    let reject = SmtpServer::start(free_port(), Behaviour::RejectPermanently, dir.path());
    let e = mailer(&reject.url()).send(MessageId::random(), &n).await.unwrap_err();
    assert!(matches!(e, DeliveryError::Permanent(_)), "{e:?}");
    let later = SmtpServer::start(free_port(), Behaviour::RejectTemporarily, dir.path());
    let e = mailer(&later.url()).send(MessageId::random(), &n).await.unwrap_err();
    assert!(matches!(e, DeliveryError::Transient(_)), "{e:?}");
    let started = Instant::now();
    let e = mailer(&format!("smtp://127.0.0.1:{}", free_port())).send(MessageId::random(), &n).await.unwrap_err();
    assert!(matches!(e, DeliveryError::Transient(_)), "{e:?}");
    assert!(started.elapsed() < Duration::from_secs(5), "a refused connection fails fast");
}
