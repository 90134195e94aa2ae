//! Custom fields: what a company records on its tickets beyond the built-in fields (an asset
//! tag, a location, a cost centre, a date the laptop is needed by).
//!
//! An admin defines them ([`FieldBook`], one versioned settings document, like the macros);
//! each ticket keeps its values in [`Ticket::fields`](super::Ticket) by key. A value is plain
//! JSON (a string, a number, a boolean, a list of strings), so PostgreSQL can keep them in one
//! `jsonb` column it indexes and filters by containment, and sled beside its list index rows.
//! What a value means comes from its definition: a definition's key and kind never change
//! once saved, and a definition is retired rather than deleted, so values already recorded
//! keep their meaning (they stay on the tickets, are shown to staff and exported).
//!
//! Sorting works on an integer key ([`FieldValue::sort_key`]): numbers, dates and checkboxes
//! sort; text and choices filter but do not sort (they have no order a store could share
//! with the API's integer cursor).

use std::collections::BTreeMap;
use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::domain::FieldKey;
use crate::{FieldError, ValidationErrors};

/// What a custom field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    /// One line of text (up to [`FieldDef::MAX_TEXT`] characters).
    Text,
    /// A number, with up to four decimals.
    Number,
    /// A calendar date.
    Date,
    /// One of the field's options.
    Choice,
    /// Any of the field's options.
    MultiChoice,
    /// Ticked or not.
    Checkbox,
}

impl FieldKind {
    /// Every kind.
    pub const ALL: [FieldKind; 6] = [
        FieldKind::Text,
        FieldKind::Number,
        FieldKind::Date,
        FieldKind::Choice,
        FieldKind::MultiChoice,
        FieldKind::Checkbox,
    ];

    /// The API's name.
    pub const fn as_str(self) -> &'static str {
        match self {
            FieldKind::Text => "text",
            FieldKind::Number => "number",
            FieldKind::Date => "date",
            FieldKind::Choice => "choice",
            FieldKind::MultiChoice => "multi_choice",
            FieldKind::Checkbox => "checkbox",
        }
    }

    /// Parses an API name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// True for the kinds a list sorts by (their values have an integer order).
    pub const fn sorts(self) -> bool {
        matches!(self, FieldKind::Number | FieldKind::Date | FieldKind::Checkbox)
    }

    /// True for the kinds with options.
    pub const fn has_options(self) -> bool {
        matches!(self, FieldKind::Choice | FieldKind::MultiChoice)
    }
}

/// A custom field's definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldDef {
    /// The key values are kept under (never changed once saved).
    pub key: FieldKey,
    /// The label people read (1–80 characters).
    pub label: String,
    /// What it holds (never changed once saved).
    pub kind: FieldKind,
    /// The options of a choice field, in the order they are offered (1–80 characters each,
    /// no repeats); empty for other kinds. Options may be added; one taken away stays valid
    /// on the tickets that carry it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
    /// A value is needed: from the requester when filing, if they set it; from staff before
    /// the ticket is resolved otherwise. A set value cannot be cleared.
    #[serde(default)]
    pub required: bool,
    /// The requester sets it when filing a ticket (staff edit it any time; requesters never
    /// edit a field after filing).
    #[serde(default)]
    pub requester_sets: bool,
    /// Staff's only: requesters never see it (nor its changes in the history) and never set
    /// it.
    #[serde(default)]
    pub internal: bool,
    /// No longer offered or accepted; the values already recorded stay, shown to staff.
    #[serde(default)]
    pub retired: bool,
}

impl FieldDef {
    /// The longest text value, in characters.
    pub const MAX_TEXT: usize = 500;
    /// The largest number (in absolute value) a number field takes.
    pub const MAX_NUMBER: f64 = 1e12;

