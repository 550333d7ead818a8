//! Meetings: `meeting …` creates a Webex meeting with the person's own token and files a
//! task for it; a `meetings`/`created` event files a task for a meeting scheduled anywhere
//! else. Both link on the meeting id, so each meeting gets exactly one task.

use jiff::tz::TimeZone;

use crate::domain::meeting::{
    BOTPER_TAG, LinkDecision, MeetingError, MeetingRequest, MeetingTitle, MeetingsWindow, Slot,
    TemplateMiss, Upcoming, decide_link, pick_template,
};
use crate::domain::reply::Here;
use crate::domain::task::{MeetingChange, MeetingLink};
use crate::domain::{PersonId, Reply, RoomId, TaskOp, TaskOutcome, TaskTitle, reply};
use crate::ports::{
    AdhocDraft, Destination, IdempotencyKey, InboxItem, Meeting, MeetingDraft, WebexError,
};

use super::grants::UserCall;
use super::{App, AppError, ProcessError};

/// What `meeting …` came to.
#[derive(Debug, Clone)]
// Built once per request and moved a few times: boxing would buy nothing measurable.
#[allow(clippy::large_enum_variant)]
pub enum MeetingResult {
    Scheduled {
        meeting: Meeting,
        slot: Slot,
        task: TaskOutcome,
    },
    NotConnected,
    Reconnect(String),
    /// The stored grant cannot be decrypted: the person must renew it.
    Unreadable,
    /// Webex's sign-in service refused the integration; nothing was created.
    SignInUnavailable,
    /// Webex refused the meeting; `message` is its own words.
    Refused {
        status: u16,
        message: String,
    },
    Invalid(MeetingError),
    /// `using <name>` named no single template of the person's; nothing was created.
    UnknownTemplate {
        miss: TemplateMiss,
        known: Vec<String>,
    },
    /// Someone @mentioned after `with` whose address Webex does not show the bot; nothing
    /// was created.
    UnknownGuest(String),
}

impl MeetingResult {
    pub fn reply(&self, connect_url: &str) -> Reply {
        match self {
            Self::Scheduled {
                meeting,
                slot,
                task,
            } => reply::meeting_scheduled(
                &meeting.title,
                &slot.start,
                &slot.end,
                slot.series.as_ref(),
                &slot.invited,
                &meeting.web_link,
                task,
            ),
            Self::NotConnected => reply::not_connected(connect_url),
            Self::Reconnect(_) => reply::reconnect(connect_url),
            Self::Unreadable => reply::renew_connection(connect_url),
            Self::SignInUnavailable => reply::sign_in_unavailable(),
            Self::Refused { status, message } => reply::meeting_refused(*status, message),
            Self::Invalid(e) => reply::parse_error(&crate::domain::ParseError::Meeting(e.clone())),
            Self::UnknownTemplate { miss, known } => reply::unknown_template(miss, known),
            Self::UnknownGuest(name) => reply::unknown_guest(name),
        }
    }
}

/// How many times Botper asks for a meeting whose webhook arrived before its REST data
/// (with the default 15 s step: for about 9 minutes).
const LAG_MAX_ATTEMPTS: u32 = 8;

/// How long a meeting event waits when Webex's sign-in service refuses the integration.
const SIGN_IN_RETRY: std::time::Duration = std::time::Duration::from_secs(300);

fn zone(name: Option<&str>) -> TimeZone {
    name.and_then(|n| TimeZone::get(n).ok())
        .unwrap_or(TimeZone::UTC)
}

fn link_of(m: &Meeting) -> MeetingLink {
    MeetingLink {
        meeting_id: m.id.clone(),
        web_link: m.web_link.clone(),
        start: Some(m.start),
        end: Some(m.end),
        title: Some(m.title.clone()),
        cancelled: false,
    }
}

fn task_title(m: &Meeting) -> TaskTitle {
    TaskTitle::parse(&m.title).unwrap_or_else(|_| TaskTitle::parse("Webex meeting").expect("valid"))
}

