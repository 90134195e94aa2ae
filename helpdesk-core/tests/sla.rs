//! Service-level calendars and clocks: worked examples across daylight-saving changes,
//! midnight, year ends, holidays and days without working time; the policy checks; and the
//! properties the clocks promise (a calendar always open is the wall clock, splitting an
//! interval never changes the sum, adding business time is the inverse of measuring it,
//! appending events never takes time back, a pause never adds time).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use helpdesk_core::domain::{EventId, Priority, TicketId, TicketStatus, UserId};
use helpdesk_core::lifecycle::Action;
use helpdesk_core::model::{ActorRef, EventKind, FieldChange, HistoryEvent};
use helpdesk_core::sla::{
    BusinessCalendar, CalendarSpec, Holiday, PriorityTargets, SlaPolicy, SlaSpec, Span, TargetKind, TargetState,
    Targets, WeekdayName, WorkingDay, current, cycles,
};
use proptest::prelude::*;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn span(start: &str, end: &str) -> Span {
    Span { start: start.into(), end: end.into() }
}

fn office(tz: &str, holidays: Vec<Holiday>) -> BusinessCalendar {
    use WeekdayName::*;
    let week = [Mon, Tue, Wed, Thu, Fri]
        .into_iter()
        .map(|day| WorkingDay { day, hours: vec![span("09:00", "12:00"), span("13:00", "17:00")] })
        .collect();
    CalendarSpec { key: "office".into(), time_zone: tz.into(), week, holidays }.compile().unwrap()
}

fn always(tz: &str) -> BusinessCalendar {
    use WeekdayName::*;
    let week = [Mon, Tue, Wed, Thu, Fri, Sat, Sun]
        .into_iter()
        .map(|day| WorkingDay { day, hours: vec![span("00:00", "24:00")] })
        .collect();
    CalendarSpec { key: "always".into(), time_zone: tz.into(), week, holidays: vec![] }.compile().unwrap()
}

#[test]
fn a_working_week_counts_its_hours_in_its_own_time_zone() {
    let cal = office("Europe/Berlin", vec![]);
    // Monday 2026-03-02 00:00 Berlin to the next Monday: 5 days x 7 hours.
    assert_eq!(cal.business_time(at("2026-03-01T23:00:00Z"), at("2026-03-08T23:00:00Z")), Duration::hours(35));
    // 11:30 to 19:00 local: lunch and the evening do not count.
    assert_eq!(cal.business_time(at("2026-03-02T10:30:00Z"), at("2026-03-02T18:00:00Z")), Duration::minutes(270));
    // Friday 16:00 local plus 2 working hours: Monday 10:00 local.
    assert_eq!(cal.add_business_time(at("2026-03-06T15:00:00Z"), Duration::hours(2)), Some(at("2026-03-09T09:00:00Z")));
}

#[test]
fn daylight_saving_changes_keep_working_hours_local() {
    let cal = office("Europe/Berlin", vec![]);
    // The week of the spring change (Sunday 2026-03-29): Monday 09:00 is 07:00 UTC, not 08:00.
    assert_eq!(cal.add_business_time(at("2026-03-27T15:30:00Z"), Duration::hours(1)), Some(at("2026-03-30T07:30:00Z")));
    // A calendar open all day counts the 23-hour and the 25-hour day as they are.
    let all = always("Europe/Berlin");
    assert_eq!(all.business_time(at("2026-03-28T23:00:00Z"), at("2026-03-29T22:00:00Z")), Duration::hours(23));
    assert_eq!(all.business_time(at("2026-10-24T22:00:00Z"), at("2026-10-25T23:00:00Z")), Duration::hours(25));
    // Working hours inside the gap start when the gap ends.
    use WeekdayName::*;
    let night = CalendarSpec {
        key: "night".into(),
        time_zone: "Europe/Berlin".into(),
        week: vec![WorkingDay { day: Sun, hours: vec![span("02:15", "04:00")] }],
        holidays: vec![],
    }
    .compile()
    .unwrap();
    // 02:15 does not exist on 2026-03-29: the span runs 03:00 to 04:00 local (01:00-02:00 UTC).
    assert_eq!(night.business_time(at("2026-03-28T00:00:00Z"), at("2026-03-30T00:00:00Z")), Duration::hours(1));
}

