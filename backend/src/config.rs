//! Server configuration: command-line flags, each also settable through a `TASKTICK_*` variable.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::path::PathBuf;

use clap::Args;
use serde::{Serialize, Serializer};

use crate::auth::Signup;
use crate::store::DatabaseUrl;
use crate::telemetry::LogFormat;

const DEFAULT_WS_PING_INTERVAL_SECS: u64 = 20;
const DEFAULT_WS_TIMEOUT_SECS: u64 = 60;
const DEFAULT_MAX_CONNECTIONS: usize = 100_000;
const DEFAULT_READ_TIMEOUT_SECS: u64 = 10;
const DEFAULT_DRAIN_SECS: u64 = 5;
const DEFAULT_CLOSE_SPREAD_SECS: u64 = 3;
const DEFAULT_MAX_CONNECTIONS_PER_ADDRESS: u32 = 1_000;
const DEFAULT_SIGN_IN_ATTEMPTS: u32 = 10;
const DEFAULT_WRITE_RATE: NonZeroU32 = NonZeroU32::new(50).unwrap();
const DEFAULT_SIGN_IN_WINDOW_SECS: u64 = 15 * 60;
const DEFAULT_EVENT_RETENTION: NonZeroU32 = NonZeroU32::new(10_000).unwrap();

/// Everything `tasktick serve` needs to start. Serialised (by `tasktick config`) with the flags'
/// names as keys, so that the output is a config file; the database password is hidden.
#[derive(Debug, Clone, Args, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Config {
    /// A TOML file of settings, keyed by these flags' names (`addr = "0.0.0.0:3000"`); the
    /// environment and the flags override it.
    #[arg(long, env = "TASKTICK_CONFIG", value_name = "FILE")]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// Address to listen on; port 0 picks a free port (the log says which).
    #[arg(long, env = "TASKTICK_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,
    /// Where tasks live: `sqlite://PATH` or a bare PATH (a SQLite file, created with its folder if
    /// missing), or `postgres://USER:PASSWORD@HOST:PORT/DB` for several instances on one database.
    #[arg(long, env = "TASKTICK_DATABASE", default_value = "data/tasks.db")]
    #[serde(serialize_with = "shown_without_password")]
    pub database: DatabaseUrl,
    /// Serve the front end from this folder (as `trunk build` or `trunk serve` writes it) instead
    /// of the one built into the binary; a build without one serves `dist` by default.
    #[arg(long, env = "TASKTICK_STATIC_DIR")]
    pub static_dir: Option<PathBuf>,
    /// Seconds between the server's WebSocket pings.
    #[arg(long, env = "TASKTICK_WS_PING_INTERVAL", default_value_t = DEFAULT_WS_PING_INTERVAL_SECS,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub ws_ping_interval: u64,
    /// Seconds a WebSocket peer may stay silent (no pong, no message) before it is disconnected.
    #[arg(long, env = "TASKTICK_WS_TIMEOUT", default_value_t = DEFAULT_WS_TIMEOUT_SECS,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub ws_timeout: u64,
    /// A browser origin (`https://example.com`) allowed to open WebSockets besides the server's own;
    /// repeatable.
    #[arg(
        long = "allowed-origin",
        env = "TASKTICK_ALLOWED_ORIGINS",
        value_delimiter = ','
    )]
    #[serde(rename = "allowed-origin")]
    pub allowed_origins: Vec<String>,
    /// Seconds a client may take to send a request's head, and again its body; a slower one is
    /// disconnected (head) or answered 408 (body), so slow clients cannot hold connections.
    #[arg(long, env = "TASKTICK_READ_TIMEOUT", default_value_t = DEFAULT_READ_TIMEOUT_SECS,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub read_timeout: u64,
    /// Seconds an instance keeps serving after SIGTERM or SIGINT while `/readyz` already says it
    /// is not ready, so a proxy or orchestrator stops sending it new clients before it stops.
    #[arg(long, env = "TASKTICK_DRAIN_SECONDS", default_value_t = DEFAULT_DRAIN_SECS)]
    pub drain_seconds: u64,
    /// Seconds over which live connections are closed (1012, service restart) when the drain
    /// ends, each at a random moment, so their reconnects do not arrive at once.
    #[arg(long, env = "TASKTICK_CLOSE_SPREAD_SECONDS", default_value_t = DEFAULT_CLOSE_SPREAD_SECS)]
    pub close_spread_seconds: u64,
    /// Most connections one client address may hold open at once (a `--trusted-proxy` is exempt);
    /// more are closed as they arrive.
    #[arg(long, env = "TASKTICK_MAX_CONNECTIONS_PER_ADDRESS", default_value_t = DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections_per_address: u32,
    /// Most WebSocket connections (and event streams) served at once; more are refused with 503.
    /// The server lowers it to fit the process's open-file limit (the log says to what).
    #[arg(long, env = "TASKTICK_MAX_CONNECTIONS", default_value_t = DEFAULT_MAX_CONNECTIONS)]
    pub max_connections: usize,
    /// How many of the newest task events are kept for clients that resume with `?since=`.
    #[arg(long, env = "TASKTICK_EVENT_RETENTION", default_value_t = DEFAULT_EVENT_RETENTION)]
    pub event_retention: NonZeroU32,
    /// How the server writes its log: `text` for people, `json` (one object per line, with the
    /// request id) for log collectors.
    #[arg(long, env = "TASKTICK_LOG_FORMAT", value_enum, default_value_t)]
    pub log_format: LogFormat,
    /// Whether anyone may create an account on the page (`open`), or only the operator with
    /// `tasktick user add` (`closed`).
    #[arg(long, env = "TASKTICK_SIGNUP", value_enum, default_value_t)]
    pub signup: Signup,
    /// Mark the session cookie `Secure` (sent over HTTPS only): set it when users reach the server
    /// through TLS, as behind a proxy that terminates it.
    #[arg(long, env = "TASKTICK_SECURE_COOKIES")]
    pub secure_cookies: bool,
    /// The address of a reverse proxy in front of this server; repeatable. For requests from it,
    /// the client address is the last hop it appended to `X-Forwarded-For` (it is the socket's
    /// address otherwise): the rate limits count per client, not per proxy.
    #[arg(
        long = "trusted-proxy",
        env = "TASKTICK_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    #[serde(rename = "trusted-proxy")]
    pub trusted_proxies: Vec<IpAddr>,
    /// Sign-in attempts allowed per account and per client address within `--sign-in-window`
    /// seconds; more are answered 429 until the window ends.
    #[arg(long, env = "TASKTICK_SIGN_IN_ATTEMPTS", default_value_t = DEFAULT_SIGN_IN_ATTEMPTS,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub sign_in_attempts: u32,
    /// Length of a sign-in rate-limit window, in seconds.
    #[arg(long, env = "TASKTICK_SIGN_IN_WINDOW", default_value_t = DEFAULT_SIGN_IN_WINDOW_SECS,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub sign_in_window: u64,
    /// Task changes one account may make per second (in bursts of twice that); more are answered
    /// 429 with Retry-After.
    #[arg(long, env = "TASKTICK_WRITE_RATE", default_value_t = DEFAULT_WRITE_RATE)]
    pub write_rate: NonZeroU32,
    /// Serve `GET /metrics` (Prometheus) on this address only, instead of beside the API; for
    /// keeping it off the public address.
    #[arg(long, env = "TASKTICK_METRICS_ADDR")]
    pub metrics_addr: Option<SocketAddr>,
    /// Refuse every WebSocket upgrade with 503, as a proxy that blocks WebSockets would (clients
    /// then use the event stream).
    #[arg(long, env = "TASKTICK_DISABLE_WEBSOCKET")]
    pub disable_websocket: bool,
}

