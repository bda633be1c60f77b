//! Scenario files: the population, the period and the matcher config under test, in TOML.
//!
//! A scenario describes who plays (how many players, their true skill, their parties, their
//! regions and pings), when they come (logins per hour of the day, games per session, breaks),
//! how they behave (patience in the queue, accepting matches), how games go (length, results
//! drawn from true skill), the game servers (allocation time, heartbeats), the matcher config
//! under test (`[matcher]`, the same TOML as `config/matchwright.toml`), and how long to
//! simulate. Every field is checked when the file is loaded; an error names the field.
//!
//! Sweeps change one field at a time by its dotted path (`set`), working on the TOML tree so
//! any field, including the matcher's, can be varied without code for each.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use matchwright_ecs::Config;
use serde::{Deserialize, Serialize};

use crate::profile::{AttributeDist, AvoidSpec, RoleSpec};

/// A scenario could not be loaded or changed.
#[derive(Clone, Debug, PartialEq)]
pub struct ScenarioError {
    /// The field, as a dotted path (`population.players`), or `toml` for syntax errors.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl ScenarioError {
    pub(crate) fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "scenario field `{}`: {}", self.field, self.message)
    }
}

impl std::error::Error for ScenarioError {}

/// A whole scenario.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// A short name, used in reports and file names.
    pub name: String,
    /// What the scenario is for.
    #[serde(default)]
    pub description: String,
    /// The seed of the population, the arrivals, the players' behaviour and the matcher.
    /// `--seed` overrides it. Default: 1.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// How long to simulate, in seconds of virtual time.
    pub duration_s: f64,
    /// The matcher's tick interval, in ms. Default: 100.
    #[serde(default = "default_tick_ms")]
    pub tick_ms: u64,
    /// The hour of the day at the start, for `arrivals.logins_per_hour`. Default: 0.
    #[serde(default)]
    pub start_hour: f64,
    /// How often queue depths are sampled for the timeline, in seconds. Default: 10.
    #[serde(default = "default_sample_every_s")]
    pub sample_every_s: f64,
    /// Who plays.
    pub population: PopulationSpec,
    /// Where they play from, in the matcher's region order.
    pub regions: Vec<RegionSpec>,
    /// Which queues they pick, and how long those games last.
    pub queues: Vec<QueueSpec>,
    /// When they come and how long they stay.
    pub arrivals: ArrivalSpec,
    /// How long they wait before giving up.
    #[serde(default)]
    pub patience: PatienceSpec,
    /// How they answer proposed matches (queues with acceptance only).
    #[serde(default)]
    pub acceptance: AcceptanceSpec,
    /// The simulated game servers.
    #[serde(default)]
    pub servers: ServerSpec,
    /// How results are drawn from true skill.
    #[serde(default)]
    pub outcome: OutcomeSpec,
    /// The matcher config under test; its `regions` default to the scenario's.
    pub matcher: Config,
}

fn default_seed() -> u64 {
    1
}
fn default_tick_ms() -> u64 {
    100
}
fn default_sample_every_s() -> f64 {
    10.0
}

/// One part of a skill mixture: a normal distribution for a share of the groups.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SkillComponent {
    /// The share of groups that draw from it, above 0 and at most 1.
    pub share: f64,
    /// Its mean.
    pub mean: f64,
    /// Its standard deviation.
    pub sd: f64,
}

/// Components a skill mixture may have, at most.
pub const MAX_SKILL_COMPONENTS: usize = 8;

/// A normal distribution.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Normal {
    /// Its mean.
    pub mean: f64,
    /// Its standard deviation.
    pub sd: f64,
}

/// Who plays.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PopulationSpec {
    /// Registered players: everyone who may log in during the run.
    pub players: u32,
    /// True skill, on the rating scale (what a perfect rating would be).
    pub skill: Normal,
    /// Other skill distributions, each for a share of the groups (a bimodal population, a
    /// heavy tail): `skill_mixture = [{ share = 0.3, mean = 2100.0, sd = 150.0 }]`. The groups
    /// left over draw from `skill`. At most 8; the shares sum to at most 1. Default: none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skill_mixture: Vec<SkillComponent>,
    /// Spread of a party member's true skill around the party's. Default: 120.
    #[serde(default = "default_party_skill_sd")]
    pub party_skill_sd: f64,
    /// Group sizes (1 = solo) and their weights. Players keep their group for the run.
    pub party_sizes: Vec<(u8, f64)>,
    /// Share of players who are new: they start at the matcher's `rating.initial`. Default: 0.
    #[serde(default)]
    pub new_player_share: f64,
    /// For the others (seasoned players), the error of their starting rating around their
    /// true skill (standard deviation). Default: 80.
    #[serde(default = "default_rating_error_sd")]
    pub rating_error_sd: f64,
    /// For seasoned players, their starting sigma, drawn uniformly in this range.
    /// Default: [60, 120].
    #[serde(default = "default_rating_sigma")]
    pub rating_sigma: (f64, f64),
    /// Players who cap their ping.
    #[serde(default)]
    pub ping_cap: PingCapSpec,
    /// Attributes players carry, for queues with match rules (`[[population.attributes]]`;
    /// see `profile::AttributeDist`). Default: none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<AttributeDist>,
    /// Players with avoid lists (`[population.avoid]`). Default: nobody.
    #[serde(default)]
    pub avoid: AvoidSpec,
}

