//! One task: a checkbox to toggle it, its title (double-click or "Edit" to rename in place), and
//! a delete button.

use leptos::ev::KeyboardEvent;
use leptos::html;
use leptos::prelude::*;
use shared::Task;

/// A task row. Enter or leaving the field saves an edit; Escape cancels it.
#[component]
pub fn TaskItem(
    task: Task,
    #[prop(into)] on_toggle: Callback<()>,
    #[prop(into)] on_rename: Callback<String>,
    #[prop(into)] on_delete: Callback<()>,
) -> impl IntoView {
    let editing = RwSignal::new(false);
    let field = NodeRef::<html::Input>::new();
    let title = task.title.clone();
    let start_editing = move || {
        editing.set(true);
        // The field exists once the view has re-rendered; focus it then.
        request_animation_frame(move || {
            if let Some(input) = field.get_untracked() {
                let _ = input.focus();
                // Caret at the end, as in a text editor: typing extends the title.
                let end = input.value().encode_utf16().count() as u32;
                let _ = input.set_selection_range(end, end);
            }
        });
    };
    let finish = move |save: bool| {
        if !editing.get_untracked() {
            return;
        }
        editing.set(false);
        if let (true, Some(input)) = (save, field.get_untracked()) {
            on_rename.run(input.value());
        }
    };
    let on_key = move |event: KeyboardEvent| match event.key().as_str() {
        "Enter" => finish(true),
        "Escape" => finish(false),
        _ => {}
    };
    let label = format!(
        "Mark \"{}\" as {}",
        task.title,
        if task.done { "not done" } else { "done" }
    );
    view! {
        <li class="task" class:done=task.done class:editing=move || editing.get() data-id=task.id.0>
            <input
                type="checkbox"
                class="task-toggle"
                prop:checked=task.done
                aria-label=label
                on:change=move |_| on_toggle.run(())
            />
            <span class="task-title" on:dblclick=move |_| start_editing() hidden=move || editing.get()>
                {title.clone()}
            </span>
            <input
                type="text"
                class="task-edit"
                node_ref=field
                value=title.clone()
                aria-label=format!("Edit \"{}\"", title)
                hidden=move || !editing.get()
                on:keydown=on_key
                on:blur=move |_| finish(true)
            />
            <button
                type="button"
                class="icon"
                aria-label=format!("Edit \"{}\"", task.title)
                hidden=move || editing.get()
                on:click=move |_| start_editing()
            >
                "✎"
            </button>
            <button
                type="button"
                class="icon danger"
                aria-label=format!("Delete \"{}\"", task.title)
                on:click=move |_| on_delete.run(())
            >
                "×"
            </button>
        </li>
    }
}
