//! The one model of players, and the arrival stream the benchmarks use.
//!
//! [`PlayerModel`] draws groups of players from a scenario's `[population]` and `[[regions]]`
//! (`scenario::PopulationSpec`, `scenario::RegionSpec`): a group's size by weight, its home
//! region by share, a true skill per group (normal) and per member around it
//! (`party_skill_sd`), a rating per game mode (the matcher's `rating.initial` for new players,
//! otherwise the true skill plus an error, with a uniform sigma), pings (uniform to the home
//! region, the region's round trip plus jitter to the others, some unreachable) and, for some
//! groups, a ping cap. Both users draw from it:
//!
//! - the simulated world (`world`) draws a scenario's registered players once, at the start;
//! - [`Population`], the benchmarks' endless stream of arrivals, draws each arrival's group,
//!   with a [`PopulationConfig`] that is those same two scenario sections plus the queues'
//!   shares. Its default is the benchmarks' long-standing shape: four regions, ratings equal to
//!   true skill, sigmas from 60 to 250.
//!
//! Seeded, so the same seed gives the same players and arrivals.

use matchwright_ecs::{
    Command, Config, EnqueueTicket, NO_PING, PartyId, PlayerId, Rating, TicketId, TicketMember,
};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;
use rand_distr::{Distribution, StandardNormal};

use crate::scenario::{Normal, PingCapSpec, PopulationSpec, RegionSpec, SkillComponent};

/// Uniform in `[low, high)`, or `low` for an empty range.
pub(crate) fn uniform(rng: &mut ChaCha8Rng, (low, high): (f64, f64)) -> f64 {
    if high > low {
        rng.random_range(low..high)
    } else {
        low
    }
}

/// Uniform in `[low, high]`, or `low` for an empty range.
pub(crate) fn uniform_u16(rng: &mut ChaCha8Rng, (low, high): (u16, u16)) -> u16 {
    if high > low {
        rng.random_range(low..=high)
    } else {
        low
    }
}

/// Normal around `mean`, with standard deviation `sd`.
pub(crate) fn normal(rng: &mut ChaCha8Rng, mean: f64, sd: f64) -> f64 {
    let z: f64 = StandardNormal.sample(rng);
    mean + sd * z
}

/// An index drawn by weight (0, without a draw, when no weight is above 0).
pub(crate) fn weighted(rng: &mut ChaCha8Rng, weights: &[f64]) -> usize {
    let total: f64 = weights.iter().sum();
    if total <= 0.0 {
        return 0;
    }
    let mut point = rng.random_range(0.0..total);
    for (index, weight) in weights.iter().enumerate() {
        if point < *weight {
            return index;
        }
        point -= weight;
    }
    weights.len() - 1
}

/// One player drawn from the model.
#[derive(Clone, Debug, PartialEq)]
pub struct PlayerDraw {
    /// True skill, on the rating scale.
    pub skill: f64,
    /// The starting rating in each game mode.
    pub ratings: Vec<Rating>,
    /// Ping to each region, in the matcher's order ([`NO_PING`]: unreachable).
    pub pings_ms: Vec<u16>,
    /// Whether the player is new (rated at the matcher's `rating.initial`).
    pub new_player: bool,
}

/// One group (a solo player or a party) drawn from the model.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupDraw {
    /// Its home region's index.
    pub home: usize,
    /// Its players.
    pub members: Vec<PlayerDraw>,
    /// The cap its tickets put on ping, if any.
    pub max_ping_ms: Option<u16>,
}

/// The one model of players: a scenario's `[population]` and `[[regions]]`, the matcher's
/// starting rating, and the number of game modes a player has a rating in.
#[derive(Clone, Debug, PartialEq)]
pub struct PlayerModel {
    party_sizes: Vec<(u8, f64)>,
    size_weights: Vec<f64>,
    skill: Normal,
    skill_mixture: Vec<SkillComponent>,
    party_skill_sd: f64,
    new_player_share: f64,
    rating_error_sd: f64,
    rating_sigma: (f64, f64),
    ping_cap: PingCapSpec,
    regions: Vec<RegionSpec>,
    region_shares: Vec<f64>,
    initial: Rating,
    modes: usize,
}

