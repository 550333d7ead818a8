//! Meetings without webhooks (websocket mode): the socket holder lists each connected
//! person's meetings every `BOTPER_MEETINGS_POLL_SECS` and feeds what changed into the
//! inbox under the keys the meetings webhook uses, so that a meeting becomes a task
//! exactly once whichever way Webex told Botper about it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use jiff::SignedDuration;
use tokio::sync::{Semaphore, watch};

use super::grants::UserCall;
use super::leader::Signal;
use super::{App, AppError, Receipt};
use crate::domain::PersonId;
use crate::domain::polling::{self, Change, Listed, Seen};
use crate::ports::{DedupKey, Meeting, WebexError, WebexEvent};

/// Meetings starting from an hour ago (one in progress is still listed)…
const LOOK_BACK: SignedDuration = SignedDuration::from_hours(1);
/// …to 31 days ahead. A meeting scheduled further out is noticed when it comes within.
const LOOK_AHEAD: SignedDuration = SignedDuration::from_hours(31 * 24);
/// Polls running at once.
const PARALLEL: usize = 8;

/// What one person's poll did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PollOutcome {
    /// Their first poll: what is there now is recorded, not news.
    Baseline { meetings: usize },
    /// `changes` events fed into the inbox (0: nothing changed).
    Polled { meetings: usize, changes: usize },
    /// No usable grant: nothing to poll.
    NoGrant,
    /// Webex asked to slow down (429).
    RateLimited(Option<Duration>),
}

impl PollOutcome {
    fn metric(&self) -> &'static str {
        match self {
            Self::Baseline { .. } => "baseline",
            Self::Polled { changes: 0, .. } => "unchanged",
            Self::Polled { .. } => "changed",
            Self::NoGrant => "no_grant",
            Self::RateLimited(_) => "rate_limited",
        }
    }
}

/// The listed meetings as poll entries: occurrences of a series folded into one entry
/// under the series id (its task is the series'), instant meetings left out.
fn entries(meetings: &[Meeting]) -> Vec<Listed> {
    let mut sorted: Vec<&Meeting> = meetings.iter().filter(|m| !m.adhoc).collect();
    sorted.sort_by_key(|m| m.start);
    let mut out: Vec<Listed> = Vec::new();
    for m in sorted {
        let id = m.series_id.clone().unwrap_or_else(|| m.id.clone());
        if out.iter().any(|l| l.id == id) {
            continue;
        }
        out.push(Listed {
            fingerprint: polling::fingerprint(
                &m.title,
                &m.web_link,
                m.start,
                m.end,
                m.series_id.is_some(),
            ),
            id,
            start: m.start,
        });
    }
    out
}

fn snapshot(listed: &[Listed]) -> Vec<Seen> {
    listed
        .iter()
        .map(|l| Seen {
            id: l.id.clone(),
            fingerprint: l.fingerprint.clone(),
            start: l.start,
        })
        .collect()
}

impl App {
    /// Records what `owner`'s meetings are now without telling anything (at connect, in
    /// websocket mode: only what is scheduled after it is news). Best effort.
    pub(crate) async fn baseline_meetings(&self, owner: &PersonId) {
        if let Err(e) = self.poll_meetings_inner(owner, true).await {
            tracing::info!(person = %owner, error = %e, "no meetings baseline at connect; the first poll takes it");
        }
    }

    /// One poll of `owner`'s meetings: new, changed and cancelled ones go into the inbox
    /// (`meetings`/`created`, `updated`, `deleted` events, with the webhook's keys for a
    /// creation and a deletion), then the snapshot is replaced.
    ///
    /// # Errors
    /// Store failures and Webex failures worth retrying at the next poll.
    pub async fn poll_meetings(&self, owner: &PersonId) -> Result<PollOutcome, AppError> {
        let r = self.poll_meetings_inner(owner, false).await;
        match &r {
            Ok(o) => self.metrics.meetings_poll(o.metric()),
            Err(_) => self.metrics.meetings_poll("failed"),
        }
        r
    }

