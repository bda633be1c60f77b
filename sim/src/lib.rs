//! # matchwright-sim
//!
//! The simulation side of Matchwright. For now it holds the synthetic player population that
//! both the benchmarks and (next) the simulator feed to the matcher core, so that performance
//! runs and tuning runs see the same kind of traffic (FoundationDB's habit of one workload for
//! simulation and performance).

pub mod population;

pub use population::{Arrival, Population, PopulationConfig};
