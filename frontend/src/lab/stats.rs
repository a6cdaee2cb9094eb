//! What the lab measures in the page for one transport, and how the numbers are written. Pure
//! functions of their inputs, so they are tested without a server.

use std::collections::VecDeque;

use shared::LaneReport;
use wasm_bindgen::JsCast;

/// Latencies and staleness samples kept (the newest); older ones fall out of the percentiles.
const WINDOW: usize = 600;
/// The server ticks once a second: a shown tick is outdated once it is older than this.
const TICK_MS: f64 = 1_000.0;

/// One lane's observations since the run started.
#[derive(Debug, Clone, Default)]
pub struct LaneStats {
    started_ms: f64,
    /// Messages (push) or answers (polling) that reached the page.
    pub messages: u64,
    /// New ticks rendered.
    pub updates: u64,
    /// The newest tick shown: its server time and text.
    pub shown: Option<(i64, String)>,
    latencies: VecDeque<f64>,
    staleness: VecDeque<f64>,
}

/// The figures the lab shows for one lane; `None` until there is something to divide by.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Figures {
    pub bytes_out_per_update: Option<f64>,
    pub bytes_in_per_update: Option<f64>,
    pub messages_per_min: Option<f64>,
    pub requests_per_min: Option<f64>,
    pub latency_p50_ms: Option<f64>,
    pub latency_p95_ms: Option<f64>,
    pub worst_staleness_ms: Option<f64>,
}

impl LaneStats {
    /// A lane started at `now` (browser milliseconds).
    pub fn new(now: f64) -> Self {
        Self {
            started_ms: now,
            ..Self::default()
        }
    }

    /// A message or answer arrived.
    pub fn message(&mut self) {
        self.messages += 1;
    }

    /// A tick arrived and was rendered at `now`; returns whether it was new (a repeated reading
    /// is not an update).
    pub fn tick(&mut self, server_time_ms: i64, text: String, now: f64) -> bool {
        if self
            .shown
            .as_ref()
            .is_some_and(|(shown, _)| *shown >= server_time_ms)
        {
            return false;
        }
        self.updates += 1;
        push(&mut self.latencies, (now - server_time_ms as f64).max(0.0));
        self.shown = Some((server_time_ms, text));
        true
    }

    /// Samples, at `now`, how long the shown tick has been outdated (0 while it is the latest).
    pub fn sample_staleness(&mut self, now: f64) {
        if let Some((shown, _)) = &self.shown {
            push(
                &mut self.staleness,
                (now - *shown as f64 - TICK_MS).max(0.0),
            );
        }
    }

    /// The figures at `now`, with the server's byte counts for this lane.
    pub fn figures(&self, wire: LaneReport, now: f64) -> Figures {
        let minutes = (now - self.started_ms) / 60_000.0;
        // No request counted yet means the server's report has not arrived: no figure rather than 0.
        let counted = wire.requests > 0;
        let per_update =
            |bytes: u64| (counted && self.updates > 0).then(|| bytes as f64 / self.updates as f64);
        let per_minute = |count: u64| (minutes > 0.0 && count > 0).then(|| count as f64 / minutes);
        let latencies = Sorted::of(&self.latencies);
        Figures {
            bytes_out_per_update: per_update(wire.bytes_out),
            bytes_in_per_update: per_update(wire.bytes_in),
            messages_per_min: per_minute(self.messages),
            requests_per_min: per_minute(wire.requests),
            latency_p50_ms: latencies.as_ref().map(|l| l.quantile(0.50)),
            latency_p95_ms: latencies.as_ref().map(|l| l.quantile(0.95)),
            worst_staleness_ms: self.staleness.iter().copied().reduce(f64::max),
        }
    }
}

fn push(window: &mut VecDeque<f64>, value: f64) {
    if window.len() == WINDOW {
        window.pop_front();
    }
    window.push_back(value);
}

/// The `p` quantile (0 to 1) by the nearest-rank method; `None` for no samples.
pub fn percentile(samples: &VecDeque<f64>, p: f64) -> Option<f64> {
    Some(Sorted::of(samples)?.quantile(p))
}

/// Samples sorted once, for several quantiles. (The browser sorts: a typed array's numeric sort
/// costs no WASM, Rust's slice sort a few kilobytes.)
struct Sorted(js_sys::Float64Array);

impl Sorted {
    /// `None` for no samples.
    fn of(samples: &VecDeque<f64>) -> Option<Self> {
        if samples.is_empty() {
            return None;
        }
        let (front, back) = samples.as_slices();
        let sorted = js_sys::Float64Array::new_with_length(samples.len() as u32);
        sorted.subarray(0, front.len() as u32).copy_from(front);
        sorted
            .subarray(front.len() as u32, samples.len() as u32)
            .copy_from(back);
        // `TypedArray.prototype.sort` (numeric), which js-sys does not bind.
        let sort: js_sys::Function = js_sys::Reflect::get(&sorted, &"sort".into())
            .ok()?
            .dyn_into()
            .ok()?;
        sort.call0(&sorted).ok()?;
        Some(Self(sorted))
    }

    /// The `p` quantile by the nearest-rank method.
    fn quantile(&self, p: f64) -> f64 {
        let len = self.0.length();
        let rank = (p.clamp(0.0, 1.0) * f64::from(len)).ceil() as u32;
        self.0.get_index(rank.clamp(1, len) - 1)
    }
}

/// `value` with `digits` decimals, written by the browser: Rust's float formatting would add tens
/// of kilobytes to the bundle for the same result.
pub fn fixed(value: f64, digits: u8) -> String {
    js_sys::Number::from(value)
        .to_fixed(digits)
        .map(String::from)
        .unwrap_or_default()
}

/// Bytes for people: `312 B`, `1.5 KB`, `2.25 MB` (1 KB = 1000 B, as on the wire).
pub fn format_bytes(bytes: f64) -> String {
    if bytes < 1_000.0 {
        fixed(bytes, 0) + " B"
    } else if bytes < 1_000_000.0 {
        fixed(bytes / 1_000.0, 1) + " KB"
    } else {
        fixed(bytes / 1_000_000.0, 2) + " MB"
    }
}

/// Milliseconds for people: `12 ms`, `1.25 s`, `2 s`.
pub fn format_ms(ms: f64) -> String {
    if ms < 1_000.0 {
        fixed(ms, 0) + " ms"
    } else {
        let seconds = fixed(ms / 1_000.0, 2);
        seconds
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_owned()
            + " s"
    }
}

/// A rate for people: `60 /min`, `7.5 /min` (one decimal below ten).
pub fn format_rate(per_minute: f64) -> String {
    if per_minute < 10.0 {
        fixed(per_minute, 1) + " /min"
    } else {
        fixed(per_minute, 0) + " /min"
    }
}
