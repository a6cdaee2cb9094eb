//! Messages on the `/ws` WebSocket, one tagged enum per direction, JSON text frames.

use serde::{Deserialize, Serialize};

/// Version of the message protocol below; `hello` announces it so a client can refuse a server it
/// does not understand.
pub const PROTOCOL_VERSION: u32 = 1;

/// A message the server sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMsg {
    /// First message on every connection.
    Hello {
        protocol: u32,
        /// Server wall clock, Unix epoch milliseconds.
        server_time_ms: i64,
    },
    /// Sent on every wall-clock second.
    Tick {
        /// Server wall clock, Unix epoch milliseconds.
        server_time_ms: i64,
        /// `"The time is: HH:MM:SS"` in the server's local time zone.
        text: String,
    },
    /// Answer to a client's `ping`, echoing its timestamp so it can compute the round trip.
    Pong {
        client_time_ms: i64,
        server_time_ms: i64,
    },
}

/// A message a client may send. None is required: the clock streams without any.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
        let hello = serde_json::to_value(ServerMsg::Hello {
            protocol: PROTOCOL_VERSION,
            server_time_ms: 2,
        })
        .unwrap();
        assert_eq!(hello["type"], "hello");
    }
}
