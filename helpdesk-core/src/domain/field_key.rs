//! The key of a custom field: the name the API, the stores and the CSV export use for it
//! (`asset_tag`, `cost_centre`), chosen by the admin when the field is defined and never
//! changed after (the values recorded under it keep it).
//!
//! Keys are short ASCII, so a key is kept inline and is `Copy`: a sort by a custom field is
//! a value like any other sort, and the list index compares keys without allocating.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::FieldError;

/// A custom field's key: 1–32 characters, lower-case ASCII letters, digits and `_`, starting
/// with a letter.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FieldKey {
    len: u8,
    bytes: [u8; FieldKey::MAX_LEN],
}

impl FieldKey {
    /// The longest key.
    pub const MAX_LEN: usize = 32;

    /// Parses a key, naming `field` in the error.
    pub fn parse_field(field: &str, input: &str) -> Result<Self, FieldError> {
        let s = input.trim();
        let ok = !s.is_empty()
            && s.len() <= Self::MAX_LEN
            && s.as_bytes()[0].is_ascii_lowercase()
            && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !ok {
            return Err(FieldError::new(
                field,
                "invalid",
                format!(
                    "a field key is 1 to {} lower-case letters, digits and underscores, starting with a letter",
                    Self::MAX_LEN
                ),
            ));
        }
        let mut bytes = [0u8; Self::MAX_LEN];
        bytes[..s.len()].copy_from_slice(s.as_bytes());
        Ok(Self { len: s.len() as u8, bytes })
    }

    /// The key.
    pub fn as_str(&self) -> &str {
        // Only ASCII is ever stored.
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }
}

impl fmt::Display for FieldKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for FieldKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FieldKey({})", self.as_str())
    }
}

impl std::str::FromStr for FieldKey {
    type Err = FieldError;
    fn from_str(s: &str) -> Result<Self, FieldError> {
        Self::parse_field("key", s)
    }
}

impl Serialize for FieldKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for FieldKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse_field("key", &s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::FieldKey;

    #[test]
    fn keys_are_short_lower_case_slugs() {
        assert_eq!(FieldKey::parse_field("key", " asset_tag ").unwrap().as_str(), "asset_tag");
        for bad in ["", "Asset", "1st", "asset-tag", "a".repeat(33).as_str(), "é"] {
            assert!(FieldKey::parse_field("key", bad).is_err(), "{bad:?}");
        }
        let k = FieldKey::parse_field("key", "cost_centre").unwrap();
        assert_eq!(serde_json::to_string(&k).unwrap(), "\"cost_centre\"");
        assert_eq!(serde_json::from_str::<FieldKey>("\"cost_centre\"").unwrap(), k);
        assert!(serde_json::from_str::<FieldKey>("\"Cost\"").is_err());
    }
}