impl App {
    /// Creates the meeting with `person`'s grant and files a task for it. With a `key`, an
    /// earlier attempt's meeting (found by its integration tag) is reused, not created
    /// again.
    ///
    /// # Errors
    /// Failures worth retrying (store, Webex 5xx/429, refresh); refusals are results.
    pub async fn schedule_meeting(
        &self,
        person: &PersonId,
        request: MeetingRequest,
        key: Option<IdempotencyKey>,
    ) -> Result<MeetingResult, AppError> {
        let grant = match self.fresh_grant(person).await? {
            super::GrantState::NotConnected => return Ok(MeetingResult::NotConnected),
            super::GrantState::Reconnect(r) => return Ok(MeetingResult::Reconnect(r)),
            super::GrantState::Unreadable => return Ok(MeetingResult::Unreadable),
            super::GrantState::SignInUnavailable(_) => {
                return Ok(MeetingResult::SignInUnavailable);
            }
            super::GrantState::Ready(g) => g,
        };
        let tz = zone(grant.timezone.as_deref());
        let mut slot = match request.resolve(self.clock.now(), &tz) {
            Ok(s) => s,
            Err(e) => return Ok(MeetingResult::Invalid(e)),
        };
        let invitees = match self.invitees(&request, grant.email.as_deref()).await? {
            Ok(all) => all,
            Err(refused) => return Ok(refused),
        };
        slot.invited.clone_from(&invitees);
        let request_tag = key
            .as_ref()
            .map(|k| format!("{BOTPER_TAG}-{}", k.as_str().replace(':', "-")));
        let mut tags = vec![BOTPER_TAG.to_owned()];
        tags.extend(request_tag.clone());
        let draft = MeetingDraft {
            title: request.title.as_str().to_owned(),
            start: slot.start.timestamp(),
            end: slot.end.timestamp(),
            timezone: tz.iana_name().unwrap_or("UTC").to_owned(),
            integration_tags: tags,
            recurrence: slot.series.as_ref().map(|s| s.rrule.clone()),
            invitees,
            template_id: None,
        };
        // Where the tag lookup searches: around the requested slot, and back to a day ago
        // (a retry may come after the start, or resolve a relative time differently).
        let now = self.clock.now();
        let day = jiff::SignedDuration::from_hours(24);
        let window = (
            slot.start.timestamp().min(now) - day,
            slot.end.timestamp() + day,
        );
        let call = self
            .call_with_grant(grant, |token| {
                let mut draft = draft.clone();
                let tag = request_tag.clone();
                let asked = request.template.clone();
                let meetings = self.meetings.clone();
                async move {
                    let find =
                        |tag: String| meetings.find_by_tag(token.clone(), tag, window.0, window.1);
                    // An earlier attempt (a crash, an ambiguous answer) may have created it.
                    if let Some(tag) = &tag
                        && let Some(existing) = find(tag.clone()).await?
                    {
                        return Ok(Ok(existing));
                    }
                    if let Some(asked) = asked {
                        let all = meetings.templates(token.clone()).await?;
                        match pick_template(&all, &asked) {
                            Ok(t) => draft.template_id = Some(t.id.clone()),
                            Err(miss) => {
                                let known = all.into_iter().map(|t| t.name).collect();
                                return Ok(Err(MeetingResult::UnknownTemplate { miss, known }));
                            }
                        }
                    }
                    let Some(tag) = tag else {
                        return meetings.create(token, draft).await.map(Ok);
                    };
                    match meetings.create(token.clone(), draft).await {
                        // Never re-sent blindly: look it up; if Webex does not show it (yet),
                        // the item retries later and looks again before creating.
                        Err(WebexError::Ambiguous(why)) => match find(tag).await? {
                            Some(m) => Ok(Ok(m)),
                            None => Err(WebexError::Ambiguous(why)),
                        },
                        other => other.map(Ok),
                    }
                }
            })
            .await?;
        let meeting = match call {
            UserCall::NotConnected => return Ok(MeetingResult::NotConnected),
            UserCall::Reconnect(r) => return Ok(MeetingResult::Reconnect(r)),
            UserCall::Unreadable => return Ok(MeetingResult::Unreadable),
            UserCall::SignInUnavailable(_) => return Ok(MeetingResult::SignInUnavailable),
            UserCall::Done(Ok(Ok(m))) => m,
            UserCall::Done(Ok(Err(refused))) => return Ok(refused),
            UserCall::Done(Err(WebexError::Rejected {
                status, message, ..
            })) => return Ok(MeetingResult::Refused { status, message }),
            UserCall::Done(Err(WebexError::NotFound)) => {
                return Ok(MeetingResult::Refused {
                    status: 404,
                    message: "the meetings service was not found for this account".into(),
                });
            }
            UserCall::Done(Err(e)) => return Err(AppError::Webex(e)),
        };
        tracing::info!(person = %person, meeting_id = %meeting.id, "meeting created");
        let op = TaskOp::Create {
            title: task_title(&meeting),
            meeting: Some(link_of(&meeting)),
            due: None,
            remind_at: None,
        };
        let task = self
            .tasks
            .apply(person.clone(), op, key, self.clock.now())
            .await?;
        let slot = Slot {
            start: meeting.start.to_zoned(tz.clone()),
            end: meeting.end.to_zoned(tz),
            series: slot.series,
            invited: slot.invited,
        };
        Ok(MeetingResult::Scheduled {
            meeting,
            slot,
            task,
        })
    }

    /// A `meetings`/`created` event for `owner`: fetch the meeting with their token (Webex's
    /// REST data may lag the webhook: a 404 is retried for a few minutes), file a task
    /// unless the meeting has one, and tell the host in a 1:1 message.
    pub(crate) async fn on_meeting_created(
        &self,
        item: &InboxItem,
        meeting_id: &str,
        owner: &PersonId,
    ) -> Result<(), ProcessError> {
        let meeting = match self.fetch_meeting(owner, meeting_id).await? {
            Fetched::Meeting(m) => m,
            Fetched::NoGrant => return Ok(()),
            Fetched::NotFound if item.attempts < LAG_MAX_ATTEMPTS => {
                return Err(ProcessError {
                    message: "meeting not found yet (Webex REST data lags its webhook)".into(),
                    transient: true,
                    retry_after: Some(self.settings.meeting_lag_step * item.attempts),
                });
            }
            Fetched::NotFound => {
                return Err(ProcessError::permanent(format!(
                    "meeting {meeting_id} still not found after {} attempts",
                    item.attempts
                )));
            }
        };
        if meeting.adhoc {
            // `meet now` (or Webex's own instant meetings): Webex says not to keep them.
            tracing::debug!("an instant meeting for a space; no task");
            return Ok(());
        }
        let is_host = meeting.host_user_id.as_ref().is_none_or(|h| h == owner);
        let existing = self
            .tasks
            .find_by_meeting(owner.clone(), meeting.id.clone())
            .await?;
        match decide_link(existing, is_host, &meeting.integration_tags) {
            LinkDecision::NotHost => {
                tracing::debug!("meeting hosted by someone else; not filed");
                Ok(())
            }
            LinkDecision::AlreadyFiled(t) => {
                tracing::debug!(task = %t.number, "meeting already has a task");
                Ok(())
            }
            LinkDecision::File { tell_host } => {
                let op = TaskOp::Create {
                    title: task_title(&meeting),
                    meeting: Some(link_of(&meeting)),
                    due: None,
                    remind_at: None,
                };
                let key = IdempotencyKey::new(format!("inbox:{}", item.id.0));
                let outcome = self
                    .tasks
                    .apply(owner.clone(), op, Some(key), self.clock.now())
                    .await?;
                if let (TaskOutcome::Created(task), true) = (&outcome, tell_host) {
                    let tz = zone(meeting.timezone.as_deref());
                    let note = reply::meeting_filed(
                        &meeting.title,
                        &meeting.start.to_zoned(tz.clone()),
                        &meeting.end.to_zoned(tz),
                        &meeting.web_link,
                        task,
                    );
                    self.messaging
                        .send(Destination::Person(owner.clone()), note)
                        .await?;
                }
                Ok(())
            }
        }
    }

