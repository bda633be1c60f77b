//! Game clients over QUIC: the server's side of `matchwright_transport`'s wire. Each wire
//! request is answered by the same `service` function as its HTTP route (same checks, same
//! errors, same tick loop), so a match can mix QUIC and HTTP players and nothing behaves
//! differently by transport. [`COUNTERPARTS`] names each request's route; [`HTTP_ONLY`] lists
//! the routes without a request, and why (a test holds the router, both tables and
//! `docs/http-api.md` to each other). Events come from the same hub as `/v1/events`, the same
//! `wire::Event`s. Rate limits: the per-player and per-IP buckets of `[rate_limits]` apply
//! exactly as over HTTP; on top, the QUIC server limits each connection (`[quic]`).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use matchwright_ecs::PlayerId;
use matchwright_transport::quic::server::{EventFeed, Handler, Limits, QuicServer};
use matchwright_transport::quic::tls::Identity;
use matchwright_transport::wire::{self, Request, Response, WireError};

use crate::app::AppState;
use crate::error::ApiError;
use crate::hub::Subscription;
use crate::ratelimit::RouteClass;
use crate::service::{accounts, boards, matches, parties, profile, queue, sessions};
use crate::settings::QuicSection;

/// Each request kind's HTTP route: (method, route as the OpenAPI document writes it,
/// [`Request::name`]). Every request kind is here; a route may serve two kinds
/// (`authenticate` is checked over HTTP with the profile, since HTTP sends the token with
/// every request).
pub const COUNTERPARTS: &[(&str, &str, &str)] = &[
    ("POST", "/v1/auth/register", "register"),
    ("POST", "/v1/auth/login", "login"),
    ("GET", "/v1/profile/me", "authenticate"),
    ("GET", "/v1/queues", "queues"),
    ("POST", "/v1/queue", "enqueue"),
    ("GET", "/v1/queue", "queue_status"),
    ("DELETE", "/v1/queue", "cancel"),
    ("POST", "/v1/match/{id}/accept", "accept"),
    ("POST", "/v1/match/{id}/decline", "decline"),
    ("GET", "/v1/session/{match_id}", "session"),
    ("POST", "/v1/party", "create_party"),
    ("GET", "/v1/party", "my_party"),
    ("GET", "/v1/party/{id}", "party"),
    ("POST", "/v1/party/{id}/invite", "invite"),
    ("POST", "/v1/party/{id}/join", "join"),
    ("POST", "/v1/party/{id}/leave", "leave_party"),
    ("POST", "/v1/party/{id}/kick", "kick"),
    ("POST", "/v1/party/{id}/ready", "ready"),
    ("POST", "/v1/party/{id}/chat", "chat"),
    ("POST", "/v1/auth/refresh", "refresh"),
    ("POST", "/v1/auth/logout", "logout"),
    ("GET", "/v1/profile/me", "profile"),
    ("PATCH", "/v1/profile/me", "update_profile"),
    ("GET", "/v1/leaderboard/{season}", "leaderboard"),
    ("GET", "/v1/matches/history", "history"),
    ("GET", "/v1/profile/avoid", "avoid_list"),
    ("PUT", "/v1/profile/avoid", "set_avoid_list"),
    ("GET", "/v1/queue/explain", "explain"),
];

/// Why the fleet routes are HTTP-only.
const GAME_SERVERS: &str = "game servers speak HTTP";
/// Why the admin routes are HTTP-only.
const OPERATORS: &str = "for operators, authenticated with an operator key";

