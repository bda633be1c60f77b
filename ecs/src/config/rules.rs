//! A queue's match rules, as a game designer writes them: the attributes its tickets carry,
//! the rules over them (each with an optional expansion over waiting time and an optional age
//! after which it no longer binds), block lists, role compositions and flexible team counts.
//! This file owns their shapes and their validation; `crate::rules` applies them.

use serde::{Deserialize, Serialize};

use super::{ConfigError, Limits, QueueConfig, check_duration};
use crate::curve::{Curve, Direction};

/// At most this many roles in a composition (a member's accepted roles are an 8-bit mask).
pub const MAX_ROLES: usize = 8;
/// At most this many rules per queue.
pub const MAX_RULES: usize = 20;
/// At most this many attributes a queue declares.
pub const MAX_DECLARED_ATTRIBUTES: usize = 32;

/// An attribute a queue's tickets carry: its name, its type and, optionally, the value a
/// member who does not give it has. Without a default, every member must give it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum AttributeSpec {
    /// A string (platform, language, game version).
    Text {
        /// The attribute's name.
        name: String,
        /// The value of a member who does not give one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        default: Option<String>,
    },
    /// A finite number (level, gear score).
    Number {
        /// The attribute's name.
        name: String,
        /// The value of a member who does not give one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        default: Option<f64>,
    },
    /// A list of strings (maps wanted, languages spoken).
    List {
        /// The attribute's name.
        name: String,
        /// The value of a member who does not give one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        default: Option<Vec<String>>,
    },
}

impl AttributeSpec {
    /// The attribute's name.
    pub fn name(&self) -> &str {
        match self {
            Self::Text { name, .. } | Self::Number { name, .. } | Self::List { name, .. } => name,
        }
    }

    /// The type's name, as errors say it.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Self::Text { .. } => "text",
            Self::Number { .. } => "number",
            Self::List { .. } => "list",
        }
    }
}

/// Where a rule applies: across the whole match, or within each team.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleScope {
    /// Every player of the match.
    #[default]
    Match,
    /// Each team on its own (equality), or between the teams' means (distance).
    Team,
}

/// How a party's numbers count for a distance rule.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NumberAggregate {
    /// Every member counts (the party spans from its lowest to its highest value).
    #[default]
    All,
    /// The lowest member's value.
    Min,
    /// The highest member's value.
    Max,
    /// The members' mean.
    Mean,
}

/// How a party's lists count for an overlap rule.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ListAggregate {
    /// What every member has (the party wants a map only if all members do).
    #[default]
    Intersection,
    /// What any member has (a language any member speaks).
    Union,
}

/// One match rule. Every rule has a `name` (errors, explain and the simulator's report use
/// it) and may have `optional_after_ms`: a ticket that has waited that long no longer asks for
/// the rule. A rule binds a match while it binds any of its tickets.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Rule {
    /// A text attribute has one value across the match (`scope = "match"`) or within each
    /// team (`scope = "team"`). Every member of a party must have it.
    Equal {
        /// The rule's name.
        name: String,
        /// A `text` attribute.
        attribute: String,
        /// Match or team. Default: match.
        #[serde(default)]
        scope: RuleScope,
        /// Waiting time after which a ticket no longer asks for it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        optional_after_ms: Option<u64>,
    },
    /// The tickets' lists share at least `at_least` values (a curve over waiting time that
    /// may relax: the strictest binding ticket's value counts, rounded up).
    Overlap {
        /// The rule's name.
        name: String,
        /// A `list` attribute.
        attribute: String,
        /// Values shared, over waiting time. Default: 1 throughout.
        #[serde(default = "one_throughout")]
        at_least: Curve,
        /// How a party's lists combine. Default: intersection.
        #[serde(default)]
        party: ListAggregate,
        /// Waiting time after which a ticket no longer asks for it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        optional_after_ms: Option<u64>,
    },
    /// A number's spread across the match (`scope = "match"`), or the gap between the
    /// teams' means (`scope = "team"`), is at most `max` (a curve that may widen; the
    /// strictest binding ticket's value counts).
    Distance {
        /// The rule's name.
        name: String,
        /// A `number` attribute.
        attribute: String,
        /// The largest spread or gap, over waiting time.
        max: Curve,
        /// Match or team. Default: match.
        #[serde(default)]
        scope: RuleScope,
        /// How a party's numbers count. Default: all.
        #[serde(default)]
        party: NumberAggregate,
        /// Waiting time after which a ticket no longer asks for it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        optional_after_ms: Option<u64>,
    },
    /// A party's members' ratings (mu) are at most `max` apart for this queue; a party further
    /// apart waits until the curve has widened to its spread.
    PartySkillSpread {
        /// The rule's name.
        name: String,
        /// The largest spread inside a party, over waiting time.
        max: Curve,
        /// Waiting time after which a party no longer needs it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        optional_after_ms: Option<u64>,
    },
}

