//! Service levels through the use cases, on the in-memory store: staff read a ticket's
//! targets and the report, the policy chosen is recorded, each change stores the schedule of
//! the running targets (what the due-soonest sort and the alert loop read), and the alert loop
//! tells the right people once.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{DateTime, Duration, Utc};
use helpdesk_core::domain::Priority;
use helpdesk_core::lifecycle::Action;
use helpdesk_core::model::HistoryEvent;
use helpdesk_core::sla::{SlaSpec, TargetKind, TargetState};

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// The use case: staff read a ticket's targets (and see them on its thread); employees do not.
#[tokio::test]
async fn staff_read_a_tickets_service_levels_and_employees_do_not() {
    use helpdesk_core::{ActionRequest, Error, NewTicket};

    let spec: SlaSpec = serde_json::from_value(serde_json::json!({
        "calendars": [{"key": "office", "time_zone": "Europe/Berlin",
                       "week": [{"day": "mon", "hours": [{"start": "09:00", "end": "17:00"}]},
                                {"day": "tue", "hours": [{"start": "09:00", "end": "17:00"}]}]}],
        "policies": [{"key": "standard", "calendar": "office",
                      "targets": [{"priority": "critical", "first_response_minutes": 30, "resolution_minutes": 120},
                                  {"first_response_minutes": 60, "resolution_minutes": 600}]}]
    }))
    .unwrap();
    let (desk, clock, admin, emp) = sla_desk(spec).await;
    // Monday 10:00 Berlin (08:00 UTC): filed; approved as critical 20 working minutes later.
    let t = desk
        .create_ticket(
            &emp,
            NewTicket {
                subject: "Server down".into(),
                category: "hardware".into(),
                sub_category: "laptop".into(),
                description: "Nothing answers".into(),
                scheduled_date: None,
                fields: Default::default(),
            },
            None,
        )
        .await
        .unwrap();
    clock.advance(Duration::minutes(20));
    let approve =
        ActionRequest { priority: Some(Priority::Critical), department: Some("it".into()), ..ActionRequest::default() };
    desk.act(&admin, &t.number, Action::Approve, approve, None).await.unwrap();
    clock.advance(Duration::minutes(100));
    let sla = desk.ticket_sla(&admin, &t.number).await.unwrap().unwrap();
    assert_eq!((sla.policy.as_str(), sla.calendar.as_str()), ("standard", "office"));
    let states: Vec<(TargetKind, TargetState)> = sla.targets.iter().map(|c| (c.kind, c.state)).collect();
    assert_eq!(states, [(TargetKind::FirstResponse, TargetState::Met), (TargetKind::Resolution, TargetState::Warning)]);
    assert_eq!(sla.targets[1].due_at, Some(at("2026-06-01T10:00:00Z")), "two working hours after 10:00 Berlin");
    assert_eq!(desk.ticket_thread(&admin, &t.number).await.unwrap().sla, Some(sla));
    assert!(matches!(desk.ticket_sla(&emp, &t.number).await, Err(Error::Forbidden(_))));
    assert_eq!(desk.ticket_thread(&emp, &t.number).await.unwrap().sla, None);
}

/// Every day, all day (as JSON for a calendar's `week`).
fn all_week() -> Vec<serde_json::Value> {
    ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        .iter()
        .map(|d| serde_json::json!({"day": d, "hours": [{"start": "00:00", "end": "24:00"}]}))
        .collect()
}

/// One policy, `standard`, with `targets` (for every priority) on a UTC calendar open all
/// week.
fn utc_policy(targets: serde_json::Value) -> SlaSpec {
    serde_json::from_value(serde_json::json!({
        "calendars": [{"key": "utc", "time_zone": "UTC", "week": all_week()}],
        "policies": [{"key": "standard", "calendar": "utc", "targets": [targets]}]
    }))
    .unwrap()
}

