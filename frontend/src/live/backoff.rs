//! When to try again: exponential backoff with full jitter, reset by a connection that lasted.

use shared::ws::CLIENT_SILENCE_TIMEOUT_MS;

pub use shared::ws::reconnect_delay_ms as retry_delay_ms;

/// A connection that stayed up this long resets the backoff.
const STABLE_MS: f64 = 60_000.0;

/// Whether a connection last heard from at `last_heard` counts as dead at `now` (milliseconds).
pub fn is_silent(now: f64, last_heard: f64) -> bool {
    now - last_heard > f64::from(CLIENT_SILENCE_TIMEOUT_MS)
}

/// The reconnection schedule: failures in a row, reset by a connection that stayed up a minute.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Backoff {
    failures: u32,
    opened_at: Option<f64>,
}

impl Backoff {
    /// A connection opened at `now` (milliseconds).
    pub fn opened(&mut self, now: f64) {
        self.opened_at = Some(now);
    }

    /// The delay before the next attempt after a connection ended (or failed) at `now`;
    /// `random_unit` in `[0, 1]` picks the point in the jitter window.
    pub fn next_delay_ms(&mut self, now: f64, random_unit: f64) -> u32 {
        if self
            .opened_at
            .take()
            .is_some_and(|opened| now - opened >= STABLE_MS)
        {
            self.failures = 0;
        }
        let delay = retry_delay_ms(self.failures, random_unit);
        self.failures = self.failures.saturating_add(1);
        delay
    }
}
