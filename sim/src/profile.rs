//! What players carry for match rules, beyond skill and pings: attributes (platform, languages,
//! level), role preferences in role queues, and avoid lists. This module owns the scenario
//! sections that describe them (`[[population.attributes]]`, `[population.avoid]`, a
//! `[[queues]]` entry's `roles`), their checks against the matcher config, and the draws.
//!
//! Everything is drawn once per registered player, when the world is built, from a stream of
//! its own (seeded from the scenario seed), after the population's own draws: a scenario
//! without these sections draws exactly the players it drew before they existed, and the same
//! seed always gives the same attributes, roles and avoid lists.
//!
//! - Attributes: a party's leader draws each attribute; every other member takes the leader's
//!   value with probability `party_same` (a number then moves by `N(0, party_sd)`), else draws
//!   their own.
//! - Roles, per role queue: a first role by the `first` weights, then how many roles the
//!   player accepts by the `accepts` weights, the others drawn by the same weights without
//!   repeats. A party's members must be able to take distinct places of one team (the core
//!   refuses the ticket otherwise): a party whose draws cannot is drawn again, up to 32 times,
//!   then its first roles are dealt from the team's places.
//! - Avoid lists: a `share` of players avoid `size` players, drawn among the players of their
//!   home region whose true skill is within `skill_within` of theirs (the people they are
//!   likely to have met), never a member of their own group; anyone when there is nobody there.

use std::collections::BTreeMap;

use matchwright_ecs::config::{AttributeSpec, RoleConfig};
use matchwright_ecs::{AttributeValue, Config, Rating};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::population::{normal, uniform, weighted};
use crate::scenario::{Normal, QueueSpec, ScenarioError};

/// How one attribute is drawn. `name` is the attribute's name in the matcher's queues
/// (`attributes = [{ kind = "text", name = "platform" }]`): every queue of the scenario that
/// declares an attribute of this name and kind gets each member's value with their tickets.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum AttributeDist {
    /// One of `values`, by weight: `values = [["pc", 0.55], ["playstation", 0.3]]`.
    Text {
        /// The attribute's name.
        name: String,
        /// The values and their weights (at least one above 0).
        values: Vec<(String, f64)>,
        /// Chance that a party member has the leader's value rather than a draw of their own.
        /// Default: 0.9.
        #[serde(default = "default_party_same")]
        party_same: f64,
    },
    /// Each of `items` with its own probability; at least one item (an empty draw takes one
    /// item by the same numbers as weights): `items = [["en", 0.8], ["de", 0.15]]`.
    List {
        /// The attribute's name.
        name: String,
        /// The items and the probability of each.
        items: Vec<(String, f64)>,
        /// Chance that a party member has the leader's list. Default: 0.9.
        #[serde(default = "default_party_same")]
        party_same: f64,
    },
    /// A normal draw, clamped: `normal = { mean = 50.0, sd = 20.0 }, clamp = [1.0, 100.0]`.
    Number {
        /// The attribute's name.
        name: String,
        /// The distribution.
        normal: Normal,
        /// The least and the most value. Default: none.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        clamp: Option<(f64, f64)>,
        /// Whether values are rounded to whole numbers. Default: false.
        #[serde(default)]
        integer: bool,
        /// Chance that a party member's value is the leader's (plus `party_sd` noise).
        /// Default: 0.9.
        #[serde(default = "default_party_same")]
        party_same: f64,
        /// With `party_same`: the member's value is the leader's plus `N(0, party_sd)`.
        /// Default: 0.
        #[serde(default)]
        party_sd: f64,
    },
}

fn default_party_same() -> f64 {
    0.9
}

impl AttributeDist {
    /// The attribute's name.
    pub fn name(&self) -> &str {
        match self {
            Self::Text { name, .. } | Self::List { name, .. } | Self::Number { name, .. } => name,
        }
    }

    /// The kind's name, as a queue's `attributes` say it.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Self::Text { .. } => "text",
            Self::List { .. } => "list",
            Self::Number { .. } => "number",
        }
    }

    fn party_same(&self) -> f64 {
        match self {
            Self::Text { party_same, .. }
            | Self::List { party_same, .. }
            | Self::Number { party_same, .. } => *party_same,
        }
    }
}

