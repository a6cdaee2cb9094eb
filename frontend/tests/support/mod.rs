//! What several browser test files build their cases from.

use shared::{Task, TaskId};

/// An open task at version 1.
pub fn task(id: i64, title: &str) -> Task {
    Task {
        id: TaskId(id),
        title: title.into(),
        done: false,
        created_at: Default::default(),
        version: 1,
        created_by: None,
        updated_by: None,
    }
}
