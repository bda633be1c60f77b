//! One player: a client of the SDK ([`Client`]) over HTTP or QUIC, making the same calls
//! either way, logged in and holding its live events; and its loop ([`play`]): enqueue, wait
//! for the match (accepting when the queue asks) and for the game to end, glance at the
//! profile and the leaderboard, think, and queue again, until the run's deadline. What the
//! players share (the server, the queue, the game servers, the measurements) is [`Target`].
//!
//! Every call is measured under its route ([`Call::route`]): `METHOD /path` over HTTP,
//! `QUIC kind` over QUIC.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use matchwright_transport::wire::{Event, LeaderboardQuery, QueueStatus};
use matchwright_transport::{Client, ClientError, EventStream, HttpPool, QuicEndpoint};

use crate::LoadError;
use crate::game::GameServers;
use crate::pace::jittered;
use crate::report::{Measurements, timed};

/// Every load player's password.
const PASSWORD: &str = "load-generator-password";

/// Registrations (or logins) tried per player before setup gives up.
const SETUP_ATTEMPTS: u64 = 20;

/// How long one wait for an event lasts before the deadline is looked at again.
const EVENT_STEP: Duration = Duration::from_millis(500);

/// A player who hears nothing for this long is taken as lost.
const SILENCE_MAX: Duration = Duration::from_secs(120);

/// What every player of the run shares: how to reach the server, the queue to play, the game
/// servers, the measurements and the deadline.
pub(crate) struct Target {
    pub(crate) dial: Dial,
    pub(crate) game_servers: Arc<GameServers>,
    pub(crate) queue: String,
    pub(crate) mode: String,
    pub(crate) season: String,
    pub(crate) regions: Vec<String>,
    /// Whether the queue asks its players to accept a match.
    pub(crate) acceptance: bool,
    pub(crate) game_ms: u64,
    pub(crate) think_ms: u64,
    pub(crate) measured: Arc<Measurements>,
    /// The end of the measured window, once it has started.
    pub(crate) deadline: OnceLock<Instant>,
}

impl Target {
    /// Whether the measured window is over.
    fn past_deadline(&self) -> bool {
        self.deadline
            .get()
            .is_some_and(|deadline| Instant::now() >= *deadline)
    }
}

/// How players reach the server.
pub(crate) enum Dial {
    /// Over HTTP, every player's client sharing one connection pool.
    Http { pool: HttpPool, base: String },
    /// Over QUIC, one connection per player, spread over a few client sockets (each is read by
    /// one task, so a few spread the work; one per player would cost a socket and buffers each).
    Quic {
        addr: SocketAddr,
        fingerprint: String,
        endpoints: Vec<QuicEndpoint>,
    },
}

/// A call a player makes.
#[derive(Clone, Copy, Debug)]
enum Call {
    Register,
    Login,
    Enqueue,
    QueueStatus,
    Cancel,
    Accept,
    Profile,
    Leaderboard,
}

impl Call {
    /// The route the call is measured under: over HTTP, its `/v1` route (ids as `{id}`);
    /// over QUIC, `QUIC` and the request's kind.
    fn route(self, quic: bool) -> &'static str {
        let (http, over_quic) = match self {
            Self::Register => ("POST /v1/auth/register", "QUIC register"),
            Self::Login => ("POST /v1/auth/login", "QUIC login"),
            Self::Enqueue => ("POST /v1/queue", "QUIC enqueue"),
            Self::QueueStatus => ("GET /v1/queue", "QUIC queue_status"),
            Self::Cancel => ("DELETE /v1/queue", "QUIC cancel"),
            Self::Accept => ("POST /v1/match/{id}/accept", "QUIC accept"),
            Self::Profile => ("GET /v1/profile/me", "QUIC profile"),
            Self::Leaderboard => ("GET /v1/leaderboard/{season}", "QUIC leaderboard"),
        };
        if quic { over_quic } else { http }
    }
}

/// The status the server refused a call with; `None` when there was no answer.
fn status_of(error: &ClientError) -> Option<u16> {
    match error {
        ClientError::Server(error) => Some(error.status),
        _ => None,
    }
}

/// A connected, logged-in player.
pub(crate) struct Player {
    /// The player's number: its region and its place in the start-up spread.
    home: usize,
    quic: bool,
    client: Client,
    events: EventStream,
}

