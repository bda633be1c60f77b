//! Game-server allocation: which server hosts a formed match.
//!
//! [`Allocator`] is the seam: the tick loop asks it for a server when a match forms and tells
//! it when a session is over. [`StaticFleet`] allocates from the `[fleet]` of the config
//! (addresses and capacity per region). An Agones allocator would implement the same trait;
//! since Agones answers over the network, it would run its requests off the tick thread and
//! feed the answers back as `SessionReady` / `AllocationFailed` commands, which is exactly what
//! the tick loop does with a static fleet's immediate answer.

use std::collections::HashMap;
use std::fmt;

use matchwright_ecs::MatchId;

use crate::settings::FleetSection;

/// Why no server was given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AllocationError {
    /// The region has no servers at all.
    NoServers {
        /// The region.
        region: String,
    },
    /// Every server of the region is full.
    Full {
        /// The region.
        region: String,
        /// Sessions it hosts at most.
        capacity: u64,
    },
}

impl fmt::Display for AllocationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoServers { region } => write!(f, "no game servers in region `{region}`"),
            Self::Full { region, capacity } => write!(
                f,
                "every game server in region `{region}` is full ({capacity} sessions)"
            ),
        }
    }
}

/// Finds game servers for matches.
pub trait Allocator: Send {
    /// A server (its address) for `match_id` of `queue` in `region`, reserved until
    /// [`Allocator::release`].
    fn allocate(
        &mut self,
        match_id: MatchId,
        region: &str,
        queue: &str,
    ) -> Result<String, AllocationError>;

    /// The session is over: its server's slot is free again. Unknown matches are ignored.
    fn release(&mut self, match_id: MatchId);

    /// At start: `match_id` is already running on `address` (recovered from the store).
    fn adopt(&mut self, match_id: MatchId, address: &str);

    /// Sessions hosted now.
    fn in_use(&self) -> usize;
}

#[derive(Debug)]
struct Slot {
    region: String,
    address: String,
    capacity: u32,
    used: u32,
}

/// A fixed list of servers with a capacity each.
#[derive(Debug)]
pub struct StaticFleet {
    servers: Vec<Slot>,
    assigned: HashMap<MatchId, usize>,
}

impl StaticFleet {
    /// The fleet of a config.
    pub fn new(fleet: &FleetSection) -> Self {
        Self {
            servers: fleet
                .servers
                .iter()
                .map(|server| Slot {
                    region: server.region.clone(),
                    address: server.address.clone(),
                    capacity: server.capacity,
                    used: 0,
                })
                .collect(),
            assigned: HashMap::new(),
        }
    }
}

impl StaticFleet {
    /// Whether `address` is one of its servers.
    pub fn hosts(&self, address: &str) -> bool {
        self.servers.iter().any(|slot| slot.address == address)
    }
}

impl Allocator for StaticFleet {
    /// The server of `region` with the most room (a fixed fleet has no labels: any queue).
    fn allocate(
        &mut self,
        match_id: MatchId,
        region: &str,
        _queue: &str,
    ) -> Result<String, AllocationError> {
        if let Some(&index) = self.assigned.get(&match_id) {
            return Ok(self.servers[index].address.clone());
        }
        // The server of the region with the most free room; the first on ties.
        let mut best: Option<(usize, u32)> = None;
        let mut capacity = 0_u64;
        for (index, slot) in self.servers.iter().enumerate() {
            if slot.region != region {
                continue;
            }
            capacity += u64::from(slot.capacity);
            // A server adopted over its capacity (the config shrank) has no room, not a
            // negative one.
            let free = slot.capacity.saturating_sub(slot.used);
            if free > 0 && best.is_none_or(|(_, most)| free > most) {
                best = Some((index, free));
            }
        }
        match best {
            Some((index, _)) => {
                self.servers[index].used += 1;
                self.assigned.insert(match_id, index);
                Ok(self.servers[index].address.clone())
            }
            None if capacity == 0 => Err(AllocationError::NoServers {
                region: region.to_string(),
            }),
            None => Err(AllocationError::Full {
                region: region.to_string(),
                capacity,
            }),
        }
    }

    fn release(&mut self, match_id: MatchId) {
        if let Some(index) = self.assigned.remove(&match_id) {
            let slot = &mut self.servers[index];
            assert!(slot.used > 0, "a released slot was in use");
            slot.used -= 1;
        }
    }

    fn adopt(&mut self, match_id: MatchId, address: &str) {
        if self.assigned.contains_key(&match_id) {
            return;
        }
        // The server may be over capacity now (the config shrank); it just takes no more.
        if let Some(index) = self.servers.iter().position(|s| s.address == address) {
            self.servers[index].used += 1;
            self.assigned.insert(match_id, index);
        }
    }

    fn in_use(&self) -> usize {
        self.assigned.len()
    }
}

/// A partition leader's fleet (`matchwright matcher`): the same servers, through the
/// cluster's trait.
impl matchwright_cluster::allocation::Allocate for StaticFleet {
    fn allocate(&mut self, match_id: MatchId, region: &str) -> Result<String, String> {
        Allocator::allocate(self, match_id, region, "").map_err(|error| error.to_string())
    }

    fn release(&mut self, match_id: MatchId) {
        Allocator::release(self, match_id);
    }

    fn adopt(&mut self, match_id: MatchId, address: &str) {
        Allocator::adopt(self, match_id, address);
    }
}

