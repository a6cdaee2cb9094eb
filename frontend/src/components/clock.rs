//! The live clock, as the server's ticks say it.

use leptos::prelude::*;

/// The latest tick's text, or a placeholder before the first one.
#[component]
pub fn Clock(#[prop(into)] time: Signal<Option<String>>) -> impl IntoView {
    view! {
        <p class="clock-time">
            {move || time.get().unwrap_or_else(|| "The time is: --:--:--".to_owned())}
        </p>
    }
}
