//! People's names and suffixes.

use std::fmt;

use crate::FieldError;

/// A first, middle or last name: trimmed, 1–100 characters, no control characters.
#[derive(Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PersonName(String);

impl PersonName {
    /// Parses a name for the given field (`first_name`, `last_name`, `middle_name`).
    pub fn parse(field: &str, input: &str) -> Result<Self, FieldError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(FieldError::new(field, "required", "may not be empty"));
        }
        if s.chars().count() > 100 {
            return Err(FieldError::new(field, "too_long", "at most 100 characters"));
        }
        if s.chars().any(|c| c.is_control() || is_bidi_control(c)) {
            return Err(FieldError::new(field, "invalid", "contains control characters"));
        }
        Ok(Self(s.to_owned()))
    }
    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Unicode bidirectional controls (the right-to-left override trick among them).
pub(crate) fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

impl TryFrom<String> for PersonName {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        PersonName::parse("name", &s).map_err(|e| e.message)
    }
}
impl From<PersonName> for String {
    fn from(n: PersonName) -> String {
        n.0
    }
}
impl fmt::Display for PersonName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl fmt::Debug for PersonName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PersonName({:?})", self.0)
    }
}

/// Name suffixes the original system offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Suffix {
    /// Junior.
    #[serde(rename = "Jr.")]
    Jr,
    /// Senior.
    #[serde(rename = "Sr.")]
    Sr,
    /// II
    II,
    /// III
    III,
    /// IV
    IV,
    /// V
    V,
    /// VI
    VI,
    /// VII
    VII,
    /// VIII
    VIII,
    /// IX
    IX,
    /// X
    X,
}

impl Suffix {
    /// Every suffix.
    pub const ALL: &'static [Suffix] = &[
        Suffix::Jr,
        Suffix::Sr,
        Suffix::II,
        Suffix::III,
        Suffix::IV,
        Suffix::V,
        Suffix::VI,
        Suffix::VII,
        Suffix::VIII,
        Suffix::IX,
        Suffix::X,
    ];
    /// The displayed form.
    pub const fn as_str(self) -> &'static str {
        match self {
            Suffix::Jr => "Jr.",
            Suffix::Sr => "Sr.",
            Suffix::II => "II",
            Suffix::III => "III",
            Suffix::IV => "IV",
            Suffix::V => "V",
            Suffix::VI => "VI",
            Suffix::VII => "VII",
            Suffix::VIII => "VIII",
            Suffix::IX => "IX",
            Suffix::X => "X",
        }
    }
    /// Parses `Jr`, `Jr.`, `jr.`, `III`, … (empty means none).
    pub fn parse(input: &str) -> Result<Option<Self>, FieldError> {
        let s = input.trim().trim_end_matches('.');
        if s.is_empty() {
            return Ok(None);
        }
        Suffix::ALL
            .iter()
            .copied()
            .find(|x| x.as_str().trim_end_matches('.').eq_ignore_ascii_case(s))
            .map(Some)
            .ok_or_else(|| FieldError::new("suffix", "invalid", "one of Jr., Sr., II … X"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names() {
        assert_eq!(PersonName::parse("first_name", "  Ana ").unwrap().as_str(), "Ana");
        assert_eq!(PersonName::parse("first_name", " ").unwrap_err().field, "first_name");
        assert!(PersonName::parse("last_name", "a\u{202E}b").is_err());
        assert!(PersonName::parse("last_name", &"x".repeat(101)).is_err());
    }

    #[test]
    fn suffixes() {
        assert_eq!(Suffix::parse("jr").unwrap(), Some(Suffix::Jr));
        assert_eq!(Suffix::parse("III").unwrap(), Some(Suffix::III));
        assert_eq!(Suffix::parse("").unwrap(), None);
        assert!(Suffix::parse("XI").is_err());
    }

    proptest! {
        #[test]
        fn parsed_names_are_trimmed_and_bounded(s in "\\PC{0,120}") {
            if let Ok(n) = PersonName::parse("n", &s) {
                prop_assert_eq!(n.as_str(), n.as_str().trim());
                prop_assert!(!n.as_str().is_empty());
                prop_assert!(n.as_str().chars().count() <= 100);
            }
        }
    }
}
