//! The SQLite store: one file, write-ahead logging, migrations embedded in the binary.

use std::num::NonZeroU32;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use shared::{BoardId, NewTask, Task, TaskId, TaskPatch};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{SqliteConnection, SqlitePool};

use super::{
    Changed, Created, EventRow, Guarded, IDEMPOTENCY_TTL_MS, IdempotencyKey, ListQuery, Numbering,
    Page, PlainCreate, Replay, StoreError, TASK_COLUMNS, TaskChange, TaskEvent, TaskRow, TaskStore,
    Write, WriteOps, Written, account_store, apply, bounded, changed, cleared, created,
    encode_task, page, refused, replayed, trim_due,
};

/// Tasks and their event log in a SQLite database file.
#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// How many of the newest events are kept for clients resuming with `since`.
    retention: NonZeroU32,
    identity: String,
}

/// SQL condition for an optional `If-Match` version list, bound twice as JSON (NULL: any version).
const VERSION_MATCHES: &str = "(? IS NULL OR version IN (SELECT value FROM json_each(?)))";

fn expected_json(expected: Option<&[i64]>) -> Option<String> {
    expected.map(|versions| {
        let parts: Vec<String> = versions.iter().map(i64::to_string).collect();
        format!("[{}]", parts.join(","))
    })
}