/// A desk with `spec`, an admin and an approved employee, at 2026-06-01 08:00 UTC.
async fn sla_desk(
    spec: SlaSpec,
) -> (
    helpdesk_core::HelpDesk,
    std::sync::Arc<helpdesk_core::testing::ManualClock>,
    helpdesk_core::policy::Principal,
    helpdesk_core::policy::Principal,
) {
    use std::sync::Arc;

    use helpdesk_core::password::{Argon2Hasher, Argon2Options, Password};
    use helpdesk_core::policy::Principal;
    use helpdesk_core::testing::{InMemoryStore, ManualClock};
    use helpdesk_core::{BootstrapAdmin, HelpDesk, LoginRequest, Registration};

    let clock = ManualClock::new(at("2026-06-01T08:00:00Z"));
    let desk = HelpDesk::builder(Arc::new(InMemoryStore::new()), Arc::new(object_store::memory::InMemory::new()))
        .clock(clock.clone())
        .hasher(Arc::new(Argon2Hasher::new(Argon2Options::insecure_fast_for_tests()).unwrap()))
        .sla(spec.compile().unwrap())
        .build()
        .unwrap();
    let pw = "harbor-lantern-quartz-71";
    let admin = BootstrapAdmin {
        email: "admin@example.com".into(),
        password: Some(Password::new(pw)),
        first_name: "Ada".into(),
        last_name: "Admin".into(),
    };
    desk.ensure_admin(admin).await.unwrap();
    let login = |email: &str| LoginRequest { email: email.into(), password: Password::new(pw), address: None };
    let s = desk.login(login("admin@example.com")).await.unwrap();
    let admin = desk.authenticate_session(s.session.id).await.unwrap().0;
    let registration = Registration {
        email: "emp@example.com".into(),
        password: Password::new(pw),
        first_name: "Emp".into(),
        middle_name: None,
        last_name: "Loyee".into(),
        suffix: None,
        company_id: "MA0100".into(),
        department: Some("it".into()),
        accepted_terms: None,
        avatar: None,
    };
    let u = desk.register(&Principal::Anonymous, registration).await.unwrap();
    desk.approve_user(&admin, u.id, None).await.unwrap();
    let s = desk.login(login("emp@example.com")).await.unwrap();
    let emp = desk.authenticate_session(s.session.id).await.unwrap().0;
    (desk, clock, admin, emp)
}

#[tokio::test]
async fn the_report_counts_met_breached_and_running_targets_by_policy_priority_department_and_assignee() {
    use helpdesk_core::report::ReportRange;
    use helpdesk_core::{ActionRequest, Error, NewTicket};

    let spec = utc_policy(serde_json::json!({"first_response_minutes": 60, "resolution_minutes": 600}));
    let (desk, clock, admin, emp) = sla_desk(spec).await;
    let new = |s: &str| NewTicket {
        subject: s.into(),
        category: "hardware".into(),
        sub_category: "laptop".into(),
        description: "Details".into(),
        scheduled_date: None,
        fields: Default::default(),
    };
    let approve =
        ActionRequest { priority: Some(Priority::High), department: Some("it".into()), ..ActionRequest::default() };
    let late = desk.create_ticket(&emp, new("Answered late"), None).await.unwrap();
    let quick = desk.create_ticket(&emp, new("Answered quickly"), None).await.unwrap();
    clock.advance(Duration::minutes(10));
    desk.act(&admin, &quick.number, Action::Approve, approve.clone(), None).await.unwrap();
    clock.advance(Duration::minutes(110));
    desk.act(&admin, &late.number, Action::Approve, approve, None).await.unwrap();
    desk.act(&admin, &late.number, Action::Claim, ActionRequest::default(), None).await.unwrap();

    let range = ReportRange::new(at("2026-06-01T00:00:00Z"), at("2026-06-02T00:00:00Z")).unwrap();
    let r = desk.sla_report(&admin, Some(range)).await.unwrap();
    assert_eq!(r.tickets, 2);
    let first = &r.overall[&TargetKind::FirstResponse];
    assert_eq!((first.met, first.breached, first.running), (1, 1, 0));
    assert_eq!(first.achievement_per_mille, Some(500));
    let resolution = &r.overall[&TargetKind::Resolution];
    assert_eq!((resolution.met, resolution.breached, resolution.running), (0, 0, 2));
    assert_eq!(r.by_policy["standard"][&TargetKind::FirstResponse].met, 1);
    assert_eq!(r.by_priority["high"][&TargetKind::FirstResponse].breached, 1);
    assert_eq!(r.by_department["it"][&TargetKind::FirstResponse].met, 1);
    let admin_id = admin.actor().and_then(|a| a.to_ref().user()).unwrap().to_string();
    assert_eq!(r.by_assignee[&admin_id][&TargetKind::FirstResponse].breached, 1, "{:?}", r.by_assignee);
    assert_eq!(r.by_assignee["unassigned"][&TargetKind::FirstResponse].met, 1);
    assert_eq!(r.breaches.len(), 1);
    assert_eq!((r.breaches[0].number.clone(), r.breaches[0].kind), (late.number, TargetKind::FirstResponse));
    assert_eq!(r.breaches[0].due_at, Some(at("2026-06-01T09:00:00Z")));

    // Outside the range: nothing. Employees may not read it.
    let before = ReportRange::new(at("2026-05-01T00:00:00Z"), at("2026-06-01T00:00:00Z")).unwrap();
    assert_eq!(desk.sla_report(&admin, Some(before)).await.unwrap().tickets, 0);
    assert!(matches!(desk.sla_report(&emp, None).await, Err(Error::Forbidden(_))));
}

