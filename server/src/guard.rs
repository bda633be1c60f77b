//! The extractors that guard the routes: [`AuthPlayer`] for players (an access token whose
//! account exists), [`GameServer`] for game servers (the game-server key, or a registered
//! server's credential: [`RegisteredServer`]) and [`Operator`] for
//! operators (one of `[server] operator_keys`). The tokens themselves are `auth`'s.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use matchwright_ecs::PlayerId;

use crate::app::AppState;
use crate::auth;
use crate::error::ApiError;
use crate::registry::{Authenticated, Registry};

/// An authenticated player (from a valid access token). Missing, malformed, forged or expired
/// tokens are refused with 401 and a code that says which; a banned player's with 403 `banned`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuthPlayer(pub PlayerId);

impl FromRequestParts<AppState> for AuthPlayer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Some(token) = auth::access_token_in(&parts.headers, &parts.uri) else {
            return Err(ApiError::unauthorized(
                "missing_token",
                "send an access token as `Authorization: Bearer TOKEN` (POST /v1/auth/login)",
            ));
        };
        let player = auth::verify_access_token(&state.secrets.jwt, &token)?;
        known_player(state, player).await.map(Self)
    }
}

/// Refuses a validly signed token whose account does not exist (401, as for a bad token): a
/// token outlives nothing it names.
pub async fn known_player(state: &AppState, player: PlayerId) -> Result<PlayerId, ApiError> {
    if !state.records.account_exists(player).await? {
        return Err(ApiError::unauthorized(
            "unknown_player",
            "the token's account does not exist",
        ));
    }
    not_banned(state, player).await.map(|()| player)
}

/// Refuses a banned player (403 `banned`, with the ban's reason): every request a token
/// makes, every login and every refresh asks, so a ban holds from the next request on. A
/// gateway whose shared record (Postgres) does not answer within 1 s (or has no connection)
/// lets the request through, counted in `matchwright_ban_checks_unanswered_total`, rather
/// than stop every player at once; any other failure refuses the request (503). The store of
/// `serve` always answers.
pub async fn not_banned(state: &AppState, player: PlayerId) -> Result<(), ApiError> {
    use matchwright_storage::shared::BAN_UNANSWERED;
    let ban = match state.records.ban(player).await {
        Err(matchwright_storage::StoreError::Shared { doing, .. }) if doing == BAN_UNANSWERED => {
            metrics::counter!("matchwright_ban_checks_unanswered_total").increment(1);
            return Ok(());
        }
        other => other?,
    };
    match ban {
        None => Ok(()),
        Some(ban) => Err(ApiError::forbidden(
            "banned",
            format!("this account is banned: {}", ban.reason),
        )),
    }
}

/// A game server: the config's game-server key (any session: the fixed fleet and
/// development), or a registered server's own credential (`registry`: only the sessions it
/// hosts, see [`GameServer::may_act_on`]). `Authorization: Bearer KEY`; anything else is 401.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GameServer {
    /// The game-server key.
    Key,
    /// A registered server.
    Registered(Authenticated),
}

impl FromRequestParts<AppState> for GameServer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Some(key) = auth::bearer(&parts.headers) else {
            return Err(ApiError::unauthorized(
                "missing_token",
                "game servers send the server key as `Authorization: Bearer KEY`",
            ));
        };
        if auth::constant_time_eq(key.as_bytes(), state.secrets.game_server_key.as_bytes()) {
            return Ok(Self::Key);
        }
        if let Some(server) = state
            .fleet
            .as_ref()
            .and_then(|fleet| fleet.authenticate(key))
        {
            return Ok(Self::Registered(server));
        }
        Err(ApiError::unauthorized(
            "invalid_token",
            "neither the game-server key nor a registered server's credential",
        ))
    }
}

impl GameServer {
    /// Refuses a registered server acting on any session but those allocated to it (403
    /// `not_your_session`): one whose allocation is not known yet, one allocated to another
    /// server, one that is over. The game-server key may act on any.
    pub fn may_act_on(&self, state: &AppState, match_id: u64) -> Result<(), ApiError> {
        let Self::Registered(server) = self else {
            return Ok(());
        };
        let hosted = state.fleet.as_ref().is_some_and(|fleet| {
            fleet.hosts_session(matchwright_ecs::MatchId(match_id), server.id)
        });
        if hosted {
            Ok(())
        } else {
            Err(ApiError::forbidden(
                "not_your_session",
                format!("session {match_id} is not a live session hosted by this server"),
            ))
        }
    }
}

