//! How many connections the server takes, derived from how many files the process may open.
//!
//! Every connection is a file descriptor, and so is every database connection, the listener and
//! each static file being sent. A server that accepts sockets until `accept` fails with "too many
//! open files" can then neither answer anyone nor reach its database. So at start the soft limit
//! is raised to the hard one and read (and logged), and the connection caps are planned below it:
//! a reserve for the process and its database, and within the rest a reserve that WebSockets may
//! not take, so REST, probes and the page keep working when every live slot is used. One address
//! may hold only so many connections (a proxy named by `--trusted-proxy` is exempt: it carries
//! everyone), so one client cannot take the whole server either.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Descriptors kept for the process itself: listener, epoll, log, files being served.
pub const PROCESS_RESERVE: u64 = 64;
/// Descriptors kept for the database (the PostgreSQL pool and listener, or SQLite's files).
pub const DATABASE_RESERVE: u64 = 48;
/// Connections WebSockets may not take, for REST requests, probes and page loads.
pub const REST_RESERVE: usize = 256;

/// The planned caps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// The process's open-file limit the plan is based on.
    pub open_files: u64,
    /// Connections of any kind open at once.
    pub total: usize,
    /// WebSocket connections (and event streams) open at once.
    pub live: usize,
    /// Connections from one client address.
    pub per_address: usize,
}

impl ConnectionLimits {
    /// Plans the caps under `open_files`; `max_live` (`--max-connections`) can only lower them.
    pub fn plan(open_files: u64, max_live: usize, per_address: usize) -> Self {
        let total = open_files.saturating_sub(PROCESS_RESERVE + DATABASE_RESERVE);
        let total = usize::try_from(total).unwrap_or(usize::MAX);
        Self {
            open_files,
            total,
            live: max_live.min(total.saturating_sub(REST_RESERVE)),
            per_address: per_address.min(total),
        }
    }
}

/// Raises the soft open-file limit to the hard one and returns it.
pub fn open_file_limit() -> u64 {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => limit,
        Err(error) => {
            tracing::warn!(%error, "cannot read the open-file limit; assuming 1024");
            1024
        }
    }
}

/// Counts open connections, in total and per address, and admits new ones within the caps.
#[derive(Clone)]
pub struct Admission {
    inner: Arc<Counts>,
}

struct Counts {
    limits: ConnectionLimits,
    exempt: Vec<IpAddr>,
    open: AtomicUsize,
    by_address: Mutex<HashMap<IpAddr, usize>>,
}

/// Why a connection was turned away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The server holds as many connections as it can.
    Full,
    /// This address holds its share.
    AddressFull,
}

/// An admitted connection's place; dropping it (with the socket) frees the place.
pub struct Slot {
    counts: Arc<Counts>,
    address: Option<IpAddr>,
}

impl Admission {
    pub fn new(limits: ConnectionLimits, exempt: Vec<IpAddr>) -> Self {
        Self {
            inner: Arc::new(Counts {
                limits,
                exempt,
                open: AtomicUsize::new(0),
                by_address: Mutex::default(),
            }),
        }
    }

    /// A place for a connection from `address`, if the caps allow one.
    pub fn admit(&self, address: IpAddr) -> Result<Slot, Refusal> {
        let counts = &self.inner;
        if counts.open.fetch_add(1, Ordering::AcqRel) >= counts.limits.total {
            counts.open.fetch_sub(1, Ordering::AcqRel);
            return Err(Refusal::Full);
        }
        let mut slot = Slot {
            counts: counts.clone(),
            address: None,
        };
        if !counts.exempt.contains(&address) {
            let mut by_address = counts.lock();
            let held = by_address.entry(address).or_default();
            if *held >= counts.limits.per_address {
                return Err(Refusal::AddressFull);
            }
            *held += 1;
            slot.address = Some(address);
        }
        Ok(slot)
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.inner.open.load(Ordering::Acquire)
    }
}

impl Counts {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, usize>> {
        // A plain map of counters: a panic elsewhere cannot leave it half-written.
        self.by_address
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.counts.open.fetch_sub(1, Ordering::AcqRel);
        if let Some(address) = self.address {
            let mut by_address = self.counts.lock();
            if let Some(held) = by_address.get_mut(&address) {
                *held -= 1;
                if *held == 0 {
                    by_address.remove(&address);
                }
            }
        }
    }
}

impl std::fmt::Debug for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slot")
            .field("address", &self.address)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_keeps_reserves_for_the_process_the_database_and_rest() {
        let limits = ConnectionLimits::plan(20_000, 100_000, 1_000);
        assert_eq!(limits.total, 20_000 - 112);
        assert_eq!(limits.live, 20_000 - 112 - 256);
        assert_eq!(limits.per_address, 1_000);
        assert_eq!(ConnectionLimits::plan(20_000, 500, 1_000).live, 500);
    }

    #[test]
    fn a_tiny_limit_leaves_no_room_for_websockets_rather_than_underflowing() {
        let limits = ConnectionLimits::plan(100, 100_000, 1_000);
        assert_eq!((limits.total, limits.live, limits.per_address), (0, 0, 0));
    }

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([127, 0, 0, last])
    }

    #[test]
    fn one_address_gets_its_share_and_others_still_get_in() {
        let limits = ConnectionLimits {
            open_files: 0,
            total: 4,
            live: 0,
            per_address: 2,
        };
        let admission = Admission::new(limits, vec![ip(9)]);
        let first = admission.admit(ip(1)).unwrap();
        let _second = admission.admit(ip(1)).unwrap();
        assert_eq!(admission.admit(ip(1)).unwrap_err(), Refusal::AddressFull);
        let _other = admission.admit(ip(2)).unwrap();
        let _proxy = admission.admit(ip(9)).unwrap();
        assert_eq!(admission.admit(ip(3)).unwrap_err(), Refusal::Full);
        assert_eq!(admission.open(), 4);

        drop(first);
        assert_eq!(admission.open(), 3);
        assert!(
            admission.admit(ip(1)).is_ok(),
            "a closed connection frees its place"
        );
    }
}