impl PlayerModel {
    /// The model of `population` (its `players`, how many there are, is the caller's to use)
    /// living in `regions` (in the matcher's order), starting new players at `initial`, with a
    /// rating in each of `modes` game modes.
    pub fn new(
        population: &PopulationSpec,
        regions: &[RegionSpec],
        initial: Rating,
        modes: usize,
    ) -> Self {
        Self {
            party_sizes: population.party_sizes.clone(),
            size_weights: population.party_sizes.iter().map(|(_, w)| *w).collect(),
            skill: population.skill,
            skill_mixture: population.skill_mixture.clone(),
            party_skill_sd: population.party_skill_sd,
            new_player_share: population.new_player_share,
            rating_error_sd: population.rating_error_sd,
            rating_sigma: population.rating_sigma,
            ping_cap: population.ping_cap,
            regions: regions.to_vec(),
            region_shares: regions.iter().map(|region| region.share).collect(),
            initial,
            modes,
        }
    }

    /// A group size, drawn by the weights of `party_sizes`.
    pub fn party_size(&self, rng: &mut ChaCha8Rng) -> usize {
        usize::from(self.party_sizes[weighted(rng, &self.size_weights)].0)
    }

    /// A group of `size` players: its home region, then its skill, then each member (skill,
    /// ratings, pings), then its ping cap, in that order of draws.
    pub fn group(&self, rng: &mut ChaCha8Rng, size: usize) -> GroupDraw {
        let home = weighted(rng, &self.region_shares);
        let party_skill = self.group_skill(rng);
        let members = (0..size)
            .map(|_| {
                let skill = if size > 1 {
                    normal(rng, party_skill, self.party_skill_sd)
                } else {
                    party_skill
                };
                self.player(rng, home, skill)
            })
            .collect();
        let max_ping_ms = rng
            .random_bool(self.ping_cap.share)
            .then(|| uniform_u16(rng, self.ping_cap.ms));
        GroupDraw {
            home,
            members,
            max_ping_ms,
        }
    }

    /// A group's true skill: from `skill`, or, with a mixture, from the part a uniform draw
    /// falls in (no extra draw without a mixture, so such scenarios draw as before).
    fn group_skill(&self, rng: &mut ChaCha8Rng) -> f64 {
        if !self.skill_mixture.is_empty() {
            let mut point: f64 = rng.random_range(0.0..1.0);
            for part in &self.skill_mixture {
                if point < part.share {
                    return normal(rng, part.mean, part.sd);
                }
                point -= part.share;
            }
        }
        normal(rng, self.skill.mean, self.skill.sd)
    }

    fn player(&self, rng: &mut ChaCha8Rng, home: usize, skill: f64) -> PlayerDraw {
        let new_player = rng.random_bool(self.new_player_share);
        let ratings = (0..self.modes)
            .map(|_| {
                if new_player {
                    self.initial
                } else {
                    Rating {
                        mu: normal(rng, skill, self.rating_error_sd),
                        sigma: uniform(rng, self.rating_sigma),
                        volatility: self.initial.volatility,
                    }
                }
            })
            .collect();
        let region = &self.regions[home];
        let pings_ms = (0..self.regions.len())
            .map(|index| {
                if index == home {
                    uniform_u16(rng, region.home_ping_ms)
                } else if rng.random_bool(region.unreachable) {
                    NO_PING
                } else {
                    region.rtt_ms[index].saturating_add(uniform_u16(rng, (0, region.jitter_ms)))
                }
            })
            .collect();
        PlayerDraw {
            skill,
            ratings,
            pings_ms,
            new_player,
        }
    }
}