fn default_party_skill_sd() -> f64 {
    120.0
}
fn default_rating_error_sd() -> f64 {
    80.0
}
fn default_rating_sigma() -> (f64, f64) {
    (60.0, 120.0)
}

/// Groups that set a maximum ping on their tickets.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PingCapSpec {
    /// Share of groups with a cap. Default: 0.
    pub share: f64,
    /// The cap, drawn uniformly in this range, in ms. Default: [100, 180].
    pub ms: (u16, u16),
}

impl Default for PingCapSpec {
    fn default() -> Self {
        Self {
            share: 0.0,
            ms: (100, 180),
        }
    }
}

/// One region players live in.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionSpec {
    /// Its name, as in the matcher's `regions`.
    pub name: String,
    /// Its share of the players.
    pub share: f64,
    /// Ping of its players to their home region, uniform in this range, in ms.
    /// Default: [10, 60].
    #[serde(default = "default_home_ping")]
    pub home_ping_ms: (u16, u16),
    /// Typical round trip from here to each region, in the matcher's region order (the entry
    /// for this region itself is unused).
    pub rtt_ms: Vec<u16>,
    /// Extra ping to other regions, uniform in `[0, jitter_ms]`. Default: 30.
    #[serde(default = "default_jitter")]
    pub jitter_ms: u16,
    /// Chance that a player cannot reach one other region at all. Default: 0.
    #[serde(default)]
    pub unreachable: f64,
}

fn default_home_ping() -> (u16, u16) {
    (10, 60)
}
fn default_jitter() -> u16 {
    30
}

/// One queue players pick.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueSpec {
    /// The queue's name, as in the matcher config.
    pub name: String,
    /// Its share of queue entries (among the queues a group's size allows).
    pub share: f64,
    /// Game length, uniform in this range, in seconds.
    pub game_length_s: (f64, f64),
    /// In a role queue (required there): the players' role preferences
    /// (`roles = { first = [["tank", 0.2], ...], accepts = [[1, 0.5], [2, 0.5]] }`; see
    /// `profile::RoleSpec`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<RoleSpec>,
}

/// When players come and how long they stay.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArrivalSpec {
    /// Players online at the start. Each comes back from a game in progress at a uniform
    /// moment within one mean game length, then logs off or queues as after any game.
    pub initial_online: u32,
    /// Players logging in per hour, for each hour of the day (24 values), or one value for
    /// all hours. Groups log in together.
    pub logins_per_hour: Vec<f64>,
    /// Games per session (mean of a geometric distribution). Default: 3.
    #[serde(default = "default_games_per_session")]
    pub games_per_session: f64,
    /// Break between games, uniform in this range, in seconds. Default: [5, 60].
    #[serde(default = "default_break")]
    pub break_s: (f64, f64),
    /// Extra logins in windows of the run (a launch, a patch, an event):
    /// `spikes = [{ at_s = 1800.0, for_s = 600.0, logins_per_hour = 30000.0 }]`, each added to
    /// the hour's rate while it lasts (windows may overlap; their rates add up). At most
    /// [`MAX_SPIKES`]. Default: none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub spikes: Vec<ArrivalSpike>,
}

/// A window of extra logins: `ArrivalSpec::spikes`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArrivalSpike {
    /// When it starts, in seconds from the run's start.
    pub at_s: f64,
    /// How long it lasts, in seconds (above 0).
    pub for_s: f64,
    /// Extra logins per hour while it lasts, 0 to 100000000.
    pub logins_per_hour: f64,
}

impl ArrivalSpike {
    /// Its start and end, in ms from the run's start.
    pub fn window_ms(&self) -> (u64, u64) {
        let start = (self.at_s * 1_000.0) as u64;
        (start, start + (self.for_s * 1_000.0).ceil() as u64)
    }
}

/// Arrival spikes a scenario may have, at most.
pub const MAX_SPIKES: usize = 64;

fn default_games_per_session() -> f64 {
    3.0
}
fn default_break() -> (f64, f64) {
    (5.0, 60.0)
}

