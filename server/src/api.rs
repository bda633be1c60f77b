//! The HTTP API under `/v1`: request and response bodies, and one handler per route. Each
//! handler is documented with `#[utoipa::path]`, and the router is built from those very
//! annotations (`app::router`), so `/openapi.json` lists exactly the routes that exist.
//!
//! Handlers read the live view and the store directly; anything that changes the matcher
//! goes through the tick loop and returns once its tick has committed.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use matchwright_ecs::command::TicketMember;
use matchwright_ecs::{
    Command, EnqueueTicket, MatchId, NO_PING, PartyId, PlayerId, Rating, TicketId,
};
use matchwright_storage::{Account, RefreshToken, Rotation};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::AppState;
use crate::auth::{self, AuthPlayer, GameServer};
use crate::error::{ApiError, ApiJson, ApiPath, ErrorBody};
use crate::hub::{LiveEvent, MatchPlayerBody, RatingBody};
use crate::tick::unix_ms;
use crate::view::{MatchStage, PlayerStatus};

// ---------------------------------------------------------------------------------------------
// Auth

/// `POST /v1/auth/register`.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// 3 to 32 characters: letters, digits, `_`, `-`, `.`. Unique.
    pub username: String,
    /// 8 to 128 characters.
    pub password: String,
    /// The name others see (default: the username). 1 to 32 characters.
    pub display_name: Option<String>,
}

/// `POST /v1/auth/login`.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// The username.
    pub username: String,
    /// The password.
    pub password: String,
}

/// `POST /v1/auth/refresh` and `/v1/auth/logout`.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    /// The refresh token from the last login or refresh.
    pub refresh_token: String,
}

/// Tokens for a player.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct TokensResponse {
    /// The player.
    pub player_id: u64,
    /// The access token: `Authorization: Bearer ACCESS_TOKEN`.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds the access token lives.
    pub expires_in: u64,
    /// Exchange it for new tokens at `POST /v1/auth/refresh` (once: it rotates).
    pub refresh_token: String,
    /// Seconds the refresh token lives.
    pub refresh_expires_in: u64,
}

fn check_username(username: &str) -> Result<(), ApiError> {
    let ok_chars = username
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if !(3..=32).contains(&username.len()) || !ok_chars {
        return Err(ApiError::invalid(
            "username",
            "a username is 3 to 32 characters: letters, digits, `_`, `-` or `.`",
        ));
    }
    Ok(())
}

fn check_display_name(name: &str) -> Result<(), ApiError> {
    let length = name.chars().count();
    if !(1..=32).contains(&length) || name.chars().any(char::is_control) || name.trim() != name {
        return Err(ApiError::invalid(
            "display_name",
            "a display name is 1 to 32 characters, without control characters or surrounding spaces",
        ));
    }
    Ok(())
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(ApiError::internal)?
}

/// Issues an access token and a refresh token of `family`.
async fn issue_tokens(
    state: &AppState,
    player: PlayerId,
    family: u64,
) -> Result<TokensResponse, ApiError> {
    let server = &state.settings.server;
    let now_ms = unix_ms();
    let (refresh, hash) = auth::new_refresh_token()?;
    let record = RefreshToken {
        player,
        family,
        expires_at_ms: now_ms + server.refresh_token_ttl_s * 1_000,
        rotated: false,
    };
    let store = state.store.clone();
    blocking(move || Ok(store.put_refresh_token(&hash, &record)?)).await?;
    Ok(tokens_body(state, player, refresh))
}

fn tokens_body(state: &AppState, player: PlayerId, refresh_token: String) -> TokensResponse {
    let server = &state.settings.server;
    TokensResponse {
        player_id: player.0,
        access_token: auth::access_token(
            &state.secrets.jwt,
            player,
            unix_ms() / 1_000,
            server.access_token_ttl_s,
        ),
        token_type: "Bearer".into(),
        expires_in: server.access_token_ttl_s,
        refresh_token,
        refresh_expires_in: server.refresh_token_ttl_s,
    }
}

/// Creates an account and logs it in.
#[utoipa::path(post, path = "/v1/auth/register", tag = "auth",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "Created and logged in", body = TokensResponse),
        (status = 409, description = "The username is taken", body = ErrorBody),
        (status = 422, description = "A field is not valid", body = ErrorBody)))]
pub async fn register(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<RegisterRequest>,
) -> Result<(StatusCode, axum::Json<TokensResponse>), ApiError> {
    check_username(&request.username)?;
    if !(8..=128).contains(&request.password.chars().count()) {
        return Err(ApiError::invalid(
            "password",
            "a password is 8 to 128 characters",
        ));
    }
    let display_name = request
        .display_name
        .clone()
        .unwrap_or_else(|| request.username.clone());
    check_display_name(&display_name)?;
    if state
        .store
        .account_by_username(&request.username)?
        .is_some()
    {
        return Err(ApiError::conflict(
            "username_taken",
            format!("the username {:?} is taken", request.username),
        )
        .field("username"));
    }
    let password = request.password.clone();
    let password_hash = blocking(move || auth::hash_password(&password)).await?;
    let player = PlayerId(state.next_player.fetch_add(1, Ordering::Relaxed));
    let account = Account {
        player,
        username: request.username,
        password_hash,
        display_name,
        regions: Vec::new(),
        created_at_ms: unix_ms(),
    };
    let store = state.store.clone();
    blocking(move || Ok(store.create_account(&account)?)).await?;
    let tokens = issue_tokens(&state, player, auth::new_family()?).await?;
    tracing::info!(%player, "account registered");
    Ok((StatusCode::CREATED, axum::Json(tokens)))
}

