//! Game servers for a partition's matches: its leader asks the fleet for a server for each
//! match a tick formed and appends the answer to the log as a command (`SessionReady` with
//! the server, or `AllocationFailed`: the matcher puts the tickets back in their queues), so
//! every replica applies it at the same tick. A session that ends frees its server.
//!
//! The fleet is the server crate's (`matchwright matcher` gives its `[fleet]`), behind
//! [`Allocate`]. A new leader builds a fresh one from [`Fleet`], takes the servers of the
//! sessions being played (`sessions`, which every replica follows), and allocates the matches
//! still waiting. Its predecessor may have allocated some of them already: the commands carry
//! the message id `alloc.<match id>`, so the log drops a repeat, and when a session becomes
//! active its server is taken from the event (the predecessor's choice wins).

use std::sync::Arc;

use matchwright_ecs::{Command, Event, MatchId};

use crate::sessions::Sessions;

/// A fleet of game servers, as a partition's leader uses it.
pub trait Allocate: Send + Sync {
    /// A server's address for `match_id` in `region`, reserved until released.
    fn allocate(&mut self, match_id: MatchId, region: &str) -> Result<String, String>;
    /// The session is over: its server's slot is free again (unknown matches are ignored).
    fn release(&mut self, match_id: MatchId);
    /// `match_id` is played on `address` already.
    fn adopt(&mut self, match_id: MatchId, address: &str);
}

/// Builds a leader's fleet.
#[derive(Clone)]
pub struct Fleet(pub Arc<dyn Fn() -> Box<dyn Allocate> + Send + Sync>);

impl std::fmt::Debug for Fleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Fleet")
    }
}

/// A leader's fleet and what it has given out.
pub struct Allocation {
    allocator: Box<dyn Allocate>,
}

/// The message id of a match's allocation command.
fn command_id(match_id: MatchId) -> String {
    format!("alloc.{}", match_id.0)
}

impl Allocation {
    /// A new leader's: the sessions' servers taken, and the commands (with their message
    /// ids) for the matches still waiting for one.
    pub fn take_over(fleet: &Fleet, sessions: &Sessions) -> (Self, Vec<(Command, String)>) {
        let mut allocation = Self {
            allocator: (fleet.0)(),
        };
        for (match_id, server) in &sessions.active {
            allocation.allocator.adopt(*match_id, server);
        }
        let commands = sessions
            .allocating
            .iter()
            .map(|(match_id, region)| allocation.allocate(*match_id, region))
            .collect();
        (allocation, commands)
    }

    /// After a tick: a server for each match it formed (the commands, with their message
    /// ids), sessions' servers followed.
    pub fn after_tick(&mut self, events: &[Event]) -> Vec<(Command, String)> {
        let mut commands = Vec::new();
        for event in events {
            match event {
                Event::MatchFormed { summary } => {
                    commands.push(self.allocate(summary.match_id, &summary.region));
                }
                Event::SessionActive { match_id, server } => {
                    // Where it really runs (a predecessor may have chosen).
                    self.allocator.release(*match_id);
                    self.allocator.adopt(*match_id, server);
                }
                Event::SessionEnded { match_id, .. }
                | Event::SessionAbandoned { match_id, .. }
                | Event::MatchCancelled { match_id, .. } => self.allocator.release(*match_id),
                _ => {}
            }
        }
        commands
    }

    fn allocate(&mut self, match_id: MatchId, region: &str) -> (Command, String) {
        let command = match self.allocator.allocate(match_id, region) {
            Ok(server) => Command::SessionReady { match_id, server },
            Err(error) => {
                tracing::warn!(%match_id, %error, "no game server; the match's tickets go back to the queue");
                Command::AllocationFailed { match_id }
            }
        };
        (command, command_id(match_id))
    }
}
