//! Webex wire types (private to the adapters) and their conversion to port types.

use serde::{Deserialize, Serialize};

use crate::domain::{MessageId, PersonId, RoomId};
use crate::ports::{BotIdentity, DedupKey, IncomingMessage, RoomType, WebexEvent};

/// Webex's error body: `{"message", "errors": [{"description"}], "trackingId"}`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ErrorBody {
    message: Option<String>,
    #[serde(default)]
    errors: Vec<ErrorItem>,
    pub tracking_id: Option<String>,
    /// OAuth-style errors from the token endpoint.
    error: Option<String>,
    #[serde(rename = "error_description")]
    error_description: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct ErrorItem {
    description: Option<String>,
}

impl ErrorBody {
    /// The OAuth `error` code (`invalid_grant`, …), if the body has one.
    pub fn oauth_error(&self) -> Option<String> {
        self.error.clone()
    }

    pub fn best_message(&self) -> Option<String> {
        self.message
            .clone()
            .filter(|m| !m.is_empty())
            .or_else(|| self.errors.iter().find_map(|e| e.description.clone()))
            .or_else(|| match (&self.error, &self.error_description) {
                (Some(e), Some(d)) => Some(format!("{e}: {d}")),
                (Some(e), None) => Some(e.clone()),
                _ => None,
            })
    }
}

