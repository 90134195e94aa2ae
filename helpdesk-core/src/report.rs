//! Report figures (SPEC §7) and the statistics every store computes them with.
//!
//! Stores answer report queries themselves (SQL aggregates, maintained counters); stores that
//! collect samples use [`DurationStats::from_samples`] so every store agrees on the definition:
//! percentiles by linear interpolation between closest ranks (PostgreSQL's `percentile_cont`).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::FieldError;

/// A report period, `[from, to)`, at most a year long.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportRange {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
}

impl ReportRange {
    /// The longest range.
    pub fn max_len() -> Duration {
        Duration::days(366)
    }
    /// A validated range.
    pub fn new(from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Self, FieldError> {
        if to <= from {
            return Err(FieldError::new("to", "invalid", "must be after `from`"));
        }
        if to - from > Self::max_len() {
            return Err(FieldError::new("from", "out_of_range", "a report covers at most a year"));
        }
        Ok(Self { from, to })
    }
    /// The default: the last 30 whole UTC days, today included.
    pub fn last_30_days(now: DateTime<Utc>) -> Self {
        let tomorrow = now.date_naive().succ_opt().unwrap_or(now.date_naive());
        let to = tomorrow.and_hms_opt(0, 0, 0).map_or(now, |t| t.and_utc());
        Self { from: to - Duration::days(30), to }
    }
    /// Start (inclusive).
    pub fn from(&self) -> DateTime<Utc> {
        self.from
    }
    /// End (exclusive).
    pub fn to(&self) -> DateTime<Utc> {
        self.to
    }
    /// True when `t` falls in the range.
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        t >= self.from && t < self.to
    }
}

/// Counts by key.
pub type Counts = BTreeMap<String, u64>;

/// The summary report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// All tickets.
    pub total_tickets: u64,
    /// Tickets by status.
    pub by_status: Counts,
    /// Tickets by priority (`untriaged` for none yet).
    pub by_priority: Counts,
    /// Tickets by department (`none` for none).
    pub by_department: Counts,
    /// Tickets by category.
    pub by_category: Counts,
    /// Tickets by tag (a ticket counts once under each of its tags; untagged ones nowhere).
    #[serde(default)]
    pub by_tag: Counts,
    /// New tickets waiting for review more than 24 hours.
    pub new_waiting_over_24h: u64,
    /// Users by role.
    pub users_by_role: Counts,
    /// Users by status.
    pub users_by_status: Counts,
    /// Rejected registrations (rejection records).
    pub rejected_registrations: u64,
}

/// Mean, median and 90th percentile of a set of durations, in seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct DurationStats {
    /// Samples.
    pub count: u64,
    /// Mean.
    pub mean_secs: Option<f64>,
    /// Median.
    pub median_secs: Option<f64>,
    /// 90th percentile.
    pub p90_secs: Option<f64>,
}

impl DurationStats {
    /// Computes the figures (sorts `samples`).
    pub fn from_samples(samples: &mut [i64]) -> Self {
        if samples.is_empty() {
            return Self::default();
        }
        samples.sort_unstable();
        let n = samples.len();
        let sum: f64 = samples.iter().map(|&s| s as f64).sum();
        let pct = |p: f64| {
            let pos = p * (n - 1) as f64;
            let lo = pos.floor() as usize;
            let hi = pos.ceil() as usize;
            let frac = pos - lo as f64;
            samples[lo] as f64 + (samples[hi] - samples[lo]) as f64 * frac
        };
        Self { count: n as u64, mean_secs: Some(sum / n as f64), median_secs: Some(pct(0.5)), p90_secs: Some(pct(0.9)) }
    }
}

/// Response and resolution figures of one group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupStats {
    /// Group key (department, priority or assignee id; `none` when unset).
    pub key: String,
    /// First-response times.
    pub response: DurationStats,
    /// Resolution times.
    pub resolution: DurationStats,
}

/// Tickets created and resolved on one day (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayCount {
    /// Day.
    pub day: NaiveDate,
    /// Created that day.
    pub created: u64,
    /// Resolved that day.
    pub resolved: u64,
}

/// The performance report over a range. Response and resolution figures cover tickets
/// created in the range; the backlog is the current one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PerformanceReport {
    /// The range.
    pub range: ReportRange,
    /// First-response times overall.
    pub response: DurationStats,
    /// Resolution times overall.
    pub resolution: DurationStats,
    /// By department.
    pub by_department: Vec<GroupStats>,
    /// By priority.
    pub by_priority: Vec<GroupStats>,
    /// By assignee.
    pub by_assignee: Vec<GroupStats>,
    /// Tickets not yet resolved or terminal, by status, now.
    pub backlog: Counts,
    /// Created vs resolved per day, every day of the range (zeros included).
    pub per_day: Vec<DayCount>,
}

/// Response and resolution samples of each group key.
type Samples = BTreeMap<String, (Vec<i64>, Vec<i64>)>;