#[test]
fn midnight_year_ends_holidays_and_days_without_work() {
    let new_year =
        Holiday { date: NaiveDate::from_ymd_opt(2020, 1, 1).unwrap(), recurring: true, name: "New Year".into() };
    let one_off =
        Holiday { date: NaiveDate::from_ymd_opt(2026, 12, 31).unwrap(), recurring: false, name: "Closed".into() };
    let cal = office("America/New_York", vec![new_year, one_off]);
    // Wednesday 2026-12-30 16:00 local + 3h: Thursday 31st closed, Friday 1st (recurring) closed,
    // so Monday 2027-01-04 11:00 local (16:00 UTC).
    assert_eq!(cal.add_business_time(at("2026-12-30T21:00:00Z"), Duration::hours(3)), Some(at("2027-01-04T16:00:00Z")));
    // Across midnight: 23:30 to 00:30 UTC on an all-day calendar is one hour.
    assert_eq!(always("UTC").business_time(at("2026-05-01T23:30:00Z"), at("2026-05-02T00:30:00Z")), Duration::hours(1));
    // A calendar with no working time never reaches a target.
    let closed = CalendarSpec { key: "closed".into(), time_zone: "UTC".into(), week: vec![], holidays: vec![] }
        .compile()
        .unwrap();
    assert_eq!(closed.add_business_time(at("2026-05-01T00:00:00Z"), Duration::minutes(1)), None);
    assert_eq!(closed.business_time(at("2026-05-01T00:00:00Z"), at("2027-05-01T00:00:00Z")), Duration::zero());
}

#[test]
fn bad_calendars_and_policies_name_the_field() {
    let bad = SlaSpec {
        calendars: vec![CalendarSpec {
            key: "office".into(),
            time_zone: "Mars/Olympus".into(),
            week: vec![WorkingDay {
                day: WeekdayName::Mon,
                hours: vec![span("17:00", "09:00"), span("25:00", "26:00")],
            }],
            holidays: vec![],
        }],
        policies: vec![SlaPolicy {
            key: "standard".into(),
            calendar: "missing".into(),
            departments: vec![],
            categories: vec![],
            targets: vec![PriorityTargets {
                priority: None,
                first_response_minutes: Some(0),
                next_response_minutes: None,
                resolution_minutes: None,
            }],
        }],
        warning_percent: 100,
    };
    let fields: Vec<String> = bad.compile().unwrap_err().0.into_iter().map(|f| f.field).collect();
    for f in [
        "calendars[0].time_zone",
        "calendars[0].week[0].hours[0].end",
        "calendars[0].week[0].hours[1].start",
        "policies[0].calendar",
        "policies[0].targets[0].first_response_minutes",
        "warning_percent",
    ] {
        assert!(fields.iter().any(|x| x == f), "{f} not in {fields:?}");
    }
}

fn targets(first: i64, next: i64, resolution: i64) -> Targets {
    Targets {
        first_response: Some(Duration::minutes(first)),
        next_response: Some(Duration::minutes(next)),
        resolution: Some(Duration::minutes(resolution)),
    }
}

/// A history builder: `(minutes after submission, who, what)`.
#[derive(Clone, Copy, Debug)]
enum Ev {
    Act(Action, TicketStatus),
    StaffComment,
    RequesterComment,
    InternalNote,
}

fn history(requester: UserId, staff: UserId, t0: DateTime<Utc>, evs: &[(i64, Ev)]) -> Vec<HistoryEvent> {
    let secs: Vec<(i64, Ev)> = evs.iter().map(|(m, e)| (m * 60, *e)).collect();
    history_s(requester, staff, t0, &secs)
}

