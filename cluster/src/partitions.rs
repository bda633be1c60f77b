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
//! With no partitions listed, a partition runs every queue (a cluster of one partition, of
//! any name). With a list, every queue of the matcher config is in exactly one partition, a
//! matcher runs only a partition named here, and its matches are numbered from
//! `(index + 1) << 40` (index: its place in the list), so that no two partitions give two
//! matches one id and a match id names its partition. Ids stay below 2^53, exact in JSON.

use matchwright_ecs::Config;
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
    /// Checks the map against the matcher config: valid, unique names; known queues, each in
    /// exactly one partition.
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
        let mut owner: std::collections::HashMap<&str, &str> = std::collections::HashMap::new();
        for (index, entry) in self.partitions.iter().enumerate() {
            let field = format!("cluster.partitions[{index}]");
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
                if let Some(other) = owner.insert(queue, &entry.name) {
                    return error(
                        field,
                        format!("queue `{queue}` is already in partition `{other}`"),
                    );
                }
            }
        }
        match config
            .queues
            .iter()
            .find(|q| !owner.contains_key(q.name.as_str()))
        {
            Some(queue) => error(
                "cluster.partitions".into(),
                format!("queue `{}` is in no partition", queue.name),
            ),
            None => Ok(()),
        }
    }

    /// The partition that runs `queue` (none: no map, or no such queue).
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
        assert!(twice.message.contains("already in partition `a`"));
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
