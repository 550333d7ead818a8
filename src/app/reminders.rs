//! Reminders, snoozes and the agenda: the commands that set them, and what a fired job
//! does (a 1:1 message to its owner).

use jiff::{SignedDuration, Timestamp};

use crate::domain::agenda::{AgendaDays, AgendaSchedule};
use crate::domain::command::AgendaCommand;
use crate::domain::task::ReminderLead;
use crate::domain::when::{WhenError, parse_duration, parse_when, split_due};
use crate::domain::{PersonId, Reply, TaskNumber, TaskOp, TaskTitle, reply};
use crate::ports::{Destination, IdempotencyKey, JobKind};

use super::{App, AppError, ProcessError};

/// A firing this long after its moment says that it comes late.
pub const LATE_AFTER: SignedDuration = SignedDuration::from_mins(2);

/// The longest default lead `remind default` takes.
const MAX_LEAD: SignedDuration = SignedDuration::from_hours(24 * 7);

/// `now + d`, rounded up to the next whole minute (the scheduler's granularity).
fn after(now: Timestamp, d: SignedDuration) -> Option<Timestamp> {
    let at = now.checked_add(d).ok()?;
    let ms = at.as_millisecond();
    let minute = 60_000;
    let rounded = ms.div_euclid(minute) * minute + if ms % minute == 0 { 0 } else { minute };
    Timestamp::from_millisecond(rounded).ok()
}

impl App {
    /// A scheduler job came due: remind the person of their task, or send their agenda, in
    /// their 1:1 space. A reminder whose task was done, deleted or given another moment
    /// since it was scheduled is dropped.
    ///
    /// # Errors
    /// A [`ProcessError`] says whether a retry may help.
    pub(crate) async fn on_scheduled(
        &self,
        owner: &PersonId,
        job: JobKind,
        due_at: Timestamp,
    ) -> Result<(), ProcessError> {
        let started = std::time::Instant::now();
        let now = self.clock.now();
        let late = (now.duration_since(due_at) > LATE_AFTER).then_some(due_at);
        let to = Destination::Person(owner.clone());
        let label = match job {
            JobKind::Reminder(n) => {
                let Some(task) = self.tasks.task(owner.clone(), n).await? else {
                    tracing::info!(task = n.get(), "reminder for a deleted task; dropped");
                    return Ok(());
                };
                let lead = self.scheduler.reminder_lead(owner.clone()).await?;
                if task.reminder_at(lead) != Some(due_at) {
                    tracing::info!(
                        task = n.get(),
                        "reminder no longer wanted (done or moved); dropped"
                    );
                    return Ok(());
                }
                let here = if reply::reminder_shows_a_moment(&task, late.is_some()) {
                    self.here(owner).await?.0
                } else {
                    crate::domain::reply::Here {
                        tz: jiff::tz::TimeZone::UTC,
                        now,
                    }
                };
                self.messaging
                    .send(to, reply::reminder(owner, &task, &here, late))
                    .await?;
                "reminder"
            }
            JobKind::Agenda => {
                let Some(schedule) = self.scheduler.agenda(owner.clone()).await? else {
                    tracing::info!("agenda turned off since it was scheduled; dropped");
                    return Ok(());
                };
                let open = self.tasks.list_open(owner.clone()).await?;
                let (here, _) = self.here(owner).await?;
                self.messaging
                    .send(to, reply::agenda(&open, &here, late, Some(&schedule)))
                    .await?;
                "agenda"
            }
        };
        if late.is_some() {
            tracing::info!(
                late_secs = now.duration_since(due_at).as_secs(),
                job = label,
                "a job fired late"
            );
        }
        self.metrics.command(label, started.elapsed().as_secs_f64());
        Ok(())
    }

    /// `remind <n> <when>` / `remind <n> off`.
    pub(crate) async fn remind(
        &self,
        person: &PersonId,
        n: TaskNumber,
        phrase: Option<String>,
        key: Option<IdempotencyKey>,
    ) -> Result<Reply, AppError> {
        let (here, _) = self.here(person).await?;
        let at = match phrase {
            None => None,
            Some(p) => match parse_when(&p, &here.now.to_zoned(here.tz.clone())) {
                Ok(w) => Some(w.at.timestamp()),
                Err(e) => return Ok(reply::date_error("remind", &e)),
            },
        };
        self.set_reminder(person, n, at, key).await
    }

