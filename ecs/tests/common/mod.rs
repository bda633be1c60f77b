//! Test support: a seeded workload that behaves like players, parties and game servers (it
//! reacts to the matcher's events), and a ledger that checks the matcher's invariants from the
//! event stream alone, without looking inside.

#![allow(dead_code, missing_docs, clippy::unwrap_used)]

mod recheck;

use std::collections::{BTreeMap, BTreeSet};

use matchwright_ecs::codec::EventHasher;
use matchwright_ecs::config::{AcceptanceConfig, PartyRating, QueueConfig};
use matchwright_ecs::event::{AbandonReason, RemovalReason};
use matchwright_ecs::{
    Command, CommandSeq, Config, Curve, EnqueueTicket, Event, MatchId, Matcher, NO_PING, PartyId,
    PlayerId, Rating, TicketId, TicketMember, check_match_summary,
};

/// SplitMix64: small, seeded, the same everywhere.
#[derive(Clone, Debug)]
pub struct TestRng(u64);

impl TestRng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1_u64 << 53) as f64 <= p
    }

    /// Roughly normal (sum of uniforms).
    pub fn normal(&mut self, mean: f64, spread: f64) -> f64 {
        let sum: f64 = (0..6).map(|_| self.below(10_000) as f64 / 10_000.0).sum();
        mean + (sum - 3.0) * spread * (2.0_f64).sqrt()
    }
}

/// A small config that exercises everything: 1v1, 2v2 with parties and acceptance, a 3-team
/// free-for-all, and short waits so that expiry, timeouts and widening all happen quickly.
pub fn test_config() -> Config {
    let fast = |name: &str, teams: u8, team_size: u8| QueueConfig {
        name: name.into(),
        teams,
        team_size,
        max_party_size: team_size,
        skill_window: Curve::linear(100.0, 500.0, 20_000),
        latency_window: Curve::linear(60.0, 160.0, 15_000),
        quality_floor: Curve::linear(0.35, 0.05, 30_000),
        max_wait_ms: 45_000,
        max_matches_per_tick: 40,
        max_candidates_per_anchor: 32,
        backfill_max_wait_ms: 20_000,
        ..QueueConfig::default()
    };
    let mut config = Config {
        regions: vec!["eu".into(), "na".into(), "asia".into()],
        queues: vec![
            fast("duel", 2, 1),
            QueueConfig {
                acceptance: Some(AcceptanceConfig { timeout_ms: 5_000 }),
                party_rating: PartyRating::Strongest { weight: 0.5 },
                ..fast("duo", 2, 2)
            },
            QueueConfig {
                exact_split_max_tickets: 3, // the heuristic gets exercised too
                ..fast("ffa", 3, 2)
            },
        ],
        ..Config::default()
    };
    config.queues[0].sigma_widening.per_sigma = 0.2;
    config.sessions.allocation_timeout_ms = 4_000;
    config.sessions.heartbeat_timeout_ms = 6_000;
    config
}

/// A live session as the workload's "game server" sees it.
#[derive(Clone, Debug)]
struct Session {
    queue: String,
    players: Vec<PlayerId>,
    teams: Vec<Vec<PlayerId>>,
    active: bool,
    ends_at_ms: u64,
    /// A game server that crashed: it never answers again, so the session times out.
    dead: bool,
    /// Its tickets: back in the queue if no game server is found.
    tickets: Vec<(TicketId, Vec<PlayerId>)>,
}

/// A workload that reacts to events like clients and game servers would.
pub struct Workload {
    rng: TestRng,
    config: Config,
    next_ticket: u64,
    next_party: u64,
    /// Players not queued, in a party or a match, free to act.
    idle_players: BTreeSet<PlayerId>,
    live_tickets: BTreeMap<TicketId, Vec<PlayerId>>,
    parties: BTreeMap<PartyId, Vec<PlayerId>>,
    proposals: BTreeMap<MatchId, Vec<PlayerId>>,
    sessions: BTreeMap<MatchId, Session>,
    pending: Vec<Command>,
    /// Arrivals per tick (mean).
    pub arrivals_per_tick: u64,
    /// Chance a queued ticket is cancelled in a tick (per tick, one random ticket).
    pub cancel_chance: f64,
    /// Chance a player declines a proposal.
    pub decline_chance: f64,
    /// Chance a player ignores a proposal.
    pub ignore_chance: f64,
    /// Chance bad commands are thrown in.
    pub junk_chance: f64,
}

