//! The calendar feed: `calendar` gives a person the private address of their iCalendar
//! feed, `calendar reset` a new one, and `GET /calendar/<token>.ics` serves it.

use crate::domain::{PersonId, Reply, calendar, reply};
use crate::ports::StoreError;

use super::{App, AppError, random_token};

/// Random bytes in a feed token: 256 bits.
const TOKEN_BYTES: usize = 32;

/// The length of a feed token: 32 bytes in URL-safe base64 without padding.
const TOKEN_CHARS: usize = 43;

impl App {
    /// `calendar` / `calendar reset`: the person's feed address (made on first use).
    ///
    /// # Errors
    /// Store failures.
    pub async fn calendar_command(
        &self,
        person: &PersonId,
        reset: bool,
    ) -> Result<Reply, AppError> {
        Ok(match self.calendar_url(person, reset).await? {
            Some(url) => reply::calendar_link(&url, reset),
            None => reply::calendar_unreadable(),
        })
    }

    /// The address of `person`'s feed, made now if they have none (or a new one with
    /// `reset`); `None` when the stored one cannot be opened (the token key changed).
    ///
    /// # Errors
    /// Store failures.
    pub async fn calendar_url(
        &self,
        person: &PersonId,
        reset: bool,
    ) -> Result<Option<String>, AppError> {
        let now = self.clock.now();
        let fresh = random_token(TOKEN_BYTES);
        let token = if reset {
            self.web_auth
                .reset_calendar_token(person.clone(), fresh.clone(), now)
                .await?;
            fresh
        } else {
            match self
                .web_auth
                .calendar_token(person.clone(), fresh, now)
                .await
            {
                Ok(t) => t,
                Err(StoreError::Sealed) => return Ok(None),
                Err(e) => return Err(e.into()),
            }
        };
        Ok(Some(format!(
            "{}/calendar/{token}.ics",
            self.settings.public_url
        )))
    }

    /// The feed a token opens: its iCalendar text, or `None` for a token nobody has (the
    /// same answer for a malformed one, without asking the store).
    ///
    /// # Errors
    /// Store failures.
    pub async fn calendar_feed(&self, token: &str) -> Result<Option<String>, AppError> {
        let well_formed = token.len() == TOKEN_CHARS
            && token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !well_formed {
            return Ok(None);
        }
        let Some(person) = self.web_auth.calendar_owner(token.to_owned()).await? else {
            return Ok(None);
        };
        let open = self.tasks.list_open(person.clone()).await?;
        let (here, _) = self.here(&person).await?;
        Ok(Some(calendar::feed(person.as_str(), &open, &here.tz)))
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{Mocks, PUBLIC_URL};
    use crate::domain::PersonId;
    use crate::ports::StoreError;

    const TOKEN: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

    #[tokio::test]
    async fn a_malformed_token_is_not_looked_up_and_an_unknown_one_opens_nothing() {
        let mut m = Mocks::new();
        // Exactly one lookup: the well-formed token; the others never reach the store.
        m.web_auth
            .expect_calendar_owner()
            .times(1)
            .returning(|_| Ok(None));
        let app = m.app();
        for bad in ["", "short", &format!("{TOKEN}A"), &TOKEN.replace('A', "/")] {
            assert_eq!(app.calendar_feed(bad).await.unwrap(), None, "{bad}");
        }
        assert_eq!(app.calendar_feed(TOKEN).await.unwrap(), None);
    }

    #[tokio::test]
    async fn calendar_shows_the_stored_address_and_reset_replaces_it() {
        let mut m = Mocks::new();
        m.web_auth
            .expect_calendar_token()
            .times(1)
            .returning(|_, _, _| Ok(TOKEN.to_owned()));
        m.web_auth
            .expect_reset_calendar_token()
            .times(1)
            .withf(|p, t, _| p.as_str() == "p" && t.len() == 43 && t != TOKEN)
            .returning(|_, _, _| Ok(()));
        let app = m.app();
        let person = PersonId::new("p");
        let r = app.calendar_command(&person, false).await.unwrap();
        assert!(
            r.markdown
                .contains(&format!("{PUBLIC_URL}/calendar/{TOKEN}.ics")),
            "{}",
            r.markdown
        );
        let r = app.calendar_command(&person, true).await.unwrap();
        assert!(
            r.markdown.contains("old one no longer works"),
            "{}",
            r.markdown
        );
        assert!(!r.markdown.contains(TOKEN));
    }

    #[tokio::test]
    async fn an_address_sealed_with_another_key_asks_for_a_reset() {
        let mut m = Mocks::new();
        m.web_auth
            .expect_calendar_token()
            .returning(|_, _, _| Err(StoreError::Sealed));
        let r = m
            .app()
            .calendar_command(&PersonId::new("p"), false)
            .await
            .unwrap();
        assert!(r.markdown.contains("calendar reset"), "{}", r.markdown);
    }
}
