//! Email addresses, compared case-insensitively by storing them lower-cased.

use std::fmt;

use crate::FieldError;

/// A syntactically valid address (a practical subset of RFC 5321), lower-cased so that
/// uniqueness is case-insensitive everywhere, stores included.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct Email(String);

const LOCAL_SPECIALS: &str = "!#$%&'*+-/=?^_`{|}~.";

impl Email {
    /// Parses and normalises (trim, lower-case).
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let bad = |msg: &str| FieldError::new("email", "invalid", msg);
        let s = input.trim().to_lowercase();
        if s.is_empty() {
            return Err(FieldError::new("email", "required", "an email address is required"));
        }
        if s.len() > 254 {
            return Err(FieldError::new("email", "too_long", "at most 254 characters"));
        }
        let Some((local, domain)) = s.rsplit_once('@') else {
            return Err(bad("an email address needs an @"));
        };
        if local.is_empty() || local.len() > 64 {
            return Err(bad("the part before @ must have 1 to 64 characters"));
        }
        if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
            return Err(bad("dots may not start, end or repeat in the part before @"));
        }
        if !local.chars().all(|c| c.is_ascii_alphanumeric() || LOCAL_SPECIALS.contains(c)) {
            return Err(bad("the part before @ has a character that is not allowed"));
        }
        if domain.is_empty() || domain.len() > 253 {
            return Err(bad("the domain is missing or too long"));
        }
        for label in domain.split('.') {
            let ok = !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
            if !ok {
                return Err(bad("the domain is not a valid host name"));
            }
        }
        Ok(Self(s))
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The address with the local part masked, for logs (`j***@example.com`).
    pub fn masked(&self) -> String {
        match self.0.split_once('@') {
            Some((local, domain)) => {
                let first: String = local.chars().take(1).collect();
                format!("{first}***@{domain}")
            }
            None => "***".to_owned(),
        }
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Email({})", self.masked())
    }
}

impl<'de> serde::Deserialize<'de> for Email {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Email::parse(&s).map_err(|e| serde::de::Error::custom(e.message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_and_normalises() {
        assert_eq!(Email::parse("  Hector.Aquino@Example.com ").unwrap().as_str(), "hector.aquino@example.com");
        assert!(Email::parse("admin@localhost").is_ok());
        assert!(Email::parse("a+tag@sub.example.co").is_ok());
    }

    #[test]
    fn refuses_bad_addresses() {
        for bad in [
            "",
            "plain",
            "@example.com",
            "a@",
            "a..b@x.com",
            ".a@x.com",
            "a@-x.com",
            "a@x..com",
            "a b@x.com",
            "a@x_y.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} should fail");
        }
        assert_eq!(Email::parse("x").unwrap_err().field, "email");
    }

    #[test]
    fn masks_in_debug() {
        let e = Email::parse("secret.person@example.com").unwrap();
        assert!(!format!("{e:?}").contains("secret"));
    }

    proptest! {
        #[test]
        fn parse_is_idempotent(local in "[a-zA-Z0-9]{1,20}(\\.[a-z0-9]{1,5})?", domain in "[a-z0-9]{1,10}(\\.[a-z]{2,5}){0,2}") {
            let e = Email::parse(&format!("{local}@{domain}")).unwrap();
            let again = Email::parse(e.as_str()).unwrap();
            prop_assert_eq!(&e, &again);
            prop_assert_eq!(e.as_str(), e.as_str().to_lowercase());
        }

        #[test]
        fn never_panics(s in "\\PC{0,300}") {
            let _ = Email::parse(&s);
        }
    }
}
