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
