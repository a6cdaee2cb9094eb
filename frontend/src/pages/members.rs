//! The members panel of a board: everyone sees who is on it; owners add people by username, change
//! roles and remove members (the server keeps a last owner and refuses the rest anyway), and
//! rename or delete the board.

use crate::location::use_location;
use leptos::ev::SubmitEvent;
use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::{BoardId, Member, Role};

use super::checked_name;
use crate::api;

const ROLES: [Role; 3] = [Role::Viewer, Role::Editor, Role::Owner];

/// The panel; `manage` offers the owner's controls.
#[component]
pub fn MembersPanel(board: BoardId, manage: bool) -> impl IntoView {
    let members = RwSignal::new(Vec::<Member>::new());
    let error = RwSignal::new(None::<String>);
    let refresh = move || {
        spawn_local(async move {
            match api::members(board).await {
                Ok(list) => members.set(list),
                Err(refusal) => error.set(Some(refusal.to_string())),
            }
        });
    };
    refresh();
    let report = move |outcome: Result<(), api::ApiError>| match outcome {
        Ok(()) => {
            error.set(None);
            refresh();
        }
        Err(refusal) => error.set(Some(refusal.to_string())),
    };
    let username = NodeRef::<html::Input>::new();
    let role = NodeRef::<html::Select>::new();
    let add = move |event: SubmitEvent| {
        event.prevent_default();
        let (Some(name), Some(choice)) = (username.get_untracked(), role.get_untracked()) else {
            return;
        };
        let picked = Role::parse(&choice.value()).unwrap_or(Role::Viewer);
        let name = name.value();
        spawn_local(async move {
            report(api::add_member(board, &name, picked).await.map(|_| ()));
        });
    };
    let rows = move || {
        members
            .get()
            .into_iter()
            .map(|member| {
                let user = member.user_id;
                let controls = manage.then(|| {
                    view! {
                        <select
                            aria-label=format!("Role of {}", member.username)
                            on:change=move |event| {
                                let picked = Role::parse(&event_target_value(&event));
                                if let Some(picked) = picked {
                                    spawn_local(async move {
                                        report(api::set_role(board, user, picked).await.map(|_| ()));
                                    });
                                }
                            }
                        >
                            {ROLES
                                .into_iter()
                                .map(|r| {
                                    view! {
                                        <option value=r.as_str() selected=r == member.role>
                                            {r.as_str()}
                                        </option>
                                    }
                                })
                                .collect_view()}
                        </select>
                        <button
                            type="button"
                            class="secondary"
                            aria-label=format!("Remove {}", member.username)
                            on:click=move |_| {
                                spawn_local(async move {
                                    report(api::remove_member(board, user).await);
                                });
                            }
                        >
                            "Remove"
                        </button>
                    }
                });
                view! {
                    <li class="member" data-user=user.0>
                        <span class="member-name">{member.username.clone()}</span>
                        <span class="role">{member.role.as_str()}</span>
                        {controls}
                    </li>
                }
            })
            .collect_view()
    };
    let add_form = manage.then(|| {
        view! {
            <form id="add-member" class="add-form" on:submit=add>
                <label for="member-username">"Add a member"</label>
                <input id="member-username" type="text" node_ref=username placeholder="Username" required />
                <select id="member-role" node_ref=role aria-label="Role">
                    {ROLES.into_iter().map(|r| view! { <option value=r.as_str()>{r.as_str()}</option> }).collect_view()}
                </select>
                <button type="submit">"Add"</button>
            </form>
        }
    });
    let board_controls = manage.then(|| view! { <BoardControls board=board error=error /> });
    view! {
        <section id="members" class="card" aria-labelledby="members-heading">
            <h2 id="members-heading">"Members"</h2>
            <ul class="member-list">{rows}</ul>
            {add_form}
            {board_controls}
            <p class="field-error" role="alert">{move || error.get()}</p>
        </section>
    }
}

/// The owner's rename form and delete button.
#[component]
fn BoardControls(board: BoardId, error: RwSignal<Option<String>>) -> impl IntoView {
    let name = NodeRef::<html::Input>::new();
    let location = use_location();
    let rename = move |event: SubmitEvent| {
        event.prevent_default();
        let Some(raw) = checked_name(name, error) else {
            return;
        };
        spawn_local(async move {
            match api::rename_board(board, &raw).await {
                // The heading shows the name the page loaded: load it again.
                Ok(_) => {
                    let _ = window().location().reload();
                }
                Err(refusal) => error.set(Some(refusal.to_string())),
            }
        });
    };
    let delete = move |_| {
        spawn_local(async move {
            match api::delete_board(board).await {
                Ok(()) => location.navigate("/"),
                Err(refusal) => error.set(Some(refusal.to_string())),
            }
        });
    };
    view! {
        <form id="rename-board" class="add-form" on:submit=rename>
            <label for="board-new-name">"Rename the board"</label>
            <input id="board-new-name" type="text" node_ref=name required />
            <button type="submit">"Rename"</button>
        </form>
        <button id="delete-board" type="button" class="danger" on:click=delete>
            "Delete the board and its tasks"
        </button>
    }
}