    /// Reads a value for this field from client input, naming `name` in the error: `null`
    /// (or an empty string, or an empty list) clears it (`None`). Numbers come as numbers
    /// or numeric text, dates as `YYYY-MM-DD`, checkboxes as booleans or `true`/`false`/`on`,
    /// multiple choices as a list (or one string).
    pub fn parse_value(&self, name: &str, input: &serde_json::Value) -> Result<Option<FieldValue>, FieldError> {
        use serde_json::Value as J;
        let text = |v: &J| -> Option<String> {
            match v {
                J::String(s) => Some(s.trim().to_owned()),
                J::Number(n) => Some(n.to_string()),
                J::Bool(b) => Some(b.to_string()),
                _ => None,
            }
        };
        let invalid = |msg: String| FieldError::new(name, "invalid", msg);
        if input.is_null() || text(input).is_some_and(|s| s.is_empty()) {
            return Ok(None);
        }
        let value = match self.kind {
            FieldKind::Text => {
                let s = text(input).ok_or_else(|| invalid("text expected".into()))?;
                if s.chars().count() > Self::MAX_TEXT {
                    return Err(FieldError::new(name, "too_long", format!("{} characters at most", Self::MAX_TEXT)));
                }
                if s.chars().any(|c| c.is_control() && c != '\t') {
                    return Err(invalid("no control characters".into()));
                }
                FieldValue::Text(s)
            }
            FieldKind::Number => {
                let n = match input {
                    J::Number(n) => n.as_f64(),
                    J::String(s) => s.trim().parse::<f64>().ok(),
                    _ => None,
                };
                let n = n.ok_or_else(|| invalid("a number expected".into()))?;
                FieldValue::Number(FieldNumber::from_f64(n).ok_or_else(|| {
                    invalid(format!("a number below {:e} with at most four decimals", Self::MAX_NUMBER))
                })?)
            }
            FieldKind::Date => {
                let s = text(input).ok_or_else(|| invalid("a date (YYYY-MM-DD) expected".into()))?;
                let d = NaiveDate::parse_from_str(&s, "%Y-%m-%d")
                    .map_err(|_| invalid("a date (YYYY-MM-DD) expected".into()))?;
                FieldValue::Text(d.format("%Y-%m-%d").to_string())
            }
            FieldKind::Checkbox => match input {
                J::Bool(b) => FieldValue::Flag(*b),
                J::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                    "true" | "on" | "yes" | "1" => FieldValue::Flag(true),
                    "false" | "off" | "no" | "0" => FieldValue::Flag(false),
                    _ => return Err(invalid("true or false expected".into())),
                },
                _ => return Err(invalid("true or false expected".into())),
            },
            FieldKind::Choice => {
                let s = text(input).ok_or_else(|| invalid("one of the options expected".into()))?;
                FieldValue::Text(self.option(name, &s)?)
            }
            FieldKind::MultiChoice => {
                let items: Vec<String> = match input {
                    J::Array(a) => a
                        .iter()
                        .map(|v| text(v).ok_or_else(|| invalid("a list of options expected".into())))
                        .collect::<Result<_, _>>()?,
                    other => vec![text(other).ok_or_else(|| invalid("a list of options expected".into()))?],
                };
                let mut chosen = Vec::new();
                for s in items.iter().filter(|s| !s.is_empty()) {
                    chosen.push(self.option(name, s)?);
                }
                // Kept in the options' order, without repeats.
                chosen.sort_by_key(|c| self.options.iter().position(|o| o == c));
                chosen.dedup();
                if chosen.is_empty() {
                    return Ok(None);
                }
                FieldValue::List(chosen)
            }
        };
        Ok(Some(value))
    }

    /// The option `s` names (an option matches whatever its case).
    fn option(&self, name: &str, s: &str) -> Result<String, FieldError> {
        self.options
            .iter()
            .find(|o| o.eq_ignore_ascii_case(s.trim()))
            .cloned()
            .ok_or_else(|| FieldError::new(name, "invalid", format!("one of: {}", self.options.join(", "))))
    }

    /// True when `user_is_staff` may see this field's values.
    pub fn visible_to(&self, staff: bool) -> bool {
        staff || !self.internal
    }
}

/// Every custom field of the deployment, in the order forms and pages show them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldBook {
    /// The definitions, retired ones included.
    pub fields: Vec<FieldDef>,
}

impl FieldBook {
    /// The most definitions a deployment has (retired ones count).
    pub const MAX_FIELDS: usize = 100;
    /// The most options one choice field offers.
    pub const MAX_OPTIONS: usize = 100;

    /// The definition of `key`, retired or not.
    pub fn get(&self, key: &FieldKey) -> Option<&FieldDef> {
        self.fields.iter().find(|f| &f.key == key)
    }

    /// The definition `s` names, retired or not.
    pub fn get_str(&self, s: &str) -> Option<&FieldDef> {
        self.fields.iter().find(|f| f.key.as_str() == s)
    }

    /// The fields still in use.
    pub fn active(&self) -> impl Iterator<Item = &FieldDef> {
        self.fields.iter().filter(|f| !f.retired)
    }

