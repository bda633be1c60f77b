//! One replica of a partition, without IO: the matcher and where it stands in the log. The
//! runner (`run`) feeds it the log's messages in order and, while it leads, asks it for the
//! next tick; everything here is a pure function of what it was fed and the times it was
//! given, so a leader and its standbys hold the same state at every tick.
//!
//! - A command message joins the pending commands (those after `commands_through`).
//! - A tick message is applied with `TickRecord::apply`, which checks the tick's events
//!   against the hash the leader recorded: a standby that would diverge stops with
//!   [`ReplicaError::Diverged`] instead of serving another state. Its commands leave the
//!   pending ones. A leader skips its own ticks (already applied when it ran them).
//! - A leader's tick takes the pending commands in log order, up to the config's
//!   `max_commands_per_tick` and a message that fits the log's bound, and runs them.
//!
//! Assertions, paired: ticks are contiguous (each the last plus one), the log sequences of
//! ticks and of consumed commands only grow, both when a tick is made and when one is read.

use std::collections::VecDeque;

use matchwright_ecs::{ApplyError, Command, Config, ConfigError, Event, EventChain, Matcher};
use matchwright_ecs::{TickRecord, codec};

use crate::log::MAX_MESSAGE_BYTES;
use crate::message::TickMessage;

/// The most commands a replica keeps waiting for a tick (a partition without a leader for
/// long while gateways append): past it the replica stops with an error rather than grow.
pub const MAX_PENDING_COMMANDS: usize = 1_000_000;

/// What a tick message leaves for its other fields (tick, time, hash, sequences, leader).
pub const TICK_OVERHEAD_BYTES: usize = 64 << 10;

/// Why a replica cannot go on.
#[derive(Debug)]
pub enum ReplicaError {
    /// A tick's events differ from what its leader recorded, or it could not be applied.
    Diverged {
        /// The tick.
        tick: u64,
        /// How.
        error: ApplyError,
    },
    /// The log breaks an invariant (a tick missing or repeated, sequences going back).
    Log(String),
    /// More than [`MAX_PENDING_COMMANDS`] commands wait for a tick.
    TooManyPending,
}

impl std::fmt::Display for ReplicaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Diverged { tick, error } => write!(f, "tick {tick} diverged: {error}"),
            Self::Log(detail) => write!(f, "the log is broken: {detail}"),
            Self::TooManyPending => write!(
                f,
                "more than {MAX_PENDING_COMMANDS} commands wait for a tick; is a leader running?"
            ),
        }
    }
}

impl std::error::Error for ReplicaError {}

/// A command waiting for a tick: its log sequence, the command and its encoded size.
struct Pending {
    seq: u64,
    command: Command,
    bytes: usize,
}

/// A replica: see the module comment.
pub struct Replica {
    matcher: Matcher,
    max_commands: usize,
    /// The log sequence of the last tick applied (0: none).
    tick_seq: u64,
    /// Every command up to this log sequence has been applied.
    commands_through: u64,
    /// The last tick applied and its time.
    tick: u64,
    now_ms: u64,
    chain: EventChain,
    pending: VecDeque<Pending>,
    events: Vec<Event>,
}

impl Replica {
    /// A replica at the start of the log.
    pub fn new(config: Config, seed: u64) -> Result<Self, ConfigError> {
        let max_commands = config.limits.max_commands_per_tick as usize;
        Ok(Self {
            matcher: Matcher::new(config, seed)?,
            max_commands,
            tick_seq: 0,
            commands_through: 0,
            tick: 0,
            now_ms: 0,
            chain: EventChain::default(),
            pending: VecDeque::new(),
            events: Vec::new(),
        })
    }

    /// A command message of the log.
    pub fn on_command(
        &mut self,
        seq: u64,
        command: Command,
        bytes: usize,
    ) -> Result<(), ReplicaError> {
        if seq <= self.commands_through {
            return Ok(());
        }
        if self.pending.back().is_some_and(|last| last.seq >= seq) {
            return Err(ReplicaError::Log(format!(
                "command {seq} arrived after a later one"
            )));
        }
        if self.pending.len() >= MAX_PENDING_COMMANDS {
            return Err(ReplicaError::TooManyPending);
        }
        self.pending.push_back(Pending {
            seq,
            command,
            bytes,
        });
        Ok(())
    }

    /// A tick message of the log: applied and checked, unless this replica made it. Returns
    /// whether it was applied (its events are then [`Replica::events`]).
    pub fn on_tick(&mut self, seq: u64, message: &TickMessage) -> Result<bool, ReplicaError> {
        if seq <= self.tick_seq {
            return Ok(false);
        }
        self.check_next(message)?;
        let record = &message.record;
        record
            .apply(&mut self.matcher, &mut self.events)
            .map_err(|error| ReplicaError::Diverged {
                tick: record.tick,
                error,
            })?;
        self.advance(seq, message);
        Ok(true)
    }

