//! Persistence behind a trait: handlers see [`TaskStore`], not a database.
//!
//! Every change is written together with its event (see `migrations/0002_create_events.sql`), so
//! the event `seq` comes from the store and several server instances sharing one database would
//! share one sequence. SQLite ([`sqlite::SqliteStore`]) is the embedded default; a PostgreSQL store
//! would implement the same trait.

pub mod sqlite;

use async_trait::async_trait;
use shared::{NewTask, ServerMsg, Task, TaskId, TaskPatch};

/// A failure inside the store. Handlers turn it into an opaque 500; the cause is logged.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("cannot create the database folder {path}: {source}")]
    Folder {
        path: String,
        source: std::io::Error,
    },
    #[error("stored row is invalid: {0}")]
    Corrupt(String),
}

/// A change and the event that records it (a `task_*` [`ServerMsg`] with its `seq`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changed<T> {
    pub value: T,
    pub event: ServerMsg,
}

/// Every task, and the `seq` of the newest event the list already reflects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub tasks: Vec<Task>,
    pub seq: i64,
}

/// What a client resuming after `since` can be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replay {
    /// Every event after `since`, in order, up to `head`.
    Events { head: i64, events: Vec<ServerMsg> },
    /// Events after `since` are no longer retained, or `since` is ahead of the store.
    Unavailable { head: i64, reason: String },
}

/// Operations on the task collection and its event log.
#[async_trait]
pub trait TaskStore: Send + Sync + 'static {
    /// Stores a new task; once this returns, the task survives a crash of the process.
    async fn create(&self, new: NewTask) -> Result<Changed<Task>, StoreError>;
    /// Applies `patch` field by field (a concurrent update of another field is kept) and bumps
    /// the version; `None` if no task has this id.
    async fn update(
        &self,
        id: TaskId,
        patch: TaskPatch,
    ) -> Result<Option<Changed<Task>>, StoreError>;
    /// Deletes a task; `None` if no task has this id.
    async fn delete(&self, id: TaskId) -> Result<Option<Changed<()>>, StoreError>;
    /// All tasks, oldest first, with the event `seq` they are consistent with.
    async fn list(&self) -> Result<Snapshot, StoreError>;
    /// One task, or `None` if no task has this id.
    async fn get(&self, id: TaskId) -> Result<Option<Task>, StoreError>;
    /// The newest event's `seq` (0 before the first change).
    async fn head(&self) -> Result<i64, StoreError>;
    /// The events after `since`, if still retained.
    async fn events_since(&self, since: i64) -> Result<Replay, StoreError>;
    /// Checks that the store answers (for `/healthz`).
    async fn ping(&self) -> Result<(), StoreError>;
}
