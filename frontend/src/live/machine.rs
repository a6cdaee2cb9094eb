//! The live connection's decisions, as a pure state machine: it is told what happened (an
//! [`Input`], with the time, a random number and whether the browser is online) and answers with
//! what to do ([`Effect`]s: open or close a channel, send, arm a timer, reload the board, show
//! something). The driver in `live/mod.rs` owns the browser's sockets and timers and does only
//! that; every rule of the connection lives here, tested without a browser.
//!
//! The board (pure data too) is handed in with each input: messages apply to it directly.

use shared::{BoardId, ClientMsg, EndReason, ServerMsg, Transport};

use super::ConnectionState;
use super::backoff::{Backoff, is_silent};
use super::channel::Polled;
use super::fallback::{TransportChoice, fallback};
use crate::board::Board;

/// How often the client measures the round trip.
pub const PING_EVERY_MS: f64 = 5_000.0;
/// How often a fallback connection checks whether a WebSocket gets through again.
pub const PROBE_EVERY_MS: f64 = 30_000.0;

/// What happened.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// The connection begins (the component mounted).
    Start,
    /// The page shows another board (or none).
    Follow(Option<BoardId>),
    /// The current channel could not even be created.
    OpenFailed,
    /// The current channel is up.
    Opened,
    Message(ServerMsg),
    Polled(Polled),
    /// The current channel failed or ended.
    Closed,
    /// The answer of the health check after a failure: whether `/healthz` answered.
    Health {
        server_up: bool,
    },
    /// The watchdog's regular look.
    Watchdog,
    /// The scheduled retry is due.
    RetryDue,
    /// Retry now if waiting: the user asked, the browser came online, the tab became visible.
    RetryNow,
    /// The WebSocket probe said `hello`.
    ProbeGreeted,
    /// The WebSocket probe failed or ended (or could not be created).
    ProbeClosed,
}

/// When it happened: the time (ms since the epoch), a random number in `[0, 1)` for the backoff's
/// jitter, and whether the browser reports a network.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Moment {
    pub now: f64,
    pub random: f64,
    pub online: bool,
}

/// What to do, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Open a channel (replacing any), following `board` after `since`.
    Open {
        transport: Transport,
        board: Option<BoardId>,
        since: Option<i64>,
    },
    /// Stop the current channel without dropping it (this runs inside its own callback).
    Stop,
    /// Drop the current channel.
    Close,
    Send(ClientMsg),
    /// Ask `/healthz`, then report [`Input::Health`].
    CheckHealth,
    /// Arm the retry timer (report [`Input::RetryDue`] after this many ms).
    RetryAfter(u32),
    /// Disarm the retry timer.
    CancelRetry,
    /// Open a WebSocket probe (report [`Input::ProbeGreeted`] or [`Input::ProbeClosed`]).
    OpenProbe,
    CloseProbe,
    /// Reload the board over REST.
    Reload,
    /// The board changed: redraw what shows it.
    BoardChanged,
    /// Mark the first live tick on the page's performance timeline.
    MarkFirstTick,
    ShowState(ConnectionState),
    ShowTransport(Transport),
    ShowClock(String),
    ShowRoundTrip(u32),
    ShowRetryIn(Option<u32>),
    ShowEnded(Option<EndReason>),
}

/// The current channel, as far as the machine knows.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Channel {
    /// It said `hello` (it got through).
    greeted: bool,
    /// It asked for `since` (then `subscribed` needs no reload).
    resumed: bool,
    /// It ended; the machine waits for a retry.
    ended: bool,
}

/// The state of the live connection.
#[derive(Debug, Clone, PartialEq)]
pub struct Machine {
    board_id: Option<BoardId>,
    choice: TransportChoice,
    backoff: Backoff,
    channel: Option<Channel>,
    last_heard: f64,
    last_ping: f64,
    /// When the armed retry is due; `None` when not waiting.
    retry_at: Option<f64>,
    /// The probe's outcome while one is open: `None` pending, then greeted or not.
    probe: Option<Option<bool>>,
    last_probe: f64,
    /// Whether a tick has shown yet.
    ticked: bool,
}

