//! Events over the Webex websocket (Mercury), for deployments Webex cannot reach with
//! webhooks: discover the device service, reuse or register Botper's device, connect,
//! authorize, and turn each activity into the inbox entry its webhook would have been
//! (same event, same dedup key), acknowledging it only once it is stored.

pub mod device;
pub mod frame;

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::{self, Message, protocol::frame::coding::CloseCode};

use crate::app::leader::{LeadEnd, Signal};
use crate::app::{App, Receipt};
use crate::domain::polling::reconnect_delay;
use crate::ports::{Metrics, WebexError};
use device::{Device, DeviceService, Obtained};
use frame::{Inbound, Meaning};

/// Keep-alive timing (Webex's JavaScript SDK: a ping every 15 s; no pong, or no frame at
/// all for 45 s, is a dead socket).
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub ping_every: Duration,
    pub silence: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            ping_every: Duration::from_secs(15),
            silence: Duration::from_secs(45),
        }
    }
}

/// How one connection ended.
enum SessionEnd {
    /// The leader loop asked it to stop.
    Signalled,
    /// Close code 4000: another connection on this device took over.
    Replaced,
    Failed {
        why: String,
        /// The socket was up and authorized before it failed (the backoff starts over).
        was_up: bool,
        /// The device is gone or unusable: obtain it again.
        forget_device: bool,
    },
}

fn failed(why: impl Into<String>) -> SessionEnd {
    SessionEnd::Failed {
        why: why.into(),
        was_up: false,
        forget_device: false,
    }
}

pub struct WebexSocket {
    devices: DeviceService,
    token: SecretString,
    timing: Timing,
    metrics: Arc<dyn Metrics>,
}

impl WebexSocket {
    pub fn new(
        devices: DeviceService,
        token: SecretString,
        timing: Timing,
        metrics: Arc<dyn Metrics>,
    ) -> Self {
        Self {
            devices,
            token,
            timing,
            metrics,
        }
    }

    pub fn devices(&self) -> &DeviceService {
        &self.devices
    }

