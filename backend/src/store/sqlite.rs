//! The SQLite store: one file, write-ahead logging, migrations embedded in the binary.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use shared::{NewTask, Task, TaskId};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{FromRow, SqlitePool};

use super::{StoreError, TaskStore};

/// Tasks in a SQLite database file.
#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
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

const TASK_COLUMNS: &str = "id, title, done, created_at_ms, version";

impl SqliteStore {
    /// Opens (creating if missing, with its folder) the database at `path` and migrates it.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
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
        Ok(Self { pool })
    }
}

#[async_trait]
impl TaskStore for SqliteStore {
    #[tracing::instrument(skip(self), fields(title = %new.title.as_str()))]
    async fn create(&self, new: NewTask) -> Result<Task, StoreError> {
        let now_ms = Utc::now().timestamp_millis();
        let row: TaskRow = sqlx::query_as(&format!(
            "INSERT INTO tasks (title, created_at_ms) VALUES (?, ?) RETURNING {TASK_COLUMNS}"
        ))
        .bind(new.title.as_str())
        .bind(now_ms)
        .fetch_one(&self.pool)
        .await?;
        row.try_into()
    }

    #[tracing::instrument(skip(self))]
    async fn list(&self) -> Result<Vec<Task>, StoreError> {
        let rows: Vec<TaskRow> = sqlx::query_as(&format!(
            "SELECT {TASK_COLUMNS} FROM tasks ORDER BY created_at_ms, id"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(Task::try_from).collect()
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

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::TaskTitle;

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
            let store = SqliteStore::open(&path).await.unwrap();
            store.create(new_task("first")).await.unwrap()
        };
        let reopened = SqliteStore::open(&path).await.unwrap();
        assert_eq!(reopened.list().await.unwrap(), vec![created.clone()]);
        assert_eq!(reopened.get(created.id).await.unwrap(), Some(created));
    }

    #[tokio::test]
    async fn tasks_are_listed_oldest_first_with_version_one_and_not_done() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("t.db")).await.unwrap();
        for title in ["a", "b", "c"] {
            store.create(new_task(title)).await.unwrap();
        }
        let tasks = store.list().await.unwrap();
        let titles: Vec<_> = tasks.iter().map(|t| t.title.as_str()).collect();
        assert_eq!(titles, ["a", "b", "c"]);
        assert!(tasks.iter().all(|t| t.version == 1 && !t.done));
    }

    #[tokio::test]
    async fn the_database_uses_write_ahead_logging() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("t.db")).await.unwrap();
        let mode: (String,) = sqlx::query_as("PRAGMA journal_mode")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(mode.0, "wal");
    }

    #[tokio::test]
    async fn an_unknown_id_is_none() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("t.db")).await.unwrap();
        assert_eq!(store.get(TaskId(42)).await.unwrap(), None);
    }
}
