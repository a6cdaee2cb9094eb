//! The SQLite store: one file, write-ahead logging, migrations embedded in the binary.

use std::num::NonZeroU32;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use shared::{NewTask, ServerMsg, Task, TaskId, TaskPatch};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{FromRow, SqliteConnection, SqlitePool};

use super::{
    Changed, Created, Guarded, IdempotencyKey, ListQuery, Page, Replay, StoreError, TaskStore,
};

/// Tasks and their event log in a SQLite database file.
#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// How many of the newest events are kept for clients resuming with `since`.
    retention: NonZeroU32,
}

/// A `tasks` row as stored.
#[derive(FromRow)]
struct TaskRow {
    id: i64,
    title: String,
    done: bool,
    created_at_ms: i64,
    version: i64,
}

impl TryFrom<TaskRow> for Task {
    type Error = StoreError;

    fn try_from(row: TaskRow) -> Result<Self, StoreError> {
        let created_at = DateTime::from_timestamp_millis(row.created_at_ms).ok_or_else(|| {
            StoreError::Corrupt(format!("task {} has created_at_ms out of range", row.id))
        })?;
        Ok(Task {
            id: TaskId(row.id),
            title: row.title,
            done: row.done,
            created_at,
            version: row.version,
        })
    }
}

/// An `events` row as stored.
#[derive(FromRow)]
struct EventRow {
    seq: i64,
    kind: String,
    task_id: i64,
    task: Option<String>,
}

impl TryFrom<EventRow> for ServerMsg {
    type Error = StoreError;

    fn try_from(row: EventRow) -> Result<Self, StoreError> {
        let seq = row.seq;
        let task = || -> Result<Task, StoreError> {
            let json = row.task.as_deref().unwrap_or_default();
            serde_json::from_str(json).map_err(|e| {
                StoreError::Corrupt(format!("event {seq} has an unreadable task: {e}"))
            })
        };
        match row.kind.as_str() {
            "created" => Ok(ServerMsg::TaskCreated { seq, task: task()? }),
            "updated" => Ok(ServerMsg::TaskUpdated { seq, task: task()? }),
            "deleted" => Ok(ServerMsg::TaskDeleted {
                seq,
                id: TaskId(row.task_id),
            }),
            other => Err(StoreError::Corrupt(format!(
                "event {seq} has kind {other:?}"
            ))),
        }
    }
}

const TASK_COLUMNS: &str = "id, title, done, created_at_ms, version";

/// SQL condition for an optional `If-Match` version list, bound twice as JSON (NULL: any version).
const VERSION_MATCHES: &str = "(? IS NULL OR version IN (SELECT value FROM json_each(?)))";

fn expected_json(expected: Option<&[i64]>) -> Option<String> {
    expected.map(|versions| {
        let parts: Vec<String> = versions.iter().map(i64::to_string).collect();
        format!("[{}]", parts.join(","))
    })
}

fn encode_task(task: &Task) -> Result<String, StoreError> {
    serde_json::to_string(task)
        .map_err(|e| StoreError::Corrupt(format!("cannot encode task {}: {e}", task.id)))
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
        sqlx::migrate!("./migrations").run(&pool).await?;
        Ok(Self { pool, retention })
    }

    /// Appends an event in the caller's transaction, prunes what is past retention, returns `seq`.
    async fn record(
        &self,
        tx: &mut SqliteConnection,
        kind: &str,
        task_id: TaskId,
        task: Option<&Task>,
    ) -> Result<i64, StoreError> {
        let json = task.map(encode_task).transpose()?;
        let seq: i64 = sqlx::query_scalar(
            "INSERT INTO events (kind, task_id, task, at_ms) VALUES (?, ?, ?, ?) RETURNING seq",
        )
        .bind(kind)
        .bind(task_id.0)
        .bind(json)
        .bind(Utc::now().timestamp_millis())
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM events WHERE seq <= ?")
            .bind(seq - i64::from(self.retention.get()))
            .execute(&mut *tx)
            .await?;
        Ok(seq)
    }

    /// Why a guarded write changed nothing: the task is gone, or its version did not match.
    async fn refusal<T>(
        &self,
        conn: &mut SqliteConnection,
        id: TaskId,
    ) -> Result<Guarded<T>, StoreError> {
        let row: Option<TaskRow> =
            sqlx::query_as(&format!("SELECT {TASK_COLUMNS} FROM tasks WHERE id = ?"))
                .bind(id.0)
                .fetch_optional(&mut *conn)
                .await?;
        Ok(match row {
            Some(row) => Guarded::Stale(row.try_into()?),
            None => Guarded::NotFound,
        })
    }
}

