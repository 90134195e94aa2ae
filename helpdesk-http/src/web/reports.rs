//! The reports page for admins: the summary (tickets by status, priority, department and
//! category; users by role and status; rejected registrations) and the performance report over
//! a date range (created vs resolved per day and the backlog over time as line charts; first
//! response and resolution times by department, priority and assignee), each chart beside a
//! table of its numbers. Both come from core's report use cases, so the page and
//! `GET /api/v1/reports/*` always agree.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{NaiveDate, Utc};
use helpdesk_core::domain::{Role, TicketStatus};
use helpdesk_core::report::{Counts, DurationStats, GroupStats, ReportRange};
use serde::Deserialize;

use super::charts;
use super::desk::staff_status;
use super::session::PageUser;
use super::{Layout, error_page, page};
use crate::error::ApiError;
use crate::state::AppState;

/// A duration in words: "45 min", "3 h 12 min", "2 d 4 h".
fn duration_words(secs: Option<f64>) -> String {
    let Some(secs) = secs else { return "—".to_owned() };
    let mins = (secs / 60.0).round() as i64;
    match mins {
        m if m < 60 => format!("{m} min"),
        m if m < 24 * 60 => format!("{} h {} min", m / 60, m % 60),
        m => format!("{} d {} h", m / (24 * 60), (m % (24 * 60)) / 60),
    }
}

/// One chart with its table.
#[derive(Debug)]
struct Figure {
    title: &'static str,
    svg: String,
    rows: Vec<(String, u64)>,
}

fn figure(title: &'static str, rows: Vec<(String, u64)>) -> Figure {
    Figure { title, svg: charts::bars(&rows), rows }
}

/// One row of a times table.
#[derive(Debug, Clone)]
struct TimesRow {
    group: String,
    response_count: u64,
    response_mean: String,
    response_median: String,
    response_p90: String,
    resolution_count: u64,
    resolution_mean: String,
    resolution_median: String,
    resolution_p90: String,
}

fn times_row(group: String, response: &DurationStats, resolution: &DurationStats) -> TimesRow {
    TimesRow {
        group,
        response_count: response.count,
        response_mean: duration_words(response.mean_secs),
        response_median: duration_words(response.median_secs),
        response_p90: duration_words(response.p90_secs),
        resolution_count: resolution.count,
        resolution_mean: duration_words(resolution.mean_secs),
        resolution_median: duration_words(resolution.median_secs),
        resolution_p90: duration_words(resolution.p90_secs),
    }
}

/// A times table: all, then one row per group.
#[derive(Debug)]
struct Times {
    title: &'static str,
    rows: Vec<TimesRow>,
}

/// A day of the line charts' tables.
#[derive(Debug)]
struct DayRow {
    day: String,
    created: u64,
    resolved: u64,
    backlog: u64,
}

#[derive(Template)]
#[template(path = "reports.html")]
struct ReportsView {
    layout: Layout,
    from: String,
    to: String,
    error: Option<String>,
    total_tickets: u64,
    rejected_registrations: u64,
    figures: Vec<Figure>,
    flow_svg: String,
    backlog_svg: String,
    days: Vec<DayRow>,
    overall: TimesRow,
    all: Vec<TimesRow>,
    times: Vec<Times>,
    csv_href: String,
    /// Service levels, when the deployment has SLA policies.
    sla: Option<super::reports_sla::SlaSection>,
    /// Satisfaction ratings.
    csat: super::reports_csat::CsatSection,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct RangeQuery {
    from: Option<String>,
    to: Option<String>,
}

/// The period: `from` and `to` are days, both included; the last 30 days by default.
fn range_of(q: &RangeQuery) -> Result<ReportRange, String> {
    let day = |s: &Option<String>| match s.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(d) => NaiveDate::parse_from_str(d, "%Y-%m-%d").map(Some).map_err(|_| format!("“{d}” is not a date")),
    };
    let (from, to) = (day(&q.from)?, day(&q.to)?);
    let default = ReportRange::last_30_days(Utc::now());
    let start = from.and_then(|d| d.and_hms_opt(0, 0, 0)).map_or(default.from(), |t| t.and_utc());
    let end = to.and_then(|d| d.succ_opt()).and_then(|d| d.and_hms_opt(0, 0, 0)).map_or(default.to(), |t| t.and_utc());
    ReportRange::new(start, end).map_err(|e| format!("The period {}", e.message))
}

fn labelled(counts: &Counts, label: impl Fn(&str) -> String) -> Vec<(String, u64)> {
    counts.iter().map(|(k, v)| (label(k), *v)).collect()
}

/// The tags on the most tickets, most first (ties by name): a deployment may have hundreds.
fn top_tags(counts: &Counts) -> Vec<(String, u64)> {
    const SHOWN: usize = 15;
    let mut rows: Vec<(String, u64)> = counts.iter().map(|(k, v)| (k.clone(), *v)).collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    rows.truncate(SHOWN);
    rows
}

