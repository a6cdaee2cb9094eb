//! Prometheus metrics (`GET /metrics`, on the main address or on `--metrics-addr`): what an
//! operator watches. Recorded with the `metrics` facade; exported by `metrics-exporter-prometheus`.
//!
//! | metric | kind | labels | meaning |
//! |---|---|---|---|
//! | `tasktick_live_connections` | gauge | `transport` | live sessions open (WebSocket, event stream) |
//! | `tasktick_live_messages_sent_total` | counter | `transport` | messages written to live sessions (added 64 at a time, and when a session ends) |
//! | `tasktick_live_message_bytes_sent_total` | counter | `transport` | their payload bytes |
//! | `tasktick_fanout_seconds` | histogram | `kind` | from a tick's or task event's publication to its write into a session (every 64th session records) |
//! | `tasktick_live_resyncs_total` | counter | `reason` | clients told to reload instead of getting events |
//! | `tasktick_live_refused_total` | counter | `transport`, `reason` | live sessions refused before they opened |
//! | `tasktick_follower_lag_events` | gauge | | events the store was ahead of this instance at the follower's last look |
//! | `tasktick_store_call_seconds` | histogram | `outcome` | one store call (query or transaction) |
//! | `tasktick_http_requests_total` | counter | `method`, `route`, `status` | answered HTTP requests |
//!
//! Routes are axum's route templates (`/api/boards/{board}/tasks`), so the label set stays small;
//! the front end's files count as `static`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics::{Counter, Gauge, Histogram, counter, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::AppError;
use crate::store::StoreError;

/// Buckets of the duration histograms, in seconds: 100 µs to 10 s.
const SECONDS_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];
/// How often recorded histogram samples are folded into their buckets between scrapes.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// The process's recorder, installed on first use (one per process: every server in it shares it).
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)
            .expect("the buckets are not empty")
            .build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("another metrics recorder is installed: /metrics stays empty");
        }
        handle
    })
}

/// Keeps histogram samples folded into buckets until `stop`, so that memory does not grow between
/// scrapes (or without any).
pub fn spawn_upkeep(stop: tokio_util::sync::CancellationToken) {
    let handle = handle().clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(UPKEEP_INTERVAL);
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                _ = every.tick() => handle.run_upkeep(),
            }
        }
    });
}

/// `GET /metrics`.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().route("/metrics", get(render))
}

#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    description = "This instance's metrics in the Prometheus text format (see the README's \
        \"Running in production\" for what each means). Served here unless `--metrics-addr` gives \
        them an address of their own.",
    responses(
        (status = 200, description = "The metrics", body = String,
         content_type = "text/plain; version=0.0.4; charset=utf-8"),
    )
)]
pub(crate) async fn render() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        handle().render(),
    )
        .into_response()
}

/// A live transport, as the `transport` label names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    WebSocket,
    EventStream,
}

impl Transport {
    fn label(self) -> &'static str {
        match self {
            Self::WebSocket => "websocket",
            Self::EventStream => "sse",
        }
    }
}

/// One live session's meters, looked up once when it opens. Counts it as open until dropped.
///
/// Cheap on the broadcast path, where every session sends the same message at the same moment:
/// its counts are added to the shared counters [`COUNT_BATCH`] messages at a time (thousands of
/// sessions adding to one atomic per broadcast fight over its cache line), and only one session in
/// [`FANOUT_SAMPLE`] records its fan-out delays (as good a sample of the distribution, at a
/// fraction of the cost). Counting and timing every message of every session took the server's
/// CPU per tick at 15,000 clients from about 208 ms to 222-232 ms in the peers bench.
pub struct LiveMeters {
    messages: Counter,
    bytes: Counter,
    unsent: (u64, u64),
    /// This session's place in the fan-out sample, if it is in it.
    fanout: Option<Fanout>,
    open: Gauge,
}

struct Fanout {
    event: Histogram,
    tick: Histogram,
}

/// Messages a session counts before adding them to the shared counters (and when it ends).
pub const COUNT_BATCH: u64 = 64;
/// One session in this many (the first of each run of them) records its fan-out delays.
pub const FANOUT_SAMPLE: u64 = 64;

impl LiveMeters {
    pub fn open(transport: Transport) -> Self {
        static OPENED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let label = transport.label();
        let open = gauge!("tasktick_live_connections", "transport" => label);
        open.increment(1.0);
        let nth = OPENED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Self {
            messages: counter!("tasktick_live_messages_sent_total", "transport" => label),
            bytes: counter!("tasktick_live_message_bytes_sent_total", "transport" => label),
            unsent: (0, 0),
            fanout: nth.is_multiple_of(FANOUT_SAMPLE).then(|| Fanout {
                event: histogram!("tasktick_fanout_seconds", "kind" => "event"),
                tick: histogram!("tasktick_fanout_seconds", "kind" => "tick"),
            }),
            open,
        }
    }

