//! The live feed: task events and the clock, kept alive and resumed without loss, over the best
//! transport that gets through.
//!
//! - The connection follows the board on screen (if any); its task events are applied to the
//!   [`Board`] once each (by `seq`); after a reconnect the client asks for `since` the last `seq`
//!   it applied, and reloads over REST when told to `resync`. When the server ends the
//!   subscription (access revoked, signed out), the page is told why.
//! - Five seconds without any message (the server ticks every second) means the connection is dead.
//! - Retries back off exponentially with full jitter (0.5 s doubling to 30 s), the backoff resets
//!   after a connection that stayed up a minute, and a retry happens at once when the browser comes
//!   back online, when the tab becomes visible, or when the user asks.
//! - A `ping` every few seconds measures the round trip.
//! - Fallback, like SignalR: a transport that fails [`FALLBACK_AFTER`] times in a row while the
//!   server is up (its `/healthz` answers, so this is not an outage) gives way to the next one,
//!   WebSocket → Server-Sent Events → REST polling. While on a fallback, a WebSocket probe every
//!   [`PROBE_EVERY_MS`] switches back as soon as a WebSocket gets through.

mod backoff;
pub mod channel;
mod fallback;

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use gloo_net::http::Request;
use gloo_timers::callback::{Interval, Timeout};
use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::{BoardId, ClientMsg, EndReason, ServerMsg, Transport};
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;

pub use backoff::{Backoff, is_silent, retry_delay_ms};
use channel::{Callbacks, Channel};
pub use fallback::{FALLBACK_AFTER, TransportChoice, fallback};

use crate::board::Board;

/// How often the client measures the round trip.
const PING_EVERY_MS: f64 = 5_000.0;
/// How often the watchdog looks at the connection.
const WATCHDOG_MS: u32 = 500;
/// How often a fallback connection checks whether a WebSocket gets through again.
pub const PROBE_EVERY_MS: f64 = 30_000.0;

/// Where the live connection stands, as the badge shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionState {
    /// First attempt, nothing received yet.
    Connecting,
    /// Open: messages are arriving.
    Live,
    /// Lost; a new attempt is scheduled.
    Reconnecting,
    /// The browser reports no network; waiting for it to return.
    Offline,
}

impl ConnectionState {
    /// Text for people.
    pub fn label(self) -> &'static str {
        match self {
            Self::Connecting => "connecting",
            Self::Live => "live",
            Self::Reconnecting => "reconnecting",
            Self::Offline => "offline",
        }
    }

    /// Suffix of the badge's CSS class.
    pub fn css_class(self) -> &'static str {
        self.label()
    }

    /// Whether a "retry now" makes sense.
    pub fn is_waiting(self) -> bool {
        matches!(self, Self::Reconnecting | Self::Offline)
    }
}

/// What the live connection exposes to the UI.
#[derive(Clone, Copy)]
pub struct LiveFeed {
    pub state: RwSignal<ConnectionState>,
    /// The transport in use (or being tried).
    pub transport: RwSignal<Transport>,
    /// The latest `tick` text, `None` before the first one.
    pub clock: RwSignal<Option<String>>,
    /// The last measured round trip, in milliseconds.
    pub rtt_ms: RwSignal<Option<u32>>,
    /// Seconds until the next attempt, while waiting to reconnect.
    pub retry_in_secs: RwSignal<Option<u32>>,
    /// Why the server stopped sending the board's events, if it did.
    pub ended: RwSignal<Option<EndReason>>,
    connection: StoredValue<Rc<RefCell<Connection>>, LocalStorage>,
}

impl LiveFeed {
    /// Reconnects now instead of waiting out the backoff.
    pub fn retry_now(&self) {
        self.connection.with_value(retry_now);
    }

    /// Follows `board` from now on (or no board): a new channel, and the board starts over.
    pub fn follow(&self, board: Option<BoardId>) {
        self.connection.with_value(|connection| {
            let old = {
                let mut state = connection.borrow_mut();
                if state.board_id == board {
                    return;
                }
                state.board_id = board;
                state.board.set(Board::default());
                state.signals.ended.set(None);
                if let Some(timer) = state.retry.take() {
                    timer.cancel();
                }
                state.channel.take()
            };
            drop(old);
            if board.is_some() {
                let reload = connection.borrow().reload.clone();
                reload();
            }
            open(connection);
        });
    }
}