/// A registered game server on its own fleet routes (`/v1/fleet/servers/{id}/...`): its
/// credential only (the game-server key names no server). 404 `registration_closed` when this
/// server takes no registrations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegisteredServer(pub Authenticated);

impl FromRequestParts<AppState> for RegisteredServer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let fleet = registry_of(state)?;
        let Some(token) = auth::bearer(&parts.headers) else {
            return Err(ApiError::unauthorized(
                "missing_token",
                "a registered server sends its credential as `Authorization: Bearer TOKEN`",
            ));
        };
        fleet.authenticate(token).map(Self).ok_or_else(|| {
            ApiError::unauthorized(
                "invalid_token",
                "not a registered server's credential (unknown, deregistered, or timed out: register again)",
            )
        })
    }
}

/// The fleet registry, or 404 `registration_closed`.
pub fn registry_of(state: &AppState) -> Result<&std::sync::Arc<Registry>, ApiError> {
    state.fleet.as_ref().ok_or_else(|| {
        ApiError::not_found(
            "registration_closed",
            "this server takes no game-server registrations (no `[server] fleet_registration_secret`, \
             or a gateway: register with `serve`)",
        )
    })
}

/// What an operator key may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OperatorRole {
    /// Read the admin routes (`[server] read_only_operator_keys`).
    ReadOnly,
    /// Read and act (`[server] operator_keys`).
    Admin,
}

/// An operator, authenticated by one of the config's operator keys
/// (`Authorization: Bearer KEY`, `[server] operator_keys` and `read_only_operator_keys`). A
/// missing or unknown key is 401; a player's valid access token is 403 `not_operator`, as is
/// any key while no operator key is configured. Every configured key is compared, each in
/// constant time, so the answer's timing says nothing about which key came close.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operator {
    /// The key's name in the audit log: `operator-` and the first 12 hex digits of its
    /// BLAKE3 hash (the key itself is never written anywhere).
    pub name: String,
    /// What it may do.
    pub role: OperatorRole,
}

impl Operator {
    /// Refuses a read-only key (403 `read_only_operator`): the admin actions need an admin
    /// key.
    pub fn require_admin(&self) -> Result<(), ApiError> {
        match self.role {
            OperatorRole::Admin => Ok(()),
            OperatorRole::ReadOnly => Err(ApiError::forbidden(
                "read_only_operator",
                "this operator key only reads; the action needs one of `[server] operator_keys`",
            )),
        }
    }
}

/// The audit log's name for an operator key.
pub fn operator_name(key: &str) -> String {
    let hash = blake3::hash(key.as_bytes()).to_hex();
    format!("operator-{}", &hash[..12])
}

impl FromRequestParts<AppState> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Some(key) = auth::bearer(&parts.headers) else {
            return Err(ApiError::unauthorized(
                "missing_token",
                "operators send an operator key as `Authorization: Bearer KEY`",
            ));
        };
        let server = &state.settings.server;
        let matches = |keys: &[String]| {
            keys.iter().fold(false, |found, known| {
                found | auth::constant_time_eq(key.as_bytes(), known.as_bytes())
            })
        };
        let (admin, read_only) = (
            matches(&server.operator_keys),
            matches(&server.read_only_operator_keys),
        );
        if admin || read_only {
            let role = if admin {
                OperatorRole::Admin
            } else {
                OperatorRole::ReadOnly
            };
            return Ok(Self {
                name: operator_name(key),
                role,
            });
        }
        if server.operator_keys.is_empty() && server.read_only_operator_keys.is_empty() {
            return Err(ApiError::forbidden(
                "not_operator",
                "no operator key is configured (`[server] operator_keys`, \
                 MATCHWRIGHT_OPERATOR_KEYS): the admin routes are closed",
            ));
        }
        if auth::verify_access_token(&state.secrets.jwt, key).is_ok() {
            return Err(ApiError::forbidden(
                "not_operator",
                "a player's access token does not open the admin routes; send an operator key",
            ));
        }
        Err(ApiError::unauthorized(
            "invalid_token",
            "the operator key is not valid",
        ))
    }
}
