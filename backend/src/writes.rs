//! The one write path: every change a request asks for goes through [`Writes`].
//!
//! Writes queue for one task that commits them in batches (group commit): whatever arrives while
//! a commit is in flight goes into the next transaction, so one fsync serves many requests. A
//! batch is split by board (each board is its own stream, its own transaction). Each
//! request is answered only after its batch committed, with its own outcome; a refusal (stale
//! `If-Match`, reused key) is an outcome and never fails its neighbours. Should a batch fail with
//! a database error, each of its writes is tried again alone, so only the write that caused it
//! fails. After every commit the follower is woken: it is what publishes the events (see
//! `follower`), so no handler can forget to. A request is answered once its events are on this
//! instance's live stream too (read-your-writes), or after [`PUBLISH_PATIENCE`] if the follower
//! cannot read them back yet: the change is durable either way.

use std::sync::Arc;
use std::time::Duration;

use shared::{BoardId, NewTask, Task, TaskId, TaskPatch};
use tokio::sync::{mpsc, oneshot};

use crate::events::EventHub;
use crate::follower::Changes;
use crate::store::{
    Changed, Created, Guarded, IdempotencyKey, StoreError, TaskStore, Write, Written,
};

/// Most writes committed in one transaction.
const MAX_BATCH: usize = 256;
/// Writes waiting for their turn before submitters wait for room.
const QUEUE: usize = 4096;
/// How long an acknowledged write waits for its events to reach this instance's live stream.
pub const PUBLISH_PATIENCE: Duration = Duration::from_secs(1);

/// A write and where its outcome goes.
struct Request {
    board: BoardId,
    write: Write,
    reply: oneshot::Sender<Result<Written, StoreError>>,
}

/// Submits writes to the committing task. Cheap to clone.
#[derive(Clone)]
pub struct Writes {
    queue: mpsc::Sender<Request>,
    events: EventHub,
}

impl Writes {
    /// Starts the committing task; it hands each commit's events to the follower (which publishes
    /// them to `events`) and ends when every [`Writes`] is dropped.
    pub fn spawn(store: Arc<dyn TaskStore>, follower: Arc<Changes>, events: EventHub) -> Self {
        let (queue, requests) = mpsc::channel(QUEUE);
        tokio::spawn(commit_batches(store, requests, follower));
        Self { queue, events }
    }

    /// Applies one write to `board` and returns its outcome, once it is durable.
    pub async fn submit(&self, board: BoardId, write: Write) -> Result<Written, StoreError> {
        let (reply, outcome) = oneshot::channel();
        let stopped = || StoreError::Unavailable("the server is shutting down".into());
        self.queue
            .send(Request {
                board,
                write,
                reply,
            })
            .await
            .map_err(|_| stopped())?;
        let written = outcome.await.map_err(|_| stopped())??;
        if let Some(last) = written.events().last()
            && !self
                .events
                .wait_published(board, last.seq, PUBLISH_PATIENCE)
                .await
        {
            tracing::warn!(
                seq = last.seq,
                "answering a write before the live stream has it"
            );
        }
        Ok(written)
    }

    pub async fn create(
        &self,
        board: BoardId,
        new: NewTask,
        key: Option<IdempotencyKey>,
        by: Option<String>,
    ) -> Result<Created, StoreError> {
        match self.submit(board, Write::Create { new, key, by }).await? {
            Written::Created(created) => Ok(created),
            other => Err(mismatch(&other)),
        }
    }

    pub async fn update(
        &self,
        board: BoardId,
        id: TaskId,
        patch: TaskPatch,
        expected: Option<Vec<i64>>,
        by: Option<String>,
    ) -> Result<Guarded<Task>, StoreError> {
        match self
            .submit(
                board,
                Write::Update {
                    id,
                    patch,
                    expected,
                    by,
                },
            )
            .await?
        {
            Written::Updated(updated) => Ok(updated),
            other => Err(mismatch(&other)),
        }
    }

    pub async fn delete(
        &self,
        board: BoardId,
        id: TaskId,
        expected: Option<Vec<i64>>,
    ) -> Result<Guarded<()>, StoreError> {
        match self.submit(board, Write::Delete { id, expected }).await? {
            Written::Deleted(deleted) => Ok(deleted),
            other => Err(mismatch(&other)),
        }
    }

    /// Deletes every done task of `board`; the value is how many.
    pub async fn clear_done(&self, board: BoardId) -> Result<Changed<u64>, StoreError> {
        match self.submit(board, Write::ClearDone).await? {
            Written::Cleared(cleared) => Ok(cleared),
            other => Err(mismatch(&other)),
        }
    }
}

/// A store answered a write with another kind of outcome: a bug in the store, reported, not a panic.
fn mismatch(outcome: &Written) -> StoreError {
    StoreError::Corrupt(format!("the store answered a write with {outcome:?}"))
}

async fn commit_batches(
    store: Arc<dyn TaskStore>,
    mut requests: mpsc::Receiver<Request>,
    follower: Arc<Changes>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while requests.recv_many(&mut batch, MAX_BATCH).await > 0 {
        for (board, requests) in by_board(batch.drain(..)) {
            let (writes, replies): (Vec<Write>, Vec<_>) =
                requests.into_iter().map(|r| (r.write, r.reply)).unzip();
            let outcomes = commit(&*store, board, &writes, &follower).await;
            for (reply, outcome) in replies.into_iter().zip(outcomes) {
                // An error only means the request was abandoned (its client left); the write
                // stands.
                let _ = reply.send(outcome);
            }
        }
    }
}

