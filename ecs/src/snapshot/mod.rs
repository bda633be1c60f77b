//! The matcher's whole state as plain data, and back: what storage writes so that a restarted
//! server goes on exactly where it stopped.
//!
//! [`Matcher::snapshot`](crate::Matcher::snapshot) exports everything a future tick can read:
//! the clock, the command and match counters, the random generator's position, and every
//! player, party, ticket and match with each queued ticket's place in its pool (when it is
//! due, which regions it accepts). Our ids stand in for entities. What can be derived is not
//! stored: the directory, the pools' indexes, the deadline queues and the backfill lists are
//! rebuilt from the records by [`Matcher::restore`](crate::Matcher::restore).
//!
//! The promise, tested in `tests/snapshot.rs`: a matcher restored from a snapshot produces,
//! for the same commands and times, the very events the original would have. It holds because
//! no system reads entity order or entity numbers into an output: every iteration that reaches
//! an event goes through id-keyed indexes (see the crate's determinism notes).
//!
//! A snapshot is taken between ticks, with no command waiting and every event drained, so
//! neither the inbox nor the outbox is part of it.
//!
//! Both directions are built for a million queued tickets (three million entities and more):
//! neither looks anything up per reference in the world or in a hash map, nor inserts into
//! a B-tree per ticket. Export (`export`) names entities through a table by entity index
//! and walks each kind in id order; import (`import`) resolves ids through a table by
//! position in the snapshot's sorted lists, spawns each kind in one batch, and builds the
//! pools from sorted lists. Every list must be sorted by id without repeats (export writes
//! them so): a snapshot that is not is refused, as is one whose references or places do not
//! hold, with a [`SnapshotError`], never a panic.

use core::fmt;
use std::sync::Arc;

use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;
use serde::{Deserialize, Serialize};

use crate::event::MatchSummary;
use crate::ids::{MatchId, PartyId, PlayerId, TicketId};
use crate::rating::Rating;

mod export;
mod import;

/// The snapshot's long lists, decoded into vectors sized once from the length the bytes
/// announce (serde's default grows them from a small guess, copying and touching every
/// element's memory again at each doubling). The announced length reserves at most
/// `matchwright_codec::DECODE_LIMIT` bytes, the limit of one decode, so forged bytes cannot
/// ask for more.
mod sized {
    use core::fmt;
    use core::marker::PhantomData;

    use serde::de::{Deserialize, Deserializer, SeqAccess, Visitor};

    pub(super) fn deserialize<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
    where
        D: Deserializer<'de>,
        T: Deserialize<'de>,
    {
        deserializer.deserialize_seq(Sized(PhantomData))
    }

    struct Sized<T>(PhantomData<T>);

    impl<'de, T: Deserialize<'de>> Visitor<'de> for Sized<T> {
        type Value = Vec<T>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a sequence")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let most = matchwright_codec::DECODE_LIMIT / size_of::<T>().max(1);
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(most));
            while let Some(item) = seq.next_element()? {
                out.push(item);
            }
            Ok(out)
        }
    }
}

pub(crate) use export::export;
pub(crate) use import::import;

/// The matcher's state between two ticks. See the module comment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The time of the last tick.
    pub now_ms: u64,
    /// Ticks run so far.
    pub ticks: u64,
    /// The sequence number the next command gets.
    pub next_command_seq: u64,
    /// The id the next match gets.
    pub next_match_id: u64,
    /// The random generator's position.
    pub rng: RngState,
    /// The config's queue names, by index, when the snapshot was taken (restoring maps
    /// tickets and matches to queues by name).
    pub queues: Vec<String>,
    /// The config's region names, by index (pings are per region, by index).
    pub regions: Vec<String>,
    /// Every player, by id.
    #[serde(deserialize_with = "sized::deserialize")]
    pub players: Vec<PlayerRecord>,
    /// Every party, by id.
    #[serde(deserialize_with = "sized::deserialize")]
    pub parties: Vec<PartyRecord>,
    /// Every ticket (queued or proposed), by id.
    #[serde(deserialize_with = "sized::deserialize")]
    pub tickets: Vec<TicketRecord>,
    /// Every match (awaiting acceptance or in session), by id.
    #[serde(deserialize_with = "sized::deserialize")]
    pub matches: Vec<MatchRecordState>,
    /// Per region, when matches may form there again after an allocation failure (0: open).
    pub region_reopen_ms: Vec<u64>,
}

impl Snapshot {
    /// Tickets waiting in a queue (not in a proposed match).
    pub fn queued_tickets(&self) -> usize {
        self.tickets
            .iter()
            .filter(|ticket| ticket.pool.is_some())
            .count()
    }
}

/// Where the seeded generator is: enough to continue its stream exactly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RngState {
    /// Its seed.
    pub seed: [u8; 32],
    /// Its stream.
    pub stream: u64,
    /// Its word position, low 64 bits.
    pub word_pos_low: u64,
    /// Its word position, high 64 bits.
    pub word_pos_high: u64,
}

impl RngState {
    fn of(rng: &ChaCha8Rng) -> Self {
        let word_pos = rng.get_word_pos();
        Self {
            seed: rng.get_seed(),
            stream: rng.get_stream(),
            word_pos_low: word_pos as u64,
            word_pos_high: (word_pos >> 64) as u64,
        }
    }

    fn generator(&self) -> ChaCha8Rng {
        let mut rng = ChaCha8Rng::from_seed(self.seed);
        rng.set_stream(self.stream);
        rng.set_word_pos(u128::from(self.word_pos_low) | (u128::from(self.word_pos_high) << 64));
        rng
    }
}

