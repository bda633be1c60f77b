//! # matchwright-ecs: the matcher core
//!
//! A pure, deterministic state machine: commands in, events out. It reads no clock, draws no
//! randomness from the operating system, starts no thread and does no IO. Time is the `now_ms`
//! given to [`Matcher::tick`]; randomness comes from the seed given to [`Matcher::new`]. The
//! same config, seed and command stream give a byte-identical event stream, whatever machine
//! runs it. This is the sans-IO shape of quinn-proto: the server, the simulator and the
//! replayer are shells that feed it.
//!
//! ```
//! use matchwright_ecs::{Command, Config, EnqueueTicket, Event, Matcher, PlayerId, Rating, TicketId};
//!
//! let mut matcher = Matcher::new(Config::default(), 42).unwrap();
//! for player in 0..2 {
//!     let ticket = EnqueueTicket::solo(
//!         TicketId(player),
//!         "duel-1v1",
//!         PlayerId(player),
//!         Rating::new(1500.0, 100.0),
//!         vec![30, 90, 200, 250], // ping to each configured region
//!     );
//!     matcher.submit(Command::Enqueue(ticket)).unwrap();
//! }
//! matcher.tick(1_000).unwrap();
//! let formed = matcher
//!     .drain_events()
//!     .filter(|event| matches!(event, Event::MatchFormed { .. }))
//!     .count();
//! assert_eq!(formed, 1);
//! ```
//!
//! ## What is public, and why
//!
//! Only what the shells (server, storage, simulator, replayer, benches) and the tests need:
//!
//! - the matcher and what it says about itself: [`Matcher`], [`TickReport`], [`QueueStats`],
//!   [`EntityCounts`], their errors ([`SubmitError`], [`TickError`], [`RestoreError`]) and
//!   [`MAX_TIME_MS`];
//! - its inputs: [`Command`], [`EnqueueTicket`], [`TicketMember`], [`NO_PING`], and the ids
//!   ([`PlayerId`], [`PartyId`], [`TicketId`], [`MatchId`], [`CommandSeq`]);
//! - its outputs: the module [`event`] ([`Event`](enum@Event), [`MatchSummary`] and
//!   [`RejectReason`] at the root too);
//! - its configuration: the module [`config`] ([`Config`], [`ConfigError`], [`QueueConfig`]
//!   at the root too; [`QueueConfig::ticket_skill_window`] is the window a match reports) and
//!   the widening curves, [`curve`] ([`Curve`]);
//! - what the shells store and replay: [`snapshot`] ([`Snapshot`], [`SnapshotError`]), the
//!   encoding and event hashes, [`codec`], and the tick record ([`TickRecord`],
//!   [`ApplyError`], [`EventChain`]);
//! - the rating math the simulator's baselines share with the matcher, [`rating`] ([`Rating`]);
//! - the fairness check the tests run on every match, [`check_match_summary`], which judges
//!   latency by what each ticket submitted ([`SubmittedPings`]), not by what the match reports.
//!
//! Six modules are public whole (`event`, `config`, `curve`, `snapshot`, `codec`, `rating`):
//! they hold nothing but the data types and pure functions the API is made of, and the shells
//! name their items by module (`event::RemovalReason`, `config::AcceptanceConfig`,
//! `codec::encode`). The others are private; what the API needs of them is re-exported here.
//!
//! Everything else is internal (`pub(crate)`, and `unreachable_pub` warns of a `pub` that is
//! not reachable from here): players, parties, tickets and matches are bevy_ecs entities
//! (`components`); a tick is one `Schedule` of small systems in a fixed order (`systems`, whose
//! module comment has the table of phases); queues keep incremental indexes (`pool`) so that a
//! tick touches only what changed or is due; team splits (`teams`), deadlines (`timers`), the
//! world's resources (`resources`) and the debug-build invariants (`invariants`) complete it.

#![warn(unreachable_pub)]

