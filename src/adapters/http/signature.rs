//! `X-Spark-Signature`: lowercase hex of HMAC-SHA1 over the raw body, keyed by the webhook
//! secret, compared in constant time.

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha1::Sha1;

type HmacSha1 = Hmac<Sha1>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureCheck {
    Valid,
    Missing,
    Invalid,
}

/// Checks `header` against the body. Hex case is ignored; anything but 40 hex digits is
/// invalid.
pub fn verify(secret: &SecretString, body: &[u8], header: Option<&str>) -> SignatureCheck {
    let Some(header) = header.map(str::trim).filter(|h| !h.is_empty()) else {
        return SignatureCheck::Missing;
    };
    let Ok(given) = hex::decode(header) else {
        return SignatureCheck::Invalid;
    };
    let mut mac = mac(secret);
    mac.update(body);
    // `verify_slice` compares in constant time (and refuses a wrong length).
    match mac.verify_slice(&given) {
        Ok(()) => SignatureCheck::Valid,
        Err(_) => SignatureCheck::Invalid,
    }
}

/// The signature Webex would send for `body` (used by tests and the load tool).
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = mac(&SecretString::from(secret.to_owned()));
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

fn mac(secret: &SecretString) -> HmacSha1 {
    // HMAC accepts keys of any length.
    HmacSha1::new_from_slice(secret.expose_secret().as_bytes()).expect("HMAC takes any key")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(s: &str) -> SecretString {
        SecretString::from(s.to_owned())
    }

    #[test]
    fn known_vector() {
        // RFC 2202 test case 2: key "Jefe", data "what do ya want for nothing?".
        assert_eq!(
            sign("Jefe", b"what do ya want for nothing?"),
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
        );
    }

    #[test]
    fn valid_in_either_case() {
        let sig = sign("s3", b"{}");
        assert_eq!(
            verify(&secret("s3"), b"{}", Some(&sig)),
            SignatureCheck::Valid
        );
        assert_eq!(
            verify(&secret("s3"), b"{}", Some(&sig.to_uppercase())),
            SignatureCheck::Valid
        );
    }

    #[test]
    fn missing_wrong_other_secret_or_altered_body_fail() {
        let sig = sign("s3", b"{\"a\":1}");
        assert_eq!(verify(&secret("s3"), b"{}", None), SignatureCheck::Missing);
        assert_eq!(
            verify(&secret("s3"), b"{}", Some("")),
            SignatureCheck::Missing
        );
        assert_eq!(
            verify(&secret("s3"), b"{\"a\":1}", Some("zz")),
            SignatureCheck::Invalid
        );
        assert_eq!(
            verify(&secret("s3"), b"{\"a\":1}", Some(&sig[..38])),
            SignatureCheck::Invalid
        );
        assert_eq!(
            verify(&secret("other"), b"{\"a\":1}", Some(&sig)),
            SignatureCheck::Invalid
        );
        assert_eq!(
            verify(&secret("s3"), b"{\"a\":2}", Some(&sig)),
            SignatureCheck::Invalid
        );
    }
}
