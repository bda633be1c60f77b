//! The matcher's configuration: serde structs loadable from TOML, each field documented with its
//! default. `Config::from_toml_str` parses and validates; every error names the field at fault.
//! `config/matchwright.toml` at the repository root spells out the defaults and parses to
//! `Config::default()` (a test checks it).

use core::fmt;

use serde::{Deserialize, Serialize};

use crate::curve::{Curve, Direction};
use crate::rating::Rating;

mod rules;

pub use rules::{
    AttributeSpec, BlockScope, FlexibleSize, ListAggregate, MAX_DECLARED_ATTRIBUTES, MAX_ROLES,
    MAX_RULES, NumberAggregate, RoleConfig, RoleSlot, Rule, RuleScope,
};

/// At most this many regions (a ticket's accepted regions are a 32-bit mask).
pub const MAX_REGIONS: usize = 32;
/// At most this many players in one match (all teams together).
pub const MAX_PLAYERS_PER_MATCH: usize = 200;
/// Above this many tickets in a match, the exact team split is never tried.
pub const MAX_EXACT_SPLIT_TICKETS: u8 = 16;
/// The longest duration any field may hold: ten years, in milliseconds. With matcher time at
/// most `MAX_TIME_MS`, time plus any duration stays far from overflowing.
pub const MAX_DURATION_MS: u64 = 10 * 365 * 24 * 60 * 60 * 1_000;

/// A configuration the matcher cannot use: which field, and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The field at fault, as a path (`queues[1].team_size`); empty for a TOML error, whose
    /// message names the line and the key.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl ConfigError {
    /// An error about `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            // A syntax or type error: the message names the line and the key.
            write!(f, "config: {}", self.message)
        } else {
            write!(f, "config field `{}`: {}", self.field, self.message)
        }
    }
}

impl std::error::Error for ConfigError {}

/// Everything the matcher core needs to know. Load with [`Config::from_toml_str`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The regions a match can be hosted in. Tickets give their ping to each; a region a ticket
    /// gives no ping for is one it never plays in. At most 32.
    /// Default: `["eu-west", "us-east", "ap-southeast", "sa-east"]`.
    pub regions: Vec<String>,
    /// Limits on everything that grows, and what happens at them.
    pub limits: Limits,
    /// Rating updates and match quality.
    pub rating: RatingConfig,
    /// Session (running match) timeouts.
    pub sessions: SessionConfig,
    /// The queues. Default: `duel-1v1` (1v1, solo), `ranked-5v5` (5v5, parties up to 5) and
    /// `trios-ffa` (three teams of three, parties up to 3).
    pub queues: Vec<QueueConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            regions: ["eu-west", "us-east", "ap-southeast", "sa-east"]
                .into_iter()
                .map(String::from)
                .collect(),
            limits: Limits::default(),
            rating: RatingConfig::default(),
            sessions: SessionConfig::default(),
            queues: vec![
                QueueConfig {
                    name: "duel-1v1".into(),
                    mode: "duel".into(),
                    teams: 2,
                    team_size: 1,
                    max_party_size: 1,
                    ..QueueConfig::default()
                },
                QueueConfig {
                    name: "ranked-5v5".into(),
                    mode: "ranked".into(),
                    ..QueueConfig::default()
                },
                QueueConfig {
                    name: "trios-ffa".into(),
                    mode: "ffa".into(),
                    teams: 3,
                    team_size: 3,
                    max_party_size: 3,
                    ..QueueConfig::default()
                },
            ],
        }
    }
}

