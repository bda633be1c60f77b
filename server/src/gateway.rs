//! `matchwright gateway`: the API of `serve` in front of a cluster's matcher partitions.
//!
//! A gateway runs no matcher. It routes each command to the partition the map gives
//! (`[cluster]`: an enqueue by its queue, a cancel by its ticket's queue, a match or session
//! command by the match id's partition), appends it to that partition's log under a message id
//! of its own, and answers the request when the partition's events stream (`events` in
//! `matchwright-cluster`) gives the outcome of the tick that consumed it: applied, rejected
//! by the matcher (its reason, mapped as in `serve`), or refused by the leader (another
//! partition holds the player). The same stream, read in order per partition, updates the
//! gateway's live view (built at start from each partition's newest snapshot) and pushes live
//! events to the players connected here ([`crate::live`]). So a gateway holds nothing that is
//! not the log's function: one that restarts rebuilds its view from the snapshots and the
//! events after them, and its clients reconnect.
//!
//! Bounds: at most `server.max_pending_commands` commands wait for their outcome (503 `busy`
//! beyond); an append that the log does not acknowledge within its timeout is 503
//! `log_unavailable` (nothing was applied unless the log took it: the request may be retried,
//! the message id is new, so an enqueue retried after a lost acknowledgement is rejected as
//! already queued); an outcome not seen within [`ANSWER_TIMEOUT`] is 503 `no_answer` (the
//! command is in the log and will be applied); an outcome that comes before its append's
//! acknowledgement is kept for it (at most 100,000). A partition whose events stop for
//! [`STALE_AFTER`] makes the gateway not ready; one whose events have a hole stops the
//! gateway (restarted, it rebuilds from the newest snapshot).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use matchwright_cluster::claims::Claims;
use matchwright_cluster::events::{EventsReader, PartitionEvents, Position};
use matchwright_cluster::explain::ExplainAnswer;
use matchwright_cluster::ids::PlayerIds;
use matchwright_cluster::log::{LogError, PartitionLog};
use matchwright_cluster::message::{EventBatch, Refusal as LeaderRefusal};
use matchwright_cluster::partitions::ClusterSection;
use matchwright_cluster::partitions::keep_to_regions;
use matchwright_cluster::snapshot::Snapshots;
use matchwright_ecs::{
    Command, CommandSeq, EnqueueTicket, Explanation, MatchId, PlayerId, RejectReason, TicketId,
};
use tokio::sync::oneshot;

use crate::clock::unix_ms;
use crate::error::ApiError;
use crate::live::Live;
use crate::settings::{Secrets, Settings};
use crate::shared::{Applied, Refusal, Reply, Shared};
use crate::view::View;

/// How long a request waits for the outcome of its command.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

/// A partition whose events stream has been silent this long makes the gateway not ready
/// (a live partition publishes a batch every tick).
pub const STALE_AFTER: Duration = Duration::from_secs(3);

/// A reader that has read nothing for this long is taken for lost (a restarted NATS server
/// forgets its consumer) and opened again where it was.
const SILENT_READER: Duration = Duration::from_secs(10);

/// At most this many outcomes are kept for appends in flight (beyond, the lowest is dropped,
/// and its append, if it was one's, is answered that its outcome is unknown).
const MAX_EARLY: usize = 100_000;

type Outcome = Result<Applied, Refusal>;

/// A gateway: the partitions' logs and events, and the commands waiting for an outcome.
pub struct Gateway {
    client: async_nats::Client,
    /// Which partition holds a player (read only: tickets of queues split by region).
    claims: Claims,
    name: String,
    map: ClusterSection,
    routes: Vec<Route>,
    /// When this gateway started (ms): part of its message ids, so that a gateway restarted
    /// under the same name never repeats one within the log's de-duplication window.
    boot: u64,
    next_id: AtomicU64,
    max_waiting: usize,
    shared: Shared,
    settings: Arc<Settings>,
    secrets: Secrets,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("name", &self.name)
            .field("partitions", &self.routes.len())
            .finish_non_exhaustive()
    }
}

