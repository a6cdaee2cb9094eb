//! Persistence behind a trait: handlers and the live feed see [`TaskStore`], not a database.
//!
//! Every change is written together with its [`TaskEvent`] in one transaction. The event `seq`
//! comes from a counter row (`streams`) that each write transaction updates, so it is strictly
//! increasing, gap-free (a rollback rolls the counter back too) and in commit order (the next
//! writer waits for the row until the previous one committed), even with many server instances on
//! one PostgreSQL database. The counter is keyed by stream, so that each board can later have its
//! own ordered stream without changing the protocol.
//!
//! Writes arrive as batches ([`TaskStore::write`]): one transaction, one commit (one fsync) for
//! many requests. `writes::Writes` forms the batches; `follower::Follower` reads the event log back
//! in `seq` order and is the only thing that publishes events to live connections.
//!
//! SQLite ([`sqlite::SqliteStore`]) is the embedded default; [`postgres::PgStore`] serves many
//! instances. [`open`] picks one from a [`DatabaseUrl`].

pub mod accounts;
pub mod postgres;
pub mod sqlite;
pub mod transfer;
mod url;

use std::num::NonZeroU32;
use std::sync::Arc;

use async_trait::async_trait;
use shared::{BoardId, NewTask, ServerMsg, Task, TaskId, TaskPatch};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

pub use accounts::AccountStore;
use accounts::account_store;
pub use url::DatabaseUrl;

/// The longest any store call may take before it is answered as unavailable.
pub const CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Runs one store call within [`CALL_TIMEOUT`], timed for `/metrics`.
pub(crate) async fn bounded<T>(
    call: impl std::future::Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    let started = std::time::Instant::now();
    let result = tokio::time::timeout(CALL_TIMEOUT, call)
        .await
        .unwrap_or_else(|_| {
            Err(StoreError::Unavailable(format!(
                "no answer within {} s",
                CALL_TIMEOUT.as_secs()
            )))
        });
    crate::monitoring::store_call(started.elapsed(), &result);
    result
}

/// The board that holds the tasks of before boards, on every database; the task routes serve it
/// until they move under `/api/boards/{board}`.
pub const FIRST_BOARD: BoardId = BoardId(1);

/// A failure inside the store. Handlers answer 503 for [`StoreError::Unavailable`] and an opaque
/// 500 for the rest; the cause is logged.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached (down, restarting, out of connections, too slow to answer).
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Database(sqlx::Error),
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("cannot create the database folder {path}: {source}")]
    Folder {
        path: String,
        source: std::io::Error,
    },
    #[error("stored row is invalid: {0}")]
    Corrupt(String),
    /// The board has no event stream: it does not exist (any more).
    #[error("there is no board {0}")]
    NoSuchBoard(BoardId),
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        if is_unavailable(&error) {
            Self::Unavailable(error.to_string())
        } else {
            Self::Database(error)
        }
    }
}

/// Whether `error` means "the database is not there right now" rather than "this query failed".
fn is_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_) => true,
        // PostgreSQL's classes 08 (connection exception), 53 (insufficient resources) and 57P
        // (operator intervention: shutdown, restart, cannot connect now).
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            code.starts_with("08") || code.starts_with("53") || code.starts_with("57P")
        }),
        _ => false,
    }
}

/// What happened to a task, as the store records it. The wire encoding (`ServerMsg`) is made
/// once, where events are fanned out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskChange {
    Created(Task),
    Updated(Task),
    Deleted(TaskId),
}

/// A change with its place in the event stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskEvent {
    /// The board whose stream the event belongs to.
    pub board: BoardId,
    pub seq: i64,
    pub change: TaskChange,
}

impl TaskEvent {
    /// The message live clients receive for this event.
    pub fn to_message(&self) -> ServerMsg {
        let (board, seq) = (self.board, self.seq);
        match &self.change {
            TaskChange::Created(task) => ServerMsg::TaskCreated {
                board,
                seq,
                task: task.clone(),
            },
            TaskChange::Updated(task) => ServerMsg::TaskUpdated {
                board,
                seq,
                task: task.clone(),
            },
            TaskChange::Deleted(id) => ServerMsg::TaskDeleted {
                board,
                seq,
                id: *id,
            },
        }
    }

