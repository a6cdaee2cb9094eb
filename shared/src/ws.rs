//! Messages on the `/ws` WebSocket, one tagged enum per direction, JSON text frames.
//!
//! The clock is public: every connection gets a `tick` each second. A signed-in client follows
//! boards on the same socket: `subscribe` names a board and the last `seq` applied, the server
//! answers `subscribed` (then the events missed) or `unsubscribed` with the reason, and from then
//! on sends the board's task events. Each board is its own stream: `seq` is per board, assigned
//! by the store in the same transaction as the change, strictly increasing, never reused. Access
//! is checked at every `subscribe` and again whenever it changes (a member removed, a session
//! ended, a token revoked): the subscription then ends with `unsubscribed`.

use serde::{Deserialize, Serialize};

use crate::account::BoardId;
use crate::task::{Task, TaskId};

/// Version of the message protocol below; `hello` announces it so a client can refuse a server it
/// does not understand.
pub const PROTOCOL_VERSION: u32 = 2;

/// Largest message a client may send, in bytes; a larger one closes the connection with 1009.
pub const MAX_CLIENT_MESSAGE_BYTES: usize = 4 * 1024;

/// A client that hears nothing (not even a tick) for this long should treat the connection as dead.
pub const CLIENT_SILENCE_TIMEOUT_MS: u32 = 5_000;

/// First reconnection delay ceiling, doubled after each failed attempt up to
/// [`MAX_RECONNECT_MS`].
pub const FIRST_RECONNECT_MS: f64 = 500.0;
pub const MAX_RECONNECT_MS: f64 = 30_000.0;

/// How long a client waits before reconnecting after `failures` attempts in a row: exponential
/// backoff with full jitter, a uniformly random delay up to 0.5 s × 2^failures, capped at 30 s;
/// `random_unit` in `[0, 1]` picks the point in the window. The browser follows it, and so do the
/// reconnect-storm test's clients: thousands of clients cut off at once come back spread out.
pub fn reconnect_delay_ms(failures: u32, random_unit: f64) -> u32 {
    let ceiling = (FIRST_RECONNECT_MS * 2f64.powi(failures.min(16) as i32)).min(MAX_RECONNECT_MS);
    (ceiling * random_unit.clamp(0.0, 1.0)) as u32
}

/// A message the server sends. Read through [`Received`] (the same JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case", try_from = "Received")]
pub enum ServerMsg {
    /// First message on every connection.
    Hello {
        protocol: u32,
        /// Server wall clock, Unix epoch milliseconds.
        server_time_ms: i64,
        /// The store's identity: a client that resumed against another store (a restored backup,
        /// a new database) must reload instead of applying its `seq`s.
        store: String,
        /// The signed-in account's username, if the connection carries a session or a token.
        username: Option<String>,
    },
    /// A `subscribe` was accepted: the board's events after `seq` follow (first those the client
    /// missed since the `since` it gave, if any).
    Subscribed {
        #[cfg_attr(feature = "openapi", schema(value_type = i64))]
        board: BoardId,
        /// The board's newest event when the subscription began.
        seq: i64,
    },
    /// A subscription ended, or a `subscribe` was refused; no more events of the board follow.
    Unsubscribed {
        #[cfg_attr(feature = "openapi", schema(value_type = i64))]
        board: BoardId,
        reason: EndReason,
    },
    /// Sent on every wall-clock second.
    Tick {
        /// Server wall clock, Unix epoch milliseconds.
        server_time_ms: i64,
        /// `"The time is: HH:MM:SS"` in the server's local time zone.
        text: String,
    },
    /// A task was created.
    TaskCreated {
        #[cfg_attr(feature = "openapi", schema(value_type = i64))]
        board: BoardId,
        seq: i64,
        task: Task,
    },
    /// A task changed; `task` is its new state.
    TaskUpdated {
        #[cfg_attr(feature = "openapi", schema(value_type = i64))]
        board: BoardId,
        seq: i64,
        task: Task,
    },
    /// A task was deleted.
    TaskDeleted {
        #[cfg_attr(feature = "openapi", schema(value_type = i64))]
        board: BoardId,
        seq: i64,
        #[cfg_attr(feature = "openapi", schema(value_type = i64))]
        id: TaskId,
    },
    /// The server cannot send the events of `board` this client missed (too old, ahead of the
    /// server, or the client fell behind the live stream; without a board: every board's): reload
    /// the list over REST. Live events keep coming; apply those newer than the reloaded list's
    /// `seq`.
    Resync {
        #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>))]
        board: Option<BoardId>,
        reason: String,
    },
    /// Answer to a client's `ping`, echoing its timestamp so it can compute the round trip.
    Pong {
        client_time_ms: i64,
        server_time_ms: i64,
    },
}

