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

use core::fmt;

use bevy_ecs::prelude::*;
use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;
use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

use crate::components::{
    BackfillRequest, Match, MatchAvoids, MatchPhase, MatchRecord, MatchRoster, Party, Player,
    Ticket, TicketPings, TicketState,
};
use crate::event::MatchSummary;
use crate::ids::{MatchId, PartyId, PlayerId, TicketId};
use crate::pool::{PoolEntry, PoolKey};
use crate::rating::Rating;
use crate::resources::{
    BackfillDeadlines, Clock, Directory, Inbox, MatchDeadlines, MatchIds, Outbox, Pools,
    RegionBackoff, SeededRng, Settings,
};

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
    pub players: Vec<PlayerRecord>,
    /// Every party, by id.
    pub parties: Vec<PartyRecord>,
    /// Every ticket (queued or proposed), by id.
    pub tickets: Vec<TicketRecord>,
    /// Every match (awaiting acceptance or in session), by id.
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
    /// queue reads any of it.
    pub rules: Option<TicketRulesRecord>,
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
    /// How it formed.
    pub summary: MatchSummary,
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

fn id_of<T: Component, I>(world: &World, entity: Entity, id: impl Fn(&T) -> I) -> I {
    id(world
        .get::<T>(entity)
        .expect("every referenced entity exists (checked by the invariants)"))
}