/// As [`history`], with offsets in seconds.
fn history_s(requester: UserId, staff: UserId, t0: DateTime<Utc>, evs: &[(i64, Ev)]) -> Vec<HistoryEvent> {
    let ticket = TicketId::random();
    let mut out = vec![HistoryEvent {
        id: EventId::random(),
        ticket,
        at: t0,
        actor: ActorRef::User { id: requester },
        kind: EventKind::Action { action: Action::Submit },
        changes: vec![FieldChange::new("status", None, Some("new".into()))],
        note: None,
        internal: false,
        version: 1,
        by_macro: None,
    }];
    for (i, (min, ev)) in evs.iter().enumerate() {
        let (actor, kind, changes, internal) = match *ev {
            Ev::Act(action, to) => (
                if matches!(action, Action::Withdraw) { requester } else { staff },
                EventKind::Action { action },
                vec![FieldChange::new("status", None, Some(to.to_string()))],
                false,
            ),
            Ev::StaffComment => {
                (staff, EventKind::Commented { comment: helpdesk_core::domain::CommentId::random() }, vec![], false)
            }
            Ev::RequesterComment => {
                (requester, EventKind::Commented { comment: helpdesk_core::domain::CommentId::random() }, vec![], false)
            }
            Ev::InternalNote => {
                (staff, EventKind::Commented { comment: helpdesk_core::domain::CommentId::random() }, vec![], true)
            }
        };
        out.push(HistoryEvent {
            id: EventId::random(),
            ticket,
            at: t0 + Duration::seconds(*min),
            actor: ActorRef::User { id: actor },
            kind,
            changes,
            note: None,
            internal,
            version: i as u64 + 2,
            by_macro: None,
        });
    }
    out
}

#[test]
fn the_story_of_a_ticket_against_its_targets() {
    use Ev::*;
    use TicketStatus as S;
    let (req, staff) = (UserId::random(), UserId::random());
    let t0 = at("2026-06-01T08:00:00Z"); // a Monday
    let cal = always("UTC");
    let h = history(
        req,
        staff,
        t0,
        &[
            (10, InternalNote),                  // not a response
            (30, Act(Action::Approve, S::Open)), // first response at 30 min
            (40, Act(Action::Claim, S::InProgress)),
            (60, Act(Action::AwaitRequester, S::Pending)), // paused 60..180
            (180, RequesterComment),
            (180, Act(Action::Resume, S::InProgress)),
            (300, StaffComment), // next response after 120 min: breached (target 60)
            (400, Act(Action::Resolve, S::Resolved)),
            (500, Act(Action::Reopen, S::InProgress)),
        ],
    );
    let all = cycles(req, &h, &targets(60, 60, 240), &cal, 75, t0 + Duration::minutes(620));
    let show: Vec<(TargetKind, TargetState, i64)> =
        all.iter().map(|c| (c.kind, c.state, c.elapsed.num_minutes())).collect();
    assert_eq!(
        show,
        [
            (TargetKind::FirstResponse, TargetState::Met, 30),
            (TargetKind::Resolution, TargetState::Breached, 280), // 400 minus the 120 paused
            (TargetKind::NextResponse, TargetState::Breached, 120),
            (TargetKind::Resolution, TargetState::Ok, 120), // restarted at the reopening
        ]
    );
    let now: Vec<TargetKind> = current(&all).iter().map(|c| c.kind).collect();
    assert_eq!(now, [TargetKind::FirstResponse, TargetKind::NextResponse, TargetKind::Resolution]);
    let reopened = all.last().unwrap();
    assert_eq!(reopened.due_at, Some(t0 + Duration::minutes(740)));
    // Past 75 % of the target: warning; paused: paused, with no due time.
    let later = cycles(req, &h, &targets(60, 60, 240), &cal, 75, t0 + Duration::minutes(690));
    assert_eq!(later.last().unwrap().state, TargetState::Warning);
    let mut held = h.clone();
    held.extend(history(req, staff, t0, &[(700, Act(Action::Hold, S::OnHold))]).into_iter().skip(1));
    let paused = cycles(req, &held, &targets(60, 60, 240), &cal, 75, t0 + Duration::minutes(900));
    let last = paused.last().unwrap();
    assert_eq!((last.state, last.elapsed.num_minutes(), last.due_at), (TargetState::Paused, 200, None));
}

