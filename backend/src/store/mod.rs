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

/// A change and the events that record it (`task_*` [`ServerMsg`]s with their `seq`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changed<T> {
    pub value: T,
    pub events: Vec<ServerMsg>,
}

/// The outcome of a write guarded by a precondition (`If-Match`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Guarded<T> {
    Changed(Changed<T>),
    /// No task has this id.
    NotFound,
    /// The task's version is not one the caller named; nothing changed. Holds the current task.
    Stale(Task),
}

/// The outcome of a create that may carry an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created {
    /// A new task.
    New(Changed<Task>),
    /// The key was used before for the same request: the task as first answered.
    Replayed(Task),
    /// The key was used before for a different request.
    KeyReused,
}

/// An `Idempotency-Key` and what the request asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    pub key: String,
    pub fingerprint: String,
}

/// Which page of which tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListQuery {
    /// Only tasks with this `done`, if given.
    pub done: Option<bool>,
    /// Only tasks created after this one (the cursor).
    pub after: Option<TaskId>,
    pub limit: u32,
}

/// One page of tasks, oldest first, and the event `seq` it is consistent with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub tasks: Vec<Task>,
    pub seq: i64,
    /// Whether tasks after the last one on this page match too.
    pub has_more: bool,
}

/// What a client resuming after `since` can be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replay {
    /// Every event after `since`, in order, up to `head`.
    Events { head: i64, events: Vec<ServerMsg> },
    /// Events after `since` are no longer retained, or `since` is ahead of the store.
    Unavailable { head: i64, reason: String },
}

/// Operations on the task collection and its event log. Every change is recorded as events in
/// the same transaction; a caller publishes them afterwards (see `events::EventHub`).
#[async_trait]
pub trait TaskStore: Send + Sync + 'static {
    /// Stores a new task, unless `key` was already used (see [`Created`]). Once this returns,
    /// the task survives a crash of the process.
    async fn create(
        &self,
        new: NewTask,
        key: Option<IdempotencyKey>,
    ) -> Result<Created, StoreError>;
    /// Applies `patch` field by field (a concurrent update of another field is kept) and bumps the
    /// version, if the version is one of `expected` (any, when `None`).
    async fn update(
        &self,
        id: TaskId,
        patch: TaskPatch,
        expected: Option<&[i64]>,
    ) -> Result<Guarded<Task>, StoreError>;
    /// Deletes a task, if its version is one of `expected` (any, when `None`).
    async fn delete(&self, id: TaskId, expected: Option<&[i64]>)
    -> Result<Guarded<()>, StoreError>;
    /// Deletes every done task; the value is how many.
    async fn delete_done(&self) -> Result<Changed<u64>, StoreError>;
    /// A page of tasks, oldest first.
    async fn list(&self, query: ListQuery) -> Result<Page, StoreError>;
    /// One task, or `None` if no task has this id.
    async fn get(&self, id: TaskId) -> Result<Option<Task>, StoreError>;
    /// The newest event's `seq` (0 before the first change).
    async fn head(&self) -> Result<i64, StoreError>;
    /// The events after `since`, if still retained.
    async fn events_since(&self, since: i64) -> Result<Replay, StoreError>;
    /// Checks that the store answers (for `/healthz`).
    async fn ping(&self) -> Result<(), StoreError>;
}