/// Logs in with a username and password.
#[utoipa::path(post, path = "/v1/auth/login", tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in", body = TokensResponse),
        (status = 401, description = "Wrong username or password", body = ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<LoginRequest>,
) -> Result<axum::Json<TokensResponse>, ApiError> {
    let account = state.store.account_by_username(&request.username)?;
    let (hash, player) = match &account {
        Some(account) => (account.password_hash.clone(), Some(account.player)),
        None => (auth::decoy_hash().to_string(), None),
    };
    let password = request.password;
    let valid = blocking(move || Ok(auth::verify_password(&password, &hash))).await?;
    let (true, Some(player)) = (valid, player) else {
        return Err(ApiError::unauthorized(
            "invalid_credentials",
            "the username or the password is wrong",
        ));
    };
    Ok(axum::Json(
        issue_tokens(&state, player, auth::new_family()?).await?,
    ))
}

/// Exchanges a refresh token for new tokens. The old one is spent; presenting a spent one
/// again revokes every token of its login.
#[utoipa::path(post, path = "/v1/auth/refresh", tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "New tokens", body = TokensResponse),
        (status = 401, description = "Unknown, expired, or reused (the family is now revoked)", body = ErrorBody)))]
pub async fn refresh(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<RefreshRequest>,
) -> Result<axum::Json<TokensResponse>, ApiError> {
    let old = auth::refresh_token_hash(&request.refresh_token)?;
    let (new_token, new_hash) = auth::new_refresh_token()?;
    let now_ms = unix_ms();
    let expires = now_ms + state.settings.server.refresh_token_ttl_s * 1_000;
    let store = state.store.clone();
    let rotation =
        blocking(move || Ok(store.rotate_refresh_token(&old, &new_hash, expires, now_ms)?)).await?;
    match rotation {
        Rotation::Rotated { player, .. } => Ok(axum::Json(tokens_body(&state, player, new_token))),
        Rotation::Reused { player, family } => {
            tracing::warn!(%player, family, "a spent refresh token was reused; its family is revoked");
            Err(ApiError::unauthorized(
                "token_reused",
                "this refresh token was already used; every token of this login is now revoked; log in again",
            ))
        }
        Rotation::Expired => Err(ApiError::unauthorized(
            "token_expired",
            "the refresh token has expired; log in again",
        )),
        Rotation::Unknown => Err(ApiError::unauthorized(
            "invalid_token",
            "the refresh token is not valid",
        )),
    }
}

/// Logs out: revokes every token of the refresh token's login.
#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 204, description = "Logged out (also when the token was already gone)"),
        (status = 401, description = "Not a refresh token of ours", body = ErrorBody)))]
pub async fn logout(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<RefreshRequest>,
) -> Result<StatusCode, ApiError> {
    let hash = auth::refresh_token_hash(&request.refresh_token)?;
    if let Some(token) = state.store.refresh_token(&hash)? {
        let store = state.store.clone();
        blocking(move || Ok(store.revoke_token_family(token.family, unix_ms())?)).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------------------------------------
// Profile

/// A rating in one game mode.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ModeRating {
    /// The game mode.
    pub mode: String,
    /// The season.
    pub season: String,
    /// The rating.
    pub rating: RatingBody,
    /// Rated games played.
    pub games: u64,
}

/// `GET /v1/profile/me`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ProfileResponse {
    /// The player.
    pub player_id: u64,
    /// The login name.
    pub username: String,
    /// The name others see.
    pub display_name: String,
    /// Preferred regions; when set, the player is only matched in these.
    pub regions: Vec<String>,
    /// When the account was created (Unix ms).
    pub created_at_ms: u64,
    /// The rating in every game mode this season (the initial rating where unplayed).
    pub ratings: Vec<ModeRating>,
}

/// `PATCH /v1/profile/me`: the fields to change.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfilePatch {
    /// A new display name.
    pub display_name: Option<String>,
    /// New preferred regions (configured names; empty for all).
    pub regions: Option<Vec<String>>,
}

fn profile_body(state: &AppState, account: &Account) -> Result<ProfileResponse, ApiError> {
    let stored = state.store.ratings_of(account.player)?;
    let mut modes: Vec<&str> = Vec::new();
    for queue in &state.settings.matcher.queues {
        if !modes.contains(&queue.mode_name()) {
            modes.push(queue.mode_name());
        }
    }
    let ratings = modes
        .into_iter()
        .map(|mode| {
            let found = stored.iter().find(|(m, _)| m == mode).map(|(_, r)| *r);
            ModeRating {
                mode: mode.to_string(),
                season: state.store.season().to_string(),
                rating: RatingBody::from(
                    found.map_or(state.settings.matcher.rating.initial, |r| r.rating),
                ),
                games: found.map_or(0, |r| r.games),
            }
        })
        .collect();
    Ok(ProfileResponse {
        player_id: account.player.0,
        username: account.username.clone(),
        display_name: account.display_name.clone(),
        regions: account.regions.clone(),
        created_at_ms: account.created_at_ms,
        ratings,
    })
}

pub(crate) fn account_of(state: &AppState, player: PlayerId) -> Result<Account, ApiError> {
    state.store.account(player)?.ok_or_else(|| {
        ApiError::unauthorized("unknown_player", "the token's account does not exist")
    })
}

/// The caller's profile and ratings.
#[utoipa::path(get, path = "/v1/profile/me", tag = "profile", security(("bearer" = [])),
    responses(
        (status = 200, description = "The profile", body = ProfileResponse),
        (status = 401, description = "No valid access token", body = ErrorBody)))]
pub async fn get_profile(
    State(state): State<AppState>,
    AuthPlayer(player): AuthPlayer,
) -> Result<axum::Json<ProfileResponse>, ApiError> {
    let account = account_of(&state, player)?;
    Ok(axum::Json(profile_body(&state, &account)?))
}

