//! Game clients over QUIC: the server's side of `matchwright_transport`'s wire. Each wire
//! request is answered by the same function that answers its HTTP route (same checks, same
//! errors, same tick loop), so a match can mix QUIC and HTTP players and nothing behaves
//! differently by transport. Events come from the same hub as `/v1/events`, translated to
//! wire events. Rate limits: the per-player and per-IP buckets of `[rate_limits]` apply
//! exactly as over HTTP; on top, the QUIC server limits each connection (`[quic]`).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use matchwright_ecs::PlayerId;
use matchwright_transport::quic::server::{EventFeed, Handler, Limits, QuicServer};
use matchwright_transport::quic::tls::Identity;
use matchwright_transport::wire::{self, Request, Response, WireError};
use tokio::sync::mpsc;

use crate::app::AppState;
use crate::auth::{self, AuthPlayer};
use crate::error::{ApiError, ApiJson, ApiPath};
use crate::hub::{Hub, LiveEvent};
use crate::ratelimit::RouteClass;
use crate::settings::QuicSection;
use crate::{api, lobby, party};

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

/// Answers wire requests with the HTTP API's handlers.
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

/// A player's events from the hub; unsubscribes when dropped.
#[derive(Debug)]
pub struct PlayerEvents {
    receiver: mpsc::Receiver<Arc<LiveEvent>>,
    hub: Arc<Hub>,
    player: PlayerId,
    id: u64,
}

impl Drop for PlayerEvents {
    fn drop(&mut self) {
        self.hub.unsubscribe(self.player, self.id);
    }
}

impl EventFeed for PlayerEvents {
    async fn next(&mut self) -> Option<wire::Event> {
        self.receiver.recv().await.map(|event| wire_event(&event))
    }
}

fn wire_error(error: ApiError) -> WireError {
    WireError {
        status: error.status.as_u16(),
        code: error.body.error,
        message: error.body.message,
        field: error.body.field,
    }
}

fn class_of(request: &Request) -> RouteClass {
    match request {
        Request::Register { .. } | Request::Login { .. } | Request::Authenticate { .. } => {
            RouteClass::Auth
        }
        Request::Queues => RouteClass::Free,
        Request::QueueStatus
        | Request::Session { .. }
        | Request::MyParty
        | Request::Party { .. } => RouteClass::Read,
        _ => RouteClass::Write,
    }
}

fn pings(given: Vec<(String, u16)>) -> BTreeMap<String, u16> {
    given.into_iter().collect()
}

impl Handler for Bridge {
    type Events = PlayerEvents;

    async fn handle(
        &self,
        peer: SocketAddr,
        player: Option<u64>,
        request: Request,
    ) -> Result<Response, WireError> {
        let state = self.state.clone();
        let player = player.map(PlayerId);
        if let Err(wait) = state
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
        answer(state, player, request).await.map_err(wire_error)
    }

    fn subscribe(&self, player: u64) -> Result<PlayerEvents, WireError> {
        let player = PlayerId(player);
        let hub = Arc::clone(&self.state.shared.hub);
        let subscription = hub.subscribe(player).map_err(|refused| {
            WireError::new(
                409,
                "too_many_sockets",
                format!(
                    "you hold {} live-event streams already; close one first",
                    refused.limit
                ),
            )
        })?;
        Ok(PlayerEvents {
            receiver: subscription.receiver,
            hub,
            player,
            id: subscription.id,
        })
    }
}

