//! Sealing tokens at rest: AES-256-GCM with a random 96-bit nonce per value, and the
//! person and field as associated data (a sealed value cannot be moved to another row or
//! column). Stored as `v1:` + base64(nonce ‖ ciphertext ‖ tag).

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;

/// The token key (32 bytes). Never printed.
#[derive(Clone)]
pub struct TokenKey([u8; 32]);

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey(***)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("is not base64")]
    NotBase64,
    #[error("must be 32 bytes once base64-decoded (got {0})")]
    WrongLength(usize),
}

impl TokenKey {
    pub fn from_base64(s: &str) -> Result<Self, KeyError> {
        let bytes = STANDARD
            .decode(s.trim())
            .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(s.trim()))
            .map_err(|_| KeyError::NotBase64)?;
        let arr: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| KeyError::WrongLength(bytes.len()))?;
        Ok(Self(arr))
    }

    pub fn generate() -> Self {
        let mut k = [0u8; 32];
        rand::rng().fill_bytes(&mut k);
        Self(k)
    }

    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }
}

#[derive(Clone)]
pub(crate) struct Sealer {
    cipher: Aes256Gcm,
}

#[derive(Debug, thiserror::Error)]
#[error("a stored token cannot be decrypted (was BOTPER_TOKEN_KEY changed?)")]
pub(crate) struct OpenError;

impl Sealer {
    pub fn new(key: &TokenKey) -> Self {
        Self {
            cipher: Aes256Gcm::new_from_slice(&key.0).expect("32-byte key"),
        }
    }

    pub fn seal(&self, plaintext: &str, person: &str, field: &str) -> String {
        let mut nonce = [0u8; 12];
        rand::rng().fill_bytes(&mut nonce);
        let aad = aad(person, field);
        let ct = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: aad.as_bytes(),
                },
            )
            .expect("AES-GCM encryption does not fail for in-memory data");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        format!("v1:{}", STANDARD.encode(out))
    }

    pub fn open(&self, sealed: &str, person: &str, field: &str) -> Result<String, OpenError> {
        let raw = sealed.strip_prefix("v1:").ok_or(OpenError)?;
        let bytes = STANDARD.decode(raw).map_err(|_| OpenError)?;
        if bytes.len() < 12 + 16 {
            return Err(OpenError);
        }
        let (nonce, ct) = bytes.split_at(12);
        let aad = aad(person, field);
        let pt = self
            .cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ct,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| OpenError)?;
        String::from_utf8(pt).map_err(|_| OpenError)
    }
}

fn aad(person: &str, field: &str) -> String {
    format!("botper/grant/v1/{field}/{person}")
}

/// SHA-256 hex of a lookup secret (OAuth state, session token): the table never holds
/// the value a browser presents.
pub(crate) fn digest(secret: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_then_open_round_trips_and_hides_the_token() {
        let s = Sealer::new(&TokenKey::generate());
        let sealed = s.seal("NjlhN-secret-token", "p1", "access");
        assert!(sealed.starts_with("v1:"));
        assert!(!sealed.contains("NjlhN"));
        assert_eq!(
            s.open(&sealed, "p1", "access").unwrap(),
            "NjlhN-secret-token"
        );
        // Same plaintext, fresh nonce: a different ciphertext.
        assert_ne!(sealed, s.seal("NjlhN-secret-token", "p1", "access"));
    }

    #[test]
    fn a_value_cannot_move_rows_or_fields_or_open_with_another_key() {
        let key = TokenKey::generate();
        let s = Sealer::new(&key);
        let sealed = s.seal("tok", "p1", "access");
        assert!(s.open(&sealed, "p2", "access").is_err());
        assert!(s.open(&sealed, "p1", "refresh").is_err());
        assert!(
            Sealer::new(&TokenKey::generate())
                .open(&sealed, "p1", "access")
                .is_err()
        );
        assert!(s.open("v1:AAAA", "p1", "access").is_err());
        assert!(s.open("plain", "p1", "access").is_err());
    }

    #[test]
    fn keys_parse_from_base64_and_are_never_printed() {
        let k = TokenKey::generate();
        let again = TokenKey::from_base64(&k.to_base64()).unwrap();
        assert_eq!(again.0, k.0);
        assert!(matches!(
            TokenKey::from_base64("!!!"),
            Err(KeyError::NotBase64)
        ));
        assert!(matches!(
            TokenKey::from_base64("AAAA"),
            Err(KeyError::WrongLength(3))
        ));
        assert_eq!(format!("{k:?}"), "TokenKey(***)");
    }
}
