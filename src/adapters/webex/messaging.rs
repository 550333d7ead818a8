//! `WebexMessaging` with the bot token.

use async_trait::async_trait;
use reqwest::Method;
use secrecy::SecretString;

use super::dto::{CardActionDto, CreateMessage, CreatedDto, MessageDto, PersonDto};
use super::{WebexHttp, json};
use crate::domain::{MessageId, Reply};
use crate::ports::{
    BotIdentity, CardSubmission, Destination, IncomingMessage, WebexError, WebexMessaging,
};

#[derive(Clone)]
pub struct WebexMessagingClient {
    http: WebexHttp,
    /// `None` when `WEBEX_BOT_TOKEN` is not set: every call then fails with `Unauthorized`.
    token: Option<SecretString>,
}

impl WebexMessagingClient {
    pub fn new(http: WebexHttp, bot_token: Option<SecretString>) -> Self {
        Self {
            http,
            token: bot_token,
        }
    }

    fn token(&self) -> Result<&SecretString, WebexError> {
        self.token.as_ref().ok_or(WebexError::Unauthorized)
    }
}

#[async_trait]
impl WebexMessaging for WebexMessagingClient {
    #[tracing::instrument(name = "webex.people_me", skip_all)]
    async fn me(&self) -> Result<BotIdentity, WebexError> {
        let token = self.token()?;
        let resp = self
            .http
            .send("GET /people/me", || {
                self.http.authed(Method::GET, "people/me", token)
            })
            .await?;
        Ok(json::<PersonDto>("GET /people/me", resp).await?.into())
    }

    #[tracing::instrument(name = "webex.get_message", skip_all)]
    async fn get_message(&self, id: MessageId) -> Result<IncomingMessage, WebexError> {
        let token = self.token()?;
        let path = format!("messages/{}", urlencode(id.as_str()));
        let resp = self
            .http
            .send("GET /messages/{id}", || {
                self.http.authed(Method::GET, &path, token)
            })
            .await?;
        Ok(json::<MessageDto>("GET /messages/{id}", resp).await?.into())
    }

    #[tracing::instrument(name = "webex.get_card_action", skip_all)]
    async fn get_card_action(&self, id: String) -> Result<CardSubmission, WebexError> {
        let token = self.token()?;
        let path = format!("attachment/actions/{}", urlencode(&id));
        let resp = self
            .http
            .send("GET /attachment/actions/{id}", || {
                self.http.authed(Method::GET, &path, token)
            })
            .await?;
        Ok(json::<CardActionDto>("GET /attachment/actions/{id}", resp)
            .await?
            .into())
    }

    #[tracing::instrument(name = "webex.send_message", skip_all)]
    async fn send(&self, to: Destination, reply: Reply) -> Result<MessageId, WebexError> {
        let token = self.token()?;
        let body = CreateMessage {
            room_id: match &to {
                Destination::Room(r) => Some(r.as_str()),
                Destination::Person(_) => None,
            },
            to_person_id: match &to {
                Destination::Person(p) => Some(p.as_str()),
                Destination::Room(_) => None,
            },
            markdown: &reply.markdown,
            attachments: reply
                .card
                .as_ref()
                .map(|c| vec![super::dto::task_list_card(c)])
                .unwrap_or_default(),
        };
        let resp = self
            .http
            .send("POST /messages", || {
                self.http
                    .authed(Method::POST, "messages", token)
                    .json(&body)
            })
            .await?;
        Ok(MessageId::new(
            json::<CreatedDto>("POST /messages", resp).await?.id,
        ))
    }
}

/// Webex ids are base64url-ish and safe in a path, but ids come from outside: encode them.
pub(crate) fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
