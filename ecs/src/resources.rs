//! Resources: the matcher's singletons. The clock and the seeded random number generator are
//! here because the core reads neither from the machine: time comes in through `tick`, and
//! randomness from the seed given to `Matcher::new`.

use std::collections::VecDeque;
use std::sync::Arc;

use bevy_ecs::prelude::*;
use bevy_platform::collections::HashMap;
use rand_chacha::ChaCha8Rng;

use crate::command::Command;
use crate::config::Config;
use crate::event::{Event, Limit};
use crate::ids::{CommandSeq, MatchId, PartyId, PlayerId, TicketId};
use crate::pool::QueuePool;
use crate::timers::DeadlineQueue;

/// Matcher time.
#[derive(Resource, Debug, Default)]
pub(crate) struct Clock {
    /// Now, in milliseconds, as given to the running tick.
    pub now_ms: u64,
    /// Ticks run so far.
    pub ticks: u64,
}

/// The configuration (validated), and its names interned once so that events share them.
#[derive(Resource, Debug)]
pub(crate) struct Settings {
    /// The configuration.
    pub config: Config,
    /// Each queue's name, by queue index.
    pub queue_names: Vec<Arc<str>>,
    /// Each queue's game mode, by queue index.
    pub mode_names: Vec<Arc<str>>,
    /// Each region's name, by region index.
    pub region_names: Vec<Arc<str>>,
    /// Each queue's role names, by queue and role index (empty without roles).
    pub role_names: Vec<Vec<Arc<str>>>,
}

impl Settings {
    /// Settings for a validated config.
    pub(crate) fn new(config: Config) -> Self {
        Self {
            queue_names: config
                .queues
                .iter()
                .map(|q| Arc::from(q.name.as_str()))
                .collect(),
            mode_names: config
                .queues
                .iter()
                .map(|q| Arc::from(q.mode_name()))
                .collect(),
            region_names: config
                .regions
                .iter()
                .map(|r| Arc::from(r.as_str()))
                .collect(),
            role_names: config
                .queues
                .iter()
                .map(|q| {
                    q.roles
                        .iter()
                        .flat_map(|roles| &roles.composition)
                        .map(|slot| Arc::from(slot.role.as_str()))
                        .collect()
                })
                .collect(),
            config,
        }
    }

    /// The config of the queue at `index`.
    pub(crate) fn queue(&self, index: usize) -> &crate::config::QueueConfig {
        &self.config.queues[index]
    }
}

/// Commands submitted since the last tick, in order.
#[derive(Resource, Debug, Default)]
pub(crate) struct Inbox {
    /// The commands with their sequence numbers.
    pub commands: Vec<(CommandSeq, Command)>,
    /// The next sequence number.
    pub next_seq: u64,
}

/// Events not yet drained by the caller, oldest first.
#[derive(Resource, Debug, Default)]
pub(crate) struct Outbox(pub VecDeque<Event>);

impl Outbox {
    /// Adds an event.
    pub(crate) fn push(&mut self, event: Event) {
        self.0.push_back(event);
    }
}

/// Our ids to entities. Fixed-hasher maps: lookups only, never iterated into an output.
#[derive(Resource, Debug, Default)]
pub(crate) struct Directory {
    /// Player entities.
    pub players: HashMap<PlayerId, Entity>,
    /// Party entities.
    pub parties: HashMap<PartyId, Entity>,
    /// Ticket entities (queued or awaiting acceptance).
    pub tickets: HashMap<TicketId, Entity>,
    /// Match entities.
    pub matches: HashMap<MatchId, Entity>,
}

/// Each queue's pool, by queue index.
#[derive(Resource, Debug, Default)]
pub(crate) struct Pools(pub Vec<QueuePool>);

/// Match deadlines (acceptance, allocation, heartbeat), by match id.
#[derive(Resource, Debug, Default)]
pub(crate) struct MatchDeadlines(pub DeadlineQueue<MatchId>);

/// Backfill request expiries, by match id.
#[derive(Resource, Debug, Default)]
pub(crate) struct BackfillDeadlines(pub DeadlineQueue<MatchId>);

/// The next match id.
#[derive(Resource, Debug, Default)]
pub(crate) struct MatchIds {
    /// The id the next match gets.
    pub next: u64,
}

impl MatchIds {
    /// Takes the next id.
    pub(crate) fn take(&mut self) -> MatchId {
        let id = MatchId(self.next);
        self.next += 1;
        id
    }
}

/// The seeded generator. Used to decide which side each team of a new match gets (so the
/// anchor's team is not always team 0); the only randomness in the core.
#[derive(Resource, Debug)]
pub(crate) struct SeededRng(pub ChaCha8Rng);