/// How long players wait before cancelling.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatienceSpec {
    /// Mean patience, in seconds (normal, cut at `min_s`). Default: 300.
    pub mean_s: f64,
    /// Its standard deviation. Default: 90.
    pub sd_s: f64,
    /// The least patience anyone has. Default: 30.
    pub min_s: f64,
    /// Share of those who gave up (or were dropped) who queue again after a break rather
    /// than log off. Default: 0.5.
    pub retry_share: f64,
}

impl Default for PatienceSpec {
    fn default() -> Self {
        Self {
            mean_s: 300.0,
            sd_s: 90.0,
            min_s: 30.0,
            retry_share: 0.5,
        }
    }
}

/// How players answer proposed matches.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcceptanceSpec {
    /// Share of answers that are declines. Default: 0.02.
    pub decline_share: f64,
    /// Time to answer, uniform in this range, in seconds. Default: [1, 8].
    pub delay_s: (f64, f64),
}

impl Default for AcceptanceSpec {
    fn default() -> Self {
        Self {
            decline_share: 0.02,
            delay_s: (1.0, 8.0),
        }
    }
}

/// The simulated game servers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSpec {
    /// Time from a match forming to its server being up, uniform, in seconds.
    /// Default: [0.5, 3].
    pub allocation_s: (f64, f64),
    /// Interval between heartbeats of a running game, in seconds. Default: 10.
    pub heartbeat_s: f64,
    /// Game servers per region, by region name: a match formed in a region whose servers
    /// are all playing gets `AllocationFailed` (its tickets go back to their queues and the
    /// matcher backs the region off). A region not named has as many as it needs.
    /// Default: none named.
    pub capacity: BTreeMap<String, u32>,
}

impl Default for ServerSpec {
    fn default() -> Self {
        Self {
            allocation_s: (0.5, 3.0),
            heartbeat_s: 10.0,
            capacity: BTreeMap::new(),
        }
    }
}

/// How results come from true skill: each player performs at their true skill plus normal
/// noise; a team's performance is its members' sum; teams are placed by performance.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutcomeSpec {
    /// The noise of one player's performance (standard deviation). Default: 250, the rating
    /// model's beta, so that ratings can converge to true skill.
    pub performance_sd: f64,
}

impl Default for OutcomeSpec {
    fn default() -> Self {
        Self {
            performance_sd: 250.0,
        }
    }
}