/// One partition, as a gateway reaches it.
struct Route {
    name: String,
    log: PartitionLog,
    events: PartitionEvents,
    waits: Mutex<Waits>,
    /// When its last batch arrived (Unix ms; 0: none yet).
    last_batch_ms: AtomicU64,
}

/// The commands of one partition waiting for their outcome, by log sequence.
#[derive(Default)]
struct Waits {
    waiting: std::collections::BTreeMap<u64, Reply>,
    /// Appends sent whose sequence is not known yet.
    appending: usize,
    /// For the appends in flight, `answered_through` when each started (counted): each
    /// one's command is after its floor.
    floors: std::collections::BTreeMap<u64, usize>,
    /// Every command up to this log sequence has been answered (the last tick read).
    answered_through: u64,
    /// Outcomes nobody waited for yet, of commands after the lowest floor: an append's
    /// acknowledgement can come after its tick's batch. At most [`MAX_EARLY`] (the lowest
    /// dropped first).
    early: std::collections::BTreeMap<u64, Outcome>,
    /// The outcomes of the tick being read, gathered over its parts.
    gathering: TickOutcomes,
}

#[derive(Default)]
struct TickOutcomes {
    applied: Vec<u64>,
    rejected: HashMap<u64, RejectReason>,
    refused: HashMap<u64, LeaderRefusal>,
}

/// Player ids for the players who register through a gateway: blocks reserved in the
/// cluster's KV ([`PlayerIds`]), handed out one by one.
pub struct IdBlocks {
    ids: PlayerIds,
    block: tokio::sync::Mutex<std::ops::Range<u64>>,
}

impl std::fmt::Debug for IdBlocks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdBlocks").finish_non_exhaustive()
    }
}

/// Ids a gateway reserves at once.
const ID_BLOCK: u64 = 1_000;

/// How long a registration waits for a block of ids (the reservation retries when another
/// gateway reserved first).
const ID_RESERVE_TIMEOUT: Duration = Duration::from_secs(10);

impl IdBlocks {
    /// The cluster's counter, no block reserved yet.
    pub async fn open(client: &async_nats::Client) -> Result<Self, String> {
        let jetstream = async_nats::jetstream::new(client.clone());
        Ok(Self {
            ids: PlayerIds::open(&jetstream)
                .await
                .map_err(|e| e.to_string())?,
            block: tokio::sync::Mutex::new(0..0),
        })
    }

    /// The next id, reserving a block when this one is used up.
    pub async fn next(&self) -> Result<PlayerId, ApiError> {
        let mut block = self.block.lock().await;
        if block.is_empty() {
            let unavailable = |detail: String| {
                ApiError::unavailable(
                    "ids_unavailable",
                    format!("no player id could be reserved ({detail}); retry shortly"),
                )
            };
            *block = tokio::time::timeout(ID_RESERVE_TIMEOUT, self.ids.reserve(ID_BLOCK))
                .await
                .map_err(|_| unavailable("timed out".into()))?
                .map_err(|error| unavailable(error.to_string()))?;
        }
        let id = block.start;
        block.start += 1;
        Ok(PlayerId(id))
    }
}

/// A request waiting for its command's outcome: its entry leaves `waiting` when it stops
/// waiting, whatever the reason (so a dropped request does not hold a place).
struct Waiter<'a> {
    waits: &'a Mutex<Waits>,
    seq: u64,
}

impl Drop for Waiter<'_> {
    fn drop(&mut self) {
        lock(self.waits).waiting.remove(&self.seq);
    }
}

/// What an append left to do.
enum Appended {
    /// Wait for the outcome of the command at this sequence.
    Waiting(u64, oneshot::Receiver<Outcome>),
    /// Its outcome came before its acknowledgement.
    Answered(Outcome),
}

/// An append in flight: counted in `appending` (outcomes are kept in `early` meanwhile)
/// until [`InFlight::finish`], or until dropped (a request dropped mid-append).
struct InFlight<'a> {
    waits: &'a Mutex<Waits>,
    floor: u64,
    finished: bool,
}

