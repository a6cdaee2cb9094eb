//! The live feed: the browser's native WebSocket to `/ws`, kept alive and resumed without loss.
//!
//! - Task events are applied to the [`Board`] once each (by `seq`); after a reconnect the client
//!   asks for `?since=` the last `seq` it applied, and reloads over REST when told to `resync`.
//! - Five seconds without any message (the server ticks every second) means the connection is dead.
//! - Retries back off exponentially with full jitter (0.5 s doubling to 30 s), the backoff resets
//!   after a connection that stayed up a minute, and a retry happens at once when the browser comes
//!   back online, when the tab becomes visible, or when the user asks.
//! - A `ping` every few seconds measures the round trip.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use gloo_timers::callback::{Interval, Timeout};
use leptos::prelude::*;
use shared::ws::{CLIENT_SILENCE_TIMEOUT_MS, SINCE_PARAM};
use shared::{ClientMsg, ServerMsg};
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{CloseEvent, MessageEvent, WebSocket};

use crate::board::Board;

/// First retry delay, doubled after each failed attempt up to [`MAX_RETRY_MS`].
const FIRST_RETRY_MS: f64 = 500.0;
const MAX_RETRY_MS: f64 = 30_000.0;
/// A connection that stayed up this long resets the backoff.
const STABLE_MS: f64 = 60_000.0;
/// How often the client measures the round trip.
const PING_EVERY_MS: f64 = 5_000.0;
/// How often the watchdog looks at the connection.
const WATCHDOG_MS: u32 = 500;

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
    /// The latest `tick` text, `None` before the first one.
    pub clock: RwSignal<Option<String>>,
    /// The last measured round trip, in milliseconds.
    pub rtt_ms: RwSignal<Option<u32>>,
    /// Seconds until the next attempt, while waiting to reconnect.
    pub retry_in_secs: RwSignal<Option<u32>>,
    connection: StoredValue<Rc<RefCell<Connection>>, LocalStorage>,
}

impl LiveFeed {
    /// Reconnects now instead of waiting out the backoff.
    pub fn retry_now(&self) {
        self.connection.with_value(retry_now);
    }
}

/// An open socket and the callbacks it calls, dropped together.
struct Socket {
    socket: WebSocket,
    _on_open: Closure<dyn FnMut()>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
}

struct Connection {
    signals: Signals,
    board: RwSignal<Board>,
    /// Reloads the board over REST (after `resync`, or when the snapshot is too old).
    reload: Rc<dyn Fn()>,
    socket: Option<Socket>,
    /// Whether the current socket asked for `since` (then `hello` needs no reload).
    resumed: bool,
    backoff: Backoff,
    last_heard: f64,
    last_ping: f64,
    retry: Option<Timeout>,
    retry_at: Option<f64>,
    _watchdog: Option<Interval>,
}

/// The signals a [`Connection`] writes (everything in [`LiveFeed`] but the handle).
#[derive(Clone, Copy)]
struct Signals {
    state: RwSignal<ConnectionState>,
    clock: RwSignal<Option<String>>,
    rtt_ms: RwSignal<Option<u32>>,
    retry_in_secs: RwSignal<Option<u32>>,
}