/// Matches whose session starts at the end of this tick (accepted, or formed without acceptance).
#[derive(Resource, Debug, Default)]
pub(crate) struct MatchesToStart(pub Vec<Entity>);

/// Proposed matches that fell through this tick, and why.
#[derive(Resource, Debug, Default)]
pub(crate) struct ProposalsToCancel(pub Vec<ProposalCancel>);

/// A proposed match to cancel.
#[derive(Debug, Clone)]
pub(crate) struct ProposalCancel {
    /// The match entity.
    pub match_entity: Entity,
    /// Its tickets.
    pub tickets: Vec<Entity>,
    /// Players who had accepted.
    pub accepted: Vec<PlayerId>,
    /// Players who declined.
    pub declined: Vec<PlayerId>,
    /// Tickets taken away (cancelled, party changed), with the reason to give.
    pub cancelled: Vec<(Entity, crate::event::RemovalReason)>,
    /// Whether the deadline passed (every player who had not accepted counts as timed out).
    pub timed_out: bool,
    /// Whether an operator cancelled it (`Command::CancelMatch`).
    pub by_operator: bool,
}

/// Sessions to close at the end of this tick.
#[derive(Resource, Debug, Default)]
pub(crate) struct SessionsToClose(pub Vec<SessionClose>);

/// A session to close, and how.
#[derive(Debug, Clone)]
pub(crate) struct SessionClose {
    /// The match entity.
    pub match_entity: Entity,
    /// What happened.
    pub outcome: SessionOutcome,
    /// The tickets a session still allocating holds: back to their queues when no game server
    /// came (allocation failed or timed out), done with otherwise.
    pub held_tickets: Vec<Entity>,
    /// Whether the session had its game server, which it now gives back (lifts the region's
    /// allocation backoff).
    pub frees_server: bool,
}

/// Per configured region, when new matches may form there again after the fleet found no game
/// server (`sessions.allocation_backoff_ms`); 0 when open. A session ending in the region opens
/// it at once: its server is free.
#[derive(Resource, Debug, Clone, Default)]
pub(crate) struct RegionBackoff {
    /// By region index.
    pub reopen_at_ms: Vec<u64>,
}

impl RegionBackoff {
    /// All regions open.
    pub(crate) fn new(regions: usize) -> Self {
        Self {
            reopen_at_ms: vec![0; regions],
        }
    }

    /// The regions (bit `r` for region `r`) where matches may form at `now_ms`.
    pub(crate) fn open_mask(&self, now_ms: u64) -> u32 {
        self.reopen_at_ms
            .iter()
            .enumerate()
            .filter(|(_, reopen)| **reopen <= now_ms)
            .fold(0, |mask, (region, _)| mask | (1 << region))
    }

    /// The earliest time one of `regions` that is closed at `now_ms` opens again.
    pub(crate) fn next_reopen_ms(&self, regions: u32, now_ms: u64) -> Option<u64> {
        self.reopen_at_ms
            .iter()
            .enumerate()
            .filter(|(region, reopen)| regions & (1 << region) != 0 && **reopen > now_ms)
            .map(|(_, reopen)| *reopen)
            .min()
    }

    /// Closes `region` until `until_ms` (never shortens a longer backoff).
    pub(crate) fn close(&mut self, region: u8, until_ms: u64) {
        let slot = &mut self.reopen_at_ms[usize::from(region)];
        *slot = (*slot).max(until_ms);
    }

    /// Opens `region` now.
    pub(crate) fn open(&mut self, region: u8) {
        self.reopen_at_ms[usize::from(region)] = 0;
    }
}

/// How a session closes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SessionOutcome {
    /// A result: placements per team; ratings are updated.
    Result(Vec<u32>),
    /// Ended without a result.
    Ended,
    /// Given up.
    Abandoned(crate::event::AbandonReason),
}

/// Player entities that may have become idle this tick (checked and despawned at its end).
#[derive(Resource, Debug, Default)]
pub(crate) struct MaybeIdlePlayers(pub Vec<Entity>);

/// What this tick did, for the caller.
#[derive(Resource, Debug, Default, Clone)]
pub(crate) struct TickCounters {
    /// Commands applied (accepted or rejected).
    pub commands: u64,
    /// Matches formed (proposed or started).
    pub matches: u64,
    /// Tickets placed by backfill.
    pub backfilled: u64,
    /// Anchor attempts.
    pub attempts: u64,
    /// Limits hit: (queue, limit).
    pub limits: Vec<(Option<u16>, Limit)>,
    /// Anchors that found no match after a check turned candidates away: (queue, check) to
    /// count; a check is a rule's index, `rules::BLOCK_LIST` or `rules::ROLES`.
    pub turned_away: std::collections::BTreeMap<(u16, u8), u64>,
}
