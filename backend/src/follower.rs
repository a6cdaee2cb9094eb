//! The follower: each instance publishes the store's event log to its own connections, each
//! board's events in `seq` order, every event exactly once, whichever instance wrote it.
//!
//! It hears of new events in three ways ([`Changes`]): this instance's writer hands over what it
//! just committed (published straight away when it continues the stream, so a local write costs
//! no read), the store reports a commit elsewhere (PostgreSQL's `NOTIFY`, see `store::postgres`),
//! and a poll every [`POLL`], so nothing depends on a notification arriving. Whenever the
//! handed-over events do not continue their board's stream, it reads the heads of every board and
//! the log of each board that moved. The log is gap-free,
//! so reading "after the last `seq` published" never skips an event; if retention removed events
//! this instance never published (it was cut off from the database for long), its connections get
//! `resync` instead of a silent gap.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use shared::BoardId;
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
            let committed = changes.take_committed();
            if !committed.is_empty()
                && by_board(committed)
                    .into_iter()
                    .all(|events| publish_committed(&hub, events))
            {
                continue;
            }
            match catch_up(&*store, &hub).await {
                Ok(()) if !healthy => {
                    tracing::info!("following the event log again");
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

/// Events split by board, each board's in the order given.
fn by_board(events: Vec<TaskEvent>) -> Vec<Vec<TaskEvent>> {
    let mut boards: Vec<Vec<TaskEvent>> = Vec::new();
    for event in events {
        match boards.iter_mut().find(|b| b[0].board == event.board) {
            Some(board) => board.push(event),
            None => boards.push(vec![event]),
        }
    }
    boards
}

/// Publishes events this instance committed on one board as far as they continue its stream;
/// `false` when the log must be read instead: events from elsewhere come first, or fall between
/// two of this instance's commits (publishing past them would skip them for good).
fn publish_committed(hub: &EventHub, committed: Vec<TaskEvent>) -> bool {
    let Some(board) = committed.first().map(|e| e.board) else {
        return false;
    };
    // Already published ones were read from the log before the hand-over arrived.
    for event in committed.iter().filter(|e| e.seq > hub.published(board)) {
        if event.seq != hub.published(board) + 1 {
            return false;
        }
        hub.publish(event);
    }
    true
}

/// Publishes everything the log holds after the hub's position, on every board that moved.
async fn catch_up(store: &dyn TaskStore, hub: &EventHub) -> Result<(), StoreError> {
    let heads = store.heads().await?;
    crate::monitoring::follower_lag(
        heads
            .iter()
            .map(|&(board, head)| (head - hub.published(board)).max(0))
            .sum(),
    );
    for (board, head) in heads {
        if head > hub.published(board) {
            catch_up_board(store, hub, board).await?;
        }
    }
    Ok(())
}

/// Publishes everything `board`'s log holds after the hub's position.
async fn catch_up_board(
    store: &dyn TaskStore,
    hub: &EventHub,
    board: BoardId,
) -> Result<(), StoreError> {
    loop {
        let after = hub.published(board);
        match store.events_since(board, after, READ_LIMIT).await? {
            Replay::Events { head, events } => {
                for event in &events {
                    hub.publish(event);
                }
                if events.len() < READ_LIMIT as usize || hub.published(board) >= head {
                    return Ok(());
                }
            }
            Replay::Unavailable { head, reason } => {
                tracing::warn!(%board, after, head, %reason, "the event log cannot be followed from here; clients resync");
                hub.resync(board, head, reason);
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

    const BOARD: BoardId = BoardId(1);

    fn deleted(seq: i64) -> TaskEvent {
        on(BOARD, seq)
    }

    fn on(board: BoardId, seq: i64) -> TaskEvent {
        TaskEvent {
            board,
            seq,
            change: TaskChange::Deleted(TaskId(seq)),
        }
    }

    #[test]
    fn events_committed_here_that_continue_the_stream_are_published_without_a_read() {
        let hub = EventHub::new(8, [(BOARD, 4)]);
        assert!(publish_committed(&hub, vec![deleted(5), deleted(6)]));
        assert_eq!(hub.published(BOARD), 6);
        // Already published: nothing to do, nothing to read.
        assert!(publish_committed(&hub, vec![deleted(6)]));
        assert_eq!(hub.published(BOARD), 6);
    }

    #[test]
    fn events_committed_after_others_not_yet_published_send_the_follower_to_the_log() {
        let hub = EventHub::new(8, [(BOARD, 4)]);
        assert!(!publish_committed(&hub, vec![deleted(7)]));
        assert!(!publish_committed(&hub, vec![]));
        assert_eq!(hub.published(BOARD), 4);
    }

    #[test]
    fn events_from_elsewhere_between_two_local_commits_are_not_skipped() {
        // This instance committed 5-6 and 9-10; another instance committed 7-8 in between.
        let hub = EventHub::new(8, [(BOARD, 4)]);
        assert!(!publish_committed(
            &hub,
            vec![deleted(5), deleted(6), deleted(9), deleted(10)]
        ));
        // 5 and 6 went out; the log is read from 6 on, so 7 and 8 come before 9.
        assert_eq!(hub.published(BOARD), 6);
    }

    #[test]
    fn each_board_continues_its_own_stream() {
        let other = BoardId(2);
        let hub = EventHub::new(8, [(BOARD, 4)]);
        let boards = by_board(vec![deleted(5), on(other, 1), deleted(6), on(other, 2)]);
        assert_eq!(boards.len(), 2);
        assert!(
            boards
                .into_iter()
                .all(|events| publish_committed(&hub, events))
        );
        assert_eq!((hub.published(BOARD), hub.published(other)), (6, 2));
        // A new board's first event continues from nothing.
        assert!(!publish_committed(&hub, vec![on(BoardId(3), 2)]));
        assert!(publish_committed(&hub, vec![on(BoardId(3), 1)]));
    }
}
