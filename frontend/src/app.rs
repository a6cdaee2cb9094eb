//! The page: the live clock in the header, the add form and the task list below.

use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::TaskTitle;

use crate::api;
use crate::components::{Clock, TaskForm, TaskList};
use crate::live;

/// The whole app, wired to the real server.
#[component]
pub fn App() -> impl IntoView {
    let tasks = RwSignal::new(Vec::new());
    let loading = RwSignal::new(true);
    let load_error = RwSignal::new(None::<String>);
    spawn_local(async move {
        match api::list_tasks().await {
            Ok(list) => tasks.set(list),
            Err(error) => load_error.set(Some(format!("Could not load the tasks. {error}"))),
        }
        loading.set(false);
    });

    let feed = live::connect();
    let create = move |title: TaskTitle| async move {
        let task = api::create_task(&title).await?;
        tasks.update(|list| list.push(task.clone()));
        Ok(task)
    };

    view! {
        <header class="app-header">
            <h1>"tasktick"</h1>
            <Clock state=feed.state time=feed.clock />
        </header>
        <main class="app-main">
            <section class="card" aria-labelledby="tasks-heading">
                <h2 id="tasks-heading">"Tasks"</h2>
                <TaskForm on_create=create />
                <TaskList tasks=tasks loading=loading error=load_error />
            </section>
        </main>
        <footer class="app-footer">
            <p>"Tasks travel over REST; the clock streams over a WebSocket."</p>
        </footer>
    }
}