impl Workload {
    pub fn new(seed: u64, players: u64, config: Config) -> Self {
        Self {
            rng: TestRng::new(seed),
            config,
            next_ticket: 1,
            next_party: 1,
            idle_players: (1..=players).map(PlayerId).collect(),
            live_tickets: BTreeMap::new(),
            parties: BTreeMap::new(),
            proposals: BTreeMap::new(),
            sessions: BTreeMap::new(),
            pending: Vec::new(),
            arrivals_per_tick: 6,
            cancel_chance: 0.05,
            decline_chance: 0.05,
            ignore_chance: 0.03,
            junk_chance: 0.05,
        }
    }

    fn rating_of(&self, player: PlayerId) -> Rating {
        // A stable "true" rating per player, with an uncertainty that varies.
        let mut rng = TestRng::new(player.0.wrapping_mul(7919));
        Rating::new(rng.normal(1500.0, 300.0), 60.0 + rng.below(400) as f64)
    }

    fn pings_of(&mut self, player: PlayerId) -> Vec<u16> {
        let home = (player.0 % self.config.regions.len() as u64) as usize;
        (0..self.config.regions.len())
            .map(|region| {
                if region == home {
                    15 + self.rng.below(50) as u16
                } else if self.rng.chance(0.1) {
                    NO_PING
                } else {
                    70 + self.rng.below(150) as u16
                }
            })
            .collect()
    }

    fn member(&mut self, player: PlayerId) -> TicketMember {
        TicketMember {
            player,
            rating: self.rating_of(player),
            pings_ms: self.pings_of(player),
            attributes: Default::default(),
            roles: Vec::new(),
            avoid: Vec::new(),
        }
    }

    fn take_idle(&mut self) -> Option<PlayerId> {
        if self.idle_players.is_empty() {
            return None;
        }
        let index = self.rng.below(self.idle_players.len() as u64) as usize;
        let player = *self.idle_players.iter().nth(index)?;
        self.idle_players.remove(&player);
        Some(player)
    }

    /// Commands for the coming tick.
    pub fn commands(&mut self, now_ms: u64) -> Vec<Command> {
        let mut commands = core::mem::take(&mut self.pending);
        let arrivals = self.rng.below(self.arrivals_per_tick * 2 + 1);
        for _ in 0..arrivals {
            commands.extend(self.arrival());
        }
        if self.rng.chance(self.cancel_chance) && !self.live_tickets.is_empty() {
            let index = self.rng.below(self.live_tickets.len() as u64) as usize;
            let ticket = *self.live_tickets.keys().nth(index).expect("index in range");
            commands.push(Command::Cancel { ticket });
        }
        self.game_servers(now_ms, &mut commands);
        if self.rng.chance(self.junk_chance) {
            commands.push(self.junk());
        }
        commands
    }

    /// A new ticket, preceded by the commands that form its party.
    fn arrival(&mut self) -> Vec<Command> {
        let queue_index = self.rng.below(self.config.queues.len() as u64) as usize;
        let queue = self.config.queues[queue_index].clone();
        let size = if queue.max_party_size > 1 && self.rng.chance(0.3) {
            2 + self.rng.below(u64::from(queue.max_party_size) - 1) as usize
        } else {
            1
        };
        let mut players = Vec::new();
        for _ in 0..size {
            match self.take_idle() {
                Some(player) => players.push(player),
                None => break,
            }
        }
        if players.is_empty() {
            return Vec::new();
        }
        let mut commands = Vec::new();
        let party = (players.len() > 1).then(|| {
            let party = PartyId(self.next_party);
            self.next_party += 1;
            commands.push(Command::CreateParty {
                party,
                leader: players[0],
            });
            commands.extend(players[1..].iter().map(|player| Command::JoinParty {
                party,
                player: *player,
            }));
            self.parties.insert(party, players.clone());
            party
        });
        let ticket = TicketId(self.next_ticket);
        self.next_ticket += 1;
        let members = players.iter().map(|p| self.member(*p)).collect();
        self.live_tickets.insert(ticket, players);
        commands.push(Command::Enqueue(EnqueueTicket {
            ticket,
            queue: queue.name,
            party,
            members,
            max_ping_ms: self.rng.chance(0.1).then(|| 90 + self.rng.below(60) as u16),
            waiting_since_ms: None,
            attributes: Default::default(),
        }));
        commands
    }