/// Players with an avoid list (`[population.avoid]`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AvoidSpec {
    /// Share of players with an avoid list. Default: 0.
    pub share: f64,
    /// Players on a list, uniform in this range. Default: [1, 3].
    pub size: (u16, u16),
    /// Targets are players of the same home region within this much true skill. Default: 300.
    pub skill_within: f64,
}

impl Default for AvoidSpec {
    fn default() -> Self {
        Self {
            share: 0.0,
            size: (1, 3),
            skill_within: 300.0,
        }
    }
}

/// Role preferences of a role queue's players (a `[[queues]]` entry's `roles`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleSpec {
    /// Every role of the queue's composition with the weight of it being a player's first
    /// choice (later choices are drawn by the same weights).
    pub first: Vec<(String, f64)>,
    /// How many roles a player accepts (1 to the number of roles), with weights.
    pub accepts: Vec<(u8, f64)>,
    /// A player's true skill in a role other than their first choice is this much lower; in
    /// a queue rated per role, their starting rating there too. Default: 0.
    #[serde(default)]
    pub off_role_mmr: f64,
}

/// One player's profile.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Profile {
    /// One value per `[[population.attributes]]` entry, in that order.
    pub attributes: Vec<AttributeValue>,
    /// Per role queue of the scenario (in `[[queues]]` order among role queues): the role
    /// indices (in the queue's composition) the player accepts, most wanted first.
    pub roles: Vec<Vec<u8>>,
    /// The players (indices) this player avoids.
    pub avoid: Vec<u32>,
}

/// What the draws need to know of a registered player.
#[derive(Clone, Copy, Debug)]
pub struct Registered {
    /// True skill.
    pub skill: f64,
    /// Home region.
    pub home: usize,
    /// The player's group.
    pub group: u32,
}

