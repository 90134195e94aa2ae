//! Service-level calendars and policies as an admin edits them: read the ones in force, save
//! new ones (checked first, with errors that name the field; saved with the version they
//! replace, so two admins cannot silently overwrite each other), and put saved ones in force
//! in every process.
//!
//! The configured rules (the builder's [`sla`](crate::HelpDeskBuilder::sla), the server's
//! `[sla]` section) apply until an admin saves; from then on the saved ones do, in every
//! process: each reads the saved version when its background loop starts and once a minute
//! ([`HelpDesk::reload_sla`]). A save refreshes the stored schedules of the open tickets.

use serde::Serialize;

use super::HelpDesk;
use crate::policy::{Permission, Principal, Resource};
use crate::ports::StoreError;
use crate::sla::SlaSpec;
use crate::{Error, Result};

/// The service-level calendars and policies in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SlaSettings {
    /// The version saved (pass it to the next save); 0 while the configured ones apply.
    pub version: u64,
    /// The calendars, policies and warning share.
    pub sla: SlaSpec,
}

impl HelpDesk {
    /// The service-level calendars and policies in force, for admins.
    ///
    /// # Errors
    /// `Forbidden`.
    pub fn sla_settings(&self, principal: &Principal) -> Result<SlaSettings> {
        self.require(principal, Permission::ManageServiceLevels, &Resource::none())?;
        let (rules, version) = self.sla_in_force();
        Ok(SlaSettings { version, sla: rules.spec().clone() })
    }

    /// Checks and saves `spec` in place of version `expected` (0 while the configured rules
    /// apply), puts it in force, and refreshes the open tickets' stored schedules in the
    /// background. Policies may overlap: the first that matches a ticket applies.
    ///
    /// # Errors
    /// `Forbidden`; `Validation` naming the field (`policies[1].calendar`: a policy naming a
    /// calendar that does not exist, …); `VersionConflict` when another save came first.
    pub async fn save_sla_settings(&self, principal: &Principal, spec: SlaSpec, expected: u64) -> Result<SlaSettings> {
        self.require(principal, Permission::ManageServiceLevels, &Resource::none())?;
        let rules = spec.compile().map_err(Error::Validation)?;
        let version = match self.inner.store.save_sla_spec(&spec, expected).await {
            Ok(v) => v,
            Err(StoreError::VersionMismatch { expected, found }) => {
                return Err(Error::VersionConflict { expected, found });
            }
            Err(e) => return Err(e.into()),
        };
        self.put_sla_in_force(rules, version);
        tracing::info!(version, policies = spec.policies.len(), "service-level policies saved");
        let desk = self.clone();
        tokio::spawn(async move {
            if let Err(e) = desk.refresh_sla_schedules().await {
                tracing::warn!(error = %e, "refreshing service-level schedules failed");
            }
        });
        Ok(SlaSettings { version, sla: spec })
    }

    /// Puts the saved calendars and policies in force when they are newer than the ones in
    /// force (another process saved them); answers whether it did.
    ///
    /// # Errors
    /// Store failures. Saved rules that no longer check (a time zone this build does not
    /// know) are logged and left out of force.
    pub async fn reload_sla(&self) -> Result<bool> {
        let Some((spec, version)) = self.inner.store.sla_spec().await? else { return Ok(false) };
        if version <= self.sla_in_force().1 {
            return Ok(false);
        }
        match spec.compile() {
            Ok(rules) => {
                self.put_sla_in_force(rules, version);
                Ok(true)
            }
            Err(e) => {
                tracing::warn!(version, errors = ?e, "the saved service-level policies do not check; keeping the ones in force");
                Ok(false)
            }
        }
    }
}
