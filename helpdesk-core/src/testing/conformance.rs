//! The storage conformance suite: scenario functions that any [`Store`] passes.
//!
//! Run them all with one call in the adapter's tests:
//!
//! ```
//! use std::sync::Arc;
//! use helpdesk_core::ports::Store;
//! use helpdesk_core::testing::InMemoryStore;
//!
//! // In `tests/conformance.rs` of a store crate: one #[tokio::test] per scenario.
//! helpdesk_core::store_conformance!(async { Arc::new(InMemoryStore::new()) as Arc<dyn Store> });
//! # fn main() {}
//! ```
//!
//! The factory expression is evaluated once per test, so each test gets a fresh store.
//! The calling crate needs `tokio` (with `macros` and `rt-multi-thread`) as a dev-dependency.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use super::fixtures::*;
use crate::domain::*;
use crate::model::*;
use crate::ports::*;
use crate::report::{DurationStats, ReportRange};

/// Every scenario, by name (the macro expands one test per name).
pub const SCENARIOS: &[&str] = &[
    "ticket_create_get_update",
    "ticket_list_filters_and_paging",
    "ticket_numbers_unique_under_concurrency",
    "unit_of_work_is_atomic",
    "users_unique_lookup_and_paging",
    "user_rejection_audit",
    "outbox_claim_ack_retry_dead",
    "outbox_concurrent_claims_never_overlap",
    "sessions_rotation_and_reuse",
    "sessions_concurrent_rotation",
    "one_time_tokens_single_use",
    "idempotency_keys",
    "throttle_counters",
    "api_keys",
    "audit_log_paging",
    "history_comments_attachments",
    "report_figures",
    "resolved_before_and_purge",
    "notices_per_user",
    "untrusted_text_is_handled_alike",
    "archive_port",
    "sla_alert_moments",
    "sla_settings_versions",
    "settings_documents_are_independent",
    "satisfaction_ratings",
    "inbound_messages",
    "linked_tickets_commit_together",
];

/// Expands one `#[tokio::test]` per conformance scenario, each with a fresh store from
/// `$factory` (an async expression yielding `Arc<dyn Store>`).
///
/// With `skip_unless: $reason`, an expression yielding `Option<String>`, each test first
/// evaluates it and, when it is `Some(why)`, skips loudly through
/// [`skip`](crate::testing::skip) (which fails instead when `HELPDESK_REQUIRE_SERVICES` is set,
/// as in CI).
#[macro_export]
macro_rules! store_conformance {
    (skip_unless: $reason:expr, $factory:expr) => {
        $crate::store_conformance!(@each_skip $reason, $factory;
            ticket_create_get_update, ticket_list_filters_and_paging, ticket_numbers_unique_under_concurrency,
            unit_of_work_is_atomic, users_unique_lookup_and_paging, user_rejection_audit, outbox_claim_ack_retry_dead,
            outbox_concurrent_claims_never_overlap, sessions_rotation_and_reuse, sessions_concurrent_rotation,
            one_time_tokens_single_use, idempotency_keys, throttle_counters, api_keys, audit_log_paging,
            history_comments_attachments, report_figures, resolved_before_and_purge, notices_per_user,
            untrusted_text_is_handled_alike, archive_port, sla_alert_moments, sla_settings_versions,
            settings_documents_are_independent, satisfaction_ratings, inbound_messages,
            linked_tickets_commit_together);
    };
    (@each_skip $reason:expr, $factory:expr; $($name:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                if let Some(why) = $reason {
                    $crate::testing::skip(stringify!($name), &why);
                    return;
                }
                let store: ::std::sync::Arc<dyn $crate::ports::Store> = $factory.await;
                $crate::testing::conformance::$name(store).await;
            }
        )+
    };
    ($factory:expr) => {
        $crate::store_conformance!(@each $factory;
            ticket_create_get_update, ticket_list_filters_and_paging, ticket_numbers_unique_under_concurrency,
            unit_of_work_is_atomic, users_unique_lookup_and_paging, user_rejection_audit, outbox_claim_ack_retry_dead,
            outbox_concurrent_claims_never_overlap, sessions_rotation_and_reuse, sessions_concurrent_rotation,
            one_time_tokens_single_use, idempotency_keys, throttle_counters, api_keys, audit_log_paging,
            history_comments_attachments, report_figures, resolved_before_and_purge, notices_per_user,
            untrusted_text_is_handled_alike, archive_port, sla_alert_moments, sla_settings_versions,
            settings_documents_are_independent, satisfaction_ratings, inbound_messages,
            linked_tickets_commit_together);
    };
    (@each $factory:expr; $($name:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let store: ::std::sync::Arc<dyn $crate::ports::Store> = $factory.await;
                $crate::testing::conformance::$name(store).await;
            }
        )+
    };
}

async fn insert_user(store: &Arc<dyn Store>, u: &User) {
    let mut uow = UnitOfWork::new();
    uow.users.push(Versioned::insert(u.clone()));
    store.commit(uow).await.unwrap();
}

async fn insert_ticket(store: &Arc<dyn Store>, t: &Ticket) {
    let mut uow = UnitOfWork::new();
    uow.tickets.push(Versioned::insert(t.clone()));
    uow.events.push(event(t, t.created_at));
    store.commit(uow).await.unwrap();
}

/// Create, read by id and number, update at the right version, refuse stale versions,
/// missing rows and duplicate numbers.
pub async fn ticket_create_get_update(store: Arc<dyn Store>) {
    let u = user(1, Role::Employee, UserStatus::Approved);
    insert_user(&store, &u).await;
    let t = ticket(1, u.id, t0());
    insert_ticket(&store, &t).await;
    assert_eq!(store.ticket(t.id).await.unwrap().as_ref(), Some(&t));
    assert_eq!(store.ticket_by_number(&t.number).await.unwrap().as_ref(), Some(&t));
    assert_eq!(store.ticket_by_number(&TicketNumber::parse("TX9999").unwrap()).await.unwrap(), None);

    let mut t2 = t.clone();
    t2.subject = Subject::parse("Changed").unwrap();
    t2.priority = Some(Priority::High);
    t2.version = 2;
    t2.updated_at = t0() + Duration::minutes(1);
    let mut uow = UnitOfWork::new();
    uow.tickets.push(Versioned::update(t2.clone(), 1));
    store.commit(uow).await.unwrap();
    assert_eq!(store.ticket(t.id).await.unwrap(), Some(t2.clone()));

    // A stale version is refused and changes nothing.
    let mut stale = t.clone();
    stale.subject = Subject::parse("Lost update").unwrap();
    stale.version = 2;
    let mut uow = UnitOfWork::new();
    uow.tickets.push(Versioned::update(stale, 1));
    match store.commit(uow).await {
        Err(StoreError::VersionMismatch { expected: 1, found: 2 }) => {}
        other => panic!("expected a version mismatch, got {other:?}"),
    }
    assert_eq!(store.ticket(t.id).await.unwrap(), Some(t2));

    // Updating a missing ticket.
    let ghost = ticket(77, u.id, t0());
    let mut uow = UnitOfWork::new();
    uow.tickets.push(Versioned::update(ghost, 1));
    assert!(matches!(store.commit(uow).await, Err(StoreError::NotFound { .. })));

    // A duplicate number.
    let dup = ticket(1, u.id, t0());
    let mut uow = UnitOfWork::new();
    uow.tickets.push(Versioned::insert(dup));
    assert!(matches!(store.commit(uow).await, Err(StoreError::AlreadyExists { .. })));
}

/// Two tickets changed in one unit of work (a link kept on both, a merge): followers, links and
/// the merge pointer come back as written, and a stale version on either ticket writes neither
/// (nor the comment copied with them).
pub async fn linked_tickets_commit_together(store: Arc<dyn Store>) {
    let u = user(1, Role::Employee, UserStatus::Approved);
    let f = user(2, Role::Employee, UserStatus::Approved);
    insert_user(&store, &u).await;
    insert_user(&store, &f).await;
    let (a, b) = (ticket(1, u.id, t0()), ticket(2, u.id, t0() + Duration::minutes(1)));
    insert_ticket(&store, &a).await;
    insert_ticket(&store, &b).await;
    let mut a2 = a.clone();
    a2.links = vec![TicketLink { kind: LinkKind::DuplicateOf, ticket: b.number.clone() }];
    a2.merged_into = Some(b.number.clone());
    a2.status = TicketStatus::Closed;
    a2.version = 2;
    let mut b2 = b.clone();
    b2.links = vec![TicketLink { kind: LinkKind::DuplicatedBy, ticket: a.number.clone() }];
    b2.followers = vec![f.id];
    b2.version = 2;
    let copied = Comment {
        id: CommentId::random(),
        ticket: b.id,
        author: ActorRef::User { id: u.id },
        body: CommentBody::parse("moved along").unwrap(),
        internal: false,
        created_at: t0(),
    };
    // Stale on the second ticket: nothing at all is written.
    let mut uow = UnitOfWork::new();
    uow.tickets.push(Versioned::update(b2.clone(), 1));
    uow.tickets.push(Versioned::update(a2.clone(), 7));
    uow.comments.push(copied.clone());
    assert!(matches!(store.commit(uow).await, Err(StoreError::VersionMismatch { .. })));
    assert_eq!(store.ticket(a.id).await.unwrap(), Some(a.clone()));
    assert_eq!(store.ticket(b.id).await.unwrap(), Some(b.clone()));
    assert!(store.comments(b.id).await.unwrap().is_empty());
    // Both at their versions: both written, with the comment.
    let mut uow = UnitOfWork::new();
    uow.tickets.push(Versioned::update(b2.clone(), 1));
    uow.tickets.push(Versioned::update(a2.clone(), 1));
    uow.comments.push(copied.clone());
    store.commit(uow).await.unwrap();
    assert_eq!(store.ticket_by_number(&a.number).await.unwrap(), Some(a2));
    assert_eq!(store.ticket(b.id).await.unwrap(), Some(b2));
    assert_eq!(store.comments(b.id).await.unwrap(), vec![copied]);
}

