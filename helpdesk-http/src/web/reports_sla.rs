//! The service-level part of the reports page: achievement per target kind, overall and by
//! policy, priority, department and assignee, and the latest breaches. Shown only when the
//! deployment has SLA policies.

use std::collections::BTreeMap;

use helpdesk_core::sla::TargetKind;
use helpdesk_core::{SlaReport, SlaTallies, SlaTally};

/// Breaches the page lists (the JSON report has up to 500).
const SHOWN_BREACHES: usize = 50;

/// The section's tables and breaches.
#[derive(Debug)]
pub(crate) struct SlaSection {
    pub(crate) tickets: u64,
    pub(crate) tables: Vec<SlaTable>,
    pub(crate) breaches: Vec<BreachRow>,
    pub(crate) more_breaches: usize,
}

/// One table: a row per group.
#[derive(Debug)]
pub(crate) struct SlaTable {
    pub(crate) title: &'static str,
    pub(crate) rows: Vec<SlaRow>,
}

/// A group's achievement for each target.
#[derive(Debug)]
pub(crate) struct SlaRow {
    pub(crate) group: String,
    pub(crate) first: String,
    pub(crate) next: String,
    pub(crate) resolution: String,
}

/// A breached target.
#[derive(Debug)]
pub(crate) struct BreachRow {
    pub(crate) number: String,
    pub(crate) target: &'static str,
    pub(crate) due: String,
    pub(crate) due_iso: String,
    pub(crate) late: bool,
}

/// "92 % (23 of 25 met)", "3 running", or "—".
fn cell(t: Option<&SlaTally>) -> String {
    let Some(t) = t else { return "—".to_owned() };
    let running = if t.running > 0 { format!(", {} running", t.running) } else { String::new() };
    match t.achievement_per_mille {
        Some(pm) => format!("{}.{} % ({} of {} met{running})", pm / 10, pm % 10, t.met, t.met + t.breached),
        None if t.running > 0 => format!("{} running", t.running),
        None => "—".to_owned(),
    }
}

fn row(group: String, by_kind: &BTreeMap<TargetKind, SlaTally>) -> SlaRow {
    SlaRow {
        group,
        first: cell(by_kind.get(&TargetKind::FirstResponse)),
        next: cell(by_kind.get(&TargetKind::NextResponse)),
        resolution: cell(by_kind.get(&TargetKind::Resolution)),
    }
}

fn table(title: &'static str, tallies: &SlaTallies, name: &dyn Fn(&str) -> String) -> SlaTable {
    SlaTable { title, rows: tallies.iter().map(|(k, v)| row(name(k), v)).collect() }
}

/// The section for `report`, naming groups with the page's own namers.
pub(crate) fn section(
    report: &SlaReport,
    department: &dyn Fn(&str) -> String,
    priority: &dyn Fn(&str) -> String,
    assignee: &dyn Fn(&str) -> String,
) -> SlaSection {
    let same = |k: &str| k.to_owned();
    let assignee = |k: &str| if k == "unassigned" { "Unassigned".to_owned() } else { assignee(k) };
    SlaSection {
        tickets: report.tickets,
        tables: vec![
            SlaTable { title: "All tickets", rows: vec![row("All tickets".to_owned(), &report.overall)] },
            table("By policy", &report.by_policy, &same),
            table("By priority", &report.by_priority, priority),
            table("By department", &report.by_department, department),
            table("By assignee", &report.by_assignee, &assignee),
        ],
        breaches: report
            .breaches
            .iter()
            .take(SHOWN_BREACHES)
            .map(|b| {
                let (due, due_iso) = b.due_at.map(super::when).unwrap_or_default();
                BreachRow {
                    number: b.number.to_string(),
                    target: match b.kind {
                        TargetKind::FirstResponse => "First response",
                        TargetKind::NextResponse => "Next response",
                        TargetKind::Resolution => "Resolution",
                    },
                    due,
                    due_iso,
                    late: b.ended_at.is_some(),
                }
            })
            .collect(),
        more_breaches: report.breaches.len().saturating_sub(SHOWN_BREACHES),
    }
}
