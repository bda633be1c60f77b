//! The live view: where each player is (queued, proposed, in a match) and what each live match
//! is, as of the last committed tick. The tick loop is its only writer (after each commit,
//! from that tick's events); request handlers read it to answer `GET /v1/queue` and
//! `GET /v1/session/{id}` and to check who may act on what, without waiting for a tick.
//! It is derived state: at start it is rebuilt from the recovered matcher and the store.

use std::collections::HashMap;
use std::sync::Arc;

use matchwright_ecs::event::{AbandonReason, MatchSummary, RemovalReason};
use matchwright_ecs::snapshot::{PhaseRecord, Snapshot};
use matchwright_ecs::{Config, Event, MatchId, PartyId, PlayerId, TicketId};

use crate::recent::RecentMatching;

/// A queued ticket.
#[derive(Clone, Debug, PartialEq)]
pub struct TicketView {
    /// Its players.
    pub players: Vec<PlayerId>,
    /// Its queue.
    pub queue: String,
    /// When it started waiting (matcher time, Unix ms).
    pub since_ms: u64,
}

/// Where a player is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlayerStatus {
    /// Waiting in a queue.
    Queued(TicketId),
    /// In a proposed match (awaiting acceptance); the ticket waits with it.
    Proposed(TicketId, MatchId),
    /// In a session (allocating or active).
    InMatch(MatchId),
}

/// A live match's phase.
#[derive(Clone, Debug, PartialEq)]
pub enum MatchStage {
    /// Waiting for its players to accept by `deadline_ms`.
    AwaitingAcceptance {
        /// The deadline.
        deadline_ms: u64,
        /// Who accepted, in order.
        accepted: Vec<PlayerId>,
    },
    /// Waiting for a game server.
    Allocating,
    /// Being played on `server`.
    Active {
        /// The game server's address.
        server: String,
    },
}

impl MatchStage {
    /// The name clients see.
    pub fn name(&self) -> &'static str {
        match self {
            Self::AwaitingAcceptance { .. } => "awaiting_acceptance",
            Self::Allocating => "allocating",
            Self::Active { .. } => "active",
        }
    }
}

/// A live match.
#[derive(Clone, Debug, PartialEq)]
pub struct MatchView {
    /// How it was formed.
    pub summary: Arc<MatchSummary>,
    /// Its players now, with their teams (backfill adds, leaving removes).
    pub players: Vec<(PlayerId, u8)>,
    /// The role each player plays, in a role queue (empty elsewhere).
    pub roles: HashMap<PlayerId, Arc<str>>,
    /// Where it is.
    pub stage: MatchStage,
    /// While allocating: the tickets the matcher keeps to put back in their queues if no game
    /// server is found.
    pub held_tickets: Vec<TicketId>,
}

impl MatchView {
    /// Whether `player` plays in it.
    pub fn has_player(&self, player: PlayerId) -> bool {
        self.players.iter().any(|(p, _)| *p == player)
    }

    /// The role `player` plays, in a role queue.
    pub fn role_of(&self, player: PlayerId) -> Option<&str> {
        self.roles.get(&player).map(|role| &**role)
    }

    /// The team of `player`.
    pub fn team_of(&self, player: PlayerId) -> Option<u8> {
        self.players
            .iter()
            .find(|(p, _)| *p == player)
            .map(|(_, t)| *t)
    }
}

/// A party, as the matcher keeps it (membership and leader; the lobby keeps invites, ready
/// checks and chat).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartyView {
    /// Its leader.
    pub leader: PlayerId,
    /// Its members, in joining order (the leader among them).
    pub members: Vec<PlayerId>,
}

/// The view.
#[derive(Debug, Default)]
pub struct View {
    players: HashMap<PlayerId, PlayerStatus>,
    tickets: HashMap<TicketId, TicketView>,
    matches: HashMap<MatchId, MatchView>,
    parties: HashMap<PartyId, PartyView>,
    party_of: HashMap<PlayerId, PartyId>,
    recent: RecentMatching,
}

/// Every player of a formed match with their team, team by team.
pub fn roster(summary: &MatchSummary) -> Vec<(PlayerId, u8)> {
    summary
        .teams
        .iter()
        .enumerate()
        .flat_map(|(team, tickets)| {
            tickets
                .iter()
                .flat_map(move |ticket| ticket.players.iter().map(move |p| (p.player, team as u8)))
        })
        .collect()
}