pub mod codec;
mod command;
mod components;
pub mod config;
pub mod curve;
pub mod event;
mod ids;
mod invariants;
mod pool;
pub mod rating;
mod resources;
mod rules;
pub mod snapshot;
mod systems;
mod teams;
mod tick_record;
mod timers;

use core::fmt;

use bevy_ecs::prelude::*;
use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;

pub use command::{AttributeValue, Command, EnqueueTicket, NO_PING, RoleChoice, TicketMember};
pub use config::{Config, ConfigError, QueueConfig};
pub use curve::Curve;
pub use event::{Event, MatchSummary, RejectReason};
pub use ids::{CommandSeq, MatchId, PartyId, PlayerId, TicketId};
pub use invariants::{SubmittedPings, check_match_summary};
pub use rating::Rating;
pub use rules::{CheckReport, Explanation, Relaxation};
pub use snapshot::{Snapshot, SnapshotError};
pub use tick_record::{ApplyError, EventChain, TickRecord};

use resources::{
    BackfillDeadlines, Clock, Directory, Inbox, MatchDeadlines, MatchIds, MatchesToStart,
    MaybeIdlePlayers, Outbox, Pools, ProposalsToCancel, RegionBackoff, SeededRng, SessionsToClose,
    Settings, TickCounters,
};

/// Buffers (commands, events) keep this much capacity, or four times what they hold, between
/// ticks; a burst's larger capacity is given back.
const BUFFER_KEEP: usize = 4_096;

/// Gives back a buffer's capacity when a burst left it far larger than the `used` items a
/// tick now needs.
fn trim_buffer<T>(buffer: &mut Vec<T>, used: usize) {
    if buffer.capacity() > BUFFER_KEEP.max(used.saturating_mul(4)) {
        buffer.shrink_to(BUFFER_KEEP.max(used.saturating_mul(2)));
    }
}

/// Why `submit` refused a command outright (it gets no sequence number and is not applied).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubmitError {
    /// `limits.max_undrained_events` events wait to be drained; drain them first.
    EventsNotDrained {
        /// Events waiting.
        waiting: usize,
    },
}

impl fmt::Display for SubmitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::EventsNotDrained { waiting } => {
                write!(f, "{waiting} events wait to be drained; drain them first")
            }
        }
    }
}

impl std::error::Error for SubmitError {}

/// Why `Matcher::restore` failed.
#[derive(Clone, Debug, PartialEq)]
pub enum RestoreError {
    /// The config is not valid.
    Config(ConfigError),
    /// The snapshot does not fit the config or itself.
    Snapshot(SnapshotError),
}

impl fmt::Display for RestoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Config(error) => write!(f, "{error}"),
            Self::Snapshot(error) => write!(f, "{error}"),
        }
    }
}

impl std::error::Error for RestoreError {}

/// The latest time `tick` accepts: 2^62 ms (about 146 million years), so that time plus any
/// configured duration (at most `config::MAX_DURATION_MS`) never overflows.
pub const MAX_TIME_MS: u64 = 1 << 62;

/// Why `tick` did not run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TickError {
    /// `limits.max_undrained_events` events wait to be drained; drain them first.
    EventsNotDrained {
        /// Events waiting.
        waiting: usize,
    },
    /// The time given is past [`MAX_TIME_MS`].
    TimeOutOfRange {
        /// The time given.
        given_ms: u64,
    },
}

impl fmt::Display for TickError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::EventsNotDrained { waiting } => {
                write!(f, "{waiting} events wait to be drained; drain them first")
            }
            Self::TimeOutOfRange { given_ms } => {
                write!(
                    f,
                    "time {given_ms} ms is past the latest time accepted, {MAX_TIME_MS} ms"
                )
            }
        }
    }
}

impl std::error::Error for TickError {}

