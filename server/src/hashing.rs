//! Password hashing under a bound. An argon2 hash (login or registration) takes about 19 MiB
//! and tens of milliseconds of one core, on tokio's blocking pool: unbounded, a burst of logins
//! (wrong passwords need no account) grows memory by 19 MiB per request in flight.
//!
//! At most `server.password_hash_concurrency` hashes run at once (default: one per core), so
//! hashing memory stays under that many times 19 MiB. Up to `server.password_hash_queue`
//! requests wait for a slot; one more gets 503 `busy` with `Retry-After` at once
//! (metric `matchwright_password_hash_refused_total`). A waiting request that is dropped (its
//! client left, or the request timeout passed) gives its place up.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::ApiError;

/// The hashing slots and their bounded wait queue.
#[derive(Debug)]
pub struct HashingPool {
    slots: Arc<Semaphore>,
    waiting: AtomicUsize,
    max_waiting: usize,
}

/// A place in the wait queue, given up when dropped.
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl HashingPool {
    /// `concurrency` hashes at once (at least one), `max_waiting` waiting.
    pub fn new(concurrency: usize, max_waiting: usize) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(concurrency.max(1))),
            waiting: AtomicUsize::new(0),
            max_waiting,
        }
    }

    /// Runs `work` (a hash or a verification) on the blocking pool once a slot is free.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let slot = self.slot().await?;
        tokio::task::spawn_blocking(move || {
            let answer = work();
            drop(slot);
            answer
        })
        .await
        .map_err(ApiError::internal)
    }

    async fn slot(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        if let Ok(slot) = Arc::clone(&self.slots).try_acquire_owned() {
            return Ok(slot);
        }
        let ahead = self.waiting.fetch_add(1, Ordering::SeqCst);
        let _place = Waiting(&self.waiting);
        if ahead >= self.max_waiting {
            metrics::counter!("matchwright_password_hash_refused_total").increment(1);
            return Err(ApiError::unavailable(
                "busy",
                "too many logins and registrations at once; retry in a second",
            ));
        }
        Arc::clone(&self.slots)
            .acquire_owned()
            .await
            .map_err(ApiError::internal)
    }

    /// Requests waiting for a slot now.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::Duration;

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn work_beyond_the_slots_and_the_queue_is_refused_with_503() {
        let pool = Arc::new(HashingPool::new(1, 1));
        let (release, hold) = mpsc::channel::<()>();
        let running = {
            let pool = Arc::clone(&pool);
            tokio::spawn(async move { pool.run(move || hold.recv().is_ok()).await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        let queued = {
            let pool = Arc::clone(&pool);
            tokio::spawn(async move { pool.run(|| 7).await })
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while pool.waiting() == 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "the second job never waited"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let refused = pool.run(|| 8).await.unwrap_err();
        assert_eq!(refused.status().as_u16(), 503);
        assert_eq!(refused.code(), "busy");
        release.send(()).unwrap();
        assert!(running.await.unwrap().unwrap());
        assert_eq!(queued.await.unwrap().unwrap(), 7);
        assert_eq!(pool.waiting(), 0);
        // The queue is free again.
        assert_eq!(pool.run(|| 9).await.unwrap(), 9);
    }
}
