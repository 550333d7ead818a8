//! Who may use Botper (the allow-list), roles and the admin commands, and a person's
//! data: erasure (`forget me`) and retention.

use jiff::{SignedDuration, Timestamp};

use crate::domain::access::{AdminCommand, AuditLine, ForgetSummary, Role, RoleLine};
use crate::domain::reply::{self, Audience};
use crate::domain::{PersonId, Reply};
use crate::ports::{AuditEntry, IncomingMessage, StoreError, WebexError};

use super::{App, AppError};

/// How long `forget me` waits for `forget me confirm`.
pub const FORGET_WINDOW: SignedDuration = SignedDuration::from_mins(10);

/// What the allow-list says about a message's sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Gate {
    Allowed,
    /// Another bot: never answered.
    Bot,
    /// Outside the allow-list.
    Refused,
}

/// Bots' addresses end in one of these (Webex gives every bot one).
fn is_bot_address(email: &str) -> bool {
    let e = email.to_lowercase();
    e.ends_with("@webex.bot") || e.ends_with("@sparkbot.io")
}

impl App {
    /// Whether the sender of `message` may use Botper. Their organisation is asked of
    /// Webex only when the address alone does not let them in and organisations are listed.
    ///
    /// # Errors
    /// Webex failures worth retrying while looking the organisation up.
    pub(crate) async fn gate(&self, message: &IncomingMessage) -> Result<Gate, AppError> {
        let email = message.person_email.as_deref();
        if email.is_some_and(is_bot_address) {
            return Ok(Gate::Bot);
        }
        let allow = &self.settings.allow;
        if allow.allows(email, None) {
            return Ok(Gate::Allowed);
        }
        if allow.needs_org() {
            let org = match self.messaging.person_org(message.person_id.clone()).await {
                Ok(o) => o,
                Err(WebexError::NotFound) => None,
                Err(e) => return Err(AppError::Webex(e)),
            };
            if allow.allows(email, org.as_deref()) {
                return Ok(Gate::Allowed);
            }
        }
        Ok(Gate::Refused)
    }

    /// Answers a refused sender once per space a day, and keeps nothing of their message
    /// but its dedup key.
    pub(crate) async fn refuse(
        &self,
        item: crate::ports::InboxId,
        room: &crate::domain::RoomId,
    ) -> Result<(), AppError> {
        let day = self.clock.now().strftime("%Y-%m-%d").to_string();
        if self
            .access
            .first_refusal(room.as_str().to_owned(), day)
            .await?
        {
            self.messaging
                .send(
                    crate::ports::Destination::Room(room.clone()),
                    reply::not_allowed(),
                )
                .await
                .map_err(AppError::Webex)?;
        }
        self.access.redact_item(item).await?;
        Ok(())
    }

    /// The role of the person with this address: `BOTPER_ADMINS` are admins; otherwise
    /// what the store says; no address (the console) is a member.
    ///
    /// # Errors
    /// Store failures.
    pub(crate) async fn role(&self, email: Option<&str>) -> Result<Role, AppError> {
        let Some(email) = email.map(str::to_lowercase) else {
            return Ok(Role::Member);
        };
        if self.settings.admins.contains(&email) {
            return Ok(Role::Admin);
        }
        Ok(self.access.role_of(email).await?.unwrap_or(Role::Member))
    }

    /// Whether the person may create meetings through Botper; the reply when not.
    ///
    /// # Errors
    /// Store failures.
    pub(crate) async fn meeting_refusal(
        &self,
        email: Option<&str>,
    ) -> Result<Option<Reply>, AppError> {
        let reserved = self.settings.meeting_role != crate::domain::access::MeetingRole::Everyone;
        if !reserved || self.settings.meeting_role.allows(self.role(email).await?) {
            return Ok(None);
        }
        let mut admins = self.settings.admins.clone();
        for g in self.access.roles().await? {
            if g.role == Role::Admin && !admins.contains(&g.email) {
                admins.push(g.email);
            }
        }
        Ok(Some(reply::meetings_reserved(&admins)))
    }

