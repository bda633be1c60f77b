//! Commands: everything that can change the matcher's state comes in as one of these, through
//! `Matcher::submit`, and is applied at the next tick in submission order. A command the matcher
//! cannot accept is answered by an `Event::Rejected` naming the reason; nothing is dropped silently.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ids::{MatchId, PartyId, PlayerId, TicketId};
use crate::rating::Rating;

/// A ping value meaning "this player cannot play in this region".
pub const NO_PING: u16 = u16::MAX;

/// An input to the matcher.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Command {
    /// Put a solo player or a whole party in a queue.
    Enqueue(EnqueueTicket),
    /// Take a ticket out of its queue. Cancelling a ticket whose match awaits acceptance declines
    /// that match for the ticket's players.
    Cancel {
        /// The ticket to cancel.
        ticket: TicketId,
    },
    /// Create a party led by `leader`, who becomes its first member.
    CreateParty {
        /// The new party's id (chosen by the caller, unique).
        party: PartyId,
        /// Its first member.
        leader: PlayerId,
    },
    /// Add a player to a party. Refused while the party is queued or in a match.
    JoinParty {
        /// The party.
        party: PartyId,
        /// The joining player, who must not be in another party.
        player: PlayerId,
    },
    /// Remove a player from a party. If the party is queued, its ticket is cancelled (a party
    /// changes only outside the queue); the last member leaving disbands the party.
    LeaveParty {
        /// The party.
        party: PartyId,
        /// The leaving player.
        player: PlayerId,
    },
    /// Dissolve a party; a queued ticket of it is cancelled.
    DisbandParty {
        /// The party.
        party: PartyId,
    },
    /// A player accepts a proposed match.
    AcceptMatch {
        /// The proposed match.
        match_id: MatchId,
        /// The accepting player.
        player: PlayerId,
    },
    /// A player declines a proposed match: the player's ticket leaves the queue, the other
    /// tickets go back in keeping their waiting time.
    DeclineMatch {
        /// The proposed match.
        match_id: MatchId,
        /// The declining player.
        player: PlayerId,
    },
    /// The match's game server is up: the session goes from allocating to active.
    SessionReady {
        /// The session.
        match_id: MatchId,
        /// Where it is played (the game server's address, as the allocator gave it); carried
        /// into `SessionActive` so the journal and the store know it. May be empty.
        server: String,
    },
    /// No game server could be found for a session still allocating: it is abandoned
    /// (`AbandonReason::AllocationFailed`) without rating anyone. The shell puts its tickets
    /// back in their queues, keeping their waiting time (`EnqueueTicket::waiting_since_ms`).
    AllocationFailed {
        /// The session.
        match_id: MatchId,
    },
    /// The game server is alive; resets the session's heartbeat deadline.
    Heartbeat {
        /// The session.
        match_id: MatchId,
    },
    /// The result of a session: it ends and its players' ratings are updated.
    ReportResult {
        /// The session.
        match_id: MatchId,
        /// Each team's place, in team order: 1 is first; equal places are draws.
        placements: Vec<u32>,
    },
    /// The session ended without a result (ratings unchanged).
    EndSession {
        /// The session.
        match_id: MatchId,
    },
    /// A player left an active session; the slot can be backfilled.
    LeaveSession {
        /// The session.
        match_id: MatchId,
        /// The player who left.
        player: PlayerId,
    },
    /// An active session asks for players: `open_slots[t]` more players for team `t`.
    /// Replaces any earlier request of the same session. Backfill goes before new matches.
    RequestBackfill {
        /// The session.
        match_id: MatchId,
        /// Players wanted per team, in team order.
        open_slots: Vec<u8>,
    },
    /// Withdraw a session's backfill request.
    CancelBackfill {
        /// The session.
        match_id: MatchId,
    },
    /// An operator cancels a match that has not started: a proposal awaiting acceptance falls
    /// through (`MatchCancelled` with `Cancelled`), a session waiting for its game server is
    /// abandoned (`SessionAbandoned` with `Cancelled`, no region backoff); either way every
    /// ticket goes back to its queue keeping its waiting time. Refused for an active session
    /// (end it with `EndSession`).
    CancelMatch {
        /// The match.
        match_id: MatchId,
    },
    /// An operator reloads the config: from the start of the tick it is submitted for, before
    /// the tick's other commands, the matcher runs under the config `config_toml` holds (the
    /// form `Config::to_toml_string` writes), with every ticket, match and party it had. It
    /// is applied exactly as a restart under that config would adopt it (the state is carried
    /// over by `Matcher::restore`): refused, changing nothing, when the config does not load
    /// or the live state does not fit it (`RejectReason::ConfigDoesNotFit`, with the reason);
    /// `Event::ConfigReloaded` says it took.
    ReloadConfig {
        /// The whole new config, as TOML.
        config_toml: String,
    },
}

