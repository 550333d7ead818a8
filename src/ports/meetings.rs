//! Webex meetings, with a person's own (OAuth) access token.

use async_trait::async_trait;
use jiff::Timestamp;

use crate::domain::grant::AccessToken;
use crate::domain::meeting::MeetingTemplate;
use crate::domain::{PersonId, RoomId};

use super::WebexError;

/// The meeting Botper asks Webex to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeetingDraft {
    pub title: String,
    pub start: Timestamp,
    pub end: Timestamp,
    /// IANA zone the meeting is scheduled in.
    pub timezone: String,
    /// Webex `integrationTags` (at most 3): Botper's marker and a key for this request.
    pub integration_tags: Vec<String>,
    /// A series' RRULE (`FREQ=WEEKLY;INTERVAL=1;BYDAY=MO`, no `RRULE:` prefix).
    pub recurrence: Option<String>,
    /// Invited by email (Webex sends them the invitation).
    pub invitees: Vec<String>,
    /// Created from this template (`GET /meetings/templates`).
    pub template_id: Option<String>,
}

/// The instant meeting `meet now` asks for, tied to a space (`adhoc`, `roomId`). Webex
/// ignores the times (it starts the meeting now) but its schema requires them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdhocDraft {
    pub room: RoomId,
    pub title: String,
    pub start: Timestamp,
    pub end: Timestamp,
}

/// A meeting as Webex describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meeting {
    pub id: String,
    pub title: String,
    pub web_link: String,
    pub start: Timestamp,
    pub end: Timestamp,
    pub timezone: Option<String>,
    pub host_user_id: Option<PersonId>,
    pub host_email: Option<String>,
    pub integration_tags: Vec<String>,
    /// For an occurrence listed by [`WebexMeetings::list`]: its series' id.
    pub series_id: Option<String>,
    /// An instant meeting tied to a space (`meet now`): never kept, never a task.
    pub adhoc: bool,
}

#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait WebexMeetings: Send + Sync {
    /// `POST /meetings`, sent at most once: never re-sent after it may have reached Webex.
    ///
    /// # Errors
    /// `Unauthorized` for an expired or revoked token; `Rejected` when Webex refuses the
    /// meeting (missing scope, no license, bad time); `Ambiguous` when it may have been
    /// created (look it up by its integration tag); transient errors otherwise.
    async fn create(&self, token: AccessToken, draft: MeetingDraft) -> Result<Meeting, WebexError>;

    /// `POST /meetings` with `adhoc: true` and the space's `roomId` (the person's token needs
    /// `spark:all`). Webex answers with the space's instant meeting in progress when there
    /// is one, so sending it again creates nothing more.
    ///
    /// # Errors
    /// `Unauthorized`, `Rejected` (403 without `spark:all`, not a member of the space, …),
    /// transient errors otherwise.
    async fn create_adhoc(
        &self,
        token: AccessToken,
        draft: AdhocDraft,
    ) -> Result<Meeting, WebexError>;

    /// `GET /meetings/{id}`.
    ///
    /// # Errors
    /// `NotFound` while Webex's REST data lags its webhook, or for a deleted meeting.
    async fn get(&self, token: AccessToken, id: String) -> Result<Meeting, WebexError>;

    /// `GET /meetings?integrationTag=…&from=…&to=…`: the meeting an earlier attempt created,
    /// if any, among those starting in [`from`, `to`) (Webex's default window is only the
    /// next 7 days).
    ///
    /// # Errors
    /// As for [`WebexMeetings::get`], except that "none" is `Ok(None)`.
    async fn find_by_tag(
        &self,
        token: AccessToken,
        tag: String,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Option<Meeting>, WebexError>;

    /// `GET /meetings?meetingType=scheduledMeeting&from=…&to=…`: the person's meetings
    /// (each occurrence of a series on its own) starting in [`from`, `to`), every page.
    ///
    /// # Errors
    /// As for [`WebexMeetings::get`].
    async fn list(
        &self,
        token: AccessToken,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<Meeting>, WebexError>;

    /// `GET /meetings/templates?templateType=meeting`: the templates the person may use.
    ///
    /// # Errors
    /// As for [`WebexMeetings::get`].
    async fn templates(&self, token: AccessToken) -> Result<Vec<MeetingTemplate>, WebexError>;
}
