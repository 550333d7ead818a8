//! `export`: everything Botper keeps about a person, as files (JSON, and CSV for the
//! tasks), sent in 1:1 or downloaded from the personal page.

use serde_json::{Value, json};

use crate::domain::reply::{self, Audience};
use crate::domain::task::{ReminderLead, Task};
use crate::domain::{PersonId, Reply};
use crate::ports::{Attachment, Destination, StoreError};

use super::{App, AppError};

/// At most this many done tasks are exported (all of them, in practice).
pub(crate) const MAX_DONE: u32 = 100_000;

/// A person's data, ready to send or download.
pub struct Export {
    pub json: String,
    pub csv: String,
    pub tasks: usize,
}

fn task_json(t: &Task) -> Value {
    json!({
        "number": t.number.get(),
        "title": t.title.as_str(),
        "status": crate::domain::export::status(t),
        "created": t.created_at.to_string(),
        "due": t.due.map(crate::domain::export::due_text),
        "remind_at": t.remind_at.map(|r| r.to_string()),
        "meeting": t.meeting.as_ref().map(|m| json!({
            "id": m.meeting_id,
            "link": m.web_link,
            "start": m.start.map(|s| s.to_string()),
            "end": m.end.map(|s| s.to_string()),
        })),
    })
}

impl App {
    /// Gathers the person's data.
    ///
    /// # Errors
    /// Store failures.
    pub async fn export(&self, person: &PersonId) -> Result<Export, AppError> {
        let mut tasks = self.tasks.list_open(person.clone()).await?;
        tasks.extend(self.tasks.list_done(person.clone(), MAX_DONE).await?);
        tasks.sort_by_key(|t| t.number);
        let settings = self.tasks.settings(person.clone()).await?;
        let lead = self.scheduler.reminder_lead(person.clone()).await?;
        let agenda = self.scheduler.agenda(person.clone()).await?;
        let connection = match self.tokens.load(person.clone()).await {
            Ok(Some(g)) => json!({
                "connected": g.is_connected(),
                "as": g.display_name,
                "email": g.email,
                "stopped_because": g.disconnected,
                "valid_until": g.tokens.refresh_expires_at.to_string(),
                "scopes": g.tokens.scope,
                "meetings_webhooks": g.webhook_id.as_deref().map(|w| w.split(',').filter(|x| !x.is_empty()).count()).unwrap_or(0),
            }),
            Ok(None) => json!({ "connected": false }),
            Err(StoreError::Sealed) => json!({ "connected": true, "readable": false }),
            Err(e) => return Err(e.into()),
        };
        let reminders: Vec<Value> = tasks
            .iter()
            .filter(|t| !t.done)
            .filter_map(|t| {
                t.reminder_at(lead).map(|at| {
                    json!({ "task": t.number.get(), "at": at.to_string(), "set_by_you": t.remind_at.is_some() })
                })
            })
            .collect();
        let doc = json!({
            "format": "botper-export/1",
            "exported_at": self.clock.now().to_string(),
            "person_id": person.as_str(),
            "tasks": tasks.iter().map(task_json).collect::<Vec<_>>(),
            "reminders": reminders,
            "settings": {
                "timezone": settings.timezone,
                "reminder_default": match lead {
                    ReminderLead::AtDue => "at the due time".to_owned(),
                    ReminderLead::Before(d) => format!("{} minutes before", d.as_secs() / 60),
                    ReminderLead::Off => "off".to_owned(),
                },
                "agenda": agenda.map(|a| json!({
                    "at": a.at.strftime("%H:%M").to_string(),
                    "every_day": matches!(a.days, crate::domain::agenda::AgendaDays::EveryDay),
                    "zone": a.zone,
                })),
            },
            "webex_connection": connection,
        });
        Ok(Export {
            json: serde_json::to_string_pretty(&doc).unwrap_or_default(),
            csv: crate::domain::export::tasks_csv(&tasks),
            tasks: tasks.len(),
        })
    }

    /// `export` in chat: the JSON file, then the CSV file, in the 1:1 space.
    ///
    /// # Errors
    /// Store and Webex failures worth retrying.
    pub(crate) async fn export_command(
        &self,
        person: &PersonId,
        audience: Audience,
    ) -> Result<Reply, AppError> {
        if audience == Audience::Shared {
            return Ok(reply::forget_in_private());
        }
        let e = self.export(person).await?;
        let day = self.clock.now().strftime("%Y-%m-%d").to_string();
        let to = Destination::Person(person.clone());
        self.messaging
            .send_file(
                to.clone(),
                reply::export_json_file(e.tasks),
                Attachment {
                    name: format!("botper-export-{day}.json"),
                    content_type: "application/json".into(),
                    bytes: e.json.into_bytes(),
                },
            )
            .await
            .map_err(AppError::Webex)?;
        self.messaging
            .send_file(
                to,
                reply::export_csv_file(),
                Attachment {
                    name: format!("botper-tasks-{day}.csv"),
                    content_type: "text/csv".into(),
                    bytes: e.csv.into_bytes(),
                },
            )
            .await
            .map_err(AppError::Webex)?;
        Ok(reply::exported())
    }
}
