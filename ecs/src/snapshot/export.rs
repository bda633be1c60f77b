//! The world as a [`Snapshot`]. Each kind of entity is listed once from its table (a dense
//! walk), sorted by id, and its records written in that order. References between entities
//! become ids through [`Names`], a table by entity index filled by those same walks, so no
//! reference costs a lookup in the world; a queued ticket's place in its pool comes from one
//! walk of each pool, not a B-tree lookup per ticket.

use std::sync::Arc;

use bevy_ecs::prelude::*;
use bevy_ecs::query::QueryState;

use super::{
    BackfillRecord, MatchRecordState, PartyRecord, PhaseRecord, PlayerRecord, PoolSlot, RngState,
    Snapshot, SnapshotError, TicketRecord,
};
use crate::components::{
    BackfillRequest, Match, MatchAvoids, MatchPhase, MatchRecord, MatchRoster, Party, Player,
    Ticket, TicketState,
};
use crate::ids::{MatchId, PartyId, PlayerId, TicketId};
use crate::resources::{Clock, Inbox, MatchIds, Outbox, Pools, RegionBackoff, SeededRng, Settings};

/// What an entity is, so that a reference to the wrong kind is caught.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Nothing,
    Player,
    Party,
    Ticket,
    Match,
}

#[derive(Clone, Copy, Debug)]
struct Name {
    entity: Entity,
    id: u64,
    kind: Kind,
}

const NO_NAME: Name = Name {
    entity: Entity::PLACEHOLDER,
    id: 0,
    kind: Kind::Nothing,
};

/// Our id of every entity, by entity index.
struct Names(Vec<Name>);

impl Names {
    fn add(&mut self, entity: Entity, id: u64, kind: Kind) {
        let index = entity.index_u32() as usize;
        if index >= self.0.len() {
            self.0.resize(index + 1, NO_NAME);
        }
        assert!(self.0[index].kind == Kind::Nothing, "{entity} listed twice");
        self.0[index] = Name { entity, id, kind };
    }

    /// The id of `entity`, which must be a live entity of `kind`: the invariants guarantee
    /// every reference is (a broken one is a bug in this crate, not bad input).
    fn id(&self, entity: Entity, kind: Kind) -> u64 {
        let name = self.0.get(entity.index_u32() as usize).copied();
        match name {
            Some(name) if name.entity == entity && name.kind == kind => name.id,
            _ => panic!(
                "{entity} is referred to as a {kind:?} but is none (the invariants are broken)"
            ),
        }
    }

    fn player(&self, entity: Entity) -> PlayerId {
        PlayerId(self.id(entity, Kind::Player))
    }

    fn ticket(&self, entity: Entity) -> TicketId {
        TicketId(self.id(entity, Kind::Ticket))
    }

    fn party(&self, entity: Entity) -> PartyId {
        PartyId(self.id(entity, Kind::Party))
    }

    fn match_id(&self, entity: Entity) -> MatchId {
        MatchId(self.id(entity, Kind::Match))
    }
}

/// One kind of entity: its query, and its entities sorted by id.
struct Listed<C: Component> {
    state: Option<QueryState<&'static C>>,
    sorted: Vec<(u64, Entity)>,
}

impl<C: Component> Listed<C> {
    /// Lists the entities with `C` (none if `C` was never added to the world), names them
    /// in `names`, and sorts them by id.
    fn new(world: &World, names: &mut Names, kind: Kind, id: impl Fn(&C) -> u64) -> Self {
        let state = world.try_query::<&C>();
        let mut sorted = Vec::new();
        if let Some(with_entity) = world.try_query::<(Entity, &C)>() {
            let query = with_entity.query_manual(world);
            sorted.reserve(query.iter().len());
            for (entity, component) in query.iter() {
                let key = id(component);
                names.add(entity, key, kind);
                sorted.push((key, entity));
            }
        }
        sorted.sort_unstable();
        assert!(
            sorted.windows(2).all(|pair| pair[0].0 != pair[1].0),
            "two entities share an id (the directory would have caught it)"
        );
        Self { state, sorted }
    }