    /// Holds the socket until `signal` leaves [`Signal::Run`], reconnecting with backoff
    /// (1 s → 32 s, jittered) whenever it is lost. On [`Signal::Shutdown`] the device is
    /// deleted; on a lost lease it is left for the next holder to reuse.
    pub async fn run(&self, app: App, mut signal: watch::Receiver<Signal>) -> LeadEnd {
        let mut failures = 0u32;
        let mut wdm: Option<String> = None;
        let mut device: Option<Device> = None;
        let end = loop {
            if *signal.borrow() != Signal::Run {
                break LeadEnd::Stopped;
            }
            self.metrics.socket_state("connecting");
            match self.session(&app, &mut wdm, &mut device, &mut signal).await {
                SessionEnd::Signalled => break LeadEnd::Stopped,
                SessionEnd::Replaced => {
                    tracing::error!(
                        device = self.devices.name(),
                        "another connection took Botper's websocket over (close 4000): not fighting it"
                    );
                    self.metrics.socket_state("replaced");
                    return LeadEnd::Replaced;
                }
                SessionEnd::Failed {
                    why,
                    was_up,
                    forget_device,
                } => {
                    if forget_device {
                        device = None;
                    }
                    if was_up {
                        failures = 0;
                    }
                    let wait = reconnect_delay(failures, rand::random::<f64>());
                    failures = failures.saturating_add(1);
                    self.metrics.socket_state("down");
                    self.metrics.socket_reconnect();
                    tracing::warn!(why = %why, retry_in_ms = wait.as_millis() as u64, "Webex websocket lost; reconnecting");
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = signal.changed() => {}
                    }
                }
            }
        };
        if *signal.borrow() == Signal::Shutdown
            && let Some(d) = device
        {
            match self.devices.delete(&d.url).await {
                Ok(()) => tracing::info!(device = %d.url, "Botper's device deleted"),
                Err(e) => tracing::warn!(error = %e, "cannot delete Botper's device"),
            }
        }
        end
    }

    async fn session(
        &self,
        app: &App,
        wdm: &mut Option<String>,
        device: &mut Option<Device>,
        signal: &mut watch::Receiver<Signal>,
    ) -> SessionEnd {
        let wdm_url = match wdm {
            Some(w) => w.clone(),
            None => match self.devices.discover().await {
                Ok(w) => {
                    *wdm = Some(w.clone());
                    w
                }
                Err(e) => return failed(format!("device service discovery failed: {e}")),
            },
        };
        let dev = match device {
            Some(d) => d.clone(),
            None => match self.devices.obtain(&wdm_url).await {
                Ok((d, how)) => {
                    match how {
                        Obtained::Reused => {
                            tracing::info!(device = %d.url, "reusing Botper's device")
                        }
                        Obtained::Registered => {
                            tracing::info!(device = %d.url, "registered Botper's device")
                        }
                        Obtained::RegisteredAfterCleanup { deleted } => {
                            tracing::info!(device = %d.url, deleted, "registered Botper's device after deleting stale ones")
                        }
                    }
                    *device = Some(d.clone());
                    d
                }
                Err(WebexError::Unauthorized) => {
                    return failed("Webex refused WEBEX_BOT_TOKEN at the device service (401)");
                }
                Err(e) => return failed(format!("cannot obtain a device: {e}")),
            },
        };
        let url = socket_url(&dev.web_socket_url);
        let mut ws = match tokio_tungstenite::connect_async(url.as_str()).await {
            Ok((ws, _)) => ws,
            Err(tungstenite::Error::Http(resp)) if resp.status().as_u16() == 404 => {
                return SessionEnd::Failed {
                    why: "the device's websocket is gone (404)".into(),
                    was_up: false,
                    forget_device: true,
                };
            }
            Err(e) => return failed(format!("cannot connect the websocket: {e}")),
        };
        let auth = frame::authorization(&new_id(), self.token.expose_secret());
        if let Err(e) = ws.send(Message::text(auth)).await {
            return failed(format!("cannot send the authorization: {e}"));
        }
        let mut up = false;
        let mut last_frame = Instant::now();
        let mut outstanding: Option<String> = None;
        let mut tick = tokio::time::interval_at(
            tokio::time::Instant::now() + self.timing.ping_every,
            self.timing.ping_every,
        );
        let end = |why: String, up: bool| SessionEnd::Failed {
            why,
            was_up: up,
            forget_device: false,
        };
        loop {
            tokio::select! {
                msg = ws.next() => {
                    let bytes = match msg {
                        None => return end("Webex closed the connection".into(), up),
                        Some(Err(e)) => return end(format!("websocket error: {e}"), up),
                        Some(Ok(Message::Text(t))) => t.as_bytes().to_vec(),
                        Some(Ok(Message::Binary(b))) => b.to_vec(),
                        Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {
                            last_frame = Instant::now();
                            continue;
                        }
                        Some(Ok(Message::Close(close))) => {
                            let (code, reason) = close
                                .map(|c| (u16::from(c.code), c.reason.to_string()))
                                .unwrap_or((1005, String::new()));
                            return match code {
                                4000 => SessionEnd::Replaced,
                                4401 => end(format!("Webex refused the bot token on the websocket (4401 {reason})"), up),
                                4400 | 4403 => end(format!("Webex refused the websocket ({code} {reason})"), up),
                                4001..=4999 => SessionEnd::Failed {
                                    why: format!("Webex closed the websocket ({code} {reason}); refreshing the device"),
                                    was_up: up,
                                    forget_device: true,
                                },
                                _ => end(format!("Webex closed the websocket ({code} {reason})"), up),
                            };
                        }
                    };
                    last_frame = Instant::now();
                    let parsed = match frame::parse(&bytes) {
                        Ok(p) => p,
                        Err(e) => {
                            tracing::warn!(error = %e, "unreadable websocket frame; ignored");
                            continue;
                        }
                    };
                    let envelope = match parsed {
                        Inbound::Pong { id } => {
                            if outstanding.as_deref() == Some(id.as_str()) {
                                outstanding = None;
                            }
                            continue;
                        }
                        Inbound::Other { envelope_id } => envelope_id,
                        Inbound::Event { envelope_id, event_type, activity } => {
                            if !up {
                                up = true;
                                self.metrics.socket_state("connected");
                                tracing::info!(device = %dev.url, "Webex websocket connected and authorized");
                            }
                            if let (true, Some(a)) = (event_type == "conversation.activity", activity) {
                                if let Err(why) = self.deliver(app, &a).await {
                                    // Not acked: Webex sends it again on the next connection.
                                    return end(why, up);
                                }
                            }
                            Some(envelope_id)
                        }
                    };
                    if let Some(id) = envelope
                        && let Err(e) = ws.send(Message::text(frame::ack(&id))).await
                    {
                        return end(format!("cannot ack: {e}"), up);
                    }
                }
                _ = tick.tick() => {
                    if outstanding.is_some() {
                        return end(format!("no pong within {} s", self.timing.ping_every.as_secs()), up);
                    }
                    if last_frame.elapsed() > self.timing.silence {
                        return end(format!("no frame for {} s", self.timing.silence.as_secs()), up);
                    }
                    let id = new_id();
                    if let Err(e) = ws.send(Message::text(frame::ping(&id))).await {
                        return end(format!("cannot ping: {e}"), up);
                    }
                    outstanding = Some(id);
                }
                _ = signal.changed() => {
                    let _ = ws
                        .close(Some(tungstenite::protocol::CloseFrame {
                            code: CloseCode::Normal,
                            reason: "Botper is stopping".into(),
                        }))
                        .await;
                    return SessionEnd::Signalled;
                }
            }
        }
    }

    /// One activity into the inbox (or counted as ignored).
    ///
    /// # Errors
    /// The store could not take it: the caller must not ack.
    async fn deliver(&self, app: &App, a: &frame::Activity) -> Result<(), String> {
        match frame::meaning(a) {
            Ok(Meaning::Event(key, event)) => {
                let data_id = key.data_id.clone();
                match app.receive(key, event).await {
                    Ok(r) => {
                        let outcome = match r {
                            Receipt::Stored => "accepted",
                            Receipt::Duplicate => "duplicate",
                            Receipt::OwnMessage => "own_message",
                        };
                        tracing::debug!(verb = %a.verb, %data_id, outcome, "websocket event");
                        self.metrics.socket_event(&a.verb, outcome);
                        Ok(())
                    }
                    Err(e) => {
                        self.metrics.socket_event(&a.verb, "unavailable");
                        Err(format!("event not stored ({e}); not acknowledged"))
                    }
                }
            }
            Ok(Meaning::Ignored) => {
                self.metrics.socket_event(&a.verb, "ignored");
                Ok(())
            }
            Err(why) => {
                tracing::warn!(verb = %a.verb, %why, "malformed websocket activity; ignored");
                self.metrics.socket_event(&a.verb, "malformed");
                Ok(())
            }
        }
    }

    /// `doctor`'s check of the socket path, on a device of its own (connecting on the
    /// deployment's device would take the running socket over): catalog, register,
    /// connect, authorize, first event; the device is deleted after.
    ///
    /// # Errors
    /// Which step failed and why.
    pub async fn probe(&self) -> Result<Vec<String>, String> {
        let probe = &self
            .devices
            .named(format!("{} (doctor)", self.devices.name()));
        let mut steps = Vec::new();
        let wdm = probe
            .discover()
            .await
            .map_err(|e| format!("catalog: {e}"))?;
        steps.push(format!("device service at {wdm}"));
        let listed = self
            .devices
            .list(&wdm)
            .await
            .map_err(|e| format!("listing devices: {e}"))?;
        let ours = listed
            .iter()
            .filter(|d| d.name.as_deref() == Some(self.devices.name()))
            .count();
        steps.push(format!(
            "{} device(s) for this bot, {ours} named \"{}\"",
            listed.len(),
            self.devices.name()
        ));
        let (dev, _) = probe
            .obtain(&wdm)
            .await
            .map_err(|e| format!("registering a device: {e}"))?;
        let result = async {
            let (mut ws, _) =
                tokio_tungstenite::connect_async(socket_url(&dev.web_socket_url).as_str())
                    .await
                    .map_err(|e| format!("connecting the websocket: {e}"))?;
            ws.send(Message::text(frame::authorization(
                &new_id(),
                self.token.expose_secret(),
            )))
            .await
            .map_err(|e| format!("authorizing: {e}"))?;
            let first = tokio::time::timeout(Duration::from_secs(10), ws.next()).await;
            let answer = match first {
                Err(_) => Err("no answer to the authorization within 10 s".to_owned()),
                Ok(None) => Err("the websocket closed after the authorization".into()),
                Ok(Some(Err(e))) => Err(format!("websocket error: {e}")),
                Ok(Some(Ok(Message::Close(c)))) => Err(format!(
                    "Webex refused the authorization ({})",
                    c.map(|c| format!("{} {}", u16::from(c.code), c.reason))
                        .unwrap_or_default()
                )),
                Ok(Some(Ok(_))) => Ok(()),
            };
            let _ = ws.close(None).await;
            answer
        }
        .await;
        let _ = probe.delete(&dev.url).await;
        result?;
        steps.push("websocket connected and authorized".into());
        Ok(steps)
    }
}

