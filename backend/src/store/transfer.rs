//! Moving a whole store to another ([`Snapshot`], `tasktick export` / `tasktick import`): accounts,
//! their sessions and tokens, boards and members, tasks, each board's event head, and the highest
//! id each table ever issued, so that ids, versions and `seq`s carry on where they were.
//!
//! Not moved: the event log's retained history and the store's identity (a client that resumes
//! against the new store sees another identity and reloads once, which needs no history), the
//! idempotency keys of the last day, rate-limit windows, and the instances' access-change log.
//!
//! Both stores speak the same SQL for all of it (the `$n` placeholders included), so the
//! implementation is written once, in [`transfer_store!`]; what differs (a consistent read, the id
//! counters) is a [`Dialect`].

use serde::{Deserialize, Serialize};

use super::StoreError;

/// What `tasktick export` writes: a JSON document of this shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Always [`FORMAT`].
    pub format: String,
    /// [`VERSION`]; an import refuses another.
    pub version: u32,
    /// The highest id each table ever issued (ids are never reused, even after a delete).
    pub counters: Counters,
    pub users: Vec<UserRow>,
    pub sessions: Vec<SessionRow>,
    pub tokens: Vec<TokenRow>,
    pub boards: Vec<BoardRow>,
    pub members: Vec<MemberRow>,
    pub tasks: Vec<TaskRow>,
    /// Each board's event head: its next event is `head + 1`.
    pub streams: Vec<StreamRow>,
}

pub const FORMAT: &str = "tasktick-export";
pub const VERSION: u32 = 1;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    pub users: i64,
    pub tokens: i64,
    pub boards: i64,
    pub tasks: i64,
}