impl Machine {
    pub fn new(board_id: Option<BoardId>) -> Self {
        Self {
            board_id,
            choice: TransportChoice::default(),
            backoff: Backoff::default(),
            channel: None,
            last_heard: 0.0,
            last_ping: 0.0,
            retry_at: None,
            probe: None,
            last_probe: 0.0,
            ticked: false,
        }
    }

    /// The transport in use (or being tried).
    pub fn transport(&self) -> Transport {
        self.choice.transport
    }

    /// Takes `input` at `at`, with the `board` on screen; returns what to do.
    pub fn handle(&mut self, at: Moment, input: Input, board: &mut Board) -> Vec<Effect> {
        let mut fx = Vec::new();
        match input {
            Input::Start => self.open(at, board, &mut fx),
            Input::Follow(board_id) => self.follow(at, board_id, board, &mut fx),
            Input::OpenFailed => {
                self.channel = None;
                self.schedule_retry(at, &mut fx);
            }
            Input::Opened => {
                self.backoff.opened(at.now);
                self.last_heard = at.now;
            }
            Input::Message(message) => self.receive(at, message, board, &mut fx),
            Input::Polled(polled) => self.polled(at, polled, board, &mut fx),
            Input::Closed => self.closed(at, &mut fx),
            Input::Health { server_up } => {
                if let Some(next) = self.choice.failed(server_up) {
                    fx.push(Effect::ShowTransport(next));
                    // The new transport starts with short waits of its own.
                    self.backoff = Backoff::default();
                    self.last_probe = at.now;
                }
                self.schedule_retry(at, &mut fx);
            }
            Input::Watchdog => self.watch(at, board, &mut fx),
            Input::RetryDue => {
                if self.retry_at.is_some() {
                    self.open(at, board, &mut fx);
                }
            }
            Input::RetryNow => {
                if self.retry_at.is_some() {
                    fx.push(Effect::CancelRetry);
                    self.open(at, board, &mut fx);
                }
            }
            Input::ProbeGreeted => {
                if self.probe == Some(None) {
                    self.probe = Some(Some(true));
                }
            }
            Input::ProbeClosed => {
                if self.probe == Some(None) {
                    self.probe = Some(Some(false));
                }
            }
        }
        fx
    }

    /// Opens a channel of the current transport, resuming after the board's `seq`.
    fn open(&mut self, at: Moment, board: &Board, fx: &mut Vec<Effect>) {
        let since = board.resume_seq();
        let transport = self.choice.transport;
        fx.push(Effect::Open {
            transport,
            board: self.board_id,
            since,
        });
        self.channel = Some(Channel {
            greeted: false,
            // Polling cannot resume: each answer says whether the board must reload instead.
            resumed: since.is_some() && transport != Transport::Polling,
            ended: false,
        });
        self.last_heard = at.now;
        self.retry_at = None;
        fx.push(Effect::ShowRetryIn(None));
    }

    fn follow(
        &mut self,
        at: Moment,
        board_id: Option<BoardId>,
        board: &mut Board,
        fx: &mut Vec<Effect>,
    ) {
        if self.board_id == board_id {
            return;
        }
        self.board_id = board_id;
        *board = Board::default();
        fx.push(Effect::BoardChanged);
        fx.push(Effect::ShowEnded(None));
        if self.retry_at.take().is_some() {
            fx.push(Effect::CancelRetry);
        }
        fx.push(Effect::Close);
        self.channel = None;
        if board_id.is_some() {
            fx.push(Effect::Reload);
        }
        self.open(at, board, fx);
    }

