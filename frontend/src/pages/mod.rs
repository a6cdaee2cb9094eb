//! Whole pages that talk to the server themselves (through `api`): signing in, the board list,
//! a board's members, the access tokens. The board itself is assembled in `app` from components.

mod account;
mod boards;
mod members;
mod tokens;

pub use account::{AccountForm, Mode};
pub use boards::BoardList;
pub use members::MembersPanel;
pub use tokens::TokensPage;

use leptos::html;
use leptos::prelude::*;
use shared::Name;

/// The name typed in `field` if it follows the shared name rule; otherwise the rule is shown in
/// `error` (the board, rename and token forms check a name the same way before sending it).
fn checked_name(field: NodeRef<html::Input>, error: RwSignal<Option<String>>) -> Option<String> {
    let raw = field.get_untracked()?.value();
    match Name::parse(&raw) {
        Ok(_) => Some(raw),
        Err(rule) => {
            error.set(Some(rule.to_string()));
            None
        }
    }
}