    /// Checks a book an admin wants to save in place of `previous`, naming each bad field
    /// (`fields[2].options`): keys unique; labels 1–80 characters; options for choices only,
    /// unique; an internal field is not the requester's to set; and no definition of
    /// `previous` removed, nor its kind changed (retire it instead: its values stay).
    ///
    /// # Errors
    /// Every failure, gathered.
    pub fn check(&self, previous: &FieldBook) -> Result<(), ValidationErrors> {
        let mut errs = ValidationErrors::new();
        if self.fields.len() > Self::MAX_FIELDS {
            errs.push(FieldError::new("fields", "too_many", format!("{} fields at most", Self::MAX_FIELDS)));
        }
        for (i, f) in self.fields.iter().enumerate() {
            let at = |what: &str| format!("fields[{i}].{what}");
            if self.fields[..i].iter().any(|g| g.key == f.key) {
                errs.push(FieldError::new(at("key"), "taken", format!("another field has the key {}", f.key)));
            }
            let label = f.label.trim();
            if label.is_empty() || label.chars().count() > 80 || label.chars().any(char::is_control) {
                errs.push(FieldError::new(at("label"), "invalid", "1 to 80 characters"));
            }
            if f.kind.has_options() {
                if f.options.is_empty() || f.options.len() > Self::MAX_OPTIONS {
                    errs.push(FieldError::new(
                        at("options"),
                        "required",
                        format!("a choice field offers 1 to {} options", Self::MAX_OPTIONS),
                    ));
                }
                for (j, o) in f.options.iter().enumerate() {
                    let bad =
                        o.trim() != o || o.is_empty() || o.chars().count() > 80 || o.chars().any(char::is_control);
                    if bad {
                        errs.push(FieldError::new(
                            format!("fields[{i}].options[{j}]"),
                            "invalid",
                            "1 to 80 characters, no surrounding spaces",
                        ));
                    } else if f.options[..j].iter().any(|p| p.eq_ignore_ascii_case(o)) {
                        errs.push(FieldError::new(
                            format!("fields[{i}].options[{j}]"),
                            "taken",
                            "options differ by more than case",
                        ));
                    }
                }
            } else if !f.options.is_empty() {
                errs.push(FieldError::new(at("options"), "invalid", "only choice fields have options"));
            }
            if f.internal && f.requester_sets {
                errs.push(FieldError::new(
                    at("requester_sets"),
                    "invalid",
                    "requesters do not see an internal field, so they cannot set it",
                ));
            }
            if let Some(old) = previous.get(&f.key)
                && old.kind != f.kind
            {
                errs.push(FieldError::new(
                    at("kind"),
                    "fixed",
                    format!(
                        "{} was saved as {}; a field keeps its kind (retire it and add another)",
                        f.key,
                        old.kind.as_str()
                    ),
                ));
            }
        }
        for old in &previous.fields {
            if self.get(&old.key).is_none() {
                errs.push(FieldError::new(
                    "fields",
                    "removed",
                    format!("{} has values on tickets: retire it instead of removing it", old.key),
                ));
            }
        }
        if errs.is_empty() { Ok(()) } else { Err(errs) }
    }
}

/// A ticket's custom field values by key.
pub type FieldValues = BTreeMap<FieldKey, FieldValue>;

/// A custom field's value, as plain JSON: what it means comes from its [`FieldDef`]. Text,
/// choices and dates (`YYYY-MM-DD`) are strings, numbers numbers, checkboxes booleans,
/// multiple choices lists of strings.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FieldValue {
    /// A checkbox.
    Flag(bool),
    /// A number.
    Number(FieldNumber),
    /// Text, a choice or a date.
    Text(String),
    /// A multiple choice.
    List(Vec<String>),
}

