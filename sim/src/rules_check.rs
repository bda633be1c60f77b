//! The simulator's own check that every match keeps its queue's rules, judged from what the
//! simulator generated for each ticket (its players, their attributes, roles and avoid
//! lists), never from what the matcher worked out of them:
//!
//! - teams: as many as the queue has (within `flexible.min_teams..=teams` in a flexible
//!   queue), each of `team_size` players (within `min_team_size..=team_size`);
//! - parties intact: each matched ticket holds exactly the players the simulator queued it
//!   with, and nobody is in the match twice;
//! - roles: in a role queue every team plays exactly its composition, each player in a role
//!   they accept; elsewhere nobody has a role;
//! - avoid lists: under `block_lists = "match"` no player of the match avoids another of its
//!   tickets; under `"opposing_teams"` no such pair is on opposing teams;
//! - rules, each while it binds any ticket of the match (a ticket that has waited less than
//!   its `optional_after_ms`), with the strictest bound among the tickets it binds: `equal`
//!   (one value across the match, or within each team), `overlap` (the tickets' lists, each
//!   party's combined as the rule says, share at least `at_least` values), `distance` (the
//!   spread across the match, or the gap between team means, within `max`) and
//!   `party_skill_spread` (each binding party's ratings within `max`).
//!
//! The world runs it on every proposed and formed match, for every matcher; a broken rule
//! stops the run with an error naming the match and the rule.

use std::collections::{BTreeMap, HashMap};

use matchwright_ecs::config::{BlockScope, ListAggregate, NumberAggregate, Rule, RuleScope};
use matchwright_ecs::{AttributeValue, MatchSummary, PlayerId, QueueConfig, TicketId};

/// Small differences of sums taken in another order.
const EPSILON: f64 = 1e-9;

/// A member of a ticket, as the simulator queued it.
#[derive(Clone, Debug, PartialEq)]
pub struct MemberView {
    /// The player.
    pub player: PlayerId,
    /// The member's value of each attribute the queue declares (drawn, else the default).
    pub attributes: BTreeMap<String, Option<AttributeValue>>,
    /// The roles the member accepts (role queues).
    pub roles: Vec<String>,
    /// The players the member avoids.
    pub avoid: Vec<PlayerId>,
    /// The rating (mu) the member was queued with.
    pub mu: f64,
}

/// A ticket as the simulator queued it.
#[derive(Clone, Debug, PartialEq)]
pub struct TicketView {
    /// Its members, in the order they were queued.
    pub members: Vec<MemberView>,
}

