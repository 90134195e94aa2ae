//! Mail in through the use case, on the in-memory store: a corpus of messages shaped like the
//! ones mail programs send (Gmail, Outlook, Thunderbird replies; HTML only; nested multiparts;
//! 8-bit and encoded headers; an attachment bomb; a spoofed sender; an auto-reply; a bounce),
//! and the rules they meet: threading by the signed reply address and by our Message-IDs (never
//! by the subject alone), proof of the sender, loops and floods, duplicates, held messages and
//! their confirmation, failures that an admin runs again.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use helpdesk_core::domain::TicketNumber;
use helpdesk_core::model::{
    HoldReason, IgnoreReason, InboundChannel, InboundOutcome, NotificationKind, OutboxPayload, Ticket,
};
use helpdesk_core::policy::Principal;
use helpdesk_core::testing::{InMemoryStore, ManualClock};
use helpdesk_core::{Error, HelpDesk, HelpDeskOptions, IngestReceipt, LinkKey, NewTicket};

const MX: &str = "mx.desk.example";

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

struct Desk {
    desk: HelpDesk,
    store: Arc<InMemoryStore>,
    clock: Arc<ManualClock>,
    admin: Principal,
    emp: Principal,
    coord: Principal,
}

async fn desk() -> Desk {
    use helpdesk_core::password::{Argon2Hasher, Argon2Options, Password};
    use helpdesk_core::{BootstrapAdmin, LoginRequest, Registration};

    let clock = ManualClock::new(at("2026-06-01T08:00:00Z"));
    let mut options = HelpDeskOptions::default();
    options.mail_in.address = Some("support@desk.example".into());
    options.mail_in.own_addresses = vec!["helpdesk@desk.example".into()];
    options.mail_in.message_id_domain = "desk.example".into();
    options.mail_in.trusted_authserv_ids = vec![MX.into()];
    options.mail_in.link_key = Some(LinkKey::derive_for(b"a test secret that is long enough!", "mail in"));
    options.mail_in.per_sender_per_hour = 5;
    let store = Arc::new(InMemoryStore::new());
    let desk = HelpDesk::builder(store.clone(), Arc::new(object_store::memory::InMemory::new()))
        .clock(clock.clone())
        .hasher(Arc::new(Argon2Hasher::new(Argon2Options::insecure_fast_for_tests()).unwrap()))
        .options(options)
        .build()
        .unwrap();
    let pw = "harbor-lantern-quartz-71";
    desk.ensure_admin(BootstrapAdmin {
        email: "admin@example.com".into(),
        password: Some(Password::new(pw)),
        first_name: "Ada".into(),
        last_name: "Admin".into(),
    })
    .await
    .unwrap();
    let login = |email: &str| LoginRequest { email: email.into(), password: Password::new(pw), address: None };
    let s = desk.login(login("admin@example.com")).await.unwrap();
    let admin = desk.authenticate_session(s.session.id).await.unwrap().0;
    let mut people = Vec::new();
    for (n, email) in ["ana@example.com", "ben@example.com", "cy@example.com"].iter().enumerate() {
        let u = desk
            .register(
                &Principal::Anonymous,
                Registration {
                    email: (*email).into(),
                    password: Password::new(pw),
                    first_name: ["Ana", "Ben", "Cy"][n].into(),
                    middle_name: None,
                    last_name: "Cruz".into(),
                    suffix: None,
                    company_id: format!("MA010{n}"),
                    department: Some("it".into()),
                    accepted_terms: None,
                    avatar: None,
                },
            )
            .await
            .unwrap();
        desk.approve_user(&admin, u.id, None).await.unwrap();
        if n == 1 {
            desk.change_role(&admin, u.id, Some(helpdesk_core::domain::Role::Coordinator), None, None).await.unwrap();
        }
        let s = desk.login(login(email)).await.unwrap();
        people.push(desk.authenticate_session(s.session.id).await.unwrap().0);
    }
    let coord = people.remove(1);
    let emp = people.remove(0);
    Desk { desk, store, clock, admin, emp, coord }
}

