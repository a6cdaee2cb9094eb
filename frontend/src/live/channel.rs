//! The three ways the live feed reaches the page: a WebSocket, an `EventSource` on
//! `/api/events`, or polling `GET /api/clock`. The first two deliver the server's messages as sent;
//! polling delivers what each poll learned ([`Polled`]), with no messages made up for it.
//!
//! A channel may follow one board: the WebSocket subscribes as soon as it opens, the event stream
//! names the board in its URL, and polling reads the board's list with `If-None-Match` beside
//! the clock.
//!
//! Polling has no stream of events: it reports the new clock reading (if the clock moved), whether
//! the board's list changed (then the page reloads it over REST), and the request's round trip.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use gloo_timers::callback::Interval;
use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::{BoardId, ClientMsg, ClockReading, ServerMsg, Transport};
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{Event, EventSource, MessageEvent, WebSocket};

use crate::api::{self, Fresh};

/// How often the polling transport asks.
pub const POLL_EVERY_MS: u32 = 1_000;

/// What one answered poll learned.
#[derive(Debug, Clone, PartialEq)]
pub struct Polled {
    /// Whether this is the channel's first answer.
    pub first: bool,
    /// The clock's reading, when it moved since the last poll.
    pub reading: Option<ClockReading>,
    /// Whether the followed board's list changed since the last poll (the first poll only learns
    /// its tag: the page loaded the list itself).
    pub list_changed: bool,
    /// How long the poll took, in milliseconds.
    pub round_trip_ms: f64,
}

/// What a channel delivers.
#[derive(Debug, Clone, PartialEq)]
pub enum Delivery {
    /// A message as the server sent it (WebSocket, event stream).
    Message(ServerMsg),
    Polled(Polled),
}

/// What a channel reports, called from its browser callbacks. A channel never drops itself
/// from inside one of its own callbacks: the owner replaces it later.
#[derive(Clone)]
pub struct Callbacks {
    /// The transport is up (the socket or stream opened, or the first poll answered).
    pub opened: Rc<dyn Fn()>,
    pub delivered: Rc<dyn Fn(Delivery)>,
    /// The transport failed or ended.
    pub closed: Rc<dyn Fn()>,
}

/// One open (or opening) live channel; dropping it closes it and silences its callbacks.
pub enum Channel {
    WebSocket(SocketChannel),
    EventStream(StreamChannel),
    Polling(PollChannel),
}

impl Channel {
    /// Opens `transport`, following `board` (if any) after `since`, with `lab` naming a
    /// transport-lab run.
    pub fn open(
        transport: Transport,
        board: Option<BoardId>,
        since: Option<i64>,
        lab: Option<&str>,
        callbacks: Callbacks,
    ) -> Option<Self> {
        Some(match transport {
            Transport::WebSocket => {
                Self::WebSocket(SocketChannel::open(board, since, lab, callbacks)?)
            }
            Transport::Sse => Self::EventStream(StreamChannel::open(board, since, lab, callbacks)?),
            Transport::Polling => Self::Polling(PollChannel::open(board, lab, callbacks)),
        })
    }

    /// Whether the channel may still deliver (not closed for good).
    pub fn is_usable(&self) -> bool {
        match self {
            Self::WebSocket(channel) => matches!(
                channel.socket.ready_state(),
                WebSocket::OPEN | WebSocket::CONNECTING
            ),
            Self::EventStream(channel) => channel.source.ready_state() != EventSource::CLOSED,
            Self::Polling(channel) => channel.alive.get(),
        }
    }

    /// Sends `message` where the transport has a client-to-server direction (the WebSocket only).
    pub fn send(&self, message: &ClientMsg) {
        if let (Self::WebSocket(channel), Ok(text)) = (self, serde_json::to_string(message))
            && channel.socket.ready_state() == WebSocket::OPEN
        {
            let _ = channel.socket.send_with_str(&text);
        }
    }

    /// Stops delivering without dropping the callbacks (safe to call from inside one of them).
    pub fn stop(&self) {
        match self {
            Self::WebSocket(channel) => {
                let _ = channel.socket.close();
            }
            Self::EventStream(channel) => channel.source.close(),
            Self::Polling(channel) => channel.alive.set(false),
        }
    }
}