async fn answer(
    state: AppState,
    player: Option<PlayerId>,
    request: Request,
) -> Result<Response, ApiError> {
    // The transport lets only public requests through unauthenticated.
    let me = || {
        player.map(AuthPlayer).ok_or_else(|| {
            ApiError::unauthorized("not_authenticated", "authenticate the connection first")
        })
    };
    let st = || State(state.clone());
    Ok(match request {
        Request::Register {
            username,
            password,
            display_name,
        } => {
            let body = api::RegisterRequest {
                username,
                password,
                display_name,
            };
            let (_, axum::Json(tokens)) = api::register(st(), ApiJson(body)).await?;
            Response::Tokens(wire_tokens(tokens))
        }
        Request::Login { username, password } => {
            let body = api::LoginRequest { username, password };
            let axum::Json(tokens) = api::login(st(), ApiJson(body)).await?;
            Response::Tokens(wire_tokens(tokens))
        }
        Request::Authenticate { access_token } => {
            let player = auth::verify_access_token(&state.secrets.jwt, &access_token)?;
            let player = auth::known_player(&state, player)?;
            Response::Authenticated {
                player_id: player.0,
            }
        }
        Request::Queues => {
            let axum::Json(queues) = api::list_queues(st()).await;
            Response::Queues(wire::QueueList {
                regions: queues.regions,
                season: queues.season,
                queues: queues
                    .queues
                    .into_iter()
                    .map(|queue| wire::QueueInfo {
                        name: queue.name,
                        mode: queue.mode,
                        teams: queue.teams,
                        team_size: queue.team_size,
                        max_party_size: queue.max_party_size,
                        acceptance: queue.acceptance,
                    })
                    .collect(),
            })
        }
        Request::Enqueue(enqueue) => {
            let body = api::EnqueueRequest {
                queue: enqueue.queue,
                pings: pings(enqueue.pings),
                max_ping_ms: enqueue.max_ping_ms,
            };
            let (_, axum::Json(status)) = api::enqueue(st(), me()?, ApiJson(body)).await?;
            Response::QueueStatus(wire_status(status))
        }
        Request::QueueStatus => {
            let axum::Json(status) = api::get_queue(st(), me()?).await;
            Response::QueueStatus(wire_status(status))
        }
        Request::Cancel => Response::Done(wire_done(api::leave_queue(st(), me()?).await?.0)),
        Request::Accept { match_id } => Response::Done(wire_done(
            api::accept_match(st(), me()?, ApiPath(match_id)).await?.0,
        )),
        Request::Decline { match_id } => Response::Done(wire_done(
            api::decline_match(st(), me()?, ApiPath(match_id)).await?.0,
        )),
        Request::Session { match_id } => {
            let axum::Json(session) = api::get_session(st(), me()?, ApiPath(match_id)).await?;
            Response::Session(wire::Session {
                match_id: session.match_id,
                state: session.state,
                region: session.region,
                your_team: session.your_team,
                players: session.players.into_iter().map(wire_player).collect(),
                server: session.server,
                session_token: session.session_token,
                token_expires_at_ms: session.token_expires_at_ms,
            })
        }
        Request::CreateParty => {
            let (_, axum::Json(body)) = party::create_party(st(), me()?).await?;
            Response::Party(wire_party(body))
        }
        Request::MyParty => Response::Party(wire_party(party::my_party(st(), me()?).await?.0)),
        Request::Party { party_id } => Response::Party(wire_party(
            party::get_party(st(), me()?, ApiPath(party_id)).await?.0,
        )),
        Request::Invite {
            party_id,
            player_id,
        } => {
            let body = party::PlayerRequest { player_id };
            let axum::Json(ack) =
                party::invite(st(), me()?, ApiPath(party_id), ApiJson(body)).await?;
            Response::PartyAck(wire_ack(ack))
        }
        Request::Join { party_id } => Response::Party(wire_party(
            party::join(st(), me()?, ApiPath(party_id)).await?.0,
        )),
        Request::LeaveParty { party_id } => Response::PartyAck(wire_ack(
            party::leave(st(), me()?, ApiPath(party_id)).await?.0,
        )),
        Request::Kick {
            party_id,
            player_id,
        } => {
            let body = party::PlayerRequest { player_id };
            let axum::Json(ack) =
                party::kick(st(), me()?, ApiPath(party_id), ApiJson(body)).await?;
            Response::PartyAck(wire_ack(ack))
        }
        Request::Ready {
            party_id,
            ready,
            pings: given,
        } => {
            let body = party::ReadyRequest {
                ready,
                pings: pings(given),
            };
            let axum::Json(party) =
                party::ready(st(), me()?, ApiPath(party_id), ApiJson(body)).await?;
            Response::Party(wire_party(party))
        }
        Request::Chat { party_id, text } => {
            let body = party::ChatRequest { text };
            let axum::Json(ack) =
                party::chat(st(), me()?, ApiPath(party_id), ApiJson(body)).await?;
            Response::PartyAck(wire_ack(ack))
        }
    })
}

