//! The per-ticket, per-recipient reply address: `support+<token>@domain`.
//!
//! Every mail about a ticket says `Reply-To: support+<token>@domain`, where the token is
//! base32 of the ticket's number, the recipient's user id and an HMAC-SHA256 of both (80 bits of
//! it) under the deployment's link key. A reply that comes back to that address names its ticket
//! without trusting the subject, and, when it comes from the address the mail went to, proves
//! its sender for that ticket: only that recipient was ever given the token. The token is 48
//! characters of lower-case base32 (case-insensitive, as mail systems may fold local parts),
//! so the local part stays within RFC 5321's 64 characters for a support mailbox name of up to
//! 15 characters.

use hmac::Mac as _;

use crate::domain::UserId;
use crate::service::LinkKey;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

const LABEL: &[u8] = b"helpdesk reply address v1\0";
const CLAIMS_LEN: usize = 4 + 16;
const MAC_LEN: usize = 10;
const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// What a reply address names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplyToken {
    /// The ticket's number sequence (`TicketNumber::seq`).
    pub ticket_seq: u64,
    /// The recipient the address was given to.
    pub user: UserId,
}

fn mac(key: &LinkKey, claims: &[u8]) -> HmacSha256 {
    let mut m = <HmacSha256 as hmac::Mac>::new_from_slice(key.bytes())
        .unwrap_or_else(|_| <HmacSha256 as hmac::Mac>::new(&Default::default()));
    m.update(LABEL);
    m.update(claims);
    m
}

fn base32(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 8 / 5 + 1);
    let (mut acc, mut bits) = (0u32, 0u32);
    for b in bytes {
        acc = (acc << 8) | u32::from(*b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((acc >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((acc << (5 - bits)) & 31) as usize]));
    }
    out
}

fn unbase32(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 5 / 8);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = ALPHABET.iter().position(|a| *a == c.to_ascii_lowercase())? as u32;
        acc = (acc << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
        acc &= (1 << bits) - 1;
    }
    Some(out)
}

impl ReplyToken {
    /// The token for this ticket and recipient. `None` for a ticket number past `u32::MAX`
    /// (such a ticket's mails carry no reply address).
    pub fn sign(&self, key: &LinkKey) -> Option<String> {
        let seq = u32::try_from(self.ticket_seq).ok()?;
        let mut claims = [0u8; CLAIMS_LEN];
        claims[..4].copy_from_slice(&seq.to_be_bytes());
        claims[4..].copy_from_slice(self.user.as_uuid().as_bytes());
        let tag = mac(key, &claims).finalize().into_bytes();
        let mut all = claims.to_vec();
        all.extend_from_slice(&tag[..MAC_LEN]);
        Some(base32(&all))
    }

    /// The claims of an authentic token (the MAC compared in constant time).
    pub fn verify(key: &LinkKey, token: &str) -> Option<Self> {
        if token.len() > 64 {
            return None;
        }
        let raw = unbase32(token)?;
        if raw.len() != CLAIMS_LEN + MAC_LEN {
            return None;
        }
        let (claims, tag) = raw.split_at(CLAIMS_LEN);
        mac(key, claims).verify_truncated_left(tag).ok()?;
        Some(Self {
            ticket_seq: u64::from(u32::from_be_bytes(claims[..4].try_into().ok()?)),
            user: UserId::from_uuid(uuid::Uuid::from_slice(&claims[4..]).ok()?),
        })
    }

    /// `local+token@domain` for the support address `local@domain`.
    pub fn address(&self, key: &LinkKey, support: &str) -> Option<String> {
        let (local, domain) = support.rsplit_once('@')?;
        let token = self.sign(key)?;
        Some(format!("{local}+{token}@{domain}"))
    }

    /// The token of `address` when it is a sub-address of the support address `support`
    /// (same local part before the `+`, same domain, case-insensitive).
    pub fn token_in<'a>(address: &'a str, support: &str) -> Option<&'a str> {
        let (local, domain) = address.rsplit_once('@')?;
        let (s_local, s_domain) = support.rsplit_once('@')?;
        let (base, token) = local.split_once('+')?;
        (base.eq_ignore_ascii_case(s_local) && domain.eq_ignore_ascii_case(s_domain)).then_some(token)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_token_round_trips_under_its_key_only_and_fits_a_local_part() {
        let key = LinkKey::derive(b"secret one");
        let t = ReplyToken { ticket_seq: 42, user: UserId::random() };
        let s = t.sign(&key).unwrap();
        assert_eq!(s.len(), 48);
        assert_eq!(ReplyToken::verify(&key, &s), Some(t));
        assert_eq!(ReplyToken::verify(&key, &s.to_ascii_uppercase()), Some(t));
        assert_eq!(ReplyToken::verify(&LinkKey::derive(b"secret two"), &s), None);
        let addr = t.address(&key, "servicedesk0000@example.com").unwrap();
        assert!(addr.split('@').next().unwrap().len() <= 64, "{addr}");
        assert_eq!(ReplyToken::token_in(&addr, "ServiceDesk0000@Example.com"), Some(s.as_str()));
        assert_eq!(ReplyToken::token_in(&addr, "other@example.com"), None);
    }

    #[test]
    fn every_changed_character_is_refused() {
        let key = LinkKey::derive(b"k");
        let s = ReplyToken { ticket_seq: 7, user: UserId::random() }.sign(&key).unwrap();
        for i in 0..s.len() {
            let mut b = s.clone().into_bytes();
            b[i] = if b[i] == b'a' { b'b' } else { b'a' };
            let forged = String::from_utf8(b).unwrap();
            assert_eq!(ReplyToken::verify(&key, &forged), None, "position {i}");
        }
        assert_eq!(ReplyToken::verify(&key, "not base32!"), None);
        assert_eq!(ReplyToken::verify(&key, ""), None);
    }
}