/// A ticket to enqueue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EnqueueTicket {
    /// The ticket's id (chosen by the caller; unique among live tickets).
    pub ticket: TicketId,
    /// The queue's name, as in the config.
    pub queue: String,
    /// The party, when more than one player queues together. The members must be exactly the
    /// party's members.
    pub party: Option<PartyId>,
    /// The players, with their ratings for the queue's mode and their pings.
    pub members: Vec<TicketMember>,
    /// The highest ping the ticket accepts in any region, whatever the queue allows.
    pub max_ping_ms: Option<u16>,
    /// When the ticket started waiting, if earlier than now: a ticket put back in its queue by
    /// the shell (its match found no game server) keeps its waiting time. A time after now
    /// counts as now; a ticket that has waited its queue's `max_wait_ms` expires at once.
    #[serde(default)]
    pub waiting_since_ms: Option<u64>,
    /// Attributes every member has unless the member gives its own (see
    /// `TicketMember::attributes`).
    #[serde(default)]
    pub attributes: BTreeMap<String, AttributeValue>,
}

/// A value of a ticket attribute. Its type must be the one the queue declares.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum AttributeValue {
    /// A string.
    Text(String),
    /// A finite number.
    Number(f64),
    /// A list of strings (order and repeats do not matter).
    List(Vec<String>),
}

impl AttributeValue {
    /// The type's name, as the config and errors say it.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Self::Text(_) => "text",
            Self::Number(_) => "number",
            Self::List(_) => "list",
        }
    }
}

/// A role a member accepts, with the member's rating in it when the queue rates per role.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RoleChoice {
    /// The role's name, as in the queue's composition.
    pub role: String,
    /// The member's rating for this role (queues with `rating_per_role`; required there).
    pub rating: Option<Rating>,
}

/// One player of a ticket.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TicketMember {
    /// The player.
    pub player: PlayerId,
    /// The player's rating in the queue's game mode.
    pub rating: Rating,
    /// Round-trip time to each region, in the order of the config's `regions`; [`NO_PING`] for
    /// a region the player cannot play in. Must have one entry per configured region.
    pub pings_ms: Vec<u16>,
    /// The member's attributes, by name; the queue declares which it takes and their types.
    #[serde(default)]
    pub attributes: BTreeMap<String, AttributeValue>,
    /// The roles the member accepts, most wanted first (role queues only, where at least one
    /// is needed).
    #[serde(default)]
    pub roles: Vec<RoleChoice>,
    /// Players the member will not be matched with (the member's avoid list); honoured both
    /// ways, as the queue's `block_lists` says.
    #[serde(default)]
    pub avoid: Vec<PlayerId>,
}

impl TicketMember {
    /// A member with a rating and pings, and no attributes, roles or avoid list.
    pub fn new(player: PlayerId, rating: Rating, pings_ms: Vec<u16>) -> Self {
        Self {
            player,
            rating,
            pings_ms,
            attributes: BTreeMap::new(),
            roles: Vec::new(),
            avoid: Vec::new(),
        }
    }
}

impl EnqueueTicket {
    /// A solo ticket.
    pub fn solo(
        ticket: TicketId,
        queue: impl Into<String>,
        player: PlayerId,
        rating: Rating,
        pings_ms: Vec<u16>,
    ) -> Self {
        Self {
            ticket,
            queue: queue.into(),
            party: None,
            members: vec![TicketMember::new(player, rating, pings_ms)],
            max_ping_ms: None,
            waiting_since_ms: None,
            attributes: BTreeMap::new(),
        }
    }

    /// The ticket's ping to `region`: its worst member's (a ticket plays where all its
    /// members can); [`NO_PING`] when a member has none there.
    pub fn worst_ping_ms(&self, region: usize) -> u16 {
        self.members
            .iter()
            .map(|member| member.pings_ms.get(region).copied().unwrap_or(NO_PING))
            .max()
            .unwrap_or(NO_PING)
    }
}
