//! Property tests for match rules: random attributes, roles, avoid lists and parties, in
//! queues with every rule kind, checked by a model of its own that knows only what each ticket
//! submitted and the config. No match may break a rule that binds it, no blocked pair may
//! meet (or face each other, per queue), every role composition is exact, parties stay
//! whole, and flexible matches keep their bounds.

#![allow(clippy::unwrap_used)] // Tests: a failed unwrap is a failed test.

use std::collections::{BTreeMap, HashMap, HashSet};

use matchwright_ecs::config::{BlockScope, Rule, RuleScope};
use matchwright_ecs::{
    AttributeValue, Command, Config, EnqueueTicket, Event, MatchSummary, Matcher, PartyId,
    PlayerId, QueueConfig, Rating, RoleChoice, TicketId, TicketMember,
};
use proptest::prelude::*;

const CONFIG: &str = r#"
regions = ["eu"]
replace_queues = true

[[queues]]
name = "rules"
teams = 2
team_size = 2
max_party_size = 2
quality_floor = { kind = "linear", start = 0.0, end = 0.0, over_ms = 1 }
skill_window = { kind = "linear", start = 300, end = 900, over_ms = 10000 }
attributes = [
  { kind = "text", name = "platform" },
  { kind = "list", name = "langs" },
  { kind = "number", name = "level", default = 50 },
]
rules = [
  { kind = "equal", name = "platform", attribute = "platform", optional_after_ms = 8000 },
  { kind = "overlap", name = "langs", attribute = "langs", party = "union", at_least = { kind = "steps", steps = [{ after_ms = 0, value = 2 }, { after_ms = 5000, value = 1 }] } },
  { kind = "distance", name = "level", attribute = "level", max = { kind = "linear", start = 10, end = 40, over_ms = 10000 } },
  { kind = "party_skill_spread", name = "spread", max = { kind = "linear", start = 100, end = 400, over_ms = 10000 } },
]

[[queues]]
name = "roles"
teams = 2
team_size = 3
max_party_size = 3
quality_floor = { kind = "linear", start = 0.0, end = 0.0, over_ms = 1 }
skill_window = { kind = "linear", start = 400, end = 900, over_ms = 10000 }
roles = { composition = [{ role = "tank", count = 1 }, { role = "dps", count = 1 }, { role = "support", count = 1 }], rating_per_role = true }

[[queues]]
name = "teams"
teams = 2
team_size = 2
max_party_size = 2
block_lists = "opposing_teams"
quality_floor = { kind = "linear", start = 0.0, end = 0.0, over_ms = 1 }
skill_window = { kind = "linear", start = 400, end = 900, over_ms = 10000 }
attributes = [{ kind = "text", name = "platform" }, { kind = "number", name = "level", default = 50 }]
rules = [
  { kind = "equal", name = "side-platform", attribute = "platform", scope = "team" },
  { kind = "distance", name = "side-level", attribute = "level", scope = "team", max = { kind = "linear", start = 15, end = 60, over_ms = 10000 } },
]

[[queues]]
name = "plain"
teams = 2
team_size = 2
max_party_size = 2
quality_floor = { kind = "linear", start = 0.0, end = 0.0, over_ms = 1 }
skill_window = { kind = "linear", start = 400, end = 900, over_ms = 10000 }

[[queues]]
name = "royale"
teams = 6
team_size = 3
max_party_size = 3
max_candidates_per_anchor = 64
quality_floor = { kind = "linear", start = 0.0, end = 0.0, over_ms = 1 }
skill_window = { kind = "linear", start = 500, end = 900, over_ms = 10000 }
flexible = { min_teams = 2, min_team_size = 1, fill_wait_ms = 3000 }
attributes = [{ kind = "text", name = "platform" }]
rules = [{ kind = "equal", name = "platform", attribute = "platform", optional_after_ms = 6000 }]
"#;

fn config() -> Config {
    Config::from_operator_toml(CONFIG.parse().unwrap()).unwrap()
}

/// What a ticket submitted, as the model keeps it.
#[derive(Clone, Debug)]
struct Submitted {
    queue: String,
    members: Vec<TicketMember>,
    at_ms: Option<u64>,
}

/// A small deterministic generator (the matcher's inputs must not depend on the OS).
struct Draw(u64);