    /// The meeting as Webex has it now, read with `owner`'s token.
    async fn fetch_meeting(
        &self,
        owner: &PersonId,
        meeting_id: &str,
    ) -> Result<Fetched, ProcessError> {
        let id = meeting_id.to_owned();
        let call = self
            .with_user_token(owner, |token| self.meetings.get(token, id.clone()))
            .await?;
        match call {
            UserCall::NotConnected | UserCall::Reconnect(_) | UserCall::Unreadable => {
                tracing::info!(person = %owner, "meeting event for a person without a usable grant; ignored");
                Ok(Fetched::NoGrant)
            }
            // The grant is fine; the integration is not. Keep the event until the operator
            // fixes it (then a dead letter, which `inbox retry` brings back).
            UserCall::SignInUnavailable(why) => Err(ProcessError {
                message: format!("cannot refresh the owner's token: {why}"),
                transient: true,
                retry_after: Some(SIGN_IN_RETRY),
            }),
            UserCall::Done(Ok(m)) => Ok(Fetched::Meeting(m)),
            UserCall::Done(Err(WebexError::NotFound)) => Ok(Fetched::NotFound),
            UserCall::Done(Err(e)) => Err(e.into()),
        }
    }

    /// A `meetings`/`updated` or `deleted` event for `owner`: the meeting's task follows
    /// it (title, start and so its reminder; or closed as cancelled) and the owner is told
    /// once, in 1:1. The meeting is read again rather than trusted from the delivery, so
    /// deliveries out of order end in Webex's current state; a cancelled meeting's task is
    /// never reopened.
    pub(crate) async fn on_meeting_changed(
        &self,
        item: &InboxItem,
        meeting_id: &str,
        owner: &PersonId,
        cancelled: bool,
    ) -> Result<(), ProcessError> {
        // An occurrence (`<series id>_<when>`) belongs to its series' task.
        let (series, occurrence) = match meeting_id.split_once('_') {
            Some((series, _)) => (series, true),
            None => (meeting_id, false),
        };
        let Some(task) = self
            .tasks
            .find_by_meeting(owner.clone(), series.to_owned())
            .await?
        else {
            tracing::debug!("change to a meeting without a task; nothing to follow");
            return Ok(());
        };
        if task.done {
            tracing::debug!(task = %task.number, "change to a meeting whose task is closed; left alone");
            return Ok(());
        }
        let change = if cancelled && occurrence {
            // One occurrence of a series is off; the series (and its task) goes on.
            tracing::info!(person = %owner, "one occurrence of a series was cancelled; its task stays");
            return Ok(());
        } else if cancelled {
            MeetingChange::Cancelled
        } else {
            match self.fetch_meeting(owner, series).await? {
                Fetched::Meeting(m) => MeetingChange::Now {
                    title: task_title(&m),
                    web_link: m.web_link.clone(),
                    start: m.start,
                    end: m.end,
                },
                Fetched::NoGrant => return Ok(()),
                // Gone: its `deleted` event closes the task.
                Fetched::NotFound => {
                    tracing::debug!("updated meeting no longer found; its deletion will follow");
                    return Ok(());
                }
            }
        };
        let op = TaskOp::FollowMeeting {
            meeting_id: series.to_owned(),
            change,
        };
        let key = IdempotencyKey::new(format!("inbox:{}", item.id.0));
        let outcome = self
            .tasks
            .apply(owner.clone(), op, Some(key), self.clock.now())
            .await?;
        let note = match &outcome {
            TaskOutcome::MeetingMoved { task, before } => {
                let (here, _) = self.here(owner).await?;
                // Nothing the host sees changed (an end Botper learns for the first time).
                let Some(note) = reply::meeting_moved(before, task, &here.tz) else {
                    return Ok(());
                };
                note
            }
            TaskOutcome::MeetingCancelled(task) => {
                let (here, _) = self.here(owner).await?;
                reply::meeting_cancelled(task, &here.tz)
            }
            _ => return Ok(()),
        };
        tracing::info!(person = %owner, meeting_id = %series, cancelled, "meeting task follows its meeting");
        self.messaging
            .send(Destination::Person(owner.clone()), note)
            .await?;
        Ok(())
    }
}

impl App {
    /// Everyone the meeting invites by email: the addresses typed, the people @mentioned
    /// after `with` (their Webex profile's address) and, for `with everyone`, the space's
    /// members; the host and bots left out, each address once.
    ///
    /// # Errors
    /// Failures worth retrying (Webex 5xx/429); a person Webex does not show is a result.
    async fn invitees(
        &self,
        request: &MeetingRequest,
        host_email: Option<&str>,
    ) -> Result<Result<Vec<String>, MeetingResult>, AppError> {
        let mut all: Vec<String> = Vec::new();
        let mut add = |e: String| {
            let host = host_email.is_some_and(|h| h.eq_ignore_ascii_case(&e));
            if !host && !all.iter().any(|x| x.eq_ignore_ascii_case(&e)) {
                all.push(e);
            }
        };
        request.invitees.iter().cloned().for_each(&mut add);
        for m in &request.guests.people {
            match self.messaging.person_email(PersonId::new(&m.person)).await {
                Ok(Some(e)) => add(e),
                Ok(None) | Err(WebexError::NotFound) => {
                    return Ok(Err(MeetingResult::UnknownGuest(m.shown.clone())));
                }
                Err(e) => return Err(AppError::Webex(e)),
            }
        }
        if let Some(room) = &request.guests.everyone_in {
            match self.messaging.room_member_emails(room.clone()).await {
                Ok(members) => members.into_iter().for_each(&mut add),
                Err(WebexError::NotFound) => {
                    return Ok(Err(MeetingResult::Invalid(
                        MeetingError::EveryoneOnlyInGroups,
                    )));
                }
                Err(e) => return Err(AppError::Webex(e)),
            }
        }
        if all.len() > MeetingRequest::MAX_INVITEES {
            return Ok(Err(MeetingResult::Invalid(MeetingError::TooManyInvitees {
                max: MeetingRequest::MAX_INVITEES,
                got: all.len(),
            })));
        }
        Ok(Ok(all))
    }