impl Config {
    /// The defaults, with the three settings every deployment chooses.
    pub fn new(addr: SocketAddr, database: DatabaseUrl, static_dir: PathBuf) -> Self {
        Self {
            config: None,
            addr,
            database,
            static_dir: Some(static_dir),
            ws_ping_interval: DEFAULT_WS_PING_INTERVAL_SECS,
            ws_timeout: DEFAULT_WS_TIMEOUT_SECS,
            allowed_origins: Vec::new(),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            read_timeout: DEFAULT_READ_TIMEOUT_SECS,
            drain_seconds: DEFAULT_DRAIN_SECS,
            close_spread_seconds: DEFAULT_CLOSE_SPREAD_SECS,
            max_connections_per_address: DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
            event_retention: DEFAULT_EVENT_RETENTION,
            disable_websocket: false,
            metrics_addr: None,
            log_format: LogFormat::Text,
            signup: Signup::Open,
            secure_cookies: false,
            trusted_proxies: Vec::new(),
            sign_in_attempts: DEFAULT_SIGN_IN_ATTEMPTS,
            sign_in_window: DEFAULT_SIGN_IN_WINDOW_SECS,
            write_rate: DEFAULT_WRITE_RATE,
        }
    }
}

impl Config {
    /// These settings as a TOML config file, the database password hidden.
    pub fn to_toml(&self) -> anyhow::Result<String> {
        Ok(toml::to_string(self)?)
    }
}

fn shown_without_password<S: Serializer>(url: &DatabaseUrl, out: S) -> Result<S::Ok, S::Error> {
    out.collect_str(url)
}
