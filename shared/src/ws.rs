//! Messages on the `/ws` WebSocket, one tagged enum per direction, JSON text frames.
//!
//! Task events carry `seq`, a number the store assigns in the same transaction as the change:
//! strictly increasing, never reused, surviving restarts. A client remembers the last `seq` it
//! applied and reconnects with `/ws?since=SEQ` to receive exactly what it missed.

use serde::{Deserialize, Serialize};

use crate::task::{Task, TaskId};

/// Version of the message protocol below; `hello` announces it so a client can refuse a server it
/// does not understand.
pub const PROTOCOL_VERSION: u32 = 1;

/// Query parameter of `/ws` naming the last `seq` the client applied.
pub const SINCE_PARAM: &str = "since";

/// Largest message a client may send, in bytes; a larger one closes the connection with 1009.
pub const MAX_CLIENT_MESSAGE_BYTES: usize = 4 * 1024;

/// A client that hears nothing (not even a tick) for this long should treat the connection as dead.
pub const CLIENT_SILENCE_TIMEOUT_MS: u32 = 5_000;

/// A message the server sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMsg {
    /// First message on every connection.
    Hello {
        protocol: u32,
        /// Server wall clock, Unix epoch milliseconds.
        server_time_ms: i64,
        /// The newest event's `seq` (0 before the first change).
        seq: i64,
        /// The store's identity: a client that resumed against another store (a restored backup,
        /// a new database) must reload instead of applying its `seq`s.
        store: String,
    },
    /// Sent on every wall-clock second.
    Tick {
        /// Server wall clock, Unix epoch milliseconds.
        server_time_ms: i64,
        /// `"The time is: HH:MM:SS"` in the server's local time zone.
        text: String,
    },
    /// A task was created.
    TaskCreated { seq: i64, task: Task },
    /// A task changed; `task` is its new state.
    TaskUpdated { seq: i64, task: Task },
    /// A task was deleted.
    TaskDeleted {
        seq: i64,
        #[cfg_attr(feature = "openapi", schema(value_type = i64))]
        id: TaskId,
    },
    /// The server cannot send the events this client missed (too old, ahead of the server, or the
    /// client fell behind the live stream): reload the list over REST. Live events keep coming;
    /// apply those newer than the reloaded list's `seq`.
    Resync { reason: String },
    /// Answer to a client's `ping`, echoing its timestamp so it can compute the round trip.
    Pong {
        client_time_ms: i64,
        server_time_ms: i64,
    },
}

impl ServerMsg {
    /// The event sequence number, for task events.
    pub fn seq(&self) -> Option<i64> {
        match self {
            Self::TaskCreated { seq, .. }
            | Self::TaskUpdated { seq, .. }
            | Self::TaskDeleted { seq, .. } => Some(*seq),
            _ => None,
        }
    }
}

/// A message a client may send. None is required: the clock streams without any.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMsg {
    /// Asks for a `pong`, to measure the round trip.
    Ping { client_time_ms: i64 },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_messages_are_tagged_with_a_snake_case_type() {
        let tick = ServerMsg::Tick {
            server_time_ms: 1,
            text: "The time is: 00:00:01".into(),
        };
        let json = serde_json::to_value(&tick).unwrap();
        assert_eq!(json["type"], "tick");
        assert_eq!(json["text"], "The time is: 00:00:01");
        let deleted = serde_json::to_value(ServerMsg::TaskDeleted {
            seq: 3,
            id: TaskId(9),
        })
        .unwrap();
        assert_eq!(
            deleted,
            serde_json::json!({"type": "task_deleted", "seq": 3, "id": 9})
        );
    }

    #[test]
    fn only_task_events_have_a_seq() {
        let deleted = ServerMsg::TaskDeleted {
            seq: 3,
            id: TaskId(1),
        };
        assert_eq!(deleted.seq(), Some(3));
        let resync = ServerMsg::Resync { reason: "x".into() };
        assert_eq!(resync.seq(), None);
    }
}
