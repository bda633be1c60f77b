//! Which queues the steady state fills, and with what.
//!
//! Every workload draws its arrivals from the one population of `matchwright-sim`
//! ([`Population`], the `PlayerModel` behind it): who arrives, their party sizes, ratings and
//! pings. A workload picks the queues (their share of arrivals, and the queue each arrival's
//! party sizes are drawn for) and, for the rules queue, adds what the population does not
//! draw: attributes and roles ([`RulesShape`], from its own seeded generator, so the players
//! themselves are the plain queue's).
//!
//! - [`Workload::Mixed`]: the default config's three queues (20% `duel-1v1`, 60%
//!   `ranked-5v5`, 20% `trios-ffa`), the long-standing gate.
//! - [`Workload::Ranked`]: every ticket in `ranked-5v5` as shipped (5v5, parties up to 5).
//! - [`Workload::RankedRules`]: every ticket in `ranked-5v5` with three match rules and a role
//!   composition (see [`rules_queue`]): the same players, the same churn.
//! - [`Workload::BattleRoyale`]: every ticket in a 100-player squads queue (see
//!   [`battle_royale_queue`]).

use matchwright_ecs::config::{
    AttributeSpec, FlexibleSize, ListAggregate, NumberAggregate, RoleConfig, RoleSlot, Rule,
    RuleScope,
};
use matchwright_ecs::curve::Step;
use matchwright_ecs::{
    AttributeValue, Command, Config, Curve, EnqueueTicket, QueueConfig, RoleChoice,
};
use matchwright_sim::PopulationConfig;
use rand::RngExt as _;
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng as _;

/// The queues a steady state fills.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Workload {
    /// The default config's three queues: 20% `duel-1v1`, 60% `ranked-5v5`, 20% `trios-ffa`.
    #[default]
    Mixed,
    /// Every ticket in `ranked-5v5`, as shipped.
    Ranked,
    /// Every ticket in `ranked-5v5` with the rules and roles of [`rules_queue`] (all of them
    /// unless a diagnosis leaves some out).
    RankedRules(RuleChecks),
    /// Every ticket in the 100-player squads queue of [`battle_royale_queue`].
    BattleRoyale,
}

/// Which of the rules queue's checks are on (all, for the benchmark; fewer to see what each
/// costs). The attributes are given either way; a check off is a rule (or the roles) the
/// queue does not have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RuleChecks {
    /// `equal` on `platform`.
    pub platform: bool,
    /// `overlap` on `languages`.
    pub languages: bool,
    /// `distance` on `level`.
    pub level: bool,
    /// The role composition.
    pub roles: bool,
}

impl RuleChecks {
    /// Every check.
    pub const ALL: Self = Self {
        platform: true,
        languages: true,
        level: true,
        roles: true,
    };

    /// The checks on, by name (`platform,languages,level,roles`).
    pub fn names(self) -> String {
        let on = [
            (self.platform, "platform"),
            (self.languages, "languages"),
            (self.level, "level"),
            (self.roles, "roles"),
        ];
        let names: Vec<&str> = on.iter().filter(|(on, _)| *on).map(|(_, n)| *n).collect();
        if names.is_empty() {
            "none".into()
        } else {
            names.join(",")
        }
    }
}

impl Default for RuleChecks {
    fn default() -> Self {
        Self::ALL
    }
}

/// The 5v5 queue's name (shipped in the default config).
pub const RANKED: &str = "ranked-5v5";
/// The battle royale queue's name.
pub const BATTLE_ROYALE: &str = "br-squads";

