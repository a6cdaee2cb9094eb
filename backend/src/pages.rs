//! Task list pages kept ready to send. A page is read from the store once, serialised once and
//! tagged once; later reads of the same page answer those bytes (or a `304`) without touching the
//! store, for as long as nothing newer has been published on its board.
//!
//! The rule that keeps a page and its `seq` in agreement: an entry is the page as of its `seq`
//! (read together in one transaction), and it is served only while the board's published head
//! (`events::EventHub::published`) is not past that `seq`. Every change on this instance is
//! published before its request is answered, so a client reads its own writes; a change made on
//! another instance is seen once this instance's follower has published it (the live stream's
//! lag, milliseconds with NOTIFY), the same moment its live clients see it.

use std::sync::Arc;

use axum::http::HeaderValue;
use bytes::Bytes;
use quick_cache::Weighter;
use quick_cache::sync::Cache;
use shared::{BoardId, tasks_path};

use crate::AppError;
use crate::conditional::body_etag;
use crate::store::{ListQuery, Page};

/// Bytes of pages kept, in all: a page of 1000 tasks is a few hundred KiB.
const CAPACITY_BYTES: u64 = 32 * 1024 * 1024;
/// How many pages the cache is sized for (it adapts; this only presizes it).
const ESTIMATED_PAGES: usize = 4096;
/// What an entry costs besides its body (key, headers, bookkeeping), for the weight.
const ENTRY_OVERHEAD_BYTES: u64 = 256;

/// One page, ready to send.
#[derive(Debug)]
pub struct ReadyPage {
    /// The newest event the page reflects.
    pub seq: i64,
    /// The JSON array of tasks.
    pub body: Bytes,
    /// The strong tag of `body`.
    pub etag: HeaderValue,
    /// The `Link: <...>; rel="next"` value when more tasks follow.
    pub next: Option<HeaderValue>,
}

impl ReadyPage {
    /// Serialises and tags a page read from the store.
    pub fn render(board: BoardId, query: ListQuery, page: Page) -> Result<Self, AppError> {
        let body =
            serde_json::to_vec(&page.tasks).map_err(|e| AppError::Encoding(e.to_string()))?;
        let etag = HeaderValue::from_str(&body_etag(&body)).expect("an ETag is visible ASCII");
        let next = match (page.has_more, page.tasks.last()) {
            (true, Some(last)) => {
                let mut next = format!(
                    "{}?limit={}&cursor={}",
                    tasks_path(board),
                    query.limit,
                    encode_cursor(last.id)
                );
                if let Some(done) = query.done {
                    next.push_str(&format!("&done={done}"));
                }
                Some(
                    HeaderValue::from_str(&format!("<{next}>; rel=\"next\""))
                        .expect("the link is ASCII"),
                )
            }
            _ => None,
        };
        Ok(Self {
            seq: page.seq,
            body: Bytes::from(body),
            etag,
            next,
        })
    }
}

/// The opaque cursor: "after this task id". Clients pass it back as they got it.
pub fn encode_cursor(after: shared::TaskId) -> String {
    format!("c1.{:x}", after.0)
}

#[derive(Clone)]
struct BodyWeight;

impl Weighter<(BoardId, ListQuery), Arc<ReadyPage>> for BodyWeight {
    fn weight(&self, _key: &(BoardId, ListQuery), page: &Arc<ReadyPage>) -> u64 {
        page.body.len() as u64 + ENTRY_OVERHEAD_BYTES
    }
}

/// The pages of every board, bounded in bytes (the least used go first).
pub struct Pages {
    cache: Cache<(BoardId, ListQuery), Arc<ReadyPage>, BodyWeight>,
}

impl Default for Pages {
    fn default() -> Self {
        Self {
            cache: Cache::with_weighter(ESTIMATED_PAGES, CAPACITY_BYTES, BodyWeight),
        }
    }
}

impl Pages {
    /// The page for `query` if one is kept and `published` (the board's published head) is not
    /// past it.
    pub fn fresh(
        &self,
        board: BoardId,
        query: ListQuery,
        published: i64,
    ) -> Option<Arc<ReadyPage>> {
        self.cache
            .get(&(board, query))
            .filter(|page| page.seq >= published)
    }

    /// Keeps `page` for later reads, unless a page at least as new is kept already.
    pub fn keep(&self, board: BoardId, query: ListQuery, page: Arc<ReadyPage>) {
        let newer_kept = self
            .cache
            .get(&(board, query))
            .is_some_and(|kept| kept.seq > page.seq);
        if !newer_kept {
            self.cache.insert((board, query), page);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::Task;

    const BOARD: BoardId = BoardId(3);
    const FIRST: ListQuery = ListQuery {
        done: None,
        after: None,
        limit: 2,
    };

    fn task(id: i64) -> Task {
        serde_json::from_value(serde_json::json!({
            "id": id, "title": format!("task {id}"), "done": false, "version": 1,
            "created_at": "2026-11-30T00:00:00Z", "updated_at": "2026-11-30T00:00:00Z",
        }))
        .unwrap()
    }

    fn ready(seq: i64, ids: &[i64], has_more: bool) -> Arc<ReadyPage> {
        let page = Page {
            tasks: ids.iter().copied().map(task).collect(),
            seq,
            has_more,
        };
        Arc::new(ReadyPage::render(BOARD, FIRST, page).unwrap())
    }

    #[test]
    fn a_page_is_served_until_its_board_publishes_something_newer() {
        let pages = Pages::default();
        pages.keep(BOARD, FIRST, ready(5, &[1], false));
        assert_eq!(pages.fresh(BOARD, FIRST, 5).map(|p| p.seq), Some(5));
        // Read ahead of this instance's follower (another instance wrote): still the newest.
        assert_eq!(pages.fresh(BOARD, FIRST, 4).map(|p| p.seq), Some(5));
        assert!(pages.fresh(BOARD, FIRST, 6).is_none());
    }

    #[test]
    fn boards_and_queries_are_kept_apart() {
        let pages = Pages::default();
        pages.keep(BOARD, FIRST, ready(5, &[1], false));
        assert!(pages.fresh(BoardId(4), FIRST, 0).is_none());
        let done = ListQuery {
            done: Some(true),
            ..FIRST
        };
        assert!(pages.fresh(BOARD, done, 0).is_none());
    }

    #[test]
    fn an_older_read_does_not_replace_a_newer_page() {
        let pages = Pages::default();
        pages.keep(BOARD, FIRST, ready(7, &[1, 2], false));
        pages.keep(BOARD, FIRST, ready(6, &[1], false));
        assert_eq!(pages.fresh(BOARD, FIRST, 0).map(|p| p.seq), Some(7));
    }

    #[test]
    fn a_page_with_more_tasks_links_to_the_next_with_the_same_filter() {
        let page = ready(5, &[1, 26], true);
        let link = page.next.as_ref().unwrap().to_str().unwrap();
        assert_eq!(
            link,
            "</api/boards/3/tasks?limit=2&cursor=c1.1a>; rel=\"next\""
        );
        assert!(ready(5, &[1, 26], false).next.is_none());
        assert_eq!(page.etag, body_etag(&page.body));
    }
}
