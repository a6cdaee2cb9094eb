//! The transport lab at `/lab`: the server clock delivered three ways at once (WebSocket push,
//! Server-Sent Events, REST polling with `If-None-Match`), measured side by side.
//!
//! The page counts what arrives and when; the server counts the bytes on its sockets for each
//! lane (`GET /api/lab/runs/{run}`), so headers and frame overhead are included as they really are.

pub mod markup;
pub mod stats;

use std::rc::Rc;

use gloo_timers::callback::Interval;
use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::{LabReport, ServerMsg, Transport};

use crate::live::channel::{Callbacks, Channel, Delivery, PollChannel};
use markup::css_name;
use stats::{Figures, LaneStats, format_bytes, format_ms, format_rate};

/// Polling intervals the user can pick, in milliseconds.
const POLL_CHOICES: [u32; 5] = [250, 500, 1_000, 2_000, 5_000];
const DEFAULT_POLL_MS: u32 = 1_000;
/// How often the page refreshes the figures and samples staleness.
const REFRESH_MS: u32 = 500;
/// How often the server's byte counts are fetched (not counted in any lane).
const REPORT_EVERY_MS: u32 = 1_000;

/// The figures the lab shows, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    BytesOut,
    BytesIn,
    Messages,
    Requests,
    LatencyP50,
    LatencyP95,
    Staleness,
}

impl Metric {
    pub const ALL: [Self; 7] = [
        Self::BytesOut,
        Self::BytesIn,
        Self::Messages,
        Self::Requests,
        Self::LatencyP50,
        Self::LatencyP95,
        Self::Staleness,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Self::BytesOut => "Bytes per update, server → browser",
            Self::BytesIn => "Bytes per update, browser → server",
            Self::Messages => "Messages received per minute",
            Self::Requests => "HTTP requests per minute",
            Self::LatencyP50 => "Latency, tick to render (median)",
            Self::LatencyP95 => "Latency, tick to render (95th percentile)",
            Self::Staleness => "Worst staleness (time showing an outdated tick)",
        }
    }

    /// The `data-metric` name (stable, for tests and scripts).
    pub fn key(self) -> &'static str {
        match self {
            Self::BytesOut => "bytes_out_per_update",
            Self::BytesIn => "bytes_in_per_update",
            Self::Messages => "messages_per_min",
            Self::Requests => "requests_per_min",
            Self::LatencyP50 => "latency_p50_ms",
            Self::LatencyP95 => "latency_p95_ms",
            Self::Staleness => "worst_staleness_ms",
        }
    }

    pub fn pick(self, figures: &Figures) -> Option<f64> {
        match self {
            Self::BytesOut => figures.bytes_out_per_update,
            Self::BytesIn => figures.bytes_in_per_update,
            Self::Messages => figures.messages_per_min,
            Self::Requests => figures.requests_per_min,
            Self::LatencyP50 => figures.latency_p50_ms,
            Self::LatencyP95 => figures.latency_p95_ms,
            Self::Staleness => figures.worst_staleness_ms,
        }
    }

    pub fn format(self) -> fn(f64) -> String {
        match self {
            Self::BytesOut | Self::BytesIn => format_bytes,
            Self::Messages | Self::Requests => format_rate,
            Self::LatencyP50 | Self::LatencyP95 | Self::Staleness => format_ms,
        }
    }
}