pub(crate) fn clip(s: &str, max_chars: usize) -> String {
    if s.chars().count() <= max_chars {
        s.to_owned()
    } else {
        s.chars().take(max_chars).chain(['…']).collect()
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PersonDto {
    pub id: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub emails: Vec<String>,
    #[serde(default)]
    pub timezone: Option<String>,
    #[serde(default)]
    pub org_id: Option<String>,
}

/// A membership, as `GET /memberships` lists it (Messaging spec, `Membership`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MembershipDto {
    #[serde(default)]
    pub person_email: Option<String>,
    #[serde(default)]
    pub is_monitor: bool,
}

impl From<PersonDto> for BotIdentity {
    fn from(p: PersonDto) -> Self {
        BotIdentity {
            id: PersonId::new(p.id),
            display_name: p.display_name.unwrap_or_default(),
            email: p.emails.into_iter().next(),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MessageDto {
    pub id: String,
    pub room_id: String,
    pub person_id: String,
    #[serde(default)]
    pub person_email: Option<String>,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub html: Option<String>,
    #[serde(default)]
    pub room_type: Option<String>,
    #[serde(default)]
    pub mentioned_people: Vec<String>,
}

impl From<MessageDto> for IncomingMessage {
    fn from(m: MessageDto) -> Self {
        IncomingMessage {
            id: MessageId::new(m.id),
            room_id: RoomId::new(m.room_id),
            person_id: PersonId::new(m.person_id),
            person_email: m.person_email,
            text: m.text.unwrap_or_default(),
            html: m.html,
            room_type: m.room_type.as_deref().and_then(RoomType::parse),
            mentioned_people: m.mentioned_people.into_iter().map(PersonId::new).collect(),
        }
    }
}

/// An item of `GET /messages` / `GET /messages/direct`: enough to recognise a message the
/// bot sent.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListedMessageDto {
    pub id: String,
    #[serde(default)]
    pub markdown: Option<String>,
    #[serde(default)]
    pub created: Option<String>,
}

/// `POST /messages` body (Messaging spec, `CreateMessage`-like shape).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateMessage<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub room_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_person_id: Option<&'a str>,
    pub markdown: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<serde_json::Value>,
}

/// `GET /attachment/actions/{id}`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CardActionDto {
    pub id: String,
    pub person_id: String,
    pub room_id: String,
    #[serde(default)]
    pub message_id: Option<String>,
    #[serde(default)]
    pub inputs: serde_json::Map<String, serde_json::Value>,
}

impl From<CardActionDto> for crate::ports::CardSubmission {
    fn from(a: CardActionDto) -> Self {
        let input = |k: &str| {
            a.inputs.get(k).and_then(|v| match v {
                serde_json::Value::String(s) => Some(clip(s, 200)),
                serde_json::Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
        };
        crate::ports::CardSubmission {
            action: input("action"),
            task: input("task"),
            owner: input("owner"),
            id: a.id,
            person_id: PersonId::new(a.person_id),
            room_id: RoomId::new(a.room_id),
            message_id: a.message_id.map(MessageId::new),
        }
    }
}

/// A card's text: Adaptive Card `TextBlock`s read a Markdown subset, so typed text is
/// escaped; HTML entities are not decoded by cards and are not used.
fn card_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | '*' | '_' | '[' | ']' | '`' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// The task list (or a reminder) as a Webex Adaptive Card (1.2): a row per task with its
/// buttons (Done, Snooze 1h, Delete; a reminder: Done, Snooze 1h, Tomorrow) whose data names the task and the list's owner.
pub(crate) fn task_list_card(card: &crate::domain::card::TaskListCard) -> serde_json::Value {
    use serde_json::json;
    let mut body = vec![json!({
        "type": "TextBlock", "text": card_text(&card.heading), "weight": "Bolder", "size": "Medium", "wrap": true
    })];
    for row in &card.rows {
        let n = row.number.get().to_string();
        let mut text = format!("**#{n}** {}", card_text(&row.title));
        if let Some(link) = &row.join_link {
            text.push_str(&format!(
                " [join]({})",
                link.replace(')', "%29").replace(' ', "%20")
            ));
        }
        if let Some(note) = &row.note {
            text.push_str(&format!(" — {}", card_text(note)));
        }
        let submit = |title: &str, action: &str| {
            json!({
                "type": "Action.Submit", "title": title,
                "data": { "action": action, "task": n, "owner": card.owner.as_str() }
            })
        };
        let actions: Vec<serde_json::Value> = card
            .kind
            .buttons()
            .iter()
            .map(|v| {
                let (title, action) = v.label_and_action();
                submit(title, action)
            })
            .collect();
        body.push(json!({
            "type": "ColumnSet",
            "separator": true,
            "columns": [
                { "type": "Column", "width": "stretch", "verticalContentAlignment": "Center",
                  "items": [{ "type": "TextBlock", "text": text, "wrap": true }] },
                { "type": "Column", "width": "auto",
                  "items": [{ "type": "ActionSet", "actions": actions }] }
            ]
        }));
    }
    if card.hidden > 0 {
        body.push(json!({
            "type": "TextBlock", "isSubtle": true, "wrap": true,
            "text": format!("…and {} more. Type `list all` to see every task as text.", card.hidden)
        }));
    }
    json!({
        "contentType": "application/vnd.microsoft.card.adaptive",
        "content": {
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "type": "AdaptiveCard",
            "version": "1.2",
            "body": body
        }
    })
}

#[derive(Deserialize)]
pub(crate) struct CreatedDto {
    pub id: String,
}

/// What a verified webhook delivery asks of Botper.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DeliveryEnvelope {
    /// An event Botper handles, with its dedup key.
    Event { key: DedupKey, event: WebexEvent },
    /// A well-formed delivery for a resource/event Botper does not handle.
    Ignored { resource: String, event: String },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum EnvelopeError {
    #[error("body is not JSON: {0}")]
    NotJson(String),
    #[error("field `{0}` is missing or not a string")]
    Missing(&'static str),
}

#[derive(Deserialize)]
struct RawEnvelope {
    #[serde(rename = "createdBy")]
    created_by: Option<serde_json::Value>,
    resource: Option<serde_json::Value>,
    event: Option<serde_json::Value>,
    data: Option<serde_json::Value>,
}

/// What tells one `updated` receipt from another: a digest of what it says and a random
/// part. Webex gives no version number, and its meetings `data` is a subset that may leave
/// out the title: two renames can carry the same data, so content alone cannot be the key.
/// Each receipt is its own event; applying one is idempotent (the meeting is read again and
/// an unchanged task is left alone, unsaid).
fn receipt_of(data: &serde_json::Value) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(data.to_string().as_bytes());
    format!(
        "{}.{:016x}",
        hex::encode(&digest[..8]),
        rand::random::<u64>()
    )
}

impl DeliveryEnvelope {
    pub fn parse(body: &[u8]) -> Result<Self, EnvelopeError> {
        let raw: RawEnvelope = serde_json::from_slice(body)
            .map_err(|e| EnvelopeError::NotJson(clip(&e.to_string(), 120)))?;
        let s = |v: &Option<serde_json::Value>, name| {
            v.as_ref()
                .and_then(|v| v.as_str())
                .map(str::to_owned)
                .ok_or(EnvelopeError::Missing(name))
        };
        let resource = s(&raw.resource, "resource")?;
        let event = s(&raw.event, "event")?;
        let data = raw.data.unwrap_or(serde_json::Value::Null);
        let field = |name: &'static str, path: &'static str| {
            data.get(name)
                .and_then(|v| v.as_str())
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
                .ok_or(EnvelopeError::Missing(path))
        };
        // Meetings events name the connected person whose webhook this is in `createdBy`.
        let owner = || {
            raw.created_by
                .as_ref()
                .and_then(|v| v.as_str())
                .filter(|v| !v.is_empty())
                .map(PersonId::new)
                .ok_or(EnvelopeError::Missing("createdBy"))
        };
        let parsed = match (resource.as_str(), event.as_str()) {
            ("messages", "created") => WebexEvent::MessageCreated {
                message_id: MessageId::new(field("id", "data.id")?),
                room_id: RoomId::new(field("roomId", "data.roomId")?),
                person_id: PersonId::new(field("personId", "data.personId")?),
            },
            ("attachmentActions", "created") => WebexEvent::CardAction {
                action_id: field("id", "data.id")?,
                person_id: PersonId::new(field("personId", "data.personId")?),
                room_id: RoomId::new(field("roomId", "data.roomId")?),
            },
            ("memberships", "created") => WebexEvent::MembershipCreated {
                membership_id: field("id", "data.id")?,
                room_id: RoomId::new(field("roomId", "data.roomId")?),
                person_id: PersonId::new(field("personId", "data.personId")?),
                room_type: data
                    .get("roomType")
                    .and_then(|v| v.as_str())
                    .and_then(RoomType::parse),
            },
            ("meetings", "created") => WebexEvent::MeetingCreated {
                meeting_id: field("id", "data.id")?,
                owner: owner()?,
            },
            ("meetings", "updated" | "deleted") => WebexEvent::MeetingChanged {
                meeting_id: field("id", "data.id")?,
                owner: owner()?,
                cancelled: event == "deleted",
            },
            _ => return Ok(Self::Ignored { resource, event }),
        };
        // Two connected people (a host and an invitee) each get the meeting's event: each is
        // its own event, so the owner is part of a meeting event's key. A meeting can be
        // updated many times: each `updated` receipt is its own event (see `receipt_of`); a
        // creation or a deletion happens once.
        let data_id = match &parsed {
            WebexEvent::MeetingCreated { meeting_id, owner } => format!("{meeting_id}@{owner}"),
            WebexEvent::MeetingChanged {
                meeting_id,
                owner,
                cancelled: false,
            } => format!("{meeting_id}@{owner}#{}", receipt_of(&data)),
            WebexEvent::MeetingChanged {
                meeting_id, owner, ..
            } => {
                format!("{meeting_id}@{owner}")
            }
            _ => field("id", "data.id")?,
        };
        let key = DedupKey {
            resource,
            event,
            data_id,
        };
        Ok(Self::Event { key, event: parsed })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_created_becomes_an_event_with_its_dedup_key() {
        let body = br#"{"id":"wh1","name":"n","resource":"messages","event":"created",
            "actorId":"p1","data":{"id":"m1","roomId":"r1","personId":"p1","personEmail":"a@b"}}"#;
        let d = DeliveryEnvelope::parse(body).unwrap();
        assert_eq!(
            d,
            DeliveryEnvelope::Event {
                key: DedupKey {
                    resource: "messages".into(),
                    event: "created".into(),
                    data_id: "m1".into()
                },
                event: WebexEvent::MessageCreated {
                    message_id: "m1".into(),
                    room_id: "r1".into(),
                    person_id: "p1".into()
                }
            }
        );
    }

    #[test]
    fn meeting_created_names_the_webhook_owner() {
        let body = br#"{"resource":"meetings","event":"created","createdBy":"u1",
            "data":{"id":"870f51ff287b41be84648412901e0402","hostUserId":"u1"}}"#;
        match DeliveryEnvelope::parse(body).unwrap() {
            DeliveryEnvelope::Event { key, event } => {
                assert_eq!(key.data_id, "870f51ff287b41be84648412901e0402@u1");
                assert_eq!(
                    event,
                    WebexEvent::MeetingCreated {
                        meeting_id: "870f51ff287b41be84648412901e0402".into(),
                        owner: "u1".into()
                    }
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            DeliveryEnvelope::parse(
                br#"{"resource":"meetings","event":"created","data":{"id":"m"}}"#
            ),
            Err(EnvelopeError::Missing("createdBy"))
        );
    }

    #[test]
    fn meeting_updates_are_one_event_per_receipt_and_a_deletion_one_per_meeting() {
        let parse = |event: &str, start: &str| {
            let body = format!(
                r#"{{"resource":"meetings","event":"{event}","createdBy":"u1",
                "data":{{"id":"m1","start":"{start}","hostUserId":"u1"}}}}"#
            );
            match DeliveryEnvelope::parse(body.as_bytes()).unwrap() {
                DeliveryEnvelope::Event { key, event } => (key, event),
                other => panic!("{other:?}"),
            }
        };
        let (a, ev) = parse("updated", "2026-12-04T14:00:00Z");
        assert_eq!(
            ev,
            WebexEvent::MeetingChanged {
                meeting_id: "m1".into(),
                owner: "u1".into(),
                cancelled: false
            }
        );
        assert!(a.data_id.starts_with("m1@u1#"), "{}", a.data_id);
        let (again, _) = parse("updated", "2026-12-04T14:00:00Z");
        assert_ne!(
            a.data_id, again.data_id,
            "two renames may carry the same data: each receipt is applied"
        );
        let (moved, _) = parse("updated", "2026-12-04T15:00:00Z");
        assert_ne!(a.data_id, moved.data_id, "a later change is its own event");
        let (gone, ev) = parse("deleted", "2026-12-04T15:00:00Z");
        assert_eq!(gone.data_id, "m1@u1");
        assert_eq!(gone.event, "deleted");
        assert!(matches!(
            ev,
            WebexEvent::MeetingChanged {
                cancelled: true,
                ..
            }
        ));
    }

    #[test]
    fn unknown_resources_are_ignored_not_refused() {
        let body = br#"{"resource":"rooms","event":"updated","data":{"id":"x"}}"#;
        assert_eq!(
            DeliveryEnvelope::parse(body).unwrap(),
            DeliveryEnvelope::Ignored {
                resource: "rooms".into(),
                event: "updated".into()
            }
        );
    }

    #[test]
    fn malformed_envelopes_are_errors() {
        assert!(matches!(
            DeliveryEnvelope::parse(b"{not json"),
            Err(EnvelopeError::NotJson(_))
        ));
        assert_eq!(
            DeliveryEnvelope::parse(br#"{"event":"created"}"#),
            Err(EnvelopeError::Missing("resource"))
        );
        assert_eq!(
            DeliveryEnvelope::parse(
                br#"{"resource":"messages","event":"created","data":{"id":"m"}}"#
            ),
            Err(EnvelopeError::Missing("data.roomId"))
        );
        assert_eq!(
            DeliveryEnvelope::parse(
                br#"{"resource":"messages","event":"created","data":{"id":7}}"#
            ),
            Err(EnvelopeError::Missing("data.id"))
        );
        assert_eq!(
            DeliveryEnvelope::parse(br#"[1,2]"#)
                .map_err(|e| matches!(e, EnvelopeError::NotJson(_))),
            Err(true)
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 3000, ..Default::default() })]

        #[test]
        fn arbitrary_bytes_never_panic(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2048)) {
            let _ = DeliveryEnvelope::parse(&body);
        }

        #[test]
        fn arbitrary_json_envelopes_never_panic(
            resource in proptest::prop_oneof![proptest::prelude::Just("messages".to_owned()), proptest::prelude::Just("meetings".to_owned()), "\\PC{0,10}"],
            event in proptest::prop_oneof![proptest::prelude::Just("created".to_owned()), "\\PC{0,10}"],
            id in proptest::option::of("\\PC{0,40}"),
            room in proptest::option::of("\\PC{0,40}"),
            person in proptest::option::of("\\PC{0,40}"),
            created_by in proptest::option::of("\\PC{0,40}"),
            extra in "\\PC{0,100}",
        ) {
            let body = serde_json::json!({
                "resource": resource, "event": event, "createdBy": created_by, "extra": extra,
                "data": {"id": id, "roomId": room, "personId": person},
            });
            let bytes = serde_json::to_vec(&body).unwrap();
            match DeliveryEnvelope::parse(&bytes) {
                Ok(DeliveryEnvelope::Event { key, .. }) => {
                    proptest::prop_assert!(!key.data_id.is_empty());
                }
                Ok(DeliveryEnvelope::Ignored { .. }) | Err(_) => {}
            }
        }
    }

    #[test]
    fn deeply_nested_json_is_refused_not_a_stack_overflow() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(matches!(
            DeliveryEnvelope::parse(deep.as_bytes()),
            Err(EnvelopeError::NotJson(_))
        ));
    }

    #[test]
    fn error_bodies_give_their_best_message() {
        let b: ErrorBody = serde_json::from_str(
            r#"{"message":"","errors":[{"description":"Bad room"}],"trackingId":"T1"}"#,
        )
        .unwrap();
        assert_eq!(b.best_message().as_deref(), Some("Bad room"));
        assert_eq!(b.tracking_id.as_deref(), Some("T1"));
        let o: ErrorBody =
            serde_json::from_str(r#"{"error":"invalid_grant","error_description":"expired"}"#)
                .unwrap();
        assert_eq!(o.best_message().as_deref(), Some("invalid_grant: expired"));
    }
}

/// `POST /meetings` body (Meetings spec, `CreateMeetingObject`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateMeeting<'a> {
    /// `meet now`: an instant meeting tied to `room_id`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adhoc: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub room_id: Option<&'a str>,
    pub title: &'a str,
    pub start: String,
    pub end: String,
    pub timezone: &'a str,
    #[serde(skip_serializing_if = "no_tags")]
    pub integration_tags: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recurrence: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub invitees: Vec<Invitee<'a>>,
    /// Present (true) only with invitees: Webex emails them the invitation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub send_email: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template_id: Option<&'a str>,
}

