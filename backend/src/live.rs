//! One live session, whatever carries it (the WebSocket or an event stream): who it belongs to,
//! the boards it follows and how far each has been sent, access checked at every subscription
//! and again whenever access changes.
//!
//! A session receives every board's events from the hub and keeps those of the boards it follows
//! (`seq` above what it sent). Subscribing checks membership and reads what the client missed
//! from the store ([`BoardAccess::open`]); an access change that may concern the session (its
//! account, or a board it follows) re-checks its credential and memberships
//! ([`BoardAccess::recheck`]) and ends what no longer holds with `unsubscribed`.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use axum::extract::ws::Utf8Bytes;
use shared::{BoardId, EndReason, ServerMsg};

use crate::access_cache::AccessCache;
use crate::auth::{Caller, Credential, now_ms};
use crate::events::{Event, EventHub};
use crate::store::accounts::AccessChange;
use crate::store::{Replay, Store};
use crate::ws::clock::encode;

/// Most events replayed to a resuming subscriber; one further behind reloads instead (`resync`).
pub const MAX_REPLAY: u32 = 10_000;

/// One message for the client: JSON text, encoded once and shared, and the `seq` when it is a task
/// event (an event stream sends that as the event's `id:`, so that a reconnect resumes after it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub text: Utf8Bytes,
    pub seq: Option<i64>,
}

impl Outgoing {
    /// A message that is not a task event.
    pub fn notice(text: Utf8Bytes) -> Self {
        Self { text, seq: None }
    }
}

impl From<&ServerMsg> for Outgoing {
    fn from(message: &ServerMsg) -> Self {
        Self {
            text: encode(message),
            seq: message.seq().map(|(_, seq)| seq),
        }
    }
}

/// A subscription that began: what to send first, and the `seq` it covers.
#[derive(Debug)]
pub struct Opened {
    pub messages: Vec<Outgoing>,
    pub seq: i64,
}

/// What a re-check of a session's access found.
#[derive(Debug, PartialEq, Eq)]
pub enum Recheck {
    /// The session or token is gone: every subscription ends.
    SignedOut,
    /// The credential holds; these boards may no longer be followed.
    Ended(Vec<BoardId>),
}

/// Access to boards' live streams, as the session needs it (the store in the server, a fake in
/// tests).
#[async_trait]
pub trait BoardAccess: Send + Sync {
    /// Checks that `caller` may follow `board` and reads what they missed after `since`.
    async fn open(
        &self,
        caller: Option<&Caller>,
        board: BoardId,
        since: Option<i64>,
    ) -> Result<Opened, EndReason>;
    /// Whether `caller`'s credential still holds, and which of `boards` they may no longer follow.
    async fn recheck(&self, caller: &Caller, boards: Vec<BoardId>) -> Recheck;
}

/// One session's state.
pub struct Live {
    caller: Option<Caller>,
    /// The boards followed, with the newest `seq` sent of each.
    following: HashMap<BoardId, i64>,
    access: Arc<dyn BoardAccess>,
}

impl Live {
    pub fn new(caller: Option<Caller>, access: Arc<dyn BoardAccess>) -> Self {
        Self {
            caller,
            following: HashMap::new(),
            access,
        }
    }

    /// The signed-in account's username, for `hello`.
    pub fn username(&self) -> Option<String> {
        self.caller.as_ref().map(|c| c.account.username.clone())
    }

    /// The message to send for a hub event, if this session follows its board and has not sent
    /// it yet (a replay may have covered it).
    pub fn event(&mut self, event: &Event) -> Option<Outgoing> {
        let sent = self.following.get_mut(&event.board)?;
        if event.seq <= *sent {
            return None;
        }
        *sent = event.seq;
        Some(Outgoing {
            text: event.text.clone(),
            seq: event.is_task_event.then_some(event.seq),
        })
    }

    /// Follows `board` (again): `subscribed` and the replay, or `unsubscribed` with the reason.
    pub async fn subscribe(&mut self, board: BoardId, since: Option<i64>) -> Vec<Outgoing> {
        self.try_subscribe(board, since)
            .await
            .unwrap_or_else(|reason| vec![ended(board, reason)])
    }