#[tokio::test]
async fn the_policy_chosen_is_recorded_on_the_ticket_and_changes_with_its_department() {
    use helpdesk_core::{ActionRequest, NewTicket};

    let week = all_week();
    let spec: SlaSpec = serde_json::from_value(serde_json::json!({
        "calendars": [{"key": "utc", "time_zone": "UTC", "week": week}],
        "policies": [
            {"key": "budget", "calendar": "utc", "departments": ["budget"], "targets": [{"first_response_minutes": 30}]},
            {"key": "standard", "calendar": "utc", "targets": [{"first_response_minutes": 60}]}
        ]
    }))
    .unwrap();
    let (desk, _clock, admin, emp) = sla_desk(spec).await;
    let t = desk
        .create_ticket(
            &emp,
            NewTicket {
                subject: "Invoice".into(),
                category: "hardware".into(),
                sub_category: "laptop".into(),
                description: "Details".into(),
                scheduled_date: None,
                fields: Default::default(),
            },
            None,
        )
        .await
        .unwrap();
    let recorded = |h: &[HistoryEvent]| -> Vec<(Option<String>, Option<String>)> {
        h.iter()
            .flat_map(|e| e.changes.iter())
            .filter(|c| c.field == "sla_policy")
            .map(|c| (c.old.clone(), c.new.clone()))
            .collect()
    };
    let h = desk.history(&admin, &t.number).await.unwrap();
    assert_eq!(recorded(&h), [(None, Some("standard".into()))]);
    assert!(h.iter().filter(|e| e.changes.iter().any(|c| c.field == "sla_policy")).all(|e| e.internal));
    assert!(recorded(&desk.history(&emp, &t.number).await.unwrap()).is_empty(), "the policy is internal");

    // Triaged into the budget department: the budget policy applies from then on.
    let approve =
        ActionRequest { priority: Some(Priority::Low), department: Some("budget".into()), ..ActionRequest::default() };
    desk.act(&admin, &t.number, Action::Approve, approve, None).await.unwrap();
    let h = desk.history(&admin, &t.number).await.unwrap();
    assert_eq!(recorded(&h), [(None, Some("standard".into())), (Some("standard".into()), Some("budget".into()))]);
    assert_eq!(desk.ticket_sla(&admin, &t.number).await.unwrap().unwrap().policy, "budget");
    // A comment changes nothing about the choice.
    desk.add_comment(&admin, &t.number, "On it", false).await.unwrap();
    assert_eq!(recorded(&desk.history(&admin, &t.number).await.unwrap()).len(), 2);
}

