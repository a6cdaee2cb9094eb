//! Component tests in a real headless Chrome: mount a component, interact, assert on the DOM.

mod support;

use std::cell::Cell;
use std::rc::Rc;

use frontend::api::{ApiError, next_link};
use frontend::components::{Clock, ConnectionBadge, TaskForm, TaskItem, TaskList};
use frontend::filter::Filter;
use frontend::live::{
    Backoff, ConnectionState, TransportChoice, fallback, is_silent, retry_delay_ms,
};
use leptos::mount::mount_to;
use leptos::prelude::*;
use leptos::task::tick;
use shared::{Problem, Task, TaskTitle, Transport};
use support::task;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;
use web_sys::{HtmlButtonElement, HtmlElement, HtmlInputElement};

wasm_bindgen_test_configure!(run_in_browser);

/// A fresh element in the page to mount one component into.
fn wrapper() -> HtmlElement {
    let document = document();
    let element = document.create_element("section").unwrap();
    document.body().unwrap().append_child(&element).unwrap();
    element.unchecked_into()
}

fn find<T: JsCast>(root: &HtmlElement, selector: &str) -> T {
    root.query_selector(selector)
        .unwrap()
        .unwrap_or_else(|| panic!("no element matches {selector}"))
        .unchecked_into()
}

/// Lets spawned futures and effects run until the DOM settles.
async fn settle() {
    for _ in 0..5 {
        tick().await;
    }
}

async fn submit_title(root: &HtmlElement, title: &str) {
    find::<HtmlInputElement>(root, "input").set_value(title);
    find::<HtmlButtonElement>(root, "button[type=submit]").click();
    settle().await;
}

#[wasm_bindgen_test]
async fn the_form_refuses_an_empty_title_without_sending_a_request() {
    let root = wrapper();
    let calls = Rc::new(Cell::new(0));
    let counted = calls.clone();
    let _mounted = mount_to(root.clone(), move || {
        let counted = counted.clone();
        view! {
            <TaskForm on_create=move |title: TaskTitle| {
                counted.set(counted.get() + 1);
                async move { Ok(task(1, title.as_str())) }
            } />
        }
    });

    submit_title(&root, "   ").await;

    assert_eq!(calls.get(), 0, "no request for an empty title");
    let error = find::<HtmlElement>(&root, "#new-task-error")
        .text_content()
        .unwrap();
    assert!(error.contains("cannot be empty"), "{error}");
    let input = find::<HtmlInputElement>(&root, "input");
    assert_eq!(input.get_attribute("aria-invalid").as_deref(), Some("true"));
}

#[wasm_bindgen_test]
async fn the_form_shows_the_servers_problem_detail_and_keeps_the_input() {
    let root = wrapper();
    let _mounted = mount_to(root.clone(), || {
        view! {
            <TaskForm on_create=|_title: TaskTitle| async {
                Err::<Task, _>(ApiError::Problem(Problem {
                    kind: "/problems/validation".into(),
                    title: "Bad Request".into(),
                    status: 400,
                    detail: "The server says no to this title.".into(),
                    errors: Vec::new(),
                    current: None,
                }))
            } />
        }
    });

    submit_title(&root, "refused by the server").await;

    let error = find::<HtmlElement>(&root, "#new-task-error")
        .text_content()
        .unwrap();
    assert_eq!(error, "The server says no to this title.");
    assert_eq!(
        find::<HtmlInputElement>(&root, "input").value(),
        "refused by the server"
    );
}

