//! Below the list: how many tasks are left, the filter links, and "Clear completed".

use leptos::prelude::*;
use leptos_router::hooks::use_navigate;
use shared::Task;

use crate::filter::Filter;

/// Counts, filters (links, so the URL carries the filter) and the clear button.
#[component]
pub fn BoardFooter(
    #[prop(into)] tasks: Signal<Vec<Task>>,
    #[prop(into)] filter: Signal<Filter>,
    #[prop(into)] on_clear_done: Callback<()>,
) -> impl IntoView {
    let left = move || tasks.with(|all| all.iter().filter(|t| !t.done).count());
    let navigate = use_navigate();
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
                            let navigate = navigate.clone();
                            // A real link (it works in a new tab and without script); a plain click
                            // changes the URL in place instead of reloading the page.
                            view! {
                                <li>
                                    <a
                                        href=f.path()
                                        class:selected=move || filter.get() == f
                                        aria-current=move || (filter.get() == f).then_some("page")
                                        on:click=move |event| {
                                            event.prevent_default();
                                            navigate(f.path(), Default::default());
                                        }
                                    >
                                        {f.label()}
                                    </a>
                                </li>
                            }
                        })
                        .collect_view()}
                </ul>
            </nav>
            <button
                type="button"
                class="secondary"
                hidden=move || !any_done()
                on:click=move |_| on_clear_done.run(())
            >
                "Clear completed"
            </button>
        </footer>
    }
}
