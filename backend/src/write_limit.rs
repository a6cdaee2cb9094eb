//! How fast one account may change tasks (`--write-rate`): a token bucket per account, so a
//! runaway script slows down instead of filling the board and everyone's live streams. Per
//! instance (behind N instances an account gets N times the rate); the sign-in limits, which
//! guard against guessing, are the ones kept in the store.

use std::num::NonZeroU32;
use std::sync::Arc;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use shared::UserId;

use crate::AppError;

/// Per-account limiter of task changes.
#[derive(Clone)]
pub struct WriteLimit {
    limiter: Arc<DefaultKeyedRateLimiter<UserId>>,
}

impl WriteLimit {
    /// `per_second` changes a second per account, in bursts of up to twice that.
    pub fn new(per_second: NonZeroU32) -> Self {
        let burst = per_second.saturating_mul(NonZeroU32::new(2).expect("two is not zero"));
        Self {
            limiter: Arc::new(DefaultKeyedRateLimiter::keyed(
                Quota::per_second(per_second).allow_burst(burst),
            )),
        }
    }

    /// Takes one change from `user`'s bucket, or 429 with the seconds until the next.
    pub fn check(&self, user: UserId) -> Result<(), AppError> {
        self.limiter.check_key(&user).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            AppError::TooManyRequests {
                retry_after_secs: u32::try_from(wait.as_secs() + 1).unwrap_or(u32::MAX),
            }
        })
    }

    /// Forgets accounts whose buckets are full again (run now and then, or memory grows).
    pub fn forget_idle(&self) {
        self.limiter.retain_recent();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_gets_its_burst_then_waits_and_others_are_not_slowed() {
        let limit = WriteLimit::new(NonZeroU32::new(2).unwrap());
        for _ in 0..4 {
            assert!(limit.check(UserId(1)).is_ok());
        }
        assert!(matches!(
            limit.check(UserId(1)),
            Err(AppError::TooManyRequests {
                retry_after_secs: 1
            })
        ));
        assert!(limit.check(UserId(2)).is_ok());
    }
}
