//! What a process must agree on with the rest of its cluster before it joins: the matcher
//! config of its partition, and the partition map (`partitions`). The first process records
//! each hash in JetStream KV (bucket `MW_CLUSTER`, keys `config.<partition>` and
//! `partitions`); every later one compares its own and refuses to start on a difference,
//! since replicas with different configs would diverge at their first tick, and processes
//! with different maps would send a queue's commands to different partitions. The config hash
//! also seeds the partition's matcher, so every replica of a partition draws the same random
//! numbers, and [`fresh_replica`] is the one way a partition's replica starts from nothing.

use async_nats::jetstream::Context;
use matchwright_ecs::{Config, codec};

use crate::lease::{bucket, compare_and_set};
use crate::log::{LOG_TIMEOUT, LogError};
use crate::partitions::ClusterSection;
use crate::replica::Replica;

/// The KV bucket of what a cluster's processes agree on.
pub const CLUSTER_BUCKET: &str = "MW_CLUSTER";

/// The hash of a partition's config (its encoding, with the partition's name, and the
/// partition map when there is one).
pub fn config_hash(partition: &str, config: &Config, map: &ClusterSection) -> [u8; 32] {
    let mut hasher = blake3::Hasher::new();
    hasher.update(partition.as_bytes());
    hasher.update(&[0]);
    hasher.update(&codec::encode(config));
    if !map.partitions.is_empty() {
        hasher.update(&map_hash(map));
    }
    *hasher.finalize().as_bytes()
}

/// The hash of a partition map. A map without `regions` hashes as maps did before regions
/// existed (the entries' names and queues only), so a cluster's agreed hashes and its
/// snapshots stay good across the upgrade that added them.
pub fn map_hash(map: &ClusterSection) -> [u8; 32] {
    if map.partitions.iter().any(|entry| !entry.regions.is_empty()) {
        return *blake3::hash(&codec::encode(map)).as_bytes();
    }
    let without_regions = MapWithoutRegions {
        partitions: map
            .partitions
            .iter()
            .map(|entry| EntryWithoutRegions {
                name: &entry.name,
                queues: &entry.queues,
            })
            .collect(),
    };
    *blake3::hash(&codec::encode(&without_regions)).as_bytes()
}

/// A map as it was encoded before `regions` (the same fields, in order).
#[derive(serde::Serialize)]
struct MapWithoutRegions<'a> {
    partitions: Vec<EntryWithoutRegions<'a>>,
}

#[derive(serde::Serialize)]
struct EntryWithoutRegions<'a> {
    name: &'a str,
    queues: &'a [String],
}

/// A replica of `partition` at the start of its log: seeded by its config hash, its matches
/// numbered as the map says.
pub fn fresh_replica(
    partition: &str,
    config: &Config,
    map: &ClusterSection,
) -> Result<Replica, String> {
    let hash = config_hash(partition, config, map);
    let mut replica = Replica::new(config.clone(), seed(&hash)).map_err(|e| e.to_string())?;
    let first = map.first_match_id(partition);
    if first != 0 {
        replica.number_matches_from(first)?;
    }
    Ok(replica)
}

/// Records the partition map's hash if none is recorded yet, else checks that it is the
/// recorded one (every process of a cluster must route alike).
pub async fn agree_on_map(jetstream: &Context, map: &ClusterSection) -> Result<(), LogError> {
    agree(jetstream, "partitions", &map_hash(map))
        .await
        .map_err(|theirs| {
            LogError::Server(format!(
                "this process's partition map hashes to {}, the cluster's to {theirs}; start every \
             process of the cluster with the same [cluster] section",
                codec::hex(&map_hash(map))
            ))
        })
}

/// The seed of a partition's matcher: the first eight bytes of its config hash.
pub fn seed(hash: &[u8; 32]) -> u64 {
    let mut bytes = [0; 8];
    bytes.copy_from_slice(&hash[..8]);
    u64::from_le_bytes(bytes)
}

/// Records `hash` as the partition's config if none is recorded yet, else checks that it is
/// the recorded one. The error names both hashes and what to do.
pub async fn agree_on_config(
    jetstream: &Context,
    partition: &str,
    hash: &[u8; 32],
) -> Result<(), LogError> {
    agree(jetstream, &format!("config.{partition}"), hash)
        .await
        .map_err(|theirs| {
            LogError::Server(format!(
                "partition {partition}: this process's config hashes to {}, the cluster's to \
                 {theirs}; start every process of the partition with the same config (a new \
                 config needs a new partition log)",
                codec::hex(hash)
            ))
        })
}

/// Records `hash` under `key` if nothing is recorded yet; else compares. `Err(theirs)` on a
/// difference (a NATS failure is reported as such, inside the same error).
async fn agree(jetstream: &Context, key: &str, hash: &[u8; 32]) -> Result<(), String> {
    let store = bucket(jetstream, CLUSTER_BUCKET)
        .await
        .map_err(|error| format!("(unknown: {error})"))?;
    let mine = codec::hex(hash);
    let created = compare_and_set(&store, key, mine.clone().into(), None, "recording it")
        .await
        .map_err(|error| format!("(unknown: {error})"))?;
    if created.is_some() {
        return Ok(());
    }
    let entry = tokio::time::timeout(LOG_TIMEOUT, store.entry(key))
        .await
        .map_err(|_| "(unknown: reading it timed out)".to_owned())?
        .map_err(|error| format!("(unknown: reading it failed: {error})"))?;
    let theirs = entry
        .map(|entry| String::from_utf8_lossy(&entry.value).into_owned())
        .unwrap_or_default();
    if theirs == mine { Ok(()) } else { Err(theirs) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_depends_on_the_config_and_the_partition() {
        let config = Config::default();
        let none = ClusterSection::default();
        let hash = config_hash("a", &config, &none);
        assert_eq!(hash, config_hash("a", &config, &none));
        assert_ne!(hash, config_hash("b", &config, &none));
        let mut other = config.clone();
        other.queues.pop();
        assert_ne!(hash, config_hash("a", &other, &none));
        assert_eq!(seed(&hash), seed(&config_hash("a", &config, &none)));
        let map = ClusterSection {
            partitions: vec![crate::partitions::PartitionEntry {
                name: "a".into(),
                queues: config.queues.iter().map(|q| q.name.clone()).collect(),
                regions: Vec::new(),
            }],
        };
        assert_ne!(
            hash,
            config_hash("a", &config, &map),
            "the map is part of it"
        );
        let replica = fresh_replica("a", &config, &map).unwrap();
        assert_eq!(replica.tick(), 0);
        assert!(fresh_replica("a", &config, &none).is_ok());
        // Without regions, the map hashes as the list of (name, queues) it was before regions
        // existed; with them, the regions count.
        let queues = map.partitions[0].queues.clone();
        let before_regions = vec![("a".to_string(), queues)];
        assert_eq!(
            map_hash(&map),
            *blake3::hash(&codec::encode(&(before_regions,))).as_bytes()
        );
        let mut by_region = map.clone();
        by_region.partitions[0].regions = config.regions.clone();
        assert_ne!(map_hash(&by_region), map_hash(&map));
    }
}
