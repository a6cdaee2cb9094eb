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

use super::{Changed, Replay, Snapshot, StoreError, TaskStore};

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
        let json = task
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| StoreError::Corrupt(format!("cannot encode task {task_id}: {e}")))?;
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
}

async fn head(conn: &mut SqliteConnection) -> Result<i64, StoreError> {
    // sqlite_sequence keeps the highest seq ever issued, even after every event row was pruned.
    let head: Option<i64> =
        sqlx::query_scalar("SELECT seq FROM sqlite_sequence WHERE name = 'events'")
            .fetch_optional(&mut *conn)
            .await?;
    Ok(head.unwrap_or(0))
}

#[async_trait]
impl TaskStore for SqliteStore {
    #[tracing::instrument(skip(self), fields(title = %new.title.as_str()))]
    async fn create(&self, new: NewTask) -> Result<Changed<Task>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let row: TaskRow = sqlx::query_as(&format!(
            "INSERT INTO tasks (title, created_at_ms) VALUES (?, ?) RETURNING {TASK_COLUMNS}"
        ))
        .bind(new.title.as_str())
        .bind(Utc::now().timestamp_millis())
        .fetch_one(&mut *tx)
        .await?;
        let task = Task::try_from(row)?;
        let seq = self
            .record(&mut tx, "created", task.id, Some(&task))
            .await?;
        tx.commit().await?;
        Ok(Changed {
            event: ServerMsg::TaskCreated {
                seq,
                task: task.clone(),
            },
            value: task,
        })
    }

    #[tracing::instrument(skip(self))]
    async fn update(
        &self,
        id: TaskId,
        patch: TaskPatch,
    ) -> Result<Option<Changed<Task>>, StoreError> {
        let mut tx = self.pool.begin().await?;
        // COALESCE per column: the update touches only the fields it names, in one statement, so
        // a concurrent update of the other field is never overwritten with a stale copy.
        let row: Option<TaskRow> = sqlx::query_as(&format!(
            "UPDATE tasks SET title = COALESCE(?, title), done = COALESCE(?, done), \
             version = version + 1 WHERE id = ? RETURNING {TASK_COLUMNS}"
        ))
        .bind(patch.title.as_ref().map(|t| t.as_str()))
        .bind(patch.done)
        .bind(id.0)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let task = Task::try_from(row)?;
        let seq = self.record(&mut tx, "updated", id, Some(&task)).await?;
        tx.commit().await?;
        Ok(Some(Changed {
            event: ServerMsg::TaskUpdated {
                seq,
                task: task.clone(),
            },
            value: task,
        }))
    }

    #[tracing::instrument(skip(self))]
    async fn delete(&self, id: TaskId) -> Result<Option<Changed<()>>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let deleted: Option<i64> =
            sqlx::query_scalar("DELETE FROM tasks WHERE id = ? RETURNING id")
                .bind(id.0)
                .fetch_optional(&mut *tx)
                .await?;
        if deleted.is_none() {
            return Ok(None);
        }
        let seq = self.record(&mut tx, "deleted", id, None).await?;
        tx.commit().await?;
        Ok(Some(Changed {
            value: (),
            event: ServerMsg::TaskDeleted { seq, id },
        }))
    }

    #[tracing::instrument(skip(self))]
    async fn list(&self) -> Result<Snapshot, StoreError> {
        // One read transaction: the list and the seq come from the same snapshot.
        let mut tx = self.pool.begin().await?;
        let rows: Vec<TaskRow> = sqlx::query_as(&format!(
            "SELECT {TASK_COLUMNS} FROM tasks ORDER BY created_at_ms, id"
        ))
        .fetch_all(&mut *tx)
        .await?;
        let seq = head(&mut tx).await?;
        tx.commit().await?;
        let tasks = rows
            .into_iter()
            .map(Task::try_from)
            .collect::<Result<_, _>>()?;
        Ok(Snapshot { tasks, seq })
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

    #[tokio::test]
    async fn a_created_task_is_listed_after_reopening_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/folder/tasks.db");
        let created = {
            let store = SqliteStore::open(&path, RETENTION).await.unwrap();
            store.create(new_task("first")).await.unwrap().value
        };
        let reopened = SqliteStore::open(&path, RETENTION).await.unwrap();
        assert_eq!(reopened.list().await.unwrap().tasks, vec![created.clone()]);
        assert_eq!(reopened.get(created.id).await.unwrap(), Some(created));
    }

    #[tokio::test]
    async fn tasks_are_listed_oldest_first_with_version_one_and_not_done() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir).await;
        for title in ["a", "b", "c"] {
            store.create(new_task(title)).await.unwrap();
        }
        let tasks = store.list().await.unwrap().tasks;
        let titles: Vec<_> = tasks.iter().map(|t| t.title.as_str()).collect();
        assert_eq!(titles, ["a", "b", "c"]);
        assert!(tasks.iter().all(|t| t.version == 1 && !t.done));
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
    async fn an_unknown_id_is_none() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir).await;
        assert_eq!(store.get(TaskId(42)).await.unwrap(), None);
    }

    fn seqs(replay: &Replay) -> Vec<i64> {
        match replay {
            Replay::Events { events, .. } => events.iter().filter_map(ServerMsg::seq).collect(),
            Replay::Unavailable { reason, .. } => panic!("unavailable: {reason}"),
        }
    }

    #[tokio::test]
    async fn every_change_records_an_event_with_an_increasing_seq() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir).await;

        let created = store.create(new_task("a")).await.unwrap();
        let patch = TaskPatch {
            title: None,
            done: Some(true),
        };
        let updated = store
            .update(created.value.id, patch)
            .await
            .unwrap()
            .unwrap();
        let deleted = store.delete(created.value.id).await.unwrap().unwrap();

        assert_eq!(created.event.seq(), Some(1));
        assert_eq!(updated.event.seq(), Some(2));
        assert_eq!(updated.value.version, 2);
        assert!(updated.value.done);
        assert_eq!(
            deleted.event,
            ServerMsg::TaskDeleted {
                seq: 3,
                id: created.value.id
            }
        );
        assert_eq!(store.head().await.unwrap(), 3);
        let Replay::Events { events, .. } = store.events_since(0).await.unwrap() else {
            panic!("replay unavailable");
        };
        assert_eq!(events, vec![created.event, updated.event, deleted.event]);
    }

    #[tokio::test]
    async fn an_update_changes_only_the_fields_it_names() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir).await;
        let id = store.create(new_task("a")).await.unwrap().value.id;

        let done = TaskPatch {
            title: None,
            done: Some(true),
        };
        store.update(id, done).await.unwrap();
        let retitle = TaskPatch {
            title: Some(TaskTitle::parse("b").unwrap()),
            done: None,
        };
        let task = store.update(id, retitle).await.unwrap().unwrap().value;

        assert_eq!(
            (task.title.as_str(), task.done, task.version),
            ("b", true, 3)
        );
    }

    #[tokio::test]
    async fn the_seq_continues_after_reopening() {
        let dir = tempfile::tempdir().unwrap();
        open(&dir).await.create(new_task("a")).await.unwrap();

        let reopened = open(&dir).await;
        let second = reopened.create(new_task("b")).await.unwrap();

        assert_eq!(second.event.seq(), Some(2));
        assert_eq!(reopened.list().await.unwrap().seq, 2);
    }

    #[tokio::test]
    async fn replay_is_refused_before_the_retained_window_and_ahead_of_the_head() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("t.db"), NonZeroU32::new(2).unwrap())
            .await
            .unwrap();
        for title in ["a", "b", "c", "d"] {
            store.create(new_task(title)).await.unwrap();
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
        let patch = TaskPatch {
            title: None,
            done: Some(true),
        };

        assert_eq!(store.update(TaskId(7), patch).await.unwrap(), None);
        assert_eq!(store.delete(TaskId(7)).await.unwrap(), None);
        assert_eq!(store.head().await.unwrap(), 0);
    }
}
