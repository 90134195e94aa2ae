//! The whole policy matrix as a table: every principal × permission × resource case, with
//! the expected decision written out; everything not listed must be denied.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::collections::HashSet;

use helpdesk_core::domain::{ApiKeyId, DepartmentKey, Role, TicketStatus, UserId};
use helpdesk_core::model::ApiScope;
use helpdesk_core::policy::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Case {
    Global,
    OwnNew,
    OwnOpen,
    OwnClosed,
    OwnInternal,
    OtherOpen,
    OtherInternal,
    /// Someone else's ticket that `ME` follows (open, closed, an internal item on it, a field).
    FollowedOpen,
    FollowedClosed,
    FollowedInternal,
    FieldOwnNew(TicketField),
    FieldOwnOpen(TicketField),
    FieldOther(TicketField),
    FieldFollowed(TicketField),
}

const FIELDS: [TicketField; 9] = [
    TicketField::Subject,
    TicketField::Description,
    TicketField::Category,
    TicketField::ScheduledDate,
    TicketField::Priority,
    TicketField::Department,
    TicketField::Tags,
    TicketField::CustomField,
    TicketField::InternalField,
];

fn cases() -> Vec<Case> {
    let mut v = vec![
        Case::Global,
        Case::OwnNew,
        Case::OwnOpen,
        Case::OwnClosed,
        Case::OwnInternal,
        Case::OtherOpen,
        Case::OtherInternal,
        Case::FollowedOpen,
        Case::FollowedClosed,
        Case::FollowedInternal,
    ];
    for f in FIELDS {
        v.extend([Case::FieldOwnNew(f), Case::FieldOwnOpen(f), Case::FieldOther(f), Case::FieldFollowed(f)]);
    }
    v
}

const ME: u128 = 1;
const OTHER: u128 = 2;

fn facts(requester: u128, status: TicketStatus) -> TicketFacts {
    TicketFacts {
        requester: UserId::from_uuid(uuid::Uuid::from_u128(requester)),
        department: Some(DepartmentKey::parse("it").unwrap()),
        status,
        followers: Vec::new(),
    }
}

/// Someone else's ticket that `ME` follows.
fn followed(status: TicketStatus) -> TicketFacts {
    TicketFacts { followers: vec![UserId::from_uuid(uuid::Uuid::from_u128(ME))], ..facts(OTHER, status) }
}

/// The followed cases.
fn followed_cases() -> Vec<Case> {
    cases().into_iter().filter(is_followed).collect()
}

fn is_followed(c: &Case) -> bool {
    matches!(c, Case::FollowedOpen | Case::FollowedClosed | Case::FollowedInternal | Case::FieldFollowed(_))
}

fn resource(c: Case) -> Resource {
    let t = |r, s| Some(facts(r, s));
    match c {
        Case::Global => Resource::none(),
        Case::OwnNew => Resource { ticket: t(ME, TicketStatus::New), ..Resource::default() },
        Case::OwnOpen => Resource { ticket: t(ME, TicketStatus::Open), ..Resource::default() },
        Case::OwnClosed => Resource { ticket: t(ME, TicketStatus::Closed), ..Resource::default() },
        Case::OwnInternal => Resource { ticket: t(ME, TicketStatus::Open), internal: true, ..Resource::default() },
        Case::OtherOpen => Resource { ticket: t(OTHER, TicketStatus::Open), ..Resource::default() },
        Case::OtherInternal => Resource { ticket: t(OTHER, TicketStatus::Open), internal: true, ..Resource::default() },
        Case::FieldOwnNew(f) => Resource { ticket: t(ME, TicketStatus::New), field: Some(f), internal: false },
        Case::FieldOwnOpen(f) => Resource { ticket: t(ME, TicketStatus::Open), field: Some(f), internal: false },
        Case::FieldOther(f) => Resource { ticket: t(OTHER, TicketStatus::Open), field: Some(f), internal: false },
        Case::FollowedOpen => Resource { ticket: Some(followed(TicketStatus::Open)), ..Resource::default() },
        Case::FollowedClosed => Resource { ticket: Some(followed(TicketStatus::Closed)), ..Resource::default() },
        Case::FollowedInternal => {
            Resource { ticket: Some(followed(TicketStatus::Open)), internal: true, ..Resource::default() }
        }
        Case::FieldFollowed(f) => {
            Resource { ticket: Some(followed(TicketStatus::Open)), field: Some(f), internal: false }
        }
    }
}

fn user(role: Role, dept: &str) -> Principal {
    Principal::User(UserPrincipal {
        id: UserId::from_uuid(uuid::Uuid::from_u128(ME)),
        role,
        department: Some(DepartmentKey::parse(dept).unwrap()),
        session: None,
    })
}