/// Checks `summary` against `queue`, with `ticket` giving what was queued for each ticket
/// (`None`: the simulator never queued it). `Err` says what is broken.
pub fn check(
    queue: &QueueConfig,
    summary: &MatchSummary,
    ticket: impl Fn(TicketId) -> Option<TicketView>,
) -> Result<(), String> {
    let fail = |what: String| Err(format!("{} in `{}`: {what}", summary.match_id, queue.name));
    // Teams.
    let (min_teams, min_size) = queue
        .flexible
        .as_ref()
        .map_or((queue.teams, queue.team_size), |flexible| {
            (flexible.min_teams, flexible.min_team_size)
        });
    if !(usize::from(min_teams)..=usize::from(queue.teams)).contains(&summary.teams.len()) {
        return fail(format!(
            "{} teams; the queue has {min_teams} to {}",
            summary.teams.len(),
            queue.teams
        ));
    }
    // What was queued, per team and ticket; parties intact.
    let mut views: Vec<Vec<(TicketView, u64)>> = Vec::with_capacity(summary.teams.len());
    let mut seen: HashMap<PlayerId, (usize, usize)> = HashMap::new();
    let mut ticket_index = 0;
    for (team, tickets) in summary.teams.iter().enumerate() {
        let size: usize = tickets.iter().map(|t| t.players.len()).sum();
        if !(usize::from(min_size)..=usize::from(queue.team_size)).contains(&size) {
            return fail(format!(
                "team {team} has {size} players; the queue has {min_size} to {}",
                queue.team_size
            ));
        }
        let mut team_views = Vec::with_capacity(tickets.len());
        for matched in tickets {
            let Some(view) = ticket(matched.ticket) else {
                return fail(format!("{} was never queued", matched.ticket));
            };
            let mut queued: Vec<PlayerId> = view.members.iter().map(|m| m.player).collect();
            let mut playing: Vec<PlayerId> = matched.players.iter().map(|p| p.player).collect();
            queued.sort_unstable();
            playing.sort_unstable();
            if queued != playing {
                return fail(format!(
                    "{} plays {playing:?}, but was queued with {queued:?} (a party split or joined)",
                    matched.ticket
                ));
            }
            for player in &playing {
                if seen.insert(*player, (team, ticket_index)).is_some() {
                    return fail(format!("{player} is in the match twice"));
                }
            }
            ticket_index += 1;
            team_views.push((view, matched.waited_ms));
        }
        views.push(team_views);
    }

    // Roles.
    for (team, tickets) in summary.teams.iter().enumerate() {
        let mut playing: BTreeMap<&str, usize> = BTreeMap::new();
        for (matched, (view, _)) in tickets.iter().zip(&views[team]) {
            for player in &matched.players {
                let Some(member) = view.members.iter().find(|m| m.player == player.player) else {
                    continue;
                };
                match (&queue.roles, player.role.as_deref()) {
                    (Some(_), Some(role)) => {
                        if !member.roles.iter().any(|r| r == role) {
                            return fail(format!(
                                "{} plays {role}, which is not among the roles they accept ({})",
                                player.player,
                                member.roles.join(", ")
                            ));
                        }
                        *playing.entry(role).or_default() += 1;
                    }
                    (Some(_), None) => {
                        return fail(format!("{} has no role in a role queue", player.player));
                    }
                    (None, Some(role)) => {
                        return fail(format!(
                            "{} plays role {role} in a queue without roles",
                            player.player
                        ));
                    }
                    (None, None) => {}
                }
            }
        }
        if let Some(roles) = &queue.roles {
            for slot in &roles.composition {
                let count = playing.get(slot.role.as_str()).copied().unwrap_or(0);
                if count != usize::from(slot.count) {
                    return fail(format!(
                        "team {team} has {count} {}; its composition has {}",
                        slot.role, slot.count
                    ));
                }
            }
        }
    }

    // Avoid lists.
    if queue.block_lists != BlockScope::Off {
        for (team, tickets) in views.iter().enumerate() {
            for (view, _) in tickets {
                for member in &view.members {
                    let (_, own_ticket) = seen[&member.player];
                    for avoided in &member.avoid {
                        let Some((their_team, their_ticket)) = seen.get(avoided) else {
                            continue;
                        };
                        if *their_ticket == own_ticket {
                            continue;
                        }
                        let broken = match queue.block_lists {
                            BlockScope::Match => true,
                            BlockScope::OpposingTeams => *their_team != team,
                            BlockScope::Off => false,
                        };
                        if broken {
                            return fail(format!(
                                "{} avoids {avoided}, yet they are in the match{}",
                                member.player,
                                if *their_team == team {
                                    ""
                                } else {
                                    " on opposing teams"
                                }
                            ));
                        }
                    }
                }
            }
        }
    }

    // Rules.
    for rule in &queue.rules {
        check_rule(rule, &views).or_else(|why| fail(format!("rule `{}`: {why}", rule.name())))?;
    }
    Ok(())
}

fn text<'a>(member: &'a MemberView, attribute: &str) -> Result<&'a str, String> {
    match member.attributes.get(attribute) {
        Some(Some(AttributeValue::Text(text))) => Ok(text),
        _ => Err(format!("{} has no text `{attribute}`", member.player)),
    }
}

fn number(member: &MemberView, attribute: &str) -> Result<f64, String> {
    match member.attributes.get(attribute) {
        Some(Some(AttributeValue::Number(number))) => Ok(*number),
        _ => Err(format!("{} has no number `{attribute}`", member.player)),
    }
}

fn list<'a>(member: &'a MemberView, attribute: &str) -> Result<Vec<&'a str>, String> {
    match member.attributes.get(attribute) {
        Some(Some(AttributeValue::List(items))) => {
            let mut items: Vec<&str> = items.iter().map(String::as_str).collect();
            items.sort_unstable();
            items.dedup();
            Ok(items)
        }
        _ => Err(format!("{} has no list `{attribute}`", member.player)),
    }
}

