//! Chat commands: read the message, strip the bot's mention, parse, act, reply.

use crate::domain::command::{ListFilter, MAX_LINES, parse_script};
use crate::domain::mention::{Mentioned, mentions_bot, people_mentioned, strip_bot_mention};
use crate::domain::reply::Here;
use crate::domain::reply::{Audience, MeetingsFollowed};
use crate::domain::when::{When, parse_when, split_due};
use crate::domain::{Command, ParseError, PersonId, Reply, RoomId, TaskNumber, TaskOp, reply};
use crate::domain::{Task, TaskOutcome, TaskTitle};
use crate::ports::{
    Destination, IdempotencyKey, InboxItem, Pacing, RoomType, StoreError, WebexError, WebexEvent,
};

use super::{App, AppError, ProcessError};

/// Where a command was typed: who reads the reply, in which space, and whom the message
/// @mentions besides the bot.
#[derive(Debug, Clone)]
pub(crate) struct Origin {
    pub audience: Audience,
    pub room: Option<RoomId>,
    pub mentioned: Vec<Mentioned>,
    /// The sender's address (`personEmail`): their role is kept by address.
    pub email: Option<String>,
}

impl Origin {
    /// A 1:1 conversation (the console, or a direct space).
    fn private() -> Self {
        Self {
            audience: Audience::Private,
            room: None,
            mentioned: Vec::new(),
            email: None,
        }
    }

    /// The group space a command came from, if it came from one.
    fn group_room(&self) -> Option<&RoomId> {
        self.room
            .as_ref()
            .filter(|_| self.audience == Audience::Shared)
    }
}

/// Where the person's zone came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ZoneSource {
    Set,
    Webex,
    Default { hinted: bool },
}

impl ZoneSource {
    fn describe(self) -> &'static str {
        match self {
            Self::Set => "you set it",
            Self::Webex => "from your Webex profile",
            Self::Default { .. } => "the default: I don't know yours",
        }
    }
}

