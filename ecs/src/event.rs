//! Events: everything the matcher tells the outside world, drained after each tick in a
//! deterministic order. They carry our ids only, and enough of the numbers behind each decision
//! (windows, pings, quality, floors in force) that anyone can check a match was fair.

use core::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::ids::{CommandSeq, MatchId, PartyId, PlayerId, TicketId};
use crate::rating::Rating;

/// An output of the matcher.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Event {
    /// A command was not applied. Nothing changed.
    Rejected {
        /// The command's sequence number, from `submit`.
        seq: CommandSeq,
        /// Why.
        reason: RejectReason,
    },
    /// A ticket entered its queue.
    TicketQueued {
        /// The command that queued it.
        seq: CommandSeq,
        /// The ticket.
        ticket: TicketId,
        /// Its queue.
        queue: String,
        /// Its party, if any.
        party: Option<PartyId>,
        /// Its players.
        players: Vec<PlayerId>,
        /// When it started waiting, in matcher time: now, or the earlier
        /// `EnqueueTicket::waiting_since_ms` of a ticket put back in its queue.
        at_ms: u64,
    },
    /// A ticket left its queue without a match.
    TicketRemoved {
        /// The ticket.
        ticket: TicketId,
        /// Why.
        reason: RemovalReason,
        /// How long it had waited.
        waited_ms: u64,
    },
    /// A ticket whose match fell through (someone else declined or timed out) is back in its
    /// queue with its original waiting time.
    TicketRequeued {
        /// The ticket.
        ticket: TicketId,
        /// The match that fell through.
        match_id: MatchId,
    },
    /// A match was found in a queue with acceptance: its players must accept by `deadline_ms`.
    MatchProposed {
        /// The match (shared with the matcher's record of it).
        summary: Arc<MatchSummary>,
        /// When unanswered players count as declining.
        deadline_ms: u64,
    },
    /// A player accepted a proposed match.
    MatchAccepted {
        /// The match.
        match_id: MatchId,
        /// The player.
        player: PlayerId,
    },
    /// A proposed match will not be played.
    MatchCancelled {
        /// The match.
        match_id: MatchId,
        /// Why.
        reason: MatchCancelReason,
    },
    /// A match is on: a session exists, waiting for its game server (`SessionReady`).
    MatchFormed {
        /// The match (shared with the matcher's record of it).
        summary: Arc<MatchSummary>,
    },
    /// The session's game server is up.
    SessionActive {
        /// The session.
        match_id: MatchId,
        /// Where it is played, from `SessionReady`.
        server: String,
    },
    /// The session is over.
    SessionEnded {
        /// The session.
        match_id: MatchId,
        /// Team places, when a result was reported.
        placements: Option<Vec<u32>>,
    },
    /// The session was given up.
    SessionAbandoned {
        /// The session.
        match_id: MatchId,
        /// Why.
        reason: AbandonReason,
    },
    /// A player left a running session.
    PlayerLeftSession {
        /// The session.
        match_id: MatchId,
        /// The player.
        player: PlayerId,
    },
    /// Tickets joined a running session through backfill.
    BackfillFilled {
        /// The session.
        match_id: MatchId,
        /// The tickets that joined, with their teams.
        tickets: Vec<BackfilledTicket>,
        /// Players still wanted per team.
        open_slots: Vec<u8>,
        /// The session's quality with them.
        quality: f64,
    },
    /// A backfill request is no longer open.
    BackfillClosed {
        /// The session.
        match_id: MatchId,
        /// Why.
        reason: BackfillCloseReason,
    },
    /// Ratings after a result.
    RatingsUpdated {
        /// The session.
        match_id: MatchId,
        /// The game mode the ratings belong to.
        mode: String,
        /// One entry per rated player, by player id.
        updates: Vec<RatingUpdate>,
    },
    /// A party was created.
    PartyCreated {
        /// The party.
        party: PartyId,
        /// Its leader and first member.
        leader: PlayerId,
    },
    /// A player joined a party.
    PartyJoined {
        /// The party.
        party: PartyId,
        /// The player.
        player: PlayerId,
    },
    /// A player left a party.
    PartyLeft {
        /// The party.
        party: PartyId,
        /// The player.
        player: PlayerId,
    },
    /// A party no longer exists.
    PartyDisbanded {
        /// The party.
        party: PartyId,
    },
    /// A limit stopped work this tick; the work waits for a later tick (nothing is lost).
    LimitReached {
        /// The queue, for per-queue limits.
        queue: Option<String>,
        /// Which limit.
        limit: Limit,
        /// How many items (tickets, timers) wait for a later tick.
        deferred: u64,
    },
    /// `tick` was given a time earlier than the last one; the matcher kept its clock.
    TimeWentBackwards {
        /// The time given.
        given_ms: u64,
        /// The time used.
        kept_ms: u64,
    },
    /// A `Command::ReloadConfig` took: the matcher runs under the new config from this tick.
    ConfigReloaded {
        /// The command.
        seq: CommandSeq,
    },
}

