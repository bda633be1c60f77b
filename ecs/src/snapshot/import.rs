//! A [`Snapshot`] into a fresh world, in batches. Ids are resolved through [`Positions`] (an
//! id's place in the snapshot's list of its kind, by a table when the ids are dense, else by
//! binary search), never through a hash map per reference. Players are spawned first, in one
//! batch, then parties, matches and tickets (each in one batch, holding the player entities),
//! then each player is linked to its ticket, match and party, and each match to its tickets.
//! The pools are built from sorted lists (`QueuePool::restore_all`) and the directory is
//! filled last, sized once.
//!
//! Everything a snapshot could get wrong is checked and refused with a [`SnapshotError`]:
//! lists out of order or with repeats, references to what the snapshot lacks, queues and
//! regions the config lacks, tickets that are neither queued nor proposed.

use core::fmt;
use std::sync::Arc;

use bevy_ecs::prelude::*;
use smallvec::SmallVec;

use super::{PhaseRecord, Snapshot, SnapshotError, TicketRecord, TicketRulesRecord};
use crate::components::{
    BackfillRequest, Match, MatchAvoids, MatchPhase, MatchRecord, MatchRoster, Party, Player,
    Ticket, TicketPings, TicketState,
};
use crate::pool::{PoolEntry, PoolKey, Restored};
use crate::resources::{
    BackfillDeadlines, Clock, Directory, Inbox, MatchDeadlines, MatchIds, Pools, RegionBackoff,
    SeededRng, Settings,
};
use crate::rules::TicketRules;

fn inconsistent(why: String) -> SnapshotError {
    SnapshotError::Inconsistent(why)
}

/// Where each id of one kind stands in the snapshot's list of that kind.
struct Positions {
    /// The first id.
    first: u64,
    /// By `id - first`, the position (`u32::MAX`: none), when the ids are dense enough.
    dense: Vec<u32>,
    /// The ids, in order, when they are not (searched).
    sparse: Vec<u64>,
    /// The entities spawned, by position.
    entities: Vec<Entity>,
}

const NOWHERE: u32 = u32::MAX;

impl Positions {
    /// The positions of `ids`, which must be strictly increasing (sorted, no repeats).
    fn new<I: fmt::Display>(
        what: &str,
        ids: impl ExactSizeIterator<Item = (u64, I)>,
    ) -> Result<Self, SnapshotError> {
        let count = ids.len();
        if u32::try_from(count).map_or(true, |count| count == NOWHERE) {
            return Err(inconsistent(format!("{count} {what} are too many")));
        }
        let mut sorted = Vec::with_capacity(count);
        for (id, shown) in ids {
            if sorted.last().is_some_and(|last| *last >= id) {
                return Err(inconsistent(format!(
                    "the {what} are not sorted by id, or {shown} appears twice"
                )));
            }
            sorted.push(id);
        }
        let first = sorted.first().copied().unwrap_or(0);
        let span = sorted.last().map_or(0, |last| last - first + 1);
        // Dense: a table of at most four slots per id (and a few pages) beats a search.
        if span > 4 * count as u64 + 4_096 {
            return Ok(Self {
                first,
                dense: Vec::new(),
                sparse: sorted,
                entities: Vec::new(),
            });
        }
        let mut dense = vec![NOWHERE; span as usize];
        for (position, id) in sorted.iter().enumerate() {
            dense[(id - first) as usize] = position as u32;
        }
        Ok(Self {
            first,
            dense,
            sparse: Vec::new(),
            entities: Vec::new(),
        })
    }

    /// The position of `id`.
    fn position(&self, id: u64) -> Option<usize> {
        if self.dense.is_empty() {
            return self.sparse.binary_search(&id).ok();
        }
        let offset = usize::try_from(id.checked_sub(self.first)?).ok()?;
        let position = *self.dense.get(offset)?;
        (position != NOWHERE).then_some(position as usize)
    }

    /// The entity of `id`, once spawned.
    fn entity(&self, id: u64, shown: impl fmt::Display) -> Result<Entity, SnapshotError> {
        self.position(id)
            .and_then(|position| self.entities.get(position).copied())
            .ok_or_else(|| inconsistent(format!("{shown} is referred to but not in the snapshot")))
    }
}

/// The positions of every kind.
struct Index {
    players: Positions,
    parties: Positions,
    tickets: Positions,
    matches: Positions,
}

