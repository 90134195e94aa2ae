//! Custom fields: the definitions an admin keeps (read, saved with the version they replace,
//! retired rather than removed), and the checks every ticket write runs against them.
//!
//! Every write that names a field, and every filing, needs the definitions. Reading the
//! settings document each time would add a store read to each ticket filed, so each process
//! keeps the book it read last for [`FIELDS_FRESH_FOR`]; a save in this process replaces it at
//! once, and a key this process does not know yet (another process saved it a moment ago) makes
//! it read the book again before the value is refused.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::HelpDesk;
use crate::domain::FieldKey;
use crate::model::{FieldBook, FieldChange, FieldDef, FieldFilter, FieldValues, Ticket};
use crate::policy::{Permission, Principal, Resource, TicketField};
use crate::ports::{DocumentKey, StoreError};
use crate::{Error, FieldError, Result, ValidationErrors};

/// How long a process trusts the definitions it read last.
pub const FIELDS_FRESH_FOR: Duration = Duration::from_secs(2);

/// The custom field definitions and the version saved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldSettings {
    /// The version (pass it to the next save); 0 before any save.
    pub version: u64,
    /// The definitions the caller may see (requesters: the ones in use that are not
    /// internal; staff: all, retired ones included).
    pub book: FieldBook,
}

/// The last book read, its version and when.
pub(crate) type CachedFields = std::sync::RwLock<Option<(Arc<FieldBook>, u64, Instant)>>;

impl HelpDesk {
    /// The custom field definitions `principal` may see.
    ///
    /// # Errors
    /// `Unauthenticated` for anonymous callers; store failures.
    pub async fn custom_fields(&self, principal: &Principal) -> Result<FieldSettings> {
        principal.actor().ok_or(Error::Unauthenticated(crate::AuthFailure::Missing))?;
        let (book, version) = self.fresh_fields(false).await?;
        let staff = principal.is_staff();
        let fields = book.fields.iter().filter(|f| staff || (!f.internal && !f.retired)).cloned().collect();
        Ok(FieldSettings { version, book: FieldBook { fields } })
    }

    /// Saves `book` in place of version `expected` (admins). Labels are trimmed; a
    /// definition's key and kind never change, and none is removed (retire it: its values stay
    /// on the tickets).
    ///
    /// # Errors
    /// `Forbidden`; `Validation` naming the definition (`fields[1].options`);
    /// `VersionConflict` when another save came first.
    pub async fn save_custom_fields(
        &self,
        principal: &Principal,
        mut book: FieldBook,
        expected: u64,
    ) -> Result<FieldSettings> {
        self.require(principal, Permission::ManageCustomFields, &Resource::none())?;
        for f in &mut book.fields {
            f.label = f.label.trim().to_owned();
        }
        let (previous, _) = self.load_document::<FieldBook>(DocumentKey::CustomFields).await?;
        book.check(&previous).map_err(Error::Validation)?;
        let doc = serde_json::to_value(&book).map_err(|e| Error::Internal(e.to_string()))?;
        let version = match self.inner.store.save_document(DocumentKey::CustomFields, &doc, expected).await {
            Ok(v) => v,
            Err(StoreError::VersionMismatch { expected, found }) => {
                return Err(Error::VersionConflict { expected, found });
            }
            Err(e) => return Err(e.into()),
        };
        self.cache_fields(Arc::new(book.clone()), version);
        tracing::info!(version, fields = book.fields.len(), "custom fields saved");
        Ok(FieldSettings { version, book })
    }

    /// The definitions, from this process's copy while it is fresh (or `reread`: read them).
    pub(crate) async fn fresh_fields(&self, reread: bool) -> Result<(Arc<FieldBook>, u64)> {
        if !reread {
            let cached = match self.inner.fields.read() {
                Ok(g) => g.clone(),
                Err(p) => p.into_inner().clone(),
            };
            if let Some((book, version, at)) = cached
                && at.elapsed() < FIELDS_FRESH_FOR
            {
                return Ok((book, version));
            }
        }
        let (book, version) = self.load_document::<FieldBook>(DocumentKey::CustomFields).await?;
        let book = Arc::new(book);
        self.cache_fields(book.clone(), version);
        Ok((book, version))
    }