    /// The `kind` column of the event log.
    fn kind(&self) -> &'static str {
        match self.change {
            TaskChange::Created(_) => "created",
            TaskChange::Updated(_) => "updated",
            TaskChange::Deleted(_) => "deleted",
        }
    }

    fn task_id(&self) -> TaskId {
        match &self.change {
            TaskChange::Created(task) | TaskChange::Updated(task) => task.id,
            TaskChange::Deleted(id) => *id,
        }
    }

    /// The `task` column: the task after the change as JSON (none for a deletion).
    fn task_json(&self) -> Result<Option<String>, StoreError> {
        match &self.change {
            TaskChange::Created(task) | TaskChange::Updated(task) => encode_task(task).map(Some),
            TaskChange::Deleted(_) => Ok(None),
        }
    }

    /// Reads an event log row back.
    fn from_row(
        board: BoardId,
        seq: i64,
        kind: &str,
        task_id: i64,
        task: Option<&str>,
    ) -> Result<Self, StoreError> {
        let task = || -> Result<Task, StoreError> {
            serde_json::from_str(task.unwrap_or_default()).map_err(|e| {
                StoreError::Corrupt(format!("event {seq} has an unreadable task: {e}"))
            })
        };
        let change = match kind {
            "created" => TaskChange::Created(task()?),
            "updated" => TaskChange::Updated(task()?),
            "deleted" => TaskChange::Deleted(TaskId(task_id)),
            other => {
                return Err(StoreError::Corrupt(format!(
                    "event {seq} has kind {other:?}"
                )));
            }
        };
        Ok(Self { board, seq, change })
    }
}

/// A `tasks` row as both stores keep it.
#[derive(sqlx::FromRow)]
struct TaskRow {
    id: i64,
    title: String,
    done: bool,
    created_at_ms: i64,
    version: i64,
    created_by: Option<String>,
    updated_by: Option<String>,
}

const TASK_COLUMNS: &str = "id, title, done, created_at_ms, version, created_by, updated_by";

impl TryFrom<TaskRow> for Task {
    type Error = StoreError;

    fn try_from(row: TaskRow) -> Result<Self, StoreError> {
        let created_at = shared::Timestamp::from_millis(row.created_at_ms).ok_or_else(|| {
            StoreError::Corrupt(format!("task {} has created_at_ms out of range", row.id))
        })?;
        Ok(Task {
            id: TaskId(row.id),
            title: row.title,
            done: row.done,
            created_at,
            version: row.version,
            created_by: row.created_by,
            updated_by: row.updated_by,
        })
    }
}

/// An `events` row as both stores keep it.
#[derive(sqlx::FromRow)]
struct EventRow {
    board_id: i64,
    seq: i64,
    kind: String,
    task_id: i64,
    task: Option<String>,
}

impl TryFrom<EventRow> for TaskEvent {
    type Error = StoreError;

    fn try_from(row: EventRow) -> Result<Self, StoreError> {
        Self::from_row(
            BoardId(row.board_id),
            row.seq,
            &row.kind,
            row.task_id,
            row.task.as_deref(),
        )
    }
}

/// Rows of tasks as tasks.
fn tasks(rows: Vec<TaskRow>) -> Result<Vec<Task>, StoreError> {
    rows.into_iter().map(Task::try_from).collect()
}

/// The first `limit` tasks of `rows` (which holds one more, to tell whether more follow).
fn page(mut rows: Vec<TaskRow>, limit: u32, seq: i64) -> Result<Page, StoreError> {
    let has_more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    Ok(Page {
        tasks: tasks(rows)?,
        seq,
        has_more,
    })
}

