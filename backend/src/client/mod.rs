//! Console clients, like the original article's console app: `watch` streams the clock over the
//! WebSocket; `add`, `list`, `done`, `edit` and `rm` work on tasks over REST, as the account
//! `login` signed in (if any).

pub mod login;
pub mod rest;
pub mod tasks;
pub mod watch;