#[test]
fn rejected_and_withdrawn_tickets_leave_no_running_targets() {
    use Ev::*;
    use TicketStatus as S;
    let (req, staff) = (UserId::random(), UserId::random());
    let t0 = at("2026-06-01T08:00:00Z");
    let cal = always("UTC");
    let rejected = history(req, staff, t0, &[(20, Act(Action::Reject, S::Rejected))]);
    let c = cycles(req, &rejected, &targets(60, 60, 240), &cal, 75, t0 + Duration::days(3));
    assert_eq!(
        c.iter().map(|c| (c.kind, c.state)).collect::<Vec<_>>(),
        [(TargetKind::FirstResponse, TargetState::Met)]
    );
    // Withdrawn after the first-response target passed: that one was breached; the resolution
    // target (240 min) had not passed, so it has no outcome.
    let withdrawn = history(req, staff, t0, &[(90, Act(Action::Withdraw, S::Withdrawn))]);
    let c = cycles(req, &withdrawn, &targets(60, 60, 240), &cal, 75, t0 + Duration::days(3));
    let show: Vec<_> = c.iter().map(|c| (c.kind, c.state, c.ended_at)).collect();
    assert_eq!(show, [(TargetKind::FirstResponse, TargetState::Breached, Some(t0 + Duration::minutes(90)))]);
    // Withdrawn before any target passed: nothing to count, now or ever.
    let early = history(req, staff, t0, &[(30, Act(Action::Withdraw, S::Withdrawn))]);
    assert!(cycles(req, &early, &targets(60, 60, 240), &cal, 75, t0 + Duration::days(30)).is_empty());
}

#[test]
fn the_first_matching_policy_applies_with_its_priority_or_the_fallback() {
    let fixtures = helpdesk_core::testing::fixtures::ticket(1, UserId::random(), at("2026-06-01T08:00:00Z"));
    let entry = |p: Option<Priority>, m: u32| PriorityTargets {
        priority: p,
        first_response_minutes: Some(m),
        next_response_minutes: None,
        resolution_minutes: None,
    };
    let spec = SlaSpec {
        calendars: vec![CalendarSpec { key: "c".into(), time_zone: "UTC".into(), week: vec![], holidays: vec![] }],
        policies: vec![
            SlaPolicy {
                key: "budget".into(),
                calendar: "c".into(),
                departments: vec![helpdesk_core::domain::DepartmentKey::parse("budget").unwrap()],
                categories: vec![],
                targets: vec![entry(None, 5)],
            },
            SlaPolicy {
                key: "standard".into(),
                calendar: "c".into(),
                departments: vec![],
                categories: vec![],
                targets: vec![entry(Some(Priority::Critical), 15), entry(None, 240)],
            },
        ],
        warning_percent: 75,
    };
    let rules = spec.compile().unwrap();
    let (p, _) = rules.policy_for(&fixtures).unwrap();
    assert_eq!(p.key, "standard", "the fixture is in the it department");
    assert_eq!(p.targets(Some(Priority::Critical)).first_response, Some(Duration::minutes(15)));
    assert_eq!(p.targets(Some(Priority::Low)).first_response, Some(Duration::minutes(240)));
    assert_eq!(p.targets(None).first_response, Some(Duration::minutes(240)));
    let mut budget = fixtures.clone();
    budget.department = Some(helpdesk_core::domain::DepartmentKey::parse("budget").unwrap());
    assert_eq!(rules.policy_for(&budget).unwrap().0.key, "budget");
}

const ZONES: &[&str] = &[
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe",
    "Asia/Kathmandu",
    "Pacific/Apia",
    "America/Sao_Paulo",
];

fn any_calendar() -> impl Strategy<Value = BusinessCalendar> {
    use WeekdayName::*;
    let day_hours = prop::collection::vec((0u16..1440, 1u16..600), 0..3).prop_map(|raw| {
        let mut spans: Vec<(u16, u16)> = Vec::new();
        for (start, len) in raw {
            let end = (start + len).min(1440);
            if spans.last().is_none_or(|l| start >= l.1) && end > start {
                spans.push((start, end));
            }
        }
        spans
            .into_iter()
            .map(|(s, e)| span(&format!("{:02}:{:02}", s / 60, s % 60), &format!("{:02}:{:02}", e / 60, e % 60)))
            .collect::<Vec<Span>>()
    });
    (0..ZONES.len(), prop::collection::vec(day_hours, 7), prop::collection::vec((0u32..3000, any::<bool>()), 0..20))
        .prop_map(|(zone, days, holidays)| {
            let week = [Mon, Tue, Wed, Thu, Fri, Sat, Sun]
                .into_iter()
                .zip(days)
                .map(|(day, mut hours)| {
                    hours.sort_by(|a: &Span, b: &Span| a.start.cmp(&b.start));
                    WorkingDay { day, hours }
                })
                .collect();
            let base = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
            let holidays = holidays
                .into_iter()
                .map(|(d, recurring)| Holiday {
                    date: base + Duration::days(i64::from(d)),
                    recurring,
                    name: String::new(),
                })
                .collect();
            CalendarSpec { key: "p".into(), time_zone: ZONES[zone].into(), week, holidays }.compile().unwrap()
        })
}