/// A client to the server, over the transport the run uses.
async fn dial(dial: &Dial, home: usize) -> Result<Client, ClientError> {
    match dial {
        Dial::Http { pool, base } => Client::connect_http_via(pool, base).await,
        Dial::Quic {
            addr,
            fingerprint,
            endpoints,
        } => {
            let endpoint = &endpoints[home % endpoints.len()];
            Client::connect_quic_via(endpoint, *addr, fingerprint).await
        }
    }
}

/// Registers `name` (or logs in when it exists), retrying while the server is busy (429,
/// 503) or does not answer.
async fn log_in(target: &Target, client: &Client, quic: bool, name: &str) -> Result<(), LoadError> {
    let measured = &target.measured;
    for attempt in 0..SETUP_ATTEMPTS {
        let register = client.register(name, PASSWORD, None);
        let answer = match timed(measured, Call::Register.route(quic), &[409], register).await {
            Err(ClientError::Server(error)) if error.status == 409 => {
                let login = client.login(name, PASSWORD);
                timed(measured, Call::Login.route(quic), &[], login).await
            }
            other => other,
        };
        match answer {
            Ok(_) => return Ok(()),
            Err(ClientError::Connection(_) | ClientError::Protocol(_)) => {}
            Err(error) if matches!(status_of(&error), Some(429 | 503)) => {}
            Err(error) => {
                return Err(LoadError(format!(
                    "cannot register or log in {name}: {error}"
                )));
            }
        }
        tokio::time::sleep(Duration::from_millis(250 * (attempt + 1))).await;
    }
    Err(LoadError(format!(
        "cannot register or log in {name}: the server kept refusing (rate limits or connection caps? for load runs, raise [rate_limits].auth.per_ip_per_minute and set [server] max_connections_per_ip = 0, as config/load.toml does)"
    )))
}

impl Player {
    /// Connects player number `home` as `name`, logs it in and takes its live events.
    pub(crate) async fn connect(
        target: &Target,
        name: &str,
        home: usize,
    ) -> Result<Self, LoadError> {
        let client = dial(&target.dial, home)
            .await
            .map_err(|error| LoadError(format!("{name} cannot connect: {error}")))?;
        let quic = client.transport() == "quic";
        log_in(target, &client, quic, name).await?;
        let events = client
            .events()
            .map_err(|error| LoadError(format!("{name}'s events: {error}")))?;
        Ok(Self {
            home,
            quic,
            client,
            events,
        })
    }

    /// Makes `call` (the future `answer`), measured under its route.
    async fn call<T>(
        &self,
        target: &Target,
        call: Call,
        expected: &[u16],
        answer: impl Future<Output = Result<T, ClientError>>,
    ) -> Result<T, ClientError> {
        timed(&target.measured, call.route(self.quic), expected, answer).await
    }

    /// Joins the queue with these pings.
    async fn enqueue(
        &self,
        target: &Target,
        pings: &[(&str, u16)],
    ) -> Result<QueueStatus, ClientError> {
        let enqueue = self.client.enqueue(&target.queue, pings);
        self.call(target, Call::Enqueue, &[], enqueue).await
    }

    /// Whether the server has this player idle (neither queued nor in a match).
    async fn is_idle(&self, target: &Target) -> bool {
        let status = self.client.queue_status();
        self.call(target, Call::QueueStatus, &[], status)
            .await
            .is_ok_and(|status| status.status == "idle")
    }

    /// What a player glances at between games: the profile and a page of the leaderboard.
    async fn browse(&self, target: &Target) {
        let _ = self
            .call(target, Call::Profile, &[], self.client.profile())
            .await;
        let query = LeaderboardQuery {
            mode: target.mode.clone(),
            limit: Some(20),
            cursor: None,
        };
        let board = self.client.leaderboard(&target.season, query);
        let _ = self.call(target, Call::Leaderboard, &[], board).await;
    }

    async fn accept(&self, target: &Target, match_id: u64) {
        let accept = self.client.accept(match_id);
        let _ = self.call(target, Call::Accept, &[], accept).await;
    }

    /// Leaves the queue at the end of the run (it may just have been matched: 404 and 409 are
    /// answers).
    async fn leave_queue(&self, target: &Target) {
        let cancel = self.client.cancel();
        let _ = self.call(target, Call::Cancel, &[404, 409], cancel).await;
    }

