//! The clock port: the only way core learns the time.

use std::fmt;

use chrono::{DateTime, SubsecRound, Utc};

/// The current time.
///
/// # Contract
/// Monotonic enough for timestamps (never jumps backwards within a process under normal
/// operation); cheap; infallible.
///
/// # Implementing
/// [`SystemClock`] reads the wall clock; tests use a settable clock
/// (`testing::ManualClock`) or the mockall mock.
#[cfg_attr(feature = "testing", mockall::automock)]
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// Now.
    fn now(&self) -> DateTime<Utc>;
}

/// The wall clock, to the microsecond: the precision every store keeps (PostgreSQL's), so a
/// record reads back exactly as written whichever store holds it, and moves between stores
/// (export, import) unchanged.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // The one place that may read the wall clock.
    fn now(&self) -> DateTime<Utc> {
        Utc::now().trunc_subsecs(6)
    }
}