/// Each change stores the moments of the running targets on the ticket: filed, both targets
/// run; answered, only resolution; on hold, nothing runs; resumed, resolution runs again,
/// later by the pause. The due-soonest sort and the breached filter read them (staff only).
#[tokio::test]
async fn each_change_stores_the_schedule_the_queue_sorts_by() {
    use helpdesk_core::ports::{SortDirection, TicketQuery, TicketSort, TicketSortField};
    use helpdesk_core::{ActionRequest, Error, NewTicket};

    let spec = utc_policy(serde_json::json!({"first_response_minutes": 60, "resolution_minutes": 600}));
    let (desk, clock, admin, emp) = sla_desk(spec).await;
    let new = NewTicket::new("Printer", "hardware", "laptop", "Jammed");
    let t = desk.create_ticket(&emp, new.clone(), None).await.unwrap();
    let other = desk.create_ticket(&emp, new, None).await.unwrap();
    let s = &t.sla;
    assert_eq!(s.due_at, Some(at("2026-06-01T09:00:00Z")));
    assert_eq!(s.warn_at, Some(at("2026-06-01T08:45:00Z")));
    assert_eq!(
        s.alerts,
        [
            at("2026-06-01T08:45:00Z"),
            at("2026-06-01T09:00:00Z"),
            at("2026-06-01T15:30:00Z"),
            at("2026-06-01T18:00:00Z")
        ]
    );

    clock.advance(Duration::minutes(20));
    let approve =
        ActionRequest { priority: Some(Priority::High), department: Some("it".into()), ..ActionRequest::default() };
    desk.act(&admin, &t.number, Action::Approve, approve, None).await.unwrap();
    let approved = desk.ticket(&admin, &t.number).await.unwrap();
    assert_eq!(approved.ticket.sla.due_at, Some(at("2026-06-01T18:00:00Z")));
    assert_eq!(approved.ticket.sla.alerts, [at("2026-06-01T15:30:00Z"), at("2026-06-01T18:00:00Z")]);
    assert_eq!(approved.sla_state, Some(TargetState::Ok));

    // Due soonest: the unanswered ticket (09:00) before the answered one (18:00).
    let due = TicketQuery {
        sort: TicketSort { field: TicketSortField::Due, direction: SortDirection::Asc },
        ..TicketQuery::default()
    };
    let order = |page: helpdesk_core::ports::Page<helpdesk_core::model::Ticket>| {
        page.items.into_iter().map(|t| t.number).collect::<Vec<_>>()
    };
    assert_eq!(order(desk.list_tickets(&admin, &due).await.unwrap()), [other.number.clone(), t.number.clone()]);
    assert!(matches!(desk.list_tickets(&emp, &due).await, Err(Error::Forbidden(_))));
    // At 09:30 the unanswered one is breached.
    clock.advance(Duration::minutes(70));
    let breached = TicketQuery { due_before: Some(desk.now()), ..TicketQuery::default() };
    assert_eq!(order(desk.list_tickets(&admin, &breached).await.unwrap()), std::slice::from_ref(&other.number));
    assert_eq!(desk.ticket(&admin, &other.number).await.unwrap().sla_state, Some(TargetState::Breached));
    assert_eq!(desk.ticket(&emp, &other.number).await.unwrap().sla_state, None, "staff only");

    // On hold two hours: nothing runs; resumed, resolution is due two hours later.
    desk.act(&admin, &t.number, Action::Claim, ActionRequest::default(), None).await.unwrap();
    let hold = ActionRequest { text: Some("Waiting for a part".into()), ..ActionRequest::default() };
    desk.act(&admin, &t.number, Action::Hold, hold, None).await.unwrap();
    assert!(desk.ticket(&admin, &t.number).await.unwrap().ticket.sla.is_empty());
    assert_eq!(order(desk.list_tickets(&admin, &due).await.unwrap()), std::slice::from_ref(&other.number));
    clock.advance(Duration::hours(2));
    desk.act(&admin, &t.number, Action::Resume, ActionRequest::default(), None).await.unwrap();
    let resumed = desk.ticket(&admin, &t.number).await.unwrap().ticket;
    assert_eq!(resumed.sla.due_at, Some(at("2026-06-01T20:00:00Z")));
}

