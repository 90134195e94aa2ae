//! Priorities, departments, and the category catalog that maps each category to a department.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::FieldError;

/// Ticket priority, set at triage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    /// Drop everything.
    Critical,
    /// Soon.
    High,
    /// Normal.
    Medium,
    /// When there is time.
    Low,
}

impl Priority {
    /// Every priority, most urgent first.
    pub const ALL: &'static [Priority] = &[Priority::Critical, Priority::High, Priority::Medium, Priority::Low];
    /// Sort rank: 0 is most urgent.
    pub const fn rank(self) -> u8 {
        match self {
            Priority::Critical => 0,
            Priority::High => 1,
            Priority::Medium => 2,
            Priority::Low => 3,
        }
    }
    /// The stored and wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Priority::Critical => "critical",
            Priority::High => "high",
            Priority::Medium => "medium",
            Priority::Low => "low",
        }
    }
    /// Parses a wire name.
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        Priority::ALL
            .iter()
            .copied()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| FieldError::new("priority", "invalid", "one of critical, high, medium, low"))
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

macro_rules! key {
    ($(#[$m:meta])* $name:ident, $field:literal) => {
        $(#[$m])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Parses a key: 1–32 characters of `a-z`, `0-9`, `_`, `-`, starting with a letter.
            pub fn parse(input: &str) -> Result<Self, FieldError> {
                Self::parse_field($field, input)
            }
            /// Parses, naming `field` in the error.
            pub fn parse_field(field: &str, input: &str) -> Result<Self, FieldError> {
                let s = input.trim();
                let ok = !s.is_empty()
                    && s.len() <= 32
                    && s.as_bytes()[0].is_ascii_lowercase()
                    && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
                if ok { Ok(Self(s.to_owned())) } else {
                    Err(FieldError::new(field, "invalid", "a catalog key such as `hardware` (a-z, 0-9, _ and -)"))
                }
            }
            /// The key.
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
                write!(f, concat!(stringify!($name), "({})"), self.0)
            }
        }
    };
}

key!(/// A department's key (`it`, `asset`, `budget`).
    DepartmentKey, "department");
key!(/// A category's or sub-category's key.
    CategoryKey, "category");

/// A department of the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DepartmentDef {
    /// Stable key.
    pub key: DepartmentKey,
    /// Display name.
    pub name: String,
}

/// A sub-category.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubCategoryDef {
    /// Stable key, unique within its category.
    pub key: CategoryKey,
    /// Display name.
    pub name: String,
}

/// A ticket category, owned by a department.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CategoryDef {
    /// Stable key.
    pub key: CategoryKey,
    /// Display name.
    pub name: String,
    /// The department proposed for new tickets of this category.
    pub department: DepartmentKey,
    /// Its sub-categories (at least one).
    pub sub_categories: Vec<SubCategoryDef>,
}

/// Departments and ticket categories, readable by every signed-in user.
///
/// The default catalogue ([`Catalog::default`]; a deployment may replace it):
///
/// | department | key |
/// |---|---|
/// | IT Department | `it` |
/// | Asset Department | `asset` |
/// | Budget Department | `budget` |
///
/// | category | proposes | sub-categories |
/// |---|---|---|
/// | `hardware` | `it` | `laptop`, `printer`, `peripheral` |
/// | `software` | `it` | `installation`, `license`, `bug` |
/// | `access` | `it` | `new_account`, `password`, `permission` |
/// | `network` | `it` | `connectivity`, `vpn`, `email` |
/// | `asset` | `asset` | `new_equipment`, `transfer`, `disposal` |
/// | `budget` | `budget` | `purchase`, `reimbursement`, `allocation` |
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    /// Departments.
    pub departments: Vec<DepartmentDef>,
    /// Categories.
    pub categories: Vec<CategoryDef>,
}

fn k<T: TryFrom<String, Error = String>>(s: &str) -> T {
    match T::try_from(s.to_owned()) {
        Ok(v) => v,
        Err(_) => unreachable!("built-in catalog keys are valid"),
    }
}

impl Default for Catalog {
    fn default() -> Self {
        let dept = |key: &str, name: &str| DepartmentDef { key: k(key), name: name.to_owned() };
        let cat = |key: &str, name: &str, d: &str, subs: &[(&str, &str)]| CategoryDef {
            key: k(key),
            name: name.to_owned(),
            department: k(d),
            sub_categories: subs.iter().map(|(k2, n)| SubCategoryDef { key: k(k2), name: (*n).to_owned() }).collect(),
        };
        Catalog {
            departments: vec![
                dept("it", "IT Department"),
                dept("asset", "Asset Department"),
                dept("budget", "Budget Department"),
            ],
            categories: vec![
                cat(
                    "hardware",
                    "Hardware",
                    "it",
                    &[("laptop", "Laptop or desktop"), ("printer", "Printer"), ("peripheral", "Peripheral")],
                ),
                cat(
                    "software",
                    "Software",
                    "it",
                    &[("installation", "Installation"), ("license", "License"), ("bug", "Bug or crash")],
                ),
                cat(
                    "access",
                    "Access and accounts",
                    "it",
                    &[
                        ("new_account", "New account"),
                        ("password", "Password or lockout"),
                        ("permission", "Permission change"),
                    ],
                ),
                cat(
                    "network",
                    "Network",
                    "it",
                    &[("connectivity", "Connectivity"), ("vpn", "VPN"), ("email", "Email")],
                ),
                cat(
                    "asset",
                    "Asset request",
                    "asset",
                    &[("new_equipment", "New equipment"), ("transfer", "Transfer"), ("disposal", "Disposal")],
                ),
                cat(
                    "budget",
                    "Budget request",
                    "budget",
                    &[("purchase", "Purchase"), ("reimbursement", "Reimbursement"), ("allocation", "Allocation")],
                ),
            ],
        }
    }
}

