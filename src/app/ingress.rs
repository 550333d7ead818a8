//! Receiving a verified delivery: store it durably, then wake a worker.

use crate::ports::{DedupKey, Enqueued, NewDelivery, WebexEvent};

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
    #[tracing::instrument(name = "app.receive", skip_all, fields(resource = %key.resource, event = %key.event, data_id = %key.data_id))]
    pub async fn receive(&self, key: DedupKey, event: WebexEvent) -> Result<Receipt, AppError> {
        if let (Some(bot), WebexEvent::MessageCreated { person_id, .. }) =
            (self.known_bot_identity(), &event)
            && bot.id == *person_id
        {
            return Ok(Receipt::OwnMessage);
        }
        let delivery = NewDelivery {
            key,
            event,
            received_at: self.clock.now(),
        };
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