/// The routes no QUIC request stands for: (method, route, why). `docs/http-api.md` names
/// each in its "HTTP-only routes" section.
pub const HTTP_ONLY: &[(&str, &str, &str)] = &[
    (
        "POST",
        "/v1/server/session/{id}/heartbeat",
        "game servers speak HTTP",
    ),
    (
        "POST",
        "/v1/server/session/{id}/result",
        "game servers speak HTTP",
    ),
    (
        "POST",
        "/v1/server/session/{id}/leave",
        "game servers speak HTTP",
    ),
    (
        "POST",
        "/v1/server/session/{id}/end",
        "game servers speak HTTP",
    ),
    (
        "POST",
        "/v1/server/session/{id}/backfill",
        "game servers speak HTTP",
    ),
    (
        "GET",
        "/v1/events",
        "the WebSocket is HTTP's; a QUIC connection gets the same events on the stream the server opens at login",
    ),
    ("GET", "/v1/admin/queues", OPERATORS),
    ("GET", "/v1/admin/tickets", OPERATORS),
    ("GET", "/v1/admin/tickets/{id}", OPERATORS),
    ("GET", "/v1/admin/tickets/{id}/explain", OPERATORS),
    ("POST", "/v1/admin/tickets/{id}/cancel", OPERATORS),
    ("GET", "/v1/admin/matches", OPERATORS),
    ("GET", "/v1/admin/matches/{id}", OPERATORS),
    ("POST", "/v1/admin/matches/{id}/cancel", OPERATORS),
    ("POST", "/v1/admin/sessions/{id}/end", OPERATORS),
    ("GET", "/v1/admin/players/{id}", OPERATORS),
    ("GET", "/v1/admin/players/{id}/ban", OPERATORS),
    ("POST", "/v1/admin/players/{id}/ban", OPERATORS),
    ("DELETE", "/v1/admin/players/{id}/ban", OPERATORS),
    ("GET", "/v1/admin/audit", OPERATORS),
    ("GET", "/v1/admin/fleet", OPERATORS),
    ("GET", "/v1/admin/webhooks", OPERATORS),
    ("GET", "/v1/admin/events", OPERATORS),
    ("POST", "/v1/admin/config/reload", OPERATORS),
    ("PUT", "/v1/admin/players/{id}/ratings/{key}", OPERATORS),
    ("DELETE", "/v1/admin/players/{id}/ratings/{key}", OPERATORS),
    ("POST", "/v1/fleet/servers", GAME_SERVERS),
    ("POST", "/v1/fleet/servers/{id}/heartbeat", GAME_SERVERS),
    ("POST", "/v1/fleet/servers/{id}/drain", GAME_SERVERS),
    ("DELETE", "/v1/fleet/servers/{id}", GAME_SERVERS),
    ("GET", "/healthz", "for operators"),
    ("GET", "/readyz", "for operators"),
    ("GET", "/metrics", "for operators"),
    ("GET", "/openapi.json", "for operators"),
];

/// The certificate `[quic]` names, or the development one kept in `data_dir` (made
/// self-signed on first start). The flag says which.
pub fn identity(settings: &QuicSection, data_dir: &Path) -> Result<(Identity, bool), String> {
    match (&settings.cert, &settings.key) {
        (Some(cert), Some(key)) => Identity::from_pem_files(cert, key).map(|id| (id, false)),
        _ => Identity::development(data_dir).map(|id| (id, true)),
    }
}

/// The per-connection limits `[quic]` sets.
pub fn limits(settings: &QuicSection) -> Limits {
    Limits {
        max_frame_bytes: settings.max_frame_bytes,
        max_bidi_streams: settings.max_streams_per_connection,
        max_in_flight: settings.max_in_flight_per_connection,
        requests_per_second: settings.requests_per_second_per_connection,
        max_connections: settings.max_connections,
        idle_timeout: Duration::from_secs(settings.idle_timeout_s),
        keep_alive: Duration::from_secs(settings.keep_alive_s),
        login_timeout: Duration::from_secs(settings.idle_timeout_s),
        socket_buffer_bytes: settings.socket_buffer_bytes,
    }
}

/// Binds the QUIC server for `state`.
pub fn bind(addr: SocketAddr, identity: &Identity, state: &AppState) -> Result<QuicServer, String> {
    QuicServer::bind(addr, identity, limits(&state.settings.quic))
}

/// Answers wire requests with the `service` functions.
#[derive(Clone, Debug)]
pub struct Bridge {
    state: AppState,
}

impl Bridge {
    /// A bridge over `state`.
    pub fn new(state: AppState) -> Self {
        Self { state }
    }
}

/// A player's events from the hub; frees the player's stream slot when dropped.
#[derive(Debug)]
pub struct PlayerEvents(Subscription);

impl EventFeed for PlayerEvents {
    async fn next(&mut self) -> Option<wire::Event> {
        self.0.receiver.recv().await.map(Arc::unwrap_or_clone)
    }
}

/// The rate-limit class of a request: its HTTP route's, except that the queue listing is
/// free and `authenticate` counts as a login.
fn class_of(request: &Request) -> RouteClass {
    match request {
        Request::Register(_)
        | Request::Login(_)
        | Request::Authenticate { .. }
        | Request::Refresh(_)
        | Request::Logout(_) => RouteClass::Auth,
        Request::Queues => RouteClass::Free,
        Request::QueueStatus
        | Request::Session { .. }
        | Request::MyParty
        | Request::Party { .. }
        | Request::Profile
        | Request::Leaderboard { .. }
        | Request::History(_)
        | Request::AvoidList
        | Request::Explain => RouteClass::Read,
        _ => RouteClass::Write,
    }
}

impl Handler for Bridge {
    type Events = PlayerEvents;

    async fn handle(
        &self,
        peer: SocketAddr,
        player: Option<u64>,
        request: Request,
    ) -> Result<Response, WireError> {
        let player = player.map(PlayerId);
        if let Err(wait) = self
            .state
            .rate_limiter
            .check(class_of(&request), peer.ip(), player)
        {
            return Err(WireError::new(
                429,
                "rate_limited",
                format!(
                    "too many requests; retry in {} s",
                    wait.as_secs_f64().ceil().max(1.0)
                ),
            ));
        }
        dispatch(&self.state, player, request)
            .await
            .map_err(WireError::from)
    }