async fn head(conn: &mut SqliteConnection) -> Result<i64, StoreError> {
    // sqlite_sequence keeps the highest seq ever issued, even after every event row was pruned.
    let head: Option<i64> =
        sqlx::query_scalar("SELECT seq FROM sqlite_sequence WHERE name = 'events'")
            .fetch_optional(&mut *conn)
            .await?;
    Ok(head.unwrap_or(0))
}

/// How long an idempotency key is remembered.
const IDEMPOTENCY_TTL_MS: i64 = 24 * 60 * 60 * 1000;

#[async_trait]
impl TaskStore for SqliteStore {
    #[tracing::instrument(skip(self, key), fields(title = %new.title.as_str()))]
    async fn create(
        &self,
        new: NewTask,
        key: Option<IdempotencyKey>,
    ) -> Result<Created, StoreError> {
        let now = Utc::now().timestamp_millis();
        let mut tx = self.pool.begin().await?;
        if let Some(key) = &key {
            sqlx::query("DELETE FROM idempotency_keys WHERE created_at_ms <= ?")
                .bind(now - IDEMPOTENCY_TTL_MS)
                .execute(&mut *tx)
                .await?;
            let seen: Option<(String, String)> =
                sqlx::query_as("SELECT fingerprint, response FROM idempotency_keys WHERE key = ?")
                    .bind(&key.key)
                    .fetch_optional(&mut *tx)
                    .await?;
            if let Some((fingerprint, response)) = seen {
                if fingerprint != key.fingerprint {
                    return Ok(Created::KeyReused);
                }
                let task = serde_json::from_str(&response).map_err(|e| {
                    StoreError::Corrupt(format!("idempotency key {:?}: {e}", key.key))
                })?;
                return Ok(Created::Replayed(task));
            }
        }
        let row: TaskRow = sqlx::query_as(&format!(
            "INSERT INTO tasks (title, created_at_ms) VALUES (?, ?) RETURNING {TASK_COLUMNS}"
        ))
        .bind(new.title.as_str())
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let task = Task::try_from(row)?;
        let seq = self
            .record(&mut tx, "created", task.id, Some(&task))
            .await?;
        if let Some(key) = key {
            sqlx::query(
                "INSERT INTO idempotency_keys (key, fingerprint, response, created_at_ms) \
                 VALUES (?, ?, ?, ?)",
            )
            .bind(key.key)
            .bind(key.fingerprint)
            .bind(encode_task(&task)?)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(Created::New(Changed {
            events: vec![ServerMsg::TaskCreated {
                seq,
                task: task.clone(),
            }],
            value: task,
        }))
    }

    #[tracing::instrument(skip(self))]
    async fn update(
        &self,
        id: TaskId,
        patch: TaskPatch,
        expected: Option<&[i64]>,
    ) -> Result<Guarded<Task>, StoreError> {
        let mut tx = self.pool.begin().await?;
        // COALESCE per column: the update touches only the fields it names, in one statement, so
        // a concurrent update of the other field is never overwritten with a stale copy. The
        // version check is part of the same statement, so it cannot race with another write.
        let row: Option<TaskRow> = sqlx::query_as(&format!(
            "UPDATE tasks SET title = COALESCE(?, title), done = COALESCE(?, done), \
             version = version + 1 WHERE id = ? AND {VERSION_MATCHES} RETURNING {TASK_COLUMNS}"
        ))
        .bind(patch.title.as_ref().map(|t| t.as_str()))
        .bind(patch.done)
        .bind(id.0)
        .bind(expected_json(expected))
        .bind(expected_json(expected))
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return self.refusal(&mut tx, id).await;
        };
        let task = Task::try_from(row)?;
        let seq = self.record(&mut tx, "updated", id, Some(&task)).await?;
        tx.commit().await?;
        Ok(Guarded::Changed(Changed {
            events: vec![ServerMsg::TaskUpdated {
                seq,
                task: task.clone(),
            }],
            value: task,
        }))
    }