#[wasm_bindgen_test]
async fn the_form_sends_a_trimmed_title_and_clears_the_input_on_success() {
    let root = wrapper();
    let sent = Rc::new(Cell::new(None::<&'static str>));
    let seen = sent.clone();
    let _mounted = mount_to(root.clone(), move || {
        let seen = seen.clone();
        view! {
            <TaskForm on_create=move |title: TaskTitle| {
                seen.set(Some(if title.as_str() == "trim me" { "trimmed" } else { "not trimmed" }));
                async move { Ok(task(1, title.as_str())) }
            } />
        }
    });

    submit_title(&root, "  trim me  ").await;

    assert_eq!(sent.get(), Some("trimmed"));
    assert_eq!(find::<HtmlInputElement>(&root, "input").value(), "");
    assert_eq!(
        find::<HtmlElement>(&root, "#new-task-error")
            .text_content()
            .unwrap(),
        ""
    );
}

#[wasm_bindgen_test]
async fn the_list_renders_tasks_in_order_and_follows_its_signal() {
    let root = wrapper();
    let tasks = RwSignal::new(vec![task(1, "first"), task(2, "second")]);
    let _mounted = mount_to(root.clone(), move || {
        view! { <TaskList tasks=tasks loading=false error={None::<String>} filter=Filter::All /> }
    });
    settle().await;

    let titles = || {
        let items = root.query_selector_all(".task-title").unwrap();
        (0..items.length())
            .map(|i| items.item(i).unwrap().text_content().unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(titles(), ["first", "second"]);

    tasks.update(|list| list.push(task(3, "third")));
    settle().await;
    assert_eq!(titles(), ["first", "second", "third"]);
}

#[wasm_bindgen_test]
async fn an_empty_list_says_so() {
    let root = wrapper();
    let _mounted = mount_to(root.clone(), || {
        view! {
            <TaskList tasks={Vec::new()} loading=false error={None::<String>} filter=Filter::All />
        }
    });
    settle().await;

    assert!(root.text_content().unwrap().contains("No tasks yet"));
}

#[wasm_bindgen_test]
async fn the_clock_renders_the_latest_tick() {
    let root = wrapper();
    let time = RwSignal::new(None::<String>);
    let _mounted = mount_to(root.clone(), move || view! { <Clock time=time /> });
    settle().await;
    assert_eq!(root.text_content().unwrap(), "The time is: --:--:--");

    time.set(Some("The time is: 12:34:56".into()));
    settle().await;

    assert_eq!(root.text_content().unwrap(), "The time is: 12:34:56");
}

#[wasm_bindgen_test]
async fn the_badge_shows_the_round_trip_when_live_and_a_countdown_with_retry_when_waiting() {
    let root = wrapper();
    let state = RwSignal::new(ConnectionState::Live);
    let transport = RwSignal::new(Transport::WebSocket);
    let rtt = RwSignal::new(Some(12));
    let retry_in = RwSignal::new(None::<u32>);
    let retries = Rc::new(Cell::new(0));
    let counted = retries.clone();
    let _mounted = mount_to(root.clone(), move || {
        let counted = counted.clone();
        view! {
            <ConnectionBadge
                state=state
                transport=transport
                rtt_ms=rtt
                retry_in_secs=retry_in
                on_retry=move || counted.set(counted.get() + 1)
            />
        }
    });
    settle().await;
    let badge = find::<HtmlElement>(&root, ".badge");
    let button = find::<HtmlButtonElement>(&root, "button");
    assert!(badge.class_name().contains("badge-live"));
    assert!(root.text_content().unwrap().contains("round trip 12 ms"));
    assert!(button.hidden());
    assert_eq!(
        find::<HtmlElement>(&root, ".transport")
            .text_content()
            .unwrap(),
        "via WebSocket"
    );
    transport.set(Transport::Sse);
    settle().await;
    assert_eq!(
        find::<HtmlElement>(&root, ".transport")
            .text_content()
            .unwrap(),
        "via Server-Sent Events (fallback: WebSocket blocked)"
    );

    state.set(ConnectionState::Reconnecting);
    retry_in.set(Some(3));
    settle().await;

    assert!(badge.text_content().unwrap().ends_with("reconnecting"));
    assert!(root.text_content().unwrap().contains("next try in 3 s"));
    assert!(!button.hidden());
    button.click();
    assert_eq!(retries.get(), 1);
}

#[wasm_bindgen_test]
async fn connection_changes_are_announced_through_live_regions() {
    let root = wrapper();
    let state = RwSignal::new(ConnectionState::Live);
    let unknown = RwSignal::new(None::<u32>);
    let _mounted = mount_to(root.clone(), move || {
        view! {
            <ConnectionBadge
                state=state
                transport=Transport::WebSocket
                rtt_ms=unknown
                retry_in_secs=unknown
                on_retry=|| {}
            />
        }
    });
    settle().await;

    let badge = find::<HtmlElement>(&root, ".badge");
    assert_eq!(badge.get_attribute("role").as_deref(), Some("status"));
    assert_eq!(badge.text_content().unwrap(), "Connection: live");
    let transport = find::<HtmlElement>(&root, ".transport");
    assert_eq!(
        transport.get_attribute("aria-live").as_deref(),
        Some("polite")
    );
    state.set(ConnectionState::Reconnecting);
    settle().await;
    assert_eq!(badge.text_content().unwrap(), "Connection: reconnecting");
}

#[wasm_bindgen_test]
fn transports_fall_back_from_websocket_to_events_to_polling_and_no_further() {
    assert_eq!(fallback(Transport::WebSocket), Some(Transport::Sse));
    assert_eq!(fallback(Transport::Sse), Some(Transport::Polling));
    assert_eq!(fallback(Transport::Polling), None);
}

#[wasm_bindgen_test]
fn a_transport_gives_way_after_two_failures_in_a_row_but_not_during_an_outage() {
    let mut choice = TransportChoice::default();
    assert_eq!(choice.failed(false), None, "the server was down");
    assert_eq!(choice.failed(false), None);
    assert_eq!(choice.failed(true), None, "one failure is not a pattern");
    choice.succeeded();
    assert_eq!(
        choice.failed(true),
        None,
        "a success in between starts the count again"
    );
    assert_eq!(choice.failed(true), Some(Transport::Sse));
    assert_eq!(choice.transport, Transport::Sse);

    assert_eq!(choice.failed(true), None);
    assert_eq!(choice.failed(true), Some(Transport::Polling));
    assert_eq!(choice.failed(true), None, "polling is the last resort");
    assert_eq!(choice.failed(true), None);
    assert_eq!(choice.transport, Transport::Polling);

    choice.upgrade();
    assert_eq!(choice.transport, Transport::WebSocket);
}

#[wasm_bindgen_test]
fn reconnect_delays_grow_exponentially_with_full_jitter_and_a_cap() {
    assert_eq!(retry_delay_ms(0, 1.0), 500);
    assert_eq!(retry_delay_ms(3, 1.0), 4_000);
    assert_eq!(retry_delay_ms(20, 1.0), 30_000);
    assert_eq!(retry_delay_ms(3, 0.5), 2_000);
    assert_eq!(retry_delay_ms(3, 0.0), 0);
}

#[wasm_bindgen_test]
fn the_backoff_grows_with_failures_and_resets_after_a_stable_minute() {
    let mut backoff = Backoff::default();
    let ceilings: Vec<u32> = (0..4).map(|_| backoff.next_delay_ms(0.0, 1.0)).collect();
    assert_eq!(ceilings, [500, 1_000, 2_000, 4_000]);

    backoff.opened(10_000.0);
    assert_eq!(
        backoff.next_delay_ms(20_000.0, 1.0),
        8_000,
        "ten seconds up is not stable"
    );

    backoff.opened(30_000.0);
    assert_eq!(
        backoff.next_delay_ms(90_000.0, 1.0),
        500,
        "a stable minute resets"
    );
}

#[wasm_bindgen_test]
fn five_seconds_without_a_message_means_the_connection_is_dead() {
    assert!(!is_silent(10_000.0, 5_000.0));
    assert!(is_silent(10_001.0, 5_000.0));
}

#[wasm_bindgen_test]
fn the_next_page_is_found_in_the_link_header() {
    assert_eq!(
        next_link(r#"</api/tasks?limit=2&cursor=c1.2>; rel="next""#).as_deref(),
        Some("/api/tasks?limit=2&cursor=c1.2")
    );
    assert_eq!(
        next_link(r#"</a>; rel="prev", </b>; rel="next""#).as_deref(),
        Some("/b")
    );
    assert_eq!(next_link(r#"</a>; rel="prev""#), None);
}

#[wasm_bindgen_test]
async fn the_filter_shows_only_matching_tasks_and_says_when_none_match() {
    let root = wrapper();
    let mut finished = task(2, "finished");
    finished.done = true;
    let filter = RwSignal::new(Filter::Active);
    let tasks = vec![task(1, "open"), finished];
    let _mounted = mount_to(root.clone(), move || {
        view! { <TaskList tasks=tasks.clone() loading=false error={None::<String>} filter=filter /> }
    });
    settle().await;
    assert_eq!(root.query_selector_all(".task").unwrap().length(), 1);
    assert!(root.text_content().unwrap().contains("open"));

    filter.set(Filter::Done);
    settle().await;
    assert!(root.text_content().unwrap().contains("finished"));
    assert!(!root.text_content().unwrap().contains("open"));
    assert_eq!(Filter::from_path("/done/"), Filter::Done);
    assert_eq!(Filter::from_path("/elsewhere"), Filter::All);
}

/// Mounts one task row; returns the root and the titles it was asked to rename to.
fn mount_item(title: &str) -> (HtmlElement, RwSignal<Vec<String>>) {
    let root = wrapper();
    let renamed = RwSignal::new(Vec::new());
    let item = task(1, title);
    // Stays mounted for the rest of the test run, like the other components' handles would.
    std::mem::forget(mount_to(root.clone(), move || {
        view! {
            <TaskItem
                task=item.clone()
                on_toggle=|_: Task| {}
                on_rename=move |(_, title): (Task, String)| renamed.update(|all| all.push(title))
                on_delete=|_: Task| {}
            />
        }
    }));
    (root, renamed)
}

fn key(target: &HtmlElement, key: &str) {
    let init = web_sys::KeyboardEventInit::new();
    init.set_key(key);
    init.set_bubbles(true);
    let event =
        web_sys::KeyboardEvent::new_with_keyboard_event_init_dict("keydown", &init).unwrap();
    target.dispatch_event(&event).unwrap();
}

#[wasm_bindgen_test]
async fn double_clicking_a_title_edits_it_in_place_and_enter_saves() {
    let (root, renamed) = mount_item("draft");
    let title = find::<HtmlElement>(&root, ".task-title");
    let dblclick = web_sys::MouseEvent::new("dblclick").unwrap();
    title.dispatch_event(&dblclick).unwrap();
    settle().await;
    let field = find::<HtmlInputElement>(&root, ".task-edit");
    assert!(!field.hidden(), "the edit field is shown");

    field.set_value("final");
    key(&field, "Enter");
    settle().await;

    assert_eq!(renamed.get_untracked(), ["final"]);
    assert!(field.hidden());
}

#[wasm_bindgen_test]
async fn escape_cancels_an_edit() {
    let (root, renamed) = mount_item("keep me");
    find::<HtmlButtonElement>(&root, "button[aria-label^=Edit]").click();
    settle().await;
    let field = find::<HtmlInputElement>(&root, ".task-edit");

    field.set_value("discarded");
    key(&field, "Escape");
    settle().await;

    assert!(renamed.get_untracked().is_empty());
    assert!(field.hidden());
    assert_eq!(
        find::<HtmlElement>(&root, ".task-title")
            .text_content()
            .unwrap(),
        "keep me"
    );
}

#[wasm_bindgen_test]
async fn an_edit_survives_a_live_update_and_is_saved_against_the_version_it_began_from() {
    let root = wrapper();
    let current = RwSignal::new(task(7, "mine"));
    let saved = RwSignal::new(Vec::<(i64, String)>::new());
    std::mem::forget(mount_to(root.clone(), move || {
        view! {
            <TaskItem
                task=current
                on_toggle=|_: Task| {}
                on_rename=move |(base, title): (Task, String)| {
                    saved.update(|all| all.push((base.version, title)))
                }
                on_delete=|_: Task| {}
            />
        }
    }));
    find::<HtmlButtonElement>(&root, "button[aria-label^=Edit]").click();
    settle().await;
    let field = find::<HtmlInputElement>(&root, ".task-edit");
    field.set_value("mine, edited");

    // Someone else renames the task while this edit is open.
    current.update(|t| {
        t.title = "theirs".into();
        t.version += 1;
    });
    settle().await;
    assert!(!field.hidden(), "the edit is still open");
    assert_eq!(field.value(), "mine, edited");
    key(&field, "Enter");
    settle().await;

    assert_eq!(saved.get_untracked(), [(1, "mine, edited".to_owned())]);
    assert_eq!(
        find::<HtmlElement>(&root, ".task-title")
            .text_content()
            .unwrap(),
        "theirs"
    );
}

#[wasm_bindgen_test]
fn each_path_names_its_page() {
    use frontend::app::Route;
    use shared::BoardId;
    assert_eq!(Route::from_path("/"), Route::Boards);
    assert_eq!(Route::from_path("/boards/7"), Route::Board(BoardId(7)));
    assert_eq!(Route::from_path("/boards/7/done"), Route::Board(BoardId(7)));
    assert_eq!(Route::from_path("/boards/x"), Route::Boards);
    assert_eq!(Route::from_path("/signin"), Route::SignIn);
    assert_eq!(Route::from_path("/lab/"), Route::Lab);
}
