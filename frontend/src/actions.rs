//! What the user does to tasks: shown at once (optimistically), sent over REST with `If-Match`, and
//! rolled back with a visible message if the server refuses.

use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::{Task, TaskTitle, UpdateTask};

use crate::api::{self, ApiError};
use crate::board::Board;

/// The board and the message line the actions report to. Copy, so every handler can hold one.
#[derive(Debug, Clone, Copy)]
pub struct Actions {
    pub board: RwSignal<Board>,
    /// Which board the tasks belong to.
    pub board_id: shared::BoardId,
    /// The latest refusal or conflict, for the page's alert line.
    pub notice: RwSignal<Option<String>>,
}

impl Actions {
    pub fn new(board: RwSignal<Board>, board_id: shared::BoardId) -> Self {
        Self {
            board,
            board_id,
            notice: RwSignal::new(None),
        }
    }

    /// Flips `done`.
    pub fn toggle(self, task: Task) {
        let done = !task.done;
        self.update(
            task,
            UpdateTask {
                title: None,
                done: Some(done),
            },
        );
    }

    /// Renames a task; a title that breaks the rule is refused here, without a request.
    pub fn rename(self, task: Task, raw: &str) {
        match TaskTitle::parse(raw) {
            Ok(title) if title.as_str() == task.title => {}
            Ok(title) => self.update(
                task,
                UpdateTask {
                    title: Some(title.into_inner()),
                    done: None,
                },
            ),
            Err(refusal) => self.notice.set(Some(refusal.to_string())),
        }
    }

    /// Marks every task done, or every task open if all are done already.
    pub fn toggle_all(self) {
        let tasks = self.board.with_untracked(|b| b.tasks().to_vec());
        let done = !tasks.iter().all(|t| t.done);
        for task in tasks.into_iter().filter(|t| t.done != done) {
            self.update(
                task,
                UpdateTask {
                    title: None,
                    done: Some(done),
                },
            );
        }
    }

    /// Deletes a task.
    pub fn delete(self, task: Task) {
        self.notice.set(None);
        self.board.update(|b| b.hide(task.id));
        spawn_local(async move {
            if let Err(refusal) = api::delete_task(self.board_id, &task).await {
                self.refused(task, refusal);
            }
        });
    }

    /// Deletes every done task.
    pub fn clear_done(self) {
        let done: Vec<Task> = self
            .board
            .with_untracked(|b| b.tasks().iter().filter(|t| t.done).cloned().collect());
        self.notice.set(None);
        self.board
            .update(|b| done.iter().for_each(|t| b.hide(t.id)));
        spawn_local(async move {
            if let Err(refusal) = api::clear_done(self.board_id).await {
                self.board
                    .update(|b| done.into_iter().for_each(|t| b.show(t)));
                self.notice
                    .set(Some(format!("Could not clear the done tasks. {refusal}")));
            }
        });
    }

    fn update(self, task: Task, update: UpdateTask) {
        let mut shown = task.clone();
        if let Some(title) = &update.title {
            shown.title = title.clone();
        }
        if let Some(done) = update.done {
            shown.done = done;
        }
        self.notice.set(None);
        self.board.update(|b| b.show(shown));
        spawn_local(async move {
            match api::update_task(self.board_id, &task, &update).await {
                Ok(saved) => self.board.update(|b| b.upsert(saved)),
                Err(refusal) => self.refused(task, refusal),
            }
        });
    }

    /// Undoes an optimistic change: back to the server's current task after a conflict, else to
    /// what was shown before.
    fn refused(self, before: Task, refusal: ApiError) {
        if matches!(&refusal, ApiError::Problem(p) if p.status == 404) {
            self.board.update(|b| b.hide(before.id));
            self.notice
                .set(Some(format!("\"{}\" was deleted elsewhere.", before.title)));
            return;
        }
        if let Some(current) = refusal.current_task() {
            let current = current.clone();
            self.board.update(|b| b.show(current));
            self.notice.set(Some(format!(
                "\"{}\" was changed elsewhere; this is its latest version.",
                before.title
            )));
            return;
        }
        self.board.update(|b| b.show(before));
        self.notice
            .set(Some(format!("Your change was undone. {refusal}")));
    }
}