impl<'a> InFlight<'a> {
    fn start(waits: &'a Mutex<Waits>, max_waiting: usize) -> Result<Self, Refusal> {
        let mut locked = lock(waits);
        if locked.waiting.len() + locked.appending >= max_waiting {
            return Err(Refusal::Error(ApiError::unavailable(
                "busy",
                "the gateway has more commands waiting than it takes; retry shortly",
            )));
        }
        locked.appending += 1;
        let floor = locked.answered_through;
        *locked.floors.entry(floor).or_default() += 1;
        Ok(Self {
            waits,
            floor,
            finished: false,
        })
    }

    /// The append returned: no longer in flight; the waits, locked (the outcomes kept
    /// meanwhile still there: its own may be one).
    fn finish(mut self) -> std::sync::MutexGuard<'a, Waits> {
        self.finished = true;
        let mut waits = lock(self.waits);
        waits.leave_floor(self.floor);
        waits
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if !self.finished {
            let mut waits = lock(self.waits);
            waits.leave_floor(self.floor);
            waits.forget_unclaimable();
        }
    }
}

impl Waits {
    /// An append whose floor was `floor` is no longer in flight.
    fn leave_floor(&mut self, floor: u64) {
        self.appending -= 1;
        if let Some(count) = self.floors.get_mut(&floor) {
            *count -= 1;
            if *count == 0 {
                self.floors.remove(&floor);
            }
        }
    }

    /// Whether an outcome at `seq` may be claimed by an append in flight.
    fn claimable(&self, seq: u64) -> bool {
        self.floors
            .first_key_value()
            .is_some_and(|(floor, _)| seq > *floor)
    }

    /// Drops the kept outcomes no append in flight can claim.
    fn forget_unclaimable(&mut self) {
        match self.floors.first_key_value() {
            None => self.early.clear(),
            Some((floor, _)) => self.early = self.early.split_off(&(floor + 1)),
        }
    }

    /// A finished append's command is at `seq`: its outcome if it came first, else a
    /// waiter for it.
    fn appended(&mut self, seq: u64) -> Appended {
        let first = self.early.remove(&seq);
        self.forget_unclaimable();
        if let Some(outcome) = first {
            return Appended::Answered(outcome);
        }
        let (reply, answer) = oneshot::channel();
        self.waiting.insert(seq, reply);
        Appended::Waiting(seq, answer)
    }
}

/// What a gateway is given.
#[derive(Clone, Debug)]
pub struct GatewayOptions {
    /// The NATS server.
    pub nats: String,
    /// This gateway's name, unique in the cluster (its commands' message ids start with it).
    pub name: String,
    /// Without a `[cluster]` map: the one partition behind the gateway.
    pub partition: String,
    /// The cluster's shared record (a Postgres URL); `None`: accounts in this gateway's store.
    pub record: Option<String>,
}

impl Gateway {
    /// Connects to every partition of the map (or `options.partition` without one), checks
    /// that this config is the cluster's, and builds the live view from each partition's
    /// newest snapshot. Returns the gateway and, per partition, the tick its view is at.
    pub async fn connect(
        client: async_nats::Client,
        options: &GatewayOptions,
        settings: Arc<Settings>,
        secrets: Secrets,
        shared: Shared,
    ) -> Result<(Arc<Self>, Vec<u64>), String> {
        let map = settings.cluster.clone();
        let names: Vec<String> = if map.partitions.is_empty() {
            vec![options.partition.clone()]
        } else {
            map.partitions
                .iter()
                .map(|entry| entry.name.clone())
                .collect()
        };
        let jetstream = async_nats::jetstream::new(client.clone());
        let fail = |error: LogError| error.to_string();
        matchwright_cluster::agreement::agree_on_map(&jetstream, &map)
            .await
            .map_err(fail)?;
        let mut routes = Vec::new();
        let mut ticks = Vec::new();
        for name in names {
            let hash = matchwright_cluster::agreement::config_hash(&name, &settings.matcher, &map);
            matchwright_cluster::agreement::agree_on_config(&jetstream, &name, &hash)
                .await
                .map_err(fail)?;
            let (view, tick) = view_of(&jetstream, &name, &settings).await?;
            shared
                .view
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .absorb(view);
            ticks.push(tick);
            routes.push(Route {
                log: PartitionLog::open(client.clone(), &name)
                    .await
                    .map_err(fail)?,
                events: PartitionEvents::open(client.clone(), &name)
                    .await
                    .map_err(fail)?,
                name,
                waits: Mutex::new(Waits::default()),
                last_batch_ms: AtomicU64::new(0),
            });
        }
        let claims = Claims::open(&jetstream, &options.name)
            .await
            .map_err(fail)?;
        let gateway = Self {
            client,
            claims,
            name: options.name.clone(),
            map,
            routes,
            boot: unix_ms(),
            next_id: AtomicU64::new(0),
            max_waiting: settings.server.max_pending_commands,
            shared,
            settings,
            secrets,
        };
        Ok((Arc::new(gateway), ticks))
    }

