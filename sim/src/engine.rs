//! What the simulator drives: a matcher behind one small interface, so that our core and the
//! baselines (`baseline`) meet the very same simulated players, game servers and clock.
//!
//! An engine takes commands, ticks at a virtual time and hands back events, exactly like the
//! core's `Matcher`: the simulator only ever speaks the core's `Command` and `Event` types.

use matchwright_ecs::{Command, CommandSeq, Config, Event, Matcher, TurnedAway};

/// A matcher the simulator can drive.
pub trait Engine {
    /// The name reports use (`matchwright`, `fifo`, ...).
    fn name(&self) -> &str;
    /// Takes a command for the next tick.
    fn submit(&mut self, command: Command) -> Result<CommandSeq, String>;
    /// Runs one tick at `now_ms`; its events are then drained with `drain_into`. Returns, per
    /// queue and rule, the anchors that found no match after the rule turned candidates away
    /// (`TickReport::turned_away`; empty for a matcher that does not say).
    fn tick(&mut self, now_ms: u64) -> Result<Vec<TurnedAway>, String>;
    /// Moves every waiting event into `out`, in order.
    fn drain_into(&mut self, out: &mut Vec<Event>);
    /// Players queued right now, per queue of the config, in config order.
    fn queued_players(&self) -> Vec<u64>;
    /// Queues this matcher queues tickets in but never matches, each with why (a baseline
    /// that cannot keep a queue's rules). Default: none.
    fn skipped_queues(&self) -> Vec<(String, String)> {
        Vec::new()
    }
}

/// Our core: the same `matchwright_ecs::Matcher` the server runs.
pub struct CoreEngine {
    matcher: Matcher,
}

impl CoreEngine {
    /// A matcher with `config`, seeded with `seed`.
    pub fn new(config: Config, seed: u64) -> Result<Self, String> {
        Ok(Self {
            matcher: Matcher::new(config, seed).map_err(|error| error.to_string())?,
        })
    }
}

impl Engine for CoreEngine {
    fn name(&self) -> &str {
        "matchwright"
    }

    fn submit(&mut self, command: Command) -> Result<CommandSeq, String> {
        self.matcher
            .submit(command)
            .map_err(|error| error.to_string())
    }

    fn tick(&mut self, now_ms: u64) -> Result<Vec<TurnedAway>, String> {
        self.matcher
            .tick(now_ms)
            .map(|report| report.turned_away)
            .map_err(|error| error.to_string())
    }

    fn drain_into(&mut self, out: &mut Vec<Event>) {
        out.extend(self.matcher.drain_events());
    }

    fn queued_players(&self) -> Vec<u64> {
        self.matcher
            .queue_stats()
            .into_iter()
            .map(|stats| stats.players)
            .collect()
    }
}

/// The matchers `--matcher` can name: ours and the baselines.
pub const MATCHERS: [&str; 4] = ["matchwright", "fifo", "pool4", "greedy-widening"];

/// Builds the engine called `name` for `config`.
pub fn build(name: &str, config: &Config, seed: u64) -> Result<Box<dyn Engine>, String> {
    match name {
        "matchwright" | "default" => Ok(Box::new(CoreEngine::new(config.clone(), seed)?)),
        "fifo" | "pool4" | "greedy-widening" => Ok(Box::new(crate::baseline::Baseline::new(
            name,
            config.clone(),
        )?)),
        other => Err(format!(
            "unknown matcher `{other}`; the matchers are {}",
            MATCHERS.join(", ")
        )),
    }
}
