//! `WebexMeetings` with a person's access token.

use async_trait::async_trait;
use jiff::Timestamp;
use reqwest::Method;
use secrecy::SecretString;

use super::dto::{CreateMeeting, ItemsDto, MeetingDto, TemplateDto};
use super::messaging::urlencode;
use super::{Repeat, WebexHttp, json};
use crate::domain::grant::AccessToken;
use crate::domain::meeting::MeetingTemplate;
use crate::ports::{AdhocDraft, Meeting, MeetingDraft, WebexError, WebexMeetings};

#[derive(Clone)]
pub struct WebexMeetingsClient {
    http: WebexHttp,
}

impl WebexMeetingsClient {
    pub fn new(http: WebexHttp) -> Self {
        Self { http }
    }
}

pub(crate) fn bearer(t: &AccessToken) -> SecretString {
    SecretString::from(t.expose().to_owned())
}

fn convert(m: MeetingDto) -> Result<Meeting, WebexError> {
    Meeting::try_from(m).map_err(WebexError::Unexpected)
}

#[async_trait]
impl WebexMeetings for WebexMeetingsClient {
    #[tracing::instrument(level = "debug", name = "webex.create_meeting", skip_all)]
    async fn create(&self, token: AccessToken, d: MeetingDraft) -> Result<Meeting, WebexError> {
        let token = bearer(&token);
        let body = CreateMeeting {
            adhoc: None,
            room_id: None,
            title: &d.title,
            start: d.start.to_string(),
            end: d.end.to_string(),
            timezone: &d.timezone,
            integration_tags: &d.integration_tags,
            recurrence: d.recurrence.as_deref(),
            invitees: d
                .invitees
                .iter()
                .map(|e| super::dto::Invitee { email: e })
                .collect(),
            send_email: (!d.invitees.is_empty()).then_some(true),
            template_id: d.template_id.as_deref(),
        };
        let resp = self
            .http
            .send("POST /meetings", Repeat::OnlyIfUnprocessed, || {
                self.http
                    .authed(Method::POST, "meetings", &token)
                    .json(&body)
            })
            .await?;
        convert(json("POST /meetings", resp).await?)
    }

    #[tracing::instrument(level = "debug", name = "webex.create_adhoc_meeting", skip_all)]
    async fn create_adhoc(&self, token: AccessToken, d: AdhocDraft) -> Result<Meeting, WebexError> {
        let token = bearer(&token);
        let body = CreateMeeting {
            adhoc: Some(true),
            room_id: Some(d.room.as_str()),
            title: &d.title,
            start: d.start.to_string(),
            end: d.end.to_string(),
            timezone: "UTC",
            integration_tags: &[],
            recurrence: None,
            invitees: Vec::new(),
            send_email: None,
            template_id: None,
        };
        // Safe to send again: Webex answers with the space's instant meeting in progress.
        let resp = self
            .http
            .send("POST /meetings", Repeat::Safe, || {
                self.http
                    .authed(Method::POST, "meetings", &token)
                    .json(&body)
            })
            .await?;
        convert(json("POST /meetings", resp).await?)
    }

    #[tracing::instrument(level = "debug", name = "webex.get_meeting", skip_all)]
    async fn get(&self, token: AccessToken, id: String) -> Result<Meeting, WebexError> {
        let token = bearer(&token);
        let path = format!("meetings/{}", urlencode(&id));
        let resp = self
            .http
            .send("GET /meetings/{id}", Repeat::Safe, || {
                self.http.authed(Method::GET, &path, &token)
            })
            .await?;
        convert(json("GET /meetings/{id}", resp).await?)
    }

    #[tracing::instrument(level = "debug", name = "webex.find_meeting_by_tag", skip_all)]
    async fn find_by_tag(
        &self,
        token: AccessToken,
        tag: String,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Option<Meeting>, WebexError> {
        let token = bearer(&token);
        let (from, to) = (from.to_string(), to.to_string());
        let resp = self
            .http
            .send("GET /meetings", Repeat::Safe, || {
                self.http.authed(Method::GET, "meetings", &token).query(&[
                    ("integrationTag", tag.as_str()),
                    ("from", from.as_str()),
                    ("to", to.as_str()),
                    ("max", "10"),
                ])
            })
            .await?;
        let items: ItemsDto<MeetingDto> = json("GET /meetings", resp).await?;
        items
            .items
            .into_iter()
            .find(|m| m.integration_tags.contains(&tag))
            .map(convert)
            .transpose()
    }

    #[tracing::instrument(level = "debug", name = "webex.list_meetings", skip_all)]
    async fn list(
        &self,
        token: AccessToken,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<Meeting>, WebexError> {
        let token = bearer(&token);
        let mut url = self.http.url("meetings");
        url.query_pairs_mut()
            .append_pair("meetingType", "scheduledMeeting")
            .append_pair("from", &from.to_string())
            .append_pair("to", &to.to_string())
            .append_pair("max", "100");
        // At most 20 pages (2,000 meetings): a bound, not a window anyone reaches.
        let all: Vec<MeetingDto> = self
            .http
            .get_pages("GET /meetings", url.to_string(), &token, 20)
            .await?;
        let mut out = all
            .into_iter()
            .map(convert)
            .collect::<Result<Vec<_>, _>>()?;
        out.sort_by_key(|m| m.start);
        Ok(out)
    }

    #[tracing::instrument(level = "debug", name = "webex.list_templates", skip_all)]
    async fn templates(&self, token: AccessToken) -> Result<Vec<MeetingTemplate>, WebexError> {
        let token = bearer(&token);
        let resp = self
            .http
            .send("GET /meetings/templates", Repeat::Safe, || {
                self.http
                    .authed(Method::GET, "meetings/templates", &token)
                    .query(&[("templateType", "meeting")])
            })
            .await?;
        let items: ItemsDto<TemplateDto> = json("GET /meetings/templates", resp).await?;
        Ok(items.items.into_iter().map(MeetingTemplate::from).collect())
    }
}
