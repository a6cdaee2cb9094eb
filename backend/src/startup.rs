//! Assembling and running the server: [`app`] builds the router, [`Application`] binds and serves it.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::{Router, middleware};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::TraceLayer;

use crate::access::{self, AccessHub};
use crate::access_cache::AccessCache;
use crate::auth::{AuthSettings, RateLimit};
use crate::config::Config;
use crate::events::{BROADCAST_CAPACITY, EventHub};
use crate::lab::LabRegistry;
use crate::limits::{self, Admission, ConnectionLimits};
use crate::live::StoreAccess;
use crate::routes::static_files::{self, FrontEnd};
use crate::routes::{self, health};
use crate::state::Shared;
use crate::wire::AdmittingListener;
use crate::write_limit::WriteLimit;
use crate::writes::Writes;
use crate::ws::WsSettings;
use crate::{AppState, follower, janitor, monitoring, security, serve, store, ws};

/// How long shutdown waits for WebSocket connections to get their close frames out, beyond the
/// close spread.
const WEBSOCKET_DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Where `GET /metrics` is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsAt {
    /// Beside the API, on the main address.
    MainAddress,
    /// Only on a listener of its own (`--metrics-addr`).
    OwnAddress,
}

/// The whole HTTP surface: `/api`, `/ws`, `/healthz`, `/metrics` unless it has an address of its
/// own, and the front end at `/`.
pub fn app(
    state: AppState,
    front_end: &FrontEnd,
    read_timeout: Duration,
    metrics: MetricsAt,
) -> Router {
    let mut routes = Router::new()
        .nest(
            shared::API_PREFIX,
            routes::api_router(state.clone(), read_timeout),
        )
        .merge(ws::router())
        .merge(health::router());
    if metrics == MetricsAt::MainAddress {
        routes = routes.merge(monitoring::router());
    }
    let router = routes
        // Inside routing, where the route template is known.
        .route_layer(middleware::from_fn(monitoring::http))
        .with_state(state.clone())
        .fallback_service(
            static_files::router(front_end).layer(middleware::from_fn(monitoring::http)),
        );
    let [nosniff, referrer, frames, policy] = security::layers();
    router
        .layer(nosniff)
        .layer(referrer)
        .layer(frames)
        .layer(policy)
        // Every request gets an id (or keeps the proxy's `x-request-id`), its span carries it, so
        // every log line of the request names it, and the response echoes it.
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .layer(SetRequestIdLayer::x_request_id(RequestIds::new()))
        // Outermost: the lab measures a request's head as the client wrote it, before any layer
        // adds a header.
        .layer(middleware::from_fn_with_state(state, crate::lab::meter))
}

/// Request ids without a system call each: this process's random prefix and a counter, unique
/// across instances and restarts.
#[derive(Clone)]
struct RequestIds {
    prefix: Arc<str>,
    next: Arc<std::sync::atomic::AtomicU64>,
}

impl RequestIds {
    fn new() -> Self {
        let started = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Self {
            prefix: format!(
                "{:x}{:08x}",
                std::process::id(),
                started.subsec_nanos() ^ started.as_secs() as u32
            )
            .into(),
            next: Arc::default(),
        }
    }
}

impl MakeRequestId for RequestIds {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        axum::http::HeaderValue::from_str(&format!("{}-{n}", self.prefix))
            .ok()
            .map(RequestId::new)
    }
}

/// The span of one request: method, path and request id (set by the layer outside it).
fn request_span(request: &axum::http::Request<axum::body::Body>) -> tracing::Span {
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|id| id.to_str().ok())
        .unwrap_or_default();
    tracing::info_span!(
        "request",
        method = %request.method(),
        path = request.uri().path(),
        request_id,
    )
}

/// A server bound to its address, ready to run.
pub struct Application {
    listener: TcpListener,
    /// `--metrics-addr`'s listener, when metrics have an address of their own.
    metrics_listener: Option<TcpListener>,
    admission: Admission,
    read_timeout: Duration,
    drain: Duration,
    router: Router,
    state: AppState,
}