/// Exports the world. See [`Matcher::snapshot`](crate::Matcher::snapshot).
pub(crate) fn export(world: &World) -> Result<Snapshot, SnapshotError> {
    let waiting = world.resource::<Inbox>().commands.len();
    if waiting > 0 {
        return Err(SnapshotError::CommandsWaiting(waiting));
    }
    let undrained = world.resource::<Outbox>().0.len();
    if undrained > 0 {
        return Err(SnapshotError::EventsNotDrained(undrained));
    }
    let directory = world.resource::<Directory>();
    let player_id = |entity: Entity| id_of::<Player, _>(world, entity, |p| p.id);
    let ticket_id = |entity: Entity| id_of::<Ticket, _>(world, entity, |t| t.id);
    let match_id = |entity: Entity| id_of::<Match, _>(world, entity, |m| m.id);
    let party_id = |entity: Entity| id_of::<Party, _>(world, entity, |p| p.id);

    let mut players: Vec<PlayerRecord> = directory
        .players
        .values()
        .map(|entity| {
            let player = world
                .get::<Player>(*entity)
                .expect("directory entry exists");
            PlayerRecord {
                id: player.id,
                rating: player.rating,
                matched_mu: player.matched_mu,
                ticket: player.ticket.map(ticket_id),
                in_match: player.in_match.map(match_id),
                team: player.team,
                role: player.role,
                party: player.party.map(party_id),
            }
        })
        .collect();
    players.sort_unstable_by_key(|p| p.id);

    let mut parties: Vec<PartyRecord> = directory
        .parties
        .values()
        .map(|entity| {
            let party = world.get::<Party>(*entity).expect("directory entry exists");
            PartyRecord {
                id: party.id,
                leader: party.leader,
                members: party.members.iter().map(|m| player_id(*m)).collect(),
            }
        })
        .collect();
    parties.sort_unstable_by_key(|p| p.id);

    let pools = &world.resource::<Pools>().0;
    let mut tickets: Vec<TicketRecord> = directory
        .tickets
        .values()
        .map(|entity| {
            let ticket = world
                .get::<Ticket>(*entity)
                .expect("directory entry exists");
            let (proposed_in, pool) = match ticket.state {
                TicketState::Proposed(in_match) => (Some(match_id(in_match)), None),
                TicketState::Queued => {
                    let entry = pools[usize::from(ticket.queue)]
                        .get(&PoolKey::new(ticket.rating, ticket.id))
                        .expect("a queued ticket is in its pool (checked by the invariants)");
                    let slot = PoolSlot {
                        wake_at_ms: entry.wake_at_ms,
                        regions: entry.regions,
                        sigma_bonus: entry.sigma_bonus,
                    };
                    (None, Some(slot))
                }
            };
            TicketRecord {
                id: ticket.id,
                queue: ticket.queue,
                party: ticket.party,
                enqueued_at_ms: ticket.enqueued_at_ms,
                proposed_in,
                rating: ticket.rating,
                sigma: ticket.sigma,
                pings_ms: ticket.pings.pings_ms.to_vec(),
                best_ms: ticket.pings.best_ms,
                own_max_ms: ticket.pings.own_max_ms,
                players: ticket.players.iter().map(|p| player_id(*p)).collect(),
                pool,
                rules: ticket.rules.as_ref().map(|rules| rules.source()),
            }
        })
        .collect();
    tickets.sort_unstable_by_key(|t| t.id);

    let mut matches = Vec::with_capacity(directory.matches.len());
    for entity in directory.matches.values() {
        let found = *world.get::<Match>(*entity).expect("directory entry exists");
        let phase = match world
            .get::<MatchPhase>(*entity)
            .expect("a match has a phase")
        {
            MatchPhase::AwaitingAcceptance {
                deadline_ms,
                accepted,
                tickets,
            } => PhaseRecord::AwaitingAcceptance {
                deadline_ms: *deadline_ms,
                accepted: accepted.clone(),
                tickets: tickets.iter().map(|t| ticket_id(*t)).collect(),
            },
            MatchPhase::Allocating {
                deadline_ms,
                tickets,
            } => PhaseRecord::Allocating {
                deadline_ms: *deadline_ms,
                tickets: tickets.iter().map(|t| ticket_id(*t)).collect(),
            },
            MatchPhase::Active { deadline_ms } => PhaseRecord::Active {
                deadline_ms: *deadline_ms,
            },
            transient @ (MatchPhase::Confirming { .. } | MatchPhase::Closing) => {
                panic!("{} is {transient:?} between ticks", found.id)
            }
        };
        let roster = world
            .get::<MatchRoster>(*entity)
            .expect("a match has a roster");
        matches.push(MatchRecordState {
            id: found.id,
            queue: found.queue,
            region: found.region,
            phase,
            teams: roster
                .teams
                .iter()
                .map(|team| team.iter().map(|p| player_id(*p)).collect())
                .collect(),
            summary: MatchSummary::clone(
                &world
                    .get::<MatchRecord>(*entity)
                    .expect("a match has its record")
                    .0,
            ),
            backfill: world
                .get::<BackfillRequest>(*entity)
                .map(|request| BackfillRecord {
                    open_slots: request.open_slots.clone(),
                    requested_at_ms: request.requested_at_ms,
                    deadline_ms: request.deadline_ms,
                }),
            avoided: world
                .get::<MatchAvoids>(*entity)
                .map(|avoids| avoids.0.to_vec())
                .unwrap_or_default(),
        });
    }
    matches.sort_unstable_by_key(|m| m.id);

    let clock = world.resource::<Clock>();
    let config = &world.resource::<Settings>().config;
    Ok(Snapshot {
        queues: config.queues.iter().map(|q| q.name.clone()).collect(),
        regions: config.regions.clone(),
        now_ms: clock.now_ms,
        ticks: clock.ticks,
        next_command_seq: world.resource::<Inbox>().next_seq,
        next_match_id: world.resource::<MatchIds>().next,
        rng: RngState::of(&world.resource::<SeededRng>().0),
        players,
        parties,
        tickets,
        matches,
        region_reopen_ms: world.resource::<RegionBackoff>().reopen_at_ms.clone(),
    })
}

