//! Accounts and tokens: register, login, refresh (rotating), logout, and checking an access
//! token (QUIC's `Authenticate`; HTTP checks it on every request with `auth::AuthPlayer`).

use matchwright_ecs::PlayerId;
use matchwright_storage::{Account, RefreshToken, Rotation};
use matchwright_transport::wire::{LoginRequest, RefreshRequest, RegisterRequest, Tokens};

use crate::app::AppState;
use crate::auth;
use crate::clock::unix_ms;
use crate::error::ApiError;

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

/// Checks a display name: 1 to 32 characters, no control characters or surrounding spaces.
pub(crate) fn check_display_name(name: &str) -> Result<(), ApiError> {
    let length = name.chars().count();
    if !(1..=32).contains(&length) || name.chars().any(char::is_control) || name.trim() != name {
        return Err(ApiError::invalid(
            "display_name",
            "a display name is 1 to 32 characters, without control characters or surrounding spaces",
        ));
    }
    Ok(())
}

/// Issues an access token and a refresh token of `family`.
async fn issue_tokens(state: &AppState, player: PlayerId, family: u64) -> Result<Tokens, ApiError> {
    let server = &state.settings.server;
    let now_ms = unix_ms();
    let (refresh, hash) = auth::new_refresh_token()?;
    let record = RefreshToken {
        player,
        family,
        expires_at_ms: now_ms + server.refresh_token_ttl_s * 1_000,
        rotated: false,
    };
    state.records.put_refresh_token(&hash, &record).await?;
    Ok(tokens(state, player, refresh))
}

fn tokens(state: &AppState, player: PlayerId, refresh_token: String) -> Tokens {
    let server = &state.settings.server;
    Tokens {
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
pub async fn register(state: &AppState, request: RegisterRequest) -> Result<Tokens, ApiError> {
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
        .records
        .account_by_username(&request.username)
        .await?
        .is_some()
    {
        return Err(ApiError::conflict(
            "username_taken",
            format!("the username {:?} is taken", request.username),
        )
        .field("username"));
    }
    let password = request.password.clone();
    let password_hash = state
        .hashing
        .run(move || auth::hash_password(&password))
        .await??;
    let player = state.player_ids.next().await?;
    let account = Account {
        player,
        username: request.username,
        password_hash,
        display_name,
        regions: Vec::new(),
        created_at_ms: unix_ms(),
    };
    state.records.create_account(&account).await?;
    let tokens = issue_tokens(state, player, auth::new_family()?).await?;
    tracing::info!(%player, "account registered");
    Ok(tokens)
}

/// Logs in with a username and password.
pub async fn login(state: &AppState, request: LoginRequest) -> Result<Tokens, ApiError> {
    let account = state.records.account_by_username(&request.username).await?;
    let (hash, player) = match &account {
        Some(account) => (account.password_hash.clone(), Some(account.player)),
        None => (auth::decoy_hash().to_string(), None),
    };
    let password = request.password;
    let valid = state
        .hashing
        .run(move || auth::verify_password(&password, &hash))
        .await?;
    let (true, Some(player)) = (valid, player) else {
        return Err(ApiError::unauthorized(
            "invalid_credentials",
            "the username or the password is wrong",
        ));
    };
    crate::guard::not_banned(state, player).await?;
    issue_tokens(state, player, auth::new_family()?).await
}

/// Exchanges a refresh token for new tokens. The old one is spent; presenting a spent one
/// again revokes every token of its login.
pub async fn refresh(state: &AppState, request: RefreshRequest) -> Result<Tokens, ApiError> {
    let old = auth::refresh_token_hash(&request.refresh_token)?;
    // A banned player's live token is not spent (it works again once the ban is lifted); a
    // spent one goes on to be found reused, which revokes its login, banned or not.
    let now_ms = unix_ms();
    if let Some(token) = state.records.refresh_token(&old).await?
        && !token.rotated
        && token.expires_at_ms > now_ms
    {
        crate::guard::not_banned(state, token.player).await?;
    }
    let (new_token, new_hash) = auth::new_refresh_token()?;
    let expires = now_ms + state.settings.server.refresh_token_ttl_s * 1_000;
    let rotation = state
        .records
        .rotate_refresh_token(&old, &new_hash, expires, now_ms)
        .await?;
    match rotation {
        Rotation::Rotated { player, .. } => Ok(tokens(state, player, new_token)),
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

/// Logs out: revokes every token of the refresh token's login (also fine when the token was
/// already gone).
pub async fn logout(state: &AppState, request: RefreshRequest) -> Result<(), ApiError> {
    let hash = auth::refresh_token_hash(&request.refresh_token)?;
    if let Some(token) = state.records.refresh_token(&hash).await? {
        state
            .records
            .revoke_token_family(token.family, unix_ms())
            .await?;
    }
    Ok(())
}

/// The player an access token is good for (its account must exist).
pub async fn authenticate(state: &AppState, access_token: &str) -> Result<PlayerId, ApiError> {
    let player = auth::verify_access_token(&state.secrets.jwt, access_token)?;
    crate::guard::known_player(state, player).await
}
