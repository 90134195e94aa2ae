//! Human-friendly ticket numbers (`TX0042`): a prefix and a sequence number from the store.

use std::fmt;

use crate::FieldError;

/// How ticket numbers are written in this deployment.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TicketNumberFormat {
    /// 1–8 upper-case ASCII letters.
    pub prefix: String,
    /// The number is zero-padded to at least this many digits (never truncated).
    pub min_digits: usize,
}

impl Default for TicketNumberFormat {
    fn default() -> Self {
        Self { prefix: "TX".to_owned(), min_digits: 4 }
    }
}

/// A ticket number: unique, never reused, allocated by the store's counter.
#[derive(Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TicketNumber {
    seq: u64,
    text: String,
}

impl TicketNumber {
    /// The number for sequence value `seq` (≥ 1) in `format`.
    pub fn new(format: &TicketNumberFormat, seq: u64) -> Self {
        Self { seq, text: format!("{}{:0width$}", format.prefix, seq, width = format.min_digits) }
    }

    /// Parses `TX0042` (any 1–8 letter prefix, case-insensitive, then 1–18 digits).
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let bad = || FieldError::new("number", "invalid", "a ticket number such as TX0042");
        let s = input.trim().to_ascii_uppercase();
        let split = s.find(|c: char| c.is_ascii_digit()).ok_or_else(bad)?;
        let (prefix, digits) = s.split_at(split);
        if prefix.is_empty() || prefix.len() > 8 || !prefix.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(bad());
        }
        if digits.is_empty() || digits.len() > 18 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let seq: u64 = digits.parse().map_err(|_| bad())?;
        if seq == 0 {
            return Err(bad());
        }
        Ok(Self { seq, text: s })
    }

    /// The sequence value (sortable).
    pub fn seq(&self) -> u64 {
        self.seq
    }
    /// The written form.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl TryFrom<String> for TicketNumber {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        TicketNumber::parse(&s).map_err(|e| e.message)
    }
}
impl From<TicketNumber> for String {
    fn from(n: TicketNumber) -> String {
        n.text
    }
}
impl fmt::Display for TicketNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}
impl fmt::Debug for TicketNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TicketNumber({})", self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn formats_and_parses() {
        let f = TicketNumberFormat::default();
        assert_eq!(TicketNumber::new(&f, 42).as_str(), "TX0042");
        assert_eq!(TicketNumber::new(&f, 123_456).as_str(), "TX123456");
        assert_eq!(TicketNumber::parse("tx0042").unwrap().seq(), 42);
        for bad in ["", "0042", "TX", "TX-1", "TX0", "T1X2", "ABCDEFGHI1"] {
            assert!(TicketNumber::parse(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn round_trips(seq in 1u64..1_000_000_000_000, digits in 1usize..8, prefix in "[A-Z]{1,8}") {
            let f = TicketNumberFormat { prefix, min_digits: digits };
            let n = TicketNumber::new(&f, seq);
            let p = TicketNumber::parse(n.as_str()).unwrap();
            prop_assert_eq!(p.seq(), seq);
            prop_assert_eq!(p, n);
        }
    }
}
