//! The transport lab's meters: for each lab run, one [`LaneMeter`] per transport, filled by the
//! connections that name the run (counted by the kernel, see [`crate::wire`]). One layer,
//! [`meter`], finds the lab's requests (`?lab=RUN` on the clock, the event stream or the
//! WebSocket) and attaches their sockets; the routes themselves know nothing of the lab, and every
//! other request passes through with one path comparison (and, outside lab runs, one atomic load).
//!
//! Runs are named by browsers, so the registry is bounded: beyond [`MAX_RUNS`] the oldest run is
//! forgotten.

use std::collections::HashMap;
use std::os::fd::RawFd;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use shared::{LabReport, LabRun, LaneReport, Transport};

use axum::extract::connect_info::ConnectInfo;
use axum::extract::{Query, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use serde::Deserialize;

use crate::AppState;
use crate::wire::{self, LaneMeter, Metered, Peer};

/// Most runs remembered at once.
pub const MAX_RUNS: usize = 1024;

/// Every lab run's meters.
#[derive(Debug, Default)]
pub struct LabRegistry {
    runs: Mutex<Runs>,
    /// The sockets whose bytes are counted now; the listener tells it when one closes.
    pub metered: Arc<Metered>,
}

#[derive(Debug, Default)]
struct Runs {
    by_name: HashMap<LabRun, RunMeters>,
    /// How many runs were ever created: each run's `number`, in order of arrival.
    created: u64,
}

#[derive(Debug)]
struct RunMeters {
    number: u64,
    lanes: [Arc<LaneMeter>; 3],
}

impl LabRegistry {
    /// Counts this request (its head of `head` bytes), and its socket from now on, in `run`'s lane
    /// for `transport`. Without a socket (the app driven in-process) only the request and its head
    /// are counted.
    pub fn count(&self, socket: Option<RawFd>, head: u64, run: &LabRun, transport: Transport) {
        let meter = self.meter(run, transport);
        match socket {
            Some(socket) => {
                self.metered
                    .attach(socket, meter, transport != Transport::Polling, head)
            }
            None => {
                meter.requests.fetch_add(1, Ordering::Relaxed);
                meter.bytes_in.fetch_add(head, Ordering::Relaxed);
            }
        }
    }

    /// What `run` has cost so far (zeros for a run not seen yet).
    pub fn report(&self, run: &LabRun) -> LabReport {
        let runs = self.runs();
        let Some(meters) = runs.by_name.get(run) else {
            return LabReport::default();
        };
        self.metered.settle(&meters.lanes);
        let lane = |transport: Transport| {
            let meter = &meters.lanes[index(transport)];
            LaneReport {
                bytes_in: meter.bytes_in.load(Ordering::Relaxed),
                bytes_out: meter.bytes_out.load(Ordering::Relaxed),
                requests: meter.requests.load(Ordering::Relaxed),
            }
        };
        LabReport {
            websocket: lane(Transport::WebSocket),
            sse: lane(Transport::Sse),
            polling: lane(Transport::Polling),
        }
    }

    fn meter(&self, run: &LabRun, transport: Transport) -> Arc<LaneMeter> {
        let mut runs = self.runs();
        let Runs { by_name, created } = &mut *runs;
        if !by_name.contains_key(run) && by_name.len() >= MAX_RUNS {
            let oldest = by_name
                .iter()
                .min_by_key(|(_, meters)| meters.number)
                .map(|(name, _)| name.clone());
            if let Some(oldest) = oldest {
                by_name.remove(&oldest);
            }
        }
        let meters = by_name.entry(run.clone()).or_insert_with(|| {
            *created += 1;
            RunMeters {
                number: *created,
                lanes: Default::default(),
            }
        });
        meters.lanes[index(transport)].clone()
    }

    fn runs(&self) -> std::sync::MutexGuard<'_, Runs> {
        // Only whole entries are ever inserted or removed: a poisoned map is still consistent.
        self.runs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The lab's part of a query; the route itself checks the whole query.
#[derive(Deserialize)]
struct LabQuery {
    lab: Option<LabRun>,
}

/// The transport a lab request measures, by its path.
fn transport_of(path: &str) -> Option<Transport> {
    match path {
        shared::WS_PATH => Some(Transport::WebSocket),
        shared::EVENTS_PATH => Some(Transport::Sse),
        shared::CLOCK_PATH => Some(Transport::Polling),
        _ => None,
    }
}

/// Middleware: ends the lab's count of the exchange before this one on the connection, and
/// counts a lab request, and its socket from then on, in its run's lane.
pub async fn meter(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let socket = request
        .extensions()
        .get::<ConnectInfo<Peer>>()
        .map(|ConnectInfo(peer)| peer.socket);
    if let Some(socket) = socket {
        state.lab.metered.request_began(socket);
    }
    let measured = transport_of(request.uri().path()).and_then(|transport| {
        let Query(query) = Query::<LabQuery>::try_from_uri(request.uri()).ok()?;
        Some((query.lab?, transport))
    });
    if let Some((run, transport)) = measured {
        state
            .lab
            .count(socket, wire::head_bytes(&request), &run, transport);
    }
    next.run(request).await
}

fn index(transport: Transport) -> usize {
    match transport {
        Transport::WebSocket => 0,
        Transport::Sse => 1,
        Transport::Polling => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(name: &str) -> LabRun {
        LabRun::parse(name).unwrap()
    }

    #[test]
    fn only_the_lab_s_transports_are_measured() {
        assert_eq!(transport_of("/ws"), Some(Transport::WebSocket));
        assert_eq!(transport_of("/api/events"), Some(Transport::Sse));
        assert_eq!(transport_of("/api/clock"), Some(Transport::Polling));
        assert_eq!(transport_of("/api/boards/1/tasks"), None);
    }

    #[test]
    fn each_transport_of_a_run_is_counted_apart() {
        let lab = LabRegistry::default();
        lab.count(None, 0, &run("a"), Transport::Polling);
        lab.count(None, 0, &run("a"), Transport::Polling);
        lab.count(None, 0, &run("a"), Transport::Sse);

        let report = lab.report(&run("a"));
        assert_eq!(report.polling.requests, 2);
        assert_eq!(report.sse.requests, 1);
        assert_eq!(report.websocket.requests, 0);
        assert_eq!(lab.report(&run("b")), LabReport::default());
    }

    #[test]
    fn the_oldest_run_is_forgotten_when_the_registry_is_full() {
        let lab = LabRegistry::default();
        for n in 0..=MAX_RUNS {
            lab.count(None, 0, &run(&format!("r{n}")), Transport::WebSocket);
        }
        assert_eq!(lab.runs().by_name.len(), MAX_RUNS);
        assert_eq!(lab.report(&run("r0")), LabReport::default());
        assert_eq!(
            lab.report(&run(&format!("r{MAX_RUNS}"))).websocket.requests,
            1
        );
    }
}
