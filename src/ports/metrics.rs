//! What the service counts and times. A port, so the core does not know the exporter;
//! `NoMetrics` serves tests and tools that count nothing.

/// Observations; every method is cheap and never fails.
pub trait Metrics: Send + Sync {
    /// A webhook delivery and what became of it (`accepted`, `duplicate`, `ignored`,
    /// `own_message`, `unauthorized`, `malformed`, `too_large`, `unavailable`, `disabled`).
    fn webhook(&self, resource: &str, outcome: &'static str);
    /// A command handled, by verb, and how long it took end to end.
    fn command(&self, command: &'static str, seconds: f64);
    /// A Webex call, by endpoint and final status (`0` for no answer).
    fn webex_call(&self, endpoint: &'static str, status: u16, seconds: f64);
    /// A token refresh: `refreshed`, `refused` (invalid grant) or `failed`.
    fn token_refresh(&self, outcome: &'static str);
    /// An inbox item settled: `done`, `retry` or `dead`.
    fn item_settled(&self, outcome: &'static str);
    /// The websocket's state now: `standby` (another instance holds it), `connecting`,
    /// `connected`, `down` (waiting to reconnect), `replaced` (another connection took
    /// over), `off` (webhooks mode).
    fn socket_state(&self, _state: &'static str) {}
    /// The websocket was lost and is being opened again.
    fn socket_reconnect(&self) {}
    /// A websocket event by activity verb (`post`, `cardAction`, `add`, `other`) and what
    /// became of it (as for [`Metrics::webhook`], and `ignored`).
    fn socket_event(&self, _verb: &str, _outcome: &'static str) {}
    /// One person's meetings poll: `unchanged`, `changed`, `baseline`, `no_grant`,
    /// `rate_limited`, `failed`.
    fn meetings_poll(&self, _outcome: &'static str) {}
}

#[derive(Debug, Clone, Copy, Default)]
pub struct NoMetrics;

impl Metrics for NoMetrics {
    fn webhook(&self, _: &str, _: &'static str) {}
    fn command(&self, _: &'static str, _: f64) {}
    fn webex_call(&self, _: &'static str, _: u16, _: f64) {}
    fn token_refresh(&self, _: &'static str) {}
    fn item_settled(&self, _: &'static str) {}
}