impl Scenario {
    /// Reads and checks a scenario file.
    pub fn load(path: &Path) -> Result<Self, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|error| {
            ScenarioError::new("file", format!("cannot read {}: {error}", path.display()))
        })?;
        Self::from_toml_str(&text)
    }

    /// Parses and checks a scenario.
    pub fn from_toml_str(text: &str) -> Result<Self, ScenarioError> {
        let table: toml::Table = text
            .parse()
            .map_err(|error: toml::de::Error| ScenarioError::new("toml", error.to_string()))?;
        Self::from_table(table)
    }

    /// Parses a TOML tree, filling the matcher's regions from the scenario's.
    pub fn from_table(mut table: toml::Table) -> Result<Self, ScenarioError> {
        let region_names: Vec<toml::Value> = table
            .get("regions")
            .and_then(toml::Value::as_array)
            .map(|regions| {
                regions
                    .iter()
                    .filter_map(|region| region.get("name").cloned())
                    .collect()
            })
            .unwrap_or_default();
        let matcher = table
            .entry("matcher")
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if let toml::Value::Table(matcher) = matcher {
            matcher
                .entry("regions")
                .or_insert(toml::Value::Array(region_names));
        }
        let scenario: Self = toml::Value::Table(table)
            .try_into()
            .map_err(|error: toml::de::Error| ScenarioError::new("toml", error.to_string()))?;
        scenario.validate()?;
        Ok(scenario)
    }

    /// This scenario as TOML.
    pub fn to_toml_string(&self) -> String {
        toml::to_string(self).unwrap_or_default()
    }

    /// The total simulated time, in ms.
    pub fn duration_ms(&self) -> u64 {
        (self.duration_s * 1_000.0) as u64
    }

    /// Checks every field; the first problem is returned.
    pub fn validate(&self) -> Result<(), ScenarioError> {
        self.matcher.validate().map_err(|error| {
            ScenarioError::new(format!("matcher.{}", error.field), error.message)
        })?;
        let positive = |field: &str, value: f64| {
            if value.is_finite() && value > 0.0 {
                Ok(())
            } else {
                Err(ScenarioError::new(
                    field,
                    format!("must be above 0, not {value}"),
                ))
            }
        };
        let share = |field: &str, value: f64| {
            if (0.0..=1.0).contains(&value) {
                Ok(())
            } else {
                Err(ScenarioError::new(
                    field,
                    format!("must be between 0 and 1, not {value}"),
                ))
            }
        };
        let range = |field: &str, (low, high): (f64, f64)| {
            if low.is_finite() && high.is_finite() && 0.0 <= low && low <= high {
                Ok(())
            } else {
                Err(ScenarioError::new(
                    field,
                    format!(
                        "must be a range [low, high] with 0 <= low <= high, not [{low}, {high}]"
                    ),
                ))
            }
        };
        if self.name.trim().is_empty() {
            return Err(ScenarioError::new("name", "a scenario needs a name"));
        }
        positive("duration_s", self.duration_s)?;
        if self.duration_s > 30.0 * 24.0 * 3600.0 {
            return Err(ScenarioError::new("duration_s", "at most 30 days"));
        }
        if !(1..=60_000).contains(&self.tick_ms) {
            return Err(ScenarioError::new("tick_ms", "must be between 1 and 60000"));
        }
        if !(0.0..24.0).contains(&self.start_hour) {
            return Err(ScenarioError::new("start_hour", "must be in [0, 24)"));
        }
        positive("sample_every_s", self.sample_every_s)?;

        let population = &self.population;
        if population.players == 0 || population.players > 20_000_000 {
            return Err(ScenarioError::new(
                "population.players",
                "must be between 1 and 20000000",
            ));
        }
        if !population.skill.mean.is_finite() || population.skill.mean.abs() > 1e5 {
            return Err(ScenarioError::new(
                "population.skill.mean",
                "must be a number within +-100000",
            ));
        }
        positive("population.skill.sd", population.skill.sd)?;
        check_skill_mixture(&population.skill_mixture)?;
        if !(population.party_skill_sd.is_finite() && population.party_skill_sd >= 0.0) {
            return Err(ScenarioError::new(
                "population.party_skill_sd",
                "must be 0 or more",
            ));
        }
        if population.party_sizes.is_empty()
            || population
                .party_sizes
                .iter()
                .all(|(_, weight)| *weight <= 0.0)
        {
            return Err(ScenarioError::new(
                "population.party_sizes",
                "needs at least one size with a weight above 0",
            ));
        }
        for (index, (size, weight)) in population.party_sizes.iter().enumerate() {
            let field = format!("population.party_sizes[{index}]");
            if *size == 0 || *size > self.matcher.limits.max_party_size {
                return Err(ScenarioError::new(
                    field,
                    format!(
                        "size {size} must be between 1 and the matcher's limits.max_party_size ({})",
                        self.matcher.limits.max_party_size
                    ),
                ));
            }
            if !(weight.is_finite() && *weight >= 0.0) {
                return Err(ScenarioError::new(field, "a weight must be 0 or more"));
            }
            if *weight > 0.0
                && !self.queues.iter().any(|queue| {
                    self.matcher
                        .queues
                        .iter()
                        .any(|q| q.name == queue.name && q.max_party_size >= *size)
                })
            {
                return Err(ScenarioError::new(
                    field,
                    format!("no queue of the scenario takes parties of {size}"),
                ));
            }
        }
        share("population.new_player_share", population.new_player_share)?;
        if !(population.rating_error_sd.is_finite() && population.rating_error_sd >= 0.0) {
            return Err(ScenarioError::new(
                "population.rating_error_sd",
                "must be 0 or more",
            ));
        }
        range("population.rating_sigma", population.rating_sigma)?;
        positive("population.rating_sigma", population.rating_sigma.0)?;
        share("population.ping_cap.share", population.ping_cap.share)?;
        if population.ping_cap.ms.0 > population.ping_cap.ms.1 {
            return Err(ScenarioError::new(
                "population.ping_cap.ms",
                "low must not be above high",
            ));
        }

        let regions = &self.matcher.regions;
        if self.regions.len() != regions.len()
            || self
                .regions
                .iter()
                .zip(regions)
                .any(|(spec, name)| &spec.name != name)
        {
            return Err(ScenarioError::new(
                "regions",
                format!(
                    "the scenario's regions ({}) must be the matcher's regions ({}), in order",
                    self.regions
                        .iter()
                        .map(|r| r.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    regions.join(", ")
                ),
            ));
        }
        if self.regions.iter().all(|region| region.share <= 0.0) {
            return Err(ScenarioError::new(
                "regions",
                "at least one region needs a share above 0",
            ));
        }
        for (index, region) in self.regions.iter().enumerate() {
            let field = format!("regions[{index}]");
            if !(region.share.is_finite() && region.share >= 0.0) {
                return Err(ScenarioError::new(
                    format!("{field}.share"),
                    "must be 0 or more",
                ));
            }
            if region.home_ping_ms.0 > region.home_ping_ms.1 || region.home_ping_ms.1 >= 5_000 {
                return Err(ScenarioError::new(
                    format!("{field}.home_ping_ms"),
                    "must be a range [low, high] below 5000 ms",
                ));
            }
            if region.rtt_ms.len() != regions.len() {
                return Err(ScenarioError::new(
                    format!("{field}.rtt_ms"),
                    format!(
                        "needs one entry per region ({}), not {}",
                        regions.len(),
                        region.rtt_ms.len()
                    ),
                ));
            }
            if region.rtt_ms.iter().any(|rtt| *rtt >= 5_000) || region.jitter_ms >= 5_000 {
                return Err(ScenarioError::new(
                    format!("{field}.rtt_ms"),
                    "round trips and jitter must be below 5000 ms",
                ));
            }
            share(&format!("{field}.unreachable"), region.unreachable)?;
        }

        if self.queues.is_empty() {
            return Err(ScenarioError::new("queues", "at least one queue is needed"));
        }
        if self.queues.iter().all(|queue| queue.share <= 0.0) {
            return Err(ScenarioError::new(
                "queues",
                "at least one queue needs a share above 0",
            ));
        }
        for (index, queue) in self.queues.iter().enumerate() {
            let field = format!("queues[{index}]");
            if self.matcher.queue_index(&queue.name).is_none() {
                return Err(ScenarioError::new(
                    format!("{field}.name"),
                    format!("the matcher config has no queue `{}`", queue.name),
                ));
            }
            if self.queues[..index].iter().any(|q| q.name == queue.name) {
                return Err(ScenarioError::new(
                    format!("{field}.name"),
                    format!("queue `{}` is listed twice", queue.name),
                ));
            }
            if !(queue.share.is_finite() && queue.share >= 0.0) {
                return Err(ScenarioError::new(
                    format!("{field}.share"),
                    "must be 0 or more",
                ));
            }
            range(&format!("{field}.game_length_s"), queue.game_length_s)?;
            positive(&format!("{field}.game_length_s"), queue.game_length_s.1)?;
        }

        let arrivals = &self.arrivals;
        if arrivals.initial_online > population.players {
            return Err(ScenarioError::new(
                "arrivals.initial_online",
                "cannot be more than population.players",
            ));
        }
        if arrivals.logins_per_hour.len() != 1 && arrivals.logins_per_hour.len() != 24 {
            return Err(ScenarioError::new(
                "arrivals.logins_per_hour",
                format!(
                    "needs 1 or 24 values, not {}",
                    arrivals.logins_per_hour.len()
                ),
            ));
        }
        if arrivals
            .logins_per_hour
            .iter()
            .any(|rate| !(rate.is_finite() && *rate >= 0.0 && *rate <= 1e8))
        {
            return Err(ScenarioError::new(
                "arrivals.logins_per_hour",
                "rates must be between 0 and 100000000",
            ));
        }
        if !(arrivals.games_per_session.is_finite() && arrivals.games_per_session >= 1.0) {
            return Err(ScenarioError::new(
                "arrivals.games_per_session",
                "must be 1 or more",
            ));
        }
        range("arrivals.break_s", arrivals.break_s)?;
        check_spikes(&arrivals.spikes)?;

        positive("patience.mean_s", self.patience.mean_s)?;
        if !(self.patience.sd_s.is_finite() && self.patience.sd_s >= 0.0) {
            return Err(ScenarioError::new("patience.sd_s", "must be 0 or more"));
        }
        positive("patience.min_s", self.patience.min_s)?;
        share("patience.retry_share", self.patience.retry_share)?;
        share("acceptance.decline_share", self.acceptance.decline_share)?;
        range("acceptance.delay_s", self.acceptance.delay_s)?;
        range("servers.allocation_s", self.servers.allocation_s)?;
        positive("servers.heartbeat_s", self.servers.heartbeat_s)?;
        for region in self.servers.capacity.keys() {
            if self.matcher.region_index(region).is_none() {
                return Err(ScenarioError::new(
                    "servers.capacity",
                    format!(
                        "region `{region}` is not one of the matcher's regions ({})",
                        self.matcher.regions.join(", ")
                    ),
                ));
            }
        }
        if self.servers.heartbeat_s * 1_000.0 >= self.matcher.sessions.heartbeat_timeout_ms as f64 {
            return Err(ScenarioError::new(
                "servers.heartbeat_s",
                "must be shorter than the matcher's sessions.heartbeat_timeout_ms, or every game is abandoned",
            ));
        }
        positive("outcome.performance_sd", self.outcome.performance_sd)?;
        crate::profile::validate(
            &population.attributes,
            &population.avoid,
            &self.queues,
            &self.matcher,
        )
    }
}

