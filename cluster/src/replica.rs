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
//!   `max_commands_per_tick` and a message that fits the log's bound, and runs them, except
//!   the enqueues its runner refused before the tick (another partition's queue, a player
//!   claimed elsewhere: `claims`), which it consumes and lists in the tick message.
//! - After every tick, led or followed, the replica knows which players it set free
//!   (`holds`): the players whose claims the leader releases.
//!
//! Assertions, paired: ticks are contiguous (each the last plus one), the log sequences of
//! ticks and of consumed commands only grow, both when a tick is made and when one is read.

use std::collections::VecDeque;

use matchwright_ecs::{
    ApplyError, Command, CommandSeq, Config, ConfigError, Event, EventChain, Matcher,
};
use matchwright_ecs::{EnqueueTicket, PlayerId, TickRecord, codec};

use crate::holds::Holds;
use crate::log::MAX_MESSAGE_BYTES;
use crate::message::{EventBatch, Refused, TickMessage};
use crate::sessions::Sessions;
use crate::snapshot::PartitionSnapshot;

/// How many recent ticks' freed players a replica remembers, for a new leader to release
/// again: a leader releases a tick's players right after appending it, before its next tick,
/// so only its last tick's releases can be lost when it dies.
pub const RECENT_TICKS: usize = 4;

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
    /// The log breaks an invariant (a tick repeated, sequences going back).
    Log(String),
    /// The next tick of the log is not the next tick of this replica: the log before it was
    /// trimmed while this replica lagged. It must start over from a snapshot.
    Gap {
        /// The replica's last tick.
        have: u64,
        /// The tick the log gave.
        got: u64,
    },
    /// More than [`MAX_PENDING_COMMANDS`] commands wait for a tick.
    TooManyPending,
}

impl std::fmt::Display for ReplicaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Diverged { tick, error } => write!(f, "tick {tick} diverged: {error}"),
            Self::Log(detail) => write!(f, "the log is broken: {detail}"),
            Self::Gap { have, got } => write!(
                f,
                "the log went from tick {have} to tick {got}: it was trimmed behind this replica"
            ),
            Self::TooManyPending => write!(
                f,
                "more than {MAX_PENDING_COMMANDS} commands or {MAX_PENDING_BYTES} bytes wait \
                 for a tick; is a leader running?"
            ),
        }
    }
}

impl std::error::Error for ReplicaError {}

/// A command waiting for a tick: its log sequence, the command (none: it did not decode, and
/// a tick consumes it without applying it) and its encoded size.
struct Pending {
    seq: u64,
    command: Option<Command>,
    bytes: usize,
}

/// The most bytes of commands a replica keeps waiting for a tick (see
/// [`MAX_PENDING_COMMANDS`]).
pub const MAX_PENDING_BYTES: usize = 1 << 30;

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
    pending_bytes: usize,
    /// The last command message read (0: none; a replica fed only ticks reads none).
    last_command_seen: u64,
    events: Vec<Event>,
    holds: Holds,
    /// The players the last tick set free.
    freed: Vec<PlayerId>,
    /// The players each of the last [`RECENT_TICKS`] ticks set free, oldest first.
    recently_freed: VecDeque<Vec<PlayerId>>,
    /// The matcher's sequence of the last tick's first command.
    first_command: CommandSeq,
    /// What the last tick applied and refused, for its event batch (none since a restore).
    last_consumed: Option<Consumed>,
    /// The matches waiting for a game server and the sessions' servers.
    sessions: Sessions,
}

