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
                let (here, _) = self.here(owner).await?;
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
        let r = match outcome.task() {
            Some(t) => reply::Reply::new(format!(
                "{} {}",
                reply::outcome_at(&outcome, None).markdown,
                reply::reminder_set_line(t, &here)
            )),
            None => reply::outcome_at(&outcome, Some(&here)),
        };
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
                    return Ok(reply::Reply::new(
                        "I can't set that: a default reminder comes at most 7 days ahead. Nothing changed.",
                    ));
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
                    None => reply::Reply::new("I can't find a next time for that agenda."),
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