struct Connection {
    signals: Signals,
    /// The board followed, if any.
    board_id: Option<BoardId>,
    board: RwSignal<Board>,
    /// Reloads the board over REST (after `resync`, or when the snapshot is too old).
    reload: Rc<dyn Fn()>,
    channel: Option<Channel>,
    choice: TransportChoice,
    /// Whether the current channel has said `hello` (it got through).
    greeted: bool,
    /// Whether the current channel asked for `since` (then `hello` needs no reload).
    resumed: bool,
    backoff: Backoff,
    last_heard: f64,
    last_ping: f64,
    retry: Option<Timeout>,
    retry_at: Option<f64>,
    probe: Option<Probe>,
    last_probe: f64,
    _watchdog: Option<Interval>,
}

/// A WebSocket opened only to learn whether WebSockets get through again.
struct Probe {
    _channel: Channel,
    /// `Some(true)` once it said `hello`, `Some(false)` once it failed.
    outcome: Rc<Cell<Option<bool>>>,
}

/// The signals a [`Connection`] writes (everything in [`LiveFeed`] but the handle).
#[derive(Clone, Copy)]
struct Signals {
    state: RwSignal<ConnectionState>,
    transport: RwSignal<Transport>,
    clock: RwSignal<Option<String>>,
    rtt_ms: RwSignal<Option<u32>>,
    retry_in_secs: RwSignal<Option<u32>>,
    ended: RwSignal<Option<EndReason>>,
}

/// Opens the live connection, following `board_id` (if any) and applying its task events to
/// `board`; `reload` refreshes the board over REST. The connection belongs to the calling
/// component and closes when it is unmounted.
pub fn connect(
    board_id: Option<BoardId>,
    board: RwSignal<Board>,
    reload: impl Fn() + 'static,
) -> LiveFeed {
    let signals = Signals {
        state: RwSignal::new(ConnectionState::Connecting),
        transport: RwSignal::new(Transport::WebSocket),
        clock: RwSignal::new(None),
        rtt_ms: RwSignal::new(None),
        retry_in_secs: RwSignal::new(None),
        ended: RwSignal::new(None),
    };
    let connection = Rc::new(RefCell::new(Connection {
        signals,
        board_id,
        board,
        reload: Rc::new(reload),
        channel: None,
        choice: TransportChoice::default(),
        greeted: false,
        resumed: false,
        backoff: Backoff::default(),
        last_heard: now(),
        last_ping: 0.0,
        retry: None,
        retry_at: None,
        probe: None,
        last_probe: 0.0,
        _watchdog: None,
    }));
    let watchdog = {
        let weak = Rc::downgrade(&connection);
        Interval::new(WATCHDOG_MS, move || {
            if let Some(connection) = weak.upgrade() {
                watch(&connection);
            }
        })
    };
    connection.borrow_mut()._watchdog = Some(watchdog);
    open(&connection);
    retry_on_window_event("online", Rc::downgrade(&connection));
    retry_on_window_event("visibilitychange", Rc::downgrade(&connection));
    LiveFeed {
        state: signals.state,
        transport: signals.transport,
        clock: signals.clock,
        rtt_ms: signals.rtt_ms,
        retry_in_secs: signals.retry_in_secs,
        ended: signals.ended,
        // Callbacks hold only weak references; this is the one strong reference.
        connection: StoredValue::new_local(connection),
    }
}

fn now() -> f64 {
    js_sys::Date::now()
}

/// Opens a channel of the current transport, resuming after the board's `seq`.
fn open(connection: &Rc<RefCell<Connection>>) {
    let (board_id, since, transport) = {
        let state = connection.borrow();
        (
            state.board_id,
            state.board.with_untracked(Board::resume_seq),
            state.choice.transport,
        )
    };
    let weak = Rc::downgrade(connection);
    let callbacks = Callbacks {
        opened: Rc::new({
            let weak = weak.clone();
            move || {
                if let Some(connection) = weak.upgrade() {
                    let mut connection = connection.borrow_mut();
                    connection.backoff.opened(now());
                    connection.last_heard = now();
                }
            }
        }),
        message: Rc::new({
            let weak = weak.clone();
            move |message| {
                if let Some(connection) = weak.upgrade() {
                    receive(&connection, message);
                }
            }
        }),
        closed: Rc::new(move || {
            if let Some(connection) = weak.upgrade() {
                closed(&connection);
            }
        }),
    };
    let Some(channel) = Channel::open(transport, board_id, since, None, callbacks) else {
        schedule_retry(connection);
        return;
    };
    let mut state = connection.borrow_mut();
    // Polling cannot resume: each reading's `seq` says whether the board must reload instead.
    state.resumed = since.is_some() && transport != Transport::Polling;
    state.greeted = false;
    state.last_heard = now();
    state.retry_at = None;
    state.signals.retry_in_secs.set(None);
    // Replacing the previous channel drops its callbacks; it is closed already, so none is running.
    state.channel = Some(channel);
}

