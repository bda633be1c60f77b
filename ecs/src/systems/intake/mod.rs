//! Applying the tick's commands, in submission order. Each command is validated against the
//! state left by the commands before it; a command that fails validation changes nothing and
//! is answered by `Event::Rejected` with the reason.
//!
//! Commands that end something bigger than themselves (a declined proposal, a session's result)
//! only mark it here (`MatchPhase::Closing`) and leave the work to the resolve phase, so that
//! later commands in the same tick see the match as ending and are refused.
//!
//! One file per family of commands, each answering its own commands:
//!
//! | file | commands |
//! | --- | --- |
//! | `tickets` | `Enqueue`, `Cancel` |
//! | `parties` | `CreateParty`, `JoinParty`, `LeaveParty`, `DisbandParty` |
//! | `acceptance` | `AcceptMatch`, `DeclineMatch` |
//! | `sessions` | the game server's reports: `SessionReady`, `AllocationFailed`, `Heartbeat`, `ReportResult`, `EndSession`; `LeaveSession`; an operator's `CancelMatch` |
//! | `backfill_requests` | `RequestBackfill`, `CancelBackfill` |
//!
//! `lookup` holds what several families check: that a match, a party or a player exists and
//! is where the command says, each failure as its `RejectReason`.

use bevy_ecs::prelude::*;

use crate::command::Command;
use crate::event::{Event, RejectReason};
use crate::ids::CommandSeq;
use crate::resources::{Inbox, Outbox, TickCounters};

mod acceptance;
mod backfill_requests;
mod lookup;
mod parties;
mod sessions;
mod tickets;

/// Applies every command submitted since the last tick.
pub(crate) fn apply_commands(world: &mut World) {
    let mut commands = core::mem::take(&mut world.resource_mut::<Inbox>().commands);
    world.resource_mut::<TickCounters>().commands = commands.len() as u64;
    for (seq, command) in commands.drain(..) {
        if let Err(reason) = apply_command(world, seq, command) {
            world
                .resource_mut::<Outbox>()
                .push(Event::Rejected { seq, reason });
        }
    }
    // Hand the emptied buffer back, so its capacity serves the next tick.
    world.resource_mut::<Inbox>().commands = commands;
}

fn apply_command(world: &mut World, seq: CommandSeq, command: Command) -> Result<(), RejectReason> {
    match command {
        Command::Enqueue(request) => tickets::enqueue(world, seq, request),
        Command::Cancel { ticket } => tickets::cancel(world, ticket),
        Command::CreateParty { party, leader } => parties::create_party(world, party, leader),
        Command::JoinParty { party, player } => parties::join_party(world, party, player),
        Command::LeaveParty { party, player } => parties::leave_party(world, party, player),
        Command::DisbandParty { party } => parties::disband_party(world, party),
        Command::AcceptMatch { match_id, player } => {
            acceptance::accept_match(world, match_id, player)
        }
        Command::DeclineMatch { match_id, player } => {
            acceptance::decline_match(world, match_id, player)
        }
        Command::SessionReady { match_id, server } => {
            sessions::session_ready(world, match_id, server)
        }
        Command::AllocationFailed { match_id } => sessions::allocation_failed(world, match_id),
        Command::CancelMatch { match_id } => sessions::cancel_match(world, match_id),
        Command::Heartbeat { match_id } => sessions::heartbeat(world, match_id),
        Command::ReportResult {
            match_id,
            placements,
        } => sessions::report_result(world, match_id, placements),
        Command::EndSession { match_id } => sessions::end_session(world, match_id),
        Command::LeaveSession { match_id, player } => {
            sessions::leave_session(world, match_id, player)
        }
        Command::RequestBackfill {
            match_id,
            open_slots,
        } => backfill_requests::request_backfill(world, match_id, open_slots),
        Command::CancelBackfill { match_id } => backfill_requests::cancel_backfill(world, match_id),
        // Applied before the tick's other commands (`Matcher::tick`), so never met here.
        Command::ReloadConfig { .. } => Ok(()),
    }
}
