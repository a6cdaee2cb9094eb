//! A link within the app: a real `<a href>` (it works in a new tab, and without script) that a
//! plain click follows in place through the router instead of reloading the page.
//!
//! (leptos_router's `<A>` needs `<Routes>`, which this app does not use: the filter and the lab are
//! read from the location directly.)

use leptos::prelude::*;
use leptos_router::hooks::use_navigate;

/// A link to `href`, marked `aria-current="page"` while `current` holds.
#[component]
pub fn NavLink(
    #[prop(into)] href: String,
    #[prop(into)] current: Signal<bool>,
    children: Children,
) -> impl IntoView {
    let navigate = use_navigate();
    let target = href.clone();
    view! {
        <a
            href=href
            aria-current=move || current.get().then_some("page")
            on:click=move |event| {
                event.prevent_default();
                navigate(&target, Default::default());
            }
        >
            {children()}
        </a>
    }
}