/// Checks the rules sections against each other and the matcher config.
pub(crate) fn validate(
    attributes: &[AttributeDist],
    avoid: &AvoidSpec,
    queues: &[QueueSpec],
    matcher: &Config,
) -> Result<(), ScenarioError> {
    let limits = &matcher.limits;
    let share = |field: String, value: f64| {
        if (0.0..=1.0).contains(&value) {
            Ok(())
        } else {
            Err(ScenarioError::new(
                field,
                format!("must be between 0 and 1, not {value}"),
            ))
        }
    };
    for (index, dist) in attributes.iter().enumerate() {
        let field = format!("population.attributes[{index}]");
        let name = dist.name();
        if name.is_empty() || name.len() > usize::from(limits.max_attribute_name_bytes) {
            return Err(ScenarioError::new(
                format!("{field}.name"),
                format!(
                    "must be 1 to {} bytes (the matcher's limits.max_attribute_name_bytes)",
                    limits.max_attribute_name_bytes
                ),
            ));
        }
        if attributes[..index].iter().any(|d| d.name() == name) {
            return Err(ScenarioError::new(
                format!("{field}.name"),
                format!("attribute `{name}` is drawn twice"),
            ));
        }
        share(format!("{field}.party_same"), dist.party_same())?;
        let max_bytes = usize::from(limits.max_attribute_value_bytes);
        match dist {
            AttributeDist::Text { values, .. } => {
                weights_ok(&format!("{field}.values"), values, max_bytes)?;
            }
            AttributeDist::List { items, .. } => {
                weights_ok(&format!("{field}.items"), items, max_bytes)?;
                for (at, (_, p)) in items.iter().enumerate() {
                    share(format!("{field}.items[{at}]"), *p)?;
                }
                if items.len() > usize::from(limits.max_attribute_list_len) {
                    return Err(ScenarioError::new(
                        format!("{field}.items"),
                        format!(
                            "at most {} items (the matcher's limits.max_attribute_list_len)",
                            limits.max_attribute_list_len
                        ),
                    ));
                }
            }
            AttributeDist::Number {
                normal,
                clamp,
                party_sd,
                ..
            } => {
                if !(normal.mean.is_finite() && normal.sd.is_finite() && normal.sd >= 0.0) {
                    return Err(ScenarioError::new(
                        format!("{field}.normal"),
                        "needs a finite mean and an sd of 0 or more",
                    ));
                }
                if let Some((low, high)) = clamp
                    && !(low.is_finite() && high.is_finite() && low <= high)
                {
                    return Err(ScenarioError::new(
                        format!("{field}.clamp"),
                        "must be [low, high] with low <= high",
                    ));
                }
                if !(party_sd.is_finite() && *party_sd >= 0.0) {
                    return Err(ScenarioError::new(
                        format!("{field}.party_sd"),
                        "must be 0 or more",
                    ));
                }
            }
        }
    }

    share("population.avoid.share".into(), avoid.share)?;
    if avoid.share > 0.0 {
        let (low, high) = avoid.size;
        if low == 0 || low > high || high > limits.max_avoid_list {
            return Err(ScenarioError::new(
                "population.avoid.size",
                format!(
                    "must be [low, high] with 1 <= low <= high <= {} (the matcher's limits.max_avoid_list)",
                    limits.max_avoid_list
                ),
            ));
        }
        if !(avoid.skill_within.is_finite() && avoid.skill_within > 0.0) {
            return Err(ScenarioError::new(
                "population.avoid.skill_within",
                "must be above 0",
            ));
        }
    }

    for (index, spec) in queues.iter().enumerate() {
        let field = format!("queues[{index}]");
        // The scenario's own checks have made sure the queue exists.
        let Some(queue) = matcher.queues.iter().find(|q| q.name == spec.name) else {
            continue;
        };
        for declared in &queue.attributes {
            match attributes.iter().position(|d| d.name() == declared.name()) {
                Some(at) if attributes[at].kind_name() != declared.kind_name() => {
                    return Err(ScenarioError::new(
                        format!("population.attributes[{at}].kind"),
                        format!(
                            "queue `{}` declares `{}` as {}; the population draws it as {}",
                            queue.name,
                            declared.name(),
                            declared.kind_name(),
                            attributes[at].kind_name()
                        ),
                    ));
                }
                Some(_) => {}
                None if !has_default(declared) => {
                    return Err(ScenarioError::new(
                        "population.attributes",
                        format!(
                            "queue `{}` needs `{}` ({}, no default): draw it in [[population.attributes]]",
                            queue.name,
                            declared.name(),
                            declared.kind_name()
                        ),
                    ));
                }
                None => {}
            }
        }
        match (&queue.roles, &spec.roles) {
            (Some(config), Some(roles)) => {
                validate_roles(&format!("{field}.roles"), &queue.name, config, roles)?;
            }
            (Some(config), None) => {
                return Err(ScenarioError::new(
                    format!("{field}.roles"),
                    format!(
                        "queue `{}` is a role queue ({} roles): give the players' role preferences, e.g. roles = {{ first = [[\"{}\", 1.0]], accepts = [[1, 1.0]] }}",
                        queue.name,
                        config.composition.len(),
                        config.composition[0].role
                    ),
                ));
            }
            (None, Some(_)) => {
                return Err(ScenarioError::new(
                    format!("{field}.roles"),
                    format!("queue `{}` has no roles in the matcher config", queue.name),
                ));
            }
            (None, None) => {}
        }
    }
    Ok(())
}

fn has_default(spec: &AttributeSpec) -> bool {
    match spec {
        AttributeSpec::Text { default, .. } => default.is_some(),
        AttributeSpec::Number { default, .. } => default.is_some(),
        AttributeSpec::List { default, .. } => default.is_some(),
    }
}

fn weights_ok(
    field: &str,
    values: &[(String, f64)],
    max_bytes: usize,
) -> Result<(), ScenarioError> {
    if values.is_empty() || values.iter().all(|(_, w)| *w <= 0.0) {
        return Err(ScenarioError::new(
            field,
            "needs at least one value with a weight above 0",
        ));
    }
    for (at, (value, weight)) in values.iter().enumerate() {
        if !(weight.is_finite() && *weight >= 0.0) {
            return Err(ScenarioError::new(
                format!("{field}[{at}]"),
                "a weight must be 0 or more",
            ));
        }
        if value.len() > max_bytes {
            return Err(ScenarioError::new(
                format!("{field}[{at}]"),
                format!(
                    "longer than {max_bytes} bytes (the matcher's limits.max_attribute_value_bytes)"
                ),
            ));
        }
        if values[..at].iter().any(|(v, _)| v == value) {
            return Err(ScenarioError::new(
                format!("{field}[{at}]"),
                format!("`{value}` is listed twice"),
            ));
        }
    }
    Ok(())
}