/// What one tick did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TickReport {
    /// The tick's number (1 for the first).
    pub tick: u64,
    /// The time it ran at.
    pub now_ms: u64,
    /// Commands applied (accepted or rejected).
    pub commands: u64,
    /// Matches formed (proposed or started).
    pub matches: u64,
    /// Tickets placed by backfill.
    pub backfilled: u64,
    /// Tickets tried as anchors.
    pub attempts: u64,
    /// Limits that deferred work.
    pub limits_hit: usize,
    /// Events produced.
    pub events: usize,
    /// Per queue and check, anchors that found no match after the check turned candidates
    /// away: how often each rule was a reason a ticket did not match. Empty in queues without
    /// rules or avoid lists.
    pub turned_away: Vec<TurnedAway>,
}

/// How many anchors of a tick found no match after one check turned candidates away.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TurnedAway {
    /// The queue.
    pub queue: std::sync::Arc<str>,
    /// The rule's name, or `block_list` or `roles`.
    pub check: std::sync::Arc<str>,
    /// Anchors.
    pub anchors: u64,
}

/// One queue's size right now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueStats {
    /// The queue.
    pub name: String,
    /// Tickets queued.
    pub tickets: usize,
    /// Players queued.
    pub players: u64,
    /// Tickets due to be tried as anchors (more than zero after a tick means a limit held
    /// work back).
    pub due: usize,
}

/// How many of each kind of entity the matcher holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EntityCounts {
    /// Players (in a party, a ticket or a match).
    pub players: usize,
    /// Parties.
    pub parties: usize,
    /// Tickets (queued or awaiting acceptance).
    pub tickets: usize,
    /// Matches (awaiting acceptance or in session).
    pub matches: usize,
}

/// The matcher: see the crate documentation.
pub struct Matcher {
    world: World,
    schedule: Schedule,
}

impl fmt::Debug for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Matcher")
            .field("now_ms", &self.now_ms())
            .field("queues", &self.queue_stats())
            .finish_non_exhaustive()
    }
}