fn receive(connection: &Rc<RefCell<Connection>>, message: ServerMsg) {
    let mut reload = false;
    {
        let mut state = connection.borrow_mut();
        state.last_heard = now();
        let signals = state.signals;
        match &message {
            ServerMsg::Hello { store, .. } => {
                signals.state.set(ConnectionState::Live);
                state.greeted = true;
                state.choice.succeeded();
                // Another store's seqs mean nothing here: start over from a fresh snapshot.
                let foreign = state
                    .board
                    .try_update(|b| b.from_store(store))
                    .unwrap_or(false);
                if foreign {
                    state.resumed = false;
                    reload = state.board_id.is_some();
                }
            }
            ServerMsg::Subscribed { board, seq } if Some(*board) == state.board_id => {
                signals.ended.set(None);
                // A fresh stream starts after `seq`: the board must be at least that recent.
                let stale = state.board.try_update(|b| b.require(*seq)).unwrap_or(false);
                reload = !state.resumed && stale;
            }
            ServerMsg::Unsubscribed { board, reason } if Some(*board) == state.board_id => {
                if *reason != EndReason::Requested {
                    signals.ended.set(Some(*reason));
                }
            }
            ServerMsg::Subscribed { .. } | ServerMsg::Unsubscribed { .. } => {}
            ServerMsg::Tick { text, .. } => {
                if signals.clock.with_untracked(Option::is_none) {
                    mark_first_tick();
                }
                signals.clock.set(Some(text.clone()));
            }
            ServerMsg::TaskCreated { .. }
            | ServerMsg::TaskUpdated { .. }
            | ServerMsg::TaskDeleted { .. } => {
                if message.seq().map(|(board, _)| board) == state.board_id {
                    state.board.update(|b| {
                        b.apply(&message);
                    });
                }
            }
            ServerMsg::Resync { .. } => reload = true,
            ServerMsg::Pong { client_time_ms, .. } => {
                let rtt = (now() - *client_time_ms as f64).max(0.0);
                signals.rtt_ms.set(Some(rtt.round() as u32));
            }
        }
    }
    if reload {
        let reload = connection.borrow().reload.clone();
        reload();
    }
}

/// The channel failed or ended. One that never got through while the server is up counts towards
/// falling back; an outage (no `/healthz` either) does not.
fn closed(connection: &Rc<RefCell<Connection>>) {
    let fresh_failure = {
        let state = connection.borrow();
        if let Some(channel) = &state.channel {
            // Not dropped here: this runs inside the channel's own callback.
            channel.stop();
        }
        !state.greeted && fallback(state.choice.transport).is_some()
    };
    if !fresh_failure {
        schedule_retry(connection);
        return;
    }
    let weak = Rc::downgrade(connection);
    spawn_local(async move {
        let server_up = matches!(
            Request::get(shared::HEALTH_PATH).send().await,
            Ok(response) if response.ok()
        );
        if let Some(connection) = weak.upgrade() {
            let mut state = connection.borrow_mut();
            if let Some(next) = state.choice.failed(server_up) {
                state.signals.transport.set(next);
                // The new transport starts with short waits of its own.
                state.backoff = Backoff::default();
                state.last_probe = now();
            }
            drop(state);
            schedule_retry(&connection);
        }
    });
}

/// Runs every [`WATCHDOG_MS`]: declares a silent connection dead, pings, updates the countdown,
/// and probes for a WebSocket while on a fallback.
fn watch(connection: &Rc<RefCell<Connection>>) {
    let now = now();
    probe_for_websocket(connection, now);
    let mut state = connection.borrow_mut();
    if let Some(retry_at) = state.retry_at {
        let secs = ((retry_at - now) / 1000.0).ceil().max(0.0) as u32;
        state.signals.retry_in_secs.set(Some(secs));
    }
    if state.retry.is_some() {
        return;
    }
    let Some(usable) = state.channel.as_ref().map(Channel::is_usable) else {
        return;
    };
    if usable && is_silent(now, state.last_heard) {
        drop(state);
        lost(connection);
    } else if usable && now - state.last_ping >= PING_EVERY_MS {
        state.last_ping = now;
        if let Some(channel) = &state.channel {
            channel.send(&ClientMsg::Ping {
                client_time_ms: now as i64,
            });
        }
    }
}

