//! Changes of access, followed from the store and fanned out to this instance's live sessions:
//! a member removed, a board deleted, a session ended or a token revoked on any instance ends
//! the affected subscriptions here within a poll (see `live`).
//!
//! The changes are numbered gap-free in the store (like the event streams), so reading "after
//! the last one seen" never skips one. A session that falls behind the channel re-checks
//! everything it follows.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::access_cache::AccessCache;
use crate::store::AccountStore;
use crate::store::accounts::AccessChange;

/// How often the store is asked for new access changes.
pub const POLL: Duration = Duration::from_millis(200);
/// Most changes read at once.
const READ_LIMIT: u32 = 1000;
/// Changes a session may fall behind before it re-checks everything.
const CAPACITY: usize = 256;

/// Access changes on their way to live sessions.
#[derive(Clone)]
pub struct AccessHub {
    sender: broadcast::Sender<AccessChange>,
}

impl Default for AccessHub {
    fn default() -> Self {
        Self {
            sender: broadcast::channel(CAPACITY).0,
        }
    }
}

impl AccessHub {
    /// A receiver of every change from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<AccessChange> {
        self.sender.subscribe()
    }

    fn publish(&self, change: AccessChange) {
        // An error only means no session is listening.
        let _ = self.sender.send(change);
    }
}

/// Follows the store's access changes after `after` until `stop`: each drops what it concerns
/// from `cache`, then goes to the live sessions.
pub fn spawn(
    store: Arc<dyn AccountStore>,
    hub: AccessHub,
    cache: Arc<AccessCache>,
    mut after: i64,
    stop: CancellationToken,
) {
    tokio::spawn(async move {
        let mut healthy = true;
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(POLL) => {}
            }
            match store.access_changes(after, READ_LIMIT).await {
                Ok(changes) => {
                    healthy = true;
                    for change in changes {
                        after = change.seq;
                        cache.forget(change.user, change.board);
                        hub.publish(change);
                    }
                }
                Err(error) if healthy => {
                    tracing::warn!(%error, "cannot read access changes; retrying");
                    healthy = false;
                }
                Err(_) => {}
            }
        }
    });
}
