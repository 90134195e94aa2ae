//! The satisfaction part of the reports page: the score with its counts overall, by
//! department and by assignee, the share of resolved tickets rated, and the latest ratings with
//! their comments (staff read them; the requesters' words, escaped like all text).

use helpdesk_core::model::Rating;
use helpdesk_core::{SatisfactionReport, SatisfactionTally};

/// Ratings the page lists (the JSON report has up to 200).
const SHOWN_RATINGS: usize = 30;

/// The section.
#[derive(Debug)]
pub(crate) struct CsatSection {
    /// "83.3 % good (5 of 6)" overall.
    pub(crate) overall: String,
    /// "6 of 20 resolved tickets rated (30 %)".
    pub(crate) response: String,
    pub(crate) tables: Vec<CsatTable>,
    pub(crate) ratings: Vec<RatingRow>,
}

/// One table: a row per group.
#[derive(Debug)]
pub(crate) struct CsatTable {
    pub(crate) title: &'static str,
    pub(crate) rows: Vec<CsatRow>,
}

/// A group's score and counts.
#[derive(Debug)]
pub(crate) struct CsatRow {
    pub(crate) group: String,
    pub(crate) score: String,
    pub(crate) good: u64,
    pub(crate) bad: u64,
}

/// One rating.
#[derive(Debug)]
pub(crate) struct RatingRow {
    pub(crate) number: String,
    pub(crate) good: bool,
    pub(crate) comment: String,
    pub(crate) assignee: String,
    pub(crate) at: String,
    pub(crate) at_iso: String,
}

/// "83.3 %", or "—" before any rating.
fn score(t: &SatisfactionTally) -> String {
    t.score_per_mille.map_or_else(|| "—".to_owned(), |pm| format!("{}.{} %", pm / 10, pm % 10))
}

fn row(group: String, t: &SatisfactionTally) -> CsatRow {
    CsatRow { group, score: score(t), good: t.good, bad: t.bad }
}

/// The section for `report`, naming groups with the page's own namers.
pub(crate) fn section(
    report: &SatisfactionReport,
    department: &dyn Fn(&str) -> String,
    assignee: &dyn Fn(&str) -> String,
) -> CsatSection {
    let assignee = |k: &str| if k == "unassigned" { "Unassigned".to_owned() } else { assignee(k) };
    let rated = report.overall.good + report.overall.bad;
    CsatSection {
        overall: match report.overall.score_per_mille {
            Some(_) => format!("{} good ({} of {rated})", score(&report.overall), report.overall.good),
            None => "No ratings yet".to_owned(),
        },
        response: match report.response_percent {
            Some(p) => format!("{rated} of {} resolved tickets rated ({p} %)", report.resolved),
            None => "No ticket filed in the period was resolved yet.".to_owned(),
        },
        tables: vec![
            CsatTable {
                title: "By department",
                rows: report.by_department.iter().map(|(k, t)| row(department(k), t)).collect(),
            },
            CsatTable {
                title: "By assignee",
                rows: report.by_assignee.iter().map(|(k, t)| row(assignee(k), t)).collect(),
            },
        ],
        ratings: report
            .ratings
            .iter()
            .take(SHOWN_RATINGS)
            .map(|r| {
                let (at, at_iso) = super::when(r.rated_at);
                RatingRow {
                    number: r.number.to_string(),
                    good: r.rating == Rating::Good,
                    comment: r.comment.clone().unwrap_or_default(),
                    assignee: r.assignee.map_or_else(|| "Unassigned".to_owned(), |a| assignee(&a.to_string())),
                    at,
                    at_iso,
                }
            })
            .collect(),
    }
}