impl Draw {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, p: f64) -> bool {
        (self.next() % 10_000) as f64 / 10_000.0 < p
    }
}

struct Workload {
    draw: Draw,
    next_player: u64,
    next_ticket: u64,
    next_party: u64,
    avoid_rate: f64,
    party_rate: f64,
    /// Recent players, the pool avoid lists are drawn from.
    recent: Vec<PlayerId>,
    /// The first role of a party's first member.
    role_base: usize,
}

impl Workload {
    fn member(
        &mut self,
        queue: &str,
        platform_of_party: Option<&str>,
        slot: usize,
    ) -> TicketMember {
        let player = PlayerId(self.next_player);
        self.next_player += 1;
        let mu = 1300.0 + self.draw.below(400) as f64;
        let mut member = TicketMember::new(player, Rating::new(mu, 120.0), vec![30]);
        let platforms = ["pc", "xbox", "ps"];
        let platform = match platform_of_party {
            Some(p) if self.draw.chance(0.8) => p.to_owned(),
            _ => platforms[self.draw.below(3) as usize].to_owned(),
        };
        let attributes = &mut member.attributes;
        match queue {
            "rules" => {
                attributes.insert("platform".into(), AttributeValue::Text(platform));
                let langs: Vec<String> = ["en", "fr", "de", "es"]
                    .iter()
                    .filter(|_| self.draw.chance(0.55))
                    .map(|l| (*l).to_owned())
                    .collect();
                attributes.insert("langs".into(), AttributeValue::List(langs));
                if self.draw.chance(0.8) {
                    let level = 30.0 + self.draw.below(40) as f64;
                    attributes.insert("level".into(), AttributeValue::Number(level));
                }
            }
            "teams" => {
                let side = ["pc", "console"][self.draw.below(2) as usize];
                attributes.insert("platform".into(), AttributeValue::Text(side.into()));
                let level = 30.0 + self.draw.below(40) as f64;
                attributes.insert("level".into(), AttributeValue::Number(level));
            }
            "royale" => {
                attributes.insert("platform".into(), AttributeValue::Text(platform));
            }
            "plain" => {}
            _ => {
                let roles = ["tank", "dps", "support"];
                // Party members lead with different roles (a party of three tanks cannot
                // fill one team).
                let first = (self.role_base + slot) % 3;
                let count = 1 + self.draw.below(3) as usize;
                member.roles = (0..count)
                    .map(|offset| RoleChoice {
                        role: roles[(first + offset) % 3].into(),
                        rating: Some(Rating::new(mu - offset as f64 * 80.0, 150.0)),
                    })
                    .collect();
            }
        }
        if self.draw.chance(self.avoid_rate) && !self.recent.is_empty() {
            let count = 1 + self.draw.below(4);
            member.avoid = (0..count)
                .map(|_| self.recent[self.draw.below(self.recent.len() as u64) as usize])
                .collect();
        }
        self.recent.push(player);
        if self.recent.len() > 40 {
            self.recent.remove(0);
        }
        member
    }

    /// The commands for one new ticket (a party is created first).
    fn ticket(&mut self, queue: &str, max_party: u64) -> (TicketId, Vec<Command>, Submitted) {
        let size = if self.draw.chance(self.party_rate) {
            2 + self.draw.below(max_party - 1)
        } else {
            1
        };
        let platform = ["pc", "xbox", "ps"][self.draw.below(3) as usize];
        self.role_base = self.draw.below(3) as usize;
        let members: Vec<TicketMember> = (0..size)
            .map(|slot| self.member(queue, Some(platform), slot as usize))
            .collect();
        let ticket = TicketId(self.next_ticket);
        self.next_ticket += 1;
        let mut commands = Vec::new();
        let party = (size > 1).then(|| {
            let party = PartyId(self.next_party);
            self.next_party += 1;
            commands.push(Command::CreateParty {
                party,
                leader: members[0].player,
            });
            for member in &members[1..] {
                commands.push(Command::JoinParty {
                    party,
                    player: member.player,
                });
            }
            party
        });
        commands.push(Command::Enqueue(EnqueueTicket {
            ticket,
            queue: queue.into(),
            party,
            members: members.clone(),
            max_ping_ms: None,
            waiting_since_ms: None,
            attributes: BTreeMap::new(),
        }));
        let submitted = Submitted {
            queue: queue.into(),
            members,
            at_ms: None,
        };
        (ticket, commands, submitted)
    }
}