    /// `meet now` in a group space: the space's instant meeting, created with the person's
    /// grant and its join link posted in the space. No task: Webex says not to keep
    /// instant meetings, which end when the people in them leave.
    ///
    /// # Errors
    /// Failures worth retrying (store, Webex 5xx/429, refresh).
    pub async fn meet_now(
        &self,
        person: &PersonId,
        room: Option<&RoomId>,
    ) -> Result<Reply, AppError> {
        let connect_url = self.settings.connect_url();
        let Some(room) = room else {
            return Ok(reply::meet_now_in_groups());
        };
        if !self.settings.meet_now {
            return Ok(reply::meet_now_off());
        }
        let name = match self.tokens.load(person.clone()).await {
            Ok(Some(g)) if g.is_connected() => {
                // A grant from before `meet now` was turned on lacks the scope Webex needs.
                let scoped = g
                    .tokens
                    .scope
                    .as_deref()
                    .is_none_or(|s| s.split_whitespace().any(|x| x == "spark:all"));
                if !scoped {
                    return Ok(reply::meet_now_needs_scope(&connect_url));
                }
                g.display_name
            }
            // The call below says what stands in the way.
            _ => String::new(),
        };
        let now = self.clock.now();
        let title: String = if name.trim().is_empty() {
            "Botper meeting".to_owned()
        } else {
            name.chars().take(MeetingTitle::MAX_CHARS).collect()
        };
        let draft = AdhocDraft {
            room: room.clone(),
            title,
            start: now + jiff::SignedDuration::from_mins(5),
            end: now + jiff::SignedDuration::from_mins(20),
        };
        let call = self
            .with_user_token(person, |token| {
                self.meetings.create_adhoc(token, draft.clone())
            })
            .await?;
        Ok(match call {
            UserCall::NotConnected => reply::not_connected(&connect_url),
            UserCall::Reconnect(_) => reply::reconnect(&connect_url),
            UserCall::Unreadable => reply::renew_connection(&connect_url),
            UserCall::SignInUnavailable(_) => reply::sign_in_unavailable(),
            UserCall::Done(Ok(m)) => {
                tracing::info!(person = %person, "instant meeting for a space");
                reply::meet_now(&name, &m.web_link)
            }
            UserCall::Done(Err(WebexError::Rejected {
                status, message, ..
            })) => reply::meeting_refused(status, &message),
            UserCall::Done(Err(WebexError::NotFound)) => {
                reply::meeting_refused(404, "the meetings service was not found for this account")
            }
            UserCall::Done(Err(e)) => return Err(AppError::Webex(e)),
        })
    }

    /// `meeting templates`: the person's Webex meeting templates.
    ///
    /// # Errors
    /// Failures worth retrying (store, Webex 5xx/429, refresh).
    pub async fn meeting_templates(&self, person: &PersonId) -> Result<Reply, AppError> {
        const WHAT: &str = "your meeting templates";
        let call = self
            .with_user_token(person, |token| self.meetings.templates(token))
            .await?;
        Ok(match self.read_result(call, WHAT)? {
            Ok(all) => reply::meeting_templates(&all),
            Err(blocked) => blocked,
        })
    }

    /// `meetings [today | tomorrow | week]`: the person's meetings from Webex (those that
    /// have not ended), soonest first, with the task that carries each one.
    ///
    /// # Errors
    /// Failures worth retrying (store, Webex 5xx/429, refresh).
    pub async fn upcoming_meetings(
        &self,
        person: &PersonId,
        window: MeetingsWindow,
    ) -> Result<Reply, AppError> {
        let (here, _) = self.here(person).await?;
        Ok(match self.upcoming(person, window, &here).await? {
            Ok(upcoming) => reply::meetings_list(window, &upcoming, here.now, &here.tz),
            Err(blocked) => blocked,
        })
    }

    /// The person's meetings in `window` (whole days in their zone) that have not ended,
    /// soonest first, each with the open task that carries it; or the reply that says why
    /// they could not be read.
    ///
    /// # Errors
    /// Failures worth retrying (store, Webex 5xx/429, refresh).
    pub(crate) async fn upcoming(
        &self,
        person: &PersonId,
        window: MeetingsWindow,
        here: &Here,
    ) -> Result<Result<Vec<Upcoming>, Reply>, AppError> {
        const WHAT: &str = "your meetings";
        let now = here.now;
        let (from, to) = window.range(now, &here.tz);
        let call = self
            .with_user_token(person, |token| self.meetings.list(token, from, to))
            .await?;
        let meetings = match self.read_result(call, WHAT)? {
            Ok(m) => m,
            Err(blocked) => return Ok(Err(blocked)),
        };
        let open = self.tasks.list_open(person.clone()).await?;
        let task_of = |m: &Meeting| {
            open.iter()
                .find(|t| {
                    t.meeting.as_ref().is_some_and(|l| {
                        l.meeting_id == m.id || m.series_id.as_deref() == Some(&l.meeting_id)
                    })
                })
                .map(|t| t.number)
        };
        Ok(Ok(meetings
            .iter()
            .filter(|m| m.end > now)
            .map(|m| Upcoming {
                title: m.title.clone(),
                web_link: m.web_link.clone(),
                start: m.start.to_zoned(here.tz.clone()),
                end: m.end.to_zoned(here.tz.clone()),
                task: task_of(m),
            })
            .collect()))
    }

