//! The page's address, without a router crate: the path as a signal kept in step with the
//! browser's history (back and forward), [`Location::navigate`] to go somewhere in place, and a
//! plain click on a link within the app followed in place instead of reloading the page.
//!
//! The app reads only the path (the page, the board and its filter are all in it), so this is all
//! the routing it needs; a router crate cost a tenth of the bundle.

use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;

/// Where the page is; `Copy`, found with [`use_location`] below [`provide_location`].
#[derive(Debug, Clone, Copy)]
pub struct Location {
    path: RwSignal<String>,
}

impl Location {
    /// The path (`/boards/3/open`), tracked.
    pub fn path(&self) -> String {
        self.path.get()
    }

    /// Goes to `to` (a path within the app) in place: a new history entry, the top of the page.
    pub fn navigate(&self, to: &str) {
        let window = window();
        if let Ok(history) = window.history() {
            // A failure here (a path the browser refuses) leaves the address as it was.
            if history
                .push_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(to))
                .is_err()
            {
                return;
            }
        }
        window.scroll_to_with_x_and_y(0.0, 0.0);
        self.path.set(current_path());
    }
}

/// Starts following the address for the whole page and provides it as context.
pub fn provide_location() -> Location {
    let location = Location {
        path: RwSignal::new(current_path()),
    };
    provide_context(location);
    // Back and forward.
    let on_pop = Closure::<dyn Fn()>::new(move || location.path.set(current_path()));
    // Links within the app, followed in place.
    let on_click =
        Closure::<dyn Fn(web_sys::MouseEvent)>::new(move |event: web_sys::MouseEvent| {
            if let Some(path) = in_app_link(&event) {
                event.prevent_default();
                location.navigate(&path);
            }
        });
    let window = window();
    let _ = window.add_event_listener_with_callback("popstate", on_pop.as_ref().unchecked_ref());
    let _ = document().add_event_listener_with_callback("click", on_click.as_ref().unchecked_ref());
    // Both listen for the page's whole life.
    on_pop.forget();
    on_click.forget();
    location
}

/// The page's [`Location`] (provided by [`provide_location`]).
pub fn use_location() -> Location {
    expect_context()
}

fn current_path() -> String {
    window()
        .location()
        .pathname()
        .unwrap_or_else(|_| "/".into())
}

/// The path of the link a click should follow in place: a plain left click, not yet handled, on a
/// link to a path of this site that does not ask for another window or a download.
fn in_app_link(event: &web_sys::MouseEvent) -> Option<String> {
    if event.default_prevented()
        || event.button() != 0
        || event.meta_key()
        || event.ctrl_key()
        || event.shift_key()
        || event.alt_key()
    {
        return None;
    }
    let anchor = event
        .target()?
        .dyn_into::<web_sys::Element>()
        .ok()?
        .closest("a[href]")
        .ok()??;
    if anchor.has_attribute("target") || anchor.has_attribute("download") {
        return None;
    }
    let href = anchor.get_attribute("href")?;
    is_site_path(&href).then_some(href)
}

/// Whether `href` is a path on this site (`/boards`), not another site (`//host`, `https:`).
pub fn is_site_path(href: &str) -> bool {
    href.starts_with('/') && !href.starts_with("//")
}

#[cfg(test)]
mod tests {
    use super::is_site_path;

    #[test]
    fn only_paths_of_this_site_are_followed_in_place() {
        assert!(is_site_path("/"));
        assert!(is_site_path("/boards/3"));
        assert!(!is_site_path("//example.com/boards"));
        assert!(!is_site_path("https://example.com/"));
        assert!(!is_site_path("boards"));
        assert!(!is_site_path("#top"));
    }
}
