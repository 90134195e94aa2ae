//! Timestamps in JSON answers, written by hand instead of through `core::fmt`.
//!
//! A page of 50 tickets carries up to 250 timestamps, and chrono's `Serialize` formats each one
//! through `Display` (`core::fmt::write`, a `write_char` per piece): in the list route's profile
//! that was 8% of the server's CPU. These functions write the same text (RFC 3339 in UTC with
//! `Z`, the fraction in 0, 3, 6 or 9 digits as chrono's `SecondsFormat::AutoSi` chooses) into a
//! stack buffer, and hand anything they do not cover (years outside 0–9999, leap seconds) back
//! to chrono. Used with `#[serde(serialize_with = "...")]` on the view structs, so the OpenAPI
//! schema still says `date-time`.

use chrono::{DateTime, Datelike, Timelike, Utc};
use serde::{Serialize, Serializer};

/// The longest text written: `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`.
const MAX_LEN: usize = 30;

/// Writes `t` into `buf`; `None` when chrono must do it (the year has more than four digits
/// or is negative, or `t` is a leap second).
fn write(t: &DateTime<Utc>, buf: &mut [u8; MAX_LEN]) -> Option<usize> {
    let year = u32::try_from(t.year()).ok().filter(|y| *y <= 9999)?;
    let nanos = t.nanosecond();
    if nanos >= 1_000_000_000 {
        return None;
    }
    let mut put = |at: usize, value: u32, digits: usize| {
        let mut v = value;
        for i in (0..digits).rev() {
            buf[at + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, year, 4);
    put(5, t.month(), 2);
    put(8, t.day(), 2);
    put(11, t.hour(), 2);
    put(14, t.minute(), 2);
    put(17, t.second(), 2);
    let (fraction, digits) = match nanos {
        0 => (0, 0),
        n if n % 1_000_000 == 0 => (n / 1_000_000, 3),
        n if n % 1_000 == 0 => (n / 1_000, 6),
        n => (n, 9),
    };
    let mut len = 19;
    if digits > 0 {
        put(20, fraction, digits);
        buf[19] = b'.';
        len += 1 + digits;
    }
    buf[4] = b'-';
    buf[7] = b'-';
    buf[10] = b'T';
    buf[13] = b':';
    buf[16] = b':';
    buf[len] = b'Z';
    Some(len + 1)
}

/// Serialises a timestamp as chrono does, faster.
pub(crate) fn rfc3339<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    let mut buf = [0u8; MAX_LEN];
    match write(t, &mut buf).and_then(|n| std::str::from_utf8(&buf[..n]).ok()) {
        Some(text) => s.serialize_str(text),
        None => t.serialize(s),
    }
}

/// [`rfc3339`] for an optional timestamp (`null` when absent).
pub(crate) fn rfc3339_opt<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => rfc3339(t, s),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::{DateTime, TimeZone, Utc};
    use proptest::prelude::*;

    #[derive(serde::Serialize)]
    struct Fast(#[serde(serialize_with = "super::rfc3339")] DateTime<Utc>);

    fn same_as_chrono(t: DateTime<Utc>) {
        assert_eq!(serde_json::to_string(&Fast(t)).unwrap(), serde_json::to_string(&t).unwrap(), "{t:?}");
    }

    #[test]
    fn every_fraction_width_and_the_fallbacks() {
        let base = Utc.with_ymd_and_hms(2026, 11, 30, 20, 18, 17).unwrap();
        for nanos in [0, 1, 10, 999, 1_000, 744_000, 744_339_000, 744_339_568, 5_000_000, 100_000_000, 999_999_999] {
            same_as_chrono(base + chrono::Duration::nanoseconds(nanos));
        }
        same_as_chrono(Utc.with_ymd_and_hms(0, 1, 1, 0, 0, 0).unwrap());
        same_as_chrono(Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap());
        // Outside what the fast path writes: chrono answers.
        same_as_chrono(Utc.with_ymd_and_hms(10_000, 1, 1, 0, 0, 0).unwrap());
        same_as_chrono(Utc.with_ymd_and_hms(-1, 1, 1, 0, 0, 0).unwrap());
        let leap = chrono::NaiveDate::from_ymd_opt(2016, 12, 31).unwrap().and_hms_nano_opt(23, 59, 59, 1_500_000_000);
        same_as_chrono(Utc.from_utc_datetime(&leap.unwrap()));
    }

    #[test]
    fn optional_timestamps() {
        #[derive(serde::Serialize)]
        struct Opt(#[serde(serialize_with = "super::rfc3339_opt")] Option<DateTime<Utc>>);
        let t = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        assert_eq!(serde_json::to_string(&Opt(None)).unwrap(), "null");
        assert_eq!(serde_json::to_string(&Opt(Some(t))).unwrap(), serde_json::to_string(&t).unwrap());
    }

    proptest! {
        #[test]
        fn any_timestamp_reads_as_chrono_writes_it(secs in -80_000_000_000i64..260_000_000_000, nanos in 0u32..1_000_000_000, round in 0usize..4) {
            let nanos = [nanos, nanos / 1_000 * 1_000, nanos / 1_000_000 * 1_000_000, 0][round];
            if let Some(t) = DateTime::from_timestamp(secs, nanos) {
                same_as_chrono(t);
            }
        }
    }
}