    /// A read with the person's token: its value, or the reply that says why it did not run.
    fn read_result<T>(&self, call: UserCall<T>, what: &str) -> Result<Result<T, Reply>, AppError> {
        let url = self.settings.connect_url();
        let blocked = |b| Ok(Err(reply::cannot_read(what, b, &url)));
        match call {
            UserCall::NotConnected => blocked(reply::Blocked::NotConnected),
            UserCall::Reconnect(_) => blocked(reply::Blocked::Reconnect),
            UserCall::Unreadable => blocked(reply::Blocked::Unreadable),
            UserCall::SignInUnavailable(_) => blocked(reply::Blocked::SignInUnavailable),
            UserCall::Done(Ok(v)) => Ok(Ok(v)),
            UserCall::Done(Err(WebexError::Rejected {
                status, message, ..
            })) => Ok(Err(reply::read_refused(what, status, &message))),
            UserCall::Done(Err(WebexError::NotFound)) => Ok(Err(reply::read_refused(
                what,
                404,
                "the meetings service was not found for this account",
            ))),
            UserCall::Done(Err(e)) => Err(AppError::Webex(e)),
        }
    }
}

/// What reading a meeting for an event came to.
// Made and matched once per event: boxing would buy nothing measurable.
#[allow(clippy::large_enum_variant)]
enum Fetched {
    Meeting(Meeting),
    /// The person has no usable grant: the event is dropped.
    NoGrant,
    NotFound,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::test_support::{Mocks, grant, now};
    use crate::domain::{Task, TaskNumber};
    use crate::ports::{InboxId, Pacing, RefreshClaim, WebexEvent};
    use jiff::SignedDuration;
    use std::time::Duration;

    fn meeting(id: &str, host: &str, tags: &[&str]) -> Meeting {
        Meeting {
            id: id.into(),
            title: "Team Standup".into(),
            web_link: format!("https://example.webex.com/meet/{id}"),
            start: now() + SignedDuration::from_mins(5),
            end: now() + SignedDuration::from_mins(35),
            timezone: Some("Europe/Paris".into()),
            host_user_id: Some(host.into()),
            host_email: None,
            integration_tags: tags.iter().map(|t| t.to_string()).collect(),
            series_id: None,
            adhoc: false,
        }
    }

    fn task_for(m: &Meeting, n: u32) -> Task {
        Task {
            number: TaskNumber::new(n).unwrap(),
            title: TaskTitle::parse(&m.title).unwrap(),
            done: false,
            created_at: now(),
            meeting: Some(link_of(m)),
            due: None,
            remind_at: None,
        }
    }

    fn request(s: &str) -> MeetingRequest {
        MeetingRequest::parse(s).unwrap()
    }

    #[tokio::test]
    async fn connected_person_gets_a_meeting_with_their_token_and_a_linked_task() {
        let mut m = Mocks::new();
        m.tokens
            .expect_load()
            .returning(|_| Ok(Some(grant("p", "user-acc", 60, 1))));
        m.meetings
            .expect_find_by_tag()
            .withf(|t, tag, from, to| {
                t.expose() == "user-acc"
                    && tag == "botper-inbox-9"
                    && *from <= now() - SignedDuration::from_hours(23)
                    && *to >= now() + SignedDuration::from_hours(24)
            })
            .times(1)
            .returning(|_, _, _, _| Ok(None));
        m.meetings
            .expect_create()
            .withf(|t, d| {
                t.expose() == "user-acc"
                    && d.title == "Team Standup"
                    && d.timezone == "Europe/Paris"
                    && d.end.duration_since(d.start) == SignedDuration::from_mins(30)
                    && d.start.duration_since(now()) >= SignedDuration::from_mins(5)
                    && d.integration_tags == ["botper", "botper-inbox-9"]
            })
            .times(1)
            .returning(|_, _| Ok(meeting("m1", "p", &["botper"])));
        m.tasks
            .expect_apply()
            .withf(|p, op, key, _| {
                p.as_str() == "p"
                    && matches!(op, TaskOp::Create { title, meeting: Some(l), .. }
                        if title.as_str() == "Team Standup" && l.meeting_id == "m1")
                    && key.as_ref().map(|k| k.as_str()) == Some("inbox:9")
            })
            .times(1)
            .returning(|_, _, _, _| {
                Ok(TaskOutcome::Created(task_for(&meeting("m1", "p", &[]), 4)))
            });
        let r = m
            .app()
            .schedule_meeting(
                &"p".into(),
                request("Team Standup"),
                Some(IdempotencyKey::new("inbox:9")),
            )
            .await
            .unwrap();
        let md = r.reply("https://x/auth/webex/login").markdown;
        assert!(md.contains("**Team Standup** is scheduled for"), "{md}");
        assert!(
            md.contains("[Join the meeting](https://example.webex.com/meet/m1)"),
            "{md}"
        );
        assert!(md.contains("task **#4**"), "{md}");
    }

    fn templates() -> Vec<crate::domain::meeting::MeetingTemplate> {
        ["Standard", "Board Meeting", "Board Meeting Extended"]
            .iter()
            .enumerate()
            .map(|(i, n)| crate::domain::meeting::MeetingTemplate {
                id: format!("tpl-{i}"),
                name: (*n).into(),
                is_default: i == 0,
            })
            .collect()
    }

