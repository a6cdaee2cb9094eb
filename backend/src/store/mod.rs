//! Persistence behind a trait: handlers see [`TaskStore`], not a database.
//!
//! SQLite ([`sqlite::SqliteStore`]) is the embedded default. Another store (PostgreSQL, for several
//! server instances sharing one database) implements the same trait and is chosen at start-up.

pub mod sqlite;

use async_trait::async_trait;
use shared::{NewTask, Task, TaskId};

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

/// Operations on the task collection.
#[async_trait]
pub trait TaskStore: Send + Sync + 'static {
    /// Stores a new task; once this returns, the task survives a crash of the process.
    async fn create(&self, new: NewTask) -> Result<Task, StoreError>;
    /// All tasks, oldest first.
    async fn list(&self) -> Result<Vec<Task>, StoreError>;
    /// One task, or `None` if no task has this id.
    async fn get(&self, id: TaskId) -> Result<Option<Task>, StoreError>;
    /// Checks that the store answers (for `/healthz`).
    async fn ping(&self) -> Result<(), StoreError>;
}