    /// The partition `command` goes to.
    async fn route(&self, command: &Command) -> Result<usize, ApiError> {
        let partition = match command {
            Command::Enqueue(ticket) => self.partition_of_enqueue(ticket)?,
            Command::Cancel { ticket } => self
                .partition_of_ticket(*ticket)
                .await?
                .ok_or_else(|| ApiError::not_found("not_queued", "no such ticket is queued"))?,
            Command::AcceptMatch { match_id, .. }
            | Command::DeclineMatch { match_id, .. }
            | Command::SessionReady { match_id, .. }
            | Command::AllocationFailed { match_id }
            | Command::Heartbeat { match_id }
            | Command::ReportResult { match_id, .. }
            | Command::EndSession { match_id }
            | Command::LeaveSession { match_id, .. }
            | Command::RequestBackfill { match_id, .. }
            | Command::CancelBackfill { match_id }
            | Command::CancelMatch { match_id } => self.partition_of_match(*match_id)?,
            Command::CreateParty { .. }
            | Command::JoinParty { .. }
            | Command::LeaveParty { .. }
            | Command::DisbandParty { .. } => {
                return Err(ApiError::new(
                    StatusCode::NOT_IMPLEMENTED,
                    "not_in_cluster",
                    "parties are not available through a gateway yet: queue solo",
                ));
            }
            Command::ReloadConfig { .. } => {
                return Err(ApiError::new(
                    StatusCode::NOT_IMPLEMENTED,
                    "not_in_cluster",
                    "a cluster's config is reloaded by restarting its processes (they agree on \
                     it through JetStream KV)",
                ));
            }
        };
        self.routes
            .iter()
            .position(|route| route.name == partition)
            .ok_or_else(|| ApiError::internal(format!("no route to partition `{partition}`")))
    }

    fn partition_of_queue(&self, queue: &str) -> Result<String, ApiError> {
        if self.map.partitions.is_empty() {
            return Ok(self.routes[0].name.clone());
        }
        self.map
            .partition_of(queue)
            .map(str::to_owned)
            .ok_or_else(|| ApiError::invalid("queue", format!("no partition runs queue `{queue}`")))
    }

    /// The partition an enqueue goes to: its queue's, or for a queue split by region, the
    /// one that runs it in the ticket's best region.
    fn partition_of_enqueue(&self, ticket: &EnqueueTicket) -> Result<String, ApiError> {
        if self.map.partitions.is_empty() {
            return Ok(self.routes[0].name.clone());
        }
        if !self.map.is_split(&ticket.queue) {
            return self.partition_of_queue(&ticket.queue);
        }
        self.map
            .partition_of_ticket(ticket, &self.settings.matcher)
            .map(str::to_owned)
            .ok_or_else(|| {
                ApiError::invalid(
                    "pings",
                    format!(
                        "queue `{}` is split by region and no partition runs it where every player of the ticket has a ping",
                        ticket.queue
                    ),
                )
            })
    }

