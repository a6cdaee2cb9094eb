//! The transport lab: the clock read over plain REST, and what the server counted on the wire for
//! each transport of one lab run.
//!
//! A lab run is named by the browser (`?lab=RUN` on `/ws`, `/api/events` and `/api/clock`); the
//! server attributes every byte its sockets read and write for those requests to the run's lane
//! of that transport, and reports the totals at `/api/lab/runs/{run}`.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Path of the clock as a REST resource (the polling transport's feed).
pub const CLOCK_PATH: &str = "/api/clock";
/// Path prefix of lab run reports: `/api/lab/runs/{run}`.
pub const LAB_RUNS_PATH: &str = "/api/lab/runs";
/// Query parameter naming the lab run a request belongs to.
pub const LAB_PARAM: &str = "lab";

/// `GET /api/clock`: the server's latest tick (what a polling client reads instead of the
/// WebSocket's `tick`; it polls its board's task list, with `If-None-Match`, for changes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClockReading {
    /// When the tick happened, Unix epoch milliseconds.
    pub server_time_ms: i64,
    /// `"The time is: HH:MM:SS"`, as in the WebSocket's `tick`.
    pub text: String,
    /// The store's identity, as in the WebSocket's `hello`.
    pub store: String,
}

/// The name of one lab run: 1 to 40 ASCII letters, digits, `-` or `_`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LabRun(String);

impl TryFrom<String> for LabRun {
    type Error = LabRunError;

    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<LabRun> for String {
    fn from(run: LabRun) -> Self {
        run.0
    }
}

/// Why a lab run name was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabRunError;

impl fmt::Display for LabRunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "A lab run is named by 1 to {} ASCII letters, digits, '-' or '_'.",
            LabRun::MAX_LEN
        )
    }
}

impl std::error::Error for LabRunError {}

impl LabRun {
    /// Longest accepted name.
    pub const MAX_LEN: usize = 40;

    /// Accepts a well-formed run name.
    pub fn parse(raw: &str) -> Result<Self, LabRunError> {
        let well_formed = !raw.is_empty()
            && raw.len() <= Self::MAX_LEN
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if well_formed {
            Ok(Self(raw.to_owned()))
        } else {
            Err(LabRunError)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for LabRun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The three ways the lab moves the same feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    /// Server push over one WebSocket.
    #[serde(rename = "websocket")]
    WebSocket,
    /// Server push over one `text/event-stream` response.
    Sse,
    /// The client asks `GET /api/clock` on an interval, with `If-None-Match`.
    Polling,
}

impl Transport {
    /// All three, in the order the lab shows them.
    pub const ALL: [Self; 3] = [Self::WebSocket, Self::Sse, Self::Polling];

    /// Name for people.
    pub fn label(self) -> &'static str {
        match self {
            Self::WebSocket => "WebSocket",
            Self::Sse => "Server-Sent Events",
            Self::Polling => "REST polling",
        }
    }
}

/// What the server's sockets carried for one transport of a run, counted as TCP payload: HTTP
/// request and response heads and bodies (chunk framing included), the WebSocket handshake, frame
/// headers, masks, pings and pongs. TCP/IP headers and TLS are not included.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LaneReport {
    /// Bytes the server read from the client.
    pub bytes_in: u64,
    /// Bytes the server wrote to the client.
    pub bytes_out: u64,
    /// HTTP requests (a WebSocket or an event stream is one, however long it lasts).
    pub requests: u64,
}

/// `GET /api/lab/runs/{run}`: the counts of each transport (zero before a lane connects).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LabReport {
    pub websocket: LaneReport,
    pub sse: LaneReport,
    pub polling: LaneReport,
}

impl LabReport {
    /// The counts of one transport.
    pub fn lane(&self, transport: Transport) -> LaneReport {
        match transport {
            Transport::WebSocket => self.websocket,
            Transport::Sse => self.sse,
            Transport::Polling => self.polling,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_names_are_short_and_url_safe() {
        assert!(LabRun::parse("a1-B_2").is_ok());
        assert!(LabRun::parse(&"x".repeat(LabRun::MAX_LEN)).is_ok());
        for bad in ["", "a b", "a/b", "é", &"x".repeat(LabRun::MAX_LEN + 1)] {
            assert_eq!(LabRun::parse(bad), Err(LabRunError), "{bad:?}");
        }
    }

    #[test]
    fn transports_serialise_in_snake_case() {
        let json = serde_json::to_string(&Transport::ALL).unwrap();
        assert_eq!(json, r#"["websocket","sse","polling"]"#);
    }
}