    fn receive(&mut self, at: Moment, message: ServerMsg, board: &mut Board, fx: &mut Vec<Effect>) {
        self.last_heard = at.now;
        let resumed = self.channel.is_some_and(|c| c.resumed);
        match &message {
            ServerMsg::Hello { store, .. } => {
                if self.greeted(store, board, fx) {
                    fx.push(Effect::Reload);
                }
            }
            ServerMsg::Subscribed { board: id, seq } if Some(*id) == self.board_id => {
                fx.push(Effect::ShowEnded(None));
                // A fresh stream starts after `seq`: the board must be at least that recent.
                if board.require(*seq) && !resumed {
                    fx.push(Effect::Reload);
                }
            }
            ServerMsg::Unsubscribed { board: id, reason } if Some(*id) == self.board_id => {
                if *reason != EndReason::Requested {
                    fx.push(Effect::ShowEnded(Some(*reason)));
                }
                // The server could not check access just then (its database busy or away, as in
                // a reconnect storm): end this channel; the backoff's retry resumes the board.
                if *reason == EndReason::Unavailable {
                    self.closed(at, fx);
                }
            }
            ServerMsg::Subscribed { .. } | ServerMsg::Unsubscribed { .. } => {}
            ServerMsg::Tick { text, .. } => self.tick(text, fx),
            ServerMsg::TaskCreated { .. }
            | ServerMsg::TaskUpdated { .. }
            | ServerMsg::TaskDeleted { .. } => {
                if message.seq().map(|(id, _)| id) == self.board_id && board.apply(&message) {
                    fx.push(Effect::BoardChanged);
                }
            }
            ServerMsg::Resync { .. } => fx.push(Effect::Reload),
            ServerMsg::Pong { client_time_ms, .. } => {
                let rtt = (at.now - *client_time_ms as f64).max(0.0);
                fx.push(Effect::ShowRoundTrip(rtt.round() as u32));
            }
        }
    }

    /// What one answered poll learned: a moved clock is the server's greeting and tick (polling
    /// has no other); a board never loaded, or a changed list, is reloaded over REST.
    fn polled(&mut self, at: Moment, polled: Polled, board: &mut Board, fx: &mut Vec<Effect>) {
        self.last_heard = at.now;
        let mut reload = polled.list_changed;
        if let Some(reading) = &polled.reading {
            reload |= self.greeted(&reading.store, board, fx);
            // Polling starts from whatever the board holds: one never loaded needs a load.
            if polled.first && self.board_id.is_some() && board.require(0) {
                reload = true;
            }
            self.tick(&reading.text, fx);
        }
        if reload {
            fx.push(Effect::Reload);
        }
        fx.push(Effect::ShowRoundTrip(polled.round_trip_ms.round() as u32));
    }

    /// The server greeted the channel: the connection is live. A server of another store (its
    /// `seq`s mean nothing here) makes the board start over; returns whether it must reload.
    fn greeted(&mut self, store: &str, board: &mut Board, fx: &mut Vec<Effect>) -> bool {
        fx.push(Effect::ShowState(ConnectionState::Live));
        self.choice.succeeded();
        if let Some(channel) = &mut self.channel {
            channel.greeted = true;
        }
        if !board.from_store(store) {
            return false;
        }
        fx.push(Effect::BoardChanged);
        if let Some(channel) = &mut self.channel {
            channel.resumed = false;
        }
        self.board_id.is_some()
    }

    fn tick(&mut self, text: &str, fx: &mut Vec<Effect>) {
        if !self.ticked {
            self.ticked = true;
            fx.push(Effect::MarkFirstTick);
        }
        fx.push(Effect::ShowClock(text.to_owned()));
    }

    /// The channel failed or ended. One that never got through while a fallback exists may be
    /// blocked rather than down: the health check decides (see [`Input::Health`]).
    fn closed(&mut self, at: Moment, fx: &mut Vec<Effect>) {
        let Some(channel) = &mut self.channel else {
            return;
        };
        if channel.ended {
            return;
        }
        channel.ended = true;
        fx.push(Effect::Stop);
        if !channel.greeted && fallback(self.choice.transport).is_some() {
            fx.push(Effect::CheckHealth);
        } else {
            self.schedule_retry(at, fx);
        }
    }

