//! The live feed: the browser's native WebSocket to `/ws`, reconnecting by itself.
//!
//! The connection state and the latest clock text are signals, so the UI just renders them. After a
//! lost connection it retries with exponential backoff and full jitter (so a restarted server is not
//! hit by every tab at once), and at once when the browser comes back online.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use gloo_timers::callback::Timeout;
use leptos::prelude::*;
use shared::ServerMsg;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{CloseEvent, MessageEvent, WebSocket};

/// First retry delay, doubled after each failed attempt up to [`MAX_RETRY_MS`].
const FIRST_RETRY_MS: f64 = 500.0;
const MAX_RETRY_MS: f64 = 30_000.0;

/// Where the live connection stands, as the badge shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionState {
    /// First attempt, nothing received yet.
    Connecting,
    /// Open: ticks are arriving.
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
}

/// What the live connection exposes to the UI.
#[derive(Debug, Clone, Copy)]
pub struct LiveFeed {
    pub state: RwSignal<ConnectionState>,
    /// The latest `tick` text, `None` before the first one.
    pub clock: RwSignal<Option<String>>,
}

/// An open socket and the callbacks it calls, dropped together.
struct Socket {
    socket: WebSocket,
    _on_open: Closure<dyn FnMut()>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
}

struct Connection {
    feed: LiveFeed,
    url: String,
    socket: Option<Socket>,
    failures: u32,
    retry: Option<Timeout>,
}

/// Opens the live connection and returns its signals. The connection belongs to the calling
/// component: it closes when that component is unmounted.
pub fn connect() -> LiveFeed {
    let feed = LiveFeed {
        state: RwSignal::new(ConnectionState::Connecting),
        clock: RwSignal::new(None),
    };
    let connection = Rc::new(RefCell::new(Connection {
        feed,
        url: socket_url(),
        socket: None,
        failures: 0,
        retry: None,
    }));
    open(&connection);
    reconnect_when_online(Rc::downgrade(&connection));
    // Callbacks hold only weak references; this is the one strong reference, owned by the component.
    StoredValue::new_local(connection);
    feed
}

/// `ws://` or `wss://` to `/ws` on the page's own host, so it works behind `trunk serve`'s proxy too.
fn socket_url() -> String {
    let location = window().location();
    let scheme = match location.protocol().as_deref() {
        Ok("https:") => "wss",
        _ => "ws",
    };
    let host = location.host().unwrap_or_default();
    format!("{scheme}://{host}{}", shared::WS_PATH)
}

fn open(connection: &Rc<RefCell<Connection>>) {
    let url = connection.borrow().url.clone();
    let Ok(socket) = WebSocket::new(&url) else {
        schedule_retry(connection);
        return;
    };
    let weak = Rc::downgrade(connection);

    let on_open = Closure::<dyn FnMut()>::new({
        let weak = weak.clone();
        move || {
            if let Some(connection) = weak.upgrade() {
                let mut connection = connection.borrow_mut();
                connection.failures = 0;
                connection.feed.state.set(ConnectionState::Live);
            }
        }
    });
    let feed = connection.borrow().feed;
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        let Some(text) = event.data().as_string() else {
            return;
        };
        if let Ok(ServerMsg::Tick { text, .. }) = serde_json::from_str(&text) {
            feed.clock.set(Some(text));
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

    // Replacing the previous socket drops its callbacks; it is closed already, so none is running.
    connection.borrow_mut().socket = Some(Socket {
        socket,
        _on_open: on_open,
        _on_message: on_message,
        _on_close: on_close,
    });
}

fn schedule_retry(connection: &Rc<RefCell<Connection>>) {
    let mut state = connection.borrow_mut();
    let online = window().navigator().on_line();
    state.feed.state.set(if online {
        ConnectionState::Reconnecting
    } else {
        ConnectionState::Offline
    });
    let delay = retry_delay_ms(state.failures, js_sys::Math::random());
    state.failures = state.failures.saturating_add(1);
    let weak = Rc::downgrade(connection);
    state.retry = Some(Timeout::new(delay, move || {
        if let Some(connection) = weak.upgrade() {
            open(&connection);
        }
    }));
}

/// Exponential backoff with full jitter: a uniformly random delay up to 0.5 s × 2^failures, capped.
pub fn retry_delay_ms(failures: u32, random_unit: f64) -> u32 {
    let ceiling = (FIRST_RETRY_MS * 2f64.powi(failures.min(16) as i32)).min(MAX_RETRY_MS);
    (ceiling * random_unit.clamp(0.0, 1.0)) as u32
}

/// When the browser regains the network, retry at once instead of waiting out the backoff.
fn reconnect_when_online(weak: Weak<RefCell<Connection>>) {
    let on_online = Closure::<dyn FnMut()>::new(move || {
        let Some(connection) = weak.upgrade() else {
            return;
        };
        let closed = connection
            .borrow()
            .socket
            .as_ref()
            .is_none_or(|s| s.socket.ready_state() == WebSocket::CLOSED);
        if closed {
            let waiting = connection.borrow_mut().retry.take();
            if let Some(timer) = waiting {
                timer.cancel();
            }
            open(&connection);
        }
    });
    let _ = window().add_event_listener_with_callback("online", on_online.as_ref().unchecked_ref());
    // The listener lives as long as the page.
    on_online.forget();
}

impl Drop for Connection {
    fn drop(&mut self) {
        if let Some(socket) = &self.socket {
            let _ = socket.socket.close();
        }
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        self.socket.set_onopen(None);
        self.socket.set_onmessage(None);
        self.socket.set_onclose(None);
    }
}