    /// A leader's next tick at `now_ms` (never before the last one's time): runs the pending
    /// commands that fit one tick and returns the message to append. The replica counts the
    /// tick as its own once [`Replica::appended`] gives its sequence.
    pub fn lead(&mut self, now_ms: u64, leader: &str) -> Result<TickMessage, ReplicaError> {
        let now_ms = now_ms.max(self.now_ms);
        let mut budget = MAX_MESSAGE_BYTES - TICK_OVERHEAD_BYTES;
        let mut commands = Vec::new();
        let mut command_seqs = Vec::new();
        let mut commands_through = self.commands_through;
        while let Some(next) = self.pending.front() {
            // A command alone is always taken, so that the log never stalls on one.
            let fits = commands.is_empty() || next.bytes + 10 <= budget;
            if commands.len() >= self.max_commands || !fits {
                break;
            }
            let Some(next) = self.pending.pop_front() else {
                break;
            };
            budget = budget.saturating_sub(next.bytes + 10);
            commands_through = next.seq;
            command_seqs.push(next.seq);
            commands.push(next.command);
        }
        let mut record = TickRecord {
            tick: self.tick + 1,
            now_ms,
            commands,
            event_hash: [0; 32],
            event_count: 0,
        };
        record
            .run(&mut self.matcher, &mut self.events)
            .map_err(|error| ReplicaError::Diverged {
                tick: record.tick,
                error,
            })?;
        record.event_hash = codec::hash_events(&self.events);
        record.event_count = self.events.len() as u64;
        Ok(TickMessage {
            record,
            command_seqs,
            commands_through,
            leader: leader.to_owned(),
        })
    }

    /// The tick from [`Replica::lead`] is in the log at `seq`.
    pub fn appended(&mut self, seq: u64, message: &TickMessage) -> Result<(), ReplicaError> {
        if seq <= self.tick_seq {
            return Err(ReplicaError::Log(format!(
                "tick {} appended at {seq}, not after the last tick at {}",
                message.record.tick, self.tick_seq
            )));
        }
        self.advance(seq, message);
        Ok(())
    }

    /// The invariants a tick message must keep with what came before it.
    fn check_next(&self, message: &TickMessage) -> Result<(), ReplicaError> {
        let record = &message.record;
        if record.tick != self.tick + 1 {
            return Err(ReplicaError::Log(format!(
                "tick {} follows tick {}",
                record.tick, self.tick
            )));
        }
        let first = message.command_seqs.first().copied();
        if message.commands_through < self.commands_through
            || first.is_some_and(|first| first <= self.commands_through)
        {
            return Err(ReplicaError::Log(format!(
                "tick {} consumes commands through {}, after ticks that consumed through {}",
                record.tick, message.commands_through, self.commands_through
            )));
        }
        Ok(())
    }

    fn advance(&mut self, seq: u64, message: &TickMessage) {
        let record = &message.record;
        assert_eq!(record.tick, self.tick + 1, "ticks are contiguous");
        assert!(seq > self.tick_seq, "tick sequences grow");
        assert!(
            message.commands_through >= self.commands_through,
            "consumed commands only grow"
        );
        self.tick = record.tick;
        self.now_ms = record.now_ms;
        self.tick_seq = seq;
        self.commands_through = message.commands_through;
        self.chain.push(&record.event_hash);
        while self
            .pending
            .front()
            .is_some_and(|pending| pending.seq <= self.commands_through)
        {
            self.pending.pop_front();
        }
    }

    /// The events of the last tick applied or led.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// The log sequence of the last tick applied (0: none).
    pub fn tick_seq(&self) -> u64 {
        self.tick_seq
    }

    /// The last tick applied (0: none).
    pub fn tick(&self) -> u64 {
        self.tick
    }

    /// The chain of the event hashes of every tick so far.
    pub fn chain(&self) -> EventChain {
        self.chain
    }

