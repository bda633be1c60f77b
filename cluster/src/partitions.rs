//! Which queues each partition of a cluster runs: the `[cluster]` section of the config file,
//! read by every process of the cluster (matchers, and the gateways that route commands).
//!
//! ```toml
//! [[cluster.partitions]]
//! name = "duels"
//! queues = ["duel-1v1"]
//!
//! [[cluster.partitions]]
//! name = "teams"
//! queues = ["ranked-5v5", "casual-5v5"]
//! ```
//!
//! A queue may be split by region: listed in several partitions, each with `regions`, the
//! region sets disjoint and together every region of the config. A ticket of a split queue
//! goes to the partition of its best region (lowest ping, the worst of its members'; ties to
//! the region listed first in the config) and plays only in that partition's regions (the
//! gateway keeps its pings there), so the partitions never compete for one match:
//!
//! ```toml
//! [[cluster.partitions]]
//! name = "ranked-eu"
//! queues = ["ranked-5v5"]
//! regions = ["eu-west"]
//!
//! [[cluster.partitions]]
//! name = "ranked-rest"
//! queues = ["ranked-5v5"]
//! regions = ["us-east", "us-west", "ap-southeast"]
//! ```
//!
//! With no partitions listed, a partition runs every queue (a cluster of one partition, of
//! any name). With a list, every queue of the matcher config is in exactly one partition, a
//! matcher runs only a partition named here, and its matches are numbered from
//! `(index + 1) << 40` (index: its place in the list), so that no two partitions give two
//! matches one id and a match id names its partition. Ids stay below 2^53, exact in JSON.

use matchwright_ecs::{Config, EnqueueTicket, NO_PING};
use serde::{Deserialize, Serialize};

use crate::log::check_partition_name;

/// A partition's match ids start at `(index + 1) << MATCH_ID_SHIFT`.
pub const MATCH_ID_SHIFT: u32 = 40;

/// The most partitions a map lists (match ids stay below 2^53).
pub const MAX_PARTITIONS: usize = 4_096;

/// `[cluster]`: the partition map.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterSection {
    /// The partitions, each with its queues.
    pub partitions: Vec<PartitionEntry>,
}

/// One partition of the map.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartitionEntry {
    /// Its name (its log is the stream `MW_<name>`).
    pub name: String,
    /// The queues it runs.
    pub queues: Vec<String>,
    /// The regions it runs them in (empty: every region).
    #[serde(default)]
    pub regions: Vec<String>,
}

/// What is wrong with a map: the field (as in the file) and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapError {
    /// The field, e.g. `cluster.partitions[1].queues[0]`.
    pub field: String,
    /// Why.
    pub message: String,
}

impl ClusterSection {
    /// Checks the map against the matcher config: valid, unique names; known queues and
    /// regions; each queue in each region in exactly one partition.
    pub fn check(&self, config: &Config) -> Result<(), MapError> {
        if self.partitions.is_empty() {
            return Ok(());
        }
        let error = |field: String, message: String| Err(MapError { field, message });
        if self.partitions.len() > MAX_PARTITIONS {
            return error(
                "cluster.partitions".into(),
                format!("at most {MAX_PARTITIONS} partitions"),
            );
        }
        let mut owner: std::collections::HashMap<(&str, &str), &str> =
            std::collections::HashMap::new();
        for (index, entry) in self.partitions.iter().enumerate() {
            let field = format!("cluster.partitions[{index}]");
            for (at, region) in entry.regions.iter().enumerate() {
                if entry.regions[..at].contains(region) {
                    return error(
                        format!("{field}.regions[{at}]"),
                        format!("region `{region}` is listed twice"),
                    );
                }
                if config.region_index(region).is_none() {
                    return error(
                        format!("{field}.regions[{at}]"),
                        format!(
                            "no region is named `{region}`; the regions are {:?}",
                            config.regions
                        ),
                    );
                }
            }
            let regions: Vec<&str> = if entry.regions.is_empty() {
                config.regions.iter().map(String::as_str).collect()
            } else {
                entry.regions.iter().map(String::as_str).collect()
            };
            if let Err(bad) = check_partition_name(&entry.name) {
                return error(format!("{field}.name"), bad.to_string());
            }
            if self.partitions[..index]
                .iter()
                .any(|p| p.name == entry.name)
            {
                return error(
                    format!("{field}.name"),
                    format!("partition `{}` is listed twice", entry.name),
                );
            }
            for (at, queue) in entry.queues.iter().enumerate() {
                let field = format!("{field}.queues[{at}]");
                if !config.queues.iter().any(|known| known.name == *queue) {
                    return error(field, format!("no queue is named `{queue}`"));
                }
                for region in &regions {
                    if let Some(other) = owner.insert((queue, region), &entry.name) {
                        return error(
                            field,
                            format!(
                                "queue `{queue}` is already in partition `{other}` in region `{region}`"
                            ),
                        );
                    }
                }
            }
        }
        for queue in &config.queues {
            let missing: Vec<&str> = config
                .regions
                .iter()
                .map(String::as_str)
                .filter(|region| !owner.contains_key(&(queue.name.as_str(), *region)))
                .collect();
            if missing.len() == config.regions.len() {
                return error(
                    "cluster.partitions".into(),
                    format!("queue `{}` is in no partition", queue.name),
                );
            }
            if !missing.is_empty() {
                return error(
                    "cluster.partitions".into(),
                    format!("no partition runs queue `{}` in {missing:?}", queue.name),
                );
            }
        }
        Ok(())
    }