/// Changes the caller's display name or region preferences.
#[utoipa::path(patch, path = "/v1/profile/me", tag = "profile", security(("bearer" = [])),
    request_body = ProfilePatch,
    responses(
        (status = 200, description = "The updated profile", body = ProfileResponse),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 422, description = "A field is not valid", body = ErrorBody)))]
pub async fn patch_profile(
    State(state): State<AppState>,
    AuthPlayer(player): AuthPlayer,
    ApiJson(patch): ApiJson<ProfilePatch>,
) -> Result<axum::Json<ProfileResponse>, ApiError> {
    let mut account = account_of(&state, player)?;
    if let Some(name) = patch.display_name {
        check_display_name(&name)?;
        account.display_name = name;
    }
    if let Some(regions) = patch.regions {
        let mut chosen: Vec<String> = Vec::new();
        for (index, region) in regions.into_iter().enumerate() {
            if state.settings.matcher.region_index(&region).is_none() {
                return Err(ApiError::invalid(
                    &format!("regions[{index}]"),
                    format!(
                        "`{region}` is not a region; the regions are {:?}",
                        state.settings.matcher.regions
                    ),
                ));
            }
            if !chosen.contains(&region) {
                chosen.push(region);
            }
        }
        account.regions = chosen;
    }
    let store = state.store.clone();
    let saved = account.clone();
    blocking(move || Ok(store.update_account(&saved)?)).await?;
    Ok(axum::Json(profile_body(&state, &account)?))
}

// ---------------------------------------------------------------------------------------------
// Queue and matches

/// `POST /v1/queue`.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnqueueRequest {
    /// The queue, by name (as configured, e.g. `ranked-5v5`).
    pub queue: String,
    /// Round-trip time to each region you can play in, in ms (0 to 5000). Regions left out
    /// (or outside your profile's preferences) are never chosen for you.
    pub pings: BTreeMap<String, u16>,
    /// The highest ping you accept in any region, whatever the queue allows.
    pub max_ping_ms: Option<u16>,
}

/// The windows a queued ticket is matched within now; they widen with waiting time.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Windows {
    /// The largest rating difference accepted (MMR).
    pub skill_mmr: f64,
    /// The highest ping accepted (ms).
    pub ping_ms: f64,
    /// The least match quality accepted (0 to 1).
    pub quality_floor: f64,
}

/// Where the caller is: `idle`, `queued`, `awaiting_acceptance` or `in_match`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct QueueStatus {
    /// `idle`, `queued`, `awaiting_acceptance` or `in_match`.
    pub status: String,
    /// The ticket, when queued or awaiting acceptance.
    pub ticket_id: Option<u64>,
    /// The queue.
    pub queue: Option<String>,
    /// When the ticket started waiting (Unix ms).
    pub waiting_since_ms: Option<u64>,
    /// How long it has waited.
    pub waiting_ms: Option<u64>,
    /// The windows in force.
    pub windows: Option<Windows>,
    /// The match, when awaiting acceptance or in a match.
    pub match_id: Option<u64>,
    /// The match's state: `awaiting_acceptance`, `allocating` or `active`.
    pub match_state: Option<String>,
    /// The acceptance deadline (Unix ms).
    pub accept_by_ms: Option<u64>,
}

/// The answer to accept, decline and cancel.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Done {
    /// What is now true: `accepted`, `declined`, `cancelled`, ...
    pub status: String,
    /// The match, if one is concerned.
    pub match_id: Option<u64>,
}

fn queue_status(state: &AppState, player: PlayerId) -> QueueStatus {
    let view = state.view();
    let mut status = QueueStatus {
        status: "idle".into(),
        ticket_id: None,
        queue: None,
        waiting_since_ms: None,
        waiting_ms: None,
        windows: None,
        match_id: None,
        match_state: None,
        accept_by_ms: None,
    };
    let now_ms = unix_ms();
    let ticket = match view.status(player) {
        None => return status,
        Some(PlayerStatus::Queued(ticket)) => {
            status.status = "queued".into();
            Some(ticket)
        }
        Some(PlayerStatus::Proposed(ticket, match_id)) => {
            status.status = "awaiting_acceptance".into();
            status.match_id = Some(match_id.0);
            Some(ticket)
        }
        Some(PlayerStatus::InMatch(match_id)) => {
            status.status = "in_match".into();
            status.match_id = Some(match_id.0);
            None
        }
    };
    if let Some(ticket) = ticket.and_then(|t| view.ticket(t).map(|found| (t, found))) {
        let (id, found) = ticket;
        let waited = now_ms.saturating_sub(found.since_ms);
        status.ticket_id = Some(id.0);
        status.queue = Some(found.queue.clone());
        status.waiting_since_ms = Some(found.since_ms);
        status.waiting_ms = Some(waited);
        if let Some(queue) = state
            .settings
            .matcher
            .queue_index(&found.queue)
            .map(|index| &state.settings.matcher.queues[index])
        {
            status.windows = Some(Windows {
                skill_mmr: queue.skill_window.value_at(waited),
                ping_ms: queue.latency_window.value_at(waited),
                quality_floor: queue.quality_floor.value_at(waited),
            });
        }
    }
    if let Some(found) = status.match_id.and_then(|id| view.match_view(MatchId(id))) {
        status.match_state = Some(found.stage.name().into());
        if let MatchStage::AwaitingAcceptance { deadline_ms, .. } = found.stage {
            status.accept_by_ms = Some(deadline_ms);
        }
    }
    status
}

