//! Console clients, like the original article's console app: `watch` (WebSocket) and `add` (REST).

pub mod add;
pub mod watch;
