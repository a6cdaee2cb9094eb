//! Task events on their way to live connections: published in `seq` order, serialised once, and
//! fanned out through one broadcast channel that every connection reads.

use std::sync::Arc;

use axum::extract::ws::Utf8Bytes;
use shared::ServerMsg;
use tokio::sync::{Mutex, MutexGuard, broadcast};

use crate::ws::clock::encode;

/// How many events a connection may fall behind the live stream before it gets `resync`.
pub const BROADCAST_CAPACITY: usize = 1024;

/// One task event, as JSON text ready to send, shared (not copied) by every receiver.
#[derive(Debug, Clone)]
pub struct Event {
    pub seq: i64,
    pub text: Utf8Bytes,
}

/// Publishes store changes to every connection.
#[derive(Clone)]
pub struct EventHub {
    sender: broadcast::Sender<Event>,
    /// Held from the store write until the broadcast (see [`Writer`]), so events enter the
    /// channel in `seq` order even when two requests commit at nearly the same time.
    order: Arc<Mutex<()>>,
}

/// The right to write to the store and then publish, one writer at a time.
pub struct Writer<'a> {
    sender: &'a broadcast::Sender<Event>,
    _order: MutexGuard<'a, ()>,
}

impl EventHub {
    pub fn new(capacity: usize) -> Self {
        Self {
            sender: broadcast::channel(capacity).0,
            order: Arc::new(Mutex::new(())),
        }
    }

    /// A receiver of every event published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.sender.subscribe()
    }

    /// Waits for the turn to write. Hold the [`Writer`] across the store write and its publish.
    pub async fn writer(&self) -> Writer<'_> {
        Writer {
            sender: &self.sender,
            _order: self.order.lock().await,
        }
    }
}

impl Writer<'_> {
    /// Sends each event to every connection, serialised once.
    pub fn publish(&self, events: &[ServerMsg]) {
        for event in events {
            let seq = event
                .seq()
                .expect("the store records task events, which carry a seq");
            // An error only means no connection is listening right now.
            let _ = self.sender.send(Event {
                seq,
                text: encode(event),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use shared::TaskId;

    use super::*;

    #[tokio::test]
    async fn an_event_is_serialised_once_and_shared_by_every_receiver() {
        let hub = EventHub::new(8);
        let mut first = hub.subscribe();
        let mut second = hub.subscribe();

        hub.writer().await.publish(&[ServerMsg::TaskDeleted {
            seq: 7,
            id: TaskId(1),
        }]);

        let (a, b) = (first.recv().await.unwrap(), second.recv().await.unwrap());
        assert_eq!((a.seq, b.seq), (7, 7));
        assert_eq!(a.text.as_str(), r#"{"type":"task_deleted","seq":7,"id":1}"#);
        // The same bytes, not two copies.
        assert_eq!(a.text.as_str().as_ptr(), b.text.as_str().as_ptr());
    }

    #[tokio::test]
    async fn one_writer_at_a_time() {
        let hub = EventHub::new(8);
        let writer = hub.writer().await;

        let second = tokio::time::timeout(std::time::Duration::from_millis(50), hub.writer()).await;

        assert!(
            second.is_err(),
            "a second writer got in while the first held its turn"
        );
        drop(writer);
        hub.writer().await;
    }
}