/// Joins a queue: solo, or, when the caller leads a party whose other members are all ready,
/// the whole party as one ticket (it lands on one team).
#[utoipa::path(post, path = "/v1/queue", tag = "queue", security(("bearer" = [])),
    request_body = EnqueueRequest,
    responses(
        (status = 201, description = "Queued (the status as of the tick that queued it)", body = QueueStatus),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 403, description = "In a party the caller does not lead", body = ErrorBody),
        (status = 409, description = "Already queued or in a match, or party members not ready", body = ErrorBody),
        (status = 422, description = "Unknown queue or region, or no region reachable", body = ErrorBody),
        (status = 503, description = "The server is busy or the queue is full", body = ErrorBody)))]
pub async fn enqueue(
    State(state): State<AppState>,
    AuthPlayer(player): AuthPlayer,
    ApiJson(request): ApiJson<EnqueueRequest>,
) -> Result<(StatusCode, axum::Json<QueueStatus>), ApiError> {
    let config = &state.settings.matcher;
    let Some(queue_index) = config.queue_index(&request.queue) else {
        let names: Vec<&str> = config.queues.iter().map(|q| q.name.as_str()).collect();
        return Err(ApiError::invalid(
            "queue",
            format!(
                "no queue is called `{}`; the queues are {names:?}",
                request.queue
            ),
        ));
    };
    let account = account_of(&state, player)?;
    let pings = check_pings(&state, &account, &request.pings)?;
    let mode = config.queues[queue_index].mode_name();
    let rating_of = |player: PlayerId| -> Result<Rating, ApiError> {
        Ok(state
            .store
            .rating(player, mode)?
            .map_or(config.rating.initial, |record| record.rating))
    };
    let party = state.view().party_of(player);
    let ticket = match party {
        None => {
            let mut ticket = EnqueueTicket::solo(
                TicketId(player.0),
                request.queue.clone(),
                player,
                rating_of(player)?,
                pings,
            );
            ticket.max_ping_ms = request.max_ping_ms;
            ticket
        }
        Some(party) => party_ticket(&state, player, party, &request, pings, &rating_of)?,
    };
    let party_id = ticket.party;
    state.ticks.submit(Command::Enqueue(ticket)).await?;
    if let Some(party) = party_id {
        // The ready check is spent: the next queue needs a new one.
        state.shared.lobby.clear_ready(party);
        crate::party::push_party(&state, party, "queued", player, &[]);
    }
    Ok((
        StatusCode::CREATED,
        axum::Json(queue_status(&state, player)),
    ))
}

/// Checks `pings` (region -> ms) against the config and the account's preferred regions,
/// and returns them in region order ([`NO_PING`] for the rest).
pub(crate) fn check_pings(
    state: &AppState,
    account: &Account,
    given: &BTreeMap<String, u16>,
) -> Result<Vec<u16>, ApiError> {
    let config = &state.settings.matcher;
    let mut pings = vec![NO_PING; config.regions.len()];
    for (region, ping) in given {
        let Some(index) = config.region_index(region) else {
            return Err(ApiError::invalid(
                &format!("pings.{region}"),
                format!(
                    "`{region}` is not a region; the regions are {:?}",
                    config.regions
                ),
            ));
        };
        if *ping > 5_000 {
            return Err(ApiError::invalid(
                &format!("pings.{region}"),
                "a ping is 0 to 5000 ms",
            ));
        }
        if account.regions.is_empty() || account.regions.contains(region) {
            pings[index] = *ping;
        }
    }
    if pings.iter().all(|ping| *ping == NO_PING) {
        return Err(ApiError::invalid(
            "pings",
            "give a ping for at least one region (of your preferred regions, if you set any)",
        ));
    }
    Ok(pings)
}

/// The ticket of the caller's party: only its leader queues it, and only once every other
/// member is ready. Each member plays with their own rating and the pings they readied with
/// (the leader's when they gave none, kept to their own preferred regions).
fn party_ticket(
    state: &AppState,
    leader: PlayerId,
    party: PartyId,
    request: &EnqueueRequest,
    leader_pings: Vec<u16>,
    rating_of: &dyn Fn(PlayerId) -> Result<Rating, ApiError>,
) -> Result<EnqueueTicket, ApiError> {
    let members = {
        let view = state.view();
        let found = view.party(party).ok_or_else(|| {
            ApiError::conflict("party", format!("party {} no longer exists", party.0))
        })?;
        if found.leader != leader {
            return Err(ApiError::forbidden(
                "not_party_leader",
                format!(
                    "you are in party {}; only its leader (player {}) queues it",
                    party.0, found.leader.0
                ),
            ));
        }
        found.members.clone()
    };
    let ready = state.shared.lobby.ready(party);
    let waiting: Vec<u64> = members
        .iter()
        .filter(|member| **member != leader && !ready.contains_key(member))
        .map(|member| member.0)
        .collect();
    if !waiting.is_empty() {
        return Err(ApiError::conflict(
            "party_not_ready",
            format!(
                "these members are not ready: {waiting:?} (POST /v1/party/{}/ready)",
                party.0
            ),
        ));
    }
    let mut ticket_members = Vec::with_capacity(members.len());
    for member in &members {
        let pings = if *member == leader {
            leader_pings.clone()
        } else {
            let account = account_of(state, *member)?;
            let own = ready.get(member).filter(|pings| !pings.is_empty());
            match own {
                Some(own) => check_pings(state, &account, own)?,
                None => {
                    let mut pings = leader_pings.clone();
                    for (index, region) in state.settings.matcher.regions.iter().enumerate() {
                        if !account.regions.is_empty() && !account.regions.contains(region) {
                            pings[index] = NO_PING;
                        }
                    }
                    if pings.iter().all(|ping| *ping == NO_PING) {
                        return Err(ApiError::conflict(
                            "party_no_region",
                            format!(
                                "player {} plays only in {:?}, where you gave no ping; they can ready up with their own pings",
                                member.0, account.regions
                            ),
                        ));
                    }
                    pings
                }
            }
        };
        ticket_members.push(TicketMember {
            player: *member,
            rating: rating_of(*member)?,
            pings_ms: pings,
        });
    }
    Ok(EnqueueTicket {
        ticket: TicketId(leader.0),
        queue: request.queue.clone(),
        party: Some(party),
        members: ticket_members,
        max_ping_ms: request.max_ping_ms,
        waiting_since_ms: None,
    })
}