    /// The next event within `step`: `Ok(None)` when none came, `Err` when the stream is gone.
    async fn next_event(&mut self, step: Duration) -> Result<Option<Event>, ()> {
        match tokio::time::timeout(step, self.events.next()).await {
            Err(_) => Ok(None),
            Ok(None | Some(Err(_))) => Err(()),
            Ok(Some(Ok(event))) => Ok(Some(event)),
        }
    }

    /// The pings this player sends: it lives near one region (round robin by its number), 20
    /// ms there and 120 ms elsewhere.
    fn pings(&self, regions: &[String]) -> Vec<(String, u16)> {
        let home = self.home % regions.len().max(1);
        let ping = |index: usize| if index == home { 20 } else { 120 };
        regions
            .iter()
            .enumerate()
            .map(|(index, region)| (region.clone(), ping(index)))
            .collect()
    }
}

/// What the event stream said while waiting.
enum Waited {
    /// The session is over (ended or abandoned), or the ticket left the queue.
    Done,
    /// Nothing for a long while, or the stream closed.
    Lost,
}

/// One player's loop until the deadline.
pub(crate) async fn play(target: Arc<Target>, mut player: Player) {
    let pings = player.pings(&target.regions);
    let pings: Vec<(&str, u16)> = pings.iter().map(|(r, p)| (r.as_str(), *p)).collect();
    // Start out of step: somewhere within one think-and-play cycle.
    let cycle_ms = target.think_ms + target.game_ms;
    let mut draws = (player.home as u64) << 32;
    tokio::time::sleep(jittered(cycle_ms, draws) / 2).await;
    while !target.past_deadline() {
        draws += 1;
        let sent = Instant::now();
        if let Err(error) = player.enqueue(&target, &pings).await {
            match status_of(&error) {
                // Still queued or in a match from before (the server re-queues a match that
                // found no game server): find out where, and wait there.
                Some(409) => {
                    if player.is_idle(&target).await {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    } else if let Waited::Lost = wait_for_game(&target, &mut player, None).await {
                        return;
                    }
                }
                Some(429 | 503) | None => tokio::time::sleep(Duration::from_millis(500)).await,
                Some(_) => tokio::time::sleep(Duration::from_secs(1)).await,
            }
            continue;
        }
        if let Waited::Lost = wait_for_game(&target, &mut player, Some(sent)).await {
            return;
        }
        player.browse(&target).await;
        tokio::time::sleep(jittered(target.think_ms, draws)).await;
    }
}

/// Waits on the event stream until this player's game is over; accepts matches and schedules
/// results on the way. Leaves the queue at the deadline.
async fn wait_for_game(target: &Target, player: &mut Player, mut sent: Option<Instant>) -> Waited {
    let mut found_at: Option<Instant> = None;
    let mut silent_for = Duration::ZERO;
    loop {
        if target.past_deadline() && found_at.is_none() {
            player.leave_queue(target).await;
            return Waited::Done;
        }
        let event = match player.next_event(EVENT_STEP).await {
            Ok(Some(event)) => event,
            Ok(None) if silent_for < SILENCE_MAX => {
                silent_for += EVENT_STEP;
                continue;
            }
            Ok(None) | Err(()) => return Waited::Lost,
        };
        silent_for = Duration::ZERO;
        match event {
            Event::MatchFound {
                match_id, state, ..
            } => {
                if found_at.is_none() {
                    found_at = Some(Instant::now());
                    // Once per enqueue: a match that falls through and forms again is not a
                    // second sample.
                    if let Some(sent) = sent.take() {
                        target.measured.record_match_found(sent.elapsed());
                    }
                }
                if state == "awaiting_acceptance" && target.acceptance {
                    player.accept(target, match_id).await;
                }
            }
            // Our ticket goes back to its queue (a `requeued` follows) or leaves it; after a
            // failed allocation (no game server free) the server puts it back.
            Event::MatchCancelled { .. } => found_at = None,
            Event::SessionAbandoned { reason, .. } if reason == "allocation_failed" => {
                found_at = None;
            }
            Event::SessionReady { match_id, .. } => target.game_servers.schedule_result(match_id),
            Event::SessionEnded { .. }
            | Event::SessionAbandoned { .. }
            | Event::QueueLeft { .. } => return Waited::Done,
            _ => {}
        }
    }
}
