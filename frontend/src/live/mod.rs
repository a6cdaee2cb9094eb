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
//!
//! Those rules are the pure state machine in [`machine`]; this module is its driver: it feeds the
//! machine what the browser reports (channel callbacks, timers, the network coming back) and does
//! what the machine answers (opens and closes channels, arms timers, sets the signals the page
//! shows).

mod backoff;
pub mod channel;
mod fallback;
pub mod machine;

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use gloo_timers::callback::{Interval, Timeout};
use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::{BoardId, EndReason, Transport};
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;

pub use backoff::{Backoff, is_silent, retry_delay_ms};
use channel::{Callbacks, Channel, Delivery};
pub use fallback::{FALLBACK_AFTER, TransportChoice, fallback};
pub use machine::PROBE_EVERY_MS;
use machine::{Effect, Input, Machine, Moment};

use crate::board::Board;

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
    driver: StoredValue<Rc<RefCell<Driver>>, LocalStorage>,
}

impl LiveFeed {
    /// Reconnects now instead of waiting out the backoff.
    pub fn retry_now(&self) {
        self.driver
            .with_value(|driver| feed(driver, Input::RetryNow));
    }

    /// Follows `board` from now on (or no board): a new channel, and the board starts over.
    pub fn follow(&self, board: Option<BoardId>) {
        self.driver
            .with_value(|driver| feed(driver, Input::Follow(board)));
    }
}

/// The driver: the machine, and the browser objects it decides about.
struct Driver {
    machine: Machine,
    signals: Signals,
    board: RwSignal<Board>,
    /// Reloads the board over REST (after `resync`, or when the snapshot is too old).
    reload: Rc<dyn Fn()>,
    channel: Option<Channel>,
    /// A WebSocket opened only to learn whether WebSockets get through again.
    probe: Option<Channel>,
    retry: Option<Timeout>,
    _watchdog: Option<Interval>,
}

/// The signals the driver writes (everything in [`LiveFeed`] but the handle).
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
    let driver = Rc::new(RefCell::new(Driver {
        machine: Machine::new(board_id),
        signals,
        board,
        reload: Rc::new(reload),
        channel: None,
        probe: None,
        retry: None,
        _watchdog: None,
    }));
    let watchdog = {
        let weak = Rc::downgrade(&driver);
        Interval::new(WATCHDOG_MS, move || {
            if let Some(driver) = weak.upgrade() {
                feed(&driver, Input::Watchdog);
            }
        })
    };
    driver.borrow_mut()._watchdog = Some(watchdog);
    feed(&driver, Input::Start);
    retry_on_window_event("online", Rc::downgrade(&driver));
    retry_on_window_event("visibilitychange", Rc::downgrade(&driver));
    LiveFeed {
        state: signals.state,
        transport: signals.transport,
        clock: signals.clock,
        rtt_ms: signals.rtt_ms,
        retry_in_secs: signals.retry_in_secs,
        ended: signals.ended,
        // Callbacks hold only weak references; this is the one strong reference.
        driver: StoredValue::new_local(driver),
    }
}

/// Tells the machine what happened, then does what it answers.
fn feed(driver: &Rc<RefCell<Driver>>, input: Input) {
    let moment = Moment {
        now: js_sys::Date::now(),
        random: js_sys::Math::random(),
        online: window().navigator().on_line(),
    };
    let effects = {
        let mut state = driver.borrow_mut();
        let Driver { machine, board, .. } = &mut *state;
        let mut effects = Vec::new();
        // Untracked: only a change to the tasks redraws the board (`Effect::BoardChanged`).
        board.try_update_untracked(|board| effects = machine.handle(moment, input, board));
        effects
    };
    for effect in effects {
        perform(driver, effect);
    }
}