/// One queue, as clients see it.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct QueueInfo {
    /// Its name (`POST /v1/queue`'s `queue`).
    pub name: String,
    /// The game mode its ratings and leaderboard belong to.
    pub mode: String,
    /// Teams per match.
    pub teams: u8,
    /// Players per team.
    pub team_size: u8,
    /// The largest party it takes.
    pub max_party_size: u8,
    /// Whether players must accept a found match.
    pub acceptance: bool,
}

/// `GET /v1/queues`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct QueuesResponse {
    /// The regions matches are hosted in (`pings` keys).
    pub regions: Vec<String>,
    /// The season ratings are kept under now.
    pub season: String,
    /// The queues.
    pub queues: Vec<QueueInfo>,
}

/// The queues, regions and season this server runs.
#[utoipa::path(get, path = "/v1/queues", tag = "queue",
    responses((status = 200, description = "The queues", body = QueuesResponse)))]
pub async fn list_queues(State(state): State<AppState>) -> axum::Json<QueuesResponse> {
    let config = &state.settings.matcher;
    axum::Json(QueuesResponse {
        regions: config.regions.clone(),
        season: state.store.season().to_string(),
        queues: config
            .queues
            .iter()
            .map(|queue| QueueInfo {
                name: queue.name.clone(),
                mode: queue.mode_name().to_string(),
                teams: queue.teams,
                team_size: queue.team_size,
                max_party_size: queue.max_party_size,
                acceptance: queue.acceptance.is_some(),
            })
            .collect(),
    })
}

/// Where the caller is: queued (with waiting time and the windows in force), awaiting
/// acceptance, in a match, or idle.
#[utoipa::path(get, path = "/v1/queue", tag = "queue", security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's status", body = QueueStatus),
        (status = 401, description = "No valid access token", body = ErrorBody)))]
pub async fn get_queue(
    State(state): State<AppState>,
    AuthPlayer(player): AuthPlayer,
) -> axum::Json<QueueStatus> {
    axum::Json(queue_status(&state, player))
}

/// Leaves the queue (declining a proposed match, if one awaits acceptance).
#[utoipa::path(delete, path = "/v1/queue", tag = "queue", security(("bearer" = [])),
    responses(
        (status = 200, description = "Left the queue", body = Done),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 404, description = "Not queued", body = ErrorBody),
        (status = 409, description = "In a match already", body = ErrorBody)))]
pub async fn leave_queue(
    State(state): State<AppState>,
    AuthPlayer(player): AuthPlayer,
) -> Result<axum::Json<Done>, ApiError> {
    let status = state.view().status(player);
    let ticket = match status {
        Some(PlayerStatus::Queued(ticket) | PlayerStatus::Proposed(ticket, _)) => ticket,
        Some(PlayerStatus::InMatch(match_id)) => {
            return Err(ApiError::conflict(
                "in_match",
                format!("you are in {match_id}; a match in progress cannot be left from the queue"),
            ));
        }
        None => return Err(ApiError::not_found("not_queued", "you are not queued")),
    };
    state.ticks.submit(Command::Cancel { ticket }).await?;
    Ok(axum::Json(Done {
        status: "cancelled".into(),
        match_id: None,
    }))
}

/// Checks that `player` may answer match `match_id`.
fn proposed_match(state: &AppState, player: PlayerId, match_id: MatchId) -> Result<(), ApiError> {
    let view = state.view();
    let Some(found) = view.match_view(match_id) else {
        return Err(ApiError::not_found(
            "unknown_match",
            format!("no live match is {match_id}"),
        ));
    };
    if !found.has_player(player) {
        return Err(ApiError::forbidden(
            "not_your_match",
            format!("you are not a player of {match_id}"),
        ));
    }
    if !matches!(found.stage, MatchStage::AwaitingAcceptance { .. }) {
        return Err(ApiError::conflict(
            "wrong_match_phase",
            format!(
                "{match_id} is {}, not awaiting acceptance",
                found.stage.name()
            ),
        ));
    }
    Ok(())
}

/// Accepts or declines a proposed match the caller plays in.
async fn answer_match(
    state: &AppState,
    player: PlayerId,
    match_id: MatchId,
    accept: bool,
) -> Result<axum::Json<Done>, ApiError> {
    proposed_match(state, player, match_id)?;
    let (command, status) = if accept {
        (Command::AcceptMatch { match_id, player }, "accepted")
    } else {
        (Command::DeclineMatch { match_id, player }, "declined")
    };
    state.ticks.submit(command).await?;
    Ok(axum::Json(Done {
        status: status.into(),
        match_id: Some(match_id.0),
    }))
}

/// Accepts a proposed match.
#[utoipa::path(post, path = "/v1/match/{id}/accept", tag = "queue", security(("bearer" = [])),
    params(("id" = u64, Path, description = "The match")),
    responses(
        (status = 200, description = "Accepted", body = Done),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 403, description = "Not a player of the match", body = ErrorBody),
        (status = 404, description = "No such live match", body = ErrorBody),
        (status = 409, description = "The match is not awaiting acceptance", body = ErrorBody)))]