async fn ingest(d: &Desk, raw: &str) -> IngestReceipt {
    d.desk.ingest_mail(&Principal::System, raw.as_bytes(), InboundChannel::Pipe).await.unwrap()
}

fn authenticated(from_domain: &str) -> String {
    format!(
        "Authentication-Results: {MX}; spf=pass smtp.mailfrom={from_domain}; dkim=pass header.d={from_domain}; dmarc=pass header.from={from_domain}\r\n"
    )
}

/// A new ticket by mail, vouched for by the trusted MTA.
fn new_ticket_mail(id: &str, subject: &str, body: &str) -> String {
    format!(
        "{}From: Ana Cruz <ana@example.com>\r\nTo: support@desk.example\r\nSubject: {subject}\r\nMessage-ID: <{id}@mail.example.com>\r\nDate: Mon, 1 Jun 2026 08:00:00 +0000\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n",
        authenticated("example.com")
    )
}

async fn filed(d: &Desk) -> Ticket {
    d.desk
        .create_ticket(
            &d.emp,
            NewTicket {
                subject: "Dock broken".into(),
                category: "hardware".into(),
                sub_category: "peripheral".into(),
                description: "It flickers.".into(),
                scheduled_date: None,
                fields: Default::default(),
            },
            None,
        )
        .await
        .unwrap()
}

/// The reply address the latest mail to `to` about a ticket carried.
fn reply_address(d: &Desk, to: &str) -> String {
    d.store
        .outbox_records()
        .into_iter()
        .rev()
        .find_map(|r| match r.message.payload {
            OutboxPayload::Mail(n) if n.to.as_str() == to && n.kind.ticket().is_some() => n.reply_to,
            _ => None,
        })
        .expect("a ticket mail with a reply address")
}

fn number(outcome: &InboundOutcome) -> TicketNumber {
    match outcome {
        InboundOutcome::Ticket { number } | InboundOutcome::Comment { number } => number.clone(),
        other => panic!("not a ticket or comment: {other:?}"),
    }
}

#[tokio::test]
async fn an_authenticated_message_from_an_approved_user_opens_a_ticket_once() {
    let d = desk().await;
    let raw = new_ticket_mail("n1", "=?UTF-8?Q?Dr=C3=BCcker_kaputt?=", "The printer on floor 2 jams.");
    let r = ingest(&d, &raw).await;
    assert!(!r.duplicate);
    let n = number(&r.outcome);
    assert!(matches!(r.outcome, InboundOutcome::Ticket { .. }));
    let view = d.desk.ticket(&d.emp, &n).await.unwrap();
    assert_eq!(view.ticket.subject.as_str(), "Drücker kaputt");
    assert_eq!(view.ticket.description.as_str(), "The printer on floor 2 jams.");
    // The same message again (an MTA's retry): recognised, nothing new.
    let again = ingest(&d, &raw).await;
    assert!(again.duplicate);
    assert_eq!(again.id, r.id);
    let all = d.desk.list_inbound(&d.admin, None, None, 50).await.unwrap();
    assert_eq!(all.len(), 1);
    // The requester was told, and the mail carries a reply address signed for them.
    let reply = reply_address(&d, "ana@example.com");
    assert!(reply.starts_with("support+") && reply.ends_with("@desk.example"), "{reply}");
}

