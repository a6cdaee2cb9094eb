//! The state every handler shares, cloned cheaply into each request.

use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::events::EventHub;
use crate::lab::LabRegistry;
use crate::store::Store;
use crate::writes::Writes;
use crate::ws::WsSettings;
use crate::ws::clock::TickFeed;

/// Shared application state. Extractors and middleware clone it several times per request, so it
/// is one reference count: cloning the handles inside each time cost a sixth of a request's CPU.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What [`AppState`] shares.
pub struct Shared {
    /// Where tasks live (SQLite or PostgreSQL); handlers read from it directly.
    pub store: Arc<dyn Store>,
    /// The one way to change tasks: group commit, then the follower publishes.
    pub writes: Writes,
    /// Task events on their way to every live connection (published by the follower).
    pub events: EventHub,
    /// Access changes on their way to live sessions (which end what was revoked).
    pub access: crate::access::AccessHub,
    /// Sessions, tokens and memberships as last read, until an access change drops them.
    pub access_cache: Arc<crate::access_cache::AccessCache>,
    /// Membership checks and replays for live sessions' subscriptions.
    pub board_access: Arc<dyn crate::live::BoardAccess>,
    /// The latest clock tick, already serialised once for all connections.
    pub ticks: TickFeed,
    /// Cleared when a shutdown begins: `/readyz` then answers 503 while the instance drains.
    pub ready: Arc<std::sync::atomic::AtomicBool>,
    /// Cancelled when the server starts shutting down; WebSocket loops then say goodbye.
    pub shutdown: CancellationToken,
    /// Tracks WebSocket connection tasks so shutdown can wait for their close frames to go out.
    pub connections: TaskTracker,
    /// One permit per open WebSocket, up to `--max-connections`.
    pub connection_permits: Arc<Semaphore>,
    pub ws: Arc<WsSettings>,
    /// Sign-up, cookies, proxies and the sign-in rate limits.
    pub auth: crate::auth::Auth,
    /// How fast each account may change tasks.
    pub write_limit: crate::write_limit::WriteLimit,
    /// Task list pages already serialised, served while their board has nothing newer.
    pub pages: crate::pages::Pages,
    /// Byte meters of the transport lab's runs.
    pub lab: Arc<LabRegistry>,
}