fn validate_roles(
    field: &str,
    queue: &str,
    config: &RoleConfig,
    roles: &RoleSpec,
) -> Result<(), ScenarioError> {
    let names: Vec<&str> = config.composition.iter().map(|s| s.role.as_str()).collect();
    for (at, (role, weight)) in roles.first.iter().enumerate() {
        if !names.contains(&role.as_str()) {
            return Err(ScenarioError::new(
                format!("{field}.first[{at}]"),
                format!(
                    "queue `{queue}` has no role `{role}` (it has {})",
                    names.join(", ")
                ),
            ));
        }
        if !(weight.is_finite() && *weight >= 0.0) {
            return Err(ScenarioError::new(
                format!("{field}.first[{at}]"),
                "a weight must be 0 or more",
            ));
        }
        if roles.first[..at].iter().any(|(r, _)| r == role) {
            return Err(ScenarioError::new(
                format!("{field}.first[{at}]"),
                format!("role `{role}` is listed twice"),
            ));
        }
    }
    if let Some(missing) = names
        .iter()
        .find(|name| !roles.first.iter().any(|(r, _)| r == *name))
    {
        return Err(ScenarioError::new(
            format!("{field}.first"),
            format!(
                "every role of queue `{queue}` needs a weight (0 is allowed): `{missing}` has none"
            ),
        ));
    }
    if roles.first.iter().all(|(_, w)| *w <= 0.0) {
        return Err(ScenarioError::new(
            format!("{field}.first"),
            "needs a role with a weight above 0",
        ));
    }
    if roles.accepts.is_empty() || roles.accepts.iter().all(|(_, w)| *w <= 0.0) {
        return Err(ScenarioError::new(
            format!("{field}.accepts"),
            "needs at least one count with a weight above 0",
        ));
    }
    for (at, (count, weight)) in roles.accepts.iter().enumerate() {
        if *count == 0
            || usize::from(*count) > names.len()
            || !(weight.is_finite() && *weight >= 0.0)
        {
            return Err(ScenarioError::new(
                format!("{field}.accepts[{at}]"),
                format!(
                    "a count between 1 and {} (the queue's roles) with a weight of 0 or more",
                    names.len()
                ),
            ));
        }
    }
    if !(roles.off_role_mmr.is_finite() && roles.off_role_mmr >= 0.0) {
        return Err(ScenarioError::new(
            format!("{field}.off_role_mmr"),
            "must be 0 or more",
        ));
    }
    Ok(())
}

/// The draws, for one scenario.
pub struct Draws<'a> {
    /// `[[population.attributes]]`.
    pub attributes: &'a [AttributeDist],
    /// `[population.avoid]`.
    pub avoid: &'a AvoidSpec,
    /// The role queues: their composition and the players' preferences.
    pub role_queues: Vec<(&'a RoleConfig, &'a RoleSpec)>,
}

impl Draws<'_> {
    /// Whether anything is drawn at all.
    pub fn is_empty(&self) -> bool {
        self.attributes.is_empty() && self.avoid.share <= 0.0 && self.role_queues.is_empty()
    }

    /// Every player's profile, from `rng`. `groups` lists each group's players (indices into
    /// `players`), leader first.
    pub fn draw(
        &self,
        rng: &mut ChaCha8Rng,
        players: &[Registered],
        groups: &[Vec<u32>],
    ) -> Vec<Profile> {
        let mut profiles = vec![Profile::default(); players.len()];
        if self.is_empty() {
            return profiles;
        }
        for members in groups {
            let leader: Vec<AttributeValue> = self
                .attributes
                .iter()
                .map(|dist| draw_value(rng, dist))
                .collect();
            for (position, member) in members.iter().enumerate() {
                profiles[*member as usize].attributes = if position == 0 {
                    leader.clone()
                } else {
                    self.attributes
                        .iter()
                        .zip(&leader)
                        .map(|(dist, value)| member_value(rng, dist, value))
                        .collect()
                };
            }
            for (config, spec) in &self.role_queues {
                let roles = party_roles(rng, config, spec, members.len());
                for (member, list) in members.iter().zip(roles) {
                    profiles[*member as usize].roles.push(list);
                }
            }
        }
        if self.avoid.share > 0.0 {
            draw_avoid(rng, self.avoid, players, &mut profiles);
        }
        profiles
    }
}

