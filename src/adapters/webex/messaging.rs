//! `WebexMessaging` with the bot token.

use async_trait::async_trait;
use reqwest::Method;
use secrecy::SecretString;

use super::dto::{
    CardActionDto, CreateMessage, CreatedDto, ItemsDto, ListedMessageDto, MembershipDto,
    MessageDto, PersonDto,
};
use super::{Repeat, WebexHttp, json};
use crate::domain::{MessageId, PersonId, Reply, RoomId};
use crate::ports::{
    Attachment, BotIdentity, CardSubmission, Destination, IncomingMessage, WebexError,
    WebexMessaging,
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

    /// `GET /people/{id}` with the bot token.
    async fn person(&self, id: &PersonId) -> Result<PersonDto, WebexError> {
        let token = self.token()?;
        let path = format!("people/{}", urlencode(id.as_str()));
        let resp = self
            .http
            .send("GET /people/{id}", Repeat::Safe, || {
                self.http.authed(Method::GET, &path, token)
            })
            .await?;
        json::<PersonDto>("GET /people/{id}", resp).await
    }
}

#[async_trait]
impl WebexMessaging for WebexMessagingClient {
    #[tracing::instrument(level = "debug", name = "webex.people_me", skip_all)]
    async fn me(&self) -> Result<BotIdentity, WebexError> {
        let token = self.token()?;
        let resp = self
            .http
            .send("GET /people/me", Repeat::Safe, || {
                self.http.authed(Method::GET, "people/me", token)
            })
            .await?;
        Ok(json::<PersonDto>("GET /people/me", resp).await?.into())
    }

    #[tracing::instrument(level = "debug", name = "webex.get_person", skip_all)]
    async fn person_timezone(&self, id: PersonId) -> Result<Option<String>, WebexError> {
        Ok(self.person(&id).await?.timezone.filter(|z| !z.is_empty()))
    }

    #[tracing::instrument(level = "debug", name = "webex.person_email", skip_all)]
    async fn person_email(&self, id: PersonId) -> Result<Option<String>, WebexError> {
        Ok(self
            .person(&id)
            .await?
            .emails
            .into_iter()
            .find(|e| !e.is_empty()))
    }

    async fn person_org(&self, id: PersonId) -> Result<Option<String>, WebexError> {
        Ok(self.person(&id).await?.org_id.filter(|o| !o.is_empty()))
    }

    #[tracing::instrument(level = "debug", name = "webex.room_member_emails", skip_all)]
    async fn room_member_emails(&self, room: RoomId) -> Result<Vec<String>, WebexError> {
        let token = self.token()?;
        let first = self
            .http
            .url(&format!(
                "memberships?roomId={}&max=1000",
                urlencode(room.as_str())
            ))
            .to_string();
        let members: Vec<MembershipDto> = self
            .http
            .get_pages("GET /memberships", first, token, 20)
            .await?;
        Ok(members
            .into_iter()
            .filter(|m| !m.is_monitor)
            .filter_map(|m| m.person_email)
            .filter(|e| !e.to_ascii_lowercase().ends_with("@webex.bot"))
            .collect())
    }

    #[tracing::instrument(level = "debug", name = "webex.get_message", skip_all)]
    async fn get_message(&self, id: MessageId) -> Result<IncomingMessage, WebexError> {
        let token = self.token()?;
        let path = format!("messages/{}", urlencode(id.as_str()));
        let resp = self
            .http
            .send("GET /messages/{id}", Repeat::Safe, || {
                self.http.authed(Method::GET, &path, token)
            })
            .await?;
        Ok(json::<MessageDto>("GET /messages/{id}", resp).await?.into())
    }

    #[tracing::instrument(level = "debug", name = "webex.get_card_action", skip_all)]
    async fn get_card_action(&self, id: String) -> Result<CardSubmission, WebexError> {
        let token = self.token()?;
        let path = format!("attachment/actions/{}", urlencode(&id));
        let resp = self
            .http
            .send("GET /attachment/actions/{id}", Repeat::Safe, || {
                self.http.authed(Method::GET, &path, token)
            })
            .await?;
        Ok(json::<CardActionDto>("GET /attachment/actions/{id}", resp)
            .await?
            .into())
    }

