//! The game servers' side of a run. Game servers speak HTTP, with the game-server key as
//! `Authorization: Bearer KEY`, on routes the player SDK does not have
//! (`/v1/server/session/{id}/...`). [`GameServers`] is the small HTTP client for the one this
//! tool uses, posting a session's result: the body is the wire's [`ResultRequest`], the answer
//! its [`SessionAck`], and a refusal its [`WireError`], returned as the SDK's [`ClientError`]
//! so that results are measured like every player call.
//!
//! [`GameServers::schedule_result`] posts each session's result about `--game-ms` after it
//! starts, once per match however many of its players saw it start.

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use matchwright_transport::ClientError;
use matchwright_transport::wire::{ResultRequest, SessionAck, WireError};

use crate::LoadError;
use crate::pace::jittered;
use crate::report::{Measurements, locked, timed};

/// The route results are measured under.
const RESULT_ROUTE: &str = "POST /v1/server/session/{id}/result";

/// The game servers: an HTTP client for their routes, with the game-server key, and the
/// results they have yet to post.
pub(crate) struct GameServers {
    http: reqwest::Client,
    /// `http://HOST:PORT`.
    base: String,
    key: String,
    /// How long a game lasts (ms), before jitter.
    game_ms: u64,
    measured: Arc<Measurements>,
    /// Matches whose result is scheduled and not yet posted.
    scheduled: Mutex<HashSet<u64>>,
}

impl GameServers {
    /// Game servers talking to `base` with `key`, keeping at most `max_connections` idle
    /// connections; each request gives up after `timeout`. Games last about `game_ms`.
    pub(crate) fn new(
        base: &str,
        key: String,
        max_connections: usize,
        timeout: Duration,
        game_ms: u64,
        measured: Arc<Measurements>,
    ) -> Result<Self, LoadError> {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(max_connections)
            .timeout(timeout)
            .build()
            .map_err(|error| LoadError(format!("cannot build the HTTP client: {error}")))?;
        Ok(Self {
            http,
            base: base.to_string(),
            key,
            game_ms,
            measured,
            scheduled: Mutex::new(HashSet::new()),
        })
    }

    /// `POST /v1/server/session/{match_id}/result`: the match is over, with this result.
    pub(crate) async fn post_result(
        &self,
        match_id: u64,
        result: &ResultRequest,
    ) -> Result<SessionAck, ClientError> {
        let url = format!("{}/v1/server/session/{match_id}/result", self.base);
        let sent = self
            .http
            .post(&url)
            .bearer_auth(&self.key)
            .json(result)
            .send()
            .await
            .map_err(|error| ClientError::Connection(format!("{url}: {error}")))?;
        let status = sent.status();
        let bytes = sent
            .bytes()
            .await
            .map_err(|error| ClientError::Connection(format!("{url}: {error}")))?;
        if !status.is_success() {
            return Err(ClientError::Server(WireError::from_http(
                status.as_u16(),
                &bytes,
            )));
        }
        serde_json::from_slice(&bytes)
            .map_err(|error| ClientError::Protocol(format!("{url}: not a SessionAck: {error}")))
    }

    /// Posts the match's result `game_ms` (jittered) from now, once per match.
    pub(crate) fn schedule_result(self: &Arc<Self>, match_id: u64) {
        let first = locked(&self.scheduled).insert(match_id);
        if !first {
            return;
        }
        self.measured.matches.fetch_add(1, Ordering::Relaxed);
        let servers = Arc::clone(self);
        tokio::spawn(async move {
            tokio::time::sleep(jittered(servers.game_ms, match_id)).await;
            let result = result_of(match_id);
            let posted = servers.post_result(match_id, &result);
            if timed(&servers.measured, RESULT_ROUTE, &[], posted)
                .await
                .is_ok()
            {
                servers.measured.results.fetch_add(1, Ordering::Relaxed);
            }
            locked(&servers.scheduled).remove(&match_id);
        });
    }

    /// Whether every scheduled result has been posted.
    pub(crate) fn all_posted(&self) -> bool {
        locked(&self.scheduled).is_empty()
    }
}

/// The result a fake game ends with: team 0 or 1 wins, by the match id's parity.
fn result_of(match_id: u64) -> ResultRequest {
    ResultRequest {
        winner: Some(u8::from(match_id % 2 == 1)),
        ranking: None,
        placements: None,
    }
}