impl FieldValue {
    /// The integer a list sorts by: a number in ten-thousandths, a date as days since
    /// 1970-01-01, a checkbox 0 or 1; `i64::MAX` for values that do not sort (text, choices).
    /// Stores compute the same from the stored JSON.
    pub fn sort_key(&self) -> i64 {
        match self {
            FieldValue::Flag(b) => i64::from(*b),
            FieldValue::Number(n) => n.0,
            FieldValue::Text(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .and_then(|d| NaiveDate::from_ymd_opt(1970, 1, 1).map(|e| (d - e).num_days()))
                .unwrap_or(i64::MAX),
            FieldValue::List(_) => i64::MAX,
        }
    }

    /// True when this value passes a filter for `wanted`: the same value, or for a multiple
    /// choice, every option wanted among the chosen ones.
    pub fn passes(&self, wanted: &FieldValue) -> bool {
        match (self, wanted) {
            (FieldValue::List(have), FieldValue::List(want)) => want.iter().all(|w| have.contains(w)),
            (FieldValue::List(have), FieldValue::Text(w)) => have.contains(w),
            (a, b) => a == b,
        }
    }

    /// The value as people read it (`Yes`/`No` for checkboxes, options joined by commas).
    pub fn display(&self) -> String {
        match self {
            FieldValue::Flag(true) => "Yes".into(),
            FieldValue::Flag(false) => "No".into(),
            FieldValue::Number(n) => n.to_string(),
            FieldValue::Text(s) => s.clone(),
            FieldValue::List(l) => l.join(", "),
        }
    }

    /// The value as a form field holds it (`true`/`false` for checkboxes).
    pub fn form_text(&self) -> String {
        match self {
            FieldValue::Flag(b) => b.to_string(),
            other => other.display(),
        }
    }

    /// True when `option` is one of the chosen ones (a choice or a multiple choice).
    pub fn has(&self, option: &str) -> bool {
        match self {
            FieldValue::Text(s) => s == option,
            FieldValue::List(l) => l.iter().any(|o| o == option),
            _ => false,
        }
    }
}

/// A number field's value: a decimal with at most four decimals, below
/// [`FieldDef::MAX_NUMBER`], kept exactly in ten-thousandths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FieldNumber(i64);

impl FieldNumber {
    const SCALE: f64 = 10_000.0;

    /// The number, when it is finite, below the limit and has at most four decimals.
    pub fn from_f64(n: f64) -> Option<Self> {
        if !n.is_finite() || n.abs() >= FieldDef::MAX_NUMBER {
            return None;
        }
        let scaled = (n * Self::SCALE).round();
        if ((scaled / Self::SCALE) - n).abs() > 1e-9 * n.abs().max(1.0) {
            return None;
        }
        // In range: |scaled| < 1e16 < i64::MAX.
        Some(Self(scaled as i64))
    }

    /// In ten-thousandths (the sort key).
    pub const fn scaled(self) -> i64 {
        self.0
    }

    /// As a float.
    pub fn as_f64(self) -> f64 {
        self.0 as f64 / Self::SCALE
    }
}

impl fmt::Display for FieldNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let (whole, frac) = (abs / 10_000, abs % 10_000);
        if frac == 0 {
            write!(f, "{sign}{whole}")
        } else {
            let frac = format!("{frac:04}");
            write!(f, "{sign}{whole}.{}", frac.trim_end_matches('0'))
        }
    }
}

impl Serialize for FieldNumber {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0 % 10_000 == 0 { s.serialize_i64(self.0 / 10_000) } else { s.serialize_f64(self.as_f64()) }
    }
}

impl<'de> Deserialize<'de> for FieldNumber {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = FieldNumber;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number with at most four decimals")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<FieldNumber, E> {
                FieldNumber::from_f64(v as f64).ok_or_else(|| E::custom("number out of range"))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<FieldNumber, E> {
                FieldNumber::from_f64(v as f64).ok_or_else(|| E::custom("number out of range"))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<FieldNumber, E> {
                FieldNumber::from_f64(v).ok_or_else(|| E::custom("number out of range"))
            }
        }
        d.deserialize_any(V)
    }
}

/// A filter on one custom field: tickets whose value passes [`FieldValue::passes`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FieldFilter {
    /// The field.
    pub key: FieldKey,
    /// The value wanted (for a multiple choice, the options that must all be chosen).
    pub value: FieldValue,
}

