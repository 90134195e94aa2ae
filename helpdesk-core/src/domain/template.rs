//! Comment templates with placeholders (`Hello {{requester.first_name}}, …`), as macros write
//! them.
//!
//! A template is checked when it is saved (an unknown or unclosed placeholder is a field error
//! that lists the known ones) and filled in one pass when it is applied: a value is inserted as
//! plain text and never read again as a template, so a subject that contains `{{ticket.number}}`
//! stays as written. Pages escape comments like any other text, mails are plain text: nothing a
//! requester typed into their name or subject can become markup or a placeholder.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::FieldError;

/// What a placeholder stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placeholder {
    /// The requester's first name.
    RequesterFirstName,
    /// The requester's full name.
    RequesterName,
    /// The ticket's number (`TX0042`).
    TicketNumber,
    /// The ticket's subject.
    TicketSubject,
    /// The first name of the staff member applying the macro.
    AgentFirstName,
    /// The full name of the staff member applying the macro.
    AgentName,
}

impl Placeholder {
    /// Every placeholder, in the order help texts list them.
    pub const ALL: &'static [Placeholder] = &[
        Placeholder::RequesterFirstName,
        Placeholder::RequesterName,
        Placeholder::TicketNumber,
        Placeholder::TicketSubject,
        Placeholder::AgentFirstName,
        Placeholder::AgentName,
    ];

    /// The name written between the braces.
    pub const fn name(self) -> &'static str {
        match self {
            Placeholder::RequesterFirstName => "requester.first_name",
            Placeholder::RequesterName => "requester.name",
            Placeholder::TicketNumber => "ticket.number",
            Placeholder::TicketSubject => "ticket.subject",
            Placeholder::AgentFirstName => "agent.first_name",
            Placeholder::AgentName => "agent.name",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|p| p.name() == name)
    }
}

/// One piece of a checked template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece<'a> {
    Text(&'a str),
    Value(Placeholder),
}

/// A checked template (the text as written; [`render`](Self::render) fills it).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Template(String);

fn known() -> String {
    Placeholder::ALL.iter().map(|p| format!("{{{{{}}}}}", p.name())).collect::<Vec<_>>().join(", ")
}

fn pieces(s: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(open) = rest.find("{{") {
        if open > 0 {
            out.push(Piece::Text(&rest[..open]));
        }
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else {
            return Err(format!("a placeholder is not closed with }}}}; known placeholders: {}", known()));
        };
        let name = after[..close].trim();
        let p = Placeholder::parse(name)
            .ok_or_else(|| format!("unknown placeholder {{{{{name}}}}}; known placeholders: {}", known()))?;
        out.push(Piece::Value(p));
        rest = &after[close + 2..];
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest));
    }
    Ok(out)
}

impl Template {
    /// Checks `input` (trimmed, not empty, at most `max` characters) for `field`.
    pub fn parse_field(field: &str, input: &str, max: usize) -> Result<Self, FieldError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(FieldError::new(field, "required", "may not be empty"));
        }
        if s.chars().count() > max {
            return Err(FieldError::new(field, "too_long", format!("at most {max} characters")));
        }
        if s.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\t' | '\r')) {
            return Err(FieldError::new(field, "invalid", "contains control characters"));
        }
        pieces(s).map_err(|m| FieldError::new(field, "placeholder", m))?;
        Ok(Self(s.to_owned()))
    }

    /// The template as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Fills the placeholders with `value`'s answers, in one pass.
    pub fn render(&self, value: impl Fn(Placeholder) -> String) -> String {
        match pieces(&self.0) {
            Ok(pieces) => pieces
                .into_iter()
                .map(|p| match p {
                    Piece::Text(t) => t.to_owned(),
                    Piece::Value(p) => value(p),
                })
                .collect(),
            // Checked when built; a stored template that no longer checks is shown as written.
            Err(_) => self.0.clone(),
        }
    }
}

impl TryFrom<String> for Template {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        pieces(&s).map_err(|e| e.to_string())?;
        Ok(Self(s))
    }
}

impl From<Template> for String {
    fn from(t: Template) -> String {
        t.0
    }
}

impl fmt::Debug for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Template({:?})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fill(p: Placeholder) -> String {
        match p {
            Placeholder::RequesterFirstName => "Ana".into(),
            Placeholder::TicketSubject => "about {{ticket.number}} <b>".into(),
            Placeholder::TicketNumber => "TX0042".into(),
            _ => "x".into(),
        }
    }

    #[test]
    fn placeholders_are_filled_once_and_values_stay_text() {
        let t =
            Template::parse_field("body", "Hi {{ requester.first_name }}, {{ticket.subject}} ({{ticket.number}})", 100)
                .unwrap();
        assert_eq!(t.render(fill), "Hi Ana, about {{ticket.number}} <b> (TX0042)");
    }

    #[test]
    fn unknown_and_unclosed_placeholders_name_the_field() {
        let e = Template::parse_field("comment", "Hi {{requester.email}}", 100).unwrap_err();
        assert_eq!((e.field.as_str(), e.code.as_str()), ("comment", "placeholder"));
        assert!(e.message.contains("{{requester.first_name}}"), "{}", e.message);
        let e = Template::parse_field("comment", "Hi {{ticket.number", 100).unwrap_err();
        assert_eq!(e.code, "placeholder");
        assert_eq!(Template::parse_field("comment", "  ", 100).unwrap_err().code, "required");
        assert_eq!(Template::parse_field("comment", "abc", 2).unwrap_err().code, "too_long");
    }

    #[test]
    fn text_without_placeholders_is_kept() {
        let t = Template::parse_field("c", "a } b { c", 100).unwrap();
        assert_eq!(t.render(fill), "a } b { c");
    }
}
