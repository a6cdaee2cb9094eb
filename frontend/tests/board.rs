//! The board's merge rules: snapshots and live events, each applied once.

use frontend::board::Board;
use shared::{BoardId, ServerMsg, Task, TaskId};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn task(id: i64, title: &str, version: i64) -> Task {
    Task {
        id: TaskId(id),
        title: title.into(),
        done: false,
        created_at: Default::default(),
        version,
        created_by: None,
        updated_by: None,
    }
}

fn created(seq: i64, id: i64) -> ServerMsg {
    ServerMsg::TaskCreated {
        board: BoardId(1),
        seq,
        task: task(id, &format!("task {id}"), 1),
    }
}

fn ids(board: &Board) -> Vec<i64> {
    board.tasks().iter().map(|t| t.id.0).collect()
}

#[wasm_bindgen_test]
fn an_event_is_applied_once_even_if_it_arrives_twice() {
    let mut board = Board::default();
    assert!(board.load(vec![], 0));

    assert!(board.apply(&created(1, 1)));
    assert!(!board.apply(&created(1, 1)));

    assert_eq!(ids(&board), [1]);
    assert_eq!(board.resume_seq(), Some(1));
}

#[wasm_bindgen_test]
fn events_the_snapshot_already_reflects_are_ignored() {
    let mut board = Board::default();
    board.load(vec![task(1, "a", 1)], 5);

    assert!(!board.apply(&created(4, 2)));

    assert_eq!(ids(&board), [1]);
}

#[wasm_bindgen_test]
fn a_snapshot_older_than_events_already_seen_gets_them_reapplied() {
    let mut board = Board::default();
    board.apply(&created(3, 3));
    board.apply(&ServerMsg::TaskDeleted {
        board: BoardId(1),
        seq: 4,
        id: TaskId(1),
    });

    assert!(board.load(vec![task(1, "a", 1), task(2, "b", 1)], 2));

    assert_eq!(ids(&board), [2, 3]);
    assert_eq!(board.resume_seq(), Some(4));
}

#[wasm_bindgen_test]
fn a_snapshot_older_than_the_live_stream_start_is_refused() {
    let mut board = Board::default();
    assert!(board.require(7), "an unloaded board needs loading");

    assert!(!board.load(vec![], 6));
    assert!(board.load(vec![], 7));
    assert!(!board.require(7));
}

#[wasm_bindgen_test]
fn the_pages_own_creation_is_not_shown_twice() {
    let mut board = Board::default();
    board.load(vec![], 0);

    board.upsert(task(1, "mine", 1));
    board.apply(&created(1, 1));

    assert_eq!(ids(&board), [1]);
}

#[wasm_bindgen_test]
fn an_update_replaces_the_task_and_a_stale_copy_does_not() {
    let mut board = Board::default();
    board.load(vec![task(1, "old", 1)], 0);

    board.apply(&ServerMsg::TaskUpdated {
        board: BoardId(1),
        seq: 1,
        task: task(1, "new", 2),
    });
    board.upsert(task(1, "old", 1));

    assert_eq!(board.tasks()[0].title, "new");
}

#[wasm_bindgen_test]
fn a_stream_from_another_store_empties_the_board_and_asks_for_a_reload() {
    let mut board = Board::default();
    assert!(!board.from_store("first"));
    assert!(board.load(vec![task(1, "a", 1)], 40));
    assert!(
        !board.from_store("first"),
        "the same store again is no reason to reload"
    );

    assert!(board.from_store("restored"));

    assert_eq!(ids(&board), Vec::<i64>::new());
    assert_eq!(board.resume_seq(), None);
    // The new store's stream applies from its own beginning.
    assert!(board.load(vec![], 3));
    assert!(board.apply(&created(4, 9)));
    assert_eq!(ids(&board), [9]);
}
