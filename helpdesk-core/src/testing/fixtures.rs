//! Record builders for store tests and the conformance suite.

use chrono::{DateTime, Duration, Utc};

use crate::domain::*;
use crate::model::*;

/// A fixed start time: 2026-01-05 09:00 UTC (a Monday).
pub fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-01-05T09:00:00Z").unwrap().with_timezone(&Utc)
}

/// User number `n` (`user<n>@example.com`, company id `MA<n>`), at `t0 + n seconds`.
pub fn user(n: u32, role: Role, status: UserStatus) -> User {
    let at = t0() + Duration::seconds(i64::from(n));
    User {
        id: UserId::random(),
        email: Email::parse(&format!("user{n}@example.com")).unwrap(),
        password: Some(PasswordHash("$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA".into())),
        first_name: PersonName::parse("first_name", &format!("First{n}")).unwrap(),
        middle_name: None,
        last_name: PersonName::parse("last_name", &format!("Last{n}")).unwrap(),
        suffix: None,
        company_id: CompanyId::from_number(u64::from(n), &CompanyIdFormat::default()).unwrap(),
        department: Some(DepartmentKey::parse(["it", "asset", "budget"][n as usize % 3]).unwrap()),
        role,
        status,
        avatar: None,
        must_change_password: false,
        terms_accepted: None,
        created_at: at,
        updated_at: at,
        version: 1,
    }
}

/// A new ticket with sequence `seq` by `requester`, created at `at`.
pub fn ticket(seq: u64, requester: UserId, at: DateTime<Utc>) -> Ticket {
    Ticket {
        id: TicketId::random(),
        number: TicketNumber::new(&TicketNumberFormat::default(), seq),
        requester,
        subject: Subject::parse(&format!("Ticket {seq}")).unwrap(),
        category: CategoryKey::parse("hardware").unwrap(),
        sub_category: CategoryKey::parse("laptop").unwrap(),
        description: Description::parse(&format!("Description of ticket {seq}")).unwrap(),
        scheduled_date: None,
        priority: None,
        department: Some(DepartmentKey::parse("it").unwrap()),
        status: TicketStatus::New,
        assignee: None,
        created_at: at,
        updated_at: at,
        first_response_at: None,
        resolved_at: None,
        closed_at: None,
        response_secs: None,
        resolution_secs: None,
        rejection_reason: None,
        workflow_linked: false,
        version: 1,
        sla: crate::model::SlaSchedule::default(),
        satisfaction: None,
        tags: Vec::new(),
        followers: Vec::new(),
        links: Vec::new(),
        merged_into: None,
        fields: Default::default(),
    }
}

/// A history event of `ticket` producing `version`.
pub fn event(ticket: &Ticket, at: DateTime<Utc>) -> HistoryEvent {
    HistoryEvent {
        id: EventId::random(),
        ticket: ticket.id,
        at,
        actor: ActorRef::User { id: ticket.requester },
        kind: EventKind::Edited,
        changes: vec![FieldChange::new("subject", None, Some(ticket.subject.to_string()))],
        note: None,
        internal: false,
        version: ticket.version,
        by_macro: None,
    }
}

/// A mail message enqueued at `at`.
pub fn mail(at: DateTime<Utc>) -> OutboxMessage {
    OutboxMessage {
        id: MessageId::random(),
        created_at: at,
        payload: OutboxPayload::Mail(Notification {
            to: Email::parse("someone@example.com").unwrap(),
            to_name: "Someone".into(),
            language: "en".into(),
            reply_to: None,
            kind: NotificationKind::AccountApproved,
        }),
    }
}

/// A password-reset mail (sensitive) enqueued at `at`.
pub fn reset_mail(at: DateTime<Utc>) -> OutboxMessage {
    OutboxMessage {
        id: MessageId::random(),
        created_at: at,
        payload: OutboxPayload::Mail(Notification {
            to: Email::parse("someone@example.com").unwrap(),
            to_name: "Someone".into(),
            language: "en".into(),
            reply_to: None,
            kind: NotificationKind::PasswordReset {
                token: SecretToken::new("secret-token"),
                expires_at: at + Duration::minutes(30),
            },
        }),
    }
}

/// A session of `user` created at `at` whose refresh token is `secret`.
pub fn session(user: UserId, secret: &str, at: DateTime<Utc>) -> Session {
    Session {
        id: SessionId::random(),
        user,
        refresh_hash: TokenHash::of(secret),
        created_at: at,
        last_used_at: at,
        idle_expires_at: at + Duration::hours(24),
        absolute_expires_at: at + Duration::days(7),
        revoked_at: None,
        address: None,
    }
}

/// An audit entry at `at`.
pub fn audit(at: DateTime<Utc>, kind: AuditKind) -> AuditEntry {
    AuditEntry { id: AuditId::random(), at, actor: None, kind, target: None, address: None, detail: "test".into() }
}
