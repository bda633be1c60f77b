//! The one tick record: what a tick took in (its number, its time, the commands submitted
//! for it, in order) and what it gave out (how many events, and their hash). The store's
//! journal and its recovery, trace files and the replayer, the simulator and (later) a cluster
//! partition's log all keep this one type and re-run it with this one function,
//! [`TickRecord::apply`], so that "the same inputs give the same outputs" is checked the same
//! way everywhere.
//!
//! [`EventChain`] links the ticks' event hashes into one value for a whole run: the journal
//! keeps it per tick, the replayer and the simulator report it at the end, and equal chains
//! mean equal event streams.

use core::fmt;

use serde::{Deserialize, Serialize};

use crate::Matcher;
use crate::codec;
use crate::command::Command;
use crate::event::Event;

/// One tick's inputs and the digest of its outputs.
///
/// The field order is part of the trace format (format 2): do not reorder.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TickRecord {
    /// The tick's number (the matcher's tick count after it ran).
    pub tick: u64,
    /// The time given to the tick.
    pub now_ms: u64,
    /// Every command submitted for the tick, in submission order (rejected ones too: a
    /// rejection is an output).
    pub commands: Vec<Command>,
    /// `codec::hash_events` over the tick's events, in order.
    pub event_hash: [u8; 32],
    /// How many events the tick emitted.
    pub event_count: u64,
}

/// Why a record could not be applied, or did not give what it recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApplyError {
    /// The matcher refused a command or the tick (a limit, a time out of range).
    Refused(String),
    /// The matcher ran another tick number: a tick is missing before this record.
    WrongTick {
        /// The record's tick.
        recorded: u64,
        /// The tick the matcher ran.
        ran: u64,
    },
    /// The tick ran, but its events differ from the record's (`events` holds the new ones).
    Diverged {
        /// What the record says.
        recorded_hash: [u8; 32],
        /// How many events the record says.
        recorded_count: u64,
        /// What the matcher gave.
        got_hash: [u8; 32],
        /// How many events the matcher gave.
        got_count: u64,
    },
}

impl fmt::Display for ApplyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Refused(detail) => f.write_str(detail),
            Self::WrongTick { recorded, ran } => write!(
                f,
                "the record is for tick {recorded}, the matcher ran tick {ran} (a tick is missing)"
            ),
            Self::Diverged {
                recorded_hash,
                recorded_count,
                got_hash,
                got_count,
            } => write!(
                f,
                "the tick gave {got_count} events hashing to {}, the record says {recorded_count} \
                 hashing to {}",
                codec::hex(got_hash),
                codec::hex(recorded_hash)
            ),
        }
    }
}

impl std::error::Error for ApplyError {}

impl TickRecord {
    /// The record of a tick that ran: its number and time, the commands it took, the events
    /// it gave.
    pub fn of(tick: u64, now_ms: u64, commands: Vec<Command>, events: &[Event]) -> Self {
        Self {
            tick,
            now_ms,
            commands,
            event_hash: codec::hash_events(events),
            event_count: events.len() as u64,
        }
    }

    /// Submits the record's commands to `matcher` and runs its tick, leaving the tick's events
    /// in `events` (cleared first); checks the tick number but not the events.
    pub fn run(&self, matcher: &mut Matcher, events: &mut Vec<Event>) -> Result<(), ApplyError> {
        for command in &self.commands {
            matcher
                .submit(command.clone())
                .map_err(|error| ApplyError::Refused(format!("a command was refused: {error}")))?;
        }
        let report = matcher
            .tick(self.now_ms)
            .map_err(|error| ApplyError::Refused(format!("the tick was refused: {error}")))?;
        events.clear();
        events.extend(matcher.drain_events());
        if report.tick != self.tick {
            return Err(ApplyError::WrongTick {
                recorded: self.tick,
                ran: report.tick,
            });
        }
        Ok(())
    }