    /// Declares a silent channel dead, pings, counts down to the retry, and probes for a
    /// WebSocket while on a fallback.
    fn watch(&mut self, at: Moment, board: &Board, fx: &mut Vec<Effect>) {
        self.probe_for_websocket(at, board, fx);
        if let Some(retry_at) = self.retry_at {
            let secs = ((retry_at - at.now) / 1000.0).ceil().max(0.0) as u32;
            fx.push(Effect::ShowRetryIn(Some(secs)));
            return;
        }
        let usable = self.channel.is_some_and(|c| !c.ended);
        if !usable {
            return;
        }
        if is_silent(at.now, self.last_heard) {
            fx.push(Effect::Close);
            self.channel = None;
            self.schedule_retry(at, fx);
        } else if at.now - self.last_ping >= PING_EVERY_MS {
            self.last_ping = at.now;
            fx.push(Effect::Send(ClientMsg::Ping {
                client_time_ms: at.now as i64,
            }));
        }
    }

    /// While on a fallback: opens a WebSocket now and then; once one says `hello`, switches to it.
    fn probe_for_websocket(&mut self, at: Moment, board: &Board, fx: &mut Vec<Effect>) {
        if self.choice.transport == Transport::WebSocket {
            if self.probe.take().is_some() {
                fx.push(Effect::CloseProbe);
            }
            return;
        }
        match self.probe {
            Some(Some(true)) => {
                self.probe = None;
                fx.push(Effect::CloseProbe);
                self.choice.upgrade();
                fx.push(Effect::ShowTransport(Transport::WebSocket));
                if self.retry_at.take().is_some() {
                    fx.push(Effect::CancelRetry);
                }
                fx.push(Effect::Close);
                self.open(at, board, fx);
            }
            Some(Some(false)) => {
                self.probe = None;
                fx.push(Effect::CloseProbe);
            }
            Some(None) => {}
            None if at.now - self.last_probe >= PROBE_EVERY_MS => {
                self.last_probe = at.now;
                self.probe = Some(None);
                fx.push(Effect::OpenProbe);
            }
            None => {}
        }
    }

    /// Arms the next attempt (unless one is armed), after the backoff's delay.
    fn schedule_retry(&mut self, at: Moment, fx: &mut Vec<Effect>) {
        if self.retry_at.is_some() {
            return;
        }
        fx.push(Effect::ShowState(if at.online {
            ConnectionState::Reconnecting
        } else {
            ConnectionState::Offline
        }));
        let delay = self.backoff.next_delay_ms(at.now, at.random);
        self.retry_at = Some(at.now + f64::from(delay));
        fx.push(Effect::ShowRetryIn(Some(delay.div_ceil(1000))));
        fx.push(Effect::RetryAfter(delay));
    }
}

#[cfg(test)]
mod tests {
    use shared::{ClockReading, Task};

    use super::*;

    const BOARD: BoardId = BoardId(7);

    fn at(now: f64) -> Moment {
        Moment {
            now,
            random: 0.5,
            online: true,
        }
    }

    fn hello(store: &str) -> Input {
        Input::Message(ServerMsg::Hello {
            protocol: shared::ws::PROTOCOL_VERSION,
            server_time_ms: 0,
            store: store.into(),
            username: None,
        })
    }

    fn task(id: i64) -> Task {
        serde_json::from_value(serde_json::json!({
            "id": id, "title": format!("task {id}"), "done": false, "version": 1,
            "created_at": "2026-11-30T00:00:00Z",
        }))
        .unwrap()
    }

    fn created(board: BoardId, seq: i64) -> Input {
        Input::Message(ServerMsg::TaskCreated {
            board,
            seq,
            task: task(seq),
        })
    }

    /// A machine following [`BOARD`], started at 0, its board loaded at `seq` 3.
    fn started() -> (Machine, Board) {
        let mut machine = Machine::new(Some(BOARD));
        let mut board = Board::default();
        board.load(vec![task(1)], 3);
        machine.handle(at(0.0), Input::Start, &mut board);
        (machine, board)
    }

    fn retry_after(fx: &[Effect]) -> Option<u32> {
        fx.iter().find_map(|e| match e {
            Effect::RetryAfter(ms) => Some(*ms),
            _ => None,
        })
    }