/// A formed match: who plays, where, on which team, and the numbers that allowed it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MatchSummary {
    /// The match.
    pub match_id: MatchId,
    /// Its queue.
    pub queue: Arc<str>,
    /// The game mode (for ratings).
    pub mode: Arc<str>,
    /// The region it is hosted in, accepted by every ticket.
    pub region: Arc<str>,
    /// When it formed.
    pub formed_at_ms: u64,
    /// Its quality (draw probability of the teams), in `[0, 1]`.
    pub quality: f64,
    /// The quality floor in force: the queue's floor at the longest wait among its tickets.
    pub quality_floor: f64,
    /// The teams, in order; each a list of whole tickets.
    pub teams: Vec<Vec<MatchedTicket>>,
}

impl MatchSummary {
    /// Every player in the match, team by team.
    pub fn players(&self) -> impl Iterator<Item = PlayerId> + '_ {
        self.teams
            .iter()
            .flatten()
            .flat_map(|ticket| ticket.players.iter().map(|player| player.player))
    }

    /// Every ticket in the match.
    pub fn tickets(&self) -> impl Iterator<Item = &MatchedTicket> + '_ {
        self.teams.iter().flatten()
    }
}

/// One ticket of a match, with the windows in force when it was matched.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MatchedTicket {
    /// The ticket.
    pub ticket: TicketId,
    /// Its party, if any.
    pub party: Option<PartyId>,
    /// Its players and their ratings.
    pub players: Vec<MatchedPlayer>,
    /// The ticket's combined rating (the centre of its skill window).
    pub rating: f64,
    /// Its skill window in force: the largest rating difference it accepted.
    pub window_mmr: f64,
    /// Its ping to the match's region (worst member).
    pub ping_ms: u16,
    /// The ping it accepted in force.
    pub ping_limit_ms: f64,
    /// When it was enqueued.
    pub enqueued_at_ms: u64,
    /// How long it had waited.
    pub waited_ms: u64,
}

/// One player of a matched ticket.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MatchedPlayer {
    /// The player.
    pub player: PlayerId,
    /// The rating the player was matched with (in a queue rated per role, the rating of the
    /// role played).
    pub rating: Rating,
    /// The role the player plays, in a role queue.
    pub role: Option<Arc<str>>,
}

/// A ticket placed into a running session by backfill.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BackfilledTicket {
    /// The ticket, with the windows in force.
    pub ticket: MatchedTicket,
    /// The team it joined.
    pub team: u8,
}

/// A player's rating before and after a result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RatingUpdate {
    /// The player.
    pub player: PlayerId,
    /// The role the rating belongs to, in a queue rated per role (the rating key is then the
    /// mode and this role).
    pub role: Option<Arc<str>>,
    /// Before.
    pub before: Rating,
    /// After.
    pub after: Rating,
}

/// Why a ticket left its queue without a match.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RemovalReason {
    /// Its owner cancelled it.
    Cancelled,
    /// It waited the queue's `max_wait_ms`.
    Expired,
    /// One of its players declined a proposed match.
    Declined,
    /// One of its players did not answer a proposed match in time.
    AcceptanceTimedOut,
    /// Its party changed or was disbanded.
    PartyChanged,
}

/// Why a proposed match was cancelled.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MatchCancelReason {
    /// These players declined (or cancelled their tickets).
    Declined {
        /// The players, by id.
        players: Vec<PlayerId>,
    },
    /// These players did not answer in time.
    TimedOut {
        /// The players, by id.
        players: Vec<PlayerId>,
    },
    /// An operator cancelled it (`Command::CancelMatch`): every ticket goes back.
    Cancelled,
}

/// Why a session was abandoned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AbandonReason {
    /// No `SessionReady` within `sessions.allocation_timeout_ms`.
    AllocationTimedOut,
    /// No heartbeat within `sessions.heartbeat_timeout_ms`.
    HeartbeatTimedOut,
    /// The shell found no game server for it (`Command::AllocationFailed`).
    AllocationFailed,
    /// Every player left.
    Empty,
    /// An operator cancelled it while it waited for its game server
    /// (`Command::CancelMatch`): its tickets go back to their queues.
    Cancelled,
}

/// Why a backfill request closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum BackfillCloseReason {
    /// Every slot was filled.
    Filled,
    /// The session withdrew it (or replaced it).
    Cancelled,
    /// It stayed open the queue's `backfill_max_wait_ms`.
    Expired,
    /// The session ended.
    SessionOver,
}

