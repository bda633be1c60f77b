//! The fleet routes (`/v1/fleet/servers...`, HTTP only): game servers register with the
//! fleet registration secret and get their own credential, then heartbeat, drain and
//! deregister with it. The registry is `registry`'s; `serve` only (a gateway answers 404
//! `registration_closed`, as does a server without a registration secret).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::request::Parts;
use matchwright_transport::wire::{
    Done, FleetServerStatus, RegisterServerRequest, RegisteredServer as Registered, WireError,
};

use crate::app::AppState;
use crate::auth;
use crate::error::{ApiError, ApiJson, ApiPath};
use crate::guard::{RegisteredServer, registry_of};

/// The registration secret, as the caller must send it.
pub struct RegistrationSecret;

impl axum::extract::FromRequestParts<AppState> for RegistrationSecret {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        registry_of(state)?;
        let Some(secret) = &state.settings.server.fleet_registration_secret else {
            return Err(ApiError::internal(
                "a registry without a registration secret",
            ));
        };
        let Some(given) = auth::bearer(&parts.headers) else {
            return Err(ApiError::unauthorized(
                "missing_token",
                "game servers register with the fleet registration secret as `Authorization: Bearer SECRET`",
            ));
        };
        if auth::constant_time_eq(given.as_bytes(), secret.as_bytes()) {
            Ok(Self)
        } else {
            Err(ApiError::unauthorized(
                "invalid_token",
                "the fleet registration secret is not valid",
            ))
        }
    }
}

/// Registers a game server: it gets its id and its own credential. An address is one
/// registration's while it lives (deregister it, or wait for its heartbeat timeout), and never
/// a fixed server's.
#[utoipa::path(post, path = "/v1/fleet/servers", tag = "game servers", operation_id = "register_game_server",
    security(("fleet_registration_secret" = [])),
    request_body = RegisterServerRequest,
    responses(
        (status = 201, description = "Registered", body = Registered),
        (status = 401, description = "No valid registration secret", body = WireError),
        (status = 404, description = "Registration is closed here (`registration_closed`)", body = WireError),
        (status = 409, description = "The address is registered (`address_registered`) or a fixed server's (`address_in_fixed_fleet`)", body = WireError),
        (status = 422, description = "Unknown region, bad address, capacity or labels", body = WireError),
        (status = 503, description = "`[fleet] max_registered` servers are registered (`fleet_full`)", body = WireError)))]
pub async fn register(
    State(state): State<AppState>,
    _secret: RegistrationSecret,
    ApiJson(request): ApiJson<RegisterServerRequest>,
) -> Result<(StatusCode, Json<Registered>), ApiError> {
    let registered = registry_of(&state)?.register(&request)?;
    Ok((StatusCode::CREATED, Json(registered)))
}

/// A registered server is alive: it stays in the fleet until `heartbeat_timeout_ms` from now.
#[utoipa::path(post, path = "/v1/fleet/servers/{id}/heartbeat", tag = "game servers", operation_id = "fleet_heartbeat",
    security(("server_credential" = [])),
    params(("id" = u64, Path, description = "The server")),
    responses(
        (status = 200, description = "Noted", body = FleetServerStatus),
        (status = 401, description = "Not a registered server's credential (register again)", body = WireError),
        (status = 403, description = "Another server's id (`not_your_server`)", body = WireError)))]
pub async fn heartbeat(
    State(state): State<AppState>,
    RegisteredServer(server): RegisteredServer,
    ApiPath(id): ApiPath<u64>,
) -> Result<Json<FleetServerStatus>, ApiError> {
    registry_of(&state)?.heartbeat(&server, id).map(Json)
}

/// Drains a registered server: no new session goes to it; its sessions go on.
#[utoipa::path(post, path = "/v1/fleet/servers/{id}/drain", tag = "game servers",
    security(("server_credential" = [])),
    params(("id" = u64, Path, description = "The server")),
    responses(
        (status = 200, description = "Draining", body = FleetServerStatus),
        (status = 401, description = "Not a registered server's credential", body = WireError),
        (status = 403, description = "Another server's id (`not_your_server`)", body = WireError)))]
pub async fn drain(
    State(state): State<AppState>,
    RegisteredServer(server): RegisteredServer,
    ApiPath(id): ApiPath<u64>,
) -> Result<Json<FleetServerStatus>, ApiError> {
    registry_of(&state)?.drain(&server, id).map(Json)
}

/// Deregisters a server: its credential stops working. Its sessions end when their
/// heartbeats stop: drain first, and deregister once they are over.
#[utoipa::path(delete, path = "/v1/fleet/servers/{id}", tag = "game servers",
    security(("server_credential" = [])),
    params(("id" = u64, Path, description = "The server")),
    responses(
        (status = 200, description = "Deregistered", body = Done),
        (status = 401, description = "Not a registered server's credential", body = WireError),
        (status = 403, description = "Another server's id (`not_your_server`)", body = WireError)))]
pub async fn deregister(
    State(state): State<AppState>,
    RegisteredServer(server): RegisteredServer,
    ApiPath(id): ApiPath<u64>,
) -> Result<Json<Done>, ApiError> {
    registry_of(&state)?.deregister(&server, id)?;
    Ok(Json(Done {
        status: "deregistered".into(),
        match_id: None,
    }))
}
