//! "Why didn't I match?" For one queued ticket: each check (skill window, latency, avoid
//! lists, every rule of its queue) with how many tickets of its queue pass it against this
//! one, which checks block it, and when each window relaxes to what. A read-only scan of at
//! most `limits.max_explain_scan` tickets, nearest rating first; the answer says how many it
//! looked at.
//!
//! A check *blocks* when the tickets passing every check hold fewer players than a match
//! needs and the check turns away at least one ticket that passes all the others (dropping
//! it alone would bring candidates), or when it rules the ticket out on its own
//! (`party_skill_spread`).

use bevy_ecs::prelude::*;
use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

use super::{RuleValue, TicketRules, blocks_whole_match, shared};
use crate::components::{Ticket, TicketState};
use crate::config::{QueueConfig, Rule, RuleScope};
use crate::curve::{Curve, Direction};
use crate::ids::TicketId;
use crate::pool::{self, PoolKey};
use crate::resources::{Clock, Directory, Pools, Settings};

/// Why a queued ticket has not matched yet.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Explanation {
    /// The ticket.
    pub ticket: TicketId,
    /// Its queue.
    pub queue: String,
    /// Whether it waits in a proposed match (awaiting acceptance) rather than its queue.
    pub proposed: bool,
    /// How long it has waited.
    pub waited_ms: u64,
    /// When it is next tried as the anchor of a match (it can be picked by others before);
    /// `None` when it is due now or not in its queue.
    pub next_try_at_ms: Option<u64>,
    /// Tickets in its queue, itself included.
    pub queued_tickets: u64,
    /// Tickets looked at, nearest rating first (fewer than the queue beyond
    /// `limits.max_explain_scan`).
    pub scanned: u64,
    /// Other players a match with it needs, at least.
    pub players_needed: u64,
    /// Players in scanned tickets that pass every check against it.
    pub compatible_players: u64,
    /// Each check, in a fixed order: `skill_window`, `latency`, `block_list` (when the
    /// queue uses avoid lists), then the queue's rules in config order.
    pub checks: Vec<CheckReport>,
}

/// One check of an [`Explanation`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckReport {
    /// The rule's name, or the built-in check's (`skill_window`, `latency`, `block_list`).
    pub name: String,
    /// The kind (`skill_window`, `latency`, `block_list`, `equal`, `overlap`, `distance`,
    /// `party_skill_spread`).
    pub kind: String,
    /// Whether it binds the ticket now.
    pub binding: bool,
    /// Scanned tickets that pass it against this one.
    pub passing: u64,
    /// Whether it keeps the ticket from matching (see the module comment).
    pub blocking: bool,
    /// The ticket's own bound now: window (MMR), ping limit (ms), values to share, largest
    /// spread; `None` for checks without one.
    pub value: Option<f64>,
    /// When the bound next relaxes, and to what.
    pub relaxes: Option<Relaxation>,
    /// When the check stops binding the ticket (`optional_after_ms`), in matcher time.
    pub optional_at_ms: Option<u64>,
}

/// A future value of a window.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Relaxation {
    /// When, in matcher time.
    pub at_ms: u64,
    /// The value from then.
    pub value: f64,
}

/// The next change of a curve after `waited_ms`: the next step of a step curve, or the final
/// value of a continuous one.
fn next_change(curve: &Curve, enqueued_at_ms: u64, waited_ms: u64) -> Option<Relaxation> {
    let (after_ms, value) = match curve {
        Curve::Steps { steps } => steps
            .iter()
            .find(|step| step.after_ms > waited_ms)
            .map(|step| (step.after_ms, step.value))?,
        _ if waited_ms < curve.settles_after_ms() => (
            curve.settles_after_ms(),
            curve.value_at(curve.settles_after_ms()),
        ),
        _ => return None,
    };
    Some(Relaxation {
        at_ms: enqueued_at_ms.saturating_add(after_ms),
        value,
    })
}

/// One scanned ticket, as the checks see it.
struct Other<'w> {
    rating: f64,
    window: f64,
    regions: u32,
    waited_ms: u64,
    players: u64,
    /// Its players, sorted (avoid lists are checked against them).
    ids: SmallVec<[crate::ids::PlayerId; 2]>,
    rules: Option<&'w TicketRules>,
}

