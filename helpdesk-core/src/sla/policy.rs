//! SLA policies: which targets apply to a ticket. A policy names a calendar, optionally narrows
//! itself to departments and categories, and sets targets per priority; the first policy whose
//! conditions match a ticket applies.

use std::collections::HashMap;

use chrono::Duration;
use serde::{Deserialize, Serialize};

use super::calendar::{BusinessCalendar, CalendarSpec};
use crate::domain::{CategoryKey, DepartmentKey, Priority};
use crate::model::Ticket;
use crate::{FieldError, ValidationErrors};

/// One policy, as data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaPolicy {
    /// Its name, recorded on the tickets it applies to.
    pub key: String,
    /// The calendar its targets count in.
    pub calendar: String,
    /// Only tickets of these departments (empty: any).
    #[serde(default)]
    pub departments: Vec<DepartmentKey>,
    /// Only tickets of these categories (empty: any).
    #[serde(default)]
    pub categories: Vec<CategoryKey>,
    /// Targets by priority; an entry without a priority applies to any priority without an
    /// entry of its own, and to tickets not triaged yet.
    pub targets: Vec<PriorityTargets>,
}

/// The targets for one priority, in minutes of the policy's calendar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriorityTargets {
    /// The priority (none: the fallback).
    #[serde(default)]
    pub priority: Option<Priority>,
    /// From submission to the first staff response.
    #[serde(default)]
    pub first_response_minutes: Option<u32>,
    /// From a requester's comment to the next staff response.
    #[serde(default)]
    pub next_response_minutes: Option<u32>,
    /// From submission (or reopening) to resolution.
    #[serde(default)]
    pub resolution_minutes: Option<u32>,
}

/// The targets that apply to one ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Targets {
    /// First response.
    pub first_response: Option<Duration>,
    /// Next response.
    pub next_response: Option<Duration>,
    /// Resolution.
    pub resolution: Option<Duration>,
}

/// Calendars and policies as data: what an application supplies or an admin edits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaSpec {
    /// The calendars.
    pub calendars: Vec<CalendarSpec>,
    /// The policies, in the order they are tried.
    pub policies: Vec<SlaPolicy>,
    /// The share of a target, in percent, after which it is in `warning` (default 75).
    #[serde(default = "default_warning_percent")]
    pub warning_percent: u8,
}

fn default_warning_percent() -> u8 {
    75
}

impl Default for SlaSpec {
    fn default() -> Self {
        Self { calendars: Vec::new(), policies: Vec::new(), warning_percent: default_warning_percent() }
    }
}

/// Checked calendars and policies.
#[derive(Debug, Clone, Default)]
pub struct SlaRules {
    spec: SlaSpec,
    calendars: HashMap<String, BusinessCalendar>,
    policies: Vec<SlaPolicy>,
    warning_percent: u8,
}

impl SlaSpec {
    /// Checks every calendar and policy: unique keys, a known calendar for each policy, at most
    /// one entry per priority, targets above zero, a warning share in (0, 1).
    ///
    /// # Errors
    /// Field errors naming what is wrong (`policies[1].calendar`, `calendars[0].time_zone`, …).
    pub fn compile(&self) -> Result<SlaRules, ValidationErrors> {
        let mut errors = Vec::new();
        let mut calendars = HashMap::new();
        for (i, c) in self.calendars.iter().enumerate() {
            match c.compile() {
                Ok(cal) => {
                    if calendars.insert(c.key.clone(), cal).is_some() {
                        errors.push(FieldError::new(format!("calendars[{i}].key"), "duplicate", "each key once"));
                    }
                }
                Err(e) => errors
                    .extend(e.0.into_iter().map(|f| FieldError { field: format!("calendars[{i}].{}", f.field), ..f })),
            }
        }
        let mut keys = std::collections::HashSet::new();
        for (i, p) in self.policies.iter().enumerate() {
            if p.key.trim().is_empty() || p.key.len() > 64 {
                errors.push(FieldError::new(format!("policies[{i}].key"), "invalid", "1 to 64 characters"));
            } else if !keys.insert(p.key.as_str()) {
                errors.push(FieldError::new(format!("policies[{i}].key"), "duplicate", "each key once"));
            }
            if !self.calendars.iter().any(|c| c.key == p.calendar) {
                errors.push(FieldError::new(format!("policies[{i}].calendar"), "unknown", "the key of a calendar"));
            }
            let mut priorities = std::collections::HashSet::new();
            for (j, t) in p.targets.iter().enumerate() {
                if !priorities.insert(t.priority) {
                    errors.push(FieldError::new(
                        format!("policies[{i}].targets[{j}].priority"),
                        "duplicate",
                        "each priority once (and one entry without a priority)",
                    ));
                }
                for (name, v) in [
                    ("first_response_minutes", t.first_response_minutes),
                    ("next_response_minutes", t.next_response_minutes),
                    ("resolution_minutes", t.resolution_minutes),
                ] {
                    if v == Some(0) {
                        errors.push(FieldError::new(
                            format!("policies[{i}].targets[{j}].{name}"),
                            "out_of_range",
                            "at least 1",
                        ));
                    }
                }
            }
        }
        if !(1..=99).contains(&self.warning_percent) {
            errors.push(FieldError::new("warning_percent", "out_of_range", "between 1 and 99"));
        }
        if !errors.is_empty() {
            return Err(ValidationErrors(errors));
        }
        Ok(SlaRules {
            spec: self.clone(),
            calendars,
            policies: self.policies.clone(),
            warning_percent: self.warning_percent,
        })
    }
}

impl SlaPolicy {
    /// True when the ticket's department and category pass the policy's conditions.
    pub fn matches(&self, ticket: &Ticket) -> bool {
        let department =
            self.departments.is_empty() || ticket.department.as_ref().is_some_and(|d| self.departments.contains(d));
        department && (self.categories.is_empty() || self.categories.contains(&ticket.category))
    }

    /// The targets for a priority (its own entry, else the fallback entry).
    pub fn targets(&self, priority: Option<Priority>) -> Targets {
        let entry = self
            .targets
            .iter()
            .find(|t| t.priority.is_some() && t.priority == priority)
            .or_else(|| self.targets.iter().find(|t| t.priority.is_none()));
        let minutes = |m: Option<u32>| m.map(|m| Duration::minutes(i64::from(m)));
        entry.map_or_else(Targets::default, |t| Targets {
            first_response: minutes(t.first_response_minutes),
            next_response: minutes(t.next_response_minutes),
            resolution: minutes(t.resolution_minutes),
        })
    }
}

impl SlaRules {
    /// The calendars and policies as written.
    pub fn spec(&self) -> &SlaSpec {
        &self.spec
    }

    /// True when there is no policy (tickets have no targets).
    pub fn is_empty(&self) -> bool {
        self.policies.is_empty()
    }

    /// The first policy matching `ticket`, with its calendar.
    pub fn policy_for(&self, ticket: &Ticket) -> Option<(&SlaPolicy, &BusinessCalendar)> {
        self.policies.iter().find(|p| p.matches(ticket)).and_then(|p| Some((p, self.calendars.get(&p.calendar)?)))
    }

    /// A policy by key, with its calendar.
    pub fn policy(&self, key: &str) -> Option<(&SlaPolicy, &BusinessCalendar)> {
        self.policies.iter().find(|p| p.key == key).and_then(|p| Some((p, self.calendars.get(&p.calendar)?)))
    }

    /// The share of a target, in percent, after which it is in `warning`.
    pub fn warning_percent(&self) -> u8 {
        self.warning_percent
    }
}