/// Limits on what grows. Each names what happens when it is reached.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Commands accepted between two ticks. Beyond it, `submit` still returns a sequence number
    /// but the command is rejected with `RejectReason::TooManyCommands`. Default: 200000.
    pub max_commands_per_tick: u32,
    /// Events the caller may leave undrained. At the bound, `submit` returns
    /// `SubmitError::EventsNotDrained` and `tick` returns `TickError::EventsNotDrained`, and
    /// nothing changes, until the caller drains. Default: 2000000.
    pub max_undrained_events: u32,
    /// Parties in existence. Beyond it, creating one is rejected with
    /// `RejectReason::TooManyParties`. Default: 1000000.
    pub max_parties: u32,
    /// Players in one party (a queue may allow fewer). Default: 8.
    pub max_party_size: u8,
    /// Matches in existence (awaiting acceptance or in session). At the bound no new match forms
    /// (a `LimitReached` event says so once per tick) until sessions end. Default: 1000000.
    pub max_matches: u32,
    /// Ticket timers (expiry, region unlock, review) handled in one tick. Timers beyond it are
    /// handled on the next tick, late but never lost. Default: 200000.
    pub max_timer_wakes_per_tick: u32,
    /// Attributes one member of a ticket may give. More is rejected (`BadAttribute`).
    /// Default: 16.
    pub max_attributes: u8,
    /// Bytes in an attribute's name. Default: 32.
    pub max_attribute_name_bytes: u16,
    /// Bytes in a text value or in one item of a list. Default: 64.
    pub max_attribute_value_bytes: u16,
    /// Items in a list attribute (at most 64). Default: 16.
    pub max_attribute_list_len: u16,
    /// Players on one member's avoid list. More is rejected (`AvoidListTooLong`). Default: 100.
    pub max_avoid_list: u16,
    /// Tickets explain looks at, nearest rating first (explain reports when it stopped short).
    /// Default: 20000.
    pub max_explain_scan: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_commands_per_tick: 200_000,
            max_undrained_events: 2_000_000,
            max_parties: 1_000_000,
            max_party_size: 8,
            max_matches: 1_000_000,
            max_timer_wakes_per_tick: 200_000,
            max_attributes: 16,
            max_attribute_name_bytes: 32,
            max_attribute_value_bytes: 64,
            max_attribute_list_len: 16,
            max_avoid_list: 100,
            max_explain_scan: 20_000,
        }
    }
}

/// The rating system used for updates after a result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RatingSystem {
    /// Weng-Lin (OpenSkill), Bradley-Terry full pairing. Not patented; the default.
    WengLin,
    /// TrueSkill (note: Microsoft holds patents on it).
    TrueSkill,
    /// Glicko-2, extended to teams by rating each player against each opposing team's composite.
    Glicko2,
}

/// Ratings: the system that updates them and the scale they live on. Ratings are on the seeds'
/// MMR scale (new players 1500 +- 500): Weng-Lin and TrueSkill's defaults times 60.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RatingConfig {
    /// Which system updates ratings after a result. Default: `weng_lin`.
    pub system: RatingSystem,
    /// Skill-class width: the rating gap for a ~80% (TrueSkill) or ~67% (Weng-Lin) win chance.
    /// Also the beta of the match quality formula. Default: 250 (25/6 x 60).
    pub beta: f64,
    /// TrueSkill's draw probability. Default: 0.1.
    pub draw_probability: f64,
    /// TrueSkill's dynamics (tau): uncertainty added before each update. Default: 5 (25/300 x 60).
    pub dynamics: f64,
    /// Glicko-2's tau, which limits how fast volatility changes. Default: 0.5.
    pub glicko2_tau: f64,
    /// The rating a new player starts with (for the server to hand out). Default:
    /// mu 1500, sigma 500, volatility 0.06.
    pub initial: Rating,
}

impl Default for RatingConfig {
    fn default() -> Self {
        Self {
            system: RatingSystem::WengLin,
            beta: 250.0,
            draw_probability: 0.1,
            dynamics: 5.0,
            glicko2_tau: 0.5,
            initial: Rating::new(1500.0, 500.0),
        }
    }
}

/// Session timeouts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SessionConfig {
    /// How long a match may wait for its game server (`SessionReady`) before it is abandoned.
    /// Default: 30000.
    pub allocation_timeout_ms: u64,
    /// How long an active session may go without a heartbeat before it is abandoned.
    /// Default: 30000.
    pub heartbeat_timeout_ms: u64,
    /// After the fleet finds no game server in a region (`AllocationFailed`), how long no new
    /// match forms in that region, unless a session there ends first (which frees a server;
    /// waiting tickets then match at their next review, within `review.max_interval_ms`).
    /// The failed match's tickets go back to their queues at once, keeping their waiting time.
    /// Default: 5000.
    pub allocation_backoff_ms: u64,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            allocation_timeout_ms: 30_000,
            heartbeat_timeout_ms: 30_000,
            allocation_backoff_ms: 5_000,
        }
    }
}

/// How a party's members' ratings combine into the one rating the party is matched on.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum PartyRating {
    /// The members' mean.
    Mean,
    /// The strongest member's rating.
    Max,
    /// `weight * max + (1 - weight) * mean`: a weighting toward the strongest member
    /// (premade parties play above their mean).
    Strongest {
        /// In `[0, 1]`: 0 is the mean, 1 the max.
        weight: f64,
    },
}

