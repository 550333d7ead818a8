//! The fake's `POST /messages` takes `multipart/form-data` as Webex does for a message with a
//! file: the file is kept, the message gets its URL in `files`, and one file per message.

use serde_json::{Value, json};

use crate::support::FakeWebex;
use crate::support::fake_webex::BOT_TOKEN;

const BOUNDARY: &str = "----botper-test-boundary-7MA4YWxkTrZu0gW";

/// A text field, or a file part (`name`, `filename`, `content type`, bytes).
enum Part<'a> {
    Field(&'a str, &'a str),
    File(&'a str, &'a str, &'a str, &'a [u8]),
}

fn multipart(parts: &[Part]) -> Vec<u8> {
    let mut body = Vec::new();
    for part in parts {
        body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        match part {
            Part::Field(name, value) => {
                body.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}")
                        .as_bytes(),
                );
            }
            Part::File(name, filename, content_type, bytes) => {
                body.extend_from_slice(
                    format!(
                        "Content-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\n\
                         Content-Type: {content_type}\r\n\r\n"
                    )
                    .as_bytes(),
                );
                body.extend_from_slice(bytes);
            }
        }
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

async fn post_multipart(fake: &FakeWebex, body: Vec<u8>) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(format!("{}/messages", fake.base_url()))
        .bearer_auth(BOT_TOKEN)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test]
async fn a_multipart_message_keeps_its_file() {
    let fake = FakeWebex::start().await;
    let room = fake.new_room_id();
    // Bytes that are not UTF-8, and a CRLF that is not a boundary.
    let ics: &[u8] =
        b"BEGIN:VCALENDAR\r\nX-BIN:\xff\xfe\r\n--not-the-boundary\r\nEND:VCALENDAR\r\n";
    let body = multipart(&[
        Part::Field("roomId", &room),
        Part::Field("markdown", "Your **agenda** is attached"),
        Part::File("files", "agenda.ics", "text/calendar", ics),
    ]);
    let (status, answer) = post_multipart(&fake, body).await;
    assert_eq!(status, 200, "{answer}");

    let sent = fake.sent();
    assert_eq!(sent.len(), 1);
    let s = &sent[0];
    assert_eq!(s.token, BOT_TOKEN);
    assert_eq!(s.room_id(), Some(room.as_str()));
    assert_eq!(s.markdown(), "Your **agenda** is attached");
    assert_eq!(s.files.len(), 1);
    let file = s.file().unwrap();
    assert_eq!(file.name, "agenda.ics");
    assert_eq!(file.content_type, "text/calendar");
    assert_eq!(file.bytes, ics);
    assert!(file.text().starts_with("BEGIN:VCALENDAR\r\n"));
    let urls = s.body["files"].as_array().expect("files is an array");
    assert_eq!(urls.len(), 1);
    assert!(
        urls[0]
            .as_str()
            .unwrap()
            .starts_with("https://webexapis.com/v1/contents/")
    );
    // The answer is the created message, with its file's URL.
    assert_eq!(answer["id"], json!(s.id));
    assert_eq!(answer["files"], s.body["files"]);
    assert_eq!(answer["roomId"], json!(room));
    fake.assert_spec_clean();
}

#[tokio::test]
async fn two_files_are_refused() {
    let fake = FakeWebex::start().await;
    let room = fake.new_room_id();
    let body = multipart(&[
        Part::Field("roomId", &room),
        Part::Field("text", "two files"),
        Part::File("files", "a.txt", "text/plain", b"a"),
        Part::File("files", "b.txt", "text/plain", b"b"),
    ]);
    let (status, answer) = post_multipart(&fake, body).await;
    assert_eq!(status, 400);
    assert!(answer["message"].as_str().unwrap().contains("one file"));
    assert!(answer["trackingId"].is_string());
    assert_eq!(fake.sent_count(), 0);
    let v = fake.violations();
    assert_eq!(v.len(), 1, "{v:?}");
    assert!(v[0].contains("only one file per message"), "{v:?}");
}

#[tokio::test]
async fn bad_multipart_is_refused() {
    let fake = FakeWebex::start().await;
    let room = fake.new_room_id();
    // No destination: refused as a JSON message would be.
    let no_room = multipart(&[Part::File("files", "a.txt", "text/plain", b"a")]);
    assert_eq!(post_multipart(&fake, no_room).await.0, 400);
    // No closing boundary: does not parse.
    let mut cut = multipart(&[Part::Field("roomId", &room)]);
    cut.truncate(cut.len() - BOUNDARY.len() - 8);
    assert_eq!(post_multipart(&fake, cut).await.0, 400);
    assert_eq!(fake.sent_count(), 0);
    let v = fake.violations();
    assert_eq!(v.len(), 1, "{v:?}");
    assert!(v[0].contains("does not parse"), "{v:?}");
}

#[tokio::test]
async fn a_json_message_still_works_and_has_no_files() {
    let fake = FakeWebex::start().await;
    let room = fake.new_room_id();
    let r = reqwest::Client::new()
        .post(format!("{}/messages", fake.base_url()))
        .bearer_auth(BOT_TOKEN)
        .json(&json!({"roomId": room, "markdown": "hello"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let sent = fake.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].markdown(), "hello");
    assert!(sent[0].files.is_empty());
    assert!(sent[0].file().is_none());
    assert!(sent[0].body.get("files").is_none());
    fake.assert_spec_clean();
}

#[tokio::test]
async fn an_unauthenticated_upload_gets_401() {
    let fake = FakeWebex::start().await;
    let room = fake.new_room_id();
    let body = multipart(&[
        Part::Field("roomId", &room),
        Part::File("files", "a.txt", "text/plain", b"a"),
    ]);
    let r = reqwest::Client::new()
        .post(format!("{}/messages", fake.base_url()))
        .bearer_auth("no-such-token")
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(fake.sent_count(), 0);
}

#[tokio::test]
async fn a_file_over_100_mb_is_refused() {
    let fake = FakeWebex::start().await;
    let room = fake.new_room_id();
    let big = vec![b'x'; 100 * 1024 * 1024 + 1];
    let body = multipart(&[
        Part::Field("roomId", &room),
        Part::File("files", "big.bin", "application/octet-stream", &big),
    ]);
    drop(big);
    let (status, answer) = post_multipart(&fake, body).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(fake.sent_count(), 0);
    let v = fake.violations();
    assert_eq!(v.len(), 1, "{v:?}");
    assert!(v[0].contains("100 MB"), "{v:?}");
}