fn key(scopes: &[ApiScope]) -> Principal {
    Principal::ExternalSystem(SystemPrincipal { key: ApiKeyId::random(), name: "wf".into(), scopes: scopes.to_vec() })
}

use Permission as P;

/// What a signed-in user may do whatever the resource.
fn any_user_globals() -> Vec<(P, Case)> {
    let mut v = Vec::new();
    for p in [P::ViewCatalog, P::ManageOwnProfile, P::ViewAvatar, P::CreateTicket] {
        v.extend(cases().into_iter().map(|c| (p, c)));
    }
    v
}

fn employee_expected() -> HashSet<(P, Case)> {
    let mut v = any_user_globals();
    let own_public = [Case::OwnNew, Case::OwnOpen, Case::OwnClosed];
    let own_fields: Vec<Case> = FIELDS.iter().flat_map(|f| [Case::FieldOwnNew(*f), Case::FieldOwnOpen(*f)]).collect();
    for c in own_public.iter().copied().chain(own_fields.iter().copied()) {
        v.extend([(P::ViewTicket, c), (P::TransitionTicket, c), (P::CommentPublic, c), (P::DownloadAttachment, c)]);
    }
    // The requester's allows do not look at visibility, but the deny for internal content wins
    // only for attachments and internal permissions: viewing the ticket itself stays allowed.
    v.extend([
        (P::ViewTicket, Case::OwnInternal),
        (P::TransitionTicket, Case::OwnInternal),
        (P::CommentPublic, Case::OwnInternal),
    ]);
    for c in [Case::OwnNew, Case::OwnOpen].into_iter().chain(own_fields.iter().copied()) {
        v.push((P::UploadAttachment, c));
    }
    for f in [TicketField::Subject, TicketField::Description, TicketField::Category, TicketField::ScheduledDate] {
        v.push((P::EditTicket, Case::FieldOwnNew(f)));
    }
    // The requester manages who follows their ticket.
    for c in own_public.iter().copied().chain(own_fields.iter().copied()).chain([Case::OwnInternal]) {
        v.push((P::ManageFollowers, c));
    }
    v.extend(follower_expected());
    v.into_iter().collect()
}

/// What following a ticket gives anyone: its public thread, public comments and attachments,
/// and leaving; never internal content, transitions, edits or other followers.
fn follower_expected() -> Vec<(P, Case)> {
    let mut v = Vec::new();
    for c in followed_cases() {
        v.extend([(P::ViewTicket, c), (P::CommentPublic, c), (P::StopFollowing, c)]);
        if c != Case::FollowedInternal {
            v.push((P::DownloadAttachment, c));
        }
        if !matches!(c, Case::FollowedInternal | Case::FollowedClosed) {
            v.push((P::UploadAttachment, c));
        }
    }
    v
}

fn staff_expected(admin: bool, limited_other_dept: bool) -> HashSet<(P, Case)> {
    let mut v = any_user_globals();
    for c in cases() {
        v.extend([(P::ListStaff, c), (P::UseMacros, c), (P::UseViews, c)]);
    }
    v.extend(follower_expected());
    let ticket_cases: Vec<Case> = if limited_other_dept { vec![Case::Global] } else { cases() };
    for c in ticket_cases {
        for p in [
            P::ListAllTickets,
            P::ViewTicket,
            P::TransitionTicket,
            P::CommentPublic,
            P::CommentInternal,
            P::ViewInternal,
            P::UploadAttachment,
            P::DownloadAttachment,
            P::ManageFollowers,
            P::LinkTickets,
            P::MergeTickets,
        ] {
            v.push((p, c));
        }
    }
    if !limited_other_dept {
        for f in [
            TicketField::Priority,
            TicketField::Department,
            TicketField::Category,
            TicketField::Tags,
            TicketField::CustomField,
            TicketField::InternalField,
        ] {
            v.extend([
                (P::EditTicket, Case::FieldOwnNew(f)),
                (P::EditTicket, Case::FieldOwnOpen(f)),
                (P::EditTicket, Case::FieldOther(f)),
                (P::EditTicket, Case::FieldFollowed(f)),
            ]);
        }
        // The requester's own new-ticket edits still apply to staff filing their own ticket.
        for f in [TicketField::Subject, TicketField::Description, TicketField::ScheduledDate] {
            v.push((P::EditTicket, Case::FieldOwnNew(f)));
        }
    }
    if admin {
        for c in cases() {
            for p in [
                P::ViewUsers,
                P::ManageUsers,
                P::ViewRejections,
                P::ViewAuditLog,
                P::ManageApiKeys,
                P::ManageOutbox,
                P::ManageInboundMail,
                P::ManageServiceLevels,
                P::ViewReports,
                P::ManageSharedMacros,
                P::ManageSharedViews,
                P::ManageCustomFields,
            ] {
                v.push((p, c));
            }
        }
    }
    v.into_iter().collect()
}