/// `path` on the page's own origin, with the `board`, `since` and `lab` query parameters.
fn path_with(path: &str, board: Option<BoardId>, since: Option<i64>, lab: Option<&str>) -> String {
    let mut query = Vec::new();
    if let Some(board) = board {
        query.push(format!("board={board}"));
    }
    if let Some(seq) = since {
        query.push(format!("since={seq}"));
    }
    if let Some(run) = lab {
        query.push(format!("{}={run}", shared::lab::LAB_PARAM));
    }
    if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", query.join("&"))
    }
}

/// `ws://` or `wss://` to `/ws` on the page's own host (so it works behind `trunk serve` too).
fn socket_url(lab: Option<&str>) -> String {
    let location = window().location();
    let scheme = match location.protocol().as_deref() {
        Ok("https:") => "wss",
        _ => "ws",
    };
    let host = location.host().unwrap_or_default();
    format!(
        "{scheme}://{host}{}",
        path_with(shared::WS_PATH, None, None, lab)
    )
}

/// Parses a text message and hands it on; anything unreadable is ignored.
fn deliver(callbacks: &Callbacks, data: &wasm_bindgen::JsValue) {
    if let Some(message) = data
        .as_string()
        .and_then(|text| serde_json::from_str::<ServerMsg>(&text).ok())
    {
        (callbacks.delivered)(Delivery::Message(message));
    }
}

/// The browser callbacks of one socket or stream, kept as long as it is.
struct Listeners {
    open: Closure<dyn FnMut()>,
    message: Closure<dyn FnMut(MessageEvent)>,
    /// For the socket's `close` or the stream's `error`: either way the channel has ended.
    end: Closure<dyn FnMut(Event)>,
}

impl Listeners {
    /// Listeners reporting to `callbacks`; `on_open` runs first when the channel opens, `on_end`
    /// when it ends.
    fn new(
        callbacks: Callbacks,
        on_open: impl Fn() + 'static,
        on_end: impl Fn() + 'static,
    ) -> Self {
        let opened = callbacks.opened.clone();
        let open = Closure::<dyn FnMut()>::new(move || {
            on_open();
            opened()
        });
        let message = Closure::<dyn FnMut(MessageEvent)>::new({
            let callbacks = callbacks.clone();
            move |event: MessageEvent| deliver(&callbacks, &event.data())
        });
        let end = Closure::<dyn FnMut(Event)>::new(move |_: Event| {
            on_end();
            (callbacks.closed)();
        });
        Self { open, message, end }
    }

    fn js(closure: &Closure<impl ?Sized>) -> Option<&js_sys::Function> {
        Some(closure.as_ref().unchecked_ref())
    }
}

/// The browser's native WebSocket.
pub struct SocketChannel {
    socket: WebSocket,
    _listeners: Listeners,
}

impl SocketChannel {
    fn open(
        board: Option<BoardId>,
        since: Option<i64>,
        lab: Option<&str>,
        callbacks: Callbacks,
    ) -> Option<Self> {
        let socket = WebSocket::new(&socket_url(lab)).ok()?;
        // Follow the board as soon as the socket is open (the server greets first either way).
        let subscribe = board
            .and_then(|board| serde_json::to_string(&ClientMsg::Subscribe { board, since }).ok());
        let on_open = {
            let socket = socket.clone();
            move || {
                if let Some(subscribe) = &subscribe {
                    let _ = socket.send_with_str(subscribe);
                }
            }
        };
        let listeners = Listeners::new(callbacks, on_open, || {});
        socket.set_onopen(Listeners::js(&listeners.open));
        socket.set_onmessage(Listeners::js(&listeners.message));
        socket.set_onclose(Listeners::js(&listeners.end));
        Some(Self {
            socket,
            _listeners: listeners,
        })
    }
}

impl Drop for SocketChannel {
    fn drop(&mut self) {
        self.socket.set_onopen(None);
        self.socket.set_onmessage(None);
        self.socket.set_onclose(None);
        let _ = self.socket.close();
    }
}

/// An `EventSource` on `/api/events`. Its own automatic reconnection is not used: on an error the
/// stream is closed and the owner's backoff decides when to try again, as for the WebSocket.
pub struct StreamChannel {
    source: EventSource,
    _listeners: Listeners,
}

