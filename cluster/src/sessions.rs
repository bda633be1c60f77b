//! Which of a partition's matches wait for a game server and where its sessions are played,
//! without IO: every replica follows it from each tick's events (a match formed waits; its
//! session active is on the server `SessionReady` named; ended, abandoned or cancelled, it is
//! gone), and it is part of a snapshot, so a new leader knows what to allocate and which
//! servers are taken (`allocation`).

use std::collections::BTreeMap;

use matchwright_ecs::{Event, MatchId};
use serde::{Deserialize, Serialize};

/// A partition's matches waiting for a server, and its sessions' servers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sessions {
    /// Matches formed and waiting for a server: their region.
    pub allocating: BTreeMap<MatchId, String>,
    /// Sessions being played: their server's address.
    pub active: BTreeMap<MatchId, String>,
}

impl Sessions {
    /// Follows one tick's events.
    pub fn after_tick(&mut self, events: &[Event]) {
        for event in events {
            match event {
                Event::MatchFormed { summary } => {
                    self.allocating
                        .insert(summary.match_id, summary.region.to_string());
                }
                Event::SessionActive { match_id, server } => {
                    self.allocating.remove(match_id);
                    self.active.insert(*match_id, server.clone());
                }
                Event::SessionEnded { match_id, .. }
                | Event::SessionAbandoned { match_id, .. }
                | Event::MatchCancelled { match_id, .. } => {
                    self.allocating.remove(match_id);
                    self.active.remove(match_id);
                }
                _ => {}
            }
        }
    }
}