    async fn poll_meetings_inner(
        &self,
        owner: &PersonId,
        baseline: bool,
    ) -> Result<PollOutcome, AppError> {
        let now = self.clock.now();
        let from = now - LOOK_BACK;
        let to = now + LOOK_AHEAD;
        let listed = match self
            .with_user_token(owner, |token| self.meetings.list(token, from, to))
            .await?
        {
            UserCall::Done(Ok(list)) => entries(&list),
            UserCall::Done(Err(WebexError::RateLimited { retry_after })) => {
                return Ok(PollOutcome::RateLimited(retry_after));
            }
            UserCall::Done(Err(e)) => return Err(AppError::Webex(e)),
            UserCall::NotConnected | UserCall::Reconnect(_) | UserCall::Unreadable => {
                return Ok(PollOutcome::NoGrant);
            }
            UserCall::SignInUnavailable(why) => {
                return Err(AppError::Unexpected(anyhow::anyhow!(
                    "cannot refresh the person's token: {why}"
                )));
            }
        };
        let seen = self.polls.seen(owner.clone()).await?;
        let (Some(seen), false) = (seen, baseline) else {
            let n = listed.len();
            self.polls
                .save_seen(owner.clone(), snapshot(&listed), now)
                .await?;
            return Ok(PollOutcome::Baseline { meetings: n });
        };
        let diff = polling::diff(&seen, &listed, from);
        let mut changes = 0;
        for change in &diff.changes {
            let before = |id: &str| {
                seen.iter()
                    .find(|s| s.id == id)
                    .map(|s| s.fingerprint.clone())
                    .unwrap_or_default()
            };
            let (key, event) = match change {
                Change::New(id) => (
                    key("created", format!("{id}@{owner}")),
                    WebexEvent::MeetingCreated {
                        meeting_id: id.clone(),
                        owner: owner.clone(),
                    },
                ),
                Change::Changed(id) => {
                    let after = listed
                        .iter()
                        .find(|l| &l.id == id)
                        .map(|l| l.fingerprint.clone())
                        .unwrap_or_default();
                    (
                        poll_change_key(id, owner, &before(id), &after),
                        changed(id, owner, false),
                    )
                }
                Change::Vanished(id) => {
                    // Cancelled, or moved out of the window: Webex says which.
                    let mid = id.clone();
                    match self
                        .with_user_token(owner, |token| self.meetings.get(token, mid.clone()))
                        .await?
                    {
                        UserCall::Done(Err(WebexError::NotFound)) => (
                            key("deleted", format!("{id}@{owner}")),
                            changed(id, owner, true),
                        ),
                        UserCall::Done(Ok(m)) => {
                            let after = polling::fingerprint(
                                &m.title,
                                &m.web_link,
                                m.start,
                                m.end,
                                m.series_id.is_some(),
                            );
                            (
                                poll_change_key(id, owner, &before(id), &after),
                                changed(id, owner, false),
                            )
                        }
                        UserCall::Done(Err(WebexError::RateLimited { retry_after })) => {
                            return Ok(PollOutcome::RateLimited(retry_after));
                        }
                        UserCall::Done(Err(e)) => return Err(AppError::Webex(e)),
                        _ => return Ok(PollOutcome::NoGrant),
                    }
                }
            };
            if self.receive(key, event).await? == Receipt::Stored {
                changes += 1;
            }
        }
        // After the events are stored: a crash in between polls the same changes again,
        // and their keys make the second enqueue a duplicate.
        self.polls
            .save_seen(owner.clone(), diff.snapshot, now)
            .await?;
        Ok(PollOutcome::Polled {
            meetings: listed.len(),
            changes,
        })
    }
}

fn key(event: &str, data_id: String) -> DedupKey {
    DedupKey {
        resource: "meetings".into(),
        event: event.into(),
        data_id,
    }
}

/// A change a poll saw: `meetings`/`updated` under `<id>@<owner>#poll.<before>.<after>`.
fn poll_change_key(id: &str, owner: &PersonId, before: &str, after: &str) -> DedupKey {
    key("updated", format!("{id}@{owner}#poll.{before}.{after}"))
}

fn changed(id: &str, owner: &PersonId, cancelled: bool) -> WebexEvent {
    WebexEvent::MeetingChanged {
        meeting_id: id.to_owned(),
        owner: owner.clone(),
        cancelled,
    }
}

/// When each person is polled next, and how many polls in a row found no meeting.
#[derive(Debug, Clone, Copy)]
struct Due {
    at: tokio::time::Instant,
    idle: u32,
}