impl Catalog {
    /// Checks the catalog: unique keys, every category's department exists, every category has
    /// sub-categories.
    pub fn validate(&self) -> Result<(), String> {
        let mut seen = std::collections::HashSet::new();
        if self.departments.is_empty() {
            return Err("the catalog needs at least one department".into());
        }
        for d in &self.departments {
            if !seen.insert(d.key.as_str()) {
                return Err(format!("department {} appears twice", d.key));
            }
        }
        let mut cats = std::collections::HashSet::new();
        for c in &self.categories {
            if !cats.insert(c.key.as_str()) {
                return Err(format!("category {} appears twice", c.key));
            }
            if self.department(&c.department).is_none() {
                return Err(format!("category {} names unknown department {}", c.key, c.department));
            }
            if c.sub_categories.is_empty() {
                return Err(format!("category {} has no sub-categories", c.key));
            }
            let mut subs = std::collections::HashSet::new();
            for s in &c.sub_categories {
                if !subs.insert(s.key.as_str()) {
                    return Err(format!("sub-category {} appears twice in {}", s.key, c.key));
                }
            }
        }
        Ok(())
    }

    /// A department by key.
    pub fn department(&self, key: &DepartmentKey) -> Option<&DepartmentDef> {
        self.departments.iter().find(|d| &d.key == key)
    }

    /// Parses a department key that must exist in the catalog.
    pub fn parse_department(&self, field: &str, input: &str) -> Result<DepartmentKey, FieldError> {
        let key = DepartmentKey::parse_field(field, input)?;
        self.department(&key)
            .map(|_| key.clone())
            .ok_or_else(|| FieldError::new(field, "unknown", "no such department"))
    }

    /// A category by key.
    pub fn category(&self, key: &CategoryKey) -> Option<&CategoryDef> {
        self.categories.iter().find(|c| &c.key == key)
    }

    /// Parses a category and sub-category pair that must exist in the catalog.
    pub fn parse_category(
        &self,
        category: &str,
        sub_category: &str,
    ) -> Result<(CategoryKey, CategoryKey, &CategoryDef), Vec<FieldError>> {
        let c = CategoryKey::parse_field("category", category).map_err(|e| vec![e])?;
        let def = self.category(&c).ok_or_else(|| vec![FieldError::new("category", "unknown", "no such category")])?;
        let s = CategoryKey::parse_field("sub_category", sub_category).map_err(|e| vec![e])?;
        if !def.sub_categories.iter().any(|x| x.key == s) {
            return Err(vec![FieldError::new("sub_category", "unknown", "no such sub-category in this category")]);
        }
        Ok((c, s, def))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_documented_default_catalogue_is_the_real_one() {
        let source = include_str!("catalog.rs");
        let c = Catalog::default();
        for d in &c.departments {
            assert!(
                source.contains(&format!("/// | {} | `{}` |", d.name, d.key)),
                "department {} is not in the doc table",
                d.key
            );
        }
        for cat in &c.categories {
            let subs: Vec<String> = cat.sub_categories.iter().map(|s| format!("`{}`", s.key)).collect();
            let row = format!("/// | `{}` | `{}` | {} |", cat.key, cat.department, subs.join(", "));
            assert!(source.contains(&row), "the doc table lacks the row {row}");
        }
    }

    use super::*;
    use proptest::prelude::*;

    #[test]
    fn default_catalog_is_valid() {
        let c = Catalog::default();
        c.validate().unwrap();
        let (_, _, def) = c.parse_category("hardware", "printer").unwrap();
        assert_eq!(def.department.as_str(), "it");
        assert_eq!(c.parse_category("hardware", "vpn").unwrap_err()[0].field, "sub_category");
        assert!(c.parse_department("department", "legal").is_err());
    }

    proptest! {
        #[test]
        fn keys_parse_or_name_the_field(s in "\\PC{0,40}") {
            match DepartmentKey::parse(&s) {
                Ok(k) => prop_assert!(k.as_str().len() <= 32),
                Err(e) => prop_assert_eq!(e.field, "department"),
            }
        }
    }
}