    /// The partition of a queued ticket, as the view knows it (`None`: not queued). For a
    /// queue split by region, the partition holding its first player's claim (one ticket per
    /// player across partitions: the claim names it).
    async fn partition_of_ticket(&self, ticket: TicketId) -> Result<Option<String>, ApiError> {
        let found = self
            .shared
            .view
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .ticket(ticket)
            .map(|found| (found.queue.clone(), found.players.first().copied()));
        let Some((queue, player)) = found else {
            return Ok(None);
        };
        if !self.map.is_split(&queue) {
            return self.partition_of_queue(&queue).map(Some);
        }
        let Some(player) = player else {
            return Ok(None);
        };
        match self.claims.holder(player).await {
            // A claim naming a partition not in the map is left behind: no ticket of ours.
            Ok(holder) => Ok(holder
                .map(|(partition, _)| partition)
                .filter(|partition| self.routes.iter().any(|r| r.name == *partition))),
            Err(error) => Err(ApiError::unavailable(
                "claims_unavailable",
                format!("cannot tell which partition holds the ticket ({error}); try again"),
            )),
        }
    }

    /// Why `ticket` has not matched yet, from a replica of its partition (as of the tick that
    /// replica applied last); `None` when it is not queued.
    pub async fn explain(&self, ticket: TicketId) -> Result<Option<Explanation>, ApiError> {
        let Some(partition) = self.partition_of_ticket(ticket).await? else {
            return Ok(None);
        };
        let answer = matchwright_cluster::explain::ask(&self.client, &partition, ticket).await;
        match answer {
            Ok(ExplainAnswer::Explained(explained)) => Ok(explained),
            Ok(ExplainAnswer::Busy) => Err(ApiError::unavailable(
                "busy",
                format!(
                    "partition `{partition}` is explaining as many tickets as it takes; retry shortly"
                ),
            )),
            Err(error) => Err(ApiError::unavailable(
                "explain_unavailable",
                format!("partition `{partition}` did not explain the ticket ({error}); try again"),
            )),
        }
    }

    fn partition_of_match(&self, match_id: MatchId) -> Result<String, ApiError> {
        if self.map.partitions.is_empty() {
            return Ok(self.routes[0].name.clone());
        }
        self.map
            .partition_of_match(match_id.0)
            .map(str::to_owned)
            .ok_or_else(|| ApiError::not_found("no_match", "no such match"))
    }