#[tokio::test]
async fn a_reply_to_the_signed_address_becomes_the_requesters_comment_without_the_quote() {
    let d = desk().await;
    let t = filed(&d).await;
    let reply_to = reply_address(&d, "ana@example.com");
    // Gmail-shaped: multipart/alternative, quoted history below "On … wrote:"; no DMARC at all:
    // the signed address given to this very user is the proof.
    let raw = format!(
        "From: Ana Cruz <ana@example.com>\r\nTo: {reply_to}\r\nSubject: Re: [{n}] Dock broken\r\nMessage-ID: <g1@mail.gmail.com>\r\n\
In-Reply-To: <ticket.{n}@desk.example>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n\
--b1\r\nContent-Type: text/plain; charset=\"UTF-8\"\r\n\r\nIt still flickers after the update.\r\n\r\n\
On Mon, 1 Jun 2026 at 08:00, Help Desk <support@desk.example> wrote:\r\n> We received your ticket.\r\n\r\n\
--b1\r\nContent-Type: text/html; charset=\"UTF-8\"\r\n\r\n<div>It still flickers after the update.</div><blockquote>We received your ticket.</blockquote>\r\n--b1--\r\n",
        n = t.number
    );
    let r = ingest(&d, &raw).await;
    assert_eq!(r.outcome, InboundOutcome::Comment { number: t.number.clone() });
    let comments = d.desk.comments(&d.coord, &t.number).await.unwrap();
    let last = comments.last().unwrap();
    assert_eq!(last.body.as_str(), "It still flickers after the update.");
    assert!(!last.internal);
    // Something was cut, so the whole message is attached.
    let files = d.desk.attachments(&d.coord, &t.number).await.unwrap();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].content_type, "message/rfc822");
    assert_eq!(files[0].comment, Some(last.id));
}

#[tokio::test]
async fn the_reply_address_proves_its_own_recipient_for_its_own_ticket_only() {
    let d = desk().await;
    let t = filed(&d).await;
    let ana_address = reply_address(&d, "ana@example.com");
    // Cy (another employee) writes to Ana's address: not the recipient, not proven.
    let raw = format!(
        "From: cy@example.com\r\nTo: {ana_address}\r\nSubject: Re: {}\r\nMessage-ID: <c1@example.com>\r\n\r\nMe too\r\n",
        t.number
    );
    assert_eq!(ingest(&d, &raw).await.outcome, InboundOutcome::Held { reason: HoldReason::SenderUnproven });
    // Cy with DMARC, but not a participant of Ana's ticket.
    let raw = format!(
        "{}From: cy@example.com\r\nTo: {ana_address}\r\nSubject: Re\r\nMessage-ID: <c2@example.com>\r\n\r\nMe too\r\n",
        authenticated("example.com")
    );
    assert_eq!(ingest(&d, &raw).await.outcome, InboundOutcome::Held { reason: HoldReason::NotAParticipant });
    // A forged token is no address of ours at all: an unproven new message.
    let forged = ana_address.replacen("support+a", "support+b", 1).replacen("support+b", "support+c", 1);
    let raw = format!(
        "From: ana@example.com\r\nTo: {forged}\r\nSubject: Re: [{}]\r\nMessage-ID: <f1@example.com>\r\n\r\nhi\r\n",
        t.number
    );
    assert_eq!(ingest(&d, &raw).await.outcome, InboundOutcome::Held { reason: HoldReason::SenderUnproven });
}

#[tokio::test]
async fn the_subject_tag_alone_never_threads_and_references_to_our_messages_do() {
    let d = desk().await;
    let t = filed(&d).await;
    // Outlook-shaped, authenticated, only the subject names the ticket: a new ticket.
    let raw = format!(
        "{}From: \"Cruz, Ana\" <ana@example.com>\r\nTo: support@desk.example\r\nSubject: RE: [{}] Dock broken\r\n\
Message-ID: <o1@EXCH.example.com>\r\nThread-Topic: Dock broken\r\nContent-Type: text/plain; charset=\"iso-8859-1\"\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\r\nCaf=E9 dock is fine now.\r\n\r\n________________________________\r\n\
From: Help Desk <support@desk.example>\r\nSent: Monday, June 1, 2026 8:00 AM\r\n\r\nWe received your ticket.\r\n",
        authenticated("example.com"),
        t.number
    );
    let r = ingest(&d, &raw).await;
    let n = number(&r.outcome);
    assert!(matches!(r.outcome, InboundOutcome::Ticket { .. }));
    assert_ne!(n, t.number);
    let v = d.desk.ticket(&d.emp, &n).await.unwrap();
    assert!(v.ticket.description.as_str().starts_with("Café dock is fine now."), "{}", v.ticket.description.as_str());
    // Thunderbird-shaped, authenticated, References names our thread root: a comment.
    let raw = format!(
        "{}From: Ana Cruz <ana@example.com>\r\nTo: support@desk.example\r\nSubject: Re: Dock broken\r\n\
Message-ID: <tb1@example.com>\r\nReferences: <other@example.com> <ticket.{}@desk.example>\r\n\
Content-Type: text/plain; charset=UTF-8; format=flowed\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\
Grüße, it works.\r\n\r\nOn 01/06/2026 08:00, Help Desk wrote:\r\n> Resolved.\r\n",
        authenticated("example.com"),
        t.number
    );
    assert_eq!(ingest(&d, &raw).await.outcome, InboundOutcome::Comment { number: t.number.clone() });
    let comments = d.desk.comments(&d.emp, &t.number).await.unwrap();
    assert_eq!(comments.last().unwrap().body.as_str(), "Grüße, it works.");
}

