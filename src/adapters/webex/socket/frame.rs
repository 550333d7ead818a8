//! The Webex websocket's frames (Mercury): what Botper sends, and how an event becomes
//! the same inbox entry a webhook delivery would (same event, same dedup key).

use serde::Deserialize;

use crate::domain::ids::{rest_id, uuid_in};
use crate::domain::{MessageId, PersonId, RoomId};
use crate::ports::{DedupKey, RoomType, WebexEvent};

/// A frame Webex sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    /// An event (acked whatever it is): `activity` for `conversation.activity`.
    Event {
        envelope_id: String,
        event_type: String,
        activity: Option<Box<Activity>>,
    },
    /// The answer to one of our pings.
    Pong { id: String },
    /// Anything else (acked if it has an envelope id).
    Other { envelope_id: Option<String> },
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Activity {
    pub id: String,
    pub verb: String,
    #[serde(default)]
    pub actor: Option<Actor>,
    #[serde(default)]
    pub object: Option<Object>,
    #[serde(default)]
    pub target: Option<Target>,
    #[serde(default)]
    pub parent: Option<Parent>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Actor {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(rename = "entryUUID", default)]
    pub entry_uuid: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Object {
    #[serde(rename = "objectType", default)]
    pub object_type: Option<String>,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(rename = "entryUUID", default)]
    pub entry_uuid: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Target {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(rename = "objectType", default)]
    pub object_type: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Parent {
    #[serde(default)]
    pub id: Option<String>,
}

#[derive(Deserialize)]
struct RawFrame {
    #[serde(default)]
    id: Option<serde_json::Value>,
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    data: Option<RawData>,
}

#[derive(Deserialize)]
struct RawData {
    #[serde(rename = "eventType", default)]
    event_type: Option<String>,
    #[serde(default)]
    activity: Option<serde_json::Value>,
}

/// Reads a frame (text, or binary carrying the same JSON).
///
/// # Errors
/// Text that is not a JSON object; the caller logs it and carries on.
pub fn parse(bytes: &[u8]) -> Result<Inbound, String> {
    let raw: RawFrame = serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
    let id = raw.id.and_then(|v| match v {
        serde_json::Value::String(s) => Some(s),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    });
    if raw.kind.as_deref() == Some("pong") {
        return Ok(Inbound::Pong {
            id: id.unwrap_or_default(),
        });
    }
    match (id, raw.data) {
        (Some(envelope_id), Some(data)) => {
            let event_type = data.event_type.unwrap_or_default();
            // An activity that does not read is acked and dropped, not a broken socket.
            let activity = data
                .activity
                .and_then(|a| serde_json::from_value::<Activity>(a).ok())
                .map(Box::new);
            Ok(Inbound::Event {
                envelope_id,
                event_type,
                activity,
            })
        }
        (envelope_id, _) => Ok(Inbound::Other { envelope_id }),
    }
}

/// `{"id": …, "type": "authorization", "data": {"token": "Bearer …"}}`: the first frame.
/// (The token is in it: never log it.)
pub fn authorization(id: &str, token: &str) -> String {
    serde_json::json!({"id": id, "type": "authorization", "data": {"token": format!("Bearer {token}")}})
        .to_string()
}

/// `{"messageId": <envelope id>, "type": "ack"}`.
pub fn ack(envelope_id: &str) -> String {
    serde_json::json!({"messageId": envelope_id, "type": "ack"}).to_string()
}

/// `{"id": …, "type": "ping"}`.
pub fn ping(id: &str) -> String {
    serde_json::json!({"id": id, "type": "ping"}).to_string()
}

/// What Botper does with an activity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Meaning {
    /// Into the inbox, under the key a webhook delivery of the same event would have.
    Event(DedupKey, WebexEvent),
    /// A verb Botper does not act on.
    Ignored,
}

