//! The transport lab's meters: for each lab run, one [`LaneMeter`] per transport, filled by the
//! connections that name the run (see [`crate::wire`]).
//!
//! Runs are named by browsers, so the registry is bounded: beyond [`MAX_RUNS`] the oldest run is
//! forgotten.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use shared::{LabReport, LabRun, LaneReport, Transport};

use crate::wire::{ConnectionWire, LaneMeter};

/// Most runs remembered at once.
pub const MAX_RUNS: usize = 1024;

/// Every lab run's meters.
#[derive(Debug, Default)]
pub struct LabRegistry {
    runs: Mutex<Runs>,
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
    /// Counts this request, and its connection from now on, in `run`'s lane for `transport`;
    /// nothing for a request outside the lab (no `run`). Without a counting connection (the app
    /// driven in-process) only the request is counted.
    pub fn count(&self, wire: Option<&ConnectionWire>, run: Option<&LabRun>, transport: Transport) {
        let Some(run) = run else {
            return;
        };
        let meter = self.meter(run, transport);
        match wire {
            Some(wire) => wire.0.attribute(meter, transport != Transport::Polling),
            None => {
                meter.requests.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// What `run` has cost so far (zeros for a run not seen yet).
    pub fn report(&self, run: &LabRun) -> LabReport {
        let runs = self.runs();
        let Some(meters) = runs.by_name.get(run) else {
            return LabReport::default();
        };
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
    fn each_transport_of_a_run_is_counted_apart() {
        let lab = LabRegistry::default();
        lab.count(None, Some(&run("a")), Transport::Polling);
        lab.count(None, Some(&run("a")), Transport::Polling);
        lab.count(None, Some(&run("a")), Transport::Sse);

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
            lab.count(None, Some(&run(&format!("r{n}"))), Transport::WebSocket);
        }
        assert_eq!(lab.runs().by_name.len(), MAX_RUNS);
        assert_eq!(lab.report(&run("r0")), LabReport::default());
        assert_eq!(
            lab.report(&run(&format!("r{MAX_RUNS}"))).websocket.requests,
            1
        );
    }
}
