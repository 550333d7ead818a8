//! `OAuthProvider` for the Webex integration: `{base}/authorize`, `{base}/access_token`
//! (form body, client id and secret in the body), and `people/me` with the new token.

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};

use super::dto::{TokenDto, UserDto};
use super::meetings::bearer;
use super::{Repeat, WebexHttp, json, read_failure};
use crate::domain::PersonId;
use crate::domain::grant::{AccessToken, RefreshToken, TokenSet};
use crate::ports::{Identity, OAuthError, OAuthProvider, WebexError};

/// The scopes Botper asks for, space-separated in the authorize URL.
pub const SCOPES: &str = "spark:messages_read spark:messages_write spark:rooms_read \
spark:people_read meeting:schedules_write meeting:schedules_read";

/// The scopes to ask for: [`SCOPES`], and `spark:all` when `meet now` is on (Webex
/// requires it for a meeting tied to a space).
pub fn scopes(meet_now: bool) -> String {
    if meet_now {
        format!("{SCOPES} spark:all")
    } else {
        SCOPES.to_owned()
    }
}

#[derive(Clone)]
pub struct OAuthSettings {
    pub client_id: Option<String>,
    pub client_secret: Option<SecretString>,
    pub redirect_uri: String,
    /// Space-separated, as sent in the authorize URL ([`scopes`]).
    pub scopes: String,
}

#[derive(Clone)]
pub struct WebexOAuthClient {
    http: WebexHttp,
    settings: OAuthSettings,
}

impl WebexOAuthClient {
    pub fn new(http: WebexHttp, settings: OAuthSettings) -> Self {
        Self { http, settings }
    }

    fn credentials(&self) -> Result<(&str, &SecretString), OAuthError> {
        let id = self
            .settings
            .client_id
            .as_deref()
            .ok_or(OAuthError::NotConfigured("WEBEX_CLIENT_ID is not set"))?;
        let secret = self
            .settings
            .client_secret
            .as_ref()
            .ok_or(OAuthError::NotConfigured("WEBEX_CLIENT_SECRET is not set"))?;
        Ok((id, secret))
    }

    async fn token_request(
        &self,
        form: Vec<(&'static str, String)>,
        now: Timestamp,
        endpoint: &'static str,
    ) -> Result<TokenSet, OAuthError> {
        // A code or refresh token is spent by the first request Webex processes.
        let resp = self
            .http
            .send_raw(endpoint, Repeat::OnlyIfUnprocessed, || {
                self.http.request(Method::POST, "access_token").form(&form)
            })
            .await
            .map_err(from_webex)?;
        if !resp.status().is_success() {
            let status = resp.status().as_u16();
            let f = read_failure(resp).await;
            return Err(classify_refusal(status, f.oauth_error, f.message));
        }
        let t: TokenDto = json(endpoint, resp).await.map_err(from_webex)?;
        let after = |secs: i64| {
            now.checked_add(SignedDuration::from_secs(secs.max(0)))
                .unwrap_or(Timestamp::MAX)
        };
        Ok(TokenSet {
            access_token: AccessToken::new(t.access_token),
            access_expires_at: after(t.expires_in),
            refresh_token: RefreshToken::new(t.refresh_token),
            // Webex documents 90 days when the field is absent.
            refresh_expires_at: after(t.refresh_token_expires_in.unwrap_or(7_776_000)),
            scope: t.scope,
        })
    }
}

/// Only the OAuth `error` code `invalid_grant` says the code or refresh token is spent or
/// revoked; anything else (`invalid_client`, a Webex-style body, a 5xx with a body) says
/// nothing about the person's grant and must not disconnect them.
fn classify_refusal(status: u16, error: Option<String>, message: String) -> OAuthError {
    if error.as_deref() == Some("invalid_grant") {
        OAuthError::InvalidGrant(message)
    } else {
        OAuthError::Rejected {
            status,
            error,
            message,
        }
    }
}

fn from_webex(e: WebexError) -> OAuthError {
    match e {
        WebexError::Unavailable(m) | WebexError::Ambiguous(m) => OAuthError::Unavailable(m),
        WebexError::RateLimited { .. } => OAuthError::Unavailable("rate limited".into()),
        WebexError::Rejected {
            status, message, ..
        } => OAuthError::Rejected {
            status,
            error: None,
            message,
        },
        WebexError::Unauthorized => OAuthError::Rejected {
            status: 401,
            error: None,
            message: "the access token was refused".into(),
        },
        WebexError::NotFound => OAuthError::Rejected {
            status: 404,
            error: None,
            message: "not found".into(),
        },
        WebexError::Unexpected(e) => OAuthError::Unexpected(e),
    }
}

#[async_trait]
impl OAuthProvider for WebexOAuthClient {
    fn authorize_url(&self, state: &str) -> Result<String, OAuthError> {
        let (client_id, _) = self.credentials()?;
        let mut url = self.http.url("authorize");
        url.query_pairs_mut()
            .append_pair("client_id", client_id)
            .append_pair("response_type", "code")
            .append_pair("redirect_uri", &self.settings.redirect_uri)
            .append_pair("scope", &self.settings.scopes)
            .append_pair("state", state);
        Ok(url.to_string())
    }