fn one_throughout() -> Curve {
    Curve::Steps {
        steps: vec![crate::curve::Step {
            after_ms: 0,
            value: 1.0,
        }],
    }
}

impl Rule {
    /// The rule's name.
    pub fn name(&self) -> &str {
        match self {
            Self::Equal { name, .. }
            | Self::Overlap { name, .. }
            | Self::Distance { name, .. }
            | Self::PartySkillSpread { name, .. } => name,
        }
    }

    /// The attribute it reads, if any.
    pub fn attribute(&self) -> Option<&str> {
        match self {
            Self::Equal { attribute, .. }
            | Self::Overlap { attribute, .. }
            | Self::Distance { attribute, .. } => Some(attribute),
            Self::PartySkillSpread { .. } => None,
        }
    }

    /// The waiting time after which a ticket no longer asks for it.
    pub fn optional_after_ms(&self) -> Option<u64> {
        match self {
            Self::Equal {
                optional_after_ms, ..
            }
            | Self::Overlap {
                optional_after_ms, ..
            }
            | Self::Distance {
                optional_after_ms, ..
            }
            | Self::PartySkillSpread {
                optional_after_ms, ..
            } => *optional_after_ms,
        }
    }

    /// Whether it binds a ticket that has waited `waited_ms`.
    pub fn binds_at(&self, waited_ms: u64) -> bool {
        self.optional_after_ms()
            .is_none_or(|after| waited_ms < after)
    }

    /// Its expansion curve, and which way it moves, if it has one.
    pub fn curve(&self) -> Option<(&Curve, Direction)> {
        match self {
            Self::Overlap { at_least, .. } => Some((at_least, Direction::NonIncreasing)),
            Self::Distance { max, .. } | Self::PartySkillSpread { max, .. } => {
                Some((max, Direction::NonDecreasing))
            }
            Self::Equal { .. } => None,
        }
    }

    /// The kind's name, as the docs and explain say it.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Self::Equal { .. } => "equal",
            Self::Overlap { .. } => "overlap",
            Self::Distance { .. } => "distance",
            Self::PartySkillSpread { .. } => "party_skill_spread",
        }
    }
}

/// Who a player's avoid list keeps apart in a queue.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockScope {
    /// A blocked pair is never in the same match.
    #[default]
    Match,
    /// A blocked pair may be teammates, never opponents.
    OpposingTeams,
    /// Avoid lists are not used in this queue.
    Off,
}

/// One role of a team composition and how many of it a team has.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleSlot {
    /// The role's name.
    pub role: String,
    /// Players of the role in each team (at least 1).
    pub count: u8,
}

/// A role queue: every team is filled with exactly this composition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleConfig {
    /// Each team's roles; the counts add up to `team_size`. At most 8 roles.
    pub composition: Vec<RoleSlot>,
    /// Whether players are rated per role (rating key: mode and role). Tickets then give a
    /// rating with each role they accept, and team balance uses the role played. Default: false.
    #[serde(default)]
    pub rating_per_role: bool,
}

impl RoleConfig {
    /// The index of a role.
    pub fn role_index(&self, role: &str) -> Option<usize> {
        self.composition.iter().position(|slot| slot.role == role)
    }
}

/// Flexible team counts and sizes: `teams` and `team_size` are the most; a match may form
/// with fewer once `fill_wait_ms` has passed for its oldest ticket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlexibleSize {
    /// The fewest teams a match has. At least 2, at most `teams`.
    pub min_teams: u8,
    /// The fewest players a team has. At least 1, at most `team_size`.
    pub min_team_size: u8,
    /// How long the oldest ticket of a smaller-than-full match must have waited. Before it,
    /// only full matches form. Default: 0.
    #[serde(default)]
    pub fill_wait_ms: u64,
}

impl QueueConfig {
    /// The fewest players a match of this queue has.
    pub fn min_players_per_match(&self) -> usize {
        match &self.flexible {
            Some(flexible) => usize::from(flexible.min_teams) * usize::from(flexible.min_team_size),
            None => self.players_per_match(),
        }
    }

