//! A link within the app: a real `<a href>` (it works in a new tab, and without script) that a
//! plain click follows in place (see [`crate::location`]), marked while it is the current page.

use leptos::prelude::*;

/// A link to `href`, marked `aria-current="page"` while `current` holds.
#[component]
pub fn NavLink(
    #[prop(into)] href: String,
    #[prop(into)] current: Signal<bool>,
    children: Children,
) -> impl IntoView {
    view! {
        <a href=href aria-current=move || current.get().then_some("page")>
            {children()}
        </a>
    }
}