impl Index {
    fn new(snapshot: &Snapshot) -> Result<Self, SnapshotError> {
        Ok(Self {
            players: Positions::new("players", snapshot.players.iter().map(|r| (r.id.0, r.id)))?,
            parties: Positions::new("parties", snapshot.parties.iter().map(|r| (r.id.0, r.id)))?,
            tickets: Positions::new("tickets", snapshot.tickets.iter().map(|r| (r.id.0, r.id)))?,
            matches: Positions::new("matches", snapshot.matches.iter().map(|r| (r.id.0, r.id)))?,
        })
    }

    fn player(&self, id: crate::ids::PlayerId) -> Result<Entity, SnapshotError> {
        self.players.entity(id.0, id)
    }

    fn players<C: FromIterator<Entity>>(
        &self,
        ids: &[crate::ids::PlayerId],
    ) -> Result<C, SnapshotError> {
        ids.iter().map(|id| self.player(*id)).collect()
    }

    fn tickets(&self, ids: &[crate::ids::TicketId]) -> Result<Vec<Entity>, SnapshotError> {
        ids.iter().map(|id| self.tickets.entity(id.0, id)).collect()
    }

    /// The directory of every entity spawned.
    fn directory(&self, snapshot: &Snapshot) -> Directory {
        fn map<I: Copy + Eq + core::hash::Hash>(
            ids: impl ExactSizeIterator<Item = I>,
            entities: &[Entity],
        ) -> bevy_platform::collections::HashMap<I, Entity> {
            let mut map = bevy_platform::collections::HashMap::with_capacity_and_hasher(
                ids.len(),
                Default::default(),
            );
            map.extend(ids.zip(entities.iter().copied()));
            map
        }
        Directory {
            players: map(
                snapshot.players.iter().map(|r| r.id),
                &self.players.entities,
            ),
            parties: map(
                snapshot.parties.iter().map(|r| r.id),
                &self.parties.entities,
            ),
            tickets: map(
                snapshot.tickets.iter().map(|r| r.id),
                &self.tickets.entities,
            ),
            matches: map(
                snapshot.matches.iter().map(|r| r.id),
                &self.matches.entities,
            ),
        }
    }
}

/// The snapshot's queue indexes in this config (by name), and the config's regions.
struct Fit {
    queues: Vec<Option<u16>>,
    names: Vec<String>,
    regions: usize,
}

impl Fit {
    fn new(world: &World, snapshot: &Snapshot) -> Result<Self, SnapshotError> {
        let config = &world.resource::<Settings>().config;
        let holds_anything = !snapshot.tickets.is_empty() || !snapshot.matches.is_empty();
        if holds_anything && snapshot.regions != config.regions {
            return Err(inconsistent(format!(
                "the regions changed from {:?} to {:?} while tickets or matches exist",
                snapshot.regions, config.regions
            )));
        }
        Ok(Self {
            queues: snapshot
                .queues
                .iter()
                .map(|name| config.queue_index(name).map(|index| index as u16))
                .collect(),
            names: snapshot.queues.clone(),
            regions: config.regions.len(),
        })
    }

    /// This config's index of the snapshot's queue `queue`, which `what` is in.
    fn queue(&self, queue: u16, what: &dyn fmt::Display) -> Result<u16, SnapshotError> {
        let name = self.names.get(usize::from(queue));
        self.queues
            .get(usize::from(queue))
            .copied()
            .flatten()
            .ok_or_else(|| {
                inconsistent(format!(
                    "{what} is in queue {}, which is not in the config",
                    name.map_or("(unnamed)", String::as_str)
                ))
            })
    }
}

/// Fills a fresh matcher's world (config and resources in place, no entities) from a
/// snapshot. See [`Matcher::restore`](crate::Matcher::restore) and the module comment.
pub(crate) fn import(world: &mut World, snapshot: &Snapshot) -> Result<(), SnapshotError> {
    assert!(
        world.resource::<Directory>().players.is_empty(),
        "a snapshot is imported into a fresh world"
    );
    let fit = Fit::new(world, snapshot)?;
    restore_resources(world, snapshot, &fit);
    let mut index = Index::new(snapshot)?;
    index.players.entities = spawn_players(world, snapshot);
    index.parties.entities = spawn_parties(world, snapshot, &index)?;
    index.matches.entities = spawn_matches(world, snapshot, &index, &fit)?;
    let rules = tickets_rules(world, snapshot, &index, &fit)?;
    let pooled = spawn_tickets(world, snapshot, &mut index, &fit, rules)?;
    link_players(world, snapshot, &index)?;
    link_matches(world, snapshot, &index, &fit)?;
    for (queue, entries) in pooled.into_iter().enumerate() {
        world.resource_mut::<Pools>().0[queue]
            .restore_all(entries)
            .map_err(|key| inconsistent(format!("{} is queued twice", key.ticket)))?;
    }
    let directory = index.directory(snapshot);
    world.insert_resource(directory);
    Ok(())
}