impl StreamChannel {
    fn open(
        board: Option<BoardId>,
        since: Option<i64>,
        lab: Option<&str>,
        callbacks: Callbacks,
    ) -> Option<Self> {
        let url = path_with(
            shared::EVENTS_PATH,
            board,
            since.filter(|_| board.is_some()),
            lab,
        );
        let source = EventSource::new(&url).ok()?;
        let listeners = Listeners::new(callbacks, || {}, {
            let source = source.clone();
            move || source.close()
        });
        source.set_onopen(Listeners::js(&listeners.open));
        source.set_onmessage(Listeners::js(&listeners.message));
        source.set_onerror(Listeners::js(&listeners.end));
        Some(Self {
            source,
            _listeners: listeners,
        })
    }
}

impl Drop for StreamChannel {
    fn drop(&mut self) {
        self.source.set_onopen(None);
        self.source.set_onmessage(None);
        self.source.set_onerror(None);
        self.source.close();
    }
}

/// `GET /api/clock` (and the board's list) every [`POLL_EVERY_MS`], with `If-None-Match`.
pub struct PollChannel {
    /// Cleared when the channel stops: answers still in flight are then ignored.
    alive: Rc<Cell<bool>>,
    _interval: Interval,
}

impl PollChannel {
    fn open(board: Option<BoardId>, lab: Option<&str>, callbacks: Callbacks) -> Self {
        Self::every(POLL_EVERY_MS, board, lab, callbacks)
    }

    /// Polls every `interval_ms` (the lab lets the user choose).
    pub fn every(
        interval_ms: u32,
        board: Option<BoardId>,
        lab: Option<&str>,
        callbacks: Callbacks,
    ) -> Self {
        let alive = Rc::new(Cell::new(true));
        let poller = Rc::new(Poller {
            lab: lab.map(str::to_owned),
            etag: RefCell::new(None),
            board,
            list_etag: RefCell::new(None),
            in_flight: Cell::new(false),
            answered: Cell::new(false),
            alive: alive.clone(),
            callbacks,
        });
        poller.clone().poll();
        let interval = Interval::new(interval_ms, move || poller.clone().poll());
        Self {
            alive,
            _interval: interval,
        }
    }
}

impl Drop for PollChannel {
    fn drop(&mut self) {
        self.alive.set(false);
    }
}

struct Poller {
    /// The lab run counting the polls, if any.
    lab: Option<String>,
    etag: RefCell<Option<String>>,
    /// The board whose list is polled too, and the list's tag.
    board: Option<BoardId>,
    list_etag: RefCell<Option<String>>,
    /// One request at a time: a slow answer delays the next poll instead of piling requests up.
    in_flight: Cell<bool>,
    answered: Cell<bool>,
    alive: Rc<Cell<bool>>,
    callbacks: Callbacks,
}

impl Poller {
    fn poll(self: Rc<Self>) {
        if !self.alive.get() || self.in_flight.replace(true) {
            return;
        }
        spawn_local(async move {
            let started = js_sys::Date::now();
            let outcome = self.ask().await;
            self.in_flight.set(false);
            if !self.alive.get() {
                return;
            }
            let Some(reading) = outcome else {
                self.alive.set(false);
                (self.callbacks.closed)();
                return;
            };
            let first = !self.answered.replace(true);
            if first {
                (self.callbacks.opened)();
            }
            let list_changed = match self.board {
                Some(board) => self.list_changed(board).await,
                None => false,
            };
            if self.alive.get() {
                (self.callbacks.delivered)(Delivery::Polled(Polled {
                    first,
                    reading,
                    list_changed,
                    round_trip_ms: js_sys::Date::now() - started,
                }));
            }
        });
    }

    /// Whether `board`'s list changed since the last poll (the first poll only learns its tag).
    async fn list_changed(&self, board: BoardId) -> bool {
        let known = self.list_etag.borrow().clone();
        match api::list_changes(board, known.as_deref()).await {
            Ok(Fresh::Changed { etag, .. }) => {
                *self.list_etag.borrow_mut() = etag;
                known.is_some()
            }
            Ok(Fresh::NotModified) | Err(_) => false,
        }
    }

    /// `Some(Some(reading))` for a new reading, `Some(None)` for 304, `None` for a failure.
    async fn ask(&self) -> Option<Option<ClockReading>> {
        let known = self.etag.borrow().clone();
        match api::clock(known.as_deref(), self.lab.as_deref())
            .await
            .ok()?
        {
            Fresh::Changed { value, etag } => {
                *self.etag.borrow_mut() = etag;
                Some(Some(value))
            }
            Fresh::NotModified => Some(None),
        }
    }
}