/// A player and where the player is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlayerRecord {
    /// The player.
    pub id: PlayerId,
    /// Its rating in the mode it is queued or playing in.
    pub rating: Rating,
    /// The rating it is matched with (party offset included).
    pub matched_mu: f64,
    /// The ticket it is in.
    pub ticket: Option<TicketId>,
    /// The match it is in.
    pub in_match: Option<MatchId>,
    /// Its team in that match.
    pub team: u8,
    /// The role it plays in that match (index in the queue's composition).
    pub role: Option<u8>,
    /// Its party.
    pub party: Option<PartyId>,
}

/// A party.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PartyRecord {
    /// The party.
    pub id: PartyId,
    /// Its leader.
    pub leader: PlayerId,
    /// Its members, in joining order.
    pub members: Vec<PlayerId>,
}

/// A ticket.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TicketRecord {
    /// The ticket.
    pub id: TicketId,
    /// Its queue's index in the config.
    pub queue: u16,
    /// Its party.
    pub party: Option<PartyId>,
    /// When it entered the queue.
    pub enqueued_at_ms: u64,
    /// The proposed match it waits in, if not in its queue.
    pub proposed_in: Option<MatchId>,
    /// Its combined rating.
    pub rating: f64,
    /// Its rating uncertainty.
    pub sigma: f64,
    /// Per region, the worst of its members' pings.
    pub pings_ms: Vec<u16>,
    /// The lowest of `pings_ms`.
    pub best_ms: u16,
    /// Its own ping cap.
    pub own_max_ms: u16,
    /// Its players.
    pub players: Vec<PlayerId>,
    /// Its place in its queue's pool, when queued.
    pub pool: Option<PoolSlot>,
    /// What its enqueue gave for the queue's rules (attributes, roles, avoid lists), when the
    /// queue reads any of it. (Boxed: most tickets have none, and every record pays for
    /// the field; encoded as the record itself.)
    pub rules: Option<Box<TicketRulesRecord>>,
}

/// What an enqueue gave for its queue's rules; the matcher works the rest out from it again.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TicketRulesRecord {
    /// The ticket's own attributes.
    pub attributes: std::collections::BTreeMap<String, crate::command::AttributeValue>,
    /// Per member, in the ticket's order.
    pub members: Vec<MemberRulesRecord>,
}

/// One member's part of a [`TicketRulesRecord`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MemberRulesRecord {
    /// The member's attributes.
    pub attributes: std::collections::BTreeMap<String, crate::command::AttributeValue>,
    /// The roles accepted, most wanted first.
    pub roles: Vec<crate::command::RoleChoice>,
    /// The avoid list.
    pub avoid: Vec<PlayerId>,
    /// The member's rating as enqueued (a match in a queue rated per role replaces the
    /// player's rating with the role's until the session ends).
    pub rating: Rating,
}

/// A queued ticket's place in its pool.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct PoolSlot {
    /// When it is tried again (`u64::MAX`: due now).
    pub wake_at_ms: u64,
    /// The regions it accepts, as last computed.
    pub regions: u32,
    /// Its window bonus for rating uncertainty.
    pub sigma_bonus: f32,
}

/// A match's phase between ticks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum PhaseRecord {
    /// Waiting for acceptance.
    AwaitingAcceptance {
        /// Its deadline.
        deadline_ms: u64,
        /// Who accepted, sorted.
        accepted: Vec<PlayerId>,
        /// Its tickets.
        tickets: Vec<TicketId>,
    },
    /// Waiting for its game server.
    Allocating {
        /// Its deadline.
        deadline_ms: u64,
        /// The tickets it holds until the server is up.
        tickets: Vec<TicketId>,
    },
    /// Being played.
    Active {
        /// Its heartbeat deadline.
        deadline_ms: u64,
    },
}

/// A match.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MatchRecordState {
    /// The match.
    pub id: MatchId,
    /// Its queue's index.
    pub queue: u16,
    /// Its region's index.
    pub region: u8,
    /// Its phase.
    pub phase: PhaseRecord,
    /// Its players now, per team.
    pub teams: Vec<Vec<PlayerId>>,
    /// How it formed (shared with the match's events; encoded as the summary itself).
    pub summary: Arc<MatchSummary>,
    /// Its open backfill request.
    pub backfill: Option<BackfillRecord>,
    /// Everyone its players avoid, sorted (backfill keeps them out).
    pub avoided: Vec<PlayerId>,
}

/// An open backfill request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackfillRecord {
    /// Players wanted, per team.
    pub open_slots: Vec<u8>,
    /// When it was opened.
    pub requested_at_ms: u64,
    /// When it expires.
    pub deadline_ms: u64,
}

/// Why a snapshot could not be taken or restored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SnapshotError {
    /// Commands wait for a tick; tick first.
    CommandsWaiting(usize),
    /// Events wait to be drained; drain them first.
    EventsNotDrained(usize),
    /// The snapshot does not fit the config or itself; says what.
    Inconsistent(String),
}

impl fmt::Display for SnapshotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CommandsWaiting(n) => write!(f, "{n} commands wait for a tick; tick first"),
            Self::EventsNotDrained(n) => write!(f, "{n} events wait to be drained; drain first"),
            Self::Inconsistent(why) => write!(f, "snapshot does not fit: {why}"),
        }
    }
}

impl std::error::Error for SnapshotError {}