    /// Like [`Live::subscribe`], with a refusal as an error (an event stream answers it with an
    /// HTTP status instead of a message).
    pub async fn try_subscribe(
        &mut self,
        board: BoardId,
        since: Option<i64>,
    ) -> Result<Vec<Outgoing>, EndReason> {
        match self.access.open(self.caller.as_ref(), board, since).await {
            Ok(opened) => {
                self.following.insert(board, opened.seq);
                Ok(opened.messages)
            }
            Err(reason) => {
                self.following.remove(&board);
                Err(reason)
            }
        }
    }

    pub fn unsubscribe(&mut self, board: BoardId) -> Vec<Outgoing> {
        self.following.remove(&board);
        vec![ended(board, EndReason::Requested)]
    }

    /// The session fell behind the hub: every board it follows must reload.
    pub fn lagged(&self, missed: u64) -> Vec<Outgoing> {
        crate::monitoring::resync("lagged");
        vec![Outgoing::from(&ServerMsg::Resync {
            board: None,
            reason: format!("this connection fell {missed} events behind"),
        })]
    }

    /// Acts on an access change (`None`: some were missed, so any might apply): re-checks when it
    /// may concern this session, and ends what no longer holds.
    pub async fn access_changed(&mut self, change: Option<&AccessChange>) -> Vec<Outgoing> {
        let Some(caller) = &self.caller else {
            return Vec::new();
        };
        let concerns = change.is_none_or(|change| match (change.user, change.board) {
            (Some(user), _) => user == caller.account.id,
            (None, Some(board)) => self.following.contains_key(&board),
            (None, None) => false,
        });
        if !concerns {
            return Vec::new();
        }
        let boards: Vec<BoardId> = self.following.keys().copied().collect();
        match self.access.recheck(caller, boards).await {
            Recheck::SignedOut => {
                tracing::info!(user = %caller.account.id, "live session signed out");
                self.caller = None;
                self.following
                    .drain()
                    .map(|(board, _)| ended(board, EndReason::SignedOut))
                    .collect()
            }
            Recheck::Ended(boards) => boards
                .into_iter()
                .filter(|board| self.following.remove(board).is_some())
                .map(|board| ended(board, EndReason::Revoked))
                .collect(),
        }
    }
}

fn ended(board: BoardId, reason: EndReason) -> Outgoing {
    Outgoing::from(&ServerMsg::Unsubscribed { board, reason })
}

/// [`BoardAccess`] backed by the store, what this instance remembers of memberships, and its
/// event hub.
pub struct StoreAccess {
    pub store: Arc<dyn Store>,
    pub cache: Arc<AccessCache>,
    pub events: EventHub,
}

#[async_trait]
impl BoardAccess for StoreAccess {
    async fn open(
        &self,
        caller: Option<&Caller>,
        board: BoardId,
        since: Option<i64>,
    ) -> Result<Opened, EndReason> {
        let caller = caller.ok_or(EndReason::SignInRequired)?;
        // Remembered like the REST routes' checks: a reconnect storm of one account's tabs, or of
        // a team, costs one read per membership, not one per connection.
        let seen = self
            .cache
            .board_or_read(&*self.store, caller.account.id, board)
            .await;
        match seen {
            Ok(Some(_)) => {}
            Ok(None) => return Err(EndReason::NotFound),
            Err(error) => {
                tracing::warn!(%error, "cannot check a subscription");
                return Err(EndReason::Unavailable);
            }
        }
        let subscribed = |seq| Outgoing::from(&ServerMsg::Subscribed { board, seq });
        let resync = |reason| {
            crate::monitoring::resync("replay");
            Outgoing::from(&ServerMsg::Resync {
                board: Some(board),
                reason,
            })
        };
        // The session hears every event published from now on, so a fresh subscription, or one
        // resuming from exactly what this instance published, needs no read of the log.
        let published = self.events.published(board);
        let since = match since {
            None => return Ok(opened(vec![subscribed(published)], published)),
            Some(since) if since == published => {
                return Ok(opened(vec![subscribed(published)], published));
            }
            Some(since) => since,
        };
        // From the store, not this instance's memory: a client may resume on any instance.
        let replay = self
            .store
            .events_since(board, since, MAX_REPLAY)
            .await
            .map_err(|_| EndReason::Unavailable)?;
        Ok(match replay {
            Replay::Events { head, events } if events.last().is_none_or(|e| e.seq == head) => {
                let mut messages = vec![subscribed(head)];
                messages.extend(
                    events
                        .iter()
                        .map(|event| Outgoing::from(&event.to_message())),
                );
                opened(messages, head)
            }
            Replay::Events { head, .. } => {
                let reason = format!("more than {MAX_REPLAY} events happened after {since}");
                opened(vec![subscribed(head), resync(reason)], head)
            }
            Replay::Unavailable { head, reason } => {
                opened(vec![subscribed(head), resync(reason)], head)
            }
        })
    }