impl FieldFilter {
    /// The JSON a ticket's values contain when they pass (PostgreSQL's `@>`): for a multiple
    /// choice, the wanted options as a list.
    pub fn containment(&self) -> serde_json::Value {
        let mut m = serde_json::Map::new();
        m.insert(self.key.as_str().to_owned(), serde_json::to_value(&self.value).unwrap_or_default());
        serde_json::Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn def(kind: FieldKind, options: &[&str]) -> FieldDef {
        FieldDef {
            key: FieldKey::parse_field("key", "f").unwrap(),
            label: "F".into(),
            kind,
            options: options.iter().map(|s| s.to_string()).collect(),
            required: false,
            requester_sets: false,
            internal: false,
            retired: false,
        }
    }

    #[test]
    fn values_parse_by_kind_and_name_the_field() {
        let n = def(FieldKind::Number, &[]);
        assert_eq!(n.parse_value("fields.f", &json!("12.50")).unwrap().unwrap().display(), "12.5");
        assert_eq!(n.parse_value("fields.f", &json!(3)).unwrap().unwrap(), FieldValue::Number(FieldNumber(30_000)));
        assert_eq!(n.parse_value("fields.f", &json!("1.23456")).unwrap_err().field, "fields.f");
        assert!(n.parse_value("fields.f", &json!(1e13)).is_err());
        assert_eq!(n.parse_value("fields.f", &json!(null)).unwrap(), None);
        let d = def(FieldKind::Date, &[]);
        assert_eq!(d.parse_value("x", &json!("2026-12-24")).unwrap().unwrap().sort_key(), 20_811);
        assert!(d.parse_value("x", &json!("24/12/2026")).is_err());
        let c = def(FieldKind::Choice, &["Berlin", "Lisbon"]);
        assert_eq!(c.parse_value("x", &json!("lisbon")).unwrap(), Some(FieldValue::Text("Lisbon".into())));
        assert!(c.parse_value("x", &json!("Paris")).is_err());
        let m = def(FieldKind::MultiChoice, &["a", "b", "c"]);
        assert_eq!(
            m.parse_value("x", &json!(["c", "a", "c"])).unwrap(),
            Some(FieldValue::List(vec!["a".into(), "c".into()]))
        );
        assert_eq!(m.parse_value("x", &json!([])).unwrap(), None);
        let b = def(FieldKind::Checkbox, &[]);
        assert_eq!(b.parse_value("x", &json!("on")).unwrap(), Some(FieldValue::Flag(true)));
        let t = def(FieldKind::Text, &[]);
        assert!(t.parse_value("x", &json!("a".repeat(501))).is_err());
        assert_eq!(t.parse_value("x", &json!("  ")).unwrap(), None);
    }

    #[test]
    fn values_are_plain_json_and_read_back() {
        let vals: FieldValues = [
            (FieldKey::parse_field("k", "a").unwrap(), FieldValue::Flag(true)),
            (FieldKey::parse_field("k", "b").unwrap(), FieldValue::Number(FieldNumber(125_000))),
            (FieldKey::parse_field("k", "c").unwrap(), FieldValue::Number(FieldNumber(-5))),
            (FieldKey::parse_field("k", "d").unwrap(), FieldValue::Text("x".into())),
            (FieldKey::parse_field("k", "e").unwrap(), FieldValue::List(vec!["y".into()])),
        ]
        .into();
        let j = serde_json::to_value(&vals).unwrap();
        assert_eq!(j, json!({"a": true, "b": 12.5, "c": -0.0005, "d": "x", "e": ["y"]}));
        assert_eq!(serde_json::from_value::<FieldValues>(j).unwrap(), vals);
        assert_eq!(FieldNumber(-5).to_string(), "-0.0005");
        assert_eq!(FieldNumber(30_000).to_string(), "3");
    }

    #[test]
    fn a_book_keeps_keys_and_kinds_and_retires_instead_of_removing() {
        let mut f = def(FieldKind::Choice, &["a"]);
        let old = FieldBook { fields: vec![f.clone()] };
        assert!(old.check(&FieldBook::default()).is_ok());
        f.kind = FieldKind::Text;
        f.options.clear();
        let errs = FieldBook { fields: vec![f.clone()] }.check(&old).unwrap_err();
        assert_eq!(errs.0[0].field, "fields[0].kind");
        let errs = FieldBook::default().check(&old).unwrap_err();
        assert_eq!(errs.0[0].code, "removed");
        let mut g = def(FieldKind::Text, &[]);
        g.internal = true;
        g.requester_sets = true;
        let errs = FieldBook { fields: vec![g.clone(), g] }.check(&FieldBook::default()).unwrap_err();
        let named: Vec<_> = errs.0.iter().map(|e| e.field.as_str()).collect();
        assert!(named.contains(&"fields[1].key") && named.contains(&"fields[0].requester_sets"), "{named:?}");
    }

    #[test]
    fn filters_match_values_and_contain_as_postgres_does() {
        let have = FieldValue::List(vec!["a".into(), "b".into()]);
        assert!(have.passes(&FieldValue::Text("a".into())));
        assert!(have.passes(&FieldValue::List(vec!["b".into()])));
        assert!(!have.passes(&FieldValue::Text("c".into())));
        let f = FieldFilter {
            key: FieldKey::parse_field("k", "cost").unwrap(),
            value: FieldValue::Number(FieldNumber(10_000)),
        };
        assert_eq!(f.containment(), json!({"cost": 1}));
    }
}
