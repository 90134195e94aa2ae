//! Bounded free text: subjects, descriptions, notes and comment bodies.

use std::fmt;

use crate::FieldError;

macro_rules! bounded_text {
    ($(#[$m:meta])* $name:ident, $field:literal, $max:expr) => {
        $(#[$m])*
        #[derive(Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// The longest accepted value, in characters.
            pub const MAX_CHARS: usize = $max;

            /// Parses for the default field name.
            pub fn parse(input: &str) -> Result<Self, FieldError> {
                Self::parse_field($field, input)
            }

            /// Parses, naming `field` in the error: trimmed, not empty, at most
            /// [`Self::MAX_CHARS`], no control characters except newlines and tabs.
            pub fn parse_field(field: &str, input: &str) -> Result<Self, FieldError> {
                let s = input.trim();
                if s.is_empty() {
                    return Err(FieldError::new(field, "required", "may not be empty"));
                }
                if s.chars().count() > $max {
                    return Err(FieldError::new(field, "too_long", format!("at most {} characters", $max)));
                }
                if s.chars().any(|c| (c.is_control() && c != '\n' && c != '\t' && c != '\r')) {
                    return Err(FieldError::new(field, "invalid", "contains control characters"));
                }
                Ok(Self(s.to_owned()))
            }

            /// The text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                Self::parse(&s).map_err(|e| e.message)
            }
        }
        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({:?})"), self.0)
            }
        }
    };
}

bounded_text!(/// A ticket's subject line.
    Subject, "subject", 200);
bounded_text!(/// A ticket's description.
    Description, "description", 10_000);
bounded_text!(/// A reason or note attached to an action (rejection reason, resolution note, …).
    Note, "note", 5_000);
bounded_text!(/// The body of a comment.
    CommentBody, "body", 10_000);
bounded_text!(/// A macro's name, as staff pick it from a list.
    MacroName, "name", 80);
bounded_text!(/// A saved view's name, as the queue lists it.
    ViewName, "name", 80);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn bounds() {
        assert!(Subject::parse("Printer on fire").is_ok());
        assert_eq!(Subject::parse("  ").unwrap_err().code, "required");
        assert_eq!(Subject::parse(&"x".repeat(201)).unwrap_err().code, "too_long");
        assert!(Description::parse("line one\nline two").is_ok());
        assert!(Description::parse("nul\0byte").is_err());
        assert_eq!(Note::parse_field("reason", "").unwrap_err().field, "reason");
    }

    proptest! {
        #[test]
        fn parsed_subjects_respect_bounds(s in "\\PC{0,250}") {
            if let Ok(v) = Subject::parse(&s) {
                prop_assert!(!v.as_str().is_empty());
                prop_assert!(v.as_str().chars().count() <= Subject::MAX_CHARS);
                prop_assert_eq!(Subject::parse(v.as_str()).unwrap(), v);
            }
        }
    }
}
