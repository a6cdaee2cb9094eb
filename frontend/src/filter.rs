//! The list filter, kept in the URL (`/boards/ID`, `/boards/ID/active`, `/boards/ID/done`) so a
//! link or a reload keeps it.

use shared::Task;

/// Which tasks the list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    All,
    Active,
    Done,
}

impl Filter {
    pub const ALL: [Filter; 3] = [Filter::All, Filter::Active, Filter::Done];

    /// Whether `task` passes.
    pub fn keeps(self, task: &Task) -> bool {
        match self {
            Self::All => true,
            Self::Active => !task.done,
            Self::Done => task.done,
        }
    }

    /// The page path of `board` under this filter.
    pub fn path(self, board: shared::BoardId) -> String {
        let base = format!("/boards/{board}");
        match self {
            Self::All => base,
            Self::Active => format!("{base}/active"),
            Self::Done => format!("{base}/done"),
        }
    }

    /// The filter a page path selects (its last segment; anything else shows all).
    pub fn from_path(path: &str) -> Self {
        match path.trim_end_matches('/').rsplit('/').next() {
            Some("active") => Self::Active,
            Some("done") => Self::Done,
            _ => Self::All,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::All => "All",
            Self::Active => "Active",
            Self::Done => "Done",
        }
    }

    /// What an empty filtered list says.
    pub fn empty_text(self) -> &'static str {
        match self {
            Self::All => "No tasks yet. Add the first one above.",
            Self::Active => "Nothing left to do.",
            Self::Done => "Nothing done yet.",
        }
    }
}