fn no_tags(tags: &&[String]) -> bool {
    tags.is_empty()
}

/// A meeting template (Meetings spec, `TemplateObject`), the fields Botper reads.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TemplateDto {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub is_default: bool,
}

impl From<TemplateDto> for crate::domain::meeting::MeetingTemplate {
    fn from(t: TemplateDto) -> Self {
        Self {
            id: t.id,
            name: t.name,
            is_default: t.is_default,
        }
    }
}

/// `InviteeObjectForCreateMeeting`: by email.
#[derive(Serialize)]
pub(crate) struct Invitee<'a> {
    pub email: &'a str,
}

/// A meeting (Meetings spec, `MeetingSeriesObject`), the fields Botper reads.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MeetingDto {
    pub id: String,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub web_link: Option<String>,
    pub start: String,
    pub end: String,
    #[serde(default)]
    pub timezone: Option<String>,
    #[serde(default)]
    pub host_user_id: Option<String>,
    #[serde(default)]
    pub host_email: Option<String>,
    #[serde(default)]
    pub integration_tags: Vec<String>,
    #[serde(default)]
    pub meeting_series_id: Option<String>,
    #[serde(default)]
    pub adhoc: bool,
}

impl TryFrom<MeetingDto> for crate::ports::Meeting {
    type Error = anyhow::Error;

