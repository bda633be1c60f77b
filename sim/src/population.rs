//! A synthetic population: who arrives in which queue, alone or in a party, with what rating,
//! from which region, with what pings. Seeded, so the same seed gives the same arrivals.
//!
//! The model: players live in regions (shares configurable); a party's members share a home
//! region and have similar skill; ratings are normal around `rating_mean` with spread
//! `rating_spread`; the ping to the home region is 10-60 ms and to other regions follows a
//! matrix of typical inter-continental round trips plus jitter; a few regions are unreachable
//! for a few players; some players cap their ping.

use matchwright_ecs::{
    Command, Config, EnqueueTicket, NO_PING, PartyId, PlayerId, Rating, TicketId, TicketMember,
};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;
use rand_distr::{Distribution, Normal};

/// The shape of the population.
#[derive(Clone, Debug, PartialEq)]
pub struct PopulationConfig {
    /// Mean rating. Default: 1500.
    pub rating_mean: f64,
    /// Standard deviation of ratings. Default: 300.
    pub rating_spread: f64,
    /// Standard deviation of a party member's rating around the party's. Default: 120.
    pub party_rating_spread: f64,
    /// Rating uncertainty, drawn uniformly in this range. Default: 60..250.
    pub sigma_range: (f64, f64),
    /// Share of players by home region, in the matcher config's region order.
    /// Default: 0.35, 0.35, 0.2, 0.1.
    pub region_shares: Vec<f64>,
    /// Party sizes and their weights; sizes above a queue's limit are not drawn for it.
    /// Default: solo 60%, duo 20%, trio 10%, four 5%, five 5%.
    pub party_sizes: Vec<(u8, f64)>,
    /// Queues (by name) and their share of arrivals. Default: the default config's queues,
    /// 20% duel-1v1, 60% ranked-5v5, 20% trios-ffa.
    pub queue_shares: Vec<(String, f64)>,
    /// Chance a non-home region is unreachable for a player. Default: 0.05.
    pub unreachable_chance: f64,
    /// Chance a ticket caps its ping (at 100-180 ms). Default: 0.1.
    pub ping_cap_chance: f64,
}

impl Default for PopulationConfig {
    fn default() -> Self {
        Self {
            rating_mean: 1500.0,
            rating_spread: 300.0,
            party_rating_spread: 120.0,
            sigma_range: (60.0, 250.0),
            region_shares: vec![0.35, 0.35, 0.2, 0.1],
            party_sizes: vec![(1, 0.6), (2, 0.2), (3, 0.1), (4, 0.05), (5, 0.05)],
            queue_shares: vec![
                ("duel-1v1".into(), 0.2),
                ("ranked-5v5".into(), 0.6),
                ("trios-ffa".into(), 0.2),
            ],
            unreachable_chance: 0.05,
            ping_cap_chance: 0.1,
        }
    }
}

/// Typical round trips between the default regions (eu-west, us-east, ap-southeast, sa-east).
const REGION_RTT_MS: [[u16; 4]; 4] = [
    [0, 85, 170, 190],
    [85, 0, 210, 120],
    [170, 210, 0, 300],
    [190, 120, 300, 0],
];

