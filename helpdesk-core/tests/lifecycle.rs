//! The lifecycle table: validation, transitions, and random action sequences.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use chrono::{DateTime, Duration, Utc};
use helpdesk_core::Error;
use helpdesk_core::domain::{DepartmentKey, Note, Priority, Role, TicketStatus, UserId};
use helpdesk_core::lifecycle::{
    Action, ActionInput, Actor, Effect, Input, Lifecycle, MailTemplate, Move, Party, Rule, Who, default_rules,
};
use helpdesk_core::model::{Ticket, WorkflowEventKind};
use helpdesk_core::testing::fixtures::{t0, ticket};
use proptest::prelude::*;

fn full_input() -> ActionInput {
    ActionInput {
        priority: Some(Priority::High),
        department: Some(DepartmentKey::parse("it").unwrap()),
        assignee: Some(UserId::random()),
        text: Some(Note::parse("because").unwrap()),
        force: false,
    }
}

#[test]
fn default_table_is_valid_and_matches_the_docs() {
    let l = Lifecycle::default();
    assert_eq!(l.rules().len(), 12);
    let md = l.to_markdown();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/docs/lifecycle.md");
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(path, &md).unwrap();
    }
    assert_eq!(std::fs::read_to_string(path).unwrap(), md, "run with UPDATE_DOCS=1 to refresh src/docs/lifecycle.md");
}

fn expect_invalid(rules: Vec<Rule>, needle: &str) {
    let e = Lifecycle::new(rules).unwrap_err();
    assert!(e.0.contains(needle), "{e} should mention {needle}");
}

#[test]
fn validator_refuses_broken_tables() {
    // A terminal state with an exit.
    let mut r = default_rules(7);
    r.push(Rule {
        action: Action::Resume,
        moves: vec![Move { from: Some(TicketStatus::Closed), to: TicketStatus::InProgress }],
        who: vec![Who::Role(Role::Admin)],
        requires: vec![],
        effects: vec![],
    });
    expect_invalid(r, "terminal");
    // An unreachable state: drop approve, so open (and all after it) cannot be reached.
    let r: Vec<Rule> = default_rules(7).into_iter().filter(|r| r.action != Action::Approve).collect();
    expect_invalid(r, "not reachable");
    // An action without actors.
    let mut r = default_rules(7);
    r[1].who.clear();
    expect_invalid(r, "nobody");
    // An action missing its intrinsic input.
    let mut r = default_rules(7);
    r[2].requires.retain(|i| *i != Input::Reason);
    expect_invalid(r, "reason");
    // No submit.
    let r: Vec<Rule> = default_rules(7).into_iter().filter(|r| r.action != Action::Submit).collect();
    expect_invalid(r, "submit");
    // The external system may never approve.
    let mut r = default_rules(7);
    r[1].who.push(Who::ExternalSystem);
    expect_invalid(r, "never approve");
    // Duplicate action from one status.
    let mut r = default_rules(7);
    let dup = r[3].clone();
    r.push(dup);
    expect_invalid(r, "twice");
}

#[test]
fn a_custom_table_restricts_actions() {
    // No withdraw, and only admins triage.
    let mut rules: Vec<Rule> = default_rules(3).into_iter().filter(|r| r.action != Action::Withdraw).collect();
    rules[1].who = vec![Who::Role(Role::Admin)];
    let l = Lifecycle::new(rules).unwrap();
    let t = ticket(1, UserId::random(), t0());
    let coord = Actor::User { id: UserId::random(), role: Role::Coordinator };
    // The coordinator's role can never approve under this table: 403, not a state conflict.
    assert!(matches!(
        l.apply(&t, Action::Approve, &coord, &full_input(), t0()),
        Err(Error::ActionNotAllowed { ref who, .. }) if who == "admin"
    ));
    let req = Actor::User { id: t.requester, role: Role::Employee };
    assert!(matches!(
        l.apply(&t, Action::Withdraw, &req, &ActionInput::default(), t0()),
        Err(Error::InvalidTransition { .. })
    ));
    let admin = Actor::User { id: UserId::random(), role: Role::Admin };
    assert_eq!(l.apply(&t, Action::Approve, &admin, &full_input(), t0()).unwrap().ticket.status, TicketStatus::Open);
}