/// The role each player of a formed match plays (role queues only).
pub fn roles_of(summary: &MatchSummary) -> HashMap<PlayerId, Arc<str>> {
    summary
        .tickets()
        .flat_map(|ticket| ticket.players.iter())
        .filter_map(|player| Some((player.player, Arc::clone(player.role.as_ref()?))))
        .collect()
}

impl View {
    /// Takes in `other`'s players, tickets, matches and parties (a gateway's view is the
    /// union of its partitions', whose ids never collide: a player is in one partition, match
    /// ids are numbered per partition).
    pub fn absorb(&mut self, other: Self) {
        self.players.extend(other.players);
        self.tickets.extend(other.tickets);
        self.matches.extend(other.matches);
        self.parties.extend(other.parties);
        self.party_of.extend(other.party_of);
    }

    /// The view of a recovered matcher's state; `servers` gives the address of each active
    /// session (from the store), `config` the queues (for the roles of players placed by
    /// backfill).
    pub fn from_snapshot(
        snapshot: &Snapshot,
        servers: &HashMap<MatchId, String>,
        config: &Config,
    ) -> Self {
        let mut view = Self::default();
        for ticket in &snapshot.tickets {
            let queue = snapshot
                .queues
                .get(usize::from(ticket.queue))
                .cloned()
                .unwrap_or_default();
            view.tickets.insert(
                ticket.id,
                TicketView {
                    players: ticket.players.clone(),
                    queue,
                    since_ms: ticket.enqueued_at_ms,
                },
            );
            for player in &ticket.players {
                let status = match ticket.proposed_in {
                    Some(match_id) => PlayerStatus::Proposed(ticket.id, match_id),
                    None => PlayerStatus::Queued(ticket.id),
                };
                view.players.insert(*player, status);
            }
        }
        for record in &snapshot.matches {
            let stage = match &record.phase {
                PhaseRecord::AwaitingAcceptance {
                    deadline_ms,
                    accepted,
                    ..
                } => MatchStage::AwaitingAcceptance {
                    deadline_ms: *deadline_ms,
                    accepted: accepted.clone(),
                },
                PhaseRecord::Active { .. } => MatchStage::Active {
                    server: servers.get(&record.id).cloned().unwrap_or_default(),
                },
                PhaseRecord::Allocating { .. } => MatchStage::Allocating,
            };
            let held_tickets = match &record.phase {
                PhaseRecord::Allocating { tickets, .. } => tickets.clone(),
                _ => Vec::new(),
            };
            let players: Vec<(PlayerId, u8)> = record
                .teams
                .iter()
                .enumerate()
                .flat_map(|(team, players)| players.iter().map(move |p| (*p, team as u8)))
                .collect();
            if !matches!(stage, MatchStage::AwaitingAcceptance { .. }) {
                for (player, _) in &players {
                    view.players
                        .insert(*player, PlayerStatus::InMatch(record.id));
                }
            }
            let mut roles = roles_of(&record.summary);
            // Players placed by backfill are not in the summary: their role is in their record.
            let composition = config
                .queues
                .get(usize::from(record.queue))
                .and_then(|queue| queue.roles.as_ref());
            if let Some(composition) = composition {
                // The snapshot's players are sorted by id: each of the match's is a search.
                let placed_players = players.iter().filter_map(|(player, _)| {
                    let at = snapshot
                        .players
                        .binary_search_by_key(player, |p| p.id)
                        .ok()?;
                    Some(&snapshot.players[at]).filter(|p| p.in_match == Some(record.id))
                });
                for placed in placed_players {
                    let slot = placed
                        .role
                        .and_then(|index| composition.composition.get(usize::from(index)));
                    if let Some(slot) = slot {
                        roles
                            .entry(placed.id)
                            .or_insert_with(|| Arc::from(slot.role.as_str()));
                    }
                }
            }
            view.matches.insert(
                record.id,
                MatchView {
                    summary: Arc::clone(&record.summary),
                    players,
                    roles,
                    stage,
                    held_tickets,
                },
            );
        }
        for party in &snapshot.parties {
            for member in &party.members {
                view.party_of.insert(*member, party.id);
            }
            view.parties.insert(
                party.id,
                PartyView {
                    leader: party.leader,
                    members: party.members.clone(),
                },
            );
        }
        view
    }

    /// A party.
    pub fn party(&self, party: PartyId) -> Option<&PartyView> {
        self.parties.get(&party)
    }