fn any_instant() -> impl Strategy<Value = DateTime<Utc>> {
    // 2024 to 2031.
    (1_704_067_200i64..1_956_528_000).prop_map(|s| Utc.timestamp_opt(s, 0).unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn a_calendar_always_open_is_the_wall_clock(zone in 0..ZONES.len(), a in any_instant(), len in 0i64..90 * 86_400) {
        let b = a + Duration::seconds(len);
        prop_assert_eq!(always(ZONES[zone]).business_time(a, b), b - a);
    }

    #[test]
    fn splitting_an_interval_never_changes_the_sum(cal in any_calendar(), a in any_instant(), x in 0i64..40 * 86_400, y in 0i64..40 * 86_400) {
        let (b, c) = (a + Duration::seconds(x.min(y)), a + Duration::seconds(x.max(y)));
        prop_assert_eq!(cal.business_time(a, b) + cal.business_time(b, c), cal.business_time(a, c));
        prop_assert!(cal.business_time(a, c) <= c - a);
    }

    #[test]
    fn a_window_answers_as_its_calendar(cal in any_calendar(), a in any_instant(), len in 0i64..30 * 86_400, x in 0i64..30 * 86_400, y in 0i64..30 * 86_400, minutes in 0i64..40_000) {
        let b = a + Duration::seconds(len);
        let w = cal.window(a, b);
        // Points inside and outside the window.
        let (p, q) = (a + Duration::seconds(x.min(y) - 86_400), a + Duration::seconds(x.max(y)));
        prop_assert_eq!(w.business_time(p, q), cal.business_time(p, q));
        prop_assert_eq!(w.add_business_time(p, Duration::minutes(minutes)), cal.add_business_time(p, Duration::minutes(minutes)));
    }

    #[test]
    fn adding_business_time_is_measuring_it_backwards(cal in any_calendar(), a in any_instant(), minutes in 0i64..20_000) {
        let d = Duration::minutes(minutes);
        if let Some(due) = cal.add_business_time(a, d) {
            prop_assert_eq!(cal.business_time(a, due), d);
            // And not a moment later than needed: just before it, less had passed.
            if minutes > 0 {
                prop_assert!(cal.business_time(a, due - Duration::seconds(1)) < d);
            }
        }
    }
}

fn any_history() -> impl Strategy<Value = Vec<(i64, Ev)>> {
    use TicketStatus as S;
    let ev = prop_oneof![
        Just(Ev::Act(Action::Approve, S::Open)),
        Just(Ev::Act(Action::Claim, S::InProgress)),
        Just(Ev::Act(Action::Hold, S::OnHold)),
        Just(Ev::Act(Action::AwaitRequester, S::Pending)),
        Just(Ev::Act(Action::Resume, S::InProgress)),
        Just(Ev::Act(Action::Resolve, S::Resolved)),
        Just(Ev::Act(Action::Reopen, S::InProgress)),
        Just(Ev::StaffComment),
        Just(Ev::RequesterComment),
        Just(Ev::InternalNote),
    ];
    prop::collection::vec((1i64..600, ev), 0..30).prop_map(|v| {
        let mut t = 0;
        v.into_iter()
            .map(|(gap, e)| {
                t += gap;
                (t, e)
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn appending_events_never_takes_time_back(cal in any_calendar(), t0 in any_instant(), evs in any_history(), extra in any_history(), wait in 0i64..10_000) {
        let (req, staff) = (UserId::random(), UserId::random());
        let all = history(req, staff, t0, &evs);
        let last = evs.last().map_or(0, |e| e.0);
        let more: Vec<(i64, Ev)> = extra.iter().map(|(m, e)| (m + last, *e)).collect();
        let longer = history(req, staff, t0, &[evs.clone(), more.clone()].concat());
        let now1 = t0 + Duration::minutes(last);
        let now2 = t0 + Duration::minutes(more.last().map_or(last, |e| e.0) + wait);
        let t = targets(60, 120, 600);
        let before = cycles(req, &all, &t, &cal, 75, now1);
        let after = cycles(req, &longer, &t, &cal, 75, now2);
        for c in &before {
            let same = after.iter().find(|a| a.kind == c.kind && a.started_at == c.started_at);
            // Every cycle is still there (or, for a running one, was ended without outcome by a
            // rejection or withdrawal, which the generator never makes), with no less time.
            let same = same.unwrap_or_else(|| panic!("cycle {c:?} vanished"));
            prop_assert!(same.elapsed >= c.elapsed, "{c:?} -> {same:?}");
        }
    }

    #[test]
    fn a_running_target_warns_and_falls_due_exactly_when_its_shares_are_used_up(cal in any_calendar(), t0 in any_instant(), evs in any_history()) {
        let (req, staff) = (UserId::random(), UserId::random());
        let h = history(req, staff, t0, &evs);
        let now = h.last().unwrap().at;
        let t = targets(60, 120, 600);
        for c in cycles(req, &h, &t, &cal, 75, now) {
            if let (None, Some(due)) = (c.ended_at, c.due_at)
                && due > now
            {
                let then = cycles(req, &h, &t, &cal, 75, due);
                let same = then.iter().find(|x| x.kind == c.kind && x.started_at == c.started_at).unwrap();
                prop_assert_eq!(same.elapsed, c.target, "{:?}", c);
                prop_assert_eq!(same.state, TargetState::Warning);
            }
            // The warning moment: the first instant in the warning share, before the due time.
            if let (None, Some(warn)) = (c.ended_at, c.warning_at) {
                prop_assert!(c.due_at.is_some_and(|d| warn <= d), "{:?}", c);
                if warn > now {
                    let then = cycles(req, &h, &t, &cal, 75, warn);
                    let same = then.iter().find(|x| x.kind == c.kind && x.started_at == c.started_at).unwrap();
                    prop_assert_eq!(same.state, TargetState::Warning, "{:?}", c);
                    let before = cycles(req, &h, &t, &cal, 75, warn - Duration::seconds(1));
                    let same = before.iter().find(|x| x.kind == c.kind && x.started_at == c.started_at).unwrap();
                    prop_assert_eq!(same.state, TargetState::Ok, "{:?}", c);
                }
            }
        }
    }

    #[test]
    fn a_pause_never_adds_business_time(cal in any_calendar(), t0 in any_instant(), evs in any_history(), at in 0usize..30, len in 1i64..3000) {
        use TicketStatus as S;
        let (req, staff) = (UserId::random(), UserId::random());
        let now = t0 + Duration::minutes(evs.last().map_or(0, |e| e.0) + 100);
        let secs: Vec<(i64, Ev)> = evs.iter().map(|(m, e)| (m * 60, *e)).collect();
        let plain = cycles(req, &history_s(req, staff, t0, &secs), &targets(60, 120, 600), &cal, 75, now);
        // Put the ticket on hold between two events (or after the last) and back to the status
        // it had, with nothing else in between: only a pause.
        let at = at.min(secs.len());
        let before = secs[..at].iter().rev().find_map(|(_, e)| match e {
            Ev::Act(_, to) => Some(*to),
            _ => None,
        });
        let from = secs.get(at.wrapping_sub(1)).map_or(0, |e| e.0) + 1;
        let until = secs.get(at).map_or(from + len * 60, |e| e.0 - 1).min(from + len * 60).max(from);
        let mut paused_evs = secs.clone();
        paused_evs.insert(at, (until, Ev::Act(Action::Resume, before.unwrap_or(S::New))));
        paused_evs.insert(at, (from, Ev::Act(Action::Hold, S::OnHold)));
        let paused = cycles(req, &history_s(req, staff, t0, &paused_evs), &targets(60, 120, 600), &cal, 75, now);
        for c in &paused {
            if let Some(p) = plain.iter().find(|p| p.kind == c.kind && p.started_at == c.started_at && p.ended_at == c.ended_at) {
                prop_assert!(c.elapsed <= p.elapsed, "{p:?} -> {c:?}");
            }
        }
    }
}
