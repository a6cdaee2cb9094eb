//! The PostgreSQL store: many server instances on one database, one ordered event stream.
//!
//! Writers take the stream's counter row first (see the migration), so batches from different
//! instances commit one after another and `seq` is gap-free and in commit order. After a commit
//! the writer sends `NOTIFY` with the board and its new head (never the event itself: payloads are limited and
//! lost while a listener reconnects); every instance's [`PgStore::watch_changes`] turns that into
//! a wake-up of its follower, which reads the log itself. Nothing depends on a notification
//! arriving: the follower also polls.
//!
//! Every call is bounded by [`CALL_TIMEOUT`], so a database that went away is answered with
//! [`StoreError::Unavailable`] (503) within seconds instead of hanging a request.

use std::num::NonZeroU32;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use shared::{BoardId, NewTask, Task, TaskId, TaskPatch};
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use sqlx::{PgConnection, PgPool};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::{
    CALL_TIMEOUT, Changed, Created, EventRow, Guarded, IDEMPOTENCY_TTL_MS, IdempotencyKey,
    ListQuery, Numbering, Page, PlainCreate, Replay, StoreError, TASK_COLUMNS, TaskChange,
    TaskEvent, TaskRow, TaskStore, Write, WriteOps, Written, account_store, apply, bounded,
    changed, cleared, created, encode_task, page, refused, replayed, trim_due,
};

/// The channel writers notify after a commit; the payload is `BOARD:HEAD` (a hint: the follower
/// reads the heads itself).
const CHANNEL: &str = "tasktick_events";
/// How long to wait for a pooled connection (part of [`CALL_TIMEOUT`]).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);
/// A listening connection that heard nothing for this long proves it is alive with a query.
const HEARTBEAT: Duration = Duration::from_secs(10);
/// Pause before listening again after the listening connection failed.
const RELISTEN_DELAY: Duration = Duration::from_secs(1);

/// SQL condition for an optional `If-Match` version list bound as `$n` (NULL: any version).
fn version_matches(n: u8) -> String {
    format!("(${n}::bigint[] IS NULL OR version = ANY(${n}))")
}

/// Tasks and their event log in a PostgreSQL database.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    retention: NonZeroU32,
    identity: String,
}

