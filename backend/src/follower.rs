//! The follower: each instance publishes the store's event log to its own connections in `seq`
//! order, every event exactly once, whichever instance wrote it.
//!
//! It hears of new events in three ways ([`Changes`]): this instance's writer hands over what it
//! just committed (published straight away when it continues the stream, so a local write costs
//! no read), the store reports a commit elsewhere (PostgreSQL's `NOTIFY`, see `store::postgres`),
//! and a poll every [`POLL`], so nothing depends on a notification arriving. Whenever the
//! handed-over events do not continue the stream, it reads the log instead. The log is gap-free,
//! so reading "after the last `seq` published" never skips an event; if retention removed events
//! this instance never published (it was cut off from the database for long), its connections get
//! `resync` instead of a silent gap.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::events::EventHub;
use crate::store::{Replay, StoreError, TaskEvent, TaskStore};

/// The longest the follower waits between two reads of the log.
pub const POLL: Duration = Duration::from_millis(200);
/// Most events read at once.
const READ_LIMIT: u32 = 1000;

/// What the follower is told: events committed here, and a wake-up for commits elsewhere.
#[derive(Debug, Default)]
pub struct Changes {
    /// Woken on every change; the store's watcher holds it too.
    pub wake: Arc<Notify>,
    committed: Mutex<Vec<TaskEvent>>,
}

impl Changes {
    /// This instance committed `events` (in `seq` order).
    pub fn committed(&self, events: impl IntoIterator<Item = TaskEvent>) {
        self.committed
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .extend(events);
        self.wake.notify_one();
    }

    fn take_committed(&self) -> Vec<TaskEvent> {
        std::mem::take(
            &mut *self
                .committed
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        )
    }
}

/// Starts following the log after the hub's position, until `stop`.
pub fn spawn(
    store: Arc<dyn TaskStore>,
    hub: EventHub,
    changes: Arc<Changes>,
    stop: CancellationToken,
) {
    tokio::spawn(async move {
        let mut healthy = true;
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                () = changes.wake.notified() => {}
                () = tokio::time::sleep(POLL) => {}
            }
            if publish_committed(&hub, changes.take_committed()) {
                continue;
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

/// Publishes events this instance committed if they continue the stream; `false` when the log
/// must be read instead (nothing was handed over, or events from elsewhere come first).
fn publish_committed(hub: &EventHub, committed: Vec<TaskEvent>) -> bool {
    let published = hub.published();
    let fresh: Vec<&TaskEvent> = committed.iter().filter(|e| e.seq > published).collect();
    match fresh.first() {
        Some(first) if first.seq == published + 1 => {
            for event in fresh {
                hub.publish(event);
            }
            true
        }
        // Already published (read from the log before the hand-over arrived).
        None if !committed.is_empty() => true,
        _ => false,
    }
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

#[cfg(test)]
mod tests {
    use shared::TaskId;

    use super::*;
    use crate::store::TaskChange;

    fn deleted(seq: i64) -> TaskEvent {
        TaskEvent {
            seq,
            change: TaskChange::Deleted(TaskId(seq)),
        }
    }

    #[test]
    fn events_committed_here_that_continue_the_stream_are_published_without_a_read() {
        let hub = EventHub::new(8, 4);
        assert!(publish_committed(&hub, vec![deleted(5), deleted(6)]));
        assert_eq!(hub.published(), 6);
        // Already published: nothing to do, nothing to read.
        assert!(publish_committed(&hub, vec![deleted(6)]));
        assert_eq!(hub.published(), 6);
    }

    #[test]
    fn events_committed_after_others_not_yet_published_send_the_follower_to_the_log() {
        let hub = EventHub::new(8, 4);
        assert!(!publish_committed(&hub, vec![deleted(7)]));
        assert!(!publish_committed(&hub, vec![]));
        assert_eq!(hub.published(), 4);
    }
}