    /// The party `player` is in.
    pub fn party_of(&self, player: PlayerId) -> Option<PartyId> {
        self.party_of.get(&player).copied()
    }

    /// The highest party id in use (new parties take higher ones).
    pub fn max_party_id(&self) -> Option<PartyId> {
        self.parties.keys().max().copied()
    }

    /// Where `player` is; `None` when idle.
    pub fn status(&self, player: PlayerId) -> Option<PlayerStatus> {
        self.players.get(&player).copied()
    }

    /// A queued (or proposed) ticket.
    pub fn ticket(&self, ticket: TicketId) -> Option<&TicketView> {
        self.tickets.get(&ticket)
    }

    /// Every queued (or proposed) ticket, in no order.
    pub fn all_tickets(&self) -> impl Iterator<Item = (TicketId, &TicketView)> {
        self.tickets.iter().map(|(id, ticket)| (*id, ticket))
    }

    /// Every live match, in no order.
    pub fn all_matches(&self) -> impl Iterator<Item = (MatchId, &MatchView)> {
        self.matches.iter().map(|(id, found)| (*id, found))
    }

    /// A live match.
    pub fn match_view(&self, match_id: MatchId) -> Option<&MatchView> {
        self.matches.get(&match_id)
    }

    /// Live matches.
    pub fn live_matches(&self) -> usize {
        self.matches.len()
    }

    /// Each queue's matching over the last minutes (counted once per match: at its proposal,
    /// or at its forming in a queue without acceptance).
    pub fn recent(&self) -> &RecentMatching {
        &self.recent
    }

    /// Tickets queued or proposed.
    pub fn tickets(&self) -> usize {
        self.tickets.len()
    }

    /// Applies one committed tick's events.
    pub fn apply(&mut self, events: &[Event]) {
        for event in events {
            self.apply_one(event);
        }
    }

    fn free_players_of(&mut self, match_id: MatchId) {
        if let Some(found) = self.matches.get(&match_id) {
            for (player, _) in &found.players {
                if matches!(self.players.get(player), Some(PlayerStatus::InMatch(m)) if *m == match_id)
                {
                    self.players.remove(player);
                }
            }
        }
    }

    /// Forgets the tickets a match held while allocating: its server is up, or it ended.
    fn drop_held_tickets(&mut self, match_id: MatchId) {
        if let Some(found) = self.matches.get_mut(&match_id) {
            for ticket in std::mem::take(&mut found.held_tickets) {
                self.tickets.remove(&ticket);
            }
        }
    }