    /// `BOTPER_ADMINS` written to the roles table (audited), so `admin roles` shows them.
    ///
    /// # Errors
    /// Store failures.
    pub async fn seed_admins(&self) -> Result<(), AppError> {
        for email in self.settings.admins.clone() {
            if self.access.role_of(email.clone()).await? == Some(Role::Admin) {
                continue;
            }
            let now = self.clock.now();
            self.access
                .set_role(email.clone(), Role::Admin, "BOTPER_ADMINS".into(), now)
                .await?;
            self.access
                .audit(AuditEntry {
                    at: now,
                    actor: "BOTPER_ADMINS".into(),
                    action: "grant admin".into(),
                    target: Some(email),
                    outcome: "granted by the configuration".into(),
                })
                .await?;
        }
        Ok(())
    }

    /// `admin …`.
    ///
    /// # Errors
    /// Store failures.
    pub(crate) async fn admin(
        &self,
        email: Option<&str>,
        rest: &str,
        audience: Audience,
    ) -> Result<Reply, AppError> {
        // The same answer for every non-admin, whatever the command names.
        if self.role(email).await? != Role::Admin {
            return Ok(reply::admin_only());
        }
        let actor = email.unwrap_or_default().to_lowercase();
        if audience == Audience::Shared {
            return Ok(reply::admin_in_private());
        }
        let command = match AdminCommand::parse(rest) {
            Ok(c) => c,
            Err(e) => return Ok(reply::admin_error(&e)),
        };
        let now = self.clock.now();
        let (action, target, outcome, text) = match command {
            AdminCommand::Help => return Ok(reply::admin_help()),
            AdminCommand::Grant(role, who) => {
                let before = self.role(Some(&who)).await?;
                if before >= role {
                    let t = reply::admin_already(&who, before);
                    (
                        format!("grant {role}"),
                        Some(who),
                        "already had it".to_owned(),
                        t,
                    )
                } else {
                    self.access
                        .set_role(who.clone(), role, actor.clone(), now)
                        .await?;
                    let t = reply::admin_granted(&who, role, self.settings.meeting_role);
                    (format!("grant {role}"), Some(who), "granted".to_owned(), t)
                }
            }
            AdminCommand::Revoke(role, who) => {
                let stored = self.access.role_of(who.clone()).await?;
                if self.settings.admins.contains(&who) && role == Role::Admin {
                    let t = reply::admin_configured(&who);
                    (
                        format!("revoke {role}"),
                        Some(who),
                        "configured".to_owned(),
                        t,
                    )
                } else if stored != Some(role) {
                    let t = reply::admin_not_having(&who, role);
                    (
                        format!("revoke {role}"),
                        Some(who),
                        "did not have it".to_owned(),
                        t,
                    )
                } else {
                    self.access
                        .set_role(who.clone(), Role::Member, actor.clone(), now)
                        .await?;
                    let t = reply::admin_revoked(&who, role);
                    (format!("revoke {role}"), Some(who), "revoked".to_owned(), t)
                }
            }
            AdminCommand::Roles => {
                let mut rows: Vec<RoleLine> = self
                    .settings
                    .admins
                    .iter()
                    .map(|a| RoleLine {
                        email: a.clone(),
                        role: Role::Admin,
                        granted: None,
                    })
                    .collect();
                for g in self.access.roles().await? {
                    if self.settings.admins.contains(&g.email) {
                        continue;
                    }
                    let when = g.granted_at.strftime("%-d %b %Y").to_string();
                    rows.push(RoleLine {
                        email: g.email,
                        role: g.role,
                        granted: Some((g.granted_by, when)),
                    });
                }
                let t = reply::admin_roles(&rows, self.settings.meeting_role);
                ("roles".to_owned(), None, "shown".to_owned(), t)
            }
            AdminCommand::Stats => {
                let p = self.access.people_stats().await?;
                let inbox = self.inbox.stats().await?;
                let jobs = self.scheduler.stats(now).await?;
                let t = reply::admin_stats(&[
                    ("people with tasks", p.people.to_string()),
                    ("open tasks", p.open_tasks.to_string()),
                    ("connected Webex accounts", p.connected.to_string()),
                    (
                        "inbox",
                        format!(
                            "{} waiting, {} in progress, {} dead letter(s)",
                            inbox.pending, inbox.processing, inbox.dead
                        ),
                    ),
                    (
                        "scheduler",
                        format!("{} job(s) waiting, {} due now", jobs.waiting, jobs.due),
                    ),
                ]);
                ("stats".to_owned(), None, "shown".to_owned(), t)
            }
            AdminCommand::Disconnect(who) => {
                match self.access.person_by_email(who.clone()).await? {
                    Some(person) => {
                        // The grant and its webhooks only: their reminders are theirs.
                        self.disconnect(&person).await?;
                        let t = reply::admin_disconnected(&who);
                        (
                            "disconnect".to_owned(),
                            Some(who),
                            "disconnected".to_owned(),
                            t,
                        )
                    }
                    None => {
                        let t = reply::admin_no_connection(&who);
                        (
                            "disconnect".to_owned(),
                            Some(who),
                            "no connection".to_owned(),
                            t,
                        )
                    }
                }
            }
            AdminCommand::Audit => {
                let entries: Vec<AuditLine> = self
                    .access
                    .audit_log(20)
                    .await?
                    .into_iter()
                    .map(|e| AuditLine {
                        at: e.at.strftime("%Y-%m-%d %H:%M UTC").to_string(),
                        actor: e.actor,
                        action: e.action,
                        target: e.target,
                        outcome: e.outcome,
                    })
                    .collect();
                let t = reply::admin_audit(&entries);
                ("audit".to_owned(), None, "shown".to_owned(), t)
            }
        };
        self.access
            .audit(AuditEntry {
                at: now,
                actor,
                action,
                target,
                outcome,
            })
            .await?;
        Ok(text)
    }