/// The explanation for a live ticket, or `None` if no ticket has this id.
pub(crate) fn explain(world: &World, id: TicketId) -> Option<Explanation> {
    let entity = *world.resource::<Directory>().tickets.get(&id)?;
    let ticket = world.get::<Ticket>(entity)?;
    let settings = world.resource::<Settings>();
    let queue = settings.queue(usize::from(ticket.queue));
    let now = world.resource::<Clock>().now_ms;
    let pool = &world.resource::<Pools>().0[usize::from(ticket.queue)];
    let key = PoolKey::new(ticket.rating, ticket.id);
    let waited = now.saturating_sub(ticket.enqueued_at_ms);
    let own = other_of(world, queue, ticket, waited);
    let scan = settings.config.limits.max_explain_scan as usize;
    let others: Vec<Other<'_>> =
        crate::systems::matching::walk_outward(pool, key, ticket.rating, f64::INFINITY)
            .take(scan)
            .filter_map(|(_, entry)| world.get::<Ticket>(entry.entity))
            .map(|other| {
                other_of(
                    world,
                    queue,
                    other,
                    now.saturating_sub(other.enqueued_at_ms),
                )
            })
            .collect();
    let checks = check_list(queue);
    // passes[c][o]: whether other `o` passes check `c` against the ticket.
    let passes: Vec<Vec<bool>> = checks
        .iter()
        .map(|check| {
            others
                .iter()
                .map(|o| check.passes(queue, &own, o))
                .collect()
        })
        .collect();
    let all_pass = |o: usize| passes.iter().all(|row| row[o]);
    let compatible_players: u64 = (0..others.len())
        .filter(|&o| all_pass(o))
        .map(|o| others[o].players)
        .sum();
    let players_needed = (queue.min_players_per_match() as u64).saturating_sub(own.players);
    let short = compatible_players < players_needed;
    let reports = checks
        .iter()
        .enumerate()
        .map(|(c, check)| {
            let only_this = (0..others.len()).any(|o| {
                !passes[c][o] && passes.iter().enumerate().all(|(d, row)| d == c || row[o])
            });
            let mut report = check.report(queue, ticket, &own, waited);
            report.passing = passes[c].iter().filter(|p| **p).count() as u64;
            report.blocking |= short && only_this;
            report
        })
        .collect();
    let entry = pool.get(&key);
    Some(Explanation {
        ticket: id,
        queue: queue.name.clone(),
        proposed: matches!(ticket.state, TicketState::Proposed(_)),
        waited_ms: waited,
        next_try_at_ms: entry.map(|e| e.wake_at_ms).filter(|at| *at != pool::DUE),
        queued_tickets: pool.len() as u64,
        scanned: others.len() as u64,
        players_needed,
        compatible_players,
        checks: reports,
    })
}

fn other_of<'w>(
    world: &World,
    queue: &QueueConfig,
    ticket: &'w Ticket,
    waited_ms: u64,
) -> Other<'w> {
    let mut ids: SmallVec<[crate::ids::PlayerId; 2]> = ticket
        .players
        .iter()
        .filter_map(|player| {
            world
                .get::<crate::components::Player>(*player)
                .map(|p| p.id)
        })
        .collect();
    ids.sort_unstable();
    let pings = &ticket.pings;
    let limit = pool::ping_limit(queue, waited_ms, pings.best_ms, pings.own_max_ms);
    Other {
        rating: ticket.rating,
        window: pool::skill_window(queue, waited_ms, pool::sigma_bonus(queue, ticket.sigma)),
        regions: pool::regions_within(&pings.pings_ms, limit),
        waited_ms,
        players: ticket.players.len() as u64,
        ids,
        rules: ticket.rules.as_deref(),
    }
}

/// A check explain runs.
enum Check {
    SkillWindow,
    Latency,
    BlockList,
    Rule(usize),
}

fn check_list(queue: &QueueConfig) -> SmallVec<[Check; 8]> {
    let mut checks: SmallVec<[Check; 8]> = SmallVec::new();
    checks.push(Check::SkillWindow);
    checks.push(Check::Latency);
    if blocks_whole_match(queue) {
        checks.push(Check::BlockList);
    }
    checks.extend((0..queue.rules.len()).map(Check::Rule));
    checks
}

impl Check {
    fn passes(&self, queue: &QueueConfig, own: &Other<'_>, other: &Other<'_>) -> bool {
        match self {
            Self::SkillWindow => {
                let distance = (own.rating - other.rating).abs();
                distance <= own.window && distance <= other.window
            }
            Self::Latency => own.regions & other.regions != 0,
            Self::BlockList => {
                let own_avoid = own.rules.map_or(&[][..], |r| &r.avoid[..]);
                let other_avoid = other.rules.map_or(&[][..], |r| &r.avoid[..]);
                !super::names_any(own_avoid, &other.ids) && !super::names_any(other_avoid, &own.ids)
            }
            Self::Rule(index) => match (own.rules, other.rules) {
                (Some(a), Some(b)) => {
                    pair_passes(queue, *index, (a, own.waited_ms), (b, other.waited_ms))
                }
                _ => true,
            },
        }
    }