/// Sets the field at a dotted `path` of a scenario's TOML tree to `value` (TOML syntax: `500`,
/// `0.3`, `"text"`, `[1, 2]`, `{ kind = "linear", start = 100.0, end = 400.0, over_ms = 30000 }`).
/// In an array of tables with names (`queues`, `regions`, `matcher.queues`), a path segment may
/// be an entry's name, or `*` for every entry: `matcher.queues.*.skill_window.end`.
pub fn set(table: &mut toml::Table, path: &str, value: &str) -> Result<(), ScenarioError> {
    let parsed = parse_value(value).map_err(|message| ScenarioError::new(path, message))?;
    let segments: Vec<&str> = path.split('.').collect();
    if segments.iter().any(|segment| segment.is_empty()) {
        return Err(ScenarioError::new(
            path,
            "a path is dotted field names, like `population.players`",
        ));
    }
    if segments.first() == Some(&"matcher") && !table.contains_key("matcher") {
        table.insert("matcher".into(), toml::Value::Table(toml::Table::new()));
    }
    let matcher_queues_implicit = segments.len() > 2
        && segments[0] == "matcher"
        && segments[1] == "queues"
        && table
            .get("matcher")
            .and_then(|matcher| matcher.get("queues"))
            .is_none();
    if matcher_queues_implicit {
        // The scenario relies on the default queues: write them out so one can be changed.
        let queues = toml::Value::try_from(Config::default().queues)
            .map_err(|error| ScenarioError::new(path, error.to_string()))?;
        if let Some(toml::Value::Table(matcher)) = table.get_mut("matcher") {
            matcher.insert("queues".into(), queues);
        }
    }
    let mut root = toml::Value::Table(std::mem::take(table));
    let result = set_in(&mut root, &segments, &parsed, path);
    if let toml::Value::Table(back) = root {
        *table = back;
    }
    result
}

