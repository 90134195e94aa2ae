//! The settings port: service-level calendars and policies an admin saved, which replace the
//! configured ones in every process of the deployment.
//!
//! One versioned document: a save names the version it replaces, so two admins saving at
//! once cannot silently overwrite each other (the second gets `VersionMismatch`), and each
//! process notices a newer version on its next read and puts it in force.

use std::fmt;

use async_trait::async_trait;

use super::StoreResult;
use crate::sla::SlaSpec;

/// Saved service-level calendars and policies.
#[async_trait]
pub trait SettingsStore: Send + Sync + fmt::Debug + 'static {
    /// The saved calendars and policies and their version (1 for the first save); `None`
    /// before any save.
    async fn sla_spec(&self) -> StoreResult<Option<(SlaSpec, u64)>>;

    /// Saves `spec` in place of version `expected` (0: nothing saved yet) and answers the new
    /// version, `expected + 1`.
    ///
    /// # Contract
    /// `VersionMismatch { expected, found }` when the saved version is not `expected`
    /// (another save came first), and nothing is written.
    async fn save_sla_spec(&self, spec: &SlaSpec, expected: u64) -> StoreResult<u64>;
}
