//! The entities and their components. Plain data, so queries stream through dense tables.
//!
//! - Player: exists while the player is in a party, a ticket or a match: [`Player`].
//! - Party: [`Party`].
//! - Ticket: one solo player or whole party in one queue: [`Ticket`].
//! - Match: from proposal to the end of its session: [`Match`], [`MatchPhase`],
//!   [`MatchRoster`], [`MatchRecord`], and [`BackfillRequest`] while it asks for players.
//!
//! Why a ticket and a player are each one record, not several small components: they are the
//! entities that churn (at 1% churn of 100,000 tickets, about 1,000 tickets and 1,500 players
//! are spawned and despawned per tick), and a despawn costs about one cache miss per component
//! column. Measured on this machine in a 100,000-entity world: 550 ns to despawn an entity
//! whose data is split over five components, 220 ns for the same data in one. Matches, about
//! 40 times fewer, keep their parts apart.
//!
//! Membership (of a ticket, a match, a party) is plain entity fields on both sides, kept in
//! step by the few functions that change them. ARCHITECTURE.md suggests a bevy relationship for
//! party members; measured, its hooks cost an archetype move on every join and leave and a
//! command flush on every disband, 8.5% of a steady tick at 100,000 tickets where parties form
//! and disband around each match. The invariant check verifies both sides agree.

use bevy_ecs::prelude::*;
use smallvec::SmallVec;

use crate::event::{MatchPhaseName, MatchSummary};
use crate::ids::{MatchId, PartyId, PlayerId, TicketId};
use crate::rating::Rating;

/// A player, and where the player is. A player is in at most one ticket and one match; in
/// both only while the ticket's match awaits acceptance.
#[derive(Component, Clone, Copy, Debug)]
pub(crate) struct Player {
    /// Our id.
    pub id: PlayerId,
    /// The player's rating in the mode of the ticket or match the player is in (from the
    /// enqueue command), used for quality and updated after a result.
    pub rating: Rating,
    /// The rating the player is matched with: `rating.mu` shifted so that the party's members
    /// average to the party's combined rating (a solo's own mu).
    pub matched_mu: f64,
    /// The ticket entity the player is queued in.
    pub ticket: Option<Entity>,
    /// The match entity the player is in.
    pub in_match: Option<Entity>,
    /// The player's team in that match.
    pub team: u8,
    /// The role the player plays in that match (index in the queue's composition).
    pub role: Option<u8>,
    /// The party entity the player is in.
    pub party: Option<Entity>,
}

impl Player {
    /// A player in nothing yet.
    pub(crate) fn new(id: PlayerId) -> Self {
        Self {
            id,
            rating: Rating::new(0.0, 1.0),
            matched_mu: 0.0,
            ticket: None,
            in_match: None,
            team: 0,
            role: None,
            party: None,
        }
    }

    /// Whether the player is in no ticket, match or party (and the entity can go).
    pub(crate) fn is_idle(&self) -> bool {
        self.ticket.is_none() && self.in_match.is_none() && self.party.is_none()
    }

    /// The player's rating as matched (party offset included).
    pub(crate) fn matched_rating(&self) -> Rating {
        Rating {
            mu: self.matched_mu,
            ..self.rating
        }
    }
}

/// A party.
#[derive(Component, Clone, Debug)]
pub(crate) struct Party {
    /// Our id.
    pub id: PartyId,
    /// Its leader.
    pub leader: PlayerId,
    /// Its members' entities, in joining order.
    pub members: SmallVec<[Entity; 5]>,
}

/// A ticket: one solo player or one whole party waiting in one queue.
#[derive(Component, Clone, Debug)]
pub(crate) struct Ticket {
    /// Our id.
    pub id: TicketId,
    /// Its queue's index in the config.
    pub queue: u16,
    /// Its party, if any.
    pub party: Option<PartyId>,
    /// When it entered the queue. Kept when it goes back after a failed acceptance.
    pub enqueued_at_ms: u64,
    /// Whether it waits in its queue or in a proposed match.
    pub state: TicketState,
    /// Its combined rating (the centre of its skill window).
    pub rating: f64,
    /// Root mean square of its members' sigmas.
    pub sigma: f64,
    /// Its pings.
    pub pings: TicketPings,
    /// Its players.
    pub players: SmallVec<[Entity; 2]>,
    /// What it carries for its queue's rules, when the queue reads any (behind a pointer:
    /// most queues have none, and a ticket stays one small record). Shared with its pool's
    /// rules slab while it is queued (`pool::QueuePool`).
    pub rules: Option<std::sync::Arc<crate::rules::TicketRules>>,
}

impl Ticket {
    /// Its number of players.
    pub(crate) fn size(&self) -> u8 {
        self.players.len() as u8
    }
}

/// Whether a ticket waits in its queue or in a proposed match.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TicketState {
    /// In its queue's pool.
    Queued,
    /// In this match entity, awaiting acceptance.
    Proposed(Entity),
}

/// A ticket's pings: per region, the worst of its members'.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TicketPings {
    /// Per configured region; `NO_PING` where some member cannot play. Inline up to 8 regions.
    pub pings_ms: SmallVec<[u16; 8]>,
    /// The lowest of `pings_ms`.
    pub best_ms: u16,
    /// The ticket's own cap (the lowest `max_ping_ms` of the command), or `NO_PING - 1`.
    pub own_max_ms: u16,
}

/// A match.
#[derive(Component, Clone, Copy, Debug)]
pub(crate) struct Match {
    /// Our id.
    pub id: MatchId,
    /// Its queue's index.
    pub queue: u16,
    /// Its region's index.
    pub region: u8,
}

/// Where a match is in its life. Ended and abandoned matches are despawned.
#[derive(Component, Clone, Debug, PartialEq)]
pub(crate) enum MatchPhase {
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
        /// The tickets in the match, kept until the server is up so that they go back to
        /// their queues, keeping their waiting time, if none is found.
        tickets: Vec<Entity>,
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
    pub(crate) fn deadline_ms(&self) -> Option<u64> {
        match self {
            Self::AwaitingAcceptance { deadline_ms, .. }
            | Self::Allocating { deadline_ms, .. }
            | Self::Active { deadline_ms } => Some(*deadline_ms),
            Self::Confirming { .. } | Self::Closing => None,
        }
    }

    /// The phase's name.
    pub(crate) fn name(&self) -> MatchPhaseName {
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
pub(crate) struct MatchRoster {
    /// Player entities, per team.
    pub teams: Vec<Vec<Entity>>,
}

/// How a match was formed: the teams and the numbers that allowed it. Shared with the events
/// that announce it.
#[derive(Component, Clone, Debug)]
pub(crate) struct MatchRecord(pub std::sync::Arc<MatchSummary>);

/// Everyone a match's players avoid (sorted), kept while the match lives so that backfill
/// never brings in a player someone in it avoids. Only on matches where someone avoids anyone.
#[derive(Component, Clone, Debug)]
pub(crate) struct MatchAvoids(pub Box<[PlayerId]>);

/// A session's open request for players.
#[derive(Component, Clone, Debug)]
pub(crate) struct BackfillRequest {
    /// Players still wanted, per team.
    pub open_slots: Vec<u8>,
    /// When it was opened (its window widens from then).
    pub requested_at_ms: u64,
    /// When it expires.
    pub deadline_ms: u64,
}
