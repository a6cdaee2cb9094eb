//! Purges what expires: ended sessions, past rate-limit windows, idempotency keys older than
//! their 24 hours, old access changes, and idle accounts' write buckets. Every instance runs it; the deletes are idempotent, so several at once is fine.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::auth::now_ms;
use crate::store::{AccountStore, IDEMPOTENCY_TTL_MS};
use crate::write_limit::WriteLimit;

/// How often expired records are purged.
const EVERY: Duration = Duration::from_secs(10 * 60);

/// Purges at start and then every [`EVERY`] until `stop`.
pub fn spawn(store: Arc<dyn AccountStore>, write_limit: WriteLimit, stop: CancellationToken) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(EVERY);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = ticks.tick() => {}
            }
            write_limit.forget_idle();
            let now = now_ms();
            match store.purge(now, now - IDEMPOTENCY_TTL_MS).await {
                Ok(purged) => tracing::debug!(?purged, "expired records purged"),
                Err(error) => tracing::warn!(%error, "purging expired records failed"),
            }
        }
    });
}
