//! Game servers that register themselves: the fleet registry of `serve`.
//!
//! A game server registers with the fleet registration secret (`POST /v1/fleet/servers`:
//! region, address, capacity, labels) and gets an id and its own credential, a random token
//! of which only the BLAKE3 hash is kept. With it, it heartbeats, drains (no new sessions)
//! and deregisters, and acts on the sessions allocated to it and no other
//! (`guard::GameServer`). An address is one registration's while it lives (another is 409),
//! and never a fixed server's; the sessions on an address whose registration is gone (it
//! lapsed, or `serve` restarted) go to the next registration of that address. Anyone holding
//! the registration secret could take an address that lapsed: give it only to game servers.
//! A server not heard from for `[fleet] heartbeat_timeout_ms` is taken out: no new session,
//! its credential refused; its sessions end as any session whose heartbeats stop (the
//! matcher abandons them). [`Fleet`] is the tick loop's allocator: registered servers first
//! (by region, labels, room), then the fixed `[fleet] servers`.
//!
//! The registry lives in memory: after a restart of `serve`, servers re-register (their
//! heartbeat answers 401 `invalid_token`), and the sessions recovered from the store count
//! against their address from the start and become the first server's to register it
//! (`adopt`). Bounds: `[fleet] max_registered` servers
//! (beyond, 503 `fleet_full`); one session per match; labels as `settings::check_labels`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use matchwright_ecs::MatchId;
use matchwright_transport::wire::{FleetServerStatus, RegisterServerRequest, RegisteredServer};

use crate::clock::unix_ms;
use crate::error::ApiError;
use crate::fleet::{AllocationError, Allocator, StaticFleet};
use crate::settings::{FleetSection, check_labels};

/// The largest capacity a server registers with.
pub const MAX_CAPACITY: u32 = 10_000;
/// The longest address, in bytes.
const MAX_ADDRESS_BYTES: usize = 255;

/// A registered server, as the registry keeps it.
#[derive(Clone, Debug)]
struct Entry {
    region: String,
    address: String,
    capacity: u32,
    labels: BTreeMap<String, String>,
    token_hash: [u8; 32],
    last_seen_ms: u64,
    draining: bool,
}

#[derive(Debug, Default)]
struct State {
    servers: BTreeMap<u64, Entry>,
    by_token: HashMap<[u8; 32], u64>,
    by_address: HashMap<String, u64>,
    /// Each session's host.
    hosted: HashMap<MatchId, Host>,
    /// Sessions per address.
    used: HashMap<String, u32>,
    next_id: u64,
}

/// Where a session is played.
#[derive(Clone, Debug)]
struct Host {
    address: String,
    /// The registered server it was allocated to; `None` for a session recovered at start
    /// (`adopt`), until a server registers its address.
    server: Option<u64>,
}

/// The registered servers. Shared by the fleet routes and the tick loop's [`Fleet`].
#[derive(Debug)]
pub struct Registry {
    state: Mutex<State>,
    timeout_ms: u64,
    max_registered: usize,
    regions: Vec<String>,
    queue_labels: BTreeMap<String, BTreeMap<String, String>>,
    /// The fixed fleet's addresses: no registered server may take one.
    fixed: Vec<String>,
}

/// A registered server that authenticated: its id and address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authenticated {
    /// Its id.
    pub id: u64,
    /// Its address.
    pub address: String,
}

fn hash(token: &str) -> [u8; 32] {
    *blake3::hash(token.as_bytes()).as_bytes()
}