    fn game_servers(&mut self, now_ms: u64, commands: &mut Vec<Command>) {
        let ids: Vec<MatchId> = self.sessions.keys().copied().collect();
        for match_id in ids {
            let session = self.sessions[&match_id].clone();
            if session.dead {
                continue;
            }
            if !session.active {
                if self.rng.chance(0.05) {
                    // The fleet is full: the matcher puts the tickets back.
                    commands.push(Command::AllocationFailed { match_id });
                    if let Some(s) = self.sessions.get_mut(&match_id) {
                        s.dead = true;
                    }
                } else if self.rng.chance(0.6) {
                    commands.push(Command::SessionReady {
                        match_id,
                        server: String::new(),
                    });
                    if let Some(s) = self.sessions.get_mut(&match_id) {
                        s.active = true;
                    }
                }
                continue;
            }
            if now_ms >= session.ends_at_ms {
                if self.rng.chance(0.85) {
                    let mut placements: Vec<u32> = (1..=session.teams.len() as u32).collect();
                    // Shuffle placements; sometimes a draw.
                    for index in (1..placements.len()).rev() {
                        let other = self.rng.below(index as u64 + 1) as usize;
                        placements.swap(index, other);
                    }
                    if self.rng.chance(0.1) {
                        placements[0] = placements[1];
                    }
                    commands.push(Command::ReportResult {
                        match_id,
                        placements,
                    });
                } else {
                    commands.push(Command::EndSession { match_id });
                }
                continue;
            }
            if self.rng.chance(0.9) {
                commands.push(Command::Heartbeat { match_id });
            }
            if self.rng.chance(0.002) {
                if let Some(s) = self.sessions.get_mut(&match_id) {
                    s.dead = true;
                }
                continue;
            }
            if self.rng.chance(0.02) && session.players.len() > 1 {
                let player = session.players[self.rng.below(session.players.len() as u64) as usize];
                commands.push(Command::LeaveSession { match_id, player });
                // Ask for a replacement on the leaver's team, right after.
                let mut slots = vec![0_u8; session.teams.len()];
                if let Some(team) = session.teams.iter().position(|t| t.contains(&player)) {
                    slots[team] = 1;
                }
                commands.push(Command::RequestBackfill {
                    match_id,
                    open_slots: slots,
                });
            }
        }
    }

    fn junk(&mut self) -> Command {
        match self.rng.below(7) {
            0 => Command::Cancel {
                ticket: TicketId(u64::MAX - self.rng.below(5)),
            },
            1 => Command::Enqueue(EnqueueTicket {
                ticket: TicketId(u64::MAX),
                queue: "no-such-queue".into(),
                party: None,
                members: vec![],
                max_ping_ms: None,
                waiting_since_ms: None,
                attributes: Default::default(),
            }),
            2 => {
                let player = PlayerId(1_000_000 + self.rng.below(10));
                Command::Enqueue(EnqueueTicket::solo(
                    TicketId(u64::MAX - 100),
                    "duel",
                    player,
                    Rating::new(f64::NAN, 1.0),
                    vec![10, 10, 10],
                ))
            }
            3 => Command::AcceptMatch {
                match_id: MatchId(u64::MAX),
                player: PlayerId(1),
            },
            4 => Command::ReportResult {
                match_id: MatchId(self.rng.below(50)),
                placements: vec![],
            },
            5 => Command::JoinParty {
                party: PartyId(u64::MAX),
                player: PlayerId(2),
            },
            _ => Command::Enqueue(EnqueueTicket::solo(
                TicketId(u64::MAX - 200),
                "duel",
                PlayerId(2_000_000),
                Rating::new(1500.0, 100.0),
                vec![10], // wrong number of pings
            )),
        }
    }

