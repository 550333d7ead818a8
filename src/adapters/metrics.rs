//! The Prometheus exporter behind `/metrics` (text format 0.0.4).

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};

use crate::ports::Metrics;
use crate::ports::inbox::InboxStats;

pub struct PromMetrics {
    registry: Registry,
    webhooks: IntCounterVec,
    commands: HistogramVec,
    webex: HistogramVec,
    refreshes: IntCounterVec,
    settled: IntCounterVec,
    inbox: IntGaugeVec,
    socket_state: IntGaugeVec,
    socket_reconnects: prometheus::IntCounter,
    socket_events: IntCounterVec,
    polls: IntCounterVec,
}

/// The states `botper_socket_state` has a series for (one is 1, the others 0).
const SOCKET_STATES: [&str; 6] = [
    "off",
    "standby",
    "connecting",
    "connected",
    "down",
    "replaced",
];

const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

impl PromMetrics {
    pub fn new() -> Self {
        let registry = Registry::new_custom(Some("botper".into()), None).expect("valid prefix");
        let webhooks = IntCounterVec::new(
            Opts::new(
                "webhooks_total",
                "Webhook deliveries by resource and outcome",
            ),
            &["resource", "outcome"],
        )
        .expect("valid metric");
        let commands = HistogramVec::new(
            HistogramOpts::new(
                "command_duration_seconds",
                "Time to handle a chat command, from claim to reply sent",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["command"],
        )
        .expect("valid metric");
        let webex = HistogramVec::new(
            HistogramOpts::new(
                "webex_request_duration_seconds",
                "Webex API calls by endpoint and final status (retries included)",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["endpoint", "status"],
        )
        .expect("valid metric");
        let refreshes = IntCounterVec::new(
            Opts::new("token_refreshes_total", "OAuth token refreshes by outcome"),
            &["outcome"],
        )
        .expect("valid metric");
        let settled = IntCounterVec::new(
            Opts::new(
                "inbox_settled_total",
                "Inbox items settled: done, retry, dead",
            ),
            &["outcome"],
        )
        .expect("valid metric");
        let inbox = IntGaugeVec::new(
            Opts::new("inbox_items", "Inbox items by state (sampled when scraped)"),
            &["state"],
        )
        .expect("valid metric");
        let socket_state = IntGaugeVec::new(
            Opts::new(
                "socket_state",
                "The Webex websocket's state (1 for the current one)",
            ),
            &["state"],
        )
        .expect("valid metric");
        for st in SOCKET_STATES {
            socket_state
                .with_label_values(&[st])
                .set(i64::from(st == "off"));
        }
        let socket_reconnects = prometheus::IntCounter::new(
            "socket_reconnects_total",
            "Times the Webex websocket was lost and opened again",
        )
        .expect("valid metric");
        let socket_events = IntCounterVec::new(
            Opts::new(
                "socket_events_total",
                "Webex websocket events by activity verb and outcome",
            ),
            &["verb", "outcome"],
        )
        .expect("valid metric");
        let polls = IntCounterVec::new(
            Opts::new(
                "meetings_polls_total",
                "Meetings polls (websocket mode) by outcome",
            ),
            &["outcome"],
        )
        .expect("valid metric");
        for c in [
            Box::new(socket_state.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(socket_reconnects.clone()),
            Box::new(socket_events.clone()),
            Box::new(polls.clone()),
            Box::new(webhooks.clone()),
            Box::new(commands.clone()),
            Box::new(webex.clone()),
            Box::new(refreshes.clone()),
            Box::new(settled.clone()),
            Box::new(inbox.clone()),
        ] {
            registry.register(c).expect("unique metric");
        }
        Self {
            registry,
            webhooks,
            commands,
            webex,
            refreshes,
            settled,
            inbox,
            socket_state,
            socket_reconnects,
            socket_events,
            polls,
        }
    }

    /// The text exposition, with the inbox gauges set from `stats` (when the store answered).
    pub fn render(&self, stats: Option<InboxStats>) -> String {
        if let Some(s) = stats {
            for (state, n) in [
                ("pending", s.pending),
                ("processing", s.processing),
                ("done", s.done),
                ("dead", s.dead),
            ] {
                self.inbox
                    .with_label_values(&[state])
                    .set(i64::try_from(n).unwrap_or(i64::MAX));
            }
        }
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("text encoding into a Vec does not fail");
        String::from_utf8(out).unwrap_or_default()
    }
}

impl Default for PromMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics for PromMetrics {
    fn webhook(&self, resource: &str, outcome: &'static str) {
        // Only resources Webex defines become labels (bounded cardinality).
        let resource = match resource {
            "messages" | "meetings" | "memberships" | "attachmentActions" | "rooms" | "unknown" => {
                resource
            }
            _ => "other",
        };
        self.webhooks.with_label_values(&[resource, outcome]).inc();
    }

    fn command(&self, command: &'static str, seconds: f64) {
        self.commands.with_label_values(&[command]).observe(seconds);
    }

    fn webex_call(&self, endpoint: &'static str, status: u16, seconds: f64) {
        let status = status.to_string();
        self.webex
            .with_label_values(&[endpoint, status.as_str()])
            .observe(seconds);
    }

    fn token_refresh(&self, outcome: &'static str) {
        self.refreshes.with_label_values(&[outcome]).inc();
    }

    fn item_settled(&self, outcome: &'static str) {
        self.settled.with_label_values(&[outcome]).inc();
    }

    fn socket_state(&self, state: &'static str) {
        for st in SOCKET_STATES {
            self.socket_state
                .with_label_values(&[st])
                .set(i64::from(st == state));
        }
    }

    fn socket_reconnect(&self) {
        self.socket_reconnects.inc();
    }

    fn socket_event(&self, verb: &str, outcome: &'static str) {
        // Only the verbs Botper acts on become labels (bounded cardinality).
        let verb = match verb {
            "post" | "share" | "cardAction" | "add" => verb,
            _ => "other",
        };
        self.socket_events.with_label_values(&[verb, outcome]).inc();
    }

    fn meetings_poll(&self, outcome: &'static str) {
        self.polls.with_label_values(&[outcome]).inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text_with_the_inbox_gauges() {
        let m = PromMetrics::new();
        m.webhook("messages", "accepted");
        m.webhook("<script>", "malformed");
        m.command("task", 0.004);
        m.webex_call("POST /messages", 200, 0.02);
        m.token_refresh("refreshed");
        m.item_settled("dead");
        m.socket_state("connected");
        m.socket_reconnect();
        m.socket_event("post", "accepted");
        m.socket_event("<verb>", "ignored");
        m.meetings_poll("changed");
        let text = m.render(Some(InboxStats {
            pending: 3,
            processing: 1,
            done: 10,
            dead: 2,
        }));
        assert!(
            text.contains(r#"botper_webhooks_total{outcome="accepted",resource="messages"} 1"#),
            "{text}"
        );
        assert!(text.contains(r#"botper_webhooks_total{outcome="malformed",resource="other"} 1"#));
        assert!(text.contains(r#"botper_inbox_items{state="dead"} 2"#));
        assert!(text.contains("botper_command_duration_seconds_bucket"));
        assert!(text.contains(r#"endpoint="POST /messages",status="200""#));
        assert!(text.contains(r#"botper_token_refreshes_total{outcome="refreshed"} 1"#));
        assert!(text.contains("# TYPE botper_webex_request_duration_seconds histogram"));
        assert!(
            text.contains(r#"botper_socket_state{state="connected"} 1"#),
            "{text}"
        );
        assert!(text.contains(r#"botper_socket_state{state="off"} 0"#));
        assert!(text.contains("botper_socket_reconnects_total 1"));
        assert!(text.contains(r#"botper_socket_events_total{outcome="accepted",verb="post"} 1"#));
        assert!(text.contains(r#"botper_socket_events_total{outcome="ignored",verb="other"} 1"#));
        assert!(text.contains(r#"botper_meetings_polls_total{outcome="changed"} 1"#));
    }
}