    #[tokio::test]
    async fn a_named_template_is_sent_and_an_unknown_one_creates_nothing() {
        let mut m = Mocks::new();
        m.tokens
            .expect_load()
            .returning(|_| Ok(Some(grant("p", "user-acc", 60, 1))));
        m.meetings
            .expect_templates()
            .withf(|t| t.expose() == "user-acc")
            .times(2)
            .returning(|_| Ok(templates()));
        m.meetings
            .expect_create()
            .withf(|_, d| d.template_id.as_deref() == Some("tpl-1"))
            .times(1)
            .returning(|_, _| Ok(meeting("m1", "p", &["botper"])));
        m.tasks.expect_apply().times(1).returning(|_, _, _, _| {
            Ok(TaskOutcome::Created(task_for(&meeting("m1", "p", &[]), 4)))
        });
        let app = m.app();
        let r = app
            .schedule_meeting(&"p".into(), request("Review using board meeting"), None)
            .await
            .unwrap();
        assert!(matches!(r, MeetingResult::Scheduled { .. }), "{r:?}");
        let r = app
            .schedule_meeting(&"p".into(), request("Review using Retro"), None)
            .await
            .unwrap();
        let md = r.reply("https://x/").markdown;
        assert!(
            md.starts_with("You have no meeting template called “Retro”. Yours: “Standard”"),
            "{md}"
        );
    }

    #[tokio::test]
    async fn meetings_lists_what_webex_has_in_the_window_and_marks_tasks() {
        let mut m = Mocks::new();
        m.tokens
            .expect_load()
            .returning(|_| Ok(Some(grant("p", "user-acc", 60, 1))));
        m.tasks
            .expect_settings()
            .returning(|_| Ok(Default::default()));
        m.meetings
            .expect_list()
            .withf(|t, from, to| {
                t.expose() == "user-acc"
                    && *from <= now()
                    && to.duration_since(*from) == SignedDuration::from_hours(24 * 7)
            })
            .times(1)
            .returning(|_, _, _| {
                let mut occurrence = meeting("s1_20261201T090000Z", "p", &[]);
                occurrence.series_id = Some("s1".into());
                let mut ended = meeting("old", "p", &[]);
                ended.end = now() - SignedDuration::from_mins(1);
                Ok(vec![ended, occurrence, meeting("m2", "p", &[])])
            });
        m.tasks
            .expect_list_open()
            .returning(|_| Ok(vec![task_for(&meeting("s1", "p", &[]), 7)]));
        let r = m
            .app()
            .upcoming_meetings(&"p".into(), MeetingsWindow::Week)
            .await
            .unwrap();
        assert!(
            r.markdown.starts_with("**Your meetings this week (2)**"),
            "{}",
            r.markdown
        );
        assert_eq!(
            r.markdown.matches("task **#7**").count(),
            1,
            "{}",
            r.markdown
        );
    }

    #[tokio::test]
    async fn meetings_for_someone_not_connected_offers_to_connect_and_calls_nothing() {
        let mut m = Mocks::new();
        m.tokens.expect_load().returning(|_| Ok(None));
        m.tasks
            .expect_settings()
            .returning(|_| Ok(Default::default()));
        m.messaging.expect_person_timezone().returning(|_| Ok(None));
        m.meetings.expect_list().never();
        m.meetings.expect_templates().never();
        let app = m.app();
        let r = app
            .upcoming_meetings(&"p".into(), MeetingsWindow::Today)
            .await
            .unwrap();
        assert!(r.markdown.contains("once you connect"), "{}", r.markdown);
        let r = app.meeting_templates(&"p".into()).await.unwrap();
        assert!(
            r.markdown.contains("your meeting templates"),
            "{}",
            r.markdown
        );
    }

    #[tokio::test]
    async fn a_retried_request_reuses_the_meeting_an_earlier_attempt_created() {
        let mut m = Mocks::new();
        m.tokens
            .expect_load()
            .returning(|_| Ok(Some(grant("p", "user-acc", 60, 1))));
        m.meetings
            .expect_find_by_tag()
            .returning(|_, _, _, _| Ok(Some(meeting("m1", "p", &["botper", "botper-inbox-9"]))));
        m.meetings.expect_create().never();
        m.tasks.expect_apply().returning(|_, _, _, _| {
            Ok(TaskOutcome::AlreadyLinked(task_for(
                &meeting("m1", "p", &[]),
                4,
            )))
        });
        let r = m
            .app()
            .schedule_meeting(
                &"p".into(),
                request("Team Standup"),
                Some(IdempotencyKey::new("inbox:9")),
            )
            .await
            .unwrap();
        assert!(matches!(r, MeetingResult::Scheduled { .. }));
    }