    /// Appends `command` to its partition's log and waits for its outcome.
    pub async fn submit(&self, mut command: Command) -> Outcome {
        let index = self.route(&command).await.map_err(Refusal::Error)?;
        let route = &self.routes[index];
        if let (Command::Enqueue(ticket), Some(regions)) =
            (&mut command, self.map.regions_of(&route.name))
        {
            // A queue split by region plays only where this partition runs it.
            keep_to_regions(ticket, regions, &self.settings.matcher);
        }
        let (seq, answer) = match self.append(route, &command).await? {
            Appended::Waiting(seq, answer) => (seq, answer),
            Appended::Answered(outcome) => return outcome,
        };
        // However this ends (answered, timed out, the request dropped), nobody waits after.
        let _waiter = Waiter {
            waits: &route.waits,
            seq,
        };
        match tokio::time::timeout(ANSWER_TIMEOUT, answer).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(_)) => Err(Refusal::Error(ApiError::unavailable(
                "stopping",
                "the gateway is stopping",
            ))),
            Err(_) => Err(Refusal::Error(ApiError::unavailable(
                "no_answer",
                format!(
                    "partition `{}` has not applied the command within {} s; it is in the \
                         partition's log and will be: read your state before retrying",
                    route.name,
                    ANSWER_TIMEOUT.as_secs()
                ),
            ))),
        }
    }

    /// Appends `command` (counted as in flight until its sequence is known, even if the
    /// request is dropped meanwhile) and registers who waits for its outcome, unless the
    /// outcome came first.
    async fn append(&self, route: &Route, command: &Command) -> Result<Appended, Refusal> {
        let in_flight = InFlight::start(&route.waits, self.max_waiting)?;
        let id = format!(
            "{}.{}.{}",
            self.name,
            self.boot,
            self.next_id.fetch_add(1, Ordering::Relaxed)
        );
        let appended = route.log.append_command(command, &id).await;
        let mut waits = in_flight.finish();
        let seq = match appended {
            Ok(seq) => seq,
            Err(error) => {
                waits.forget_unclaimable();
                return Err(Refusal::Error(log_unavailable(&route.name, &error)));
            }
        };
        Ok(waits.appended(seq))
    }

    /// Each partition's name and events stream.
    pub fn partition_events(&self) -> Vec<(String, PartitionEvents)> {
        self.routes
            .iter()
            .map(|route| (route.name.clone(), route.events.clone()))
            .collect()
    }

    /// Reads partition `index`'s events after `tick` until the gateway stops or their
    /// stream has a hole (the error). A lost or failed reader is opened again where it was
    /// (parts of a tick read already are skipped).
    pub async fn follow(
        self: Arc<Self>,
        index: usize,
        tick: u64,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) -> Result<(), String> {
        let route = &self.routes[index];
        let mut at = Position::after(tick);
        loop {
            let opened = tokio::select! {
                opened = async {
                    let tail = route.events.last_tick().await?;
                    Ok::<_, LogError>((route.events.read_after(at.complete).await?, tail))
                } => opened,
                _ = stop.wait_for(|stop| *stop) => return Ok(()),
            };
            match opened {
                Ok((reader, tail)) => {
                    tokio::select! {
                        read = self.read_until_lost(index, reader, tail, &mut at) => read?,
                        _ = stop.wait_for(|stop| *stop) => return Ok(()),
                    }
                }
                Err(error) => {
                    tracing::warn!(partition = %route.name, %error, "cannot read the partition's events; retrying");
                }
            }
            // A pause before opening the reader again.
            tokio::select! {
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = stop.wait_for(|stop| *stop) => return Ok(()),
            }
        }
    }

    /// Applies what `reader` gives until it fails or is silent (`Ok`: open it again) or
    /// finds a hole (the error). The partition counts as live once a batch of `tail` (the
    /// last tick when the reader was opened) or later is read: a gateway catching up is not
    /// ready.
    async fn read_until_lost(
        &self,
        index: usize,
        mut reader: EventsReader,
        tail: u64,
        at: &mut Position,
    ) -> Result<(), String> {
        let route = &self.routes[index];
        loop {
            match tokio::time::timeout(SILENT_READER, reader.next()).await {
                Ok(Some(Ok(batch))) => {
                    if at.has_read(&batch) {
                        continue;
                    }
                    at.read(&batch);
                    if batch.tick >= tail {
                        route.last_batch_ms.store(unix_ms(), Ordering::Relaxed);
                    }
                    // `/readyz` says the highest tick read of any partition.
                    let health = &self.shared.health;
                    health.last_tick.fetch_max(batch.tick, Ordering::Relaxed);
                    self.apply(index, batch);
                }
                Ok(Some(Err(LogError::Trimmed { expected, got }))) => {
                    return Err(format!(
                        "the events of partition `{}` have a hole: tick {expected} is missing (the \
                         next is {got}); the gateway builds its view from the newest snapshot and \
                         the events after it (kept 15 minutes): check that the partition writes \
                         snapshots (--snapshot-every-ticks), then restart the gateway",
                        route.name
                    ));
                }
                Ok(Some(Err(LogError::Refused(detail)))) => {
                    return Err(format!(
                        "partition `{}` published an events batch this gateway cannot read \
                         ({detail}): is it a different build?",
                        route.name
                    ));
                }
                Ok(Some(Err(error))) => {
                    tracing::warn!(partition = %route.name, %error, "reading the partition's events failed; reading again");
                    return Ok(());
                }
                Ok(None) | Err(_) => return Ok(()),
            }
        }
    }

    /// One part of a tick's batch: its events into the view and to the players here; at the
    /// tick's last part, the outcomes to the requests waiting for them.
    fn apply(&self, index: usize, batch: EventBatch) {
        let route = &self.routes[index];
        let live = Live {
            shared: &self.shared,
            settings: &self.settings,
            secrets: &self.secrets,
        };
        // Game servers are allocated by the partitions' leaders: the fleet's part is theirs.
        let _ = live.publish(&batch.events, unix_ms());
        // Operators watch what happens now: not the history a gateway reads at its start to
        // catch up (after a break in the reading, once caught up, what was missed goes out).
        if route.last_batch_ms.load(Ordering::Relaxed) != 0 {
            self.shared
                .operators
                .publish(batch.tick, batch.now_ms, &batch.events);
        }
        let mut waits = lock(&route.waits);
        let gathered = &mut waits.gathering;
        gathered.applied.extend_from_slice(&batch.applied);
        gathered.rejected.extend(batch.rejected);
        gathered
            .refused
            .extend(batch.refused.into_iter().map(|r| (r.seq, r.reason)));
        if batch.last {
            answer_tick(&mut waits, batch.tick, batch.commands_through);
        }
    }

    /// Why the gateway is not ready, if it is not: a partition whose events are stale.
    pub fn not_ready(&self) -> Option<String> {
        let now = unix_ms();
        self.routes.iter().find_map(|route| {
            let last = route.last_batch_ms.load(Ordering::Relaxed);
            let age = now.saturating_sub(last);
            (age > STALE_AFTER.as_millis() as u64).then(|| {
                if last == 0 {
                    format!("partition `{}` has published no tick yet", route.name)
                } else {
                    format!(
                        "partition `{}` has published no tick for {age} ms (no leader, or NATS \
                         unreachable)",
                        route.name
                    )
                }
            })
        })
    }

    /// Keeps the readiness current until stopped: every 250 ms, the partitions' freshness.
    pub async fn watch_health(self: Arc<Self>, mut stop: tokio::sync::watch::Receiver<bool>) {
        let health = Arc::clone(&self.shared.health);
        loop {
            let reason = self.not_ready();
            if reason.is_none() {
                health.last_tick_ms.store(unix_ms(), Ordering::Relaxed);
            }
            health.set_not_ready(reason);
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(250)) => {}
                _ = stop.wait_for(|stop| *stop) => return,
            }
        }
    }
}

