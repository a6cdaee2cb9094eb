//! The live clock and the state of its WebSocket connection.

use leptos::prelude::*;

use crate::live::ConnectionState;

/// Shows the latest tick's text and a badge with the connection state.
#[component]
pub fn Clock(
    #[prop(into)] state: Signal<ConnectionState>,
    #[prop(into)] time: Signal<Option<String>>,
) -> impl IntoView {
    view! {
        <div class="clock">
            <p class="clock-time">
                {move || time.get().unwrap_or_else(|| "The time is: --:--:--".to_owned())}
            </p>
            // role=status is a polite live region: screen readers announce connection changes.
            <p class=move || format!("badge badge-{}", state.get().css_class()) role="status">
                <span class="visually-hidden">"Connection: "</span>
                {move || state.get().label()}
            </p>
        </div>
    }
}
