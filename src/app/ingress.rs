//! Receiving a verified delivery: store it durably, then wake a worker.

use crate::domain::rate::Admission;
use crate::ports::{DedupKey, Enqueued, NewDelivery, Pacing, WebexEvent};

use super::{App, AppError};

/// What happened to a delivery Webex sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Receipt {
    /// Stored; a worker will process it.
    Stored,
    /// Seen before; nothing new was stored.
    Duplicate,
    /// The bot's own message: nothing to do.
    OwnMessage,
}

impl App {
    /// Stores a verified delivery before it is acknowledged. The caller acknowledges (2xx)
    /// only on `Ok`.
    ///
    /// # Errors
    /// `Unavailable` when the database is down: the delivery was not stored and must not be
    /// acknowledged.
    #[tracing::instrument(level = "debug", name = "app.receive", skip_all, fields(resource = %key.resource, event = %key.event, data_id = %key.data_id))]
    pub async fn receive(&self, key: DedupKey, event: WebexEvent) -> Result<Receipt, AppError> {
        if let (Some(bot), WebexEvent::MessageCreated { person_id, .. }) =
            (self.known_bot_identity(), &event)
            && bot.id == *person_id
        {
            return Ok(Receipt::OwnMessage);
        }
        let now = self.clock.now();
        let mut delivery = NewDelivery::now(key, event, now);
        // A person's commands are paced by arrival: over the pace they wait their turn
        // (never dropped); only a full backlog refuses, and the refusal names the command.
        if let Some(sender) = delivery.event.command_sender() {
            match self.admit(sender, now) {
                Admission::Now => {}
                Admission::Later { at, waiting, tell } => {
                    tracing::info!(person = %sender, waiting, "sender over their pace; the command waits its turn");
                    delivery.not_before = at;
                    if tell {
                        delivery.pacing = Pacing::CatchingUp { waiting };
                    }
                }
                Admission::Refused { waiting } => {
                    tracing::warn!(person = %sender, waiting, "sender's backlog is full; the command will be refused");
                    delivery.pacing = Pacing::Refused { waiting };
                }
            }
        }
        match self.inbox.enqueue(delivery).await? {
            Enqueued::Accepted(_) => {
                self.work_signal().notify_one();
                Ok(Receipt::Stored)
            }
            Enqueued::Duplicate => Ok(Receipt::Duplicate),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::test_support::{BOT_ID, Mocks};
    use crate::ports::{InboxError, InboxId};

    fn key(id: &str) -> DedupKey {
        DedupKey {
            resource: "messages".into(),
            event: "created".into(),
            data_id: id.into(),
        }
    }

    fn msg(person: &str) -> WebexEvent {
        WebexEvent::MessageCreated {
            message_id: "m1".into(),
            room_id: "r1".into(),
            person_id: person.into(),
        }
    }

    #[tokio::test]
    async fn a_new_delivery_is_stored() {
        let mut m = Mocks::new();
        m.inbox
            .expect_enqueue()
            .withf(|d| d.key.data_id == "m1" && d.event == msg("p1"))
            .times(1)
            .returning(|_| Ok(Enqueued::Accepted(InboxId(7))));
        let r = m.app().receive(key("m1"), msg("p1")).await.unwrap();
        assert_eq!(r, Receipt::Stored);
    }

    #[tokio::test]
    async fn over_the_pace_commands_wait_in_order_and_only_a_full_backlog_refuses() {
        // Test policy: burst 3, 30 a minute (one every 2 s), backlog 5.
        let mut m = Mocks::new();
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = seen.clone();
        m.inbox.expect_enqueue().times(10).returning(move |d| {
            log.lock().unwrap().push(d);
            Ok(Enqueued::Accepted(InboxId(1)))
        });
        let app = m.app();
        for k in 0..10 {
            let r = app.receive(key(&format!("m{k}")), msg("p1")).await.unwrap();
            assert_eq!(r, Receipt::Stored);
        }
        let seen = seen.lock().unwrap();
        let now = crate::app::test_support::now();
        for d in &seen[..3] {
            assert_eq!((d.not_before, d.pacing), (now, Pacing::Normal));
        }
        assert_eq!(seen[3].pacing, Pacing::CatchingUp { waiting: 0 });
        for (k, d) in seen[3..8].iter().enumerate() {
            assert_eq!(
                d.not_before,
                now + jiff::SignedDuration::from_secs(2 * (k as i64 + 1)),
                "command {} waits its turn",
                k + 3
            );
            assert_eq!(d.order_key(), "person:p1");
        }
        assert_eq!(seen[4].pacing, Pacing::Normal, "told once");
        for d in &seen[8..] {
            assert_eq!(d.pacing, Pacing::Refused { waiting: 5 });
            assert_eq!(d.not_before, now, "a refusal is answered at once");
            assert_eq!(d.order_key(), "refused:person:p1");
        }
    }

    #[tokio::test]
    async fn one_senders_flood_does_not_delay_another() {
        let mut m = Mocks::new();
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = seen.clone();
        m.inbox.expect_enqueue().returning(move |d| {
            log.lock().unwrap().push(d);
            Ok(Enqueued::Accepted(InboxId(1)))
        });
        let app = m.app();
        for k in 0..8 {
            app.receive(key(&format!("m{k}")), msg("p1")).await.unwrap();
        }
        app.receive(key("other"), msg("p2")).await.unwrap();
        let seen = seen.lock().unwrap();
        let last = seen.last().unwrap();
        assert_eq!(last.pacing, Pacing::Normal);
        assert_eq!(last.not_before, crate::app::test_support::now());
    }

    #[tokio::test]
    async fn a_redelivery_is_acknowledged_without_new_work() {
        let mut m = Mocks::new();
        m.inbox
            .expect_enqueue()
            .times(1)
            .returning(|_| Ok(Enqueued::Duplicate));
        let r = m.app().receive(key("m1"), msg("p1")).await.unwrap();
        assert_eq!(r, Receipt::Duplicate);
    }

    #[tokio::test]
    async fn the_bots_own_messages_are_not_stored() {
        let mut m = Mocks::new();
        m.inbox.expect_enqueue().never();
        let r = m.app().receive(key("m1"), msg(BOT_ID)).await.unwrap();
        assert_eq!(r, Receipt::OwnMessage);
    }

    #[tokio::test]
    async fn a_database_outage_is_unavailable_so_nothing_is_acknowledged() {
        let mut m = Mocks::new();
        m.inbox
            .expect_enqueue()
            .returning(|_| Err(InboxError::Unavailable(anyhow::anyhow!("down"))));
        let r = m.app().receive(key("m1"), msg("p1")).await;
        assert!(matches!(r, Err(AppError::Unavailable(_))));
    }
}
