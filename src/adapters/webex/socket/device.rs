//! Webex's device service (WDM), found through the U2C catalog: Botper's device is what
//! the websocket belongs to. Reused by name across restarts; registered when missing;
//! deleted on a clean shutdown.

use reqwest::Method;
use secrecy::SecretString;
use serde::Deserialize;
use url::Url;

use super::super::{Repeat, WebexHttp, json};
use crate::ports::WebexError;

/// A registered device.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Device {
    /// The device's own URL (refresh with `PUT`, remove with `DELETE`).
    pub url: String,
    #[serde(rename = "webSocketUrl")]
    pub web_socket_url: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(rename = "modificationTime", default)]
    pub modification_time: Option<String>,
}

#[derive(Deserialize)]
struct Catalog {
    #[serde(rename = "serviceLinks")]
    service_links: ServiceLinks,
}

#[derive(Deserialize)]
struct ServiceLinks {
    wdm: Option<String>,
}

#[derive(Deserialize)]
struct DeviceList {
    #[serde(default)]
    devices: Vec<Device>,
}

/// How Botper's device was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Obtained {
    Reused,
    Registered,
    /// Registered after deleting Botper's stale devices (Webex said there were too many).
    RegisteredAfterCleanup {
        deleted: usize,
    },
}

pub struct DeviceService {
    http: WebexHttp,
    u2c: Url,
    token: SecretString,
    /// This deployment's device name.
    name: String,
    /// The prefix every Botper device name has (stale ones may be deleted).
    prefix: &'static str,
}