/// The answer to a create whose idempotency key was seen before.
fn replayed(
    key: &IdempotencyKey,
    fingerprint: &str,
    response: &str,
) -> Result<Created, StoreError> {
    if fingerprint != key.fingerprint {
        return Ok(Created::KeyReused);
    }
    let task = serde_json::from_str(response)
        .map_err(|e| StoreError::Corrupt(format!("idempotency key {:?}: {e}", key.key)))?;
    Ok(Created::Replayed(task))
}

fn encode_task(task: &Task) -> Result<String, StoreError> {
    serde_json::to_string(task)
        .map_err(|e| StoreError::Corrupt(format!("cannot encode task {}: {e}", task.id)))
}

/// A change and the events that record it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changed<T> {
    pub value: T,
    pub events: Vec<TaskEvent>,
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

/// How long an idempotency key is remembered.
pub const IDEMPOTENCY_TTL_MS: i64 = 24 * 60 * 60 * 1000;

/// One change a request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    /// Store a new task, unless `key` was already used (see [`Created`]).
    Create {
        new: NewTask,
        key: Option<IdempotencyKey>,
        /// The username of who asks.
        by: Option<String>,
    },
    /// Apply `patch` field by field (a concurrent update of another field is kept) and bump the
    /// version, if the version is one of `expected` (any, when `None`).
    Update {
        id: TaskId,
        patch: TaskPatch,
        expected: Option<Vec<i64>>,
        /// The username of who asks.
        by: Option<String>,
    },
    /// Delete a task, if its version is one of `expected` (any, when `None`).
    Delete {
        id: TaskId,
        expected: Option<Vec<i64>>,
    },
    /// Delete every done task.
    ClearDone,
}

/// What one [`Write`] did; the variant matches the write's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    Created(Created),
    Updated(Guarded<Task>),
    Deleted(Guarded<()>),
    /// How many done tasks were deleted.
    Cleared(Changed<u64>),
}

impl Written {
    /// The events this write recorded (none for a refusal).
    pub fn events(&self) -> &[TaskEvent] {
        match self {
            Self::Created(Created::New(changed)) | Self::Updated(Guarded::Changed(changed)) => {
                &changed.events
            }
            Self::Deleted(Guarded::Changed(changed)) => &changed.events,
            Self::Cleared(changed) => &changed.events,
            _ => &[],
        }
    }
}

/// A batch cut into what each store runs as one statement: runs of plain creates (no idempotency
/// key: nothing to look up first, so many rows go in at once) and every other write on its own.
#[derive(Debug, PartialEq, Eq)]
enum Step<'a> {
    Creates(Vec<PlainCreate<'a>>),
    One(&'a Write),
}

/// A create without an idempotency key: the task, and who asks.
pub(crate) type PlainCreate<'a> = (&'a NewTask, Option<&'a str>);

fn steps(batch: &[Write]) -> Vec<Step<'_>> {
    let mut steps: Vec<Step<'_>> = Vec::new();
    for write in batch {
        match (write, steps.last_mut()) {
            (Write::Create { new, key: None, by }, Some(Step::Creates(run))) => {
                run.push((new, by.as_deref()))
            }
            (Write::Create { new, key: None, by }, _) => {
                steps.push(Step::Creates(vec![(new, by.as_deref())]))
            }
            (other, _) => steps.push(Step::One(other)),
        }
    }
    steps
}

/// The outcomes of a run of plain creates: the inserted rows (in any order) matched to the run
/// in id order, which is the order they were inserted in, each with the next `seq`.
fn created(rows: Vec<TaskRow>, numbering: &mut Numbering) -> Result<Vec<Written>, StoreError> {
    let mut tasks = tasks(rows)?;
    tasks.sort_by_key(|task| task.id);
    Ok(tasks
        .into_iter()
        .map(|task| {
            let event = numbering.record(TaskChange::Created(task.clone()));
            Written::Created(Created::New(Changed {
                value: task,
                events: vec![event],
            }))
        })
        .collect())
}

