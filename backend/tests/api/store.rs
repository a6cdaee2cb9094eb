//! The `TaskStore` contract, checked against both stores: every behaviour below runs once on a
//! SQLite file and once on a PostgreSQL database (`sqlite::…` and `postgres::…` tests).

use std::num::NonZeroU32;
use std::sync::Arc;

use backend::store::{
    self, Created, DatabaseUrl, FIRST_BOARD, Guarded, IdempotencyKey, ListQuery, Replay, Store,
    StoreError, TaskChange, TaskEvent, TaskStore, Write, Written,
};
use shared::{BoardId, Name, NewTask, Task, TaskId, TaskPatch, TaskTitle, Username};
use sqlx::{Connection, Executor};
use tempfile::TempDir;

#[derive(Clone, Copy)]
pub(crate) enum Kind {
    Sqlite,
    Postgres,
}

/// A store on a fresh database, and how to open it again.
pub(crate) struct Opened {
    pub(crate) store: Arc<dyn Store>,
    url: DatabaseUrl,
    retention: NonZeroU32,
    _dir: TempDir,
}

const RETENTION: u32 = 1000;

pub(crate) async fn open(kind: Kind) -> Opened {
    open_with(kind, RETENTION).await
}

async fn open_with(kind: Kind, retention: u32) -> Opened {
    let dir = tempfile::tempdir().unwrap();
    let url = match kind {
        Kind::Sqlite => DatabaseUrl::Sqlite(dir.path().join("tasks.db")),
        Kind::Postgres => crate::postgres::fresh_database().await,
    };
    let retention = NonZeroU32::new(retention).unwrap();
    Opened {
        store: store::open(&url, retention).await.unwrap(),
        url,
        retention,
        _dir: dir,
    }
}

impl Opened {
    /// Another handle on the same database: another process, as far as the database can tell.
    pub(crate) async fn reopen(&self) -> Arc<dyn Store> {
        store::open(&self.url, self.retention).await.unwrap()
    }

    /// Runs `sql` on the database directly, behind the store's back.
    async fn execute(&self, sql: &str) {
        match &self.url {
            DatabaseUrl::Sqlite(path) => {
                let url = format!("sqlite://{}", path.display());
                let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
                conn.execute(sql).await.unwrap();
            }
            DatabaseUrl::Postgres(url) => {
                let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
                conn.execute(sql).await.unwrap();
            }
        }
    }
}

const ALL: ListQuery = ListQuery {
    done: None,
    after: None,
    limit: 1000,
};

fn new_task(title: &str) -> NewTask {
    NewTask {
        title: TaskTitle::parse(title).unwrap(),
    }
}

fn create_write(title: &str) -> Write {
    Write::Create {
        new: new_task(title),
        key: None,
        by: None,
    }
}

fn done(value: bool) -> TaskPatch {
    TaskPatch {
        title: None,
        done: Some(value),
    }
}

async fn write_one(store: &dyn TaskStore, write: Write) -> Written {
    store.write(FIRST_BOARD, &[write]).await.unwrap().remove(0)
}

/// Creates a task that must be new; returns it and its event.
async fn create(store: &dyn TaskStore, title: &str) -> (Task, TaskEvent) {
    match write_one(store, create_write(title)).await {
        Written::Created(Created::New(changed)) => (changed.value, changed.events[0].clone()),
        other => panic!("not created: {other:?}"),
    }
}

async fn update(
    store: &dyn TaskStore,
    id: TaskId,
    patch: TaskPatch,
    expected: Option<Vec<i64>>,
) -> Guarded<Task> {
    match write_one(
        store,
        Write::Update {
            id,
            patch,
            expected,
            by: None,
        },
    )
    .await
    {
        Written::Updated(outcome) => outcome,
        other => panic!("not an update: {other:?}"),
    }
}

async fn delete(store: &dyn TaskStore, id: TaskId, expected: Option<Vec<i64>>) -> Guarded<()> {
    match write_one(store, Write::Delete { id, expected }).await {
        Written::Deleted(outcome) => outcome,
        other => panic!("not a delete: {other:?}"),
    }
}