/// Why the numbers differ, in the article's terms but from the measured figures (in
/// [`Transport::ALL`] order); `None` until every lane has the figures it needs.
pub fn explanation(figures: &[Figures; 3], poll_ms: u32) -> Option<String> {
    let [ws, sse, poll] = figures;
    let ws_out = ws.bytes_out_per_update?;
    let sse_out = sse.bytes_out_per_update?;
    let poll_out = poll.bytes_out_per_update?;
    let poll_in = poll.bytes_in_per_update?;
    let ws_in = ws.bytes_in_per_update?;
    let ws_p50 = ws.latency_p50_ms?;
    let poll_p50 = poll.latency_p50_ms?;
    let poll_stale = poll.worst_staleness_ms?;
    let ws_stale = ws.worst_staleness_ms?;
    let ratio = poll_out / ws_out.max(1.0);
    Some(format!(
        "Polling cost {} down and {} up per update, against {} and {} for WebSocket push: {}× \
         the downstream bytes. Every poll is a complete, stateless HTTP exchange: request line, \
         headers and a response head each time, even when the answer is a bodiless 304. The \
         WebSocket paid for its HTTP handshake once; after that each update is a small JSON \
         text with a 2-byte frame header on a connection that stays open, so its per-update cost \
         keeps falling the longer it runs. Server-Sent Events ({} per update) sit in between: \
         one HTTP response that never ends, each event framed by `data:` and a chunk header. \
         Push also wins on freshness: WebSocket updates rendered {} after the server's tick \
         (median), and the shown time was never more than {} out of date; polling every {} \
         rendered at {} and showed an outdated time for up to {}. The article's conclusion, \
         measured: REST's request/response suits resources that are read and changed on demand \
         (and it caches: a poll that finds nothing new gets a bodiless 304), while a \
         persistent connection suits a feed that changes by itself.",
        format_bytes(poll_out),
        format_bytes(poll_in),
        format_bytes(ws_out),
        format_bytes(ws_in),
        stats::fixed(ratio, 1),
        format_bytes(sse_out),
        format_ms(ws_p50),
        format_ms(ws_stale),
        format_ms(f64::from(poll_ms)),
        format_ms(poll_p50),
        format_ms(poll_stale),
    ))
}

/// A fresh run name for the server's meters.
fn new_run_name() -> String {
    let random = (js_sys::Math::random() * 1e15) as u64;
    format!("lab-{random:x}")
}

/// Everything the lab page shows, in one signal (one reactive type keeps the bundle small).
#[derive(Debug, Clone, Default)]
struct LabState {
    run: String,
    poll_ms: u32,
    started: f64,
    now: f64,
    /// The server's byte counts for `run`.
    report: LabReport,
    lanes: [LaneStats; 3],
    /// Lanes whose connection ended.
    closed: [bool; 3],
}

impl LabState {
    /// A new run at `now`, polling every `poll_ms`.
    fn begin(poll_ms: u32, now: f64) -> Self {
        Self {
            run: new_run_name(),
            poll_ms,
            started: now,
            now,
            lanes: [0, 1, 2].map(|_| LaneStats::new(now)),
            ..Self::default()
        }
    }

    fn figures(&self) -> [Figures; 3] {
        let lane = |i: usize| self.lanes[i].figures(self.report.lane(Transport::ALL[i]), self.now);
        [lane(0), lane(1), lane(2)]
    }
}

/// Opens lane `i` of the current run, feeding `state`.
fn open_lane(state: RwSignal<LabState>, i: usize) -> Option<Channel> {
    let transport = Transport::ALL[i];
    let polling = transport == Transport::Polling;
    let (run, poll_ms) = state.with_untracked(|s| (s.run.clone(), s.poll_ms));
    let callbacks = Callbacks {
        opened: Rc::new(|| {}),
        delivered: Rc::new(move |delivery| {
            let now = js_sys::Date::now();
            state.try_update(|s| {
                let lane = &mut s.lanes[i];
                // Every message, and every poll answer, counts once.
                lane.message();
                let tick = match delivery {
                    Delivery::Message(ServerMsg::Tick {
                        server_time_ms,
                        text,
                    }) => Some((server_time_ms, text)),
                    Delivery::Polled(polled) => polled
                        .reading
                        .map(|reading| (reading.server_time_ms, reading.text)),
                    Delivery::Message(_) => None,
                };
                if let Some((server_time_ms, text)) = tick {
                    lane.tick(server_time_ms, text, now);
                }
            });
        }),
        closed: Rc::new(move || {
            state.try_update(|s| s.closed[i] = true);
        }),
    };
    if polling {
        return Some(Channel::Polling(PollChannel::every(
            poll_ms,
            None,
            Some(&run),
            callbacks,
        )));
    }
    Channel::open(transport, None, None, Some(&run), callbacks)
}