/// Every filter, every sort in both directions, paging with a stable order and no repeats.
pub async fn ticket_list_filters_and_paging(store: Arc<dyn Store>) {
    let a = user(1, Role::Employee, UserStatus::Approved);
    let b = user(2, Role::Employee, UserStatus::Approved);
    let staff = user(3, Role::Coordinator, UserStatus::Approved);
    for u in [&a, &b, &staff] {
        insert_user(&store, u).await;
    }
    let depts = ["it", "asset", "budget"];
    let cats = [("hardware", "laptop"), ("asset", "transfer"), ("budget", "purchase")];
    let statuses =
        [TicketStatus::New, TicketStatus::Open, TicketStatus::InProgress, TicketStatus::Resolved, TicketStatus::Closed];
    let mut all = Vec::new();
    for i in 0..37u64 {
        let requester = if i % 3 == 0 { b.id } else { a.id };
        // Several tickets share a creation time so the id tie-break matters.
        let mut t = ticket(i + 1, requester, t0() + Duration::minutes((i / 2) as i64));
        t.status = statuses[i as usize % statuses.len()];
        t.priority = if i % 4 == 0 { None } else { Some(Priority::ALL[i as usize % 4]) };
        t.department = Some(DepartmentKey::parse(depts[i as usize % 3]).unwrap());
        let (c, s) = cats[(i as usize / 2) % 3];
        t.category = CategoryKey::parse(c).unwrap();
        t.sub_category = CategoryKey::parse(s).unwrap();
        t.assignee = (i % 5 == 1).then_some(staff.id);
        t.updated_at = t.created_at + Duration::seconds(((i * 7919) % 97) as i64);
        if i % 6 == 0 {
            t.subject = Subject::parse(&format!("Printer JAMMED again #{i}")).unwrap();
        }
        if i % 10 == 3 {
            t.description = Description::parse("the VPN drops every hour").unwrap();
        }
        // Tags: some carry `vip`, some `printer`, a few both.
        let mut tags = Vec::new();
        if i % 4 == 1 {
            tags.push(Tag::parse_field("tags", "vip").unwrap());
        }
        if i % 3 == 0 {
            tags.push(Tag::parse_field("tags", "printer").unwrap());
        }
        tags.sort();
        t.tags = tags;
        // Followers: `b` follows some of `a`'s tickets, staff some tickets of both.
        if i % 5 == 2 && requester == a.id {
            t.followers.push(b.id);
        }
        if i % 7 == 3 {
            t.followers.push(staff.id);
        }
        t.followers.sort();
        // Custom fields: a choice, a number (negative and fractional too, some repeats), a
        // date, a checkbox and a multiple choice; most tickets lack some.
        use crate::model::{FieldNumber, FieldValue};
        let key = |s: &str| crate::domain::FieldKey::parse_field("key", s).unwrap();
        if i % 3 != 1 {
            t.fields.insert(key("site"), FieldValue::Text(["Lisbon", "Berlin", "Osaka"][i as usize % 3].into()));
        }
        if i % 4 != 3 {
            let n = ((i as f64) * 12.25 - 100.0).round() / 4.0;
            t.fields.insert(key("cost"), FieldValue::Number(FieldNumber::from_f64(n % 37.5).unwrap()));
        }
        if i % 2 == 0 {
            let d = chrono::NaiveDate::from_ymd_opt(2026, 1 + (i % 12) as u32, 1 + (i % 28) as u32).unwrap();
            t.fields.insert(key("needed_by"), FieldValue::Text(d.format("%Y-%m-%d").to_string()));
        }
        if i % 5 != 4 {
            t.fields.insert(key("vip"), FieldValue::Flag(i % 2 == 1));
        }
        if i % 3 == 2 {
            let os = if i % 2 == 0 { vec!["linux".into(), "mac".into()] } else { vec!["linux".into()] };
            t.fields.insert(key("os"), FieldValue::List(os));
        }
        // Two tickets in three have a running target; due times repeat (the id breaks ties).
        if i % 3 != 2 {
            let due = t0() + Duration::hours(((i * 37) % 11) as i64);
            t.sla = SlaSchedule { due_at: Some(due), warn_at: Some(due - Duration::hours(1)), alerts: vec![due] };
        }
        insert_ticket(&store, &t).await;
        all.push(t);
    }
    let mk = |f: &dyn Fn(&mut TicketQuery)| {
        let mut q = TicketQuery { limit: PageSize::new(7).unwrap(), ..TicketQuery::default() };
        f(&mut q);
        q
    };
    let queries = vec![
        mk(&|_| {}),
        mk(&|q| q.statuses = vec![TicketStatus::New, TicketStatus::Resolved]),
        mk(&|q| q.priorities = vec![Priority::High]),
        mk(&|q| q.departments = vec![DepartmentKey::parse("asset").unwrap()]),
        mk(&|q| q.categories = vec![CategoryKey::parse("budget").unwrap()]),
        mk(&|q| q.assignee = Some(AssigneeFilter::User(staff.id))),
        mk(&|q| q.assignee = Some(AssigneeFilter::Nobody)),
        mk(&|q| q.requester = Some(b.id)),
        mk(&|q| q.created_from = Some(t0() + Duration::minutes(5))),
        mk(&|q| q.created_to = Some(t0() + Duration::minutes(9))),
        mk(&|q| q.text = Some("jammed".into())),
        mk(&|q| q.text = Some("vpn DROPS".into())),
        mk(&|q| {
            q.statuses = vec![TicketStatus::Open, TicketStatus::InProgress];
            q.requester = Some(a.id);
            q.departments = vec![DepartmentKey::parse("it").unwrap(), DepartmentKey::parse("budget").unwrap()];
        }),
        mk(&|q| q.tags_any = vec![Tag::parse_field("tags", "vip").unwrap()]),
        mk(&|q| {
            q.tags_any = vec![Tag::parse_field("tags", "vip").unwrap(), Tag::parse_field("tags", "printer").unwrap()]
        }),
        mk(&|q| {
            q.tags_all = vec![Tag::parse_field("tags", "vip").unwrap(), Tag::parse_field("tags", "printer").unwrap()]
        }),
        mk(&|q| {
            q.tags_all = vec![Tag::parse_field("tags", "printer").unwrap()];
            q.statuses = vec![TicketStatus::New, TicketStatus::Closed];
        }),
        mk(&|q| q.tags_any = vec![Tag::parse_field("tags", "nobody-has-this").unwrap()]),
        mk(&|q| q.follower = Some(b.id)),
        mk(&|q| {
            q.follower = Some(staff.id);
            q.statuses = vec![TicketStatus::New, TicketStatus::Resolved];
        }),
        mk(&|q| {
            q.follower = Some(staff.id);
            q.requester = Some(b.id);
        }),
        mk(&|q| q.follower = Some(UserId::from_uuid(uuid::Uuid::from_u128(999)))),
        mk(&|q| q.fields = vec![field_filter("site", FieldValue::Text("Berlin".into()))]),
        mk(&|q| {
            q.fields = vec![
                field_filter("site", FieldValue::Text("Lisbon".into())),
                field_filter("vip", FieldValue::Flag(false)),
            ];
            q.tags_any = vec![Tag::parse_field("tags", "printer").unwrap()];
        }),
        mk(&|q| q.fields = vec![field_filter("os", FieldValue::List(vec!["mac".into()]))]),
        mk(&|q| q.fields = vec![field_filter("os", FieldValue::List(vec!["linux".into(), "mac".into()]))]),
        mk(&|q| {
            q.fields =
                vec![field_filter("cost", FieldValue::Number(crate::model::FieldNumber::from_f64(-25.0).unwrap()))]
        }),
        mk(&|q| {
            q.fields = vec![field_filter("site", FieldValue::Text("Osaka".into()))];
            q.statuses = vec![TicketStatus::New, TicketStatus::Closed, TicketStatus::Open];
        }),
        mk(&|q| q.fields = vec![field_filter("site", FieldValue::Text("Nowhere".into()))]),
        mk(&|q| q.fields = vec![field_filter("unknown_field", FieldValue::Flag(true))]),
        mk(&|q| q.due_before = Some(t0() + Duration::hours(5))),
        mk(&|q| {
            q.due_before = Some(t0() + Duration::hours(8));
            q.statuses = vec![TicketStatus::New, TicketStatus::InProgress];
        }),
    ];
    let sorts: Vec<TicketSort> = [
        TicketSortField::Created,
        TicketSortField::Updated,
        TicketSortField::Priority,
        TicketSortField::Number,
        TicketSortField::Due,
        TicketSortField::Field(crate::domain::FieldKey::parse_field("key", "cost").unwrap()),
        TicketSortField::Field(crate::domain::FieldKey::parse_field("key", "needed_by").unwrap()),
        TicketSortField::Field(crate::domain::FieldKey::parse_field("key", "vip").unwrap()),
    ]
    .into_iter()
    .flat_map(|field| [SortDirection::Asc, SortDirection::Desc].map(|direction| TicketSort { field, direction }))
    .collect();
    for base in &queries {
        // Counts per status: the filters apply, the status filter does not.
        let counting = base.for_counting();
        let want = TicketQuery::tally(all.iter().filter(|t| counting.matches(t)));
        assert_eq!(store.ticket_counts(base).await.unwrap(), want, "counts of {base:?}");
        for sort in &sorts {
            let mut q = base.clone();
            q.sort = *sort;
            assert_pages(&store, &all, q).await;
        }
    }
    // The custom field orders follow changes: a value changed, a value removed, a value
    // added, a tag added (the terms a sorted page may walk).
    let key = |s: &str| crate::domain::FieldKey::parse_field("key", s).unwrap();
    for (i, change) in [0usize, 5, 7, 10].into_iter().enumerate() {
        let mut t = all[change].clone();
        match i {
            0 => {
                t.fields.insert(key("cost"), FieldValue::Number(FieldNumber::from_f64(1000.0).unwrap()));
            }
            1 => {
                t.fields.remove(&key("cost"));
            }
            2 => {
                t.fields.insert(key("needed_by"), FieldValue::Text("1969-07-20".into()));
            }
            _ => t.tags.push(Tag::parse_field("tags", "vip").unwrap()),
        }
        t.version += 1;
        let mut uow = UnitOfWork::new();
        uow.tickets.push(Versioned::update(t.clone(), t.version - 1));
        store.commit(uow).await.unwrap();
        all[change] = t;
    }
    // The counts follow changes of everything they are counted by: a status, an assignee
    // (given and taken), a priority (set and cleared), a department, a category, a tag
    // removed, a field value changed.
    for (i, change) in [1usize, 2, 6, 8, 11, 12, 13, 15, 16].into_iter().enumerate() {
        let mut t = all[change].clone();
        match i {
            0 => t.status = TicketStatus::Closed,
            1 => t.assignee = Some(staff.id),
            2 => t.assignee = None,
            3 => t.priority = Some(Priority::Critical),
            4 => t.priority = None,
            5 => t.department = Some(DepartmentKey::parse("budget").unwrap()),
            6 => t.category = CategoryKey::parse("budget").unwrap(),
            7 => t.tags.clear(),
            _ => {
                t.fields.insert(key("site"), FieldValue::Text("Berlin".into()));
                t.status = TicketStatus::InProgress;
            }
        }
        t.version += 1;
        let mut uow = UnitOfWork::new();
        uow.tickets.push(Versioned::update(t.clone(), t.version - 1));
        store.commit(uow).await.unwrap();
        all[change] = t;
    }
    for base in &queries {
        let counting = base.for_counting();
        let want = TicketQuery::tally(all.iter().filter(|t| counting.matches(t)));
        assert_eq!(store.ticket_counts(base).await.unwrap(), want, "counts of {base:?} after changes");
    }
    for base in [
        mk(&|_| {}),
        mk(&|q| q.tags_any = vec![Tag::parse_field("tags", "vip").unwrap()]),
        mk(&|q| q.statuses = vec![TicketStatus::New, TicketStatus::Resolved]),
    ] {
        for sort in sorts.iter().filter(|s| matches!(s.field, TicketSortField::Field(_))) {
            let mut q = base.clone();
            q.sort = *sort;
            assert_pages(&store, &all, q).await;
        }
    }
}