/// The model's check of one formed match. `Err` says which rule broke.
fn check(
    config: &Config,
    summary: &MatchSummary,
    tickets: &HashMap<TicketId, Submitted>,
) -> Result<(), String> {
    let queue = &config.queues[config.queue_index(&summary.queue).unwrap()];
    let now = summary.formed_at_ms;
    let mut all: Vec<(&Submitted, u64, usize)> = Vec::new();
    for (team, matched) in summary.teams.iter().enumerate() {
        for ticket in matched {
            let submitted = tickets
                .get(&ticket.ticket)
                .ok_or(format!("{} never submitted", ticket.ticket))?;
            if *submitted.queue != *summary.queue {
                return Err(format!("{} matched outside its queue", ticket.ticket));
            }
            let mut want: Vec<PlayerId> = submitted.members.iter().map(|m| m.player).collect();
            let mut got: Vec<PlayerId> = ticket.players.iter().map(|p| p.player).collect();
            want.sort_unstable();
            got.sort_unstable();
            if want != got {
                return Err(format!("{} not whole: {got:?} vs {want:?}", ticket.ticket));
            }
            let waited = now - submitted.at_ms.ok_or("matched before queued")?;
            all.push((submitted, waited, team));
        }
    }
    check_avoid(queue, &all)?;
    check_roles(queue, summary, tickets)?;
    check_flexible(queue, summary, &all)?;
    for rule in &queue.rules {
        check_rule(queue, rule, &all).map_err(|why| format!("rule {}: {why}", rule.name()))?;
    }
    Ok(())
}

fn text<'a>(member: &'a TicketMember, name: &str) -> Option<&'a str> {
    match member.attributes.get(name) {
        Some(AttributeValue::Text(text)) => Some(text),
        _ => None,
    }
}

fn number(queue: &QueueConfig, member: &TicketMember, name: &str) -> f64 {
    match member.attributes.get(name) {
        Some(AttributeValue::Number(n)) => *n,
        _ => match queue.attribute(name) {
            Some(matchwright_ecs::config::AttributeSpec::Number {
                default: Some(d), ..
            }) => *d,
            _ => panic!("no {name}"),
        },
    }
}