impl Counters {
    /// Each counted table's name (as the store's counter rows name it) with its counter.
    pub fn by_table(&mut self) -> [(&'static str, &mut i64); 4] {
        [
            ("users", &mut self.users),
            ("tokens", &mut self.tokens),
            ("boards", &mut self.boards),
            ("tasks", &mut self.tasks),
        ]
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    /// Argon2id, as stored: the password itself is nowhere.
    pub password_hash: String,
    pub created_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct SessionRow {
    pub id_hash: String,
    pub user_id: i64,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct TokenRow {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    pub secret_hash: String,
    pub created_at_ms: i64,
    pub last_used_at_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct BoardRow {
    pub id: i64,
    pub name: String,
    pub created_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct MemberRow {
    pub board_id: i64,
    pub user_id: i64,
    pub role: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct TaskRow {
    pub id: i64,
    pub board_id: i64,
    pub title: String,
    pub done: bool,
    pub created_at_ms: i64,
    pub version: i64,
    pub created_by: Option<String>,
    pub updated_by: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct StreamRow {
    pub id: i64,
    pub head: i64,
}

/// Why an import did not happen (nothing was written).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(
        "the target store is not empty ({0}): import only into a new database, so that nothing is mixed or lost"
    )]
    NotEmpty(String),
    #[error("the file is not a tasktick export of version {VERSION} (format {0:?}, version {1})")]
    Format(String, u32),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Moving a whole store out and in; both stores implement it.
#[async_trait::async_trait]
pub trait Transfer {
    /// Everything [`Snapshot`] holds, as one consistent read (the server may be running).
    async fn export(&self) -> Result<Snapshot, StoreError>;
    /// Writes `snapshot` into this store, in one transaction, if the store is empty (new: no
    /// accounts, tasks, events or boards beyond the first, unused board every store starts with).
    async fn import(&self, snapshot: &Snapshot) -> Result<(), ImportError>;
}

/// The SQL in which the stores differ.
pub(super) struct Dialect {
    /// Run first in the export's transaction, so that every table is read at one moment.
    pub snapshot: &'static [&'static str],
    /// The highest id table `$1` ever issued (0 if none).
    pub read_counter: &'static str,
    /// Makes table `$1`'s next id follow `$2` (run after its rows are in, with explicit ids).
    pub write_counter: &'static [&'static str],
}

pub(super) const SQLITE: Dialect = Dialect {
    // A deferred transaction reads one snapshot of a WAL database from its first read on.
    snapshot: &[],
    read_counter: "SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = $1), 0)",
    write_counter: &[
        "INSERT INTO sqlite_sequence (name, seq) SELECT $1, $2 \
         WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = $1)",
        "UPDATE sqlite_sequence SET seq = $2 WHERE name = $1 AND seq < $2",
    ],
};

pub(super) const POSTGRES: Dialect = Dialect {
    snapshot: &["SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"],
    read_counter: "SELECT COALESCE((SELECT last_value FROM pg_sequences \
                   WHERE schemaname || '.' || sequencename = pg_get_serial_sequence($1, 'id')), 0)",
    write_counter: &["SELECT setval(pg_get_serial_sequence($1, 'id'), $2) WHERE $2 > 0"],
};

/// What makes a store not empty, as a query of counts (a new store has only board 1, unused).
pub(super) const CONTENTS: &str = "SELECT \
    (SELECT COUNT(*) FROM users), (SELECT COUNT(*) FROM tasks), (SELECT COUNT(*) FROM events), \
    (SELECT COUNT(*) FROM boards WHERE id <> 1), (SELECT COUNT(*) FROM members)";

/// `contents` (the counts of [`CONTENTS`]) in words, or `None` when all are zero.
pub(super) fn described(
    (users, tasks, events, boards, members): (i64, i64, i64, i64, i64),
) -> Option<String> {
    let parts: Vec<String> = [
        (users, "accounts"),
        (tasks, "tasks"),
        (events, "events"),
        (boards, "boards"),
        (members, "members"),
    ]
    .into_iter()
    .filter(|(count, _)| *count > 0)
    .map(|(count, what)| format!("{count} {what}"))
    .collect();
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// [`Transfer`] for a store type with a `pool` field, in `dialect`.
macro_rules! transfer_store {
    ($store:ty, $dialect:expr) => {
        #[async_trait::async_trait]
        impl $crate::store::transfer::Transfer for $store {
            async fn export(
                &self,
            ) -> Result<$crate::store::transfer::Snapshot, $crate::store::StoreError> {
                use $crate::store::transfer as t;
                let dialect: &t::Dialect = &$dialect;
                let mut tx = self.pool.begin().await?;
                for statement in dialect.snapshot {
                    sqlx::query(statement).execute(&mut *tx).await?;
                }
                let mut counters = t::Counters::default();
                for (table, highest) in counters.by_table() {
                    *highest = sqlx::query_scalar(dialect.read_counter)
                        .bind(table)
                        .fetch_one(&mut *tx)
                        .await?;
                }
                let snapshot = t::Snapshot {
                    format: t::FORMAT.into(),
                    version: t::VERSION,
                    counters,
                    users: sqlx::query_as(
                        "SELECT id, username, password_hash, created_at_ms FROM users ORDER BY id",
                    )
                    .fetch_all(&mut *tx)
                    .await?,
                    sessions: sqlx::query_as(
                        "SELECT id_hash, user_id, created_at_ms, expires_at_ms FROM sessions \
                         ORDER BY id_hash",
                    )
                    .fetch_all(&mut *tx)
                    .await?,
                    tokens: sqlx::query_as(
                        "SELECT id, user_id, name, secret_hash, created_at_ms, last_used_at_ms \
                         FROM tokens ORDER BY id",
                    )
                    .fetch_all(&mut *tx)
                    .await?,
                    boards: sqlx::query_as(
                        "SELECT id, name, created_at_ms FROM boards ORDER BY id",
                    )
                    .fetch_all(&mut *tx)
                    .await?,
                    members: sqlx::query_as(
                        "SELECT board_id, user_id, role FROM members ORDER BY board_id, user_id",
                    )
                    .fetch_all(&mut *tx)
                    .await?,
                    tasks: sqlx::query_as(
                        "SELECT id, board_id, title, done, created_at_ms, version, created_by, \
                         updated_by FROM tasks ORDER BY id",
                    )
                    .fetch_all(&mut *tx)
                    .await?,
                    streams: sqlx::query_as("SELECT id, head FROM streams ORDER BY id")
                        .fetch_all(&mut *tx)
                        .await?,
                };
                tx.commit().await?;
                Ok(snapshot)
            }

            async fn import(
                &self,
                snapshot: &$crate::store::transfer::Snapshot,
            ) -> Result<(), $crate::store::transfer::ImportError> {
                use $crate::store::StoreError;
                use $crate::store::transfer as t;
                let dialect: &t::Dialect = &$dialect;
                if snapshot.format != t::FORMAT || snapshot.version != t::VERSION {
                    return Err(t::ImportError::Format(
                        snapshot.format.clone(),
                        snapshot.version,
                    ));
                }
                let mut tx = self.pool.begin().await.map_err(StoreError::from)?;
                let contents = sqlx::query_as(t::CONTENTS)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(StoreError::from)?;
                if let Some(found) = t::described(contents) {
                    return Err(t::ImportError::NotEmpty(found));
                }
                let write = async {
                    // The new store's own first board gives way to the exported boards.
                    sqlx::query("DELETE FROM streams").execute(&mut *tx).await?;
                    sqlx::query("DELETE FROM boards").execute(&mut *tx).await?;
                    for user in &snapshot.users {
                        sqlx::query(
                            "INSERT INTO users (id, username, password_hash, created_at_ms) \
                             VALUES ($1, $2, $3, $4)",
                        )
                        .bind(user.id)
                        .bind(&user.username)
                        .bind(&user.password_hash)
                        .bind(user.created_at_ms)
                        .execute(&mut *tx)
                        .await?;
                    }
                    for session in &snapshot.sessions {
                        sqlx::query(
                            "INSERT INTO sessions (id_hash, user_id, created_at_ms, expires_at_ms) \
                             VALUES ($1, $2, $3, $4)",
                        )
                        .bind(&session.id_hash)
                        .bind(session.user_id)
                        .bind(session.created_at_ms)
                        .bind(session.expires_at_ms)
                        .execute(&mut *tx)
                        .await?;
                    }
                    for token in &snapshot.tokens {
                        sqlx::query(
                            "INSERT INTO tokens (id, user_id, name, secret_hash, created_at_ms, \
                             last_used_at_ms) VALUES ($1, $2, $3, $4, $5, $6)",
                        )
                        .bind(token.id)
                        .bind(token.user_id)
                        .bind(&token.name)
                        .bind(&token.secret_hash)
                        .bind(token.created_at_ms)
                        .bind(token.last_used_at_ms)
                        .execute(&mut *tx)
                        .await?;
                    }
                    for board in &snapshot.boards {
                        sqlx::query(
                            "INSERT INTO boards (id, name, created_at_ms) VALUES ($1, $2, $3)",
                        )
                        .bind(board.id)
                        .bind(&board.name)
                        .bind(board.created_at_ms)
                        .execute(&mut *tx)
                        .await?;
                    }
                    for member in &snapshot.members {
                        sqlx::query(
                            "INSERT INTO members (board_id, user_id, role) VALUES ($1, $2, $3)",
                        )
                        .bind(member.board_id)
                        .bind(member.user_id)
                        .bind(&member.role)
                        .execute(&mut *tx)
                        .await?;
                    }
                    for task in &snapshot.tasks {
                        sqlx::query(
                            "INSERT INTO tasks (id, board_id, title, done, created_at_ms, version, \
                             created_by, updated_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                        )
                        .bind(task.id)
                        .bind(task.board_id)
                        .bind(&task.title)
                        .bind(task.done)
                        .bind(task.created_at_ms)
                        .bind(task.version)
                        .bind(&task.created_by)
                        .bind(&task.updated_by)
                        .execute(&mut *tx)
                        .await?;
                    }
                    for stream in &snapshot.streams {
                        sqlx::query("INSERT INTO streams (id, head) VALUES ($1, $2)")
                            .bind(stream.id)
                            .bind(stream.head)
                            .execute(&mut *tx)
                            .await?;
                    }
                    let mut counters = snapshot.counters.clone();
                    for (table, highest) in counters.by_table() {
                        for statement in dialect.write_counter {
                            sqlx::query(statement)
                                .bind(table)
                                .bind(*highest)
                                .execute(&mut *tx)
                                .await?;
                        }
                    }
                    Ok::<(), sqlx::Error>(())
                };
                write.await.map_err(StoreError::from)?;
                tx.commit().await.map_err(StoreError::from)?;
                Ok(())
            }
        }
    };
}

pub(crate) use transfer_store;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_store_is_described_as_nothing_and_a_used_one_by_what_it_holds() {
        assert_eq!(described((0, 0, 0, 0, 0)), None);
        assert_eq!(
            described((2, 0, 5, 0, 0)).as_deref(),
            Some("2 accounts, 5 events")
        );
    }

    #[test]
    fn each_counted_table_names_its_own_counter() {
        let mut counters = Counters::default();
        for (n, (_, counter)) in counters.by_table().into_iter().enumerate() {
            *counter = n as i64 + 10;
        }
        assert_eq!(
            counters,
            Counters {
                users: 10,
                tokens: 11,
                boards: 12,
                tasks: 13
            }
        );
        assert_eq!(
            counters.by_table().map(|(table, _)| table),
            ["users", "tokens", "boards", "tasks"]
        );
    }
}