fn parse_value(text: &str) -> Result<toml::Value, String> {
    let wrapped = format!("value = {text}");
    let mut table: toml::Table = wrapped
        .parse()
        .or_else(|_| format!("value = {:?}", text.trim()).parse())
        .map_err(|error: toml::de::Error| format!("`{text}` is not a TOML value: {error}"))?;
    table
        .remove("value")
        .ok_or_else(|| format!("`{text}` is not a TOML value"))
}

fn set_in(
    node: &mut toml::Value,
    segments: &[&str],
    value: &toml::Value,
    path: &str,
) -> Result<(), ScenarioError> {
    let Some((first, rest)) = segments.split_first() else {
        *node = value.clone();
        return Ok(());
    };
    match node {
        toml::Value::Table(table) => {
            if rest.is_empty() {
                table.insert((*first).to_string(), value.clone());
                return Ok(());
            }
            let child = table
                .entry((*first).to_string())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            set_in(child, rest, value, path)
        }
        toml::Value::Array(items) => {
            let mut found = false;
            for (index, item) in items.iter_mut().enumerate() {
                let named = item.get("name").and_then(toml::Value::as_str) == Some(first);
                if *first == "*" || named || first.parse::<usize>().ok() == Some(index) {
                    found = true;
                    set_in(item, rest, value, path)?;
                }
            }
            if found {
                Ok(())
            } else {
                Err(ScenarioError::new(
                    path,
                    format!("no entry named `{first}` (use a name, an index or `*`)"),
                ))
            }
        }
        _ => Err(ScenarioError::new(
            path,
            format!("`{first}` is inside a value that is not a table"),
        )),
    }
}

/// Arrival spikes: at most [`MAX_SPIKES`], each starting at 0 s or later, lasting above 0 s
/// and at most a year, with 0 to 100000000 extra logins per hour.
fn check_spikes(spikes: &[ArrivalSpike]) -> Result<(), ScenarioError> {
    if spikes.len() > MAX_SPIKES {
        return Err(ScenarioError::new(
            "arrivals.spikes",
            format!("has {} spikes; at most {MAX_SPIKES}", spikes.len()),
        ));
    }
    const YEAR_S: f64 = 365.0 * 86_400.0;
    for (index, spike) in spikes.iter().enumerate() {
        let field = |name: &str| format!("arrivals.spikes[{index}].{name}");
        if !(spike.at_s.is_finite() && (0.0..=YEAR_S).contains(&spike.at_s)) {
            return Err(ScenarioError::new(
                field("at_s"),
                format!("must be from 0 to {YEAR_S} seconds, not {}", spike.at_s),
            ));
        }
        if !(spike.for_s.is_finite() && spike.for_s > 0.0 && spike.for_s <= YEAR_S) {
            return Err(ScenarioError::new(
                field("for_s"),
                format!(
                    "must be above 0 and at most {YEAR_S} seconds, not {}",
                    spike.for_s
                ),
            ));
        }
        let rate = spike.logins_per_hour;
        if !(rate.is_finite() && (0.0..=1e8).contains(&rate)) {
            return Err(ScenarioError::new(
                field("logins_per_hour"),
                "must be between 0 and 100000000",
            ));
        }
    }
    Ok(())
}

