//! Keeping webhooks right: the bot's (`messages`, `attachmentActions`, `memberships`) and each
//! connected person's `meetings` webhook exist, are active, point at our URL and carry the
//! current secret. Webhooks Botper did not create are never changed or deleted.

use secrecy::ExposeSecret;

use crate::domain::PersonId;
use crate::domain::grant::AccessToken;
use crate::domain::reply::MeetingsFollowed;
use crate::ports::{NewWebhook, WebexError, Webhook};

use super::grants::UserCall;
use super::{App, AppError};

/// The secret of `person`'s meetings webhook: HMAC-SHA256 of their person id under the
/// webhook secret. Webex shows a webhook's secret to its owner, so each person's webhook
/// gets its own: a connected person who reads theirs can sign only their own meetings
/// events, never the bot's deliveries or anyone else's.
pub fn meetings_secret(webhook_secret: &str, person: &PersonId) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(webhook_secret.as_bytes())
        .expect("HMAC takes any key");
    mac.update(b"botper meetings webhook:");
    mac.update(person.as_str().as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Every webhook Botper creates is named with this prefix; that is how it knows its own.
pub const NAME_PREFIX: &str = "Botper: ";

/// The events of each connected person's `meetings` webhooks: one webhook each (Webex's
/// `all` does not cover meetings). Their ids are stored together, comma-separated.
pub const MEETING_EVENTS: [&str; 3] = ["created", "updated", "deleted"];

/// The bot's webhooks: (resource, event).
pub const BOT_WEBHOOKS: [(&str, &str); 3] = [
    ("messages", "created"),
    ("attachmentActions", "created"),
    ("memberships", "created"),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncAction {
    Unchanged,
    Created,
    /// Was inactive (Webex disabled it); now active again.
    Reactivated,
    /// Its target URL, secret or name was out of date.
    Updated,
}

#[derive(Debug, Clone)]
pub struct SyncLine {
    pub resource: String,
    pub event: String,
    pub result: Result<(String, SyncAction), String>,
}

#[derive(Debug, Clone, Default)]
pub struct SyncReport {
    pub lines: Vec<SyncLine>,
    /// Webhooks for the same resources that Botper did not create: left alone.
    pub foreign: Vec<Webhook>,
    /// Botper-named webhooks at another target URL (another deployment, or an old address
    /// of this one): never taken over, left alone.
    pub elsewhere: Vec<Webhook>,
}

/// One connected person's `meetings` webhook after `webhooks sync`.
#[derive(Debug, Clone)]
pub struct PersonSync {
    pub person: PersonId,
    pub display_name: String,
    pub result: Result<(String, SyncAction), String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("{0} is not set")]
    Missing(&'static str),
    #[error("cannot list the bot's webhooks: {0}")]
    List(WebexError),
}

/// Webex answers a create or an update with the webhook as it now is: it must be what was
/// asked for, or the sync says so instead of reporting success.
fn check_answer(got: &Webhook, wanted: &NewWebhook) -> Result<(), WebexError> {
    let mut wrong = Vec::new();
    if got.resource != wanted.resource {
        wrong.push(format!("resource {}", got.resource));
    }
    if got.event != wanted.event {
        wrong.push(format!("event {}", got.event));
    }
    if got.target_url != wanted.target_url {
        wrong.push(format!("target {}", got.target_url));
    }
    if got.status != "active" {
        wrong.push(format!("status {}", got.status));
    }
    if wrong.is_empty() {
        Ok(())
    } else {
        Err(WebexError::Unexpected(anyhow::anyhow!(
            "Webex answered with {} for webhook {}",
            wrong.join(", "),
            got.id
        )))
    }
}

impl App {
    fn wanted(&self, resource: &str, event: &str) -> Option<NewWebhook> {
        let secret = self.settings.webhook_secret.as_ref()?;
        Some(NewWebhook {
            name: format!("{NAME_PREFIX}{resource}/{event}"),
            target_url: self.settings.webhook_url(),
            resource: resource.to_owned(),
            event: event.to_owned(),
            secret: secret.expose_secret().to_owned(),
        })
    }

    /// Brings one webhook in line among `existing` (the token owner's webhooks): reuses,
    /// updates, reactivates or creates it.
    pub(crate) async fn ensure_webhook(
        &self,
        token: &AccessToken,
        existing: &[Webhook],
        wanted: NewWebhook,
    ) -> Result<(String, SyncAction), WebexError> {
        // Only a webhook at our own target URL is ours to change: one named like ours at
        // another URL belongs to another deployment (or an old address) and is left alone.
        let found = existing.iter().find(|h| {
            h.resource == wanted.resource
                && h.event == wanted.event
                && h.target_url == wanted.target_url
        });
        let Some(h) = found else {
            return match self.webhooks.create(token.clone(), wanted.clone()).await {
                Ok(created) => {
                    check_answer(&created, &wanted)?;
                    Ok((created.id, SyncAction::Created))
                }
                // Never re-sent blindly: the list says whether it was created.
                Err(WebexError::Ambiguous(why)) => {
                    let now = self.webhooks.list(token.clone()).await?;
                    match now.iter().find(|h| {
                        h.resource == wanted.resource
                            && h.event == wanted.event
                            && h.target_url == wanted.target_url
                    }) {
                        Some(h) => Ok((h.id.clone(), SyncAction::Created)),
                        None => {
                            tracing::info!(why, "the webhook was not created; creating it again");
                            let created = self.webhooks.create(token.clone(), wanted).await?;
                            Ok((created.id, SyncAction::Created))
                        }
                    }
                }
                Err(e) => Err(e),
            };
        };
        let current = h.status == "active"
            && h.target_url == wanted.target_url
            && h.secret.as_deref() == Some(wanted.secret.as_str());
        if current {
            return Ok((h.id.clone(), SyncAction::Unchanged));
        }
        let action = if h.status != "active" {
            SyncAction::Reactivated
        } else {
            SyncAction::Updated
        };
        let updated = self
            .webhooks
            .reactivate(token.clone(), h.id.clone(), wanted.clone())
            .await?;
        check_answer(&updated, &wanted)?;
        Ok((updated.id, action))
    }

    /// `botper webhooks sync`: the bot's webhooks, made right. Idempotent.
    ///
    /// # Errors
    /// A missing secret, or the list call failing; each webhook's own result is in the
    /// report.
    pub async fn sync_bot_webhooks(
        &self,
        bot_token: &AccessToken,
    ) -> Result<SyncReport, SyncError> {
        if self.settings.webhook_secret.is_none() {
            return Err(SyncError::Missing("WEBEX_WEBHOOK_SECRET"));
        }
        let existing = self
            .webhooks
            .list(bot_token.clone())
            .await
            .map_err(SyncError::List)?;
        let mut report = SyncReport::default();
        let mut ours = Vec::new();
        for (resource, event) in BOT_WEBHOOKS {
            let wanted = self.wanted(resource, event).expect("secret checked above");
            let result = self
                .ensure_webhook(bot_token, &existing, wanted)
                .await
                .map_err(|e| e.to_string());
            if let Ok((id, _)) = &result {
                ours.push(id.clone());
            }
            report.lines.push(SyncLine {
                resource: resource.into(),
                event: event.into(),
                result,
            });
        }
        let target = self.settings.webhook_url();
        let (named, foreign): (Vec<Webhook>, Vec<Webhook>) = existing
            .into_iter()
            .filter(|h| !ours.contains(&h.id))
            .partition(|h| h.name.starts_with(NAME_PREFIX));
        report.foreign = foreign;
        report.elsewhere = named
            .into_iter()
            .filter(|h| h.target_url != target)
            .collect();
        Ok(report)
    }

    /// `botper webhooks sync`, second half: every connected person's `meetings` webhook
    /// made right with their own token (after a secret rotation it carries the new
    /// per-person secret; a disabled one is re-activated). One person's failure does not
    /// stop the others.
    ///
    /// # Errors
    /// The store cannot list the grants.
    pub async fn sync_people_webhooks(&self) -> Result<Vec<PersonSync>, AppError> {
        let mut out = Vec::new();
        for g in self.tokens.connected().await? {
            let result = match self
                .repair_meetings_webhook(&g.person, g.webhook_id.as_deref())
                .await
            {
                Ok(UserCall::Done(Ok(done))) => Ok(done),
                Ok(UserCall::Done(Err(e))) => Err(format!("Webex: {e}")),
                Ok(UserCall::NotConnected) => Err("the grant is gone".into()),
                Ok(UserCall::Reconnect(why)) => {
                    Err(format!("the person must connect again ({why})"))
                }
                Ok(UserCall::Unreadable) => Err(
                    "the grant cannot be decrypted with BOTPER_TOKEN_KEY; the person must renew it"
                        .into(),
                ),
                Ok(UserCall::SignInUnavailable(why)) => Err(format!("token refresh: {why}")),
                Err(e) => Err(e.to_string()),
            };
            out.push(PersonSync {
                person: g.person,
                display_name: g.display_name,
                result,
            });
        }
        Ok(out)
    }

    /// The person's `meetings` webhook checked with their token and made right when it is
    /// not (missing, disabled, another URL, an old secret); the stored id follows.
    ///
    /// # Errors
    /// Store failures and retryable refresh failures.
    pub(crate) async fn repair_meetings_webhook(
        &self,
        person: &PersonId,
        known: Option<&str>,
    ) -> Result<UserCall<(String, SyncAction)>, AppError> {
        if self.settings.webhook_secret.is_none() {
            return Ok(UserCall::Done(Err(WebexError::Unexpected(
                anyhow::anyhow!("WEBEX_WEBHOOK_SECRET is not set"),
            ))));
        }
        let call = self
            .with_user_token(person, |token| async move {
                self.ensure_person_webhooks(&token, person).await
            })
            .await?;
        if let UserCall::Done(Ok((id, action))) = &call {
            if known != Some(id.as_str()) {
                self.tokens
                    .set_webhook(person.clone(), Some(id.clone()))
                    .await?;
            }
            if *action != SyncAction::Unchanged {
                tracing::info!(person = %person, webhook = %id, ?action, "meetings webhook repaired");
            }
        }
        Ok(call)
    }

    /// For `status`: whether Webex tells Botper about the person's meetings, repairing the
    /// webhook when it can.
    pub(crate) async fn meetings_followed(
        &self,
        person: &PersonId,
        known: Option<&str>,
    ) -> MeetingsFollowed {
        match self.repair_meetings_webhook(person, known).await {
            Ok(UserCall::Done(Ok((_, SyncAction::Unchanged)))) => MeetingsFollowed::Yes,
            Ok(UserCall::Done(Ok(_))) => MeetingsFollowed::Repaired,
            Ok(UserCall::Done(Err(WebexError::Rejected { message, .. }))) => {
                MeetingsFollowed::No(format!("Webex refused the webhook: {message}"))
            }
            Ok(UserCall::Done(Err(WebexError::Unauthorized)))
            | Ok(UserCall::Reconnect(_))
            | Ok(UserCall::NotConnected) => {
                MeetingsFollowed::No("Webex no longer accepts the connection".into())
            }
            Ok(UserCall::Unreadable) => {
                MeetingsFollowed::No("the connection can no longer be read".into())
            }
            Ok(UserCall::Done(Err(e))) => {
                tracing::warn!(person = %person, error = %e, "cannot check the meetings webhook");
                MeetingsFollowed::Unknown
            }
            Ok(UserCall::SignInUnavailable(_)) | Err(_) => MeetingsFollowed::Unknown,
        }
    }

    /// `botper webhooks list`: the bot's webhooks as Webex has them.
    ///
    /// # Errors
    /// Webex errors.
    pub async fn bot_webhooks(&self, bot_token: &AccessToken) -> Result<Vec<Webhook>, WebexError> {
        self.webhooks.list(bot_token.clone()).await
    }

    /// The person's `meetings` webhooks (one per [`MEETING_EVENTS`]), made right with their
    /// `token`, each with the person's own secret (see [`meetings_secret`]). Returns their
    /// ids, comma-separated, and the most telling action (created over reactivated over
    /// updated over unchanged).
    async fn ensure_person_webhooks(
        &self,
        token: &AccessToken,
        person: &PersonId,
    ) -> Result<(String, SyncAction), WebexError> {
        let existing = self.webhooks.list(token.clone()).await?;
        let mut ids = Vec::new();
        let mut action = SyncAction::Unchanged;
        for event in MEETING_EVENTS {
            let Some(mut wanted) = self.wanted("meetings", event) else {
                return Err(WebexError::Unexpected(anyhow::anyhow!(
                    "WEBEX_WEBHOOK_SECRET is not set"
                )));
            };
            wanted.secret = meetings_secret(&wanted.secret, person);
            let (id, done) = self.ensure_webhook(token, &existing, wanted).await?;
            ids.push(id);
            let rank = |a: SyncAction| match a {
                SyncAction::Unchanged => 0,
                SyncAction::Updated => 1,
                SyncAction::Reactivated => 2,
                SyncAction::Created => 3,
            };
            if rank(done) > rank(action) {
                action = done;
            }
        }
        Ok((ids.join(","), action))
    }

    /// The person's `meetings` webhooks, made right (see
    /// [`App::ensure_person_webhooks`]). Returns their ids, comma-separated.
    pub(crate) async fn ensure_meetings_webhook(
        &self,
        token: AccessToken,
        person: &PersonId,
    ) -> Result<String, String> {
        if self.settings.webhook_secret.is_none() {
            return Err("WEBEX_WEBHOOK_SECRET is not set".into());
        }
        self.ensure_person_webhooks(&token, person)
            .await
            .map(|(ids, _)| ids)
            .map_err(|e| match e {
                WebexError::Rejected { message, .. } => message,
                other => other.to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::test_support::{Mocks, PUBLIC_URL, SECRET};

    fn hook(
        id: &str,
        resource: &str,
        target: &str,
        name: &str,
        status: &str,
        secret: &str,
    ) -> Webhook {
        Webhook {
            id: id.into(),
            name: name.into(),
            target_url: target.into(),
            resource: resource.into(),
            event: "created".into(),
            filter: None,
            status: status.into(),
            secret: Some(secret.into()),
        }
    }

    fn ours() -> String {
        format!("{PUBLIC_URL}/webex/webhook")
    }

    #[tokio::test]
    async fn sync_creates_missing_reactivates_inactive_and_leaves_foreign_ones_alone() {
        let mut m = Mocks::new();
        m.webhooks.expect_list().returning(|_| {
            Ok(vec![
                hook(
                    "w-msg",
                    "messages",
                    &ours(),
                    "Botper: messages/created",
                    "inactive",
                    SECRET,
                ),
                hook(
                    "w-mem",
                    "memberships",
                    &ours(),
                    "Botper: memberships/created",
                    "active",
                    SECRET,
                ),
                hook(
                    "w-foreign",
                    "messages",
                    "https://other.example/hook",
                    "someone else's",
                    "active",
                    "x",
                ),
            ])
        });
        m.webhooks
            .expect_reactivate()
            .withf(|_, id, h| id == "w-msg" && h.secret == SECRET && h.target_url == ours())
            .times(1)
            .returning(|_, _, _| {
                Ok(hook(
                    "w-msg",
                    "messages",
                    &ours(),
                    "Botper: messages/created",
                    "active",
                    SECRET,
                ))
            });
        m.webhooks
            .expect_create()
            .withf(|_, h| {
                h.resource == "attachmentActions" && h.name == "Botper: attachmentActions/created"
            })
            .times(1)
            .returning(|_, _| {
                Ok(hook(
                    "w-card",
                    "attachmentActions",
                    &ours(),
                    "Botper: attachmentActions/created",
                    "active",
                    SECRET,
                ))
            });
        m.webhooks.expect_delete().never();
        let r = m
            .app()
            .sync_bot_webhooks(&AccessToken::new("bot"))
            .await
            .unwrap();
        let actions: Vec<_> = r
            .lines
            .iter()
            .map(|l| l.result.clone().unwrap().1)
            .collect();
        assert_eq!(
            actions,
            [
                SyncAction::Reactivated,
                SyncAction::Created,
                SyncAction::Unchanged
            ]
        );
        assert_eq!(r.foreign.len(), 1);
        assert_eq!(r.foreign[0].id, "w-foreign");
    }

    #[tokio::test]
    async fn a_stale_secret_is_updated_in_place_and_another_deployments_hook_left_alone() {
        let mut m = Mocks::new();
        m.webhooks.expect_list().returning(|_| {
            Ok(vec![
                hook(
                    "w-other",
                    "messages",
                    "https://other.example/webex/webhook",
                    "Botper: messages/created",
                    "active",
                    "their-secret",
                ),
                hook(
                    "w-msg",
                    "attachmentActions",
                    &ours(),
                    "Botper: attachmentActions/created",
                    "active",
                    "old-secret",
                ),
            ])
        });
        m.webhooks
            .expect_reactivate()
            .withf(|_, id, h| id == "w-msg" && h.target_url == ours() && h.secret == SECRET)
            .times(1)
            .returning(|_, id, _| {
                Ok(hook(
                    &id,
                    "attachmentActions",
                    &ours(),
                    "Botper: attachmentActions/created",
                    "active",
                    SECRET,
                ))
            });
        m.webhooks
            .expect_create()
            .withf(|_, h| h.target_url == ours())
            .times(2)
            .returning(|_, h| Ok(hook("new", &h.resource, &ours(), &h.name, "active", SECRET)));
        m.webhooks.expect_delete().never();
        let r = m
            .app()
            .sync_bot_webhooks(&AccessToken::new("bot"))
            .await
            .unwrap();
        assert_eq!(r.lines[0].result.clone().unwrap().1, SyncAction::Created);
        assert_eq!(r.lines[1].result.clone().unwrap().1, SyncAction::Updated);
    }

    #[tokio::test]
    async fn an_update_that_webex_answers_with_something_else_is_an_error() {
        let mut m = Mocks::new();
        m.webhooks.expect_list().returning(|_| {
            Ok(vec![hook(
                "w-msg",
                "messages",
                &ours(),
                "Botper: messages/created",
                "inactive",
                SECRET,
            )])
        });
        m.webhooks.expect_reactivate().returning(|_, id, _| {
            Ok(hook(
                &id,
                "messages",
                &ours(),
                "Botper: messages/created",
                "inactive",
                SECRET,
            ))
        });
        m.webhooks
            .expect_create()
            .returning(|_, h| Ok(hook("new", &h.resource, &ours(), &h.name, "active", SECRET)));
        let r = m
            .app()
            .sync_bot_webhooks(&AccessToken::new("bot"))
            .await
            .unwrap();
        let err = r.lines[0].result.clone().unwrap_err();
        assert!(err.contains("status inactive"), "{err}");
    }

    #[tokio::test]
    async fn an_ambiguous_create_is_found_in_the_list_not_sent_again() {
        let mut m = Mocks::new();
        let mut seq = mockall::Sequence::new();
        m.webhooks
            .expect_create()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Err(WebexError::Ambiguous("POST /webhooks answered 502".into())));
        m.webhooks
            .expect_list()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| {
                Ok(vec![hook(
                    "w-made",
                    "meetings",
                    &ours(),
                    "Botper: meetings/created",
                    "active",
                    "x",
                )])
            });
        let app = m.app();
        let wanted = app.wanted("meetings", "created").unwrap();
        let (id, action) = app
            .ensure_webhook(&AccessToken::new("user"), &[], wanted)
            .await
            .unwrap();
        assert_eq!((id.as_str(), action), ("w-made", SyncAction::Created));
    }

    #[tokio::test]
    async fn a_person_gets_one_meetings_webhook_per_event_with_their_own_secret() {
        let mut m = Mocks::new();
        m.webhooks.expect_list().times(1).returning(|_| Ok(vec![]));
        for event in MEETING_EVENTS {
            m.webhooks
                .expect_create()
                .withf(move |_, h| {
                    h.resource == "meetings"
                        && h.event == event
                        && h.secret == meetings_secret(SECRET, &"p".into())
                })
                .times(1)
                .returning(move |_, h| {
                    let mut w = hook(
                        &format!("w-{event}"),
                        "meetings",
                        &ours(),
                        &h.name,
                        "active",
                        &h.secret,
                    );
                    w.event = event.into();
                    Ok(w)
                });
        }
        let ids = m
            .app()
            .ensure_meetings_webhook(AccessToken::new("user"), &"p".into())
            .await
            .unwrap();
        assert_eq!(ids, "w-created,w-updated,w-deleted");
    }
}