/// The shape of the arrival stream: who arrives, as a scenario's `[population]` and
/// `[[regions]]`, and in which queue.
#[derive(Clone, Debug, PartialEq)]
pub struct PopulationConfig {
    /// Who plays (`players`, a scenario's count of registered players, is not used: arrivals
    /// never run out; nor are `attributes` and `avoid`, which only the simulated world draws,
    /// `profile`: the benchmarks dress arrivals for rules themselves). Default: skill 1500 +- 300, parties within 120 of their skill, ratings
    /// equal to skill with sigma 60 to 250, no new players, 10% of tickets capping their ping
    /// at 100 to 180 ms; solo 60%, duo 20%, trio 10%, four 5%, five 5% (sizes above a queue's
    /// limit are not drawn for it).
    pub players: PopulationSpec,
    /// Where they play from, in the matcher config's region order. Default: the default
    /// config's regions (eu-west 35%, us-east 35%, ap-southeast 20%, sa-east 10%) with typical
    /// round trips between them, 30 ms of jitter, and 5% of other regions unreachable.
    pub regions: Vec<RegionSpec>,
    /// Queues (by name) and their share of arrivals. Default: the default config's queues,
    /// 20% duel-1v1, 60% ranked-5v5, 20% trios-ffa.
    pub queue_shares: Vec<(String, f64)>,
}

/// Typical round trips between the default regions (eu-west, us-east, ap-southeast, sa-east).
const REGION_RTT_MS: [[u16; 4]; 4] = [
    [0, 85, 170, 190],
    [85, 0, 210, 120],
    [170, 210, 0, 300],
    [190, 120, 300, 0],
];

impl Default for PopulationConfig {
    fn default() -> Self {
        let names = ["eu-west", "us-east", "ap-southeast", "sa-east"];
        let shares = [0.35, 0.35, 0.2, 0.1];
        Self {
            players: PopulationSpec {
                players: 0,
                skill: Normal {
                    mean: 1500.0,
                    sd: 300.0,
                },
                skill_mixture: Vec::new(),
                party_skill_sd: 120.0,
                party_sizes: vec![(1, 0.6), (2, 0.2), (3, 0.1), (4, 0.05), (5, 0.05)],
                new_player_share: 0.0,
                rating_error_sd: 0.0,
                rating_sigma: (60.0, 250.0),
                ping_cap: PingCapSpec {
                    share: 0.1,
                    ms: (100, 180),
                },
                attributes: Vec::new(),
                avoid: Default::default(),
            },
            regions: (0..names.len())
                .map(|index| RegionSpec {
                    name: names[index].into(),
                    share: shares[index],
                    home_ping_ms: (10, 60),
                    rtt_ms: REGION_RTT_MS[index].to_vec(),
                    jitter_ms: 30,
                    unreachable: 0.05,
                })
                .collect(),
            queue_shares: vec![
                ("duel-1v1".into(), 0.2),
                ("ranked-5v5".into(), 0.6),
                ("trios-ffa".into(), 0.2),
            ],
        }
    }
}

/// One arrival: the commands that form its party (if any) and queue its ticket.
#[derive(Clone, Debug, PartialEq)]
pub struct Arrival {
    /// In order: `CreateParty`, `JoinParty`..., then `Enqueue`.
    pub commands: Vec<Command>,
    /// The ticket.
    pub ticket: TicketId,
    /// Its party, if more than one player.
    pub party: Option<PartyId>,
    /// Its number of players.
    pub players: usize,
}

/// A seeded source of arrivals.
#[derive(Clone, Debug)]
pub struct Population {
    config: PopulationConfig,
    model: PlayerModel,
    rng: ChaCha8Rng,
    /// Per queue of `config.queue_shares`: the weight of each of `party_sizes` (0 for sizes
    /// above the queue's max party size).
    size_weights: Vec<Vec<f64>>,
    queue_weights: Vec<f64>,
    next_player: u64,
    /// When set, player ids wrap around after this many: a bounded player base that comes
    /// back (for long storage runs); unset, every arrival is a new player.
    player_base: Option<u64>,
    next_ticket: u64,
    next_party: u64,
}