    /// Feeds the events of a tick back: who is free again, which matches to answer.
    pub fn observe(&mut self, events: &[Event], now_ms: u64) {
        for event in events {
            match event {
                Event::TicketRemoved { ticket, .. } => {
                    if let Some(players) = self.live_tickets.remove(ticket) {
                        self.release(&players);
                    }
                }
                Event::MatchProposed { summary, .. } => {
                    let players: Vec<PlayerId> = summary.players().collect();
                    for player in &players {
                        if self.rng.chance(self.decline_chance) {
                            self.pending.push(Command::DeclineMatch {
                                match_id: summary.match_id,
                                player: *player,
                            });
                        } else if !self.rng.chance(self.ignore_chance) {
                            self.pending.push(Command::AcceptMatch {
                                match_id: summary.match_id,
                                player: *player,
                            });
                        }
                    }
                    self.proposals.insert(summary.match_id, players);
                }
                Event::MatchCancelled { match_id, .. } => {
                    self.proposals.remove(match_id);
                }
                Event::MatchFormed { summary } => {
                    self.proposals.remove(&summary.match_id);
                    let tickets = summary
                        .tickets()
                        .filter_map(|t| Some((t.ticket, self.live_tickets.remove(&t.ticket)?)))
                        .collect();
                    let duration = 5_000 + self.rng.below(20_000);
                    self.sessions.insert(
                        summary.match_id,
                        Session {
                            queue: summary.queue.to_string(),
                            players: summary.players().collect(),
                            teams: summary
                                .teams
                                .iter()
                                .map(|team| {
                                    team.iter()
                                        .flat_map(|t| t.players.iter().map(|p| p.player))
                                        .collect()
                                })
                                .collect(),
                            active: false,
                            ends_at_ms: now_ms + duration,
                            dead: self.rng.chance(0.01),
                            tickets,
                        },
                    );
                }
                Event::BackfillFilled {
                    match_id, tickets, ..
                } => {
                    for joined in tickets {
                        self.live_tickets.remove(&joined.ticket.ticket);
                        if let Some(session) = self.sessions.get_mut(match_id) {
                            let players = joined.ticket.players.iter().map(|p| p.player);
                            session.players.extend(players.clone());
                            session.teams[usize::from(joined.team)].extend(players);
                        }
                    }
                }
                Event::PlayerLeftSession { match_id, player } => {
                    if let Some(session) = self.sessions.get_mut(match_id) {
                        session.players.retain(|p| p != player);
                        for team in &mut session.teams {
                            team.retain(|p| p != player);
                        }
                    }
                    self.release(&[*player]);
                }
                Event::SessionAbandoned {
                    match_id,
                    reason:
                        AbandonReason::AllocationFailed
                        | AbandonReason::AllocationTimedOut
                        | AbandonReason::Cancelled,
                } => {
                    // No server: the tickets wait in the queue again (or expire).
                    if let Some(session) = self.sessions.remove(match_id) {
                        self.live_tickets.extend(session.tickets);
                    }
                }
                Event::SessionEnded { match_id, .. } | Event::SessionAbandoned { match_id, .. } => {
                    if let Some(session) = self.sessions.remove(match_id) {
                        self.release(&session.players);
                    }
                }
                _ => {}
            }
        }
    }

    /// Players free again: their party (if any) is disbanded so they can queue afresh.
    fn release(&mut self, players: &[PlayerId]) {
        for player in players {
            if let Some((&party, _)) = self
                .parties
                .iter()
                .find(|(_, members)| members.contains(player))
            {
                let members = self.parties.remove(&party).unwrap_or_default();
                self.pending.push(Command::DisbandParty { party });
                // Members still in a match come back when that match ends.
                for member in members {
                    if !self.in_match(member) {
                        self.idle_players.insert(member);
                    }
                }
            } else if !self.in_match(*player) {
                self.idle_players.insert(*player);
            }
        }
    }