impl SqliteStore {
    /// Opens (creating if missing, with its folder) the database at `path` and migrates it.
    pub async fn open(path: &Path, retention: NonZeroU32) -> Result<Self, StoreError> {
        if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(folder).map_err(|source| StoreError::Folder {
                path: folder.display().to_string(),
                source,
            })?;
        }
        let options = SqliteConnectOptions::from_str("sqlite:")?
            .filename(path)
            .create_if_missing(true)
            // WAL lets readers proceed while a write commits. FULL syncs the log on every commit, so
            // a task acknowledged with 201 survives not just a killed process but a power cut.
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            // SQLite has one writer at a time; concurrent writers wait instead of failing at once.
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        let identity = sqlx::query_scalar("SELECT store FROM store_identity")
            .fetch_one(&pool)
            .await?;
        Ok(Self {
            pool,
            retention,
            identity,
        })
    }

    /// Writes a consistent, compacted copy of the database to the new file `to` while others keep
    /// using it (`VACUUM INTO` reads in one transaction).
    pub async fn backup(&self, to: &Path) -> Result<(), StoreError> {
        let to = to.to_str().ok_or_else(|| {
            StoreError::Corrupt(format!("the backup path {} is not UTF-8", to.display()))
        })?;
        sqlx::query("VACUUM INTO $1")
            .bind(to)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Appends the batch's events to the log, moves the counter, trims what is past retention.
    async fn append(
        &self,
        conn: &mut SqliteConnection,
        before: i64,
        numbering: &Numbering,
    ) -> Result<(), StoreError> {
        let at_ms = Utc::now().timestamp_millis();
        for event in &numbering.events {
            sqlx::query(
                "INSERT INTO events (board_id, seq, kind, task_id, task, at_ms) \
                 VALUES (?, ?, ?, ?, ?, ?)",
            )
            .bind(event.board.0)
            .bind(event.seq)
            .bind(event.kind())
            .bind(event.task_id().0)
            .bind(event.task_json()?)
            .bind(at_ms)
            .execute(&mut *conn)
            .await?;
        }
        sqlx::query("UPDATE streams SET head = ? WHERE id = ?")
            .bind(numbering.head)
            .bind(numbering.board.0)
            .execute(&mut *conn)
            .await?;
        if let Some(upto) = trim_due(before, numbering.head, self.retention) {
            sqlx::query("DELETE FROM events WHERE board_id = ? AND seq <= ?")
                .bind(numbering.board.0)
                .bind(upto)
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }
}

/// Each kind of write as statements on a SQLite connection, inside the write transaction.
impl WriteOps for SqliteConnection {
    async fn create(
        &mut self,
        numbering: &mut Numbering,
        new: &NewTask,
        key: Option<&IdempotencyKey>,
        by: Option<&str>,
        now: i64,
    ) -> Result<Created, StoreError> {
        if let Some(key) = key {
            let seen: Option<(String, String)> =
                sqlx::query_as("SELECT fingerprint, response FROM idempotency_keys WHERE key = ?")
                    .bind(&key.key)
                    .fetch_optional(&mut *self)
                    .await?;
            if let Some((fingerprint, response)) = seen {
                return replayed(key, &fingerprint, &response);
            }
        }
        let row: TaskRow = sqlx::query_as(&format!(
            "INSERT INTO tasks (board_id, title, created_at_ms, created_by, updated_by) \
             VALUES (?, ?, ?, ?, ?) RETURNING {TASK_COLUMNS}"
        ))
        .bind(numbering.board.0)
        .bind(new.title.as_str())
        .bind(now)
        .bind(by)
        .bind(by)
        .fetch_one(&mut *self)
        .await?;
        let task = Task::try_from(row)?;
        if let Some(key) = key {
            sqlx::query(
                "INSERT INTO idempotency_keys (key, fingerprint, response, created_at_ms) \
                 VALUES (?, ?, ?, ?)",
            )
            .bind(&key.key)
            .bind(&key.fingerprint)
            .bind(encode_task(&task)?)
            .bind(now)
            .execute(&mut *self)
            .await?;
        }
        let change = TaskChange::Created(task.clone());
        Ok(Created::New(changed(task, change, numbering)))
    }

    /// Inserts a run of tasks without idempotency keys in one statement.
    async fn create_many(
        &mut self,
        numbering: &mut Numbering,
        run: &[PlainCreate<'_>],
        now: i64,
    ) -> Result<Vec<Written>, StoreError> {
        let rows: Vec<(&str, Option<&str>)> = run
            .iter()
            .map(|(new, by)| (new.title.as_str(), *by))
            .collect();
        let rows = serde_json::to_string(&rows)
            .map_err(|e| StoreError::Corrupt(format!("cannot encode titles: {e}")))?;
        // json_each yields the [title, author] pairs in order and AUTOINCREMENT numbers the rows
        // as inserted, so the ids follow the run's order.
        let rows: Vec<TaskRow> = sqlx::query_as(&format!(
            "INSERT INTO tasks (board_id, title, created_at_ms, created_by, updated_by) \
             SELECT ?, value ->> 0, ?, value ->> 1, value ->> 1 FROM json_each(?) ORDER BY key \
             RETURNING {TASK_COLUMNS}"
        ))
        .bind(numbering.board.0)
        .bind(now)
        .bind(rows)
        .fetch_all(&mut *self)
        .await?;
        created(rows, numbering)
    }

    async fn update(
        &mut self,
        numbering: &mut Numbering,
        id: TaskId,
        patch: &TaskPatch,
        expected: Option<&[i64]>,
        by: Option<&str>,
    ) -> Result<Guarded<Task>, StoreError> {
        // COALESCE per column: the update touches only the fields it names, in one statement, so
        // a concurrent update of the other field is never overwritten with a stale copy. The
        // version check is part of the same statement, so it cannot race with another write.
        let row: Option<TaskRow> = sqlx::query_as(&format!(
            "UPDATE tasks SET title = COALESCE(?, title), done = COALESCE(?, done), \
             updated_by = ?, version = version + 1 WHERE id = ? AND board_id = ? AND {VERSION_MATCHES} \
             RETURNING {TASK_COLUMNS}"
        ))
        .bind(patch.title.as_ref().map(|t| t.as_str()))
        .bind(patch.done)
        .bind(by)
        .bind(id.0)
        .bind(numbering.board.0)
        .bind(expected_json(expected))
        .bind(expected_json(expected))
        .fetch_optional(&mut *self)
        .await?;
        let Some(row) = row else {
            return refusal(self, numbering.board, id).await;
        };
        let task = Task::try_from(row)?;
        let change = TaskChange::Updated(task.clone());
        Ok(Guarded::Changed(changed(task, change, numbering)))
    }

    async fn delete(
        &mut self,
        numbering: &mut Numbering,
        id: TaskId,
        expected: Option<&[i64]>,
    ) -> Result<Guarded<()>, StoreError> {
        let deleted: Option<i64> = sqlx::query_scalar(&format!(
            "DELETE FROM tasks WHERE id = ? AND board_id = ? AND {VERSION_MATCHES} RETURNING id"
        ))
        .bind(id.0)
        .bind(numbering.board.0)
        .bind(expected_json(expected))
        .bind(expected_json(expected))
        .fetch_optional(&mut *self)
        .await?;
        if deleted.is_none() {
            return refusal(self, numbering.board, id).await;
        }
        Ok(Guarded::Changed(changed(
            (),
            TaskChange::Deleted(id),
            numbering,
        )))
    }

    async fn clear_done(&mut self, numbering: &mut Numbering) -> Result<Changed<u64>, StoreError> {
        let ids =
            sqlx::query_scalar("DELETE FROM tasks WHERE board_id = ? AND done = 1 RETURNING id")
                .bind(numbering.board.0)
                .fetch_all(&mut *self)
                .await?;
        Ok(cleared(ids, numbering))
    }
}

/// Why a guarded write changed nothing: the task is gone, or its version did not match.
async fn refusal<T>(
    conn: &mut SqliteConnection,
    board: BoardId,
    id: TaskId,
) -> Result<Guarded<T>, StoreError> {
    let row: Option<TaskRow> = sqlx::query_as(&format!(
        "SELECT {TASK_COLUMNS} FROM tasks WHERE id = ? AND board_id = ?"
    ))
    .bind(id.0)
    .bind(board.0)
    .fetch_optional(&mut *conn)
    .await?;
    refused(row)
}

async fn head(conn: &mut SqliteConnection, board: BoardId) -> Result<i64, StoreError> {
    sqlx::query_scalar("SELECT head FROM streams WHERE id = ?")
        .bind(board.0)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(StoreError::NoSuchBoard(board))
}

#[async_trait]
impl TaskStore for SqliteStore {
    #[tracing::instrument(level = "debug", skip_all, fields(writes = batch.len()))]
    async fn write(&self, board: BoardId, batch: &[Write]) -> Result<Vec<Written>, StoreError> {
        let now = Utc::now().timestamp_millis();
        let mut tx = self.pool.begin().await?;
        // Taking the counter first makes this the writer (SQLite's write lock) before anything else.
        let before: i64 =
            sqlx::query_scalar("UPDATE streams SET head = head WHERE id = ? RETURNING head")
                .bind(board.0)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or(StoreError::NoSuchBoard(board))?;
        let mut numbering = Numbering::after(board, before);
        if batch
            .iter()
            .any(|w| matches!(w, Write::Create { key: Some(_), .. }))
        {
            sqlx::query("DELETE FROM idempotency_keys WHERE created_at_ms <= ?")
                .bind(now - IDEMPOTENCY_TTL_MS)
                .execute(&mut *tx)
                .await?;
        }
        let results = apply(&mut *tx, batch, &mut numbering, now).await?;
        if numbering.head > before {
            self.append(&mut tx, before, &numbering).await?;
        }
        tx.commit().await?;
        Ok(results)
    }

    #[tracing::instrument(level = "debug", skip(self))]
    async fn list(&self, board: BoardId, query: ListQuery) -> Result<Page, StoreError> {
        // One read transaction: the page and the seq come from the same snapshot. Ordered by id,
        // which follows creation, so a cursor ("after id N") never skips or repeats a task even
        // when tasks are added between pages.
        let mut tx = self.pool.begin().await?;
        let rows: Vec<TaskRow> = sqlx::query_as(&format!(
            "SELECT {TASK_COLUMNS} FROM tasks WHERE board_id = ? AND id > ? \
             AND (? IS NULL OR done = ?) ORDER BY id LIMIT ?"
        ))
        .bind(board.0)
        .bind(query.after.map_or(0, |id| id.0))
        .bind(query.done)
        .bind(query.done)
        .bind(i64::from(query.limit) + 1)
        .fetch_all(&mut *tx)
        .await?;
        let seq = head(&mut tx, board).await?;
        tx.commit().await?;
        page(rows, query.limit, seq)
    }

    #[tracing::instrument(level = "debug", skip(self))]
    async fn get(&self, board: BoardId, id: TaskId) -> Result<Option<Task>, StoreError> {
        let row: Option<TaskRow> = sqlx::query_as(&format!(
            "SELECT {TASK_COLUMNS} FROM tasks WHERE id = ? AND board_id = ?"
        ))
        .bind(id.0)
        .bind(board.0)
        .fetch_optional(&self.pool)
        .await?;
        row.map(Task::try_from).transpose()
    }

    async fn head(&self, board: BoardId) -> Result<i64, StoreError> {
        let mut conn = self.pool.acquire().await?;
        head(&mut conn, board).await
    }

    async fn heads(&self) -> Result<Vec<(BoardId, i64)>, StoreError> {
        let rows: Vec<(i64, i64)> = sqlx::query_as("SELECT id, head FROM streams")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .into_iter()
            .map(|(id, head)| (BoardId(id), head))
            .collect())
    }

    #[tracing::instrument(level = "debug", skip(self))]
    async fn events_since(
        &self,
        board: BoardId,
        since: i64,
        limit: u32,
    ) -> Result<Replay, StoreError> {
        let mut tx = self.pool.begin().await?;
        let head = head(&mut tx, board).await?;
        let rows: Vec<EventRow> = sqlx::query_as(
            "SELECT board_id, seq, kind, task_id, task FROM events \
             WHERE board_id = ? AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?",
        )
        .bind(board.0)
        .bind(since)
        .bind(head)
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let events = rows
            .into_iter()
            .map(TaskEvent::try_from)
            .collect::<Result<_, _>>()?;
        Ok(Replay::check(since, head, events))
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    fn identity(&self) -> &str {
        &self.identity
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::TaskTitle;

    const RETENTION: NonZeroU32 = NonZeroU32::new(1000).unwrap();

    fn create(title: &str) -> Write {
        Write::Create {
            new: NewTask {
                title: TaskTitle::parse(title).unwrap(),
            },
            key: None,
            by: None,
        }
    }

    #[tokio::test]
    async fn the_database_file_is_created_with_its_folder_and_uses_write_ahead_logging() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("nested/folder/t.db"), RETENTION)
            .await
            .unwrap();
        let mode: (String,) = sqlx::query_as("PRAGMA journal_mode")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(mode.0, "wal");
    }

    #[tokio::test]
    async fn a_database_from_before_the_counter_continues_its_seq() {
        // A database as the previous release left it: AUTOINCREMENT had handed out seq 1 to 3.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        {
            let options = SqliteConnectOptions::from_str("sqlite:")
                .unwrap()
                .filename(&path)
                .create_if_missing(true);
            let pool = SqlitePool::connect_with(options).await.unwrap();
            let old = sqlx::migrate!("./migrations/sqlite");
            for migration in old.iter().filter(|m| m.version <= 3) {
                sqlx::raw_sql(&migration.sql).execute(&pool).await.unwrap();
            }
            sqlx::query("INSERT INTO events (kind, task_id, task, at_ms) VALUES ('deleted', 1, NULL, 0), ('deleted', 2, NULL, 0), ('deleted', 3, NULL, 0)")
                .execute(&pool)
                .await
                .unwrap();
            // Mark the first three migrations as applied, as the old binary would have.
            sqlx::query("CREATE TABLE _sqlx_migrations (version BIGINT PRIMARY KEY, description TEXT NOT NULL, installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, success BOOLEAN NOT NULL, checksum BLOB NOT NULL, execution_time BIGINT NOT NULL)")
                .execute(&pool)
                .await
                .unwrap();
            for migration in old.iter().filter(|m| m.version <= 3) {
                sqlx::query("INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) VALUES (?, ?, 1, ?, 0)")
                    .bind(migration.version)
                    .bind(&*migration.description)
                    .bind(&*migration.checksum)
                    .execute(&pool)
                    .await
                    .unwrap();
            }
        }

        let store = SqliteStore::open(&path, RETENTION).await.unwrap();
        let written = store
            .write(super::super::FIRST_BOARD, &[create("after the upgrade")])
            .await
            .unwrap();

        assert_eq!(written[0].events()[0].seq, 4);
        assert_eq!(store.head(super::super::FIRST_BOARD).await.unwrap(), 4);
    }
}

account_store!(SqliteStore);
super::transfer::transfer_store!(SqliteStore, super::transfer::SQLITE);