impl Application {
    /// Opens the store, starts the clock and binds the listener (so [`Application::local_addr`] is
    /// known before serving, even for port 0).
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        // Installed before anything records (a meter made before it would record nothing).
        monitoring::handle();
        let store = store::open(&config.database, config.event_retention)
            .await
            .with_context(|| format!("cannot open the database {}", config.database))?;
        tracing::info!(database = %config.database, store = store.identity(), "store opened");
        let front_end = FrontEnd::choose(config.static_dir.as_deref());
        match front_end.missing_folder() {
            Some(dir) => tracing::warn!(
                static_dir = %dir.display(),
                "no index.html in the static folder: the front end is not built (run `cargo xtask run`)"
            ),
            None => tracing::info!(%front_end, "serving the front end"),
        }
        let limits = ConnectionLimits::plan(
            limits::open_file_limit(),
            config.max_connections,
            config.max_connections_per_address as usize,
        );
        tracing::info!(
            open_files = limits.open_files,
            connections = limits.total,
            live_connections = limits.live,
            per_address = limits.per_address,
            "connection limits planned from the open-file limit"
        );
        let shutdown = CancellationToken::new();
        // Live connections get what is committed from now on; earlier events come from the store.
        let events = EventHub::new(BROADCAST_CAPACITY, store.heads().await?);
        let changes = Arc::new(follower::Changes::default());
        store.watch_changes(changes.wake.clone(), shutdown.clone());
        follower::spawn(
            store.clone(),
            events.clone(),
            changes.clone(),
            shutdown.clone(),
        );
        let access = AccessHub::default();
        let access_cache = Arc::new(AccessCache::default());
        access::spawn(
            store.clone(),
            access.clone(),
            access_cache.clone(),
            store.access_head().await?,
            shutdown.clone(),
        );
        let state = AppState::new(Shared {
            access_cache: access_cache.clone(),
            board_access: Arc::new(StoreAccess {
                store: store.clone(),
                cache: access_cache.clone(),
                events: events.clone(),
            }),
            access,
            writes: Writes::spawn(store.clone(), changes, events.clone()),
            store,
            events,
            ticks: ws::clock::spawn(),
            shutdown,
            connections: TaskTracker::new(),
            connection_permits: Arc::new(Semaphore::new(limits.live)),
            ready: Arc::new(std::sync::atomic::AtomicBool::new(true)),
            ws: Arc::new(WsSettings {
                close_spread: Duration::from_secs(config.close_spread_seconds),
                ping_interval: Duration::from_secs(config.ws_ping_interval),
                idle_timeout: Duration::from_secs(config.ws_timeout),
                allowed_origins: config.allowed_origins.clone(),
                disabled: config.disable_websocket,
            }),
            auth: Arc::new(AuthSettings::new(
                config.signup,
                config.secure_cookies,
                config.trusted_proxies.clone(),
                RateLimit {
                    attempts: config.sign_in_attempts,
                    window: Duration::from_secs(config.sign_in_window),
                },
            )),
            write_limit: WriteLimit::new(config.write_rate),
            lab: Arc::new(LabRegistry::default()),
            pages: Default::default(),
        });
        janitor::spawn(
            state.store.clone(),
            state.write_limit.clone(),
            state.shutdown.clone(),
        );
        let listener = TcpListener::bind(config.addr)
            .await
            .with_context(|| format!("cannot listen on {}", config.addr))?;
        monitoring::spawn_upkeep(state.shutdown.clone());
        let metrics_listener = match config.metrics_addr {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("cannot listen on {addr} for metrics"))?,
            ),
            None => None,
        };
        let read_timeout = Duration::from_secs(config.read_timeout);
        let metrics_at = match metrics_listener {
            Some(_) => MetricsAt::OwnAddress,
            None => MetricsAt::MainAddress,
        };
        let router = app(state.clone(), &front_end, read_timeout, metrics_at);
        Ok(Self {
            listener,
            metrics_listener,
            admission: Admission::new(limits, config.trusted_proxies.clone()),
            read_timeout,
            drain: Duration::from_secs(config.drain_seconds),
            router,
            state,
        })
    }

    /// Wraps the router, for example with a layer that checks every response (the contract tests).
    pub fn map_router(mut self, wrap: impl FnOnce(Router) -> Router) -> Self {
        self.router = wrap(self.router);
        self
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound TCP listener has an address")
    }

    /// Serves until `stop` completes, then shuts down gracefully: in-flight requests finish and
    /// every WebSocket client receives close code 1001.
    pub async fn run_until(
        self,
        stop: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let addr = self.local_addr();
        tracing::info!("tasktick listening on http://{addr}");
        if let Some(listener) = self.metrics_listener {
            let metrics_addr = listener.local_addr()?;
            tracing::info!("metrics on http://{metrics_addr}/metrics");
            let stop = self.state.shutdown.clone();
            tokio::spawn(async move {
                let served = axum::serve(listener, monitoring::router::<()>())
                    .with_graceful_shutdown(stop.cancelled_owned())
                    .await;
                if let Err(error) = served {
                    tracing::error!(%error, "the metrics listener failed");
                }
            });
        }
        let shutdown = self.state.shutdown.clone();
        let connections = self.state.connections.clone();
        let close_spread = self.state.ws.close_spread;
        let signal = {
            let (shutdown, ready, drain) = (shutdown.clone(), self.state.ready.clone(), self.drain);
            async move {
                stop.await;
                // Not ready first: proxies stop sending new clients while this one still serves.
                ready.store(false, std::sync::atomic::Ordering::Release);
                tracing::info!(
                    seconds = drain.as_secs(),
                    "draining: /readyz says not ready"
                );
                tokio::time::sleep(drain).await;
                shutdown.cancel();
            }
        };
        let listener = AdmittingListener {
            listener: self.listener,
            admission: self.admission,
            metered: self.state.lab.metered.clone(),
        };
        serve::run(listener, self.router, self.read_timeout, signal).await;
        // Upgraded WebSocket connections are no longer hyper's: wait for our own tasks instead.
        connections.close();
        if tokio::time::timeout(WEBSOCKET_DRAIN_TIMEOUT + close_spread, connections.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                remaining = connections.len(),
                "some WebSocket connections did not close in time"
            );
        }
        tracing::info!("tasktick stopped");
        Ok(())
    }
}