pub async fn accept_match(
    State(state): State<AppState>,
    AuthPlayer(player): AuthPlayer,
    ApiPath(id): ApiPath<u64>,
) -> Result<axum::Json<Done>, ApiError> {
    answer_match(&state, player, MatchId(id), true).await
}

/// Declines a proposed match: the caller leaves the queue; everyone else goes back with
/// their waiting time.
#[utoipa::path(post, path = "/v1/match/{id}/decline", tag = "queue", security(("bearer" = [])),
    params(("id" = u64, Path, description = "The match")),
    responses(
        (status = 200, description = "Declined", body = Done),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 403, description = "Not a player of the match", body = ErrorBody),
        (status = 404, description = "No such live match", body = ErrorBody),
        (status = 409, description = "The match is not awaiting acceptance", body = ErrorBody)))]
pub async fn decline_match(
    State(state): State<AppState>,
    AuthPlayer(player): AuthPlayer,
    ApiPath(id): ApiPath<u64>,
) -> Result<axum::Json<Done>, ApiError> {
    answer_match(&state, player, MatchId(id), false).await
}

// ---------------------------------------------------------------------------------------------
// Sessions

/// `GET /v1/session/{match_id}`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct SessionResponse {
    /// The match.
    pub match_id: u64,
    /// `awaiting_acceptance`, `allocating`, `active`, or, once over, `ended`, `abandoned`,
    /// `cancelled`.
    pub state: String,
    /// The region.
    pub region: String,
    /// The caller's team.
    pub your_team: Option<u8>,
    /// Everyone, with their teams.
    pub players: Vec<MatchPlayerBody>,
    /// The game server's address, once active.
    pub server: Option<String>,
    /// The caller's session token for the game server (HS256 JWT signed with the session
    /// secret; the game server verifies it offline), once active.
    pub session_token: Option<String>,
    /// When the token expires (Unix ms).
    pub token_expires_at_ms: Option<u64>,
}

/// The session of a match the caller plays in: the game server and a session token.
#[utoipa::path(get, path = "/v1/session/{match_id}", tag = "sessions", security(("bearer" = [])),
    params(("match_id" = u64, Path, description = "The match")),
    responses(
        (status = 200, description = "The session", body = SessionResponse),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 403, description = "Not a player of the match", body = ErrorBody),
        (status = 404, description = "No such match", body = ErrorBody)))]
pub async fn get_session(
    State(state): State<AppState>,
    AuthPlayer(player): AuthPlayer,
    ApiPath(id): ApiPath<u64>,
) -> Result<axum::Json<SessionResponse>, ApiError> {
    let match_id = MatchId(id);
    let live = state.view().match_view(match_id).cloned();
    let (stage_name, region, players, server) = match live {
        Some(found) => {
            let server = match &found.stage {
                MatchStage::Active { server } => Some(server.clone()),
                _ => None,
            };
            (
                found.stage.name().to_string(),
                found.summary.region.to_string(),
                found.players,
                server,
            )
        }
        None => {
            let row = state.store.match_row(match_id)?.ok_or_else(|| {
                ApiError::not_found("unknown_match", format!("no match is {match_id}"))
            })?;
            (
                row.state.as_str().to_string(),
                row.region,
                row.players,
                None,
            )
        }
    };
    let Some(team) = players.iter().find(|(p, _)| *p == player).map(|(_, t)| *t) else {
        return Err(ApiError::forbidden(
            "not_your_match",
            format!("you are not a player of {match_id}"),
        ));
    };
    let (token, expires) = match &server {
        Some(address) => {
            let claims = auth::session_claims(
                player,
                match_id,
                team,
                address,
                unix_ms() / 1_000,
                state.settings.server.session_token_ttl_s,
            );
            (
                Some(auth::session_token(&state.secrets.session, &claims)),
                Some(claims.exp * 1_000),
            )
        }
        None => (None, None),
    };
    Ok(axum::Json(SessionResponse {
        match_id: id,
        state: stage_name,
        region,
        your_team: Some(team),
        players: players
            .iter()
            .map(|(p, t)| MatchPlayerBody {
                player_id: p.0,
                team: *t,
            })
            .collect(),
        server,
        session_token: token,
        token_expires_at_ms: expires,
    }))
}

// ---------------------------------------------------------------------------------------------
// Game servers

/// `POST /v1/server/session/{id}/result`: give exactly one of `winner`, `ranking` or
/// `placements`.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResultRequest {
    /// The winning team (0-based); every other team shares second place.
    pub winner: Option<u8>,
    /// Every team, best first (0-based team indices).
    pub ranking: Option<Vec<u8>>,
    /// Each team's place in team order (1 = first; equal places are draws).
    pub placements: Option<Vec<u32>>,
}

/// `POST /v1/server/session/{id}/backfill`.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BackfillRequest {
    /// Players wanted per team, in team order; all zeros withdraws the request.
    pub open_slots: Vec<u8>,
}

/// `POST /v1/server/session/{id}/leave`.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LeaveRequest {
    /// The player who left the game.
    pub player_id: u64,
}

/// What a game-server call did.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct SessionAck {
    /// The match.
    pub match_id: u64,
    /// `alive`, `ended`, `player_left`, `backfill_requested` or `backfill_cancelled`.
    pub status: String,
}

fn teams_of(state: &AppState, match_id: MatchId) -> Result<usize, ApiError> {
    state
        .view()
        .match_view(match_id)
        .map(|found| found.summary.teams.len())
        .ok_or_else(|| {
            ApiError::not_found("unknown_match", format!("no running session is {match_id}"))
        })
}