/// A ticket's numbers for a distance rule, its party counted as the rule says: (low, high).
fn span(view: &TicketView, attribute: &str, party: NumberAggregate) -> Result<(f64, f64), String> {
    let numbers = view
        .members
        .iter()
        .map(|m| number(m, attribute))
        .collect::<Result<Vec<f64>, String>>()?;
    let low = numbers.iter().copied().fold(f64::INFINITY, f64::min);
    let high = numbers.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mean = numbers.iter().sum::<f64>() / numbers.len().max(1) as f64;
    Ok(match party {
        NumberAggregate::All => (low, high),
        NumberAggregate::Min => (low, low),
        NumberAggregate::Max => (high, high),
        NumberAggregate::Mean => (mean, mean),
    })
}

fn check_rule(rule: &Rule, teams: &[Vec<(TicketView, u64)>]) -> Result<(), String> {
    let tickets = || teams.iter().flatten();
    let binding: Vec<u64> = tickets()
        .filter(|(_, waited)| rule.binds_at(*waited))
        .map(|(_, waited)| *waited)
        .collect();
    if binding.is_empty() {
        return Ok(());
    }
    // The strictest bound among the binding tickets.
    let strictest_max = |curve: &matchwright_ecs::Curve| {
        binding
            .iter()
            .map(|waited| curve.value_at(*waited))
            .fold(f64::INFINITY, f64::min)
    };
    match rule {
        Rule::Equal {
            attribute, scope, ..
        } => {
            let groups: Vec<Vec<&TicketView>> = match scope {
                RuleScope::Match => vec![tickets().map(|(view, _)| view).collect()],
                RuleScope::Team => teams
                    .iter()
                    .map(|team| team.iter().map(|(view, _)| view).collect())
                    .collect(),
            };
            for group in groups {
                let mut values = Vec::new();
                for view in group {
                    for member in &view.members {
                        values.push((member.player, text(member, attribute)?));
                    }
                }
                if let Some((player, other)) = values.iter().find(|(_, v)| *v != values[0].1) {
                    return Err(format!(
                        "{} has `{}` but {player} has `{other}`",
                        values[0].0, values[0].1
                    ));
                }
            }
        }
        Rule::Overlap {
            attribute,
            at_least,
            party,
            ..
        } => {
            let need = binding
                .iter()
                .map(|waited| at_least.value_at(*waited).ceil())
                .fold(0.0, f64::max);
            let mut shared: Option<Vec<&str>> = None;
            for (view, _) in tickets() {
                let mut combined: Option<Vec<&str>> = None;
                for member in &view.members {
                    let items = list(member, attribute)?;
                    combined = Some(match (combined, party) {
                        (None, _) => items,
                        (Some(mut so_far), ListAggregate::Intersection) => {
                            so_far.retain(|item| items.contains(item));
                            so_far
                        }
                        (Some(mut so_far), ListAggregate::Union) => {
                            so_far.extend(items);
                            so_far.sort_unstable();
                            so_far.dedup();
                            so_far
                        }
                    });
                }
                let combined = combined.unwrap_or_default();
                shared = Some(match shared {
                    None => combined,
                    Some(mut so_far) => {
                        so_far.retain(|item| combined.contains(item));
                        so_far
                    }
                });
            }
            let shared = shared.unwrap_or_default();
            if (shared.len() as f64) < need {
                return Err(format!(
                    "the tickets share {} value(s) ({}), {need} needed",
                    shared.len(),
                    shared.join(", ")
                ));
            }
        }
        Rule::Distance {
            attribute,
            max,
            scope,
            party,
            ..
        } => {
            let bound = strictest_max(max);
            match scope {
                RuleScope::Match => {
                    let (mut low, mut high) = (f64::INFINITY, f64::NEG_INFINITY);
                    for (view, _) in tickets() {
                        let (l, h) = span(view, attribute, *party)?;
                        low = low.min(l);
                        high = high.max(h);
                    }
                    if high - low > bound + EPSILON {
                        return Err(format!(
                            "`{attribute}` spans {low} to {high}, more than {bound}"
                        ));
                    }
                }
                RuleScope::Team => {
                    let mut means = Vec::with_capacity(teams.len());
                    for team in teams {
                        let (mut sum, mut weight) = (0.0, 0.0);
                        for (view, _) in team {
                            let (l, h) = span(view, attribute, *party)?;
                            let players = view.members.len() as f64;
                            sum += (l + h) / 2.0 * players;
                            weight += players;
                        }
                        if weight > 0.0 {
                            means.push(sum / weight);
                        }
                    }
                    let high = means.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    let low = means.iter().copied().fold(f64::INFINITY, f64::min);
                    if high - low > bound + EPSILON {
                        return Err(format!(
                            "team means of `{attribute}` from {low} to {high}, more than {bound} apart"
                        ));
                    }
                }
            }
        }
        Rule::PartySkillSpread { max, .. } => {
            for (view, waited) in tickets() {
                if !rule.binds_at(*waited) {
                    continue;
                }
                let mus = view.members.iter().map(|m| m.mu);
                let spread = mus.clone().fold(f64::NEG_INFINITY, f64::max)
                    - mus.fold(f64::INFINITY, f64::min);
                let allowed = max.value_at(*waited);
                if spread > allowed + EPSILON {
                    return Err(format!(
                        "a party of {} spans {spread} MMR, more than {allowed}",
                        view.members
                            .iter()
                            .map(|m| m.player.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use matchwright_ecs::config::AttributeSpec;
    use matchwright_ecs::event::{MatchedPlayer, MatchedTicket};
    use matchwright_ecs::{MatchId, Rating};

    use super::*;

    fn queue(rules: Vec<Rule>, block_lists: BlockScope) -> QueueConfig {
        QueueConfig {
            name: "q".into(),
            team_size: 1,
            max_party_size: 1,
            attributes: vec![AttributeSpec::Text {
                name: "platform".into(),
                default: None,
            }],
            rules,
            block_lists,
            ..QueueConfig::default()
        }
    }

    fn member(id: u64, platform: &str, avoid: &[u64]) -> MemberView {
        MemberView {
            player: PlayerId(id),
            attributes: [(
                "platform".to_string(),
                Some(AttributeValue::Text(platform.into())),
            )]
            .into(),
            roles: Vec::new(),
            avoid: avoid.iter().map(|p| PlayerId(*p)).collect(),
            mu: 1500.0,
        }
    }

    fn summary(waited: [u64; 2]) -> MatchSummary {
        let ticket = |id: u64, waited_ms: u64| MatchedTicket {
            ticket: TicketId(id),
            party: None,
            players: vec![MatchedPlayer {
                player: PlayerId(id),
                rating: Rating::new(1500.0, 100.0),
                role: None,
            }],
            rating: 1500.0,
            window_mmr: 100.0,
            ping_ms: 20,
            ping_limit_ms: 80.0,
            enqueued_at_ms: 0,
            waited_ms,
        };
        MatchSummary {
            match_id: MatchId(1),
            queue: Arc::from("q"),
            mode: Arc::from("q"),
            region: Arc::from("eu-west"),
            formed_at_ms: 0,
            quality: 0.5,
            quality_floor: 0.0,
            teams: vec![vec![ticket(1, waited[0])], vec![ticket(2, waited[1])]],
        }
    }

    #[test]
    fn an_equal_rule_binds_until_optional_and_avoid_lists_hold() {
        let rule = Rule::Equal {
            name: "same-platform".into(),
            attribute: "platform".into(),
            scope: RuleScope::Match,
            optional_after_ms: Some(10_000),
        };
        let q = queue(vec![rule], BlockScope::Match);
        let views = |avoid: &'static [u64]| {
            move |id: TicketId| {
                Some(TicketView {
                    members: vec![if id.0 == 1 {
                        member(1, "pc", avoid)
                    } else {
                        member(2, "xbox", &[])
                    }],
                })
            }
        };
        let error = check(&q, &summary([0, 20_000]), views(&[])).unwrap_err();
        assert!(error.contains("same-platform"), "{error}");
        assert_eq!(check(&q, &summary([20_000, 20_000]), views(&[])), Ok(()));
        let error = check(&q, &summary([20_000, 20_000]), views(&[2])).unwrap_err();
        assert!(error.contains("avoids"), "{error}");
        let off = queue(Vec::new(), BlockScope::Off);
        assert_eq!(check(&off, &summary([0, 0]), views(&[2])), Ok(()));
        let error = check(&off, &summary([0, 0]), |_| None).unwrap_err();
        assert!(error.contains("never queued"), "{error}");
    }
}