/// Each kind of write as the statements one store runs inside its write transaction (implemented
/// by each store's connection type); [`apply`] runs a batch through them.
trait WriteOps {
    async fn create(
        &mut self,
        numbering: &mut Numbering,
        new: &NewTask,
        key: Option<&IdempotencyKey>,
        by: Option<&str>,
        now: i64,
    ) -> Result<Created, StoreError>;
    /// A run of creates without idempotency keys, in one statement.
    async fn create_many(
        &mut self,
        numbering: &mut Numbering,
        run: &[PlainCreate<'_>],
        now: i64,
    ) -> Result<Vec<Written>, StoreError>;
    async fn update(
        &mut self,
        numbering: &mut Numbering,
        id: TaskId,
        patch: &TaskPatch,
        expected: Option<&[i64]>,
        by: Option<&str>,
    ) -> Result<Guarded<Task>, StoreError>;
    async fn delete(
        &mut self,
        numbering: &mut Numbering,
        id: TaskId,
        expected: Option<&[i64]>,
    ) -> Result<Guarded<()>, StoreError>;
    async fn clear_done(&mut self, numbering: &mut Numbering) -> Result<Changed<u64>, StoreError>;
}

/// Runs `batch` in order through `ops`, numbering its events: one outcome per write.
async fn apply(
    ops: &mut impl WriteOps,
    batch: &[Write],
    numbering: &mut Numbering,
    now: i64,
) -> Result<Vec<Written>, StoreError> {
    let mut results = Vec::with_capacity(batch.len());
    for step in steps(batch) {
        match step {
            Step::Creates(run) => results.extend(ops.create_many(numbering, &run, now).await?),
            Step::One(Write::Create { new, key, by }) => results.push(Written::Created(
                ops.create(numbering, new, key.as_ref(), by.as_deref(), now)
                    .await?,
            )),
            Step::One(Write::Update {
                id,
                patch,
                expected,
                by,
            }) => results.push(Written::Updated(
                ops.update(numbering, *id, patch, expected.as_deref(), by.as_deref())
                    .await?,
            )),
            Step::One(Write::Delete { id, expected }) => results.push(Written::Deleted(
                ops.delete(numbering, *id, expected.as_deref()).await?,
            )),
            Step::One(Write::ClearDone) => {
                results.push(Written::Cleared(ops.clear_done(numbering).await?))
            }
        }
    }
    Ok(results)
}

/// A change of one task that succeeded: its event gets the next `seq`.
fn changed<T>(value: T, change: TaskChange, numbering: &mut Numbering) -> Changed<T> {
    Changed {
        value,
        events: vec![numbering.record(change)],
    }
}

/// Why a guarded write changed nothing, from the task as it is now (if it still exists).
fn refused<T>(current: Option<TaskRow>) -> Result<Guarded<T>, StoreError> {
    Ok(match current {
        Some(row) => Guarded::Stale(row.try_into()?),
        None => Guarded::NotFound,
    })
}

/// The tasks a "clear done" deleted, in id order, each with its event.
fn cleared(mut ids: Vec<i64>, numbering: &mut Numbering) -> Changed<u64> {
    ids.sort_unstable();
    let events: Vec<TaskEvent> = ids
        .into_iter()
        .map(|id| numbering.record(TaskChange::Deleted(TaskId(id))))
        .collect();
    Changed {
        value: events.len() as u64,
        events,
    }
}

/// Hands out consecutive `seq`s inside one write transaction, starting after the counter's head.
#[derive(Debug)]
struct Numbering {
    /// The board whose stream this is; the write ops scope their statements to it.
    board: BoardId,
    head: i64,
    events: Vec<TaskEvent>,
}

impl Numbering {
    fn after(board: BoardId, head: i64) -> Self {
        Self {
            board,
            head,
            events: Vec::new(),
        }
    }

