//! The state of the live connection: a badge, the round trip, the countdown, and "retry now".

use leptos::prelude::*;

use crate::live::ConnectionState;

/// Shows the connection state; while waiting to reconnect, the countdown and a retry button.
#[component]
pub fn ConnectionBadge(
    #[prop(into)] state: Signal<ConnectionState>,
    #[prop(into)] rtt_ms: Signal<Option<u32>>,
    #[prop(into)] retry_in_secs: Signal<Option<u32>>,
    on_retry: impl Fn() + 'static,
) -> impl IntoView {
    let waiting = move || state.get().is_waiting();
    let detail = move || {
        if waiting() {
            retry_in_secs
                .get()
                .map(|secs| format!("next try in {secs} s"))
        } else if state.get() == ConnectionState::Live {
            rtt_ms.get().map(|ms| format!("round trip {ms} ms"))
        } else {
            None
        }
    };
    view! {
        <div class="connection">
            // role=status is a polite live region: screen readers announce connection changes.
            <p class=move || format!("badge badge-{}", state.get().css_class()) role="status">
                <span class="visually-hidden">"Connection: "</span>
                {move || state.get().label()}
            </p>
            <p class="connection-detail">{detail}</p>
            <button
                type="button"
                class="secondary"
                hidden=move || !waiting()
                on:click=move |_| on_retry()
            >
                "Retry now"
            </button>
        </div>
    }
}
