//! The clocks of service levels, as a pure function of a ticket's history and a calendar.
//!
//! Nothing here is a stored counter: the same history and calendar always give the same
//! figures, so a past SLA can be recomputed after a calendar is corrected, and stores keep
//! nothing new beyond the history they already have.
//!
//! # Rules
//! - The ticket is **paused** while its status is `on_hold` or `pending` (waiting on the
//!   requester); paused time never counts. Any other status runs the clocks.
//! - **First response** starts at submission and is met by the first staff response: approve
//!   or reject, or a public comment (or a status change that mails the requester: waiting on
//!   the requester, resolve) by anyone but the requester.
//! - **Next response** starts at each public comment by the requester after the first
//!   response, unless one is already running, and is met by the next staff response.
//! - **Resolution** starts at submission and is met when the ticket is resolved. Reopening
//!   starts a new resolution cycle at the reopening, measured from zero; the earlier cycle
//!   keeps its outcome.
//! - A ticket **rejected or withdrawn** ends its running cycles: one already past its target
//!   by then counts as breached (it was), the others are left out (no outcome).
//! - A cycle is **met** when it ended within its target and **breached** when its business
//!   time passed the target (ended late, or still running); a running cycle is **paused**
//!   while the ticket is, **warning** past the warning share of its target, **ok** before.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::calendar::{BusinessCalendar, CalendarWindow};
use super::policy::Targets;
use crate::domain::{TicketStatus, UserId};
use crate::lifecycle::Action;
use crate::model::{EventKind, HistoryEvent};

/// Which target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    /// Submission to first staff response.
    FirstResponse,
    /// Requester's comment to the next staff response.
    NextResponse,
    /// Submission (or reopening) to resolution.
    Resolution,
}

/// Where a target stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetState {
    /// Running, before the warning share.
    Ok,
    /// Running, past the warning share.
    Warning,
    /// Past the target (running or ended late).
    Breached,
    /// Ended within the target.
    Met,
    /// Not running: the ticket is on hold or waits on its requester.
    Paused,
}

impl TargetKind {
    /// The wire name (`first_response`, `next_response`, `resolution`).
    pub const fn as_str(self) -> &'static str {
        match self {
            TargetKind::FirstResponse => "first_response",
            TargetKind::NextResponse => "next_response",
            TargetKind::Resolution => "resolution",
        }
    }
}

impl TargetState {
    /// The wire name (`ok`, `warning`, `breached`, `met`, `paused`).
    pub const fn as_str(self) -> &'static str {
        match self {
            TargetState::Ok => "ok",
            TargetState::Warning => "warning",
            TargetState::Breached => "breached",
            TargetState::Met => "met",
            TargetState::Paused => "paused",
        }
    }
}

/// One cycle of one target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetCycle {
    /// Which target.
    pub kind: TargetKind,
    /// When the cycle started.
    pub started_at: DateTime<Utc>,
    /// When it ended (met, or ended late), if it did.
    pub ended_at: Option<DateTime<Utc>>,
    /// The target, in business time.
    pub target: Duration,
    /// Business time counted so far (to its end, or to `now`).
    pub elapsed: Duration,
    /// When the target is (or was) due: the instant its business time reaches the target,
    /// counting from the last resumption; `None` while paused and not breached, or when the
    /// calendar has no working time ahead.
    pub due_at: Option<DateTime<Utc>>,
    /// When a running cycle enters its warning share (the warning percentage of its target);
    /// `None` once it ended, while paused, or when the calendar has no working time ahead.
    pub warning_at: Option<DateTime<Utc>>,
    /// Where it stands.
    pub state: TargetState,
}

/// The history facts the clocks need, read once from the events.
#[derive(Debug, Clone, Copy)]
struct Step {
    at: DateTime<Utc>,
    /// The status after the event, when it changed it.
    status: Option<TicketStatus>,
    /// A staff response (see the module rules).
    response: bool,
    /// A public comment by the requester.
    requester_comment: bool,
}

fn step(e: &HistoryEvent, requester: UserId) -> Step {
    let status = e
        .changes
        .iter()
        .find(|c| c.field == "status")
        .and_then(|c| c.new.as_deref())
        .and_then(|s| s.parse::<TicketStatus>().ok());
    let by_requester = e.actor.user() == Some(requester);
    let (response, requester_comment) = match &e.kind {
        EventKind::Commented { .. } if !e.internal => (!by_requester, by_requester),
        EventKind::Action { action } => (
            !by_requester
                && matches!(action, Action::Approve | Action::Reject | Action::AwaitRequester | Action::Resolve),
            false,
        ),
        _ => (false, false),
    };
    Step { at: e.at, status, response, requester_comment }
}