/// A ticket's rules data, worked out again from what its enqueue gave, under the queue as
/// configured now. A ticket whose attributes or roles the queue no longer takes is refused.
fn restore_rules(
    world: &World,
    snapshot: &Snapshot,
    record: &TicketRecord,
    queue: u16,
) -> Result<Option<std::sync::Arc<crate::rules::TicketRules>>, String> {
    let settings = world.resource::<Settings>();
    let queue_config = settings.queue(usize::from(queue));
    let given = record.rules.clone().unwrap_or(TicketRulesRecord {
        attributes: Default::default(),
        members: Vec::new(),
    });
    let mut members = Vec::with_capacity(record.players.len());
    for (index, id) in record.players.iter().enumerate() {
        let rating = snapshot
            .players
            .binary_search_by_key(id, |player| player.id)
            .map(|at| snapshot.players[at].rating)
            .map_err(|_| format!("{} names unknown {id}", record.id))?;
        let rating = given.members.get(index).map_or(rating, |part| part.rating);
        let mut member = crate::command::TicketMember::new(*id, rating, record.pings_ms.clone());
        if let Some(part) = given.members.get(index) {
            member.attributes = part.attributes.clone();
            member.roles = part.roles.clone();
            member.avoid = part.avoid.clone();
        }
        members.push(member);
    }
    let request = crate::command::EnqueueTicket {
        ticket: record.id,
        queue: queue_config.name.clone(),
        party: record.party,
        members,
        max_ping_ms: None,
        waiting_since_ms: None,
        attributes: given.attributes,
    };
    let interner = world.resource::<Pools>().0[usize::from(queue)].interner();
    crate::rules::ticket_rules(&settings.config.limits, queue_config, &request, interner)
        .map(|rules| rules.map(std::sync::Arc::new))
        .map_err(|reason| format!("{} in queue `{}`: {reason}", record.id, queue_config.name))
}

fn inconsistent(why: String) -> SnapshotError {
    SnapshotError::Inconsistent(why)
}