    /// Each entity's component, in id order, mapped.
    fn records<R>(&self, world: &World, mut record: impl FnMut(Entity, &C) -> R) -> Vec<R> {
        let Some(state) = &self.state else {
            return Vec::new();
        };
        let query = state.query_manual(world);
        self.sorted
            .iter()
            .map(|(_, entity)| {
                let component = query.get(*entity).expect("listed from this query");
                record(*entity, component)
            })
            .collect()
    }
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
    let mut names = Names(Vec::with_capacity(world.entities().len() as usize));
    let players = Listed::<Player>::new(world, &mut names, Kind::Player, |p| p.id.0);
    let parties = Listed::<Party>::new(world, &mut names, Kind::Party, |p| p.id.0);
    let tickets = Listed::<Ticket>::new(world, &mut names, Kind::Ticket, |t| t.id.0);
    let matches = Listed::<Match>::new(world, &mut names, Kind::Match, |m| m.id.0);

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
        players: players.records(world, |_, player| player_record(&names, player)),
        parties: parties.records(world, |_, party| PartyRecord {
            id: party.id,
            leader: party.leader,
            members: party.members.iter().map(|m| names.player(*m)).collect(),
        }),
        tickets: ticket_records(world, &names, &tickets),
        matches: matches.records(world, |entity, found| {
            match_record(world, &names, entity, found)
        }),
        region_reopen_ms: world.resource::<RegionBackoff>().reopen_at_ms.clone(),
    })
}

fn player_record(names: &Names, player: &Player) -> PlayerRecord {
    PlayerRecord {
        id: player.id,
        rating: player.rating,
        matched_mu: player.matched_mu,
        ticket: player.ticket.map(|t| names.ticket(t)),
        in_match: player.in_match.map(|m| names.match_id(m)),
        team: player.team,
        role: player.role,
        party: player.party.map(|p| names.party(p)),
    }
}

/// Every queued ticket's pool slot, by entity index, from one walk of each pool.
fn pool_slots(world: &World, names: &Names) -> Vec<Option<PoolSlot>> {
    let mut slots = vec![None; names.0.len()];
    for pool in &world.resource::<Pools>().0 {
        for (key, entry) in pool.iter() {
            let index = entry.entity.index_u32() as usize;
            let ticket = names.ticket(entry.entity);
            assert!(ticket == key.ticket, "{ticket} is pooled as {}", key.ticket);
            assert!(slots[index].is_none(), "{ticket} is in two pools");
            slots[index] = Some(PoolSlot {
                wake_at_ms: entry.wake_at_ms,
                regions: entry.regions,
                sigma_bonus: entry.sigma_bonus,
            });
        }
    }
    slots
}

fn ticket_records(world: &World, names: &Names, tickets: &Listed<Ticket>) -> Vec<TicketRecord> {
    let slots = pool_slots(world, names);
    tickets.records(world, |entity, ticket| {
        let (proposed_in, pool) = match ticket.state {
            TicketState::Proposed(in_match) => (Some(names.match_id(in_match)), None),
            TicketState::Queued => {
                let slot = slots[entity.index_u32() as usize];
                assert!(slot.is_some(), "queued {} is not in its pool", ticket.id);
                (None, slot)
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
            players: ticket.players.iter().map(|p| names.player(*p)).collect(),
            pool,
            rules: ticket.rules.as_ref().map(|rules| Box::new(rules.source())),
        }
    })
}

fn phase_record(names: &Names, id: MatchId, phase: &MatchPhase) -> PhaseRecord {
    let ticket_ids = |tickets: &[Entity]| tickets.iter().map(|t| names.ticket(*t)).collect();
    match phase {
        MatchPhase::AwaitingAcceptance {
            deadline_ms,
            accepted,
            tickets,
        } => PhaseRecord::AwaitingAcceptance {
            deadline_ms: *deadline_ms,
            accepted: accepted.clone(),
            tickets: ticket_ids(tickets),
        },
        MatchPhase::Allocating {
            deadline_ms,
            tickets,
        } => PhaseRecord::Allocating {
            deadline_ms: *deadline_ms,
            tickets: ticket_ids(tickets),
        },
        MatchPhase::Active { deadline_ms } => PhaseRecord::Active {
            deadline_ms: *deadline_ms,
        },
        transient @ (MatchPhase::Confirming { .. } | MatchPhase::Closing) => {
            panic!("{id} is {transient:?} between ticks")
        }
    }
}

fn match_record(world: &World, names: &Names, entity: Entity, found: &Match) -> MatchRecordState {
    let parts = world.entity(entity);
    let phase = parts.get::<MatchPhase>().expect("a match has a phase");
    let roster = parts.get::<MatchRoster>().expect("a match has a roster");
    let summary = parts.get::<MatchRecord>().expect("a match has its record");
    MatchRecordState {
        id: found.id,
        queue: found.queue,
        region: found.region,
        phase: phase_record(names, found.id, phase),
        teams: roster
            .teams
            .iter()
            .map(|team| team.iter().map(|p| names.player(*p)).collect())
            .collect(),
        summary: Arc::clone(&summary.0),
        backfill: parts
            .get::<BackfillRequest>()
            .map(|request| BackfillRecord {
                open_slots: request.open_slots.clone(),
                requested_at_ms: request.requested_at_ms,
                deadline_ms: request.deadline_ms,
            }),
        avoided: parts
            .get::<MatchAvoids>()
            .map(|avoids| avoids.0.to_vec())
            .unwrap_or_default(),
    }
}