#[tokio::test]
async fn a_spoofed_sender_is_held_and_told_and_confirming_files_it_once() {
    let d = desk().await;
    // Claims to be Ana, with a header the sender wrote itself (not the trusted MTA's).
    let raw = "Authentication-Results: evil.example; dmarc=pass header.from=example.com\r\n\
From: ana@example.com\r\nTo: support@desk.example\r\nSubject: Please reset the CEO's password\r\n\
Message-ID: <spoof1@evil.example>\r\n\r\nThanks\r\n";
    let r = ingest(&d, raw).await;
    assert_eq!(r.outcome, InboundOutcome::Held { reason: HoldReason::SenderUnproven });
    let held = d.desk.list_inbound(&d.admin, Some("held"), None, 10).await.unwrap();
    assert_eq!(held.len(), 1);
    // The real Ana is told, with a link.
    let (id, token) = d
        .store
        .outbox_records()
        .into_iter()
        .find_map(|r| match r.message.payload {
            OutboxPayload::Mail(n) => match n.kind {
                NotificationKind::MailHeld { confirm: Some(c), .. } if n.to.as_str() == "ana@example.com" => {
                    Some((c.id, c.token.expose().to_owned()))
                }
                _ => None,
            },
            _ => None,
        })
        .expect("a hold mail with a confirmation link");
    assert_eq!(id, r.id);
    // A tampered link is refused; the real one files the ticket; using it again is refused.
    let mut bad = token.clone().into_bytes();
    bad[3] = if bad[3] == b'A' { b'B' } else { b'A' };
    assert!(matches!(d.desk.confirm_inbound(id, &String::from_utf8(bad).unwrap()).await, Err(Error::Forbidden(_))));
    let done = d.desk.confirm_inbound(id, &token).await.unwrap();
    assert!(matches!(done.outcome, InboundOutcome::Ticket { .. }));
    assert!(matches!(d.desk.confirm_inbound(id, &token).await, Err(Error::Conflict(_))));
    let rec = d.desk.list_inbound(&d.admin, None, None, 10).await.unwrap();
    assert_eq!(rec.len(), 1);
    assert_eq!(rec[0].attempts, 2);
}

#[tokio::test]
async fn a_confirmation_link_expires() {
    let d = desk().await;
    let raw =
        "From: ana@example.com\r\nTo: support@desk.example\r\nSubject: x\r\nMessage-ID: <e1@example.com>\r\n\r\nx\r\n";
    let r = ingest(&d, raw).await;
    let token = d
        .store
        .outbox_records()
        .into_iter()
        .find_map(|r| match r.message.payload {
            OutboxPayload::Mail(n) => match n.kind {
                NotificationKind::MailHeld { confirm: Some(c), .. } => Some(c.token.expose().to_owned()),
                _ => None,
            },
            _ => None,
        })
        .unwrap();
    d.clock.advance(Duration::days(3) + Duration::seconds(1));
    assert!(matches!(d.desk.confirm_inbound(r.id, &token).await, Err(Error::Conflict(_))));
}