    /// Commands waiting for a tick.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// The matcher (read only).
    pub fn matcher(&self) -> &Matcher {
        &self.matcher
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use matchwright_ecs::{EnqueueTicket, PlayerId, Rating, TicketId};

    fn duelist(id: u64) -> Command {
        Command::Enqueue(EnqueueTicket::solo(
            TicketId(id),
            "duel-1v1",
            PlayerId(id),
            Rating::new(1500.0, 100.0),
            vec![30, 90, 200, 250],
        ))
    }

    fn replica() -> Replica {
        Replica::new(Config::default(), 7).unwrap()
    }

    /// A log: commands at odd sequences, and the leader's ticks as it makes them.
    fn led(leader: &mut Replica, log: &mut Vec<(u64, Option<TickMessage>, Option<Command>)>) {
        let seq = log.len() as u64 + 1;
        let message = leader.lead(1_000 * seq, "a").unwrap();
        leader.appended(seq, &message).unwrap();
        log.push((seq, Some(message), None));
    }

    fn command(leader: &mut Replica, log: &mut Vec<(u64, Option<TickMessage>, Option<Command>)>) {
        let seq = log.len() as u64 + 1;
        let command = duelist(seq);
        leader.on_command(seq, command.clone(), 40).unwrap();
        log.push((seq, None, Some(command)));
    }

    #[test]
    fn a_standby_following_the_log_holds_the_leaders_state_at_every_tick() {
        let mut leader = replica();
        let mut log = Vec::new();
        for round in 0..6 {
            for _ in 0..=round {
                command(&mut leader, &mut log);
            }
            led(&mut leader, &mut log);
        }
        let mut standby = replica();
        for (seq, tick, command) in &log {
            match (tick, command) {
                (Some(message), _) => {
                    assert!(standby.on_tick(*seq, message).unwrap());
                    assert_eq!(standby.tick(), message.record.tick);
                }
                (None, Some(command)) => standby.on_command(*seq, command.clone(), 40).unwrap(),
                _ => unreachable!(),
            }
        }
        assert_eq!(standby.chain(), leader.chain());
        assert_eq!(standby.pending(), 0);
        assert_eq!(
            standby.matcher().queued_tickets(),
            leader.matcher().queued_tickets()
        );
    }

    #[test]
    fn a_leader_skips_its_own_ticks_and_a_standby_takes_over_where_the_log_ends() {
        let mut leader = replica();
        let mut log = Vec::new();
        command(&mut leader, &mut log);
        led(&mut leader, &mut log);
        let (seq, message, _) = log[1].clone();
        assert!(!leader.on_tick(seq, message.as_ref().unwrap()).unwrap());
        // A command the old leader never ticked: the standby, now leading, takes it.
        let mut standby = replica();
        for (seq, tick, command) in &log {
            match (tick, command) {
                (Some(message), _) => assert!(standby.on_tick(*seq, message).unwrap()),
                (None, Some(command)) => standby.on_command(*seq, command.clone(), 40).unwrap(),
                _ => unreachable!(),
            }
        }
        standby.on_command(3, duelist(3), 40).unwrap();
        let next = standby.lead(10_000, "b").unwrap();
        assert_eq!(next.record.tick, 2);
        assert_eq!(next.command_seqs, vec![3]);
        assert_eq!(next.commands_through, 3);
    }

    #[test]
    fn a_tick_that_diverges_or_skips_is_refused_and_changes_nothing() {
        let mut leader = replica();
        let mut log = Vec::new();
        command(&mut leader, &mut log);
        led(&mut leader, &mut log);
        let mut forged = log[1].1.clone().unwrap();
        forged.record.event_hash[0] ^= 1;
        let mut standby = replica();
        standby.on_command(1, duelist(1), 40).unwrap();
        let error = standby.on_tick(2, &forged).unwrap_err();
        assert!(
            matches!(error, ReplicaError::Diverged { tick: 1, .. }),
            "{error}"
        );
        let mut skipping = log[1].1.clone().unwrap();
        skipping.record.tick = 5;
        let error = replica().on_tick(2, &skipping).unwrap_err();
        assert!(
            error.to_string().contains("tick 5 follows tick 0"),
            "{error}"
        );
    }

    #[test]
    fn a_leaders_tick_is_bounded_by_the_config_and_the_message_size() {
        let mut config = Config::default();
        config.limits.max_commands_per_tick = 3;
        let mut leader = Replica::new(config, 1).unwrap();
        for seq in 1..=5 {
            leader.on_command(seq, duelist(seq), 40).unwrap();
        }
        let first = leader.lead(1_000, "a").unwrap();
        assert_eq!(first.command_seqs, vec![1, 2, 3]);
        leader.appended(6, &first).unwrap();
        let second = leader.lead(2_000, "a").unwrap();
        assert_eq!(second.command_seqs, vec![4, 5]);
        let mut big = replica();
        big.on_command(1, duelist(1), MAX_MESSAGE_BYTES / 2)
            .unwrap();
        big.on_command(2, duelist(2), MAX_MESSAGE_BYTES / 2)
            .unwrap();
        assert_eq!(big.lead(1_000, "a").unwrap().command_seqs, vec![1]);
        let error = big.on_command(2, duelist(2), 40).unwrap_err();
        assert!(error.to_string().contains("after a later one"), "{error}");
    }
}