/// Does one thing the machine decided.
fn perform(driver: &Rc<RefCell<Driver>>, effect: Effect) {
    let signals = driver.borrow().signals;
    match effect {
        Effect::Open {
            transport,
            board,
            since,
        } => {
            let channel = Channel::open(transport, board, since, None, callbacks(driver));
            match channel {
                // Replacing the previous channel drops its callbacks; none is running now.
                Some(channel) => driver.borrow_mut().channel = Some(channel),
                None => feed(driver, Input::OpenFailed),
            }
        }
        Effect::Stop => {
            // Not dropped here: this runs inside the channel's own callback.
            if let Some(channel) = &driver.borrow().channel {
                channel.stop();
            }
        }
        Effect::Close => {
            let old = driver.borrow_mut().channel.take();
            drop(old);
        }
        Effect::Send(message) => {
            if let Some(channel) = &driver.borrow().channel {
                channel.send(&message);
            }
        }
        Effect::CheckHealth => {
            let weak = Rc::downgrade(driver);
            spawn_local(async move {
                let server_up = crate::api::server_is_up().await;
                if let Some(driver) = weak.upgrade() {
                    feed(&driver, Input::Health { server_up });
                }
            });
        }
        Effect::RetryAfter(delay) => {
            let weak = Rc::downgrade(driver);
            let timer = Timeout::new(delay, move || {
                if let Some(driver) = weak.upgrade() {
                    // This timer has fired: release it without cancelling (it is running now).
                    if let Some(fired) = driver.borrow_mut().retry.take() {
                        fired.forget();
                    }
                    feed(&driver, Input::RetryDue);
                }
            });
            driver.borrow_mut().retry = Some(timer);
        }
        Effect::CancelRetry => {
            if let Some(timer) = driver.borrow_mut().retry.take() {
                timer.cancel();
            }
        }
        Effect::OpenProbe => {
            let probe = Channel::open(
                Transport::WebSocket,
                None,
                None,
                None,
                probe_callbacks(driver),
            );
            match probe {
                Some(probe) => driver.borrow_mut().probe = Some(probe),
                None => feed(driver, Input::ProbeClosed),
            }
        }
        Effect::CloseProbe => {
            let probe = driver.borrow_mut().probe.take();
            drop(probe);
        }
        Effect::Reload => {
            let reload = driver.borrow().reload.clone();
            reload();
        }
        Effect::BoardChanged => {
            let board = driver.borrow().board;
            board.notify();
        }
        Effect::MarkFirstTick => mark_first_tick(),
        Effect::ShowState(state) => signals.state.set(state),
        Effect::ShowTransport(transport) => signals.transport.set(transport),
        Effect::ShowClock(text) => signals.clock.set(Some(text)),
        Effect::ShowRoundTrip(ms) => signals.rtt_ms.set(Some(ms)),
        Effect::ShowRetryIn(secs) => signals.retry_in_secs.set(secs),
        Effect::ShowEnded(reason) => signals.ended.set(reason),
    }
}

/// The callbacks of the connection's channel: each feeds the machine.
fn callbacks(driver: &Rc<RefCell<Driver>>) -> Callbacks {
    let on = |input: fn() -> Input| {
        let weak = Rc::downgrade(driver);
        Rc::new(move || {
            if let Some(driver) = weak.upgrade() {
                feed(&driver, input());
            }
        })
    };
    let weak = Rc::downgrade(driver);
    Callbacks {
        opened: on(|| Input::Opened),
        delivered: Rc::new(move |delivery| {
            if let Some(driver) = weak.upgrade() {
                let input = match delivery {
                    Delivery::Message(message) => Input::Message(message),
                    Delivery::Polled(polled) => Input::Polled(polled),
                };
                feed(&driver, input);
            }
        }),
        closed: on(|| Input::Closed),
    }
}

/// The probe's callbacks: only its greeting or its end matter.
fn probe_callbacks(driver: &Rc<RefCell<Driver>>) -> Callbacks {
    let weak = Rc::downgrade(driver);
    let closed = weak.clone();
    Callbacks {
        opened: Rc::new(|| {}),
        delivered: Rc::new(move |delivery| {
            if let (Some(driver), Delivery::Message(shared::ServerMsg::Hello { .. })) =
                (weak.upgrade(), delivery)
            {
                feed(&driver, Input::ProbeGreeted);
            }
        }),
        closed: Rc::new(move || {
            if let Some(driver) = closed.upgrade() {
                feed(&driver, Input::ProbeClosed);
            }
        }),
    }
}

/// Retries at once on `event` (`online`, or `visibilitychange` to visible).
fn retry_on_window_event(event: &str, weak: Weak<RefCell<Driver>>) {
    let listener = Closure::<dyn FnMut()>::new(move || {
        let visible = document().visibility_state() == web_sys::VisibilityState::Visible;
        if let (Some(driver), true) = (weak.upgrade(), visible) {
            feed(&driver, Input::RetryNow);
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

impl Drop for Driver {
    fn drop(&mut self) {
        self.channel.take();
        self.probe.take();
    }
}

/// Marks the moment the clock first shows a live time on the page's performance timeline as
/// `tasktick:first-tick`: the end-to-end suite reads it as the page's load time to its first
/// tick, and browser profilers show it.
fn mark_first_tick() {
    if let Some(performance) = web_sys::window().and_then(|w| w.performance()) {
        let _ = performance.mark("tasktick:first-tick");
    }
}
