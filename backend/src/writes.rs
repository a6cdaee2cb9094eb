//! The one write path: every change a request asks for goes through [`Writes`].
//!
//! Writes queue for one task that commits them in batches (group commit): whatever arrives while
//! a commit is in flight goes into the next transaction, so one fsync serves many requests. Each
//! request is answered only after its batch committed, with its own outcome; a refusal (stale
//! `If-Match`, reused key) is an outcome and never fails its neighbours. Should a batch fail with
//! a database error, each of its writes is tried again alone, so only the write that caused it
//! fails. After every commit the follower is woken: it is what publishes the events (see
//! `follower`), so no handler can forget to. A request is answered once its events are on this
//! instance's live stream too (read-your-writes), or after [`PUBLISH_PATIENCE`] if the follower
//! cannot read them back yet: the change is durable either way.

use std::sync::Arc;
use std::time::Duration;

use shared::{NewTask, Task, TaskId, TaskPatch};
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

    /// Applies one write and returns its outcome, once it is durable.
    pub async fn submit(&self, write: Write) -> Result<Written, StoreError> {
        let (reply, outcome) = oneshot::channel();
        let stopped = || StoreError::Unavailable("the server is shutting down".into());
        self.queue
            .send(Request { write, reply })
            .await
            .map_err(|_| stopped())?;
        let written = outcome.await.map_err(|_| stopped())??;
        if let Some(last) = written.events().last()
            && !self.events.wait_published(last.seq, PUBLISH_PATIENCE).await
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
        new: NewTask,
        key: Option<IdempotencyKey>,
    ) -> Result<Created, StoreError> {
        match self.submit(Write::Create { new, key }).await? {
            Written::Created(created) => Ok(created),
            other => Err(mismatch(&other)),
        }
    }

    pub async fn update(
        &self,
        id: TaskId,
        patch: TaskPatch,
        expected: Option<Vec<i64>>,
    ) -> Result<Guarded<Task>, StoreError> {
        match self
            .submit(Write::Update {
                id,
                patch,
                expected,
            })
            .await?
        {
            Written::Updated(updated) => Ok(updated),
            other => Err(mismatch(&other)),
        }
    }

    pub async fn delete(
        &self,
        id: TaskId,
        expected: Option<Vec<i64>>,
    ) -> Result<Guarded<()>, StoreError> {
        match self.submit(Write::Delete { id, expected }).await? {
            Written::Deleted(deleted) => Ok(deleted),
            other => Err(mismatch(&other)),
        }
    }

    /// Deletes every done task; the value is how many.
    pub async fn clear_done(&self) -> Result<Changed<u64>, StoreError> {
        match self.submit(Write::ClearDone).await? {
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
        let (writes, replies): (Vec<Write>, Vec<_>) =
            batch.drain(..).map(|r| (r.write, r.reply)).unzip();
        let outcomes = commit(&*store, &writes, &follower).await;
        for (reply, outcome) in replies.into_iter().zip(outcomes) {
            // An error only means the request was abandoned (its client left); the write stands.
            let _ = reply.send(outcome);
        }
    }
}

/// Commits `writes` together; on a database error, each alone. One outcome per write, in order.
async fn commit(
    store: &dyn TaskStore,
    writes: &[Write],
    follower: &Changes,
) -> Vec<Result<Written, StoreError>> {
    match store.write(writes).await {
        Ok(written) => {
            follower.committed(written.iter().flat_map(|w| w.events().iter().cloned()));
            written.into_iter().map(Ok).collect()
        }
        // Nothing can succeed while the database is away: answer everyone at once.
        Err(StoreError::Unavailable(reason)) => writes
            .iter()
            .map(|_| Err(StoreError::Unavailable(reason.clone())))
            .collect(),
        Err(error) if writes.len() == 1 => vec![Err(error)],
        Err(error) => {
            tracing::warn!(%error, writes = writes.len(), "a batch failed; committing its writes one by one");
            let mut outcomes = Vec::with_capacity(writes.len());
            for write in writes {
                let alone = Box::pin(commit(store, std::slice::from_ref(write), follower)).await;
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
        batches: Mutex<Vec<usize>>,
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
        }
    }

    fn title_of(write: &Write) -> &str {
        match write {
            Write::Create { new, .. } => new.title.as_str(),
            _ => "",
        }
    }

    #[async_trait]
    impl TaskStore for Recorder {
        async fn write(&self, batch: &[Write]) -> Result<Vec<Written>, StoreError> {
            self.entered.notify_one();
            let _turn = self.gate.lock().await;
            self.batches.lock().unwrap().push(batch.len());
            if batch.iter().any(|w| title_of(w) == "poison") {
                return Err(StoreError::Corrupt("poisoned".into()));
            }
            Ok(batch
                .iter()
                .map(|_| Written::Created(Created::KeyReused))
                .collect())
        }
        async fn list(&self, _: ListQuery) -> Result<Page, StoreError> {
            unimplemented!("not used by the write path")
        }
        async fn get(&self, _: TaskId) -> Result<Option<Task>, StoreError> {
            unimplemented!("not used by the write path")
        }
        async fn head(&self) -> Result<i64, StoreError> {
            Ok(0)
        }
        async fn events_since(&self, _: i64, _: u32) -> Result<Replay, StoreError> {
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
        let writes = Writes::spawn(store.clone(), Arc::default(), EventHub::new(8, 0));
        let held = store.gate.lock().await;
        let first = tokio::spawn({
            let writes = writes.clone();
            async move { writes.submit(create("first")).await }
        });
        // Wait until the first write is inside its commit, then queue five more behind it.
        store.entered.notified().await;
        let later: Vec<_> = (0..5)
            .map(|i| {
                let writes = writes.clone();
                tokio::spawn(async move { writes.submit(create(&format!("later {i}"))).await })
            })
            .collect();
        // On this single-threaded runtime one yield lets each of them queue its write.
        tokio::task::yield_now().await;
        drop(held);

        first.await.unwrap().unwrap();
        for write in later {
            write.await.unwrap().unwrap();
        }
        assert_eq!(*store.batches.lock().unwrap(), vec![1, 5]);
    }

    #[tokio::test]
    async fn a_write_that_breaks_its_batch_fails_alone() {
        let store = Arc::new(Recorder::default());
        let follower = Changes::default();

        let outcomes = commit(
            &*store,
            &[create("a"), create("poison"), create("b")],
            &follower,
        )
        .await;

        let failed: Vec<bool> = outcomes.iter().map(Result::is_err).collect();
        assert_eq!(failed, vec![false, true, false]);
        assert_eq!(*store.batches.lock().unwrap(), vec![3, 1, 1, 1]);
    }
}