fn changed<T: std::fmt::Debug>(outcome: Guarded<T>) -> (T, Vec<TaskEvent>) {
    match outcome {
        Guarded::Changed(changed) => (changed.value, changed.events),
        other => panic!("nothing changed: {other:?}"),
    }
}

fn replayed(replay: Replay) -> Vec<TaskEvent> {
    match replay {
        Replay::Events { events, .. } => events,
        Replay::Unavailable { reason, .. } => panic!("unavailable: {reason}"),
    }
}

fn seqs(events: &[TaskEvent]) -> Vec<i64> {
    events.iter().map(|e| e.seq).collect()
}

async fn every_change_records_an_event_with_an_increasing_seq(kind: Kind) {
    let db = open(kind).await;
    let store = &*db.store;

    let (task, created) = create(store, "a").await;
    let (updated, update_events) = changed(update(store, task.id, done(true), None).await);
    let ((), delete_events) = changed(delete(store, task.id, None).await);

    assert_eq!(
        created,
        TaskEvent {
            board: FIRST_BOARD,
            seq: 1,
            change: TaskChange::Created(task.clone())
        }
    );
    assert_eq!((updated.version, updated.done), (2, true));
    assert_eq!(
        update_events,
        vec![TaskEvent {
            board: FIRST_BOARD,
            seq: 2,
            change: TaskChange::Updated(updated)
        }]
    );
    assert_eq!(
        delete_events,
        vec![TaskEvent {
            board: FIRST_BOARD,
            seq: 3,
            change: TaskChange::Deleted(task.id)
        }]
    );
    assert_eq!(store.head(FIRST_BOARD).await.unwrap(), 3);
    let all = [vec![created], update_events, delete_events].concat();
    assert_eq!(
        replayed(store.events_since(FIRST_BOARD, 0, 100).await.unwrap()),
        all
    );
}

async fn an_update_changes_only_the_fields_it_names(kind: Kind) {
    let db = open(kind).await;
    let store = &*db.store;
    let (task, _) = create(store, "a").await;

    update(store, task.id, done(true), None).await;
    let retitle = TaskPatch {
        title: Some(TaskTitle::parse("b").unwrap()),
        done: None,
    };
    let (task, _) = changed(update(store, task.id, retitle, None).await);

    assert_eq!(
        (task.title.as_str(), task.done, task.version),
        ("b", true, 3)
    );
}

async fn a_write_naming_a_stale_version_changes_nothing_and_returns_the_current_task(kind: Kind) {
    let db = open(kind).await;
    let store = &*db.store;
    let (task, _) = create(store, "a").await;
    let (current, _) = changed(update(store, task.id, done(true), None).await);

    let stale_update = update(store, task.id, done(false), Some(vec![1])).await;
    let stale_delete = delete(store, task.id, Some(vec![1])).await;

    assert_eq!(stale_update, Guarded::Stale(current.clone()));
    assert_eq!(stale_delete, Guarded::Stale(current));
    assert_eq!(store.head(FIRST_BOARD).await.unwrap(), 2);
    let (fresh, _) = changed(update(store, task.id, done(false), Some(vec![5, 2])).await);
    assert_eq!(fresh.version, 3);
}

async fn unknown_ids_change_nothing(kind: Kind) {
    let db = open(kind).await;
    let store = &*db.store;

    let updated = update(store, TaskId(7), done(true), None).await;
    let deleted = delete(store, TaskId(7), None).await;

    assert_eq!((updated, deleted), (Guarded::NotFound, Guarded::NotFound));
    assert_eq!(store.head(FIRST_BOARD).await.unwrap(), 0);
    assert_eq!(store.get(FIRST_BOARD, TaskId(7)).await.unwrap(), None);
}

