//! The page: the live clock, connection state and account in the header; below, the page the URL
//! names: sign-in or sign-up, the board list, a board (`/boards/ID`, its filter in the URL, its
//! members panel), the access tokens, or the transport lab.

use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::{Account, BoardId, EndReason, Role, TaskTitle};

use crate::actions::Actions;
use crate::api;
use crate::board::Board;
use crate::components::{BoardFooter, Clock, ConnectionBadge, NavLink, TaskForm, TaskList};
use crate::filter::Filter;
use crate::lab::LabView;
use crate::live::{self, LiveFeed};
use crate::location::{provide_location, use_location};
use crate::pages::{AccountForm, BoardList, MembersPanel, Mode, TokensPage};

/// How often a snapshot that turned out too old is fetched again before giving up.
const RELOAD_ATTEMPTS: u32 = 3;

/// What the URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    SignIn,
    SignUp,
    Boards,
    Board(BoardId),
    Tokens,
    Lab,
}

impl Route {
    /// The page a path names (unknown paths show the board list).
    pub fn from_path(path: &str) -> Self {
        let mut segments = path.trim_matches('/').split('/');
        match (segments.next(), segments.next()) {
            (Some("signin"), _) => Self::SignIn,
            (Some("signup"), _) => Self::SignUp,
            (Some("tokens"), _) => Self::Tokens,
            (Some("lab"), _) => Self::Lab,
            (Some("boards"), Some(id)) => id
                .parse()
                .map(|id| Self::Board(BoardId(id)))
                .unwrap_or(Self::Boards),
            _ => Self::Boards,
        }
    }

    /// Whether the page needs a signed-in account.
    fn needs_account(self) -> bool {
        !matches!(self, Self::SignIn | Self::SignUp | Self::Lab)
    }
}

/// The whole app, wired to the real server.
#[component]
pub fn App() -> impl IntoView {
    let location = provide_location();
    let route = Memo::new(move |_| Route::from_path(&location.path()));
    let following = Memo::new(move |_| match route.get() {
        Route::Board(id) => Some(id),
        _ => None,
    });
    // `None` until the server answered who is signed in.
    let session = RwSignal::new(None::<Account>);
    let checked = RwSignal::new(false);
    spawn_local(async move {
        if let Ok(account) = api::me().await {
            session.set(account);
        }
        checked.set(true);
    });

    let board = RwSignal::new(Board::default());
    let load_error = RwSignal::new(None::<String>);
    // One load at a time: a load that turns out too old fetches again by itself.
    let loading = RwSignal::new(false);
    let reload = move || {
        let Some(id) = following.get_untracked() else {
            return;
        };
        if !loading.get_untracked() {
            loading.set(true);
            spawn_local(async move {
                load_board(id, board, load_error).await;
                loading.set(false);
            });
        }
    };
    let feed = live::connect(following.get_untracked(), board, reload);
    if following.get_untracked().is_some() {
        reload();
    }
    Effect::new(move |_| feed.follow(following.get()));

    Effect::new(move |_| {
        if checked.get() && session.with(Option::is_none) && route.get().needs_account() {
            location.navigate("/signin");
        }
    });

    view! {
        <header class="app-header">
            <h1>"tasktick"</h1>
            <SiteNav route=route session=session />
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
            {move || match route.get() {
                Route::SignIn => view! { <AccountForm mode=Mode::SignIn session=session /> }.into_any(),
                Route::SignUp => view! { <AccountForm mode=Mode::SignUp session=session /> }.into_any(),
                Route::Lab => view! { <LabView /> }.into_any(),
                _ if session.with(Option::is_none) => {
                    view! { <p class="list-status">"Checking who you are…"</p> }.into_any()
                }
                Route::Boards => view! { <BoardList /> }.into_any(),
                Route::Tokens => view! { <TokensPage /> }.into_any(),
                Route::Board(id) => {
                    view! { <BoardPage id=id board=board load_error=load_error feed=feed /> }.into_any()
                }
            }}
        </main>
        <footer class="app-footer">
            <p>"Tasks travel over REST; the clock and every change stream over a WebSocket (or a fallback)."</p>
        </footer>
    }
}

