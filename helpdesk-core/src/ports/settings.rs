//! The settings port: versioned documents an admin or staff member saved, which every process
//! of the deployment reads: the service-level calendars and policies, the macros.
//!
//! One versioned document per key: a save names the version it replaces, so two people saving
//! at once cannot silently overwrite each other (the second gets `VersionMismatch`), and each
//! process notices a newer version on its next read.

use std::fmt;

use async_trait::async_trait;

use super::StoreResult;
use crate::sla::SlaSpec;

/// Which document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DocumentKey {
    /// The service-level calendars and policies ([`SlaSpec`]).
    ServiceLevels,
    /// Every macro ([`MacroBook`](crate::model::MacroBook)).
    Macros,
    /// Every saved view and each person's default ([`ViewBook`](crate::model::ViewBook)).
    Views,
    /// The custom fields of tickets ([`FieldBook`](crate::model::FieldBook)).
    CustomFields,
}

impl DocumentKey {
    /// The key stores file it under.
    pub const fn as_str(self) -> &'static str {
        match self {
            DocumentKey::ServiceLevels => "sla",
            DocumentKey::Macros => "macros",
            DocumentKey::Views => "views",
            DocumentKey::CustomFields => "custom_fields",
        }
    }
}

/// Saved documents.
#[async_trait]
pub trait SettingsStore: Send + Sync + fmt::Debug + 'static {
    /// The saved document and its version (1 for the first save); `None` before any save.
    async fn document(&self, key: DocumentKey) -> StoreResult<Option<(serde_json::Value, u64)>>;

    /// Saves `doc` in place of version `expected` (0: nothing saved yet) and answers the new
    /// version, `expected + 1`; durable when it answers.
    ///
    /// # Contract
    /// `VersionMismatch { expected, found }` when the saved version is not `expected`
    /// (another save came first), and nothing is written. Keys are independent.
    async fn save_document(&self, key: DocumentKey, doc: &serde_json::Value, expected: u64) -> StoreResult<u64>;

    /// The saved calendars and policies and their version; `None` before any save.
    async fn sla_spec(&self) -> StoreResult<Option<(SlaSpec, u64)>> {
        match self.document(DocumentKey::ServiceLevels).await? {
            Some((doc, version)) => {
                let spec = serde_json::from_value(doc).map_err(|e| super::StoreError::Backend {
                    backend: "settings",
                    source: format!("the saved service levels do not decode: {e}").into(),
                })?;
                Ok(Some((spec, version)))
            }
            None => Ok(None),
        }
    }

    /// Saves `spec` in place of version `expected` (see [`save_document`](Self::save_document)).
    async fn save_sla_spec(&self, spec: &SlaSpec, expected: u64) -> StoreResult<u64> {
        let doc = serde_json::to_value(spec)
            .map_err(|e| super::StoreError::Backend { backend: "settings", source: Box::new(e) })?;
        self.save_document(DocumentKey::ServiceLevels, &doc, expected).await
    }
}
