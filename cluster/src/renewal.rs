//! A replica's hand on its partition's lease: looked at and taken by the replica's loop, and,
//! while it leads, renewed by a task of its own every `lease / 5`, so that a tick that takes
//! long (a burst of arrivals at 100,000 queued takes hundreds of milliseconds of CPU) or
//! waits on its claims does not delay the renewal and cost a failover. The process must run
//! on a runtime with a second worker for the task to run during such a tick
//! (`matchwright matcher` does).
//!
//! The task records when each renewal succeeded. The loop leads on only while the last one
//! is less than a lease old ([`Leadership::still_leads`], checked before every tick): a
//! renewal stuck on a slow NATS must not let the loop append after a standby could have
//! taken over. The task stops, and reports the lease lost, when a renewal finds another
//! holder, when renewals have failed for a whole lease, or when it ended otherwise.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Mutex;
use tokio::task::JoinHandle;

use crate::lease::Lease;
use crate::log::LogError;

/// The renewal task and what it reports.
struct Renewing {
    task: JoinHandle<()>,
    lost: Arc<AtomicBool>,
    /// When the last renewal succeeded, in ms after `since`.
    renewed_ms: Arc<AtomicU64>,
    since: Instant,
}

/// The lease, and its renewal task while this replica leads.
pub struct Leadership {
    lease: Arc<Mutex<Lease>>,
    length: Duration,
    renewing: Option<Renewing>,
}

impl Leadership {
    /// Leadership through `lease`, not leading.
    pub fn new(lease: Lease) -> Self {
        let length = lease.check_every() * 5;
        Self {
            lease: Arc::new(Mutex::new(lease)),
            length,
            renewing: None,
        }
    }

    /// How often a standby looks at the lease (and a leader renews it).
    pub fn check_every(&self) -> Duration {
        self.length / 5
    }

    /// A standby's look: see [`Lease::try_take`].
    pub async fn try_take(&self) -> Result<bool, LogError> {
        self.lease.lock().await.try_take(Instant::now()).await
    }

    /// One renewal, by the loop (a new leader's, after its catch-up).
    pub async fn renew_once(&self) -> Result<bool, LogError> {
        self.lease.lock().await.renew(Instant::now()).await
    }

    /// Starts renewing in a task of its own (this replica now leads: it just renewed).
    pub fn start_renewing(&mut self) {
        self.stop_renewing();
        let lost = Arc::new(AtomicBool::new(false));
        let renewed_ms = Arc::new(AtomicU64::new(0));
        let since = Instant::now();
        let task = tokio::spawn(renew(
            Arc::clone(&self.lease),
            self.check_every(),
            Arc::clone(&lost),
            Arc::clone(&renewed_ms),
            since,
        ));
        self.renewing = Some(Renewing {
            task,
            lost,
            renewed_ms,
            since,
        });
    }

    /// Whether this replica may tick now: its renewal task runs, has not lost the lease, and
    /// renewed it less than a lease ago.
    pub fn still_leads(&self) -> bool {
        let Some(renewing) = &self.renewing else {
            return false;
        };
        let renewed = Duration::from_millis(renewing.renewed_ms.load(Ordering::SeqCst));
        !renewing.lost.load(Ordering::SeqCst)
            && !renewing.task.is_finished()
            && renewing.since.elapsed().saturating_sub(renewed) < self.length
    }

    /// Stops leading without giving the lease up (another holds it, or it lapsed).
    pub async fn step_down(&mut self) {
        self.stop_renewing();
        self.lease.lock().await.forget();
    }

    /// Stops leading and gives the lease up if it names this replica (a replica stopping or
    /// starting over).
    pub async fn release(&mut self) {
        self.stop_renewing();
        self.lease.lock().await.release().await;
    }

    fn stop_renewing(&mut self) {
        if let Some(renewing) = self.renewing.take() {
            renewing.task.abort();
        }
    }
}

impl Drop for Leadership {
    fn drop(&mut self) {
        self.stop_renewing();
    }
}

/// The renewal task: renews every `every` until the lease is lost, recording each success.
async fn renew(
    lease: Arc<Mutex<Lease>>,
    every: Duration,
    lost: Arc<AtomicBool>,
    renewed_ms: Arc<AtomicU64>,
    since: Instant,
) {
    let mut interval = tokio::time::interval(every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    interval.tick().await;
    loop {
        interval.tick().await;
        let mut lease = lease.lock().await;
        let started = since.elapsed();
        match lease.renew(Instant::now()).await {
            Ok(true) => {
                // Counted from when the request left: the lease ran from then at least.
                renewed_ms.store(started.as_millis() as u64, Ordering::SeqCst);
                continue;
            }
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