/// Rating uncertainty widening the skill window: `per_sigma * max(0, sigma - above_sigma)` MMR
/// are added to a ticket's window, sigma being the root mean square of its members' sigmas.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SigmaWidening {
    /// MMR of window per point of sigma above `above_sigma`. Default: 0 (off).
    pub per_sigma: f64,
    /// Sigma below which nothing is added. Default: 150.
    pub above_sigma: f64,
}

impl Default for SigmaWidening {
    fn default() -> Self {
        Self {
            per_sigma: 0.0,
            above_sigma: 150.0,
        }
    }
}

/// Match acceptance: players confirm a proposed match before a deadline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AcceptanceConfig {
    /// How long players have to accept. Default: 15000.
    pub timeout_ms: u64,
}

impl Default for AcceptanceConfig {
    fn default() -> Self {
        Self { timeout_ms: 15_000 }
    }
}

/// When a ticket that found no match is tried again. A ticket is tried when it arrives, when a
/// region opens to it, when it comes back from a failed acceptance, and after each review
/// interval: the time its skill window takes to widen by `window_step_mmr` or its quality floor
/// to relax by `quality_step`, whichever is sooner, kept within `[min_interval_ms,
/// max_interval_ms]`. Between tries it can still be picked as a partner by any other ticket.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReviewConfig {
    /// Default: 25.
    pub window_step_mmr: f64,
    /// Default: 0.05.
    pub quality_step: f64,
    /// Default: 250.
    pub min_interval_ms: u64,
    /// Default: 5000.
    pub max_interval_ms: u64,
}

impl Default for ReviewConfig {
    fn default() -> Self {
        Self {
            window_step_mmr: 25.0,
            quality_step: 0.05,
            min_interval_ms: 250,
            max_interval_ms: 5_000,
        }
    }
}

/// One queue: a game mode and team format, with its own matching rules.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QueueConfig {
    /// The queue's name, used in commands and events. Required; unique.
    pub name: String,
    /// The game mode ratings are kept for (several queues may share one). Default: the name.
    pub mode: String,
    /// How many teams a match has: 2 for 1v1/5v5, 3 or more for free-for-all. Default: 2.
    pub teams: u8,
    /// Players per team. Default: 5.
    pub team_size: u8,
    /// The largest party this queue takes (at most `team_size`). Default: 5.
    pub max_party_size: u8,
    /// How a party's ratings combine. Default: `{ kind = "mean" }`.
    pub party_rating: PartyRating,
    /// The largest rating difference a ticket accepts, in MMR, over waiting time. Every member of
    /// a match is inside every other member's window. Default: linear 75 -> 350 over 60000 ms,
    /// chosen with the simulator on `sim/scenarios/10k-concurrent.toml` (the seeds' 100 -> 500
    /// over 40 s matched 4 s sooner at a mean quality of 0.83, under the 0.85 target).
    pub skill_window: Curve,
    /// Extra window for uncertain ratings. Default: off.
    pub sigma_widening: SigmaWidening,
    /// The ping, in ms, up to which a ticket accepts a region, over waiting time. A ticket always
    /// accepts its best region; a ticket's own `max_ping_ms` caps all of it.
    /// Default: linear 80 -> 200 over 30000 ms.
    pub latency_window: Curve,
    /// The least match quality (draw probability, in [0, 1]) accepted, over the waiting time of
    /// the longest-waiting member. Default: linear 0.4 -> 0.1 over 60000 ms.
    pub quality_floor: Curve,
    /// How long a ticket may wait before it expires. Default: 300000.
    pub max_wait_ms: u64,
    /// Tickets this queue holds. Beyond it, enqueueing is rejected with
    /// `RejectReason::QueueFull`. Default: 2000000.
    pub max_tickets: u32,
    /// Matches (and backfill fills) formed per tick. Beyond it, due tickets wait for the next
    /// tick, oldest first, and a `LimitReached` event says so. Default: 2000.
    pub max_matches_per_tick: u32,
    /// Tickets tried as the anchor of a match per tick. Beyond it, as above. Default: 20000.
    pub max_anchor_attempts_per_tick: u32,
    /// Tickets looked at around an anchor, nearest rating first, before it gives up for now.
    /// In a queue with rules or roles, tickets a rule turns away do not count, and the walk
    /// looks at no more than four times as many. Default: 64.
    pub max_candidates_per_anchor: u16,
    /// Team splits are searched exhaustively up to this many tickets in a match (5v5 of solos:
    /// 10 tickets, 126 splits); above it a Karmarkar-Karp-style heuristic is used. At most 16.
    /// Default: 10.
    pub exact_split_max_tickets: u8,
    /// Match acceptance; absent means matches start without it. Default: absent.
    pub acceptance: Option<AcceptanceConfig>,
    /// When unmatched tickets are tried again.
    pub review: ReviewConfig,
    /// How long a backfill request stays open. Default: 60000.
    pub backfill_max_wait_ms: u64,
    /// The attributes this queue's tickets carry (see `AttributeSpec`). An attribute a ticket
    /// gives that is not declared here is an error. Default: none.
    pub attributes: Vec<AttributeSpec>,
    /// The match rules, at most 20 (see `Rule`). Default: none.
    pub rules: Vec<Rule>,
    /// Whom players' avoid lists keep apart. Default: `match`.
    pub block_lists: BlockScope,
    /// A role composition every team is filled with. Default: absent (no roles).
    pub roles: Option<RoleConfig>,
    /// Flexible team counts and sizes. Default: absent (every match is `teams` x `team_size`).
    pub flexible: Option<FlexibleSize>,
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self {
            name: String::new(),
            mode: String::new(),
            teams: 2,
            team_size: 5,
            max_party_size: 5,
            party_rating: PartyRating::Mean,
            skill_window: Curve::linear(75.0, 350.0, 60_000),
            sigma_widening: SigmaWidening::default(),
            latency_window: Curve::linear(80.0, 200.0, 30_000),
            quality_floor: Curve::linear(0.4, 0.1, 60_000),
            max_wait_ms: 300_000,
            max_tickets: 2_000_000,
            max_matches_per_tick: 2_000,
            max_anchor_attempts_per_tick: 20_000,
            max_candidates_per_anchor: 64,
            exact_split_max_tickets: 10,
            acceptance: None,
            review: ReviewConfig::default(),
            backfill_max_wait_ms: 60_000,
            attributes: Vec::new(),
            rules: Vec::new(),
            block_lists: BlockScope::Match,
            roles: None,
            flexible: None,
        }
    }
}