impl Matcher {
    /// A matcher with no tickets, at time 0. The config is validated first.
    pub fn new(config: Config, seed: u64) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self::build(config, seed))
    }

    /// A matcher at the state a snapshot holds, under `config` (validated first). The config
    /// need not be the one in force when the snapshot was taken, but it must still have every
    /// queue and region the snapshot's tickets and matches refer to (by position). Given the
    /// same config, the restored matcher emits exactly what the original would have: see
    /// [`snapshot`].
    pub fn restore(config: Config, snapshot: &Snapshot) -> Result<Self, RestoreError> {
        config.validate().map_err(RestoreError::Config)?;
        let mut matcher = Self::build(config, 0);
        snapshot::import(&mut matcher.world, snapshot).map_err(RestoreError::Snapshot)?;
        #[cfg(debug_assertions)]
        invariants::check_world(&mut matcher.world);
        Ok(matcher)
    }

    /// The whole state, for storage: see [`snapshot`]. Taken between ticks, with no command
    /// waiting and every event drained.
    pub fn snapshot(&self) -> Result<Snapshot, SnapshotError> {
        snapshot::export(&self.world)
    }

    fn build(config: Config, seed: u64) -> Self {
        let mut world = World::new();
        world.insert_resource(Pools(
            (0..config.queues.len())
                .map(|_| Default::default())
                .collect(),
        ));
        world.insert_resource(RegionBackoff::new(config.regions.len()));
        world.insert_resource(Settings::new(config));
        world.insert_resource(Clock::default());
        world.insert_resource(Inbox::default());
        world.insert_resource(Outbox::default());
        world.insert_resource(Directory::default());
        world.insert_resource(MatchDeadlines::default());
        world.insert_resource(BackfillDeadlines::default());
        world.insert_resource(MatchIds::default());
        world.insert_resource(SeededRng(ChaCha8Rng::seed_from_u64(seed)));
        world.insert_resource(MatchesToStart::default());
        world.insert_resource(ProposalsToCancel::default());
        world.insert_resource(SessionsToClose::default());
        world.insert_resource(MaybeIdlePlayers::default());
        world.insert_resource(TickCounters::default());
        let mut schedule = systems::build_schedule();
        // The schedule is fixed code, not input: an ambiguity here is a bug in this crate,
        // caught by every test.
        if let Err(error) = schedule.initialize(&mut world) {
            panic!("the tick schedule does not build: {error}");
        }
        Self { world, schedule }
    }

    /// Applies the `Command::ReloadConfig`s waiting, in order, before the tick's other
    /// commands (which stay waiting, in order): each takes the whole state over to its config
    /// as a restart would (`snapshot`, then `restore`), or is rejected with why it does not
    /// fit. Returns how many there were. Costs one snapshot round trip per reload: rare, and
    /// the tick that carries one takes that much longer.
    fn apply_config_reloads(&mut self) -> u64 {
        let is_reload =
            |(_, command): &(CommandSeq, Command)| matches!(command, Command::ReloadConfig { .. });
        if !self
            .world
            .resource::<Inbox>()
            .commands
            .iter()
            .any(is_reload)
        {
            return 0;
        }
        // A snapshot is taken with no command waiting and every event drained: both are held
        // aside and handed to whichever world runs the tick.
        let waiting = core::mem::take(&mut self.world.resource_mut::<Inbox>().commands);
        let mut events = core::mem::take(&mut self.world.resource_mut::<Outbox>().0);
        let (reloads, others): (Vec<_>, Vec<_>) = waiting.into_iter().partition(is_reload);
        for (seq, command) in &reloads {
            let Command::ReloadConfig { config_toml } = command else {
                continue;
            };
            match self.reconfigured(config_toml) {
                Ok(matcher) => {
                    *self = matcher;
                    events.push_back(Event::ConfigReloaded { seq: *seq });
                }
                Err(reason) => events.push_back(Event::Rejected {
                    seq: *seq,
                    reason: RejectReason::ConfigDoesNotFit { reason },
                }),
            }
        }
        self.world.resource_mut::<Inbox>().commands = others;
        self.world.resource_mut::<Outbox>().0 = events;
        reloads.len() as u64
    }

    /// This matcher's state under the config in `config_toml`, or why it does not fit.
    fn reconfigured(&self, config_toml: &str) -> Result<Self, String> {
        let config = Config::from_toml_str(config_toml)
            .map_err(|error| format!("the config does not load: {error}"))?;
        let state = self
            .snapshot()
            .map_err(|error| format!("the state could not be exported: {error}"))?;
        Self::restore(config, &state).map_err(|error| error.to_string())
    }

    /// The sequence number the next submitted command gets.
    pub fn next_command_seq(&self) -> CommandSeq {
        CommandSeq(self.world.resource::<Inbox>().next_seq)
    }

    /// Queues a command for the next tick and returns its sequence number. A command beyond
    /// `limits.max_commands_per_tick` still gets a number, and is rejected
    /// (`RejectReason::TooManyCommands`). Refused outright only when the caller has left
    /// `limits.max_undrained_events` events undrained.
    pub fn submit(&mut self, command: Command) -> Result<CommandSeq, SubmitError> {
        let limits = &self.world.resource::<Settings>().config.limits;
        let (max_events, max_commands) =
            (limits.max_undrained_events, limits.max_commands_per_tick);
        let waiting = self.world.resource::<Outbox>().0.len();
        if waiting >= max_events as usize {
            return Err(SubmitError::EventsNotDrained { waiting });
        }
        let mut inbox = self.world.resource_mut::<Inbox>();
        let seq = CommandSeq(inbox.next_seq);
        inbox.next_seq += 1;
        if inbox.commands.len() >= max_commands as usize {
            self.world.resource_mut::<Outbox>().push(Event::Rejected {
                seq,
                reason: RejectReason::TooManyCommands {
                    limit: max_commands,
                },
            });
        } else {
            inbox.commands.push((seq, command));
        }
        Ok(seq)
    }

    /// Runs one tick at `now_ms`: applies the queued commands, then fires deadlines, resolves,
    /// backfills, forms matches and starts sessions. A time earlier than the last tick's is
    /// not used (the clock never goes back); an event says so.
    pub fn tick(&mut self, now_ms: u64) -> Result<TickReport, TickError> {
        let limit = self
            .world
            .resource::<Settings>()
            .config
            .limits
            .max_undrained_events as usize;
        let waiting = self.world.resource::<Outbox>().0.len();
        if waiting >= limit {
            return Err(TickError::EventsNotDrained { waiting });
        }
        if now_ms > MAX_TIME_MS {
            return Err(TickError::TimeOutOfRange { given_ms: now_ms });
        }
        let reloads = self.apply_config_reloads();
        let (kept_ms, ticks) = {
            let clock = self.world.resource::<Clock>();
            (clock.now_ms, clock.ticks)
        };
        let now_ms = if now_ms < kept_ms && ticks > 0 {
            self.world
                .resource_mut::<Outbox>()
                .push(Event::TimeWentBackwards {
                    given_ms: now_ms,
                    kept_ms,
                });
            kept_ms
        } else {
            now_ms
        };
        let mut clock = self.world.resource_mut::<Clock>();
        clock.now_ms = now_ms;
        clock.ticks += 1;
        let tick = clock.ticks;
        *self.world.resource_mut::<TickCounters>() = TickCounters::default();
        self.schedule.run(&mut self.world);
        self.world.resource_mut::<TickCounters>().commands += reloads;
        // Without an `App`, nothing else clears bevy's removed-component buffers: every despawn
        // would be remembered forever (about 300 KB a tick at 1% churn of 100k tickets).
        self.world.clear_trackers();
        let used = self.world.resource::<TickCounters>().commands as usize;
        trim_buffer(&mut self.world.resource_mut::<Inbox>().commands, used);
        let counters = self.world.resource::<TickCounters>();
        Ok(TickReport {
            tick,
            now_ms,
            commands: counters.commands,
            matches: counters.matches,
            backfilled: counters.backfilled,
            attempts: counters.attempts,
            limits_hit: counters.limits.len(),
            events: self.world.resource::<Outbox>().0.len() - waiting,
            turned_away: self.turned_away(),
        })
    }

    /// The tick's turned-away counts, with names.
    fn turned_away(&self) -> Vec<TurnedAway> {
        let counters = self.world.resource::<TickCounters>();
        let settings = self.world.resource::<Settings>();
        counters
            .turned_away
            .iter()
            .map(|(&(queue, check), &anchors)| {
                let config = settings.queue(usize::from(queue));
                let check: std::sync::Arc<str> = match usize::from(check) {
                    rules::BLOCK_LIST => "block_list".into(),
                    rules::ROLES => "roles".into(),
                    index => config.rules.get(index).map_or("?", |r| r.name()).into(),
                };
                TurnedAway {
                    queue: std::sync::Arc::clone(&settings.queue_names[usize::from(queue)]),
                    check,
                    anchors,
                }
            })
            .collect()
    }

    /// Why a live ticket has not matched yet: see [`Explanation`]. `None` if no live ticket
    /// has this id. Reads the state as of the last tick; looks at no more than
    /// `limits.max_explain_scan` tickets.
    pub fn explain(&self, ticket: TicketId) -> Option<Explanation> {
        rules::explain(&self.world, ticket)
    }

    /// The oldest undrained event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.world.resource_mut::<Outbox>().0.pop_front()
    }

    /// Every undrained event, oldest first.
    pub fn drain_events(&mut self) -> impl Iterator<Item = Event> + '_ {
        // Drained in place: the buffer keeps its capacity for the next tick (trimmed when a
        // burst left it far larger than the ticks now need).
        let outbox = &mut self.world.resource_mut::<Outbox>().into_inner().0;
        if outbox.capacity() > BUFFER_KEEP.max(outbox.len().saturating_mul(4)) {
            outbox.shrink_to(outbox.len().saturating_mul(2));
        }
        outbox.drain(..)
    }

    /// Events waiting to be drained.
    pub fn undrained_events(&self) -> usize {
        self.world.resource::<Outbox>().0.len()
    }

    /// When the matcher next has something to do without new commands: now, if commands wait
    /// or a limit held work back; otherwise the earliest deadline or wake time. `None` if
    /// nothing will ever happen on its own.
    pub fn next_deadline(&self) -> Option<u64> {
        let now = self.now_ms();
        let config = &self.world.resource::<Settings>().config;
        let pools = &self.world.resource::<Pools>().0;
        let mut next = [
            self.world.resource::<MatchDeadlines>().0.next_ms(),
            self.world.resource::<BackfillDeadlines>().0.next_ms(),
        ]
        .into_iter()
        .flatten()
        .min();
        let mut consider = |at: u64| next = Some(next.map_or(at, |n| n.min(at)));
        if !self.world.resource::<Inbox>().commands.is_empty() {
            consider(now);
        }
        for (pool, queue) in pools.iter().zip(&config.queues) {
            if pool.due_len() > 0 {
                consider(now);
            }
            if let Some(at) = pool.next_wake_ms() {
                consider(at);
            }
            if pool.has_backfill() {
                consider(now.saturating_add(queue.review.min_interval_ms));
            }
        }
        next
    }

    /// The time of the last tick.
    pub fn now_ms(&self) -> u64 {
        self.world.resource::<Clock>().now_ms
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.world.resource::<Settings>().config
    }

    /// Each queue's size.
    pub fn queue_stats(&self) -> Vec<QueueStats> {
        let config = &self.world.resource::<Settings>().config;
        self.world
            .resource::<Pools>()
            .0
            .iter()
            .zip(&config.queues)
            .map(|(pool, queue)| QueueStats {
                name: queue.name.clone(),
                tickets: pool.len(),
                players: pool.players(),
                due: pool.due_len(),
            })
            .collect()
    }

    /// Tickets queued, over all queues.
    pub fn queued_tickets(&self) -> usize {
        self.world
            .resource::<Pools>()
            .0
            .iter()
            .map(|pool| pool.len())
            .sum()
    }

    /// How many players, parties, tickets and matches the matcher holds.
    pub fn counts(&self) -> EntityCounts {
        let directory = self.world.resource::<Directory>();
        EntityCounts {
            players: directory.players.len(),
            parties: directory.parties.len(),
            tickets: directory.tickets.len(),
            matches: directory.matches.len(),
        }
    }

    /// Matches in existence (awaiting acceptance or in session).
    pub fn live_matches(&self) -> usize {
        self.world.resource::<Directory>().matches.len()
    }

    /// Whether `player` is in a ticket or a match: what an enqueue of them would refuse
    /// (`PlayerAlreadyQueued`, `PlayerInMatch`). A cluster holds a player's one-ticket claim
    /// until this is false.
    pub fn player_is_busy(&self, player: PlayerId) -> bool {
        let Some(entity) = self.world.resource::<Directory>().players.get(&player) else {
            return false;
        };
        self.world
            .get::<components::Player>(*entity)
            .is_some_and(|status| {
                status
                    .ticket
                    .is_some_and(|t| self.world.get::<components::Ticket>(t).is_some())
                    || status
                        .in_match
                        .is_some_and(|m| self.world.get::<components::Match>(m).is_some())
            })
    }

    /// Numbers this matcher's matches from `first` on, so that the partitions of a cluster
    /// never give two matches one id. Refused once a match has an id.
    pub fn number_matches_from(&mut self, first: u64) -> Result<(), String> {
        let mut ids = self.world.resource_mut::<MatchIds>();
        if ids.next != 0 {
            return Err(format!(
                "matches are already numbered (the next is {})",
                ids.next
            ));
        }
        ids.next = first;
        Ok(())
    }

    /// Checks every invariant now, in any build; panics with what is broken.
    pub fn check_invariants(&mut self) {
        invariants::check_world(&mut self.world);
    }
}