    #[test]
    fn it_opens_a_websocket_resuming_the_board_and_a_hello_makes_it_live() {
        let mut machine = Machine::new(Some(BOARD));
        let mut board = Board::default();
        board.load(vec![task(1)], 3);
        let fx = machine.handle(at(0.0), Input::Start, &mut board);
        assert_eq!(
            fx[0],
            Effect::Open {
                transport: Transport::WebSocket,
                board: Some(BOARD),
                since: Some(3)
            }
        );
        let fx = machine.handle(at(10.0), hello("s1"), &mut board);
        assert_eq!(fx, [Effect::ShowState(ConnectionState::Live)]);
    }

    #[test]
    fn a_subscription_the_server_could_not_check_is_retried_on_the_backoff_and_resumes() {
        let (mut machine, mut board) = started();
        machine.handle(at(1.0), hello("s1"), &mut board);
        let unavailable = Input::Message(ServerMsg::Unsubscribed {
            board: BOARD,
            reason: EndReason::Unavailable,
        });
        let fx = machine.handle(at(2.0), unavailable, &mut board);
        assert_eq!(fx[0], Effect::ShowEnded(Some(EndReason::Unavailable)));
        assert!(fx.contains(&Effect::Stop), "{fx:?}");
        let delay = retry_after(&fx).expect("a retry is armed");
        let fx = machine.handle(at(2.0 + f64::from(delay)), Input::RetryDue, &mut board);
        assert_eq!(
            fx[0],
            Effect::Open {
                transport: Transport::WebSocket,
                board: Some(BOARD),
                since: Some(3)
            }
        );
        // Access that is gone for good is not retried.
        let (mut machine, mut board) = started();
        machine.handle(at(1.0), hello("s1"), &mut board);
        let revoked = Input::Message(ServerMsg::Unsubscribed {
            board: BOARD,
            reason: EndReason::Revoked,
        });
        let fx = machine.handle(at(2.0), revoked, &mut board);
        assert_eq!(fx, [Effect::ShowEnded(Some(EndReason::Revoked))]);
    }

    #[test]
    fn a_fresh_subscription_ahead_of_the_board_reloads_it_and_a_resumed_one_does_not() {
        // Resumed (the board was loaded): `subscribed` at a later seq needs no reload.
        let (mut machine, mut board) = started();
        machine.handle(at(1.0), hello("s1"), &mut board);
        let fx = machine.handle(
            at(2.0),
            Input::Message(ServerMsg::Subscribed {
                board: BOARD,
                seq: 9,
            }),
            &mut board,
        );
        assert!(!fx.contains(&Effect::Reload), "{fx:?}");

        // Fresh (nothing loaded yet): the board must catch up over REST.
        let mut machine = Machine::new(Some(BOARD));
        let mut board = Board::default();
        machine.handle(at(0.0), Input::Start, &mut board);
        let fx = machine.handle(
            at(1.0),
            Input::Message(ServerMsg::Subscribed {
                board: BOARD,
                seq: 9,
            }),
            &mut board,
        );
        assert!(fx.contains(&Effect::Reload), "{fx:?}");
    }

    #[test]
    fn task_events_of_the_board_apply_once_and_others_are_ignored() {
        let (mut machine, mut board) = started();
        let fx = machine.handle(at(1.0), created(BOARD, 4), &mut board);
        assert_eq!(fx, [Effect::BoardChanged]);
        assert_eq!(board.tasks().len(), 2);
        assert_eq!(machine.handle(at(2.0), created(BOARD, 4), &mut board), []);
        assert_eq!(
            machine.handle(at(3.0), created(BoardId(8), 5), &mut board),
            []
        );
        assert_eq!(board.tasks().len(), 2);
    }

    #[test]
    fn the_first_tick_is_marked_once_and_every_tick_shows() {
        let (mut machine, mut board) = started();
        let tick = |text: &str| {
            Input::Message(ServerMsg::Tick {
                server_time_ms: 0,
                text: text.into(),
            })
        };
        let fx = machine.handle(at(1.0), tick("a"), &mut board);
        assert_eq!(fx, [Effect::MarkFirstTick, Effect::ShowClock("a".into())]);
        let fx = machine.handle(at(2.0), tick("b"), &mut board);
        assert_eq!(fx, [Effect::ShowClock("b".into())]);
    }