async fn pages_follow_the_cursor_and_the_filter_and_name_the_head(kind: Kind) {
    let db = open(kind).await;
    let store = &*db.store;
    let empty = store.list(FIRST_BOARD, ALL).await.unwrap();
    assert_eq!(
        (empty.tasks.len(), empty.seq, empty.has_more),
        (0, 0, false)
    );
    let mut ids = Vec::new();
    for title in ["a", "b", "c", "d", "e"] {
        ids.push(create(store, title).await.0.id);
    }
    update(store, ids[1], done(true), None).await;
    update(store, ids[3], done(true), None).await;

    let open_tasks = |after| ListQuery {
        done: Some(false),
        after,
        limit: 2,
    };
    let first = store.list(FIRST_BOARD, open_tasks(None)).await.unwrap();
    let second = store
        .list(FIRST_BOARD, open_tasks(first.tasks.last().map(|t| t.id)))
        .await
        .unwrap();

    let titles = |tasks: &[Task]| tasks.iter().map(|t| t.title.clone()).collect::<Vec<_>>();
    assert_eq!(
        (titles(&first.tasks), first.has_more, first.seq),
        (vec!["a".into(), "c".into()], true, 7)
    );
    assert_eq!(
        (titles(&second.tasks), second.has_more),
        (vec!["e".to_string()], false)
    );
    assert_eq!(
        store
            .get(FIRST_BOARD, ids[1])
            .await
            .unwrap()
            .map(|t| t.done),
        Some(true)
    );
}

async fn clearing_done_tasks_deletes_only_those_with_one_event_each(kind: Kind) {
    let db = open(kind).await;
    let store = &*db.store;
    let (keep, _) = create(store, "keep").await;
    for title in ["x", "y"] {
        let (task, _) = create(store, title).await;
        update(store, task.id, done(true), None).await;
    }

    let Written::Cleared(cleared) = write_one(store, Write::ClearDone).await else {
        panic!("not a clear");
    };

    assert_eq!(cleared.value, 2);
    assert_eq!(seqs(&cleared.events), vec![6, 7]);
    let left: Vec<_> = store
        .list(FIRST_BOARD, ALL)
        .await
        .unwrap()
        .tasks
        .iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(left, vec![keep.id]);
}

fn keyed(title: &str, key: &str) -> Write {
    Write::Create {
        new: new_task(title),
        key: Some(IdempotencyKey {
            key: key.into(),
            fingerprint: title.into(),
        }),
        by: None,
    }
}

async fn an_idempotency_key_replays_the_first_answer_and_refuses_a_different_request(kind: Kind) {
    let db = open(kind).await;
    let store = &*db.store;

    let first = write_one(store, keyed("a", "k1")).await;
    let retry = write_one(store, keyed("a", "k1")).await;
    let other = write_one(store, keyed("b", "k1")).await;

    let Written::Created(Created::New(first)) = first else {
        panic!("{first:?}")
    };
    assert_eq!(retry, Written::Created(Created::Replayed(first.value)));
    assert_eq!(other, Written::Created(Created::KeyReused));
    assert_eq!(store.list(FIRST_BOARD, ALL).await.unwrap().tasks.len(), 1);
    assert_eq!(store.head(FIRST_BOARD).await.unwrap(), 1);
}