    #[tokio::test]
    async fn an_ambiguous_create_is_resolved_by_the_tag_not_sent_again() {
        let mut m = Mocks::new();
        m.tokens
            .expect_load()
            .returning(|_| Ok(Some(grant("p", "user-acc", 60, 1))));
        let mut seq = mockall::Sequence::new();
        // The slot is 20 days out: the lookup window must reach it (Webex's default is 7).
        let covers = |from: &jiff::Timestamp, to: &jiff::Timestamp| {
            let start: jiff::Timestamp = "2026-12-19T09:00:00Z".parse().unwrap();
            *from <= now() && *to > start + SignedDuration::from_hours(1)
        };
        m.meetings
            .expect_find_by_tag()
            .withf(move |_, _, from, to| covers(from, to))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _, _, _| Ok(None));
        m.meetings
            .expect_create()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Err(WebexError::Ambiguous("POST /meetings answered 502".into())));
        m.meetings
            .expect_find_by_tag()
            .withf(move |_, _, from, to| covers(from, to))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _, _, _| Ok(Some(meeting("m1", "p", &["botper", "botper-inbox-9"]))));
        m.tasks.expect_apply().times(1).returning(|_, _, _, _| {
            Ok(TaskOutcome::Created(task_for(&meeting("m1", "p", &[]), 1)))
        });
        let r = m
            .app()
            .schedule_meeting(
                &"p".into(),
                request("Team Standup on 2026-12-19 at 10:00"),
                Some(IdempotencyKey::new("inbox:9")),
            )
            .await
            .unwrap();
        assert!(matches!(r, MeetingResult::Scheduled { .. }), "{r:?}");
    }

    #[tokio::test]
    async fn an_ambiguous_create_that_webex_does_not_show_is_retried_later() {
        let mut m = Mocks::new();
        m.tokens
            .expect_load()
            .returning(|_| Ok(Some(grant("p", "user-acc", 60, 1))));
        m.meetings
            .expect_find_by_tag()
            .times(2)
            .returning(|_, _, _, _| Ok(None));
        m.meetings
            .expect_create()
            .times(1)
            .returning(|_, _| Err(WebexError::Ambiguous("POST /meetings timed out".into())));
        m.tasks.expect_apply().never();
        let e = m
            .app()
            .schedule_meeting(
                &"p".into(),
                request("Team Standup"),
                Some(IdempotencyKey::new("inbox:9")),
            )
            .await
            .unwrap_err();
        let e = ProcessError::from(e);
        assert!(e.transient);
        assert_eq!(e.retry_after, Some(crate::app::error::AMBIGUOUS_SETTLE));
    }

    #[tokio::test]
    async fn without_a_grant_nothing_is_created_and_the_reply_offers_to_connect() {
        let mut m = Mocks::new();
        m.tokens.expect_load().returning(|_| Ok(None));
        m.meetings.expect_create().never();
        m.tasks.expect_apply().never();
        let r = m
            .app()
            .schedule_meeting(&"p".into(), request("Team Standup"), None)
            .await
            .unwrap();
        let md = r
            .reply("https://botper.example.com/auth/webex/login")
            .markdown;
        assert!(
            md.contains("(https://botper.example.com/auth/webex/login)"),
            "{md}"
        );
        assert!(md.contains("(https://web.webex.com/meetings)"), "{md}");
        assert!(md.contains("Nothing was created"));
    }

    #[tokio::test]
    async fn a_webex_refusal_is_explained_in_plain_words() {
        let mut m = Mocks::new();
        m.tokens
            .expect_load()
            .returning(|_| Ok(Some(grant("p", "user-acc", 60, 1))));
        m.meetings.expect_create().returning(|_, _| {
            Err(WebexError::Rejected {
                status: 403,
                message: "The user does not have the required scope.".into(),
                tracking_id: Some("T".into()),
            })
        });
        m.tasks.expect_apply().never();
        let r = m
            .app()
            .schedule_meeting(&"p".into(), request("X"), None)
            .await
            .unwrap();
        let md = r.reply("u").markdown;
        assert!(
            md.starts_with(
                "Webex refused to create the meeting: The user does not have the required scope."
            ),
            "{md}"
        );
        assert!(md.contains("meeting license"));
    }

    #[tokio::test]
    async fn a_due_refresh_happens_before_the_meeting_is_created() {
        let mut m = Mocks::new();
        m.tokens
            .expect_load()
            .returning(|_| Ok(Some(grant("p", "old", 2, 1))));
        m.tokens
            .expect_try_begin_refresh()
            .returning(|_, _, _, _| Ok(RefreshClaim::Claimed(grant("p", "old", 2, 1))));
        m.oauth
            .expect_refresh()
            .times(1)
            .returning(|_, _| Ok(grant("p", "new", 60 * 24, 2).tokens));
        m.tokens
            .expect_finish_refresh()
            .returning(|_, _, _| Ok(Some(grant("p", "new", 60 * 24, 2))));
        m.meetings
            .expect_create()
            .withf(|t, _| t.expose() == "new")
            .times(1)
            .returning(|_, _| Ok(meeting("m1", "p", &["botper"])));
        m.tasks.expect_apply().returning(|_, _, _, _| {
            Ok(TaskOutcome::Created(task_for(&meeting("m1", "p", &[]), 1)))
        });
        m.app()
            .schedule_meeting(&"p".into(), request("X"), None)
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_bad_time_is_answered_without_calling_webex() {
        let mut m = Mocks::new();
        m.tokens
            .expect_load()
            .returning(|_| Ok(Some(grant("p", "user-acc", 60, 1))));
        m.meetings.expect_create().never();
        let r = m
            .app()
            .schedule_meeting(&"p".into(), request("X on 2020-01-01 at 10:00"), None)
            .await
            .unwrap();
        assert!(
            r.reply("u")
                .markdown
                .contains("that time has already passed")
        );
    }

    fn meeting_item(attempts: u32) -> InboxItem {
        InboxItem {
            id: InboxId(5),
            event: WebexEvent::MeetingCreated {
                meeting_id: "m9".into(),
                owner: "p".into(),
            },
            attempts,
            received_at: now(),
            pacing: Pacing::Normal,
        }
    }

    #[tokio::test]
    async fn a_meeting_scheduled_elsewhere_becomes_a_task_and_the_host_is_told() {
        let mut m = Mocks::new();
        m.tokens
            .expect_load()
            .returning(|_| Ok(Some(grant("p", "user-acc", 60, 1))));
        m.meetings
            .expect_get()
            .withf(|t, id| t.expose() == "user-acc" && id == "m9")
            .returning(|_, _| Ok(meeting("m9", "p", &[])));
        m.tasks.expect_find_by_meeting().returning(|_, _| Ok(None));
        m.tasks
            .expect_apply()
            .withf(|_, _, key, _| key.as_ref().map(|k| k.as_str()) == Some("inbox:5"))
            .times(1)
            .returning(|_, _, _, _| {
                Ok(TaskOutcome::Created(task_for(&meeting("m9", "p", &[]), 7)))
            });
        m.messaging
            .expect_send()
            .withf(|to, r| {
                *to == Destination::Person("p".into())
                    && r.markdown.contains("task **#7**")
                    && r.markdown.contains("(https://example.webex.com/meet/m9)")
            })
            .times(1)
            .returning(|_, _| Ok("sent".into()));
        m.app()
            .on_meeting_created(&meeting_item(1), "m9", &"p".into())
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn botpers_own_meeting_that_already_has_a_task_files_nothing() {
        let mut m = Mocks::new();
        m.tokens
            .expect_load()
            .returning(|_| Ok(Some(grant("p", "user-acc", 60, 1))));
        m.meetings
            .expect_get()
            .returning(|_, _| Ok(meeting("m9", "p", &["botper"])));
        m.tasks
            .expect_find_by_meeting()
            .returning(|_, _| Ok(Some(task_for(&meeting("m9", "p", &[]), 3))));
        m.tasks.expect_apply().never();
        m.messaging.expect_send().never();
        m.app()
            .on_meeting_created(&meeting_item(1), "m9", &"p".into())
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_meeting_not_yet_visible_is_retried_later() {
        let mut m = Mocks::new();
        m.tokens
            .expect_load()
            .returning(|_| Ok(Some(grant("p", "user-acc", 60, 1))));
        m.meetings
            .expect_get()
            .returning(|_, _| Err(WebexError::NotFound));
        let e = m
            .app()
            .on_meeting_created(&meeting_item(2), "m9", &"p".into())
            .await
            .unwrap_err();
        assert!(e.transient);
        assert_eq!(e.retry_after, Some(Duration::from_secs(30)));
    }

    #[tokio::test]
    async fn invitations_are_not_filed() {
        let mut m = Mocks::new();
        m.tokens
            .expect_load()
            .returning(|_| Ok(Some(grant("p", "user-acc", 60, 1))));
        m.meetings
            .expect_get()
            .returning(|_, _| Ok(meeting("m9", "someone-else", &[])));
        m.tasks.expect_find_by_meeting().returning(|_, _| Ok(None));
        m.tasks.expect_apply().never();
        m.app()
            .on_meeting_created(&meeting_item(1), "m9", &"p".into())
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn meet_now_needs_a_group_space_and_a_grant_with_spark_all() {
        let mut m = Mocks::new();
        m.tokens.expect_load().returning(|_| {
            let mut g = grant("p", "user-acc", 60, 1);
            g.tokens.scope = Some("spark:messages_read meeting:schedules_write".into());
            Ok(Some(g))
        });
        m.meetings.expect_create_adhoc().never();
        let app = m.app();
        let r = app.meet_now(&"p".into(), None).await.unwrap().markdown;
        assert!(r.contains("type it there"), "{r}");
        let room = RoomId::new("room-1");
        let r = app
            .meet_now(&"p".into(), Some(&room))
            .await
            .unwrap()
            .markdown;
        assert!(r.contains("connect again"), "{r}");
    }

    #[tokio::test]
    async fn meet_now_posts_the_spaces_instant_meeting() {
        let mut m = Mocks::new();
        m.tokens.expect_load().returning(|_| {
            let mut g = grant("p", "user-acc", 60, 1);
            g.tokens.scope = Some("spark:all meeting:schedules_write".into());
            Ok(Some(g))
        });
        m.meetings
            .expect_create_adhoc()
            .withf(|t, d| {
                t.expose() == "user-acc" && d.room.as_str() == "room-1" && d.title == "Pat Doe"
            })
            .times(1)
            .returning(|_, _| {
                let mut m = meeting("a1", "p", &[]);
                m.adhoc = true;
                Ok(m)
            });
        let r = m
            .app()
            .meet_now(&"p".into(), Some(&RoomId::new("room-1")))
            .await
            .unwrap()
            .markdown;
        assert!(
            r.contains("**Pat Doe** started a meeting for this space"),
            "{r}"
        );
        assert!(r.contains("https://example.webex.com/meet/a1"), "{r}");
    }

    #[tokio::test]
    async fn mentioned_guests_are_invited_by_their_webex_address_and_unknown_ones_stop_it() {
        use crate::domain::mention::Mentioned;
        let mut m = Mocks::new();
        m.tokens
            .expect_load()
            .returning(|_| Ok(Some(grant("p", "user-acc", 60, 1))));
        m.messaging
            .expect_person_email()
            .returning(|id| match id.as_str() {
                "bob" => Ok(Some("bob@example.com".into())),
                _ => Err(WebexError::NotFound),
            });
        m.messaging.expect_room_member_emails().returning(|_| {
            Ok(vec![
                "pat@example.com".into(),
                "bob@example.com".into(),
                "dan@example.com".into(),
            ])
        });
        m.meetings
            .expect_find_by_tag()
            .returning(|_, _, _, _| Ok(None));
        m.meetings
            .expect_create()
            .withf(|_, d| d.invitees == ["bob@example.com", "dan@example.com"])
            .times(1)
            .returning(|_, _| Ok(meeting("m1", "p", &["botper"])));
        m.tasks.expect_apply().returning(|_, _, _, _| {
            Ok(TaskOutcome::Created(task_for(&meeting("m1", "p", &[]), 1)))
        });
        let app = m.app();
        let bob = Mentioned {
            person: "bob".into(),
            shown: "Bob".into(),
        };
        let ghost = Mentioned {
            person: "ghost".into(),
            shown: "Ghost".into(),
        };
        let room = RoomId::new("room-1");
        let mut everyone = request("Review with Bob and everyone");
        everyone
            .take_guests(std::slice::from_ref(&bob), Some(&room))
            .unwrap();
        let r = app
            .schedule_meeting(&"p".into(), everyone, None)
            .await
            .unwrap();
        assert!(matches!(r, MeetingResult::Scheduled { .. }), "{r:?}");
        let mut unknown = request("Review with Ghost");
        unknown
            .take_guests(std::slice::from_ref(&ghost), Some(&room))
            .unwrap();
        let r = app
            .schedule_meeting(&"p".into(), unknown, None)
            .await
            .unwrap();
        assert!(
            matches!(r, MeetingResult::UnknownGuest(ref n) if n == "Ghost"),
            "{r:?}"
        );
    }
}