/// Polls every connected person's meetings while `signal` says [`Signal::Run`]: each at
/// the base interval, idle people less often (see [`polling::next_poll_in`]), a person
/// Webex rate-limits after its `Retry-After`.
pub async fn run(app: App, mut signal: watch::Receiver<Signal>) {
    let base = app.settings.meetings_poll;
    let limit = Arc::new(Semaphore::new(PARALLEL));
    let mut due: HashMap<PersonId, Due> = HashMap::new();
    let results: Arc<std::sync::Mutex<Vec<(PersonId, Due)>>> = Arc::default();
    tracing::info!(
        every_secs = base.as_secs(),
        "polling connected people's meetings"
    );
    loop {
        if *signal.borrow() != Signal::Run {
            return;
        }
        let now = tokio::time::Instant::now();
        for (p, d) in results.lock().unwrap_or_else(|e| e.into_inner()).drain(..) {
            due.insert(p, d);
        }
        match app.tokens.connected().await {
            Ok(people) => {
                due.retain(|p, _| people.iter().any(|g| &g.person == p));
                let mut tasks = tokio::task::JoinSet::new();
                for g in people {
                    let d = *due
                        .entry(g.person.clone())
                        .or_insert(Due { at: now, idle: 0 });
                    if d.at > now {
                        continue;
                    }
                    // Not polled again until this poll is done.
                    due.insert(
                        g.person.clone(),
                        Due {
                            at: now + Duration::from_secs(3600),
                            idle: d.idle,
                        },
                    );
                    let (app, limit, results) = (app.clone(), limit.clone(), results.clone());
                    tasks.spawn(async move {
                        let _permit = limit.acquire_owned().await;
                        let next = match app.poll_meetings(&g.person).await {
                            Ok(PollOutcome::Polled { meetings, .. })
                            | Ok(PollOutcome::Baseline { meetings }) => {
                                let idle = if meetings == 0 { d.idle + 1 } else { 0 };
                                Due {
                                    at: tokio::time::Instant::now() + polling::next_poll_in(base, idle),
                                    idle,
                                }
                            }
                            Ok(PollOutcome::RateLimited(after)) => {
                                let wait = after.unwrap_or(base).max(base);
                                tracing::warn!(person = %g.person, wait_secs = wait.as_secs(), "Webex is rate limiting meetings polls");
                                Due {
                                    at: tokio::time::Instant::now() + wait,
                                    idle: d.idle,
                                }
                            }
                            Ok(PollOutcome::NoGrant) => Due {
                                at: tokio::time::Instant::now() + base * 8,
                                idle: d.idle,
                            },
                            Err(e) => {
                                tracing::warn!(person = %g.person, error = %e, "meetings poll failed; trying again later");
                                Due {
                                    at: tokio::time::Instant::now() + base,
                                    idle: d.idle,
                                }
                            }
                        };
                        results
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push((g.person, next));
                    });
                }
                // A round finishes before the next starts, so one slow person cannot
                // pile up polls of themselves; the rest wait at most one round.
                tokio::select! {
                    _ = async { while tasks.join_next().await.is_some() {} } => {}
                    _ = signal.changed() => { tasks.abort_all(); return; }
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot list connected people to poll"),
        }
        let tick = (base / 4).clamp(Duration::from_millis(200), Duration::from_secs(15));
        tokio::select! {
            _ = tokio::time::sleep(tick) => {}
            _ = signal.changed() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::test_support::{Mocks, grant, now};
    use crate::ports::{Enqueued, InboxId};
    use jiff::Timestamp;

    fn meeting(id: &str, title: &str, start: Timestamp, series: Option<&str>) -> Meeting {
        Meeting {
            id: id.into(),
            title: title.into(),
            web_link: format!("https://example.webex.com/meet/{id}"),
            start,
            end: start + SignedDuration::from_mins(30),
            timezone: None,
            host_user_id: Some("p1".into()),
            host_email: None,
            integration_tags: vec![],
            series_id: series.map(str::to_owned),
            adhoc: false,
        }
    }

    fn connected(m: &mut Mocks) {
        m.tokens
            .expect_load()
            .returning(|_| Ok(Some(grant("p1", "at-1", 60, 1))));
    }

    #[test]
    fn a_series_is_one_entry_and_instant_meetings_none() {
        let t = now() + SignedDuration::from_hours(2);
        let day = SignedDuration::from_hours(24);
        let mut adhoc = meeting("x", "Now", t, None);
        adhoc.adhoc = true;
        let list = [
            meeting("s_2", "Standup", t + day, Some("s")),
            meeting("s_1", "Standup", t, Some("s")),
            meeting("m", "Review", t, None),
            adhoc,
        ];
        let e = entries(&list);
        let ids: Vec<&str> = e.iter().map(|l| l.id.as_str()).collect();
        assert_eq!(ids, ["s", "m"]);
        assert_eq!(e[0].start, t, "the first occurrence");
    }

    #[tokio::test]
    async fn the_first_poll_is_a_baseline_and_tells_nothing() {
        let mut m = Mocks::new();
        connected(&mut m);
        let t = now() + SignedDuration::from_hours(2);
        m.meetings
            .expect_list()
            .returning(move |_, _, _| Ok(vec![meeting("m1", "Review", t, None)]));
        m.polls.expect_seen().returning(|_| Ok(None));
        m.polls
            .expect_save_seen()
            .withf(|_, s, _| s.len() == 1 && s[0].id == "m1")
            .times(1)
            .returning(|_, _, _| Ok(()));
        m.inbox.expect_enqueue().never();
        let r = m.app().poll_meetings(&"p1".into()).await.unwrap();
        assert_eq!(r, PollOutcome::Baseline { meetings: 1 });
    }

    #[tokio::test]
    async fn new_changed_and_cancelled_meetings_go_in_under_the_webhooks_keys() {
        let mut m = Mocks::new();
        connected(&mut m);
        let t = now() + SignedDuration::from_hours(2);
        m.meetings.expect_list().returning(move |_, from, to| {
            assert!(from < now() && to > now() + SignedDuration::from_hours(24 * 30));
            Ok(vec![
                meeting("kept", "Same", t, None),
                meeting("moved", "Moved", t + SignedDuration::from_hours(1), None),
                meeting("new", "New", t, None),
            ])
        });
        let seen = vec![
            Seen {
                id: "kept".into(),
                fingerprint: polling::fingerprint(
                    "Same",
                    "https://example.webex.com/meet/kept",
                    t,
                    t + SignedDuration::from_mins(30),
                    false,
                ),
                start: t,
            },
            Seen {
                id: "moved".into(),
                fingerprint: "old".into(),
                start: t,
            },
            Seen {
                id: "gone".into(),
                fingerprint: "old".into(),
                start: t,
            },
        ];
        m.polls
            .expect_seen()
            .returning(move |_| Ok(Some(seen.clone())));
        m.meetings
            .expect_get()
            .withf(|_, id| id == "gone")
            .returning(|_, _| Err(WebexError::NotFound));
        let stored = Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = stored.clone();
        m.inbox.expect_enqueue().times(3).returning(move |d| {
            log.lock().unwrap().push(d);
            Ok(Enqueued::Accepted(InboxId(1)))
        });
        m.polls
            .expect_save_seen()
            .withf(|_, s, _| {
                let ids: Vec<&str> = s.iter().map(|x| x.id.as_str()).collect();
                ids == ["kept", "new", "moved"]
            })
            .times(1)
            .returning(|_, _, _| Ok(()));
        let r = m.app().poll_meetings(&"p1".into()).await.unwrap();
        assert_eq!(
            r,
            PollOutcome::Polled {
                meetings: 3,
                changes: 3
            }
        );
        let stored = stored.lock().unwrap();
        let keys: Vec<(String, String)> = stored
            .iter()
            .map(|d| (d.key.event.clone(), d.key.data_id.clone()))
            .collect();
        assert_eq!(
            keys[0],
            ("created".into(), "new@p1".into()),
            "the webhook's key"
        );
        assert_eq!(keys[1].0, "updated");
        assert!(keys[1].1.starts_with("moved@p1#poll.old."), "{:?}", keys[1]);
        assert_eq!(
            keys[2],
            ("deleted".into(), "gone@p1".into()),
            "the webhook's key"
        );
        assert_eq!(
            stored[2].event,
            WebexEvent::MeetingChanged {
                meeting_id: "gone".into(),
                owner: "p1".into(),
                cancelled: true
            }
        );
    }

    #[tokio::test]
    async fn a_rate_limited_poll_changes_nothing() {
        let mut m = Mocks::new();
        connected(&mut m);
        m.meetings.expect_list().returning(|_, _, _| {
            Err(WebexError::RateLimited {
                retry_after: Some(Duration::from_secs(120)),
            })
        });
        m.polls.expect_seen().never();
        m.polls.expect_save_seen().never();
        let r = m.app().poll_meetings(&"p1".into()).await.unwrap();
        assert_eq!(r, PollOutcome::RateLimited(Some(Duration::from_secs(120))));
    }

    #[tokio::test]
    async fn a_person_without_a_grant_is_not_polled() {
        let mut m = Mocks::new();
        m.tokens.expect_load().returning(|_| Ok(None));
        m.meetings.expect_list().never();
        let r = m.app().poll_meetings(&"p1".into()).await.unwrap();
        assert_eq!(r, PollOutcome::NoGrant);
    }
}