/// Whether a status stops the clocks.
pub fn pauses(status: TicketStatus) -> bool {
    matches!(status, TicketStatus::OnHold | TicketStatus::Pending)
}

/// A running cycle being followed through the history.
struct Open {
    kind: TargetKind,
    started_at: DateTime<Utc>,
    target: Duration,
}

/// When the ticket ran and when it was paused, with the running business time at the start
/// of each stretch, so any cycle's figures are two binary searches. Instants and durations in
/// microseconds.
struct Timeline<'w> {
    /// `(from, paused)`: the ticket is paused or not from this instant until the next entry.
    spans: Vec<(i64, bool)>,
    /// `before[i]`: running business time from the first span to the start of span `i`.
    before: Vec<i64>,
    /// `total[i]`: the calendar window's working-time total at the start of span `i`.
    total: Vec<Option<i64>>,
    calendar: &'w CalendarWindow<'w>,
}

fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

impl<'w> Timeline<'w> {
    fn new(spans: Vec<(DateTime<Utc>, bool)>, calendar: &'w CalendarWindow<'w>) -> Self {
        let spans: Vec<(i64, bool)> = spans.into_iter().map(|(t, p)| (micros(t), p)).collect();
        let total: Vec<Option<i64>> = spans.iter().map(|s| calendar.total_at(s.0)).collect();
        let mut before = Vec::with_capacity(spans.len());
        let mut sum = 0;
        for (i, &(start, paused)) in spans.iter().enumerate() {
            before.push(sum);
            if let (false, Some(next)) = (paused, spans.get(i + 1)) {
                sum += match (total[i], total[i + 1]) {
                    (Some(a), Some(b)) => b - a,
                    _ => calendar.business_micros(start, next.0),
                };
            }
        }
        Self { spans, before, total, calendar }
    }

    /// Running business time from the first span to `t`.
    fn at(&self, t: i64) -> i64 {
        let k = self.spans.partition_point(|s| s.0 <= t);
        if k == 0 {
            return 0;
        }
        let (start, paused) = self.spans[k - 1];
        let running = match (paused, self.total[k - 1], self.calendar.total_at(t)) {
            (true, ..) => 0,
            (false, Some(a), Some(b)) => b - a,
            (false, ..) => self.calendar.business_micros(start, t),
        };
        self.before[k - 1] + running
    }

    fn elapsed(&self, from: i64, to: i64) -> Duration {
        Duration::microseconds(if to <= from { 0 } else { self.at(to) - self.at(from) })
    }

    /// When the running time from `from` reaches `target`: within `[from, to]`, or after `to`
    /// when the ticket runs at `to` (`paused_at_end` false).
    fn due(&self, from: i64, to: i64, target: Duration, paused_at_end: bool) -> Option<DateTime<Utc>> {
        let goal = self.at(from) + target.num_microseconds()?;
        let at_end = self.at(to);
        let (start, left) = if goal > at_end {
            if paused_at_end {
                return None;
            }
            (to.max(from), goal - at_end)
        } else {
            // The stretch in which the running total reaches the goal: the last one starting
            // below it.
            let k = self.before.partition_point(|b| *b < goal).saturating_sub(1);
            let start = self.spans[k].0.max(from);
            (start, goal - self.at(start))
        };
        self.calendar.add_business_time(DateTime::from_timestamp_micros(start)?, Duration::microseconds(left))
    }
}