impl DeviceService {
    pub fn new(
        http: WebexHttp,
        u2c: Url,
        token: SecretString,
        name: String,
        prefix: &'static str,
    ) -> Self {
        Self {
            http,
            u2c,
            token,
            name,
            prefix,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The same service for a device of another name (`doctor`'s probe device).
    pub fn named(&self, name: String) -> Self {
        Self {
            http: self.http.clone(),
            u2c: self.u2c.clone(),
            token: self.token.clone(),
            name,
            prefix: self.prefix,
        }
    }

    /// `GET {u2c}/catalog?format=hostmap` → `serviceLinks.wdm`: where this bot's devices
    /// live (never hard-coded: a device in the wrong region gets no events).
    ///
    /// # Errors
    /// The catalog cannot be read, or names no device service.
    pub async fn discover(&self) -> Result<String, WebexError> {
        let mut url = self.u2c.clone();
        let path = format!("{}/catalog", url.path().trim_end_matches('/'));
        url.set_path(&path);
        url.set_query(Some("format=hostmap"));
        let resp = self
            .http
            .send("GET u2c/catalog", Repeat::Safe, || {
                self.http
                    .request_url(Method::GET, url.as_str(), &self.token)
            })
            .await?;
        let catalog: Catalog = json("GET u2c/catalog", resp).await?;
        catalog
            .service_links
            .wdm
            .filter(|w| w.starts_with("https://") || w.starts_with("http://"))
            .map(|w| w.trim_end_matches('/').to_owned())
            .ok_or_else(|| {
                WebexError::Unexpected(anyhow::anyhow!(
                    "the U2C catalog names no device service (serviceLinks.wdm)"
                ))
            })
    }

    /// `GET {wdm}/devices`.
    ///
    /// # Errors
    /// As for any Webex call.
    pub async fn list(&self, wdm: &str) -> Result<Vec<Device>, WebexError> {
        let url = format!("{wdm}/devices");
        let resp = self
            .http
            .send("GET wdm/devices", Repeat::Safe, || {
                self.http.request_url(Method::GET, &url, &self.token)
            })
            .await?;
        Ok(json::<DeviceList>("GET wdm/devices", resp).await?.devices)
    }

    fn body(&self) -> serde_json::Value {
        serde_json::json!({
            "deviceName": self.name,
            "deviceType": "DESKTOP",
            "localizedModel": "rust",
            "model": "rust",
            "name": self.name,
            "systemName": "botper",
            "systemVersion": env!("CARGO_PKG_VERSION"),
        })
    }

    /// `POST {wdm}/devices`. Sent again only when Webex provably did nothing: a device
    /// registered twice by an ambiguous failure is found by name and the older one
    /// deleted on the next start.
    ///
    /// # Errors
    /// `Rejected` with Webex's message (403 "excessive device registrations", …).
    pub async fn register(&self, wdm: &str) -> Result<Device, WebexError> {
        let url = format!("{wdm}/devices");
        let body = self.body();
        let resp = self
            .http
            .send("POST wdm/devices", Repeat::OnlyIfUnprocessed, || {
                self.http
                    .request_url(Method::POST, &url, &self.token)
                    .json(&body)
            })
            .await?;
        json("POST wdm/devices", resp).await
    }

    /// `PUT {device url}`: the device refreshed (its websocket URL may change).
    ///
    /// # Errors
    /// `NotFound`: the device is gone (register again).
    pub async fn refresh(&self, device_url: &str) -> Result<Device, WebexError> {
        let body = self.body();
        let resp = self
            .http
            .send("PUT wdm/devices/{id}", Repeat::Safe, || {
                self.http
                    .request_url(Method::PUT, device_url, &self.token)
                    .json(&body)
            })
            .await?;
        json("PUT wdm/devices/{id}", resp).await
    }

    /// `DELETE {device url}` (never `DELETE {wdm}/devices`, which would remove every
    /// device of the bot, another deployment's included). A device already gone is fine.
    ///
    /// # Errors
    /// As for any Webex call.
    pub async fn delete(&self, device_url: &str) -> Result<(), WebexError> {
        match self
            .http
            .send("DELETE wdm/devices/{id}", Repeat::Safe, || {
                self.http
                    .request_url(Method::DELETE, device_url, &self.token)
            })
            .await
        {
            Ok(_) | Err(WebexError::NotFound) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Botper's device: the newest one with this deployment's name, refreshed (older
    /// duplicates are deleted), or a new one. When Webex refuses a registration for
    /// "excessive device registrations", Botper's own stale devices (named with its
    /// prefix, not in use by this deployment) are deleted and the registration is tried
    /// once more.
    ///
    /// # Errors
    /// Any Webex failure along the way.
    pub async fn obtain(&self, wdm: &str) -> Result<(Device, Obtained), WebexError> {
        let devices = self.list(wdm).await?;
        let mut ours: Vec<&Device> = devices
            .iter()
            .filter(|d| d.name.as_deref() == Some(self.name.as_str()))
            .collect();
        // ISO 8601 times in one format sort as text; newest first.
        ours.sort_by(|a, b| b.modification_time.cmp(&a.modification_time));
        for extra in ours.iter().skip(1) {
            tracing::info!(device = %extra.url, "deleting a duplicate of Botper's device");
            if let Err(e) = self.delete(&extra.url).await {
                tracing::warn!(device = %extra.url, error = %e, "cannot delete a duplicate device");
            }
        }
        if let Some(d) = ours.first() {
            match self.refresh(&d.url).await {
                Ok(fresh) => return Ok((fresh, Obtained::Reused)),
                Err(WebexError::NotFound) => {
                    tracing::info!(device = %d.url, "Botper's device is gone; registering a new one");
                }
                Err(e) => return Err(e),
            }
        }
        match self.register(wdm).await {
            Ok(d) => Ok((d, Obtained::Registered)),
            Err(WebexError::Rejected { message, .. })
                if message
                    .to_lowercase()
                    .contains("excessive device registrations") =>
            {
                let stale: Vec<&Device> = devices
                    .iter()
                    .filter(|d| {
                        d.name
                            .as_deref()
                            .is_some_and(|n| n.starts_with(self.prefix))
                    })
                    .collect();
                tracing::warn!(
                    stale = stale.len(),
                    "Webex refused a new device (excessive device registrations); deleting Botper's stale devices"
                );
                for d in &stale {
                    self.delete(&d.url).await?;
                }
                // Only once Webex confirms they are gone is the registration tried again.
                let left = self.list(wdm).await?;
                if let Some(d) = left.iter().find(|d| stale.iter().any(|s| s.url == d.url)) {
                    return Err(WebexError::Unexpected(anyhow::anyhow!(
                        "device {} is still listed after its deletion",
                        d.url
                    )));
                }
                let d = self.register(wdm).await?;
                Ok((
                    d,
                    Obtained::RegisteredAfterCleanup {
                        deleted: stale.len(),
                    },
                ))
            }
            Err(e) => Err(e),
        }
    }
}