    #[tracing::instrument(skip(self))]
    async fn delete(
        &self,
        id: TaskId,
        expected: Option<&[i64]>,
    ) -> Result<Guarded<()>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let deleted: Option<i64> = sqlx::query_scalar(&format!(
            "DELETE FROM tasks WHERE id = ? AND {VERSION_MATCHES} RETURNING id"
        ))
        .bind(id.0)
        .bind(expected_json(expected))
        .bind(expected_json(expected))
        .fetch_optional(&mut *tx)
        .await?;
        if deleted.is_none() {
            return self.refusal(&mut tx, id).await;
        }
        let seq = self.record(&mut tx, "deleted", id, None).await?;
        tx.commit().await?;
        Ok(Guarded::Changed(Changed {
            value: (),
            events: vec![ServerMsg::TaskDeleted { seq, id }],
        }))
    }

    #[tracing::instrument(skip(self))]
    async fn delete_done(&self) -> Result<Changed<u64>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let ids: Vec<i64> = sqlx::query_scalar("DELETE FROM tasks WHERE done = 1 RETURNING id")
            .fetch_all(&mut *tx)
            .await?;
        let mut events = Vec::with_capacity(ids.len());
        for id in ids {
            let id = TaskId(id);
            let seq = self.record(&mut tx, "deleted", id, None).await?;
            events.push(ServerMsg::TaskDeleted { seq, id });
        }
        tx.commit().await?;
        events.sort_by_key(|event| event.seq());
        Ok(Changed {
            value: events.len() as u64,
            events,
        })
    }

    #[tracing::instrument(skip(self))]
    async fn list(&self, query: ListQuery) -> Result<Page, StoreError> {
        // One read transaction: the page and the seq come from the same snapshot. Ordered by id,
        // which follows creation, so a cursor ("after id N") never skips or repeats a task even
        // when tasks are added between pages.
        let mut tx = self.pool.begin().await?;
        let mut rows: Vec<TaskRow> = sqlx::query_as(&format!(
            "SELECT {TASK_COLUMNS} FROM tasks WHERE id > ? AND (? IS NULL OR done = ?) \
             ORDER BY id LIMIT ?"
        ))
        .bind(query.after.map_or(0, |id| id.0))
        .bind(query.done)
        .bind(query.done)
        .bind(i64::from(query.limit) + 1)
        .fetch_all(&mut *tx)
        .await?;
        let seq = head(&mut tx).await?;
        tx.commit().await?;
        let has_more = rows.len() > query.limit as usize;
        rows.truncate(query.limit as usize);
        let tasks = rows
            .into_iter()
            .map(Task::try_from)
            .collect::<Result<_, _>>()?;
        Ok(Page {
            tasks,
            seq,
            has_more,
        })
    }

    #[tracing::instrument(skip(self))]
    async fn get(&self, id: TaskId) -> Result<Option<Task>, StoreError> {
        let row: Option<TaskRow> =
            sqlx::query_as(&format!("SELECT {TASK_COLUMNS} FROM tasks WHERE id = ?"))
                .bind(id.0)
                .fetch_optional(&self.pool)
                .await?;
        row.map(Task::try_from).transpose()
    }

    async fn head(&self) -> Result<i64, StoreError> {
        let mut conn = self.pool.acquire().await?;
        head(&mut conn).await
    }

    #[tracing::instrument(skip(self))]
    async fn events_since(&self, since: i64) -> Result<Replay, StoreError> {
        let mut tx = self.pool.begin().await?;
        let head = head(&mut tx).await?;
        if since > head {
            return Ok(Replay::Unavailable {
                head,
                reason: format!("since={since} is ahead of the server's newest event {head}"),
            });
        }
        let oldest: Option<i64> = sqlx::query_scalar("SELECT MIN(seq) FROM events")
            .fetch_one(&mut *tx)
            .await?;
        let retained = since == head || oldest.is_some_and(|oldest| since >= oldest - 1);
        if !retained || since < 0 {
            return Ok(Replay::Unavailable {
                head,
                reason: format!("events after {since} are no longer retained"),
            });
        }
        let rows: Vec<EventRow> = sqlx::query_as(
            "SELECT seq, kind, task_id, task FROM events WHERE seq > ? AND seq <= ? ORDER BY seq",
        )
        .bind(since)
        .bind(head)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let events = rows
            .into_iter()
            .map(ServerMsg::try_from)
            .collect::<Result<_, _>>()?;
        Ok(Replay::Events { head, events })
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::TaskTitle;

    const RETENTION: NonZeroU32 = NonZeroU32::new(1000).unwrap();
    const ALL: ListQuery = ListQuery {
        done: None,
        after: None,
        limit: 1000,
    };

    async fn open(dir: &tempfile::TempDir) -> SqliteStore {
        SqliteStore::open(&dir.path().join("t.db"), RETENTION)
            .await
            .unwrap()
    }

    fn new_task(title: &str) -> NewTask {
        NewTask {
            title: TaskTitle::parse(title).unwrap(),
        }
    }

    async fn create(store: &SqliteStore, title: &str) -> Changed<Task> {
        match store.create(new_task(title), None).await.unwrap() {
            Created::New(changed) => changed,
            other => panic!("not created: {other:?}"),
        }
    }

    fn done(value: bool) -> TaskPatch {
        TaskPatch {
            title: None,
            done: Some(value),
        }
    }

    fn changed<T: std::fmt::Debug>(outcome: Guarded<T>) -> Changed<T> {
        match outcome {
            Guarded::Changed(changed) => changed,
            other => panic!("nothing changed: {other:?}"),
        }
    }

    fn seqs(replay: &Replay) -> Vec<i64> {
        match replay {
            Replay::Events { events, .. } => events.iter().filter_map(ServerMsg::seq).collect(),
            Replay::Unavailable { reason, .. } => panic!("unavailable: {reason}"),
        }
    }

    #[tokio::test]
    async fn a_created_task_is_listed_after_reopening_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/folder/tasks.db");
        let created = {
            let store = SqliteStore::open(&path, RETENTION).await.unwrap();
            create(&store, "first").await.value
        };
        let reopened = SqliteStore::open(&path, RETENTION).await.unwrap();
        assert_eq!(
            reopened.list(ALL).await.unwrap().tasks,
            vec![created.clone()]
        );
        assert_eq!(reopened.get(created.id).await.unwrap(), Some(created));
    }

    #[tokio::test]
    async fn the_database_uses_write_ahead_logging() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir).await;
        let mode: (String,) = sqlx::query_as("PRAGMA journal_mode")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(mode.0, "wal");
    }

    #[tokio::test]
    async fn every_change_records_an_event_with_an_increasing_seq() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir).await;

        let created = create(&store, "a").await;
        let id = created.value.id;
        let updated = changed(store.update(id, done(true), None).await.unwrap());
        let deleted = changed(store.delete(id, None).await.unwrap());

        assert_eq!(created.events[0].seq(), Some(1));
        assert_eq!(updated.events[0].seq(), Some(2));
        assert_eq!((updated.value.version, updated.value.done), (2, true));
        assert_eq!(deleted.events, vec![ServerMsg::TaskDeleted { seq: 3, id }]);
        assert_eq!(store.head().await.unwrap(), 3);
        let Replay::Events { events, .. } = store.events_since(0).await.unwrap() else {
            panic!("replay unavailable");
        };
        let all: Vec<_> = [created.events, updated.events, deleted.events].concat();
        assert_eq!(events, all);
    }

    #[tokio::test]
    async fn an_update_changes_only_the_fields_it_names() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir).await;
        let id = create(&store, "a").await.value.id;

        store.update(id, done(true), None).await.unwrap();
        let retitle = TaskPatch {
            title: Some(TaskTitle::parse("b").unwrap()),
            done: None,
        };
        let task = changed(store.update(id, retitle, None).await.unwrap()).value;

        assert_eq!(
            (task.title.as_str(), task.done, task.version),
            ("b", true, 3)
        );
    }

    #[tokio::test]
    async fn a_write_naming_a_stale_version_changes_nothing_and_returns_the_current_task() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir).await;
        let id = create(&store, "a").await.value.id;
        let current = changed(store.update(id, done(true), None).await.unwrap()).value;

        let update = store.update(id, done(false), Some(&[1])).await.unwrap();
        let delete = store.delete(id, Some(&[1])).await.unwrap();

        assert_eq!(update, Guarded::Stale(current.clone()));
        assert_eq!(delete, Guarded::Stale(current.clone()));
        assert_eq!(store.head().await.unwrap(), 2);
        let fresh = changed(store.update(id, done(false), Some(&[2])).await.unwrap());
        assert_eq!(fresh.value.version, 3);
    }

    #[tokio::test]
    async fn the_seq_continues_after_reopening() {
        let dir = tempfile::tempdir().unwrap();
        create(&open(&dir).await, "a").await;

        let reopened = open(&dir).await;
        let second = create(&reopened, "b").await;

        assert_eq!(second.events[0].seq(), Some(2));
        assert_eq!(reopened.list(ALL).await.unwrap().seq, 2);
    }

    #[tokio::test]
    async fn replay_is_refused_before_the_retained_window_and_ahead_of_the_head() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("t.db"), NonZeroU32::new(2).unwrap())
            .await
            .unwrap();
        for title in ["a", "b", "c", "d"] {
            create(&store, title).await;
        }

        assert_eq!(seqs(&store.events_since(2).await.unwrap()), vec![3, 4]);
        assert_eq!(
            seqs(&store.events_since(4).await.unwrap()),
            Vec::<i64>::new()
        );
        for since in [1, 5, -1] {
            let replay = store.events_since(since).await.unwrap();
            assert!(
                matches!(replay, Replay::Unavailable { head: 4, .. }),
                "{since}: {replay:?}"
            );
        }
    }

    #[tokio::test]
    async fn unknown_ids_change_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir).await;

        let update = store.update(TaskId(7), done(true), None).await.unwrap();
        let delete = store.delete(TaskId(7), None).await.unwrap();

        assert_eq!((update, delete), (Guarded::NotFound, Guarded::NotFound));
        assert_eq!(store.head().await.unwrap(), 0);
    }

    #[tokio::test]
    async fn pages_follow_the_cursor_and_the_filter() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir).await;
        let mut ids = Vec::new();
        for title in ["a", "b", "c", "d", "e"] {
            ids.push(create(&store, title).await.value.id);
        }
        store.update(ids[1], done(true), None).await.unwrap();
        store.update(ids[3], done(true), None).await.unwrap();

        let first = store
            .list(ListQuery {
                done: Some(false),
                after: None,
                limit: 2,
            })
            .await
            .unwrap();
        let last = first.tasks.last().map(|t| t.id);
        let second = store
            .list(ListQuery {
                done: Some(false),
                after: last,
                limit: 2,
            })
            .await
            .unwrap();

        let titles = |page: &Page| {
            page.tasks
                .iter()
                .map(|t| t.title.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            (titles(&first), first.has_more),
            (vec!["a".into(), "c".into()], true)
        );
        assert_eq!(
            (titles(&second), second.has_more),
            (vec!["e".to_string()], false)
        );
    }

    #[tokio::test]
    async fn clearing_done_tasks_deletes_only_those_with_one_event_each() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir).await;
        let keep = create(&store, "keep").await.value.id;
        for title in ["x", "y"] {
            let id = create(&store, title).await.value.id;
            store.update(id, done(true), None).await.unwrap();
        }

        let cleared = store.delete_done().await.unwrap();

        assert_eq!(cleared.value, 2);
        let seqs: Vec<_> = cleared.events.iter().filter_map(ServerMsg::seq).collect();
        assert_eq!(seqs, vec![6, 7]);
        let left: Vec<_> = store
            .list(ALL)
            .await
            .unwrap()
            .tasks
            .iter()
            .map(|t| t.id)
            .collect();
        assert_eq!(left, vec![keep]);
    }

    #[tokio::test]
    async fn an_idempotency_key_replays_the_first_answer_and_refuses_a_different_request() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir).await;
        let key = |fingerprint: &str| IdempotencyKey {
            key: "k1".into(),
            fingerprint: fingerprint.into(),
        };

        let first = store.create(new_task("a"), Some(key("a"))).await.unwrap();
        let retry = store.create(new_task("a"), Some(key("a"))).await.unwrap();
        let other = store.create(new_task("b"), Some(key("b"))).await.unwrap();

        let Created::New(first) = first else {
            panic!("{first:?}")
        };
        assert_eq!(retry, Created::Replayed(first.value));
        assert_eq!(other, Created::KeyReused);
        assert_eq!(store.list(ALL).await.unwrap().tasks.len(), 1);
    }

    #[tokio::test]
    async fn an_idempotency_key_older_than_a_day_no_longer_counts() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir).await;
        let key = || IdempotencyKey {
            key: "k1".into(),
            fingerprint: "a".into(),
        };
        store.create(new_task("a"), Some(key())).await.unwrap();
        sqlx::query("UPDATE idempotency_keys SET created_at_ms = created_at_ms - ?")
            .bind(IDEMPOTENCY_TTL_MS)
            .execute(&store.pool)
            .await
            .unwrap();

        let again = store.create(new_task("a"), Some(key())).await.unwrap();

        assert!(matches!(again, Created::New(_)), "{again:?}");
        assert_eq!(store.list(ALL).await.unwrap().tasks.len(), 2);
    }
}