/// Why a board's subscription ended (or never began).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// The connection carries no session or token: sign in first.
    SignInRequired,
    /// No such board, or the account is not a member (the two read the same).
    NotFound,
    /// The account's access ended: removed from the board, or the board was deleted.
    Revoked,
    /// The session signed out or the token was revoked.
    SignedOut,
    /// The client asked (`unsubscribe`).
    Requested,
    /// The server could not check access right now (its database is away): subscribe again
    /// shortly.
    Unavailable,
}

/// A server message as read: the fields of every kind in one flat record, `type` saying which
/// apply. serde reads an internally tagged enum by first copying each message into a tree of its
/// own and then reading the variant from that, code which was the largest single function in the
/// browser's bundle; a flat record is read in one pass (10 KB less gzipped WebAssembly). A field
/// of another kind is not used, but must still have its own type.
#[derive(Deserialize)]
struct Received {
    #[serde(rename = "type")]
    kind: Kind,
    protocol: Option<u32>,
    server_time_ms: Option<i64>,
    store: Option<String>,
    username: Option<String>,
    board: Option<BoardId>,
    seq: Option<i64>,
    /// An [`EndReason`] in `unsubscribed`, free text in `resync`.
    reason: Option<String>,
    text: Option<String>,
    task: Option<Task>,
    id: Option<TaskId>,
    client_time_ms: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum Kind {
    Hello,
    Subscribed,
    Unsubscribed,
    Tick,
    TaskCreated,
    TaskUpdated,
    TaskDeleted,
    Resync,
    Pong,
}

/// A field the message's kind requires, or the error naming it.
fn required<T>(field: Option<T>, name: &str) -> Result<T, String> {
    field.ok_or_else(|| format!("missing field `{name}`"))
}

impl TryFrom<Received> for ServerMsg {
    type Error = String;

    fn try_from(message: Received) -> Result<Self, String> {
        let Received {
            kind,
            protocol,
            server_time_ms,
            store,
            username,
            board,
            seq,
            reason,
            text,
            task,
            id,
            client_time_ms,
        } = message;
        Ok(match kind {
            Kind::Hello => Self::Hello {
                protocol: required(protocol, "protocol")?,
                server_time_ms: required(server_time_ms, "server_time_ms")?,
                store: required(store, "store")?,
                username,
            },
            Kind::Subscribed => Self::Subscribed {
                board: required(board, "board")?,
                seq: required(seq, "seq")?,
            },
            Kind::Unsubscribed => Self::Unsubscribed {
                board: required(board, "board")?,
                reason: EndReason::deserialize(serde::de::value::StrDeserializer::<
                    serde::de::value::Error,
                >::new(&required(
                    reason, "reason",
                )?))
                .map_err(|error| error.to_string())?,
            },
            Kind::Tick => Self::Tick {
                server_time_ms: required(server_time_ms, "server_time_ms")?,
                text: required(text, "text")?,
            },
            Kind::TaskCreated => Self::TaskCreated {
                board: required(board, "board")?,
                seq: required(seq, "seq")?,
                task: required(task, "task")?,
            },
            Kind::TaskUpdated => Self::TaskUpdated {
                board: required(board, "board")?,
                seq: required(seq, "seq")?,
                task: required(task, "task")?,
            },
            Kind::TaskDeleted => Self::TaskDeleted {
                board: required(board, "board")?,
                seq: required(seq, "seq")?,
                id: required(id, "id")?,
            },
            Kind::Resync => Self::Resync {
                board,
                reason: required(reason, "reason")?,
            },
            Kind::Pong => Self::Pong {
                client_time_ms: required(client_time_ms, "client_time_ms")?,
                server_time_ms: required(server_time_ms, "server_time_ms")?,
            },
        })
    }
}

impl ServerMsg {
    /// The board and event sequence number, for task events.
    pub fn seq(&self) -> Option<(BoardId, i64)> {
        match self {
            Self::TaskCreated { board, seq, .. }
            | Self::TaskUpdated { board, seq, .. }
            | Self::TaskDeleted { board, seq, .. } => Some((*board, *seq)),
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
    /// Follows a board: its task events from now on, and first those after `since` (the last
    /// `seq` applied) if given.
    Subscribe {
        #[cfg_attr(feature = "openapi", schema(value_type = i64))]
        board: BoardId,
        since: Option<i64>,
    },
    /// Stops following a board.
    Unsubscribe {
        #[cfg_attr(feature = "openapi", schema(value_type = i64))]
        board: BoardId,
    },
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
            board: BoardId(2),
            seq: 3,
            id: TaskId(9),
        })
        .unwrap();
        assert_eq!(
            deleted,
            serde_json::json!({"type": "task_deleted", "board": 2, "seq": 3, "id": 9})
        );
        let subscribe: ClientMsg =
            serde_json::from_str(r#"{"type":"subscribe","board":2,"since":null}"#).unwrap();
        assert_eq!(
            subscribe,
            ClientMsg::Subscribe {
                board: BoardId(2),
                since: None
            }
        );
    }