/// The websocket URL with the query Webex's own clients send.
fn socket_url(base: &str) -> String {
    let Ok(mut url) = url::Url::parse(base) else {
        return base.to_owned();
    };
    url.query_pairs_mut()
        .append_pair("outboundWireFormat", "text")
        .append_pair("bufferStates", "true")
        .append_pair("aliasHttpStatus", "true")
        .append_pair(
            "clientTimestamp",
            &jiff::Timestamp::now().as_millisecond().to_string(),
        );
    url.to_string()
}

/// A uuid v4 in text form (frame ids).
fn new_id() -> String {
    let b: [u8; 16] = rand::random();
    let h = hex::encode(b);
    format!(
        "{}-{}-4{}-{:x}{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        8 | (b[8] & 0x3),
        &h[17..20],
        &h[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_socket_url_gets_the_sdk_query() {
        let u = socket_url(
            "wss://mercury-connection-a.wbx2.com/v1/apps/wx2/registrations/abc/messages",
        );
        assert!(u.starts_with("wss://mercury-connection-a.wbx2.com/v1/apps/wx2/registrations/abc/messages?outboundWireFormat=text&bufferStates=true&aliasHttpStatus=true&clientTimestamp="), "{u}");
    }

    #[test]
    fn frame_ids_are_uuids() {
        let id = new_id();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"), "{id}");
        assert_ne!(new_id(), id);
    }
}