    #[tracing::instrument(level = "debug", name = "webex.send_message", skip_all)]
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
        let post = || async {
            let resp = self
                .http
                .send("POST /messages", Repeat::OnlyIfUnprocessed, || {
                    self.http
                        .authed(Method::POST, "messages", token)
                        .json(&body)
                })
                .await?;
            Ok::<_, WebexError>(MessageId::new(
                json::<CreatedDto>("POST /messages", resp).await?.id,
            ))
        };
        let started = jiff::Timestamp::now();
        match post().await {
            Err(WebexError::Ambiguous(why)) => {
                self.resolve(token, &to, &reply, started, why, post).await
            }
            other => other,
        }
    }

    async fn send_file(
        &self,
        to: Destination,
        reply: Reply,
        file: Attachment,
    ) -> Result<MessageId, WebexError> {
        if file.bytes.len() > MAX_FILE_BYTES {
            return Err(WebexError::Rejected {
                status: 413,
                message: format!("the file is over Webex's {} MB limit", MAX_FILE_BYTES >> 20),
                tracking_id: None,
            });
        }
        let token = self.token()?;
        let post = || async {
            let resp = self
                .http
                .send("POST /messages (file)", Repeat::OnlyIfUnprocessed, || {
                    self.http
                        .authed(Method::POST, "messages", token)
                        .multipart(Self::file_form(&to, &reply, &file))
                })
                .await?;
            Ok::<_, WebexError>(MessageId::new(
                json::<CreatedDto>("POST /messages (file)", resp).await?.id,
            ))
        };
        let started = jiff::Timestamp::now();
        match post().await {
            Err(WebexError::Ambiguous(why)) => {
                self.resolve(token, &to, &reply, started, why, post).await
            }
            other => other,
        }
    }
}

/// Webex's limit for one file on a message.
const MAX_FILE_BYTES: usize = 100 * 1024 * 1024;

impl WebexMessagingClient {
    /// An ambiguous create: posted after all (found by its Markdown), or sent once more.
    async fn resolve<F, Fut>(
        &self,
        token: &SecretString,
        to: &Destination,
        reply: &Reply,
        started: jiff::Timestamp,
        why: String,
        post: F,
    ) -> Result<MessageId, WebexError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<MessageId, WebexError>>,
    {
        match self.find_sent(token, to, &reply.markdown, started).await {
            Ok(Some(id)) => {
                tracing::info!("the reply was posted despite the failed answer; not sent again");
                Ok(id)
            }
            Ok(None) => {
                tracing::info!("the reply was not posted; sending it again");
                post().await
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot check whether the reply was posted");
                Err(WebexError::Ambiguous(why))
            }
        }
    }
}

impl WebexMessagingClient {
    /// `send_file`'s body: the destination, the Markdown, and the file.
    fn file_form(to: &Destination, reply: &Reply, file: &Attachment) -> reqwest::multipart::Form {
        let form = match to {
            Destination::Room(r) => {
                reqwest::multipart::Form::new().text("roomId", r.as_str().to_owned())
            }
            Destination::Person(p) => {
                reqwest::multipart::Form::new().text("toPersonId", p.as_str().to_owned())
            }
        };
        let part = reqwest::multipart::Part::bytes(file.bytes.clone())
            .file_name(file.name.clone())
            .mime_str(&file.content_type)
            .unwrap_or_else(|_| {
                reqwest::multipart::Part::bytes(file.bytes.clone()).file_name(file.name.clone())
            });
        form.text("markdown", reply.markdown.clone())
            .part("files", part)
    }
}

/// Allowance for clock skew between Botper and Webex when matching a posted message.
const SKEW: jiff::SignedDuration = jiff::SignedDuration::from_secs(10);

impl WebexMessagingClient {
    /// The message with this Markdown that the bot posted to `to` since `since`, if Webex
    /// lets the bot list that space: a 1:1 space (`GET /messages/direct`, or `GET /messages`
    /// for a direct room). In a group space a bot may list only messages that mention it,
    /// so Webex refuses and the caller cannot tell.
    async fn find_sent(
        &self,
        token: &SecretString,
        to: &Destination,
        markdown: &str,
        since: jiff::Timestamp,
    ) -> Result<Option<MessageId>, WebexError> {
        let (endpoint, path, query): (&'static str, &str, Vec<(&str, &str)>) = match to {
            Destination::Person(p) => (
                "GET /messages/direct",
                "messages/direct",
                vec![("personId", p.as_str())],
            ),
            Destination::Room(r) => (
                "GET /messages",
                "messages",
                vec![("roomId", r.as_str()), ("max", "20")],
            ),
        };
        let resp = self
            .http
            .send(endpoint, Repeat::Safe, || {
                self.http.authed(Method::GET, path, token).query(&query)
            })
            .await?;
        let page: ItemsDto<ListedMessageDto> = json(endpoint, resp).await?;
        let after = since - SKEW;
        Ok(page
            .items
            .into_iter()
            .find(|m| {
                m.markdown.as_deref() == Some(markdown)
                    && m.created
                        .as_deref()
                        .and_then(|c| c.parse::<jiff::Timestamp>().ok())
                        .is_some_and(|c| c >= after)
            })
            .map(|m| MessageId::new(m.id)))
    }
}

/// Webex ids are base64url-ish and safe in a path, but ids come from outside: encode them.
pub(crate) fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
