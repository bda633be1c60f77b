//! The caller's profile: display name, preferred regions, a rating per game mode (and per
//! role, in queues rated per role), and the avoid list.

use matchwright_ecs::PlayerId;
use matchwright_storage::{Account, rating_key};
use matchwright_transport::wire::{AvoidList, AvoidListUpdate, ModeRating, Profile, ProfilePatch};

use super::account_of;
use super::accounts::check_display_name;
use crate::app::AppState;
use crate::error::ApiError;

/// `account`'s profile, with a rating for every key the config rates by.
pub(crate) async fn profile_of(state: &AppState, account: &Account) -> Result<Profile, ApiError> {
    let stored = state.records.ratings_of(account.player).await?;
    let ratings = rating_keys(state)
        .into_iter()
        .map(|mode| {
            let found = stored.iter().find(|(m, _)| *m == mode).map(|(_, r)| *r);
            ModeRating {
                mode,
                season: state.records.season().to_string(),
                rating: crate::hub::rating(
                    found.map_or(state.matcher().rating.initial, |r| r.rating),
                ),
                games: found.map_or(0, |r| r.games),
            }
        })
        .collect();
    Ok(Profile {
        player_id: account.player.0,
        username: account.username.clone(),
        display_name: account.display_name.clone(),
        regions: account.regions.clone(),
        created_at_ms: account.created_at_ms,
        ratings,
    })
}

/// Every key a rating is kept under, in config order, each once: each queue's mode, and
/// `MODE:ROLE` for each role of a queue rated per role.
pub fn rating_keys(state: &AppState) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    for queue in &state.matcher().queues {
        let mode = queue.mode_name();
        let mut add = |key: String| {
            if !keys.contains(&key) {
                keys.push(key);
            }
        };
        add(mode.to_string());
        if let Some(roles) = queue.roles.as_ref().filter(|roles| roles.rating_per_role) {
            for slot in &roles.composition {
                add(rating_key(mode, Some(&slot.role)));
            }
        }
    }
    keys
}

/// The caller's profile and ratings.
pub async fn profile(state: &AppState, player: PlayerId) -> Result<Profile, ApiError> {
    profile_of(state, &account_of(state, player).await?).await
}

/// Changes the caller's display name or region preferences; answers the updated profile.
pub async fn update_profile(
    state: &AppState,
    player: PlayerId,
    patch: ProfilePatch,
) -> Result<Profile, ApiError> {
    let mut account = account_of(state, player).await?;
    if let Some(name) = patch.display_name {
        check_display_name(&name)?;
        account.display_name = name;
    }
    if let Some(regions) = patch.regions {
        let mut chosen: Vec<String> = Vec::new();
        for (index, region) in regions.into_iter().enumerate() {
            if state.matcher().region_index(&region).is_none() {
                return Err(ApiError::invalid(
                    &format!("regions[{index}]"),
                    format!(
                        "`{region}` is not a region; the regions are {:?}",
                        state.matcher().regions
                    ),
                ));
            }
            if !chosen.contains(&region) {
                chosen.push(region);
            }
        }
        account.regions = chosen;
    }
    state.records.update_account(&account).await?;
    profile_of(state, &account).await
}

/// The caller's avoid list.
pub async fn avoid_list(state: &AppState, player: PlayerId) -> Result<AvoidList, ApiError> {
    account_of(state, player).await?;
    let players = state
        .records
        .avoid_lists(&[player])
        .await?
        .pop()
        .unwrap_or_default();
    Ok(AvoidList {
        players: players.into_iter().map(|p| p.0).collect(),
        limit: state.matcher().limits.max_avoid_list,
    })
}

/// Replaces the caller's avoid list: existing players other than the caller, at most
/// `limits.max_avoid_list` of them (repeats count once). Takes effect at the caller's next
/// enqueue. Answers the list as stored.
pub async fn set_avoid_list(
    state: &AppState,
    player: PlayerId,
    update: AvoidListUpdate,
) -> Result<AvoidList, ApiError> {
    account_of(state, player).await?;
    let limit = state.matcher().limits.max_avoid_list;
    let mut players = update.players;
    players.sort_unstable();
    players.dedup();
    if players.len() > usize::from(limit) {
        return Err(ApiError::invalid(
            "players",
            format!(
                "{} players is more than an avoid list holds ({limit}, limits.max_avoid_list)",
                players.len()
            ),
        ));
    }
    if players.contains(&player.0) {
        return Err(ApiError::invalid(
            "players",
            "you cannot avoid yourself".to_string(),
        ));
    }
    for id in &players {
        if state.records.account(PlayerId(*id)).await?.is_none() {
            return Err(ApiError::invalid(
                "players",
                format!("player {id} does not exist"),
            ));
        }
    }
    let list: Vec<PlayerId> = players.iter().copied().map(PlayerId).collect();
    state.records.set_avoid_list(player, &list).await?;
    Ok(AvoidList { players, limit })
}
