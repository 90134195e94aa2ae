//! The stored layouts of user and session rows, read on every authenticated request.
//!
//! Schema 1 kept both as JSON: parsing a user and a session (field names, escaped strings,
//! RFC 3339 timestamps) was 9% of the server's CPU under the ticket-read benchmark. Schema 2
//! writes a tag byte, then bincode of [`UserRow`] or [`SessionRow`]: the same fields in order,
//! timestamps as (seconds, nanoseconds), the refresh hash as its 32 bytes. A schema-1 row is a
//! JSON object and starts with `{`, never [`TAG`], so [`decode_user`] and [`decode_session`]
//! read both, and the upgrade to schema 2 rewrites them (`ticket_row::upgrade_to_schema_2`).
//!
//! bincode is positional: `tests/stored/user.row.hex` and `session.row.hex` pin the bytes.

use chrono::{DateTime, Utc};
use helpdesk_core::domain::{
    CompanyId, DepartmentKey, Email, PersonName, Role, SessionId, StorageKey, Suffix, UserId, UserStatus,
};
use helpdesk_core::model::{PasswordHash, Session, TermsAcceptance, TokenHash, User};
use helpdesk_core::ports::StoreError;
use serde::{Deserialize, Serialize};

use crate::codec::{corrupt, tagged};
use crate::ticket_row::Stamp;

/// The first byte of a schema-2 user or session row.
const TAG: u8 = 2;

/// The first byte of every schema-1 (JSON) row.
pub(crate) const JSON_FIRST_BYTE: u8 = b'{';

/// [`User`] as stored.
#[derive(Debug, Serialize, Deserialize)]
struct UserRow {
    id: UserId,
    email: Email,
    password: Option<String>,
    first_name: PersonName,
    middle_name: Option<PersonName>,
    last_name: PersonName,
    suffix: Option<Suffix>,
    company_id: CompanyId,
    department: Option<DepartmentKey>,
    role: Role,
    status: UserStatus,
    avatar: Option<StorageKey>,
    must_change_password: bool,
    terms_accepted: Option<(String, Stamp)>,
    created_at: Stamp,
    updated_at: Stamp,
    version: u64,
}

/// [`Session`] as stored.
#[derive(Debug, Serialize, Deserialize)]
struct SessionRow {
    id: SessionId,
    user: UserId,
    refresh_hash: [u8; 32],
    created_at: Stamp,
    last_used_at: Stamp,
    idle_expires_at: Stamp,
    absolute_expires_at: Stamp,
    revoked_at: Option<Stamp>,
    address: Option<String>,
}

fn time(s: Stamp) -> Result<DateTime<Utc>, StoreError> {
    s.time()
}

/// Encodes a user in the current layout.
pub(crate) fn encode_user(u: &User) -> Result<Vec<u8>, StoreError> {
    let u = u.clone();
    tagged(
        TAG,
        &UserRow {
            id: u.id,
            email: u.email,
            password: u.password.map(|p| p.0),
            first_name: u.first_name,
            middle_name: u.middle_name,
            last_name: u.last_name,
            suffix: u.suffix,
            company_id: u.company_id,
            department: u.department,
            role: u.role,
            status: u.status,
            avatar: u.avatar,
            must_change_password: u.must_change_password,
            terms_accepted: u.terms_accepted.map(|t| (t.version, t.at.into())),
            created_at: u.created_at.into(),
            updated_at: u.updated_at.into(),
            version: u.version,
        },
    )
}

/// Decodes a user row of either layout.
pub(crate) fn decode_user(b: &[u8]) -> Result<User, StoreError> {
    match b.split_first() {
        Some((&TAG, rest)) => {
            let r: UserRow = bincode::deserialize(rest).map_err(crate::backend)?;
            Ok(User {
                id: r.id,
                email: r.email,
                password: r.password.map(PasswordHash),
                first_name: r.first_name,
                middle_name: r.middle_name,
                last_name: r.last_name,
                suffix: r.suffix,
                company_id: r.company_id,
                department: r.department,
                role: r.role,
                status: r.status,
                avatar: r.avatar,
                must_change_password: r.must_change_password,
                terms_accepted: match r.terms_accepted {
                    Some((version, at)) => Some(TermsAcceptance { version, at: time(at)? }),
                    None => None,
                },
                created_at: time(r.created_at)?,
                updated_at: time(r.updated_at)?,
                version: r.version,
            })
        }
        Some((&JSON_FIRST_BYTE, _)) => crate::codec::json(b),
        _ => Err(corrupt("an unknown user layout")),
    }
}

/// Encodes a session in the current layout.
pub(crate) fn encode_session(s: &Session) -> Result<Vec<u8>, StoreError> {
    tagged(
        TAG,
        &SessionRow {
            id: s.id,
            user: s.user,
            refresh_hash: s.refresh_hash.0,
            created_at: s.created_at.into(),
            last_used_at: s.last_used_at.into(),
            idle_expires_at: s.idle_expires_at.into(),
            absolute_expires_at: s.absolute_expires_at.into(),
            revoked_at: s.revoked_at.map(Stamp::from),
            address: s.address.clone(),
        },
    )
}

/// Decodes a session row of either layout.
pub(crate) fn decode_session(b: &[u8]) -> Result<Session, StoreError> {
    match b.split_first() {
        Some((&TAG, rest)) => {
            let r: SessionRow = bincode::deserialize(rest).map_err(crate::backend)?;
            Ok(Session {
                id: r.id,
                user: r.user,
                refresh_hash: TokenHash(r.refresh_hash),
                created_at: time(r.created_at)?,
                last_used_at: time(r.last_used_at)?,
                idle_expires_at: time(r.idle_expires_at)?,
                absolute_expires_at: time(r.absolute_expires_at)?,
                revoked_at: r.revoked_at.map(time).transpose()?,
                address: r.address,
            })
        }
        Some((&JSON_FIRST_BYTE, _)) => crate::codec::json(b),
        _ => Err(corrupt("an unknown session layout")),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use helpdesk_core::testing::stored::{StoredSamples, check_golden};

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>() + "\n"
    }

    fn dir() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/stored")
    }

    const STEP: &str = "sled keeps users and sessions as tagged bincode rows (account_rows.rs): bump SCHEMA_VERSION \
                        (lib.rs) with an upgrade step that re-encodes them from the old layout, and test it on a \
                        database of the old version.";

    #[test]
    fn user_and_session_rows_keep_their_bytes_and_read_back() {
        let s = StoredSamples::new();
        let user = super::encode_user(&s.user).unwrap();
        check_golden(&dir(), "user.row.hex", &hex(&user), STEP);
        assert_eq!(super::decode_user(&user).unwrap(), s.user);
        let session = super::encode_session(&s.session).unwrap();
        check_golden(&dir(), "session.row.hex", &hex(&session), STEP);
        assert_eq!(super::decode_session(&session).unwrap(), s.session);
    }

    /// Schema-1 rows (JSON, as `codec::enc` wrote them) still read.
    #[test]
    fn json_rows_still_decode() {
        let s = StoredSamples::new();
        assert_eq!(super::decode_user(&serde_json::to_vec(&s.user).unwrap()).unwrap(), s.user);
        assert_eq!(super::decode_session(&serde_json::to_vec(&s.session).unwrap()).unwrap(), s.session);
        assert!(super::decode_user(&[9, 9]).is_err());
        assert!(super::decode_session(&[]).is_err());
    }
}
