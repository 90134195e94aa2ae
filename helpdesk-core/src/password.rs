//! Passwords: the policy of SPEC §2, argon2id hashing, and verification of imported Django
//! `pbkdf2_sha256$…` hashes (upgraded to argon2id at the next successful sign-in).
//!
//! Hashing is behind the [`PasswordHasher`] trait so tests can count hashes (an unknown email
//! must still cost one) and use cheap parameters. Hashing is CPU-heavy: the service runs it on
//! the runtime's blocking pool, never on an async worker.

use std::collections::HashSet;
use std::fmt;
use std::sync::LazyLock;

use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine as _;
use subtle::ConstantTimeEq;

use crate::FieldError;
use crate::model::PasswordHash;

/// The shipped list of common passwords (20,000 entries, most common first).
static COMMON: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| include_str!("data/common-passwords.txt").lines().filter(|l| !l.is_empty()).collect());

/// How many common passwords the policy knows.
pub fn common_password_count() -> usize {
    COMMON.len()
}

/// A password as typed, redacted in `Debug`.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    /// Wraps a typed password (not yet checked against the policy).
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    /// The secret.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

impl<'de> serde::Deserialize<'de> for Password {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Password)
    }
}

/// SPEC §2's password rules.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PasswordPolicy {
    /// Minimum length in characters (default 12; never below 8).
    pub min_length: usize,
    /// Maximum length in characters (at least 128; bounds the hashing cost).
    pub max_length: usize,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self { min_length: 12, max_length: 256 }
    }
}

impl PasswordPolicy {
    /// A policy with the given minimum, clamped to at least 8.
    pub fn with_min_length(min: usize) -> Self {
        Self { min_length: min.max(8), ..Self::default() }
    }

    /// Checks a new password. `personal` holds the user's email, names and company id.
    ///
    /// # Errors
    /// A [`FieldError`] on `password` with code `too_short`, `too_long`, `numeric`,
    /// `common_password`, `personal_information` or `predictable` (keyboard walks, sequences
    /// and other patterns; the message says which).
    pub fn check(&self, password: &Password, personal: &[&str]) -> Result<(), FieldError> {
        self.check_field("password", password, personal)
    }

    /// Like [`check`](Self::check), naming another field (`new_password`).
    pub fn check_field(&self, field: &str, password: &Password, personal: &[&str]) -> Result<(), FieldError> {
        let pw = password.expose();
        let len = pw.chars().count();
        let min = self.min_length.max(8);
        if len < min {
            return Err(FieldError::new(field, "too_short", format!("at least {min} characters")));
        }
        if len > self.max_length.max(128) {
            return Err(FieldError::new(field, "too_long", format!("at most {} characters", self.max_length.max(128))));
        }
        if pw.chars().all(|c| c.is_ascii_digit()) {
            return Err(FieldError::new(field, "numeric", "may not be only digits"));
        }
        let lower = pw.to_lowercase();
        let stripped = lower.trim_end_matches(|c: char| c.is_ascii_digit() || c.is_ascii_punctuation() || c == ' ');
        if COMMON.contains(lower.as_str()) || COMMON.contains(stripped) || is_repetition(&lower) {
            return Err(FieldError::new(field, "common_password", "is too common; choose a less predictable password"));
        }
        if built_from_personal(&lower, personal) {
            return Err(FieldError::new(
                field,
                "personal_information",
                "may not be built from your email, names or company id",
            ));
        }
        // Patterns a list cannot hold (keyboard walks, alphabetic and numeric sequences,
        // dates, l33t variants of words): zxcvbn estimates the guesses an attacker who knows
        // them needs. Below 10^10 (score 3) the password is refused with zxcvbn's reason.
        let estimate = zxcvbn::zxcvbn(pw, personal);
        if estimate.score() < zxcvbn::Score::Three {
            let reason = estimate.feedback().and_then(|f| f.warning()).map_or_else(
                || "it follows a pattern".to_owned(),
                |w| w.to_string().trim_end_matches('.').to_lowercase(),
            );
            return Err(FieldError::new(
                field,
                "predictable",
                format!("is easy to guess ({reason}); add words or characters that do not follow a pattern"),
            ));
        }
        Ok(())
    }
}

/// `aaaaaaaaaaaa`, `abcabcabcabc`: a short unit repeated.
fn is_repetition(s: &str) -> bool {
    let chars: Vec<char> = s.chars().collect();
    (1..=chars.len() / 3).any(|n| chars.len().is_multiple_of(n) && chars.chunks(n).all(|c| c == &chars[..n]))
}

/// True when removing every personal token (≥ 3 characters) and then every digit and symbol
/// leaves fewer than 4 letters.
fn built_from_personal(lower: &str, personal: &[&str]) -> bool {
    let mut tokens: Vec<String> = Vec::new();
    for p in personal {
        let p = p.to_lowercase();
        let local = p.split('@').next().unwrap_or("").to_owned();
        tokens.push(local.clone());
        tokens.push(p.replace(['.', '-', '_', ' '], ""));
        tokens.extend(p.split(|c: char| !c.is_alphanumeric()).map(str::to_owned));
    }
    tokens.retain(|t| t.chars().count() >= 3);
    tokens.sort_by_key(|t| std::cmp::Reverse(t.len()));
    if tokens.is_empty() {
        return false;
    }
    let mut rest = lower.to_owned();
    for t in &tokens {
        rest = rest.replace(t.as_str(), "");
    }
    if rest.len() == lower.len() {
        return false;
    }
    rest.chars().filter(|c| c.is_alphabetic()).count() < 4
}

