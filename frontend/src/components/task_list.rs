//! The task list under the current filter, with its loading, error and empty states.

use leptos::prelude::*;
use shared::Task;

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
    let shown = move || {
        let filter = filter.get();
        tasks.with(|all| {
            all.iter()
                .filter(|t| filter.keeps(t))
                .cloned()
                .collect::<Vec<_>>()
        })
    };
    let status = move || {
        if let Some(message) = error.get() {
            view! { <p class="list-status error" role="alert">{message}</p> }.into_any()
        } else if loading.get() {
            view! { <p class="list-status">"Loading tasks…"</p> }.into_any()
        } else if tasks.with(Vec::is_empty) {
            view! { <p class="list-status">"No tasks yet. Add the first one above."</p> }.into_any()
        } else if shown().is_empty() {
            view! { <p class="list-status">{filter.get().empty_text()}</p> }.into_any()
        } else {
            ().into_any()
        }
    };
    view! {
        {status}
        <ul class="task-list">
            <For
                each=shown
                // By id: a row follows its task through updates, keeping an edit in progress.
                key=|task| task.id
                children=move |task| {
                    let id = task.id;
                    let current = Signal::derive(move || {
                        tasks.with(|all| all.iter().find(|t| t.id == id).cloned())
                            .unwrap_or_else(|| task.clone())
                    });
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
