//! The caller's profile: display name, preferred regions, and a rating per game mode.

use matchwright_ecs::PlayerId;
use matchwright_storage::Account;
use matchwright_transport::wire::{ModeRating, Profile, ProfilePatch};

use super::accounts::check_display_name;
use super::{account_of, blocking};
use crate::app::AppState;
use crate::error::ApiError;

fn profile_of(state: &AppState, account: &Account) -> Result<Profile, ApiError> {
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
                rating: crate::hub::rating(
                    found.map_or(state.settings.matcher.rating.initial, |r| r.rating),
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

/// The caller's profile and ratings.
pub async fn profile(state: &AppState, player: PlayerId) -> Result<Profile, ApiError> {
    profile_of(state, &account_of(state, player)?)
}

/// Changes the caller's display name or region preferences; answers the updated profile.
pub async fn update_profile(
    state: &AppState,
    player: PlayerId,
    patch: ProfilePatch,
) -> Result<Profile, ApiError> {
    let mut account = account_of(state, player)?;
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
    profile_of(state, &account)
}
