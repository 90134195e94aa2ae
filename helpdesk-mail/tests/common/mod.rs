//! Shared by the mail tests: one notification of every kind.

#![allow(dead_code, clippy::unwrap_used)]

use chrono::TimeZone;
use helpdesk_core::domain::TicketStatus;
use helpdesk_core::model::{NotificationKind, RatingMail, SecretToken, SlaAlert, TicketMail};
use helpdesk_core::sla::{TargetKind, TargetState};

pub const TOKEN: &str = "Zq3-live-token-value-9d8f";

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
        NotificationKind::TicketResolved {
            ticket: t.clone(),
            note: "Dock firmware updated.".into(),
            rating: Some(RatingMail { token: SecretToken::new(TOKEN), expires_at: at }),
        },
        NotificationKind::TicketReopened { ticket: t.clone(), reason: "Flickers again".into() },
        NotificationKind::PublicComment {
            ticket: t.clone(),
            author: "Ben Ramos".into(),
            body: "<script>alert(1)</script> done".into(),
        },
        NotificationKind::FollowingStarted { ticket: t.clone(), by: "Ben <Ramos>".into() },
        NotificationKind::FollowedTicketChanged {
            ticket: t.clone(),
            change: helpdesk_core::lifecycle::MailTemplate::Resolved,
            text: "Dock firmware updated.".into(),
        },
        NotificationKind::TicketMerged {
            ticket: TicketMail { number: "TX0041".into(), ..t.clone() },
            into: t.clone(),
            note: "Same dock as TX0042".into(),
        },
        NotificationKind::ServiceLevelAlert {
            ticket: t.clone(),
            alert: SlaAlert {
                target: TargetKind::FirstResponse,
                state: TargetState::Warning,
                due_at: Some(at),
                policy: "standard".into(),
            },
        },
        NotificationKind::ServiceLevelAlert {
            ticket: t,
            alert: SlaAlert {
                target: TargetKind::Resolution,
                state: TargetState::Breached,
                due_at: Some(at),
                policy: "<b>vip</b>".into(),
            },
        },
    ]
}