/// Opens the live connection, applying task events to `board`; `reload` refreshes the board over
/// REST. The connection belongs to the calling component and closes when it is unmounted.
pub fn connect(board: RwSignal<Board>, reload: impl Fn() + 'static) -> LiveFeed {
    let signals = Signals {
        state: RwSignal::new(ConnectionState::Connecting),
        clock: RwSignal::new(None),
        rtt_ms: RwSignal::new(None),
        retry_in_secs: RwSignal::new(None),
    };
    let connection = Rc::new(RefCell::new(Connection {
        signals,
        board,
        reload: Rc::new(reload),
        socket: None,
        resumed: false,
        backoff: Backoff::default(),
        last_heard: now(),
        last_ping: 0.0,
        retry: None,
        retry_at: None,
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
        clock: signals.clock,
        rtt_ms: signals.rtt_ms,
        retry_in_secs: signals.retry_in_secs,
        // Callbacks hold only weak references; this is the one strong reference.
        connection: StoredValue::new_local(connection),
    }
}

fn now() -> f64 {
    js_sys::Date::now()
}

/// `ws://` or `wss://` to `/ws` on the page's own host (so it works behind `trunk serve` too),
/// with `since` when resuming.
fn socket_url(since: Option<i64>) -> String {
    let location = window().location();
    let scheme = match location.protocol().as_deref() {
        Ok("https:") => "wss",
        _ => "ws",
    };
    let host = location.host().unwrap_or_default();
    match since {
        Some(seq) => format!("{scheme}://{host}{}?{SINCE_PARAM}={seq}", shared::WS_PATH),
        None => format!("{scheme}://{host}{}", shared::WS_PATH),
    }
}

fn open(connection: &Rc<RefCell<Connection>>) {
    let since = connection.borrow().board.with_untracked(Board::resume_seq);
    let Ok(socket) = WebSocket::new(&socket_url(since)) else {
        schedule_retry(connection);
        return;
    };
    let weak = Rc::downgrade(connection);
    let on_open = Closure::<dyn FnMut()>::new({
        let weak = weak.clone();
        move || {
            if let Some(connection) = weak.upgrade() {
                let mut connection = connection.borrow_mut();
                connection.backoff.opened(now());
                connection.last_heard = now();
            }
        }
    });
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new({
        let weak = weak.clone();
        move |event: MessageEvent| {
            let (Some(connection), Some(text)) = (weak.upgrade(), event.data().as_string()) else {
                return;
            };
            if let Ok(message) = serde_json::from_str::<ServerMsg>(&text) {
                receive(&connection, message);
            }
        }
    });
    let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |_event: CloseEvent| {
        if let Some(connection) = weak.upgrade() {
            schedule_retry(&connection);
        }
    });
    socket.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    socket.set_onclose(Some(on_close.as_ref().unchecked_ref()));

    let mut state = connection.borrow_mut();
    state.resumed = since.is_some();
    state.last_heard = now();
    state.retry_at = None;
    state.signals.retry_in_secs.set(None);
    // Replacing the previous socket drops its callbacks; it is closed already, so none is running.
    state.socket = Some(Socket {
        socket,
        _on_open: on_open,
        _on_message: on_message,
        _on_close: on_close,
    });
}

fn receive(connection: &Rc<RefCell<Connection>>, message: ServerMsg) {
    let mut reload = false;
    {
        let mut state = connection.borrow_mut();
        state.last_heard = now();
        let signals = state.signals;
        match &message {
            ServerMsg::Hello { seq, .. } => {
                signals.state.set(ConnectionState::Live);
                // A fresh stream starts after `seq`: the board must be at least that recent.
                let resumed = state.resumed;
                let stale = state.board.try_update(|b| b.require(*seq)).unwrap_or(false);
                reload = !resumed && stale;
            }
            ServerMsg::Tick { text, .. } => signals.clock.set(Some(text.clone())),
            ServerMsg::TaskCreated { .. }
            | ServerMsg::TaskUpdated { .. }
            | ServerMsg::TaskDeleted { .. } => {
                state.board.update(|b| {
                    b.apply(&message);
                });
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

/// Runs every [`WATCHDOG_MS`]: declares a silent connection dead, pings, updates the countdown.
fn watch(connection: &Rc<RefCell<Connection>>) {
    let now = now();
    let mut state = connection.borrow_mut();
    if let Some(retry_at) = state.retry_at {
        let secs = ((retry_at - now) / 1000.0).ceil().max(0.0) as u32;
        state.signals.retry_in_secs.set(Some(secs));
    }
    let Some(ready_state) = state.socket.as_ref().map(|s| s.socket.ready_state()) else {
        return;
    };
    let silent = is_silent(now, state.last_heard);
    let usable = matches!(ready_state, WebSocket::OPEN | WebSocket::CONNECTING);
    if usable && silent {
        drop(state);
        lost(connection);
    } else if ready_state == WebSocket::OPEN && now - state.last_ping >= PING_EVERY_MS {
        state.last_ping = now;
        let ping = ClientMsg::Ping {
            client_time_ms: now as i64,
        };
        if let (Some(socket), Ok(text)) = (&state.socket, serde_json::to_string(&ping)) {
            let _ = socket.socket.send_with_str(&text);
        }
    }
}

/// Gives up on the current socket (it went silent) and schedules the next attempt.
fn lost(connection: &Rc<RefCell<Connection>>) {
    let socket = connection.borrow_mut().socket.take();
    drop(socket);
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

/// Whether a connection last heard from at `last_heard` counts as dead at `now` (milliseconds).
pub fn is_silent(now: f64, last_heard: f64) -> bool {
    now - last_heard > f64::from(CLIENT_SILENCE_TIMEOUT_MS)
}

/// The reconnection schedule: failures in a row, reset by a connection that stayed up a minute.
#[derive(Debug, Default, Clone)]
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

/// Exponential backoff with full jitter: a uniformly random delay up to 0.5 s × 2^failures, capped.
pub fn retry_delay_ms(failures: u32, random_unit: f64) -> u32 {
    let ceiling = (FIRST_RETRY_MS * 2f64.powi(failures.min(16) as i32)).min(MAX_RETRY_MS);
    (ceiling * random_unit.clamp(0.0, 1.0)) as u32
}

/// Opens a new socket now if the connection is waiting to retry.
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
        self.socket.take();
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        self.socket.set_onopen(None);
        self.socket.set_onmessage(None);
        self.socket.set_onclose(None);
        let _ = self.socket.close();
    }
}