/// Links between the sections, who is signed in, and signing out.
#[component]
fn SiteNav(route: Memo<Route>, session: RwSignal<Option<Account>>) -> impl IntoView {
    let location = use_location();
    let sign_out = move |_| {
        spawn_local(async move {
            let _ = api::sign_out().await;
            session.set(None);
            location.navigate("/signin");
        });
    };
    let on = move |wanted: fn(Route) -> bool| Signal::derive(move || wanted(route.get()));
    view! {
        <nav class="site-nav" aria-label="Sections">
            <ul>
                <li>
                    <NavLink href="/" current=on(|r| matches!(r, Route::Boards | Route::Board(_)))>
                        "Boards"
                    </NavLink>
                </li>
                <li>
                    <NavLink href="/tokens" current=on(|r| r == Route::Tokens)>
                        "Tokens"
                    </NavLink>
                </li>
                <li>
                    <NavLink href="/lab" current=on(|r| r == Route::Lab)>
                        "Transport lab"
                    </NavLink>
                </li>
            </ul>
            {move || match session.get() {
                Some(account) => view! {
                    <span class="whoami">{account.username}</span>
                    <button id="sign-out" type="button" class="secondary" on:click=sign_out>
                        "Sign out"
                    </button>
                }
                .into_any(),
                None => view! { <a href="/signin">"Sign in"</a> }.into_any(),
            }}
        </nav>
    }
}

/// One board: its tasks under the URL's filter, what the role allows, and the members.
#[component]
fn BoardPage(
    id: BoardId,
    board: RwSignal<Board>,
    load_error: RwSignal<Option<String>>,
    feed: LiveFeed,
) -> impl IntoView {
    let details = LocalResource::new(move || api::board(id));
    move || {
        let Some(found) = details.get() else {
            return view! { <p class="list-status">"Loading the board…"</p> }.into_any();
        };
        match found {
            Ok(found) => view! {
                <BoardView id=id name=found.name role=found.role board=board load_error=load_error feed=feed />
            }
            .into_any(),
            Err(refusal) => view! {
                <p class="board-ended" role="alert">{refusal.to_string()}</p>
                <p><a href="/">"Back to your boards"</a></p>
            }
            .into_any(),
        }
    }
}

/// The board's tasks; viewers get no controls for changing them.
#[component]
fn BoardView(
    id: BoardId,
    name: String,
    role: Role,
    board: RwSignal<Board>,
    load_error: RwSignal<Option<String>>,
    feed: LiveFeed,
) -> impl IntoView {
    let location = use_location();
    let filter = Signal::derive(move || Filter::from_path(&location.path()));
    let editable = role.allows(Role::Editor);
    let actions = Actions::new(board, id);
    let create = move |title: TaskTitle| async move {
        let task = api::create_task(id, &title).await?;
        // The task_created event will say the same; the board keeps one copy.
        board.update(|b| b.upsert(task.clone()));
        Ok(task)
    };
    // A memo: copied once per change, however many parts of the page read it.
    let tasks = Memo::new(move |_| board.with(|b| b.tasks().to_vec()));
    let first_load = Signal::derive(move || !board.with(Board::is_loaded));
    let all_done = move || tasks.with(|all| !all.is_empty() && all.iter().all(|t| t.done));
    let ended = move || feed.ended.get().map(ended_text);

    view! {
        <p class="board-ended" role="alert" hidden=move || feed.ended.with(Option::is_none)>
            {ended}
            " " <a href="/">"Back to your boards"</a>
        </p>
        <section
            class="card"
            aria-labelledby="tasks-heading"
            hidden=move || feed.ended.with(Option::is_some)
        >
            <h2 id="tasks-heading">{name} " " <span class="role">{role.as_str()}</span></h2>
            {editable.then(|| view! { <TaskForm on_create=create /> })}
            <p class="notice" role="alert">{move || actions.notice.get()}</p>
            <label class="toggle-all" hidden=move || !editable || tasks.with(Vec::is_empty)>
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
                actions=editable.then_some(actions)
            />
            <BoardFooter
                board=id
                editable=editable
                tasks=tasks
                filter=filter
                on_clear_done=move |()| actions.clear_done()
            />
        </section>
        <Show when=move || feed.ended.with(Option::is_none)>
            <MembersPanel board=id manage=role == Role::Owner />
        </Show>
    }
}

/// What the page says when the server stopped sending the board.
fn ended_text(reason: EndReason) -> &'static str {
    match reason {
        EndReason::Revoked | EndReason::NotFound => "You no longer have access to this board.",
        EndReason::SignedOut | EndReason::SignInRequired => "You were signed out. Sign in again.",
        EndReason::Unavailable => "The server cannot check your access right now.",
        EndReason::Requested => "",
    }
}

/// Fetches the list and loads it, again if it is older than the live stream.
async fn load_board(id: BoardId, board: RwSignal<Board>, error: RwSignal<Option<String>>) {
    for _ in 0..RELOAD_ATTEMPTS {
        match api::list_tasks(id).await {
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
