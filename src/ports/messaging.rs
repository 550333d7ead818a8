//! Webex messaging as the core sees it: who the bot is, reading a message, sending one.

use std::time::Duration;

use async_trait::async_trait;

use crate::domain::{MessageId, PersonId, Reply, RoomId};

/// The bot's own identity, from `GET /people/me` with the bot token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotIdentity {
    pub id: PersonId,
    pub display_name: String,
    pub email: Option<String>,
}

/// A message as read back from Webex (webhooks never carry the text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingMessage {
    pub id: MessageId,
    pub room_id: RoomId,
    pub person_id: PersonId,
    pub person_email: Option<String>,
    pub text: String,
    pub html: Option<String>,
    /// `direct` (1:1) or `group`, when Webex says.
    pub room_type: Option<RoomType>,
    /// Who the message @mentions (`mentionedPeople`).
    pub mentioned_people: Vec<PersonId>,
}

/// A file sent with a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub name: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// A space with two people (`direct`) or more (`group`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoomType {
    Direct,
    Group,
}

impl RoomType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Direct => "direct",
            Self::Group => "group",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "direct" => Some(Self::Direct),
            "group" => Some(Self::Group),
            _ => None,
        }
    }
}

/// A submitted card (`GET /attachment/actions/{id}`): who pressed which button where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardSubmission {
    pub id: String,
    pub person_id: PersonId,
    pub room_id: RoomId,
    pub message_id: Option<MessageId>,
    /// The card's inputs Botper reads: `action`, `task`, `owner`.
    pub action: Option<String>,
    pub task: Option<String>,
    pub owner: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    Room(RoomId),
    Person(PersonId),
}

/// What went wrong talking to Webex, after the adapter's retry policy ran its course.
#[derive(Debug, thiserror::Error)]
pub enum WebexError {
    /// 401: the token is missing, expired or revoked.
    #[error("Webex refused the token (401)")]
    Unauthorized,
    /// 404: the resource does not exist or is not visible to the caller.
    #[error("Webex has no such resource (404)")]
    NotFound,
    /// Any other 4xx: the request itself is wrong or not allowed. Retrying will not help.
    #[error("Webex refused the request ({status}): {message}")]
    Rejected {
        status: u16,
        message: String,
        tracking_id: Option<String>,
    },
    /// 429/423 still returned after the retry budget was spent.
    #[error("Webex is rate limiting us")]
    RateLimited { retry_after: Option<Duration> },
    /// 5xx, timeouts and connection failures after retries: worth trying again later.
    #[error("Webex is unavailable: {0}")]
    Unavailable(String),
    /// A request that must not be applied twice (a create) failed after it may have reached
    /// Webex (a 5xx, a timeout, a dropped connection): it may or may not have been applied.
    /// The caller looks the result up before it tries again.
    #[error("Webex may or may not have applied the request: {0}")]
    Ambiguous(String),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl WebexError {
    /// Whether the same call may succeed later (as opposed to a request Webex will always
    /// refuse).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::RateLimited { .. } | Self::Unavailable(_) | Self::Ambiguous(_)
        )
    }
}

#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait WebexMessaging: Send + Sync {
    /// `GET /people/me` with the bot token.
    ///
    /// # Errors
    /// `Unauthorized` for a bad bot token; transient errors when Webex cannot be reached.
    async fn me(&self) -> Result<BotIdentity, WebexError>;

    /// The `timezone` (an IANA name) of a person's Webex profile, `GET /people/{id}` with
    /// the bot token; `None` when the profile gives none.
    ///
    /// # Errors
    /// `NotFound` when Webex does not show the bot that person; transient errors as usual.
    async fn person_timezone(&self, id: PersonId) -> Result<Option<String>, WebexError>;

    /// The primary email address of a person's Webex profile, `GET /people/{id}` with the
    /// bot token; `None` when the profile shows none.
    ///
    /// # Errors
    /// `NotFound` when Webex does not show the bot that person; transient errors as usual.
    async fn person_email(&self, id: PersonId) -> Result<Option<String>, WebexError>;

    /// `GET /people/{id}` → `orgId`: the person's organisation (for the allow-list).
    ///
    /// # Errors
    /// As for [`WebexMessaging::person_email`].
    async fn person_org(&self, id: PersonId) -> Result<Option<String>, WebexError>;

    /// The email addresses of a space's members (`GET /memberships?roomId=…`, every page,
    /// bot token), bots and monitors left out.
    ///
    /// # Errors
    /// `NotFound` when the bot is not in that space; transient errors as usual.
    async fn room_member_emails(&self, room: RoomId) -> Result<Vec<String>, WebexError>;

    /// `GET /messages/{id}` with the bot token.
    ///
    /// # Errors
    /// `NotFound` when the message is gone or not visible to the bot.
    async fn get_message(&self, id: MessageId) -> Result<IncomingMessage, WebexError>;

    /// `GET /attachment/actions/{id}` with the bot token.
    ///
    /// # Errors
    /// `NotFound` when the submission is gone.
    async fn get_card_action(&self, id: String) -> Result<CardSubmission, WebexError>;

    /// `POST /messages` with the reply's Markdown (and its card, if any). Never re-sent
    /// blindly: after an ambiguous failure the adapter looks for the message where Webex lets
    /// it (1:1 spaces) and sends again only if it is not there.
    ///
    /// # Errors
    /// `Rejected` when Webex refuses the message (bot removed from the space, …);
    /// `Ambiguous` when it may have been posted and Webex gives no way to check (a group
    /// space: a bot lists only messages that mention it).
    async fn send(&self, to: Destination, reply: Reply) -> Result<MessageId, WebexError>;

    /// `POST /messages` as `multipart/form-data` with one file (Webex takes one per
    /// message, up to 100 MB), the reply's Markdown as its text.
    ///
    /// # Errors
    /// As for [`WebexMessaging::send`].
    async fn send_file(
        &self,
        to: Destination,
        reply: Reply,
        file: Attachment,
    ) -> Result<MessageId, WebexError>;
}