    /// Gives `change` the next `seq` and keeps it for the event log.
    fn record(&mut self, change: TaskChange) -> TaskEvent {
        self.head += 1;
        let event = TaskEvent {
            board: self.board,
            seq: self.head,
            change,
        };
        self.events.push(event.clone());
        event
    }
}

/// Whether a batch that moved the head from `before` to `after` should trim the log, and up to
/// which `seq`. Once per sixteenth of the retention window, so most batches skip the delete; the
/// log then keeps at least `retention` events (and at most a sixteenth more).
fn trim_due(before: i64, after: i64, retention: NonZeroU32) -> Option<i64> {
    let keep = i64::from(retention.get());
    let slice = (keep / 16).max(1);
    (before / slice != after / slice).then_some(after - keep)
}

/// Which page of which tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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
    /// The events after `since`, in order (at most the number asked for), and the store's head.
    Events { head: i64, events: Vec<TaskEvent> },
    /// Events after `since` are no longer retained, or `since` is ahead of the store.
    Unavailable { head: i64, reason: String },
}

impl Replay {
    /// Judges a read of the events after `since` (ordered by `seq`, none above `head`). The log is
    /// gap-free, so the read is complete exactly when it starts right after `since`; anything else
    /// means retention removed what the client missed.
    fn check(since: i64, head: i64, events: Vec<TaskEvent>) -> Self {
        if since > head {
            return Self::Unavailable {
                head,
                reason: format!("since={since} is ahead of the server's newest event {head}"),
            };
        }
        let complete = since == head || events.first().is_some_and(|e| e.seq == since + 1);
        if since < 0 || !complete {
            return Self::Unavailable {
                head,
                reason: format!("events after {since} are no longer retained"),
            };
        }
        Self::Events { head, events }
    }
}

/// Operations on each board's tasks and its event stream.
#[async_trait]
pub trait TaskStore: Send + Sync + 'static {
    /// Applies `batch` to `board` in order in one transaction with one commit: all of it or, on
    /// an error, none of it. Refusals (a stale version, a reused key) are outcomes, not errors,
    /// and do not undo their neighbours. Once this returns, every change survives a crash.
    async fn write(&self, board: BoardId, batch: &[Write]) -> Result<Vec<Written>, StoreError>;
    /// A page of the board's tasks, oldest first, and the `seq` it reflects (one snapshot).
    async fn list(&self, board: BoardId, query: ListQuery) -> Result<Page, StoreError>;
    /// One task of the board, or `None` if the board has no task with this id.
    async fn get(&self, board: BoardId, id: TaskId) -> Result<Option<Task>, StoreError>;
    /// The board's newest event's `seq` (0 before its first change).
    async fn head(&self, board: BoardId) -> Result<i64, StoreError>;
    /// Every board's head, for the follower.
    async fn heads(&self) -> Result<Vec<(BoardId, i64)>, StoreError>;
    /// Up to `limit` of the board's events after `since`, if still retained.
    async fn events_since(
        &self,
        board: BoardId,
        since: i64,
        limit: u32,
    ) -> Result<Replay, StoreError>;
    /// Checks that the store answers (for `/healthz`).
    async fn ping(&self) -> Result<(), StoreError>;
    /// Made once with the database: a client that resumes against another database (a restored
    /// backup, a new store) sees a different identity and reloads instead of applying its `seq`s.
    fn identity(&self) -> &str;
    /// Starts telling `wake` about changes committed by other processes, until `stop`. Changes
    /// made through this process wake the follower directly, so an embedded store does nothing.
    fn watch_changes(&self, _wake: Arc<Notify>, _stop: CancellationToken) {}
}

/// Opens (creating and migrating as needed) the store at `url`.
/// A whole store: tasks and their events, accounts and boards. Parts of the server that need only
/// one side take that trait (a `Arc<dyn Store>` coerces to either).
pub trait Store: TaskStore + AccountStore + transfer::Transfer {}

impl<T: TaskStore + AccountStore + transfer::Transfer> Store for T {}

