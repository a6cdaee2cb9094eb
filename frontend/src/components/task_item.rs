//! One task: a checkbox to toggle it, its title (double-click or "Edit" to rename in place), and
//! a delete button.
//!
//! The row follows its task as live updates arrive without losing an edit in progress, and an edit
//! is saved against the version it started from: if someone else changed the task meanwhile, the
//! server answers 412 and the user sees the other change instead of silently overwriting it.

use leptos::ev::KeyboardEvent;
use leptos::html;
use leptos::prelude::*;
use shared::Task;

/// A task row. Enter or leaving the field saves an edit; Escape cancels it. Each callback gets the
/// task as the user saw it (for a rename, when the edit began).
#[component]
pub fn TaskItem(
    #[prop(into)] task: Signal<Task>,
    /// Whether the row offers changes (a viewer's does not).
    #[prop(default = true)]
    editable: bool,
    #[prop(into)] on_toggle: Callback<Task>,
    #[prop(into)] on_rename: Callback<(Task, String)>,
    #[prop(into)] on_delete: Callback<Task>,
) -> impl IntoView {
    // The task as it was when the edit began; `Some` while editing.
    let editing = RwSignal::new(None::<Task>);
    let is_editing = move || editing.with(Option::is_some);
    let field = NodeRef::<html::Input>::new();
    let start_editing = move || {
        if !editable {
            return;
        }
        let base = task.get_untracked();
        // The field is always there (hidden when not editing): fill it before it shows.
        if let Some(input) = field.get_untracked() {
            input.set_value(&base.title);
        }
        editing.set(Some(base));
        // It can take focus once the view has re-rendered and shown it.
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
        let Some(base) = editing.get_untracked() else {
            return;
        };
        editing.set(None);
        if let (true, Some(input)) = (save, field.get_untracked()) {
            on_rename.run((base, input.value()));
        }
    };
    let on_key = move |event: KeyboardEvent| match event.key().as_str() {
        "Enter" => finish(true),
        "Escape" => finish(false),
        _ => {}
    };
    let title = move || task.with(|t| t.title.clone());
    let authors = move || {
        task.with(|t| match (&t.created_by, &t.updated_by) {
            (Some(created), Some(updated)) if created != updated => {
                format!("by {created}, changed by {updated}")
            }
            (Some(created), _) => format!("by {created}"),
            _ => String::new(),
        })
    };
    let done = move || task.with(|t| t.done);
    let toggle_label = move || {
        task.with(|t| {
            format!(
                "Mark \"{}\" as {}",
                t.title,
                if t.done { "not done" } else { "done" }
            )
        })
    };
    view! {
        <li class="task" class:done=done class:editing=is_editing data-id=move || task.with(|t| t.id.0)>
            <input
                type="checkbox"
                class="task-toggle"
                prop:checked=done
                disabled=!editable
                aria-label=toggle_label
                on:change=move |_| on_toggle.run(task.get_untracked())
            />
            <span class="task-title" on:dblclick=move |_| start_editing() hidden=is_editing>
                {title}
            </span>
            <small class="task-authors">{authors}</small>
            <input
                type="text"
                class="task-edit"
                node_ref=field
                aria-label=move || format!("Edit \"{}\"", title())
                hidden=move || !is_editing()
                on:keydown=on_key
                on:blur=move |_| finish(true)
            />
            <button
                type="button"
                class="icon"
                aria-label=move || format!("Edit \"{}\"", title())
                hidden=move || !editable || is_editing()
                on:click=move |_| start_editing()
            >
                "✎"
            </button>
            <button
                type="button"
                class="icon danger"
                aria-label=move || format!("Delete \"{}\"", title())
                hidden=!editable
                on:click=move |_| on_delete.run(task.get_untracked())
            >
                "×"
            </button>
        </li>
    }
}
