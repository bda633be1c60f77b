//! Parties: `CreateParty`, `JoinParty`, `LeaveParty` and `DisbandParty`. A party may change
//! only while it is not queued as a whole (its ticket is taken out of the queue when a member
//! leaves or the party disbands, refused once its match is starting), and a party member never
//! queues apart from the party.

use bevy_ecs::prelude::*;
use smallvec::SmallVec;

use super::lookup::party_member_ids;
use super::tickets::take_ticket_away;
use crate::components::{Party, Player, Ticket};
use crate::event::{Event, RejectReason, RemovalReason};
use crate::ids::{PartyId, PlayerId};
use crate::resources::{Directory, MaybeIdlePlayers, Outbox, Settings};

fn party_entity(world: &World, party: PartyId) -> Result<Entity, RejectReason> {
    world
        .resource::<Directory>()
        .parties
        .get(&party)
        .copied()
        .ok_or(RejectReason::UnknownParty { party })
}

/// The player's entity, spawned idle if the matcher does not know the player yet.
fn player_entity(world: &mut World, player: PlayerId) -> Entity {
    if let Some(entity) = world.resource::<Directory>().players.get(&player) {
        return *entity;
    }
    let entity = world.spawn(Player::new(player)).id();
    world
        .resource_mut::<Directory>()
        .players
        .insert(player, entity);
    entity
}

fn current_party(world: &World, player: PlayerId) -> Option<PartyId> {
    let entity = world.resource::<Directory>().players.get(&player)?;
    let party = world.get::<Player>(*entity)?.party?;
    world.get::<Party>(party).map(|party| party.id)
}

/// Sets (or clears) a player's party.
fn set_party(world: &mut World, player: Entity, party: Option<Entity>) {
    if let Some(mut found) = world.get_mut::<Player>(player) {
        found.party = party;
    }
}

pub(super) fn create_party(
    world: &mut World,
    party: PartyId,
    leader: PlayerId,
) -> Result<(), RejectReason> {
    let limit = world.resource::<Settings>().config.limits.max_parties;
    let directory = world.resource::<Directory>();
    if directory.parties.contains_key(&party) {
        return Err(RejectReason::PartyExists { party });
    }
    if directory.parties.len() >= limit as usize {
        return Err(RejectReason::TooManyParties { limit });
    }
    if let Some(existing) = current_party(world, leader) {
        return Err(RejectReason::PlayerInParty {
            player: leader,
            party: existing,
        });
    }
    check_not_queued(world, leader)?;
    let player = player_entity(world, leader);
    let mut members = SmallVec::new();
    members.push(player);
    let entity = world
        .spawn(Party {
            id: party,
            leader,
            members,
        })
        .id();
    set_party(world, player, Some(entity));
    world
        .resource_mut::<Directory>()
        .parties
        .insert(party, entity);
    world
        .resource_mut::<Outbox>()
        .push(Event::PartyCreated { party, leader });
    Ok(())
}

/// The party is queued (its members are in its ticket: queued, proposed, or held by a match
/// waiting for its game server). A party whose members are playing an active session may
/// still change: it is not queued.
fn party_is_busy(world: &World, party: Entity) -> bool {
    world.get::<Party>(party).is_some_and(|party| {
        party.members.iter().any(|member| {
            world
                .get::<Player>(*member)
                .is_some_and(|player| player.ticket.is_some())
        })
    })
}

/// Refuses a player who is queued: a party member never queues apart from the party.
fn check_not_queued(world: &World, player: PlayerId) -> Result<(), RejectReason> {
    let Some(entity) = world.resource::<Directory>().players.get(&player) else {
        return Ok(());
    };
    match world
        .get::<Player>(*entity)
        .and_then(|found| found.ticket)
        .and_then(|ticket| world.get::<Ticket>(ticket))
    {
        Some(ticket) => Err(RejectReason::PlayerAlreadyQueued {
            player,
            ticket: ticket.id,
        }),
        None => Ok(()),
    }
}

