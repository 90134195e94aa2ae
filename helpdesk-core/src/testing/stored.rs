//! Stored-format tests: one fixed sample of every record a store persists, and the golden-file
//! check that compares a record's stored form with the one committed beside the test.
//!
//! A model change (a field added, renamed, retyped or moved) changes what sled and PostgreSQL
//! keep on disk. Such a change must come with its schema step: a `SCHEMA_VERSION` bump and an
//! upgrade in `helpdesk-storage-sled` (which keeps rows as serde JSON, tickets as bincode),
//! and for PostgreSQL a migration when a column is derived from the changed field (rows keep
//! the serde JSON in a `doc` column). The golden tests fail until the step is taken and the
//! files are regenerated with `UPDATE_GOLDEN=1`.

use std::path::Path;

use chrono::{DateTime, Duration, NaiveDate, Utc};

use crate::domain::*;
use crate::lifecycle::Action;
use crate::model::*;

fn id(n: u128) -> uuid::Uuid {
    uuid::Uuid::from_u128(0x5eed_0000_0000_4000_8000_0000_0000_0000 | n)
}

fn at(minutes: i64) -> DateTime<Utc> {
    super::fixtures::t0() + Duration::minutes(minutes)
}

/// One fixed sample of every persisted record (fixed ids and times, every optional field set
/// where it can be, so that every field shows in the stored form).
#[derive(Debug, Clone)]
#[allow(missing_docs)]
pub struct StoredSamples {
    pub user: User,
    pub ticket: Ticket,
    pub event: HistoryEvent,
    pub comment: Comment,
    pub attachment: Attachment,
    pub session: Session,
    pub one_time_token: OneTimeToken,
    pub api_key: ApiKey,
    pub audit: AuditEntry,
    pub rejection: RejectionRecord,
    pub outbox: OutboxRecord,
    pub notice: Notice,
}