fn restore_resources(world: &mut World, snapshot: &Snapshot, fit: &Fit) {
    {
        let mut clock = world.resource_mut::<Clock>();
        clock.now_ms = snapshot.now_ms;
        clock.ticks = snapshot.ticks;
    }
    world.resource_mut::<Inbox>().next_seq = snapshot.next_command_seq;
    world.resource_mut::<MatchIds>().next = snapshot.next_match_id;
    world.resource_mut::<SeededRng>().0 = snapshot.rng.generator();
    // A backoff is kept only while the regions are the same ones.
    if snapshot.region_reopen_ms.len() == fit.regions
        && snapshot.regions == world.resource::<Settings>().config.regions
    {
        world.resource_mut::<RegionBackoff>().reopen_at_ms = snapshot.region_reopen_ms.clone();
    }
}

/// Every player, in the snapshot's order, not yet linked to its ticket, match or party.
fn spawn_players(world: &mut World, snapshot: &Snapshot) -> Vec<Entity> {
    let players = snapshot.players.iter().map(|record| Player {
        rating: record.rating,
        matched_mu: record.matched_mu,
        team: record.team,
        role: record.role,
        ..Player::new(record.id)
    });
    world.spawn_batch(players).collect()
}

fn spawn_parties(
    world: &mut World,
    snapshot: &Snapshot,
    index: &Index,
) -> Result<Vec<Entity>, SnapshotError> {
    let parties = snapshot
        .parties
        .iter()
        .map(|record| {
            Ok(Party {
                id: record.id,
                leader: record.leader,
                members: index.players(&record.members)?,
            })
        })
        .collect::<Result<Vec<Party>, SnapshotError>>()?;
    Ok(world.spawn_batch(parties).collect())
}

/// Every match, with its roster; its phase (which holds tickets) is set by `link_matches`.
fn spawn_matches(
    world: &mut World,
    snapshot: &Snapshot,
    index: &Index,
    fit: &Fit,
) -> Result<Vec<Entity>, SnapshotError> {
    let mut matches = Vec::with_capacity(snapshot.matches.len());
    for record in &snapshot.matches {
        let queue = fit.queue(record.queue, &record.id)?;
        if usize::from(record.region) >= fit.regions {
            return Err(inconsistent(format!(
                "{} names region {}, not in the config",
                record.id, record.region
            )));
        }
        let teams = record
            .teams
            .iter()
            .map(|team| index.players(team))
            .collect::<Result<Vec<Vec<Entity>>, _>>()?;
        matches.push((
            Match {
                id: record.id,
                queue,
                region: record.region,
            },
            MatchPhase::Closing, // set by `link_matches`, once the tickets exist
            MatchRoster { teams },
            MatchRecord(Arc::clone(&record.summary)),
        ));
    }
    let entities: Vec<Entity> = world.spawn_batch(matches).collect();
    for (record, entity) in snapshot.matches.iter().zip(&entities) {
        if !record.avoided.is_empty() {
            let mut avoided = record.avoided.clone();
            avoided.sort_unstable();
            avoided.dedup();
            world
                .entity_mut(*entity)
                .insert(MatchAvoids(avoided.into_boxed_slice()));
        }
    }
    Ok(entities)
}

/// Whether a ticket of `queue` that gave nothing for rules has no rules data (so none need
/// be worked out): the queue declares no attributes, rules or roles.
fn plain(queue: &crate::config::QueueConfig) -> bool {
    queue.attributes.is_empty() && queue.rules.is_empty() && queue.roles.is_none()
}