/// Requests split by board, each board's in arrival order, boards in order of first arrival.
fn by_board(requests: impl Iterator<Item = Request>) -> Vec<(BoardId, Vec<Request>)> {
    let mut boards: Vec<(BoardId, Vec<Request>)> = Vec::new();
    for request in requests {
        match boards.iter_mut().find(|(board, _)| *board == request.board) {
            Some((_, queued)) => queued.push(request),
            None => boards.push((request.board, vec![request])),
        }
    }
    boards
}

/// Commits `writes` together; on a database error, each alone. One outcome per write, in order.
async fn commit(
    store: &dyn TaskStore,
    board: BoardId,
    writes: &[Write],
    follower: &Changes,
) -> Vec<Result<Written, StoreError>> {
    match store.write(board, writes).await {
        Ok(written) => {
            follower.committed(written.iter().flat_map(|w| w.events().iter().cloned()));
            written.into_iter().map(Ok).collect()
        }
        // Nothing can succeed while the database is away: answer everyone at once.
        Err(StoreError::Unavailable(reason)) => writes
            .iter()
            .map(|_| Err(StoreError::Unavailable(reason.clone())))
            .collect(),
        // A board that is gone: every write to it fails the same way.
        Err(StoreError::NoSuchBoard(board)) => writes
            .iter()
            .map(|_| Err(StoreError::NoSuchBoard(board)))
            .collect(),
        Err(error) if writes.len() == 1 => vec![Err(error)],
        Err(error) => {
            tracing::warn!(%error, writes = writes.len(), "a batch failed; committing its writes one by one");
            let mut outcomes = Vec::with_capacity(writes.len());
            for write in writes {
                let alone =
                    Box::pin(commit(store, board, std::slice::from_ref(write), follower)).await;
                outcomes.extend(alone);
            }
            outcomes
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use async_trait::async_trait;
    use shared::TaskTitle;
    use tokio::sync::Notify;

    use super::*;
    use crate::store::{ListQuery, Page, Replay};

    /// A store that records each batch it is given and fails any batch holding a poisoned title.
    #[derive(Default)]
    struct Recorder {
        batches: Mutex<Vec<(BoardId, usize)>>,
        /// Told when a batch reaches the store.
        entered: Notify,
        /// Held by the test to keep a batch inside its commit.
        gate: tokio::sync::Mutex<()>,
    }

    fn create(title: &str) -> Write {
        Write::Create {
            new: NewTask {
                title: TaskTitle::parse(title).unwrap(),
            },
            key: None,
            by: None,
        }
    }

    fn title_of(write: &Write) -> &str {
        match write {
            Write::Create { new, .. } => new.title.as_str(),
            _ => "",
        }
    }

    const BOARD: BoardId = BoardId(1);

    #[async_trait]
    impl TaskStore for Recorder {
        async fn write(&self, board: BoardId, batch: &[Write]) -> Result<Vec<Written>, StoreError> {
            self.entered.notify_one();
            let _turn = self.gate.lock().await;
            self.batches.lock().unwrap().push((board, batch.len()));
            if batch.iter().any(|w| title_of(w) == "poison") {
                return Err(StoreError::Corrupt("poisoned".into()));
            }
            Ok(batch
                .iter()
                .map(|_| Written::Created(Created::KeyReused))
                .collect())
        }
        async fn list(&self, _: BoardId, _: ListQuery) -> Result<Page, StoreError> {
            unimplemented!("not used by the write path")
        }
        async fn get(&self, _: BoardId, _: TaskId) -> Result<Option<Task>, StoreError> {
            unimplemented!("not used by the write path")
        }
        async fn head(&self, _: BoardId) -> Result<i64, StoreError> {
            Ok(0)
        }
        async fn heads(&self) -> Result<Vec<(BoardId, i64)>, StoreError> {
            Ok(Vec::new())
        }
        async fn events_since(&self, _: BoardId, _: i64, _: u32) -> Result<Replay, StoreError> {
            unimplemented!("not used by the write path")
        }
        async fn ping(&self) -> Result<(), StoreError> {
            Ok(())
        }
        fn identity(&self) -> &str {
            "recorder"
        }
    }

    #[tokio::test]
    async fn writes_arriving_during_a_commit_share_the_next_one() {
        let store = Arc::new(Recorder::default());
        let writes = Writes::spawn(store.clone(), Arc::default(), EventHub::new(8, []));
        let held = store.gate.lock().await;
        let first = tokio::spawn({
            let writes = writes.clone();
            async move { writes.submit(BOARD, create("first")).await }
        });
        // Wait until the first write is inside its commit, then queue five more behind it.
        store.entered.notified().await;
        let later: Vec<_> = (0..5)
            .map(|i| {
                let writes = writes.clone();
                let board = BoardId(1 + i % 2);
                tokio::spawn(
                    async move { writes.submit(board, create(&format!("later {i}"))).await },
                )
            })
            .collect();
        // On this single-threaded runtime one yield lets each of them queue its write.
        tokio::task::yield_now().await;
        drop(held);

        first.await.unwrap().unwrap();
        for write in later {
            write.await.unwrap().unwrap();
        }
        // One commit per board: the first, then the five behind it split by their board.
        assert_eq!(
            *store.batches.lock().unwrap(),
            vec![(BOARD, 1), (BOARD, 3), (BoardId(2), 2)]
        );
    }

    #[tokio::test]
    async fn a_write_that_breaks_its_batch_fails_alone() {
        let store = Arc::new(Recorder::default());
        let follower = Changes::default();

        let outcomes = commit(
            &*store,
            BOARD,
            &[create("a"), create("poison"), create("b")],
            &follower,
        )
        .await;

        let failed: Vec<bool> = outcomes.iter().map(Result::is_err).collect();
        assert_eq!(failed, vec![false, true, false]);
        let sizes: Vec<usize> = store.batches.lock().unwrap().iter().map(|b| b.1).collect();
        assert_eq!(sizes, vec![3, 1, 1, 1]);
    }
}