/// The commands one tick consumed, by log sequence.
#[derive(Clone, Debug)]
struct Consumed {
    command_seqs: Vec<u64>,
    refused: Vec<Refused>,
    commands_through: u64,
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
            pending_bytes: 0,
            last_command_seen: 0,
            events: Vec::new(),
            holds: Holds::default(),
            freed: Vec::new(),
            recently_freed: VecDeque::new(),
            first_command: CommandSeq(0),
            last_consumed: None,
            sessions: Sessions::default(),
        })
    }

    /// Numbers this replica's matches from `first` on (a partition of a mapped cluster); only
    /// before its first match.
    pub fn number_matches_from(&mut self, first: u64) -> Result<(), String> {
        self.matcher.number_matches_from(first)
    }

    /// A replica at a snapshot (the log is then read from its `read_from` on).
    pub fn restore(config: Config, snapshot: &PartitionSnapshot) -> Result<Self, String> {
        let max_commands = config.limits.max_commands_per_tick as usize;
        let matcher = Matcher::restore(config, &snapshot.state).map_err(|e| e.to_string())?;
        Ok(Self {
            matcher,
            max_commands,
            tick_seq: snapshot.tick_seq,
            commands_through: snapshot.commands_through,
            tick: snapshot.tick,
            now_ms: snapshot.now_ms,
            chain: snapshot.chain,
            pending: VecDeque::new(),
            pending_bytes: 0,
            last_command_seen: 0,
            events: Vec::new(),
            holds: Holds::from_snapshot(&snapshot.state),
            freed: Vec::new(),
            recently_freed: VecDeque::new(),
            first_command: CommandSeq(0),
            last_consumed: None,
            sessions: snapshot.sessions.clone(),
        })
    }

    /// The replica's state after its last tick, for a snapshot.
    pub fn snapshot(&self, config_hash: [u8; 32]) -> Result<PartitionSnapshot, String> {
        // Every message before the tick has been read: the pending commands are all the
        // commands not yet consumed, and a restored replica must read them again.
        let read_from = self
            .pending
            .front()
            .map_or(self.tick_seq + 1, |first| first.seq);
        Ok(PartitionSnapshot {
            read_from,
            config_hash,
            tick: self.tick,
            now_ms: self.now_ms,
            tick_seq: self.tick_seq,
            commands_through: self.commands_through,
            chain: self.chain,
            state: self.matcher.snapshot().map_err(|e| e.to_string())?,
            sessions: self.sessions.clone(),
        })
    }

    /// A command message of the log (none: it did not decode).
    pub fn on_command(
        &mut self,
        seq: u64,
        command: Option<Command>,
        bytes: usize,
    ) -> Result<(), ReplicaError> {
        if seq <= self.commands_through {
            return Ok(());
        }
        if self.last_command_seen >= seq {
            return Err(ReplicaError::Log(format!(
                "command {seq} arrived after a later one"
            )));
        }
        if self.pending.len() >= MAX_PENDING_COMMANDS
            || self.pending_bytes + bytes > MAX_PENDING_BYTES
        {
            return Err(ReplicaError::TooManyPending);
        }
        self.pending_bytes += bytes;
        self.last_command_seen = seq;
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
        self.check_consumed(message)?;
        let record = &message.record;
        self.first_command = self.matcher.next_command_seq();
        record
            .apply(&mut self.matcher, &mut self.events)
            .map_err(|error| ReplicaError::Diverged {
                tick: record.tick,
                error,
            })?;
        let refused = self.refused_players(message);
        self.advance(seq, message);
        self.free(&message.record.commands, refused);
        self.sessions.after_tick(&self.events);
        Ok(true)
    }

    /// The enqueues the next [`Replica::lead`] takes, with their log sequences: what its
    /// runner claims players for (and may refuse) before the tick.
    pub fn next_enqueues(&self) -> Vec<(u64, &EnqueueTicket)> {
        self.pending
            .iter()
            .take(self.next_batch_len())
            .filter_map(|pending| match &pending.command {
                Some(Command::Enqueue(ticket)) => Some((pending.seq, ticket)),
                _ => None,
            })
            .collect()
    }

    /// How many pending commands the next tick takes: in log order, up to the config's
    /// `max_commands_per_tick` decoded commands and a message within the log's bound (a
    /// command alone is always taken, so that the log never stalls on one).
    fn next_batch_len(&self) -> usize {
        let mut budget = MAX_MESSAGE_BYTES - TICK_OVERHEAD_BYTES;
        let mut taken = 0;
        let mut commands = 0;
        for next in &self.pending {
            let fits = commands == 0 || next.bytes + 10 <= budget;
            if commands >= self.max_commands || !fits {
                break;
            }
            taken += 1;
            if next.command.is_some() {
                commands += 1;
                budget = budget.saturating_sub(next.bytes + 10);
            }
        }
        taken
    }

    /// The players of the enqueues `message` refused (from the pending commands; none for a
    /// replica fed only ticks).
    fn refused_players(&self, message: &TickMessage) -> Vec<PlayerId> {
        // One pass: both the pending commands and the refusals are in log order.
        let mut refused = message.refused.iter().map(|refused| refused.seq).peekable();
        let mut players = Vec::new();
        for pending in &self.pending {
            // Refusals of commands this replica never read (a replica fed only ticks).
            while refused.next_if(|seq| *seq < pending.seq).is_some() {}
            if refused.peek().is_none() {
                break;
            }
            if refused.next_if_eq(&pending.seq).is_some()
                && let Some(Command::Enqueue(ticket)) = &pending.command
            {
                players.extend(ticket.members.iter().map(|member| member.player));
            }
        }
        players
    }

    /// Records who the tick just applied set free.
    fn free(&mut self, applied: &[Command], refused: Vec<PlayerId>) {
        self.freed = self
            .holds
            .after_tick(applied, refused, &self.events, &self.matcher);
        if self.recently_freed.len() == RECENT_TICKS {
            self.recently_freed.pop_front();
        }
        self.recently_freed.push_back(self.freed.clone());
    }

    /// The players the last tick set free.
    pub fn freed(&self) -> &[PlayerId] {
        &self.freed
    }

    /// The players the last [`RECENT_TICKS`] ticks set free and still free now, for a new
    /// leader to release again.
    pub fn recently_freed(&self) -> Vec<PlayerId> {
        let mut players: Vec<PlayerId> = self
            .recently_freed
            .iter()
            .flatten()
            .copied()
            .filter(|player| !self.matcher.player_is_busy(*player))
            .collect();
        players.sort_unstable();
        players.dedup();
        players
    }

    /// A leader's next tick at `now_ms` (never before the last one's time): runs the pending
    /// commands that fit one tick ([`Replica::next_enqueues`]) but those `refusals` names
    /// (sorted by sequence; refusals of commands the tick does not take are dropped), and
    /// returns the message to append. The replica counts the tick as its own once
    /// [`Replica::appended`] gives its sequence.
    pub fn lead(
        &mut self,
        now_ms: u64,
        leader: &str,
        refusals: &[Refused],
    ) -> Result<TickMessage, ReplicaError> {
        let now_ms = now_ms.max(self.now_ms);
        let mut commands = Vec::new();
        let mut command_seqs = Vec::new();
        let mut refused = Vec::new();
        let mut refused_players = Vec::new();
        let mut commands_through = self.commands_through;
        // The message's bound, counted with what each entry really takes: a refusal may be
        // larger than the command it replaces.
        let mut budget = MAX_MESSAGE_BYTES - TICK_OVERHEAD_BYTES;
        for taken in 0..self.next_batch_len() {
            let Some(front) = self.pending.front() else {
                break;
            };
            let refusal = refusals.binary_search_by_key(&front.seq, |r| r.seq).ok();
            let cost = match (&front.command, refusal) {
                (None, _) => 0,
                (Some(_), Some(at)) => codec::encode(&refusals[at]).len() + 10,
                (Some(_), None) => front.bytes + 10,
            };
            if taken > 0 && cost > budget {
                break;
            }
            budget = budget.saturating_sub(cost);
            let Some(next) = self.pending.pop_front() else {
                break;
            };
            self.pending_bytes -= next.bytes;
            commands_through = next.seq;
            // A command that did not decode is consumed, not applied (every replica alike).
            let Some(command) = next.command else {
                continue;
            };
            match refusals.binary_search_by_key(&next.seq, |r| r.seq) {
                Ok(at) => {
                    if let Command::Enqueue(ticket) = &command {
                        refused_players.extend(ticket.members.iter().map(|m| m.player));
                    }
                    refused.push(refusals[at].clone());
                }
                Err(_) => {
                    command_seqs.push(next.seq);
                    commands.push(command);
                }
            }
        }
        let mut record = TickRecord {
            tick: self.tick + 1,
            now_ms,
            commands,
            event_hash: [0; 32],
            event_count: 0,
        };
        self.first_command = self.matcher.next_command_seq();
        record
            .run(&mut self.matcher, &mut self.events)
            .map_err(|error| ReplicaError::Diverged {
                tick: record.tick,
                error,
            })?;
        record.event_hash = codec::hash_events(&self.events);
        record.event_count = self.events.len() as u64;
        self.free(&record.commands, refused_players);
        self.sessions.after_tick(&self.events);
        Ok(TickMessage {
            record,
            command_seqs,
            commands_through,
            refused,
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
        if record.tick > self.tick + 1 {
            return Err(ReplicaError::Gap {
                have: self.tick,
                got: record.tick,
            });
        }
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

    /// A follower's check that a tick applies exactly the pending commands it consumes (those
    /// that decoded), in log order. A replica fed only ticks (a replay of tick messages) has
    /// read none of them and checks nothing here.
    fn check_consumed(&self, message: &TickMessage) -> Result<(), ReplicaError> {
        if self.last_command_seen < message.commands_through {
            return Ok(());
        }
        let consumed = self
            .pending
            .iter()
            .take_while(|pending| pending.seq <= message.commands_through)
            .filter(|pending| pending.command.is_some())
            .map(|pending| pending.seq);
        let mut taken: Vec<u64> = message.command_seqs.clone();
        taken.extend(message.refused.iter().map(|refused| refused.seq));
        taken.sort_unstable();
        if consumed.eq(taken.iter().copied()) {
            return Ok(());
        }
        Err(ReplicaError::Log(format!(
            "tick {} applies commands {:?} and refuses {} others, not the ones it consumes \
             through {}",
            message.record.tick,
            message.command_seqs,
            message.refused.len(),
            message.commands_through
        )))
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
        self.last_consumed = Some(Consumed {
            command_seqs: message.command_seqs.clone(),
            refused: message.refused.clone(),
            commands_through: message.commands_through,
        });
        while self
            .pending
            .front()
            .is_some_and(|pending| pending.seq <= self.commands_through)
        {
            if let Some(pending) = self.pending.pop_front() {
                self.pending_bytes -= pending.bytes;
            }
        }
    }

    /// The last tick's events and the outcome of each command it consumed, for gateways;
    /// `None` before this replica applied or led a tick (a replica just restored).
    pub fn event_batch(&self, partition: &str) -> Option<EventBatch> {
        let consumed = self.last_consumed.as_ref()?;
        let log_seq_of = |seq: CommandSeq| {
            let index = seq.0.checked_sub(self.first_command.0)?;
            consumed
                .command_seqs
                .get(usize::try_from(index).ok()?)
                .copied()
        };
        let rejected = self
            .events
            .iter()
            .filter_map(|event| match event {
                Event::Rejected { seq, reason } => Some((log_seq_of(*seq)?, reason.clone())),
                _ => None,
            })
            .collect();
        Some(EventBatch {
            partition: partition.to_owned(),
            tick: self.tick,
            now_ms: self.now_ms,
            part: 0,
            last: true,
            commands_through: consumed.commands_through,
            applied: consumed.command_seqs.clone(),
            rejected,
            refused: consumed.refused.clone(),
            events: self.events.clone(),
        })
    }

    /// The matches waiting for a game server and the sessions' servers.
    pub fn sessions(&self) -> &Sessions {
        &self.sessions
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
    use crate::test_support::duelist;

    fn replica() -> Replica {
        Replica::new(Config::default(), 7).unwrap()
    }

    /// A log: commands at odd sequences, and the leader's ticks as it makes them.
    fn led(leader: &mut Replica, log: &mut Vec<(u64, Option<TickMessage>, Option<Command>)>) {
        let seq = log.len() as u64 + 1;
        let message = leader.lead(1_000 * seq, "a", &[]).unwrap();
        leader.appended(seq, &message).unwrap();
        log.push((seq, Some(message), None));
    }

    fn command(leader: &mut Replica, log: &mut Vec<(u64, Option<TickMessage>, Option<Command>)>) {
        let seq = log.len() as u64 + 1;
        let command = duelist(seq);
        leader.on_command(seq, Some(command.clone()), 40).unwrap();
        log.push((seq, None, Some(command)));
    }

    #[test]
    fn a_refused_enqueue_is_consumed_alike_by_leader_and_standby_and_frees_its_player() {
        use crate::message::Refusal;
        let mut leader = replica();
        let mut standby = replica();
        for seq in 1..=3 {
            leader.on_command(seq, Some(duelist(seq)), 40).unwrap();
            standby.on_command(seq, Some(duelist(seq)), 40).unwrap();
        }
        let upcoming: Vec<u64> = leader.next_enqueues().iter().map(|(seq, _)| *seq).collect();
        assert_eq!(upcoming, vec![1, 2, 3]);
        let refusals = [Refused {
            seq: 2,
            reason: Refusal::PlayerElsewhere {
                player: PlayerId(2),
                partition: "b".into(),
            },
        }];
        let message = leader.lead(1_000, "a", &refusals).unwrap();
        assert_eq!(message.command_seqs, vec![1, 3]);
        assert_eq!(message.refused, refusals.to_vec());
        assert_eq!(message.commands_through, 3);
        leader.appended(4, &message).unwrap();
        assert!(standby.on_tick(4, &message).unwrap());
        assert_eq!(leader.chain(), standby.chain());
        assert_eq!(leader.freed(), &[PlayerId(2)]);
        assert_eq!(standby.freed(), &[PlayerId(2)]);
        assert_eq!(standby.recently_freed(), vec![PlayerId(2)]);
        assert!(standby.matcher().player_is_busy(PlayerId(1)));
        assert!(
            !standby.matcher().player_is_busy(PlayerId(2)),
            "refused: never queued"
        );
        assert!(standby.matcher().player_is_busy(PlayerId(3)));
        // A tick that consumes a command it neither applies nor refuses is not this log.
        let mut wrong = message.clone();
        wrong.refused.clear();
        let mut other = replica();
        for seq in 1..=3 {
            other.on_command(seq, Some(duelist(seq)), 40).unwrap();
        }
        assert!(other.on_tick(4, &wrong).is_err());
    }

    #[test]
    fn refusals_count_against_the_message_bound() {
        use crate::message::Refusal;
        let mut leader = replica();
        for seq in 1..=3 {
            leader.on_command(seq, Some(duelist(seq)), 40).unwrap();
        }
        let huge = |seq| Refused {
            seq,
            reason: Refusal::ClaimsUnavailable {
                detail: "x".repeat(MAX_MESSAGE_BYTES / 2),
            },
        };
        let message = leader.lead(1_000, "a", &[huge(1), huge(2)]).unwrap();
        assert_eq!(message.refused.len(), 1, "the second would not fit");
        assert_eq!(message.commands_through, 1);
        assert_eq!(leader.pending(), 2, "the rest wait for the next tick");
        assert!(message.encode().len() <= MAX_MESSAGE_BYTES);
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
                (None, Some(command)) => {
                    standby.on_command(*seq, Some(command.clone()), 40).unwrap()
                }
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
                (None, Some(command)) => {
                    standby.on_command(*seq, Some(command.clone()), 40).unwrap()
                }
                _ => unreachable!(),
            }
        }
        standby.on_command(3, Some(duelist(3)), 40).unwrap();
        let next = standby.lead(10_000, "b", &[]).unwrap();
        assert_eq!(next.record.tick, 2);
        assert_eq!(next.command_seqs, vec![3]);
        assert_eq!(next.commands_through, 3);
    }

    #[test]
    fn the_event_batch_gives_each_consumed_command_its_outcome_alike_on_leader_and_standby() {
        let mut leader = replica();
        assert!(leader.event_batch("p").is_none(), "no tick yet");
        // 1 is queued; 2 queues the same ticket again (the matcher rejects it); the leader
        // refuses 3.
        let commands = [(1, duelist(1)), (2, duelist(1)), (3, duelist(3))];
        for (seq, command) in &commands {
            leader.on_command(*seq, Some(command.clone()), 40).unwrap();
        }
        let refusal = Refused {
            seq: 3,
            reason: crate::message::Refusal::ClaimsUnavailable {
                detail: "away".into(),
            },
        };
        let message = leader
            .lead(1_000, "a", std::slice::from_ref(&refusal))
            .unwrap();
        leader.appended(4, &message).unwrap();
        let batch = leader.event_batch("p").unwrap();
        assert_eq!(batch.applied, vec![1, 2]);
        assert_eq!(batch.rejected.len(), 1, "{:?}", batch.rejected);
        assert_eq!(
            batch.rejected[0].0, 2,
            "the rejection names the log sequence"
        );
        assert_eq!(batch.refused, vec![refusal]);
        assert_eq!(batch.commands_through, 3);
        assert_eq!((batch.tick, batch.part, batch.last), (1, 0, true));
        let mut standby = replica();
        for (seq, command) in &commands {
            standby.on_command(*seq, Some(command.clone()), 40).unwrap();
        }
        assert!(standby.on_tick(4, &message).unwrap());
        assert_eq!(standby.event_batch("p"), Some(batch));
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
        standby.on_command(1, Some(duelist(1)), 40).unwrap();
        let error = standby.on_tick(2, &forged).unwrap_err();
        assert!(
            matches!(error, ReplicaError::Diverged { tick: 1, .. }),
            "{error}"
        );
        let mut repeated = log[1].1.clone().unwrap();
        let mut standby = replica();
        standby.on_command(1, Some(duelist(1)), 40).unwrap();
        assert!(standby.on_tick(2, &repeated).unwrap());
        repeated.commands_through = 9;
        let error = standby.on_tick(3, &repeated).unwrap_err();
        assert!(
            error.to_string().contains("tick 1 follows tick 1"),
            "{error}"
        );
    }

    #[test]
    fn a_command_that_does_not_decode_is_consumed_alike_and_a_tick_must_match_what_it_consumes() {
        let mut leader = replica();
        leader.on_command(1, Some(duelist(1)), 40).unwrap();
        leader.on_command(2, None, 3).unwrap();
        leader.on_command(3, Some(duelist(3)), 40).unwrap();
        let message = leader.lead(1_000, "a", &[]).unwrap();
        assert_eq!(message.command_seqs, vec![1, 3]);
        assert_eq!(message.commands_through, 3);
        leader.appended(4, &message).unwrap();
        let mut standby = replica();
        standby.on_command(1, Some(duelist(1)), 40).unwrap();
        standby.on_command(2, None, 3).unwrap();
        standby.on_command(3, Some(duelist(3)), 40).unwrap();
        let mut skipping = message.clone();
        skipping.command_seqs = vec![1];
        skipping.record.commands.pop();
        let error = standby.on_tick(4, &skipping).unwrap_err();
        assert!(
            error.to_string().contains("not the ones it consumes"),
            "{error}"
        );
        assert!(standby.on_tick(4, &message).unwrap());
        assert_eq!(standby.chain(), leader.chain());
        assert_eq!(standby.pending(), 0);
    }

    #[test]
    fn a_replica_restored_from_a_snapshot_follows_the_rest_of_the_log() {
        let mut leader = replica();
        let mut log = Vec::new();
        for _ in 0..3 {
            command(&mut leader, &mut log);
            command(&mut leader, &mut log);
            led(&mut leader, &mut log);
        }
        let snapshot = leader.snapshot([7; 32]).unwrap();
        let mut restored = Replica::restore(Config::default(), &snapshot).unwrap();
        for _ in 0..3 {
            command(&mut leader, &mut log);
            led(&mut leader, &mut log);
        }
        for (seq, tick, command) in &log {
            match (tick, command) {
                (Some(message), _) => {
                    restored.on_tick(*seq, message).unwrap();
                }
                (None, Some(command)) => restored
                    .on_command(*seq, Some(command.clone()), 40)
                    .unwrap(),
                _ => unreachable!(),
            }
        }
        assert_eq!(restored.chain(), leader.chain());
        assert_eq!(restored.tick(), leader.tick());
        // A log trimmed behind a replica: the tick after the gap is refused as a gap.
        let mut behind = replica();
        let later = log
            .iter()
            .rev()
            .find_map(|(_, tick, _)| tick.clone())
            .unwrap();
        let error = behind.on_tick(99, &later).unwrap_err();
        assert!(
            matches!(error, ReplicaError::Gap { have: 0, .. }),
            "{error}"
        );
    }

    #[test]
    fn a_leaders_tick_is_bounded_by_the_config_and_the_message_size() {
        let mut config = Config::default();
        config.limits.max_commands_per_tick = 3;
        let mut leader = Replica::new(config, 1).unwrap();
        for seq in 1..=5 {
            leader.on_command(seq, Some(duelist(seq)), 40).unwrap();
        }
        let first = leader.lead(1_000, "a", &[]).unwrap();
        assert_eq!(first.command_seqs, vec![1, 2, 3]);
        leader.appended(6, &first).unwrap();
        let second = leader.lead(2_000, "a", &[]).unwrap();
        assert_eq!(second.command_seqs, vec![4, 5]);
        let mut big = replica();
        big.on_command(1, Some(duelist(1)), MAX_MESSAGE_BYTES / 2)
            .unwrap();
        big.on_command(2, Some(duelist(2)), MAX_MESSAGE_BYTES / 2)
            .unwrap();
        assert_eq!(big.lead(1_000, "a", &[]).unwrap().command_seqs, vec![1]);
        let error = big.on_command(2, Some(duelist(2)), 40).unwrap_err();
        assert!(error.to_string().contains("after a later one"), "{error}");
    }
}
