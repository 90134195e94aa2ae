//! Business-hours calendars: working hours per weekday in a named time zone, and holidays.
//!
//! A [`CalendarSpec`] is data (what an admin edits or an application supplies);
//! [`BusinessCalendar`] is the checked, ready form that answers the two questions service
//! levels ask: how much working time lies between two instants ([`business_time`]), and when
//! a given amount of working time from an instant runs out ([`add_business_time`]).
//!
//! Working hours are local wall-clock times, turned into instants day by day, so they follow
//! daylight-saving changes: 09:00–17:00 is eight hours on every day of the year, and a day
//! whose local midnight-to-midnight is 23 or 25 hours long counts 23 or 25 in a calendar open
//! all day. A local time that does not exist (in the spring-forward gap) counts from the first
//! instant after the gap; one that exists twice (fall back) from its first occurrence.
//!
//! [`business_time`]: BusinessCalendar::business_time
//! [`add_business_time`]: BusinessCalendar::add_business_time

use std::collections::HashSet;

use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::{FieldError, ValidationErrors};

/// Minutes in a day; `24:00` is a valid end of working hours.
const DAY_MINUTES: u16 = 24 * 60;
/// How far [`BusinessCalendar::add_business_time`] looks ahead before it gives up (ten years).
const HORIZON_DAYS: i64 = 3660;

/// A calendar as data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarSpec {
    /// Its name, which policies refer to (`it-support`, `default`, …).
    pub key: String,
    /// An IANA time zone name (`Europe/Berlin`, `America/New_York`, `UTC`).
    pub time_zone: String,
    /// Working hours by weekday; a day not listed has none.
    pub week: Vec<WorkingDay>,
    /// Days without working hours.
    #[serde(default)]
    pub holidays: Vec<Holiday>,
}

/// The working hours of one weekday.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkingDay {
    /// The weekday (`mon` … `sun`).
    pub day: WeekdayName,
    /// Spans of local time, `HH:MM` to `HH:MM` (`24:00` ends at midnight); in order, not
    /// overlapping.
    pub hours: Vec<Span>,
}

/// A weekday by its three-letter name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs)]
pub enum WeekdayName {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl WeekdayName {
    fn index(self) -> usize {
        self as usize
    }
}

/// A span of local time within a day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Span {
    /// From (`HH:MM`).
    pub start: String,
    /// To (`HH:MM`, at most `24:00`), after `start`.
    pub end: String,
}

/// A day off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Holiday {
    /// The date (`YYYY-MM-DD`); with `recurring`, only its month and day count.
    pub date: NaiveDate,
    /// Every year on the same month and day.
    #[serde(default)]
    pub recurring: bool,
    /// What it is, for people.
    #[serde(default)]
    pub name: String,
}