    fn try_from(m: MeetingDto) -> Result<Self, Self::Error> {
        let ts = |s: &str| {
            s.parse::<jiff::Timestamp>()
                .map_err(|e| anyhow::anyhow!("meeting time `{s}`: {e}"))
        };
        Ok(crate::ports::Meeting {
            start: ts(&m.start)?,
            end: ts(&m.end)?,
            title: m.title.unwrap_or_else(|| "Webex meeting".into()),
            web_link: m.web_link.unwrap_or_default(),
            id: m.id,
            timezone: m.timezone,
            host_user_id: m.host_user_id.map(PersonId::new),
            host_email: m.host_email,
            integration_tags: m.integration_tags,
            series_id: m.meeting_series_id,
            adhoc: m.adhoc,
        })
    }
}

#[derive(Deserialize)]
pub(crate) struct ItemsDto<T> {
    #[serde(default = "Vec::new")]
    pub items: Vec<T>,
}

/// `POST /webhooks` and `PUT /webhooks/{id}` bodies (Messaging spec).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WebhookBody<'a> {
    pub name: &'a str,
    pub target_url: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<&'a str>,
    pub secret: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<&'a str>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WebhookDto {
    pub id: String,
    #[serde(default)]
    pub name: String,
    pub target_url: String,
    pub resource: String,
    pub event: String,
    #[serde(default)]
    pub filter: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub secret: Option<String>,
}

impl From<WebhookDto> for crate::ports::Webhook {
    fn from(w: WebhookDto) -> Self {
        crate::ports::Webhook {
            id: w.id,
            name: w.name,
            target_url: w.target_url,
            resource: w.resource,
            event: w.event,
            filter: w.filter,
            status: w.status.unwrap_or_else(|| "active".into()),
            secret: w.secret,
        }
    }
}

/// The token endpoint's answer.
#[derive(Deserialize)]
pub(crate) struct TokenDto {
    pub access_token: String,
    pub expires_in: i64,
    pub refresh_token: String,
    pub refresh_token_expires_in: Option<i64>,
    #[serde(default)]
    pub scope: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UserDto {
    pub id: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub emails: Vec<String>,
    #[serde(default)]
    pub timezone: Option<String>,
    #[serde(default)]
    pub org_id: Option<String>,
}