/// A skill mixture: at most [`MAX_SKILL_COMPONENTS`] parts, each share above 0, the shares
/// summing to at most 1, each mean within +-100000 and each sd above 0.
fn check_skill_mixture(parts: &[SkillComponent]) -> Result<(), ScenarioError> {
    if parts.len() > MAX_SKILL_COMPONENTS {
        return Err(ScenarioError::new(
            "population.skill_mixture",
            format!("has {} parts; at most {MAX_SKILL_COMPONENTS}", parts.len()),
        ));
    }
    for (index, part) in parts.iter().enumerate() {
        let field = |name: &str| format!("population.skill_mixture[{index}].{name}");
        if !(part.share.is_finite() && part.share > 0.0 && part.share <= 1.0) {
            return Err(ScenarioError::new(
                field("share"),
                format!("must be above 0 and at most 1, not {}", part.share),
            ));
        }
        if !(part.mean.is_finite() && part.mean.abs() <= 1e5) {
            return Err(ScenarioError::new(
                field("mean"),
                "must be a number within +-100000",
            ));
        }
        if !(part.sd.is_finite() && part.sd > 0.0) {
            return Err(ScenarioError::new(
                field("sd"),
                format!("must be above 0, not {}", part.sd),
            ));
        }
    }
    let total: f64 = parts.iter().map(|part| part.share).sum();
    if total > 1.0 + 1e-9 {
        return Err(ScenarioError::new(
            "population.skill_mixture",
            format!("its shares sum to {total}; at most 1 (the rest draw from `skill`)"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHIPPED: [&str; 11] = [
        include_str!("../scenarios/small-population.toml"),
        include_str!("../scenarios/10k-concurrent.toml"),
        include_str!("../scenarios/launch-day.toml"),
        include_str!("../scenarios/uneven-regions.toml"),
        include_str!("../scenarios/role-queue.toml"),
        include_str!("../scenarios/crossplay.toml"),
        include_str!("../scenarios/battle-royale.toml"),
        include_str!("../scenarios/languages.toml"),
        include_str!("../scenarios/night-parties.toml"),
        include_str!("../scenarios/uncertain-launch.toml"),
        include_str!("../scenarios/small-regions.toml"),
    ];

    #[test]
    fn the_shipped_scenarios_load() {
        for text in SHIPPED {
            let scenario = Scenario::from_toml_str(text).unwrap();
            assert_eq!(scenario.matcher.regions.len(), scenario.regions.len());
        }
    }

    #[test]
    fn errors_name_the_field() {
        let text = SHIPPED[0].replace("players = ", "players = 0 #");
        let error = Scenario::from_toml_str(&text).unwrap_err();
        assert_eq!(error.field, "population.players", "{error}");

        let text = format!("{}\n[typo]\nx = 1\n", SHIPPED[0]);
        let error = Scenario::from_toml_str(&text).unwrap_err();
        assert!(error.message.contains("typo"), "{error}");

        let mut table: toml::Table = SHIPPED[0].parse().unwrap();
        set(
            &mut table,
            "matcher.queues.*.skill_window",
            "{ kind = \"linear\", start = 900.0, end = 100.0, over_ms = 1000 }",
        )
        .unwrap();
        let error = Scenario::from_table(table).unwrap_err();
        assert!(
            error.field.starts_with("matcher.queues[0].skill_window"),
            "{error}"
        );
    }

    #[test]
    fn a_skill_mixture_is_checked_part_by_part() {
        let with = |mixture: &str| {
            SHIPPED[0].replace(
                "party_skill_sd = ",
                &format!("skill_mixture = {mixture}\nparty_skill_sd = "),
            )
        };
        let good = with("[{ share = 0.3, mean = 2100.0, sd = 150.0 }]");
        let scenario = Scenario::from_toml_str(&good).unwrap();
        assert_eq!(scenario.population.skill_mixture.len(), 1);
        let nine = ["{ share = 0.1, mean = 1.0, sd = 1.0 }"; 9].join(", ");
        let cases = [
            (
                "[{ share = 0.0, mean = 1.0, sd = 1.0 }]",
                "population.skill_mixture[0].share",
            ),
            (
                "[{ share = 0.5, mean = 1e9, sd = 1.0 }]",
                "population.skill_mixture[0].mean",
            ),
            (
                "[{ share = 0.5, mean = 1.0, sd = 1.0 }, { share = 0.5, mean = 1.0, sd = -1.0 }]",
                "population.skill_mixture[1].sd",
            ),
            (
                "[{ share = 0.7, mean = 1.0, sd = 1.0 }, { share = 0.7, mean = 1.0, sd = 1.0 }]",
                "population.skill_mixture",
            ),
            (&format!("[{nine}]"), "population.skill_mixture"),
            ("[{ share = 0.5, mean = 1.0, sd = 1.0, tail = 2 }]", "toml"),
        ];
        for (mixture, field) in cases {
            let error = Scenario::from_toml_str(&with(mixture)).unwrap_err();
            assert_eq!(error.field, field, "{mixture}: {error}");
        }
    }

    #[test]
    fn arrival_spikes_are_checked_one_by_one() {
        let with = |spikes: &str| {
            SHIPPED[0].replace(
                "games_per_session = ",
                &format!("spikes = {spikes}\ngames_per_session = "),
            )
        };
        let good = with("[{ at_s = 60.0, for_s = 600.0, logins_per_hour = 5000.0 }]");
        let scenario = Scenario::from_toml_str(&good).unwrap();
        assert_eq!(scenario.arrivals.spikes[0].window_ms(), (60_000, 660_000));
        let many = ["{ at_s = 1.0, for_s = 1.0, logins_per_hour = 1.0 }"; 65].join(", ");
        let cases = [
            (
                "[{ at_s = -1.0, for_s = 1.0, logins_per_hour = 1.0 }]",
                "arrivals.spikes[0].at_s",
            ),
            (
                "[{ at_s = nan, for_s = 1.0, logins_per_hour = 1.0 }]",
                "arrivals.spikes[0].at_s",
            ),
            (
                "[{ at_s = 1.0, for_s = 1.0, logins_per_hour = 1.0 }, { at_s = 1.0, for_s = 0.0, logins_per_hour = 1.0 }]",
                "arrivals.spikes[1].for_s",
            ),
            (
                "[{ at_s = 1.0, for_s = 1.0, logins_per_hour = 1e9 }]",
                "arrivals.spikes[0].logins_per_hour",
            ),
            (&format!("[{many}]"), "arrivals.spikes"),
            ("[{ at_s = 1.0, for_s = 1.0, logins = 1.0 }]", "toml"),
        ];
        for (spikes, field) in cases {
            let error = Scenario::from_toml_str(&with(spikes)).unwrap_err();
            assert_eq!(error.field, field, "{spikes}: {error}");
        }
    }

    /// The rules sections are checked against the matcher config, each error naming its field.
    #[test]
    fn rules_sections_are_checked() {
        let crossplay = SHIPPED[5];
        let role = SHIPPED[4];
        let cases = [
            (
                SHIPPED[7].replace(
                    "kind = \"list\"\nname = \"languages\"\nitems",
                    "kind = \"text\"\nname = \"languages\"\nvalues",
                ),
                "population.attributes[0].kind",
            ),
            (
                crossplay.replace("values = [[\"pc\", 0.5]", "values = [[\"pc\", -0.5]"),
                "population.attributes[0].values[0]",
            ),
            (
                crossplay.replace("party_same = 0.9", "party_same = 0.9\nshade = 1"),
                "toml",
            ),
            (
                role.replace("[\"tank\", 0.15], ", ""),
                "queues[0].roles.first",
            ),
            (
                role.replace("[3, 0.3]]", "[4, 0.3]]"),
                "queues[0].roles.accepts[2]",
            ),
            (
                role.replace("size = [2, 6]", "size = [2, 500]"),
                "population.avoid.size",
            ),
        ];
        for (text, field) in cases {
            let error = Scenario::from_toml_str(&text).unwrap_err();
            assert_eq!(error.field, field, "{error}");
        }
        // A role queue needs the players' preferences.
        let text = role.replace("roles = { first", "# roles = { first");
        let error = Scenario::from_toml_str(&text).unwrap_err();
        assert_eq!(error.field, "queues[0].roles", "{error}");
        // A declared attribute without a default must be drawn.
        let text = crossplay.replace(", default = \"pc\"", "").replace(
            "[[population.attributes]]\nkind = \"text\"\nname = \"platform\"",
            "[[population.attributes]]\nkind = \"text\"\nname = \"device\"",
        );
        let error = Scenario::from_toml_str(&text).unwrap_err();
        assert!(error.message.contains("platform"), "{error}");
    }

    #[test]
    fn set_reaches_named_and_all_entries() {
        let mut table: toml::Table = SHIPPED[1].parse().unwrap();
        set(&mut table, "population.players", "12345").unwrap();
        set(&mut table, "matcher.queues.*.max_wait_ms", "120000").unwrap();
        set(
            &mut table,
            "matcher.queues.duel-1v1.skill_window.end",
            "300.0",
        )
        .unwrap();
        let scenario = Scenario::from_table(table.clone()).unwrap();
        assert_eq!(scenario.population.players, 12345);
        assert!(
            scenario
                .matcher
                .queues
                .iter()
                .all(|queue| queue.max_wait_ms == 120_000)
        );
        let duel = &scenario.matcher.queues[scenario.matcher.queue_index("duel-1v1").unwrap()];
        assert_eq!(duel.skill_window.value_at(u64::MAX), 300.0);

        let error = set(&mut table, "matcher.queues.nope.max_wait_ms", "1").unwrap_err();
        assert!(error.message.contains("nope"), "{error}");
        let error = set(&mut table, "population..players", "1").unwrap_err();
        assert_eq!(error.field, "population..players");
    }
}
