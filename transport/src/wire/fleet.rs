//! The bodies of the fleet routes (`/v1/fleet/servers...`, HTTP only): a game server
//! registers with the fleet registration secret, gets its own credential, heartbeats, drains
//! and deregisters; operators list the registered servers (`GET /v1/admin/fleet`).

// utoipa's derives qualify paths that the lint calls unnecessary.
#![cfg_attr(feature = "schema", allow(unused_qualifications))]

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `POST /v1/fleet/servers`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RegisterServerRequest {
    /// Its region, one of the server's regions (`GET /v1/queues`).
    pub region: String,
    /// The address players connect to, `host:port` (at most 255 bytes): one registration's
    /// while it lives (another is 409 `address_registered`), never a fixed server's.
    pub address: String,
    /// Sessions it hosts at once, 1 to 10000.
    pub capacity: u32,
    /// Labels queues may select on (`[fleet] queue_labels`): at most 16, names and values 1
    /// to 64 bytes.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// The answer to registering: the server's id and its own credential.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct RegisteredServer {
    /// Its id (the fleet routes' `{id}`).
    pub server_id: u64,
    /// Its credential (`Authorization: Bearer TOKEN`) for its fleet routes and for the
    /// session routes of the sessions it hosts. Shown once; only its hash is kept.
    pub token: String,
    /// Heartbeat more often than this, or be taken out of the fleet.
    pub heartbeat_timeout_ms: u64,
}

/// A registered server: the answer to its heartbeat and drain, and each of
/// `GET /v1/admin/fleet`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct FleetServerStatus {
    /// Its id.
    pub server_id: u64,
    /// Its region.
    pub region: String,
    /// Its address.
    pub address: String,
    /// Sessions it hosts at most.
    pub capacity: u32,
    /// Sessions it hosts now.
    pub sessions: u32,
    /// Whether it drains (takes no new session).
    pub draining: bool,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// When it was last heard from (Unix ms).
    pub last_seen_ms: u64,
}

/// `GET /v1/admin/fleet`: the registered servers, by id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct FleetServers {
    /// Whether registration is open on this server (a registration secret is set).
    pub registration_open: bool,
    /// The servers.
    pub servers: Vec<FleetServerStatus>,
}
