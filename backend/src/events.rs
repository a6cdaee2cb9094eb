//! Task events on their way to live connections: published in `seq` order, serialised once, and
//! fanned out through one broadcast channel that every connection reads.

use std::sync::Arc;

use axum::extract::ws::Utf8Bytes;
use tokio::sync::{Mutex, broadcast};

use crate::store::{Changed, StoreError};
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
    /// Held from the store write until the broadcast, so events enter the channel in `seq` order
    /// even when two requests commit at nearly the same time. (SQLite serialises writes anyway.)
    order: Arc<Mutex<()>>,
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

    /// Runs the store change `write` and publishes its event.
    pub async fn publish<T, Fut>(&self, write: Fut) -> Result<Option<T>, StoreError>
    where
        Fut: Future<Output = Result<Option<Changed<T>>, StoreError>>,
    {
        let _in_order = self.order.lock().await;
        let Some(changed) = write.await? else {
            return Ok(None);
        };
        let seq = changed
            .event
            .seq()
            .expect("the store records task events, which carry a seq");
        // An error only means no connection is listening right now.
        let _ = self.sender.send(Event {
            seq,
            text: encode(&changed.event),
        });
        Ok(Some(changed.value))
    }
}

#[cfg(test)]
mod tests {
    use shared::{ServerMsg, TaskId};

    use super::*;

    #[tokio::test]
    async fn an_event_is_serialised_once_and_shared_by_every_receiver() {
        let hub = EventHub::new(8);
        let mut first = hub.subscribe();
        let mut second = hub.subscribe();

        let published = hub
            .publish(async {
                Ok(Some(Changed {
                    value: (),
                    event: ServerMsg::TaskDeleted {
                        seq: 7,
                        id: TaskId(1),
                    },
                }))
            })
            .await
            .unwrap();

        assert_eq!(published, Some(()));
        let (a, b) = (first.recv().await.unwrap(), second.recv().await.unwrap());
        assert_eq!((a.seq, b.seq), (7, 7));
        assert_eq!(a.text.as_str(), r#"{"type":"task_deleted","seq":7,"id":1}"#);
        // The same bytes, not two copies.
        assert_eq!(a.text.as_str().as_ptr(), b.text.as_str().as_ptr());
    }

    #[tokio::test]
    async fn nothing_is_published_when_the_store_changed_nothing() {
        let hub = EventHub::new(8);
        let mut receiver = hub.subscribe();

        let published = hub
            .publish(async { Ok(None::<Changed<()>>) })
            .await
            .unwrap();

        assert_eq!(published, None);
        assert!(receiver.try_recv().is_err());
    }
}
