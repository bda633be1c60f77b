//! Group commit for the writes that are not a tick's (accounts, refresh tokens, avoid lists):
//! once the tick loop turns it on ([`Store::enable_group_commit`]), a handler's write is a job
//! queued here, which the next tick runs inside its own transaction (after the tick's rows),
//! and the handler waits until that transaction is durable. redb then has one writer and one
//! fsync per tick interval; a login waits at most one tick interval and a commit for its
//! token to be durable.
//!
//! A job either refuses (a taken username, an unknown token) before writing anything, or
//! writes and succeeds: it never leaves half its writes in the tick's transaction. A job the
//! tick cannot write (a redb error) fails the tick, as any write of the tick does.
//!
//! Bounds: at most `MAX_WAITING` jobs wait (beyond it a write is refused at once); a handler
//! waits at most `WAIT` for its tick, then gives up and its job is skipped, unless the tick
//! has already taken it (then it waits for that commit, which is bounded by the tick).
//!
//! [`Store::enable_group_commit`]: crate::Store::enable_group_commit

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redb::WriteTransaction;

/// Jobs that may wait for a tick.
pub(crate) const MAX_WAITING: usize = 10_000;
/// How long a handler waits for the tick to take its job.
pub(crate) const WAIT: Duration = Duration::from_secs(5);

/// A write for the tick's transaction; returns the outbox rows it queued.
pub(crate) type Job = Box<dyn FnOnce(&WriteTransaction) -> Result<u64, redb::Error> + Send>;

const WAITING: u8 = 0;
const TAKEN: u8 = 1;
const ABANDONED: u8 = 2;

struct Pending {
    job: Job,
    state: Arc<AtomicU8>,
    done: SyncSender<Result<(), String>>,
}

/// The queue, shared by the store and its handles.
#[derive(Default)]
pub(crate) struct GroupCommit {
    on: AtomicBool,
    waiting: Mutex<Vec<Pending>>,
}

impl std::fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit")
            .field("on", &self.on.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// A handler's wait for its job's commit.
pub(crate) struct Ticket {
    state: Arc<AtomicU8>,
    done: Receiver<Result<(), String>>,
}

/// Jobs a tick took, answered once its transaction is durable (or not).
#[derive(Default)]
pub(crate) struct Taken {
    answers: Vec<SyncSender<Result<(), String>>>,
}

impl GroupCommit {
    pub(crate) fn is_on(&self) -> bool {
        self.on.load(Ordering::Acquire)
    }

    pub(crate) fn set_on(&self, on: bool) {
        self.on.store(on, Ordering::Release);
    }

    /// Queues a job; `Err` when `MAX_WAITING` already wait.
    pub(crate) fn submit(&self, job: Job) -> Result<Ticket, String> {
        let mut waiting = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
        if waiting.len() >= MAX_WAITING {
            return Err(format!(
                "{MAX_WAITING} writes already wait for the tick; try again"
            ));
        }
        let state = Arc::new(AtomicU8::new(WAITING));
        let (done, answer) = sync_channel(1);
        waiting.push(Pending {
            job,
            state: Arc::clone(&state),
            done,
        });
        Ok(Ticket {
            state,
            done: answer,
        })
    }

    /// Runs every waiting job in `txn` (skipping those their handler gave up); returns the
    /// outbox rows they queued and the answers owed once `txn` is durable.
    pub(crate) fn run_into(&self, txn: &WriteTransaction) -> Result<(u64, Taken), redb::Error> {
        let jobs = std::mem::take(&mut *self.waiting.lock().unwrap_or_else(|p| p.into_inner()));
        let mut rows = 0;
        let mut taken = Taken::default();
        for pending in jobs {
            let claimed =
                pending
                    .state
                    .compare_exchange(WAITING, TAKEN, Ordering::AcqRel, Ordering::Acquire);
            if claimed.is_err() {
                continue;
            }
            taken.answers.push(pending.done);
            rows += (pending.job)(txn)?;
        }
        Ok((rows, taken))
    }

    /// Answers every waiting job with `why` (the store stopped).
    pub(crate) fn fail_waiting(&self, why: &str) {
        let jobs = std::mem::take(&mut *self.waiting.lock().unwrap_or_else(|p| p.into_inner()));
        for pending in jobs {
            let _ = pending.done.send(Err(why.to_string()));
        }
    }
}

impl Taken {
    /// Answers the jobs with the commit's outcome.
    pub(crate) fn answer(self, outcome: &Result<(), String>) {
        for done in self.answers {
            let _ = done.send(outcome.clone());
        }
    }
}

impl Ticket {
    /// Waits for the commit of the tick that took the job. `Err` if it failed, or if no tick
    /// took the job within `WAIT` (then it never will).
    pub(crate) fn wait(self) -> Result<(), String> {
        match self.done.recv_timeout(WAIT) {
            Ok(outcome) => outcome,
            Err(_) => {
                let gave_up = self.state.compare_exchange(
                    WAITING,
                    ABANDONED,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                );
                if gave_up.is_ok() {
                    return Err(format!(
                        "no tick committed it within {} s (the tick loop is stalled)",
                        WAIT.as_secs()
                    ));
                }
                // A tick has it: its commit is under way.
                self.done
                    .recv()
                    .unwrap_or_else(|_| Err("the tick loop stopped".into()))
            }
        }
    }
}
