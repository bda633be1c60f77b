//! The API, whatever the transport: one function per request, taking the state, the player
//! asking (for requests a player makes), the path parameters and the request's wire body, and
//! answering a wire body or an [`ApiError`]. The HTTP handlers (`api`, `party`, `boards`) and
//! the QUIC bridge (`quic`) both call these, so the checks, the errors, the tick loop and the
//! events are the same over both transports; the transports only add their framing (HTTP
//! statuses such as 201, extractors, connection authentication).
//!
//! Reads come from the live view and the store; anything that changes the matcher goes
//! through the tick loop and returns once its tick has committed.

pub mod accounts;
pub mod admin;
pub mod boards;
pub mod matches;
pub mod parties;
pub mod profile;
pub mod queue;
pub mod sessions;

use std::collections::BTreeMap;

use matchwright_ecs::{NO_PING, PlayerId};
use matchwright_storage::Account;

use crate::app::AppState;
use crate::error::ApiError;

/// The caller's account (a valid token whose account is gone is 401 `unknown_player`).
pub(crate) async fn account_of(state: &AppState, player: PlayerId) -> Result<Account, ApiError> {
    state.records.account(player).await?.ok_or_else(|| {
        ApiError::unauthorized("unknown_player", "the token's account does not exist")
    })
}

/// Checks `pings` (region -> ms) against the config and the account's preferred regions,
/// and returns them in region order ([`NO_PING`] for the rest).
pub(crate) fn check_pings(
    state: &AppState,
    account: &Account,
    given: &BTreeMap<String, u16>,
) -> Result<Vec<u16>, ApiError> {
    let config = state.matcher();
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
