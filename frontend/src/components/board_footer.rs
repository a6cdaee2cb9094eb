//! Below the list: how many tasks are left, the filter links, and "Clear completed".

use leptos::prelude::*;
use shared::Task;

use super::NavLink;
use crate::filter::Filter;

/// Counts, filters (links, so the URL carries the filter) and the clear button.
#[component]
pub fn BoardFooter(
    board: shared::BoardId,
    /// Whether the clear button is offered (editors and owners).
    editable: bool,
    #[prop(into)] tasks: Signal<Vec<Task>>,
    #[prop(into)] filter: Signal<Filter>,
    #[prop(into)] on_clear_done: Callback<()>,
) -> impl IntoView {
    let left = move || tasks.with(|all| all.iter().filter(|t| !t.done).count());
    let any_done = move || tasks.with(|all| all.iter().any(|t| t.done));
    view! {
        <footer class="board-footer" hidden=move || tasks.with(Vec::is_empty)>
            <p class="count" aria-live="polite">
                {move || match left() {
                    1 => "1 item left".to_owned(),
                    n => format!("{n} items left"),
                }}
            </p>
            <nav aria-label="Filter tasks">
                <ul class="filters">
                    {Filter::ALL
                        .into_iter()
                        .map(|f| {
                            view! {
                                <li>
                                    <NavLink href=f.path(board) current=Signal::derive(move || filter.get() == f)>
                                        {f.label()}
                                    </NavLink>
                                </li>
                            }
                        })
                        .collect_view()}
                </ul>
            </nav>
            <button
                type="button"
                class="secondary"
                hidden=move || !editable || !any_done()
                on:click=move |_| on_clear_done.run(())
            >
                "Clear completed"
            </button>
        </footer>
    }
}
