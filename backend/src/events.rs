//! Task events on their way to live connections: serialised once and fanned out through one
//! broadcast channel that every connection reads (each keeps the events of the boards it
//! follows). Only the follower (see `follower`) publishes, each board's events in `seq` order.

use std::collections::HashMap;
use std::time::Duration;

use axum::extract::ws::Utf8Bytes;
use shared::{BoardId, ServerMsg};
use tokio::sync::{broadcast, watch};

use crate::store::TaskEvent;
use crate::ws::clock::encode;

/// How many events a connection may fall behind the live stream before it gets `resync`.
pub const BROADCAST_CAPACITY: usize = 1024;

/// One message of the event stream, as JSON text ready to send, shared (not copied) by every
/// receiver: a task event, or a `resync` when the stream had to skip ahead.
#[derive(Debug, Clone)]
pub struct Event {
    /// The board whose stream this is.
    pub board: BoardId,
    /// The event's `seq`; for a `resync`, the `seq` the stream continues after.
    pub seq: i64,
    pub text: Utf8Bytes,
    /// Whether this is a task event (which carries `seq` for a client to resume from).
    pub is_task_event: bool,
    /// When this instance published it (the fan-out metric measures from here).
    pub published: std::time::Instant,
}

/// The live event stream of this instance.
#[derive(Clone)]
pub struct EventHub {
    sender: broadcast::Sender<Event>,
    /// The newest `seq` published per board (the follower's position in each board's log); a
    /// board not in it has published nothing yet.
    published: watch::Sender<HashMap<BoardId, i64>>,
}

impl EventHub {
    /// A hub whose boards' streams continue after the heads in `published`.
    pub fn new(capacity: usize, published: impl IntoIterator<Item = (BoardId, i64)>) -> Self {
        Self {
            sender: broadcast::channel(capacity).0,
            published: watch::Sender::new(published.into_iter().collect()),
        }
    }

    /// A receiver of every event published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.sender.subscribe()
    }

    /// The newest `seq` published on `board`'s stream.
    pub fn published(&self, board: BoardId) -> i64 {
        self.published.borrow().get(&board).copied().unwrap_or(0)
    }

    /// Waits (at most `patience`) until `board`'s `seq` has been published; whether it was.
    pub async fn wait_published(&self, board: BoardId, seq: i64, patience: Duration) -> bool {
        let mut published = self.published.subscribe();
        let reached = |heads: &HashMap<BoardId, i64>| heads.get(&board).is_some_and(|&p| p >= seq);
        tokio::time::timeout(patience, published.wait_for(reached))
            .await
            .is_ok_and(|reached| reached.is_ok())
    }

    /// Sends `event` to every connection, serialised once.
    pub(crate) fn publish(&self, event: &TaskEvent) {
        self.send(Event {
            board: event.board,
            seq: event.seq,
            text: encode(&event.to_message()),
            is_task_event: true,
            published: std::time::Instant::now(),
        });
    }

    /// Tells every connection following `board` and not already past `seq` to reload: the events
    /// up to it cannot be sent.
    pub(crate) fn resync(&self, board: BoardId, seq: i64, reason: String) {
        self.send(Event {
            board,
            seq,
            text: encode(&ServerMsg::Resync {
                board: Some(board),
                reason,
            }),
            is_task_event: false,
            published: std::time::Instant::now(),
        });
        crate::monitoring::resync("log");
    }

    fn send(&self, event: Event) {
        // Position first, then the event: a connection subscribes and then reads the position,
        // so either it sees the new position (and needs not the event) or it receives the event.
        self.published.send_modify(|heads| {
            heads.insert(event.board, event.seq);
        });
        // An error only means no connection is listening right now.
        let _ = self.sender.send(event);
    }
}

#[cfg(test)]
mod tests {
    use shared::TaskId;

    use super::*;
    use crate::store::TaskChange;

    #[tokio::test]
    async fn an_event_is_serialised_once_and_shared_by_every_receiver() {
        let board = BoardId(3);
        let hub = EventHub::new(8, [(board, 6)]);
        let mut first = hub.subscribe();
        let mut second = hub.subscribe();

        hub.publish(&TaskEvent {
            board,
            seq: 7,
            change: TaskChange::Deleted(TaskId(1)),
        });

        let (a, b) = (first.recv().await.unwrap(), second.recv().await.unwrap());
        assert_eq!((a.seq, b.seq, hub.published(board)), (7, 7, 7));
        assert_eq!((a.board, hub.published(BoardId(4))), (board, 0));
        assert_eq!(
            a.text.as_str(),
            r#"{"type":"task_deleted","board":3,"seq":7,"id":1}"#
        );
        // The same bytes, not two copies.
        assert_eq!(a.text.as_str().as_ptr(), b.text.as_str().as_ptr());
    }
}