/// The lab page.
#[component]
pub fn LabView() -> impl IntoView {
    // `start` below begins the first run.
    let state = RwSignal::new(LabState::default());
    let channels = StoredValue::new_local(Vec::<Channel>::new());
    // A new run with new lanes; replacing the old channels closes them.
    let start = move |poll_ms: u32| {
        state.set(LabState::begin(poll_ms, js_sys::Date::now()));
        channels.set_value((0..3).filter_map(|i| open_lane(state, i)).collect());
    };
    start(DEFAULT_POLL_MS);
    let restart = move || start(state.with_untracked(|s| s.poll_ms));

    let refresh = Interval::new(REFRESH_MS, move || {
        let at = js_sys::Date::now();
        state.try_update(|s| {
            s.now = at;
            s.lanes
                .iter_mut()
                .for_each(|lane| lane.sample_staleness(at));
        });
    });
    let fetch_report = Interval::new(REPORT_EVERY_MS, move || {
        let Some(name) = state.try_with_untracked(|s| s.run.clone()) else {
            return;
        };
        spawn_local(async move {
            if let Ok(counted) = crate::api::lab_report(&name).await {
                // Unless a new run began meanwhile.
                state.try_update(|s| {
                    if s.run == name {
                        s.report = counted;
                    }
                });
            }
        });
    });
    // Owned by this view: the timers and the lanes stop when the page leaves the lab.
    StoredValue::new_local((refresh, fetch_report));

    let elapsed = move || state.with(|s| ((s.now - s.started) / 1000.0).max(0.0).floor() as u64);
    // Computed once per change, for the table, the charts and the explanation.
    let figures = Memo::new(move |_| state.with(LabState::figures));

    view! {
        <section class="card lab" aria-labelledby="lab-heading">
            <h2 id="lab-heading">"Transport lab"</h2>
            <p class="lab-intro">
                "The server clock (one update a second) arrives here three ways at once: pushed over a "
                "WebSocket, pushed as Server-Sent Events, and polled over REST with a conditional GET. "
                "The server counts the bytes on each lane's sockets; this page counts messages, "
                "latency and staleness."
            </p>
            <div class="lab-controls">
                <label>
                    "Polling interval "
                    <select on:change=move |event| {
                        if let Ok(ms) = event_target_value(&event).parse() {
                            start(ms);
                        }
                    }>
                        {POLL_CHOICES
                            .into_iter()
                            .map(|ms| {
                                view! {
                                    <option value=ms.to_string() selected=ms == DEFAULT_POLL_MS>
                                        {format_ms(f64::from(ms))}
                                    </option>
                                }
                            })
                            .collect_view()}
                    </select>
                </label>
                <button type="button" class="secondary" on:click=move |_| restart()>
                    "Restart"
                </button>
                <p class="lab-elapsed" aria-live="off">{move || format!("running for {} s", elapsed())}</p>
            </div>
            <ul class="lab-lanes">
                {Transport::ALL
                    .into_iter()
                    .enumerate()
                    .map(|(i, transport)| {
                        view! {
                            <li class=format!("lab-lane lane-{}", css_name(transport))>
                                <h3>{transport.label()}</h3>
                                <p class="lab-clock" data-lane=css_name(transport)>
                                    {move || {
                                        state
                                            .with(|s| s.lanes[i].shown.as_ref().map(|(_, text)| text.clone()))
                                            .unwrap_or_else(|| "waiting…".to_owned())
                                    }}
                                </p>
                                <p class="lab-closed" hidden=move || !state.with(|s| s.closed[i])>
                                    "This lane's connection ended; press Restart."
                                </p>
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
            <div class="table-scroll" inner_html=move || figures.with(markup::table)></div>
            <div class="lab-charts" inner_html=move || figures.with(markup::charts)></div>
            <div class="lab-explanation">
                <h3>"Why they differ"</h3>
                <p>
                    {move || {
                        let poll_ms = state.with(|s| s.poll_ms);
                        figures
                            .with(|f| explanation(f, poll_ms))
                            .unwrap_or_else(|| "Collecting figures: every lane needs a few updates first.".to_owned())
                    }}
                </p>
            </div>
            <details class="lab-method">
                <summary>"What is counted, exactly"</summary>
                <p>
                    "Bytes are counted by the server on each lane's TCP connections: everything its "
                    "sockets read and wrote for the lane's requests. That includes HTTP request and "
                    "response heads and bodies, chunked-encoding framing, the WebSocket handshake, "
                    "WebSocket frame headers and masks, and the server's keep-alive pings and their "
                    "pongs. It excludes TCP/IP packet headers and TLS. Per update means divided by "
                    "the new ticks this page rendered on that lane. Messages are what reached this "
                    "page (events, or poll answers including 304s); requests are HTTP requests the "
                    "server received. Latency is the render time in this browser minus the tick's "
                    "server timestamp, so a skewed clock shifts all three lanes alike. Staleness is "
                    "how long a lane showed a time the server had already moved past."
                </p>
            </details>
        </section>
    }
}