/// The alert loop: a target entering its warning share and passing its due time is alerted
/// once each, to the admins while nobody in the department is staff, and, once the workflow
/// system follows the ticket, to it as well. Two desks on one store (two processes) reading
/// the same moments at once enqueue each alert once.
#[tokio::test]
async fn warnings_and_breaches_are_alerted_once_across_processes() {
    use std::sync::Arc;

    use helpdesk_core::model::{NotificationKind, OutboxPayload, OutboxState, WorkflowEventKind};
    use helpdesk_core::ports::PageSize;
    use helpdesk_core::{ActionRequest, HelpDesk, NewTicket, SlaAlertCursor};

    let spec = utc_policy(serde_json::json!({"first_response_minutes": 60, "resolution_minutes": 600}));
    let (desk, clock, admin, emp) = sla_desk(spec.clone()).await;
    let other = spec;
    let second = HelpDesk::builder(desk.store().clone(), Arc::new(object_store::memory::InMemory::new()))
        .clock(clock.clone())
        .sla(other.compile().unwrap())
        .build()
        .unwrap();
    let mut a = SlaAlertCursor::starting(desk.now(), Duration::hours(24));
    let mut b = SlaAlertCursor::starting(desk.now(), Duration::hours(24));
    let t = desk.create_ticket(&emp, NewTicket::new("Printer", "hardware", "laptop", "Jammed"), None).await.unwrap();

    let alerts = || async {
        let page = desk.store().list_outbox(OutboxState::Pending, None, PageSize::new(100).unwrap()).await.unwrap();
        page.items
            .into_iter()
            .filter_map(|r| match r.message.payload {
                OutboxPayload::Mail(n) => match n.kind {
                    NotificationKind::ServiceLevelAlert { alert, .. } => {
                        Some((n.to.to_string(), format!("{}/{}", alert.target.as_str(), alert.state.as_str())))
                    }
                    _ => None,
                },
                OutboxPayload::Workflow(e)
                    if matches!(e.kind, WorkflowEventKind::SlaWarning | WorkflowEventKind::SlaBreached) =>
                {
                    let alert = e.sla.unwrap();
                    Some(("workflow".into(), format!("{}/{}", alert.target.as_str(), alert.state.as_str())))
                }
                _ => None,
            })
            .collect::<Vec<_>>()
    };

    // Nothing is due at filing.
    assert_eq!(desk.sla_alerts(&mut a, desk.now()).await.unwrap().alerted, 0);
    // 08:50: the first response is in its warning share (75 % of an hour: 08:45).
    clock.advance(Duration::minutes(50));
    let run = desk.sla_alerts(&mut a, desk.now()).await.unwrap();
    assert_eq!((run.tickets, run.alerted), (1, 1));
    assert_eq!(alerts().await, [("admin@example.com".to_owned(), "first_response/warning".to_owned())]);
    // The other process finds it already enqueued; a rerun finds nothing new.
    let run = second.sla_alerts(&mut b, second.now()).await.unwrap();
    assert_eq!((run.alerted, run.already), (0, 1));
    assert_eq!(desk.sla_alerts(&mut a, desk.now()).await.unwrap().alerted, 0);

    // 09:05: past due. Both processes run at once: one breach alert between them.
    clock.advance(Duration::minutes(15));
    let (ra, rb) = tokio::join!(desk.sla_alerts(&mut a, desk.now()), second.sla_alerts(&mut b, second.now()));
    assert_eq!(ra.unwrap().alerted + rb.unwrap().alerted, 1);
    assert_eq!(alerts().await.iter().filter(|(_, what)| what == "first_response/breached").count(), 1);

    // Approved (the workflow system now follows it) and claimed: the resolution warning
    // (75 % of ten hours after 08:00: 15:30) goes to the assignee and the workflow system.
    let approve =
        ActionRequest { priority: Some(Priority::High), department: Some("it".into()), ..ActionRequest::default() };
    desk.act(&admin, &t.number, Action::Approve, approve, None).await.unwrap();
    desk.act(&admin, &t.number, Action::Claim, ActionRequest::default(), None).await.unwrap();
    clock.set(at("2026-06-01T15:31:00Z"));
    let (ra, rb) = tokio::join!(desk.sla_alerts(&mut a, desk.now()), second.sla_alerts(&mut b, second.now()));
    assert_eq!(ra.unwrap().alerted + rb.unwrap().alerted, 1);
    let resolution: Vec<(String, String)> =
        alerts().await.into_iter().filter(|(_, what)| what.starts_with("resolution")).collect();
    assert_eq!(resolution.len(), 2, "{resolution:?}");
    assert!(resolution.contains(&("admin@example.com".into(), "resolution/warning".into())));
    assert!(resolution.contains(&("workflow".into(), "resolution/warning".into())));
}

