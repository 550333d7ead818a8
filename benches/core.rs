//! Micro-benchmarks of the hot pure paths: command parsing (with mention stripping),
//! the webhook signature check, and reply rendering.
//!
//! `cargo bench --bench core`

use std::hint::black_box;

use botper::adapters::http::signature::{sign, verify};
use botper::domain::mention::strip_bot_mention;
use botper::domain::reply;
use botper::domain::{Command, Task, TaskNumber, TaskTitle};
use criterion::{Criterion, criterion_group, criterion_main};
use secrecy::SecretString;

const BOT: &str = "Y2lzY29zcGFyazovL3VzL1BFT1BMRS9ib3QtdXVpZC0x";

fn parsing(c: &mut Criterion) {
    let mut g = c.benchmark_group("parse");
    for (name, text) in [
        ("task", "task Buy milk and eggs for the weekend"),
        ("list", "list"),
        ("done", "done #12"),
        (
            "meeting",
            "meeting Quarterly review tomorrow at 15:00 for 45m",
        ),
        ("unknown", "frobnicate the widgets"),
    ] {
        g.bench_function(name, |b| b.iter(|| Command::parse(black_box(text))));
    }
    let html = format!(
        r#"<p><spark-mention data-object-type="person" data-object-id="{BOT}">Botper</spark-mention> task Buy milk</p>"#
    );
    g.bench_function("mention+task", |b| {
        b.iter(|| {
            let text = strip_bot_mention(black_box("Botper task Buy milk"), Some(&html), BOT);
            Command::parse(&text)
        })
    });
    g.finish();
}

fn signature(c: &mut Criterion) {
    let body = serde_json::to_vec(&serde_json::json!({
        "id": "Y2lzY29zcGFyazovL3VzL1dFQkhPT0svd2gtMQ", "name": "botper", "resource": "messages",
        "event": "created", "orgId": "Y2lzY29zcGFyazovL3VzL09SR0FOSVpBVElPTi9vcmc",
        "createdBy": "Y2lzY29zcGFyazovL3VzL1BFT1BMRS9ib3Q", "ownedBy": "creator", "status": "active",
        "actorId": "Y2lzY29zcGFyazovL3VzL1BFT1BMRS9wMQ",
        "data": {"id": "Y2lzY29zcGFyazovL3VzL01FU1NBR0UvbTE", "roomId": "Y2lzY29zcGFyazovL3VzL1JPT00vcjE",
                 "personId": "Y2lzY29zcGFyazovL3VzL1BFT1BMRS9wMQ", "personEmail": "p1@example.com",
                 "created": "2026-11-29T12:00:00.000Z"}
    }))
    .unwrap();
    let secret = SecretString::from("a-webhook-secret-of-usual-length".to_owned());
    let good = sign("a-webhook-secret-of-usual-length", &body);
    let mut g = c.benchmark_group("signature");
    g.throughput(criterion::Throughput::Bytes(body.len() as u64));
    g.bench_function("verify_valid", |b| {
        b.iter(|| verify(&secret, black_box(&body), Some(black_box(&good))))
    });
    g.bench_function("verify_forged", |b| {
        b.iter(|| {
            verify(
                &secret,
                black_box(&body),
                Some(black_box("0123456789abcdef0123456789abcdef01234567")),
            )
        })
    });
    g.finish();
}

fn rendering(c: &mut Criterion) {
    let tasks: Vec<Task> = (1..=20)
        .map(|n| Task {
            number: TaskNumber::new(n).unwrap(),
            title: TaskTitle::parse(&format!("Task number {n} with *markdown* and <@all>"))
                .unwrap(),
            done: false,
            created_at: jiff::Timestamp::UNIX_EPOCH,
            meeting: None,
            due: None,
            remind_at: None,
        })
        .collect();
    let mut g = c.benchmark_group("render");
    g.bench_function("list_20", |b| {
        b.iter(|| reply::task_list(black_box(&tasks)))
    });
    g.bench_function("list_20_with_card", |b| {
        b.iter(|| reply::task_list_with_card(&"p1".into(), black_box(&tasks), None))
    });
    g.bench_function("created", |b| {
        b.iter(|| {
            reply::outcome(&botper::domain::TaskOutcome::Created(black_box(
                tasks[0].clone(),
            )))
        })
    });
    g.finish();
}

criterion_group!(benches, parsing, signature, rendering);
criterion_main!(benches);