/// The placements a result means.
pub fn placements_of(request: &ResultRequest, teams: usize) -> Result<Vec<u32>, ApiError> {
    let given = [
        request.winner.is_some(),
        request.ranking.is_some(),
        request.placements.is_some(),
    ];
    if given.iter().filter(|g| **g).count() != 1 {
        return Err(ApiError::invalid(
            "winner",
            "give exactly one of `winner`, `ranking` or `placements`",
        ));
    }
    if let Some(winner) = request.winner {
        if usize::from(winner) >= teams {
            return Err(ApiError::invalid(
                "winner",
                format!("the match has {teams} teams (0 to {})", teams - 1),
            ));
        }
        let mut placements = vec![2; teams];
        placements[usize::from(winner)] = 1;
        return Ok(placements);
    }
    if let Some(ranking) = &request.ranking {
        let mut placements = vec![0_u32; teams];
        if ranking.len() != teams {
            return Err(ApiError::invalid(
                "ranking",
                format!("rank all {teams} teams, best first"),
            ));
        }
        for (place, team) in ranking.iter().enumerate() {
            let slot = placements.get_mut(usize::from(*team));
            match slot {
                Some(slot) if *slot == 0 => *slot = place as u32 + 1,
                _ => {
                    return Err(ApiError::invalid(
                        "ranking",
                        format!("rank each team 0 to {} exactly once", teams - 1),
                    ));
                }
            }
        }
        return Ok(placements);
    }
    let placements = request.placements.clone().unwrap_or_default();
    if placements.len() != teams || placements.contains(&0) {
        return Err(ApiError::invalid(
            "placements",
            format!("give one place (1 or more) for each of the {teams} teams"),
        ));
    }
    Ok(placements)
}

/// The game server is alive (keeps the session from timing out).
#[utoipa::path(post, path = "/v1/server/session/{id}/heartbeat", tag = "game servers",
    security(("game_server_key" = [])),
    params(("id" = u64, Path, description = "The match")),
    responses(
        (status = 200, description = "Noted", body = SessionAck),
        (status = 401, description = "No valid server key", body = ErrorBody),
        (status = 404, description = "No such running session", body = ErrorBody),
        (status = 409, description = "The session is not active", body = ErrorBody)))]
pub async fn heartbeat(
    State(state): State<AppState>,
    _server: GameServer,
    ApiPath(id): ApiPath<u64>,
) -> Result<axum::Json<SessionAck>, ApiError> {
    state
        .ticks
        .submit(Command::Heartbeat {
            match_id: MatchId(id),
        })
        .await?;
    Ok(axum::Json(SessionAck {
        match_id: id,
        status: "alive".into(),
    }))
}

/// The session's result: it ends and its players' ratings update.
#[utoipa::path(post, path = "/v1/server/session/{id}/result", tag = "game servers",
    security(("game_server_key" = [])),
    params(("id" = u64, Path, description = "The match")),
    request_body = ResultRequest,
    responses(
        (status = 200, description = "The session ended; ratings updated", body = SessionAck),
        (status = 401, description = "No valid server key", body = ErrorBody),
        (status = 404, description = "No such running session", body = ErrorBody),
        (status = 422, description = "The result does not fit the match", body = ErrorBody)))]
pub async fn report_result(
    State(state): State<AppState>,
    _server: GameServer,
    ApiPath(id): ApiPath<u64>,
    ApiJson(request): ApiJson<ResultRequest>,
) -> Result<axum::Json<SessionAck>, ApiError> {
    let match_id = MatchId(id);
    let placements = placements_of(&request, teams_of(&state, match_id)?)?;
    state
        .ticks
        .submit(Command::ReportResult {
            match_id,
            placements,
        })
        .await?;
    Ok(axum::Json(SessionAck {
        match_id: id,
        status: "ended".into(),
    }))
}

/// A player left the running game: the slot is free for backfill (`.../backfill`). When the
/// last player leaves, the session is abandoned (`empty`).
#[utoipa::path(post, path = "/v1/server/session/{id}/leave", tag = "game servers",
    security(("game_server_key" = [])),
    params(("id" = u64, Path, description = "The match")),
    request_body = LeaveRequest,
    responses(
        (status = 200, description = "The player is out of the session", body = SessionAck),
        (status = 401, description = "No valid server key", body = ErrorBody),
        (status = 404, description = "No such running session", body = ErrorBody),
        (status = 403, description = "The player is not in the session", body = ErrorBody),
        (status = 409, description = "The session is ending", body = ErrorBody)))]
pub async fn leave_session(
    State(state): State<AppState>,
    _server: GameServer,
    ApiPath(id): ApiPath<u64>,
    ApiJson(request): ApiJson<LeaveRequest>,
) -> Result<axum::Json<SessionAck>, ApiError> {
    state
        .ticks
        .submit(Command::LeaveSession {
            match_id: MatchId(id),
            player: PlayerId(request.player_id),
        })
        .await?;
    Ok(axum::Json(SessionAck {
        match_id: id,
        status: "player_left".into(),
    }))
}

/// The session ended without a result (ratings unchanged): a game cut short, a server shut
/// down.
#[utoipa::path(post, path = "/v1/server/session/{id}/end", tag = "game servers",
    security(("game_server_key" = [])),
    params(("id" = u64, Path, description = "The match")),
    responses(
        (status = 200, description = "The session ended", body = SessionAck),
        (status = 401, description = "No valid server key", body = ErrorBody),
        (status = 404, description = "No such running session", body = ErrorBody)))]
pub async fn end_session(
    State(state): State<AppState>,
    _server: GameServer,
    ApiPath(id): ApiPath<u64>,
) -> Result<axum::Json<SessionAck>, ApiError> {
    state
        .ticks
        .submit(Command::EndSession {
            match_id: MatchId(id),
        })
        .await?;
    Ok(axum::Json(SessionAck {
        match_id: id,
        status: "ended".into(),
    }))
}

