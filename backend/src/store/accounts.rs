//! Accounts, sessions, access tokens, boards, members and rate-limit windows in the store.
//!
//! Both stores run the same SQL here (`$n` placeholders, `RETURNING`, `ON CONFLICT`: SQLite and
//! PostgreSQL both speak them), so the implementation is written once, in [`account_store!`], and
//! stamped onto each store. Secrets arrive already hashed (see `auth`): the store never sees a
//! password, a session id or a token secret.
//!
//! Changes that could leave a board without an owner lock the board row first (an `UPDATE` that
//! changes nothing): on PostgreSQL that serialises concurrent changes to one board's members, on
//! SQLite it takes the write lock before the owner count is read.

use async_trait::async_trait;
use shared::{
    Account, Board, BoardId, Member, Name, Role, Timestamp, TokenId, TokenInfo, UserId, Username,
};

use super::StoreError;

/// What adding a member came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Added {
    Member(Member),
    NoSuchUser,
    AlreadyMember,
}

/// What changing or removing a membership came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Membership {
    /// Done; the member as they are now (for a removal: as they were).
    Done(Member),
    NotMember,
    /// Refused: the board would be left without an owner.
    LastOwner,
}

/// A counted window of attempts for one rate-limit key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hits {
    /// Attempts in the current window, this one included.
    pub count: i64,
    /// When the current window ends (Unix milliseconds).
    pub resets_at_ms: i64,
}

/// A change of who may follow what, numbered gap-free across all instances: a member removed or
/// given another role (user and board), a board deleted (board only), a session ended or a token
/// revoked (user only). Live connections re-check what it may affect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessChange {
    pub seq: i64,
    pub user: Option<UserId>,
    pub board: Option<BoardId>,
}

/// How long access changes are kept for instances that fell behind.
pub const ACCESS_CHANGES_KEPT_MS: i64 = 60 * 60 * 1000;

/// How many expired records a purge removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    pub sessions: u64,
    pub rate_limits: u64,
    pub idempotency_keys: u64,
}

/// Accounts and boards, as the `auth` module and the account routes need them.
#[async_trait]
pub trait AccountStore: Send + Sync {
    /// Creates an account; `None` when the username is taken.
    async fn create_user(
        &self,
        username: &Username,
        password_hash: &str,
        now_ms: i64,
    ) -> Result<Option<Account>, StoreError>;
    /// The account and its password hash.
    async fn user_by_name(
        &self,
        username: &Username,
    ) -> Result<Option<(Account, String)>, StoreError>;

    async fn create_session(
        &self,
        id_hash: &str,
        user: UserId,
        now_ms: i64,
        expires_at_ms: i64,
    ) -> Result<(), StoreError>;
    /// The account of an unexpired session.
    async fn session_user(&self, id_hash: &str, now_ms: i64)
    -> Result<Option<Account>, StoreError>;
    /// Ends a session; whether it existed.
    async fn delete_session(&self, id_hash: &str) -> Result<bool, StoreError>;

    async fn create_token(
        &self,
        user: UserId,
        name: &Name,
        secret_hash: &str,
        now_ms: i64,
    ) -> Result<TokenInfo, StoreError>;
    /// The account a token belongs to (and the token's id); records its use.
    async fn token_user(
        &self,
        secret_hash: &str,
        now_ms: i64,
    ) -> Result<Option<(Account, TokenId)>, StoreError>;
    async fn tokens(&self, user: UserId) -> Result<Vec<TokenInfo>, StoreError>;
    /// Revokes one of `user`'s tokens; whether it existed.
    async fn delete_token(&self, user: UserId, token: TokenId) -> Result<bool, StoreError>;

    /// Creates a board with `owner` as its owner.
    async fn create_board(
        &self,
        owner: UserId,
        name: &Name,
        now_ms: i64,
    ) -> Result<Board, StoreError>;
    /// Makes `user` the owner of every board without members (board 1, with the tasks of before
    /// accounts, on an upgraded database); the boards adopted.
    async fn adopt_ownerless_boards(&self, user: UserId) -> Result<Vec<BoardId>, StoreError>;
    /// The boards `user` is a member of, with their role, oldest first.
    async fn boards(&self, user: UserId) -> Result<Vec<Board>, StoreError>;
    /// One board as `user` sees it; `None` when it does not exist or `user` is not a member.
    async fn board(&self, user: UserId, board: BoardId) -> Result<Option<Board>, StoreError>;
    /// Renames a board; whether it exists.
    async fn rename_board(&self, board: BoardId, name: &Name) -> Result<bool, StoreError>;
    /// Deletes a board with its members; whether it existed.
    async fn delete_board(&self, board: BoardId) -> Result<bool, StoreError>;