fn round(value: f64, clamp: Option<(f64, f64)>, integer: bool) -> f64 {
    let value = if integer { value.round() } else { value };
    match clamp {
        Some((low, high)) => value.clamp(low, high),
        None => value,
    }
}

fn draw_value(rng: &mut ChaCha8Rng, dist: &AttributeDist) -> AttributeValue {
    match dist {
        AttributeDist::Text { values, .. } => {
            let weights: Vec<f64> = values.iter().map(|(_, w)| *w).collect();
            AttributeValue::Text(values[weighted(rng, &weights)].0.clone())
        }
        AttributeDist::List { items, .. } => {
            let mut list: Vec<String> = items
                .iter()
                .filter(|(_, p)| rng.random_bool(p.clamp(0.0, 1.0)))
                .map(|(item, _)| item.clone())
                .collect();
            if list.is_empty() {
                let weights: Vec<f64> = items.iter().map(|(_, p)| *p).collect();
                list.push(items[weighted(rng, &weights)].0.clone());
            }
            AttributeValue::List(list)
        }
        AttributeDist::Number {
            normal: spec,
            clamp,
            integer,
            ..
        } => AttributeValue::Number(round(normal(rng, spec.mean, spec.sd), *clamp, *integer)),
    }
}

fn member_value(
    rng: &mut ChaCha8Rng,
    dist: &AttributeDist,
    leader: &AttributeValue,
) -> AttributeValue {
    if !rng.random_bool(dist.party_same().clamp(0.0, 1.0)) {
        return draw_value(rng, dist);
    }
    match (dist, leader) {
        (
            AttributeDist::Number {
                clamp,
                integer,
                party_sd,
                ..
            },
            AttributeValue::Number(value),
        ) if *party_sd > 0.0 => {
            AttributeValue::Number(round(normal(rng, *value, *party_sd), *clamp, *integer))
        }
        _ => leader.clone(),
    }
}

/// One player's roles: the first by weight, then as many more as `accepts` draws, by the same
/// weights, without repeats.
fn player_roles(rng: &mut ChaCha8Rng, weights: &[f64], spec: &RoleSpec) -> Vec<u8> {
    let counts: Vec<f64> = spec.accepts.iter().map(|(_, w)| *w).collect();
    let count = usize::from(spec.accepts[weighted(rng, &counts)].0).min(weights.len());
    let mut left = weights.to_vec();
    let mut roles = Vec::with_capacity(count);
    while roles.len() < count {
        let at = if left.iter().any(|w| *w > 0.0) {
            let at = weighted(rng, &left);
            if left[at] > 0.0 {
                at
            } else {
                // Rounding at the end of the weights: the last open role with a weight.
                left.iter().rposition(|w| *w > 0.0).unwrap_or(at)
            }
        } else {
            // Only roles of weight 0 are left: any of them.
            let open: Vec<usize> = (0..left.len())
                .filter(|r| !roles.contains(&(*r as u8)))
                .collect();
            open[rng.random_range(0..open.len())]
        };
        left[at] = 0.0;
        roles.push(at as u8);
    }
    roles
}