    fn in_match(&self, player: PlayerId) -> bool {
        self.sessions.values().any(|s| s.players.contains(&player))
            || self
                .live_tickets
                .values()
                .any(|players| players.contains(&player))
    }
}

/// Where the ledger believes a ticket is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Where {
    Queued,
    Proposed(MatchId),
    /// Held by its match until the game server is up (back to the queue if none comes).
    Allocating(MatchId),
    Done,
}

#[derive(Clone, Debug)]
struct LedgerTicket {
    players: Vec<PlayerId>,
    queued_at_ms: u64,
    place: Where,
}

#[derive(Clone, Debug)]
enum LedgerMatch {
    Proposed {
        tickets: Vec<TicketId>,
    },
    Session {
        team_sizes: Vec<usize>,
        queue: String,
        /// Its tickets while it allocates.
        held: Vec<TicketId>,
    },
}

/// What the event stream added up to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub events: u64,
    pub queued: u64,
    pub matches_formed: u64,
    pub proposals: u64,
    pub proposals_cancelled: u64,
    pub tickets_requeued: u64,
    pub allocations_failed: u64,
    pub tickets_backfilled: u64,
    pub removed: BTreeMap<String, u64>,
    pub rejected: BTreeMap<String, u64>,
    pub sessions_ended: u64,
    pub sessions_abandoned: u64,
    pub rating_updates: u64,
    pub limits: u64,
}

/// Checks the matcher's invariants from its events alone; panics with what is broken.
pub struct Ledger {
    config: Config,
    tickets: BTreeMap<TicketId, LedgerTicket>,
    player_ticket: BTreeMap<PlayerId, TicketId>,
    player_match: BTreeMap<PlayerId, (MatchId, usize)>,
    matches: BTreeMap<MatchId, LedgerMatch>,
    pub hasher: EventHasher,
    pub counts: Counts,
    /// Rechecks from the submitted commands (fed by `submitted`).
    pub recheck: recheck::Recheck,
}

impl Ledger {
    pub fn new(config: Config) -> Self {
        Self {
            config,
            tickets: BTreeMap::new(),
            player_ticket: BTreeMap::new(),
            player_match: BTreeMap::new(),
            matches: BTreeMap::new(),
            hasher: EventHasher::new(),
            counts: Counts::default(),
            recheck: recheck::Recheck::default(),
        }
    }

    /// A command submitted (with its sequence number) for the next tick: the rechecks
    /// compare matches with what was submitted.
    pub fn submitted(&mut self, seq: CommandSeq, command: &Command) {
        self.recheck.submitted(seq, command);
    }

    fn reason_name<T: core::fmt::Debug>(value: &T) -> String {
        let text = format!("{value:?}");
        text.split([' ', '{', '('])
            .next()
            .unwrap_or_default()
            .to_owned()
    }

    /// Records one tick's events and checks them against the matcher's own counts.
    pub fn record_tick(&mut self, now_ms: u64, events: &[Event], matcher: &Matcher) {
        self.recheck.tick_applied(now_ms, events);
        for event in events {
            self.hasher.add(event);
            self.counts.events += 1;
            self.record(now_ms, event);
        }
        let queued = self
            .tickets
            .values()
            .filter(|ticket| ticket.place == Where::Queued)
            .count();
        assert_eq!(
            queued,
            matcher.queued_tickets(),
            "at {now_ms}: the events say {queued} tickets are queued, the matcher holds {}",
            matcher.queued_tickets()
        );
        for (id, ticket) in &self.tickets {
            if let Where::Proposed(match_id) = ticket.place {
                assert!(
                    matches!(
                        self.matches.get(&match_id),
                        Some(LedgerMatch::Proposed { .. })
                    ),
                    "{id} left in {match_id}, which is no longer proposed"
                );
            }
        }
        let live_matches = self.matches.len();
        assert_eq!(
            live_matches,
            matcher.live_matches(),
            "at {now_ms}: live matches differ"
        );
    }