/// Pages through `q` to the end and checks that the store lists exactly the tickets of `all`
/// that pass it, in the order of its sort.
async fn assert_pages(store: &Arc<dyn Store>, all: &[Ticket], mut q: TicketQuery) {
    let mut want: Vec<&Ticket> = all.iter().filter(|t| q.matches(t)).collect();
    want.sort_by(|x, y| q.sort.compare(x, y));
    let want: Vec<TicketId> = want.into_iter().map(|t| t.id).collect();
    let (base, mut got, mut pages) = (q.clone(), Vec::new(), 0);
    loop {
        let page = store.list_tickets(&q).await.unwrap();
        assert!(page.items.len() <= q.limit.get());
        got.extend(page.items.iter().map(|t| t.id));
        pages += 1;
        assert!(pages < 50, "paging does not end");
        match page.next {
            Some(c) => q.cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(got, want, "query {base:?}");
}

/// A filter on the custom field `key`.
fn field_filter(key: &str, value: crate::model::FieldValue) -> crate::model::FieldFilter {
    crate::model::FieldFilter { key: crate::domain::FieldKey::parse_field("key", key).unwrap(), value }
}

/// Numbers from concurrent allocations are unique and dense.
pub async fn ticket_numbers_unique_under_concurrency(store: Arc<dyn Store>) {
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut v = Vec::new();
            for _ in 0..50 {
                v.push(s.allocate_ticket_number().await.unwrap());
            }
            v
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let set: HashSet<u64> = all.iter().copied().collect();
    assert_eq!(set.len(), 400, "duplicate ticket numbers");
    let (min, max) = (*set.iter().min().unwrap(), *set.iter().max().unwrap());
    assert!(min >= 1);
    assert_eq!(max - min + 1, 400, "numbers jump");
    // Later allocations continue after, never reuse.
    assert!(store.allocate_ticket_number().await.unwrap() > max);
}

/// A failing unit of work writes nothing: not its ticket, events, comments, outbox messages,
/// audit entries or token use.
pub async fn unit_of_work_is_atomic(store: Arc<dyn Store>) {
    let u = user(1, Role::Employee, UserStatus::Approved);
    insert_user(&store, &u).await;
    let existing = ticket(1, u.id, t0());
    insert_ticket(&store, &existing).await;
    let token = OneTimeToken {
        hash: TokenHash::of("tok"),
        purpose: TokenPurpose::PasswordReset,
        user: u.id,
        created_at: t0(),
        expires_at: t0() + Duration::minutes(30),
        used_at: None,
    };
    let mut uow = UnitOfWork::new();
    uow.new_tokens.push(token.clone());
    store.commit(uow).await.unwrap();

    let fresh = ticket(2, u.id, t0());
    let mut stale = existing.clone();
    stale.version = 5;
    let mut uow = UnitOfWork::new();
    uow.tickets.push(Versioned::insert(fresh.clone()));
    uow.tickets.push(Versioned::update(stale, 4));
    uow.events.push(event(&fresh, t0()));
    uow.comments.push(Comment {
        id: CommentId::random(),
        ticket: fresh.id,
        author: ActorRef::System,
        body: CommentBody::parse("hi").unwrap(),
        internal: false,
        created_at: t0(),
    });
    uow.outbox.push(mail(t0()));
    uow.audit.push(audit(t0(), AuditKind::LoginFailed));
    uow.consume_token = Some((token.hash, t0()));
    assert!(store.commit(uow).await.is_err());
    assert_eq!(store.ticket(fresh.id).await.unwrap(), None);
    assert!(store.history(fresh.id).await.unwrap().is_empty());
    assert!(store.comments(fresh.id).await.unwrap().is_empty());
    assert_eq!(store.next_outbox_due().await.unwrap(), None);
    assert!(store.list_audit(&AuditQuery::default()).await.unwrap().items.is_empty());
    assert_eq!(store.one_time_token(&token.hash).await.unwrap().unwrap().used_at, None);

    // The same change at the right version commits everything together.
    let mut ok = existing.clone();
    ok.version = 2;
    let mut uow = UnitOfWork::new();
    uow.tickets.push(Versioned::insert(fresh.clone()));
    uow.tickets.push(Versioned::update(ok, 1));
    uow.events.push(event(&fresh, t0()));
    uow.outbox.push(mail(t0()));
    uow.audit.push(audit(t0(), AuditKind::LoginFailed));
    store.commit(uow).await.unwrap();
    assert!(store.ticket(fresh.id).await.unwrap().is_some());
    assert_eq!(store.history(fresh.id).await.unwrap().len(), 1);
    assert_eq!(store.next_outbox_due().await.unwrap(), Some(t0()));
    assert_eq!(store.list_audit(&AuditQuery::default()).await.unwrap().items.len(), 1);
}

/// Unique email (case-insensitive) and company id, lookups, updates, filters and paging.
pub async fn users_unique_lookup_and_paging(store: Arc<dyn Store>) {
    let mut users = Vec::new();
    for n in 1..=23 {
        let role = [Role::Employee, Role::Coordinator, Role::Admin][n as usize % 3];
        let status = [UserStatus::Approved, UserStatus::Pending, UserStatus::Deactivated][(n as usize / 3) % 3];
        let u = user(n, role, status);
        insert_user(&store, &u).await;
        users.push(u);
    }
    assert_eq!(store.user_count().await.unwrap(), 23);
    let first = &users[0];
    assert_eq!(store.user(first.id).await.unwrap().as_ref(), Some(first));
    assert_eq!(store.user_by_email(&Email::parse("USER1@Example.com").unwrap()).await.unwrap().as_ref(), Some(first));
    assert_eq!(store.user_by_company_id(&first.company_id).await.unwrap().as_ref(), Some(first));

    let mut dup = user(1, Role::Employee, UserStatus::Pending);
    dup.company_id = CompanyId::from_number(999, &CompanyIdFormat::default()).unwrap();
    let mut uow = UnitOfWork::new();
    uow.users.push(Versioned::insert(dup));
    assert!(matches!(store.commit(uow).await, Err(StoreError::AlreadyExists { what: "email" })));
    let mut dup = user(500, Role::Employee, UserStatus::Pending);
    dup.company_id = first.company_id.clone();
    let mut uow = UnitOfWork::new();
    uow.users.push(Versioned::insert(dup));
    assert!(matches!(store.commit(uow).await, Err(StoreError::AlreadyExists { what: "company_id" })));

    // Update with version check.
    let mut changed = first.clone();
    changed.role = Role::Admin;
    changed.version = 2;
    let mut uow = UnitOfWork::new();
    uow.users.push(Versioned::update(changed.clone(), 1));
    store.commit(uow).await.unwrap();
    let mut uow = UnitOfWork::new();
    uow.users.push(Versioned::update(changed.clone(), 1));
    assert!(matches!(store.commit(uow).await, Err(StoreError::VersionMismatch { .. })));
    users[0] = changed;

    let queries = [
        UserQuery { limit: PageSize::new(4).unwrap(), ..UserQuery::default() },
        UserQuery { role: Some(Role::Coordinator), limit: PageSize::new(2).unwrap(), ..UserQuery::default() },
        UserQuery { status: Some(UserStatus::Pending), limit: PageSize::new(3).unwrap(), ..UserQuery::default() },
        UserQuery {
            department: Some(DepartmentKey::parse("asset").unwrap()),
            limit: PageSize::new(3).unwrap(),
            ..UserQuery::default()
        },
        UserQuery { text: Some("LAST1".into()), limit: PageSize::new(3).unwrap(), ..UserQuery::default() },
        UserQuery { text: Some("ma0007".into()), ..UserQuery::default() },
    ];
    for base in queries {
        let mut want: Vec<&User> = users.iter().filter(|u| base.selects(u)).collect();
        want.sort_by_key(|u| std::cmp::Reverse((u.created_at, u.id.as_uuid())));
        let want: Vec<UserId> = want.into_iter().map(|u| u.id).collect();
        let mut q = base.clone();
        let mut got = Vec::new();
        loop {
            let page = store.list_users(&q).await.unwrap();
            got.extend(page.items.iter().map(|u| u.id));
            match page.next {
                Some(c) => q.cursor = Some(c),
                None => break,
            }
        }
        assert_eq!(got, want, "{base:?}");
    }
}

/// Deleting a rejected user frees the email and company id and keeps the audit record.
pub async fn user_rejection_audit(store: Arc<dyn Store>) {
    let admin = user(1, Role::Admin, UserStatus::Approved);
    let pending = user(2, Role::Employee, UserStatus::Pending);
    insert_user(&store, &admin).await;
    insert_user(&store, &pending).await;
    let mut records = Vec::new();
    for i in 0..5 {
        records.push(RejectionRecord {
            id: RejectionId::random(),
            email: Email::parse(&format!("gone{i}@example.com")).unwrap(),
            first_name: pending.first_name.clone(),
            last_name: pending.last_name.clone(),
            company_id: pending.company_id.clone(),
            department: pending.department.clone(),
            reason: (i % 2 == 0).then(|| Note::parse("incomplete").unwrap()),
            rejected_by: admin.id,
            rejected_at: t0() + Duration::minutes(i),
        });
    }
    // A delete at a stale version fails.
    let mut uow = UnitOfWork::new();
    uow.deleted_users.push((pending.id, 9));
    uow.rejections.push(records[0].clone());
    assert!(matches!(store.commit(uow).await, Err(StoreError::VersionMismatch { .. })));
    assert_eq!(store.rejection_count().await.unwrap(), 0);

    let mut uow = UnitOfWork::new();
    uow.deleted_users.push((pending.id, 1));
    uow.rejections.extend(records.iter().cloned());
    store.commit(uow).await.unwrap();
    assert_eq!(store.user(pending.id).await.unwrap(), None);
    assert_eq!(store.user_by_email(&pending.email).await.unwrap(), None);
    assert_eq!(store.rejection_count().await.unwrap(), 5);
    // The same email and company id may register again.
    insert_user(&store, &user(2, Role::Employee, UserStatus::Pending)).await;

    let mut got = Vec::new();
    let mut cursor = None;
    loop {
        let page = store.rejections(cursor, PageSize::new(2).unwrap()).await.unwrap();
        got.extend(page.items);
        match page.next {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    records.reverse();
    assert_eq!(got, records);
}

/// Claim under a lease, acknowledge only with it, retry later, die, be retried by an admin;
/// sensitive payloads are cleared on delivery.
pub async fn outbox_claim_ack_retry_dead(store: Arc<dyn Store>) {
    let now = t0();
    let (m1, m2, m3) = (mail(now), reset_mail(now + Duration::seconds(1)), mail(now + Duration::seconds(2)));
    let mut uow = UnitOfWork::new();
    uow.outbox.extend([m1.clone(), m2.clone(), m3.clone()]);
    store.commit(uow).await.unwrap();
    assert_eq!(store.next_outbox_due().await.unwrap(), Some(now));

    let lease = Lease { token: uuid::Uuid::new_v4(), until: now + Duration::seconds(60) };
    let claimed = store.claim_outbox(now + Duration::seconds(5), 10, lease).await.unwrap();
    assert_eq!(claimed.len(), 3);
    assert!(claimed.iter().all(|r| r.attempts == 1 && r.lease_token == Some(lease.token)));
    // Leased messages are not claimed again.
    let other = Lease { token: uuid::Uuid::new_v4(), until: now + Duration::seconds(70) };
    assert!(store.claim_outbox(now + Duration::seconds(6), 10, other).await.unwrap().is_empty());
    // Only the lease holder may acknowledge.
    assert!(matches!(store.ack_outbox(m1.id, other.token, now).await, Err(StoreError::Conflict { .. })));
    store.ack_outbox(m1.id, lease.token, now + Duration::seconds(7)).await.unwrap();
    store.ack_outbox(m2.id, lease.token, now + Duration::seconds(7)).await.unwrap();
    let delivered = store.outbox_message(m2.id).await.unwrap().unwrap();
    assert_eq!(delivered.state, OutboxState::Delivered);
    assert_eq!(delivered.message.payload, OutboxPayload::Redacted, "a reset link outlived its delivery");
    assert!(matches!(store.outbox_message(m1.id).await.unwrap().unwrap().message.payload, OutboxPayload::Mail(_)));

    // A failure schedules a retry; not due before its time.
    let retry_at = now + Duration::seconds(30);
    store
        .fail_outbox(m3.id, lease.token, DeliveryFailure { error: "421 try later".into(), retry_at: Some(retry_at) })
        .await
        .unwrap();
    assert_eq!(store.next_outbox_due().await.unwrap(), Some(retry_at));
    let l2 = Lease { token: uuid::Uuid::new_v4(), until: now + Duration::seconds(100) };
    assert!(store.claim_outbox(now + Duration::seconds(29), 10, l2).await.unwrap().is_empty());
    let again = store.claim_outbox(retry_at, 10, l2).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempts, 2);
    assert_eq!(again[0].last_error.as_deref(), Some("421 try later"));
    // An expired lease lets another dispatcher take over; the old holder can no longer ack.
    let l3 = Lease { token: uuid::Uuid::new_v4(), until: now + Duration::seconds(500) };
    let taken = store.claim_outbox(now + Duration::seconds(101), 10, l3).await.unwrap();
    assert_eq!(taken.len(), 1);
    assert!(matches!(store.ack_outbox(m3.id, l2.token, now).await, Err(StoreError::Conflict { .. })));
    store
        .fail_outbox(m3.id, l3.token, DeliveryFailure { error: "550 no such user".into(), retry_at: None })
        .await
        .unwrap();
    let dead = store.list_outbox(OutboxState::Dead, None, PageSize::default()).await.unwrap();
    assert_eq!(dead.items.len(), 1);
    assert_eq!(dead.items[0].message.id, m3.id);
    assert_eq!(store.next_outbox_due().await.unwrap(), None);
    assert!(matches!(store.retry_outbox(m1.id, now).await, Err(StoreError::Conflict { .. })));
    store.retry_outbox(m3.id, now + Duration::seconds(600)).await.unwrap();
    let r = store.outbox_message(m3.id).await.unwrap().unwrap();
    assert_eq!((r.state, r.attempts), (OutboxState::Pending, 0));
    assert_eq!(store.list_outbox(OutboxState::Delivered, None, PageSize::default()).await.unwrap().items.len(), 2);

    // An id is enqueued once: the same message again is refused whole, and the delivered one
    // stays delivered (a caller deriving ids gets exactly-once enqueueing from this).
    let fresh = mail(now + Duration::seconds(3));
    let again = UnitOfWork { outbox: vec![fresh.clone(), m1.clone()], ..UnitOfWork::new() };
    assert!(matches!(store.commit(again).await, Err(StoreError::AlreadyExists { .. })));
    assert!(store.outbox_message(fresh.id).await.unwrap().is_none(), "half of a refused unit of work was written");
    assert_eq!(store.outbox_message(m1.id).await.unwrap().unwrap().state, OutboxState::Delivered);
}

/// The archive port: every token listed, the ticket-number counter read and raised (never
/// lowered), outbox records imported with their states (a delivered or dead one is never
/// claimed, a pending one is, at its due time), leases dropped, id clashes refused whole.
pub async fn archive_port(store: Arc<dyn Store>) {
    let now = t0();
    assert!(store.one_time_tokens().await.unwrap().is_empty());
    let u = user(1, Role::Employee, UserStatus::Approved);
    let token = |secret: &str, used: bool| OneTimeToken {
        hash: TokenHash::of(secret),
        purpose: TokenPurpose::PasswordReset,
        user: u.id,
        created_at: now,
        expires_at: now + Duration::minutes(30),
        used_at: used.then_some(now + Duration::minutes(1)),
    };
    let tokens = vec![token("one", false), token("two", true)];
    store
        .commit(UnitOfWork {
            users: vec![Versioned::insert(u.clone())],
            new_tokens: tokens.clone(),
            ..UnitOfWork::new()
        })
        .await
        .unwrap();
    let mut listed = store.one_time_tokens().await.unwrap();
    listed.sort_by_key(|t| t.hash);
    let mut expected = tokens;
    expected.sort_by_key(|t| t.hash);
    assert_eq!(listed, expected);

    assert_eq!(store.ticket_number_high_water().await.unwrap(), 0);
    assert_eq!(store.allocate_ticket_number().await.unwrap(), 1);
    assert_eq!(store.ticket_number_high_water().await.unwrap(), 1);
    store.raise_ticket_number(41).await.unwrap();
    assert_eq!(store.ticket_number_high_water().await.unwrap(), 41);
    store.raise_ticket_number(7).await.unwrap();
    assert_eq!(store.allocate_ticket_number().await.unwrap(), 42, "raising to a lower number lowered the counter");

    let record = |m: OutboxMessage, state: OutboxState, attempts: u32| OutboxRecord {
        state,
        attempts,
        next_attempt_at: m.created_at + Duration::seconds(30),
        last_error: (attempts > 0).then(|| "421 try later".to_owned()),
        lease_token: Some(uuid::Uuid::new_v4()),
        lease_until: Some(now + Duration::hours(1)),
        delivered_at: (state == OutboxState::Delivered).then_some(now + Duration::seconds(5)),
        message: m,
    };
    let pending = record(mail(now), OutboxState::Pending, 2);
    let delivered = record(mail(now + Duration::seconds(1)), OutboxState::Delivered, 1);
    let dead = record(mail(now + Duration::seconds(2)), OutboxState::Dead, 10);
    store.import_outbox(vec![pending.clone(), delivered.clone(), dead.clone()]).await.unwrap();
    for r in [&pending, &delivered, &dead] {
        let stored = store.outbox_message(r.message.id).await.unwrap().unwrap();
        let unleased = OutboxRecord { lease_token: None, lease_until: None, ..r.clone() };
        assert_eq!(stored, unleased, "{:?} changed on import", r.state);
    }
    assert_eq!(store.next_outbox_due().await.unwrap(), Some(pending.next_attempt_at));
    let lease = Lease { token: uuid::Uuid::new_v4(), until: now + Duration::hours(2) };
    assert!(store.claim_outbox(pending.next_attempt_at - Duration::seconds(1), 10, lease).await.unwrap().is_empty());
    let claimed = store.claim_outbox(now + Duration::hours(1), 10, lease).await.unwrap();
    assert_eq!(claimed.iter().map(|r| r.message.id).collect::<Vec<_>>(), [pending.message.id]);
    assert_eq!(claimed[0].attempts, 3);
    for state in [OutboxState::Delivered, OutboxState::Dead] {
        assert_eq!(store.list_outbox(state, None, PageSize::default()).await.unwrap().items.len(), 1);
    }
    let fresh = record(mail(now + Duration::seconds(3)), OutboxState::Pending, 0);
    let clash = store.import_outbox(vec![fresh.clone(), dead.clone()]).await;
    assert!(matches!(clash, Err(StoreError::AlreadyExists { .. })), "{clash:?}");
    assert!(store.outbox_message(fresh.message.id).await.unwrap().is_none(), "half of a refused import was written");
}

/// Concurrent claims partition the due messages.
pub async fn outbox_concurrent_claims_never_overlap(store: Arc<dyn Store>) {
    let mut uow = UnitOfWork::new();
    for i in 0..60 {
        uow.outbox.push(mail(t0() + Duration::milliseconds(i)));
    }
    store.commit(uow).await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            let lease = Lease { token: uuid::Uuid::new_v4(), until: t0() + Duration::minutes(5) };
            let mut got = Vec::new();
            loop {
                let batch = s.claim_outbox(t0() + Duration::minutes(1), 4, lease).await.unwrap();
                if batch.is_empty() {
                    break;
                }
                got.extend(batch.into_iter().map(|r| r.message.id));
            }
            got
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let set: HashSet<MessageId> = all.iter().copied().collect();
    assert_eq!(all.len(), 60, "a message was claimed twice or missed");
    assert_eq!(set.len(), 60);
}

/// Rotation replaces the token; a used token revokes the family; one read gives the user.
pub async fn sessions_rotation_and_reuse(store: Arc<dyn Store>) {
    let u = user(1, Role::Employee, UserStatus::Approved);
    insert_user(&store, &u).await;
    let s = session(u.id, "first", t0());
    store.create_session(&s).await.unwrap();
    let (got, owner) = store.session(s.id).await.unwrap().unwrap();
    assert_eq!((got, owner.id), (s.clone(), u.id));

    // The combined read answers as the two single reads would.
    let t = ticket(7, u.id, t0());
    insert_ticket(&store, &t).await;
    let (got, owner, found) = store.session_and_ticket(s.id, &t.number).await.unwrap().unwrap();
    assert_eq!((got, owner.id, found), (s.clone(), u.id, Some(t.clone())));
    let (_, _, missing) =
        store.session_and_ticket(s.id, &TicketNumber::new(&TicketNumberFormat::default(), 8)).await.unwrap().unwrap();
    assert_eq!(missing, None);
    let other_prefix = TicketNumberFormat { prefix: "ZZ".into(), min_digits: 4 };
    let (_, _, wrong_prefix) =
        store.session_and_ticket(s.id, &TicketNumber::new(&other_prefix, 7)).await.unwrap().unwrap();
    assert_eq!(wrong_prefix, None, "the number's prefix must match, as for ticket_by_number");
    assert_eq!(store.session_and_ticket(SessionId::random(), &t.number).await.unwrap(), None);

    let later = t0() + Duration::hours(1);
    let rotated = match store
        .rotate_refresh(&TokenHash::of("first"), &TokenHash::of("second"), later, later + Duration::hours(24))
        .await
        .unwrap()
    {
        RefreshOutcome::Rotated(s2) => s2,
        other => panic!("expected a rotation, got {other:?}"),
    };
    assert_eq!(rotated.refresh_hash, TokenHash::of("second"));
    assert_eq!(rotated.idle_expires_at, later + Duration::hours(24));
    assert_eq!(
        store.rotate_refresh(&TokenHash::of("nope"), &TokenHash::of("x"), later, later).await.unwrap(),
        RefreshOutcome::Unknown
    );
    // Reuse of the first token revokes the session; the second then stops working too.
    assert_eq!(
        store.rotate_refresh(&TokenHash::of("first"), &TokenHash::of("third"), later, later).await.unwrap(),
        RefreshOutcome::Reused { session: s.id, user: u.id }
    );
    assert!(store.session(s.id).await.unwrap().unwrap().0.revoked_at.is_some());
    assert_eq!(
        store.rotate_refresh(&TokenHash::of("second"), &TokenHash::of("fourth"), later, later).await.unwrap(),
        RefreshOutcome::Ended
    );

    // Expiry ends a session too.
    let s2 = session(u.id, "exp", t0());
    store.create_session(&s2).await.unwrap();
    let too_late = t0() + Duration::hours(25);
    assert_eq!(
        store.rotate_refresh(&TokenHash::of("exp"), &TokenHash::of("exp2"), too_late, too_late).await.unwrap(),
        RefreshOutcome::Ended
    );

    // Revoke all but one.
    let keep = session(u.id, "keep", t0());
    let drop = session(u.id, "drop", t0());
    store.create_session(&keep).await.unwrap();
    store.create_session(&drop).await.unwrap();
    let listed: Vec<SessionId> = store.user_sessions(u.id).await.unwrap().into_iter().map(|s| s.id).collect();
    assert!(listed.contains(&keep.id) && listed.contains(&drop.id), "a user's sessions are listed");
    assert!(store.user_sessions(UserId::random()).await.unwrap().is_empty());
    let n = store.revoke_user_sessions(u.id, Some(keep.id), later).await.unwrap();
    assert!(n >= 1);
    let listed: Vec<SessionId> = store.user_sessions(u.id).await.unwrap().into_iter().map(|s| s.id).collect();
    assert!(listed.contains(&keep.id) && !listed.contains(&drop.id), "revoked sessions are not listed");
    assert!(store.session(keep.id).await.unwrap().unwrap().0.revoked_at.is_none());
    assert!(store.session(drop.id).await.unwrap().unwrap().0.revoked_at.is_some());
    store.revoke_session(keep.id, later).await.unwrap();
    store.revoke_session(keep.id, later).await.unwrap();
    assert!(!store.session(keep.id).await.unwrap().unwrap().0.is_live(later));
    // Revocation through a unit of work.
    let via = session(u.id, "via", t0());
    store.create_session(&via).await.unwrap();
    let mut uow = UnitOfWork::new();
    uow.revoke_sessions.push((SessionRevocation { user: u.id, except: None }, later));
    store.commit(uow).await.unwrap();
    assert!(store.session(via.id).await.unwrap().unwrap().0.revoked_at.is_some());
}

/// Of concurrent presentations of one refresh token, exactly one rotates.
pub async fn sessions_concurrent_rotation(store: Arc<dyn Store>) {
    let u = user(1, Role::Employee, UserStatus::Approved);
    insert_user(&store, &u).await;
    let s = session(u.id, "race", t0());
    store.create_session(&s).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..8 {
        let st = store.clone();
        tasks.push(tokio::spawn(async move {
            let at = t0() + Duration::minutes(1);
            st.rotate_refresh(&TokenHash::of("race"), &TokenHash::of(&format!("next{i}")), at, at + Duration::hours(1))
                .await
                .unwrap()
        }));
    }
    let mut rotated = 0;
    for t in tasks {
        if matches!(t.await.unwrap(), RefreshOutcome::Rotated(_)) {
            rotated += 1;
        }
    }
    assert_eq!(rotated, 1);
}

/// A token is consumed once.
pub async fn one_time_tokens_single_use(store: Arc<dyn Store>) {
    let u = user(1, Role::Employee, UserStatus::Approved);
    insert_user(&store, &u).await;
    let tok = OneTimeToken {
        hash: TokenHash::of("reset"),
        purpose: TokenPurpose::PasswordReset,
        user: u.id,
        created_at: t0(),
        expires_at: t0() + Duration::minutes(30),
        used_at: None,
    };
    let mut uow = UnitOfWork::new();
    uow.new_tokens.push(tok.clone());
    store.commit(uow).await.unwrap();
    assert_eq!(store.one_time_token(&tok.hash).await.unwrap(), Some(tok.clone()));
    let at = t0() + Duration::minutes(1);
    let mut uow = UnitOfWork::new();
    uow.consume_token = Some((tok.hash, at));
    store.commit(uow).await.unwrap();
    assert_eq!(store.one_time_token(&tok.hash).await.unwrap().unwrap().used_at, Some(at));
    let mut uow = UnitOfWork::new();
    uow.consume_token = Some((tok.hash, at));
    assert!(matches!(store.commit(uow).await, Err(StoreError::Conflict { what: "token" })));
    let mut uow = UnitOfWork::new();
    uow.consume_token = Some((TokenHash::of("unknown"), at));
    assert!(matches!(store.commit(uow).await, Err(StoreError::Conflict { what: "token" })));
}

/// Begin / complete / replay / mismatch / release / expiry, and one winner under concurrency.
pub async fn idempotency_keys(store: Arc<dyn Store>) {
    let key = IdempotencyKey { principal: "user:1".into(), key: "abc".into() };
    let now = t0();
    let stale = now - Duration::minutes(5);
    assert_eq!(store.begin_idempotent(&key, "h1", now, stale).await.unwrap(), IdempotencyBegin::Started);
    assert_eq!(
        store.begin_idempotent(&key, "h1", now, stale).await.unwrap(),
        IdempotencyBegin::InProgress { started_at: now }
    );
    assert_eq!(store.begin_idempotent(&key, "h2", now, stale).await.unwrap(), IdempotencyBegin::Mismatch);
    // Another principal's same key is independent.
    let other = IdempotencyKey { principal: "user:2".into(), key: "abc".into() };
    assert_eq!(store.begin_idempotent(&other, "h9", now, stale).await.unwrap(), IdempotencyBegin::Started);
    let record = IdempotencyRecord {
        key: key.clone(),
        request_hash: "h1".into(),
        response: serde_json::json!({"ticket_id": "t"}),
        expires_at: now + Duration::hours(24),
    };
    let mut uow = UnitOfWork::new();
    uow.idempotency = Some(record.clone());
    store.commit(uow).await.unwrap();
    assert_eq!(
        store.begin_idempotent(&key, "h1", now, stale).await.unwrap(),
        IdempotencyBegin::Completed(record.clone())
    );
    assert_eq!(store.begin_idempotent(&key, "h2", now, stale).await.unwrap(), IdempotencyBegin::Mismatch);
    store.release_idempotent(&key).await.unwrap();
    assert_eq!(store.begin_idempotent(&key, "h1", now, stale).await.unwrap(), IdempotencyBegin::Completed(record));
    // Expired records count as absent.
    let later = now + Duration::hours(25);
    assert_eq!(
        store.begin_idempotent(&key, "h2", later, later - Duration::minutes(5)).await.unwrap(),
        IdempotencyBegin::Started
    );
    // Releasing an in-progress key lets the next attempt start; a stale one is taken over.
    store.release_idempotent(&other).await.unwrap();
    assert_eq!(store.begin_idempotent(&other, "h9", now, stale).await.unwrap(), IdempotencyBegin::Started);
    let much_later = now + Duration::minutes(10);
    assert_eq!(
        store.begin_idempotent(&other, "h9", much_later, much_later - Duration::minutes(5)).await.unwrap(),
        IdempotencyBegin::Started
    );

    let race = IdempotencyKey { principal: "user:3".into(), key: "race".into() };
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (s, k) = (store.clone(), race.clone());
        tasks.push(tokio::spawn(async move { s.begin_idempotent(&k, "h", now, stale).await.unwrap() }));
    }
    let mut started = 0;
    for t in tasks {
        if t.await.unwrap() == IdempotencyBegin::Started {
            started += 1;
        }
    }
    assert_eq!(started, 1);
}

/// Failure counters and fixed windows.
pub async fn throttle_counters(store: Arc<dyn Store>) {
    assert_eq!(store.login_failures("login:a").await.unwrap(), FailureState::default());
    for i in 1..=3 {
        let s = store.record_login_failure("login:a", t0() + Duration::seconds(i)).await.unwrap();
        assert_eq!(s.count, i as u32);
        assert_eq!(s.last_at, Some(t0() + Duration::seconds(i)));
    }
    assert_eq!(store.login_failures("login:b").await.unwrap().count, 0);
    store.clear_login_failures("login:a").await.unwrap();
    assert_eq!(store.login_failures("login:a").await.unwrap().count, 0);
    let w1 = t0();
    let w2 = t0() + Duration::hours(1);
    assert_eq!(store.hit_window("reset:x", w1).await.unwrap(), 1);
    assert_eq!(store.hit_window("reset:x", w1).await.unwrap(), 2);
    assert_eq!(store.hit_window("reset:x", w2).await.unwrap(), 1);
    assert_eq!(store.hit_window("reset:y", w1).await.unwrap(), 1);
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move { s.record_login_failure("login:c", t0()).await.unwrap() }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(store.login_failures("login:c").await.unwrap().count, 20, "lost a concurrent increment");
}

/// API keys: create, read, list, revoke.
pub async fn api_keys(store: Arc<dyn Store>) {
    let k1 = ApiKey {
        id: ApiKeyId::random(),
        name: "workflow".into(),
        scopes: vec![ApiScope::PushWorkflow, ApiScope::ReadTickets],
        secret_hash: TokenHash::of("s1"),
        created_at: t0(),
        created_by: None,
        revoked_at: None,
    };
    let k2 = ApiKey {
        id: ApiKeyId::random(),
        name: "reader".into(),
        scopes: vec![ApiScope::ReadTickets],
        secret_hash: TokenHash::of("s2"),
        created_at: t0() + Duration::seconds(1),
        created_by: None,
        revoked_at: None,
    };
    store.create_api_key(&k1).await.unwrap();
    store.create_api_key(&k2).await.unwrap();
    assert!(matches!(store.create_api_key(&k1).await, Err(StoreError::AlreadyExists { .. })));
    assert_eq!(store.api_key(k1.id).await.unwrap(), Some(k1.clone()));
    assert_eq!(store.list_api_keys().await.unwrap(), vec![k1.clone(), k2.clone()]);
    store.revoke_api_key(k1.id, t0() + Duration::minutes(1)).await.unwrap();
    assert_eq!(store.api_key(k1.id).await.unwrap().unwrap().revoked_at, Some(t0() + Duration::minutes(1)));
    assert!(matches!(store.revoke_api_key(ApiKeyId::random(), t0()).await, Err(StoreError::NotFound { .. })));
}

/// Audit entries page newest first, filtered by kind.
pub async fn audit_log_paging(store: Arc<dyn Store>) {
    let mut entries = Vec::new();
    let mut uow = UnitOfWork::new();
    for i in 0..11 {
        let kind = if i % 2 == 0 { AuditKind::LoginFailed } else { AuditKind::LoginSucceeded };
        let mut e = audit(t0() + Duration::seconds(i / 2), kind);
        e.target = Some(format!("target-{}", i % 3));
        uow.audit.push(e.clone());
        entries.push(e);
    }
    store.commit(uow).await.unwrap();
    for kind in [None, Some(AuditKind::LoginFailed)] {
        let mut want: Vec<&AuditEntry> = entries.iter().filter(|e| kind.is_none_or(|k| e.kind == k)).collect();
        want.sort_by_key(|e| std::cmp::Reverse((e.at, e.id.as_uuid())));
        let mut q = AuditQuery { kind, target: None, cursor: None, limit: PageSize::new(3).unwrap() };
        let mut got = Vec::new();
        loop {
            let page = store.list_audit(&q).await.unwrap();
            got.extend(page.items.into_iter().map(|e| e.id));
            match page.next {
                Some(c) => q.cursor = Some(c),
                None => break,
            }
        }
        assert_eq!(got, want.into_iter().map(|e| e.id).collect::<Vec<_>>());
    }
    // One target's entries (a user's history), newest first.
    let mut want: Vec<&AuditEntry> = entries.iter().filter(|e| e.target.as_deref() == Some("target-1")).collect();
    want.sort_by_key(|e| std::cmp::Reverse((e.at, e.id.as_uuid())));
    let q = AuditQuery { target: Some("target-1".into()), limit: PageSize::new(50).unwrap(), ..AuditQuery::default() };
    let got: Vec<_> = store.list_audit(&q).await.unwrap().items.into_iter().map(|e| e.id).collect();
    assert_eq!(got, want.into_iter().map(|e| e.id).collect::<Vec<_>>());
}

/// History, comments and attachments come back complete and oldest first. Internal events
/// are recorded at the ticket's current version (they change nothing the requester sees, so
/// the version does not move): several events share a version and still come back in commit
/// order.
pub async fn history_comments_attachments(store: Arc<dyn Store>) {
    let u = user(1, Role::Employee, UserStatus::Approved);
    insert_user(&store, &u).await;
    let t = ticket(1, u.id, t0());
    insert_ticket(&store, &t).await;
    let mut cur = t.clone();
    let mut comment_ids = Vec::new();
    let mut attachment_ids = Vec::new();
    let mut event_ids = vec![store.history(t.id).await.unwrap()[0].id];
    for i in 1..=5 {
        let internal = i % 2 == 0;
        let mut next = cur.clone();
        let at = t0() + Duration::minutes(i);
        if !internal {
            next.version += 1;
            next.updated_at = at;
        }
        let c = Comment {
            id: CommentId::random(),
            ticket: t.id,
            author: ActorRef::User { id: u.id },
            body: CommentBody::parse(&format!("comment {i}")).unwrap(),
            internal,
            created_at: at,
        };
        let a = Attachment {
            id: AttachmentId::random(),
            ticket: t.id,
            comment: Some(c.id),
            internal: c.internal,
            file_name: FileName::sanitize(&format!("file{i}.txt")),
            content_type: "text/plain".into(),
            size: 10 * i as u64,
            sha256: "00".repeat(32),
            key: StorageKey::for_attachment(t.id, AttachmentId::random()),
            uploaded_by: ActorRef::User { id: u.id },
            created_at: at,
        };
        let mut uow = UnitOfWork::new();
        uow.tickets.push(Versioned::update(next.clone(), cur.version));
        let ev = HistoryEvent { internal: c.internal, ..event(&next, at) };
        event_ids.push(ev.id);
        uow.events.push(ev);
        comment_ids.push(c.id);
        attachment_ids.push(a.id);
        uow.comments.push(c);
        uow.attachments.push(a.clone());
        store.commit(uow).await.unwrap();
        assert_eq!(store.attachment(a.id).await.unwrap(), Some(a));
        cur = next;
    }
    let history = store.history(t.id).await.unwrap();
    assert_eq!(history.len(), 6);
    assert_eq!(history.iter().map(|e| e.version).collect::<Vec<_>>(), vec![1, 2, 2, 3, 3, 4]);
    assert_eq!(history.iter().map(|e| e.id).collect::<Vec<_>>(), event_ids, "commit order");
    assert_eq!(history.iter().filter(|e| e.internal).count(), 2);
    assert_eq!(store.comments(t.id).await.unwrap().iter().map(|c| c.id).collect::<Vec<_>>(), comment_ids);
    assert_eq!(store.attachments(t.id).await.unwrap().iter().map(|a| a.id).collect::<Vec<_>>(), attachment_ids);
    assert_eq!(store.attachment(AttachmentId::random()).await.unwrap(), None);
    assert!(store.history(TicketId::random()).await.unwrap().is_empty());
}

/// Summary counts and performance statistics from a known data set.
pub async fn report_figures(store: Arc<dyn Store>) {
    let admin = user(1, Role::Admin, UserStatus::Approved);
    let staff = user(2, Role::Coordinator, UserStatus::Approved);
    let emp = user(3, Role::Employee, UserStatus::Approved);
    let pending = user(4, Role::Employee, UserStatus::Pending);
    for u in [&admin, &staff, &emp, &pending] {
        insert_user(&store, u).await;
    }
    let now = t0() + Duration::days(10);
    let mut tickets = Vec::new();
    // 12 tickets over 6 days: response 600 s × k, resolution 3600 s × k for the resolved ones.
    for i in 0..12u64 {
        let created = t0() + Duration::hours(12 * i as i64);
        let mut t = ticket(i + 1, emp.id, created);
        match i % 4 {
            0 => {}
            1 => {
                t.status = TicketStatus::InProgress;
                t.assignee = Some(staff.id);
            }
            2 => {
                t.status = TicketStatus::Resolved;
                t.assignee = Some(staff.id);
            }
            _ => {
                t.status = TicketStatus::Closed;
                t.assignee = Some(admin.id);
            }
        }
        if i % 4 != 0 {
            t.priority = Some(if i % 2 == 0 { Priority::High } else { Priority::Low });
            t.department = Some(DepartmentKey::parse(if i < 6 { "it" } else { "asset" }).unwrap());
            t.first_response_at = Some(created + Duration::seconds(600 * (i as i64 + 1)));
            t.response_secs = Some(600 * (i as i64 + 1));
        }
        if i % 4 >= 2 {
            let r = created + Duration::seconds(3600 * (i as i64 + 1));
            t.resolved_at = Some(r);
            t.resolution_secs = Some(3600 * (i as i64 + 1));
        }
        if i == 5 {
            t.category = CategoryKey::parse("budget").unwrap();
            t.sub_category = CategoryKey::parse("purchase").unwrap();
        }
        if i % 3 == 0 {
            t.tags = vec![Tag::parse_field("tags", "printer").unwrap(), Tag::parse_field("tags", "vip").unwrap()];
        }
        insert_ticket(&store, &t).await;
        tickets.push(t);
    }
    // A change of tags moves the counters: the first ticket loses `vip` and gains `urgent`.
    {
        let old = tickets[0].clone();
        let mut t = old.clone();
        t.tags = vec![Tag::parse_field("tags", "printer").unwrap(), Tag::parse_field("tags", "urgent").unwrap()];
        t.version += 1;
        let mut uow = UnitOfWork::new();
        uow.tickets.push(Versioned::update(t.clone(), old.version));
        store.commit(uow).await.unwrap();
        tickets[0] = t;
    }
    let mut uow = UnitOfWork::new();
    uow.rejections.push(RejectionRecord {
        id: RejectionId::random(),
        email: Email::parse("no@example.com").unwrap(),
        first_name: emp.first_name.clone(),
        last_name: emp.last_name.clone(),
        company_id: emp.company_id.clone(),
        department: None,
        reason: None,
        rejected_by: admin.id,
        rejected_at: t0(),
    });
    store.commit(uow).await.unwrap();

    let s = store.summary(now).await.unwrap();
    let count = |f: &dyn Fn(&Ticket) -> String| {
        let mut m = BTreeMap::new();
        for t in &tickets {
            *m.entry(f(t)).or_insert(0u64) += 1;
        }
        m
    };
    assert_eq!(s.total_tickets, 12);
    assert_eq!(s.by_status, count(&|t| t.status.to_string()));
    assert_eq!(s.by_priority, count(&|t| t.priority.map_or("untriaged".into(), |p| p.to_string())));
    assert_eq!(s.by_department, count(&|t| t.department.as_ref().map_or("none".into(), |d| d.to_string())));
    assert_eq!(s.by_category, count(&|t| t.category.to_string()));
    let mut by_tag = BTreeMap::new();
    for g in tickets.iter().flat_map(|t| t.tags.iter()) {
        *by_tag.entry(g.to_string()).or_insert(0u64) += 1;
    }
    assert_eq!(by_tag.get("urgent"), Some(&1));
    assert_eq!(s.by_tag, by_tag);
    assert_eq!(s.new_waiting_over_24h, 3);
    assert_eq!(
        s.users_by_role,
        BTreeMap::from([("admin".into(), 1), ("coordinator".into(), 1), ("employee".into(), 2)])
    );
    assert_eq!(s.users_by_status, BTreeMap::from([("approved".into(), 3), ("pending".into(), 1)]));
    assert_eq!(s.rejected_registrations, 1);
    // One new ticket is fresh: created within the last 24 hours of `now2`.
    let now2 = tickets[8].created_at + Duration::hours(1);
    assert_eq!(store.summary(now2).await.unwrap().new_waiting_over_24h, 2);

    // Performance over the first 4 days (tickets 0..=7).
    let range = ReportRange::new(t0(), t0() + Duration::days(4)).unwrap();
    let p = store.performance(range).await.unwrap();
    let in_range: Vec<&Ticket> = tickets.iter().filter(|t| range.contains(t.created_at)).collect();
    assert_eq!(in_range.len(), 8);
    let mut resp: Vec<i64> = in_range.iter().filter_map(|t| t.response_secs).collect();
    let mut reso: Vec<i64> = in_range.iter().filter_map(|t| t.resolution_secs).collect();
    let close = |a: &DurationStats, b: &DurationStats| {
        assert_eq!(a.count, b.count);
        for (x, y) in [(a.mean_secs, b.mean_secs), (a.median_secs, b.median_secs), (a.p90_secs, b.p90_secs)] {
            match (x, y) {
                (Some(x), Some(y)) => assert!((x - y).abs() < 0.5, "{x} vs {y}"),
                (None, None) => {}
                other => panic!("{other:?}"),
            }
        }
    };
    close(&p.response, &DurationStats::from_samples(&mut resp));
    close(&p.resolution, &DurationStats::from_samples(&mut reso));
    let it = p.by_department.iter().find(|g| g.key == "it").expect("it group");
    let mut it_resp: Vec<i64> = in_range
        .iter()
        .filter(|t| t.department.as_ref().is_some_and(|d| d.as_str() == "it"))
        .filter_map(|t| t.response_secs)
        .collect();
    close(&it.response, &DurationStats::from_samples(&mut it_resp));
    let staff_group = p.by_assignee.iter().find(|g| g.key == staff.id.to_string()).expect("assignee group");
    let mut staff_reso: Vec<i64> =
        in_range.iter().filter(|t| t.assignee == Some(staff.id)).filter_map(|t| t.resolution_secs).collect();
    close(&staff_group.resolution, &DurationStats::from_samples(&mut staff_reso));
    let high = p.by_priority.iter().find(|g| g.key == "high").expect("priority group");
    assert_eq!(high.response.count, in_range.iter().filter(|t| t.priority == Some(Priority::High)).count() as u64);
    // 09:00 on day 1 to 09:00 on day 5: five calendar days.
    assert_eq!(p.per_day.len(), 5);
    assert_eq!(p.per_day.iter().map(|d| d.created).sum::<u64>(), 8);
    let resolved_in_range = tickets.iter().filter(|t| t.resolved_at.is_some_and(|r| range.contains(r))).count() as u64;
    assert_eq!(p.per_day.iter().map(|d| d.resolved).sum::<u64>(), resolved_in_range);
    assert_eq!(p.per_day[0].created, 2);
    let backlog: u64 = p.backlog.values().sum();
    assert_eq!(
        backlog,
        tickets.iter().filter(|t| matches!(t.status, TicketStatus::New | TicketStatus::InProgress)).count() as u64
    );
    // The whole report equals the one folded a ticket at a time, whatever way the store
    // gathers its samples (PostgreSQL sends them grouped).
    let mut expected = crate::report::PerformanceBuilder::default();
    for t in &in_range {
        expected.add_created(t);
    }
    for t in &tickets {
        if let Some(at) = t.resolved_at.filter(|r| range.contains(*r)) {
            expected.add_resolved(at);
        }
        if !t.status.is_terminal() && t.status != TicketStatus::Resolved {
            expected.add_backlog(t.status);
        }
    }
    assert_eq!(p, expected.finish(range));
}

/// Auto-close candidates, and retention.
pub async fn resolved_before_and_purge(store: Arc<dyn Store>) {
    let u = user(1, Role::Employee, UserStatus::Approved);
    insert_user(&store, &u).await;
    for i in 0..5u64 {
        let mut t = ticket(i + 1, u.id, t0());
        if i < 3 {
            t.status = TicketStatus::Resolved;
            t.resolved_at = Some(t0() + Duration::days(i as i64));
        }
        insert_ticket(&store, &t).await;
    }
    let due = store.resolved_before(t0() + Duration::days(2), 10).await.unwrap();
    assert_eq!(due.len(), 2);
    assert!(due.iter().all(|t| t.status == TicketStatus::Resolved));
    assert_eq!(store.resolved_before(t0() + Duration::days(9), 1).await.unwrap().len(), 1);

    // Old delivered messages, expired idempotency records, old audit entries, ended sessions go.
    // Delivered before the cutoff (goes), created before it but delivered after (stays),
    // created and delivered after it (stays).
    let (m, late, recent_mail) = (mail(t0()), mail(t0()), mail(t0() + Duration::days(5)));
    let mut uow = UnitOfWork::new();
    uow.outbox.extend([m.clone(), late.clone(), recent_mail.clone()]);
    uow.audit.push(audit(t0() - Duration::days(400), AuditKind::LoginFailed));
    uow.audit.push(audit(t0(), AuditKind::LoginFailed));
    let any_ticket = ticket(1, u.id, t0());
    let (old, recent) = (notice(u.id, &any_ticket, t0() - Duration::days(100)), notice(u.id, &any_ticket, t0()));
    uow.notices.extend([old, recent.clone()]);
    uow.idempotency = Some(IdempotencyRecord {
        key: IdempotencyKey { principal: "p".into(), key: "k".into() },
        request_hash: "h".into(),
        response: serde_json::json!({}),
        expires_at: t0(),
    });
    store.commit(uow).await.unwrap();
    let lease = Lease { token: uuid::Uuid::new_v4(), until: t0() + Duration::minutes(1) };
    let claimed = store.claim_outbox(t0(), 1, lease).await.unwrap();
    assert_eq!(claimed.len(), 1);
    store.ack_outbox(claimed[0].message.id, lease.token, t0()).await.unwrap();
    for at in [t0() + Duration::days(3), t0() + Duration::days(5)] {
        let lease = Lease { token: uuid::Uuid::new_v4(), until: at + Duration::minutes(1) };
        for r in store.claim_outbox(at, 10, lease).await.unwrap() {
            store.ack_outbox(r.message.id, lease.token, at).await.unwrap();
        }
    }
    // Which of the two created at t0 was delivered at once depends on the ids' order.
    let (m, late) = if claimed[0].message.id == m.id { (m, late) } else { (late, m) };
    let s = session(u.id, "old", t0() - Duration::days(30));
    store.create_session(&s).await.unwrap();
    let now = t0() + Duration::days(8);
    let r = store
        .purge(PurgeBefore {
            delivered_outbox: now - Duration::days(7),
            idempotency: now,
            audit: now - Duration::days(365),
            sessions_and_tokens: now - Duration::days(1),
            notices: now - Duration::days(90),
        })
        .await
        .unwrap();
    assert_eq!(r.outbox, 1);
    assert_eq!(r.idempotency, 1);
    assert_eq!(r.audit, 1);
    assert!(r.sessions_and_tokens >= 1);
    assert_eq!(r.notices, 1, "notices past retention go, read or not");
    assert_eq!(store.notices(u.id, 10).await.unwrap(), vec![recent]);
    assert_eq!(store.unread_notices(u.id).await.unwrap(), 1);
    assert_eq!(store.outbox_message(m.id).await.unwrap(), None);
    for kept in [&late, &recent_mail] {
        let r = store.outbox_message(kept.id).await.unwrap().expect("delivered after the cutoff: kept");
        assert_eq!(r.state, OutboxState::Delivered);
    }
    assert_eq!(store.session(s.id).await.unwrap(), None);
    assert_eq!(store.list_audit(&AuditQuery::default()).await.unwrap().items.len(), 1);
}

fn notice(user: UserId, ticket: &Ticket, at: DateTime<Utc>) -> Notice {
    Notice {
        id: NoticeId::random(),
        user,
        ticket: ticket.id,
        number: ticket.number.to_string(),
        subject: ticket.subject.to_string(),
        kind: NoticeKind::StatusChanged { status: TicketStatus::InProgress },
        created_at: at,
        read_at: None,
    }
}

/// Notices commit with their unit of work (or not at all), list newest first per user, count
/// unread, and are marked read one or all at a time, never another user's.
pub async fn notices_per_user(store: Arc<dyn Store>) {
    let (a, b) = (user(1, Role::Employee, UserStatus::Approved), user(2, Role::Coordinator, UserStatus::Approved));
    insert_user(&store, &a).await;
    insert_user(&store, &b).await;
    let t = ticket(1, a.id, t0());
    insert_ticket(&store, &t).await;
    let mut mine: Vec<Notice> = (0..5).map(|i| notice(a.id, &t, t0() + Duration::seconds(i.min(3)))).collect();
    let theirs: Vec<Notice> = (0..2).map(|i| notice(b.id, &t, t0() + Duration::seconds(i))).collect();
    let mut uow = UnitOfWork::new();
    uow.notices.extend(mine.iter().cloned().chain(theirs.iter().cloned()));
    store.commit(uow).await.unwrap();

    // A unit of work that fails writes none of its notices.
    let mut failing = UnitOfWork::new();
    failing.tickets.push(Versioned::update(t.clone(), 99));
    failing.notices.push(notice(a.id, &t, t0()));
    assert!(store.commit(failing).await.is_err());

    mine.sort_by_key(|x| std::cmp::Reverse((x.created_at, x.id.as_uuid())));
    let ids = |v: &[Notice]| v.iter().map(|n| n.id).collect::<Vec<_>>();
    assert_eq!(ids(&store.notices(a.id, 10).await.unwrap()), ids(&mine));
    assert_eq!(ids(&store.notices(a.id, 3).await.unwrap()), ids(&mine[..3]));
    assert_eq!(store.notices(a.id, 10).await.unwrap()[0], mine[0], "a notice reads back whole");
    assert_eq!(store.unread_notices(a.id).await.unwrap(), 5);
    assert_eq!(store.unread_notices(b.id).await.unwrap(), 2);

    let later = t0() + Duration::minutes(5);
    assert_eq!(store.mark_notices_read(a.id, Some(theirs[0].id), later).await.unwrap(), 0, "never another user's");
    assert_eq!(store.unread_notices(b.id).await.unwrap(), 2);
    assert_eq!(store.mark_notices_read(a.id, Some(mine[1].id), later).await.unwrap(), 1);
    assert_eq!(store.mark_notices_read(a.id, Some(mine[1].id), later).await.unwrap(), 0, "already read");
    assert_eq!(store.unread_notices(a.id).await.unwrap(), 4);
    let listed = store.notices(a.id, 10).await.unwrap();
    assert_eq!(listed[1].read_at, Some(later));
    assert_eq!(ids(&listed), ids(&mine), "marking read keeps the order");
    assert_eq!(store.mark_notices_read(a.id, None, later).await.unwrap(), 4);
    assert_eq!(store.unread_notices(a.id).await.unwrap(), 0);
    assert!(store.notices(a.id, 10).await.unwrap().iter().all(|n| n.read_at == Some(later)));
    assert_eq!(store.unread_notices(b.id).await.unwrap(), 2);
    assert!(store.notices(UserId::random(), 10).await.unwrap().is_empty());
}

/// Text from clients (NUL and other control characters, `LIKE` wildcards) gets the same
/// answer on every store: searches match literally and a needle no stored text can contain
/// matches nothing; through the use cases, a NUL in a sign-in address is a wrong password,
/// in a field a validation error naming it, in an idempotency key a validation error —
/// never a storage error.
pub async fn untrusted_text_is_handled_alike(store: Arc<dyn Store>) {
    let u = user(1, Role::Employee, UserStatus::Approved);
    insert_user(&store, &u).await;
    let mut t = ticket(1, u.id, t0());
    t.subject = Subject::parse("50% off_sale \\ tab\there").unwrap();
    insert_ticket(&store, &t).await;
    insert_ticket(&store, &ticket(2, u.id, t0() + Duration::seconds(1))).await;
    let search = |text: &str| TicketQuery { text: Some(text.to_owned()), ..TicketQuery::default() };
    for (needle, hits) in [
        ("50%", 1),
        ("%", 1),
        ("_", 1),
        ("\\", 1),
        ("tab\there", 1),
        ("ticket 2", 1),
        ("a\0b", 0),
        ("\0", 0),
        ("\u{1}", 0),
        ("\u{7f}", 0),
    ] {
        let q = search(needle);
        let page = store.list_tickets(&q).await.unwrap_or_else(|e| panic!("{needle:?}: {e}"));
        assert_eq!(page.items.len(), hits, "{needle:?}");
        let counts = store.ticket_counts(&q.for_counting()).await.unwrap_or_else(|e| panic!("{needle:?}: {e}"));
        assert_eq!(counts.iter().map(|(_, n)| n).sum::<u64>(), hits as u64, "{needle:?}");
    }
    let users = store.list_users(&UserQuery { text: Some("a\0b".into()), ..UserQuery::default() }).await.unwrap();
    assert!(users.items.is_empty());

    // Through the use cases over this store.
    let clock = crate::testing::ManualClock::default_start();
    let (desk, admin) = crate::testing::desk_with_admin(store.clone(), clock).await;
    let login = |email: &str| crate::LoginRequest {
        email: email.to_owned(),
        password: crate::password::Password::new("harbor-lantern-quartz-71"),
        address: Some("203.0.113.9".into()),
    };
    for email in ["a\0@x.com", "admin\0@example.com", "\u{1}\u{1b}[2J", &"\0".repeat(10_000)] {
        match desk.login(login(email)).await {
            Err(
                crate::Error::Unauthenticated(crate::AuthFailure::InvalidCredentials) | crate::Error::Throttled { .. },
            ) => {}
            other => panic!("{email:?}: {other:?}"),
        }
    }
    let bad = crate::NewTicket {
        subject: "a\0b".into(),
        category: "hardware".into(),
        sub_category: "laptop".into(),
        description: "nul \0 inside".into(),
        scheduled_date: None,
        fields: Default::default(),
    };
    match desk.create_ticket(&admin, bad, None).await {
        Err(crate::Error::Validation(v)) => {
            let fields: Vec<&str> = v.0.iter().map(|e| e.field.as_str()).collect();
            assert_eq!(fields, ["subject", "description"]);
        }
        other => panic!("{other:?}"),
    }
    let good = crate::NewTicket {
        subject: "Laptop".into(),
        category: "hardware".into(),
        sub_category: "laptop".into(),
        description: "Broken".into(),
        scheduled_date: None,
        fields: Default::default(),
    };
    match desk.create_ticket(&admin, good, Some("key\0")).await {
        Err(crate::Error::Validation(v)) => assert_eq!(v.0[0].field, "idempotency_key"),
        other => panic!("{other:?}"),
    }
    let q = search("a\0b");
    assert!(desk.list_tickets(&admin, &q).await.unwrap().items.is_empty());
}

/// Service-level alert moments: found by time window (after exclusive, until inclusive) in
/// time order with the id breaking ties, limited, and moved or dropped when a ticket's
/// schedule changes; the due-time sort follows the schedule too.
pub async fn sla_alert_moments(store: Arc<dyn Store>) {
    let u = user(1, Role::Employee, UserStatus::Approved);
    insert_user(&store, &u).await;
    let h = |n: i64| t0() + Duration::hours(n);
    let schedule = |alerts: Vec<DateTime<Utc>>| SlaSchedule {
        due_at: alerts.last().copied(),
        warn_at: alerts.first().copied(),
        alerts,
    };
    let mut a = ticket(1, u.id, t0());
    a.sla = schedule(vec![h(2), h(4)]);
    let mut b = ticket(2, u.id, t0());
    b.sla = schedule(vec![h(2), h(3)]);
    let c = ticket(3, u.id, t0());
    for t in [&a, &b, &c] {
        insert_ticket(&store, t).await;
    }
    let (first, second) = if a.id.as_uuid() < b.id.as_uuid() { (a.id, b.id) } else { (b.id, a.id) };
    let all = store.sla_alerts_between(t0(), h(10), 100).await.unwrap();
    assert_eq!(all, vec![(h(2), first), (h(2), second), (h(3), b.id), (h(4), a.id)]);
    // `after` is exclusive, `until` inclusive.
    assert_eq!(store.sla_alerts_between(h(2), h(3), 100).await.unwrap(), vec![(h(3), b.id)]);
    assert_eq!(store.sla_alerts_between(h(3), h(3), 100).await.unwrap(), vec![]);
    assert_eq!(store.sla_alerts_between(t0(), h(10), 2).await.unwrap(), all[..2].to_vec());

    // A change moves a ticket's moments; an empty schedule drops them.
    let mut a2 = a.clone();
    a2.version = 2;
    a2.sla = schedule(vec![h(5), h(6)]);
    let mut b2 = b.clone();
    b2.version = 2;
    b2.sla = SlaSchedule::default();
    let mut uow = UnitOfWork::new();
    uow.tickets.push(Versioned::update(a2.clone(), 1));
    uow.tickets.push(Versioned::update(b2.clone(), 1));
    store.commit(uow).await.unwrap();
    assert_eq!(store.sla_alerts_between(t0(), h(10), 100).await.unwrap(), vec![(h(5), a.id), (h(6), a.id)]);
    assert_eq!(store.ticket(a.id).await.unwrap(), Some(a2.clone()));
    assert_eq!(store.ticket(b.id).await.unwrap(), Some(b2));

    // The due-time sort lists only tickets with a due time, and follows changes.
    let q = TicketQuery {
        sort: TicketSort { field: TicketSortField::Due, direction: SortDirection::Asc },
        ..TicketQuery::default()
    };
    let ids: Vec<TicketId> = store.list_tickets(&q).await.unwrap().items.iter().map(|t| t.id).collect();
    assert_eq!(ids, vec![a.id]);
    let breached = TicketQuery { due_before: Some(h(7)), ..TicketQuery::default() };
    assert_eq!(store.list_tickets(&breached).await.unwrap().items, vec![a2]);
    let not_yet = TicketQuery { due_before: Some(h(6)), ..TicketQuery::default() };
    assert!(store.list_tickets(&not_yet).await.unwrap().items.is_empty());
}

/// Saved service-level settings: none at first; each save names the version it replaces and
/// gets the next; a save naming a stale version is refused and changes nothing.
pub async fn sla_settings_versions(store: Arc<dyn Store>) {
    use crate::sla::{CalendarSpec, SlaSpec};
    assert_eq!(store.sla_spec().await.unwrap(), None);
    let mut spec = SlaSpec::default();
    spec.calendars.push(CalendarSpec { key: "always".into(), time_zone: "UTC".into(), week: vec![], holidays: vec![] });
    assert_eq!(store.save_sla_spec(&spec, 0).await.unwrap(), 1);
    assert_eq!(store.sla_spec().await.unwrap(), Some((spec.clone(), 1)));
    let mut other = spec.clone();
    other.warning_percent = 90;
    match store.save_sla_spec(&other, 0).await {
        Err(StoreError::VersionMismatch { expected: 0, found: 1 }) => {}
        x => panic!("a stale first save: {x:?}"),
    }
    match store.save_sla_spec(&other, 7).await {
        Err(StoreError::VersionMismatch { expected: 7, found: 1 }) => {}
        x => panic!("a stale save: {x:?}"),
    }
    assert_eq!(store.sla_spec().await.unwrap(), Some((spec, 1)));
    assert_eq!(store.save_sla_spec(&other, 1).await.unwrap(), 2);
    assert_eq!(store.sla_spec().await.unwrap(), Some((other, 2)));
}

/// Saved documents are independent per key: the macros' versions start at 1 whatever the
/// service levels' version is, and a stale save of one leaves the other alone.
pub async fn settings_documents_are_independent(store: Arc<dyn Store>) {
    use crate::ports::DocumentKey;
    let spec = crate::sla::SlaSpec::default();
    assert_eq!(store.save_sla_spec(&spec, 0).await.unwrap(), 1);
    assert_eq!(store.save_sla_spec(&spec, 1).await.unwrap(), 2);
    assert_eq!(store.document(DocumentKey::Macros).await.unwrap(), None);
    let doc = serde_json::json!({ "macros": [{ "name": "Ask for logs", "emoji": "é✓" }] });
    assert_eq!(store.save_document(DocumentKey::Macros, &doc, 0).await.unwrap(), 1);
    match store.save_document(DocumentKey::Macros, &serde_json::json!({}), 2).await {
        Err(StoreError::VersionMismatch { expected: 2, found: 1 }) => {}
        x => panic!("a stale save: {x:?}"),
    }
    assert_eq!(store.document(DocumentKey::Macros).await.unwrap(), Some((doc, 1)));
    assert_eq!(store.sla_spec().await.unwrap(), Some((spec, 2)));
}

/// A ticket's satisfaction rating and its staff-only history event are written in one unit of
/// work and read back exactly (by id, by number, in lists and in history), comment included;
/// a second rating replaces the first.
pub async fn satisfaction_ratings(store: Arc<dyn Store>) {
    let u = user(1, Role::Employee, UserStatus::Approved);
    insert_user(&store, &u).await;
    let t = ticket(1, u.id, t0());
    insert_ticket(&store, &t).await;
    let mut rated = t.clone();
    for (n, (rating, comment)) in
        [(Rating::Good, Some("Schnell erledigt \u{2014} danke! <b>\u{1f44d}</b>")), (Rating::Bad, None)]
            .into_iter()
            .enumerate()
    {
        let n = u32::try_from(n).unwrap() + 1;
        let at = t0() + Duration::hours(i64::from(n));
        let mut next = rated.clone();
        next.satisfaction =
            Some(Satisfaction { rating, comment: comment.map(|c| Note::parse(c).unwrap()), rated_at: at, ratings: n });
        next.version = rated.version + 1;
        next.updated_at = at;
        let mut event = event(&next, at);
        event.kind = EventKind::Rated { rating };
        event.internal = true;
        event.note = comment.map(str::to_owned);
        let mut uow = UnitOfWork::new();
        uow.events.push(event.clone());
        uow.tickets.push(Versioned::update(next.clone(), rated.version));
        store.commit(uow).await.unwrap();
        assert_eq!(store.ticket(t.id).await.unwrap().as_ref(), Some(&next));
        assert_eq!(store.ticket_by_number(&t.number).await.unwrap().as_ref(), Some(&next));
        let listed = store.list_tickets(&TicketQuery::default()).await.unwrap().items;
        assert_eq!(listed, vec![next.clone()]);
        assert_eq!(store.history(t.id).await.unwrap().last(), Some(&event));
        rated = next;
    }
    assert_eq!(rated.satisfaction.clone().map(|s| (s.rating, s.ratings)), Some((Rating::Bad, 2)));

    // The satisfaction report's read: the tickets created in a range, resolved ones counted
    // and rated ones returned whole. A resolved unrated ticket in the range counts; tickets
    // created outside it do not.
    let mut resolved = ticket(2, u.id, t0() + Duration::hours(1));
    resolved.resolved_at = Some(t0() + Duration::hours(3));
    insert_ticket(&store, &resolved).await;
    let mut outside = ticket(3, u.id, t0() + Duration::days(40));
    outside.resolved_at = Some(t0() + Duration::days(41));
    outside.satisfaction = rated.satisfaction.clone();
    insert_ticket(&store, &outside).await;
    let range = ReportRange::new(t0(), t0() + Duration::days(30)).unwrap();
    let samples = store.satisfaction_samples(range).await.unwrap();
    assert_eq!(samples.resolved, u64::from(rated.resolved_at.is_some()) + 1);
    assert_eq!(samples.rated, vec![rated]);
    let later = ReportRange::new(t0() + Duration::days(30), t0() + Duration::days(60)).unwrap();
    assert_eq!(
        store.satisfaction_samples(later).await.unwrap(),
        SatisfactionSamples { resolved: 1, rated: vec![outside] }
    );
}

fn inbound(key: &str, at: DateTime<Utc>, outcome: InboundOutcome) -> InboundMessage {
    InboundMessage {
        id: InboundId::random(),
        key: key.into(),
        message_id: Some(key.trim_start_matches("mid:").into()),
        from: "ana@example.com".into(),
        subject: "Printer — ünïcode".into(),
        channel: InboundChannel::Imap,
        raw: format!("inbound/{key}.eml"),
        size: 1234,
        received_at: at,
        processed_at: at,
        attempts: 1,
        outcome,
        version: 1,
    }
}

/// Messages that came in by mail: unique by key (a redelivery, or a second process racing on
/// the same message, cannot record it twice, and the ticket committed with it is not written
/// either); updated at their version; listed newest first, by outcome, in pages.
pub async fn inbound_messages(store: Arc<dyn Store>) {
    let a = user(1, Role::Employee, UserStatus::Approved);
    insert_user(&store, &a).await;
    let held = InboundOutcome::Held { reason: HoldReason::SenderUnproven };
    let mut records = Vec::new();
    for i in 0..5 {
        let outcome = if i % 2 == 0 {
            held.clone()
        } else {
            InboundOutcome::Ignored { reason: IgnoreReason::Bulk, failed_recipient: None }
        };
        let m = inbound(&format!("mid:m{i}@example.com"), t0() + Duration::seconds(i.min(3)), outcome);
        store.commit(UnitOfWork { inbound: vec![Versioned::insert(m.clone())], ..UnitOfWork::new() }).await.unwrap();
        records.push(m);
    }
    assert_eq!(store.inbound(records[0].id).await.unwrap().as_ref(), Some(&records[0]), "reads back whole");
    assert_eq!(store.inbound_by_key("mid:m1@example.com").await.unwrap().map(|m| m.id), Some(records[1].id));
    assert!(store.inbound_by_key("mid:nope").await.unwrap().is_none());

    // The same key again, with a ticket in the same unit of work: refused whole.
    let t = ticket(1, a.id, t0());
    let dup = UnitOfWork {
        inbound: vec![Versioned::insert(inbound("mid:m1@example.com", t0(), held.clone()))],
        tickets: vec![Versioned::insert(t.clone())],
        ..UnitOfWork::new()
    };
    assert!(matches!(store.commit(dup).await, Err(StoreError::AlreadyExists { what: "inbound message" })));
    assert!(store.ticket(t.id).await.unwrap().is_none(), "the ticket of a duplicate is not written");
    // Two processes racing on one new message: exactly one commits.
    let racer = |s: Arc<dyn Store>, m: InboundMessage| async move {
        s.commit(UnitOfWork { inbound: vec![Versioned::insert(m)], ..UnitOfWork::new() }).await
    };
    let (x, y) = tokio::join!(
        tokio::spawn(racer(store.clone(), inbound("mid:race@example.com", t0(), held.clone()))),
        tokio::spawn(racer(store.clone(), inbound("mid:race@example.com", t0(), held.clone())))
    );
    assert_eq!([x.unwrap().is_ok(), y.unwrap().is_ok()].iter().filter(|ok| **ok).count(), 1);

    // An update at the stored version; a stale one is refused.
    let mut done = records[0].clone();
    done.outcome = InboundOutcome::Ticket { number: t.number.clone() };
    done.attempts = 2;
    store.commit(UnitOfWork { inbound: vec![Versioned::update(done.clone(), 1)], ..UnitOfWork::new() }).await.unwrap();
    let stale = UnitOfWork { inbound: vec![Versioned::update(done.clone(), 1)], ..UnitOfWork::new() };
    assert!(matches!(store.commit(stale).await, Err(StoreError::VersionMismatch { expected: 1, found: 2 })));
    let back = store.inbound(done.id).await.unwrap().unwrap();
    assert_eq!((back.version, back.attempts, back.outcome.name()), (2, 2, "ticket"));

    // Newest first (ties by id, descending), filtered by outcome, paged.
    let race = store.inbound_by_key("mid:race@example.com").await.unwrap().unwrap();
    let mut all: Vec<(DateTime<Utc>, InboundId)> =
        records.iter().map(|m| (m.received_at, m.id)).chain([(race.received_at, race.id)]).collect();
    all.sort_by_key(|k| std::cmp::Reverse(*k));
    let listed: Vec<_> =
        store.list_inbound(None, None, 50).await.unwrap().iter().map(|m| (m.received_at, m.id)).collect();
    assert_eq!(listed, all);
    let page1 = store.list_inbound(None, None, 2).await.unwrap();
    let last = page1.last().map(|m| (m.received_at, m.id));
    let page2 = store.list_inbound(None, last, 50).await.unwrap();
    let paged: Vec<_> = page1.iter().chain(&page2).map(|m| (m.received_at, m.id)).collect();
    assert_eq!(paged, all);
    let held_now: Vec<InboundId> =
        store.list_inbound(Some("held"), None, 50).await.unwrap().iter().map(|m| m.id).collect();
    assert_eq!(held_now.len(), 3, "m2, m4 and the race winner");
    assert!(!held_now.contains(&done.id));
    assert_eq!(store.list_inbound(Some("ticket"), None, 50).await.unwrap().len(), 1);
}