    /// The attribute declared with this name.
    pub fn attribute(&self, name: &str) -> Option<&AttributeSpec> {
        self.attributes.iter().find(|spec| spec.name() == name)
    }

    /// Whether the queue has match rules or a role composition: every ticket of it then
    /// carries rules data, and each offered ticket is checked against them. (Avoid lists
    /// alone are checked only when a ticket has one.)
    pub fn has_rules(&self) -> bool {
        !self.rules.is_empty() || self.roles.is_some()
    }

    /// Validates the attributes, rules, roles and flexible sizes of the queue at `field`.
    pub(super) fn validate_rules(&self, field: &str, limits: &Limits) -> Result<(), ConfigError> {
        self.validate_attributes(field, limits)?;
        if self.rules.len() > MAX_RULES {
            return Err(ConfigError::new(
                format!("{field}.rules"),
                format!("at most {MAX_RULES} rules, not {}", self.rules.len()),
            ));
        }
        for (index, rule) in self.rules.iter().enumerate() {
            let at = format!("{field}.rules[{index}]");
            if rule.name().trim().is_empty() {
                return Err(ConfigError::new(
                    format!("{at}.name"),
                    "a rule needs a name",
                ));
            }
            if self.rules[..index].iter().any(|r| r.name() == rule.name()) {
                return Err(ConfigError::new(
                    format!("{at}.name"),
                    format!("rule name `{}` is used twice", rule.name()),
                ));
            }
            self.validate_rule(&at, rule)?;
        }
        if let Some(roles) = &self.roles {
            self.validate_roles(&format!("{field}.roles"), roles)?;
        }
        if let Some(flexible) = &self.flexible {
            self.validate_flexible(&format!("{field}.flexible"), flexible)?;
        }
        if self.block_lists == BlockScope::OpposingTeams
            && (self.roles.is_some() || self.flexible.is_some())
        {
            return Err(ConfigError::new(
                format!("{field}.block_lists"),
                format!(
                    "queue `{}`: \"opposing_teams\" needs fixed teams without roles; use \"match\"",
                    self.name
                ),
            ));
        }
        Ok(())
    }

    fn validate_attributes(&self, field: &str, limits: &Limits) -> Result<(), ConfigError> {
        if self.attributes.len() > MAX_DECLARED_ATTRIBUTES {
            return Err(ConfigError::new(
                format!("{field}.attributes"),
                format!("at most {MAX_DECLARED_ATTRIBUTES} attributes"),
            ));
        }
        for (index, spec) in self.attributes.iter().enumerate() {
            let at = format!("{field}.attributes[{index}]");
            let name = spec.name();
            if name.is_empty() || name.len() > usize::from(limits.max_attribute_name_bytes) {
                return Err(ConfigError::new(
                    format!("{at}.name"),
                    format!(
                        "must be 1 to {} bytes, not {}",
                        limits.max_attribute_name_bytes,
                        name.len()
                    ),
                ));
            }
            if self.attributes[..index].iter().any(|s| s.name() == name) {
                return Err(ConfigError::new(
                    format!("{at}.name"),
                    format!("attribute `{name}` is declared twice"),
                ));
            }
            let value_ok = match spec {
                AttributeSpec::Text { default, .. } => default
                    .as_ref()
                    .is_none_or(|text| text.len() <= usize::from(limits.max_attribute_value_bytes)),
                AttributeSpec::Number { default, .. } => default.is_none_or(f64::is_finite),
                AttributeSpec::List { default, .. } => default.as_ref().is_none_or(|list| {
                    list.len() <= usize::from(limits.max_attribute_list_len)
                        && list
                            .iter()
                            .all(|item| item.len() <= usize::from(limits.max_attribute_value_bytes))
                }),
            };
            if !value_ok {
                return Err(ConfigError::new(
                    format!("{at}.default"),
                    "is beyond the attribute limits (finite numbers; text and lists within limits.max_attribute_value_bytes and max_attribute_list_len)",
                ));
            }
        }
        Ok(())
    }