pub(crate) async fn reports(State(s): State<AppState>, who: PageUser, Query(q): Query<RangeQuery>) -> Response {
    if who.user.role != Role::Admin {
        return error_page(StatusCode::NOT_FOUND, Layout::of(&s, &who), "There is no page at this address.");
    }
    let (range, error) = match range_of(&q) {
        Ok(r) => (r, None),
        Err(e) => (ReportRange::last_30_days(Utc::now()), Some(format!("{e}; showing the last 30 days."))),
    };
    let desk = s.desk();
    let loaded = async {
        let summary = desk.summary_report(&who.principal).await?;
        let perf = desk.performance_report(&who.principal, Some(range)).await?;
        let staff = desk.list_staff(&who.principal).await?;
        let sla =
            if desk.sla_rules().is_empty() { None } else { Some(desk.sla_report(&who.principal, Some(range)).await?) };
        let csat = desk.satisfaction_report(&who.principal, Some(range)).await?;
        Ok::<_, helpdesk_core::Error>((summary, perf, staff, sla, csat))
    };
    let (summary, perf, staff, sla, csat) = match loaded.await {
        Ok(x) => x,
        Err(e) => {
            let e = ApiError::from(e);
            return error_page(e.status, Layout::of(&s, &who), &e.detail);
        }
    };
    let catalog = &s.desk().options().catalog;
    let status_name = |k: &str| {
        TicketStatus::ALL.iter().find(|x| x.as_str() == k).map_or_else(|| k.to_owned(), |x| staff_status(*x).to_owned())
    };
    let department_name = |k: &str| match catalog.departments.iter().find(|d| d.key.as_str() == k) {
        Some(d) => d.name.clone(),
        None if k == "none" => "No department".to_owned(),
        None => k.to_owned(),
    };
    let category_name = |k: &str| {
        catalog.categories.iter().find(|c| c.key.as_str() == k).map_or_else(|| k.to_owned(), |c| c.name.clone())
    };
    let capitalised = |k: &str| {
        let mut c = k.chars();
        c.next().map_or_else(String::new, |f| f.to_uppercase().chain(c).collect::<String>().replace('_', " "))
    };
    let mut figures = vec![
        figure("Tickets by status", labelled(&summary.by_status, status_name)),
        figure("Tickets by priority", labelled(&summary.by_priority, capitalised)),
        figure("Tickets by department", labelled(&summary.by_department, department_name)),
        figure("Tickets by category", labelled(&summary.by_category, category_name)),
    ];
    if !summary.by_tag.is_empty() {
        figures.push(figure("Tickets by tag (the most used)", top_tags(&summary.by_tag)));
    }
    figures.push(figure("Users by role", labelled(&summary.users_by_role, capitalised)));
    figures.push(figure("Users by status", labelled(&summary.users_by_status, capitalised)));
    // The backlog at the end of each day, walked back from today's open tickets: what was
    // open then is what is open now, less what was filed since, plus what was resolved since.
    let open_now: u64 = perf.backlog.values().sum();
    let mut backlog = vec![0u64; perf.per_day.len()];
    let mut level = open_now as i64;
    for (i, d) in perf.per_day.iter().enumerate().rev() {
        backlog[i] = level.max(0) as u64;
        level = level - d.created as i64 + d.resolved as i64;
    }
    let labels: Vec<String> = perf.per_day.iter().map(|d| d.day.format("%Y-%m-%d").to_string()).collect();
    let created: Vec<u64> = perf.per_day.iter().map(|d| d.created).collect();
    let resolved: Vec<u64> = perf.per_day.iter().map(|d| d.resolved).collect();
    let group_rows = |groups: &[GroupStats], name: &dyn Fn(&str) -> String| {
        groups.iter().map(|g| times_row(name(&g.key), &g.response, &g.resolution)).collect::<Vec<_>>()
    };
    let assignee_name = |k: &str| {
        staff.iter().find(|u| u.id.to_string() == k).map_or_else(|| "(former staff)".to_owned(), |u| u.name.clone())
    };
    let from = range.from().format("%Y-%m-%d").to_string();
    let to = (range.to() - chrono::Duration::days(1)).format("%Y-%m-%d").to_string();
    let sla = sla.map(|r| super::reports_sla::section(&r, &department_name, &capitalised, &assignee_name));
    let csat = super::reports_csat::section(&csat, &department_name, &assignee_name);
    let view = ReportsView {
        sla,
        csat,
        layout: Layout::of(&s, &who).trail(&[("Reports", None)]),
        csv_href: format!("/desk/tickets.csv?status=&from={from}&to={to}"),
        from,
        to,
        error,
        total_tickets: summary.total_tickets,
        rejected_registrations: summary.rejected_registrations,
        figures,
        flow_svg: charts::lines(&labels, &[("Created", created), ("Resolved", resolved)]),
        backlog_svg: charts::lines(&labels, &[("Open at the end of the day", backlog.clone())]),
        days: perf
            .per_day
            .iter()
            .zip(backlog)
            .map(|(d, b)| DayRow {
                day: d.day.format("%Y-%m-%d").to_string(),
                created: d.created,
                resolved: d.resolved,
                backlog: b,
            })
            .collect(),
        overall: times_row("All tickets".to_owned(), &perf.response, &perf.resolution),
        all: vec![times_row("All tickets".to_owned(), &perf.response, &perf.resolution)],
        times: vec![
            Times { title: "By department", rows: group_rows(&perf.by_department, &department_name) },
            Times { title: "By priority", rows: group_rows(&perf.by_priority, &capitalised) },
            Times { title: "By assignee", rows: group_rows(&perf.by_assignee, &assignee_name) },
        ],
    };
    page(StatusCode::OK, &view)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_words() {
        assert_eq!(duration_words(None), "—");
        assert_eq!(duration_words(Some(59.0)), "1 min");
        assert_eq!(duration_words(Some(3.0 * 3600.0 + 12.0 * 60.0)), "3 h 12 min");
        assert_eq!(duration_words(Some(2.0 * 86400.0 + 4.0 * 3600.0)), "2 d 4 h");
    }
}
