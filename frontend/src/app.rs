//! The page: the live clock and connection state in the header; below, the board (the add form,
//! the filtered task list and its footer; the filter lives in the URL) or, at `/lab`, the
//! transport lab.

use leptos::either::Either;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::Router;
use leptos_router::hooks::use_location;
use shared::TaskTitle;

use crate::actions::Actions;
use crate::api;
use crate::board::Board;
use crate::components::{BoardFooter, Clock, ConnectionBadge, NavLink, TaskForm, TaskList};
use crate::filter::Filter;
use crate::lab::LabView;
use crate::live;

/// How often a snapshot that turned out too old is fetched again before giving up.
const RELOAD_ATTEMPTS: u32 = 3;

/// The whole app, wired to the real server.
#[component]
pub fn App() -> impl IntoView {
    let board = RwSignal::new(Board::default());
    let load_error = RwSignal::new(None::<String>);
    // One load at a time: a load that turns out too old fetches again by itself.
    let loading = RwSignal::new(false);
    let reload = move || {
        if !loading.get_untracked() {
            loading.set(true);
            spawn_local(async move {
                load_board(board, load_error).await;
                loading.set(false);
            });
        }
    };
    reload();
    let feed = live::connect(board, reload);

    view! {
        <Router>
            <header class="app-header">
                <h1>"tasktick"</h1>
                <SiteNav />
                <div class="live">
                    <Clock time=feed.clock />
                    <ConnectionBadge
                        state=feed.state
                        transport=feed.transport
                        rtt_ms=feed.rtt_ms
                        retry_in_secs=feed.retry_in_secs
                        on_retry=move || feed.retry_now()
                    />
                </div>
            </header>
            <main class="app-main">
                <Page board=board load_error=load_error />
            </main>
            <footer class="app-footer">
                <p>"Tasks travel over REST; the clock and every change stream over a WebSocket (or a fallback)."</p>
            </footer>
        </Router>
    }
}

/// Path of the transport lab.
const LAB_PATH: &str = "/lab";

/// The lab at [`LAB_PATH`], the board everywhere else.
#[component]
fn Page(board: RwSignal<Board>, load_error: RwSignal<Option<String>>) -> impl IntoView {
    let location = use_location();
    let on_lab = Memo::new(move |_| location.pathname.with(|p| is_lab_path(p)));
    move || {
        if on_lab.get() {
            Either::Left(view! { <LabView /> })
        } else {
            Either::Right(view! { <BoardView board=board load_error=load_error /> })
        }
    }
}

/// Links between the board and the lab.
#[component]
fn SiteNav() -> impl IntoView {
    let location = use_location();
    let on_lab = Signal::derive(move || location.pathname.with(|p| is_lab_path(p)));
    view! {
        <nav class="site-nav" aria-label="Sections">
            <ul>
                <li>
                    <NavLink href="/" current=Signal::derive(move || !on_lab.get())>
                        "Board"
                    </NavLink>
                </li>
                <li>
                    <NavLink href=LAB_PATH current=on_lab>
                        "Transport lab"
                    </NavLink>
                </li>
            </ul>
        </nav>
    }
}

/// Whether `pathname` is the lab's (with or without a trailing slash).
fn is_lab_path(pathname: &str) -> bool {
    pathname.trim_end_matches('/') == LAB_PATH
}

/// The board under the URL's filter (inside the router, which provides the location).
#[component]
fn BoardView(board: RwSignal<Board>, load_error: RwSignal<Option<String>>) -> impl IntoView {
    let location = use_location();
    let filter = Signal::derive(move || Filter::from_path(&location.pathname.get()));
    let actions = Actions::new(board);
    let create = move |title: TaskTitle| async move {
        let task = api::create_task(&title).await?;
        // The task_created event will say the same; the board keeps one copy.
        board.update(|b| b.upsert(task.clone()));
        Ok(task)
    };
    let tasks = Signal::derive(move || board.with(|b| b.tasks().to_vec()));
    let first_load = Signal::derive(move || !board.with(Board::is_loaded));
    let all_done = move || tasks.with(|all| !all.is_empty() && all.iter().all(|t| t.done));

    view! {
        <section class="card" aria-labelledby="tasks-heading">
            <h2 id="tasks-heading">"Tasks"</h2>
            <TaskForm on_create=create />
            <p class="notice" role="alert">{move || actions.notice.get()}</p>
            <label class="toggle-all" hidden=move || tasks.with(Vec::is_empty)>
                <input
                    type="checkbox"
                    prop:checked=all_done
                    on:change=move |_| actions.toggle_all()
                />
                "Mark all as done"
            </label>
            <TaskList
                tasks=tasks
                loading=first_load
                error=load_error
                filter=filter
                actions=actions
            />
            <BoardFooter tasks=tasks filter=filter on_clear_done=move |()| actions.clear_done() />
        </section>
    }
}

/// Fetches the list and loads it, again if it is older than the live stream.
async fn load_board(board: RwSignal<Board>, error: RwSignal<Option<String>>) {
    for _ in 0..RELOAD_ATTEMPTS {
        match api::list_tasks().await {
            Ok((tasks, seq)) => {
                error.set(None);
                if board.try_update(|b| b.load(tasks, seq)).unwrap_or(true) {
                    return;
                }
            }
            Err(refusal) => {
                error.set(Some(format!("Could not load the tasks. {refusal}")));
                return;
            }
        }
    }
}