    fn validate_rule(&self, at: &str, rule: &Rule) -> Result<(), ConfigError> {
        if let Some(attribute) = rule.attribute() {
            let wanted = match rule {
                Rule::Equal { .. } => "text",
                Rule::Overlap { .. } => "list",
                _ => "number",
            };
            match self.attribute(attribute) {
                None => {
                    return Err(ConfigError::new(
                        format!("{at}.attribute"),
                        format!(
                            "rule `{}` reads `{attribute}`, which queue `{}` does not declare in `attributes`",
                            rule.name(),
                            self.name
                        ),
                    ));
                }
                Some(spec) if spec.kind_name() != wanted => {
                    return Err(ConfigError::new(
                        format!("{at}.attribute"),
                        format!(
                            "rule `{}` ({}) needs a {wanted} attribute; `{attribute}` is {}",
                            rule.name(),
                            rule.kind_name(),
                            spec.kind_name()
                        ),
                    ));
                }
                Some(_) => {}
            }
        }
        match rule {
            Rule::Overlap { at_least, .. } => {
                at_least.validate(
                    &format!("{at}.at_least"),
                    Direction::NonIncreasing,
                    0.0,
                    64.0,
                )?;
            }
            Rule::Distance { max, .. } | Rule::PartySkillSpread { max, .. } => {
                max.validate(&format!("{at}.max"), Direction::NonDecreasing, 0.0, 1e12)?;
            }
            Rule::Equal { .. } => {}
        }
        if let Some((curve, _)) = rule.curve() {
            check_duration(&format!("{at}.curve"), curve.settles_after_ms())?;
        }
        if let Some(after) = rule.optional_after_ms() {
            check_duration(&format!("{at}.optional_after_ms"), after)?;
        }
        let team_scoped = matches!(
            rule,
            Rule::Equal {
                scope: RuleScope::Team,
                ..
            } | Rule::Distance {
                scope: RuleScope::Team,
                ..
            }
        );
        if team_scoped && (self.flexible.is_some() || self.roles.is_some()) {
            return Err(ConfigError::new(
                format!("{at}.scope"),
                format!(
                    "rule `{}`: team-scoped rules work with fixed teams without roles; queue `{}` has {}",
                    rule.name(),
                    self.name,
                    if self.roles.is_some() {
                        "roles"
                    } else {
                        "flexible sizes"
                    }
                ),
            ));
        }
        Ok(())
    }

    fn validate_roles(&self, at: &str, roles: &RoleConfig) -> Result<(), ConfigError> {
        let composition = &roles.composition;
        if composition.is_empty() || composition.len() > MAX_ROLES {
            return Err(ConfigError::new(
                format!("{at}.composition"),
                format!("needs 1 to {MAX_ROLES} roles, not {}", composition.len()),
            ));
        }
        for (index, slot) in composition.iter().enumerate() {
            if slot.role.trim().is_empty() {
                return Err(ConfigError::new(
                    format!("{at}.composition[{index}].role"),
                    "a role needs a name",
                ));
            }
            if composition[..index].iter().any(|s| s.role == slot.role) {
                return Err(ConfigError::new(
                    format!("{at}.composition[{index}].role"),
                    format!("role `{}` is listed twice", slot.role),
                ));
            }
            if slot.count == 0 {
                return Err(ConfigError::new(
                    format!("{at}.composition[{index}].count"),
                    format!(
                        "role `{}` has count 0: nobody could ever play it; remove it",
                        slot.role
                    ),
                ));
            }
        }
        let total: usize = composition.iter().map(|slot| usize::from(slot.count)).sum();
        if total != usize::from(self.team_size) {
            return Err(ConfigError::new(
                format!("{at}.composition"),
                format!(
                    "the roles of queue `{}` add up to {total} players, but team_size is {}",
                    self.name, self.team_size
                ),
            ));
        }
        if self.flexible.is_some() {
            return Err(ConfigError::new(
                at,
                format!(
                    "queue `{}`: a role composition needs fixed teams; remove `flexible`",
                    self.name
                ),
            ));
        }
        Ok(())
    }

