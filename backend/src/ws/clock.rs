//! The server clock: one task produces a tick on every wall-clock second, serialised once and shared
//! by every connection through a `watch` channel (a slow reader only ever sees the newest tick).

use std::time::Duration;

use axum::extract::ws::Utf8Bytes;
use chrono::{DateTime, Local, SubsecRound, Utc};
use shared::ServerMsg;
use tokio::sync::watch;

/// The newest tick; `None` until the first second boundary.
pub type TickFeed = watch::Receiver<Option<Tick>>;

/// One tick: its time and text for REST readers, and the same as ready-to-send JSON for every
/// live connection (serialised once).
#[derive(Debug, Clone)]
pub struct Tick {
    /// Unix epoch milliseconds.
    pub server_time_ms: i64,
    /// `"The time is: HH:MM:SS"`.
    pub text: String,
    /// The `tick` message.
    pub json: Utf8Bytes,
}

impl Tick {
    /// The tick for instant `at`, with the text in the server's local time zone, as in the article.
    pub fn at(at: DateTime<Utc>) -> Self {
        let server_time_ms = at.timestamp_millis();
        let local = at.with_timezone(&Local);
        let text = format!("The time is: {}", local.format("%H:%M:%S"));
        let json = encode(&ServerMsg::Tick {
            server_time_ms,
            text: text.clone(),
        });
        Self {
            server_time_ms,
            text,
            json,
        }
    }
}

/// Starts the clock; it stops once every [`TickFeed`] is dropped. (Not on shutdown: connections
/// still running must not mistake a stopped clock for a reason to close.)
pub fn spawn() -> TickFeed {
    let (sender, feed) = watch::channel(None);
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = sender.closed() => break,
                () = tokio::time::sleep(until_next_second(Utc::now())) => {}
            }
            // Timers fire a little late, never early: rounding gives the second just reached.
            let now = Utc::now().round_subsecs(0);
            sender.send_replace(Some(Tick::at(now)));
        }
    });
    feed
}

/// Time left until the next whole wall-clock second.
fn until_next_second(now: DateTime<Utc>) -> Duration {
    let into_second = Duration::from_nanos(u64::from(now.timestamp_subsec_nanos() % 1_000_000_000));
    Duration::from_secs(1) - into_second
}

/// Serialises a server message once, for sending to any number of connections.
pub fn encode(message: &ServerMsg) -> Utf8Bytes {
    serde_json::to_string(message)
        .expect("server messages contain no maps with non-string keys")
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_ends_on_the_next_whole_second() {
        let now = DateTime::from_timestamp_millis(1_700_000_000_250).unwrap();
        assert_eq!(until_next_second(now), Duration::from_millis(750));
        let on_the_second = DateTime::from_timestamp_millis(1_700_000_001_000).unwrap();
        assert_eq!(until_next_second(on_the_second), Duration::from_secs(1));
    }

    #[test]
    fn a_tick_carries_epoch_millis_and_the_local_time_text() {
        let at = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let Tick {
            server_time_ms,
            text,
            json,
        } = Tick::at(at);
        let message: ServerMsg = serde_json::from_str(&json).unwrap();
        assert_eq!(
            message,
            ServerMsg::Tick {
                server_time_ms,
                text: text.clone()
            }
        );
        assert_eq!(server_time_ms, 1_700_000_000_000);
        let expected = at.with_timezone(&Local).format("%H:%M:%S").to_string();
        assert_eq!(text, format!("The time is: {expected}"));
    }

    #[tokio::test]
    async fn the_clock_publishes_ticks_on_whole_seconds() {
        let mut feed = spawn();
        tokio::time::timeout(Duration::from_secs(3), feed.changed())
            .await
            .expect("a tick within three seconds")
            .unwrap();
        let tick = feed.borrow().clone().unwrap();
        let message: ServerMsg = serde_json::from_str(&tick.json).unwrap();
        let ServerMsg::Tick { server_time_ms, .. } = message else {
            panic!("not a tick: {}", tick.json);
        };
        assert_eq!(server_time_ms % 1000, 0);
        assert_eq!(server_time_ms, tick.server_time_ms);
    }
}