    fn a_task() -> Task {
        serde_json::from_value(serde_json::json!({
            "id": 7, "title": "Write the report", "done": false, "version": 2,
            "created_at": "2026-11-30T10:00:00Z", "created_by": "ada"
        }))
        .unwrap()
    }

    #[test]
    fn every_server_message_reads_back_as_it_was_written() {
        let messages = [
            ServerMsg::Hello {
                protocol: PROTOCOL_VERSION,
                server_time_ms: 1,
                store: "sqlite:abc".into(),
                username: Some("ada".into()),
            },
            ServerMsg::Hello {
                protocol: PROTOCOL_VERSION,
                server_time_ms: 1,
                store: "sqlite:abc".into(),
                username: None,
            },
            ServerMsg::Subscribed {
                board: BoardId(2),
                seq: 5,
            },
            ServerMsg::Unsubscribed {
                board: BoardId(2),
                reason: EndReason::SignInRequired,
            },
            ServerMsg::Tick {
                server_time_ms: 1_000,
                text: "The time is: 00:00:01".into(),
            },
            ServerMsg::TaskCreated {
                board: BoardId(2),
                seq: 6,
                task: a_task(),
            },
            ServerMsg::TaskUpdated {
                board: BoardId(2),
                seq: 7,
                task: a_task(),
            },
            ServerMsg::TaskDeleted {
                board: BoardId(2),
                seq: 8,
                id: TaskId(7),
            },
            ServerMsg::Resync {
                board: None,
                reason: "too far behind".into(),
            },
            ServerMsg::Resync {
                board: Some(BoardId(2)),
                reason: "too far behind".into(),
            },
            ServerMsg::Pong {
                client_time_ms: 3,
                server_time_ms: 4,
            },
        ];
        for message in messages {
            let json = serde_json::to_string(&message).unwrap();
            let read: ServerMsg = serde_json::from_str(&json).unwrap();
            assert_eq!(read, message, "{json}");
        }
    }

    #[test]
    fn a_server_message_reads_whatever_the_order_of_its_fields() {
        let read: ServerMsg =
            serde_json::from_str(r#"{"board":2,"reason":"revoked","type":"unsubscribed"}"#)
                .unwrap();
        assert_eq!(
            read,
            ServerMsg::Unsubscribed {
                board: BoardId(2),
                reason: EndReason::Revoked
            }
        );
        let hello: ServerMsg =
            serde_json::from_str(r#"{"store":"s","server_time_ms":1,"protocol":2,"type":"hello"}"#)
                .unwrap();
        assert!(matches!(hello, ServerMsg::Hello { username: None, .. }));
    }

    #[test]
    fn a_server_message_missing_a_field_of_its_kind_or_of_unknown_kind_is_refused_by_name() {
        let missing =
            serde_json::from_str::<ServerMsg>(r#"{"type":"task_deleted","board":2,"seq":3}"#)
                .unwrap_err()
                .to_string();
        assert!(missing.contains("`id`"), "{missing}");
        let reason = serde_json::from_str::<ServerMsg>(
            r#"{"type":"unsubscribed","board":2,"reason":"bored"}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(reason.contains("bored"), "{reason}");
        let kind = serde_json::from_str::<ServerMsg>(r#"{"type":"tock","server_time_ms":1}"#)
            .unwrap_err()
            .to_string();
        assert!(kind.contains("tock"), "{kind}");
    }

    #[test]
    fn only_task_events_have_a_seq() {
        let deleted = ServerMsg::TaskDeleted {
            board: BoardId(2),
            seq: 3,
            id: TaskId(1),
        };
        assert_eq!(deleted.seq(), Some((BoardId(2), 3)));
        let resync = ServerMsg::Resync {
            board: None,
            reason: "x".into(),
        };
        assert_eq!(resync.seq(), None);
    }
}