    /// The definitions, read again when `keys` names one this process does not know yet.
    pub(crate) async fn fields_for<'a>(&self, keys: impl Iterator<Item = &'a str> + Clone) -> Result<Arc<FieldBook>> {
        let (book, _) = self.fresh_fields(false).await?;
        if keys.clone().all(|k| book.get_str(k).is_some()) {
            return Ok(book);
        }
        Ok(self.fresh_fields(true).await?.0)
    }

    /// The definitions an edit needs (none read when it edits no custom field).
    pub(crate) async fn book_for_edit(&self, edit: &crate::service::TicketEdit) -> Result<Arc<FieldBook>> {
        if edit.fields.is_empty() {
            return Ok(Arc::new(FieldBook::default()));
        }
        self.fields_for(edit.fields.keys().map(String::as_str)).await
    }

    /// True when `key` is an internal field by the definitions this process holds, or one it
    /// does not know (what it cannot place is kept from requesters).
    pub(crate) fn field_is_internal(&self, key: &str) -> bool {
        let g = match self.inner.fields.read() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        g.as_ref().and_then(|(book, _, _)| book.get_str(key)).is_none_or(|d| d.internal)
    }

    fn cache_fields(&self, book: Arc<FieldBook>, version: u64) {
        let mut g = match self.inner.fields.write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        // Never replace a newer copy with an older read.
        if g.as_ref().is_none_or(|(_, v, _)| *v <= version) {
            *g = Some((book, version, Instant::now()));
        }
    }

    /// The field `name` names among the definitions in use, or the error to report.
    fn live_field<'b>(book: &'b FieldBook, name: &str) -> std::result::Result<&'b FieldDef, FieldError> {
        let at = format!("fields.{name}");
        match book.get_str(name) {
            Some(def) if !def.retired => Ok(def),
            Some(_) => Err(FieldError::new(at, "retired", "this field is no longer in use")),
            None => Err(FieldError::new(at, "unknown", "no such field")),
        }
    }

    /// The policy's name for a field's edits.
    pub(crate) fn field_of(def: &FieldDef) -> TicketField {
        if def.internal { TicketField::InternalField } else { TicketField::CustomField }
    }

    /// The values a new ticket starts with: the ones given (each checked against its
    /// definition; the requester only sets the fields meant for them, staff any), and, when
    /// `require`, every required field the filer sets present.
    pub(crate) fn new_ticket_fields(
        &self,
        principal: &Principal,
        draft: &Ticket,
        book: &FieldBook,
        given: &std::collections::BTreeMap<String, serde_json::Value>,
        require: bool,
        errs: &mut ValidationErrors,
    ) -> FieldValues {
        let mut values = FieldValues::new();
        for (name, input) in given {
            let Some(def) = errs.check(Self::live_field(book, name)) else { continue };
            let at = format!("fields.{name}");
            let staff_may =
                self.allowed(principal, Permission::EditTicket, &Resource::field(draft, Self::field_of(def)));
            if !def.requester_sets && !staff_may {
                errs.push(FieldError::new(at, "not_allowed", "staff set this field"));
                continue;
            }
            if let Some(Some(v)) = errs.check(def.parse_value(&at, input)) {
                values.insert(def.key, v);
            }
        }
        // Required fields the requester sets are needed now; the ones staff set, before the
        // ticket is resolved.
        for def in book.active().filter(|d| require && d.required && d.requester_sets) {
            if !values.contains_key(&def.key) && !errs.0.iter().any(|e| e.field == format!("fields.{}", def.key)) {
                errs.push(FieldError::new(
                    format!("fields.{}", def.key),
                    "required",
                    format!("{} is required", def.label),
                ));
            }
        }
        values
    }

    /// Applies field edits (`null` clears) to `next`, after the policy allowed each field;
    /// records each change as `fields.<key>`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn edit_fields(
        &self,
        principal: &Principal,
        current: &Ticket,
        next: &mut Ticket,
        book: &FieldBook,
        edits: &std::collections::BTreeMap<String, serde_json::Value>,
        errs: &mut ValidationErrors,
        changes: &mut Vec<FieldChange>,
    ) -> Result<()> {
        for (name, input) in edits {
            let def = match Self::live_field(book, name) {
                Ok(d) => d,
                Err(e) => {
                    errs.push(e);
                    continue;
                }
            };
            if !self.allowed(principal, Permission::EditTicket, &Resource::field(current, Self::field_of(def))) {
                return Err(Error::Forbidden(if def.internal { "edit internal fields" } else { "edit fields" }));
            }
            let at = format!("fields.{name}");
            let Some(value) = errs.check(def.parse_value(&at, input)) else { continue };
            let old = current.fields.get(&def.key);
            if value.as_ref() == old {
                continue;
            }
            if value.is_none() && def.required {
                errs.push(FieldError::new(at, "required", format!("{} is required", def.label)));
                continue;
            }
            changes.push(FieldChange::new(&at, old.map(|v| v.display()), value.as_ref().map(|v| v.display())));
            match value {
                Some(v) => next.fields.insert(def.key, v),
                None => next.fields.remove(&def.key),
            };
        }
        Ok(())
    }

    /// The required fields still empty on `t` (what resolving it needs first).
    pub(crate) async fn missing_required_fields(&self, t: &Ticket) -> Result<Vec<FieldDef>> {
        let (book, _) = self.fresh_fields(false).await?;
        Ok(book.active().filter(|d| d.required && !t.fields.contains_key(&d.key)).cloned().collect())
    }

    /// Parses list filters (field key → the value wanted, as a write would give it) against
    /// the definitions, naming `fields.<key>`.
    ///
    /// # Errors
    /// `Validation` for an unknown field, a value the field would not take, or an internal
    /// field filtered by someone who does not see it.
    pub async fn field_filters(
        &self,
        principal: &Principal,
        pairs: &std::collections::BTreeMap<String, serde_json::Value>,
    ) -> Result<Vec<FieldFilter>> {
        if pairs.is_empty() {
            return Ok(Vec::new());
        }
        let book = self.fields_for(pairs.keys().map(String::as_str)).await?;
        let staff = principal.is_staff();
        let mut errs = ValidationErrors::new();
        let mut out = Vec::new();
        for (k, v) in pairs {
            let at = format!("fields.{k}");
            match book.get_str(k) {
                Some(def) if def.visible_to(staff) => match errs.check(def.parse_value(&at, v)) {
                    Some(Some(value)) => out.push(FieldFilter { key: def.key, value }),
                    Some(None) => errs.push(FieldError::new(at, "required", "a value to filter by")),
                    None => {}
                },
                _ => errs.push(FieldError::new(at, "unknown", "no such field")),
            }
        }
        errs.into_result()?;
        Ok(out)
    }

    /// The definition of a field a list sorts by, checked: it exists, the caller sees it, and
    /// its kind sorts (numbers, dates, checkboxes).
    ///
    /// # Errors
    /// `Validation` on `sort`.
    pub async fn sort_field(&self, principal: &Principal, key: &str) -> Result<FieldKey> {
        let book = self.fields_for(std::iter::once(key)).await?;
        let staff = principal.is_staff();
        match book.get_str(key) {
            Some(def) if def.visible_to(staff) && def.kind.sorts() => Ok(def.key),
            Some(def) if def.visible_to(staff) => Err(FieldError::new(
                "sort",
                "invalid",
                format!(
                    "{} is a {} field: lists sort by number, date and checkbox fields",
                    def.label,
                    def.kind.as_str()
                ),
            )
            .into()),
            _ => Err(FieldError::new("sort", "invalid", format!("no field {key}")).into()),
        }
    }
}