/// Fills a fresh matcher's world (config and resources in place, no entities) from a
/// snapshot. See [`Matcher::restore`](crate::Matcher::restore).
pub(crate) fn import(world: &mut World, snapshot: &Snapshot) -> Result<(), SnapshotError> {
    let (queue_map, regions) = {
        let config = &world.resource::<Settings>().config;
        // The snapshot's queue index -> this config's, by name.
        let map: Vec<Option<u16>> = snapshot
            .queues
            .iter()
            .map(|name| config.queue_index(name).map(|index| index as u16))
            .collect();
        (map, config.regions.clone())
    };
    let holds_anything = !snapshot.tickets.is_empty() || !snapshot.matches.is_empty();
    if holds_anything && snapshot.regions != regions {
        return Err(inconsistent(format!(
            "the regions changed from {:?} to {regions:?} while tickets or matches exist",
            snapshot.regions
        )));
    }
    let regions = regions.len();
    let map_queue = |queue: u16, what: &dyn fmt::Display| -> Result<u16, SnapshotError> {
        let name = snapshot.queues.get(usize::from(queue));
        queue_map
            .get(usize::from(queue))
            .copied()
            .flatten()
            .ok_or_else(|| {
                inconsistent(format!(
                    "{what} is in queue {}, which is not in the config",
                    name.map_or("(unnamed)", String::as_str)
                ))
            })
    };
    {
        let mut clock = world.resource_mut::<Clock>();
        clock.now_ms = snapshot.now_ms;
        clock.ticks = snapshot.ticks;
    }
    world.resource_mut::<Inbox>().next_seq = snapshot.next_command_seq;
    world.resource_mut::<MatchIds>().next = snapshot.next_match_id;
    world.resource_mut::<SeededRng>().0 = snapshot.rng.generator();
    // A backoff is kept only while the regions are the same ones.
    if snapshot.region_reopen_ms.len() == regions
        && snapshot.regions == world.resource::<Settings>().config.regions
    {
        world.resource_mut::<RegionBackoff>().reopen_at_ms = snapshot.region_reopen_ms.clone();
    }

    // Spawn every entity first, then fill in the references between them.
    let mut directory = Directory::default();
    for record in &snapshot.players {
        let entity = world.spawn(Player::new(record.id)).id();
        if directory.players.insert(record.id, entity).is_some() {
            return Err(inconsistent(format!("{} appears twice", record.id)));
        }
    }
    for record in &snapshot.parties {
        let entity = world
            .spawn(Party {
                id: record.id,
                leader: record.leader,
                members: SmallVec::new(),
            })
            .id();
        if directory.parties.insert(record.id, entity).is_some() {
            return Err(inconsistent(format!("{} appears twice", record.id)));
        }
    }
    for record in &snapshot.matches {
        let queue = map_queue(record.queue, &record.id)?;
        if usize::from(record.region) >= regions {
            return Err(inconsistent(format!(
                "{} names region {}, not in the config",
                record.id, record.region
            )));
        }
        let phase = MatchPhase::Closing; // filled in below, once tickets exist
        let entity = world
            .spawn((
                Match {
                    id: record.id,
                    queue,
                    region: record.region,
                },
                phase,
                MatchRoster { teams: Vec::new() },
                MatchRecord(std::sync::Arc::new(record.summary.clone())),
            ))
            .id();
        if !record.avoided.is_empty() {
            let mut avoided = record.avoided.clone();
            avoided.sort_unstable();
            avoided.dedup();
            world
                .entity_mut(entity)
                .insert(MatchAvoids(avoided.into_boxed_slice()));
        }
        if directory.matches.insert(record.id, entity).is_some() {
            return Err(inconsistent(format!("{} appears twice", record.id)));
        }
    }
    // Tickets whose attributes or roles the queue (as configured now) no longer takes.
    let mut unfit: Vec<String> = Vec::new();
    for record in &snapshot.tickets {
        let queue = map_queue(record.queue, &record.id)?;
        if record.pings_ms.len() != regions {
            return Err(inconsistent(format!(
                "{} has {} pings for {regions} regions",
                record.id,
                record.pings_ms.len()
            )));
        }
        let state = match record.proposed_in {
            Some(id) => TicketState::Proposed(
                *directory
                    .matches
                    .get(&id)
                    .ok_or_else(|| inconsistent(format!("{} waits in unknown {id}", record.id)))?,
            ),
            None => TicketState::Queued,
        };
        let players = record
            .players
            .iter()
            .map(|id| lookup(&directory.players, *id))
            .collect::<Result<SmallVec<_>, _>>()?;
        let rules = match restore_rules(world, snapshot, record, queue) {
            Ok(rules) => rules,
            Err(why) => {
                unfit.push(why);
                continue;
            }
        };
        let avoids = rules.as_ref().is_some_and(|rules| !rules.avoid.is_empty());
        let queue_config = world.resource::<Settings>().queue(usize::from(queue));
        let group = crate::rules::group_of_ticket(queue_config, rules.as_deref());
        let hint = crate::rules::hint_of(queue_config, rules.as_deref());
        let pooled_rules = rules.clone();
        let entity = world
            .spawn(Ticket {
                id: record.id,
                queue,
                party: record.party,
                enqueued_at_ms: record.enqueued_at_ms,
                state,
                rating: record.rating,
                sigma: record.sigma,
                pings: TicketPings {
                    pings_ms: record.pings_ms.iter().copied().collect(),
                    best_ms: record.best_ms,
                    own_max_ms: record.own_max_ms,
                },
                players,
                rules,
            })
            .id();
        if directory.tickets.insert(record.id, entity).is_some() {
            return Err(inconsistent(format!("{} appears twice", record.id)));
        }
        match (record.pool, record.proposed_in) {
            (Some(slot), None) => {
                let entry = PoolEntry {
                    entity,
                    enqueued_at_ms: record.enqueued_at_ms,
                    wake_at_ms: slot.wake_at_ms,
                    sigma_bonus: slot.sigma_bonus,
                    regions: slot.regions,
                    players: record.players.len() as u8,
                    avoids,
                    group,
                    hint,
                    slot: crate::pool::NO_SLOT,
                };
                world.resource_mut::<Pools>().0[usize::from(queue)].restore(
                    PoolKey::new(record.rating, record.id),
                    entry,
                    pooled_rules,
                );
            }
            (None, Some(_)) => {}
            _ => {
                return Err(inconsistent(format!(
                    "{} must be either queued with a pool slot or proposed",
                    record.id
                )));
            }
        }
    }
    if let Some(first) = unfit.first() {
        return Err(inconsistent(format!(
            "{} tickets no longer fit their queue's attributes or roles; change the config back, or let them leave first (first: {first})",
            unfit.len()
        )));
    }
    for record in &snapshot.players {
        let entity = directory.players[&record.id];
        let player = Player {
            id: record.id,
            rating: record.rating,
            matched_mu: record.matched_mu,
            ticket: record
                .ticket
                .map(|id| lookup(&directory.tickets, id))
                .transpose()?,
            in_match: record
                .in_match
                .map(|id| lookup(&directory.matches, id))
                .transpose()?,
            team: record.team,
            role: record.role,
            party: record
                .party
                .map(|id| lookup(&directory.parties, id))
                .transpose()?,
        };
        *world.get_mut::<Player>(entity).expect("just spawned") = player;
    }
    for record in &snapshot.parties {
        let members = record
            .members
            .iter()
            .map(|id| lookup(&directory.players, *id))
            .collect::<Result<SmallVec<_>, _>>()?;
        world
            .get_mut::<Party>(directory.parties[&record.id])
            .expect("just spawned")
            .members = members;
    }
    for record in &snapshot.matches {
        let entity = directory.matches[&record.id];
        let (phase, deadline_ms) = match &record.phase {
            PhaseRecord::AwaitingAcceptance {
                deadline_ms,
                accepted,
                tickets,
            } => (
                MatchPhase::AwaitingAcceptance {
                    deadline_ms: *deadline_ms,
                    accepted: accepted.clone(),
                    tickets: tickets
                        .iter()
                        .map(|id| lookup(&directory.tickets, *id))
                        .collect::<Result<_, _>>()?,
                },
                *deadline_ms,
            ),
            PhaseRecord::Allocating {
                deadline_ms,
                tickets,
            } => (
                MatchPhase::Allocating {
                    deadline_ms: *deadline_ms,
                    tickets: tickets
                        .iter()
                        .map(|id| lookup(&directory.tickets, *id))
                        .collect::<Result<_, _>>()?,
                },
                *deadline_ms,
            ),
            PhaseRecord::Active { deadline_ms } => (
                MatchPhase::Active {
                    deadline_ms: *deadline_ms,
                },
                *deadline_ms,
            ),
        };
        let teams = record
            .teams
            .iter()
            .map(|team| {
                team.iter()
                    .map(|id| lookup(&directory.players, *id))
                    .collect::<Result<Vec<_>, _>>()
            })
            .collect::<Result<Vec<_>, _>>()?;
        world
            .resource_mut::<MatchDeadlines>()
            .0
            .schedule(deadline_ms, record.id);
        let mut match_entity = world.entity_mut(entity);
        *match_entity.get_mut::<MatchPhase>().expect("just spawned") = phase;
        match_entity
            .get_mut::<MatchRoster>()
            .expect("just spawned")
            .teams = teams;
        if let Some(request) = &record.backfill {
            match_entity.insert(BackfillRequest {
                open_slots: request.open_slots.clone(),
                requested_at_ms: request.requested_at_ms,
                deadline_ms: request.deadline_ms,
            });
            world
                .resource_mut::<BackfillDeadlines>()
                .0
                .schedule(request.deadline_ms, record.id);
            let queue = map_queue(record.queue, &record.id)?;
            world.resource_mut::<Pools>().0[usize::from(queue)]
                .add_backfill(request.requested_at_ms, record.id);
        }
    }
    world.insert_resource(directory);
    Ok(())
}

fn lookup<I: Copy + Eq + core::hash::Hash + fmt::Display>(
    map: &bevy_platform::collections::HashMap<I, Entity>,
    id: I,
) -> Result<Entity, SnapshotError> {
    map.get(&id)
        .copied()
        .ok_or_else(|| inconsistent(format!("{id} is referred to but not in the snapshot")))
}