#[tokio::test]
async fn loops_and_floods_are_recorded_and_never_answered() {
    let d = desk().await;
    let before = d.store.outbox_records().len();
    let cases = [
        (
            "From: ana@example.com\r\nSubject: Out of office\r\nAuto-Submitted: auto-replied\r\nMessage-ID: <oof@example.com>\r\n\r\nAway\r\n",
            IgnoreReason::AutoSubmitted,
        ),
        (
            "From: ana@example.com\r\nSubject: Newsletter\r\nPrecedence: bulk\r\nMessage-ID: <nl@example.com>\r\n\r\nNews\r\n",
            IgnoreReason::Bulk,
        ),
        (
            "From: helpdesk@desk.example\r\nSubject: TX0001 received\r\nMessage-ID: <loop@other.example>\r\n\r\nWe received\r\n",
            IgnoreReason::OwnAddress,
        ),
        (
            "From: ana@example.com\r\nSubject: ours\r\nMessage-ID: <0b3c@desk.example>\r\n\r\nx\r\n",
            IgnoreReason::OwnMessage,
        ),
    ];
    for (raw, reason) in cases {
        assert_eq!(ingest(&d, raw).await.outcome, InboundOutcome::Ignored { reason, failed_recipient: None }, "{raw}");
    }
    // A bounce of one of our mails: recorded with the failing recipient, no ticket, no answer.
    let bounce = "From: MAILER-DAEMON@mx.example.com\r\nTo: helpdesk@desk.example\r\nSubject: Undelivered Mail Returned to Sender\r\n\
Message-ID: <b1@mx.example.com>\r\nAuto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"r\"\r\n\r\n\
--r\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n\
--r\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.com\r\n\r\n\
Final-Recipient: rfc822; gone@example.com\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n\
--r\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: helpdesk@desk.example\r\nTo: gone@example.com\r\n\
Message-ID: <6a1f@desk.example>\r\nSubject: TX0001 received\r\n\r\n--r--\r\n";
    assert_eq!(
        ingest(&d, bounce).await.outcome,
        InboundOutcome::Ignored { reason: IgnoreReason::Bounce, failed_recipient: Some("gone@example.com".into()) }
    );
    assert_eq!(d.store.outbox_records().len(), before, "nothing answered");
    let audit = d
        .desk
        .audit_log(
            &d.admin,
            &helpdesk_core::ports::AuditQuery {
                kind: Some(helpdesk_core::model::AuditKind::MailBounced),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(audit.items.len(), 1);
    assert!(audit.items[0].detail.contains("6a1f@desk.example"), "{:?}", audit.items[0]);
    // A flood: past the hourly limit, the sender's messages are held (and they are told once).
    for i in 0..7 {
        let raw = new_ticket_mail(&format!("flood{i}"), "again", "again");
        let r = ingest(&d, &raw).await;
        if i < 5 {
            assert!(matches!(r.outcome, InboundOutcome::Ticket { .. }), "{i}: {:?}", r.outcome);
        } else {
            assert_eq!(r.outcome, InboundOutcome::Held { reason: HoldReason::TooMany }, "{i}");
        }
    }
    let told = d
        .store
        .outbox_records()
        .into_iter()
        .filter(|r| matches!(&r.message.payload, OutboxPayload::Mail(n) if matches!(n.kind, NotificationKind::MailHeld { .. })))
        .count();
    assert_eq!(told, 1);
    // The next hour, the sender is welcome again.
    d.clock.advance(Duration::hours(1));
    let r = ingest(&d, &new_ticket_mail("flood-later", "later", "later")).await;
    assert!(matches!(r.outcome, InboundOutcome::Ticket { .. }));
}

#[tokio::test]
async fn an_unknown_sender_is_held_and_an_admin_runs_it_again_once_approved() {
    let d = desk().await;
    let raw = format!(
        "{}From: new@example.com\r\nTo: support@desk.example\r\nSubject: Access\r\nMessage-ID: <u1@example.com>\r\n\r\nPlease\r\n",
        authenticated("example.com")
    );
    let r = ingest(&d, &raw).await;
    assert_eq!(r.outcome, InboundOutcome::Held { reason: HoldReason::UnknownSender });
    assert!(matches!(d.desk.rerun_inbound(&d.emp, r.id).await, Err(Error::Forbidden(_))));
    let again = d.desk.rerun_inbound(&d.admin, r.id).await.unwrap();
    assert_eq!(again.outcome, InboundOutcome::Held { reason: HoldReason::UnknownSender });
    let (record, raw_back) = d.desk.inbound_message(&d.admin, r.id).await.unwrap();
    assert_eq!(raw_back, raw.as_bytes());
    assert_eq!(record.attempts, 2);
}

#[tokio::test]
async fn attachments_follow_the_upload_rules_and_a_bomb_is_cut_to_the_limits() {
    let d = desk().await;
    let png = {
        let mut v = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        v.extend_from_slice(&[0u8; 64]);
        v
    };
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(&png);
    let html = base64::engine::general_purpose::STANDARD.encode(b"<html><script>alert(1)</script></html>");
    let mut parts = String::new();
    // An inline image in a related part, an HTML file disguised as a PDF, winmail.dat, and 30
    // more images: the ticket takes 10 files at most.
    parts.push_str(&format!(
        "--m\r\nContent-Type: multipart/related; boundary=\"rel\"\r\n\r\n--rel\r\nContent-Type: text/html; charset=utf-8\r\n\r\n\
<p>See <img src=\"cid:i1\"></p>\r\n--rel\r\nContent-Type: image/png\r\nContent-ID: <i1>\r\nContent-Disposition: inline; filename=\"shot.png\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\n{b64}\r\n--rel--\r\n"
    ));
    parts.push_str(&format!(
        "--m\r\nContent-Type: application/pdf; name=\"invoice.pdf\"\r\nContent-Disposition: attachment; filename=\"invoice.pdf\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\n{html}\r\n"
    ));
    parts.push_str("--m\r\nContent-Type: application/ms-tnef; name=\"winmail.dat\"\r\nContent-Transfer-Encoding: base64\r\n\r\neJ8+IgEAAQ==\r\n");
    for i in 0..30 {
        parts.push_str(&format!(
            "--m\r\nContent-Type: image/png\r\nContent-Disposition: attachment; filename=\"../../etc/p{i}.png\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{b64}\r\n"
        ));
    }
    let raw = format!(
        "{}From: ana@example.com\r\nTo: support@desk.example\r\nSubject: Files\r\nMessage-ID: <bomb@example.com>\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"m\"\r\n\r\n{parts}--m--\r\n",
        authenticated("example.com")
    );
    let r = ingest(&d, &raw).await;
    let n = number(&r.outcome);
    let files = d.desk.attachments(&d.emp, &n).await.unwrap();
    assert_eq!(files.len(), 10, "{files:?}");
    assert!(files.iter().all(|f| f.content_type == "image/png"));
    assert!(files.iter().any(|f| f.file_name.as_str() == "shot.png"));
    assert!(files.iter().all(|f| !f.file_name.as_str().contains('/')));
    let v = d.desk.ticket(&d.emp, &n).await.unwrap();
    let text = v.ticket.description.as_str();
    assert!(text.contains("invoice.pdf (type not accepted)"), "{text}");
    assert!(text.contains("winmail.dat (type not accepted)"), "{text}");
    assert!(text.contains("too many files on the ticket"), "{text}");
}

#[tokio::test]
async fn html_only_mail_becomes_plain_text_and_staff_replies_are_public() {
    let d = desk().await;
    let t = filed(&d).await;
    let raw = format!(
        "{}From: Ben <ben@example.com>\r\nTo: support@desk.example\r\nSubject: Re\r\nMessage-ID: <h1@example.com>\r\n\
In-Reply-To: <ticket.{}@desk.example>\r\nContent-Type: text/html; charset=utf-8\r\n\r\n\
<html><body><p>Please restart <b>the dock</b>.</p><script>steal()</script></body></html>\r\n",
        authenticated("example.com"),
        t.number
    );
    let r = ingest(&d, &raw).await;
    assert_eq!(r.outcome, InboundOutcome::Comment { number: t.number.clone() });
    let c = d.desk.comments(&d.emp, &t.number).await.unwrap();
    let body = c.last().unwrap().body.as_str().to_owned();
    assert!(body.contains("Please restart the dock."), "{body}");
    assert!(!body.contains('<') && !body.contains("steal"), "{body}");
    assert!(!c.last().unwrap().internal);
}

#[tokio::test]
async fn a_reply_to_a_closed_ticket_opens_a_follow_up_and_a_gone_ticket_fails_for_an_admin() {
    let d = desk().await;
    let t = filed(&d).await;
    let reply_to = reply_address(&d, "ana@example.com");
    d.desk
        .act(
            &d.coord,
            &t.number,
            helpdesk_core::lifecycle::Action::Reject,
            helpdesk_core::ActionRequest::text("dup"),
            None,
        )
        .await
        .unwrap();
    let raw = format!(
        "From: ana@example.com\r\nTo: {reply_to}\r\nSubject: Re\r\nMessage-ID: <late@example.com>\r\n\r\nWhy?\r\n"
    );
    let r = ingest(&d, &raw).await;
    let n = number(&r.outcome);
    assert!(matches!(r.outcome, InboundOutcome::Ticket { .. }));
    let v = d.desk.ticket(&d.emp, &n).await.unwrap();
    assert!(v.ticket.description.as_str().starts_with(&format!("Follow-up to {}", t.number)));
    // A reference to a ticket that does not exist: failed, listed, kept.
    let raw = format!(
        "{}From: ana@example.com\r\nTo: support@desk.example\r\nSubject: Re\r\nMessage-ID: <gone@example.com>\r\n\
In-Reply-To: <ticket.TX9999@desk.example>\r\n\r\nHello?\r\n",
        authenticated("example.com")
    );
    let r = ingest(&d, &raw).await;
    assert!(matches!(&r.outcome, InboundOutcome::Failed { error } if error.contains("TX9999")), "{:?}", r.outcome);
    assert_eq!(d.desk.list_inbound(&d.admin, Some("failed"), None, 10).await.unwrap().len(), 1);
}

#[tokio::test]
async fn refusals_name_the_reason_and_record_nothing() {
    let d = desk().await;
    assert!(matches!(
        d.desk.ingest_mail(&d.emp, b"From: a@b.c\r\n\r\nx", InboundChannel::Http).await,
        Err(Error::Forbidden(_))
    ));
    assert!(matches!(
        d.desk.ingest_mail(&Principal::System, b"", InboundChannel::Pipe).await,
        Err(Error::Validation(_))
    ));
    let huge = format!("From: a@b.c\r\n\r\n{}", "x".repeat(26 * 1024 * 1024));
    assert!(matches!(
        d.desk.ingest_mail(&Principal::System, huge.as_bytes(), InboundChannel::Pipe).await,
        Err(Error::TooLarge(_))
    ));
    assert!(d.desk.list_inbound(&d.admin, None, None, 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn two_deliveries_at_once_store_one_message() {
    let d = desk().await;
    let raw = new_ticket_mail("race", "Race", "Twice at once");
    let (a, b) = tokio::join!(
        d.desk.ingest_mail(&Principal::System, raw.as_bytes(), InboundChannel::Imap),
        d.desk.ingest_mail(&Principal::System, raw.as_bytes(), InboundChannel::Imap)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.id, b.id);
    assert!(a.duplicate != b.duplicate, "{a:?} {b:?}");
    let list = d.desk.list_tickets(&d.admin, &helpdesk_core::ports::TicketQuery::default()).await.unwrap();
    assert_eq!(list.items.iter().filter(|t| t.subject.as_str() == "Race").count(), 1);
}