/// While on a fallback: opens a WebSocket now and then; once one says `hello`, switches to it.
fn probe_for_websocket(connection: &Rc<RefCell<Connection>>, now: f64) {
    let mut state = connection.borrow_mut();
    if state.choice.transport == Transport::WebSocket {
        state.probe = None;
        return;
    }
    match state.probe.as_ref().map(|probe| probe.outcome.get()) {
        Some(Some(true)) => {
            state.probe = None;
            state.choice.upgrade();
            state.signals.transport.set(Transport::WebSocket);
            let old = state.channel.take();
            drop(state);
            // Called from the watchdog, not from the old channel: dropping it here is safe.
            drop(old);
            open(connection);
        }
        Some(Some(false)) => state.probe = None,
        Some(None) => {}
        None if now - state.last_probe >= PROBE_EVERY_MS => {
            state.last_probe = now;
            let outcome = Rc::new(Cell::new(None));
            let callbacks = Callbacks {
                opened: Rc::new(|| {}),
                message: Rc::new({
                    let outcome = outcome.clone();
                    move |message| {
                        if matches!(message, ServerMsg::Hello { .. }) {
                            outcome.set(Some(true));
                        }
                    }
                }),
                closed: Rc::new({
                    let outcome = outcome.clone();
                    move || {
                        if outcome.get().is_none() {
                            outcome.set(Some(false));
                        }
                    }
                }),
            };
            state.probe =
                Channel::open(Transport::WebSocket, None, None, None, callbacks).map(|channel| {
                    Probe {
                        _channel: channel,
                        outcome,
                    }
                });
        }
        None => {}
    }
}

/// Gives up on the current channel (it went silent) and schedules the next attempt.
fn lost(connection: &Rc<RefCell<Connection>>) {
    let channel = connection.borrow_mut().channel.take();
    drop(channel);
    schedule_retry(connection);
}

fn schedule_retry(connection: &Rc<RefCell<Connection>>) {
    let mut state = connection.borrow_mut();
    if state.retry.is_some() {
        return;
    }
    let now = now();
    let online = window().navigator().on_line();
    state.signals.state.set(if online {
        ConnectionState::Reconnecting
    } else {
        ConnectionState::Offline
    });
    let delay = state.backoff.next_delay_ms(now, js_sys::Math::random());
    state.retry_at = Some(now + f64::from(delay));
    state.signals.retry_in_secs.set(Some(delay.div_ceil(1000)));
    let weak = Rc::downgrade(connection);
    state.retry = Some(Timeout::new(delay, move || {
        if let Some(connection) = weak.upgrade() {
            // This timer has fired: release it without cancelling (it is running right now).
            if let Some(fired) = connection.borrow_mut().retry.take() {
                fired.forget();
            }
            open(&connection);
        }
    }));
}

/// Opens a new channel now if the connection is waiting to retry.
fn retry_now(connection: &Rc<RefCell<Connection>>) {
    let waiting = connection.borrow_mut().retry.take();
    if let Some(timer) = waiting {
        timer.cancel();
        open(connection);
    }
}

/// Retries at once on `event` (`online`, or `visibilitychange` to visible).
fn retry_on_window_event(event: &str, weak: Weak<RefCell<Connection>>) {
    let listener = Closure::<dyn FnMut()>::new(move || {
        let visible = document().visibility_state() == web_sys::VisibilityState::Visible;
        if let (Some(connection), true) = (weak.upgrade(), visible) {
            retry_now(&connection);
        }
    });
    let target: web_sys::EventTarget = if event == "visibilitychange" {
        document().into()
    } else {
        window().into()
    };
    let _ = target.add_event_listener_with_callback(event, listener.as_ref().unchecked_ref());
    // The listener lives as long as the page.
    listener.forget();
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.channel.take();
        self.probe.take();
    }
}

/// Marks the moment the clock first shows a live time (again, after an outage) on the page's
/// performance timeline as `tasktick:first-tick`: the end-to-end suite reads the first one as the
/// page's load time to its first tick, and browser profilers show it.
fn mark_first_tick() {
    if let Some(performance) = web_sys::window().and_then(|w| w.performance()) {
        let _ = performance.mark("tasktick:first-tick");
    }
}