    /// The members of a board, owners first, then by name.
    async fn members(&self, board: BoardId) -> Result<Vec<Member>, StoreError>;
    async fn add_member(
        &self,
        board: BoardId,
        username: &Username,
        role: Role,
    ) -> Result<Added, StoreError>;
    async fn set_role(
        &self,
        board: BoardId,
        user: UserId,
        role: Role,
    ) -> Result<Membership, StoreError>;
    async fn remove_member(&self, board: BoardId, user: UserId) -> Result<Membership, StoreError>;

    /// Counts one attempt under `key` in a fixed window of `window_ms`.
    async fn hit(&self, key: &str, window_ms: i64, now_ms: i64) -> Result<Hits, StoreError>;
    /// The attempts counted under `key` in its current window, without adding one.
    async fn hits(&self, key: &str, now_ms: i64) -> Result<Hits, StoreError>;

    /// Removes expired sessions, rate-limit windows, idempotency keys older than `keys_before_ms`
    /// and access changes older than [`ACCESS_CHANGES_KEPT_MS`].
    async fn purge(&self, now_ms: i64, keys_before_ms: i64) -> Result<Purged, StoreError>;

    /// The newest access change's `seq`.
    async fn access_head(&self) -> Result<i64, StoreError>;
    /// Up to `limit` access changes after `after`, in order.
    async fn access_changes(&self, after: i64, limit: u32)
    -> Result<Vec<AccessChange>, StoreError>;
}

pub(super) fn at(ms: i64, what: &str) -> Result<Timestamp, StoreError> {
    Timestamp::from_millis(ms)
        .ok_or_else(|| StoreError::Corrupt(format!("{what} has a time out of range")))
}

pub(super) fn role(raw: &str) -> Result<Role, StoreError> {
    Role::parse(raw).ok_or_else(|| StoreError::Corrupt(format!("a member has the role {raw:?}")))
}

/// A `boards` row joined with the asking member's role.
#[derive(sqlx::FromRow)]
pub(super) struct BoardRow {
    pub id: i64,
    pub name: String,
    pub created_at_ms: i64,
    pub role: String,
}

impl TryFrom<BoardRow> for Board {
    type Error = StoreError;

