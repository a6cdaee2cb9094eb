//! The task list, with its loading, error and empty states.

use leptos::prelude::*;
use shared::Task;

/// Renders `tasks` in order, or says why there is nothing to show.
#[component]
pub fn TaskList(
    #[prop(into)] tasks: Signal<Vec<Task>>,
    #[prop(into)] loading: Signal<bool>,
    #[prop(into)] error: Signal<Option<String>>,
) -> impl IntoView {
    let status = move || {
        if let Some(message) = error.get() {
            view! { <p class="list-status error" role="alert">{message}</p> }.into_any()
        } else if loading.get() {
            view! { <p class="list-status">"Loading tasks…"</p> }.into_any()
        } else if tasks.with(Vec::is_empty) {
            view! { <p class="list-status">"No tasks yet. Add the first one above."</p> }.into_any()
        } else {
            ().into_any()
        }
    };
    view! {
        {status}
        <ul class="task-list">
            <For
                each=move || tasks.get()
                key=|task| (task.id, task.version)
                children=move |task| {
                    view! {
                        <li class="task" class:done=task.done data-id=task.id.0>
                            <span class="task-title">{task.title}</span>
                        </li>
                    }
                }
            />
        </ul>
    }
}
