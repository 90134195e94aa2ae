//! Service levels: business-hours calendars ([`calendar`]), policies that say which targets
//! apply to a ticket ([`policy`]), and the clocks that measure a ticket against them,
//! computed from its history alone ([`clock`]).

pub mod calendar;
pub mod clock;
pub mod policy;

pub use calendar::{BusinessCalendar, CalendarSpec, Holiday, Span, WeekdayName, WorkingDay};
pub use clock::{TargetCycle, TargetKind, TargetState, current, cycles, pauses};
pub use policy::{PriorityTargets, SlaPolicy, SlaRules, SlaSpec, Targets};