/// What verifying a password found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    /// Wrong password.
    Invalid,
    /// Right password, hash current.
    Valid,
    /// Right password; store this new hash (imported PBKDF2 or outdated argon2 parameters).
    ValidRehash(PasswordHash),
}

/// Hashes and verifies passwords. Implementations are CPU-bound and synchronous.
pub trait PasswordHasher: Send + Sync + fmt::Debug + 'static {
    /// Hashes a new password.
    ///
    /// # Errors
    /// A message when the hashing library fails (never for valid input).
    fn hash(&self, password: &Password) -> Result<PasswordHash, String>;

    /// Verifies `password` against `hash`.
    fn verify(&self, password: &Password, hash: &PasswordHash) -> Verification;

    /// Spends the time of one verification without a stored hash, so that an unknown email
    /// takes as long as a wrong password.
    fn verify_dummy(&self, password: &Password);
}

/// Argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Argon2Options {
    /// Memory in KiB (default 19 MiB, OWASP's minimum for argon2id).
    pub memory_kib: u32,
    /// Iterations (default 2).
    pub iterations: u32,
    /// Lanes (default 1).
    pub parallelism: u32,
}

impl Default for Argon2Options {
    fn default() -> Self {
        Self { memory_kib: 19 * 1024, iterations: 2, parallelism: 1 }
    }
}

impl Argon2Options {
    /// Cheap parameters for tests only.
    pub fn insecure_fast_for_tests() -> Self {
        Self { memory_kib: 64, iterations: 1, parallelism: 1 }
    }
}

/// Argon2id hashing that also verifies Django `pbkdf2_sha256$iterations$salt$hash` strings.
#[derive(Debug, Clone)]
pub struct Argon2Hasher {
    options: Argon2Options,
    dummy: PasswordHash,
}

impl Argon2Hasher {
    /// A hasher with these parameters.
    ///
    /// # Errors
    /// When the parameters are outside argon2's bounds.
    pub fn new(options: Argon2Options) -> Result<Self, String> {
        let mut h = Self { options, dummy: PasswordHash(String::new()) };
        h.dummy = h.hash(&Password::new("dummy password for timing equalisation"))?;
        Ok(h)
    }

    fn argon(&self) -> Result<Argon2<'static>, String> {
        let params = Params::new(self.options.memory_kib, self.options.iterations, self.options.parallelism, None)
            .map_err(|e| e.to_string())?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }

    fn needs_rehash(&self, parsed: &argon2::PasswordHash<'_>) -> bool {
        let Ok(params) = Params::try_from(parsed) else { return true };
        parsed.algorithm.as_str() != "argon2id"
            || params.m_cost() != self.options.memory_kib
            || params.t_cost() != self.options.iterations
            || params.p_cost() != self.options.parallelism
    }
}

impl PasswordHasher for Argon2Hasher {
    fn hash(&self, password: &Password) -> Result<PasswordHash, String> {
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        let h = self.argon()?.hash_password(password.expose().as_bytes(), &salt).map_err(|e| e.to_string())?;
        Ok(PasswordHash(h.to_string()))
    }

    fn verify(&self, password: &Password, hash: &PasswordHash) -> Verification {
        if hash.0.starts_with("pbkdf2_sha256$") {
            return if verify_django_pbkdf2(password.expose(), &hash.0) {
                match self.hash(password) {
                    Ok(new) => Verification::ValidRehash(new),
                    Err(_) => Verification::Valid,
                }
            } else {
                Verification::Invalid
            };
        }
        let Ok(parsed) = argon2::PasswordHash::new(&hash.0) else { return Verification::Invalid };
        let Ok(argon) = self.argon() else { return Verification::Invalid };
        if argon.verify_password(password.expose().as_bytes(), &parsed).is_err() {
            return Verification::Invalid;
        }
        if self.needs_rehash(&parsed)
            && let Ok(new) = self.hash(password)
        {
            return Verification::ValidRehash(new);
        }
        Verification::Valid
    }

    fn verify_dummy(&self, password: &Password) {
        let _ = self.verify(password, &self.dummy);
    }
}