    /// `forget me` / `forget me confirm`, in 1:1 only.
    ///
    /// # Errors
    /// Store failures (nothing is half-deleted: the store's part is one transaction, and
    /// a retry finishes the rest).
    pub(crate) async fn forget_me(
        &self,
        person: &PersonId,
        email: Option<&str>,
        confirm: bool,
        audience: Audience,
    ) -> Result<Reply, AppError> {
        if audience == Audience::Shared {
            return Ok(reply::forget_in_private());
        }
        let now = self.clock.now();
        if !confirm {
            let open = self.tasks.list_open(person.clone()).await?.len();
            let done = self
                .tasks
                .list_done(person.clone(), super::export::MAX_DONE)
                .await?
                .len();
            let grant = match self.tokens.load(person.clone()).await {
                Ok(g) => g.is_some(),
                Err(StoreError::Sealed) => true,
                Err(e) => return Err(e.into()),
            };
            let settings = self.tasks.settings(person.clone()).await?;
            let has_settings = settings != Default::default();
            let agenda = self.scheduler.agenda(person.clone()).await?.is_some();
            if open + done == 0 && !grant && !has_settings && !agenda {
                return Ok(reply::forget_nothing());
            }
            self.access.ask_forget(person.clone(), now).await?;
            let all = open + done;
            return Ok(reply::forget_asked(all, grant));
        }
        if !self
            .access
            .take_forget(person.clone(), now - FORGET_WINDOW)
            .await?
        {
            return Ok(reply::forget_not_asked());
        }
        let webhooks = match self.tokens.load(person.clone()).await {
            Ok(Some(g)) => g
                .webhook_id
                .as_deref()
                .map(|ids| ids.split(',').filter(|i| !i.is_empty()).count() as u64)
                .unwrap_or(0),
            _ => 0,
        };
        let (grant, jobs) = self.disconnect_all(person).await?;
        let f = self
            .access
            .forget(person.clone(), email.map(str::to_lowercase))
            .await?;
        self.forget_cached(person);
        tracing::info!(person = %person, "a person asked to be forgotten: their data is erased");
        Ok(reply::forgotten(&ForgetSummary {
            tasks: f.tasks,
            jobs: f.jobs + u64::from(jobs),
            settings: f.settings,
            grant,
            webhooks: if grant { webhooks } else { 0 },
            sessions: f.sessions,
            calendar: f.calendar,
            role: f.role,
            inbox_rows: f.inbox_rows,
        }))
    }