/// The fleet partition number `index` of `partitions` allocates from, built afresh for each
/// new leader: its share of every server's capacity (the capacity split evenly, the first
/// partitions taking the remainder), so that partitions, which do not see each other's
/// sessions, never fill a server beyond its capacity together.
pub fn partition_fleet(
    fleet: &FleetSection,
    index: usize,
    partitions: usize,
) -> matchwright_cluster::allocation::Fleet {
    let share = share_of(fleet, index, partitions);
    matchwright_cluster::allocation::Fleet(std::sync::Arc::new(move || {
        Box::new(StaticFleet::new(&share))
    }))
}

/// Partition `index`'s share of `fleet` (servers whose share is zero are left out): each
/// server's capacity split evenly, its remainder dealt one by one to the partitions in turn,
/// carrying on from server to server (ten servers of capacity 1 and two partitions: five
/// each).
fn share_of(fleet: &FleetSection, index: usize, partitions: usize) -> FleetSection {
    let partitions = partitions.max(1) as u64;
    let index = index as u64;
    let mut dealt = 0_u64;
    let mut servers = Vec::new();
    for server in &fleet.servers {
        let capacity = u64::from(server.capacity);
        let remainder = capacity % partitions;
        // The remainder goes to partitions dealt, dealt + 1, ... (mod partitions).
        let offset = (index + partitions - dealt % partitions) % partitions;
        let share = capacity / partitions + u64::from(offset < remainder);
        dealt += remainder;
        if share > 0 {
            servers.push(crate::settings::FleetServer {
                capacity: share as u32,
                ..server.clone()
            });
        }
    }
    FleetSection {
        servers,
        ..fleet.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::FleetServer;

    fn fleet() -> StaticFleet {
        StaticFleet::new(&FleetSection {
            servers: vec![
                FleetServer {
                    region: "eu".into(),
                    address: "a:1".into(),
                    capacity: 1,
                },
                FleetServer {
                    region: "eu".into(),
                    address: "b:1".into(),
                    capacity: 2,
                },
            ],
            ..FleetSection::default()
        })
    }

    #[test]
    fn allocates_the_roomiest_server_until_full_then_says_why() {
        let mut fleet = fleet();
        assert_eq!(fleet.allocate(MatchId(1), "eu", "q").unwrap(), "b:1");
        assert_eq!(
            fleet.allocate(MatchId(1), "eu", "q").unwrap(),
            "b:1",
            "idempotent"
        );
        assert_eq!(fleet.allocate(MatchId(2), "eu", "q").unwrap(), "a:1");
        assert_eq!(fleet.allocate(MatchId(3), "eu", "q").unwrap(), "b:1");
        assert_eq!(
            fleet.allocate(MatchId(4), "eu", "q"),
            Err(AllocationError::Full {
                region: "eu".into(),
                capacity: 3
            })
        );
        assert_eq!(
            fleet.allocate(MatchId(4), "us", "q"),
            Err(AllocationError::NoServers {
                region: "us".into()
            })
        );
        fleet.release(MatchId(2));
        fleet.release(MatchId(2));
        assert_eq!(fleet.in_use(), 2);
        assert_eq!(fleet.allocate(MatchId(4), "eu", "q").unwrap(), "a:1");
    }

    #[test]
    fn a_server_adopted_over_its_capacity_takes_no_more_and_does_not_overflow() {
        let mut fleet = fleet();
        for id in 1..=3 {
            Allocator::adopt(&mut fleet, MatchId(id), "a:1");
        }
        for id in 4..=5 {
            assert_eq!(
                Allocator::allocate(&mut fleet, MatchId(id), "eu", "q").unwrap(),
                "b:1"
            );
        }
        assert!(Allocator::allocate(&mut fleet, MatchId(6), "eu", "q").is_err());
    }

    #[test]
    fn partitions_share_every_server_and_together_never_exceed_it() {
        let server = |address: &str, capacity| FleetServer {
            region: "eu".into(),
            address: address.into(),
            capacity,
        };
        let fleet = FleetSection {
            servers: vec![server("a:1", 1), server("b:1", 2)],
            ..FleetSection::default()
        };
        for partitions in 1..=4 {
            let shares: Vec<FleetSection> = (0..partitions)
                .map(|index| share_of(&fleet, index, partitions))
                .collect();
            for server in &fleet.servers {
                let total: u32 = shares
                    .iter()
                    .flat_map(|share| &share.servers)
                    .filter(|s| s.address == server.address)
                    .map(|s| s.capacity)
                    .sum();
                assert_eq!(total, server.capacity, "{partitions} partitions");
            }
        }
        // Three units of capacity over three partitions: one each.
        for index in 0..3 {
            let share = share_of(&fleet, index, 3);
            let units: u32 = share.servers.iter().map(|s| s.capacity).sum();
            assert_eq!(units, 1, "partition {index}: {share:?}");
        }
        // Ten servers of one: five each of two.
        let tens = FleetSection {
            servers: (0..10).map(|n| server(&format!("s:{n}"), 1)).collect(),
            ..FleetSection::default()
        };
        assert_eq!(share_of(&tens, 0, 2).servers.len(), 5);
        assert_eq!(share_of(&tens, 1, 2).servers.len(), 5);
    }

    #[test]
    fn adopted_sessions_count_against_capacity() {
        let mut fleet = fleet();
        fleet.adopt(MatchId(7), "b:1");
        fleet.adopt(MatchId(8), "b:1");
        assert_eq!(fleet.allocate(MatchId(9), "eu", "q").unwrap(), "a:1");
        assert!(fleet.allocate(MatchId(10), "eu", "q").is_err());
    }
}