impl Registry {
    /// An empty registry for `fleet`'s settings, the server's regions and the fixed fleet
    /// allocated beside it (`fixed`).
    pub fn new(fleet: &FleetSection, regions: &[String], fixed: &FleetSection) -> Self {
        Self {
            state: Mutex::new(State {
                next_id: 1,
                ..State::default()
            }),
            timeout_ms: fleet.heartbeat_timeout_ms,
            max_registered: fleet.max_registered,
            regions: regions.to_vec(),
            queue_labels: fleet.queue_labels.clone(),
            fixed: fixed.servers.iter().map(|s| s.address.clone()).collect(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn expired(&self, entry: &Entry, now_ms: u64) -> bool {
        now_ms.saturating_sub(entry.last_seen_ms) > self.timeout_ms
    }

    /// Takes out every server not heard from within the timeout (a pass over them all: at
    /// registration and listing, not per request nor per allocation).
    fn expire(&self, state: &mut State, now_ms: u64) {
        let gone: Vec<u64> = state
            .servers
            .iter()
            .filter(|(_, entry)| self.expired(entry, now_ms))
            .map(|(id, _)| *id)
            .collect();
        for id in gone {
            tracing::warn!(
                server = id,
                "a registered game server stopped heartbeating; it is taken out of the fleet"
            );
            remove(state, id);
        }
    }

    /// Registers a server. An address is one server's: while its registration lives, another
    /// is refused (409 `address_registered`), as is a fixed server's address (409
    /// `address_in_fixed_fleet`). Sessions recovered at start on the address become its.
    pub fn register(&self, request: &RegisterServerRequest) -> Result<RegisteredServer, ApiError> {
        self.check(request)?;
        let token = new_token()?;
        let now_ms = unix_ms();
        let mut state = self.lock();
        self.expire(&mut state, now_ms);
        if let Some(&old) = state.by_address.get(&request.address) {
            return Err(ApiError::conflict(
                "address_registered",
                format!(
                    "server {old} has registered {}: deregister it, or wait for its heartbeat timeout",
                    request.address
                ),
            )
            .field("address"));
        }
        if state.servers.len() >= self.max_registered {
            return Err(ApiError::unavailable(
                "fleet_full",
                format!(
                    "{} game servers are registered, the most `[fleet] max_registered` allows",
                    self.max_registered
                ),
            ));
        }
        let id = state.next_id;
        state.next_id += 1;
        let entry = Entry {
            region: request.region.clone(),
            address: request.address.clone(),
            capacity: request.capacity,
            labels: request.labels.clone(),
            token_hash: hash(&token),
            last_seen_ms: now_ms,
            draining: false,
        };
        state.by_token.insert(entry.token_hash, id);
        state.by_address.insert(entry.address.clone(), id);
        state.servers.insert(id, entry);
        // Sessions on this address whose server is gone (recovered at start, or a
        // registration that lapsed while its sessions ran) are the new registration's.
        let live: std::collections::HashSet<u64> = state.servers.keys().copied().collect();
        for host in state.hosted.values_mut() {
            let orphan = host.server.is_none_or(|server| !live.contains(&server));
            if orphan && host.address == request.address {
                host.server = Some(id);
            }
        }
        tracing::info!(server = id, address = %request.address, region = %request.region, "a game server registered");
        Ok(RegisteredServer {
            server_id: id,
            token,
            heartbeat_timeout_ms: self.timeout_ms,
        })
    }

    fn check(&self, request: &RegisterServerRequest) -> Result<(), ApiError> {
        if !self.regions.contains(&request.region) {
            return Err(ApiError::invalid(
                "region",
                format!("the regions are {:?}", self.regions),
            ));
        }
        let address = &request.address;
        let port_ok = address
            .rsplit_once(':')
            .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
        if address.len() > MAX_ADDRESS_BYTES || !port_ok {
            return Err(ApiError::invalid(
                "address",
                format!("an address is `host:port`, at most {MAX_ADDRESS_BYTES} bytes"),
            ));
        }
        if self.fixed.contains(address) {
            return Err(ApiError::conflict(
                "address_in_fixed_fleet",
                format!("{address} is a server of `[fleet] servers`"),
            )
            .field("address"));
        }
        if !(1..=MAX_CAPACITY).contains(&request.capacity) {
            return Err(ApiError::invalid(
                "capacity",
                format!("a capacity is 1 to {MAX_CAPACITY} sessions"),
            ));
        }
        check_labels(&request.labels).map_err(|why| ApiError::invalid("labels", why))
    }

    /// The live server a credential belongs to; `None` for an unknown, deregistered or
    /// expired one (an expired one is taken out now).
    pub fn authenticate(&self, token: &str) -> Option<Authenticated> {
        let mut state = self.lock();
        let id = *state.by_token.get(&hash(token))?;
        let entry = &state.servers[&id];
        let (expired, address) = (self.expired(entry, unix_ms()), entry.address.clone());
        if expired {
            remove(&mut state, id);
            return None;
        }
        Some(Authenticated { id, address })
    }

    /// Whether `match_id` is a live session allocated to registered server `server`.
    pub fn hosts_session(&self, match_id: MatchId, server: u64) -> bool {
        self.lock()
            .hosted
            .get(&match_id)
            .is_some_and(|host| host.server == Some(server))
    }

    /// A server's own routes: its credential must be its own.
    fn own<'a>(
        state: &'a mut State,
        server: &Authenticated,
        id: u64,
    ) -> Result<&'a mut Entry, ApiError> {
        if server.id != id {
            return Err(ApiError::forbidden(
                "not_your_server",
                format!(
                    "this credential is server {}'s, not server {id}'s",
                    server.id
                ),
            ));
        }
        state.servers.get_mut(&id).ok_or_else(|| {
            ApiError::unauthorized("invalid_token", "the server is no longer registered")
        })
    }

    /// A heartbeat: the server is alive until the timeout from now.
    pub fn heartbeat(
        &self,
        server: &Authenticated,
        id: u64,
    ) -> Result<FleetServerStatus, ApiError> {
        let mut state = self.lock();
        let entry = Self::own(&mut state, server, id)?;
        entry.last_seen_ms = unix_ms();
        Ok(status_of(&state, id))
    }

    /// Drains a server: it takes no new session; its sessions go on.
    pub fn drain(&self, server: &Authenticated, id: u64) -> Result<FleetServerStatus, ApiError> {
        let mut state = self.lock();
        let entry = Self::own(&mut state, server, id)?;
        entry.draining = true;
        entry.last_seen_ms = unix_ms();
        tracing::info!(server = id, "a game server drains");
        Ok(status_of(&state, id))
    }

    /// Deregisters a server: its credential stops working; its sessions end when their
    /// heartbeats stop (drain first, and deregister when they are over).
    pub fn deregister(&self, server: &Authenticated, id: u64) -> Result<(), ApiError> {
        let mut state = self.lock();
        Self::own(&mut state, server, id)?;
        remove(&mut state, id);
        tracing::info!(server = id, "a game server deregistered");
        Ok(())
    }

    /// The registered servers, by id.
    pub fn list(&self) -> Vec<FleetServerStatus> {
        let mut state = self.lock();
        self.expire(&mut state, unix_ms());
        state
            .servers
            .keys()
            .map(|id| status_of(&state, *id))
            .collect()
    }

    /// A live, undrained server of `region` carrying `queue`'s labels, with the most room.
    fn allocate(
        &self,
        match_id: MatchId,
        region: &str,
        queue: &str,
    ) -> Result<String, AllocationError> {
        let mut state = self.lock();
        if let Some(host) = state.hosted.get(&match_id) {
            return Ok(host.address.clone());
        }
        // On the tick thread: one pass over the servers, the lapsed ones skipped (they are
        // taken out at the next registration, listing or authentication).
        let now_ms = unix_ms();
        let wanted = self.queue_labels.get(queue);
        let carries = |entry: &Entry| {
            wanted.is_none_or(|labels| labels.iter().all(|(k, v)| entry.labels.get(k) == Some(v)))
        };
        let mut capacity = 0_u64;
        let mut best: Option<(u64, u32)> = None;
        for (id, entry) in &state.servers {
            let out = entry.draining || self.expired(entry, now_ms);
            if entry.region != region || out || !carries(entry) {
                continue;
            }
            capacity += u64::from(entry.capacity);
            let used = state.used.get(&entry.address).copied().unwrap_or(0);
            let free = entry.capacity.saturating_sub(used);
            if free > 0 && best.is_none_or(|(_, most)| free > most) {
                best = Some((*id, free));
            }
        }
        let Some((id, _)) = best else {
            let region = region.to_string();
            return Err(if capacity == 0 {
                AllocationError::NoServers { region }
            } else {
                AllocationError::Full { region, capacity }
            });
        };
        let address = state.servers[&id].address.clone();
        host(&mut state, match_id, &address, Some(id));
        Ok(address)
    }

    fn release(&self, match_id: MatchId) -> bool {
        let mut state = self.lock();
        let Some(Host { address, .. }) = state.hosted.remove(&match_id) else {
            return false;
        };
        if let Some(used) = state.used.get_mut(&address) {
            *used = used.saturating_sub(1);
            if *used == 0 {
                state.used.remove(&address);
            }
        }
        true
    }

    fn in_use(&self) -> usize {
        self.lock().hosted.len()
    }
}

fn host(state: &mut State, match_id: MatchId, address: &str, server: Option<u64>) {
    let address = address.to_string();
    state.hosted.insert(
        match_id,
        Host {
            address: address.clone(),
            server,
        },
    );
    *state.used.entry(address).or_default() += 1;
}

fn remove(state: &mut State, id: u64) {
    if let Some(entry) = state.servers.remove(&id) {
        state.by_token.remove(&entry.token_hash);
        state.by_address.remove(&entry.address);
    }
}

fn status_of(state: &State, id: u64) -> FleetServerStatus {
    let entry = &state.servers[&id];
    FleetServerStatus {
        server_id: id,
        region: entry.region.clone(),
        address: entry.address.clone(),
        capacity: entry.capacity,
        sessions: state.used.get(&entry.address).copied().unwrap_or(0),
        draining: entry.draining,
        labels: entry.labels.clone(),
        last_seen_ms: entry.last_seen_ms,
    }
}

/// A new credential: 32 random bytes, URL-safe base64, prefixed.
fn new_token() -> Result<String, ApiError> {
    let mut bytes = [0_u8; 32];
    getrandom::fill(&mut bytes).map_err(ApiError::internal)?;
    Ok(format!("mwgs_{}", URL_SAFE_NO_PAD.encode(bytes)))
}

/// The tick loop's allocator: registered servers first, then the fixed fleet.
#[derive(Debug)]
pub struct Fleet {
    /// `[fleet] servers` (or the development fleet).
    pub fixed: StaticFleet,
    /// The registered servers, when registration is open.
    pub registry: Option<Arc<Registry>>,
}

impl Allocator for Fleet {
    fn allocate(
        &mut self,
        match_id: MatchId,
        region: &str,
        queue: &str,
    ) -> Result<String, AllocationError> {
        let Some(registry) = &self.registry else {
            return self.fixed.allocate(match_id, region, queue);
        };
        let registered = match registry.allocate(match_id, region, queue) {
            Ok(address) => return Ok(address),
            Err(error) => error,
        };
        match self.fixed.allocate(match_id, region, queue) {
            Ok(address) => Ok(address),
            // The fixed fleet has nobody there: why the registered servers could not.
            Err(AllocationError::NoServers { .. }) => Err(registered),
            Err(full) => Err(full),
        }
    }