    /// The partition of `ticket`: its queue's, or for a queue split by region the one that
    /// runs it in the ticket's best region (`config.regions` order). `None`: no map, no such
    /// queue, or no region with a ping.
    pub fn partition_of_ticket(&self, ticket: &EnqueueTicket, config: &Config) -> Option<&str> {
        let entries: Vec<&PartitionEntry> = self
            .partitions
            .iter()
            .filter(|entry| entry.queues.contains(&ticket.queue))
            .collect();
        match entries.as_slice() {
            [] => None,
            [only] if only.regions.is_empty() => Some(only.name.as_str()),
            _ => {
                let best = best_region(ticket, config)?;
                entries
                    .iter()
                    .find(|entry| entry.regions.iter().any(|r| *r == best))
                    .map(|entry| entry.name.as_str())
            }
        }
    }

    /// The regions `partition` runs its queues in: `None` for every region (no map, or a
    /// partition without `regions`).
    pub fn regions_of(&self, partition: &str) -> Option<&[String]> {
        self.partitions
            .iter()
            .find(|entry| entry.name == partition)
            .map(|entry| entry.regions.as_slice())
            .filter(|regions| !regions.is_empty())
    }

    /// Whether `queue` is split by region (in more than one partition).
    pub fn is_split(&self, queue: &str) -> bool {
        self.partitions
            .iter()
            .filter(|entry| entry.queues.iter().any(|q| q == queue))
            .count()
            > 1
    }

    /// The partition that runs `queue` (none: no map, or no such queue; for a queue split by
    /// region, the first listed: see [`ClusterSection::partition_of_ticket`]).
    pub fn partition_of(&self, queue: &str) -> Option<&str> {
        self.partitions
            .iter()
            .find(|entry| entry.queues.iter().any(|q| q == queue))
            .map(|entry| entry.name.as_str())
    }

