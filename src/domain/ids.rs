//! Webex identifiers. Webex ids are opaque strings; these newtypes only keep them apart.

use std::fmt;

macro_rules! opaque_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub fn new(raw: impl Into<String>) -> Self {
                Self(raw.into())
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl From<&str> for $name {
            fn from(raw: &str) -> Self {
                Self(raw.to_owned())
            }
        }

        impl From<String> for $name {
            fn from(raw: String) -> Self {
                Self(raw)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

opaque_id!(
    /// A Webex person (the owner of tasks and grants).
    PersonId
);
opaque_id!(
    /// A Webex space ("room").
    RoomId
);
opaque_id!(
    /// A Webex message.
    MessageId
);

/// Webex's REST id of a `kind` (`MESSAGE`, `ROOM`, `PEOPLE`, `ATTACHMENT_ACTION`,
/// `MEMBERSHIP`) known by its uuid, as the websocket names things: standard base64 of
/// `ciscospark://us/<kind>/<uuid>` without the `=` padding.
pub fn rest_id(kind: &str, uuid: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD_NO_PAD
        .encode(format!("ciscospark://us/{kind}/{uuid}"))
}

/// The uuid inside a REST id of `kind` (the inverse of [`rest_id`]); `None` for anything
/// else. Accepts the id with or without its padding, and the cluster part (`us`, `eu`, …).
pub fn uuid_in(id: &str, kind: &str) -> Option<String> {
    use base64::Engine;
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    let bytes = engine.decode(id.trim()).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let rest = text.strip_prefix("ciscospark://")?;
    let (_cluster, rest) = rest.split_once('/')?;
    let (k, uuid) = rest.split_once('/')?;
    (k == kind && !uuid.is_empty()).then(|| uuid.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_id_is_the_unpadded_base64_of_its_uri() {
        let uuid = "9be4e6a0-3bb4-11ef-a5c5-d1f06a4e2b0c";
        let id = rest_id("MESSAGE", uuid);
        assert_eq!(
            id,
            "Y2lzY29zcGFyazovL3VzL01FU1NBR0UvOWJlNGU2YTAtM2JiNC0xMWVmLWE1YzUtZDFmMDZhNGUyYjBj"
        );
        assert_eq!(uuid_in(&id, "MESSAGE").as_deref(), Some(uuid));
    }

    #[test]
    fn a_padded_length_is_left_unpadded_and_read_back() {
        // "ciscospark://us/PEOPLE/" + 36 = 59 bytes → 79 chars + "=" in standard base64.
        let uuid = "0c8a3c7e-5a1a-4e0e-9b4c-2f1d6a7b8c9d";
        let id = rest_id("PEOPLE", uuid);
        assert_eq!(
            id,
            "Y2lzY29zcGFyazovL3VzL1BFT1BMRS8wYzhhM2M3ZS01YTFhLTRlMGUtOWI0Yy0yZjFkNmE3YjhjOWQ"
        );
        assert_eq!(uuid_in(&id, "PEOPLE").as_deref(), Some(uuid));
        assert_eq!(uuid_in(&format!("{id}="), "PEOPLE").as_deref(), Some(uuid));
        let room = rest_id("ROOM", uuid);
        assert_eq!(uuid_in(&room, "ROOM").as_deref(), Some(uuid));
        assert_eq!(uuid_in(&room, "PEOPLE"), None, "another kind");
    }

    #[test]
    fn other_strings_have_no_uuid() {
        assert_eq!(uuid_in("not base64!", "MESSAGE"), None);
        assert_eq!(uuid_in("aGVsbG8", "MESSAGE"), None);
        assert_eq!(uuid_in(&rest_id("MESSAGE", ""), "MESSAGE"), None);
    }
}
