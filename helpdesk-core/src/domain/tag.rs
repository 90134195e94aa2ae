//! Ticket tags: free-form labels staff put on tickets to group them (`printer-3rd-floor`,
//! `vip`, `q4-refresh`), filtered by and counted in reports.
//!
//! People type tags in many shapes (`VIP`, ` vip `, `Printer  3rd floor`), so a tag is
//! normalised once, when it is parsed: trimmed, lower-cased, runs of whitespace turned into a
//! single `-`. Two spellings that normalise alike are one tag. A comma separates tags in forms
//! and in the CSV export, so it cannot be part of one; control characters cannot either.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::FieldError;

/// A normalised tag: 1–50 characters, lower case, no whitespace, commas or control characters.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Tag(String);

impl Tag {
    /// The longest tag, in characters.
    pub const MAX_CHARS: usize = 50;
    /// The most tags a ticket carries.
    pub const MAX_PER_TICKET: usize = 20;

    /// Parses and normalises a tag, naming `field` in the error. The length is counted as
    /// typed (whitespace runs counting one): lower-casing lengthens a few letters (`İ`), and
    /// what a person may type should not depend on that.
    pub fn parse_field(field: &str, input: &str) -> Result<Self, FieldError> {
        let s = input.split_whitespace().collect::<Vec<_>>().join("-");
        if s.is_empty() {
            return Err(FieldError::new(field, "required", "a tag may not be empty"));
        }
        if s.chars().count() > Self::MAX_CHARS {
            return Err(FieldError::new(
                field,
                "too_long",
                format!("a tag has {} characters at most", Self::MAX_CHARS),
            ));
        }
        if s.chars().any(|c| c == ',' || c.is_control()) {
            return Err(FieldError::new(field, "invalid", "a tag may not contain commas or control characters"));
        }
        Ok(Self(s.to_lowercase()))
    }

    /// Parses a ticket's tags: each normalised, repeats dropped, sorted; at most
    /// [`Tag::MAX_PER_TICKET`]. Errors name `field`.
    pub fn parse_set<S: AsRef<str>>(field: &str, inputs: &[S]) -> Result<Vec<Tag>, FieldError> {
        let mut tags = inputs.iter().map(|s| Self::parse_field(field, s.as_ref())).collect::<Result<Vec<_>, _>>()?;
        tags.sort();
        tags.dedup();
        if tags.len() > Self::MAX_PER_TICKET {
            return Err(FieldError::new(
                field,
                "too_many",
                format!("a ticket has {} tags at most", Self::MAX_PER_TICKET),
            ));
        }
        Ok(tags)
    }

    /// Splits comma-separated input (a form field, a query parameter) into tags, normalised,
    /// without repeats, empty pieces ignored.
    pub fn parse_list(field: &str, input: &str) -> Result<Vec<Tag>, FieldError> {
        let mut tags = input
            .split(',')
            .filter(|s| !s.trim().is_empty())
            .map(|s| Self::parse_field(field, s))
            .collect::<Result<Vec<_>, _>>()?;
        tags.sort();
        tags.dedup();
        Ok(tags)
    }

    /// The tag.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Tags joined with `, ` (history entries, the CSV export).
    pub fn join(tags: &[Tag]) -> String {
        tags.iter().map(Tag::as_str).collect::<Vec<_>>().join(", ")
    }
}

impl TryFrom<String> for Tag {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse_field("tag", &s).map_err(|e| e.message)
    }
}

impl From<Tag> for String {
    fn from(t: Tag) -> String {
        t.0
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tag({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::Tag;

    #[test]
    fn tags_are_normalised() {
        assert_eq!(Tag::parse_field("tags", "  Printer \t 3rd  Floor ").unwrap().as_str(), "printer-3rd-floor");
        assert_eq!(Tag::parse_field("tags", "VIP").unwrap(), Tag::parse_field("tags", "vip").unwrap());
        assert_eq!(Tag::parse_field("tags", "Ärger").unwrap().as_str(), "ärger");
    }

    #[test]
    fn bad_tags_name_the_field() {
        for (input, code) in [("  ", "required"), ("a,b", "invalid"), ("a\u{7}", "invalid")] {
            let e = Tag::parse_field("tags", input).unwrap_err();
            assert_eq!((e.field.as_str(), e.code.as_str()), ("tags", code), "{input:?}");
        }
        assert_eq!(Tag::parse_field("tags", &"x".repeat(51)).unwrap_err().code, "too_long");
        assert!(Tag::parse_field("tags", &"é".repeat(50)).is_ok());
        assert!(Tag::parse_field("tags", &"İ".repeat(50)).is_ok(), "counted as typed");
    }

    #[test]
    fn sets_are_sorted_without_repeats_and_bounded() {
        let set = Tag::parse_set("tags", &["b", "A", "a", " B "]).unwrap();
        assert_eq!(Tag::join(&set), "a, b");
        let many: Vec<String> = (0..21).map(|i| format!("t{i}")).collect();
        assert_eq!(Tag::parse_set("tags", &many).unwrap_err().code, "too_many");
        assert_eq!(Tag::join(&Tag::parse_list("tag", "vip, ,Printer,vip").unwrap()), "printer, vip");
    }
}