fn wire_tokens(tokens: api::TokensResponse) -> wire::Tokens {
    wire::Tokens {
        player_id: tokens.player_id,
        access_token: tokens.access_token,
        expires_in: tokens.expires_in,
        refresh_token: tokens.refresh_token,
    }
}

fn wire_status(status: api::QueueStatus) -> wire::QueueStatus {
    wire::QueueStatus {
        status: status.status,
        ticket_id: status.ticket_id,
        queue: status.queue,
        waiting_since_ms: status.waiting_since_ms,
        waiting_ms: status.waiting_ms,
        windows: status.windows.map(|windows| wire::Windows {
            skill_mmr: windows.skill_mmr,
            ping_ms: windows.ping_ms,
            quality_floor: windows.quality_floor,
        }),
        match_id: status.match_id,
        match_state: status.match_state,
        accept_by_ms: status.accept_by_ms,
    }
}

fn wire_done(done: api::Done) -> wire::Done {
    wire::Done {
        status: done.status,
        match_id: done.match_id,
    }
}

fn wire_ack(ack: party::PartyAck) -> wire::PartyAck {
    wire::PartyAck {
        status: ack.status,
        party_id: ack.party_id,
    }
}

fn wire_player(player: crate::hub::MatchPlayerBody) -> wire::MatchPlayer {
    wire::MatchPlayer {
        player_id: player.player_id,
        team: player.team,
    }
}

fn wire_line(line: lobby::ChatLine) -> wire::ChatLine {
    wire::ChatLine {
        player_id: line.player_id,
        display_name: line.display_name,
        text: line.text,
        at_ms: line.at_ms,
    }
}

fn wire_party(party: lobby::PartyBody) -> wire::Party {
    wire::Party {
        party_id: party.party_id,
        leader_id: party.leader_id,
        status: party.status,
        members: party
            .members
            .into_iter()
            .map(|member| wire::PartyMember {
                player_id: member.player_id,
                leader: member.leader,
                ready: member.ready,
            })
            .collect(),
        invited: party.invited,
        chat: party.chat.into_iter().map(wire_line).collect(),
    }
}

fn wire_rating(rating: crate::hub::RatingBody) -> wire::Rating {
    wire::Rating {
        mu: rating.mu,
        sigma: rating.sigma,
        conservative: rating.conservative,
    }
}