/// Minutes since local midnight, from `HH:MM`.
fn minutes(field: &str, text: &str) -> Result<u16, FieldError> {
    let bad = || FieldError::new(field, "invalid", "a time of day as HH:MM, from 00:00 to 24:00");
    let (h, m) = text.split_once(':').ok_or_else(bad)?;
    if h.len() != 2 || m.len() != 2 {
        return Err(bad());
    }
    let (h, m): (u16, u16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    let total = h * 60 + m;
    if m >= 60 || total > DAY_MINUTES {
        return Err(bad());
    }
    Ok(total)
}

/// A checked calendar, ready to count working time.
#[derive(Debug, Clone)]
pub struct BusinessCalendar {
    key: String,
    tz: Tz,
    /// Working spans in minutes, per weekday (Monday first).
    week: [Vec<(u16, u16)>; 7],
    /// One-off holidays, sorted (a binary search is cheaper than hashing here).
    holidays: Vec<NaiveDate>,
    /// Recurring holidays as `month * 32 + day`, sorted.
    recurring: Vec<u32>,
}

impl CalendarSpec {
    /// Checks the calendar: a known time zone, valid and ordered spans, each weekday listed once.
    ///
    /// # Errors
    /// Field errors naming what is wrong (`time_zone`, `week[2].hours[0].end`, …).
    pub fn compile(&self) -> Result<BusinessCalendar, ValidationErrors> {
        let mut errors = Vec::new();
        if self.key.is_empty()
            || self.key.len() > 64
            || !self.key.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        {
            errors.push(FieldError::new("key", "invalid", "1 to 64 of a-z, 0-9, - and _"));
        }
        let tz: Tz = match self.time_zone.parse() {
            Ok(tz) => tz,
            Err(_) => {
                errors.push(FieldError::new("time_zone", "invalid", "an IANA time zone name, such as Europe/Berlin"));
                Tz::UTC
            }
        };
        let mut week: [Vec<(u16, u16)>; 7] = Default::default();
        let mut seen = HashSet::new();
        for (i, day) in self.week.iter().enumerate() {
            if !seen.insert(day.day) {
                errors.push(FieldError::new(format!("week[{i}].day"), "duplicate", "each weekday at most once"));
            }
            let mut last_end = 0u16;
            for (j, span) in day.hours.iter().enumerate() {
                let at = |f: &str| format!("week[{i}].hours[{j}].{f}");
                let (start, end) = match (minutes(&at("start"), &span.start), minutes(&at("end"), &span.end)) {
                    (Ok(s), Ok(e)) => (s, e),
                    (s, e) => {
                        errors.extend(s.err());
                        errors.extend(e.err());
                        continue;
                    }
                };
                if end <= start {
                    errors.push(FieldError::new(at("end"), "invalid", "after the start"));
                } else if j > 0 && start < last_end {
                    errors.push(FieldError::new(at("start"), "invalid", "spans in order, not overlapping"));
                } else {
                    week[day.day.index()].push((start, end));
                }
                last_end = last_end.max(end);
            }
        }
        if !errors.is_empty() {
            return Err(ValidationErrors(errors));
        }
        let mut holidays: Vec<NaiveDate> = self.holidays.iter().filter(|h| !h.recurring).map(|h| h.date).collect();
        let mut recurring: Vec<u32> =
            self.holidays.iter().filter(|h| h.recurring).map(|h| h.date.month() * 32 + h.date.day()).collect();
        holidays.sort_unstable();
        recurring.sort_unstable();
        Ok(BusinessCalendar { key: self.key.clone(), tz, week, holidays, recurring })
    }
}

impl BusinessCalendar {
    /// A calendar open every minute of every day (wall-clock time), in UTC.
    pub fn always_open() -> Self {
        Self {
            key: "always".into(),
            tz: Tz::UTC,
            week: std::array::from_fn(|_| vec![(0, DAY_MINUTES)]),
            holidays: Vec::new(),
            recurring: Vec::new(),
        }
    }

    /// Its key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Its time zone.
    pub fn time_zone(&self) -> Tz {
        self.tz
    }

    fn spans(&self, day: NaiveDate) -> &[(u16, u16)] {
        if self.holidays.binary_search(&day).is_ok()
            || self.recurring.binary_search(&(day.month() * 32 + day.day())).is_ok()
        {
            return &[];
        }
        &self.week[day.weekday().num_days_from_monday() as usize]
    }

    /// The instant of local time `minute` (0 to 1440) on `day`.
    fn instant(&self, day: NaiveDate, minute: u16) -> DateTime<Utc> {
        let (date, minute) = match (minute, day.succ_opt()) {
            (DAY_MINUTES, Some(next)) => (next, 0),
            _ => (day, minute.min(DAY_MINUTES - 1)),
        };
        let mut local = date.and_hms_opt(u32::from(minute / 60), u32::from(minute % 60), 0).unwrap_or_default();
        // A local time in a spring-forward gap counts from the first instant after it (gaps are
        // at most a few hours; a whole skipped day is a gap too).
        for _ in 0..(2 * 24 * 60) {
            match self.tz.from_local_datetime(&local) {
                LocalResult::Single(t) => return t.with_timezone(&Utc),
                LocalResult::Ambiguous(first, _) => return first.with_timezone(&Utc),
                LocalResult::None => local += Duration::minutes(1),
            }
        }
        Utc.from_utc_datetime(&local)
    }

    /// The local date of an instant.
    fn local_date(&self, t: DateTime<Utc>) -> NaiveDate {
        t.with_timezone(&self.tz).date_naive()
    }

    /// Calls `f` with each day's working intervals (microseconds since the epoch, in order),
    /// day by day from `day`, until it breaks. A day whose local midnights have the same offset
    /// has no change of offset in it: its intervals are its midnight plus minutes, without a
    /// time-zone lookup each; only the days of a change are converted time by time.
    fn each_day<T>(&self, mut day: NaiveDate, mut f: impl FnMut(NaiveDate, &[(i64, i64)]) -> Option<T>) -> Option<T> {
        let offset = |day: NaiveDate, start: DateTime<Utc>| {
            day.and_hms_opt(0, 0, 0).map(|midnight| (midnight - start.naive_utc()).num_seconds())
        };
        let mut start = self.instant(day, 0);
        let mut buf: Vec<(i64, i64)> = Vec::with_capacity(4);
        loop {
            let next = day.succ_opt()?;
            let end = self.instant(next, 0);
            let spans = self.spans(day);
            buf.clear();
            if !spans.is_empty() {
                let steady = offset(day, start).is_some_and(|o| offset(next, end) == Some(o));
                for &(s, e) in spans {
                    let (s, e) = if steady {
                        let at = |m: u16| start.timestamp_micros() + i64::from(m) * 60_000_000;
                        (at(s), at(e))
                    } else {
                        (self.instant(day, s).timestamp_micros(), self.instant(day, e).timestamp_micros())
                    };
                    if e > s {
                        buf.push((s, e));
                    }
                }
            }
            if let Some(done) = f(day, &buf) {
                return Some(done);
            }
            (day, start) = (next, end);
        }
    }

    /// Working time between `from` and `to` (zero when `to` is not after `from`).
    pub fn business_time(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Duration {
        if to <= from {
            return Duration::zero();
        }
        let (a, b) = (from.timestamp_micros(), to.timestamp_micros());
        let mut total = 0i64;
        // From the day before: a span can end after the local midnight that `from` falls on
        // when a time zone's offset moves back over it.
        let first = self.local_date(from).pred_opt().unwrap_or(NaiveDate::MIN);
        let last = self.local_date(to);
        self.each_day(first, |day, intervals| {
            for &(s, e) in intervals {
                let (s, e) = (s.max(a), e.min(b));
                if e > s {
                    total += e - s;
                }
            }
            (day >= last).then_some(())
        });
        Duration::microseconds(total)
    }

    /// The instant at which `amount` of working time from `from` has passed, or `None` when
    /// the calendar has no working time in the next ten years.
    pub fn add_business_time(&self, from: DateTime<Utc>, amount: Duration) -> Option<DateTime<Utc>> {
        if amount <= Duration::zero() {
            return Some(from);
        }
        let a = from.timestamp_micros();
        let mut left = amount.num_microseconds()?;
        let mut days = 0;
        let at = self.each_day(self.local_date(from).pred_opt()?, |_, intervals| {
            for &(s, e) in intervals {
                let s = s.max(a);
                if e <= s {
                    continue;
                }
                if e - s >= left {
                    return Some(Some(s + left));
                }
                left -= e - s;
            }
            days += 1;
            (days > HORIZON_DAYS).then_some(None)
        })??;
        DateTime::from_timestamp_micros(at)
    }
}

/// The working intervals of a calendar over a stretch of days, laid out once with running
/// totals, so that measuring any interval inside it is two binary searches (the clocks of
/// one ticket measure many intervals over the same few weeks).
#[derive(Debug, Clone)]
pub struct CalendarWindow<'a> {
    calendar: &'a BusinessCalendar,
    /// Working intervals in microseconds since the epoch, in order, not overlapping.
    intervals: Vec<(i64, i64)>,
    /// `before[i]`: working time of the intervals before `i`.
    before: Vec<i64>,
    /// `after[i]`: working time of the intervals up to and including `i`.
    after: Vec<i64>,
    /// Instants in `[from, to]` are answered from the window.
    from: i64,
    to: i64,
}

impl BusinessCalendar {
    /// The calendar's working intervals between `from` and `to`, laid out for fast measuring.
    pub fn window(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> CalendarWindow<'_> {
        let mut intervals = Vec::new();
        let first = self.local_date(from).pred_opt().unwrap_or(NaiveDate::MIN);
        // Through the whole local day of `to`.
        let last = self.local_date(to.max(from));
        self.each_day(first, |day, spans| {
            intervals.extend_from_slice(spans);
            (day >= last).then_some(())
        });
        let (mut before, mut after) = (Vec::with_capacity(intervals.len()), Vec::with_capacity(intervals.len()));
        let mut sum = 0;
        for (s, e) in &intervals {
            before.push(sum);
            sum += e - s;
            after.push(sum);
        }
        CalendarWindow {
            calendar: self,
            intervals,
            before,
            after,
            from: from.timestamp_micros(),
            to: to.max(from).timestamp_micros(),
        }
    }
}

impl CalendarWindow<'_> {
    /// Working time from the window's first interval to `t` (microseconds since the epoch),
    /// or `None` outside the window. Differences of two totals are working time between them.
    pub fn total_at(&self, t: i64) -> Option<i64> {
        (self.from..=self.to).contains(&t).then(|| self.upto(t))
    }

    /// Working time from the window's first interval to `t` (inside the window).
    fn upto(&self, t: i64) -> i64 {
        // The intervals starting at or before `t`.
        let k = self.intervals.partition_point(|(s, _)| *s <= t);
        if k == 0 {
            return 0;
        }
        let (s, e) = self.intervals[k - 1];
        self.before[k - 1] + (t.min(e) - s)
    }

    /// As [`BusinessCalendar::business_time`].
    pub fn business_time(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Duration {
        if to <= from {
            return Duration::zero();
        }
        let (a, b) = (from.timestamp_micros(), to.timestamp_micros());
        if a < self.from || b > self.to {
            return self.calendar.business_time(from, to);
        }
        Duration::microseconds(self.upto(b) - self.upto(a))
    }

    /// [`business_time`](Self::business_time) in microseconds since the epoch, for callers
    /// that measure many intervals.
    pub fn business_micros(&self, from: i64, to: i64) -> i64 {
        if to <= from {
            return 0;
        }
        if from < self.from || to > self.to {
            return match (DateTime::from_timestamp_micros(from), DateTime::from_timestamp_micros(to)) {
                (Some(a), Some(b)) => self.calendar.business_time(a, b).num_microseconds().unwrap_or(i64::MAX),
                _ => 0,
            };
        }
        self.upto(to) - self.upto(from)
    }

    /// As [`BusinessCalendar::add_business_time`].
    pub fn add_business_time(&self, from: DateTime<Utc>, amount: Duration) -> Option<DateTime<Utc>> {
        if amount <= Duration::zero() {
            return Some(from);
        }
        let a = from.timestamp_micros();
        if a < self.from || a > self.to {
            return self.calendar.add_business_time(from, amount);
        }
        let goal = self.upto(a) + amount.num_microseconds()?;
        // The first interval whose end reaches the goal; the intervals run to the end of the
        // window's last day, so an answer within them is the calendar's.
        let k = self.after.partition_point(|x| *x < goal);
        match self.intervals.get(k) {
            Some(&(s, _)) => DateTime::from_timestamp_micros((s + (goal - self.before[k])).max(a)),
            None => {
                let end = DateTime::from_timestamp_micros(self.to)?;
                self.calendar.add_business_time(end, Duration::microseconds(goal - self.upto(self.to)))
            }
        }
    }
}

impl From<WeekdayName> for Weekday {
    fn from(d: WeekdayName) -> Self {
        match d {
            WeekdayName::Mon => Weekday::Mon,
            WeekdayName::Tue => Weekday::Tue,
            WeekdayName::Wed => Weekday::Wed,
            WeekdayName::Thu => Weekday::Thu,
            WeekdayName::Fri => Weekday::Fri,
            WeekdayName::Sat => Weekday::Sat,
            WeekdayName::Sun => Weekday::Sun,
        }
    }
}
