//! Reading and changing the saved documents of the settings port (macros, views) as typed
//! values: a change reads the document, edits it, and saves it at the version read; a save
//! that lost the race to another process's starts again from the newer document.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::HelpDesk;
use crate::ports::{DocumentKey, StoreError};
use crate::{Error, Result};

/// How many times a change is tried against newer documents before it gives up.
const ATTEMPTS: usize = 5;

impl HelpDesk {
    /// The document under `key` and its version (an empty one at version 0 before any save).
    pub(crate) async fn load_document<T: DeserializeOwned + Default>(&self, key: DocumentKey) -> Result<(T, u64)> {
        match self.inner.store.document(key).await? {
            Some((doc, version)) => {
                let value = serde_json::from_value(doc)
                    .map_err(|e| Error::Internal(format!("the saved {} do not decode: {e}", key.as_str())))?;
                Ok((value, version))
            }
            None => Ok((T::default(), 0)),
        }
    }

    /// Lets `change` edit the document under `key` and saves it; answers what `change` did.
    /// `change` may run more than once (once per attempt), on the newest document each time.
    pub(crate) async fn change_document<T, R>(
        &self,
        key: DocumentKey,
        change: impl Fn(&mut T) -> Result<R>,
    ) -> Result<R>
    where
        T: Serialize + DeserializeOwned + Default,
    {
        let mut attempts = 0;
        loop {
            let (mut doc, version) = self.load_document::<T>(key).await?;
            let out = change(&mut doc)?;
            let value = serde_json::to_value(&doc).map_err(|e| Error::Internal(e.to_string()))?;
            match self.inner.store.save_document(key, &value, version).await {
                Ok(_) => return Ok(out),
                Err(StoreError::VersionMismatch { expected, found }) => {
                    attempts += 1;
                    if attempts >= ATTEMPTS {
                        return Err(Error::VersionConflict { expected, found });
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}