    #[test]
    fn a_websocket_failing_twice_with_the_server_up_falls_back_to_server_sent_events() {
        let (mut machine, mut board) = started();
        for attempt in 0..2 {
            let fx = machine.handle(at(1.0), Input::Closed, &mut board);
            assert_eq!(fx, [Effect::Stop, Effect::CheckHealth], "attempt {attempt}");
            let fx = machine.handle(at(2.0), Input::Health { server_up: true }, &mut board);
            let delay = retry_after(&fx).expect("a retry is armed");
            if attempt == 1 {
                assert!(
                    fx.contains(&Effect::ShowTransport(Transport::Sse)),
                    "{fx:?}"
                );
            }
            let fx = machine.handle(at(2.0 + f64::from(delay)), Input::RetryDue, &mut board);
            assert!(matches!(fx[0], Effect::Open { .. }), "{fx:?}");
        }
        assert_eq!(machine.transport(), Transport::Sse);
    }

    #[test]
    fn an_outage_does_not_count_against_the_transport() {
        let (mut machine, mut board) = started();
        for _ in 0..3 {
            machine.handle(at(1.0), Input::Closed, &mut board);
            let fx = machine.handle(at(2.0), Input::Health { server_up: false }, &mut board);
            assert!(retry_after(&fx).is_some());
            machine.handle(at(100_000.0), Input::RetryDue, &mut board);
        }
        assert_eq!(machine.transport(), Transport::WebSocket);
    }

    #[test]
    fn a_channel_that_got_through_and_ended_retries_with_backoff_and_says_offline_without_network()
    {
        let (mut machine, mut board) = started();
        machine.handle(at(1.0), hello("s1"), &mut board);
        let offline = Moment {
            online: false,
            ..at(2.0)
        };
        let fx = machine.handle(offline, Input::Closed, &mut board);
        assert_eq!(fx[0], Effect::Stop);
        assert_eq!(fx[1], Effect::ShowState(ConnectionState::Offline));
        assert!(retry_after(&fx).is_some());
        // A second report of the same end arms nothing more.
        assert_eq!(machine.handle(offline, Input::Closed, &mut board), []);
        // Retry now cancels the timer and opens at once.
        let fx = machine.handle(at(3.0), Input::RetryNow, &mut board);
        assert_eq!(fx[0], Effect::CancelRetry);
        assert!(matches!(fx[1], Effect::Open { .. }), "{fx:?}");
        // Not waiting: nothing to retry.
        assert_eq!(machine.handle(at(4.0), Input::RetryNow, &mut board), []);
    }

    fn tick_at(server_time_ms: i64) -> Input {
        Input::Message(ServerMsg::Tick {
            server_time_ms,
            text: "t".into(),
        })
    }

    #[test]
    fn silence_ends_the_channel_and_a_live_one_is_pinged_every_five_seconds() {
        let (mut machine, mut board) = started();
        machine.handle(at(0.0), hello("s1"), &mut board);
        let fx = machine.handle(at(PING_EVERY_MS), Input::Watchdog, &mut board);
        assert!(
            matches!(fx.as_slice(), [Effect::Send(ClientMsg::Ping { .. })]),
            "{fx:?}"
        );
        machine.handle(at(5_050.0), tick_at(5_000), &mut board);
        assert_eq!(machine.handle(at(5_100.0), Input::Watchdog, &mut board), []);
        // More than five seconds after the last message: dead.
        let fx = machine.handle(at(10_051.0), Input::Watchdog, &mut board);
        assert_eq!(fx[0], Effect::Close);
        assert!(retry_after(&fx).is_some());
    }