fn check(policy: &RulePolicy, who: &str, principal: &Principal, expected: &HashSet<(P, Case)>) {
    let mut wrong = Vec::new();
    for p in P::ALL {
        for c in cases() {
            let got = policy.decide(principal, *p, &resource(c)) == Decision::Allow;
            let want = expected.contains(&(*p, c));
            if got != want {
                wrong.push(format!("{who}: {p:?} on {c:?}: got {}, want {}", got, want));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_whole_matrix() {
    let policy = RulePolicy::default();
    // Anonymous: only register.
    let anon: HashSet<(P, Case)> = cases().into_iter().map(|c| (P::Register, c)).collect();
    check(&policy, "anonymous", &Principal::Anonymous, &anon);
    check(&policy, "employee", &user(Role::Employee, "it"), &employee_expected());
    check(&policy, "coordinator", &user(Role::Coordinator, "it"), &staff_expected(false, false));
    check(&policy, "admin", &user(Role::Admin, "it"), &staff_expected(true, false));

    // External systems: by scope; never internal content.
    let read: HashSet<(P, Case)> = cases()
        .into_iter()
        .flat_map(|c| {
            let mut v = vec![(P::ListAllTickets, c), (P::ViewTicket, c)];
            if !matches!(c, Case::OwnInternal | Case::OtherInternal | Case::FollowedInternal) {
                v.push((P::DownloadAttachment, c));
            }
            v
        })
        .collect();
    check(&policy, "read key", &key(&[ApiScope::ReadTickets]), &read);
    // The push scope reaches the workflow route only: no ordinary transitions.
    let push: HashSet<(P, Case)> =
        cases().into_iter().flat_map(|c| [(P::ViewTicket, c), (P::PushWorkflowStatus, c)]).collect();
    check(&policy, "push key", &key(&[ApiScope::PushWorkflow]), &push);
    check(&policy, "key without scopes", &key(&[]), &HashSet::new());
    // The mail scope hands over raw messages and nothing else.
    let mail: HashSet<(P, Case)> = cases().into_iter().map(|c| (P::IngestMail, c)).collect();
    check(&policy, "mail key", &key(&[ApiScope::IngestMail]), &mail);

    // The system (timers).
    let sys: HashSet<(P, Case)> = cases()
        .into_iter()
        .flat_map(|c| {
            [
                (P::ListAllTickets, c),
                (P::ViewTicket, c),
                (P::TransitionTicket, c),
                (P::ViewInternal, c),
                (P::IngestMail, c),
            ]
        })
        .collect();
    check(&policy, "system", &Principal::System, &sys);
}

#[test]
fn coordinators_limited_to_their_department() {
    let policy =
        RulePolicy::new(&PolicyOptions { coordinators_limited_to_department: true, ..PolicyOptions::default() });
    // Every case's ticket is in `it`: an `it` coordinator keeps everything, an `asset` one
    // loses every ticket permission (deny wins), admins are not limited.
    check(&policy, "it coordinator", &user(Role::Coordinator, "it"), &staff_expected(false, false));
    // An `asset` coordinator keeps staff powers on their own tickets only.
    let other = |c: &Case| matches!(c, Case::OtherOpen | Case::OtherInternal | Case::FieldOther(_)) || is_followed(c);
    let ticket_perms = [
        P::ListAllTickets,
        P::ViewTicket,
        P::TransitionTicket,
        P::CommentPublic,
        P::CommentInternal,
        P::ViewInternal,
        P::UploadAttachment,
        P::DownloadAttachment,
        P::EditTicket,
        P::ManageFollowers,
        P::LinkTickets,
        P::MergeTickets,
    ];
    let mut asset = staff_expected(false, false);
    asset.retain(|(p, c)| !(other(c) && ticket_perms.contains(p)));
    check(&policy, "asset coordinator", &user(Role::Coordinator, "asset"), &asset);
    check(&policy, "admin", &user(Role::Admin, "asset"), &staff_expected(true, false));
    assert_eq!(
        policy.list_scope(&user(Role::Coordinator, "asset")),
        ListScope::Department(DepartmentKey::parse("asset").unwrap())
    );
    assert_eq!(policy.list_scope(&user(Role::Admin, "asset")), ListScope::All);
}

#[test]
fn requesters_tag_their_new_tickets_only_when_the_options_say_so() {
    let policy = RulePolicy::new(&PolicyOptions { requesters_tag_new_tickets: true, ..PolicyOptions::default() });
    let mut employee = employee_expected();
    employee.insert((P::EditTicket, Case::FieldOwnNew(TicketField::Tags)));
    check(&policy, "employee", &user(Role::Employee, "it"), &employee);
    check(&policy, "coordinator", &user(Role::Coordinator, "it"), &staff_expected(false, false));
}

/// Following a ticket opens its public side only: an employee who follows someone else's
/// ticket is refused every internal permission on it, and loses the ticket when unfollowed.
#[test]
fn a_follower_never_sees_internal_content() {
    let policy = RulePolicy::default();
    let follower = user(Role::Employee, "it");
    let on = |internal: bool| Resource { ticket: Some(followed(TicketStatus::Open)), internal, field: None };
    for p in [P::ViewInternal, P::CommentInternal, P::DownloadAttachment, P::UploadAttachment] {
        assert_eq!(policy.decide(&follower, p, &on(true)), Decision::Deny, "{p:?} on internal content");
    }
    for p in [P::ViewInternal, P::CommentInternal, P::TransitionTicket, P::ManageFollowers] {
        assert_eq!(policy.decide(&follower, p, &on(false)), Decision::Deny, "{p:?} on the followed ticket");
    }
    for f in FIELDS {
        let r = Resource { field: Some(f), ..on(false) };
        assert_eq!(policy.decide(&follower, P::EditTicket, &r), Decision::Deny, "editing {f:?}");
    }
    assert_eq!(policy.decide(&follower, P::ViewTicket, &on(false)), Decision::Allow);
    assert_eq!(policy.decide(&follower, P::CommentPublic, &on(false)), Decision::Allow);
    // Removed: the same ticket without them is someone else's again.
    let removed = Resource { ticket: Some(facts(OTHER, TicketStatus::Open)), ..Resource::default() };
    for p in [P::ViewTicket, P::CommentPublic, P::DownloadAttachment, P::StopFollowing] {
        assert_eq!(policy.decide(&follower, p, &removed), Decision::Deny, "{p:?} after removal");
    }
}

#[test]
fn list_scopes() {
    let policy = RulePolicy::default();
    let me = UserId::from_uuid(uuid::Uuid::from_u128(ME));
    assert_eq!(policy.list_scope(&user(Role::Employee, "it")), ListScope::Own(me));
    assert_eq!(policy.list_scope(&user(Role::Coordinator, "it")), ListScope::All);
    assert_eq!(policy.list_scope(&key(&[ApiScope::ReadTickets])), ListScope::All);
    assert_eq!(policy.list_scope(&key(&[ApiScope::PushWorkflow])), ListScope::Nothing);
    assert_eq!(policy.list_scope(&Principal::Anonymous), ListScope::Nothing);
}

#[test]
fn policy_table_matches_the_docs() {
    let md = RulePolicy::default().to_markdown();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/docs/policy.md");
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(path, &md).unwrap();
    }
    assert_eq!(std::fs::read_to_string(path).unwrap(), md, "run with UPDATE_DOCS=1 to refresh src/docs/policy.md");
}

/// Custom fields after filing are staff's: a requester edits none, an internal one least of
/// all, whatever the ticket's status and whichever policy options apply (a follower neither).
#[test]
fn a_requester_cannot_edit_an_internal_field() {
    for options in [
        PolicyOptions::default(),
        PolicyOptions { requesters_tag_new_tickets: true, ..PolicyOptions::default() },
        PolicyOptions { coordinators_limited_to_department: true, ..PolicyOptions::default() },
    ] {
        let policy = RulePolicy::new(&options);
        let employee = user(Role::Employee, "it");
        for status in TicketStatus::ALL.iter().copied() {
            for field in [TicketField::InternalField, TicketField::CustomField] {
                for facts in [facts(ME, status), followed(status)] {
                    let r = Resource { ticket: Some(facts), field: Some(field), internal: false };
                    assert_eq!(
                        policy.decide(&employee, Permission::EditTicket, &r),
                        Decision::Deny,
                        "{field:?} on a {status:?} ticket with {options:?}"
                    );
                }
            }
            let coordinator = user(Role::Coordinator, "it");
            let r = Resource {
                ticket: Some(facts(OTHER, status)),
                field: Some(TicketField::InternalField),
                internal: false,
            };
            assert_eq!(policy.decide(&coordinator, Permission::EditTicket, &r), Decision::Allow);
        }
    }
}
