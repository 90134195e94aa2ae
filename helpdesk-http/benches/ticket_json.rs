//! The list route's own work on a page of 50 tickets, without HTTP or storage: each ticket's
//! view (the actions its viewer may take) turned into the API's `TicketOut` and the page
//! written as JSON. This is most of the CPU a `GET /api/v1/tickets` costs the server once the
//! store has answered.
//!
//! `cargo bench -p helpdesk-http --bench ticket_json`

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use helpdesk_core::TicketView;
use helpdesk_core::domain::{Priority, Role, Tag, TicketStatus, UserId};
use helpdesk_core::lifecycle::{Actor, Lifecycle};
use helpdesk_core::testing::fixtures::{t0, ticket};
use helpdesk_http::views::{TicketOut, sized_json_response};

/// A coordinator's page of 50: every status, priorities, an assignee and two tags on some, as
/// the HTTP benchmark's tickets carry after triage.
fn page() -> Vec<TicketView> {
    let l = Lifecycle::default();
    let coordinator = UserId::random();
    let actor = Actor::User { id: coordinator, role: Role::Coordinator };
    (0..50u64)
        .map(|i| {
            let mut t = ticket(i + 1, UserId::random(), t0());
            t.status = TicketStatus::ALL[i as usize % TicketStatus::ALL.len()];
            if i % 2 == 0 {
                t.priority = Some(Priority::High);
                t.assignee = Some(coordinator);
                t.first_response_at = Some(t0());
                t.tags = vec![Tag::parse_field("tags", "vpn").unwrap(), Tag::parse_field("tags", "printer").unwrap()];
            }
            t.followers = vec![t.requester];
            let actions = l.available_actions(&t, &actor, t0());
            TicketView {
                ticket: t,
                actions,
                sees_internal: true,
                sla_state: None,
                can_tag: true,
                can_manage_followers: true,
            }
        })
        .collect()
}

fn page_to_json(c: &mut Criterion) {
    let views = page();
    let mut buf = Vec::with_capacity(64 * 1024);
    c.bench_function("ticket_json/page_of_50", |b| {
        b.iter(|| {
            buf.clear();
            let items: Vec<TicketOut<'_>> = std::hint::black_box(&views).iter().map(TicketOut::from).collect();
            serde_json::to_writer(&mut buf, &items).unwrap();
            buf.len()
        })
    });
    let items: Vec<TicketOut<'_>> = views.iter().map(TicketOut::from).collect();
    eprintln!("a page of 50: {} bytes of JSON", serde_json::to_vec(&items).unwrap().len());
    c.bench_function("ticket_json/page_of_50_json_only", |b| {
        b.iter(|| {
            buf.clear();
            serde_json::to_writer(&mut buf, std::hint::black_box(&items)).unwrap();
            buf.len()
        })
    });
}

/// The whole response as a list route answers: axum's `Json`, whose buffer starts at 128 bytes
/// and doubles, against a buffer sized for the page once.
fn page_response(c: &mut Criterion) {
    use axum::response::IntoResponse;
    let views = page();
    let items: Vec<TicketOut<'_>> = views.iter().map(TicketOut::from).collect();
    c.bench_function("ticket_json/page_of_50_response_axum_json", |b| {
        b.iter(|| axum::Json(std::hint::black_box(&items)).into_response())
    });
    c.bench_function("ticket_json/page_of_50_response_sized", |b| {
        b.iter(|| sized_json_response(std::hint::black_box(&items), 1024 * items.len()))
    });
}

criterion_group!(benches, page_to_json, page_response);
criterion_main!(benches);