/// The roles of a group's members: each drawn, and for a party drawn again until its members
/// can take distinct places of one team; after 32 tries the first roles are dealt from the
/// team's places.
fn party_roles(
    rng: &mut ChaCha8Rng,
    config: &RoleConfig,
    spec: &RoleSpec,
    size: usize,
) -> Vec<Vec<u8>> {
    let weights: Vec<f64> = config
        .composition
        .iter()
        .map(|slot| {
            spec.first
                .iter()
                .find(|(role, _)| *role == slot.role)
                .map_or(0.0, |(_, w)| *w)
        })
        .collect();
    for _ in 0..32 {
        let roles: Vec<Vec<u8>> = (0..size)
            .map(|_| player_roles(rng, &weights, spec))
            .collect();
        if size == 1 || fits_one_team(config, &roles) {
            return roles;
        }
    }
    let mut places: Vec<u8> = config
        .composition
        .iter()
        .enumerate()
        .flat_map(|(role, slot)| std::iter::repeat_n(role as u8, usize::from(slot.count)))
        .collect();
    for index in (1..places.len()).rev() {
        let other = rng.random_range(0..=index);
        places.swap(index, other);
    }
    (0..size)
        .map(|member| vec![places[member % places.len()]])
        .collect()
}

/// Hall's condition: for every set of roles, the members who accept only roles in it are no
/// more than the set's places in one team.
pub(crate) fn fits_one_team(config: &RoleConfig, roles: &[Vec<u8>]) -> bool {
    let count = config.composition.len();
    (1_u32..(1 << count)).all(|set| {
        let places: usize = (0..count)
            .filter(|role| set & (1 << role) != 0)
            .map(|role| usize::from(config.composition[role].count))
            .sum();
        let confined = roles
            .iter()
            .filter(|list| list.iter().all(|role| set & (1 << role) != 0))
            .count();
        confined <= places
    })
}

fn draw_avoid(
    rng: &mut ChaCha8Rng,
    spec: &AvoidSpec,
    players: &[Registered],
    profiles: &mut [Profile],
) {
    // Per home region, players by true skill.
    let regions = players.iter().map(|p| p.home + 1).max().unwrap_or(0);
    let mut by_region: Vec<Vec<u32>> = vec![Vec::new(); regions];
    for (index, player) in players.iter().enumerate() {
        by_region[player.home].push(index as u32);
    }
    for list in &mut by_region {
        list.sort_by(|a, b| {
            players[*a as usize]
                .skill
                .total_cmp(&players[*b as usize].skill)
                .then(a.cmp(b))
        });
    }
    for (index, player) in players.iter().enumerate() {
        if !rng.random_bool(spec.share) {
            continue;
        }
        let size = usize::from(crate::population::uniform_u16(rng, spec.size));
        let near = &by_region[player.home];
        let skill = |at: &u32| players[*at as usize].skill;
        let from = near.partition_point(|at| skill(at) < player.skill - spec.skill_within);
        let to = near.partition_point(|at| skill(at) <= player.skill + spec.skill_within);
        let mut list: Vec<u32> = Vec::with_capacity(size);
        for _ in 0..size * 8 {
            if list.len() == size {
                break;
            }
            let target = if to > from + 1 {
                near[rng.random_range(from..to)]
            } else {
                rng.random_range(0..players.len() as u32)
            };
            let other = &players[target as usize];
            if target as usize != index && other.group != player.group && !list.contains(&target) {
                list.push(target);
            }
        }
        profiles[index].avoid = list;
    }
}

/// A player's starting rating in a role: the matcher's initial rating for a new player, else
/// their true skill in the role plus the population's rating error, with a uniform sigma.
pub(crate) fn role_rating(
    rng: &mut ChaCha8Rng,
    new_player: bool,
    initial: Rating,
    skill: f64,
    error_sd: f64,
    sigma: (f64, f64),
) -> Rating {
    if new_player {
        return initial;
    }
    Rating {
        mu: normal(rng, skill, error_sd),
        sigma: uniform(rng, sigma),
        volatility: initial.volatility,
    }
}

