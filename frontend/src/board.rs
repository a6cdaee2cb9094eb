//! The task list as the page holds it: REST snapshots and live events merged, idempotent by `seq`.
//!
//! One board's tasks. A snapshot from `GET /api/boards/{board}/tasks` says which event `seq` it reflects; a live event applies only
//! if its `seq` is newer than what the board already has. Recent events are kept so that a snapshot
//! older than them can be brought up to date again, whichever of the two arrives first.

use std::collections::VecDeque;

use shared::{ServerMsg, Task, TaskId};

/// A task event's `seq` on its board's stream (the page follows one board at a time).
fn seq_of(event: &ServerMsg) -> Option<i64> {
    event.seq().map(|(_, seq)| seq)
}

/// How many applied events are kept to re-apply on top of an older snapshot.
const RECENT_EVENTS: usize = 256;

/// The page's tasks and how up to date they are.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Board {
    tasks: Vec<Task>,
    /// The newest event `seq` reflected in `tasks`.
    seq: i64,
    /// Whether a snapshot has been loaded (before that, `seq` means nothing to the server).
    loaded: bool,
    /// A snapshot older than this misses events the live stream will not send again.
    required_seq: i64,
    recent: VecDeque<ServerMsg>,
    /// The identity of the store the board's `seq`s come from, once a `hello` named it.
    store: Option<String>,
}

impl Board {
    /// Tasks, oldest first.
    pub fn tasks(&self) -> &[Task] {
        &self.tasks
    }

    pub fn is_loaded(&self) -> bool {
        self.loaded
    }

    /// The `seq` to resume from after a reconnect, once a snapshot is loaded.
    pub fn resume_seq(&self) -> Option<i64> {
        self.loaded.then_some(self.seq)
    }

    /// The live stream starts after `seq` (`subscribed` without `since`): a snapshot must reflect at
    /// least that much. Returns whether the board must be reloaded to get there.
    pub fn require(&mut self, seq: i64) -> bool {
        self.required_seq = self.required_seq.max(seq);
        !self.loaded || self.seq < self.required_seq
    }

    /// A live stream from the store named `store` began. If the board's `seq`s come from another
    /// store (a restored backup, a new database), they mean nothing there: the board forgets them
    /// and returns `true`, and must be reloaded.
    pub fn from_store(&mut self, store: &str) -> bool {
        let foreign = self.store.as_deref().is_some_and(|known| known != store);
        if foreign {
            *self = Self::default();
        }
        self.store = Some(store.to_owned());
        foreign
    }

    /// Takes a REST snapshot reflecting events up to `seq`, re-applying newer events already seen.
    /// Returns `false` (and changes nothing) when the snapshot is too old to use.
    pub fn load(&mut self, tasks: Vec<Task>, seq: i64) -> bool {
        if seq < self.required_seq {
            return false;
        }
        self.tasks = tasks;
        self.seq = seq;
        self.loaded = true;
        let newer: Vec<ServerMsg> = self
            .recent
            .iter()
            .filter(|event| seq_of(event).is_some_and(|s| s > seq))
            .cloned()
            .collect();
        for event in &newer {
            self.change(event);
            self.seq = self.seq.max(seq_of(event).unwrap_or(self.seq));
        }
        true
    }

    /// Applies a live task event once: an event at or below the board's `seq` is ignored.
    /// Returns whether it changed anything.
    pub fn apply(&mut self, event: &ServerMsg) -> bool {
        let Some(seq) = seq_of(event) else {
            return false;
        };
        if self.recent.iter().any(|seen| seq_of(seen) == Some(seq)) || seq <= self.seq {
            return false;
        }
        if self.recent.len() == RECENT_EVENTS {
            self.recent.pop_front();
        }
        self.recent.push_back(event.clone());
        self.change(event);
        if self.loaded {
            self.seq = seq;
        }
        true
    }

    /// Adds or refreshes one task the page itself just created or changed over REST; an older
    /// copy than the board's is ignored. Tasks stay in creation (id) order.
    pub fn upsert(&mut self, task: Task) {
        match self.tasks.binary_search_by_key(&task.id, |t| t.id) {
            Ok(at) if self.tasks[at].version < task.version => self.tasks[at] = task,
            Ok(_) => {}
            Err(at) => self.tasks.insert(at, task),
        }
    }

    /// Shows `task` as given, whatever its version: an optimistic change, or its rollback.
    pub fn show(&mut self, task: Task) {
        match self.tasks.binary_search_by_key(&task.id, |t| t.id) {
            Ok(at) => self.tasks[at] = task,
            Err(at) => self.tasks.insert(at, task),
        }
    }

    /// Hides a task (an optimistic delete).
    pub fn hide(&mut self, id: TaskId) {
        self.tasks.retain(|t| t.id != id);
    }

    /// The task with `id`, if shown.
    pub fn task(&self, id: TaskId) -> Option<&Task> {
        self.tasks.iter().find(|t| t.id == id)
    }

    fn change(&mut self, event: &ServerMsg) {
        match event {
            ServerMsg::TaskCreated { task, .. } | ServerMsg::TaskUpdated { task, .. } => {
                self.upsert(task.clone())
            }
            ServerMsg::TaskDeleted { id, .. } => self.hide(*id),
            _ => {}
        }
    }
}