/// Every ticket's rules data, worked out again under the queue as configured now; refused
/// if any ticket no longer fits.
fn tickets_rules(
    world: &World,
    snapshot: &Snapshot,
    index: &Index,
    fit: &Fit,
) -> Result<Vec<Option<Arc<TicketRules>>>, SnapshotError> {
    let settings = world.resource::<Settings>();
    let mut all = Vec::with_capacity(snapshot.tickets.len());
    let mut unfit: Vec<String> = Vec::new();
    for record in &snapshot.tickets {
        let queue = fit.queue(record.queue, &record.id)?;
        if record.rules.is_none() && plain(settings.queue(usize::from(queue))) {
            all.push(None);
            continue;
        }
        match restore_rules(world, snapshot, index, record, queue)? {
            Ok(rules) => all.push(rules),
            Err(why) => unfit.push(why),
        }
    }
    if let Some(first) = unfit.first() {
        return Err(inconsistent(format!(
            "{} tickets no longer fit their queue's attributes or roles; change the config back, or let them leave first (first: {first})",
            unfit.len()
        )));
    }
    Ok(all)
}

/// A ticket's rules data, worked out again from what its enqueue gave, under the queue as
/// configured now. A ticket whose attributes or roles the queue no longer takes is unfit
/// (the inner error).
fn restore_rules(
    world: &World,
    snapshot: &Snapshot,
    index: &Index,
    record: &TicketRecord,
    queue: u16,
) -> Result<Result<Option<Arc<TicketRules>>, String>, SnapshotError> {
    let settings = world.resource::<Settings>();
    let queue_config = settings.queue(usize::from(queue));
    let given = record
        .rules
        .as_deref()
        .cloned()
        .unwrap_or(TicketRulesRecord {
            attributes: Default::default(),
            members: Vec::new(),
        });
    let mut members = Vec::with_capacity(record.players.len());
    for (at, id) in record.players.iter().enumerate() {
        let position = index
            .players
            .position(id.0)
            .ok_or_else(|| inconsistent(format!("{id} is referred to but not in the snapshot")))?;
        let part = given.members.get(at);
        let rating = part.map_or(snapshot.players[position].rating, |part| part.rating);
        let mut member = crate::command::TicketMember::new(*id, rating, record.pings_ms.clone());
        if let Some(part) = part {
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
    Ok(
        crate::rules::ticket_rules(&settings.config.limits, queue_config, &request, interner)
            .map(|rules| rules.map(Arc::new))
            .map_err(|reason| format!("{} in queue `{}`: {reason}", record.id, queue_config.name)),
    )
}

/// What a ticket refers to, resolved before its batch is spawned.
struct Resolved {
    queue: u16,
    state: TicketState,
    players: SmallVec<[Entity; 2]>,
}

fn resolve_ticket(
    record: &TicketRecord,
    index: &Index,
    fit: &Fit,
) -> Result<Resolved, SnapshotError> {
    let queue = fit.queue(record.queue, &record.id)?;
    if record.pings_ms.len() != fit.regions {
        return Err(inconsistent(format!(
            "{} has {} pings for {} regions",
            record.id,
            record.pings_ms.len(),
            fit.regions
        )));
    }
    let state = match (record.pool, record.proposed_in) {
        (Some(_), None) => TicketState::Queued,
        (None, Some(id)) => TicketState::Proposed(
            index
                .matches
                .entity(id.0, format_args!("{id} (where {} waits)", record.id))?,
        ),
        _ => {
            return Err(inconsistent(format!(
                "{} must be either queued with a pool slot or proposed",
                record.id
            )));
        }
    };
    Ok(Resolved {
        queue,
        state,
        players: index.players(&record.players)?,
    })
}

/// Every ticket, in one batch; returns the queued ones' pool entries, by queue.
fn spawn_tickets(
    world: &mut World,
    snapshot: &Snapshot,
    index: &mut Index,
    fit: &Fit,
    rules: Vec<Option<Arc<TicketRules>>>,
) -> Result<Vec<Vec<Restored>>, SnapshotError> {
    let resolved = snapshot
        .tickets
        .iter()
        .map(|record| resolve_ticket(record, index, fit))
        .collect::<Result<Vec<Resolved>, _>>()?;
    let queues: Vec<u16> = resolved.iter().map(|resolved| resolved.queue).collect();
    let tickets = snapshot
        .tickets
        .iter()
        .zip(resolved)
        .zip(rules.iter().cloned())
        .map(|((record, resolved), rules)| Ticket {
            id: record.id,
            queue: resolved.queue,
            party: record.party,
            enqueued_at_ms: record.enqueued_at_ms,
            state: resolved.state,
            rating: record.rating,
            sigma: record.sigma,
            pings: TicketPings {
                pings_ms: record.pings_ms.iter().copied().collect(),
                best_ms: record.best_ms,
                own_max_ms: record.own_max_ms,
            },
            players: resolved.players,
            rules,
        });
    index.tickets.entities = world.spawn_batch(tickets).collect();
    Ok(pool_entries(world, snapshot, index, &queues, rules))
}

/// The queued tickets' pool entries, by queue.
fn pool_entries(
    world: &World,
    snapshot: &Snapshot,
    index: &Index,
    queues: &[u16],
    rules: Vec<Option<Arc<TicketRules>>>,
) -> Vec<Vec<Restored>> {
    let settings = world.resource::<Settings>();
    let mut pooled: Vec<Vec<Restored>> =
        settings.config.queues.iter().map(|_| Vec::new()).collect();
    let tickets = snapshot.tickets.iter().zip(&index.tickets.entities);
    for (((record, entity), queue), rules) in tickets.zip(queues).zip(rules) {
        let Some(slot) = record.pool else {
            continue;
        };
        let queue = *queue;
        let queue_config = settings.queue(usize::from(queue));
        let entry = PoolEntry {
            entity: *entity,
            enqueued_at_ms: record.enqueued_at_ms,
            wake_at_ms: slot.wake_at_ms,
            sigma_bonus: slot.sigma_bonus,
            regions: slot.regions,
            players: record.players.len() as u8,
            avoids: rules.as_ref().is_some_and(|rules| !rules.avoid.is_empty()),
            group: crate::rules::group_of_ticket(queue_config, rules.as_deref()),
            hint: crate::rules::hint_of(queue_config, rules.as_deref()),
            slot: crate::pool::NO_SLOT,
        };
        pooled[usize::from(queue)].push(Restored {
            key: PoolKey::new(record.rating, record.id),
            entry,
            rules,
        });
    }
    pooled
}

/// Each player's ticket, match and party.
fn link_players(
    world: &mut World,
    snapshot: &Snapshot,
    index: &Index,
) -> Result<(), SnapshotError> {
    let mut query = world.query::<&mut Player>();
    for (record, entity) in snapshot.players.iter().zip(&index.players.entities) {
        let ticket = record
            .ticket
            .map(|id| index.tickets.entity(id.0, id))
            .transpose()?;
        let in_match = record
            .in_match
            .map(|id| index.matches.entity(id.0, id))
            .transpose()?;
        let party = record
            .party
            .map(|id| index.parties.entity(id.0, id))
            .transpose()?;
        if ticket.is_none() && in_match.is_none() && party.is_none() {
            continue;
        }
        let mut player = query
            .get_mut(world, *entity)
            .map_err(|_| inconsistent(format!("{} was not spawned", record.id)))?;
        player.ticket = ticket;
        player.in_match = in_match;
        player.party = party;
    }
    Ok(())
}

/// Each match's phase, deadline and backfill request.
fn link_matches(
    world: &mut World,
    snapshot: &Snapshot,
    index: &Index,
    fit: &Fit,
) -> Result<(), SnapshotError> {
    for (record, entity) in snapshot.matches.iter().zip(&index.matches.entities) {
        let (phase, deadline_ms) = match &record.phase {
            PhaseRecord::AwaitingAcceptance {
                deadline_ms,
                accepted,
                tickets,
            } => (
                MatchPhase::AwaitingAcceptance {
                    deadline_ms: *deadline_ms,
                    accepted: accepted.clone(),
                    tickets: index.tickets(tickets)?,
                },
                *deadline_ms,
            ),
            PhaseRecord::Allocating {
                deadline_ms,
                tickets,
            } => (
                MatchPhase::Allocating {
                    deadline_ms: *deadline_ms,
                    tickets: index.tickets(tickets)?,
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
        world
            .resource_mut::<MatchDeadlines>()
            .0
            .schedule(deadline_ms, record.id);
        let mut match_entity = world.entity_mut(*entity);
        match_entity.insert(phase);
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
            let queue = fit.queue(record.queue, &record.id)?;
            world.resource_mut::<Pools>().0[usize::from(queue)]
                .add_backfill(request.requested_at_ms, record.id);
        }
    }
    Ok(())
}