#[test]
fn approve_records_first_response_pushes_workflow_and_mails() {
    let l = Lifecycle::default();
    let t = ticket(1, UserId::random(), t0());
    let coord = Actor::User { id: UserId::random(), role: Role::Coordinator };
    let now = t0() + Duration::minutes(90);
    let tr = l.apply(&t, Action::Approve, &coord, &full_input(), now).unwrap();
    assert_eq!(tr.ticket.status, TicketStatus::Open);
    assert_eq!(tr.ticket.priority, Some(Priority::High));
    assert_eq!(tr.ticket.first_response_at, Some(now));
    assert_eq!(tr.ticket.response_secs, Some(5400));
    assert_eq!(tr.ticket.version, 2);
    assert!(tr.ticket.workflow_linked);
    assert!(tr.effects.contains(&Effect::Workflow(WorkflowEventKind::Opened)));
    assert!(tr.effects.contains(&Effect::Mail { to: Party::Requester, template: MailTemplate::Approved }));
    assert!(tr.event.changes.iter().any(|c| c.field == "status" && c.new.as_deref() == Some("open")));
    // Missing input is named.
    match l.apply(&t, Action::Approve, &coord, &ActionInput::default(), now) {
        Err(Error::Validation(v)) => {
            let fields: Vec<&str> = v.0.iter().map(|e| e.field.as_str()).collect();
            assert_eq!(fields, ["priority", "department"]);
        }
        other => panic!("{other:?}"),
    }
    // Employees can never approve (a matter of role: 403); nobody can approve twice (a state
    // conflict: 409).
    let emp = Actor::User { id: t.requester, role: Role::Employee };
    match l.apply(&t, Action::Approve, &emp, &full_input(), now) {
        Err(e @ Error::ActionNotAllowed { .. }) => {
            assert_eq!(e.to_string(), "your role may not approve this ticket (it is for: coordinator, admin)")
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        l.apply(&tr.ticket, Action::Approve, &coord, &full_input(), now),
        Err(Error::InvalidTransition { .. })
    ));
    // Later status changes of a linked ticket reach the workflow system.
    let claimed = l.apply(&tr.ticket, Action::Claim, &coord, &ActionInput::default(), now).unwrap();
    assert_eq!(claimed.ticket.assignee, coord_id(&coord));
    assert!(claimed.effects.contains(&Effect::Workflow(WorkflowEventKind::StatusChanged)));
}

fn coord_id(a: &Actor) -> Option<UserId> {
    match a {
        Actor::User { id, .. } => Some(*id),
        _ => None,
    }
}

#[test]
fn reopen_window_and_external_system() {
    let l = Lifecycle::default();
    let mut t = ticket(1, UserId::random(), t0());
    t.status = TicketStatus::Resolved;
    t.resolved_at = Some(t0());
    t.resolution_secs = Some(0);
    let req = Actor::User { id: t.requester, role: Role::Employee };
    let input = ActionInput { text: Some(Note::parse("still broken").unwrap()), ..ActionInput::default() };
    let ok = l.apply(&t, Action::Reopen, &req, &input, t0() + Duration::days(6)).unwrap();
    assert_eq!(ok.ticket.status, TicketStatus::InProgress);
    assert_eq!(ok.ticket.resolved_at, None);
    assert!(l.apply(&t, Action::Reopen, &req, &input, t0() + Duration::days(8)).is_err());
    // The external system moves along the table but can never reopen.
    let ext = Actor::ExternalSystem { key: helpdesk_core::domain::ApiKeyId::random(), name: "wf".into() };
    assert!(l.apply(&t, Action::Reopen, &ext, &input, t0()).is_err());
    assert_eq!(l.external_rule_to(TicketStatus::Open, TicketStatus::InProgress).unwrap().action, Action::Claim);
    assert_eq!(l.external_rule_to(TicketStatus::InProgress, TicketStatus::Resolved).unwrap().action, Action::Resolve);
    assert_eq!(l.external_rule_to(TicketStatus::Resolved, TicketStatus::Closed).unwrap().action, Action::Close);
    assert!(l.external_rule_to(TicketStatus::New, TicketStatus::Open).is_none());
    assert!(l.external_rule_to(TicketStatus::Open, TicketStatus::Closed).is_none());
}