    fn queue_of(&self, name: &str) -> &QueueConfig {
        self.config
            .queues
            .iter()
            .find(|queue| queue.name == name)
            .expect("events name configured queues")
    }

    fn record(&mut self, now_ms: u64, event: &Event) {
        match event {
            Event::Rejected { reason, .. } => {
                *self
                    .counts
                    .rejected
                    .entry(Self::reason_name(reason))
                    .or_default() += 1;
            }
            Event::TicketQueued {
                ticket,
                players,
                at_ms,
                ..
            } => {
                assert_eq!(*at_ms, now_ms);
                if let Some(old) = self.tickets.get(ticket) {
                    assert_eq!(old.place, Where::Done, "{ticket} queued while live");
                }
                for player in players {
                    assert!(
                        !self.player_ticket.contains_key(player),
                        "{player} in two tickets"
                    );
                    assert!(
                        !self.player_match.contains_key(player),
                        "{player} queued while in a match"
                    );
                    self.player_ticket.insert(*player, *ticket);
                }
                self.tickets.insert(
                    *ticket,
                    LedgerTicket {
                        players: players.clone(),
                        queued_at_ms: now_ms,
                        place: Where::Queued,
                    },
                );
                self.counts.queued += 1;
            }
            Event::TicketRemoved {
                ticket,
                reason,
                waited_ms,
            } => {
                let entry = self
                    .tickets
                    .get_mut(ticket)
                    .expect("removed ticket was queued");
                assert_ne!(entry.place, Where::Done, "{ticket} removed twice");
                assert_eq!(*waited_ms, now_ms - entry.queued_at_ms);
                if *reason == RemovalReason::Expired {
                    let queue_wait = self
                        .config
                        .queues
                        .iter()
                        .map(|q| q.max_wait_ms)
                        .min()
                        .unwrap_or(0);
                    assert!(*waited_ms >= queue_wait, "{ticket} expired early");
                }
                entry.place = Where::Done;
                for player in entry.players.clone() {
                    assert_eq!(self.player_ticket.remove(&player), Some(*ticket));
                }
                *self
                    .counts
                    .removed
                    .entry(Self::reason_name(reason))
                    .or_default() += 1;
            }
            Event::TicketRequeued { ticket, match_id } => {
                let entry = self
                    .tickets
                    .get_mut(ticket)
                    .expect("requeued ticket exists");
                assert!(
                    [Where::Proposed(*match_id), Where::Allocating(*match_id)]
                        .contains(&entry.place),
                    "{ticket} requeued from {:?}, not from {match_id}",
                    entry.place
                );
                entry.place = Where::Queued;
                self.counts.tickets_requeued += 1;
            }
            Event::MatchProposed { summary, .. } => {
                self.check_new_match(now_ms, summary);
                for ticket in summary.tickets() {
                    self.tickets.get_mut(&ticket.ticket).expect("checked").place =
                        Where::Proposed(summary.match_id);
                }
                self.matches.insert(
                    summary.match_id,
                    LedgerMatch::Proposed {
                        tickets: summary.tickets().map(|t| t.ticket).collect(),
                    },
                );
                self.counts.proposals += 1;
            }
            Event::MatchCancelled { match_id, .. } => {
                let Some(LedgerMatch::Proposed { .. }) = self.matches.remove(match_id) else {
                    panic!("{match_id} cancelled but was not proposed");
                };
                self.recheck.match_over(*match_id);
                self.player_match.retain(|_, (m, _)| m != match_id);
                self.counts.proposals_cancelled += 1;
            }
            Event::MatchFormed { summary } => {
                match self.matches.get(&summary.match_id) {
                    Some(LedgerMatch::Proposed { tickets }) => {
                        let formed: Vec<TicketId> = summary.tickets().map(|t| t.ticket).collect();
                        assert_eq!(&formed, tickets, "accepted match changed its tickets");
                    }
                    Some(LedgerMatch::Session { .. }) => {
                        panic!("{} formed twice", summary.match_id)
                    }
                    None => self.check_new_match(now_ms, summary),
                }
                for ticket in summary.tickets() {
                    let entry = self.tickets.get_mut(&ticket.ticket).expect("checked");
                    entry.place = Where::Allocating(summary.match_id);
                }
                self.matches.insert(
                    summary.match_id,
                    LedgerMatch::Session {
                        held: summary.tickets().map(|t| t.ticket).collect(),
                        team_sizes: summary
                            .teams
                            .iter()
                            .map(|team| team.iter().map(|t| t.players.len()).sum())
                            .collect(),
                        queue: summary.queue.to_string(),
                    },
                );
                self.counts.matches_formed += 1;
            }
            Event::BackfillFilled {
                match_id,
                tickets,
                quality,
                ..
            } => {
                let team_size = match self.matches.get(match_id) {
                    Some(LedgerMatch::Session { queue, .. }) => {
                        let queue = self
                            .config
                            .queues
                            .iter()
                            .find(|q| &q.name == queue)
                            .expect("events name configured queues");
                        self.recheck.backfilled(
                            &self.config,
                            queue,
                            now_ms,
                            *match_id,
                            tickets,
                            *quality,
                        );
                        queue.team_size
                    }
                    _ => panic!("backfill into {match_id}, which is not a session"),
                };
                for joined in tickets {
                    let id = joined.ticket.ticket;
                    let entry = self.tickets.get_mut(&id).expect("backfilled ticket exists");
                    assert_eq!(entry.place, Where::Queued, "{id} backfilled but not queued");
                    entry.place = Where::Done;
                    assert!(f64::from(joined.ticket.ping_ms) <= joined.ticket.ping_limit_ms);
                    let players = entry.players.clone();
                    for player in &players {
                        self.player_ticket.remove(player);
                        assert!(
                            self.player_match
                                .insert(*player, (*match_id, usize::from(joined.team)))
                                .is_none(),
                            "{player} backfilled while in a match"
                        );
                    }
                    let Some(LedgerMatch::Session { team_sizes, .. }) =
                        self.matches.get_mut(match_id)
                    else {
                        unreachable!()
                    };
                    team_sizes[usize::from(joined.team)] += players.len();
                    assert!(
                        team_sizes[usize::from(joined.team)] <= usize::from(team_size),
                        "backfill overfilled a team of {match_id}"
                    );
                    self.counts.tickets_backfilled += 1;
                }
            }
            Event::PlayerLeftSession { match_id, player } => {
                self.recheck.player_left(*match_id, *player);
                let (in_match, team) = self
                    .player_match
                    .remove(player)
                    .expect("player was in a match");
                assert_eq!(in_match, *match_id);
                if let Some(LedgerMatch::Session { team_sizes, .. }) =
                    self.matches.get_mut(match_id)
                {
                    team_sizes[team] -= 1;
                }
            }
            Event::RatingsUpdated {
                match_id, updates, ..
            } => {
                for update in updates {
                    assert_eq!(
                        self.player_match.get(&update.player).map(|(m, _)| m),
                        Some(match_id),
                        "rated {} who is not in {match_id}",
                        update.player
                    );
                    assert!(update.after.is_valid());
                }
                self.counts.rating_updates += updates.len() as u64;
            }
            Event::SessionActive { match_id, .. } => {
                let Some(LedgerMatch::Session { held, .. }) = self.matches.get_mut(match_id) else {
                    panic!("{match_id} active but not a session");
                };
                let held = std::mem::take(held);
                self.tickets_done(&held, *match_id);
            }
            Event::SessionEnded { match_id, .. } | Event::SessionAbandoned { match_id, .. } => {
                let Some(LedgerMatch::Session { held, .. }) = self.matches.remove(match_id) else {
                    panic!("{match_id} ended but was not a session");
                };
                self.recheck.match_over(*match_id);
                let no_server = matches!(
                    event,
                    Event::SessionAbandoned {
                        reason: AbandonReason::AllocationFailed
                            | AbandonReason::AllocationTimedOut
                            | AbandonReason::Cancelled,
                        ..
                    }
                );
                if no_server {
                    // Their `TicketRequeued` or `TicketRemoved` follow.
                    self.counts.allocations_failed += 1;
                } else {
                    self.tickets_done(&held, *match_id);
                }
                self.player_match.retain(|_, (m, _)| m != match_id);
                if matches!(event, Event::SessionEnded { .. }) {
                    self.counts.sessions_ended += 1;
                } else {
                    self.counts.sessions_abandoned += 1;
                }
            }
            Event::LimitReached { .. } => self.counts.limits += 1,
            _ => {}
        }
    }