    /// `snooze <n> [2h | tomorrow]`: the reminder moves (an hour by default).
    pub(crate) async fn snooze(
        &self,
        person: &PersonId,
        n: TaskNumber,
        phrase: Option<String>,
        key: Option<IdempotencyKey>,
    ) -> Result<Reply, AppError> {
        let (here, _) = self.here(person).await?;
        let at = match snooze_until(phrase.as_deref(), &here) {
            Ok(at) => at,
            Err(e) => return Ok(reply::date_error("snooze", &e)),
        };
        self.set_reminder(person, n, Some(at), key).await
    }

    async fn set_reminder(
        &self,
        person: &PersonId,
        n: TaskNumber,
        at: Option<Timestamp>,
        key: Option<IdempotencyKey>,
    ) -> Result<Reply, AppError> {
        let (here, source) = self.here(person).await?;
        let outcome = self
            .tasks
            .apply(person.clone(), TaskOp::Remind(n, at), key, self.clock.now())
            .await?;
        let r = reply::outcome_at(&outcome, Some(&here));
        self.hint_zone(person, r, at.is_some(), source).await
    }

    /// `remind me in 20m to call Bob` / `remind me to call Bob at 5pm`: a new task with a
    /// reminder.
    pub(crate) async fn remind_me(
        &self,
        person: &PersonId,
        when: Option<String>,
        title: TaskTitle,
        key: Option<IdempotencyKey>,
    ) -> Result<Reply, AppError> {
        let (here, source) = self.here(person).await?;
        let now_z = here.now.to_zoned(here.tz.clone());
        let (title, at) = match when {
            Some(p) => match parse_when(&p, &now_z) {
                Ok(w) => (title, w.at.timestamp()),
                Err(e) => return Ok(reply::date_error("remind", &e)),
            },
            None => match split_due(title.as_str(), &now_z) {
                Ok((t, Some(w))) => (TaskTitle::parse(&t).unwrap_or(title), w.at.timestamp()),
                Ok((_, None)) => return Ok(reply::date_error("remind", &WhenError::Empty)),
                Err(e) => return Ok(reply::date_error("remind", &e)),
            },
        };
        let op = TaskOp::Create {
            title,
            meeting: None,
            due: None,
            remind_at: Some(at),
        };
        let outcome = self
            .tasks
            .apply(person.clone(), op, key, self.clock.now())
            .await?;
        let r = reply::created_with_reminder(&outcome, &here);
        self.hint_zone(person, r, true, source).await
    }

    /// `remind default [15m | off]`.
    pub(crate) async fn remind_default(
        &self,
        person: &PersonId,
        phrase: Option<String>,
    ) -> Result<Reply, AppError> {
        let Some(p) = phrase else {
            let lead = self.scheduler.reminder_lead(person.clone()).await?;
            return Ok(reply::reminder_lead(lead, None));
        };
        let lead = match p.trim().to_lowercase().as_str() {
            "off" | "none" | "no" | "never" => ReminderLead::Off,
            "0" | "0m" | "on time" | "at due" | "on" | "due" => ReminderLead::AtDue,
            _ => match parse_duration(&p) {
                Ok(d) if d > MAX_LEAD => {
                    return Ok(reply::lead_too_long());
                }
                Ok(d) => ReminderLead::Before(d),
                Err(e) => return Ok(reply::date_error("remind default", &e)),
            },
        };
        let now = self.clock.now();
        let scheduled = self
            .scheduler
            .set_reminder_lead(person.clone(), lead, now)
            .await?;
        Ok(reply::reminder_lead(lead, Some(scheduled)))
    }

    /// `agenda`, `agenda at 8:30 [every day]`, `agenda off`.
    pub(crate) async fn agenda_command(
        &self,
        person: &PersonId,
        command: AgendaCommand,
    ) -> Result<Reply, AppError> {
        let (here, source) = self.here(person).await?;
        match command {
            AgendaCommand::Show => {
                let open = self.tasks.list_open(person.clone()).await?;
                let schedule = self.scheduler.agenda(person.clone()).await?;
                Ok(reply::agenda(&open, &here, None, schedule.as_ref()))
            }
            AgendaCommand::Off => {
                let had = self.scheduler.agenda(person.clone()).await?.is_some();
                self.scheduler
                    .set_agenda(person.clone(), None, here.now)
                    .await?;
                Ok(reply::agenda_off(had))
            }
            AgendaCommand::At { time, every_day } => {
                let at = match parse_when(&time, &here.now.to_zoned(here.tz.clone())) {
                    Ok(w) if w.has_time => w.at.time(),
                    Ok(_) => {
                        return Ok(reply::date_error(
                            "agenda",
                            &WhenError::NotATime(time.clone()),
                        ));
                    }
                    Err(e) => return Ok(reply::date_error("agenda", &e)),
                };
                let schedule = AgendaSchedule {
                    at,
                    days: if every_day {
                        AgendaDays::EveryDay
                    } else {
                        AgendaDays::Weekdays
                    },
                    zone: here.tz.iana_name().unwrap_or("UTC").to_owned(),
                };
                let next = self
                    .scheduler
                    .set_agenda(person.clone(), Some(schedule.clone()), here.now)
                    .await?;
                let r = match next {
                    Some(next) => reply::agenda_set(&schedule, next, &here),
                    None => reply::agenda_never(),
                };
                self.hint_zone(person, r, true, source).await
            }
        }
    }