    #[test]
    fn on_a_fallback_a_probe_that_says_hello_switches_back_to_websocket() {
        let (mut machine, mut board) = started();
        for t in [1_000.0, 2_000.0] {
            machine.handle(at(t), Input::Closed, &mut board);
            machine.handle(at(t), Input::Health { server_up: true }, &mut board);
            machine.handle(at(t + 600.0), Input::RetryDue, &mut board);
        }
        assert_eq!(machine.transport(), Transport::Sse);
        machine.handle(at(2_700.0), hello("s1"), &mut board);
        // The first probe waits its interval from the fallback.
        let fx = machine.handle(at(3_000.0), Input::Watchdog, &mut board);
        assert!(!fx.contains(&Effect::OpenProbe), "{fx:?}");
        let probe_at = 2_000.0 + PROBE_EVERY_MS;
        machine.handle(at(probe_at - 10.0), tick_at(0), &mut board);
        let fx = machine.handle(at(probe_at), Input::Watchdog, &mut board);
        assert!(fx.contains(&Effect::OpenProbe), "{fx:?}");
        machine.handle(at(probe_at + 100.0), Input::ProbeGreeted, &mut board);
        let fx = machine.handle(at(probe_at + 500.0), Input::Watchdog, &mut board);
        assert!(
            fx.contains(&Effect::ShowTransport(Transport::WebSocket)),
            "{fx:?}"
        );
        assert!(
            fx.contains(&Effect::Open {
                transport: Transport::WebSocket,
                board: Some(BOARD),
                since: Some(3)
            }),
            "{fx:?}"
        );
        assert_eq!(machine.transport(), Transport::WebSocket);
    }

    #[test]
    fn polling_greets_with_its_first_reading_loads_an_empty_board_and_reloads_a_changed_list() {
        let mut machine = Machine::new(Some(BOARD));
        let mut board = Board::default();
        machine.handle(at(0.0), Input::Start, &mut board);
        let reading = ClockReading {
            server_time_ms: 0,
            text: "The time is: 10:00:00".into(),
            store: "s1".into(),
        };
        let fx = machine.handle(
            at(1.0),
            Input::Polled(Polled {
                first: true,
                reading: Some(reading),
                list_changed: false,
                round_trip_ms: 12.4,
            }),
            &mut board,
        );
        assert!(
            fx.contains(&Effect::ShowState(ConnectionState::Live)),
            "{fx:?}"
        );
        assert!(
            fx.contains(&Effect::Reload),
            "an unloaded board loads: {fx:?}"
        );
        assert!(fx.contains(&Effect::ShowClock("The time is: 10:00:00".into())));
        assert!(fx.contains(&Effect::ShowRoundTrip(12)));
        // A 304 with a changed list: reload, and no tick.
        board.load(Vec::new(), 0);
        let fx = machine.handle(
            at(2.0),
            Input::Polled(Polled {
                first: false,
                reading: None,
                list_changed: true,
                round_trip_ms: 3.0,
            }),
            &mut board,
        );
        assert_eq!(fx, [Effect::Reload, Effect::ShowRoundTrip(3)]);
    }

    #[test]
    fn a_server_of_another_store_makes_the_board_start_over() {
        let (mut machine, mut board) = started();
        machine.handle(at(1.0), hello("s1"), &mut board);
        machine.handle(at(2.0), Input::Closed, &mut board);
        machine.handle(at(100_000.0), Input::RetryDue, &mut board);
        let fx = machine.handle(at(100_001.0), hello("s2"), &mut board);
        assert!(fx.contains(&Effect::BoardChanged), "{fx:?}");
        assert!(fx.contains(&Effect::Reload), "{fx:?}");
        assert!(!board.is_loaded());
    }

    #[test]
    fn following_another_board_starts_it_over_on_a_new_channel() {
        let (mut machine, mut board) = started();
        let fx = machine.handle(at(1.0), Input::Follow(Some(BoardId(8))), &mut board);
        assert_eq!(
            fx,
            [
                Effect::BoardChanged,
                Effect::ShowEnded(None),
                Effect::Close,
                Effect::Reload,
                Effect::Open {
                    transport: Transport::WebSocket,
                    board: Some(BoardId(8)),
                    since: None
                },
                Effect::ShowRetryIn(None),
            ]
        );
        assert!(board.tasks().is_empty());
        assert_eq!(
            machine.handle(at(2.0), Input::Follow(Some(BoardId(8))), &mut board),
            []
        );
    }
}