fn check_rule(
    queue: &QueueConfig,
    rule: &Rule,
    all: &[(&Submitted, u64, usize)],
) -> Result<(), String> {
    let binding: Vec<u64> = all
        .iter()
        .filter(|(_, waited, _)| rule.binds_at(*waited))
        .map(|(_, waited, _)| *waited)
        .collect();
    if binding.is_empty() {
        return Ok(());
    }
    let members = || {
        all.iter()
            .flat_map(|(s, _, team)| s.members.iter().map(move |m| (m, *team)))
    };
    match rule {
        Rule::Equal {
            attribute, scope, ..
        } => {
            let mut seen: HashMap<usize, &str> = HashMap::new();
            for (member, team) in members() {
                let key = if *scope == RuleScope::Team { team } else { 0 };
                let value = text(member, attribute).ok_or("missing text")?;
                if *seen.entry(key).or_insert(value) != value {
                    return Err(format!("team/match {key} mixes values"));
                }
            }
        }
        Rule::Overlap {
            attribute,
            at_least,
            ..
        } => {
            let need = binding
                .iter()
                .map(|w| at_least.value_at(*w).ceil())
                .fold(0.0, f64::max);
            // Party lists are unions (the queue says so); the match's intersection.
            let mut shared: Option<HashSet<String>> = None;
            for (submitted, _, _) in all {
                let union: HashSet<String> = submitted
                    .members
                    .iter()
                    .flat_map(|m| match m.attributes.get(attribute.as_str()) {
                        Some(AttributeValue::List(items)) => items.clone(),
                        _ => Vec::new(),
                    })
                    .collect();
                shared = Some(match shared {
                    None => union,
                    Some(s) => s.intersection(&union).cloned().collect(),
                });
            }
            let count = shared.map_or(0, |s| s.len()) as f64;
            if count < need {
                return Err(format!("shares {count}, needs {need}"));
            }
        }
        Rule::Distance {
            attribute,
            max,
            scope,
            ..
        } => {
            let bound = binding
                .iter()
                .map(|w| max.value_at(*w))
                .fold(f64::INFINITY, f64::min);
            if *scope == RuleScope::Match {
                let values: Vec<f64> = members()
                    .map(|(m, _)| number(queue, m, attribute))
                    .collect();
                let spread = values.iter().cloned().fold(f64::NEG_INFINITY, f64::max)
                    - values.iter().cloned().fold(f64::INFINITY, f64::min);
                if spread > bound + 1e-9 {
                    return Err(format!("spread {spread} above {bound}"));
                }
            } else {
                let mut sums: HashMap<usize, (f64, f64)> = HashMap::new();
                for (member, team) in members() {
                    let entry = sums.entry(team).or_default();
                    entry.0 += number(queue, member, attribute);
                    entry.1 += 1.0;
                }
                let means: Vec<f64> = sums.values().map(|(s, n)| s / n).collect();
                let gap = means.iter().cloned().fold(f64::NEG_INFINITY, f64::max)
                    - means.iter().cloned().fold(f64::INFINITY, f64::min);
                // Ticket values are the middle of each party's span: for `all`, compare with
                // some slack for parties whose members differ.
                let slack: f64 = all
                    .iter()
                    .map(|(s, _, _)| {
                        let v: Vec<f64> = s
                            .members
                            .iter()
                            .map(|m| number(queue, m, attribute))
                            .collect();
                        v.iter().cloned().fold(f64::NEG_INFINITY, f64::max)
                            - v.iter().cloned().fold(f64::INFINITY, f64::min)
                    })
                    .fold(0.0, f64::max);
                if gap > bound + slack + 1e-9 {
                    return Err(format!("team gap {gap} above {bound}"));
                }
            }
        }
        Rule::PartySkillSpread { max, .. } => {
            for (submitted, waited, _) in all {
                if !rule.binds_at(*waited) {
                    continue;
                }
                let mus: Vec<f64> = submitted.members.iter().map(|m| m.rating.mu).collect();
                let spread = mus.iter().cloned().fold(f64::NEG_INFINITY, f64::max)
                    - mus.iter().cloned().fold(f64::INFINITY, f64::min);
                if spread > max.value_at(*waited) + 1e-9 {
                    return Err(format!("party spread {spread}"));
                }
            }
        }
    }
    Ok(())
}