impl StoredSamples {
    /// The samples.
    ///
    /// # Panics
    /// Never for these fixed inputs (test support).
    #[allow(clippy::unwrap_used)]
    pub fn new() -> Self {
        let user_id = UserId::from_uuid(id(1));
        let ticket_id = TicketId::from_uuid(id(2));
        let comment_id = CommentId::from_uuid(id(3));
        let attachment_id = AttachmentId::from_uuid(id(4));
        let user = User {
            id: user_id,
            email: Email::parse("dana.reyes@example.com").unwrap(),
            password: Some(PasswordHash("$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA".into())),
            first_name: PersonName::parse("first_name", "Dana").unwrap(),
            middle_name: Some(PersonName::parse("middle_name", "Maria").unwrap()),
            last_name: PersonName::parse("last_name", "Reyes").unwrap(),
            suffix: Suffix::parse("Jr.").unwrap(),
            company_id: CompanyId::parse("MA0004", &CompanyIdFormat::default()).unwrap(),
            department: Some(DepartmentKey::parse("it").unwrap()),
            role: Role::Coordinator,
            status: UserStatus::Approved,
            avatar: Some(StorageKey::for_avatar(user_id, 2)),
            must_change_password: false,
            terms_accepted: None,
            created_at: at(0),
            updated_at: at(1),
            version: 3,
        };
        let ticket = Ticket {
            id: ticket_id,
            number: TicketNumber::new(&TicketNumberFormat::default(), 42),
            requester: user_id,
            subject: Subject::parse("VPN drops every hour").unwrap(),
            category: CategoryKey::parse("network").unwrap(),
            sub_category: CategoryKey::parse("vpn").unwrap(),
            description: Description::parse("Since Monday.").unwrap(),
            scheduled_date: NaiveDate::from_ymd_opt(2026, 1, 9),
            priority: Some(Priority::High),
            department: Some(DepartmentKey::parse("it").unwrap()),
            status: TicketStatus::Resolved,
            assignee: Some(user_id),
            created_at: at(0),
            updated_at: at(90),
            first_response_at: Some(at(10)),
            resolved_at: Some(at(90)),
            closed_at: None,
            response_secs: Some(600),
            resolution_secs: Some(5_400),
            rejection_reason: None,
            workflow_linked: true,
            version: 4,
            sla: crate::model::SlaSchedule::default(),
            satisfaction: Some(crate::model::Satisfaction {
                rating: crate::model::Rating::Good,
                comment: Some(crate::domain::Note::parse("Fixed within the hour, thanks.").unwrap()),
                rated_at: at(95),
                ratings: 1,
            }),
            tags: vec![
                crate::domain::Tag::parse_field("tags", "remote-staff").unwrap(),
                crate::domain::Tag::parse_field("tags", "vpn").unwrap(),
            ],
            followers: vec![UserId::from_uuid(id(9))],
            links: vec![
                crate::model::TicketLink {
                    kind: crate::model::LinkKind::DuplicatedBy,
                    ticket: crate::domain::TicketNumber::parse("TX0043").unwrap(),
                },
                crate::model::TicketLink {
                    kind: crate::model::LinkKind::ParentOf,
                    ticket: crate::domain::TicketNumber::parse("TX0050").unwrap(),
                },
            ],
            merged_into: None,
            fields: [
                (
                    crate::domain::FieldKey::parse_field("key", "asset_tag").unwrap(),
                    crate::model::FieldValue::Text("LT-0042".into()),
                ),
                (
                    crate::domain::FieldKey::parse_field("key", "cost").unwrap(),
                    crate::model::FieldValue::Number(crate::model::FieldNumber::from_f64(129.5).unwrap()),
                ),
            ]
            .into(),
        };
        let event = HistoryEvent {
            id: EventId::from_uuid(id(5)),
            ticket: ticket_id,
            at: at(90),
            actor: ActorRef::User { id: user_id },
            kind: EventKind::Action { action: Action::Resolve },
            changes: vec![FieldChange::new("status", Some("in_progress".into()), Some("resolved".into()))],
            note: Some("New VPN profile pushed.".into()),
            internal: false,
            version: 4,
            by_macro: None,
        };
        let comment = Comment {
            id: comment_id,
            ticket: ticket_id,
            author: ActorRef::ExternalSystem { key: ApiKeyId::from_uuid(id(6)), name: "workflow".into() },
            body: CommentBody::parse("Checked the gateway.").unwrap(),
            internal: true,
            created_at: at(30),
        };
        let attachment = Attachment {
            id: attachment_id,
            ticket: ticket_id,
            comment: Some(comment_id),
            internal: true,
            file_name: FileName::sanitize("trace.txt"),
            content_type: "text/plain".into(),
            size: 12,
            sha256: "a".repeat(64),
            key: StorageKey::for_attachment(ticket_id, attachment_id),
            uploaded_by: ActorRef::System,
            created_at: at(31),
        };
        let session = Session {
            id: SessionId::from_uuid(id(7)),
            user: user_id,
            refresh_hash: TokenHash([7; 32]),
            created_at: at(0),
            last_used_at: at(5),
            idle_expires_at: at(5) + Duration::hours(24),
            absolute_expires_at: at(0) + Duration::days(7),
            revoked_at: Some(at(60)),
            address: None,
        };
        let one_time_token = OneTimeToken {
            hash: TokenHash([8; 32]),
            purpose: TokenPurpose::Invitation,
            user: user_id,
            created_at: at(0),
            expires_at: at(0) + Duration::hours(72),
            used_at: Some(at(20)),
        };
        let api_key = ApiKey {
            id: ApiKeyId::from_uuid(id(6)),
            name: "workflow".into(),
            scopes: vec![ApiScope::ReadTickets, ApiScope::PushWorkflow],
            secret_hash: TokenHash([9; 32]),
            created_at: at(0),
            created_by: Some(user_id),
            revoked_at: Some(at(120)),
        };
        let audit = AuditEntry {
            id: AuditId::from_uuid(id(8)),
            at: at(2),
            actor: Some(ActorRef::User { id: user_id }),
            kind: AuditKind::LoginFailed,
            target: Some(user_id.to_string()),
            address: Some("192.0.2.7".into()),
            detail: "wrong password".into(),
        };
        let rejection = RejectionRecord {
            id: RejectionId::from_uuid(id(9)),
            email: Email::parse("someone@example.com").unwrap(),
            first_name: PersonName::parse("first_name", "Sam").unwrap(),
            last_name: PersonName::parse("last_name", "One").unwrap(),
            company_id: CompanyId::parse("MA0009", &CompanyIdFormat::default()).unwrap(),
            department: Some(DepartmentKey::parse("budget").unwrap()),
            reason: Some(Note::parse("Not an employee.").unwrap()),
            rejected_by: user_id,
            rejected_at: at(3),
        };
        let outbox = OutboxRecord {
            message: OutboxMessage {
                id: MessageId::from_uuid(id(10)),
                created_at: at(90),
                payload: OutboxPayload::Mail(Notification {
                    to: Email::parse("dana.reyes@example.com").unwrap(),
                    to_name: "Dana Reyes".into(),
                    language: "en".into(),
                    reply_to: None,
                    kind: NotificationKind::AccountApproved,
                }),
            },
            state: OutboxState::Pending,
            attempts: 2,
            next_attempt_at: at(95),
            last_error: Some("421 try later".into()),
            lease_token: Some(id(11)),
            lease_until: Some(at(96)),
            delivered_at: None,
        };
        let notice = Notice {
            id: NoticeId::from_uuid(id(12)),
            user: user_id,
            ticket: ticket_id,
            number: "TX0042".into(),
            subject: "Laptop screen flickers".into(),
            kind: NoticeKind::StatusChanged { status: TicketStatus::Pending },
            created_at: at(100),
            read_at: Some(at(101)),
        };
        Self {
            user,
            ticket,
            event,
            comment,
            attachment,
            session,
            one_time_token,
            api_key,
            audit,
            rejection,
            outbox,
            notice,
        }
    }