/// Verifies a Django `pbkdf2_sha256$<iterations>$<salt>$<base64 hash>` string in constant time.
pub fn verify_django_pbkdf2(password: &str, encoded: &str) -> bool {
    let parts: Vec<&str> = encoded.split('$').collect();
    let [algo, iterations, salt, expected] = parts.as_slice() else { return false };
    if *algo != "pbkdf2_sha256" {
        return false;
    }
    let Ok(iterations) = iterations.parse::<u32>() else { return false };
    if iterations == 0 || iterations > 10_000_000 {
        return false;
    }
    let Ok(expected) = base64::engine::general_purpose::STANDARD.decode(expected) else { return false };
    if expected.len() != 32 {
        return false;
    }
    let mut out = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password.as_bytes(), salt.as_bytes(), iterations, &mut out);
    out.ct_eq(expected.as_slice()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(pw: &str, personal: &[&str]) -> Result<(), String> {
        PasswordPolicy::default().check(&Password::new(pw), personal).map_err(|e| e.code)
    }

    #[test]
    fn ships_enough_common_passwords() {
        assert!(common_password_count() >= 10_000);
    }

    #[test]
    fn policy_cases() {
        let me = ["ana.garcia@example.com", "Ana", "Garcia", "MA0042"];
        assert_eq!(check("short", &me), Err("too_short".into()));
        assert_eq!(check("123456789012", &me), Err("numeric".into()));
        assert_eq!(check("password1234", &me), Err("common_password".into()));
        assert_eq!(check("qwertyuiop!!", &me), Err("common_password".into()));
        assert_eq!(check("aaaaaaaaaaaa", &me), Err("common_password".into()));
        assert_eq!(check("AnaGarcia2024!", &me), Err("personal_information".into()));
        assert_eq!(check("ma0042ana.garcia", &me), Err("personal_information".into()));
        assert_eq!(check(&"x".repeat(300), &me), Err("too_long".into()));
        // Keyboard walks and alphabetic sequences, whatever the list holds.
        for walk in ["qwertyuiopasdfgh", "abcdefghijklmnop", "zxcvbnmasdfghjkl", "poiuytrewqlkjhgf", "abcdefgh12345678"]
        {
            assert_eq!(check(walk, &me), Err("predictable".into()), "{walk}");
        }
        let why = PasswordPolicy::default().check(&Password::new("abcdefghijklmnop"), &me).unwrap_err();
        assert!(why.message.contains("sequences like abc"), "{}", why.message);
        assert_eq!(check("harbor-lantern-quartz-71", &me), Ok(()));
        assert_eq!(check("correct horse battery staple", &me), Ok(()));
        // No truncation: a long password is accepted whole.
        let long: String = (0..40).map(|i| format!("w{i}x")).collect::<Vec<_>>().join("-");
        assert!(long.chars().count() > 128);
        assert_eq!(check(&long, &me), Ok(()));
        // The minimum never drops below 8.
        assert!(PasswordPolicy::with_min_length(4).check(&Password::new("seven77"), &[]).is_err());
    }

    #[test]
    fn argon2id_round_trip_and_dummy() {
        let h = Argon2Hasher::new(Argon2Options::insecure_fast_for_tests()).unwrap();
        let hash = h.hash(&Password::new("harbor-lantern-quartz-71")).unwrap();
        assert!(hash.0.starts_with("$argon2id$"));
        assert_eq!(h.verify(&Password::new("harbor-lantern-quartz-71"), &hash), Verification::Valid);
        assert_eq!(h.verify(&Password::new("wrong"), &hash), Verification::Invalid);
        h.verify_dummy(&Password::new("x"));
        // Parameters changed: the next success rehashes.
        let stronger = Argon2Hasher::new(Argon2Options { memory_kib: 128, iterations: 1, parallelism: 1 }).unwrap();
        assert!(matches!(
            stronger.verify(&Password::new("harbor-lantern-quartz-71"), &hash),
            Verification::ValidRehash(_)
        ));
    }

    #[test]
    fn django_pbkdf2_from_the_fixture() {
        // benedict.ramos@example.com from shared/fixtures/smartsupport-employees.json.
        let fixture = "pbkdf2_sha256$20000$KKGb5dASNxqGpYuavOPH87$DxMaXO+FfERUo2E4+9ry6tk/Hj5yxZx9PnJEmkmhnLs=";
        assert!(verify_django_pbkdf2("violet-canyon-ember-38", fixture));
        assert!(!verify_django_pbkdf2("violet-canyon-ember-39", fixture));
        assert!(!verify_django_pbkdf2("x", "pbkdf2_sha256$0$salt$AAAA"));
        // Computed with Django's algorithm: pbkdf2_sha256, 1000 iterations, salt "salt".
        let mut out = [0u8; 32];
        pbkdf2::pbkdf2_hmac::<sha2::Sha256>(b"orbit-maple-sonnet-92", b"salt", 1000, &mut out);
        let enc = format!("pbkdf2_sha256$1000$salt${}", base64::engine::general_purpose::STANDARD.encode(out));
        assert!(verify_django_pbkdf2("orbit-maple-sonnet-92", &enc));
        assert!(!verify_django_pbkdf2("orbit-maple-sonnet-93", &enc));
        let h = Argon2Hasher::new(Argon2Options::insecure_fast_for_tests()).unwrap();
        match h.verify(&Password::new("orbit-maple-sonnet-92"), &PasswordHash(enc)) {
            Verification::ValidRehash(new) => assert!(new.0.starts_with("$argon2id$")),
            other => panic!("expected a rehash, got {other:?}"),
        }
    }
}