impl PgStore {
    /// Connects to the database at `url` and migrates it (safe from several instances at once:
    /// the migrator holds an advisory lock).
    pub async fn open(url: &str, retention: NonZeroU32) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(url)?
            .application_name("tasktick")
            // The server side of TCP keepalives: PostgreSQL notices a vanished instance within a
            // minute instead of the kernel's two hours. Our side is the listener's heartbeat.
            .options([
                ("tcp_keepalives_idle", "30"),
                ("tcp_keepalives_interval", "10"),
                ("tcp_keepalives_count", "3"),
            ]);
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        let identity = sqlx::query_scalar("SELECT store FROM store_identity")
            .fetch_one(&pool)
            .await?;
        Ok(Self {
            pool,
            retention,
            identity,
        })
    }

    /// Appends the batch's events, moves the counter and wakes the other instances (delivered
    /// only if the transaction commits), all in one statement; trims past retention when due.
    async fn append(
        &self,
        conn: &mut PgConnection,
        before: i64,
        numbering: &Numbering,
    ) -> Result<(), StoreError> {
        let events = &numbering.events;
        let seqs: Vec<i64> = events.iter().map(|e| e.seq).collect();
        let kinds: Vec<&str> = events.iter().map(TaskEvent::kind).collect();
        let task_ids: Vec<i64> = events.iter().map(|e| e.task_id().0).collect();
        let tasks: Vec<Option<String>> = events
            .iter()
            .map(TaskEvent::task_json)
            .collect::<Result<_, _>>()?;
        sqlx::query(
            "WITH appended AS ( \
               INSERT INTO events (board_id, seq, kind, task_id, task, at_ms) \
               SELECT $7, seq, kind, task_id, task, $5 \
               FROM UNNEST($1::bigint[], $2::text[], $3::bigint[], $4::text[]) AS e(seq, kind, task_id, task) \
             ), moved AS (UPDATE streams SET head = $6 WHERE id = $7) \
             SELECT pg_notify($8, $7::text || ':' || $6::text)",
        )
        .bind(&seqs)
        .bind(&kinds)
        .bind(&task_ids)
        .bind(&tasks)
        .bind(Utc::now().timestamp_millis())
        .bind(numbering.head)
        .bind(numbering.board.0)
        .bind(CHANNEL)
        .execute(&mut *conn)
        .await?;
        if let Some(upto) = trim_due(before, numbering.head, self.retention) {
            sqlx::query("DELETE FROM events WHERE board_id = $1 AND seq <= $2")
                .bind(numbering.board.0)
                .bind(upto)
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }

    /// The board's head, unbounded (callers bound it).
    async fn read_head(&self, board: BoardId) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT head FROM streams WHERE id = $1")
            .bind(board.0)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NoSuchBoard(board))
    }

    async fn write_batch(
        &self,
        board: BoardId,
        batch: &[Write],
    ) -> Result<Vec<Written>, StoreError> {
        let now = Utc::now().timestamp_millis();
        let mut tx = self.pool.begin().await?;
        // The board's counter row first: from here until commit this is the only writer of the
        // board's stream, on every instance, and every row lock below is taken after it (so
        // writers cannot deadlock each other). Writers of other boards take other rows.
        let before: i64 =
            sqlx::query_scalar("UPDATE streams SET head = head WHERE id = $1 RETURNING head")
                .bind(board.0)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or(StoreError::NoSuchBoard(board))?;
        let mut numbering = Numbering::after(board, before);
        if batch
            .iter()
            .any(|w| matches!(w, Write::Create { key: Some(_), .. }))
        {
            sqlx::query("DELETE FROM idempotency_keys WHERE created_at_ms <= $1")
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
}

/// Each kind of write as statements on a PostgreSQL connection, inside the write transaction.
impl WriteOps for PgConnection {
    async fn create(
        &mut self,
        numbering: &mut Numbering,
        new: &NewTask,
        key: Option<&IdempotencyKey>,
        by: Option<&str>,
        now: i64,
    ) -> Result<Created, StoreError> {
        // Writers hold the counter row, so no other transaction can claim this key meanwhile.
        if let Some(key) = key {
            let seen: Option<(String, String)> =
                sqlx::query_as("SELECT fingerprint, response FROM idempotency_keys WHERE key = $1")
                    .bind(&key.key)
                    .fetch_optional(&mut *self)
                    .await?;
            if let Some((fingerprint, response)) = seen {
                return replayed(key, &fingerprint, &response);
            }
        }
        let row: TaskRow = sqlx::query_as(&format!(
            "INSERT INTO tasks (board_id, title, created_at_ms, created_by, updated_by) \
             VALUES ($3, $1, $2, $4, $4) RETURNING {TASK_COLUMNS}"
        ))
        .bind(new.title.as_str())
        .bind(now)
        .bind(numbering.board.0)
        .bind(by)
        .fetch_one(&mut *self)
        .await?;
        let task = Task::try_from(row)?;
        if let Some(key) = key {
            sqlx::query(
                "INSERT INTO idempotency_keys (key, fingerprint, response, created_at_ms) \
                 VALUES ($1, $2, $3, $4)",
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
        let titles: Vec<&str> = run.iter().map(|(new, _)| new.title.as_str()).collect();
        let authors: Vec<Option<&str>> = run.iter().map(|(_, by)| *by).collect();
        // Inserted in the run's order, so the ids (from the serial) follow it.
        let rows: Vec<TaskRow> = sqlx::query_as(&format!(
            "INSERT INTO tasks (board_id, title, created_at_ms, created_by, updated_by) \
             SELECT $3, title, $2, author, author \
             FROM UNNEST($1::text[], $4::text[]) WITH ORDINALITY AS run(title, author, n) \
             ORDER BY n RETURNING {TASK_COLUMNS}"
        ))
        .bind(&titles)
        .bind(now)
        .bind(numbering.board.0)
        .bind(&authors)
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
        // Field-wise and version-checked in one statement, as in the SQLite store.
        let row: Option<TaskRow> = sqlx::query_as(&format!(
            "UPDATE tasks SET title = COALESCE($1, title), done = COALESCE($2, done), \
             updated_by = $6, version = version + 1 WHERE id = $3 AND board_id = $5 AND {} RETURNING {TASK_COLUMNS}",
            version_matches(4)
        ))
        .bind(patch.title.as_ref().map(|t| t.as_str()))
        .bind(patch.done)
        .bind(id.0)
        .bind(expected)
        .bind(numbering.board.0)
        .bind(by)
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
            "DELETE FROM tasks WHERE id = $1 AND board_id = $3 AND {} RETURNING id",
            version_matches(2)
        ))
        .bind(id.0)
        .bind(expected)
        .bind(numbering.board.0)
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
        let ids = sqlx::query_scalar("DELETE FROM tasks WHERE board_id = $1 AND done RETURNING id")
            .bind(numbering.board.0)
            .fetch_all(&mut *self)
            .await?;
        Ok(cleared(ids, numbering))
    }
}

/// Why a guarded write changed nothing: the task is gone, or its version did not match.
async fn refusal<T>(
    conn: &mut PgConnection,
    board: BoardId,
    id: TaskId,
) -> Result<Guarded<T>, StoreError> {
    let row: Option<TaskRow> = sqlx::query_as(&format!(
        "SELECT {TASK_COLUMNS} FROM tasks WHERE id = $1 AND board_id = $2"
    ))
    .bind(id.0)
    .bind(board.0)
    .fetch_optional(&mut *conn)
    .await?;
    refused(row)
}

/// One row of a page: the stream head beside each task (the task columns are NULL on an empty
/// page, which still has one row for the head).
type PageRow = (
    i64,
    Option<i64>,
    Option<String>,
    Option<bool>,
    Option<i64>,
    Option<i64>,
    Option<String>,
    Option<String>,
);

#[async_trait]
impl TaskStore for PgStore {
    #[tracing::instrument(level = "debug", skip_all, fields(writes = batch.len()))]
    async fn write(&self, board: BoardId, batch: &[Write]) -> Result<Vec<Written>, StoreError> {
        bounded(self.write_batch(board, batch)).await
    }

    #[tracing::instrument(level = "debug", skip(self))]
    async fn list(&self, board: BoardId, query: ListQuery) -> Result<Page, StoreError> {
        // One statement, so the page and the head come from one snapshot.
        let rows: Vec<PageRow> = bounded(async {
            Ok(sqlx::query_as(&format!(
                "SELECT s.head, t.* FROM streams s LEFT JOIN LATERAL ( \
                   SELECT {TASK_COLUMNS} FROM tasks \
                   WHERE board_id = $4 AND id > $1 AND ($2::boolean IS NULL OR done = $2) \
                   ORDER BY id LIMIT $3 \
                 ) t ON true WHERE s.id = $4 ORDER BY t.id"
            ))
            .bind(query.after.map_or(0, |id| id.0))
            .bind(query.done)
            .bind(i64::from(query.limit) + 1)
            .bind(board.0)
            .fetch_all(&self.pool)
            .await?)
        })
        .await?;
        // No row at all: the board has no stream.
        let seq = rows.first().ok_or(StoreError::NoSuchBoard(board))?.0;
        let tasks = rows
            .into_iter()
            .filter_map(
                |(_, id, title, done, created_at_ms, version, created_by, updated_by)| {
                    Some(TaskRow {
                        id: id?,
                        title: title?,
                        done: done?,
                        created_at_ms: created_at_ms?,
                        version: version?,
                        created_by,
                        updated_by,
                    })
                },
            )
            .collect();
        page(tasks, query.limit, seq)
    }

    #[tracing::instrument(level = "debug", skip(self))]
    async fn get(&self, board: BoardId, id: TaskId) -> Result<Option<Task>, StoreError> {
        let row: Option<TaskRow> = bounded(async {
            Ok(sqlx::query_as(&format!(
                "SELECT {TASK_COLUMNS} FROM tasks WHERE id = $1 AND board_id = $2"
            ))
            .bind(id.0)
            .bind(board.0)
            .fetch_optional(&self.pool)
            .await?)
        })
        .await?;
        row.map(Task::try_from).transpose()
    }

    async fn head(&self, board: BoardId) -> Result<i64, StoreError> {
        bounded(self.read_head(board)).await
    }

    async fn heads(&self) -> Result<Vec<(BoardId, i64)>, StoreError> {
        bounded(async {
            let rows: Vec<(i64, i64)> = sqlx::query_as("SELECT id, head FROM streams")
                .fetch_all(&self.pool)
                .await?;
            Ok(rows
                .into_iter()
                .map(|(id, head)| (BoardId(id), head))
                .collect())
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip(self))]
    async fn events_since(
        &self,
        board: BoardId,
        since: i64,
        limit: u32,
    ) -> Result<Replay, StoreError> {
        bounded(async {
            let head = self.read_head(board).await?;
            // Events above the head read first may have committed since; they wait for the next
            // read, so the answer never runs past the head it names.
            let rows: Vec<EventRow> = sqlx::query_as(
                "SELECT board_id, seq, kind, task_id, task FROM events \
                 WHERE board_id = $4 AND seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3",
            )
            .bind(since)
            .bind(head)
            .bind(i64::from(limit))
            .bind(board.0)
            .fetch_all(&self.pool)
            .await?;
            let events = rows
                .into_iter()
                .map(TaskEvent::try_from)
                .collect::<Result<_, _>>()?;
            Ok(Replay::check(since, head, events))
        })
        .await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        bounded(async {
            sqlx::query("SELECT 1").execute(&self.pool).await?;
            Ok(())
        })
        .await
    }

    fn identity(&self) -> &str {
        &self.identity
    }

    fn watch_changes(&self, wake: Arc<Notify>, stop: CancellationToken) {
        let pool = self.pool.clone();
        tokio::spawn(async move { stop.run_until_cancelled(listen(pool, wake)).await });
    }
}

/// Wakes the follower on every notification, and whenever the listening connection was lost
/// (what was sent meanwhile is gone, so the follower must look for itself). A connection that
/// stays quiet proves itself with a query every [`HEARTBEAT`], so a half-open one is replaced.
async fn listen(pool: PgPool, wake: Arc<Notify>) {
    loop {
        let mut listener = match PgListener::connect_with(&pool).await {
            Ok(listener) => listener,
            Err(error) => {
                tracing::warn!(%error, "cannot listen for changes; retrying");
                tokio::time::sleep(RELISTEN_DELAY).await;
                continue;
            }
        };
        if let Err(error) = listener.listen(CHANNEL).await {
            tracing::warn!(%error, "cannot listen for changes; retrying");
            tokio::time::sleep(RELISTEN_DELAY).await;
            continue;
        }
        // Whatever committed while nobody listened is found by the follower's next read.
        wake.notify_one();
        loop {
            match tokio::time::timeout(HEARTBEAT, listener.try_recv()).await {
                Ok(Ok(Some(_))) => wake.notify_one(),
                // The connection dropped; the next try_recv reconnects. Notifications sent
                // meanwhile are lost: look for changes now.
                Ok(Ok(None)) => wake.notify_one(),
                Ok(Err(error)) => {
                    tracing::warn!(%error, "lost the listening connection");
                    break;
                }
                Err(_quiet) => {
                    let alive = tokio::time::timeout(
                        CALL_TIMEOUT,
                        sqlx::query("SELECT 1").execute(&mut listener),
                    )
                    .await;
                    if !matches!(alive, Ok(Ok(_))) {
                        tracing::warn!("the listening connection does not answer; replacing it");
                        break;
                    }
                }
            }
        }
        wake.notify_one();
        tokio::time::sleep(RELISTEN_DELAY).await;
    }
}

account_store!(PgStore);
super::transfer::transfer_store!(PgStore, super::transfer::POSTGRES);
