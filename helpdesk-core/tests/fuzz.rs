//! Property-driven fuzzing of core's parsers of untrusted bytes (#15): content sniffing of
//! uploads, the Django password hash parser and the lifecycle table loader. Each target runs
//! `PROPTEST_CASES` cases (256 by default; CI runs the default, a longer local run is
//! `PROPTEST_CASES=100000 cargo test -p helpdesk-core --test fuzz`). The property is always
//! the same: any input gives an answer — never a panic — and the answer keeps the parser's
//! promises.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{Duration, TimeZone, Utc};
use helpdesk_core::domain::{ApiKeyId, FileName, Role, TicketStatus, UserId};
use helpdesk_core::lifecycle::{Action, ActionInput, Actor, Lifecycle, Rule, Who, default_rules};
use helpdesk_core::password::verify_django_pbkdf2;
use helpdesk_core::sniff_content_type;
use helpdesk_core::testing::fixtures::ticket;
use proptest::prelude::*;

/// The media types sniffing may answer: what `infer` knows, text, or the refusal.
fn plausible_media_type(t: &str) -> bool {
    let (kind, sub) = t.split_once('/').unwrap_or(("", ""));
    !kind.is_empty() && !sub.is_empty() && !t.contains(char::is_whitespace)
}

proptest! {
    #[test]
    fn sniffing_any_bytes_names_a_media_type(bytes in proptest::collection::vec(any::<u8>(), 0..2048), name in ".{0,40}") {
        let text = std::str::from_utf8(&bytes).ok().filter(|s| !s.contains('\0'));
        let head = &bytes[..bytes.len().min(8192)];
        let t = sniff_content_type(head, text, &FileName::sanitize(&name));
        prop_assert!(plausible_media_type(&t), "{t:?}");
    }

    #[test]
    fn sniffing_text_that_starts_like_markup_is_never_plain_text(
        prefix in "[ \t\r\n\u{feff}]{0,4}",
        tag in prop::sample::select(vec!["<html>", "<!DOCTYPE html>", "<svg xmlns=\"x\">", "<script>", "<?xml version=\"1.0\"?>"]),
        rest in "[a-z <>/=\"]{0,200}",
    ) {
        let text = format!("{prefix}{tag}{rest}");
        // Named as the markup it is (the allow list then refuses it), never as plain text.
        let t = sniff_content_type(text.as_bytes(), Some(&text), &FileName::sanitize("notes.txt"));
        prop_assert!(["text/html", "image/svg+xml", "application/xml", "text/xml"].contains(&t.as_str()), "{t:?} for {text:?}");
    }

    #[test]
    fn the_django_hash_parser_takes_any_string(password in ".{0,64}", encoded in ".{0,200}") {
        prop_assert!(!verify_django_pbkdf2(&password, &encoded) || encoded.starts_with("pbkdf2_sha256$"));
    }

    #[test]
    fn the_django_hash_parser_takes_any_well_shaped_hash(
        password in "[a-z]{0,16}",
        iterations in prop::sample::select(vec!["0", "1", "2", "-1", "99999999999999999999", "x", ""]),
        salt in ".{0,20}",
        hash in "[A-Za-z0-9+/=]{0,60}",
    ) {
        // Small or absurd iteration counts, bad base64: refused, never a panic or a hang.
        let encoded = format!("pbkdf2_sha256${iterations}${salt}${hash}");
        let _ = verify_django_pbkdf2(&password, &encoded);
    }

    #[test]
    fn the_lifecycle_loader_takes_any_json(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(rules) = serde_json::from_slice::<Vec<Rule>>(&bytes) {
            let _ = Lifecycle::new(rules);
        }
    }

    #[test]
    fn a_mutated_table_is_refused_or_applies_without_panicking(
        drop_row in proptest::option::of(0usize..12),
        who_row in 0usize..12,
        who in prop::sample::select(vec![
            Who::Role(Role::Employee), Who::Role(Role::Coordinator), Who::Role(Role::Admin), Who::Requester,
            Who::RequesterWithinDays(0), Who::Assignee, Who::ExternalSystem, Who::System,
        ]),
        move_row in 0usize..12,
        to in prop::sample::select(TicketStatus::ALL.to_vec()),
        clear_requires in any::<bool>(),
        status in prop::sample::select(TicketStatus::ALL.to_vec()),
        action in prop::sample::select(Action::ALL.to_vec()),
        actor_kind in 0u8..5,
        days in 0i64..30,
    ) {
        let mut rules = default_rules(7);
        let n = rules.len();
        rules[who_row % n].who = vec![who];
        if let Some(m) = rules[move_row % n].moves.first_mut() {
            m.to = to;
        }
        if clear_requires {
            rules[move_row % n].requires.clear();
        }
        if let Some(d) = drop_row {
            rules.remove(d % n);
        }
        // Through JSON, as a table from a file arrives.
        let json = serde_json::to_vec(&rules).unwrap();
        let Ok(table) = Lifecycle::new(serde_json::from_slice(&json).unwrap()) else { return Ok(()) };
        let at = Utc.with_ymd_and_hms(2026, 1, 1, 9, 0, 0).unwrap();
        let requester = UserId::random();
        let mut t = ticket(1, requester, at);
        t.status = status;
        t.resolved_at = Some(at);
        let actor = match actor_kind {
            0 => Actor::User { id: requester, role: Role::Employee },
            1 => Actor::User { id: UserId::random(), role: Role::Coordinator },
            2 => Actor::User { id: UserId::random(), role: Role::Admin },
            3 => Actor::ExternalSystem { key: ApiKeyId::random(), name: "wf".into() },
            _ => Actor::System,
        };
        let input = ActionInput::default();
        if let Ok(tr) = table.apply(&t, action, &actor, &input, at + Duration::days(days)) {
            prop_assert_eq!(tr.ticket.version, t.version + 1);
        }
        let _ = table.available_actions(&t, &actor, at);
    }
}
