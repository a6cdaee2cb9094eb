//! What this instance remembers of who is asking and what they may see, so that a request costs
//! no database read for its session, token or membership: every access change drops what it may
//! concern, whether this instance made it (dropped at once) or another did (dropped when the
//! follower in `access` reads it, within its poll). Entries also expire after [`TTL`], so nothing
//! stale outlives a missed change for long, and the cache is emptied when it grows past
//! [`MAX_ENTRIES`].

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use shared::{Account, Board, BoardId, TokenId, UserId};

use crate::store::{AccountStore, StoreError};

/// How long an entry is trusted without a change saying otherwise.
pub const TTL: Duration = Duration::from_secs(30);
/// Most entries per kind before the cache starts over.
const MAX_ENTRIES: usize = 100_000;

/// One kind of entry, each with when it was remembered.
struct Entries<K, V>(Mutex<HashMap<K, (V, Instant)>>);

impl<K: Eq + Hash, V: Clone> Entries<K, V> {
    fn new() -> Self {
        Self(Mutex::new(HashMap::new()))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, (V, Instant)>> {
        // Plain maps of copies: a panic elsewhere cannot leave one half-written.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn get(&self, key: &K) -> Option<V> {
        let entries = self.lock();
        let (value, at) = entries.get(key)?;
        (at.elapsed() < TTL).then(|| value.clone())
    }

    fn put(&self, key: K, value: V) {
        let mut entries = self.lock();
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(key, (value, Instant::now()));
    }

    fn forget(&self, doomed: impl Fn(&K, &V) -> bool) {
        self.lock().retain(|key, (value, _)| !doomed(key, value));
    }
}

/// Sessions, tokens and memberships as last read from the store.
pub struct AccessCache {
    sessions: Entries<String, Account>,
    tokens: Entries<String, (Account, TokenId)>,
    /// `None`: not a member (or no such board).
    boards: Entries<(UserId, BoardId), Option<Board>>,
}

impl Default for AccessCache {
    fn default() -> Self {
        Self {
            sessions: Entries::new(),
            tokens: Entries::new(),
            boards: Entries::new(),
        }
    }
}

impl AccessCache {
    pub fn session(&self, id_hash: &str) -> Option<Account> {
        self.sessions.get(&id_hash.to_owned())
    }

    pub fn remember_session(&self, id_hash: &str, account: Account) {
        self.sessions.put(id_hash.to_owned(), account);
    }

    /// Drops one session (ended here: its account's other sessions stay).
    pub fn forget_session(&self, id_hash: &str) {
        self.sessions.forget(|key, _| key == id_hash);
    }

    pub fn token(&self, secret_hash: &str) -> Option<(Account, TokenId)> {
        self.tokens.get(&secret_hash.to_owned())
    }

    pub fn remember_token(&self, secret_hash: &str, found: (Account, TokenId)) {
        self.tokens.put(secret_hash.to_owned(), found);
    }

    /// The board as `user` sees it: `Some(None)` when they are known not to be a member.
    pub fn board(&self, user: UserId, board: BoardId) -> Option<Option<Board>> {
        self.boards.get(&(user, board))
    }

    pub fn remember_board(&self, user: UserId, board: BoardId, seen: Option<Board>) {
        self.boards.put((user, board), seen);
    }

    /// The board as `user` sees it, remembered or else read from `store` (and remembered).
    pub async fn board_or_read(
        &self,
        store: &dyn AccountStore,
        user: UserId,
        board: BoardId,
    ) -> Result<Option<Board>, StoreError> {
        if let Some(seen) = self.board(user, board) {
            return Ok(seen);
        }
        let seen = store.board(user, board).await?;
        self.remember_board(user, board, seen.clone());
        Ok(seen)
    }

    /// Drops everything a change of `user`'s access to `board` may concern: one membership; with
    /// no user, every membership of the board; with no board, the user's sessions and tokens.
    pub fn forget(&self, user: Option<UserId>, board: Option<BoardId>) {
        match (user, board) {
            (Some(user), Some(board)) => self.boards.forget(|key, _| *key == (user, board)),
            (None, Some(board)) => self.boards.forget(|key, _| key.1 == board),
            (Some(user), None) => {
                self.sessions.forget(|_, account| account.id == user);
                self.tokens.forget(|_, (account, _)| account.id == user);
            }
            (None, None) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(id: i64) -> Account {
        Account {
            id: UserId(id),
            username: format!("user{id}"),
        }
    }

    #[test]
    fn a_membership_change_drops_only_that_membership() {
        let cache = AccessCache::default();
        cache.remember_board(UserId(1), BoardId(5), None);
        cache.remember_board(UserId(2), BoardId(5), None);
        cache.forget(Some(UserId(1)), Some(BoardId(5)));
        assert_eq!(cache.board(UserId(1), BoardId(5)), None);
        assert_eq!(cache.board(UserId(2), BoardId(5)), Some(None));
    }

    #[test]
    fn a_deleted_board_drops_every_membership_of_it() {
        let cache = AccessCache::default();
        cache.remember_board(UserId(1), BoardId(5), None);
        cache.remember_board(UserId(2), BoardId(5), None);
        cache.remember_board(UserId(2), BoardId(6), None);
        cache.forget(None, Some(BoardId(5)));
        assert_eq!(cache.board(UserId(1), BoardId(5)), None);
        assert_eq!(cache.board(UserId(2), BoardId(5)), None);
        assert_eq!(cache.board(UserId(2), BoardId(6)), Some(None));
    }

    #[test]
    fn signing_out_drops_the_accounts_sessions_and_tokens_and_no_one_elses() {
        let cache = AccessCache::default();
        cache.remember_session("a", account(1));
        cache.remember_session("b", account(2));
        cache.remember_token("t", (account(1), TokenId(9)));
        cache.forget(Some(UserId(1)), None);
        assert_eq!(cache.session("a"), None);
        assert_eq!(cache.token("t"), None);
        assert_eq!(cache.session("b"), Some(account(2)));
    }
}
