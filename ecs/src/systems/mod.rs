//! The tick: one `Schedule` of small systems in a fixed order of phases (chained system sets),
//! on the single-threaded executor, with ambiguity detection set to error so that any two
//! systems touching the same data must have an explicit order.
//!
//! | phase | systems | what happens |
//! | --- | --- | --- |
//! | `Intake` | `apply_commands` | the commands since the last tick, in submission order |
//! | `Deadlines` | `fire_match_deadlines`, `expire_backfill_requests`, `wake_tickets` | what time made due |
//! | `Resolve` | `cancel_proposals`, `close_sessions` | proposals that fell through, sessions that ended |
//! | `Match` | `fill_backfill_requests`, `form_matches` | backfill first, then new matches |
//! | `Start` | `start_matches` | confirmed matches become sessions |
//! | `Cleanup` | `despawn_idle_players` | players in nothing any more |
//! | `Verify` | `verify_invariants` (debug builds) | every invariant, or a panic |

use bevy_ecs::prelude::*;
use bevy_ecs::schedule::{LogLevel, ScheduleBuildSettings, SingleThreadedExecutor};

pub(crate) mod backfill;
pub(crate) mod cleanup;
pub(crate) mod deadlines;
pub(crate) mod intake;
pub(crate) mod matching;
pub(crate) mod resolve;
pub(crate) mod start;
pub(crate) mod world_ops;

/// The phases of a tick, run in this order.
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum TickPhase {
    /// Apply commands.
    Intake,
    /// Fire what time made due.
    Deadlines,
    /// Resolve proposals and sessions marked to end.
    Resolve,
    /// Backfill, then form matches.
    Match,
    /// Start confirmed matches.
    Start,
    /// Despawn idle players.
    Cleanup,
    /// Check invariants (debug builds).
    Verify,
}

/// Builds the tick's schedule.
pub(crate) fn build_schedule() -> Schedule {
    let mut schedule = Schedule::default();
    schedule.set_executor(SingleThreadedExecutor::new());
    schedule.set_build_settings(ScheduleBuildSettings {
        ambiguity_detection: LogLevel::Error,
        ..ScheduleBuildSettings::default()
    });
    schedule.configure_sets(
        (
            TickPhase::Intake,
            TickPhase::Deadlines,
            TickPhase::Resolve,
            TickPhase::Match,
            TickPhase::Start,
            TickPhase::Cleanup,
            TickPhase::Verify,
        )
            .chain(),
    );
    schedule.add_systems(intake::apply_commands.in_set(TickPhase::Intake));
    schedule.add_systems(
        (
            deadlines::fire_match_deadlines,
            deadlines::expire_backfill_requests,
            deadlines::wake_tickets,
        )
            .chain()
            .in_set(TickPhase::Deadlines),
    );
    schedule.add_systems(
        (resolve::cancel_proposals, resolve::close_sessions)
            .chain()
            .in_set(TickPhase::Resolve),
    );
    schedule.add_systems(
        (backfill::fill_backfill_requests, matching::form_matches)
            .chain()
            .in_set(TickPhase::Match),
    );
    schedule.add_systems(start::start_matches.in_set(TickPhase::Start));
    schedule.add_systems(cleanup::despawn_idle_players.in_set(TickPhase::Cleanup));
    schedule.add_systems(verify_invariants.in_set(TickPhase::Verify));
    schedule
}

/// Checks every invariant at the end of the tick in debug builds; nothing in release builds.
fn verify_invariants(world: &mut World) {
    if cfg!(debug_assertions) {
        crate::invariants::check_world(world);
    }
}