/// An activity as the event Botper acts on: `post`/`share` → `messages`/`created`,
/// `cardAction` → `attachmentActions`/`created`, `add` of a person → `memberships`/
/// `created`. The REST ids are derived from the activity's uuids (see
/// [`crate::domain::ids::rest_id`]); the content itself is encrypted, so it is read over
/// REST as for a webhook.
///
/// # Errors
/// An activity of a verb Botper acts on that lacks what it needs.
pub fn meaning(a: &Activity) -> Result<Meaning, String> {
    let room_uuid = || {
        a.target
            .as_ref()
            .filter(|t| t.object_type.as_deref().is_none_or(|k| k == "conversation"))
            .and_then(|t| t.id.clone())
            .filter(|id| !id.is_empty())
            .ok_or_else(|| format!("{} activity without a conversation", a.verb))
    };
    let actor = || {
        a.actor
            .as_ref()
            .and_then(|p| p.entry_uuid.clone().or_else(|| p.id.clone()))
            .filter(|id| !id.is_empty())
            .map(|uuid| PersonId::new(rest_id("PEOPLE", &uuid)))
            .ok_or_else(|| format!("{} activity without an actor", a.verb))
    };
    let key = |resource: &str, data_id: &str| DedupKey {
        resource: resource.into(),
        event: "created".into(),
        data_id: data_id.into(),
    };
    if a.id.is_empty() {
        return Err("activity without an id".into());
    }
    Ok(match a.verb.as_str() {
        "post" | "share" => {
            let message_id = rest_id("MESSAGE", &a.id);
            Meaning::Event(
                key("messages", &message_id),
                WebexEvent::MessageCreated {
                    message_id: MessageId::new(message_id.clone()),
                    room_id: RoomId::new(rest_id("ROOM", &room_uuid()?)),
                    person_id: actor()?,
                },
            )
        }
        "cardAction" => {
            let action_id = rest_id("ATTACHMENT_ACTION", &a.id);
            Meaning::Event(
                key("attachmentActions", &action_id),
                WebexEvent::CardAction {
                    action_id: action_id.clone(),
                    person_id: actor()?,
                    room_id: RoomId::new(rest_id("ROOM", &room_uuid()?)),
                },
            )
        }
        "add" => {
            let Some(person_uuid) = a
                .object
                .as_ref()
                .filter(|o| o.object_type.as_deref() == Some("person"))
                .and_then(|o| o.entry_uuid.clone().or_else(|| o.id.clone()))
                .filter(|id| !id.is_empty())
            else {
                // Adding something other than a person (a file, a tag): not a membership.
                return Ok(Meaning::Ignored);
            };
            let room = room_uuid()?;
            let one_on_one = a
                .target
                .as_ref()
                .is_some_and(|t| t.tags.iter().any(|t| t == "ONE_ON_ONE"));
            // Webex's membership ids are `MEMBERSHIP/<person uuid>:<room uuid>`.
            let membership_id = rest_id("MEMBERSHIP", &format!("{person_uuid}:{room}"));
            Meaning::Event(
                key("memberships", &membership_id),
                WebexEvent::MembershipCreated {
                    membership_id: membership_id.clone(),
                    room_id: RoomId::new(rest_id("ROOM", &room)),
                    person_id: PersonId::new(rest_id("PEOPLE", &person_uuid)),
                    room_type: Some(if one_on_one {
                        RoomType::Direct
                    } else {
                        RoomType::Group
                    }),
                },
            )
        }
        _ => Meaning::Ignored,
    })
}

/// The uuid Webex knows a person by on the socket (the bot's own, to tell its posts).
pub fn person_uuid(id: &PersonId) -> Option<String> {
    uuid_in(id.as_str(), "PEOPLE")
}

#[cfg(test)]
mod tests {
    use super::*;