    fn release(&mut self, match_id: MatchId) {
        let released = self
            .registry
            .as_ref()
            .is_some_and(|registry| registry.release(match_id));
        if !released {
            self.fixed.release(match_id);
        }
    }

    fn adopt(&mut self, match_id: MatchId, address: &str) {
        if self.fixed.hosts(address) {
            self.fixed.adopt(match_id, address);
        } else if let Some(registry) = &self.registry {
            let mut state = registry.lock();
            if !state.hosted.contains_key(&match_id) {
                // Its server registers again after the restart and takes it then.
                let server = state.by_address.get(address).copied();
                host(&mut state, match_id, address, server);
            }
        }
    }

    fn in_use(&self) -> usize {
        self.fixed.in_use() + self.registry.as_ref().map_or(0, |r| r.in_use())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry(queue_labels: &[(&str, &str, &str)]) -> Registry {
        let mut fleet = FleetSection::default();
        for (queue, name, value) in queue_labels {
            fleet
                .queue_labels
                .entry((*queue).to_string())
                .or_default()
                .insert((*name).to_string(), (*value).to_string());
        }
        let fixed = FleetSection {
            servers: vec![crate::settings::FleetServer {
                region: "eu".into(),
                address: "fixed:1".into(),
                capacity: 1,
            }],
            ..FleetSection::default()
        };
        Registry::new(&fleet, &["eu".to_string(), "us".to_string()], &fixed)
    }

    fn request(address: &str, capacity: u32, labels: &[(&str, &str)]) -> RegisterServerRequest {
        RegisterServerRequest {
            region: "eu".into(),
            address: address.into(),
            capacity,
            labels: labels
                .iter()
                .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
                .collect(),
        }
    }

    #[test]
    fn allocation_picks_by_region_labels_and_room_and_skips_draining_servers() {
        let registry = registry(&[("arena-duel", "map", "arena")]);
        let a = registry
            .register(&request("a:1", 1, &[("map", "arena")]))
            .unwrap();
        registry
            .register(&request("b:1", 3, &[("map", "other")]))
            .unwrap();
        // The labelled queue only on `a`; any other queue on the roomiest.
        assert_eq!(
            registry.allocate(MatchId(1), "eu", "arena-duel").unwrap(),
            "a:1"
        );
        assert_eq!(
            registry.allocate(MatchId(2), "eu", "arena-duel"),
            Err(AllocationError::Full {
                region: "eu".into(),
                capacity: 1
            })
        );
        assert_eq!(registry.allocate(MatchId(3), "eu", "duel").unwrap(), "b:1");
        assert_eq!(
            registry.allocate(MatchId(4), "us", "duel"),
            Err(AllocationError::NoServers {
                region: "us".into()
            })
        );
        // Released, `a` has room again; drained, it takes nothing.
        assert!(registry.release(MatchId(1)));
        assert!(!registry.release(MatchId(1)));
        let me = registry.authenticate(&a.token).unwrap();
        registry.drain(&me, a.server_id).unwrap();
        assert!(registry.allocate(MatchId(5), "eu", "arena-duel").is_err());
        assert_eq!(registry.in_use(), 1);
    }

    #[test]
    fn a_credential_is_its_servers_own_and_dies_with_its_registration() {
        let registry = registry(&[]);
        let a = registry.register(&request("a:1", 1, &[])).unwrap();
        let b = registry.register(&request("b:1", 1, &[])).unwrap();
        assert!(registry.authenticate("mwgs_forged").is_none());
        let me = registry.authenticate(&a.token).unwrap();
        assert_eq!(me.address, "a:1");
        let error = registry.heartbeat(&me, b.server_id).unwrap_err();
        assert_eq!(error.code(), "not_your_server");
        registry.heartbeat(&me, a.server_id).unwrap();
        // An address is one registration's, and never a fixed server's.
        let taken = registry.register(&request("a:1", 2, &[])).unwrap_err();
        assert_eq!(taken.code(), "address_registered");
        let fixed = registry.register(&request("fixed:1", 2, &[])).unwrap_err();
        assert_eq!(fixed.code(), "address_in_fixed_fleet");
        registry.deregister(&me, a.server_id).unwrap();
        assert!(registry.authenticate(&a.token).is_none());
        let again = registry.register(&request("a:1", 2, &[])).unwrap();
        assert_ne!(again.server_id, a.server_id);
        assert_eq!(registry.list().len(), 2);
    }

    #[test]
    fn bad_registrations_name_the_field() {
        let registry = registry(&[]);
        let cases = [
            (
                RegisterServerRequest {
                    region: "mars".into(),
                    ..request("a:1", 1, &[])
                },
                "region",
            ),
            (request("no-port", 1, &[]), "address"),
            (request(":7777", 1, &[]), "address"),
            (request("a:1", 0, &[]), "capacity"),
            (request("a:1", MAX_CAPACITY + 1, &[]), "capacity"),
            (request("a:1", 1, &[("", "x")]), "labels"),
        ];
        for (bad, field) in cases {
            let error = registry.register(&bad).unwrap_err();
            assert_eq!(error.0.field.as_deref(), Some(field), "{bad:?}");
        }
        assert!(registry.list().is_empty());
    }

    #[test]
    fn registration_is_bounded() {
        let fleet = FleetSection {
            max_registered: 2,
            ..FleetSection::default()
        };
        let registry = Registry::new(&fleet, &["eu".to_string()], &FleetSection::default());
        registry.register(&request("a:1", 1, &[])).unwrap();
        registry.register(&request("b:1", 1, &[])).unwrap();
        let error = registry.register(&request("c:1", 1, &[])).unwrap_err();
        assert_eq!(error.code(), "fleet_full");
    }

    #[test]
    fn a_session_is_its_servers_alone_and_a_recovered_one_goes_to_the_next_to_register() {
        let registry = Arc::new(registry(&[]));
        let mut fleet = Fleet {
            fixed: StaticFleet::new(&FleetSection::default()),
            registry: Some(Arc::clone(&registry)),
        };
        let a = registry.register(&request("a:1", 1, &[])).unwrap();
        let b = registry.register(&request("b:1", 1, &[])).unwrap();
        assert_eq!(fleet.allocate(MatchId(1), "eu", "q").unwrap(), "a:1");
        assert!(registry.hosts_session(MatchId(1), a.server_id));
        assert!(!registry.hosts_session(MatchId(1), b.server_id));
        assert!(
            !registry.hosts_session(MatchId(2), a.server_id),
            "not allocated yet"
        );
        // A registration that lapses while its session runs: the address registered again
        // (a new id) takes the session.
        let lapsed = registry.authenticate(&b.token).unwrap();
        assert_eq!(fleet.allocate(MatchId(4), "eu", "q").unwrap(), "b:1");
        registry.deregister(&lapsed, b.server_id).unwrap();
        let b_again = registry.register(&request("b:1", 1, &[])).unwrap();
        assert!(registry.hosts_session(MatchId(4), b_again.server_id));
        fleet.release(MatchId(4));
        // Recovered at start on c:1: nobody's until c:1 registers, then c's.
        fleet.adopt(MatchId(3), "c:1");
        let c = registry.register(&request("c:1", 1, &[])).unwrap();
        assert!(registry.hosts_session(MatchId(3), c.server_id));
        assert_eq!(
            registry.list()[2].sessions,
            1,
            "the recovered session counts"
        );
        fleet.release(MatchId(1));
        assert!(!registry.hosts_session(MatchId(1), a.server_id));
        assert_eq!(fleet.in_use(), 1);
    }
}
