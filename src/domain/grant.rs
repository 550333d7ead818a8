//! A person's OAuth grant: who they are, their tokens (never printed) and when the tokens
//! expire.

use std::fmt;

use jiff::{SignedDuration, Timestamp};

use super::ids::PersonId;

macro_rules! secret_string {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            pub fn new(raw: impl Into<String>) -> Self {
                Self(raw.into())
            }
            /// The secret itself: only for the HTTP header or the cipher.
            pub fn expose(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "(***)"))
            }
        }
    };
}

secret_string!(
    /// An OAuth access token.
    AccessToken
);
secret_string!(
    /// An OAuth refresh token.
    RefreshToken
);

/// Tokens as the token endpoint returns them, with absolute expiry times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSet {
    pub access_token: AccessToken,
    pub access_expires_at: Timestamp,
    pub refresh_token: RefreshToken,
    pub refresh_expires_at: Timestamp,
    pub scope: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub person: PersonId,
    pub display_name: String,
    pub email: Option<String>,
    /// IANA zone from Webex (`people/me`), used to read "at 15:00".
    pub timezone: Option<String>,
    pub tokens: TokenSet,
    /// The person's `meetings` webhooks (`created`, `updated`, `deleted`), when registered:
    /// their ids, comma-separated (a grant from before updates were followed has one).
    pub webhook_id: Option<String>,
    /// `Some(reason)` once Webex refused the refresh token: the person must reconnect.
    pub disconnected: Option<String>,
    /// Bumped by every refresh; lets a waiter see that someone else refreshed.
    pub version: i64,
}

impl Grant {
    /// Tokens that expire within this margin are refreshed before use.
    pub const REFRESH_MARGIN: SignedDuration = SignedDuration::from_mins(5);

    pub fn needs_refresh(&self, now: Timestamp) -> bool {
        now.checked_add(Self::REFRESH_MARGIN)
            .map_or(true, |t| t >= self.tokens.access_expires_at)
    }

    /// Whether a refresh can still succeed.
    pub fn refresh_expired(&self, now: Timestamp) -> bool {
        now >= self.tokens.refresh_expires_at
    }

    pub fn is_connected(&self) -> bool {
        self.disconnected.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(expires: &str) -> Grant {
        Grant {
            person: "p".into(),
            display_name: "P".into(),
            email: None,
            timezone: None,
            tokens: TokenSet {
                access_token: AccessToken::new("acc-secret"),
                access_expires_at: expires.parse().unwrap(),
                refresh_token: RefreshToken::new("ref-secret"),
                refresh_expires_at: "2027-03-01T00:00:00Z".parse().unwrap(),
                scope: None,
            },
            webhook_id: None,
            disconnected: None,
            version: 1,
        }
    }

    #[test]
    fn tokens_expiring_within_five_minutes_need_a_refresh() {
        let now: Timestamp = "2026-11-29T12:00:00Z".parse().unwrap();
        assert!(!grant("2026-11-29T12:05:01Z").needs_refresh(now));
        assert!(grant("2026-11-29T12:05:00Z").needs_refresh(now));
        assert!(grant("2026-11-29T11:00:00Z").needs_refresh(now));
    }

    #[test]
    fn debug_output_never_shows_tokens() {
        let dbg = format!("{:?}", grant("2026-11-29T12:05:01Z"));
        assert!(
            !dbg.contains("acc-secret") && !dbg.contains("ref-secret"),
            "{dbg}"
        );
        assert!(dbg.contains("AccessToken(***)"));
    }
}
