//! The settings port on sled: each saved document as one JSON row of the `meta` tree (the
//! version and the document), replaced by compare-and-swap so that a save naming a stale
//! version changes nothing. The service levels keep the key and field name of their first
//! layout (`sla_spec`, `spec`).

use async_trait::async_trait;
use helpdesk_core::ports::{DocumentKey, SettingsStore, StoreError, StoreResult};
use serde::{Deserialize, Serialize};

use crate::SledStore;
use crate::codec::sled_err;

fn meta_key(key: DocumentKey) -> String {
    match key {
        DocumentKey::ServiceLevels => "sla_spec".to_owned(),
        other => format!("doc:{}", other.as_str()),
    }
}

#[derive(Serialize, Deserialize)]
struct Saved {
    version: u64,
    #[serde(alias = "spec")]
    doc: serde_json::Value,
}

fn decode(raw: &[u8]) -> StoreResult<Saved> {
    serde_json::from_slice(raw).map_err(|e| crate::codec::corrupt(&format!("a saved settings document: {e}")))
}

#[async_trait]
impl SettingsStore for SledStore {
    async fn document(&self, key: DocumentKey) -> StoreResult<Option<(serde_json::Value, u64)>> {
        match self.t.meta.get(meta_key(key)).map_err(sled_err)? {
            Some(raw) => decode(&raw).map(|s| Some((s.doc, s.version))),
            None => Ok(None),
        }
    }

    async fn save_document(&self, key: DocumentKey, doc: &serde_json::Value, expected: u64) -> StoreResult<u64> {
        let key = meta_key(key);
        let writing = self.writing();
        let old = self.t.meta.get(&key).map_err(sled_err)?;
        let found = old.as_deref().map(decode).transpose()?.map_or(0, |s| s.version);
        if found != expected {
            return Err(StoreError::VersionMismatch { expected, found });
        }
        let new = serde_json::to_vec(&Saved { version: expected + 1, doc: doc.clone() }).map_err(crate::backend)?;
        match self.t.meta.compare_and_swap(&key, old, Some(new)).map_err(sled_err)? {
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