impl Workload {
    /// Its name, as the tick gate prints it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Mixed => "mixed (duel-1v1, ranked-5v5, trios-ffa)",
            Self::Ranked => "ranked-5v5",
            Self::RankedRules(_) => "ranked-5v5 with rules and roles",
            Self::BattleRoyale => "br-squads (100 players, squads of up to 4)",
        }
    }

    /// The matcher config before the steady state's limits: the default config, with the
    /// workload's queue changed or added, and only the queues that get arrivals.
    pub fn base_config(self) -> Config {
        let mut config = Config::default();
        match self {
            Self::Mixed => return config,
            Self::Ranked => {}
            Self::RankedRules(checks) => {
                if let Some(queue) = config.queues.iter_mut().find(|q| q.name == RANKED) {
                    *queue = rules_queue(queue.clone(), checks);
                }
            }
            Self::BattleRoyale => config.queues.push(battle_royale_queue()),
        }
        let only = self.queue_name();
        config.queues.retain(|queue| queue.name == only);
        config
    }

    /// The one queue of a single-queue workload (`ranked-5v5` for the mixed one).
    fn queue_name(self) -> &'static str {
        match self {
            Self::BattleRoyale => BATTLE_ROYALE,
            _ => RANKED,
        }
    }

    /// The population: the default one, with every arrival in the workload's one queue (the
    /// mixed workload keeps the default shares). Party sizes above the queue's
    /// `max_party_size` are not drawn (the battle royale's squads are 1 to 4).
    pub fn population(self) -> PopulationConfig {
        let mut population = PopulationConfig::default();
        if self != Self::Mixed {
            population.queue_shares = vec![(self.queue_name().into(), 1.0)];
        }
        population
    }

    /// What the arrivals get on top of the population's draws, if anything.
    pub fn shape(self, seed: u64) -> Option<RulesShape> {
        match self {
            Self::RankedRules(checks) => Some(RulesShape::new(seed, checks.roles)),
            _ => None,
        }
    }
}

/// The platforms of the `equal` rule, with their shares of tickets.
pub const PLATFORMS: [(&str, f64); 3] = [("pc", 0.5), ("playstation", 0.3), ("xbox", 0.2)];
/// The languages of the `overlap` rule, with their weights (a ticket speaks 1 to 3 of them).
pub const LANGUAGES: [(&str, f64); 6] = [
    ("en", 0.40),
    ("es", 0.15),
    ("de", 0.15),
    ("fr", 0.10),
    ("pt", 0.10),
    ("ja", 0.10),
];
/// How many languages a ticket speaks: 1, 2 or 3, with these shares.
pub const LANGUAGE_COUNTS: [f64; 3] = [0.5, 0.3, 0.2];
/// The roles of the composition: one tank, two damage, two support per team.
pub const ROLES: [(&str, u8); 3] = [("tank", 1), ("damage", 2), ("support", 2)];
/// A solo player's first role, by share (damage is oversubscribed, tank scarce, as in most
/// role queues).
pub const FIRST_ROLE: [f64; 3] = [0.2, 0.45, 0.35];
/// How many roles a player accepts: 1, 2 or 3, with these shares.
pub const ROLE_COUNTS: [f64; 3] = [0.4, 0.35, 0.25];

/// `ranked-5v5` with match rules: `platform` equal across the match (3 platforms), shared
/// `languages` (lists of 1 to 3 of 6, at least 1 in common, a party speaking what all its
/// members speak), `level` within a spread widening linearly from 10 to 40 over 30 s (every
/// member of a party counts), and a role composition of 1 tank, 2 damage and 2 support per
/// team, players accepting 1 to 3 roles. Everything else as shipped. `checks` leaves rules
/// (or the roles) out, for a diagnosis; the attributes stay declared.
pub fn rules_queue(shipped: QueueConfig, checks: RuleChecks) -> QueueConfig {
    let queue = QueueConfig {
        attributes: vec![
            AttributeSpec::Text {
                name: "platform".into(),
                default: None,
            },
            AttributeSpec::List {
                name: "languages".into(),
                default: None,
            },
            AttributeSpec::Number {
                name: "level".into(),
                default: None,
            },
        ],
        rules: vec![
            Rule::Equal {
                name: "same-platform".into(),
                attribute: "platform".into(),
                scope: RuleScope::Match,
                optional_after_ms: None,
            },
            Rule::Overlap {
                name: "shared-language".into(),
                attribute: "languages".into(),
                at_least: constant(1.0),
                party: ListAggregate::Intersection,
                optional_after_ms: None,
            },
            Rule::Distance {
                name: "level-spread".into(),
                attribute: "level".into(),
                max: Curve::linear(10.0, 40.0, 30_000),
                scope: RuleScope::Match,
                party: NumberAggregate::All,
                optional_after_ms: None,
            },
        ],
        roles: Some(RoleConfig {
            composition: ROLES
                .iter()
                .map(|(role, count)| RoleSlot {
                    role: (*role).into(),
                    count: *count,
                })
                .collect(),
            rating_per_role: false,
        }),
        ..shipped
    };
    let on = [checks.platform, checks.languages, checks.level];
    QueueConfig {
        rules: queue
            .rules
            .iter()
            .zip(on)
            .filter(|(_, on)| *on)
            .map(|(rule, _)| rule.clone())
            .collect(),
        roles: queue.roles.clone().filter(|_| checks.roles),
        ..queue
    }
}

