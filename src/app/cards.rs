//! Card buttons and new spaces: a pressed Done/Delete runs the same use case as the typed
//! command (for the list's owner only) and answers with the updated list; the bot added to
//! a space says hello.

use crate::domain::card::{CardVerb, parse_submission};
use crate::domain::reply::Audience;
use crate::domain::{PersonId, RoomId, TaskOp, reply};
use crate::ports::{Destination, IdempotencyKey, InboxItem, Pacing, RoomType, WebexError};

use super::{App, ProcessError};

impl App {
    pub(crate) async fn on_card_action(
        &self,
        item: &InboxItem,
        action_id: &str,
        person_id: &PersonId,
    ) -> Result<(), ProcessError> {
        let started = std::time::Instant::now();
        let bot = self.bot_identity().await?.clone();
        if bot.id == *person_id {
            return Ok(());
        }
        let submission = match self.messaging.get_card_action(action_id.to_owned()).await {
            Ok(s) => s,
            Err(WebexError::NotFound) => {
                tracing::info!("card submission is gone; nothing to do");
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        };
        let to = Destination::Room(submission.room_id.clone());
        if let Pacing::Refused { waiting } = item.pacing {
            self.messaging
                .send(to, reply::backlog_refused_card(waiting))
                .await?;
            return Ok(());
        }
        let command = match parse_submission(
            submission.action.as_deref(),
            submission.task.as_deref(),
            submission.owner.as_deref(),
        ) {
            Ok(c) => c,
            Err(e) => {
                tracing::info!(error = ?e, "card submission not understood");
                self.messaging.send(to, reply::card_error(&e)).await?;
                return Ok(());
            }
        };
        // The person who pressed is the one whose tasks change: only the list's owner may.
        if command.owner != submission.person_id {
            self.messaging.send(to, reply::not_your_card()).await?;
            return Ok(());
        }
        let owner = command.owner;
        let op = match command.verb {
            CardVerb::Done => TaskOp::Complete(command.task),
            CardVerb::Delete => TaskOp::Delete(command.task),
            CardVerb::Snooze | CardVerb::Tomorrow => {
                let (here, _) = self.here(&owner).await?;
                let at = if command.verb == CardVerb::Snooze {
                    here.now
                        .checked_add(jiff::SignedDuration::from_hours(1))
                        .map_err(|e| ProcessError::permanent(e.to_string()))?
                } else {
                    crate::domain::when::parse_when("tomorrow", &here.now.to_zoned(here.tz.clone()))
                        .map_err(|e| ProcessError::permanent(e.to_string()))?
                        .at
                        .timestamp()
                };
                TaskOp::Remind(command.task, Some(at))
            }
        };
        let key = IdempotencyKey::new(format!("inbox:{}", item.id.0));
        let outcome = self
            .tasks
            .apply(owner.clone(), op, Some(key), self.clock.now())
            .await?;
        let open = self.tasks.list_open(owner.clone()).await?;
        let here = match outcome.task() {
            Some(t) if t.remind_at.is_some() => Some(self.here(&owner).await?.0),
            _ => self.here_for(&owner, &open).await?,
        };
        let answer = self.paced(
            item,
            reply::card_outcome(&outcome, &owner, &open, here.as_ref()),
        );
        self.messaging.send(to, answer).await?;
        self.metrics.command(
            match command.verb {
                CardVerb::Done => "card_done",
                CardVerb::Delete => "card_delete",
                CardVerb::Snooze => "card_snooze",
                CardVerb::Tomorrow => "card_tomorrow",
            },
            started.elapsed().as_secs_f64(),
        );
        Ok(())
    }

    pub(crate) async fn on_membership_created(
        &self,
        room_id: &RoomId,
        person_id: &PersonId,
        room_type: Option<RoomType>,
    ) -> Result<(), ProcessError> {
        let bot = self.bot_identity().await?.clone();
        if bot.id != *person_id {
            // Someone else joined a space the bot is in: nothing to say.
            return Ok(());
        }
        self.messaging
            .send(
                Destination::Room(room_id.clone()),
                reply::greeting(
                    &bot.display_name,
                    room_type.map(|t| match t {
                        RoomType::Direct => Audience::Private,
                        RoomType::Group => Audience::Shared,
                    }),
                ),
            )
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::test_support::{BOT_ID, Mocks, now};
    use crate::domain::{Task, TaskNumber, TaskOutcome, TaskTitle};
    use crate::ports::{CardSubmission, InboxId, WebexEvent};

    fn item() -> InboxItem {
        InboxItem {
            id: InboxId(8),
            event: WebexEvent::CardAction {
                action_id: "a1".into(),
                person_id: "p1".into(),
                room_id: "r1".into(),
            },
            attempts: 1,
            received_at: now(),
            pacing: Pacing::Normal,
        }
    }

    fn submission(clicker: &str, owner: &str, action: &str) -> CardSubmission {
        CardSubmission {
            id: "a1".into(),
            person_id: clicker.into(),
            room_id: "r1".into(),
            message_id: Some("m-card".into()),
            action: Some(action.into()),
            task: Some("2".into()),
            owner: Some(owner.into()),
        }
    }

    fn task(n: u32) -> Task {
        Task {
            number: TaskNumber::new(n).unwrap(),
            title: TaskTitle::parse(&format!("t{n}")).unwrap(),
            done: false,
            created_at: now(),
            meeting: None,
            due: None,
            remind_at: None,
        }
    }

    #[tokio::test]
    async fn done_on_the_owners_card_completes_and_sends_the_updated_list() {
        let mut m = Mocks::new();
        m.messaging
            .expect_get_card_action()
            .returning(|_| Ok(submission("p1", "p1", "done")));
        m.tasks
            .expect_apply()
            .withf(|p, op, key, _| {
                p.as_str() == "p1"
                    && *op == TaskOp::Complete(TaskNumber::new(2).unwrap())
                    && key.as_ref().map(|k| k.as_str()) == Some("inbox:8")
            })
            .times(1)
            .returning(|_, _, _, _| Ok(TaskOutcome::Completed(task(2))));
        m.tasks
            .expect_list_open()
            .returning(|_| Ok(vec![task(1), task(3)]));
        m.messaging
            .expect_send()
            .withf(|_, r| {
                r.markdown.starts_with("Done: **#2** t2")
                    && r.card.as_ref().is_some_and(|c| c.rows.len() == 2)
            })
            .times(1)
            .returning(|_, _| Ok("sent".into()));
        m.app()
            .on_card_action(&item(), "a1", &"p1".into())
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn someone_elses_card_changes_nothing() {
        let mut m = Mocks::new();
        m.messaging
            .expect_get_card_action()
            .returning(|_| Ok(submission("mallory", "p1", "delete")));
        m.tasks.expect_apply().never();
        m.messaging
            .expect_send()
            .withf(|_, r| r.markdown.contains("belongs to someone else"))
            .times(1)
            .returning(|_, _| Ok("sent".into()));
        m.app()
            .on_card_action(&item(), "a1", &"mallory".into())
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_card_for_a_task_that_is_gone_says_so() {
        let mut m = Mocks::new();
        m.messaging
            .expect_get_card_action()
            .returning(|_| Ok(submission("p1", "p1", "delete")));
        m.tasks
            .expect_apply()
            .returning(|_, _, _, _| Ok(TaskOutcome::NotFound(TaskNumber::new(2).unwrap())));
        m.tasks.expect_list_open().returning(|_| Ok(vec![]));
        m.messaging
            .expect_send()
            .withf(|_, r| r.markdown.starts_with("Task #2 is already gone") && r.card.is_none())
            .times(1)
            .returning(|_, _| Ok("sent".into()));
        m.app()
            .on_card_action(&item(), "a1", &"p1".into())
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn the_bot_greets_a_space_it_was_added_to_and_nobody_else() {
        let mut m = Mocks::new();
        m.messaging
            .expect_send()
            .withf(|to, r| {
                *to == Destination::Room("r9".into())
                    && r.markdown.contains("Hi, I'm **Botper**")
                    && r.markdown.contains("@mention me")
            })
            .times(1)
            .returning(|_, _| Ok("sent".into()));
        let app = m.app();
        app.on_membership_created(&"r9".into(), &BOT_ID.into(), Some(RoomType::Group))
            .await
            .unwrap();
        app.on_membership_created(&"r9".into(), &"someone".into(), Some(RoomType::Group))
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn in_a_one_to_one_space_the_greeting_does_not_ask_for_a_mention() {
        let mut m = Mocks::new();
        m.messaging
            .expect_send()
            .withf(|_, r| {
                r.markdown.contains("Just type a command here") && !r.markdown.contains("@mention")
            })
            .times(1)
            .returning(|_, _| Ok("sent".into()));
        m.app()
            .on_membership_created(&"r1".into(), &BOT_ID.into(), Some(RoomType::Direct))
            .await
            .unwrap();
    }
}
