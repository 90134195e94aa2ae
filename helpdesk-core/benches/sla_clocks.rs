//! Service-level clocks: every target cycle of a ticket with 200 history events (comments both
//! ways, holds, waits on the requester, a resolution and a reopening, over five weeks) in an
//! office calendar with lunch breaks, daylight saving and holidays. The target: under
//! 20 µs.
//!
//! `cargo bench -p helpdesk-core --bench sla_clocks`

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use chrono::{Duration, NaiveDate};
use criterion::{Criterion, criterion_group, criterion_main};
use helpdesk_core::domain::{CommentId, EventId, TicketId, TicketStatus, UserId};
use helpdesk_core::lifecycle::Action;
use helpdesk_core::model::{ActorRef, EventKind, FieldChange, HistoryEvent};
use helpdesk_core::sla::{CalendarSpec, Holiday, Span, Targets, WeekdayName, WorkingDay, cycles};
use helpdesk_core::testing::fixtures::t0;

fn history(requester: UserId, staff: UserId) -> Vec<HistoryEvent> {
    let ticket = TicketId::random();
    let event = |i: usize, actor: UserId, kind: EventKind, status: Option<TicketStatus>, internal: bool| HistoryEvent {
        id: EventId::random(),
        ticket,
        at: t0() + Duration::minutes(i as i64 * 250),
        actor: ActorRef::User { id: actor },
        kind,
        changes: status.map(|s| FieldChange::new("status", None, Some(s.to_string()))).into_iter().collect(),
        note: None,
        internal,
        version: i as u64 + 1,
        by_macro: None,
    };
    let comment = || EventKind::Commented { comment: CommentId::random() };
    let act = |action| EventKind::Action { action };
    let mut out = vec![event(0, requester, act(Action::Submit), Some(TicketStatus::New), false)];
    out.push(event(1, staff, act(Action::Approve), Some(TicketStatus::Open), false));
    out.push(event(2, staff, act(Action::Claim), Some(TicketStatus::InProgress), false));
    let mut i = 3;
    while out.len() < 196 {
        let (who, kind, status, internal) = match i % 8 {
            0 => (staff, act(Action::AwaitRequester), Some(TicketStatus::Pending), false),
            1 => (requester, comment(), None, false),
            2 => (staff, act(Action::Resume), Some(TicketStatus::InProgress), false),
            3 => (staff, comment(), None, true),
            4 => (staff, act(Action::Hold), Some(TicketStatus::OnHold), false),
            5 => (staff, act(Action::Resume), Some(TicketStatus::InProgress), false),
            6 => (staff, comment(), None, false),
            _ => (requester, comment(), None, false),
        };
        out.push(event(i, who, kind, status, internal));
        i += 1;
    }
    out.push(event(i, staff, act(Action::Resolve), Some(TicketStatus::Resolved), false));
    out.push(event(i + 1, requester, act(Action::Reopen), Some(TicketStatus::InProgress), false));
    out.push(event(i + 2, requester, comment(), None, false));
    out.push(event(i + 3, staff, comment(), None, false));
    out
}

fn clocks(c: &mut Criterion) {
    use WeekdayName::*;
    let span = |s: &str, e: &str| Span { start: s.into(), end: e.into() };
    let week = [Mon, Tue, Wed, Thu, Fri]
        .into_iter()
        .map(|day| WorkingDay { day, hours: vec![span("08:30", "12:30"), span("13:30", "17:30")] })
        .collect();
    let holidays = vec![
        Holiday { date: NaiveDate::from_ymd_opt(2020, 1, 6).unwrap(), recurring: true, name: "Epiphany".into() },
        Holiday { date: NaiveDate::from_ymd_opt(2026, 1, 19).unwrap(), recurring: false, name: "Closed".into() },
    ];
    let cal =
        CalendarSpec { key: "office".into(), time_zone: "Europe/Berlin".into(), week, holidays }.compile().unwrap();
    let (requester, staff) = (UserId::random(), UserId::random());
    let h = history(requester, staff);
    assert_eq!(h.len(), 200);
    let targets = Targets {
        first_response: Some(Duration::hours(4)),
        next_response: Some(Duration::hours(8)),
        resolution: Some(Duration::hours(40)),
    };
    let now = h.last().unwrap().at + Duration::hours(3);
    let first = h[0].at;
    assert_eq!(cycles(requester, &h, &targets, &cal, 75, now).len(), 52);
    c.bench_function("sla/calendar_window_of_the_ticket", |b| b.iter(|| cal.window(first, now)));
    c.bench_function("sla/cycles_of_a_200_event_ticket", |b| {
        b.iter(|| cycles(requester, std::hint::black_box(&h), &targets, &cal, 75, now))
    });
}

criterion_group!(benches, clocks);
criterion_main!(benches);
