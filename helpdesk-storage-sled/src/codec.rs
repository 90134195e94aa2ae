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

/// The rows kept as JSON. Tickets, users and sessions have binary layouts of their own
/// (`ticket_row.rs`, `account_rows.rs`), so they do not implement this: encoding one of them
/// with [`enc`] or reading it with [`dec`] or [`get`] does not compile.
pub(crate) trait JsonRow {}

macro_rules! json_rows {
    ($($t:ty),+ $(,)?) => { $(impl JsonRow for $t {})+ };
}

json_rows!(
    helpdesk_core::model::HistoryEvent,
    helpdesk_core::model::Comment,
    helpdesk_core::model::Attachment,
    helpdesk_core::model::OutboxRecord,
    helpdesk_core::model::AuditEntry,
    helpdesk_core::model::RejectionRecord,
    helpdesk_core::model::OneTimeToken,
    helpdesk_core::model::ApiKey,
    helpdesk_core::model::Notice,
    helpdesk_core::model::InboundMessage,
    helpdesk_core::ports::FailureState,
    crate::commit::IdemRow,
);

pub(crate) fn enc<T: Serialize + JsonRow>(v: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(v).map_err(|e| SledError::Decode(e).into())
}

pub(crate) fn dec<T: DeserializeOwned + JsonRow>(b: &[u8]) -> Result<T, StoreError> {
    json(b)
}

/// Any JSON row, including the schema-1 layouts of tickets' siblings (see [`JsonRow`]).
pub(crate) fn json<T: DeserializeOwned>(b: &[u8]) -> Result<T, StoreError> {
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

/// Reads and decodes one user row.
pub(crate) fn get_user(tree: &sled::Tree, key: &[u8]) -> Result<Option<helpdesk_core::model::User>, StoreError> {
    tree.get(key).map_err(sled_err)?.map(|v| crate::account_rows::decode_user(&v)).transpose()
}

/// Reads and decodes one session row.
pub(crate) fn get_session(tree: &sled::Tree, key: &[u8]) -> Result<Option<helpdesk_core::model::Session>, StoreError> {
    tree.get(key).map_err(sled_err)?.map(|v| crate::account_rows::decode_session(&v)).transpose()
}

/// A binary row: its layout's tag byte, then bincode of `row` (see `ticket_row.rs`).
pub(crate) fn tagged<T: Serialize>(tag: u8, row: &T) -> Result<Vec<u8>, StoreError> {
    let mut out = Vec::with_capacity(256);
    out.push(tag);
    bincode::serialize_into(&mut out, row).map_err(crate::backend)?;
    Ok(out)
}

/// A stored row that cannot be what it claims.
pub(crate) fn corrupt(what: &str) -> StoreError {
    crate::backend(std::io::Error::new(std::io::ErrorKind::InvalidData, format!("a stored row: {what}")))
}

pub(crate) fn sled_err(e: sled::Error) -> StoreError {
    SledError::Sled(e).into()
}

/// Reads and decodes one row.
pub(crate) fn get<T: DeserializeOwned + JsonRow>(tree: &sled::Tree, key: &[u8]) -> Result<Option<T>, StoreError> {
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
