//! The state of the live connection: a badge, the transport in use, the round trip, the countdown,
//! and "retry now".

use leptos::prelude::*;
use shared::Transport;

use crate::live::ConnectionState;

/// Shows the connection state and transport (saying so when it is a fallback); while waiting to
/// reconnect, the countdown and a retry button.
#[component]
pub fn ConnectionBadge(
    #[prop(into)] state: Signal<ConnectionState>,
    /// The transport carrying (or trying to carry) the feed.
    #[prop(into)]
    transport: Signal<Transport>,
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
            // Announced too: falling back (or coming back) is a change worth hearing.
            <p class="transport" aria-live="polite">{move || transport_text(transport.get())}</p>
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

/// How the badge names a transport; a fallback says that it is one.
pub fn transport_text(transport: Transport) -> String {
    match transport {
        Transport::WebSocket => "via WebSocket".to_owned(),
        other => format!("via {} (fallback: WebSocket blocked)", other.label()),
    }
}
