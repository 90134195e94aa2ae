//! The settings port on sled: the saved service-level document as one JSON row of the `meta`
//! tree (`sla_spec`: the version and the spec), replaced by compare-and-swap so that a save
//! naming a stale version changes nothing.

use async_trait::async_trait;
use helpdesk_core::ports::{SettingsStore, StoreError, StoreResult};
use helpdesk_core::sla::SlaSpec;
use serde::{Deserialize, Serialize};

use crate::SledStore;
use crate::codec::sled_err;

const KEY: &str = "sla_spec";

#[derive(Serialize, Deserialize)]
struct Saved {
    version: u64,
    spec: SlaSpec,
}

fn decode(raw: &[u8]) -> StoreResult<Saved> {
    serde_json::from_slice(raw).map_err(|e| crate::codec::corrupt(&format!("the saved service levels: {e}")))
}

#[async_trait]
impl SettingsStore for SledStore {
    async fn sla_spec(&self) -> StoreResult<Option<(SlaSpec, u64)>> {
        match self.t.meta.get(KEY).map_err(sled_err)? {
            Some(raw) => decode(&raw).map(|s| Some((s.spec, s.version))),
            None => Ok(None),
        }
    }

    async fn save_sla_spec(&self, spec: &SlaSpec, expected: u64) -> StoreResult<u64> {
        let writing = self.writing();
        let old = self.t.meta.get(KEY).map_err(sled_err)?;
        let found = old.as_deref().map(decode).transpose()?.map_or(0, |s| s.version);
        if found != expected {
            return Err(StoreError::VersionMismatch { expected, found });
        }
        let new = serde_json::to_vec(&Saved { version: expected + 1, spec: spec.clone() }).map_err(crate::backend)?;
        match self.t.meta.compare_and_swap(KEY, old, Some(new)).map_err(sled_err)? {
            Ok(()) => {}
            Err(current) => {
                let found = current.current.as_deref().map(decode).transpose()?.map_or(0, |s| s.version);
                return Err(StoreError::VersionMismatch { expected, found });
            }
        }
        drop(writing);
        self.durable().await?;
        Ok(expected + 1)
    }
}