/// Answers the outcomes of a tick whose last part has been read.
fn answer_tick(waits: &mut Waits, tick: u64, commands_through: u64) {
    let gathered = std::mem::take(&mut waits.gathering);
    waits.answered_through = waits.answered_through.max(commands_through);
    let answer = |waits: &mut Waits, seq: u64, outcome: Outcome| {
        if let Some(reply) = waits.waiting.remove(&seq) {
            let _ = reply.send(outcome);
        } else if waits.claimable(seq) {
            if waits.early.len() >= MAX_EARLY {
                waits.early.pop_first();
            }
            waits.early.insert(seq, outcome);
        }
    };
    for seq in gathered.applied {
        let outcome = match gathered.rejected.get(&seq) {
            Some(reason) => Err(Refusal::Rejected(reason.clone())),
            None => Ok(Applied {
                tick,
                seq: CommandSeq(seq),
            }),
        };
        answer(waits, seq, outcome);
    }
    for (seq, reason) in gathered.refused {
        answer(waits, seq, Err(Refusal::Error(refused(&reason))));
    }
    // Consumed, but its outcome was not seen here (it came before the append returned and
    // was not kept): it may have been applied.
    let unanswered: Vec<u64> = waits
        .waiting
        .range(..=commands_through)
        .map(|(seq, _)| *seq)
        .collect();
    for seq in unanswered {
        if let Some(reply) = waits.waiting.remove(&seq) {
            let _ = reply.send(Err(Refusal::Error(ApiError::unavailable(
                "outcome_unknown",
                "the partition consumed the command but this gateway missed its outcome: \
                 read your state before retrying",
            ))));
        }
    }
    waits.forget_unclaimable();
}

/// A leader's refusal as the client's error.
fn refused(reason: &LeaderRefusal) -> ApiError {
    match reason {
        LeaderRefusal::PlayerElsewhere { .. } => {
            ApiError::conflict("already_queued", reason.to_string())
        }
        LeaderRefusal::ClaimsUnavailable { .. } => {
            ApiError::unavailable("claims_unavailable", format!("{reason}; retry shortly"))
        }
        LeaderRefusal::WrongPartition { .. } => {
            ApiError::unavailable("wrong_partition", reason.to_string())
        }
    }
}

