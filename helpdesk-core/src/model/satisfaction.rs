//! Customer satisfaction (CSAT): the requester's rating of a resolved ticket, given through a
//! signed link in the resolution mail ([`crate::service::satisfaction`]).

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::Note;

/// How the requester rated the help they got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rating {
    /// Good, I'm satisfied.
    Good,
    /// Bad, I'm not satisfied.
    Bad,
}

impl Rating {
    /// The stored and wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Rating::Good => "good",
            Rating::Bad => "bad",
        }
    }

    /// Parses the wire name, naming `field` in the error.
    ///
    /// # Errors
    /// Anything but `good` or `bad`.
    pub fn parse_field(field: &str, s: &str) -> Result<Self, crate::FieldError> {
        match s {
            "good" => Ok(Rating::Good),
            "bad" => Ok(Rating::Bad),
            _ => Err(crate::FieldError::new(field, "invalid", "must be good or bad")),
        }
    }
}

impl fmt::Display for Rating {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The rating a ticket holds: the requester's latest (one per ticket; a new one replaces it
/// while the link lasts). Staff see it on the ticket; its comment is never shown to another
/// employee.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Satisfaction {
    /// Good or bad.
    pub rating: Rating,
    /// What the requester wrote with it.
    pub comment: Option<Note>,
    /// When it was given (or last changed).
    pub rated_at: DateTime<Utc>,
    /// How many times the ticket was rated: the number of the next valid rating link, so each
    /// link works once.
    pub ratings: u32,
}