    /// After the person's zone changed: their agenda keeps its local time in the new zone.
    pub(crate) async fn rezone_agenda(&self, person: &PersonId) -> Result<(), AppError> {
        if let Some(mut schedule) = self.scheduler.agenda(person.clone()).await? {
            let (here, _) = self.here(person).await?;
            schedule.zone = here.tz.iana_name().unwrap_or("UTC").to_owned();
            self.scheduler
                .set_agenda(person.clone(), Some(schedule), here.now)
                .await?;
        }
        Ok(())
    }
}

/// Where `snooze` moves a reminder: an hour by default, a duration (`2h`), or a moment
/// (`tomorrow`, `fri 9:00`).
fn snooze_until(phrase: Option<&str>, here: &reply::Here) -> Result<Timestamp, WhenError> {
    let Some(p) = phrase else {
        return after(here.now, SignedDuration::from_hours(1)).ok_or(WhenError::TooFar);
    };
    match parse_duration(p) {
        Ok(d) => after(here.now, d).ok_or(WhenError::TooFar),
        Err(WhenError::NotPositive(s)) => Err(WhenError::NotPositive(s)),
        Err(WhenError::TooFar) => Err(WhenError::TooFar),
        Err(_) => parse_when(p, &here.now.to_zoned(here.tz.clone())).map(|w| w.at.timestamp()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::test_support::{Mocks, now};
    use crate::domain::Task;
    use crate::domain::card::CardKind;
    use crate::ports::{PersonSettings, StoreError};
    use mockall::predicate::*;

    fn task(done: bool, remind_at: Option<Timestamp>) -> Task {
        Task {
            number: TaskNumber::new(3).unwrap(),
            title: TaskTitle::parse("Pay rent").unwrap(),
            done,
            created_at: now(),
            meeting: None,
            due: None,
            remind_at,
        }
    }

    /// The person's zone: none set, not connected (UTC).
    fn zone(m: &mut Mocks) {
        m.tasks
            .expect_settings()
            .returning(|_| Ok(PersonSettings::default()));
        m.tokens.expect_load().returning(|_| Ok(None));
        m.messaging.expect_person_timezone().returning(|_| Ok(None));
    }

    #[tokio::test]
    async fn an_unconnected_persons_zone_comes_from_their_webex_profile_once_a_day() {
        let mut m = Mocks::new();
        m.tasks
            .expect_settings()
            .returning(|_| Ok(PersonSettings::default()));
        m.tokens.expect_load().returning(|_| Ok(None));
        m.messaging
            .expect_person_timezone()
            .with(eq(PersonId::from("p1")))
            .times(1)
            .returning(|_| Ok(Some("Asia/Tokyo".into())));
        let app = m.app();
        for _ in 0..2 {
            let (here, source) = app.here(&"p1".into()).await.unwrap();
            assert_eq!(here.tz.iana_name(), Some("Asia/Tokyo"));
            assert_eq!(source, crate::app::commands::ZoneSource::Webex);
        }
    }

    #[tokio::test]
    async fn a_due_reminder_goes_to_the_person_one_to_one_with_its_buttons() {
        let mut m = Mocks::new();
        zone(&mut m);
        let due = now();
        m.tasks
            .expect_task()
            .with(eq(PersonId::from("p1")), eq(TaskNumber::new(3).unwrap()))
            .times(1)
            .returning(move |_, _| Ok(Some(task(false, Some(due)))));
        m.scheduler
            .expect_reminder_lead()
            .returning(|_| Ok(ReminderLead::AtDue));
        m.messaging
            .expect_send()
            .withf(|to, r| {
                *to == Destination::Person("p1".into())
                    && r.markdown.starts_with("⏰ **Reminder:** **#3** Pay rent")
                    && !r.markdown.contains("late")
                    && r.card
                        .as_ref()
                        .is_some_and(|c| c.kind == CardKind::Reminder)
            })
            .times(1)
            .returning(|_, _| Ok("sent".into()));
        let app = m.app();
        app.on_scheduled(
            &"p1".into(),
            JobKind::Reminder(TaskNumber::new(3).unwrap()),
            due,
        )
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn a_firing_long_after_its_moment_says_it_is_late() {
        let mut m = Mocks::new();
        zone(&mut m);
        let due = now() - SignedDuration::from_hours(3);
        m.tasks
            .expect_task()
            .returning(move |_, _| Ok(Some(task(false, Some(due)))));
        m.scheduler
            .expect_reminder_lead()
            .returning(|_| Ok(ReminderLead::AtDue));
        m.messaging
            .expect_send()
            .withf(|_, r| {
                r.markdown
                    .contains("_This comes late: it was due Sun 29 Nov, 09:00 UTC")
            })
            .times(1)
            .returning(|_, _| Ok("sent".into()));
        m.app()
            .on_scheduled(
                &"p1".into(),
                JobKind::Reminder(TaskNumber::new(3).unwrap()),
                due,
            )
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_reminder_whose_task_was_done_moved_or_deleted_is_dropped() {
        for (found, why) in [
            (Some(task(true, Some(now()))), "done"),
            (
                Some(task(false, Some(now() + SignedDuration::from_hours(1)))),
                "moved",
            ),
            (None, "deleted"),
        ] {
            let mut m = Mocks::new();
            m.tasks
                .expect_task()
                .returning(move |_, _| Ok(found.clone()));
            m.scheduler
                .expect_reminder_lead()
                .returning(|_| Ok(ReminderLead::AtDue));
            m.messaging.expect_send().never();
            m.app()
                .on_scheduled(
                    &"p1".into(),
                    JobKind::Reminder(TaskNumber::new(3).unwrap()),
                    now(),
                )
                .await
                .unwrap_or_else(|e| panic!("{why}: {e}"));
        }
    }

    #[tokio::test]
    async fn an_agenda_turned_off_since_it_fired_is_dropped_and_one_still_on_is_sent() {
        let mut m = Mocks::new();
        m.scheduler.expect_agenda().times(1).returning(|_| Ok(None));
        m.messaging.expect_send().never();
        m.app()
            .on_scheduled(&"p1".into(), JobKind::Agenda, now())
            .await
            .unwrap();

        let mut m = Mocks::new();
        zone(&mut m);
        m.scheduler.expect_agenda().returning(|_| {
            Ok(Some(AgendaSchedule {
                at: jiff::civil::Time::new(8, 30, 0, 0).unwrap(),
                days: AgendaDays::Weekdays,
                zone: "UTC".into(),
            }))
        });
        m.tasks.expect_list_open().returning(|_| Ok(vec![]));
        m.messaging
            .expect_send()
            .withf(|to, r| {
                *to == Destination::Person("p1".into())
                    && r.markdown.starts_with("**Your agenda for Sun 29 Nov**")
                    && r.markdown
                        .contains("every working day (Mon–Fri) at 08:30 UTC")
            })
            .times(1)
            .returning(|_, _| Ok("sent".into()));
        m.app()
            .on_scheduled(&"p1".into(), JobKind::Agenda, now())
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_store_outage_while_firing_is_transient() {
        let mut m = Mocks::new();
        m.tasks
            .expect_task()
            .returning(|_, _| Err(StoreError::Unavailable(anyhow::anyhow!("down"))));
        m.messaging.expect_send().never();
        let e = m
            .app()
            .on_scheduled(
                &"p1".into(),
                JobKind::Reminder(TaskNumber::new(3).unwrap()),
                now(),
            )
            .await
            .unwrap_err();
        assert!(e.transient);
    }

    #[tokio::test]
    async fn the_loop_fires_batch_after_batch_until_a_short_one_and_survives_an_outage() {
        let mut m = Mocks::new();
        let mut seq = mockall::Sequence::new();
        for n in [200, 200, 7] {
            m.scheduler
                .expect_fire_due()
                .with(eq(now()), eq(200))
                .times(1)
                .in_sequence(&mut seq)
                .returning(move |_, _| Ok(n));
        }
        m.scheduler
            .expect_fire_due()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Err(StoreError::Unavailable(anyhow::anyhow!("down"))));
        let app = m.app();
        assert_eq!(crate::app::scheduler::fire_once(&app, 200).await, 407);
        assert_eq!(crate::app::scheduler::fire_once(&app, 200).await, 0);
    }

    #[tokio::test]
    async fn remind_sets_the_moment_read_in_the_persons_zone_and_nonsense_changes_nothing() {
        let mut m = Mocks::new();
        m.tasks.expect_settings().returning(|_| {
            Ok(PersonSettings {
                timezone: Some("Europe/Paris".into()),
                zone_hint_shown: true,
            })
        });
        // 12:00 UTC is 13:00 in Paris: "at 15:00" is 14:00 UTC today.
        let expected: Timestamp = "2026-11-29T14:00:00Z".parse().unwrap();
        m.tasks
            .expect_apply()
            .withf(move |_, op, key, _| {
                *op == TaskOp::Remind(TaskNumber::new(3).unwrap(), Some(expected))
                    && key.as_ref().map(|k| k.as_str()) == Some("k")
            })
            .times(1)
            .returning(move |_, _, _, _| {
                Ok(crate::domain::TaskOutcome::Reminded {
                    task: task(false, Some(expected)),
                    before: None,
                })
            });
        let app = m.app();
        let p = PersonId::from("p1");
        let r = app
            .execute(&p, "remind 3 at 15:00", Some(IdempotencyKey::new("k")))
            .await
            .unwrap();
        assert_eq!(
            r.markdown,
            "⏰ I'll remind you of **#3** Pay rent on Sun 29 Nov, 15:00 Europe/Paris."
        );
        for bad in [
            "remind 3 in -5m",
            "remind 3 31 feb",
            "snooze 3 -2h",
            "snooze 3 soon",
        ] {
            let r = app.execute(&p, bad, None).await.unwrap();
            assert!(
                r.markdown.contains("Nothing changed"),
                "{bad}: {}",
                r.markdown
            );
        }
    }

    #[tokio::test]
    async fn remind_default_moves_the_persons_reminders_and_disconnect_forgets_their_jobs() {
        let mut m = Mocks::new();
        m.scheduler
            .expect_set_reminder_lead()
            .with(
                eq(PersonId::from("p1")),
                eq(ReminderLead::Before(SignedDuration::from_mins(15))),
                eq(now()),
            )
            .times(1)
            .returning(|_, _, _| Ok(4));
        m.scheduler
            .expect_forget_jobs()
            .with(eq(PersonId::from("p1")))
            .times(1)
            .returning(|_| Ok(3));
        m.tokens.expect_load().returning(|_| Ok(None));
        let app = m.app();
        let p = PersonId::from("p1");
        let r = app.execute(&p, "remind default 15m", None).await.unwrap();
        assert!(r.markdown.contains("15 min before it"), "{}", r.markdown);
        assert!(r.markdown.contains("(4 upcoming reminders updated.)"));
        let r = app
            .execute(&p, "remind default 8 days", None)
            .await
            .unwrap();
        assert!(r.markdown.contains("at most 7 days"), "{}", r.markdown);
        let r = app.execute(&p, "disconnect", None).await.unwrap();
        assert!(
            r.markdown
                .contains("cancelled the 3 jobs scheduled for you")
        );
    }

    #[test]
    fn snoozes_round_up_to_the_minute() {
        let t: Timestamp = "2026-12-02T10:00:30Z".parse().unwrap();
        assert_eq!(
            after(t, SignedDuration::from_hours(1)),
            Some("2026-12-02T11:01:00Z".parse().unwrap())
        );
        let exact: Timestamp = "2026-12-02T10:00:00Z".parse().unwrap();
        assert_eq!(
            after(exact, SignedDuration::from_mins(5)),
            Some("2026-12-02T10:05:00Z".parse().unwrap())
        );
    }

    #[test]
    fn snooze_reads_durations_and_moments_and_refuses_the_past() {
        let here = reply::Here {
            tz: jiff::tz::TimeZone::get("Europe/Paris").unwrap(),
            now: "2026-12-02T10:00:00Z".parse().unwrap(),
        };
        assert_eq!(
            snooze_until(None, &here),
            Ok("2026-12-02T11:00:00Z".parse().unwrap())
        );
        assert_eq!(
            snooze_until(Some("2h"), &here),
            Ok("2026-12-02T12:00:00Z".parse().unwrap())
        );
        // Tomorrow 09:00 in Paris.
        assert_eq!(
            snooze_until(Some("tomorrow"), &here),
            Ok("2026-12-03T08:00:00Z".parse().unwrap())
        );
        assert!(snooze_until(Some("-5m"), &here).is_err());
        assert!(snooze_until(Some("in -5m"), &here).is_err());
        assert!(snooze_until(Some("banana"), &here).is_err());
    }
}