    /// Each sample as its serde JSON (what PostgreSQL keeps in `doc` and sled in its rows),
    /// named by record.
    ///
    /// # Panics
    /// Never: every sample serialises (test support).
    #[allow(clippy::unwrap_used)]
    pub fn as_json(&self) -> Vec<(&'static str, String)> {
        fn json<T: serde::Serialize>(v: &T) -> String {
            serde_json::to_string_pretty(v).unwrap() + "\n"
        }
        vec![
            ("user", json(&self.user)),
            ("ticket", json(&self.ticket)),
            ("history_event", json(&self.event)),
            ("comment", json(&self.comment)),
            ("attachment", json(&self.attachment)),
            ("session", json(&self.session)),
            ("one_time_token", json(&self.one_time_token)),
            ("api_key", json(&self.api_key)),
            ("audit_entry", json(&self.audit)),
            ("rejection_record", json(&self.rejection)),
            ("outbox_record", json(&self.outbox)),
            ("notice", json(&self.notice)),
        ]
    }
}

impl Default for StoredSamples {
    fn default() -> Self {
        Self::new()
    }
}

/// Compares `actual` with the golden file `dir/file`; with `UPDATE_GOLDEN=1` in the
/// environment it writes the file instead. `step` says what a change needs before the file may
/// be regenerated.
///
/// # Panics
/// When they differ (or the file is missing): that is the test failing.
#[allow(clippy::panic)]
pub fn check_golden(dir: &Path, file: &str, actual: &str, step: &str) {
    let path = dir.join(file);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        if let Err(e) = std::fs::create_dir_all(dir).and_then(|()| std::fs::write(&path, actual)) {
            panic!("writing {}: {e}", path.display());
        }
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    if expected != actual {
        panic!(
            "the stored form of `{file}` changed.\n{step}\nThen regenerate the golden files with UPDATE_GOLDEN=1.\n\n--- {}\n{expected}\n+++ now\n{actual}",
            path.display()
        );
    }
}
