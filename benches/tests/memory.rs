//! Memory stays bounded at a steady state.
//!
//! Regression test for a leak: bevy's removed-component buffers were never cleared (nothing
//! calls `World::clear_trackers` without an `App`), so every despawn was remembered and the
//! heap grew by about 300 KB a tick at 100k tickets. Counts bytes, not time.

use matchwright_benches::alloc::CountingAllocator;
use matchwright_benches::{SteadyConfig, SteadyState};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator::new();

#[test]
fn the_heap_does_not_grow_at_a_steady_state() {
    let mut state = SteadyState::new(SteadyConfig {
        tickets: 5_000,
        mean_wait_ms: 5_000,
        session_ticks: 20,
        ..SteadyConfig::default()
    });
    state.fill();
    // Past the first sessions' lifetimes: sessions start and end at the same rate from here.
    for _ in 0..200 {
        state.step();
    }
    let settled = ALLOCATOR.live_bytes();
    for _ in 0..1_000 {
        state.step();
    }
    let later = ALLOCATOR.live_bytes();
    assert_eq!(state.rejected(), 0);
    let growth = later as f64 / settled as f64;
    assert!(
        growth < 1.10,
        "the heap grew from {settled} to {later} bytes over 1,000 steady ticks"
    );
}