    const POST: &str = r#"{
      "id": "f3d1e3a0-0000-4000-8000-00000000e001",
      "data": {
        "eventType": "conversation.activity",
        "activity": {
          "id": "9be4e6a0-3bb4-11ef-a5c5-d1f06a4e2b0c",
          "objectType": "activity",
          "verb": "post",
          "published": "2026-12-07T12:00:00.000Z",
          "url": "https://conv-a.wbx2.com/conversation/api/v1/activities/9be4e6a0-3bb4-11ef-a5c5-d1f06a4e2b0c",
          "encryptionKeyUrl": "kms://kms-a.wbx2.com/keys/1",
          "actor": {"id": "0c8a3c7e-5a1a-4e0e-9b4c-2f1d6a7b8c9d", "objectType": "person",
                    "displayName": "Pat", "emailAddress": "pat@example.com",
                    "entryUUID": "0c8a3c7e-5a1a-4e0e-9b4c-2f1d6a7b8c9d", "type": "PERSON"},
          "object": {"objectType": "comment", "displayName": "eyJhbGciOi…", "content": "eyJhbGciOi…"},
          "target": {"id": "5d1c0f10-3bb4-11ef-a5c5-d1f06a4e2b0c", "objectType": "conversation",
                     "url": "https://conv-a.wbx2.com/conversation/api/v1/conversations/5d1c…",
                     "tags": ["ONE_ON_ONE", "LOCKED"]}
        }
      },
      "timestamp": 1765108800000,
      "trackingId": "WEBEX_1",
      "alertType": "full",
      "headers": {},
      "sequenceNumber": 7,
      "filterMessage": false
    }"#;

    fn activity(frame: &str) -> Activity {
        match parse(frame.as_bytes()).unwrap() {
            Inbound::Event {
                activity: Some(a), ..
            } => *a,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_post_is_the_message_webex_would_have_sent_a_webhook_for() {
        let frame = parse(POST.as_bytes()).unwrap();
        let Inbound::Event {
            envelope_id,
            event_type,
            activity: Some(a),
        } = frame
        else {
            panic!("{frame:?}")
        };
        assert_eq!(envelope_id, "f3d1e3a0-0000-4000-8000-00000000e001");
        assert_eq!(event_type, "conversation.activity");
        let Meaning::Event(key, event) = meaning(&a).unwrap() else {
            panic!()
        };
        let message =
            "Y2lzY29zcGFyazovL3VzL01FU1NBR0UvOWJlNGU2YTAtM2JiNC0xMWVmLWE1YzUtZDFmMDZhNGUyYjBj";
        assert_eq!(
            key,
            DedupKey {
                resource: "messages".into(),
                event: "created".into(),
                data_id: message.into()
            },
            "the same key as the webhook for this message"
        );
        assert_eq!(
            event,
            WebexEvent::MessageCreated {
                message_id: message.into(),
                room_id: rest_id("ROOM", "5d1c0f10-3bb4-11ef-a5c5-d1f06a4e2b0c").into(),
                person_id: "Y2lzY29zcGFyazovL3VzL1BFT1BMRS8wYzhhM2M3ZS01YTFhLTRlMGUtOWI0Yy0yZjFkNmE3YjhjOWQ"
                    .into(),
            }
        );
    }

    #[test]
    fn a_card_submit_is_an_attachment_action() {
        let frame = POST
            .replace(r#""verb": "post""#, r#""verb": "cardAction", "parent": {"id": "11111111-0000-4000-8000-000000000001", "type": "cardAction"}"#);
        let a = activity(&frame);
        assert_eq!(
            a.parent.as_ref().unwrap().id.as_deref(),
            Some("11111111-0000-4000-8000-000000000001")
        );
        let Meaning::Event(key, event) = meaning(&a).unwrap() else {
            panic!()
        };
        let action = rest_id("ATTACHMENT_ACTION", "9be4e6a0-3bb4-11ef-a5c5-d1f06a4e2b0c");
        assert_eq!(key.resource, "attachmentActions");
        assert_eq!(key.data_id, action);
        assert!(matches!(event, WebexEvent::CardAction { action_id, .. } if action_id == action));
    }

    #[test]
    fn adding_the_bot_is_a_membership_with_its_room_type() {
        let frame = POST
            .replace(r#""verb": "post""#, r#""verb": "add""#)
            .replace(
                r#""object": {"objectType": "comment", "displayName": "eyJhbGciOi…", "content": "eyJhbGciOi…"}"#,
                r#""object": {"objectType": "person", "id": "b0b0b0b0-0000-4000-8000-000000000001", "entryUUID": "b0b0b0b0-0000-4000-8000-000000000001"}"#,
            )
            .replace(r#"["ONE_ON_ONE", "LOCKED"]"#, "[]");
        let Meaning::Event(key, event) = meaning(&activity(&frame)).unwrap() else {
            panic!()
        };
        assert_eq!(key.resource, "memberships");
        assert_eq!(
            uuid_in(&key.data_id, "MEMBERSHIP").as_deref(),
            Some("b0b0b0b0-0000-4000-8000-000000000001:5d1c0f10-3bb4-11ef-a5c5-d1f06a4e2b0c")
        );
        match event {
            WebexEvent::MembershipCreated {
                person_id,
                room_type,
                ..
            } => {
                assert_eq!(
                    person_id.as_str(),
                    rest_id("PEOPLE", "b0b0b0b0-0000-4000-8000-000000000001")
                );
                assert_eq!(room_type, Some(RoomType::Group));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn other_verbs_and_frames_are_acked_and_ignored() {
        for verb in ["acknowledge", "update", "delete", "leave", "hide"] {
            let frame = POST.replace(r#""verb": "post""#, &format!(r#""verb": "{verb}""#));
            assert_eq!(
                meaning(&activity(&frame)).unwrap(),
                Meaning::Ignored,
                "{verb}"
            );
        }
        let buffer = r#"{"id":"e1","data":{"eventType":"mercury.buffer_state"},"timestamp":1}"#;
        assert_eq!(
            parse(buffer.as_bytes()).unwrap(),
            Inbound::Event {
                envelope_id: "e1".into(),
                event_type: "mercury.buffer_state".into(),
                activity: None
            }
        );
        assert_eq!(
            parse(br#"{"type":"pong","id":"p1"}"#).unwrap(),
            Inbound::Pong { id: "p1".into() }
        );
        assert_eq!(
            parse(br#"{"type":"something"}"#).unwrap(),
            Inbound::Other { envelope_id: None }
        );
        assert!(parse(b"not json").is_err());
        // An activity that does not read is still an event (acked), without an activity.
        let odd =
            r#"{"id":"e2","data":{"eventType":"conversation.activity","activity":{"verb":3}}}"#;
        assert!(matches!(
            parse(odd.as_bytes()).unwrap(),
            Inbound::Event { activity: None, .. }
        ));
    }

    #[test]
    fn a_post_without_its_room_or_actor_is_refused() {
        let mut a = activity(POST);
        a.target = None;
        assert!(meaning(&a).unwrap_err().contains("conversation"));
        let mut a = activity(POST);
        a.actor = None;
        assert!(meaning(&a).unwrap_err().contains("actor"));
    }

    #[test]
    fn what_botper_sends_is_what_webex_expects() {
        let auth: serde_json::Value = serde_json::from_str(&authorization("u1", "tok")).unwrap();
        assert_eq!(
            auth,
            serde_json::json!({"id": "u1", "type": "authorization", "data": {"token": "Bearer tok"}})
        );
        let ack: serde_json::Value = serde_json::from_str(&ack("e1")).unwrap();
        assert_eq!(ack, serde_json::json!({"messageId": "e1", "type": "ack"}));
        let ping: serde_json::Value = serde_json::from_str(&ping("p1")).unwrap();
        assert_eq!(ping, serde_json::json!({"id": "p1", "type": "ping"}));
    }
}
