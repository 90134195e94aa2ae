//! Row encoding (JSON through serde: readable with any sled tool, versioned by the schema
//! key) and the adapter's private error type.

use helpdesk_core::ports::StoreError;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The adapter's own failures, converted to [`StoreError`] at the port boundary.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SledError {
    #[error("sled: {0}")]
    Sled(#[from] sled::Error),
    #[error("a stored row does not decode: {0}")]
    Decode(#[from] serde_json::Error),
}

impl From<SledError> for StoreError {
    fn from(e: SledError) -> Self {
        crate::backend(e)
    }
}

pub(crate) fn enc<T: Serialize>(v: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(v).map_err(|e| SledError::Decode(e).into())
}

pub(crate) fn dec<T: DeserializeOwned>(b: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(b).map_err(|e| SledError::Decode(e).into())
}

/// Ticket rows, the hottest and most numerous, use a compact binary layout: see
/// [`crate::ticket_row`].
pub(crate) fn enc_ticket(t: &helpdesk_core::model::Ticket) -> Result<Vec<u8>, StoreError> {
    crate::ticket_row::encode(t)
}

/// Decodes a ticket row (either layout: see [`crate::ticket_row`]).
pub(crate) fn dec_ticket(b: &[u8]) -> Result<helpdesk_core::model::Ticket, StoreError> {
    crate::ticket_row::decode(b)
}

pub(crate) fn sled_err(e: sled::Error) -> StoreError {
    SledError::Sled(e).into()
}

/// Reads and decodes one row.
pub(crate) fn get<T: DeserializeOwned>(tree: &sled::Tree, key: &[u8]) -> Result<Option<T>, StoreError> {
    match tree.get(key).map_err(sled_err)? {
        Some(v) => dec(&v).map(Some),
        None => Ok(None),
    }
}

/// An i64 counter value.
pub(crate) fn counter_value(b: Option<&[u8]>) -> i64 {
    match b {
        Some(b) if b.len() == 8 => {
            let mut a = [0u8; 8];
            a.copy_from_slice(b);
            i64::from_be_bytes(a)
        }
        _ => 0,
    }
}
