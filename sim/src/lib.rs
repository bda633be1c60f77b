//! # matchwright-sim: the deterministic simulator
//!
//! Designers tune matching (widening curves, floors, limits) here before shipping it: a
//! scenario (`scenario`) describes a population and a period; the world (`world`) runs the very
//! same `matchwright_ecs` matcher in virtual time, with simulated players and game servers
//! around it, as fast as the CPU allows; the run's report (`metrics`) and charts (`plot`) say
//! what players got: time to match, quality, fairness by true skill, abandons, ratings.
//! Baselines (`baseline`) put the matching rules of the systems we replace on the same
//! population; sweeps and comparisons (`sweep`, `cli`) put runs side by side.
//!
//! Runs are deterministic: the same scenario and seed give the same event stream
//! (`event_chain`, the chain hash the journal and traces also give) and the same report, apart
//! from `wall_s`.
//!
//! `whatif` replays a recorded trace under another config and compares what players got.
//!
//! `profile` draws what players carry for match rules (attributes, role preferences, avoid
//! lists) from a scenario's rules sections; `rules_check` is the simulator's own check that
//! every match keeps its queue's rules, run by the world on every match.
//!
//! `population` is the one model of players (`PlayerModel`): the world draws a scenario's
//! players from it, and the benchmarks' arrival stream (`Population`) draws its arrivals from
//! it, shaped by the same scenario sections.

pub mod baseline;
pub mod cli;
pub mod engine;
pub mod metrics;
pub mod plot;
pub mod population;
pub mod profile;
pub mod rules_check;
pub mod scenario;
pub mod sweep;
pub mod whatif;
pub mod world;

pub use population::{Arrival, PlayerModel, Population, PopulationConfig};
pub use scenario::Scenario;
