//! Which transport to use: WebSocket first, then Server-Sent Events, then polling, moving on only
//! when a transport keeps failing while the server itself answers.

use shared::Transport;

/// Failures in a row, with the server up, before falling back to the next transport.
pub const FALLBACK_AFTER: u32 = 2;

/// The transport to try after `transport` kept failing, if any.
pub fn fallback(transport: Transport) -> Option<Transport> {
    match transport {
        Transport::WebSocket => Some(Transport::Sse),
        Transport::Sse => Some(Transport::Polling),
        Transport::Polling => None,
    }
}

/// Which transport to use, and how often it failed in a row while the server was up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransportChoice {
    pub transport: Transport,
    failures: u32,
}

impl Default for TransportChoice {
    fn default() -> Self {
        Self {
            transport: Transport::WebSocket,
            failures: 0,
        }
    }
}

impl TransportChoice {
    /// The transport got through: its failure count starts again.
    pub fn succeeded(&mut self) {
        self.failures = 0;
    }

    /// The transport failed before getting through; `server_up` says whether `/healthz`
    /// answered (an outage is not the transport's fault). Returns the transport to fall back to,
    /// after [`FALLBACK_AFTER`] failures in a row.
    pub fn failed(&mut self, server_up: bool) -> Option<Transport> {
        if !server_up {
            return None;
        }
        self.failures += 1;
        if self.failures < FALLBACK_AFTER {
            return None;
        }
        let next = fallback(self.transport)?;
        *self = Self {
            transport: next,
            failures: 0,
        };
        Some(next)
    }

    /// A WebSocket got through again while on a fallback.
    pub fn upgrade(&mut self) {
        *self = Self::default();
    }
}