/// Asks for players to fill open slots of a running session (all zeros withdraws).
#[utoipa::path(post, path = "/v1/server/session/{id}/backfill", tag = "game servers",
    security(("game_server_key" = [])),
    params(("id" = u64, Path, description = "The match")),
    request_body = BackfillRequest,
    responses(
        (status = 202, description = "Requested (or withdrawn)", body = SessionAck),
        (status = 401, description = "No valid server key", body = ErrorBody),
        (status = 404, description = "No such running session", body = ErrorBody),
        (status = 409, description = "Nothing to withdraw", body = ErrorBody),
        (status = 422, description = "The slots do not fit the teams", body = ErrorBody)))]
pub async fn request_backfill(
    State(state): State<AppState>,
    _server: GameServer,
    ApiPath(id): ApiPath<u64>,
    ApiJson(request): ApiJson<BackfillRequest>,
) -> Result<(StatusCode, axum::Json<SessionAck>), ApiError> {
    let match_id = MatchId(id);
    let cancel = request.open_slots.iter().all(|slots| *slots == 0);
    let command = if cancel {
        Command::CancelBackfill { match_id }
    } else {
        Command::RequestBackfill {
            match_id,
            open_slots: request.open_slots,
        }
    };
    state.ticks.submit(command).await?;
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(SessionAck {
            match_id: id,
            status: if cancel {
                "backfill_cancelled"
            } else {
                "backfill_requested"
            }
            .into(),
        }),
    ))
}

// ---------------------------------------------------------------------------------------------
// Live events

/// Live events over WebSocket: one JSON text message per event (see the `LiveEvent` schema),
/// starting with `welcome`. Authenticate with `Authorization: Bearer` or, from browsers, the
/// `access_token` query parameter. A client that stops reading is disconnected (close code
/// 1008); reconnect and read `GET /v1/queue`.
#[utoipa::path(get, path = "/v1/events", tag = "events", security(("bearer" = [])),
    params(("access_token" = Option<String>, Query, description = "The access token, when no Authorization header can be sent")),
    responses(
        (status = 101, description = "Switching to WebSocket; messages are `LiveEvent`s", body = LiveEvent),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 409, description = "Too many sockets for this player", body = ErrorBody)))]
pub async fn events(
    State(state): State<AppState>,
    AuthPlayer(player): AuthPlayer,
    upgrade: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let subscription = state.shared.hub.subscribe(player).map_err(|refused| {
        ApiError::conflict(
            "too_many_sockets",
            format!(
                "you hold {} live-event sockets already; close one first",
                refused.limit
            ),
        )
    })?;
    let hub = std::sync::Arc::clone(&state.shared.hub);
    Ok(upgrade
        .on_upgrade(move |socket| async move {
            let id = subscription.id;
            pump_events(socket, player, subscription.receiver).await;
            hub.unsubscribe(player, id);
        })
        .into_response())
}

async fn pump_events(
    mut socket: WebSocket,
    player: PlayerId,
    mut receiver: tokio::sync::mpsc::Receiver<std::sync::Arc<LiveEvent>>,
) {
    let welcome = LiveEvent::Welcome {
        player_id: player.0,
    };
    let Ok(text) = serde_json::to_string(&welcome) else {
        return;
    };
    if socket.send(Message::Text(text.into())).await.is_err() {
        return;
    }
    loop {
        tokio::select! {
            next = receiver.recv() => match next {
                Some(event) => {
                    let Ok(text) = serde_json::to_string(event.as_ref()) else {
                        return;
                    };
                    if socket.send(Message::Text(text.into())).await.is_err() {
                        return;
                    }
                }
                None => {
                    let _ = socket
                        .send(Message::Close(Some(CloseFrame {
                            code: close_code::POLICY,
                            reason: "events were not read fast enough; reconnect and GET /v1/queue".into(),
                        })))
                        .await;
                    return;
                }
            },
            incoming = socket.recv() => match incoming {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => {}
            },
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Operations

/// `GET /healthz` and `/readyz`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct HealthBody {
    /// `ok` or `ready`.
    pub status: String,
    /// The last committed tick.
    pub tick: u64,
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "Alive", body = HealthBody)))]
pub async fn healthz(State(state): State<AppState>) -> axum::Json<HealthBody> {
    axum::Json(HealthBody {
        status: "ok".into(),
        tick: state.shared.health.last_tick.load(Ordering::Relaxed),
    })
}

/// Readiness: the tick loop is ticking and the store takes writes.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "Ready", body = HealthBody),
        (status = 503, description = "Not ready, and why", body = ErrorBody)))]
pub async fn readyz(State(state): State<AppState>) -> Result<axum::Json<HealthBody>, ApiError> {
    if let Some(reason) = state
        .shared
        .health
        .not_ready(state.settings.server.tick_interval_ms)
    {
        return Err(ApiError::unavailable("not_ready", reason));
    }
    Ok(axum::Json(HealthBody {
        status: "ready".into(),
        tick: state.shared.health.last_tick.load(Ordering::Relaxed),
    }))
}

/// Prometheus metrics (text exposition format).
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Metrics", body = String, content_type = "text/plain")))]
pub async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}

/// This API's OpenAPI document.
#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    responses((status = 200, description = "The OpenAPI 3.1 document", body = Object)))]
pub async fn openapi(State(state): State<AppState>) -> Response {
    let json = state.openapi_json.get().cloned().unwrap_or_default();
    ([(CONTENT_TYPE, "application/json")], json).into_response()
}