/// The battle royale queue: up to 25 teams of up to 4 (100 players), squads of 1 to 4; once
/// its oldest ticket has waited 20 s a match may form with as few as 15 teams of 1. Quality
/// floor 0: the draw probability of 25 teams is low by construction. It looks at up to 400
/// tickets per anchor (the shipped 64 cannot fill 100 players: the config requires at least
/// the players of a match; a match takes about 63 tickets, and a third to a tenth of the
/// tickets nearest in rating share a region with the anchor). The skill and latency windows
/// are the shipped ones.
pub fn battle_royale_queue() -> QueueConfig {
    QueueConfig {
        name: BATTLE_ROYALE.into(),
        mode: "br".into(),
        teams: 25,
        team_size: 4,
        max_party_size: 4,
        quality_floor: constant(0.0),
        flexible: Some(FlexibleSize {
            min_teams: 15,
            min_team_size: 1,
            fill_wait_ms: 20_000,
        }),
        max_candidates_per_anchor: 400,
        ..QueueConfig::default()
    }
}

fn constant(value: f64) -> Curve {
    Curve::Steps {
        steps: vec![Step { after_ms: 0, value }],
    }
}

/// The attributes and roles of the rules workload, drawn for each arrival of the population
/// from a generator of their own (seeded from the workload's seed), so that the population's
/// draws are the plain workload's. Per ticket: a platform (ticket-wide: a party plays on one)
/// and a language list (ticket-wide). Per member: a level and roles. Levels follow skill
/// loosely: a party's level is `50 + 15 z + N(0, 10)`, `z` its mean rating's standard score
/// in the population (1500 +- 300), each member within `N(0, 3)` of it, clamped to 1..=100.
/// A party's members' first roles are distinct places of one team (a party that could never
/// fill a composition would never match); a solo's first role is drawn by [`FIRST_ROLE`];
/// each then accepts 0 to 2 more roles ([`ROLE_COUNTS`]).
#[derive(Clone, Debug)]
pub struct RulesShape {
    rng: ChaCha8Rng,
    roles: bool,
}

impl RulesShape {
    /// A shape drawing from `seed`; members get roles when `roles` is set (the roles are drawn
    /// either way, so the attributes are the same with and without).
    pub fn new(seed: u64, roles: bool) -> Self {
        Self {
            rng: ChaCha8Rng::seed_from_u64(seed ^ 0x5275_6c65_7353_6861),
            roles,
        }
    }

    /// Adds attributes and roles to an arrival's `Enqueue`.
    pub fn dress(&mut self, commands: &mut [Command]) {
        for command in commands {
            if let Command::Enqueue(ticket) = command {
                self.dress_ticket(ticket);
            }
        }
    }

    fn dress_ticket(&mut self, ticket: &mut EnqueueTicket) {
        let weights: Vec<f64> = PLATFORMS.iter().map(|(_, w)| *w).collect();
        let platform = PLATFORMS[self.weighted(&weights)].0;
        ticket
            .attributes
            .insert("platform".into(), AttributeValue::Text(platform.into()));
        let languages = self.languages();
        ticket
            .attributes
            .insert("languages".into(), AttributeValue::List(languages));
        let members = ticket.members.len().max(1);
        let mean_mu = ticket.members.iter().map(|m| m.rating.mu).sum::<f64>() / members as f64;
        let party_level = 50.0 + 15.0 * (mean_mu - 1500.0) / 300.0 + 10.0 * self.normal();
        let mut places: Vec<usize> = ROLES
            .iter()
            .enumerate()
            .flat_map(|(role, (_, count))| std::iter::repeat_n(role, usize::from(*count)))
            .collect();
        self.shuffle(&mut places);
        let party = ticket.members.len() > 1;
        for (index, member) in ticket.members.iter_mut().enumerate() {
            let level = (party_level + 3.0 * self.normal())
                .round()
                .clamp(1.0, 100.0);
            member
                .attributes
                .insert("level".into(), AttributeValue::Number(level));
            let first = if party {
                places[index % places.len()]
            } else {
                self.weighted(&FIRST_ROLE)
            };
            let roles = self.roles(first);
            if self.roles {
                member.roles = roles;
            }
        }
    }

