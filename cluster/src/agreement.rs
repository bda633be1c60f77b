//! What a process must agree on with the rest of its cluster before it joins: the matcher
//! config of its partition. The first process of a partition records the config's hash in
//! JetStream KV (bucket `MW_CLUSTER`, key `config.<partition>`); every later one compares its
//! own and refuses to start on a difference, since replicas with different configs would
//! diverge at their first tick. The hash also seeds the partition's matcher, so every replica
//! of a partition draws the same random numbers.

use async_nats::jetstream::Context;
use async_nats::jetstream::kv::CreateErrorKind;
use matchwright_ecs::{Config, codec};

use crate::lease::bucket;
use crate::log::{LOG_TIMEOUT, LogError};

/// The KV bucket of what a cluster's processes agree on.
pub const CLUSTER_BUCKET: &str = "MW_CLUSTER";

/// The hash of a partition's config (its encoding, with the partition's name).
pub fn config_hash(partition: &str, config: &Config) -> [u8; 32] {
    let mut hasher = blake3::Hasher::new();
    hasher.update(partition.as_bytes());
    hasher.update(&[0]);
    hasher.update(&codec::encode(config));
    *hasher.finalize().as_bytes()
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
    let store = bucket(jetstream, CLUSTER_BUCKET).await?;
    let key = format!("config.{partition}");
    let mine = codec::hex(hash);
    let created = tokio::time::timeout(LOG_TIMEOUT, store.create(&key, mine.clone().into()))
        .await
        .map_err(|_| LogError::Server("recording the config timed out".into()))?;
    match created {
        Ok(_) => return Ok(()),
        Err(error) if error.kind() == CreateErrorKind::AlreadyExists => {}
        Err(error) => return Err(LogError::Server(format!("recording the config: {error}"))),
    }
    let entry = tokio::time::timeout(LOG_TIMEOUT, store.entry(key.as_str()))
        .await
        .map_err(|_| LogError::Server("reading the cluster's config timed out".into()))?
        .map_err(|error| LogError::Server(format!("reading the cluster's config: {error}")))?;
    let theirs = entry
        .map(|entry| String::from_utf8_lossy(&entry.value).into_owned())
        .unwrap_or_default();
    if theirs == mine {
        return Ok(());
    }
    Err(LogError::Server(format!(
        "partition {partition}: this process's config hashes to {mine}, the cluster's to \
         {theirs}; start every process of the partition with the same config (a new config \
         needs a new partition log)"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_depends_on_the_config_and_the_partition() {
        let config = Config::default();
        let hash = config_hash("a", &config);
        assert_eq!(hash, config_hash("a", &config));
        assert_ne!(hash, config_hash("b", &config));
        let mut other = config.clone();
        other.queues.pop();
        assert_ne!(hash, config_hash("a", &other));
        assert_eq!(seed(&hash), seed(&config_hash("a", &config)));
    }
}
