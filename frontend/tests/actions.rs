//! Optimistic changes in headless Chrome: shown at once, rolled back with a message when the server
//! refuses. The test runner's own web server stands in for a server that refuses: it has no
//! `/api`, so every write comes back 404 without a problem body.

mod support;

use frontend::actions::Actions;
use frontend::board::Board;
use leptos::mount::mount_to;
use leptos::prelude::*;
use shared::{Task, TaskId};
use support::task;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// Waits (on real timers: the request is real) until `ready` holds, for up to five seconds.
async fn wait_until(ready: impl Fn() -> bool) {
    for _ in 0..250 {
        if ready() {
            return;
        }
        let promise = js_sys::Promise::new(&mut |resolve, _| {
            window()
                .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, 20)
                .unwrap();
        });
        wasm_bindgen_futures::JsFuture::from(promise).await.unwrap();
    }
    panic!("the condition did not hold within five seconds");
}

fn board_with(tasks: Vec<Task>) -> RwSignal<Board> {
    // Actions spawn their requests on Leptos' executor, which mounting sets up.
    std::mem::forget(mount_to(document().body().unwrap(), || ()));
    let board = RwSignal::new(Board::default());
    board.update(|b| {
        b.load(tasks, 1);
    });
    board
}

fn shown(board: RwSignal<Board>, id: i64) -> Option<Task> {
    board.with_untracked(|b| b.tasks().iter().find(|t| t.id == TaskId(id)).cloned())
}

#[wasm_bindgen_test]
async fn a_refused_toggle_shows_at_once_and_is_rolled_back_with_a_message() {
    let board = board_with(vec![task(1, "water plants")]);
    let actions = Actions::new(board, shared::BoardId(1));

    actions.toggle(task(1, "water plants"));

    assert!(
        shown(board, 1).unwrap().done,
        "shown done before the answer"
    );
    wait_until(|| actions.notice.get_untracked().is_some()).await;
    assert!(!shown(board, 1).unwrap().done, "rolled back");
    let notice = actions.notice.get_untracked().unwrap();
    assert!(notice.starts_with("Your change was undone."), "{notice}");
}

#[wasm_bindgen_test]
async fn a_refused_rename_and_delete_put_the_task_back_as_it_was() {
    let board = board_with(vec![task(1, "draft"), task(2, "keep")]);
    let actions = Actions::new(board, shared::BoardId(1));

    actions.rename(task(1, "draft"), "final");
    assert_eq!(shown(board, 1).unwrap().title, "final");
    wait_until(|| shown(board, 1).is_some_and(|t| t.title == "draft")).await;

    actions.delete(task(2, "keep"));
    assert_eq!(shown(board, 2), None, "hidden at once");
    wait_until(|| shown(board, 2).is_some()).await;
    assert!(actions.notice.get_untracked().is_some());
}

#[wasm_bindgen_test]
fn a_rename_that_breaks_the_title_rule_is_refused_without_a_request() {
    let board = board_with(vec![task(1, "draft")]);
    let actions = Actions::new(board, shared::BoardId(1));

    actions.rename(task(1, "draft"), "   ");

    assert_eq!(shown(board, 1).unwrap().title, "draft");
    let notice = actions.notice.get_untracked().unwrap();
    assert!(notice.contains("cannot be empty"), "{notice}");
}
