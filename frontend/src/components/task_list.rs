//! The task list under the current filter, with its loading, error and empty states.
//!
//! A change costs the page one pass over the list and the rows it concerns, not every row: the
//! rows shown are a list of ids (keyed, so only added or removed rows touch the page), and each
//! row has its own signal, set only when its task changed.

use std::collections::{HashMap, HashSet};

use leptos::prelude::*;
use shared::{Task, TaskId};

use super::TaskItem;
use crate::actions::Actions;
use crate::filter::Filter;

/// Renders the tasks that pass `filter`, each with its actions (none for viewers), or says why
/// there is nothing.
#[component]
pub fn TaskList(
    #[prop(into)] tasks: Signal<Vec<Task>>,
    #[prop(into)] loading: Signal<bool>,
    #[prop(into)] error: Signal<Option<String>>,
    #[prop(into)] filter: Signal<Filter>,
    #[prop(optional_no_strip)] actions: Option<Actions>,
) -> impl IntoView {
    let rows = StoredValue::new(HashMap::<TaskId, ArcRwSignal<Task>>::new());
    let shown = Memo::new(move |_| {
        let filter = filter.get();
        tasks.with(|all| {
            rows.update_value(|rows| sync_rows(rows, all));
            all.iter()
                .filter(|t| filter.keeps(t))
                .map(|t| t.id)
                .collect::<Vec<_>>()
        })
    });
    let status = move || {
        if let Some(message) = error.get() {
            view! { <p class="list-status error" role="alert">{message}</p> }.into_any()
        } else if loading.get() {
            view! { <p class="list-status">"Loading tasks…"</p> }.into_any()
        } else if tasks.with(Vec::is_empty) {
            view! { <p class="list-status">"No tasks yet. Add the first one above."</p> }.into_any()
        } else if shown.with(Vec::is_empty) {
            view! { <p class="list-status">{filter.get().empty_text()}</p> }.into_any()
        } else {
            ().into_any()
        }
    };
    view! {
        {status}
        <ul class="task-list">
            <For
                each=move || shown.get()
                // By id: a row follows its task through updates, keeping an edit in progress.
                key=|id| *id
                children=move |id| {
                    let current = rows
                        .with_value(|rows| rows.get(&id).cloned())
                        .expect("a row is made for a listed task");
                    view! {
                        <TaskItem
                            task=current
                            editable=actions.is_some()
                            on_toggle=move |task: Task| {
                                if let Some(actions) = actions {
                                    actions.toggle(task);
                                }
                            }
                            on_rename=move |(task, title): (Task, String)| {
                                if let Some(actions) = actions {
                                    actions.rename(task, &title);
                                }
                            }
                            on_delete=move |task: Task| {
                                if let Some(actions) = actions {
                                    actions.delete(task);
                                }
                            }
                        />
                    }
                }
            />
        </ul>
    }
}

/// Brings the rows' signals in line with `all`: a signal for each new task, a new value only for a
/// task that changed, and none kept for a task that is gone.
fn sync_rows(rows: &mut HashMap<TaskId, ArcRwSignal<Task>>, all: &[Task]) {
    for task in all {
        match rows.get(&task.id) {
            Some(row) => {
                if row.with_untracked(|shown| shown != task) {
                    row.set(task.clone());
                }
            }
            None => {
                rows.insert(task.id, ArcRwSignal::new(task.clone()));
            }
        }
    }
    if rows.len() != all.len() {
        let listed: HashSet<TaskId> = all.iter().map(|t| t.id).collect();
        rows.retain(|id, _| listed.contains(id));
    }
}