impl Population {
    /// A population for a matcher with `matcher` config. Queues in `queue_shares` that the
    /// matcher does not have, and regions that are not the matcher's, are errors, named.
    pub fn new(seed: u64, config: PopulationConfig, matcher: &Config) -> Result<Self, String> {
        if config.queue_shares.is_empty() {
            return Err("the population needs at least one queue".into());
        }
        check_regions(&config.regions, matcher)?;
        let mut size_weights = Vec::new();
        for (name, _) in &config.queue_shares {
            let queue = matcher
                .queues
                .iter()
                .find(|queue| &queue.name == name)
                .ok_or_else(|| format!("the population names queue `{name}`, which the matcher config does not have"))?;
            let weights = config.players.party_sizes.iter().map(|(size, weight)| {
                if *size <= queue.max_party_size {
                    *weight
                } else {
                    0.0
                }
            });
            size_weights.push(weights.collect());
        }
        Ok(Self {
            model: PlayerModel::new(&config.players, &config.regions, matcher.rating.initial, 1),
            rng: ChaCha8Rng::seed_from_u64(seed),
            size_weights,
            queue_weights: config.queue_shares.iter().map(|(_, s)| *s).collect(),
            config,
            next_player: 1,
            player_base: None,
            next_ticket: 1,
            next_party: 1,
        })
    }

    /// Players come back: ids wrap around after `players` ids (at least 1), so a long run
    /// keeps the number of players it has ever seen bounded, as a game's player base is. An
    /// id comes back in the order it was first handed out, whatever its player is doing then:
    /// a caller whose players can still be queued or playing when their id comes round again
    /// sees rejections, and a base smaller than a party puts one player twice in a ticket.
    pub fn with_player_base(mut self, players: u64) -> Self {
        self.player_base = Some(players.max(1));
        self
    }

    /// The mean party size in queue `index` of `queue_shares`.
    pub fn mean_party_size(&self, queue_index: usize) -> f64 {
        let weights = &self.size_weights[queue_index];
        let (weighted, total) =
            self.config.players.party_sizes.iter().zip(weights).fold(
                (0.0, 0.0),
                |(sum, total), ((size, _), weight)| {
                    (sum + f64::from(*size) * weight, total + weight)
                },
            );
        if total > 0.0 { weighted / total } else { 1.0 }
    }

    /// The population's configuration.
    pub fn config(&self) -> &PopulationConfig {
        &self.config
    }

    /// The next arrival: its queue, its size (among those the queue takes), then its group
    /// from the player model.
    pub fn arrival(&mut self) -> Arrival {
        let queue_index = weighted(&mut self.rng, &self.queue_weights);
        let queue = self.config.queue_shares[queue_index].0.clone();
        let weights = &self.size_weights[queue_index];
        let size = if weights.iter().any(|weight| *weight > 0.0) {
            usize::from(self.config.players.party_sizes[weighted(&mut self.rng, weights)].0)
        } else {
            1
        };
        let group = self.model.group(&mut self.rng, size);
        let members: Vec<TicketMember> = group
            .members
            .into_iter()
            .map(|drawn| {
                let player = match self.player_base {
                    Some(base) => PlayerId(1 + (self.next_player - 1) % base),
                    None => PlayerId(self.next_player),
                };
                self.next_player += 1;
                TicketMember {
                    player,
                    rating: drawn.ratings[0],
                    pings_ms: drawn.pings_ms,
                    attributes: Default::default(),
                    roles: Vec::new(),
                    avoid: Vec::new(),
                }
            })
            .collect();
        let ticket = TicketId(self.next_ticket);
        self.next_ticket += 1;
        let mut commands = Vec::with_capacity(size + 1);
        let party = (size > 1).then(|| {
            let party = PartyId(self.next_party);
            self.next_party += 1;
            commands.push(Command::CreateParty {
                party,
                leader: members[0].player,
            });
            commands.extend(members[1..].iter().map(|member| Command::JoinParty {
                party,
                player: member.player,
            }));
            party
        });
        commands.push(Command::Enqueue(EnqueueTicket {
            ticket,
            queue,
            party,
            members,
            max_ping_ms: group.max_ping_ms,
            waiting_since_ms: None,
            attributes: Default::default(),
        }));
        Arrival {
            commands,
            ticket,
            party,
            players: size,
        }
    }
}

