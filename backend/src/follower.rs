//! The follower: each instance reads the store's event log in `seq` order and publishes every
//! event to its own connections exactly once, whichever instance wrote it.
//!
//! It wakes when this instance commits (`writes`), when the store reports a change made elsewhere
//! (PostgreSQL's `NOTIFY`, see `store::postgres`), and at least every [`POLL`], so nothing depends
//! on a notification arriving. The log is gap-free, so reading "after the last `seq` published"
//! never skips an event; if retention removed events this instance never published (it was cut
//! off from the database for long), its connections get `resync` instead of a silent gap.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::events::EventHub;
use crate::store::{Replay, StoreError, TaskStore};

/// The longest the follower waits between two reads of the log.
pub const POLL: Duration = Duration::from_millis(200);
/// Most events read at once.
const READ_LIMIT: u32 = 1000;

/// Starts following the log after the hub's position until `stop`; `wake` makes it read at once.
pub fn spawn(store: Arc<dyn TaskStore>, hub: EventHub, wake: Arc<Notify>, stop: CancellationToken) {
    tokio::spawn(async move {
        let mut healthy = true;
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                () = wake.notified() => {}
                () = tokio::time::sleep(POLL) => {}
            }
            match catch_up(&*store, &hub).await {
                Ok(()) if !healthy => {
                    tracing::info!(seq = hub.published(), "following the event log again");
                    healthy = true;
                }
                Ok(()) => {}
                Err(error) if healthy => {
                    tracing::warn!(%error, "cannot read the event log; retrying");
                    healthy = false;
                }
                Err(_) => {}
            }
        }
    });
}

/// Publishes everything the log holds after the hub's position.
async fn catch_up(store: &dyn TaskStore, hub: &EventHub) -> Result<(), StoreError> {
    loop {
        let after = hub.published();
        match store.events_since(after, READ_LIMIT).await? {
            Replay::Events { head, events } => {
                for event in &events {
                    hub.publish(event);
                }
                if events.len() < READ_LIMIT as usize || hub.published() >= head {
                    return Ok(());
                }
            }
            Replay::Unavailable { head, reason } => {
                tracing::warn!(after, head, %reason, "the event log cannot be followed from here; clients resync");
                hub.resync(head, reason);
                return Ok(());
            }
        }
    }
}
