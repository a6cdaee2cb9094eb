//! The page's components, one per file; each takes signals and callbacks, never the network.

mod board_footer;
mod clock;
mod connection_badge;
mod nav_link;
mod task_form;
mod task_item;
mod task_list;

pub use board_footer::BoardFooter;
pub use clock::Clock;
pub use connection_badge::ConnectionBadge;
pub use nav_link::NavLink;
pub use task_form::TaskForm;
pub use task_item::TaskItem;
pub use task_list::TaskList;