/// Collects samples per group, then computes the figures; used by stores that aggregate in
/// process.
#[derive(Debug, Default)]
pub struct PerformanceBuilder {
    response: Vec<i64>,
    resolution: Vec<i64>,
    groups: [Samples; 3],
    created: BTreeMap<NaiveDate, u64>,
    resolved: BTreeMap<NaiveDate, u64>,
    backlog: Counts,
}

impl PerformanceBuilder {
    /// Adds a ticket created in the range.
    pub fn add_created(&mut self, t: &crate::model::Ticket) {
        self.add_created_on(t.created_at.date_naive(), 1);
        // The assignee's id as text without allocating (stores fold 100,000s of tickets).
        let mut id = [0u8; uuid::fmt::Hyphenated::LENGTH];
        self.add_group_samples(
            [
                t.department.as_ref().map_or("none", |d| d.as_str()),
                t.priority.map_or("untriaged", |p| p.as_str()),
                t.assignee.map_or("none", |a| a.as_uuid().hyphenated().encode_lower(&mut id)),
            ],
            t.response_secs.as_slice(),
            t.resolution_secs.as_slice(),
        );
    }

    /// Adds `n` tickets created on `day` (UTC) to the per-day counts.
    pub fn add_created_on(&mut self, day: NaiveDate, n: u64) {
        *self.created.entry(day).or_default() += n;
    }

    /// Adds the response and resolution times of tickets created in the range that share
    /// their group keys (department or `none`, priority or `untriaged`, assignee id or
    /// `none`): one call per ticket, or one per group when the store groups them itself.
    /// The figures do not depend on how the samples were split into calls.
    pub fn add_group_samples(&mut self, keys: [&str; 3], response: &[i64], resolution: &[i64]) {
        for (g, k) in self.groups.iter_mut().zip(keys) {
            // A key is copied once, when its group first appears.
            if !g.contains_key(k) {
                g.insert(k.to_owned(), (Vec::new(), Vec::new()));
            }
            let Some(e) = g.get_mut(k) else { continue };
            e.0.extend_from_slice(response);
            e.1.extend_from_slice(resolution);
        }
        self.response.extend_from_slice(response);
        self.resolution.extend_from_slice(resolution);
    }

    /// Adds a resolution that happened in the range.
    pub fn add_resolved(&mut self, at: DateTime<Utc>) {
        self.add_resolved_on(at.date_naive(), 1);
    }

    /// Adds `n` resolutions that happened on `day` (UTC).
    pub fn add_resolved_on(&mut self, day: NaiveDate, n: u64) {
        *self.resolved.entry(day).or_default() += n;
    }

    /// Adds a ticket to the current backlog (non-terminal, not resolved).
    pub fn add_backlog(&mut self, status: crate::domain::TicketStatus) {
        self.add_backlog_count(status, 1);
    }

    /// Adds `n` tickets of `status` to the current backlog.
    pub fn add_backlog_count(&mut self, status: crate::domain::TicketStatus, n: u64) {
        if n > 0 {
            *self.backlog.entry(status.to_string()).or_default() += n;
        }
    }
    /// Computes the report.
    pub fn finish(mut self, range: ReportRange) -> PerformanceReport {
        let group = |g: Samples| {
            g.into_iter()
                .map(|(key, (mut a, mut b))| GroupStats {
                    key,
                    response: DurationStats::from_samples(&mut a),
                    resolution: DurationStats::from_samples(&mut b),
                })
                .collect()
        };
        let [d, p, a] = std::mem::take(&mut self.groups);
        PerformanceReport {
            range,
            response: DurationStats::from_samples(&mut self.response),
            resolution: DurationStats::from_samples(&mut self.resolution),
            by_department: group(d),
            by_priority: group(p),
            by_assignee: group(a),
            backlog: self.backlog,
            per_day: days(range, &self.created, &self.resolved),
        }
    }
}

/// Every day of `range` with its counts (zeros included).
pub fn days(
    range: ReportRange,
    created: &BTreeMap<NaiveDate, u64>,
    resolved: &BTreeMap<NaiveDate, u64>,
) -> Vec<DayCount> {
    let mut out = Vec::new();
    let last = (range.to() - Duration::microseconds(1)).date_naive();
    let mut day = range.from().date_naive();
    while day <= last {
        out.push(DayCount {
            day,
            created: created.get(&day).copied().unwrap_or(0),
            resolved: resolved.get(&day).copied().unwrap_or(0),
        });
        match day.succ_opt() {
            Some(d) => day = d,
            None => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_interpolate() {
        let s = DurationStats::from_samples(&mut [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
        assert_eq!(s.count, 10);
        assert_eq!(s.mean_secs, Some(55.0));
        assert_eq!(s.median_secs, Some(55.0));
        assert!((s.p90_secs.unwrap() - 91.0).abs() < 1e-9);
        assert_eq!(DurationStats::from_samples(&mut []).mean_secs, None);
        assert_eq!(DurationStats::from_samples(&mut [7]).p90_secs, Some(7.0));
    }
}