    fn subscribe(&self, player: u64) -> Result<PlayerEvents, WireError> {
        let player = PlayerId(player);
        let subscription = self.state.shared.hub.subscribe(player).map_err(|refused| {
            WireError::new(
                409,
                "too_many_sockets",
                format!(
                    "you hold {} live-event streams already; close one first",
                    refused.limit
                ),
            )
        })?;
        Ok(PlayerEvents(subscription))
    }
}

fn not_authenticated() -> ApiError {
    ApiError::unauthorized("not_authenticated", "authenticate the connection first")
}

/// Answers one request from `player` (None before the connection authenticated) with the
/// `service` function its HTTP route calls.
pub async fn dispatch(
    state: &AppState,
    player: Option<PlayerId>,
    request: Request,
) -> Result<Response, ApiError> {
    // The transport lets only public requests through unauthenticated; so does this.
    if player.is_none() && !request.is_public() {
        return Err(not_authenticated());
    }
    // A ban holds from the next request on, on a connection authenticated before it too.
    if let Some(player) = player
        && !request.is_public()
    {
        crate::guard::not_banned(state, player).await?;
    }
    let me = || player.ok_or_else(not_authenticated);
    Ok(match request {
        Request::Register(body) => Response::Tokens(accounts::register(state, body).await?),
        Request::Login(body) => Response::Tokens(accounts::login(state, body).await?),
        Request::Authenticate { access_token } => {
            let player = accounts::authenticate(state, &access_token).await?;
            Response::Authenticated {
                player_id: player.0,
            }
        }
        Request::Queues => Response::Queues(queue::queues(state).await),
        Request::Enqueue(body) => Response::QueueStatus(queue::enqueue(state, me()?, body).await?),
        Request::QueueStatus => Response::QueueStatus(queue::status(state, me()?).await),
        Request::Cancel => Response::Done(queue::cancel(state, me()?).await?),
        Request::Accept { match_id } => {
            Response::Done(matches::accept(state, me()?, match_id).await?)
        }
        Request::Decline { match_id } => {
            Response::Done(matches::decline(state, me()?, match_id).await?)
        }
        Request::Session { match_id } => {
            Response::Session(sessions::session(state, me()?, match_id).await?)
        }
        Request::CreateParty => Response::Party(parties::create(state, me()?).await?),
        Request::MyParty => Response::Party(parties::mine(state, me()?).await?),
        Request::Party { party_id } => Response::Party(parties::get(state, me()?, party_id).await?),
        Request::Invite { party_id, body } => {
            Response::PartyAck(parties::invite(state, me()?, party_id, body).await?)
        }
        Request::Join { party_id } => Response::Party(parties::join(state, me()?, party_id).await?),
        Request::LeaveParty { party_id } => {
            Response::PartyAck(parties::leave(state, me()?, party_id).await?)
        }
        Request::Kick { party_id, body } => {
            Response::PartyAck(parties::kick(state, me()?, party_id, body).await?)
        }
        Request::Ready { party_id, body } => {
            Response::Party(parties::ready(state, me()?, party_id, body).await?)
        }
        Request::Chat { party_id, body } => {
            Response::PartyAck(parties::chat(state, me()?, party_id, body).await?)
        }
        Request::Refresh(body) => Response::Tokens(accounts::refresh(state, body).await?),
        Request::Logout(body) => {
            accounts::logout(state, body).await?;
            Response::LoggedOut
        }
        Request::Profile => Response::Profile(profile::profile(state, me()?).await?),
        Request::UpdateProfile(patch) => {
            Response::Profile(profile::update_profile(state, me()?, patch).await?)
        }
        Request::Leaderboard { season, query } => {
            Response::Leaderboard(boards::leaderboard(state, season, query).await?)
        }
        Request::History(query) => Response::History(boards::history(state, me()?, query).await?),
        Request::AvoidList => Response::AvoidList(profile::avoid_list(state, me()?).await?),
        Request::SetAvoidList(update) => {
            Response::AvoidList(profile::set_avoid_list(state, me()?, update).await?)
        }
        Request::Explain => Response::Explanation(queue::explain(state, me()?).await?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tables_are_apart_and_name_each_kind_once() {
        let mut names: Vec<&str> = COUNTERPARTS.iter().map(|(_, _, name)| *name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(
            names.len(),
            COUNTERPARTS.len(),
            "a request kind is listed twice"
        );
        assert_eq!(
            names.len() as u32,
            Request::KINDS,
            "a request kind is missing"
        );
        for (method, path, _) in HTTP_ONLY {
            assert!(
                !COUNTERPARTS
                    .iter()
                    .any(|(m, p, _)| m == method && p == path),
                "{method} {path} is in both tables"
            );
        }
    }
}