pub async fn open(url: &DatabaseUrl, retention: NonZeroU32) -> Result<Arc<dyn Store>, StoreError> {
    Ok(match url {
        DatabaseUrl::Sqlite(path) => Arc::new(sqlite::SqliteStore::open(path, retention).await?),
        DatabaseUrl::Postgres(url) => Arc::new(postgres::PgStore::open(url, retention).await?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deleted(seq: i64) -> TaskEvent {
        TaskEvent {
            board: FIRST_BOARD,
            seq,
            change: TaskChange::Deleted(TaskId(seq)),
        }
    }

    #[test]
    fn a_replay_that_starts_right_after_since_is_complete() {
        assert!(matches!(
            Replay::check(2, 4, vec![deleted(3), deleted(4)]),
            Replay::Events { head: 4, .. }
        ));
        assert!(matches!(
            Replay::check(4, 4, vec![]),
            Replay::Events { head: 4, .. }
        ));
    }

    #[test]
    fn a_replay_with_a_hole_after_since_or_ahead_of_the_head_is_unavailable() {
        for (since, events) in [
            (1, vec![deleted(3)]),
            (2, vec![]),
            (5, vec![]),
            (-1, vec![]),
        ] {
            let replay = Replay::check(since, 4, events);
            assert!(
                matches!(replay, Replay::Unavailable { head: 4, .. }),
                "{since}: {replay:?}"
            );
        }
    }

    #[test]
    fn a_batch_runs_plain_creates_together_and_everything_else_alone_in_order() {
        let plain = |title: &str| Write::Create {
            new: NewTask {
                title: shared::TaskTitle::parse(title).unwrap(),
            },
            key: None,
            by: None,
        };
        let keyed = Write::Create {
            new: NewTask {
                title: shared::TaskTitle::parse("k").unwrap(),
            },
            key: Some(IdempotencyKey {
                key: "k".into(),
                fingerprint: "k".into(),
            }),
            by: None,
        };
        let batch = [
            plain("a"),
            plain("b"),
            keyed.clone(),
            Write::ClearDone,
            plain("c"),
        ];

        let titles = |step: &Step<'_>| match step {
            Step::Creates(run) => run
                .iter()
                .map(|(n, _)| n.title.as_str().to_owned())
                .collect(),
            Step::One(_) => vec![],
        };
        let cut = steps(&batch);

        assert_eq!(cut.len(), 4);
        assert_eq!(titles(&cut[0]), ["a", "b"]);
        assert_eq!(cut[1], Step::One(&keyed));
        assert_eq!(cut[2], Step::One(&Write::ClearDone));
        assert_eq!(titles(&cut[3]), ["c"]);
    }

    #[test]
    fn the_log_is_trimmed_once_per_sixteenth_of_the_retention_window() {
        let retention = NonZeroU32::new(1600).unwrap();
        assert_eq!(trim_due(10, 50, retention), None);
        assert_eq!(trim_due(90, 110, retention), Some(110 - 1600));
        // A window of fewer than sixteen events is trimmed on every batch.
        assert_eq!(trim_due(3, 4, NonZeroU32::new(2).unwrap()), Some(2));
    }

    #[test]
    fn numbering_hands_out_consecutive_seqs_after_the_head() {
        let mut numbering = Numbering::after(FIRST_BOARD, 41);
        let first = numbering.record(TaskChange::Deleted(TaskId(1)));
        let second = numbering.record(TaskChange::Deleted(TaskId(2)));
        assert_eq!((first.seq, second.seq, numbering.head), (42, 43, 43));
        assert_eq!(numbering.events, vec![first, second]);
    }

    #[test]
    fn connection_failures_count_as_unavailable_and_query_errors_do_not() {
        let io = sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert!(matches!(StoreError::from(io), StoreError::Unavailable(_)));
        assert!(matches!(
            StoreError::from(sqlx::Error::PoolTimedOut),
            StoreError::Unavailable(_)
        ));
        assert!(matches!(
            StoreError::from(sqlx::Error::RowNotFound),
            StoreError::Database(_)
        ));
    }
}