    /// What `partition` runs: `None` when the map is empty (every queue); an error when the
    /// map does not list it.
    pub fn queues_of(&self, partition: &str) -> Result<Option<Vec<String>>, String> {
        if self.partitions.is_empty() {
            return Ok(None);
        }
        match self.partitions.iter().find(|entry| entry.name == partition) {
            Some(entry) => Ok(Some(entry.queues.clone())),
            None => Err(format!(
                "partition `{partition}` is not in the config's [cluster] map (it lists: {})",
                self.partitions
                    .iter()
                    .map(|entry| entry.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }

    /// Where `partition`'s match ids start (0 with no map).
    pub fn first_match_id(&self, partition: &str) -> u64 {
        self.partitions
            .iter()
            .position(|entry| entry.name == partition)
            .map_or(0, |index| (index as u64 + 1) << MATCH_ID_SHIFT)
    }

    /// The partition whose matches have ids like `match_id` (none: no map, or not a
    /// partition's id).
    pub fn partition_of_match(&self, match_id: u64) -> Option<&str> {
        let index = (match_id >> MATCH_ID_SHIFT).checked_sub(1)?;
        self.partitions
            .get(usize::try_from(index).ok()?)
            .map(|entry| entry.name.as_str())
    }
}

/// The region a ticket plays best in: the lowest of its members' worst pings per region;
/// ties to the region listed first. `None` when no region has a ping for every member.
pub fn best_region<'c>(ticket: &EnqueueTicket, config: &'c Config) -> Option<&'c str> {
    (0..config.regions.len())
        .map(|index| (ticket.worst_ping_ms(index), index))
        .filter(|(worst, _)| *worst != NO_PING)
        .min()
        .map(|(_, index)| config.regions[index].as_str())
}

/// Keeps `ticket`'s pings to `regions` (the others become [`NO_PING`]): a ticket of a queue
/// split by region plays only where its partition runs it.
pub fn keep_to_regions(ticket: &mut EnqueueTicket, regions: &[String], config: &Config) {
    for (index, region) in config.regions.iter().enumerate() {
        if regions.contains(region) {
            continue;
        }
        for member in &mut ticket.members {
            if let Some(ping) = member.pings_ms.get_mut(index) {
                *ping = NO_PING;
            }
        }
    }
}

/// Whether `ticket` plays only in `regions` (a ping nowhere else).
pub fn plays_only_in(ticket: &EnqueueTicket, regions: &[String], config: &Config) -> bool {
    config.regions.iter().enumerate().all(|(index, region)| {
        regions.contains(region)
            || ticket.members.iter().all(|member| {
                member
                    .pings_ms
                    .get(index)
                    .is_none_or(|ping| *ping == NO_PING)
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(entries: &[(&str, &[&str])]) -> ClusterSection {
        ClusterSection {
            partitions: entries
                .iter()
                .map(|(name, queues)| PartitionEntry {
                    name: (*name).into(),
                    queues: queues.iter().map(|q| (*q).to_string()).collect(),
                    regions: Vec::new(),
                })
                .collect(),
        }
    }

    fn all_queues() -> Vec<String> {
        Config::default()
            .queues
            .iter()
            .map(|q| q.name.clone())
            .collect()
    }

    fn split() -> ClusterSection {
        let queues = all_queues();
        let (first, rest) = queues.split_first().unwrap();
        let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
        map(&[("a", &[first.as_str()]), ("b", &rest)])
    }

    #[test]
    fn a_map_that_covers_every_queue_once_is_accepted_and_routes() {
        let config = Config::default();
        let split = split();
        assert_eq!(split.check(&config), Ok(()));
        let first = &config.queues[0].name;
        assert_eq!(split.partition_of(first), Some("a"));
        assert_eq!(split.partition_of(&config.queues[1].name), Some("b"));
        assert_eq!(split.partition_of("nope"), None);
        assert_eq!(split.queues_of("a").unwrap(), Some(vec![first.clone()]));
        assert!(split.queues_of("c").unwrap_err().contains("it lists: a, b"));
        assert_eq!(split.first_match_id("a"), 1 << 40);
        assert_eq!(split.first_match_id("b"), 2 << 40);
        assert_eq!(split.partition_of_match((2 << 40) + 17), Some("b"));
        assert_eq!(split.partition_of_match(17), None);
        assert_eq!(split.partition_of_match(9 << 40), None);
        let empty = ClusterSection::default();
        assert_eq!(empty.check(&config), Ok(()));
        assert_eq!(empty.queues_of("any").unwrap(), None);
        assert_eq!(empty.first_match_id("any"), 0);
    }

    /// `duel-1v1` split: eu-west in `eu`, every other region in `rest`; the others in `all`.
    fn by_region() -> ClusterSection {
        let config = Config::default();
        let mut map = map(&[("eu", &["duel-1v1"]), ("rest", &["duel-1v1"])]);
        map.partitions[0].regions = vec![config.regions[0].clone()];
        map.partitions[1].regions = config.regions[1..].to_vec();
        let others: Vec<String> = all_queues()
            .into_iter()
            .filter(|q| q != "duel-1v1")
            .collect();
        map.partitions.push(PartitionEntry {
            name: "all".into(),
            queues: others,
            regions: Vec::new(),
        });
        map
    }

    fn duelist(pings: Vec<u16>) -> EnqueueTicket {
        EnqueueTicket::solo(
            matchwright_ecs::TicketId(1),
            "duel-1v1",
            matchwright_ecs::PlayerId(1),
            matchwright_ecs::Rating::new(1500.0, 100.0),
            pings,
        )
    }

    #[test]
    fn a_queue_split_by_region_routes_each_ticket_to_its_best_region() {
        let config = Config::default();
        assert!(config.regions.len() >= 3, "{:?}", config.regions);
        let map = by_region();
        assert_eq!(map.check(&config), Ok(()));
        assert!(map.is_split("duel-1v1") && !map.is_split(&map.partitions[2].queues[0]));
        let n = config.regions.len();
        let mut pings = vec![NO_PING; n];
        pings[0] = 40;
        pings[1] = 30;
        let mut ticket = duelist(pings);
        assert_eq!(
            best_region(&ticket, &config),
            Some(config.regions[1].as_str())
        );
        assert_eq!(map.partition_of_ticket(&ticket, &config), Some("rest"));
        let rest = map.regions_of("rest").unwrap().to_vec();
        assert!(
            !plays_only_in(&ticket, &rest, &config),
            "it has a ping in eu"
        );
        keep_to_regions(&mut ticket, &rest, &config);
        assert_eq!(ticket.members[0].pings_ms[0], NO_PING);
        assert_eq!(ticket.members[0].pings_ms[1], 30);
        assert!(plays_only_in(&ticket, &rest, &config));
        // Ties go to the region listed first; no ping anywhere routes nowhere.
        let tied = duelist(vec![30; n]);
        assert_eq!(map.partition_of_ticket(&tied, &config), Some("eu"));
        assert_eq!(
            map.partition_of_ticket(&duelist(vec![NO_PING; n]), &config),
            None
        );
        assert_eq!(map.regions_of("all"), None);
    }

    #[test]
    fn a_split_that_overlaps_leaves_a_gap_or_names_no_region_is_refused() {
        let config = Config::default();
        let mut overlap = by_region();
        overlap.partitions[1]
            .regions
            .push(config.regions[0].clone());
        let error = overlap.check(&config).unwrap_err();
        assert_eq!(error.field, "cluster.partitions[1].queues[0]");
        assert!(
            error
                .message
                .contains("already in partition `eu` in region"),
            "{error:?}"
        );
        let mut gap = by_region();
        gap.partitions[1].regions.pop();
        let error = gap.check(&config).unwrap_err();
        assert!(
            error
                .message
                .contains("no partition runs queue `duel-1v1` in"),
            "{error:?}"
        );
        let mut twice = by_region();
        twice.partitions[0].regions.push(config.regions[0].clone());
        let error = twice.check(&config).unwrap_err();
        assert_eq!(error.field, "cluster.partitions[0].regions[1]");
        assert!(error.message.contains("listed twice"), "{error:?}");
        let mut unknown = by_region();
        unknown.partitions[0].regions = vec!["mars".into()];
        let error = unknown.check(&config).unwrap_err();
        assert_eq!(error.field, "cluster.partitions[0].regions[0]");
        assert!(error.message.contains("`mars`"), "{error:?}");
    }

    #[test]
    fn a_bad_map_names_the_field_at_fault() {
        let config = Config::default();
        let queues = all_queues();
        let first = queues[0].as_str();
        let unknown = map(&[("a", &["nope"])]).check(&config).unwrap_err();
        assert_eq!(unknown.field, "cluster.partitions[0].queues[0]");
        assert!(unknown.message.contains("`nope`"), "{unknown:?}");
        let twice = map(&[("a", &[first]), ("b", &[first])])
            .check(&config)
            .unwrap_err();
        assert_eq!(twice.field, "cluster.partitions[1].queues[0]");
        assert!(
            twice.message.contains("already in partition `a`"),
            "{twice:?}"
        );
        let uncovered = map(&[("a", &[first])]).check(&config).unwrap_err();
        assert!(
            uncovered.message.contains("in no partition"),
            "{uncovered:?}"
        );
        let bad_name = map(&[("a b", &[first])]).check(&config).unwrap_err();
        assert_eq!(bad_name.field, "cluster.partitions[0].name");
        let mut same = split();
        same.partitions[1].name = "a".into();
        let named_twice = same.check(&config).unwrap_err();
        assert!(
            named_twice.message.contains("listed twice"),
            "{named_twice:?}"
        );
    }
}