    /// Tickets a session held until its server was up: done with.
    fn tickets_done(&mut self, held: &[TicketId], match_id: MatchId) {
        for ticket in held {
            let entry = self.tickets.get_mut(ticket).expect("held tickets exist");
            assert_eq!(
                entry.place,
                Where::Allocating(match_id),
                "{ticket} held elsewhere"
            );
            entry.place = Where::Done;
            for player in &entry.players {
                assert_eq!(self.player_ticket.remove(player), Some(*ticket));
            }
        }
    }

    /// A match seen for the first time: fair by the rules in force, made of queued tickets
    /// with exactly their players, none of whom is in another match.
    fn check_new_match(&mut self, now_ms: u64, summary: &matchwright_ecs::MatchSummary) {
        let submitted = |ticket| self.recheck.submitted_pings(ticket);
        if let Err(why) = check_match_summary(summary, &self.config, submitted) {
            panic!("unfair match: {why}");
        }
        let queue = self
            .config
            .queues
            .iter()
            .find(|queue| *queue.name == *summary.queue)
            .expect("checked above");
        self.recheck.new_match(&self.config, queue, summary);
        assert_eq!(summary.formed_at_ms, now_ms);
        for (team, tickets) in summary.teams.iter().enumerate() {
            for ticket in tickets {
                let entry = self
                    .tickets
                    .get(&ticket.ticket)
                    .unwrap_or_else(|| panic!("{} matched but never queued", ticket.ticket));
                assert_eq!(
                    entry.place,
                    Where::Queued,
                    "{} matched but not queued",
                    ticket.ticket
                );
                assert_eq!(
                    ticket.enqueued_at_ms, entry.queued_at_ms,
                    "{} lost its wait",
                    ticket.ticket
                );
                let mut ids: Vec<PlayerId> = ticket.players.iter().map(|p| p.player).collect();
                let mut expected = entry.players.clone();
                ids.sort();
                expected.sort();
                assert_eq!(
                    ids, expected,
                    "{} matched with other players",
                    ticket.ticket
                );
                for player in ids {
                    assert!(
                        self.player_match
                            .insert(player, (summary.match_id, team))
                            .is_none(),
                        "{player} in two matches"
                    );
                }
            }
        }
    }

    /// Every ticket ever queued is matched, removed or still live: none lost.
    pub fn tickets_accounted(&self) -> (usize, usize) {
        let live = self
            .tickets
            .values()
            .filter(|t| t.place != Where::Done)
            .count();
        (self.tickets.len() - live, live)
    }
}

/// Runs a workload for `ticks` ticks of `tick_ms`, checking everything from the events.
/// Returns the ledger (with the event hash and counts).
pub fn run_workload(config: Config, seed: u64, players: u64, ticks: u64, tick_ms: u64) -> Ledger {
    let mut matcher = Matcher::new(config.clone(), seed).expect("valid config");
    let mut workload = Workload::new(seed, players, config.clone());
    let mut ledger = Ledger::new(config);
    let mut now = 0;
    for _ in 0..ticks {
        now += tick_ms;
        for command in workload.commands(now) {
            let seq = matcher
                .submit(command.clone())
                .expect("events are drained every tick");
            ledger.submitted(seq, &command);
        }
        matcher.tick(now).expect("events are drained every tick");
        let events: Vec<Event> = matcher.drain_events().collect();
        ledger.record_tick(now, &events, &matcher);
        workload.observe(&events, now);
    }
    matcher.check_invariants();
    ledger
}