    /// `BOTPER_DONE_RETENTION_DAYS`: deletes tasks done longer ago than `retention`.
    ///
    /// # Errors
    /// Store failures.
    pub async fn purge_done_tasks(&self, retention: std::time::Duration) -> Result<u64, AppError> {
        let cutoff = self
            .clock
            .now()
            .checked_sub(SignedDuration::try_from(retention).unwrap_or(SignedDuration::MAX))
            .unwrap_or(Timestamp::MIN);
        Ok(self.access.purge_done(cutoff).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::test_support::{ADMIN_EMAIL, Mocks, now};
    use crate::domain::access::{AllowList, MeetingRole};
    use crate::ports::{Enqueued, InboxId, InboxItem, Pacing, WebexEvent};

    fn message(email: &str) -> IncomingMessage {
        IncomingMessage {
            id: "m1".into(),
            room_id: "r1".into(),
            person_id: "p1".into(),
            person_email: Some(email.into()),
            text: "list".into(),
            html: None,
            room_type: Some(crate::ports::RoomType::Direct),
            mentioned_people: Vec::new(),
        }
    }

    fn item() -> InboxItem {
        InboxItem {
            id: InboxId(9),
            event: WebexEvent::MessageCreated {
                message_id: "m1".into(),
                room_id: "r1".into(),
                person_id: "p1".into(),
            },
            attempts: 1,
            received_at: now(),
            pacing: Pacing::Normal,
        }
    }

    #[tokio::test]
    async fn a_non_admin_learns_nothing_and_changes_nothing() {
        let mut m = Mocks::new();
        m.access.expect_role_of().returning(|_| Ok(None));
        m.access.expect_set_role().never();
        m.access.expect_person_by_email().never();
        m.access.expect_audit().never();
        let app = m.app();
        for cmd in [
            "grant admin me@example.com",
            "disconnect ceo@example.com",
            "roles",
            "nonsense",
        ] {
            let r = app
                .admin(Some("bob@example.com"), cmd, Audience::Private)
                .await
                .unwrap();
            assert_eq!(r, reply::admin_only(), "{cmd}");
        }
    }

    #[tokio::test]
    async fn an_admin_grants_a_role_and_it_is_audited() {
        let mut m = Mocks::new();
        m.access
            .expect_role_of()
            .withf(|e| e == "bob@example.com")
            .returning(|_| Ok(None));
        m.access
            .expect_set_role()
            .withf(|e, r, by, _| {
                e == "bob@example.com" && *r == Role::Organizer && by == ADMIN_EMAIL
            })
            .times(1)
            .returning(|_, _, _, _| Ok(None));
        m.access
            .expect_audit()
            .withf(|e| {
                e.actor == ADMIN_EMAIL
                    && e.action == "grant organizer"
                    && e.target.as_deref() == Some("bob@example.com")
                    && e.outcome == "granted"
            })
            .times(1)
            .returning(|_| Ok(()));
        let r = m
            .app()
            .admin(
                Some("Admin@Example.com"),
                "grant organizer Bob@example.com",
                Audience::Private,
            )
            .await
            .unwrap();
        assert_eq!(r.markdown, "**bob@example.com** is now an organizer.");
    }

    #[tokio::test]
    async fn admin_commands_stay_out_of_group_spaces_and_bad_input_is_explained() {
        let mut m = Mocks::new();
        m.access.expect_set_role().never();
        m.access.expect_audit().never();
        let app = m.app();
        let r = app
            .admin(Some(ADMIN_EMAIL), "roles", Audience::Shared)
            .await
            .unwrap();
        assert_eq!(r, reply::admin_in_private());
        let r = app
            .admin(Some(ADMIN_EMAIL), "grant organizer bob", Audience::Private)
            .await
            .unwrap();
        assert!(
            r.markdown.contains("is not an email address"),
            "{}",
            r.markdown
        );
    }

    #[tokio::test]
    async fn admin_disconnect_deletes_the_grant_of_that_address_only() {
        let mut m = Mocks::new();
        m.access
            .expect_person_by_email()
            .withf(|e| e == "gone@example.com")
            .returning(|_| Ok(None));
        m.tokens.expect_delete().never();
        m.access.expect_audit().times(1).returning(|_| Ok(()));
        let r = m
            .app()
            .admin(
                Some(ADMIN_EMAIL),
                "disconnect gone@example.com",
                Audience::Private,
            )
            .await
            .unwrap();
        assert!(
            r.markdown.contains("has no Webex connection"),
            "{}",
            r.markdown
        );
    }

    #[tokio::test]
    async fn reserved_meetings_name_who_can_grant_them() {
        let mut m = Mocks::new();
        m.meeting_role = MeetingRole::Organizer;
        m.access.expect_role_of().returning(|_| Ok(None));
        m.access.expect_roles().returning(|| {
            Ok(vec![crate::ports::RoleGrant {
                email: "boss@example.com".into(),
                role: Role::Admin,
                granted_by: ADMIN_EMAIL.into(),
                granted_at: now(),
            }])
        });
        m.meetings.expect_create().never();
        let app = m.app();
        let r = app
            .meeting_refusal(Some("bob@example.com"))
            .await
            .unwrap()
            .expect("refused");
        assert!(r.markdown.contains(ADMIN_EMAIL), "{}", r.markdown);
        assert!(r.markdown.contains("boss@example.com"), "{}", r.markdown);
        assert!(
            app.meeting_refusal(Some(ADMIN_EMAIL))
                .await
                .unwrap()
                .is_none()
        );
    }

    #[tokio::test]
    async fn strangers_are_refused_once_a_day_and_bots_never_answered() {
        let mut m = Mocks::new();
        m.access.expect_first_refusal().times(2).returning({
            let mut first = true;
            move |_, _| Ok(std::mem::replace(&mut first, false))
        });
        m.access
            .expect_redact_item()
            .withf(|id| *id == InboxId(9))
            .times(2)
            .returning(|_| Ok(()));
        m.messaging
            .expect_send()
            .times(1)
            .returning(|_, _| Ok("sent".into()));
        m.inbox
            .expect_enqueue()
            .never()
            .returning(|_| Ok(Enqueued::Duplicate));
        let mut app = m.app();
        let mut s = (*app.settings).clone();
        s.allow = AllowList::new("example.com", "", "").unwrap();
        app.settings = std::sync::Arc::new(s);
        assert_eq!(
            app.gate(&message("a@example.com")).await.unwrap(),
            Gate::Allowed
        );
        assert_eq!(
            app.gate(&message("eve@evil.test")).await.unwrap(),
            Gate::Refused
        );
        assert_eq!(
            app.gate(&message("other@webex.bot")).await.unwrap(),
            Gate::Bot
        );
        app.refuse(item().id, &"r1".into()).await.unwrap();
        app.refuse(item().id, &"r1".into()).await.unwrap();
    }

    #[tokio::test]
    async fn forget_me_needs_a_fresh_confirmation() {
        let mut m = Mocks::new();
        m.access
            .expect_take_forget()
            .withf(|_, since| *since == now() - FORGET_WINDOW)
            .returning(|_, _| Ok(false));
        m.access.expect_forget().never();
        m.tokens.expect_delete().never();
        let r = m
            .app()
            .forget_me(
                &"p1".into(),
                Some("p1@example.com"),
                true,
                Audience::Private,
            )
            .await
            .unwrap();
        assert_eq!(r, reply::forget_not_asked());
    }
}