    /// As [`run`](Self::run), and checks that the events are the recorded ones (count and
    /// hash). On `Diverged`, `events` holds what the matcher gave.
    pub fn apply(&self, matcher: &mut Matcher, events: &mut Vec<Event>) -> Result<(), ApplyError> {
        self.run(matcher, events)?;
        let got_hash = codec::hash_events(events);
        let got_count = events.len() as u64;
        if got_hash != self.event_hash || got_count != self.event_count {
            return Err(ApplyError::Diverged {
                recorded_hash: self.event_hash,
                recorded_count: self.event_count,
                got_hash,
                got_count,
            });
        }
        Ok(())
    }
}

/// The hash of a whole event stream, tick by tick: `chain = blake3(chain, tick's event hash)`,
/// from 32 zero bytes. What the journal keeps per tick, and what the replayer and the
/// simulator report for a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventChain(pub [u8; 32]);

impl EventChain {
    /// Adds one tick's event hash.
    pub fn push(&mut self, event_hash: &[u8; 32]) {
        self.0 = codec::chain_hash(&self.0, event_hash);
    }

    /// The chain in hex.
    pub fn hex(&self) -> String {
        codec::hex(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Config, EnqueueTicket, PlayerId, Rating, TicketId};

    fn two_duelists() -> Vec<Command> {
        (1..=2)
            .map(|id| {
                Command::Enqueue(EnqueueTicket::solo(
                    TicketId(id),
                    "duel-1v1",
                    PlayerId(id),
                    Rating::new(1500.0, 100.0),
                    vec![30, 90, 200, 250],
                ))
            })
            .collect()
    }

    fn recorded() -> (TickRecord, Vec<Event>) {
        let mut matcher = Matcher::new(Config::default(), 7).unwrap();
        let commands = two_duelists();
        for command in &commands {
            matcher.submit(command.clone()).unwrap();
        }
        let report = matcher.tick(1_000).unwrap();
        let events: Vec<Event> = matcher.drain_events().collect();
        (
            TickRecord::of(report.tick, 1_000, commands, &events),
            events,
        )
    }

    #[test]
    fn a_record_applies_to_a_fresh_matcher_and_gives_the_same_events() {
        let (record, events) = recorded();
        assert!(record.event_count > 0);
        let mut matcher = Matcher::new(Config::default(), 7).unwrap();
        let mut replayed = Vec::new();
        record.apply(&mut matcher, &mut replayed).unwrap();
        assert_eq!(replayed, events);
    }

    #[test]
    fn a_changed_outcome_a_missing_tick_and_a_refusal_are_named() {
        let (record, _) = recorded();
        // Another seed decides team sides differently: the hash differs.
        let mut other = Matcher::new(Config::default(), 8).unwrap();
        let mut events = Vec::new();
        let mut tampered = record.clone();
        tampered.event_count += 1;
        assert!(matches!(
            tampered.apply(&mut other, &mut events),
            Err(ApplyError::Diverged { .. })
        ));
        let mut matcher = Matcher::new(Config::default(), 7).unwrap();
        let mut later = record.clone();
        later.tick = 2;
        assert_eq!(
            later.apply(&mut matcher, &mut events),
            Err(ApplyError::WrongTick {
                recorded: 2,
                ran: 1
            })
        );
        let mut matcher = Matcher::new(Config::default(), 7).unwrap();
        let mut too_late = record;
        too_late.now_ms = u64::MAX;
        assert!(matches!(
            too_late.apply(&mut matcher, &mut events),
            Err(ApplyError::Refused(_))
        ));
    }

    #[test]
    fn the_chain_depends_on_every_tick_and_their_order() {
        let (a, b) = ([1_u8; 32], [2_u8; 32]);
        let mut forward = EventChain::default();
        forward.push(&a);
        forward.push(&b);
        let mut backward = EventChain::default();
        backward.push(&b);
        backward.push(&a);
        assert_ne!(forward, backward);
        assert_ne!(forward, EventChain::default());
        assert_eq!(forward.hex().len(), 64);
    }
}