    fn validate_flexible(&self, at: &str, flexible: &FlexibleSize) -> Result<(), ConfigError> {
        if flexible.min_teams < 2 || flexible.min_teams > self.teams {
            return Err(ConfigError::new(
                format!("{at}.min_teams"),
                format!(
                    "must be between 2 and teams ({}), not {}",
                    self.teams, flexible.min_teams
                ),
            ));
        }
        if flexible.min_team_size == 0 || flexible.min_team_size > self.team_size {
            return Err(ConfigError::new(
                format!("{at}.min_team_size"),
                format!(
                    "must be between 1 and team_size ({}), not {}",
                    self.team_size, flexible.min_team_size
                ),
            ));
        }
        check_duration(&format!("{at}.fill_wait_ms"), flexible.fill_wait_ms)
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    fn error_of(queue: &str) -> crate::config::ConfigError {
        let text = format!("replace_queues = true\n[[queues]]\nname = \"q\"\n{queue}");
        Config::from_operator_toml(text.parse().unwrap()).unwrap_err()
    }

    #[test]
    fn rule_queues_parse() {
        let text = r#"
            replace_queues = true
            [[queues]]
            name = "q"
            attributes = [
              { kind = "text", name = "platform", default = "pc" },
              { kind = "list", name = "maps" },
              { kind = "number", name = "level" },
            ]
            rules = [
              { kind = "equal", name = "same-platform", attribute = "platform", optional_after_ms = 30000 },
              { kind = "overlap", name = "maps", attribute = "maps" },
              { kind = "distance", name = "level", attribute = "level", max = { kind = "linear", start = 5, end = 20, over_ms = 20000 } },
              { kind = "party_skill_spread", name = "spread", max = { kind = "linear", start = 300, end = 600, over_ms = 30000 } },
            ]
            block_lists = "off"
            roles = { composition = [{ role = "tank", count = 1 }, { role = "damage", count = 2 }, { role = "support", count = 2 }], rating_per_role = true }
        "#;
        let config = Config::from_operator_toml(text.parse().unwrap()).unwrap();
        let queue = &config.queues[0];
        assert_eq!(queue.rules.len(), 4);
        assert_eq!(queue.rules[1].name(), "maps");
        // Written and read back as the store and traces keep it.
        assert_eq!(
            Config::from_toml_str(&config.to_toml_string()).unwrap(),
            config
        );
    }

    #[test]
    fn rules_that_cannot_hold_name_the_rule_queue_and_field() {
        let cases = [
            (
                "rules = [{ kind = \"equal\", name = \"p\", attribute = \"platform\" }]",
                "queues[0].rules[0].attribute",
                "does not declare",
            ),
            (
                "attributes = [{ kind = \"number\", name = \"platform\" }]\nrules = [{ kind = \"equal\", name = \"p\", attribute = \"platform\" }]",
                "queues[0].rules[0].attribute",
                "needs a text attribute",
            ),
            (
                "roles = { composition = [{ role = \"tank\", count = 3 }, { role = \"dps\", count = 3 }] }",
                "queues[0].roles.composition",
                "add up to 6 players, but team_size is 5",
            ),
            (
                "roles = { composition = [{ role = \"tank\", count = 0 }, { role = \"dps\", count = 5 }] }",
                "queues[0].roles.composition[0].count",
                "nobody could ever play it",
            ),
            (
                "roles = { composition = [{ role = \"dps\", count = 2 }, { role = \"dps\", count = 3 }] }",
                "queues[0].roles.composition[1].role",
                "listed twice",
            ),
            (
                "teams = 4\nflexible = { min_teams = 5, min_team_size = 1 }",
                "queues[0].flexible.min_teams",
                "between 2 and teams",
            ),
            (
                "flexible = { min_teams = 2, min_team_size = 6 }",
                "queues[0].flexible.min_team_size",
                "between 1 and team_size",
            ),
            (
                "attributes = [{ kind = \"number\", name = \"level\" }]\nrules = [{ kind = \"distance\", name = \"l\", attribute = \"level\", max = { kind = \"linear\", start = 40, end = 10, over_ms = 100 } }]",
                "queues[0].rules[0].max",
                "",
            ),
            (
                "attributes = [{ kind = \"text\", name = \"p\" }]\nrules = [{ kind = \"equal\", name = \"x\", attribute = \"p\" }, { kind = \"equal\", name = \"x\", attribute = \"p\" }]",
                "queues[0].rules[1].name",
                "used twice",
            ),
            (
                "attributes = [{ kind = \"text\", name = \"p\" }]\nrules = [{ kind = \"equal\", name = \"x\", attribute = \"p\", scope = \"team\" }]\nroles = { composition = [{ role = \"a\", count = 5 }] }",
                "queues[0].rules[0].scope",
                "fixed teams without roles",
            ),
            (
                "block_lists = \"opposing_teams\"\nroles = { composition = [{ role = \"a\", count = 5 }] }",
                "queues[0].block_lists",
                "needs fixed teams without roles",
            ),
            (
                "attributes = [{ kind = \"text\", name = \"p\" }, { kind = \"list\", name = \"p\" }]",
                "queues[0].attributes[1].name",
                "declared twice",
            ),
        ];
        for (queue, field, message) in cases {
            let error = error_of(queue);
            assert_eq!(error.field, field, "for {queue}: {error}");
            assert!(error.message.contains(message), "for {queue}: {error}");
        }
    }
}