fn region_rtt_ms(from: usize, to: usize) -> u16 {
    match (REGION_RTT_MS.get(from), REGION_RTT_MS.get(to)) {
        (Some(row), Some(_)) => row[to],
        _ => 80 + 40 * from.abs_diff(to) as u16,
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
    rng: ChaCha8Rng,
    /// Per queue of `config.queue_shares`: its max party size.
    queue_party_limits: Vec<u8>,
    regions: usize,
    next_player: u64,
    next_ticket: u64,
    next_party: u64,
}

impl Population {
    /// A population for a matcher with `matcher` config. Queues in `queue_shares` that the
    /// matcher does not have are an error, named.
    pub fn new(seed: u64, config: PopulationConfig, matcher: &Config) -> Result<Self, String> {
        let mut queue_party_limits = Vec::new();
        for (name, _) in &config.queue_shares {
            let queue = matcher
                .queues
                .iter()
                .find(|queue| &queue.name == name)
                .ok_or_else(|| format!("the population names queue `{name}`, which the matcher config does not have"))?;
            queue_party_limits.push(queue.max_party_size);
        }
        if config.queue_shares.is_empty() {
            return Err("the population needs at least one queue".into());
        }
        Ok(Self {
            rng: ChaCha8Rng::seed_from_u64(seed),
            queue_party_limits,
            regions: matcher.regions.len(),
            config,
            next_player: 1,
            next_ticket: 1,
            next_party: 1,
        })
    }

    /// Picks an index by weight.
    fn weighted(&mut self, weights: impl Iterator<Item = f64> + Clone) -> usize {
        let total: f64 = weights.clone().sum();
        let mut point = self.rng.random_range(0.0..total.max(f64::MIN_POSITIVE));
        let mut last = 0;
        for (index, weight) in weights.enumerate() {
            last = index;
            if point < weight {
                return index;
            }
            point -= weight;
        }
        last
    }

    /// The mean party size in queue `index` of `queue_shares`.
    pub fn mean_party_size(&self, queue_index: usize) -> f64 {
        let limit = self.queue_party_limits[queue_index];
        let (weighted, total) = self
            .config
            .party_sizes
            .iter()
            .filter(|(size, _)| *size <= limit)
            .fold((0.0, 0.0), |(sum, total), (size, weight)| {
                (sum + f64::from(*size) * weight, total + weight)
            });
        if total > 0.0 { weighted / total } else { 1.0 }
    }

    /// The population's configuration.
    pub fn config(&self) -> &PopulationConfig {
        &self.config
    }

    /// The next arrival.
    pub fn arrival(&mut self) -> Arrival {
        let shares: Vec<f64> = self.config.queue_shares.iter().map(|(_, s)| *s).collect();
        let queue_index = self.weighted(shares.iter().copied());
        let queue = self.config.queue_shares[queue_index].0.clone();
        let limit = self.queue_party_limits[queue_index];
        let sizes: Vec<(u8, f64)> = self
            .config
            .party_sizes
            .iter()
            .copied()
            .filter(|(size, _)| *size <= limit)
            .collect();
        let size = if sizes.is_empty() {
            1
        } else {
            sizes[self.weighted(sizes.iter().map(|(_, w)| *w))].0
        };
        let region_shares: Vec<f64> = (0..self.regions)
            .map(|region| {
                self.config
                    .region_shares
                    .get(region)
                    .copied()
                    .unwrap_or(0.05)
            })
            .collect();
        let home = self.weighted(region_shares.iter().copied());
        let skill = Normal::new(self.config.rating_mean, self.config.rating_spread)
            .map_or(self.config.rating_mean, |normal| {
                normal.sample(&mut self.rng)
            });
        let spread = if size > 1 {
            self.config.party_rating_spread
        } else {
            0.0
        };
        let members: Vec<TicketMember> = (0..size)
            .map(|_| {
                let player = PlayerId(self.next_player);
                self.next_player += 1;
                let offset = Normal::new(0.0, spread.max(1e-9))
                    .map_or(0.0, |normal| normal.sample(&mut self.rng));
                let (low, high) = self.config.sigma_range;
                let sigma = self.rng.random_range(low..high.max(low + 1e-9));
                TicketMember {
                    player,
                    rating: Rating::new(skill + offset, sigma),
                    pings_ms: self.pings(home),
                }
            })
            .collect();
        let ticket = TicketId(self.next_ticket);
        self.next_ticket += 1;
        let mut commands = Vec::with_capacity(usize::from(size) + 1);
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
        let max_ping_ms = self
            .rng
            .random_bool(self.config.ping_cap_chance.clamp(0.0, 1.0))
            .then(|| self.rng.random_range(100..180));
        commands.push(Command::Enqueue(EnqueueTicket {
            ticket,
            queue,
            party,
            members,
            max_ping_ms,
            waiting_since_ms: None,
        }));
        Arrival {
            commands,
            ticket,
            party,
            players: usize::from(size),
        }
    }

    fn pings(&mut self, home: usize) -> Vec<u16> {
        (0..self.regions)
            .map(|region| {
                if region == home {
                    self.rng.random_range(10..60)
                } else if self
                    .rng
                    .random_bool(self.config.unreachable_chance.clamp(0.0, 1.0))
                {
                    NO_PING
                } else {
                    region_rtt_ms(home, region) + self.rng.random_range(0..30)
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_arrivals() {
        let config = Config::default();
        let mut one = Population::new(5, PopulationConfig::default(), &config).unwrap();
        let mut two = Population::new(5, PopulationConfig::default(), &config).unwrap();
        for _ in 0..100 {
            assert_eq!(one.arrival(), two.arrival());
        }
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
    fn an_unknown_queue_is_named() {
        let population = PopulationConfig {
            queue_shares: vec![("nope".into(), 1.0)],
            ..PopulationConfig::default()
        };
        let error = Population::new(1, population, &Config::default()).unwrap_err();
        assert!(error.contains("nope"));
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
}