fn check_avoid(queue: &QueueConfig, all: &[(&Submitted, u64, usize)]) -> Result<(), String> {
    for (i, (a, _, team_a)) in all.iter().enumerate() {
        for (j, (b, _, team_b)) in all.iter().enumerate() {
            if i == j {
                // Avoid lists do not apply inside a party: its members chose each other.
                continue;
            }
            for ma in &a.members {
                for mb in &b.members {
                    if !ma.avoid.contains(&mb.player) || ma.player == mb.player {
                        continue;
                    }
                    match queue.block_lists {
                        BlockScope::Match => {
                            return Err(format!("{} avoids {} but they met", ma.player, mb.player));
                        }
                        BlockScope::OpposingTeams if team_a != team_b => {
                            return Err(format!("{} avoids {}, opponents", ma.player, mb.player));
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    Ok(())
}

fn check_roles(
    queue: &QueueConfig,
    summary: &MatchSummary,
    tickets: &HashMap<TicketId, Submitted>,
) -> Result<(), String> {
    let Some(roles) = &queue.roles else {
        return Ok(());
    };
    for (team, matched) in summary.teams.iter().enumerate() {
        let mut counts: HashMap<String, u8> = HashMap::new();
        for ticket in matched {
            let submitted = &tickets[&ticket.ticket];
            for player in &ticket.players {
                let role = player.role.as_deref().ok_or("no role")?;
                let member = submitted
                    .members
                    .iter()
                    .find(|m| m.player == player.player)
                    .unwrap();
                let choice = member
                    .roles
                    .iter()
                    .find(|c| c.role == role)
                    .ok_or(format!("{} plays {role}, not accepted", player.player))?;
                if player.rating != choice.rating.unwrap() {
                    return Err(format!("{} not rated in {role}", player.player));
                }
                *counts.entry(role.to_owned()).or_default() += 1;
            }
        }
        for slot in &roles.composition {
            if counts.get(&slot.role).copied().unwrap_or(0) != slot.count {
                return Err(format!("team {team}: {counts:?}"));
            }
        }
    }
    Ok(())
}

fn check_flexible(
    queue: &QueueConfig,
    summary: &MatchSummary,
    all: &[(&Submitted, u64, usize)],
) -> Result<(), String> {
    let players: usize = summary.players().count();
    let Some(flexible) = &queue.flexible else {
        return if players == queue.players_per_match() {
            Ok(())
        } else {
            Err(format!("{players} players"))
        };
    };
    let teams = summary.teams.len();
    if teams < usize::from(flexible.min_teams) || teams > usize::from(queue.teams) {
        return Err(format!("{teams} teams"));
    }
    for team in &summary.teams {
        let size: usize = team.iter().map(|t| t.players.len()).sum();
        if size < usize::from(flexible.min_team_size) || size > usize::from(queue.team_size) {
            return Err(format!("a team of {size}"));
        }
    }
    let longest = all.iter().map(|(_, w, _)| *w).max().unwrap_or(0);
    if players < queue.players_per_match() && longest < flexible.fill_wait_ms {
        return Err(format!(
            "{players} players before the fill wait ({longest} ms)"
        ));
    }
    Ok(())
}

fn run(
    seed: u64,
    arrivals: u64,
    avoid_rate: f64,
    party_rate: f64,
    tick_ms: u64,
) -> HashMap<String, u64> {
    let config = config();
    let mut matcher = Matcher::new(config.clone(), seed).unwrap();
    let mut workload = Workload {
        draw: Draw(seed | 1),
        next_player: 1,
        next_ticket: 1,
        next_party: 1,
        avoid_rate,
        party_rate,
        recent: Vec::new(),
        role_base: 0,
    };
    let mut tickets: HashMap<TicketId, Submitted> = HashMap::new();
    let mut by_seq = HashMap::new();
    let mut formed: HashMap<String, u64> = HashMap::new();
    let queues = [
        ("rules", 2),
        ("roles", 3),
        ("teams", 2),
        ("royale", 3),
        ("plain", 2),
    ];
    let mut now = 0;
    for _ in 0..160 {
        now += tick_ms;
        for _ in 0..arrivals {
            let (queue, max_party) = queues[workload.draw.below(queues.len() as u64) as usize];
            let (ticket, commands, submitted) = workload.ticket(queue, max_party);
            tickets.insert(ticket, submitted);
            for command in commands {
                let seq = matcher.submit(command).unwrap();
                by_seq.insert(seq, ticket);
            }
        }
        matcher.tick(now).unwrap();
        let events: Vec<Event> = matcher.drain_events().collect();
        for event in &events {
            match event {
                Event::TicketQueued { ticket, at_ms, .. } => {
                    tickets.get_mut(ticket).unwrap().at_ms = Some(*at_ms);
                }
                Event::MatchFormed { summary } => {
                    check(&config, summary, &tickets).unwrap_or_else(|why| {
                        panic!(
                            "{} in {}: {why}\n{summary:#?}",
                            summary.match_id, summary.queue
                        )
                    });
                    *formed.entry(summary.queue.to_string()).or_default() += 1;
                    // The session ends at once: its players are never reused.
                    matcher
                        .submit(Command::EndSession {
                            match_id: summary.match_id,
                        })
                        .unwrap();
                }
                Event::Rejected { seq, reason } => {
                    // Only the party-skill-spread cannot reject; nothing generated is bad input.
                    panic!("{:?} rejected: {reason}", by_seq.get(seq));
                }
                _ => {}
            }
        }
    }
    matcher.check_invariants();
    for ticket in tickets.keys().take(20) {
        // Explain answers for live tickets and says so for gone ones.
        if let Some(explanation) = matcher.explain(*ticket) {
            assert!(explanation.scanned <= explanation.queued_tickets);
        }
    }
    formed
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn no_match_breaks_a_rule(
        seed in any::<u64>(),
        arrivals in 4_u64..14,
        avoid_rate in 0.0_f64..0.5,
        party_rate in 0.0_f64..0.5,
        tick_ms in 200_u64..1_500,
    ) {
        let formed = run(seed, arrivals, avoid_rate, party_rate, tick_ms);
        // The case tested something: every queue formed matches.
        for queue in ["rules", "roles", "teams", "royale", "plain"] {
            prop_assert!(formed.get(queue).copied().unwrap_or(0) > 0, "{queue}: {formed:?}");
        }
    }
}

/// A solo in queue `rules` with these values, level 50, enqueued now.
fn rules_ticket(id: u64, platform: &str, langs: &[&str]) -> Command {
    let mut member = TicketMember::new(PlayerId(id), Rating::new(1500.0, 100.0), vec![30]);
    member
        .attributes
        .insert("platform".into(), AttributeValue::Text(platform.into()));
    member.attributes.insert(
        "langs".into(),
        AttributeValue::List(langs.iter().map(|l| (*l).to_owned()).collect()),
    );
    Command::Enqueue(EnqueueTicket {
        ticket: TicketId(id),
        queue: "rules".into(),
        party: None,
        members: vec![member],
        max_ping_ms: None,
        waiting_since_ms: None,
        attributes: BTreeMap::new(),
    })
}

/// In a queue without rules, a ticket with an avoid list still matches tickets without one,
/// and never the player it avoids.
#[test]
fn avoid_lists_in_a_plain_queue_keep_only_the_avoided_apart() {
    let mut matcher = Matcher::new(config(), 3).unwrap();
    let solo = |id: u64, avoid: Vec<PlayerId>| {
        let mut member = TicketMember::new(PlayerId(id), Rating::new(1500.0, 100.0), vec![30]);
        member.avoid = avoid;
        Command::Enqueue(EnqueueTicket {
            ticket: TicketId(id),
            queue: "plain".into(),
            party: None,
            members: vec![member],
            max_ping_ms: None,
            waiting_since_ms: None,
            attributes: BTreeMap::new(),
        })
    };
    // 1 avoids 2; 3, 4 and 5 avoid nobody. 1 and 2 arrive first.
    matcher.submit(solo(1, vec![PlayerId(2)])).unwrap();
    matcher.submit(solo(2, Vec::new())).unwrap();
    matcher.submit(solo(3, Vec::new())).unwrap();
    matcher.tick(1_000).unwrap();
    assert!(
        !matcher
            .drain_events()
            .any(|e| matches!(e, Event::MatchFormed { .. }))
    );
    matcher.submit(solo(4, Vec::new())).unwrap();
    matcher.submit(solo(5, Vec::new())).unwrap();
    matcher.tick(2_000).unwrap();
    let formed: Vec<_> = matcher
        .drain_events()
        .filter_map(|e| match e {
            Event::MatchFormed { summary } => Some(summary),
            _ => None,
        })
        .collect();
    assert_eq!(formed.len(), 1, "{formed:#?}");
    let players: Vec<PlayerId> = formed[0].players().collect();
    assert!(
        players.contains(&PlayerId(1)),
        "the oldest ticket is matched: {players:?}"
    );
    assert!(!players.contains(&PlayerId(2)), "{players:?}");
}

#[test]
fn explain_names_the_rule_that_blocks_and_when_it_relaxes() {
    let mut matcher = Matcher::new(config(), 1).unwrap();
    matcher
        .submit(rules_ticket(1, "pc", &["en", "fr"]))
        .unwrap();
    for id in 2..=4 {
        matcher
            .submit(rules_ticket(id, "xbox", &["en", "fr"]))
            .unwrap();
    }
    matcher.tick(1_000).unwrap();
    assert!(
        !matcher
            .drain_events()
            .any(|e| matches!(e, Event::MatchFormed { .. }))
    );
    let explanation = matcher.explain(TicketId(1)).unwrap();
    assert_eq!(
        (explanation.players_needed, explanation.compatible_players),
        (3, 0)
    );
    let check = |name: &str| {
        explanation
            .checks
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no {name}: {explanation:#?}"))
            .clone()
    };
    let platform = check("platform");
    assert!(platform.blocking && platform.binding, "{platform:?}");
    assert_eq!(platform.passing, 0);
    assert_eq!(platform.optional_at_ms, Some(1_000 + 8_000));
    let langs = check("langs");
    assert!(!langs.blocking && langs.passing == 3, "{langs:?}");
    assert_eq!(langs.value, Some(2.0));
    assert_eq!(langs.relaxes.unwrap().at_ms, 1_000 + 5_000);
    assert_eq!(langs.relaxes.unwrap().value, 1.0);
    assert_eq!(check("skill_window").passing, 3);
    assert!(!check("level").blocking);
    assert!(matcher.explain(TicketId(99)).is_none());
    // Once the platform rule stops binding every ticket, they match.
    matcher.tick(9_500).unwrap();
    assert!(
        matcher
            .drain_events()
            .any(|e| matches!(e, Event::MatchFormed { .. }))
    );
}

#[test]
fn rules_data_survives_a_snapshot_and_a_config_that_drops_it_is_refused() {
    let mut matcher = Matcher::new(config(), 5).unwrap();
    matcher
        .submit(rules_ticket(1, "pc", &["en", "fr"]))
        .unwrap();
    matcher
        .submit(rules_ticket(2, "xbox", &["en", "fr"]))
        .unwrap();
    matcher.tick(1_000).unwrap();
    let _ = matcher.drain_events().count();
    let snapshot = matcher.snapshot().unwrap();
    let mut restored = Matcher::restore(config(), &snapshot).unwrap();
    assert_eq!(restored.explain(TicketId(1)), matcher.explain(TicketId(1)));
    // Both continue identically.
    for id in 3..=4 {
        for target in [&mut matcher, &mut restored] {
            target.submit(rules_ticket(id, "pc", &["en"])).unwrap();
        }
    }
    for now in [2_000, 6_000, 10_000] {
        matcher.tick(now).unwrap();
        restored.tick(now).unwrap();
        let a: Vec<Event> = matcher.drain_events().collect();
        let b: Vec<Event> = restored.drain_events().collect();
        assert_eq!(a, b);
    }
    // A config whose `rules` queue no longer declares `langs` cannot take the tickets back.
    let changed = CONFIG.replace(
        "  { kind = \"list\", name = \"langs\" },\n",
        "",
    )
    .replace(
        "  { kind = \"overlap\", name = \"langs\", attribute = \"langs\", party = \"union\", at_least = { kind = \"steps\", steps = [{ after_ms = 0, value = 2 }, { after_ms = 5000, value = 1 }] } },\n",
        "",
    );
    let changed = Config::from_operator_toml(changed.parse().unwrap()).unwrap();
    let fresh = Matcher::new(config(), 5).unwrap();
    let mut fresh = fresh;
    fresh.submit(rules_ticket(1, "pc", &["en"])).unwrap();
    fresh.submit(rules_ticket(2, "xbox", &["en"])).unwrap();
    fresh.tick(1).unwrap();
    let _ = fresh.drain_events().count();
    let error = Matcher::restore(changed, &fresh.snapshot().unwrap()).unwrap_err();
    let shown = error.to_string();
    assert!(
        shown.contains("2 tickets no longer fit") && shown.contains("`langs`"),
        "{shown}"
    );
}

/// Attributes a queue declares but no rule reads are kept as given across a snapshot, and a
/// requeued ticket of a queue rated per role restores with the ratings it was enqueued with.
#[test]
fn what_a_ticket_gave_survives_a_snapshot_even_unread() {
    let text = r#"
        regions = ["eu"]
        replace_queues = true
        [[queues]]
        name = "plain"
        teams = 2
        team_size = 1
        max_party_size = 1
        attributes = [{ kind = "text", name = "platform" }]
    "#;
    let config = Config::from_operator_toml(text.parse().unwrap()).unwrap();
    let mut matcher = Matcher::new(config.clone(), 9).unwrap();
    let mut member = TicketMember::new(PlayerId(1), Rating::new(1500.0, 100.0), vec![30]);
    member
        .attributes
        .insert("platform".into(), AttributeValue::Text("pc".into()));
    matcher
        .submit(Command::Enqueue(EnqueueTicket {
            ticket: TicketId(1),
            queue: "plain".into(),
            party: None,
            members: vec![member],
            max_ping_ms: None,
            waiting_since_ms: None,
            attributes: BTreeMap::new(),
        }))
        .unwrap();
    matcher.tick(1_000).unwrap();
    let _ = matcher.drain_events().count();
    let snapshot = matcher.snapshot().unwrap();
    let restored = Matcher::restore(config, &snapshot).unwrap();
    assert_eq!(restored.snapshot().unwrap(), snapshot);
}