    fn try_from(row: BoardRow) -> Result<Self, StoreError> {
        Ok(Board {
            id: BoardId(row.id),
            name: row.name,
            role: role(&row.role)?,
            created_at: at(row.created_at_ms, "a board")?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct TokenRow {
    pub id: i64,
    pub name: String,
    pub created_at_ms: i64,
    pub last_used_at_ms: Option<i64>,
}

impl TryFrom<TokenRow> for TokenInfo {
    type Error = StoreError;

    fn try_from(row: TokenRow) -> Result<Self, StoreError> {
        Ok(TokenInfo {
            id: TokenId(row.id),
            name: row.name,
            created_at: at(row.created_at_ms, "a token")?,
            last_used_at: row
                .last_used_at_ms
                .map(|ms| at(ms, "a token"))
                .transpose()?,
        })
    }
}

/// Records an access change inside the transaction `$tx` that makes it (the counter row first
/// taken, so the numbers are gap-free and in commit order).
macro_rules! record_access {
    ($tx:expr, $user:expr, $board:expr, $now:expr) => {{
        let seq: i64 = sqlx::query_scalar(
            "UPDATE access_head SET head = head + 1 WHERE id = 1 RETURNING head",
        )
        .fetch_one(&mut *$tx)
        .await?;
        sqlx::query(
            "INSERT INTO access_changes (seq, user_id, board_id, at_ms) VALUES ($1, $2, $3, $4)",
        )
        .bind(seq)
        .bind($user)
        .bind($board)
        .bind($now)
        .execute(&mut *$tx)
        .await?;
    }};
}

pub(crate) use record_access;

pub(super) fn member(
    (user_id, username, raw_role): (i64, String, String),
) -> Result<Member, StoreError> {
    Ok(Member {
        user_id: UserId(user_id),
        username,
        role: role(&raw_role)?,
    })
}

/// The SQL of [`AccountStore`], written once and implemented for a store type whose `pool` field
/// is an sqlx pool; every call is bounded by `super::bounded`.
macro_rules! account_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::accounts::AccountStore for $store {
            async fn create_user(
                &self,
                username: &shared::Username,
                password_hash: &str,
                now_ms: i64,
            ) -> Result<Option<shared::Account>, StoreError> {
                bounded(async {
                    let id: Option<i64> = sqlx::query_scalar(
                        "INSERT INTO users (username, password_hash, created_at_ms) \
                         VALUES ($1, $2, $3) ON CONFLICT (username) DO NOTHING RETURNING id",
                    )
                    .bind(username.as_str())
                    .bind(password_hash)
                    .bind(now_ms)
                    .fetch_optional(&self.pool)
                    .await?;
                    Ok(id.map(|id| shared::Account {
                        id: shared::UserId(id),
                        username: username.as_str().to_owned(),
                    }))
                })
                .await
            }

            async fn user_by_name(
                &self,
                username: &shared::Username,
            ) -> Result<Option<(shared::Account, String)>, StoreError> {
                bounded(async {
                    let row: Option<(i64, String, String)> = sqlx::query_as(
                        "SELECT id, username, password_hash FROM users WHERE username = $1",
                    )
                    .bind(username.as_str())
                    .fetch_optional(&self.pool)
                    .await?;
                    Ok(row.map(|(id, username, hash)| {
                        (
                            shared::Account {
                                id: shared::UserId(id),
                                username,
                            },
                            hash,
                        )
                    }))
                })
                .await
            }

            async fn create_session(
                &self,
                id_hash: &str,
                user: shared::UserId,
                now_ms: i64,
                expires_at_ms: i64,
            ) -> Result<(), StoreError> {
                bounded(async {
                    sqlx::query(
                        "INSERT INTO sessions (id_hash, user_id, created_at_ms, expires_at_ms) \
                         VALUES ($1, $2, $3, $4)",
                    )
                    .bind(id_hash)
                    .bind(user.0)
                    .bind(now_ms)
                    .bind(expires_at_ms)
                    .execute(&self.pool)
                    .await?;
                    Ok(())
                })
                .await
            }

            async fn session_user(
                &self,
                id_hash: &str,
                now_ms: i64,
            ) -> Result<Option<shared::Account>, StoreError> {
                bounded(async {
                    let row: Option<(i64, String)> = sqlx::query_as(
                        "SELECT u.id, u.username FROM sessions s JOIN users u ON u.id = s.user_id \
                         WHERE s.id_hash = $1 AND s.expires_at_ms > $2",
                    )
                    .bind(id_hash)
                    .bind(now_ms)
                    .fetch_optional(&self.pool)
                    .await?;
                    Ok(row.map(|(id, username)| shared::Account {
                        id: shared::UserId(id),
                        username,
                    }))
                })
                .await
            }

            async fn delete_session(&self, id_hash: &str) -> Result<bool, StoreError> {
                bounded(async {
                    let mut tx = self.pool.begin().await?;
                    let user: Option<i64> =
                        sqlx::query_scalar("DELETE FROM sessions WHERE id_hash = $1 RETURNING user_id")
                            .bind(id_hash)
                            .fetch_optional(&mut *tx)
                            .await?;
                    if let Some(user) = user {
                        $crate::store::accounts::record_access!(tx, Some(user), None::<i64>, $crate::auth::now_ms());
                    }
                    tx.commit().await?;
                    Ok(user.is_some())
                })
                .await
            }

            async fn create_token(
                &self,
                user: shared::UserId,
                name: &shared::Name,
                secret_hash: &str,
                now_ms: i64,
            ) -> Result<shared::TokenInfo, StoreError> {
                bounded(async {
                    let row: $crate::store::accounts::TokenRow = sqlx::query_as(
                        "INSERT INTO tokens (user_id, name, secret_hash, created_at_ms) \
                         VALUES ($1, $2, $3, $4) \
                         RETURNING id, name, created_at_ms, last_used_at_ms",
                    )
                    .bind(user.0)
                    .bind(name.as_str())
                    .bind(secret_hash)
                    .bind(now_ms)
                    .fetch_one(&self.pool)
                    .await?;
                    row.try_into()
                })
                .await
            }

            async fn token_user(
                &self,
                secret_hash: &str,
                now_ms: i64,
            ) -> Result<Option<(shared::Account, shared::TokenId)>, StoreError> {
                bounded(async {
                    // Two statements: SQLite's RETURNING cannot name the joined table.
                    let token: Option<(i64, i64)> = sqlx::query_as(
                        "UPDATE tokens SET last_used_at_ms = $2 WHERE secret_hash = $1 \
                         RETURNING id, user_id",
                    )
                    .bind(secret_hash)
                    .bind(now_ms)
                    .fetch_optional(&self.pool)
                    .await?;
                    let Some((token, user)) = token else {
                        return Ok(None);
                    };
                    let username: Option<String> =
                        sqlx::query_scalar("SELECT username FROM users WHERE id = $1")
                            .bind(user)
                            .fetch_optional(&self.pool)
                            .await?;
                    Ok(username.map(|username| {
                        (
                            shared::Account {
                                id: shared::UserId(user),
                                username,
                            },
                            shared::TokenId(token),
                        )
                    }))
                })
                .await
            }

            async fn tokens(
                &self,
                user: shared::UserId,
            ) -> Result<Vec<shared::TokenInfo>, StoreError> {
                bounded(async {
                    let rows: Vec<$crate::store::accounts::TokenRow> = sqlx::query_as(
                        "SELECT id, name, created_at_ms, last_used_at_ms FROM tokens \
                         WHERE user_id = $1 ORDER BY id",
                    )
                    .bind(user.0)
                    .fetch_all(&self.pool)
                    .await?;
                    rows.into_iter().map(TryInto::try_into).collect()
                })
                .await
            }

            async fn delete_token(
                &self,
                user: shared::UserId,
                token: shared::TokenId,
            ) -> Result<bool, StoreError> {
                bounded(async {
                    let mut tx = self.pool.begin().await?;
                    let done = sqlx::query("DELETE FROM tokens WHERE id = $1 AND user_id = $2")
                        .bind(token.0)
                        .bind(user.0)
                        .execute(&mut *tx)
                        .await?;
                    if done.rows_affected() > 0 {
                        $crate::store::accounts::record_access!(tx, Some(user.0), None::<i64>, $crate::auth::now_ms());
                    }
                    tx.commit().await?;
                    Ok(done.rows_affected() > 0)
                })
                .await
            }

            async fn create_board(
                &self,
                owner: shared::UserId,
                name: &shared::Name,
                now_ms: i64,
            ) -> Result<shared::Board, StoreError> {
                bounded(async {
                    let mut tx = self.pool.begin().await?;
                    let id: i64 = sqlx::query_scalar(
                        "INSERT INTO boards (name, created_at_ms) VALUES ($1, $2) RETURNING id",
                    )
                    .bind(name.as_str())
                    .bind(now_ms)
                    .fetch_one(&mut *tx)
                    .await?;
                    sqlx::query(
                        "INSERT INTO members (board_id, user_id, role) VALUES ($1, $2, 'owner')",
                    )
                    .bind(id)
                    .bind(owner.0)
                    .execute(&mut *tx)
                    .await?;
                    // The board's own event stream.
                    sqlx::query("INSERT INTO streams (id, head) VALUES ($1, 0)")
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await?;
                    Ok(shared::Board {
                        id: shared::BoardId(id),
                        name: name.as_str().to_owned(),
                        role: shared::Role::Owner,
                        created_at: $crate::store::accounts::at(now_ms, "a board")?,
                    })
                })
                .await
            }

            async fn adopt_ownerless_boards(
                &self,
                user: shared::UserId,
            ) -> Result<Vec<shared::BoardId>, StoreError> {
                bounded(async {
                    let ids: Vec<i64> = sqlx::query_scalar(
                        "INSERT INTO members (board_id, user_id, role) \
                         SELECT b.id, $1, 'owner' FROM boards b \
                         WHERE NOT EXISTS (SELECT 1 FROM members m WHERE m.board_id = b.id) \
                         RETURNING board_id",
                    )
                    .bind(user.0)
                    .fetch_all(&self.pool)
                    .await?;
                    Ok(ids.into_iter().map(shared::BoardId).collect())
                })
                .await
            }

            async fn boards(&self, user: shared::UserId) -> Result<Vec<shared::Board>, StoreError> {
                bounded(async {
                    let rows: Vec<$crate::store::accounts::BoardRow> = sqlx::query_as(
                        "SELECT b.id, b.name, b.created_at_ms, m.role FROM boards b \
                         JOIN members m ON m.board_id = b.id WHERE m.user_id = $1 ORDER BY b.id",
                    )
                    .bind(user.0)
                    .fetch_all(&self.pool)
                    .await?;
                    rows.into_iter().map(TryInto::try_into).collect()
                })
                .await
            }

            async fn board(
                &self,
                user: shared::UserId,
                board: shared::BoardId,
            ) -> Result<Option<shared::Board>, StoreError> {
                bounded(async {
                    let row: Option<$crate::store::accounts::BoardRow> = sqlx::query_as(
                        "SELECT b.id, b.name, b.created_at_ms, m.role FROM boards b \
                         JOIN members m ON m.board_id = b.id WHERE b.id = $1 AND m.user_id = $2",
                    )
                    .bind(board.0)
                    .bind(user.0)
                    .fetch_optional(&self.pool)
                    .await?;
                    row.map(TryInto::try_into).transpose()
                })
                .await
            }

            async fn rename_board(
                &self,
                board: shared::BoardId,
                name: &shared::Name,
            ) -> Result<bool, StoreError> {
                bounded(async {
                    let mut tx = self.pool.begin().await?;
                    let done = sqlx::query("UPDATE boards SET name = $1 WHERE id = $2")
                        .bind(name.as_str())
                        .bind(board.0)
                        .execute(&mut *tx)
                        .await?;
                    if done.rows_affected() > 0 {
                        $crate::store::accounts::record_access!(tx, None::<i64>, Some(board.0), $crate::auth::now_ms());
                    }
                    tx.commit().await?;
                    Ok(done.rows_affected() > 0)
                })
                .await
            }

            async fn delete_board(&self, board: shared::BoardId) -> Result<bool, StoreError> {
                bounded(async {
                    let mut tx = self.pool.begin().await?;
                    // The stream row first, as writers take it: a write to the board waits, then
                    // finds no board.
                    sqlx::query("DELETE FROM streams WHERE id = $1")
                        .bind(board.0)
                        .execute(&mut *tx)
                        .await?;
                    for table in ["tasks", "events"] {
                        sqlx::query(&format!("DELETE FROM {table} WHERE board_id = $1"))
                            .bind(board.0)
                            .execute(&mut *tx)
                            .await?;
                    }
                    let done = sqlx::query("DELETE FROM boards WHERE id = $1")
                        .bind(board.0)
                        .execute(&mut *tx)
                        .await?;
                    if done.rows_affected() > 0 {
                        $crate::store::accounts::record_access!(tx, None::<i64>, Some(board.0), $crate::auth::now_ms());
                    }
                    tx.commit().await?;
                    Ok(done.rows_affected() > 0)
                })
                .await
            }

            async fn members(
                &self,
                board: shared::BoardId,
            ) -> Result<Vec<shared::Member>, StoreError> {
                bounded(async {
                    let rows: Vec<(i64, String, String)> = sqlx::query_as(
                        "SELECT u.id, u.username, m.role FROM members m \
                         JOIN users u ON u.id = m.user_id WHERE m.board_id = $1 \
                         ORDER BY CASE m.role WHEN 'owner' THEN 0 WHEN 'editor' THEN 1 ELSE 2 END, \
                         u.username",
                    )
                    .bind(board.0)
                    .fetch_all(&self.pool)
                    .await?;
                    rows.into_iter()
                        .map($crate::store::accounts::member)
                        .collect()
                })
                .await
            }

            async fn add_member(
                &self,
                board: shared::BoardId,
                username: &shared::Username,
                role: shared::Role,
            ) -> Result<$crate::store::accounts::Added, StoreError> {
                use $crate::store::accounts::Added;
                bounded(async {
                    let Some(user): Option<i64> =
                        sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
                            .bind(username.as_str())
                            .fetch_optional(&self.pool)
                            .await?
                    else {
                        return Ok(Added::NoSuchUser);
                    };
                    let mut tx = self.pool.begin().await?;
                    let added = sqlx::query(
                        "INSERT INTO members (board_id, user_id, role) VALUES ($1, $2, $3) \
                         ON CONFLICT (board_id, user_id) DO NOTHING",
                    )
                    .bind(board.0)
                    .bind(user)
                    .bind(role.as_str())
                    .execute(&mut *tx)
                    .await?;
                    if added.rows_affected() > 0 {
                        // A grant is a change of access too: other instances drop what they
                        // remember of this membership.
                        $crate::store::accounts::record_access!(tx, Some(user), Some(board.0), $crate::auth::now_ms());
                    }
                    tx.commit().await?;
                    Ok(if added.rows_affected() == 0 {
                        Added::AlreadyMember
                    } else {
                        Added::Member(shared::Member {
                            user_id: shared::UserId(user),
                            username: username.as_str().to_owned(),
                            role,
                        })
                    })
                })
                .await
            }

            async fn set_role(
                &self,
                board: shared::BoardId,
                user: shared::UserId,
                role: shared::Role,
            ) -> Result<$crate::store::accounts::Membership, StoreError> {
                self.change_membership(board, user, Some(role)).await
            }

            async fn remove_member(
                &self,
                board: shared::BoardId,
                user: shared::UserId,
            ) -> Result<$crate::store::accounts::Membership, StoreError> {
                self.change_membership(board, user, None).await
            }

            async fn hit(
                &self,
                key: &str,
                window_ms: i64,
                now_ms: i64,
            ) -> Result<$crate::store::accounts::Hits, StoreError> {
                bounded(async {
                    let (count, start, window): (i64, i64, i64) = sqlx::query_as(
                        "INSERT INTO rate_limits (key, window_start_ms, window_ms, hits) \
                         VALUES ($1, $2, $3, 1) \
                         ON CONFLICT (key) DO UPDATE SET \
                           hits = CASE WHEN rate_limits.window_start_ms + rate_limits.window_ms <= $2 \
                                  THEN 1 ELSE rate_limits.hits + 1 END, \
                           window_start_ms = CASE WHEN rate_limits.window_start_ms + rate_limits.window_ms <= $2 \
                                  THEN $2 ELSE rate_limits.window_start_ms END, \
                           window_ms = $3 \
                         RETURNING hits, window_start_ms, window_ms",
                    )
                    .bind(key)
                    .bind(now_ms)
                    .bind(window_ms)
                    .fetch_one(&self.pool)
                    .await?;
                    Ok($crate::store::accounts::Hits {
                        count,
                        resets_at_ms: start + window,
                    })
                })
                .await
            }

            async fn hits(
                &self,
                key: &str,
                now_ms: i64,
            ) -> Result<$crate::store::accounts::Hits, StoreError> {
                bounded(async {
                    let row: Option<(i64, i64)> = sqlx::query_as(
                        "SELECT hits, window_start_ms + window_ms FROM rate_limits \
                         WHERE key = $1 AND window_start_ms + window_ms > $2",
                    )
                    .bind(key)
                    .bind(now_ms)
                    .fetch_optional(&self.pool)
                    .await?;
                    let (count, resets_at_ms) = row.unwrap_or((0, now_ms));
                    Ok($crate::store::accounts::Hits {
                        count,
                        resets_at_ms,
                    })
                })
                .await
            }

            async fn purge(
                &self,
                now_ms: i64,
                keys_before_ms: i64,
            ) -> Result<$crate::store::accounts::Purged, StoreError> {
                bounded(async {
                    let sessions = sqlx::query("DELETE FROM sessions WHERE expires_at_ms <= $1")
                        .bind(now_ms)
                        .execute(&self.pool)
                        .await?
                        .rows_affected();
                    let rate_limits = sqlx::query(
                        "DELETE FROM rate_limits WHERE window_start_ms + window_ms <= $1",
                    )
                    .bind(now_ms)
                    .execute(&self.pool)
                    .await?
                    .rows_affected();
                    let idempotency_keys =
                        sqlx::query("DELETE FROM idempotency_keys WHERE created_at_ms <= $1")
                            .bind(keys_before_ms)
                            .execute(&self.pool)
                            .await?
                            .rows_affected();
                    sqlx::query("DELETE FROM access_changes WHERE at_ms <= $1")
                        .bind(now_ms - $crate::store::accounts::ACCESS_CHANGES_KEPT_MS)
                        .execute(&self.pool)
                        .await?;
                    Ok($crate::store::accounts::Purged {
                        sessions,
                        rate_limits,
                        idempotency_keys,
                    })
                })
                .await
            }

            async fn access_head(&self) -> Result<i64, StoreError> {
                bounded(self.read_access_head()).await
            }

            async fn access_changes(
                &self,
                after: i64,
                limit: u32,
            ) -> Result<Vec<$crate::store::accounts::AccessChange>, StoreError> {
                bounded(async {
                    let rows: Vec<(i64, Option<i64>, Option<i64>)> = sqlx::query_as(
                        "SELECT seq, user_id, board_id FROM access_changes \
                         WHERE seq > $1 ORDER BY seq LIMIT $2",
                    )
                    .bind(after)
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await?;
                    Ok(rows
                        .into_iter()
                        .map(|(seq, user, board)| $crate::store::accounts::AccessChange {
                            seq,
                            user: user.map(shared::UserId),
                            board: board.map(shared::BoardId),
                        })
                        .collect())
                })
                .await
            }
        }

        impl $store {
            async fn read_access_head(&self) -> Result<i64, StoreError> {
                Ok(sqlx::query_scalar("SELECT head FROM access_head WHERE id = 1")
                    .fetch_one(&self.pool)
                    .await?)
            }

            /// Changes a member's role (`Some`) or removes them (`None`), refusing to leave the
            /// board without an owner; the board row is locked first (see the module docs).
            async fn change_membership(
                &self,
                board: shared::BoardId,
                user: shared::UserId,
                role: Option<shared::Role>,
            ) -> Result<$crate::store::accounts::Membership, StoreError> {
                use $crate::store::accounts::Membership;
                bounded(async {
                    let mut tx = self.pool.begin().await?;
                    sqlx::query("UPDATE boards SET id = id WHERE id = $1")
                        .bind(board.0)
                        .execute(&mut *tx)
                        .await?;
                    let current: Option<(i64, String, String)> = sqlx::query_as(
                        "SELECT u.id, u.username, m.role FROM members m \
                         JOIN users u ON u.id = m.user_id WHERE m.board_id = $1 AND m.user_id = $2",
                    )
                    .bind(board.0)
                    .bind(user.0)
                    .fetch_optional(&mut *tx)
                    .await?;
                    let Some(current) = current else {
                        return Ok(Membership::NotMember);
                    };
                    let mut member = $crate::store::accounts::member(current)?;
                    if member.role == shared::Role::Owner && role != Some(shared::Role::Owner) {
                        let owners: i64 = sqlx::query_scalar(
                            "SELECT count(*) FROM members WHERE board_id = $1 AND role = 'owner'",
                        )
                        .bind(board.0)
                        .fetch_one(&mut *tx)
                        .await?;
                        if owners <= 1 {
                            return Ok(Membership::LastOwner);
                        }
                    }
                    match role {
                        Some(role) => {
                            sqlx::query(
                                "UPDATE members SET role = $3 WHERE board_id = $1 AND user_id = $2",
                            )
                            .bind(board.0)
                            .bind(user.0)
                            .bind(role.as_str())
                            .execute(&mut *tx)
                            .await?;
                            member.role = role;
                        }
                        None => {
                            sqlx::query("DELETE FROM members WHERE board_id = $1 AND user_id = $2")
                                .bind(board.0)
                                .bind(user.0)
                                .execute(&mut *tx)
                                .await?;
                        }
                    }
                    $crate::store::accounts::record_access!(tx, Some(user.0), Some(board.0), $crate::auth::now_ms());
                    tx.commit().await?;
                    Ok(Membership::Done(member))
                })
                .await
            }
        }
    };
}

pub(crate) use account_store;