/// The value a member of a queue's ticket has for each attribute the queue declares: the
/// drawn one, else the declared default (`None`: neither, which the checks rule out).
pub fn resolved_attributes(
    declared: &[AttributeSpec],
    drawn: &[AttributeDist],
    profile: &Profile,
) -> BTreeMap<String, Option<AttributeValue>> {
    declared
        .iter()
        .map(|spec| {
            let value = drawn
                .iter()
                .position(|d| d.name() == spec.name())
                .and_then(|at| profile.attributes.get(at).cloned())
                .or_else(|| match spec {
                    AttributeSpec::Text { default, .. } => {
                        default.clone().map(AttributeValue::Text)
                    }
                    AttributeSpec::Number { default, .. } => default.map(AttributeValue::Number),
                    AttributeSpec::List { default, .. } => {
                        default.clone().map(AttributeValue::List)
                    }
                });
            (spec.name().to_string(), value)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use matchwright_ecs::config::RoleSlot;
    use rand_chacha::rand_core::SeedableRng;

    fn composition() -> RoleConfig {
        RoleConfig {
            composition: [("tank", 1), ("damage", 2), ("support", 2)]
                .iter()
                .map(|(role, count)| RoleSlot {
                    role: (*role).into(),
                    count: *count,
                })
                .collect(),
            rating_per_role: false,
        }
    }

    fn roles() -> RoleSpec {
        RoleSpec {
            first: vec![
                ("tank".into(), 0.15),
                ("damage".into(), 0.5),
                ("support".into(), 0.35),
            ],
            accepts: vec![(1, 0.4), (2, 0.3), (3, 0.3)],
            off_role_mmr: 100.0,
        }
    }

    #[test]
    fn parties_can_always_fill_one_team_and_draws_repeat() {
        let config = composition();
        let spec = roles();
        let mut one = ChaCha8Rng::seed_from_u64(3);
        let mut two = ChaCha8Rng::seed_from_u64(3);
        for size in [1, 2, 3, 4, 5, 5, 5, 5] {
            for _ in 0..200 {
                let drawn = party_roles(&mut one, &config, &spec, size);
                assert_eq!(drawn, party_roles(&mut two, &config, &spec, size));
                assert_eq!(drawn.len(), size);
                assert!(fits_one_team(&config, &drawn), "{drawn:?}");
                for list in &drawn {
                    assert!(!list.is_empty() && list.len() <= 3);
                    let mut sorted = list.clone();
                    sorted.sort_unstable();
                    sorted.dedup();
                    assert_eq!(sorted.len(), list.len(), "no role twice: {list:?}");
                }
            }
        }
    }

    #[test]
    fn lists_have_an_item_and_numbers_stay_clamped() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let list = AttributeDist::List {
            name: "languages".into(),
            items: vec![("en".into(), 0.05), ("de".into(), 0.05)],
            party_same: 0.9,
        };
        let number = AttributeDist::Number {
            name: "level".into(),
            normal: Normal {
                mean: 50.0,
                sd: 40.0,
            },
            clamp: Some((1.0, 100.0)),
            integer: true,
            party_same: 0.9,
            party_sd: 5.0,
        };
        for _ in 0..500 {
            let AttributeValue::List(items) = draw_value(&mut rng, &list) else {
                panic!("a list");
            };
            assert!(!items.is_empty());
            let AttributeValue::Number(value) = draw_value(&mut rng, &number) else {
                panic!("a number");
            };
            assert!((1.0..=100.0).contains(&value) && value.fract() == 0.0);
        }
    }

    #[test]
    fn avoid_targets_are_others_of_the_region_near_in_skill() {
        let players: Vec<Registered> = (0..400)
            .map(|index| Registered {
                skill: 1000.0 + f64::from(index) * 5.0,
                home: (index % 2) as usize,
                group: index / 2,
            })
            .collect();
        let spec = AvoidSpec {
            share: 0.5,
            size: (1, 4),
            skill_within: 100.0,
        };
        let mut profiles = vec![Profile::default(); players.len()];
        draw_avoid(
            &mut ChaCha8Rng::seed_from_u64(9),
            &spec,
            &players,
            &mut profiles,
        );
        let with_list = profiles.iter().filter(|p| !p.avoid.is_empty()).count();
        assert!((150..250).contains(&with_list), "{with_list}");
        for (index, profile) in profiles.iter().enumerate() {
            for target in &profile.avoid {
                let (me, them) = (&players[index], &players[*target as usize]);
                assert_ne!(me.group, them.group);
                assert_eq!(me.home, them.home);
                assert!((me.skill - them.skill).abs() <= 100.0);
            }
        }
    }
}