    #[tracing::instrument(level = "debug", name = "webex.oauth.exchange_code", skip_all)]
    async fn exchange_code(&self, code: String, now: Timestamp) -> Result<TokenSet, OAuthError> {
        let (client_id, secret) = self.credentials()?;
        let form = vec![
            ("grant_type", "authorization_code".to_owned()),
            ("client_id", client_id.to_owned()),
            ("client_secret", secret.expose_secret().to_owned()),
            ("code", code),
            ("redirect_uri", self.settings.redirect_uri.clone()),
        ];
        self.token_request(form, now, "POST /access_token (code)")
            .await
    }

    #[tracing::instrument(level = "debug", name = "webex.oauth.refresh", skip_all)]
    async fn refresh(&self, token: RefreshToken, now: Timestamp) -> Result<TokenSet, OAuthError> {
        let (client_id, secret) = self.credentials()?;
        let form = vec![
            ("grant_type", "refresh_token".to_owned()),
            ("client_id", client_id.to_owned()),
            ("client_secret", secret.expose_secret().to_owned()),
            ("refresh_token", token.expose().to_owned()),
        ];
        self.token_request(form, now, "POST /access_token (refresh)")
            .await
    }

    #[tracing::instrument(level = "debug", name = "webex.oauth.whoami", skip_all)]
    async fn whoami(&self, token: AccessToken) -> Result<Identity, OAuthError> {
        let token = bearer(&token);
        let resp = self
            .http
            .send("GET /people/me", Repeat::Safe, || {
                self.http.authed(Method::GET, "people/me", &token)
            })
            .await
            .map_err(from_webex)?;
        let u: UserDto = json("GET /people/me", resp).await.map_err(from_webex)?;
        Ok(Identity {
            id: PersonId::new(u.id),
            display_name: u.display_name.unwrap_or_default(),
            email: u.emails.into_iter().next(),
            timezone: u.timezone,
            org_id: u.org_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(id: Option<&str>) -> WebexOAuthClient {
        WebexOAuthClient::new(
            WebexHttp::new(
                &url::Url::parse("https://webexapis.com/v1").unwrap(),
                Default::default(),
            )
            .unwrap(),
            OAuthSettings {
                client_id: id.map(str::to_owned),
                client_secret: Some(SecretString::from("shh".to_owned())),
                redirect_uri: "http://localhost:8000/auth/webex/callback".into(),
                scopes: scopes(false),
            },
        )
    }

    #[test]
    fn authorize_url_carries_every_parameter() {
        let u = url::Url::parse(&client(Some("cid")).authorize_url("st8").unwrap()).unwrap();
        assert_eq!(u.path(), "/v1/authorize");
        let q: std::collections::HashMap<_, _> = u.query_pairs().into_owned().collect();
        assert_eq!(q["client_id"], "cid");
        assert_eq!(q["response_type"], "code");
        assert_eq!(
            q["redirect_uri"],
            "http://localhost:8000/auth/webex/callback"
        );
        assert_eq!(q["scope"], SCOPES);
        assert!(q["scope"].contains("meeting:schedules_write"));
        assert_eq!(q["state"], "st8");
        assert!(!u.as_str().contains("shh"));
    }

    #[test]
    fn only_the_invalid_grant_code_means_the_grant_is_gone() {
        let grant = classify_refusal(400, Some("invalid_grant".into()), "expired".into());
        assert!(matches!(grant, OAuthError::InvalidGrant(_)));
        for (status, error, message) in [
            (
                400,
                Some("invalid_client"),
                "invalid_client: Client authentication failed",
            ),
            (401, Some("invalid_client"), "Client authentication failed"),
            (
                400,
                Some("invalid_request"),
                "invalid refresh_token parameter",
            ),
            (400, None, "Client Id is invalid"),
            (400, Some("Invalid_Grant"), "case matters"),
        ] {
            let e = classify_refusal(status, error.map(str::to_owned), message.into());
            match e {
                OAuthError::Rejected {
                    status: s,
                    error: got,
                    ..
                } => {
                    assert_eq!(s, status);
                    assert_eq!(got.as_deref(), error);
                }
                other => panic!("{message}: {other:?}"),
            }
        }
    }

    #[test]
    fn without_a_client_id_there_is_no_url() {
        assert!(matches!(
            client(None).authorize_url("s"),
            Err(OAuthError::NotConfigured(_))
        ));
    }
}