/// The population's regions must be the matcher's, in order, each with a round trip to every
/// region.
fn check_regions(regions: &[RegionSpec], matcher: &Config) -> Result<(), String> {
    let names: Vec<&str> = regions.iter().map(|region| region.name.as_str()).collect();
    if names != matcher.regions {
        return Err(format!(
            "the population's regions ({}) must be the matcher's ({}), in order",
            names.join(", "),
            matcher.regions.join(", ")
        ));
    }
    match regions
        .iter()
        .find(|region| region.rtt_ms.len() != matcher.regions.len())
    {
        Some(region) => Err(format!(
            "region `{}` needs a round trip to each of the {} regions",
            region.name,
            matcher.regions.len()
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A bimodal mixture puts the groups' skills around both modes, in about their shares;
    /// without one, the draws are the plain normal's.
    #[test]
    fn a_skill_mixture_draws_each_part_in_its_share() {
        let mut spec = PopulationConfig::default().players;
        spec.skill = Normal {
            mean: 1000.0,
            sd: 50.0,
        };
        spec.skill_mixture = vec![SkillComponent {
            share: 0.25,
            mean: 2000.0,
            sd: 50.0,
        }];
        let regions = PopulationConfig::default().regions;
        let initial = Rating::new(1500.0, 500.0);
        let model = PlayerModel::new(&spec, &regions, initial, 1);
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let skills: Vec<f64> = (0..4_000).map(|_| model.group_skill(&mut rng)).collect();
        let high = skills.iter().filter(|skill| **skill > 1500.0).count();
        assert!(
            (800..1_200).contains(&high),
            "{high} of 4000 in the upper mode"
        );
        assert!(skills.iter().all(|skill| (700.0..2300.0).contains(skill)));

        spec.skill_mixture.clear();
        let plain = PlayerModel::new(&spec, &regions, initial, 1);
        let (mut a, mut b) = (ChaCha8Rng::seed_from_u64(7), ChaCha8Rng::seed_from_u64(7));
        for _ in 0..100 {
            assert_eq!(plain.group_skill(&mut a), normal(&mut b, 1000.0, 50.0));
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_arrivals() {
        let config = Config::default();
        let mut one = Population::new(5, PopulationConfig::default(), &config).unwrap();
        let mut two = Population::new(5, PopulationConfig::default(), &config).unwrap();
        for _ in 0..100 {
            assert_eq!(one.arrival(), two.arrival());
        }
    }

    /// The players of `arrivals` arrivals, in the order handed out.
    fn players_of(population: &mut Population, arrivals: usize) -> Vec<u64> {
        let mut players = Vec::new();
        for _ in 0..arrivals {
            let arrival = population.arrival();
            let Some(Command::Enqueue(ticket)) = arrival.commands.last() else {
                panic!("an arrival ends with its enqueue");
            };
            players.extend(ticket.members.iter().map(|member| member.player.0));
        }
        players
    }

    #[test]
    fn a_player_base_hands_the_same_ids_out_again_in_order() {
        let config = Config::default();
        let mut fresh = Population::new(3, PopulationConfig::default(), &config).unwrap();
        let mut based = Population::new(3, PopulationConfig::default(), &config)
            .unwrap()
            .with_player_base(50);
        let fresh = players_of(&mut fresh, 200);
        let based = players_of(&mut based, 200);
        assert!(fresh.len() > 100, "200 arrivals hold more than 100 players");
        assert!(fresh.windows(2).all(|pair| pair[1] == pair[0] + 1));
        // Same draws, ids wrapped: 1..=50, then 1..=50 again.
        for (new, wrapped) in fresh.iter().zip(&based) {
            assert_eq!(*wrapped, 1 + (new - 1) % 50);
        }
        assert!(based.iter().all(|player| (1..=50).contains(player)));
        // A base of 0 is a base of 1, not a division by zero.
        let mut one = Population::new(3, PopulationConfig::default(), &config)
            .unwrap()
            .with_player_base(0);
        assert!(players_of(&mut one, 5).iter().all(|player| *player == 1));
    }

    #[test]
    fn arrivals_respect_queue_party_limits_and_regions() {
        let config = Config::default();
        let mut population = Population::new(9, PopulationConfig::default(), &config).unwrap();
        let mut solos = 0;
        for _ in 0..2_000 {
            let arrival = population.arrival();
            let Some(Command::Enqueue(ticket)) = arrival.commands.last() else {
                panic!("an arrival ends with its enqueue");
            };
            let queue = &config.queues[config.queue_index(&ticket.queue).unwrap()];
            assert!(ticket.members.len() <= usize::from(queue.max_party_size));
            assert_eq!(ticket.members.len() > 1, ticket.party.is_some());
            for member in &ticket.members {
                assert_eq!(member.pings_ms.len(), config.regions.len());
                assert!(member.rating.is_valid());
            }
            solos += usize::from(ticket.members.len() == 1);
        }
        assert!(solos > 1_000 && solos < 1_900, "{solos}");
    }

    #[test]
    fn an_unknown_queue_or_other_regions_are_named() {
        let population = PopulationConfig {
            queue_shares: vec![("nope".into(), 1.0)],
            ..PopulationConfig::default()
        };
        let error = Population::new(1, population, &Config::default()).unwrap_err();
        assert!(error.contains("nope"));
        let mut population = PopulationConfig::default();
        population.regions.truncate(3);
        let error = Population::new(1, population, &Config::default()).unwrap_err();
        assert!(error.contains("sa-east"), "{error}");
    }

    #[test]
    fn the_population_feeds_the_matcher() {
        let config = Config::default();
        let mut matcher = matchwright_ecs::Matcher::new(config.clone(), 1).unwrap();
        let mut population = Population::new(3, PopulationConfig::default(), &config).unwrap();
        for _ in 0..500 {
            for command in population.arrival().commands {
                matcher.submit(command).unwrap();
            }
        }
        matcher.tick(100).unwrap();
        let rejected = matcher
            .drain_events()
            .filter(|event| matches!(event, matchwright_ecs::Event::Rejected { .. }))
            .count();
        assert_eq!(rejected, 0);
    }

    /// The model draws what its spec says: a party's members near the party's skill, new
    /// players at the initial rating, pings from the home region's row.
    #[test]
    fn the_model_draws_groups_from_the_scenario_sections() {
        let config = PopulationConfig::default();
        let mut spec = config.players.clone();
        spec.new_player_share = 1.0;
        let initial = Rating::new(1200.0, 400.0);
        let model = PlayerModel::new(&spec, &config.regions, initial, 2);
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        for _ in 0..200 {
            let size = model.party_size(&mut rng);
            let group = model.group(&mut rng, size);
            assert_eq!(group.members.len(), size);
            for member in &group.members {
                assert_eq!(member.ratings, vec![initial, initial]);
                let home = member.pings_ms[group.home];
                assert!((10..=60).contains(&home), "{home}");
                for (index, ping) in member.pings_ms.iter().enumerate() {
                    let rtt = config.regions[group.home].rtt_ms[index];
                    assert!(
                        index == group.home || *ping == NO_PING || (rtt..=rtt + 30).contains(ping)
                    );
                }
            }
        }
    }
}