/// A queued party's ticket. All members of a queued party are in its one ticket (a party
/// member cannot queue apart from the party), so the first member's ticket tells.
fn party_ticket(world: &World, party: Entity, party_id: PartyId) -> Option<Entity> {
    let first = *world.get::<Party>(party)?.members.first()?;
    let ticket = world.get::<Player>(first)?.ticket?;
    (world.get::<Ticket>(ticket)?.party == Some(party_id)).then_some(ticket)
}

pub(super) fn join_party(
    world: &mut World,
    party: PartyId,
    player: PlayerId,
) -> Result<(), RejectReason> {
    let entity = party_entity(world, party)?;
    if let Some(existing) = current_party(world, player) {
        return Err(RejectReason::PlayerInParty {
            player,
            party: existing,
        });
    }
    if party_is_busy(world, entity) {
        return Err(RejectReason::PartyBusy { party });
    }
    check_not_queued(world, player)?;
    let max = world.resource::<Settings>().config.limits.max_party_size;
    let size = world.get::<Party>(entity).map_or(0, |p| p.members.len());
    if size >= usize::from(max) {
        return Err(RejectReason::PartyFull { party, max });
    }
    let member = player_entity(world, player);
    set_party(world, member, Some(entity));
    if let Some(mut found) = world.get_mut::<Party>(entity) {
        found.members.push(member);
    }
    world
        .resource_mut::<Outbox>()
        .push(Event::PartyJoined { party, player });
    Ok(())
}

pub(super) fn leave_party(
    world: &mut World,
    party: PartyId,
    player: PlayerId,
) -> Result<(), RejectReason> {
    let entity = party_entity(world, party)?;
    if current_party(world, player) != Some(party) {
        return Err(RejectReason::NotInParty { player, party });
    }
    if let Some(ticket) = party_ticket(world, entity, party) {
        take_ticket_away(world, ticket, RemovalReason::PartyChanged)
            .map_err(|_| RejectReason::PartyBusy { party })?;
    }
    let member = world.resource::<Directory>().players[&player];
    set_party(world, member, None);
    world.resource_mut::<MaybeIdlePlayers>().0.push(member);
    world
        .resource_mut::<Outbox>()
        .push(Event::PartyLeft { party, player });
    let remaining = {
        let mut found = world.get_mut::<Party>(entity).expect("checked above");
        found.members.retain(|m| *m != member);
        found.members.len()
    };
    if remaining == 0 {
        world.despawn(entity);
        world.resource_mut::<Directory>().parties.remove(&party);
        world
            .resource_mut::<Outbox>()
            .push(Event::PartyDisbanded { party });
    } else {
        pass_leadership_on(world, entity, player);
    }
    Ok(())
}

/// When the leader leaves, the member with the lowest id leads.
fn pass_leadership_on(world: &mut World, entity: Entity, leaving: PlayerId) {
    let mut ids = party_member_ids(world, entity);
    ids.sort_unstable();
    if let Some(mut found) = world.get_mut::<Party>(entity)
        && found.leader == leaving
    {
        found.leader = ids[0];
    }
}

pub(super) fn disband_party(world: &mut World, party: PartyId) -> Result<(), RejectReason> {
    let entity = party_entity(world, party)?;
    if let Some(ticket) = party_ticket(world, entity, party) {
        take_ticket_away(world, ticket, RemovalReason::PartyChanged)
            .map_err(|_| RejectReason::PartyBusy { party })?;
    }
    let members = world
        .get::<Party>(entity)
        .map(|found| found.members.clone())
        .unwrap_or_default();
    for member in &members {
        set_party(world, *member, None);
    }
    world.despawn(entity);
    world.resource_mut::<MaybeIdlePlayers>().0.extend(members);
    world.resource_mut::<Directory>().parties.remove(&party);
    world
        .resource_mut::<Outbox>()
        .push(Event::PartyDisbanded { party });
    Ok(())
}
