//! The personal page: what a signed-in browser (the session cookie from "Connect to
//! Webex") sees at `/`, and its Disconnect button.

use crate::domain::meeting::{MeetingsWindow, Upcoming};
use crate::domain::reply::Here;
use crate::domain::{PersonId, Task};
use crate::ports::{StoreError, WebSession};

use super::oauth::constant_time_eq;
use super::{App, AppError, random_token};

/// The person's Webex connection, as the page says it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Connection {
    /// Connected; Webex lets Botper renew the grant until `until`.
    Connected { until: jiff::Timestamp },
    /// The grant stopped working (`reason`); they must connect again.
    Stopped { reason: String },
    /// The grant cannot be decrypted (the token key changed).
    Unreadable,
    /// No grant (disconnected since the session began).
    None,
}

/// Everything the personal page shows.
#[derive(Debug, Clone)]
pub struct Home {
    pub person: PersonId,
    pub name: String,
    pub email: Option<String>,
    pub connection: Connection,
    /// Open tasks, by number.
    pub tasks: Vec<Task>,
    pub here: Here,
    /// The next 7 days' meetings from Webex; `None` when they could not be read now.
    pub meetings: Option<Vec<Upcoming>>,
    /// The calendar feed's address; `None` when the stored one cannot be opened.
    pub calendar_url: Option<String>,
    /// For the page's forms (Disconnect, the test meeting).
    pub csrf: String,
}

/// Why the Disconnect button did nothing.
#[derive(Debug, thiserror::Error)]
pub enum WebActionError {
    #[error("your session has expired; connect again to use this page")]
    NoSession,
    #[error(
        "this form was already used or is not from Botper's page; reload the page and try again"
    )]
    BadCsrf,
    #[error("Botper's database is not answering; try again in a moment")]
    Unavailable,
}

impl App {
    /// The personal page of the session's person; `None` without a valid session.
    ///
    /// # Errors
    /// Store failures. A Webex failure only leaves the meetings out.
    pub async fn home(&self, session: Option<String>) -> Result<Option<Home>, AppError> {
        let Some(token) = session else {
            return Ok(None);
        };
        let Some(WebSession { person, csrf }) =
            self.web_auth.session(token, self.clock.now()).await?
        else {
            return Ok(None);
        };
        let (name, email, connection) = match self.tokens.load(person.clone()).await {
            Ok(Some(g)) => {
                let connection = match &g.disconnected {
                    Some(reason) => Connection::Stopped {
                        reason: reason.clone(),
                    },
                    None => Connection::Connected {
                        until: g.tokens.refresh_expires_at,
                    },
                };
                (g.display_name, g.email, connection)
            }
            Ok(None) => (person.as_str().to_owned(), None, Connection::None),
            Err(StoreError::Sealed) => (person.as_str().to_owned(), None, Connection::Unreadable),
            Err(e) => return Err(e.into()),
        };
        let tasks = self.tasks.list_open(person.clone()).await?;
        let (here, _) = self.here(&person).await?;
        let meetings = if matches!(connection, Connection::Connected { .. }) {
            match self.upcoming(&person, MeetingsWindow::Week, &here).await {
                Ok(Ok(m)) => Some(m),
                Ok(Err(_)) => None,
                Err(e) => {
                    tracing::warn!(error = %e, "meetings for the personal page could not be read");
                    None
                }
            }
        } else {
            None
        };
        let calendar_url = self.calendar_url(&person, false).await?;
        Ok(Some(Home {
            person,
            name,
            email,
            connection,
            tasks,
            here,
            meetings,
            calendar_url,
            csrf,
        }))
    }

    /// The page's Disconnect button: the same as `disconnect` in chat (the grant, the
    /// meetings webhooks, the person's scheduled jobs), once per form.
    ///
    /// # Errors
    /// A [`WebActionError`] when the session or the form is not valid, or the store fails.
    pub async fn web_disconnect(
        &self,
        session: Option<String>,
        csrf: &str,
    ) -> Result<(bool, u32), WebActionError> {
        let token = session.ok_or(WebActionError::NoSession)?;
        let s = self
            .web_auth
            .session(token.clone(), self.clock.now())
            .await
            .map_err(|_| WebActionError::Unavailable)?
            .ok_or(WebActionError::NoSession)?;
        if !constant_time_eq(s.csrf.as_bytes(), csrf.as_bytes()) {
            return Err(WebActionError::BadCsrf);
        }
        let rotated = self
            .web_auth
            .rotate_csrf(token, s.csrf, random_token(24))
            .await
            .map_err(|_| WebActionError::Unavailable)?;
        if !rotated {
            return Err(WebActionError::BadCsrf);
        }
        self.disconnect_all(&s.person).await.map_err(|e| {
            tracing::warn!(error = %e, "disconnect from the page failed");
            WebActionError::Unavailable
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::Mocks;
    use super::*;

    fn session() -> WebSession {
        WebSession {
            person: PersonId::new("p"),
            csrf: "right".into(),
        }
    }

    #[tokio::test]
    async fn a_forged_or_reused_form_disconnects_nothing() {
        let mut m = Mocks::new();
        m.web_auth
            .expect_session()
            .returning(|_, _| Ok(Some(session())));
        // The right token, but another tab used it first: the rotation fails.
        m.web_auth
            .expect_rotate_csrf()
            .times(1)
            .returning(|_, _, _| Ok(false));
        m.tokens.expect_load().never();
        m.scheduler.expect_forget_jobs().never();
        let app = m.app();
        assert!(matches!(
            app.web_disconnect(Some("s".into()), "wrong").await,
            Err(WebActionError::BadCsrf)
        ));
        assert!(matches!(
            app.web_disconnect(None, "right").await,
            Err(WebActionError::NoSession)
        ));
        assert!(matches!(
            app.web_disconnect(Some("s".into()), "right").await,
            Err(WebActionError::BadCsrf)
        ));
    }

    #[tokio::test]
    async fn no_session_no_page() {
        let mut m = Mocks::new();
        m.web_auth.expect_session().returning(|_, _| Ok(None));
        m.tasks.expect_list_open().never();
        let app = m.app();
        assert!(app.home(None).await.unwrap().is_none());
        assert!(app.home(Some("expired".into())).await.unwrap().is_none());
    }
}
