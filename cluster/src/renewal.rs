//! A replica's hand on its partition's lease: looked at and taken by the replica's loop, and,
//! while it leads, renewed by a task of its own every `lease / 5`, so that a tick that takes
//! long (a burst of arrivals at 100,000 queued takes hundreds of milliseconds of CPU) does
//! not delay the renewal and cost a failover. The process must run on a runtime with a
//! second worker for the task to run during such a tick (`matchwright matcher` does).
//!
//! The task stops renewing, and reports the lease lost, when a renewal finds another holder,
//! or when renewals have failed (NATS away) for a whole lease; the loop then follows on.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Mutex;
use tokio::task::JoinHandle;

use crate::lease::Lease;
use crate::log::LogError;

/// The lease, and its renewal task while this replica leads.
pub struct Leadership {
    lease: Arc<Mutex<Lease>>,
    every: Duration,
    /// The renewal task and its report that the lease is lost.
    renewing: Option<(JoinHandle<()>, Arc<AtomicBool>)>,
}

impl Leadership {
    /// Leadership through `lease`, not leading.
    pub fn new(lease: Lease) -> Self {
        let every = lease.check_every();
        Self {
            lease: Arc::new(Mutex::new(lease)),
            every,
            renewing: None,
        }
    }

    /// How often a standby looks at the lease (and a leader renews it).
    pub fn check_every(&self) -> Duration {
        self.every
    }

    /// A standby's look: see [`Lease::try_take`].
    pub async fn try_take(&self) -> Result<bool, LogError> {
        self.lease.lock().await.try_take(Instant::now()).await
    }

    /// One renewal, by the loop (a new leader's, after its catch-up).
    pub async fn renew_once(&self) -> Result<bool, LogError> {
        self.lease.lock().await.renew(Instant::now()).await
    }

    /// Starts renewing in a task of its own (this replica now leads).
    pub fn start_renewing(&mut self) {
        self.stop_renewing();
        let lost = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn(renew(
            Arc::clone(&self.lease),
            self.every,
            Arc::clone(&lost),
        ));
        self.renewing = Some((task, lost));
    }

    /// Whether the renewal task found the lease lost (this replica must follow on).
    pub fn lost(&self) -> bool {
        self.renewing
            .as_ref()
            .is_some_and(|(_, lost)| lost.load(Ordering::SeqCst))
    }

    /// Stops leading without giving the lease up (another holds it, or it lapsed).
    pub async fn step_down(&mut self) {
        self.stop_renewing();
        self.lease.lock().await.forget();
    }

    /// Stops leading and gives the lease up, if held (a replica stopping or starting over).
    pub async fn release(&mut self) {
        self.stop_renewing();
        self.lease.lock().await.release().await;
    }

    fn stop_renewing(&mut self) {
        if let Some((task, _)) = self.renewing.take() {
            task.abort();
        }
    }
}

impl Drop for Leadership {
    fn drop(&mut self) {
        self.stop_renewing();
    }
}

/// The renewal task: renews every `every` until the lease is lost.
async fn renew(lease: Arc<Mutex<Lease>>, every: Duration, lost: Arc<AtomicBool>) {
    let mut interval = tokio::time::interval(every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    interval.tick().await;
    loop {
        interval.tick().await;
        let mut lease = lease.lock().await;
        match lease.renew(Instant::now()).await {
            Ok(true) => continue,
            Ok(false) => tracing::warn!("another replica took the lease; following"),
            Err(error) => {
                let lapsed = lease.lapsed(Instant::now());
                tracing::warn!(%error, lapsed, "could not renew the lease");
                if !lapsed {
                    continue;
                }
                lease.forget();
            }
        }
        lost.store(true, Ordering::SeqCst);
        return;
    }
}
