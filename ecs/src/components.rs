//! The entities and their components. Small and plain, so queries stream through dense tables.
//!
//! - Player: exists while the player is in a party, a ticket or a match. [`Player`],
//!   [`PlayerRating`], [`PlayerStatus`], and [`InParty`] when in a party.
//! - Party: [`Party`], and [`PartyMembers`], the bevy relationship target of [`InParty`].
//! - Ticket: one solo player or whole party in one queue. [`Ticket`], [`TicketState`],
//!   [`TicketPlayers`], [`TicketSkill`], [`TicketPings`].
//! - Match: from proposal to the end of its session. [`Match`], [`MatchPhase`],
//!   [`MatchRoster`], [`MatchRecord`], and [`BackfillRequest`] while it asks for players.
//!
//! Ticket and match membership are plain entity fields kept in step by the systems that change
//! them (they change in the hot path, where relationship hooks would cost archetype moves);
//! party membership, which changes rarely, is a bevy relationship.

use bevy_ecs::prelude::*;
use smallvec::SmallVec;

use crate::event::{MatchPhaseName, MatchSummary};
use crate::ids::{MatchId, PartyId, PlayerId, TicketId};
use crate::rating::Rating;

/// A player.
#[derive(Component, Clone, Copy, Debug)]
pub struct Player {
    /// Our id.
    pub id: PlayerId,
}

/// The player's rating in the mode of the ticket or match the player is in (from the enqueue
/// command), used for quality and updated after a result.
#[derive(Component, Clone, Copy, Debug)]
pub struct PlayerRating(pub Rating);

/// Where the player is. A player is in at most one ticket and one match; in both only while the
/// ticket's match awaits acceptance.
#[derive(Component, Clone, Copy, Debug, Default)]
pub struct PlayerStatus {
    /// The ticket entity the player is queued in.
    pub ticket: Option<Entity>,
    /// The match entity the player is in.
    pub in_match: Option<Entity>,
    /// The player's team in that match.
    pub team: u8,
    /// The rating the player is matched with: the player's mu shifted so the party's members
    /// average to the party's combined rating (a solo's own mu).
    pub matched_mu: f64,
}

impl PlayerStatus {
    /// Whether the player is in nothing the matcher tracks (and the entity can go).
    pub fn is_idle(&self) -> bool {
        self.ticket.is_none() && self.in_match.is_none()
    }
}

/// A party.
#[derive(Component, Clone, Copy, Debug)]
pub struct Party {
    /// Our id.
    pub id: PartyId,
    /// Its leader.
    pub leader: PlayerId,
}

/// Membership of a party: the relationship source, on the player.
#[derive(Component, Debug)]
#[relationship(relationship_target = PartyMembers)]
pub struct InParty(pub Entity);

/// A party's members: the relationship target, kept by bevy.
#[derive(Component, Debug)]
#[relationship_target(relationship = InParty)]
pub struct PartyMembers(Vec<Entity>);

/// A ticket.
#[derive(Component, Clone, Copy, Debug)]
pub struct Ticket {
    /// Our id.
    pub id: TicketId,
    /// Its queue's index in the config.
    pub queue: u16,
    /// Its party, if any.
    pub party: Option<PartyId>,
    /// When it entered the queue. Kept when it goes back after a failed acceptance.
    pub enqueued_at_ms: u64,
}

/// Whether a ticket waits in its queue or in a proposed match.
#[derive(Component, Clone, Copy, Debug, PartialEq, Eq)]
pub enum TicketState {
    /// In its queue's pool.
    Queued,
    /// In this match entity, awaiting acceptance.
    Proposed(Entity),
}

/// A ticket's players.
#[derive(Component, Clone, Debug)]
pub struct TicketPlayers(pub SmallVec<[Entity; 2]>);

/// A ticket's combined rating and uncertainty.
#[derive(Component, Clone, Copy, Debug)]
pub struct TicketSkill {
    /// The combined rating (centre of the skill window).
    pub rating: f64,
    /// Root mean square of the members' sigmas.
    pub sigma: f64,
}

/// A ticket's pings: per region, the worst of its members'.
#[derive(Component, Clone, Debug)]
pub struct TicketPings {
    /// Per configured region; `NO_PING` where some member cannot play.
    pub pings_ms: Box<[u16]>,
    /// The lowest of `pings_ms`.
    pub best_ms: u16,
    /// The ticket's own cap (the lowest `max_ping_ms` of the command), or `NO_PING - 1`.
    pub own_max_ms: u16,
}

/// A match.
#[derive(Component, Clone, Copy, Debug)]
pub struct Match {
    /// Our id.
    pub id: MatchId,
    /// Its queue's index.
    pub queue: u16,
    /// Its region's index.
    pub region: u8,
}

/// Where a match is in its life. Ended and abandoned matches are despawned.
#[derive(Component, Clone, Debug, PartialEq)]
pub enum MatchPhase {
    /// Proposed; waiting for every player to accept by `deadline_ms`.
    AwaitingAcceptance {
        /// When unanswered players count as declining.
        deadline_ms: u64,
        /// Players who accepted, sorted.
        accepted: Vec<PlayerId>,
        /// The tickets in the match (kept alive to go back to the queue).
        tickets: Vec<Entity>,
    },
    /// Everyone accepted (or no acceptance is needed); the session starts at the end of the tick.
    Confirming {
        /// The tickets in the match.
        tickets: Vec<Entity>,
    },
    /// A session waiting for its game server.
    Allocating {
        /// When it is abandoned without `SessionReady`.
        deadline_ms: u64,
    },
    /// A session being played.
    Active {
        /// When it is abandoned without a heartbeat.
        deadline_ms: u64,
    },
    /// Ending (or being cancelled) at the end of this tick; takes no more commands.
    Closing,
}

impl MatchPhase {
    /// The phase's deadline, if it has one.
    pub fn deadline_ms(&self) -> Option<u64> {
        match self {
            Self::AwaitingAcceptance { deadline_ms, .. }
            | Self::Allocating { deadline_ms }
            | Self::Active { deadline_ms } => Some(*deadline_ms),
            Self::Confirming { .. } | Self::Closing => None,
        }
    }

    /// The phase's name.
    pub fn name(&self) -> MatchPhaseName {
        match self {
            Self::AwaitingAcceptance { .. } => MatchPhaseName::AwaitingAcceptance,
            Self::Confirming { .. } => MatchPhaseName::Starting,
            Self::Allocating { .. } => MatchPhaseName::Allocating,
            Self::Active { .. } => MatchPhaseName::Active,
            Self::Closing => MatchPhaseName::Ending,
        }
    }
}

/// A match's players by team (current: backfill adds, leaving removes).
#[derive(Component, Clone, Debug)]
pub struct MatchRoster {
    /// Player entities, per team.
    pub teams: Vec<Vec<Entity>>,
}

/// How a match was formed: the teams and the numbers that allowed it.
#[derive(Component, Clone, Debug)]
pub struct MatchRecord(pub MatchSummary);

/// A session's open request for players.
#[derive(Component, Clone, Debug)]
pub struct BackfillRequest {
    /// Players still wanted, per team.
    pub open_slots: Vec<u8>,
    /// When it was opened (its window widens from then).
    pub requested_at_ms: u64,
    /// When it expires.
    pub deadline_ms: u64,
}
