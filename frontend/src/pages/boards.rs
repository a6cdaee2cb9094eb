//! The signed-in account's boards, each with its role, and a form to create one.

use crate::location::use_location;
use leptos::ev::SubmitEvent;
use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::Board;

use super::checked_name;
use crate::api;

/// The board list.
#[component]
pub fn BoardList() -> impl IntoView {
    let boards = RwSignal::new(None::<Vec<Board>>);
    let error = RwSignal::new(None::<String>);
    spawn_local(async move {
        match api::boards().await {
            Ok(list) => boards.set(Some(list)),
            Err(refusal) => error.set(Some(refusal.to_string())),
        }
    });
    let name = NodeRef::<html::Input>::new();
    let location = use_location();
    let create = move |event: SubmitEvent| {
        event.prevent_default();
        let Some(raw) = checked_name(name, error) else {
            return;
        };
        spawn_local(async move {
            match api::create_board(&raw).await {
                Ok(board) => location.navigate(&format!("/boards/{}", board.id)),
                Err(refusal) => error.set(Some(refusal.to_string())),
            }
        });
    };
    let rows = move || {
        boards.get().map(|list| {
            if list.is_empty() {
                return view! { <p class="list-status">"No boards yet. Create the first one."</p> }
                    .into_any();
            }
            view! {
                <ul class="board-list">
                    {list
                        .into_iter()
                        .map(|board| {
                            view! {
                                <li>
                                    <a href=format!("/boards/{}", board.id)>{board.name}</a>
                                    <span class="role">{board.role.as_str()}</span>
                                </li>
                            }
                        })
                        .collect_view()}
                </ul>
            }
            .into_any()
        })
    };
    view! {
        <section class="card" aria-labelledby="boards-heading">
            <h2 id="boards-heading">"Boards"</h2>
            {rows}
            <form id="new-board" class="add-form" on:submit=create>
                <label for="board-name">"New board"</label>
                <input id="board-name" type="text" node_ref=name placeholder="Name" required />
                <button type="submit">"Create"</button>
            </form>
            <p class="field-error" role="alert">{move || error.get()}</p>
        </section>
    }
}