async fn racing_retries_with_one_key_from_two_processes_create_one_task(kind: Kind) {
    let db = open(kind).await;
    let other = db.reopen().await;

    let attempts = (0..8).map(|i| {
        let store = if i % 2 == 0 {
            db.store.clone()
        } else {
            other.clone()
        };
        tokio::spawn(async move {
            store
                .write(FIRST_BOARD, &[keyed("once", "k-race")])
                .await
                .unwrap()
                .remove(0)
        })
    });
    let outcomes: Vec<Written> = futures_util::future::join_all(attempts)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();

    let created: Vec<&Task> = outcomes
        .iter()
        .filter_map(|o| match o {
            Written::Created(Created::New(changed)) => Some(&changed.value),
            _ => None,
        })
        .collect();
    assert_eq!(created.len(), 1, "{outcomes:?}");
    for outcome in &outcomes {
        match outcome {
            Written::Created(Created::New(_)) => {}
            Written::Created(Created::Replayed(task)) => assert_eq!(task, created[0]),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        db.store.list(FIRST_BOARD, ALL).await.unwrap().tasks.len(),
        1
    );
}

async fn an_idempotency_key_older_than_a_day_no_longer_counts(kind: Kind) {
    let db = open(kind).await;
    write_one(&*db.store, keyed("a", "k1")).await;
    db.execute("UPDATE idempotency_keys SET created_at_ms = created_at_ms - 86400000")
        .await;

    let again = write_one(&*db.store, keyed("a", "k1")).await;

    assert!(
        matches!(again, Written::Created(Created::New(_))),
        "{again:?}"
    );
    assert_eq!(
        db.store.list(FIRST_BOARD, ALL).await.unwrap().tasks.len(),
        2
    );
}

async fn a_batch_commits_in_order_with_consecutive_seqs_and_a_refusal_does_not_undo_its_neighbours(
    kind: Kind,
) {
    let db = open(kind).await;
    let store = &*db.store;
    let (task, _) = create(store, "existing").await;

    let written = store
        .write(
            FIRST_BOARD,
            &[
                create_write("first"),
                Write::Update {
                    id: task.id,
                    patch: done(true),
                    expected: Some(vec![9]),
                    by: None,
                },
                keyed("second", "k"),
                keyed("not second", "k"),
                Write::Delete {
                    id: task.id,
                    expected: Some(vec![1]),
                },
            ],
        )
        .await
        .unwrap();

    let event_seqs: Vec<Vec<i64>> = written.iter().map(|w| seqs(w.events())).collect();
    assert_eq!(event_seqs, vec![vec![2], vec![], vec![3], vec![], vec![4]]);
    assert!(matches!(written[1], Written::Updated(Guarded::Stale(_))));
    assert_eq!(written[3], Written::Created(Created::KeyReused));
    let titles: Vec<String> = store
        .list(FIRST_BOARD, ALL)
        .await
        .unwrap()
        .tasks
        .into_iter()
        .map(|t| t.title)
        .collect();
    assert_eq!(titles, vec!["first", "second"]);
    assert_eq!(
        seqs(&replayed(
            store.events_since(FIRST_BOARD, 1, 100).await.unwrap()
        )),
        vec![2, 3, 4]
    );
}

async fn replay_is_refused_before_the_retained_window_and_ahead_of_the_head(kind: Kind) {
    let db = open_with(kind, 2).await;
    let store = &*db.store;
    for title in ["a", "b", "c", "d"] {
        create(store, title).await;
    }

    assert_eq!(
        seqs(&replayed(
            store.events_since(FIRST_BOARD, 2, 100).await.unwrap()
        )),
        vec![3, 4]
    );
    assert_eq!(
        seqs(&replayed(
            store.events_since(FIRST_BOARD, 4, 100).await.unwrap()
        )),
        Vec::<i64>::new()
    );
    for since in [1, 5, -1] {
        let replay = store.events_since(FIRST_BOARD, since, 100).await.unwrap();
        assert!(
            matches!(replay, Replay::Unavailable { head: 4, .. }),
            "{since}: {replay:?}"
        );
    }
}

async fn a_replay_returns_at_most_the_events_asked_for_and_names_the_head(kind: Kind) {
    let db = open(kind).await;
    for title in ["a", "b", "c", "d"] {
        create(&*db.store, title).await;
    }

    let replay = db.store.events_since(FIRST_BOARD, 1, 2).await.unwrap();

    let Replay::Events { head, events } = replay else {
        panic!("{replay:?}");
    };
    assert_eq!((head, seqs(&events)), (4, vec![2, 3]));
}

async fn the_seq_and_the_identity_survive_reopening_and_another_database_has_another_identity(
    kind: Kind,
) {
    let db = open(kind).await;
    create(&*db.store, "a").await;

    let reopened = db.reopen().await;
    let (_, second) = create(&*reopened, "b").await;

    assert_eq!(second.seq, 2);
    assert_eq!(reopened.list(FIRST_BOARD, ALL).await.unwrap().seq, 2);
    assert_eq!(reopened.identity(), db.store.identity());
    assert!(!db.store.identity().is_empty());
    let elsewhere = open(kind).await;
    assert_ne!(elsewhere.store.identity(), db.store.identity());
}

async fn concurrent_writers_in_two_processes_get_gap_free_seqs_in_commit_order(kind: Kind) {
    let db = open(kind).await;
    let other = db.reopen().await;
    const BATCHES: usize = 12;
    const PER_BATCH: usize = 5;

    let writers = (0..BATCHES).map(|b| {
        let store = if b % 2 == 0 {
            db.store.clone()
        } else {
            other.clone()
        };
        tokio::spawn(async move {
            let batch: Vec<Write> = (0..PER_BATCH)
                .map(|i| create_write(&format!("{b}.{i}")))
                .collect();
            store.write(FIRST_BOARD, &batch).await.unwrap()
        })
    });
    let mut acknowledged: Vec<i64> = Vec::new();
    for writer in futures_util::future::join_all(writers).await {
        acknowledged.extend(writer.unwrap().iter().flat_map(|w| seqs(w.events())));
    }

    let total = (BATCHES * PER_BATCH) as i64;
    acknowledged.sort_unstable();
    assert_eq!(acknowledged, (1..=total).collect::<Vec<_>>());
    let log = replayed(db.store.events_since(FIRST_BOARD, 0, 1000).await.unwrap());
    assert_eq!(seqs(&log), (1..=total).collect::<Vec<_>>());
    // Commit order: a task created in a later commit has a later seq and a larger id.
    let ids: Vec<i64> = log
        .iter()
        .map(|e| match &e.change {
            TaskChange::Created(task) => task.id.0,
            other => panic!("{other:?}"),
        })
        .collect();
    assert!(ids.windows(2).all(|pair| pair[0] < pair[1]), "{ids:?}");
}

/// A second board (with its owner), as the account side makes it.
async fn second_board(store: &dyn Store) -> BoardId {
    let owner = store
        .create_user(&Username::parse("owner").unwrap(), "h", 1)
        .await
        .unwrap()
        .unwrap();
    let board = store
        .create_board(owner.id, &Name::parse("Second").unwrap(), 1)
        .await
        .unwrap();
    assert_ne!(board.id, FIRST_BOARD);
    board.id
}

async fn each_board_numbers_its_own_events_and_holds_its_own_tasks(kind: Kind) {
    let db = open(kind).await;
    let store = &*db.store;
    let second = second_board(store).await;
    create(store, "first board").await;
    let written = store
        .write(
            second,
            &[create_write("second a"), create_write("second b")],
        )
        .await
        .unwrap();
    let seconds: Vec<(BoardId, i64)> = written
        .iter()
        .map(|w| (w.events()[0].board, w.events()[0].seq))
        .collect();
    assert_eq!(seconds, [(second, 1), (second, 2)]);
    let theirs = match &written[0] {
        Written::Created(Created::New(changed)) => changed.value.clone(),
        other => panic!("{other:?}"),
    };

    assert_eq!(store.head(FIRST_BOARD).await.unwrap(), 1);
    assert_eq!(store.head(second).await.unwrap(), 2);
    let mut heads = store.heads().await.unwrap();
    heads.sort();
    assert_eq!(heads, [(FIRST_BOARD, 1), (second, 2)]);
    let titles: Vec<String> = store
        .list(second, ALL)
        .await
        .unwrap()
        .tasks
        .into_iter()
        .map(|t| t.title)
        .collect();
    assert_eq!(titles, ["second a", "second b"]);
    assert_eq!(store.list(FIRST_BOARD, ALL).await.unwrap().tasks.len(), 1);
    assert_eq!(store.get(FIRST_BOARD, theirs.id).await.unwrap(), None);
    let across = store
        .write(
            FIRST_BOARD,
            &[
                Write::Delete {
                    id: theirs.id,
                    expected: None,
                },
                Write::ClearDone,
            ],
        )
        .await
        .unwrap();
    assert!(
        matches!(across[0], Written::Deleted(Guarded::NotFound)),
        "{across:?}"
    );
    assert_eq!(store.list(second, ALL).await.unwrap().tasks.len(), 2);
    let replay = replayed(store.events_since(second, 0, 100).await.unwrap());
    assert!(replay.iter().all(|e| e.board == second) && replay.len() == 2);
}

async fn a_deleted_board_takes_its_tasks_and_stream_and_refuses_writes(kind: Kind) {
    let db = open(kind).await;
    let store = &*db.store;
    let second = second_board(store).await;
    store
        .write(second, &[create_write("doomed")])
        .await
        .unwrap();

    assert!(store.delete_board(second).await.unwrap());

    assert!(
        matches!(store.write(second, &[create_write("late")]).await, Err(StoreError::NoSuchBoard(b)) if b == second)
    );
    assert!(matches!(
        store.list(second, ALL).await,
        Err(StoreError::NoSuchBoard(_))
    ));
    assert!(matches!(
        store.head(second).await,
        Err(StoreError::NoSuchBoard(_))
    ));
    assert!(
        store
            .heads()
            .await
            .unwrap()
            .iter()
            .all(|(board, _)| *board != second)
    );
}

/// On PostgreSQL, a writer holding one board's counter does not hold up writers of another board
/// (SQLite has one writer for the whole file, by design).
#[tokio::test]
async fn on_postgres_writers_of_different_boards_do_not_wait_for_each_other() {
    let db = open(Kind::Postgres).await;
    let second = second_board(&*db.store).await;
    let DatabaseUrl::Postgres(url) = &db.url else {
        unreachable!()
    };
    let mut holder = sqlx::PgConnection::connect(url).await.unwrap();
    holder
        .execute("BEGIN; UPDATE streams SET head = head WHERE id = 1")
        .await
        .unwrap();

    let other_board = tokio::time::timeout(
        std::time::Duration::from_secs(3),
        db.store.write(second, &[create_write("not held up")]),
    )
    .await;
    let same_board = tokio::time::timeout(
        std::time::Duration::from_millis(500),
        db.store.write(FIRST_BOARD, &[create_write("waits")]),
    )
    .await;

    assert!(
        other_board
            .expect("the other board's write went through")
            .is_ok()
    );
    assert!(
        same_board.is_err(),
        "the held board's writer waits for the counter"
    );
    holder.execute("ROLLBACK").await.unwrap();
}

/// Each behaviour above, once per store (also used by `store_accounts`).
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test] async fn $name() { super::$name(super::Kind::Sqlite).await })*
        }
        mod postgres {
            $(#[tokio::test] async fn $name() { super::$name(super::Kind::Postgres).await })*
        }
    };
}

on_both_stores!(
    every_change_records_an_event_with_an_increasing_seq,
    an_update_changes_only_the_fields_it_names,
    a_write_naming_a_stale_version_changes_nothing_and_returns_the_current_task,
    unknown_ids_change_nothing,
    pages_follow_the_cursor_and_the_filter_and_name_the_head,
    clearing_done_tasks_deletes_only_those_with_one_event_each,
    an_idempotency_key_replays_the_first_answer_and_refuses_a_different_request,
    racing_retries_with_one_key_from_two_processes_create_one_task,
    an_idempotency_key_older_than_a_day_no_longer_counts,
    a_batch_commits_in_order_with_consecutive_seqs_and_a_refusal_does_not_undo_its_neighbours,
    replay_is_refused_before_the_retained_window_and_ahead_of_the_head,
    a_replay_returns_at_most_the_events_asked_for_and_names_the_head,
    the_seq_and_the_identity_survive_reopening_and_another_database_has_another_identity,
    concurrent_writers_in_two_processes_get_gap_free_seqs_in_commit_order,
    each_board_numbers_its_own_events_and_holds_its_own_tasks,
    a_deleted_board_takes_its_tasks_and_stream_and_refuses_writes,
);
