//! Criterion benches of one steady-state tick at 1k, 10k and 100k queued tickets (the same
//! workload as the tick gate: the queue held at size, tickets waiting 30 s on average).

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use matchwright_benches::alloc::CountingAllocator;
use matchwright_benches::{SteadyConfig, SteadyState};
use std::time::Duration;

/// The same allocator as the tick gate (mimalloc; see `matchwright_benches::alloc`).
#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator::new();

fn steady_tick(c: &mut Criterion) {
    let mut group = c.benchmark_group("steady_tick");
    group.sample_size(30);
    group.measurement_time(Duration::from_secs(5));
    for tickets in [1_000, 10_000, 100_000] {
        let mut state = SteadyState::new(SteadyConfig {
            tickets,
            ..SteadyConfig::default()
        });
        state.fill();
        for _ in 0..100 {
            state.step();
        }
        group.bench_with_input(BenchmarkId::from_parameter(tickets), &tickets, |b, _| {
            // Only the matcher's tick is timed; generating arrivals is the workload's cost.
            b.iter_custom(|iterations| (0..iterations).map(|_| state.step().tick).sum());
        });
    }
    group.finish();
}

criterion_group!(benches, steady_tick);
criterion_main!(benches);