impl App {
    /// Processes one claimed inbox item. Safe to run again for the same item: task changes
    /// are recorded under the item's key, so a retry replays the first outcome.
    ///
    /// # Errors
    /// A [`ProcessError`] says whether a retry may help.
    #[tracing::instrument(
        name = "app.process",
        skip_all,
        fields(item = item.id.0, attempt = item.attempts, message_id = tracing::field::Empty)
    )]
    pub async fn process(&self, item: &InboxItem) -> Result<(), ProcessError> {
        match &item.event {
            WebexEvent::MessageCreated {
                message_id,
                person_id,
                ..
            } => {
                tracing::Span::current().record("message_id", message_id.as_str());
                let started = std::time::Instant::now();
                let bot = self.bot_identity().await?.clone();
                if bot.id == *person_id {
                    return Ok(());
                }
                let message = match self.messaging.get_message(message_id.clone()).await {
                    Ok(m) => m,
                    Err(WebexError::NotFound) => {
                        tracing::info!("message is gone (deleted or not visible); nothing to do");
                        return Ok(());
                    }
                    Err(e) => return Err(e.into()),
                };
                if message.person_id == bot.id {
                    return Ok(());
                }
                let group = message.room_type == Some(RoomType::Group);
                if group
                    && !mentions_bot(
                        message.mentioned_people.iter().map(|p| p.as_str()),
                        message.html.as_deref(),
                        bot.id.as_str(),
                    )
                {
                    tracing::info!("group message that does not mention the bot; ignored");
                    return Ok(());
                }
                match self.gate(&message).await? {
                    super::access::Gate::Allowed => {}
                    super::access::Gate::Bot => {
                        tracing::info!("a message from another bot; not answered");
                        return Ok(());
                    }
                    super::access::Gate::Refused => {
                        tracing::info!("sender outside the allow-list; refused, nothing kept");
                        self.refuse(item.id, &message.room_id).await?;
                        return Ok(());
                    }
                }
                let audience = if group {
                    Audience::Shared
                } else {
                    Audience::Private
                };
                let text =
                    strip_bot_mention(&message.text, message.html.as_deref(), bot.id.as_str());
                let origin = Origin {
                    audience,
                    room: Some(message.room_id.clone()),
                    mentioned: if group {
                        people_mentioned(message.html.as_deref(), bot.id.as_str())
                    } else {
                        Vec::new()
                    },
                    email: message.person_email.clone(),
                };
                let to = Destination::Room(message.room_id);
                if let Pacing::Refused { waiting } = item.pacing {
                    self.messaging
                        .send(to, reply::backlog_refused(&text, waiting))
                        .await?;
                    self.metrics
                        .command("refused", started.elapsed().as_secs_f64());
                    return Ok(());
                }
                let key = IdempotencyKey::new(format!("inbox:{}", item.id.0));
                let (reply, label) = self
                    .execute_labeled(&message.person_id, &text, Some(key), &origin)
                    .await?;
                self.messaging.send(to, self.paced(item, reply)).await?;
                self.metrics.command(label, started.elapsed().as_secs_f64());
                Ok(())
            }
            WebexEvent::MeetingCreated { meeting_id, owner } => {
                self.on_meeting_created(item, meeting_id, owner).await
            }
            WebexEvent::MeetingChanged {
                meeting_id,
                owner,
                cancelled,
            } => {
                self.on_meeting_changed(item, meeting_id, owner, *cancelled)
                    .await
            }
            WebexEvent::Scheduled { owner, job, due_at } => {
                self.on_scheduled(owner, *job, *due_at).await
            }
            WebexEvent::CardAction {
                action_id,
                person_id,
                ..
            } => self.on_card_action(item, action_id, person_id).await,
            WebexEvent::MembershipCreated {
                room_id,
                person_id,
                room_type,
                ..
            } => {
                self.on_membership_created(room_id, person_id, *room_type)
                    .await
            }
        }
    }

    /// The reply to an item, with the one-time "catching up" note when the sender's pace
    /// delayed it first.
    pub(crate) fn paced(&self, item: &InboxItem, r: Reply) -> Reply {
        match (item.pacing, self.settings.rate_limit) {
            (Pacing::CatchingUp { waiting }, Some(policy)) => {
                reply::catching_up(r, policy.per_minute, waiting)
            }
            _ => r,
        }
    }

    /// Runs one command typed by `person` and returns the reply. Used by the webhook flow
    /// and by any other driving adapter (the local console).
    ///
    /// # Errors
    /// Only system failures (the database). Mistakes in the command are replies.
    pub async fn execute(
        &self,
        person: &PersonId,
        text: &str,
        key: Option<IdempotencyKey>,
    ) -> Result<Reply, AppError> {
        Ok(self
            .execute_labeled(person, text, key, &Origin::private())
            .await?
            .0)
    }

    /// [`App::execute`], with the command's label for metrics.
    async fn execute_labeled(
        &self,
        person: &PersonId,
        text: &str,
        key: Option<IdempotencyKey>,
        origin: &Origin,
    ) -> Result<(Reply, &'static str), AppError> {
        let mut lines = parse_script(text);
        let not_run = lines.len().saturating_sub(MAX_LINES);
        lines.truncate(MAX_LINES);
        let several = lines.len() > 1;
        let mut label = "invalid";
        let mut parts = Vec::with_capacity(lines.len() + 1);
        for (i, line) in lines.into_iter().enumerate() {
            // Each line is its own change, recorded under its own key: a retry of the
            // message replays every line's first outcome.
            let key = key.as_ref().map(|k| k.sub(i));
            let r = match line.command {
                Ok(c) => {
                    label = if several { "several" } else { c.label() };
                    self.run_command(person, c, key, origin).await?
                }
                Err(e) => reply::parse_error(&e),
            };
            parts.push((line.text, r));
        }
        if not_run > 0 {
            parts.push(("…".to_owned(), reply::lines_not_run(not_run, MAX_LINES)));
        }
        Ok((reply::combined(parts), label))
    }

    async fn run_command(
        &self,
        person: &PersonId,
        command: Command,
        key: Option<IdempotencyKey>,
        origin: &Origin,
    ) -> Result<Reply, AppError> {
        let audience = origin.audience;
        let now = self.clock.now();
        let connect_url = self.settings.connect_url();
        let op = match command {
            Command::Help => {
                return Ok(
                    if self.role(origin.email.as_deref()).await?
                        == crate::domain::access::Role::Admin
                    {
                        reply::help_for_admin()
                    } else {
                        reply::help()
                    },
                );
            }
            Command::Admin(rest) => {
                return self.admin(origin.email.as_deref(), &rest, audience).await;
            }
            Command::ForgetMe { confirm } => {
                return self
                    .forget_me(person, origin.email.as_deref(), confirm, audience)
                    .await;
            }
            Command::Export => return self.export_command(person, audience).await,
            Command::Meeting(_) | Command::MeetNow
                if let Some(refusal) = self.meeting_refusal(origin.email.as_deref()).await? =>
            {
                return Ok(refusal);
            }
            Command::Meeting(mut request) => {
                // `with @Bob` / `with everyone`: the names Webex left in the text.
                if let Err(e) = request.take_guests(&origin.mentioned, origin.group_room()) {
                    return Ok(reply::parse_error(&ParseError::Meeting(e)));
                }
                let result = self.schedule_meeting(person, request, key).await?;
                return Ok(result.reply(&connect_url));
            }
            Command::MeetingTemplates => return self.meeting_templates(person).await,
            Command::MeetNow => return self.meet_now(person, origin.group_room()).await,
            // Titles and join links are the person's: listed only where only they read it.
            Command::Meetings(_) if audience == Audience::Shared => {
                return Ok(reply::meetings_in_private());
            }
            Command::Meetings(window) => return self.upcoming_meetings(person, window).await,
            // The address opens the person's tasks: given only where only they read it.
            Command::Calendar { .. } if audience == Audience::Shared => {
                return Ok(reply::calendar_in_private());
            }
            Command::Calendar { reset } => return self.calendar_command(person, reset).await,
            Command::Status => {
                return Ok(match self.tokens.load(person.clone()).await {
                    Ok(Some(g)) => {
                        let followed = if g.is_connected()
                            && self.settings.events == super::EventsMode::Websocket
                        {
                            MeetingsFollowed::Polled(self.settings.meetings_poll.as_secs())
                        } else if g.is_connected() {
                            self.meetings_followed(person, g.webhook_id.as_deref())
                                .await
                        } else {
                            MeetingsFollowed::Unknown
                        };
                        reply::status(&g, &connect_url, audience, &followed)
                    }
                    Ok(None) => reply::status_not_connected(&connect_url),
                    Err(StoreError::Sealed) => reply::status_unreadable(&connect_url),
                    Err(e) => return Err(e.into()),
                });
            }
            Command::Connect => return Ok(reply::connect(&connect_url)),
            Command::Disconnect => {
                let (had, jobs) = self.disconnect_all(person).await?;
                return Ok(reply::disconnected_with_jobs(had, jobs));
            }
            Command::Remind(n, phrase) => return self.remind(person, n, phrase, key).await,
            Command::RemindMe { when, title } => {
                return self.remind_me(person, when, title, key).await;
            }
            Command::RemindDefault(phrase) => return self.remind_default(person, phrase).await,
            Command::Snooze(n, phrase) => return self.snooze(person, n, phrase, key).await,
            Command::Agenda(c) => return self.agenda_command(person, c).await,
            Command::Unknown(verb) => return Ok(reply::unknown(&verb)),
            Command::List => {
                let open = self.tasks.list_open(person.clone()).await?;
                let here = self.here_for(person, &open).await?;
                return Ok(reply::task_list_with_card(person, &open, here.as_ref()));
            }
            Command::ListAll => {
                let open = self.tasks.list_open(person.clone()).await?;
                let here = self.here_for(person, &open).await?;
                return Ok(reply::task_list_all(&open, here.as_ref()));
            }
            Command::ListOnly(filter) => {
                let here = self.here(person).await?.0;
                return Ok(if filter == ListFilter::Done {
                    let done = self.tasks.list_done(person.clone(), 20).await?;
                    reply::filtered_list(filter, &done.iter().collect::<Vec<_>>(), &here)
                } else {
                    let open = self.tasks.list_open(person.clone()).await?;
                    let mut kept = reply::filter_open(&open, filter, &here);
                    kept.sort_by_key(|t| t.due.map(|d| d.at));
                    reply::filtered_list(filter, &kept, &here)
                });
            }
            Command::Tz(None) => {
                let (here, source) = self.here(person).await?;
                let name = here.tz.iana_name().unwrap_or("UTC").to_owned();
                return Ok(reply::zone_is(&name, source.describe()));
            }
            Command::Tz(Some(typed)) => {
                if typed.eq_ignore_ascii_case("auto") {
                    self.tasks.set_timezone(person.clone(), None).await?;
                    self.rezone_agenda(person).await?;
                    let (here, _) = self.here(person).await?;
                    return Ok(reply::zone_set(here.tz.iana_name().unwrap_or("UTC")));
                }
                return Ok(match jiff::tz::TimeZone::get(typed.trim()) {
                    Ok(tz) => {
                        let name = tz.iana_name().unwrap_or(typed.trim()).to_owned();
                        self.tasks
                            .set_timezone(person.clone(), Some(name.clone()))
                            .await?;
                        self.rezone_agenda(person).await?;
                        reply::zone_set(&name)
                    }
                    Err(_) => reply::zone_unknown(&typed),
                });
            }
            Command::Task(title) => {
                // Whether the text names a date does not depend on the zone: only a text
                // that may carry one pays for looking the person's zone up.
                let utc = now.to_zoned(jiff::tz::TimeZone::UTC);
                if let Ok((_, None)) = split_due(title.as_str(), &utc) {
                    let op = TaskOp::Create {
                        title,
                        meeting: None,
                        due: None,
                        remind_at: None,
                    };
                    let outcome = self.tasks.apply(person.clone(), op, key, now).await?;
                    return Ok(reply::outcome(&outcome));
                }
                let (here, source) = self.here(person).await?;
                let now_z = here.now.to_zoned(here.tz.clone());
                let (title, due) = match split_due(title.as_str(), &now_z) {
                    Ok((t, when)) => (
                        TaskTitle::parse(&t).unwrap_or(title),
                        when.as_ref().map(When::due),
                    ),
                    Err(e) => return Ok(reply::date_error("task", &e)),
                };
                let dated = due.is_some();
                let op = TaskOp::Create {
                    title,
                    meeting: None,
                    due,
                    remind_at: None,
                };
                let outcome = self.tasks.apply(person.clone(), op, key, now).await?;
                let r = reply::outcome_at(&outcome, Some(&here));
                return self.hint_zone(person, r, dated, source).await;
            }
            Command::Due(n, phrase) => {
                let (here, source) = self.here(person).await?;
                let now_z = here.now.to_zoned(here.tz.clone());
                let due = match phrase.as_deref().map(|p| parse_when(p, &now_z)) {
                    None => None,
                    Some(Ok(w)) => Some(w.due()),
                    Some(Err(e)) => return Ok(reply::date_error("due", &e)),
                };
                let dated = due.is_some();
                let outcome = self
                    .tasks
                    .apply(person.clone(), TaskOp::SetDue(n, due), key, now)
                    .await?;
                let r = reply::outcome_at(&outcome, Some(&here));
                return self.hint_zone(person, r, dated, source).await;
            }
            Command::Edit(n, title) => TaskOp::Edit(n, title),
            Command::Undo => TaskOp::Undo,
            Command::Done(numbers) => {
                return self
                    .apply_each(person, numbers.as_slice(), TaskOp::Complete, key)
                    .await;
            }
            Command::Delete(numbers) => {
                return self
                    .apply_each(person, numbers.as_slice(), TaskOp::Delete, key)
                    .await;
            }
        };
        let outcome = self.tasks.apply(person.clone(), op, key, now).await?;
        self.answer(person, &[outcome]).await
    }

    /// The reply to task outcomes; the person's zone is looked up only when a due date is
    /// shown.
    async fn answer(&self, person: &PersonId, all: &[TaskOutcome]) -> Result<Reply, AppError> {
        let dated = all.iter().any(|o| {
            o.task()
                .is_some_and(|t| t.due.is_some() || t.remind_at.is_some())
        });
        let here = if dated {
            Some(self.here(person).await?.0)
        } else {
            None
        };
        Ok(reply::outcomes(all, here.as_ref()))
    }

    /// The person's zone, only when one of `tasks` has a due date to show.
    pub(crate) async fn here_for(
        &self,
        person: &PersonId,
        tasks: &[Task],
    ) -> Result<Option<Here>, AppError> {
        if tasks
            .iter()
            .any(|t| t.due.is_some() || t.remind_at.is_some())
        {
            Ok(Some(self.here(person).await?.0))
        } else {
            Ok(None)
        }
    }

    /// The person's clock and zone: the one they set with `tz`, else their Webex profile's
    /// (from their grant, or read with the bot token), else UTC.
    pub(crate) async fn here(&self, person: &PersonId) -> Result<(Here, ZoneSource), AppError> {
        let now = self.clock.now();
        let settings = self.tasks.settings(person.clone()).await?;
        let set = settings
            .timezone
            .as_deref()
            .and_then(|n| jiff::tz::TimeZone::get(n).ok());
        if let Some(tz) = set {
            return Ok((Here { tz, now }, ZoneSource::Set));
        }
        let profile = match self.tokens.load(person.clone()).await {
            Ok(Some(g)) => g.timezone,
            _ => None,
        };
        let profile = match profile {
            Some(z) => Some(z),
            None => self.profile_zone(person, now).await,
        }
        .and_then(|n| jiff::tz::TimeZone::get(&n).ok());
        Ok(match profile {
            Some(tz) => (Here { tz, now }, ZoneSource::Webex),
            None => (
                Here {
                    tz: jiff::tz::TimeZone::UTC,
                    now,
                },
                ZoneSource::Default {
                    hinted: settings.zone_hint_shown,
                },
            ),
        })
    }

    /// The zone of the person's Webex profile (`GET /people/{id}`, bot token), cached.
    async fn profile_zone(&self, person: &PersonId, now: jiff::Timestamp) -> Option<String> {
        const KEEP: jiff::SignedDuration = jiff::SignedDuration::from_hours(24);
        const KEEP_FAILED: jiff::SignedDuration = jiff::SignedDuration::from_hours(1);
        {
            let cache = self.profile_zones.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((zone, until)) = cache.get(person)
                && *until > now
            {
                return zone.clone();
            }
        }
        let (zone, keep) = match self.messaging.person_timezone(person.clone()).await {
            Ok(zone) => (zone, KEEP),
            Err(e) => {
                tracing::info!(error = %e, "cannot read the person's Webex profile zone; using UTC for now");
                (None, KEEP_FAILED)
            }
        };
        let mut cache = self.profile_zones.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() > 10_000 {
            cache.retain(|_, (_, until)| *until > now);
            if cache.len() > 10_000 {
                cache.clear();
            }
        }
        cache.insert(person.clone(), (zone.clone(), now + keep));
        zone
    }

    /// Adds the one-time "set your zone" hint to a reply that read a date in UTC by default.
    pub(crate) async fn hint_zone(
        &self,
        person: &PersonId,
        r: Reply,
        dated: bool,
        source: ZoneSource,
    ) -> Result<Reply, AppError> {
        if dated
            && matches!(source, ZoneSource::Default { hinted: false })
            && self.tasks.mark_zone_hint(person.clone()).await?
        {
            return Ok(reply::with_zone_hint(r));
        }
        Ok(r)
    }

    /// `done 1 2 5`: one change per number, each under its own key, one reply line each.
    async fn apply_each(
        &self,
        person: &PersonId,
        numbers: &[TaskNumber],
        op: fn(TaskNumber) -> TaskOp,
        key: Option<IdempotencyKey>,
    ) -> Result<Reply, AppError> {
        let mut outcomes = Vec::with_capacity(numbers.len());
        for (j, n) in numbers.iter().enumerate() {
            let key = key.as_ref().map(|k| {
                if j == 0 {
                    k.clone()
                } else {
                    k.sub_named(&format!("n{n}"))
                }
            });
            outcomes.push(
                self.tasks
                    .apply(person.clone(), op(*n), key, self.clock.now())
                    .await?,
            );
        }
        self.answer(person, &outcomes).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::test_support::{BOT_ID, Mocks, now};
    use crate::domain::{Task, TaskNumber, TaskOutcome, TaskTitle};
    use crate::ports::{InboxId, IncomingMessage, StoreError};
    use mockall::predicate::*;

    fn item(person: &str) -> InboxItem {
        InboxItem {
            id: InboxId(42),
            event: WebexEvent::MessageCreated {
                message_id: "m1".into(),
                room_id: "r1".into(),
                person_id: person.into(),
            },
            attempts: 1,
            received_at: now(),
            pacing: Pacing::Normal,
        }
    }

    fn incoming(text: &str, html: Option<&str>) -> IncomingMessage {
        IncomingMessage {
            id: "m1".into(),
            room_id: "r1".into(),
            person_id: "p1".into(),
            person_email: Some("p1@example.com".into()),
            text: text.into(),
            html: html.map(str::to_owned),
            room_type: Some(if html.is_some() {
                crate::ports::RoomType::Group
            } else {
                crate::ports::RoomType::Direct
            }),
            mentioned_people: if html.is_some() {
                vec![BOT_ID.into()]
            } else {
                Vec::new()
            },
        }
    }

    fn task(n: u32, title: &str) -> Task {
        Task {
            number: TaskNumber::new(n).unwrap(),
            title: TaskTitle::parse(title).unwrap(),
            done: false,
            created_at: now(),
            meeting: None,
            due: None,
            remind_at: None,
        }
    }

    #[tokio::test]
    async fn task_command_stores_under_the_items_key_then_confirms_in_the_same_room() {
        let mut m = Mocks::new();
        let html = format!(
            r#"<p><spark-mention data-object-type="person" data-object-id="{BOT_ID}">Botper</spark-mention> task Buy milk</p>"#
        );
        m.messaging
            .expect_get_message()
            .with(eq(crate::domain::MessageId::from("m1")))
            .times(1)
            .returning(move |_| Ok(incoming("Botper task Buy milk", Some(&html))));
        m.tasks
            .expect_apply()
            .withf(|owner, op, key, at| {
                owner.as_str() == "p1"
                    && matches!(op, TaskOp::Create { title, meeting: None, .. } if title.as_str() == "Buy milk")
                    && key.as_ref().map(|k| k.as_str()) == Some("inbox:42")
                    && *at == now()
            })
            .times(1)
            .returning(|_, _, _, _| Ok(TaskOutcome::Created(task(1, "Buy milk"))));
        m.messaging
            .expect_send()
            .withf(|to, r| {
                *to == Destination::Room("r1".into()) && r.markdown.contains("**#1** Buy milk")
            })
            .times(1)
            .returning(|_, _| Ok("sent".into()));
        m.app().process(&item("p1")).await.unwrap();
    }

    #[tokio::test]
    async fn list_reads_the_senders_open_tasks() {
        let mut m = Mocks::new();
        m.messaging
            .expect_get_message()
            .returning(|_| Ok(incoming("LIST", None)));
        m.tasks
            .expect_list_open()
            .with(eq(PersonId::from("p1")))
            .times(1)
            .returning(|_| Ok(vec![task(1, "A"), task(3, "C")]));
        m.tasks.expect_apply().never();
        m.messaging
            .expect_send()
            .withf(|_, r| r.markdown.contains("**#1** A") && r.markdown.contains("**#3** C"))
            .times(1)
            .returning(|_, _| Ok("sent".into()));
        m.app().process(&item("p1")).await.unwrap();
    }

    #[tokio::test]
    async fn a_bad_number_is_answered_and_changes_nothing() {
        let mut m = Mocks::new();
        m.messaging
            .expect_get_message()
            .returning(|_| Ok(incoming("delete abc", None)));
        m.tasks.expect_apply().never();
        m.tasks.expect_list_open().never();
        m.messaging
            .expect_send()
            .withf(|_, r| r.markdown.contains("“abc” is not a task number"))
            .times(1)
            .returning(|_, _| Ok("sent".into()));
        m.app().process(&item("p1")).await.unwrap();
    }

    #[tokio::test]
    async fn done_on_a_missing_number_says_so() {
        let mut m = Mocks::new();
        m.messaging
            .expect_get_message()
            .returning(|_| Ok(incoming("done 9", None)));
        m.tasks
            .expect_apply()
            .withf(|_, op, _, _| *op == TaskOp::Complete(TaskNumber::new(9).unwrap()))
            .returning(|_, op, _, _| match op {
                TaskOp::Complete(n) => Ok(TaskOutcome::NotFound(n)),
                _ => unreachable!(),
            });
        m.messaging
            .expect_send()
            .withf(|_, r| r.markdown.contains("no task #9"))
            .times(1)
            .returning(|_, _| Ok("sent".into()));
        m.app().process(&item("p1")).await.unwrap();
    }

    #[tokio::test]
    async fn the_bots_own_message_is_ignored_without_calling_webex() {
        let mut m = Mocks::new();
        m.messaging.expect_get_message().never();
        m.messaging.expect_send().never();
        m.app().process(&item(BOT_ID)).await.unwrap();
    }

    #[tokio::test]
    async fn a_deleted_message_is_settled_without_a_reply() {
        let mut m = Mocks::new();
        m.messaging
            .expect_get_message()
            .returning(|_| Err(WebexError::NotFound));
        m.messaging.expect_send().never();
        m.app().process(&item("p1")).await.unwrap();
    }

    #[tokio::test]
    async fn webex_outage_is_transient() {
        let mut m = Mocks::new();
        m.messaging
            .expect_get_message()
            .returning(|_| Err(WebexError::Unavailable("503".into())));
        let e = m.app().process(&item("p1")).await.unwrap_err();
        assert!(e.transient);
    }

    #[tokio::test]
    async fn database_outage_is_transient_and_nothing_is_sent() {
        let mut m = Mocks::new();
        m.messaging
            .expect_get_message()
            .returning(|_| Ok(incoming("task x", None)));
        m.tasks
            .expect_apply()
            .returning(|_, _, _, _| Err(StoreError::Unavailable(anyhow::anyhow!("down"))));
        m.messaging.expect_send().never();
        let e = m.app().process(&item("p1")).await.unwrap_err();
        assert!(e.transient);
    }

    #[tokio::test]
    async fn a_refused_reply_is_permanent() {
        let mut m = Mocks::new();
        m.messaging
            .expect_get_message()
            .returning(|_| Ok(incoming("help", None)));
        m.access.expect_role_of().returning(|_| Ok(None));
        m.messaging.expect_send().returning(|_, _| {
            Err(WebexError::Rejected {
                status: 403,
                message: "not in room".into(),
                tracking_id: None,
            })
        });
        let e = m.app().process(&item("p1")).await.unwrap_err();
        assert!(!e.transient);
    }

    #[tokio::test]
    async fn the_first_delayed_command_says_botper_is_catching_up() {
        let mut m = Mocks::new();
        m.messaging
            .expect_get_message()
            .returning(|_| Ok(incoming("help", None)));
        m.access.expect_role_of().returning(|_| Ok(None));
        m.messaging
            .expect_send()
            .withf(|_, r| {
                r.markdown
                    .starts_with("⏳ You're sending commands faster than I answer (30 a minute)")
                    && r.markdown.contains("(4 were waiting before this one)")
                    && r.markdown.contains("`task <text>`")
            })
            .times(1)
            .returning(|_, _| Ok("sent".into()));
        let mut it = item("p1");
        it.pacing = Pacing::CatchingUp { waiting: 4 };
        m.app().process(&it).await.unwrap();
    }

    #[tokio::test]
    async fn a_refused_command_is_named_and_not_run() {
        let mut m = Mocks::new();
        m.messaging
            .expect_get_message()
            .returning(|_| Ok(incoming("task Pay <@all> rent", None)));
        m.tasks.expect_apply().never();
        m.messaging
            .expect_send()
            .withf(|to, r| {
                *to == Destination::Room("r1".into())
                    && r.markdown
                        .contains("I did **not** run “task Pay &lt;@all&gt; rent”")
                    && r.markdown
                        .contains("300 of your commands are still waiting")
            })
            .times(1)
            .returning(|_, _| Ok("sent".into()));
        let mut it = item("p1");
        it.pacing = Pacing::Refused { waiting: 300 };
        m.app().process(&it).await.unwrap();
    }

    #[tokio::test]
    async fn help_and_unknown_commands_list_the_commands() {
        let mut m = Mocks::new();
        m.tasks.expect_apply().never();
        let app = m.app();
        let p = PersonId::from("p1");
        let help = app.execute(&p, "help", None).await.unwrap();
        assert!(help.markdown.contains("`done <n>`"));
        let unknown = app.execute(&p, "fly away", None).await.unwrap();
        assert!(
            unknown
                .markdown
                .starts_with("I don't know the command `fly`")
        );
    }
}