    /// 1 to 3 distinct languages, drawn by weight.
    fn languages(&mut self) -> Vec<String> {
        let count = self.weighted(&LANGUAGE_COUNTS) + 1;
        let mut weights: Vec<f64> = LANGUAGES.iter().map(|(_, w)| *w).collect();
        let mut list = Vec::with_capacity(count);
        for _ in 0..count {
            let at = self.weighted(&weights);
            weights[at] = 0.0;
            list.push(LANGUAGES[at].0.to_owned());
        }
        list
    }

    /// The first role, then 0 to 2 others in random order.
    fn roles(&mut self, first: usize) -> Vec<RoleChoice> {
        let count = self.weighted(&ROLE_COUNTS) + 1;
        let mut others: Vec<usize> = (0..ROLES.len()).filter(|r| *r != first).collect();
        self.shuffle(&mut others);
        std::iter::once(first)
            .chain(others)
            .take(count)
            .map(|role| RoleChoice {
                role: ROLES[role].0.into(),
                rating: None,
            })
            .collect()
    }

    /// An index drawn by weight.
    fn weighted(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        let mut point = self.rng.random_range(0.0..total);
        for (index, weight) in weights.iter().enumerate() {
            if point < *weight {
                return index;
            }
            point -= weight;
        }
        weights.len() - 1
    }

    /// A standard normal draw (Box-Muller).
    fn normal(&mut self) -> f64 {
        let u: f64 = self.rng.random_range(f64::EPSILON..1.0);
        let v: f64 = self.rng.random_range(0.0..1.0);
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    /// Fisher-Yates.
    fn shuffle<T>(&mut self, items: &mut [T]) {
        for index in (1..items.len()).rev() {
            let other = self.rng.random_range(0..=index);
            items.swap(index, other);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use matchwright_ecs::{Event, Matcher};
    use matchwright_sim::Population;

    /// Every workload's config is valid and its arrivals are all accepted.
    #[test]
    fn every_workload_is_accepted_by_the_matcher() {
        for workload in [
            Workload::Mixed,
            Workload::Ranked,
            Workload::RankedRules(RuleChecks::ALL),
            Workload::RankedRules(RuleChecks {
                roles: false,
                ..RuleChecks::ALL
            }),
            Workload::BattleRoyale,
        ] {
            let config = workload.base_config();
            config.validate().unwrap();
            let mut matcher = Matcher::new(config.clone(), 1).unwrap();
            let mut population = Population::new(2, workload.population(), &config).unwrap();
            let mut shape = workload.shape(2);
            for _ in 0..2_000 {
                let mut commands = population.arrival().commands;
                if let Some(shape) = &mut shape {
                    shape.dress(&mut commands);
                }
                for command in commands {
                    matcher.submit(command).unwrap();
                }
            }
            matcher.tick(100).unwrap();
            let rejected: Vec<Event> = matcher
                .drain_events()
                .filter(|event| matches!(event, Event::Rejected { .. }))
                .collect();
            assert!(rejected.is_empty(), "{workload:?}: {:?}", rejected.first());
            assert!(matcher.queued_tickets() > 0, "{workload:?}");
        }
    }

    #[test]
    fn the_rules_shape_draws_valid_roles_and_lists() {
        let mut shape = RulesShape::new(3, true);
        for (first, (name, _)) in ROLES.iter().enumerate() {
            for _ in 0..100 {
                let roles = shape.roles(first);
                assert!((1..=3).contains(&roles.len()));
                assert_eq!(roles[0].role, *name);
                let mut names: Vec<&str> = roles.iter().map(|r| r.role.as_str()).collect();
                names.sort_unstable();
                names.dedup();
                assert_eq!(names.len(), roles.len(), "distinct roles");
            }
        }
        for _ in 0..100 {
            let list = shape.languages();
            assert!((1..=3).contains(&list.len()));
        }
    }
}