impl QueueConfig {
    /// Players in one match of this queue.
    pub fn players_per_match(&self) -> usize {
        usize::from(self.teams) * usize::from(self.team_size)
    }

    /// The game mode, which defaults to the queue name.
    pub fn mode_name(&self) -> &str {
        if self.mode.is_empty() {
            &self.name
        } else {
            &self.mode
        }
    }

    /// The skill window of a ticket whose members have these ratings, after waiting
    /// `waited_ms`: the largest rating difference it accepts (`skill_window` at its wait, plus
    /// `sigma_widening` for its uncertainty). This is the window a match or backfill reports
    /// as the ticket's `window_mmr`.
    pub fn ticket_skill_window(&self, waited_ms: u64, members: &[Rating]) -> f64 {
        let bonus = crate::pool::sigma_bonus(self, crate::rating::party_sigma(members));
        crate::pool::skill_window(self, waited_ms, bonus)
    }
}

impl Config {
    /// Parses TOML and validates the result. Absent fields take their defaults; a `queues` list
    /// is the whole list of queues. This is the exact form [`Config::to_toml_string`] writes
    /// (traces and the store keep it).
    pub fn from_toml_str(text: &str) -> Result<Self, ConfigError> {
        let config: Self =
            toml::from_str(text).map_err(|error| ConfigError::new("", error.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// Parses an operator's config file: as [`Config::from_toml_str`], except that `[[queues]]`
    /// entries change the shipped queues (`Config::default()`) by name instead of replacing the
    /// list. An entry named like a shipped queue changes only the fields it gives (its `mode`,
    /// and so its ratings, stay unless given); an entry with a new name adds a queue, after the
    /// shipped ones. `replace_queues = true` at the top makes the file's list the whole list.
    pub fn from_operator_toml(mut table: toml::Table) -> Result<Self, ConfigError> {
        let replace = match table.remove("replace_queues") {
            None => false,
            Some(toml::Value::Boolean(replace)) => replace,
            Some(other) => {
                return Err(ConfigError::new(
                    "replace_queues",
                    format!("must be true or false, not {other}"),
                ));
            }
        };
        if !replace && let Some(entries) = table.remove("queues") {
            table.insert("queues".into(), merge_queues(entries)?);
        }
        // Deserialized from the tree, not re-written text: an error names the key and type,
        // with no line number of text the operator never wrote.
        if let Some(toml::Value::Array(queues)) = table.get("queues") {
            for (index, queue) in queues.iter().enumerate() {
                QueueConfig::deserialize(queue.clone()).map_err(|error| {
                    ConfigError::new(format!("queues[{index}]"), error.message())
                })?;
            }
        }
        let config = Self::deserialize(toml::Value::Table(table))
            .map_err(|error| ConfigError::new("", error.message()))?;
        config.validate()?;
        Ok(config)
    }

    /// This configuration as TOML.
    pub fn to_toml_string(&self) -> String {
        // Serializing plain structs of numbers, strings and vectors cannot fail.
        toml::to_string(self).unwrap_or_default()
    }

    /// The index of the queue called `name`.
    pub fn queue_index(&self, name: &str) -> Option<usize> {
        self.queues.iter().position(|queue| queue.name == name)
    }

    /// The index of the region called `name`.
    pub fn region_index(&self, name: &str) -> Option<usize> {
        self.regions.iter().position(|region| region == name)
    }

    /// Checks every field; the first problem found is returned.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.validate_regions()?;
        self.validate_limits()?;
        self.validate_rating()?;
        if self.sessions.allocation_timeout_ms == 0 || self.sessions.heartbeat_timeout_ms == 0 {
            return Err(ConfigError::new(
                "sessions",
                "allocation_timeout_ms and heartbeat_timeout_ms must be above 0",
            ));
        }
        for (name, value) in [
            ("allocation_timeout_ms", self.sessions.allocation_timeout_ms),
            ("heartbeat_timeout_ms", self.sessions.heartbeat_timeout_ms),
            ("allocation_backoff_ms", self.sessions.allocation_backoff_ms),
        ] {
            check_duration(&format!("sessions.{name}"), value)?;
        }
        if self.queues.is_empty() {
            return Err(ConfigError::new("queues", "at least one queue is needed"));
        }
        if self.queues.len() > usize::from(u16::MAX) {
            return Err(ConfigError::new("queues", "at most 65535 queues"));
        }
        for (index, queue) in self.queues.iter().enumerate() {
            let field = format!("queues[{index}]");
            if self.queues[..index].iter().any(|q| q.name == queue.name) {
                return Err(ConfigError::new(
                    format!("{field}.name"),
                    format!("queue name `{}` is used twice", queue.name),
                ));
            }
            self.validate_queue(&field, queue)?;
        }
        Ok(())
    }

    fn validate_regions(&self) -> Result<(), ConfigError> {
        if self.regions.is_empty() || self.regions.len() > MAX_REGIONS {
            return Err(ConfigError::new(
                "regions",
                format!(
                    "between 1 and {MAX_REGIONS} regions are needed, not {}",
                    self.regions.len()
                ),
            ));
        }
        for (index, region) in self.regions.iter().enumerate() {
            if region.trim().is_empty() {
                return Err(ConfigError::new(
                    format!("regions[{index}]"),
                    "a region name cannot be empty",
                ));
            }
            if self.regions[..index].contains(region) {
                return Err(ConfigError::new(
                    format!("regions[{index}]"),
                    format!("region `{region}` is listed twice"),
                ));
            }
        }
        Ok(())
    }

    fn validate_limits(&self) -> Result<(), ConfigError> {
        let limits = &self.limits;
        for (name, value) in [
            ("max_commands_per_tick", limits.max_commands_per_tick),
            ("max_undrained_events", limits.max_undrained_events),
            ("max_parties", limits.max_parties),
            ("max_matches", limits.max_matches),
            ("max_timer_wakes_per_tick", limits.max_timer_wakes_per_tick),
            ("max_party_size", u32::from(limits.max_party_size)),
            (
                "max_attribute_name_bytes",
                u32::from(limits.max_attribute_name_bytes),
            ),
            (
                "max_attribute_value_bytes",
                u32::from(limits.max_attribute_value_bytes),
            ),
            (
                "max_attribute_list_len",
                u32::from(limits.max_attribute_list_len),
            ),
            ("max_explain_scan", limits.max_explain_scan),
        ] {
            if value == 0 {
                return Err(ConfigError::new(
                    format!("limits.{name}"),
                    "must be above 0",
                ));
            }
        }
        if limits.max_attribute_list_len > 64 {
            return Err(ConfigError::new(
                "limits.max_attribute_list_len",
                format!("must be at most 64, not {}", limits.max_attribute_list_len),
            ));
        }
        Ok(())
    }

    fn validate_rating(&self) -> Result<(), ConfigError> {
        let rating = &self.rating;
        let positive = |name: &str, value: f64| {
            if value.is_finite() && value > 0.0 {
                Ok(())
            } else {
                Err(ConfigError::new(
                    format!("rating.{name}"),
                    format!("must be a finite number above 0, not {value}"),
                ))
            }
        };
        positive("beta", rating.beta)?;
        positive("glicko2_tau", rating.glicko2_tau)?;
        positive("initial.sigma", rating.initial.sigma)?;
        positive("initial.volatility", rating.initial.volatility)?;
        if !(rating.dynamics.is_finite() && rating.dynamics >= 0.0) {
            return Err(ConfigError::new(
                "rating.dynamics",
                "must be a finite number, 0 or above",
            ));
        }
        if !(rating.draw_probability > 0.0 && rating.draw_probability < 1.0) {
            return Err(ConfigError::new(
                "rating.draw_probability",
                format!("must be between 0 and 1, not {}", rating.draw_probability),
            ));
        }
        if !rating.initial.mu.is_finite() {
            return Err(ConfigError::new("rating.initial.mu", "must be finite"));
        }
        Ok(())
    }

    fn validate_queue(&self, field: &str, queue: &QueueConfig) -> Result<(), ConfigError> {
        let error =
            |name: &str, message: String| Err(ConfigError::new(format!("{field}.{name}"), message));
        if queue.name.trim().is_empty() {
            return error("name", "a queue needs a name".into());
        }
        if !(2..=64).contains(&queue.teams) {
            return error(
                "teams",
                format!("must be between 2 and 64, not {}", queue.teams),
            );
        }
        if !(1..=64).contains(&queue.team_size) {
            return error(
                "team_size",
                format!("must be between 1 and 64, not {}", queue.team_size),
            );
        }
        if queue.players_per_match() > MAX_PLAYERS_PER_MATCH {
            return error(
                "team_size",
                format!(
                    "teams x team_size is {}, above the limit of {MAX_PLAYERS_PER_MATCH}",
                    queue.players_per_match()
                ),
            );
        }
        if queue.max_party_size == 0
            || queue.max_party_size > queue.team_size
            || queue.max_party_size > self.limits.max_party_size
        {
            return error(
                "max_party_size",
                format!(
                    "must be between 1 and team_size ({}) and at most limits.max_party_size ({}), not {}",
                    queue.team_size, self.limits.max_party_size, queue.max_party_size
                ),
            );
        }
        if let PartyRating::Strongest { weight } = queue.party_rating
            && !(0.0..=1.0).contains(&weight)
        {
            return error(
                "party_rating.weight",
                format!("must be between 0 and 1, not {weight}"),
            );
        }
        queue.skill_window.validate(
            &format!("{field}.skill_window"),
            Direction::NonDecreasing,
            0.0,
            100_000.0,
        )?;
        queue.latency_window.validate(
            &format!("{field}.latency_window"),
            Direction::NonDecreasing,
            0.0,
            60_000.0,
        )?;
        queue.quality_floor.validate(
            &format!("{field}.quality_floor"),
            Direction::NonIncreasing,
            0.0,
            1.0,
        )?;
        let widening = &queue.sigma_widening;
        if !(widening.per_sigma.is_finite()
            && widening.per_sigma >= 0.0
            && widening.above_sigma.is_finite()
            && widening.above_sigma >= 0.0)
        {
            return error(
                "sigma_widening",
                "per_sigma and above_sigma must be finite, 0 or above".into(),
            );
        }
        for (name, value) in [
            ("max_wait_ms", queue.max_wait_ms),
            ("max_tickets", u64::from(queue.max_tickets)),
            (
                "max_matches_per_tick",
                u64::from(queue.max_matches_per_tick),
            ),
            (
                "max_anchor_attempts_per_tick",
                u64::from(queue.max_anchor_attempts_per_tick),
            ),
            ("backfill_max_wait_ms", queue.backfill_max_wait_ms),
        ] {
            if value == 0 {
                return error(name, "must be above 0".into());
            }
        }
        if usize::from(queue.max_candidates_per_anchor) < queue.players_per_match() {
            return error(
                "max_candidates_per_anchor",
                format!(
                    "must be at least the players in a match ({}), not {}",
                    queue.players_per_match(),
                    queue.max_candidates_per_anchor
                ),
            );
        }
        if queue.exact_split_max_tickets > MAX_EXACT_SPLIT_TICKETS {
            return error(
                "exact_split_max_tickets",
                format!(
                    "must be at most {MAX_EXACT_SPLIT_TICKETS}, not {}",
                    queue.exact_split_max_tickets
                ),
            );
        }
        if let Some(acceptance) = &queue.acceptance
            && acceptance.timeout_ms == 0
        {
            return error("acceptance.timeout_ms", "must be above 0".into());
        }
        let curves = [
            ("skill_window", &queue.skill_window),
            ("latency_window", &queue.latency_window),
            ("quality_floor", &queue.quality_floor),
        ];
        for (name, curve) in curves {
            check_duration(&format!("{field}.{name}"), curve.settles_after_ms())?;
        }
        let acceptance_ms = queue.acceptance.as_ref().map_or(0, |a| a.timeout_ms);
        for (name, value) in [
            ("max_wait_ms", queue.max_wait_ms),
            ("backfill_max_wait_ms", queue.backfill_max_wait_ms),
            ("acceptance.timeout_ms", acceptance_ms),
            ("review.max_interval_ms", queue.review.max_interval_ms),
        ] {
            check_duration(&format!("{field}.{name}"), value)?;
        }
        let review = &queue.review;
        let positive = |value: f64| value.is_finite() && value > 0.0;
        if !positive(review.window_step_mmr) || !positive(review.quality_step) {
            return error(
                "review",
                "window_step_mmr and quality_step must be above 0".into(),
            );
        }
        if review.min_interval_ms == 0 || review.min_interval_ms > review.max_interval_ms {
            return error(
                "review",
                format!(
                    "need 0 < min_interval_ms <= max_interval_ms, not {} and {}",
                    review.min_interval_ms, review.max_interval_ms
                ),
            );
        }
        queue.validate_rules(field, &self.limits)
    }
}

/// Refuses a duration longer than [`MAX_DURATION_MS`].
/// The shipped queues, each changed by the entry of its name, then the new entries.
fn merge_queues(entries: toml::Value) -> Result<toml::Value, ConfigError> {
    let toml::Value::Array(entries) = entries else {
        return Err(ConfigError::new(
            "queues",
            "must be a list of tables ([[queues]])",
        ));
    };
    let mut merged: Vec<toml::Table> = Config::default()
        .queues
        .iter()
        .map(|queue| match toml::Value::try_from(queue) {
            Ok(toml::Value::Table(table)) => table,
            // A queue is a struct of numbers, strings and curves: it serializes as a table.
            _ => unreachable!("a queue serializes as a table"),
        })
        .collect();
    let mut given: Vec<String> = Vec::new();
    for (index, entry) in entries.into_iter().enumerate() {
        let toml::Value::Table(entry) = entry else {
            return Err(ConfigError::new(
                format!("queues[{index}]"),
                "must be a table ([[queues]])",
            ));
        };
        let name = entry.get("name").and_then(toml::Value::as_str);
        let Some(name) = name else {
            return Err(ConfigError::new(
                format!("queues[{index}].name"),
                "every queue needs a name",
            ));
        };
        if given.iter().any(|earlier| earlier == name) {
            return Err(ConfigError::new(
                format!("queues[{index}].name"),
                format!("`{name}` is given twice"),
            ));
        }
        given.push(name.to_owned());
        let existing = merged
            .iter()
            .position(|queue| queue.get("name").and_then(toml::Value::as_str) == Some(name));
        match existing {
            Some(at) => merged[at].extend(entry),
            None => merged.push(entry),
        }
    }
    Ok(toml::Value::Array(
        merged.into_iter().map(toml::Value::Table).collect(),
    ))
}

fn check_duration(field: &str, value: u64) -> Result<(), ConfigError> {
    if value > MAX_DURATION_MS {
        return Err(ConfigError::new(
            field,
            format!("{value} ms is longer than the limit of {MAX_DURATION_MS} ms (ten years)"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config_is_valid() {
        Config::default().validate().unwrap();
    }

    #[test]
    fn empty_toml_gives_the_defaults() {
        assert_eq!(Config::from_toml_str("").unwrap(), Config::default());
    }

    #[test]
    fn toml_round_trips() {
        let config = Config::default();
        let text = config.to_toml_string();
        assert_eq!(Config::from_toml_str(&text).unwrap(), config);
    }

    #[test]
    fn the_example_file_spells_out_the_defaults() {
        let text = include_str!("../../../config/matchwright.toml");
        assert_eq!(Config::from_toml_str(text).unwrap(), Config::default());
    }

    #[test]
    fn a_queue_with_curves_and_acceptance_parses() {
        let config = Config::from_toml_str(
            r#"
            regions = ["eu", "na"]
            [[queues]]
            name = "squads"
            teams = 2
            team_size = 4
            max_party_size = 4
            party_rating = { kind = "strongest", weight = 0.5 }
            skill_window = { kind = "exponential", start = 50, end = 800, over_ms = 60000 }
            latency_window = { kind = "steps", steps = [{ after_ms = 0, value = 60 }, { after_ms = 10000, value = 120 }] }
            acceptance = { timeout_ms = 10000 }
            "#,
        )
        .unwrap();
        let queue = &config.queues[0];
        assert_eq!(queue.party_rating, PartyRating::Strongest { weight: 0.5 });
        assert_eq!(
            queue.acceptance,
            Some(AcceptanceConfig { timeout_ms: 10_000 })
        );
        assert_eq!(queue.mode_name(), "squads");
    }

    #[test]
    fn bad_configs_name_the_field() {
        let cases = [
            ("regions = []", "regions"),
            (
                "[[queues]]\nname = \"a\"\nteam_size = 0",
                "queues[0].team_size",
            ),
            (
                "[[queues]]\nname = \"a\"\nmax_party_size = 6",
                "queues[0].max_party_size",
            ),
            (
                "[[queues]]\nname = \"a\"\n[[queues]]\nname = \"a\"",
                "queues[1].name",
            ),
            (
                "[[queues]]\nname = \"a\"\nquality_floor = { kind = \"linear\", start = 0.1, end = 0.5, over_ms = 10 }",
                "queues[0].quality_floor",
            ),
            ("[limits]\nmax_parties = 0", "limits.max_parties"),
            ("[rating]\nbeta = -1.0", "rating.beta"),
            (
                "[[queues]]\nname = \"a\"\nmax_wait_ms = 18446744073709551615",
                "queues[0].max_wait_ms",
            ),
            ("[[queues]]\nname = \"a\"\nteamz = 2", ""),
        ];
        for (text, field) in cases {
            let error = Config::from_toml_str(text).unwrap_err();
            assert_eq!(error.field, field, "for {text:?}: {error}");
        }
    }

    #[test]
    fn unknown_fields_are_errors_not_ignored() {
        let error = Config::from_toml_str("[limits]\nmax_partys = 3").unwrap_err();
        assert!(error.message.contains("max_partys"), "{error}");
        // A TOML error has no field of its own: the message names the line and the key.
        let shown = error.to_string();
        assert!(shown.starts_with("config: "), "{shown}");
        assert!(
            !shown.contains("`toml`") && !shown.contains("``"),
            "{shown}"
        );
    }

    fn operator(text: &str) -> Result<Config, ConfigError> {
        Config::from_operator_toml(text.parse().unwrap())
    }

    #[test]
    fn an_operator_file_changes_or_adds_one_queue_and_keeps_the_others() {
        let shipped = Config::default();
        // Changing one field of a shipped queue keeps its mode (and so its ratings) and
        // every other queue.
        let changed = operator("[[queues]]\nname = \"duel-1v1\"\nmax_wait_ms = 60000").unwrap();
        assert_eq!(changed.queues.len(), shipped.queues.len());
        let duel = &changed.queues[changed.queue_index("duel-1v1").unwrap()];
        assert_eq!(duel.max_wait_ms, 60_000);
        assert_eq!(duel.mode_name(), "duel");
        assert_eq!(duel.team_size, 1);
        assert_eq!(changed.queues[1..], shipped.queues[1..]);
        // A new name adds a queue after the shipped ones.
        let added =
            operator("[[queues]]\nname = \"duo\"\nteam_size = 2\nmax_party_size = 2").unwrap();
        assert_eq!(added.queues.len(), shipped.queues.len() + 1);
        assert_eq!(added.queues.last().unwrap().name, "duo");
        // `replace_queues = true`: the file's list is the whole list.
        let replaced = operator(
            "replace_queues = true\n[[queues]]\nname = \"duo\"\nteam_size = 2\nmax_party_size = 2",
        )
        .unwrap();
        assert_eq!(replaced.queues.len(), 1);
        // The shipped file changes nothing.
        let file = include_str!("../../../config/matchwright.toml");
        assert_eq!(operator(file).unwrap(), shipped);
    }

    #[test]
    fn bad_operator_queue_lists_are_named() {
        for (text, field) in [
            ("replace_queues = 3", "replace_queues"),
            ("queues = 3", "queues"),
            ("queues = [3]", "queues[0]"),
            ("[[queues]]\nteam_size = 2", "queues[0].name"),
            (
                "[[queues]]\nname = \"duel-1v1\"\n[[queues]]\nname = \"duel-1v1\"",
                "queues[1].name",
            ),
        ] {
            let error = operator(text).unwrap_err();
            assert_eq!(error.field, field, "for {text:?}: {error}");
        }
    }
}