/// A limit that deferred work.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Limit {
    /// The queue's `max_matches_per_tick`.
    MatchesPerTick,
    /// The queue's `max_anchor_attempts_per_tick`.
    AnchorAttemptsPerTick,
    /// `limits.max_matches`.
    Matches,
    /// `limits.max_timer_wakes_per_tick`.
    TimerWakesPerTick,
}

/// Why a command was rejected.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RejectReason {
    /// More than `limits.max_commands_per_tick` commands arrived between two ticks.
    TooManyCommands {
        /// The limit.
        limit: u32,
    },
    /// No queue has this name.
    UnknownQueue {
        /// The name given.
        queue: String,
    },
    /// The queue holds `max_tickets` tickets already.
    QueueFull {
        /// The queue.
        queue: String,
        /// Its limit.
        limit: u32,
    },
    /// A live ticket already has this id.
    DuplicateTicket {
        /// The id.
        ticket: TicketId,
    },
    /// The ticket has no players.
    EmptyTicket,
    /// The ticket has more players than the queue's `max_party_size`.
    PartyTooLarge {
        /// Players in the ticket.
        size: usize,
        /// The queue's limit.
        max: u8,
    },
    /// A player appears twice in the ticket.
    DuplicatePlayer {
        /// The player.
        player: PlayerId,
    },
    /// A ticket of several players must name their party.
    PartyRequired,
    /// The ticket's players are not exactly the party's members.
    PartyMembersMismatch {
        /// The party.
        party: PartyId,
    },
    /// A player of the ticket is in another ticket already.
    PlayerAlreadyQueued {
        /// The player.
        player: PlayerId,
        /// The ticket holding the player.
        ticket: TicketId,
    },
    /// A player of the ticket is in a match (proposed or in session).
    PlayerInMatch {
        /// The player.
        player: PlayerId,
        /// The match.
        match_id: MatchId,
    },
    /// A rating is not a finite number with sigma above zero.
    InvalidRating {
        /// The player.
        player: PlayerId,
    },
    /// A player's pings do not have one entry per configured region.
    PingsDoNotMatchRegions {
        /// The player.
        player: PlayerId,
        /// Regions configured.
        expected: usize,
        /// Pings given.
        got: usize,
    },
    /// No region will ever be acceptable to every player of the ticket.
    NoReachableRegion,
    /// No live ticket has this id.
    UnknownTicket {
        /// The id.
        ticket: TicketId,
    },
    /// No party has this id.
    UnknownParty {
        /// The id.
        party: PartyId,
    },
    /// A party with this id exists.
    PartyExists {
        /// The id.
        party: PartyId,
    },
    /// `limits.max_parties` parties exist.
    TooManyParties {
        /// The limit.
        limit: u32,
    },
    /// The player is in a party already.
    PlayerInParty {
        /// The player.
        player: PlayerId,
        /// The party.
        party: PartyId,
    },
    /// The player is not in this party.
    NotInParty {
        /// The player.
        player: PlayerId,
        /// The party.
        party: PartyId,
    },
    /// The party has `limits.max_party_size` members.
    PartyFull {
        /// The party.
        party: PartyId,
        /// The limit.
        max: u8,
    },
    /// The party is queued or in a match; it cannot change now.
    PartyBusy {
        /// The party.
        party: PartyId,
    },
    /// No match has this id.
    UnknownMatch {
        /// The id.
        match_id: MatchId,
    },
    /// The player is not in this match.
    NotInMatch {
        /// The player.
        player: PlayerId,
        /// The match.
        match_id: MatchId,
    },
    /// The command does not apply to the match in its current phase.
    WrongMatchPhase {
        /// The match.
        match_id: MatchId,
        /// Its phase.
        phase: MatchPhaseName,
    },
    /// A result needs one placement (1 or more) per team.
    InvalidPlacements {
        /// Teams in the match.
        teams: usize,
        /// Placements given.
        got: usize,
    },
    /// A backfill request needs one slot count per team, each fitting the team.
    InvalidBackfill {
        /// The match.
        match_id: MatchId,
        /// What is wrong.
        why: String,
    },
    /// The session has no open backfill request.
    NoBackfillRequest {
        /// The match.
        match_id: MatchId,
    },
    /// An attribute of the ticket is not what its queue takes (undeclared, of another type,
    /// missing without a default, or beyond the configured limits).
    BadAttribute {
        /// The member whose attribute it is; `None` for the ticket's own attributes.
        player: Option<PlayerId>,
        /// The attribute's name (as given).
        attribute: String,
        /// What is wrong.
        why: String,
    },
    /// A member's roles are not what the role queue takes.
    BadRoles {
        /// The member.
        player: PlayerId,
        /// What is wrong.
        why: String,
    },
    /// A member's avoid list is longer than `limits.max_avoid_list`.
    AvoidListTooLong {
        /// The member.
        player: PlayerId,
        /// Players on the list.
        len: usize,
        /// The limit.
        max: u16,
    },
    /// A `Command::ReloadConfig` whose config does not load, or does not fit the live state
    /// (a queue that has tickets or matches removed, the regions changed while anything is
    /// live, a ticket that no longer fits its queue...).
    ConfigDoesNotFit {
        /// Why.
        reason: String,
    },
}