    async fn recheck(&self, caller: &Caller, boards: Vec<BoardId>) -> Recheck {
        let holds = match &caller.credential {
            Credential::Session(id_hash) => self
                .store
                .session_user(id_hash, now_ms())
                .await
                .map(|user| user.is_some()),
            Credential::Token { secret_hash, .. } => self
                .store
                .token_user(secret_hash, now_ms())
                .await
                .map(|user| user.is_some()),
        };
        // A database that does not answer revokes nothing: the next change checks again.
        if matches!(holds, Ok(false)) {
            return Recheck::SignedOut;
        }
        let mut ended = Vec::new();
        for board in boards {
            if let Ok(None) = self.store.board(caller.account.id, board).await {
                ended.push(board);
            }
        }
        Recheck::Ended(ended)
    }
}

fn opened(messages: Vec<Outgoing>, seq: i64) -> Opened {
    Opened { messages, seq }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use shared::{Account, UserId};

    use super::*;

    const BOARD: BoardId = BoardId(7);

    /// Lets everyone follow the boards in `allowed` (from seq 10), and reports `recheck` as set.
    #[derive(Default)]
    struct Fake {
        allowed: Vec<BoardId>,
        recheck: Mutex<Option<Recheck>>,
        rechecks: Mutex<u32>,
    }

    #[async_trait]
    impl BoardAccess for Fake {
        async fn open(
            &self,
            caller: Option<&Caller>,
            board: BoardId,
            _: Option<i64>,
        ) -> Result<Opened, EndReason> {
            caller.ok_or(EndReason::SignInRequired)?;
            if !self.allowed.contains(&board) {
                return Err(EndReason::NotFound);
            }
            Ok(opened(
                vec![Outgoing::from(&ServerMsg::Subscribed { board, seq: 10 })],
                10,
            ))
        }

        async fn recheck(&self, _: &Caller, _: Vec<BoardId>) -> Recheck {
            *self.rechecks.lock().unwrap() += 1;
            self.recheck
                .lock()
                .unwrap()
                .take()
                .unwrap_or(Recheck::Ended(Vec::new()))
        }
    }

    fn ada() -> Caller {
        Caller {
            account: Account {
                id: UserId(1),
                username: "ada".into(),
            },
            credential: Credential::Session("s".into()),
        }
    }

    fn event(board: BoardId, seq: i64) -> Event {
        Event {
            board,
            seq,
            text: format!("{board}:{seq}").into(),
            is_task_event: true,
            published: std::time::Instant::now(),
        }
    }

    fn parsed(messages: &[Outgoing]) -> Vec<ServerMsg> {
        messages
            .iter()
            .map(|m| serde_json::from_str(&m.text).unwrap())
            .collect()
    }

    fn live(fake: Fake) -> (Live, Arc<Fake>) {
        let fake = Arc::new(fake);
        (Live::new(Some(ada()), fake.clone()), fake)
    }

    #[tokio::test]
    async fn a_session_sends_only_the_followed_boards_events_after_what_it_covered() {
        let (mut live, _) = live(Fake {
            allowed: vec![BOARD],
            ..Fake::default()
        });
        assert_eq!(live.event(&event(BOARD, 11)), None, "not followed yet");

        let subscribed = live.subscribe(BOARD, None).await;

        assert_eq!(
            parsed(&subscribed),
            [ServerMsg::Subscribed {
                board: BOARD,
                seq: 10
            }]
        );
        assert_eq!(
            live.event(&event(BOARD, 10)),
            None,
            "covered by the subscription"
        );
        assert_eq!(
            live.event(&event(BOARD, 11)),
            Some(Outgoing {
                text: "7:11".into(),
                seq: Some(11)
            })
        );
        assert_eq!(live.event(&event(BoardId(8), 12)), None, "another board");
        live.unsubscribe(BOARD);
        assert_eq!(live.event(&event(BOARD, 12)), None);
    }

    #[tokio::test]
    async fn a_refused_subscription_says_why_and_follows_nothing() {
        let (mut live, _) = live(Fake::default());
        let refused = live.subscribe(BOARD, Some(3)).await;
        assert_eq!(
            parsed(&refused),
            [ServerMsg::Unsubscribed {
                board: BOARD,
                reason: EndReason::NotFound
            }]
        );
        let mut anonymous = Live::new(None, Arc::new(Fake::default()));
        let refused = anonymous.subscribe(BOARD, None).await;
        assert!(matches!(
            parsed(&refused)[0],
            ServerMsg::Unsubscribed {
                reason: EndReason::SignInRequired,
                ..
            }
        ));
    }

    #[tokio::test]
    async fn an_access_change_of_someone_else_is_not_even_checked() {
        let (mut live, fake) = live(Fake {
            allowed: vec![BOARD],
            ..Fake::default()
        });
        live.subscribe(BOARD, None).await;
        let other = AccessChange {
            seq: 1,
            user: Some(UserId(2)),
            board: Some(BoardId(9)),
        };
        assert!(live.access_changed(Some(&other)).await.is_empty());
        assert_eq!(*fake.rechecks.lock().unwrap(), 0);
    }

    #[tokio::test]
    async fn losing_a_board_ends_its_subscription_with_revoked() {
        let (mut live, fake) = live(Fake {
            allowed: vec![BOARD],
            ..Fake::default()
        });
        live.subscribe(BOARD, None).await;
        *fake.recheck.lock().unwrap() = Some(Recheck::Ended(vec![BOARD]));
        let deleted = AccessChange {
            seq: 1,
            user: None,
            board: Some(BOARD),
        };

        let ended = live.access_changed(Some(&deleted)).await;

        assert_eq!(
            parsed(&ended),
            [ServerMsg::Unsubscribed {
                board: BOARD,
                reason: EndReason::Revoked
            }]
        );
        assert_eq!(live.event(&event(BOARD, 11)), None);
    }

    #[tokio::test]
    async fn signing_out_ends_every_subscription_and_leaves_the_session_anonymous() {
        let (mut live, fake) = live(Fake {
            allowed: vec![BOARD, BoardId(8)],
            ..Fake::default()
        });
        live.subscribe(BOARD, None).await;
        live.subscribe(BoardId(8), None).await;
        *fake.recheck.lock().unwrap() = Some(Recheck::SignedOut);

        let ended = live.access_changed(None).await;

        assert_eq!(ended.len(), 2);
        assert!(parsed(&ended).iter().all(|m| matches!(
            m,
            ServerMsg::Unsubscribed {
                reason: EndReason::SignedOut,
                ..
            }
        )));
        assert_eq!(live.username(), None);
        let again = live.subscribe(BOARD, None).await;
        assert!(matches!(
            parsed(&again)[0],
            ServerMsg::Unsubscribed {
                reason: EndReason::SignInRequired,
                ..
            }
        ));
    }

    #[test]
    fn every_kind_of_task_event_carries_its_seq_and_nothing_else_does() {
        let task = shared::Task {
            id: shared::TaskId(5),
            title: "t".into(),
            done: false,
            created_at: Default::default(),
            version: 1,
            created_by: Some("ada".into()),
            updated_by: None,
        };
        let board = BOARD;
        let cases = [
            (
                ServerMsg::TaskCreated {
                    board,
                    seq: 12,
                    task: task.clone(),
                },
                Some(12),
            ),
            (
                ServerMsg::TaskUpdated {
                    board,
                    seq: 13,
                    task,
                },
                Some(13),
            ),
            (
                ServerMsg::TaskDeleted {
                    board,
                    seq: 14,
                    id: shared::TaskId(5),
                },
                Some(14),
            ),
            (ServerMsg::Subscribed { board, seq: 9 }, None),
            (
                ServerMsg::Resync {
                    board: Some(board),
                    reason: "r".into(),
                },
                None,
            ),
            (
                ServerMsg::Unsubscribed {
                    board,
                    reason: EndReason::Revoked,
                },
                None,
            ),
        ];
        for (message, expected) in cases {
            assert_eq!(Outgoing::from(&message).seq, expected, "{message:?}");
        }
    }
}