/// The wire form of a live event: the same fields as its JSON on `/v1/events`.
pub fn wire_event(event: &LiveEvent) -> wire::Event {
    use wire::Event as W;
    match event.clone() {
        LiveEvent::Welcome { player_id } => W::Welcome { player_id },
        LiveEvent::Queued {
            ticket_id,
            queue,
            waiting_since_ms,
        } => W::Queued {
            ticket_id,
            queue,
            waiting_since_ms,
        },
        LiveEvent::QueueLeft {
            ticket_id,
            reason,
            waited_ms,
        } => W::QueueLeft {
            ticket_id,
            reason,
            waited_ms,
        },
        LiveEvent::MatchFound {
            match_id,
            state,
            queue,
            mode,
            region,
            quality,
            your_team,
            players,
            accept_by_ms,
        } => W::MatchFound {
            match_id,
            state,
            queue,
            mode,
            region,
            quality,
            your_team,
            players: players.into_iter().map(wire_player).collect(),
            accept_by_ms,
        },
        LiveEvent::MatchAccepted {
            match_id,
            player_id,
        } => W::MatchAccepted {
            match_id,
            player_id,
        },
        LiveEvent::MatchCancelled {
            match_id,
            reason,
            players,
        } => W::MatchCancelled {
            match_id,
            reason,
            players,
        },
        LiveEvent::Requeued {
            ticket_id,
            match_id,
        } => W::Requeued {
            ticket_id,
            match_id,
        },
        LiveEvent::SessionReady {
            match_id,
            server,
            session_token,
            token_expires_at_ms,
        } => W::SessionReady {
            match_id,
            server,
            session_token,
            token_expires_at_ms,
        },
        LiveEvent::SessionEnded {
            match_id,
            placements,
        } => W::SessionEnded {
            match_id,
            placements,
        },
        LiveEvent::SessionAbandoned { match_id, reason } => {
            W::SessionAbandoned { match_id, reason }
        }
        LiveEvent::PartyUpdated {
            change,
            player_id,
            party,
        } => W::PartyUpdated {
            change,
            player_id,
            party: wire_party(party),
        },
        LiveEvent::PartyInvite {
            party_id,
            from_player_id,
            from_display_name,
            expires_at_ms,
        } => W::PartyInvite {
            party_id,
            from_player_id,
            from_display_name,
            expires_at_ms,
        },
        LiveEvent::PartyChat { party_id, line } => W::PartyChat {
            party_id,
            line: wire_line(line),
        },
        LiveEvent::RatingsChanged {
            match_id,
            mode,
            before,
            after,
        } => W::RatingsChanged {
            match_id,
            mode,
            before: wire_rating(before),
            after: wire_rating(after),
        },
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::hub::{MatchPlayerBody, RatingBody};
    use crate::lobby::{ChatLine, PartyBody, PartyMemberBody};

    fn every_event() -> Vec<LiveEvent> {
        let party = PartyBody {
            party_id: 3,
            leader_id: 1,
            status: "idle".into(),
            members: vec![PartyMemberBody {
                player_id: 1,
                leader: true,
                ready: true,
            }],
            invited: vec![2],
            chat: vec![ChatLine {
                player_id: 1,
                display_name: "ada".into(),
                text: "hi".into(),
                at_ms: 5,
            }],
        };
        let rating = RatingBody {
            mu: 1500.0,
            sigma: 100.0,
            conservative: 1200.0,
        };
        vec![
            LiveEvent::Welcome { player_id: 1 },
            LiveEvent::Queued {
                ticket_id: 1,
                queue: "q".into(),
                waiting_since_ms: 9,
            },
            LiveEvent::QueueLeft {
                ticket_id: 1,
                reason: "cancelled".into(),
                waited_ms: 4,
            },
            LiveEvent::MatchFound {
                match_id: 7,
                state: "awaiting_acceptance".into(),
                queue: "q".into(),
                mode: "m".into(),
                region: "eu".into(),
                quality: 0.75,
                your_team: 1,
                players: vec![MatchPlayerBody {
                    player_id: 1,
                    team: 1,
                }],
                accept_by_ms: None,
            },
            LiveEvent::MatchAccepted {
                match_id: 7,
                player_id: 1,
            },
            LiveEvent::MatchCancelled {
                match_id: 7,
                reason: "declined".into(),
                players: vec![2],
            },
            LiveEvent::Requeued {
                ticket_id: 1,
                match_id: 7,
            },
            LiveEvent::SessionReady {
                match_id: 7,
                server: "1.2.3.4:7777".into(),
                session_token: "t".into(),
                token_expires_at_ms: 99,
            },
            LiveEvent::SessionEnded {
                match_id: 7,
                placements: Some(vec![1, 2]),
            },
            LiveEvent::SessionAbandoned {
                match_id: 7,
                reason: "empty".into(),
            },
            LiveEvent::PartyUpdated {
                change: "joined".into(),
                player_id: 2,
                party,
            },
            LiveEvent::PartyInvite {
                party_id: 3,
                from_player_id: 1,
                from_display_name: "ada".into(),
                expires_at_ms: 50,
            },
            LiveEvent::PartyChat {
                party_id: 3,
                line: ChatLine {
                    player_id: 1,
                    display_name: "ada".into(),
                    text: "gg".into(),
                    at_ms: 6,
                },
            },
            LiveEvent::RatingsChanged {
                match_id: 7,
                mode: "m".into(),
                before: rating,
                after: rating,
            },
        ]
    }

    /// The SDK's HTTP client reads `/v1/events` JSON into wire events; QUIC clients get
    /// `wire_event`'s. Both must be the same event, for every kind.
    #[test]
    fn quic_and_http_clients_see_the_same_events() {
        for event in every_event() {
            let json = serde_json::to_string(&event).unwrap();
            let over_http = wire::Event::from_json(&json).unwrap();
            assert_eq!(over_http, wire_event(&event), "{json}");
        }
    }
}