const STATUSES: [TicketStatus; 9] = [
    TicketStatus::New,
    TicketStatus::Open,
    TicketStatus::InProgress,
    TicketStatus::OnHold,
    TicketStatus::Pending,
    TicketStatus::Resolved,
    TicketStatus::Closed,
    TicketStatus::Rejected,
    TicketStatus::Withdrawn,
];

fn allowed_moves() -> std::collections::HashSet<(TicketStatus, TicketStatus)> {
    let mut s = std::collections::HashSet::new();
    for r in Lifecycle::default().rules() {
        for m in &r.moves {
            if let Some(f) = m.from {
                s.insert((f, m.to));
            }
        }
    }
    s
}

fn check_invariants(before: &Ticket, after: &Ticket, now: DateTime<Utc>) {
    assert!(after.version > before.version);
    assert!(after.updated_at >= before.updated_at);
    assert!(after.created_at <= after.updated_at);
    if let Some(fr) = after.first_response_at {
        assert!(fr >= after.created_at && fr <= now);
        assert_eq!(after.response_secs, Some((fr - after.created_at).num_seconds()));
    }
    if let Some(r) = after.resolved_at {
        assert!(r >= after.created_at);
        assert_eq!(after.resolution_secs, Some((r - after.created_at).num_seconds()));
    }
    if after.status == TicketStatus::Closed {
        assert!(after.closed_at.is_some());
    }
    if after.status == TicketStatus::Resolved {
        assert!(after.resolved_at.is_some());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Random actions by random principals never make a move the table forbids; terminal
    /// statuses stay terminal; the version strictly increases; timestamps stay consistent.
    #[test]
    fn random_sequences_respect_the_table(steps in prop::collection::vec((0usize..12, 0usize..6, 0usize..4, 1i64..200_000), 1..60)) {
        let l = Lifecycle::default();
        let allowed = allowed_moves();
        let requester = UserId::random();
        let staff = [UserId::random(), UserId::random()];
        let mut t = ticket(1, requester, t0());
        let mut now = t0();
        for (a, who, input_kind, dt) in steps {
            now += Duration::seconds(dt);
            let action = Action::ALL[a];
            let actor = match who {
                0 => Actor::User { id: requester, role: Role::Employee },
                1 => Actor::User { id: UserId::random(), role: Role::Employee },
                2 => Actor::User { id: staff[0], role: Role::Coordinator },
                3 => Actor::User { id: staff[1], role: Role::Admin },
                4 => Actor::ExternalSystem { key: helpdesk_core::domain::ApiKeyId::random(), name: "wf".into() },
                _ => Actor::System,
            };
            let input = match input_kind {
                0 => ActionInput::default(),
                1 => full_input(),
                2 => ActionInput { text: Some(Note::parse("n").unwrap()), ..ActionInput::default() },
                _ => ActionInput { assignee: Some(staff[0]), ..full_input() },
            };
            let before = t.clone();
            match l.apply(&t, action, &actor, &input, now) {
                Ok(tr) => {
                    prop_assert!(!before.status.is_terminal(), "left terminal {}", before.status);
                    if tr.ticket.status != before.status {
                        prop_assert!(allowed.contains(&(before.status, tr.ticket.status)), "{} -> {}", before.status, tr.ticket.status);
                    }
                    check_invariants(&before, &tr.ticket, now);
                    prop_assert_eq!(tr.event.version, tr.ticket.version);
                    t = tr.ticket;
                }
                Err(_) => prop_assert_eq!(&t, &before),
            }
        }
        prop_assert!(STATUSES.contains(&t.status));
    }
}
