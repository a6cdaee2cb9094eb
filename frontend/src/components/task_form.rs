//! The add-task form: the shared title rule runs before sending; refusals show beside the input.

use std::future::Future;

use leptos::ev::SubmitEvent;
use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::{Task, TaskTitle};

use crate::api::ApiError;

/// A labelled text input and an Add button. `on_create` is called only with a valid title; the input
/// is cleared when it succeeds and keeps what the user typed when it fails.
#[component]
pub fn TaskForm<F, Fut>(on_create: F) -> impl IntoView
where
    F: Fn(TaskTitle) -> Fut + 'static,
    Fut: Future<Output = Result<Task, ApiError>> + 'static,
{
    let input = NodeRef::<html::Input>::new();
    let error = RwSignal::new(None::<String>);
    let pending = RwSignal::new(false);

    let submit = move |event: SubmitEvent| {
        event.prevent_default();
        if pending.get_untracked() {
            return;
        }
        let Some(field) = input.get_untracked() else {
            return;
        };
        let title = match TaskTitle::parse(&field.value()) {
            Ok(title) => title,
            Err(refusal) => {
                error.set(Some(refusal.to_string()));
                let _ = field.focus();
                return;
            }
        };
        error.set(None);
        pending.set(true);
        let created = on_create(title);
        spawn_local(async move {
            match created.await {
                Ok(_) => field.set_value(""),
                Err(refusal) => error.set(Some(refusal.to_string())),
            }
            pending.set(false);
            let _ = field.focus();
        });
    };

    view! {
        // novalidate: the shared rule gives better messages than the browser's built-in checks.
        <form class="task-form" on:submit=submit novalidate>
            <label for="new-task-title">"New task"</label>
            <div class="task-form-row">
                <input
                    id="new-task-title"
                    name="title"
                    type="text"
                    autocomplete="off"
                    placeholder="What needs doing?"
                    node_ref=input
                    aria-invalid=move || if error.get().is_some() { "true" } else { "false" }
                    aria-describedby="new-task-error"
                />
                <button type="submit" disabled=move || pending.get()>
                    {move || if pending.get() { "Adding…" } else { "Add" }}
                </button>
            </div>
            <p id="new-task-error" class="field-error" role="alert">
                {move || error.get()}
            </p>
        </form>
    }
}
