//! Hot paths of the core: a lifecycle transition, a policy decision, the actions offered on a
//! page of 50 tickets, and create + approve through the whole service on the in-memory store.
//!
//! `cargo bench -p helpdesk-core --bench hot_paths`

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use helpdesk_core::domain::{DepartmentKey, Priority, Role, TicketStatus, UserId};
use helpdesk_core::lifecycle::{Action, ActionInput, Actor, Lifecycle};
use helpdesk_core::password::{Argon2Hasher, Argon2Options, Password};
use helpdesk_core::policy::{Permission, Policy, Principal, Resource, RulePolicy, UserPrincipal};
use helpdesk_core::testing::fixtures::{t0, ticket};
use helpdesk_core::testing::{InMemoryStore, ManualClock};
use helpdesk_core::{ActionRequest, BootstrapAdmin, HelpDesk, LoginRequest, NewTicket};
use object_store::memory::InMemory;

fn transition(c: &mut Criterion) {
    let l = Lifecycle::default();
    let t = ticket(1, UserId::random(), t0());
    let actor = Actor::User { id: UserId::random(), role: Role::Coordinator };
    let input = ActionInput {
        priority: Some(Priority::High),
        department: Some(DepartmentKey::parse("it").unwrap()),
        ..ActionInput::default()
    };
    c.bench_function("lifecycle/approve", |b| {
        b.iter(|| l.apply(std::hint::black_box(&t), Action::Approve, &actor, &input, t0()).unwrap())
    });
}

fn policy(c: &mut Criterion) {
    let p = RulePolicy::default();
    let mut t = ticket(1, UserId::random(), t0());
    t.status = TicketStatus::Open;
    let employee =
        Principal::User(UserPrincipal { id: t.requester, role: Role::Employee, department: None, session: None });
    let res = Resource::on_ticket(&t, true);
    c.bench_function("policy/employee_download_internal", |b| {
        b.iter(|| p.decide(std::hint::black_box(&employee), Permission::DownloadAttachment, &res))
    });
    let res = Resource::ticket(&t);
    c.bench_function("policy/employee_view_own", |b| {
        b.iter(|| p.decide(std::hint::black_box(&employee), Permission::ViewTicket, &res))
    });
}

fn available_actions(c: &mut Criterion) {
    // What every ticket of a list page asks the lifecycle, for a page of 50 (the requester's
    // own tickets in every status).
    let l = Lifecycle::default();
    let requester = UserId::random();
    let page: Vec<_> = (0..50u64)
        .map(|i| {
            let mut t = ticket(i + 1, requester, t0());
            t.status = TicketStatus::ALL[i as usize % TicketStatus::ALL.len()];
            t
        })
        .collect();
    let actor = Actor::User { id: requester, role: Role::Employee };
    c.bench_function("lifecycle/available_actions_page_of_50", |b| {
        b.iter(|| std::hint::black_box(&page).iter().map(|t| l.available_actions(t, &actor, t0()).len()).sum::<usize>())
    });
}

fn create_and_approve(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let store = Arc::new(InMemoryStore::new());
    let desk = HelpDesk::builder(store, Arc::new(InMemory::new()))
        .clock(ManualClock::default_start())
        .hasher(Arc::new(Argon2Hasher::new(Argon2Options::insecure_fast_for_tests()).unwrap()))
        .build()
        .unwrap();
    let admin = rt.block_on(async {
        desk.ensure_admin(BootstrapAdmin {
            email: "a@example.com".into(),
            password: Some(Password::new("harbor-lantern-quartz-71")),
            first_name: "A".into(),
            last_name: "B".into(),
        })
        .await
        .unwrap();
        let s = desk
            .login(LoginRequest {
                email: "a@example.com".into(),
                password: Password::new("harbor-lantern-quartz-71"),
                address: None,
            })
            .await
            .unwrap();
        desk.authenticate_session(s.session.id).await.unwrap().0
    });
    let new = NewTicket {
        subject: "Printer".into(),
        category: "hardware".into(),
        sub_category: "printer".into(),
        description: "Jammed".into(),
        scheduled_date: None,
        fields: Default::default(),
    };
    let approve =
        ActionRequest { priority: Some(Priority::High), department: Some("it".into()), ..ActionRequest::default() };
    c.bench_function("service/create_and_approve_in_memory", |b| {
        b.to_async(&rt).iter(|| async {
            let t = desk.create_ticket(&admin, new.clone(), None).await.unwrap();
            desk.act(&admin, &t.number, Action::Approve, approve.clone(), Some(1)).await.unwrap()
        })
    });
}

criterion_group!(benches, transition, policy, available_actions, create_and_approve);
criterion_main!(benches);