/// Every target cycle of a ticket, oldest first, as of `now`: the module's rules applied to
/// `history` (in order, submission first) with `targets` counted in `calendar`.
/// `warning_percent` is the share of a target after which a running cycle is in `warning`.
pub fn cycles(
    requester: UserId,
    history: &[HistoryEvent],
    targets: &Targets,
    calendar: &BusinessCalendar,
    warning_percent: u8,
    now: DateTime<Utc>,
) -> Vec<TargetCycle> {
    let Some(first) = history.first() else { return Vec::new() };
    let mut spans: Vec<(DateTime<Utc>, bool)> = vec![(first.at, false)];
    let mut ended: Vec<(Open, Option<DateTime<Utc>>)> = Vec::new();
    let mut open: Vec<Open> = Vec::new();
    // Running cycles a rejection or withdrawal ended, with when.
    let mut cancelled: Vec<(Open, DateTime<Utc>)> = Vec::new();
    let start = |kind, at, target: Option<Duration>| target.map(|target| Open { kind, started_at: at, target });
    open.extend(start(TargetKind::FirstResponse, first.at, targets.first_response));
    open.extend(start(TargetKind::Resolution, first.at, targets.resolution));
    let mut first_response_done = false;
    let mut status = TicketStatus::New;
    for s in history.iter().skip(1).map(|e| step(e, requester)) {
        if s.response {
            first_response_done = true;
            let mut i = 0;
            while i < open.len() {
                if matches!(open[i].kind, TargetKind::FirstResponse | TargetKind::NextResponse) {
                    ended.push((open.remove(i), Some(s.at)));
                } else {
                    i += 1;
                }
            }
        }
        if s.requester_comment && first_response_done && !open.iter().any(|o| o.kind == TargetKind::NextResponse) {
            open.extend(start(TargetKind::NextResponse, s.at, targets.next_response));
        }
        if let Some(next) = s.status {
            let was_resolved = status == TicketStatus::Resolved;
            status = next;
            if pauses(next) != spans.last().is_some_and(|l| l.1) {
                spans.push((s.at, pauses(next)));
            }
            match next {
                TicketStatus::Resolved => {
                    if let Some(i) = open.iter().position(|o| o.kind == TargetKind::Resolution) {
                        ended.push((open.remove(i), Some(s.at)));
                    }
                }
                TicketStatus::Rejected | TicketStatus::Withdrawn => {
                    cancelled.extend(open.drain(..).map(|o| (o, s.at)));
                }
                TicketStatus::InProgress if was_resolved => {
                    open.extend(start(TargetKind::Resolution, s.at, targets.resolution));
                }
                _ => {}
            }
        }
    }
    let paused_now = pauses(status);
    let last = history.last().map_or(first.at, |e| e.at).max(now);
    let window = calendar.window(first.at, last);
    let timeline = Timeline::new(spans, &window);
    // A cancelled cycle counts only if it was already past its target: it was breached then.
    let breached_before_cancelled = cancelled
        .into_iter()
        .filter_map(|(o, at)| (timeline.elapsed(micros(o.started_at), micros(at)) > o.target).then_some((o, Some(at))));
    let mut out: Vec<TargetCycle> = ended
        .into_iter()
        .chain(breached_before_cancelled)
        .chain(open.into_iter().map(|o| (o, None)))
        .map(|(o, end)| {
            let to = end.unwrap_or(now);
            let elapsed = timeline.elapsed(micros(o.started_at), micros(to));
            let stopped = end.is_some() || paused_now;
            let (start_us, to_us) = (micros(o.started_at), micros(to));
            let share = o.target.num_microseconds().map(|t| (t.saturating_mul(i64::from(warning_percent)) + 99) / 100);
            let (due_at, warning_at) = match share {
                // A running cycle: its warning, then its due time counted on from the warning
                // (one walk of the calendar ahead, not two).
                Some(share) if !stopped => {
                    let warning_at = timeline.due(start_us, to_us, Duration::microseconds(share), false);
                    let due_at = match warning_at {
                        Some(w) if micros(w) >= to_us => {
                            timeline.calendar.add_business_time(w, o.target - Duration::microseconds(share))
                        }
                        _ => timeline.due(start_us, to_us, o.target, false),
                    };
                    (due_at, warning_at)
                }
                _ => (timeline.due(start_us, to_us, o.target, stopped), None),
            };
            let state = match end {
                Some(_) if elapsed <= o.target => TargetState::Met,
                _ if elapsed > o.target => TargetState::Breached,
                Some(_) => TargetState::Met,
                None if paused_now => TargetState::Paused,
                None if elapsed.num_milliseconds() * 100
                    >= o.target.num_milliseconds() * i64::from(warning_percent) =>
                {
                    TargetState::Warning
                }
                None => TargetState::Ok,
            };
            TargetCycle {
                kind: o.kind,
                started_at: o.started_at,
                ended_at: end,
                target: o.target,
                elapsed,
                due_at,
                warning_at,
                state,
            }
        })
        .collect();
    out.sort_by_key(|c| (c.started_at, c.kind));
    out
}

/// The latest cycle of each target kind: what a ticket shows.
pub fn current(cycles: &[TargetCycle]) -> Vec<&TargetCycle> {
    let mut latest: Vec<&TargetCycle> = Vec::new();
    for c in cycles {
        match latest.iter_mut().find(|l| l.kind == c.kind) {
            Some(l) if l.started_at <= c.started_at => *l = c,
            Some(_) => {}
            None => latest.push(c),
        }
    }
    latest.sort_by_key(|c| c.kind);
    latest
}
