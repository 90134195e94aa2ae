//! Company (employee) ids: a configurable prefix and digit count, `MA0001` by default.

use std::fmt;

use crate::FieldError;

/// How company ids look in this deployment.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CompanyIdFormat {
    /// Upper-case ASCII letters before the digits.
    pub prefix: String,
    /// Exact number of digits.
    pub digits: usize,
}

impl Default for CompanyIdFormat {
    fn default() -> Self {
        Self { prefix: "MA".to_owned(), digits: 4 }
    }
}

/// A company id, unique among users.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct CompanyId(String);

impl CompanyId {
    /// Parses a typed id against the deployment's format (case-insensitive prefix).
    pub fn parse(input: &str, format: &CompanyIdFormat) -> Result<Self, FieldError> {
        let s = input.trim().to_ascii_uppercase();
        let msg = || {
            FieldError::new(
                "company_id",
                "invalid",
                format!("expected {} followed by {} digits", format.prefix, format.digits),
            )
        };
        let digits = s.strip_prefix(format.prefix.as_str()).ok_or_else(msg)?;
        if digits.len() != format.digits || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(msg());
        }
        Ok(Self(s))
    }

    /// The id with number `n` in this format (for admin-created users left without one).
    pub fn from_number(n: u64, format: &CompanyIdFormat) -> Result<Self, FieldError> {
        let s = format!("{}{:0width$}", format.prefix, n, width = format.digits);
        Self::parse(&s, format)
    }

    /// An id kept from an imported system that does not match today's format: 1–32 ASCII
    /// letters and digits, upper-cased.
    pub fn legacy(input: &str) -> Result<Self, FieldError> {
        let s = input.trim().to_ascii_uppercase();
        if s.is_empty() || s.len() > 32 || !s.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(FieldError::new("company_id", "invalid", "1 to 32 letters and digits"));
        }
        Ok(Self(s))
    }

    /// The number part, when the id has this format.
    pub fn number(&self, format: &CompanyIdFormat) -> Option<u64> {
        self.0.strip_prefix(format.prefix.as_str()).and_then(|d| d.parse().ok())
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CompanyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl fmt::Debug for CompanyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CompanyId({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn default_format() {
        let f = CompanyIdFormat::default();
        assert_eq!(CompanyId::parse("ma0001", &f).unwrap().as_str(), "MA0001");
        assert!(CompanyId::parse("MA001", &f).is_err());
        assert!(CompanyId::parse("ZZ9", &f).is_err());
        assert_eq!(CompanyId::from_number(7, &f).unwrap().as_str(), "MA0007");
        assert!(CompanyId::from_number(10_000, &f).is_err());
        assert_eq!(CompanyId::legacy("zz9").unwrap().as_str(), "ZZ9");
    }

    proptest! {
        #[test]
        fn numbers_round_trip(n in 0u64..10_000) {
            let f = CompanyIdFormat::default();
            let id = CompanyId::from_number(n, &f).unwrap();
            prop_assert_eq!(id.number(&f), Some(n));
            prop_assert_eq!(CompanyId::parse(id.as_str(), &f).unwrap(), id);
        }
    }
}