/// Schedules stored before the policies changed are refreshed: tickets filed without policies
/// get theirs when policies arrive, and lose them when the policies go; a second refresh
/// changes nothing, and the ticket's version stays.
#[tokio::test]
async fn a_refresh_brings_stored_schedules_to_the_policies_in_force() {
    use std::sync::Arc;

    use helpdesk_core::{HelpDesk, NewTicket};

    let spec = utc_policy(serde_json::json!({"first_response_minutes": 60}));
    let (with, clock, _admin, emp) = sla_desk(spec).await;
    let without = HelpDesk::builder(with.store().clone(), Arc::new(object_store::memory::InMemory::new()))
        .clock(clock.clone())
        .build()
        .unwrap();
    let t = without.create_ticket(&emp, NewTicket::new("Printer", "hardware", "laptop", "Jammed"), None).await.unwrap();
    assert!(t.sla.is_empty());

    let r = with.refresh_sla_schedules().await.unwrap();
    assert_eq!((r.checked, r.updated), (1, 1));
    let stored = with.store().ticket(t.id).await.unwrap().unwrap();
    assert_eq!(stored.sla.due_at, Some(at("2026-06-01T09:00:00Z")));
    assert_eq!(stored.version, t.version, "a refresh keeps the version");
    assert_eq!(with.refresh_sla_schedules().await.unwrap().updated, 0);

    assert_eq!(without.refresh_sla_schedules().await.unwrap().updated, 1);
    assert!(with.store().ticket(t.id).await.unwrap().unwrap().sla.is_empty());
}

/// Policies an admin saves are in force at once in the desk that saved them, and in another
/// desk on the same store (another process) once it reloads; employees may not read or save.
#[tokio::test]
async fn saved_policies_reach_every_process() {
    use std::sync::Arc;

    use helpdesk_core::{Error, HelpDesk};

    let spec = utc_policy(serde_json::json!({"first_response_minutes": 60}));
    let (desk, clock, admin, emp) = sla_desk(spec.clone()).await;
    let other = HelpDesk::builder(desk.store().clone(), Arc::new(object_store::memory::InMemory::new()))
        .clock(clock)
        .sla(spec.compile().unwrap())
        .build()
        .unwrap();
    assert_eq!(desk.sla_settings(&admin).unwrap().version, 0);
    assert!(matches!(desk.sla_settings(&emp), Err(Error::Forbidden(_))));

    let mut faster = spec.clone();
    faster.policies[0].key = "faster".into();
    let saved = desk.save_sla_settings(&admin, faster.clone(), 0).await.unwrap();
    assert_eq!(saved.version, 1);
    assert!(desk.sla_rules().policy("faster").is_some());
    assert!(other.sla_rules().policy("faster").is_none(), "not until it reloads");
    assert!(other.reload_sla().await.unwrap());
    assert!(other.sla_rules().policy("faster").is_some());
    assert!(!other.reload_sla().await.unwrap(), "nothing newer");

    let mut bad = faster.clone();
    bad.policies[0].calendar = "nowhere".into();
    match desk.save_sla_settings(&admin, bad, 1).await {
        Err(Error::Validation(v)) => assert_eq!(v.0[0].field, "policies[0].calendar"),
        x => panic!("{x:?}"),
    }
    assert!(matches!(other.save_sla_settings(&admin, faster.clone(), 0).await, Err(Error::VersionConflict { .. })));
    assert!(matches!(desk.save_sla_settings(&emp, faster, 1).await, Err(Error::Forbidden(_))));
}