    /// Applies one committed event.
    pub fn apply_one(&mut self, event: &Event) {
        match event {
            Event::TicketQueued {
                ticket,
                queue,
                players,
                at_ms,
                ..
            } => {
                for player in players {
                    self.players.insert(*player, PlayerStatus::Queued(*ticket));
                }
                self.tickets.insert(
                    *ticket,
                    TicketView {
                        players: players.clone(),
                        queue: queue.clone(),
                        since_ms: *at_ms,
                    },
                );
            }
            Event::TicketRemoved { ticket, reason, .. } => {
                if let Some(found) = self.tickets.remove(ticket) {
                    for player in &found.players {
                        if matches!(
                            self.players.get(player),
                            Some(PlayerStatus::Queued(t) | PlayerStatus::Proposed(t, _)) if t == ticket
                        ) {
                            self.players.remove(player);
                        }
                    }
                }
                let _: &RemovalReason = reason;
            }
            Event::TicketRequeued { ticket, .. } => {
                if let Some(found) = self.tickets.get(ticket) {
                    for player in &found.players {
                        self.players.insert(*player, PlayerStatus::Queued(*ticket));
                    }
                }
            }
            Event::MatchProposed {
                summary,
                deadline_ms,
            } => {
                self.recent.record(summary);
                for matched in summary.tickets() {
                    for player in &matched.players {
                        self.players.insert(
                            player.player,
                            PlayerStatus::Proposed(matched.ticket, summary.match_id),
                        );
                    }
                }
                self.matches.insert(
                    summary.match_id,
                    MatchView {
                        summary: Arc::clone(summary),
                        players: roster(summary),
                        roles: roles_of(summary),
                        stage: MatchStage::AwaitingAcceptance {
                            deadline_ms: *deadline_ms,
                            accepted: Vec::new(),
                        },
                        held_tickets: Vec::new(),
                    },
                );
            }
            Event::MatchAccepted { match_id, player } => {
                if let Some(MatchView {
                    stage: MatchStage::AwaitingAcceptance { accepted, .. },
                    ..
                }) = self.matches.get_mut(match_id)
                    && !accepted.contains(player)
                {
                    accepted.push(*player);
                }
            }
            Event::MatchCancelled { match_id, .. } => {
                // The tickets' own events (requeued or removed) follow and say where each goes.
                self.matches.remove(match_id);
            }
            Event::MatchFormed { summary } => {
                let was_proposed = matches!(
                    self.matches.get(&summary.match_id),
                    Some(MatchView {
                        stage: MatchStage::AwaitingAcceptance { .. },
                        ..
                    })
                );
                if !was_proposed {
                    self.recent.record(summary);
                }
                // The matcher keeps the tickets until the server is up (they go back to their
                // queues if none is found); so does the view.
                let held_tickets = summary.tickets().map(|matched| matched.ticket).collect();
                let players = roster(summary);
                for (player, _) in &players {
                    self.players
                        .insert(*player, PlayerStatus::InMatch(summary.match_id));
                }
                self.matches.insert(
                    summary.match_id,
                    MatchView {
                        summary: Arc::clone(summary),
                        players,
                        roles: roles_of(summary),
                        stage: MatchStage::Allocating,
                        held_tickets,
                    },
                );
            }
            Event::SessionActive { match_id, server } => {
                self.drop_held_tickets(*match_id);
                if let Some(found) = self.matches.get_mut(match_id) {
                    found.stage = MatchStage::Active {
                        server: server.clone(),
                    };
                }
            }
            Event::SessionAbandoned {
                match_id,
                reason:
                    AbandonReason::AllocationFailed
                    | AbandonReason::AllocationTimedOut
                    | AbandonReason::Cancelled,
            } => {
                // No server came: the held tickets' `TicketRequeued` (or `TicketRemoved`, for
                // one that waited too long) follow and say where each goes.
                self.free_players_of(*match_id);
                self.matches.remove(match_id);
            }
            Event::SessionEnded { match_id, .. } | Event::SessionAbandoned { match_id, .. } => {
                self.drop_held_tickets(*match_id);
                self.free_players_of(*match_id);
                self.matches.remove(match_id);
            }
            Event::PlayerLeftSession { match_id, player } => {
                self.drop_held_tickets(*match_id);
                if let Some(found) = self.matches.get_mut(match_id) {
                    found.players.retain(|(p, _)| p != player);
                    found.roles.remove(player);
                }
                if matches!(self.players.get(player), Some(PlayerStatus::InMatch(m)) if m == match_id)
                {
                    self.players.remove(player);
                }
            }
            Event::BackfillFilled {
                match_id, tickets, ..
            } => {
                for placed in tickets {
                    self.tickets.remove(&placed.ticket.ticket);
                    for player in &placed.ticket.players {
                        self.players
                            .insert(player.player, PlayerStatus::InMatch(*match_id));
                        if let Some(found) = self.matches.get_mut(match_id) {
                            found.players.push((player.player, placed.team));
                            if let Some(role) = &player.role {
                                found.roles.insert(player.player, Arc::clone(role));
                            }
                        }
                    }
                }
            }
            Event::PartyCreated { party, leader } => {
                self.party_of.insert(*leader, *party);
                self.parties.insert(
                    *party,
                    PartyView {
                        leader: *leader,
                        members: vec![*leader],
                    },
                );
            }
            Event::PartyJoined { party, player } => {
                if let Some(found) = self.parties.get_mut(party) {
                    found.members.push(*player);
                    self.party_of.insert(*player, *party);
                }
            }
            Event::PartyLeft { party, player } => {
                if let Some(found) = self.parties.get_mut(party) {
                    found.members.retain(|member| member != player);
                    // The matcher's rule: a leader who leaves hands over to the lowest id.
                    if found.leader == *player
                        && let Some(next) = found.members.iter().min()
                    {
                        found.leader = *next;
                    }
                    // The last one out ends the party (its `PartyDisbanded` follows).
                    if found.members.is_empty() {
                        self.parties.remove(party);
                    }
                }
                if self.party_of.get(player) == Some(party) {
                    self.party_of.remove(player);
                }
            }
            Event::PartyDisbanded { party } => {
                if let Some(found) = self.parties.remove(party) {
                    for member in found.members {
                        if self.party_of.get(&member) == Some(party) {
                            self.party_of.remove(&member);
                        }
                    }
                }
            }
            _ => {}
        }
    }
}
