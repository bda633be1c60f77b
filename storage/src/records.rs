//! The records the store keeps, as plain serde types encoded by `matchwright_ecs::codec` (the
//! one bincode module, with its format version byte). Our ids only; no bevy entity.

use matchwright_ecs::{EventChain, MatchId, PlayerId, Rating, TickRecord};
use serde::{Deserialize, Serialize};

/// One tick in the journal: the tick record (what went in, a hash of what came out), and the
/// chain hash of the whole event stream up to and including it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JournalEntry {
    /// The tick.
    pub record: TickRecord,
    /// `EventChain` after this tick.
    pub chain: EventChain,
}

/// An account of the server's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// The player it is.
    pub player: PlayerId,
    /// The login name (unique).
    pub username: String,
    /// The password hash (PHC string, e.g. argon2id).
    pub password_hash: String,
    /// The name others see.
    pub display_name: String,
    /// Preferred regions, best first.
    pub regions: Vec<String>,
    /// When it was created.
    pub created_at_ms: u64,
}

/// A refresh token, kept by the hash of its secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshToken {
    /// Whose.
    pub player: PlayerId,
    /// Its family: every token rotated from one login. Reusing a rotated token revokes the family.
    pub family: u64,
    /// When it stops being valid.
    pub expires_at_ms: u64,
    /// Whether it has been rotated (used once) already.
    pub rotated: bool,
}

/// One event in the webhook outbox (`webhooks`): a match or session event of a committed
/// tick, queued in that tick's transaction for the server's webhook sender.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WebhookRow {
    /// The tick it came from.
    pub tick: u64,
    /// The tick's time (Unix ms).
    pub at_ms: u64,
    /// The event: `MatchFormed`, `BackfillFilled`, `SessionActive`, `SessionEnded`,
    /// `SessionAbandoned` or `RatingsUpdated`.
    pub event: matchwright_ecs::Event,
}

/// How far one webhook endpoint has got through the outbox.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookCursor {
    /// The first outbox row not yet delivered (nor given up on) to it.
    pub next: u64,
    /// Rows given up on (dead letters) since the endpoint was first configured.
    pub dead_letters: u64,
}

/// A ban: the player may not log in, refresh or use a token until it is lifted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BanRecord {
    /// Who is banned.
    pub player: PlayerId,
    /// Why, as the operator wrote it (at most `MAX_BAN_REASON_CHARS`).
    pub reason: String,
    /// The operator who banned (their key's name, `Operator::name`).
    pub by: String,
    /// When.
    pub at_ms: u64,
}

/// The longest ban reason kept, in characters.
pub const MAX_BAN_REASON_CHARS: usize = 500;

/// One operator action, as the audit log keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Its number: increasing, assigned when it is written (0 before).
    pub id: u64,
    /// When.
    pub at_ms: u64,
    /// The operator (their key's name).
    pub operator: String,
    /// What they did (`cancel_ticket`, `ban_player`, ...).
    pub action: String,
    /// What they did it to (`ticket 7`, `player 12`, ...).
    pub target: String,
    /// How it went: `done`, or the error code that refused it.
    pub outcome: String,
    /// Anything else the action carried (a ban's reason).
    pub detail: String,
}

/// How many audit records are kept: writing one more drops the oldest.
pub const AUDIT_KEEP: u64 = 100_000;

/// A player's rating in one mode and season.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RatingRecord {
    /// The rating.
    pub rating: Rating,
    /// Rated games played.
    pub games: u64,
    /// When it last changed.
    pub updated_at_ms: u64,
}

/// Where a match is, as the store knows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MatchState {
    /// Proposed, waiting for acceptance.
    Proposed,
    /// Cancelled before it started (declined or timed out).
    Cancelled,
    /// Formed; waiting for a game server.
    Allocating,
    /// Being played.
    Active,
    /// Ended (with or without a result).
    Ended,
    /// Given up (allocation or heartbeat timed out).
    Abandoned,
}

impl MatchState {
    /// The name stored in Postgres.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Proposed => "proposed",
            Self::Cancelled => "cancelled",
            Self::Allocating => "allocating",
            Self::Active => "active",
            Self::Ended => "ended",
            Self::Abandoned => "abandoned",
        }
    }

    /// The state a name from [`MatchState::as_str`] names.
    pub fn parse(name: &str) -> Option<Self> {
        [
            Self::Proposed,
            Self::Cancelled,
            Self::Allocating,
            Self::Active,
            Self::Ended,
            Self::Abandoned,
        ]
        .into_iter()
        .find(|state| state.as_str() == name)
    }

    /// Whether the match is over (it can be pruned with the journal).
    pub fn is_final(self) -> bool {
        matches!(self, Self::Cancelled | Self::Ended | Self::Abandoned)
    }
}

/// Placements as the `sessions` table keeps them: "1,2" (team by team).
pub(crate) fn placements_text(placements: &[u32]) -> String {
    placements
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// A match and its session, as the store keeps it for the server and the mirror.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MatchRow {
    /// The match.
    pub match_id: MatchId,
    /// Its queue.
    pub queue: String,
    /// Its game mode.
    pub mode: String,
    /// Its region.
    pub region: String,
    /// When it formed.
    pub formed_at_ms: u64,
    /// Its quality.
    pub quality: f64,
    /// Its players: (player, team).
    pub players: Vec<(PlayerId, u8)>,
    /// The role each player plays, for the players who play one (role queues).
    pub roles: Vec<(PlayerId, String)>,
    /// Where it is.
    pub state: MatchState,
    /// When it last changed state.
    pub updated_at_ms: u64,
    /// Placements per team, when a result came.
    pub placements: Option<Vec<u32>>,
    /// The game server's address, once the session is active.
    pub server: Option<String>,
}

/// One row for the Postgres mirror, queued in the outbox in the same transaction as the state
/// change it mirrors. Upserts: applying a row twice, or an older row after a newer one of the
/// same key, is harmless (see `mirror`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum MirrorRow {
    /// An account (the `players` table).
    Player {
        /// The player.
        player: PlayerId,
        /// Login name.
        username: String,
        /// Display name.
        display_name: String,
        /// When created.
        created_at_ms: u64,
    },
    /// A rating (the `ratings` table).
    Rating {
        /// The player.
        player: PlayerId,
        /// The rating key: the mode, or `MODE:ROLE` in a queue rated per role.
        mode: String,
        /// The season.
        season: String,
        /// The rating.
        record: RatingRecord,
    },
    /// A match, its players (with their roles) and its session (the `matches`,
    /// `match_players` and `sessions` tables).
    Match(MatchRow),
    /// One player's result in one match (the `match_history` table).
    History {
        /// The player.
        player: PlayerId,
        /// The match.
        match_id: MatchId,
        /// The rating key: the mode, or `MODE:ROLE` in a queue rated per role.
        mode: String,
        /// The player's team's placement (1 = first; `u32::MAX` if unknown).
        placement: u32,
        /// Rating before.
        before: Rating,
        /// Rating after.
        after: Rating,
        /// When.
        at_ms: u64,
    },
}

impl MirrorRow {
    /// Its kind, for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Player { .. } => "player",
            Self::Rating { .. } => "rating",
            Self::Match(_) => "match",
            Self::History { .. } => "history",
        }
    }
}