fn log_unavailable(partition: &str, error: &LogError) -> ApiError {
    ApiError::unavailable(
        "log_unavailable",
        format!(
            "the log of partition `{partition}` cannot be reached ({error}); the command may \
             not have been taken: retry shortly (an enqueue that had been is then answered \
             as already queued)"
        ),
    )
}

fn lock(waits: &Mutex<Waits>) -> std::sync::MutexGuard<'_, Waits> {
    waits
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A partition's view at its newest snapshot (empty at the log's start), and that tick.
async fn view_of(
    jetstream: &async_nats::jetstream::Context,
    partition: &str,
    settings: &Settings,
) -> Result<(View, u64), String> {
    let snapshots = Snapshots::open(jetstream, partition)
        .await
        .map_err(|error| error.to_string())?;
    let Some((mark, _)) = snapshots.newest().await.map_err(|e| e.to_string())? else {
        return Ok((View::default(), 0));
    };
    let snapshot = snapshots.load(&mark).await.map_err(|e| e.to_string())?;
    let servers: HashMap<MatchId, String> = snapshot.sessions.active.clone().into_iter().collect();
    let view = View::from_snapshot(&snapshot.state, &servers, &settings.matcher);
    Ok((view, snapshot.tick))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tick_answers_its_waiters_keeps_early_outcomes_only_while_appends_fly() {
        let mut waits = Waits::default();
        let (applied, applied_answer) = oneshot::channel();
        let (rejected, rejected_answer) = oneshot::channel();
        let (missed, missed_answer) = oneshot::channel();
        let (later, mut later_answer) = oneshot::channel();
        waits.waiting.insert(1, applied);
        waits.waiting.insert(2, rejected);
        waits.waiting.insert(3, missed);
        waits.waiting.insert(9, later);
        // An append in flight since commands through 3 were answered.
        waits.appending = 1;
        waits.floors.insert(3, 1);
        waits.gathering.applied = vec![1, 2, 4];
        waits
            .gathering
            .rejected
            .insert(2, RejectReason::EmptyTicket);
        answer_tick(&mut waits, 7, 5);
        let Ok(Ok(Applied { tick: 7, .. })) = applied_answer.blocking_recv() else {
            panic!("1 applied at tick 7");
        };
        let Ok(Err(Refusal::Rejected(RejectReason::EmptyTicket))) = rejected_answer.blocking_recv()
        else {
            panic!("2 rejected");
        };
        let Ok(Err(Refusal::Error(error))) = missed_answer.blocking_recv() else {
            panic!("3 consumed without an outcome seen");
        };
        assert!(
            format!("{error:?}").contains("outcome_unknown"),
            "{error:?}"
        );
        assert!(later_answer.try_recv().is_err(), "9 is after the tick");
        assert!(waits.early.contains_key(&4), "kept for an append in flight");
        assert_eq!(waits.answered_through, 5);
        waits.leave_floor(3);
        waits.forget_unclaimable();
        assert!(waits.early.is_empty(), "no append in flight: nothing kept");
    }

    #[test]
    fn an_outcome_that_comes_before_its_appends_acknowledgement_answers_it() {
        let waits = Mutex::new(Waits::default());
        let in_flight = InFlight::start(&waits, 10).unwrap();
        {
            let mut locked = lock(&waits);
            locked.gathering.applied = vec![7];
            answer_tick(&mut locked, 3, 7);
        }
        let mut locked = in_flight.finish();
        let Appended::Answered(Ok(Applied { tick: 3, .. })) = locked.appended(7) else {
            panic!("the kept outcome answers the append");
        };
        assert!(locked.early.is_empty() && locked.waiting.is_empty());
        drop(locked);
        // A request dropped mid-append is no longer counted.
        let dropped = InFlight::start(&waits, 10).unwrap();
        assert_eq!(lock(&waits).appending, 1);
        drop(dropped);
        assert_eq!(lock(&waits).appending, 0);
    }
}