/// A match's phase, for error messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MatchPhaseName {
    /// Waiting for players to accept.
    AwaitingAcceptance,
    /// Accepted; its session starts at the end of this tick.
    Starting,
    /// Waiting for a game server.
    Allocating,
    /// Being played.
    Active,
    /// Ending or being cancelled at the end of this tick.
    Ending,
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooManyCommands { limit } => {
                write!(f, "more than {limit} commands arrived in one tick")
            }
            Self::UnknownQueue { queue } => write!(f, "no queue is called `{queue}`"),
            Self::QueueFull { queue, limit } => {
                write!(f, "queue `{queue}` is full ({limit} tickets)")
            }
            Self::DuplicateTicket { ticket } => write!(f, "{ticket} is already live"),
            Self::EmptyTicket => write!(f, "a ticket needs at least one player"),
            Self::PartyTooLarge { size, max } => {
                write!(
                    f,
                    "{size} players is more than this queue's party limit of {max}"
                )
            }
            Self::DuplicatePlayer { player } => write!(f, "{player} is in the ticket twice"),
            Self::PartyRequired => write!(f, "a ticket of several players must name its party"),
            Self::PartyMembersMismatch { party } => {
                write!(
                    f,
                    "the ticket's players are not exactly the members of {party}"
                )
            }
            Self::PlayerAlreadyQueued { player, ticket } => {
                write!(f, "{player} is already queued in {ticket}")
            }
            Self::PlayerInMatch { player, match_id } => {
                write!(f, "{player} is in {match_id}")
            }
            Self::InvalidRating { player } => write!(
                f,
                "{player}'s rating must be finite with sigma and volatility above 0"
            ),
            Self::PingsDoNotMatchRegions {
                player,
                expected,
                got,
            } => write!(
                f,
                "{player} gave {got} pings but {expected} regions are configured"
            ),
            Self::NoReachableRegion => write!(
                f,
                "no region is, or will become, acceptable to every player of the ticket"
            ),
            Self::UnknownTicket { ticket } => write!(f, "{ticket} is not live"),
            Self::UnknownParty { party } => write!(f, "{party} does not exist"),
            Self::PartyExists { party } => write!(f, "{party} already exists"),
            Self::TooManyParties { limit } => write!(f, "{limit} parties exist already"),
            Self::PlayerInParty { player, party } => write!(f, "{player} is in {party}"),
            Self::NotInParty { player, party } => write!(f, "{player} is not in {party}"),
            Self::PartyFull { party, max } => write!(f, "{party} has {max} members already"),
            Self::PartyBusy { party } => write!(f, "{party} is queued or in a match"),
            Self::UnknownMatch { match_id } => write!(f, "{match_id} does not exist"),
            Self::NotInMatch { player, match_id } => write!(f, "{player} is not in {match_id}"),
            Self::WrongMatchPhase { match_id, phase } => {
                write!(f, "{match_id} is {phase:?}; the command does not apply")
            }
            Self::InvalidPlacements { teams, got } => write!(
                f,
                "a result needs {teams} placements of 1 or more, one per team; got {got}"
            ),
            Self::InvalidBackfill { match_id, why } => {
                write!(f, "invalid backfill request for {match_id}: {why}")
            }
            Self::NoBackfillRequest { match_id } => {
                write!(f, "{match_id} has no open backfill request")
            }
            Self::BadAttribute {
                player,
                attribute,
                why,
            } => match player {
                Some(player) => write!(f, "attribute `{attribute}` of {player}: {why}"),
                None => write!(f, "attribute `{attribute}` of the ticket: {why}"),
            },
            Self::BadRoles { player, why } => write!(f, "roles of {player}: {why}"),
            Self::AvoidListTooLong { player, len, max } => write!(
                f,
                "{player}'s avoid list has {len} players; the limit is {max}"
            ),
            Self::ConfigDoesNotFit { reason } => {
                write!(f, "the config was not reloaded: {reason}")
            }
        }
    }
}