    /// A message of `bytes` went out.
    pub fn sent(&mut self, bytes: usize) {
        self.unsent.0 += 1;
        self.unsent.1 += bytes as u64;
        if self.unsent.0 >= COUNT_BATCH {
            self.add_unsent();
        }
    }

    fn add_unsent(&mut self) {
        let (messages, bytes) = std::mem::take(&mut self.unsent);
        self.messages.increment(messages);
        self.bytes.increment(bytes);
    }

    /// A task event published at `published` is written to this session.
    pub fn event_delivered(&self, published: Instant) {
        if let Some(fanout) = &self.fanout {
            fanout.event.record(published.elapsed());
        }
    }

    /// A tick made at `server_time_ms` (Unix epoch milliseconds) is written to this session.
    pub fn tick_delivered(&self, server_time_ms: i64) {
        if let Some(fanout) = &self.fanout {
            let late_ms = chrono::Utc::now().timestamp_millis() - server_time_ms;
            fanout.tick.record(late_ms.max(0) as f64 / 1000.0);
        }
    }
}

impl Drop for LiveMeters {
    fn drop(&mut self) {
        self.add_unsent();
        self.open.decrement(1.0);
    }
}

/// A live session on `transport` was refused with `error`.
pub fn refused(transport: Transport, error: &AppError) {
    let reason = match error {
        AppError::NotWebSocket(_) => "not-websocket",
        AppError::BadRequest(_) | AppError::Validation(_) => "bad-request",
        AppError::Unauthorized(_) => "credentials",
        AppError::Forbidden(_) | AppError::NotFound(_) => "no-access",
        AppError::ForbiddenOrigin(_) => "origin",
        AppError::Overloaded { .. } => "capacity",
        AppError::WebSocketDisabled => "disabled",
        AppError::Store(StoreError::Unavailable(_)) => "store-unavailable",
        _ => "other",
    };
    counter!("tasktick_live_refused_total", "transport" => transport.label(), "reason" => reason)
        .increment(1);
}

/// A client is told to reload (`resync`): `lagged` (it fell behind the live stream), `replay`
/// (its `since` is too old or ahead), `log` (this instance could not follow the event log; counted
/// once, whatever the number of clients).
pub fn resync(reason: &'static str) {
    counter!("tasktick_live_resyncs_total", "reason" => reason).increment(1);
}

/// The store's heads were `lag` events ahead of what this instance had published.
pub fn follower_lag(lag: i64) {
    gauge!("tasktick_follower_lag_events").set(lag as f64);
}

/// One store call took `took` and ended `ok`, `unavailable` or `error`.
pub fn store_call<T>(took: Duration, result: &Result<T, StoreError>) {
    // Looked up once: a store call is on every request that misses the caches.
    static OUTCOMES: OnceLock<[Histogram; 3]> = OnceLock::new();
    let [ok, unavailable, error] = OUTCOMES.get_or_init(|| {
        handle();
        ["ok", "unavailable", "error"]
            .map(|outcome| histogram!("tasktick_store_call_seconds", "outcome" => outcome))
    });
    match result {
        Ok(_) => ok,
        Err(StoreError::Unavailable(_)) => unavailable,
        Err(_) => error,
    }
    .record(took);
}

/// Middleware: counts each request by method, route template and status. The counter of each
/// combination is built once per thread and kept (building a metrics key and looking it up in the
/// registry on every request cost about a tenth of `GET` list throughput). Only a counter: request
/// latency is left to the proxy's logs, keeping the request path light.
pub async fn http(request: Request, next: Next) -> Response {
    let method = method_label(request.method());
    let route = request.extensions().get::<MatchedPath>().cloned();
    let response = next.run(request).await;
    count_request(
        method,
        route.as_ref().map_or("static", MatchedPath::as_str),
        response.status(),
    );
    response
}

fn count_request(method: &'static str, route: &str, status: axum::http::StatusCode) {
    type ByMethodAndStatus = HashMap<(&'static str, u16), Counter>;
    thread_local! {
        static COUNTERS: RefCell<HashMap<Box<str>, ByMethodAndStatus>> = RefCell::default();
    }
    COUNTERS.with_borrow_mut(|routes| {
        if !routes.contains_key(route) {
            routes.insert(route.into(), HashMap::new());
        }
        let Some(counters) = routes.get_mut(route) else {
            return;
        };
        counters
            .entry((method, status.as_u16()))
            .or_insert_with(|| {
                handle();
                counter!(
                    "tasktick_http_requests_total",
                    "method" => method,
                    "route" => route.to_owned(),
                    "status" => status.as_str().to_owned()
                )
            })
            .increment(1);
    });
}

fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PATCH => "PATCH",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}