    fn report(
        &self,
        queue: &QueueConfig,
        ticket: &Ticket,
        own: &Other<'_>,
        waited: u64,
    ) -> CheckReport {
        let at = ticket.enqueued_at_ms;
        let mut report = CheckReport {
            name: String::new(),
            kind: String::new(),
            binding: true,
            passing: 0,
            blocking: false,
            value: None,
            relaxes: None,
            optional_at_ms: None,
        };
        match self {
            Self::SkillWindow => {
                report.name = "skill_window".into();
                report.value = Some(own.window);
                report.relaxes = next_change(&queue.skill_window, at, waited).map(|r| Relaxation {
                    value: r.value + (own.window - queue.skill_window.value_at(waited)),
                    ..r
                });
            }
            Self::Latency => {
                report.name = "latency".into();
                let pings = &ticket.pings;
                report.value = Some(pool::ping_limit(
                    queue,
                    waited,
                    pings.best_ms,
                    pings.own_max_ms,
                ));
                report.relaxes = next_change(&queue.latency_window, at, waited);
            }
            Self::BlockList => report.name = "block_list".into(),
            Self::Rule(index) => {
                let rule = &queue.rules[*index];
                report.name = rule.name().to_owned();
                report.kind = rule.kind_name().to_owned();
                report.binding = rule.binds_at(waited);
                report.optional_at_ms = rule
                    .optional_after_ms()
                    .map(|after| at.saturating_add(after));
                if let Some((curve, _)) = rule.curve() {
                    report.value = Some(curve.value_at(waited));
                    report.relaxes = next_change(curve, at, waited);
                }
                if let (Rule::PartySkillSpread { .. }, Some(rules)) = (rule, own.rules) {
                    report.blocking = !super::eligible(queue, rules, waited)
                        && matches!(rules.values[*index], RuleValue::Spread(_));
                }
            }
        }
        if report.kind.is_empty() {
            report.kind.clone_from(&report.name);
        }
        report
    }
}

/// Whether two tickets keep rule `index` between them (the pairwise form of each rule;
/// team-scoped rules only bind at team formation and pass here).
pub(crate) fn pair_passes(
    queue: &QueueConfig,
    index: usize,
    (a, a_waited): (&TicketRules, u64),
    (b, b_waited): (&TicketRules, u64),
) -> bool {
    let rule = &queue.rules[index];
    let (a_binds, b_binds) = (rule.binds_at(a_waited), rule.binds_at(b_waited));
    if !a_binds && !b_binds {
        return true;
    }
    let strictest = |direction: Direction| -> f64 {
        let Some((curve, _)) = rule.curve() else {
            return 0.0;
        };
        let values = [(a_binds, a_waited), (b_binds, b_waited)]
            .into_iter()
            .filter(|(binds, _)| *binds)
            .map(|(_, waited)| curve.value_at(waited));
        match direction {
            Direction::NonDecreasing => values.fold(f64::INFINITY, f64::min),
            Direction::NonIncreasing => values.fold(0.0, f64::max),
        }
    };
    match (rule, &a.values[index], &b.values[index]) {
        (
            Rule::Equal {
                scope: RuleScope::Team,
                ..
            },
            _,
            _,
        )
        | (
            Rule::Distance {
                scope: RuleScope::Team,
                ..
            },
            _,
            _,
        ) => true,
        (Rule::Equal { .. }, RuleValue::Text(x), RuleValue::Text(y)) => x.is_some() && x == y,
        (Rule::Overlap { .. }, RuleValue::List(x), RuleValue::List(y)) => {
            shared(&x.items, &y.items) as f64 >= strictest(Direction::NonIncreasing).ceil()
        }
        (
            Rule::Distance { .. },
            RuleValue::Number { low: al, high: ah },
            RuleValue::Number { low: bl, high: bh },
        ) => ah.max(*bh) - al.min(*bl) <= strictest(Direction::NonDecreasing),
        (Rule::PartySkillSpread { .. }, _, _) => {
            super::eligible(queue, a, a_waited) && super::eligible(queue, b, b_waited)
        }
        _ => false,
    }
}
