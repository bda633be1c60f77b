//! One scenario per capability of the matcher core, each through the public API only:
//! commands in, ticks, events out.

#![allow(clippy::unwrap_used)] // Tests: a failed unwrap is a failed test.

use std::collections::BTreeMap;
use std::sync::Arc;

use matchwright_ecs::config::{AcceptanceConfig, PartyRating, RatingSystem, SigmaWidening};
use matchwright_ecs::event::{
    AbandonReason, BackfillCloseReason, Limit, MatchCancelReason, RemovalReason,
};
use matchwright_ecs::{
    Command, CommandSeq, Config, Curve, EnqueueTicket, Event, MatchId, MatchSummary, Matcher,
    NO_PING, PartyId, PlayerId, QueueConfig, Rating, RejectReason, SubmittedPings, TicketId,
    TicketMember, check_match_summary,
};

/// Pings to [eu-west, us-east, ap-southeast, sa-east] (the default regions).
const EU: [u16; 4] = [30, 110, 250, 220];
const US: [u16; 4] = [110, 30, 200, 150];
/// Plays in EU only.
const EU_ONLY: [u16; 4] = [30, NO_PING, NO_PING, NO_PING];

struct Harness {
    matcher: Matcher,
    now: u64,
    events: Vec<Event>,
    /// Enqueue commands waiting for their tick, by sequence number.
    enqueues: BTreeMap<CommandSeq, SubmittedPings>,
    /// The pings of every ticket queued, as submitted: what matches are checked against.
    submitted: BTreeMap<TicketId, SubmittedPings>,
}

impl Harness {
    fn new(config: Config) -> Self {
        Self {
            matcher: Matcher::new(config, 1).unwrap(),
            now: 0,
            events: Vec::new(),
            enqueues: BTreeMap::new(),
            submitted: BTreeMap::new(),
        }
    }

    fn submit(&mut self, command: Command) -> u64 {
        let pings = match &command {
            Command::Enqueue(ticket) => Some(SubmittedPings::of(ticket)),
            _ => None,
        };
        let seq = self.matcher.submit(command).unwrap();
        if let Some(pings) = pings {
            self.enqueues.insert(seq, pings);
        }
        seq.0
    }

    fn solo(&mut self, ticket: u64, queue: &str, mu: f64, pings: [u16; 4]) -> u64 {
        self.submit(Command::Enqueue(EnqueueTicket::solo(
            TicketId(ticket),
            queue,
            PlayerId(ticket),
            Rating::new(mu, 100.0),
            pings.to_vec(),
        )))
    }

    fn party(&mut self, ticket: u64, queue: &str, party: u64, members: &[(u64, f64)]) {
        self.submit(Command::CreateParty {
            party: PartyId(party),
            leader: PlayerId(members[0].0),
        });
        for (player, _) in &members[1..] {
            self.submit(Command::JoinParty {
                party: PartyId(party),
                player: PlayerId(*player),
            });
        }
        self.submit(Command::Enqueue(EnqueueTicket {
            ticket: TicketId(ticket),
            queue: queue.into(),
            party: Some(PartyId(party)),
            members: members
                .iter()
                .map(|(player, mu)| TicketMember {
                    player: PlayerId(*player),
                    rating: Rating::new(*mu, 100.0),
                    pings_ms: EU.to_vec(),
                    attributes: Default::default(),
                    roles: Vec::new(),
                    avoid: Vec::new(),
                })
                .collect(),
            max_ping_ms: None,
            waiting_since_ms: None,
            attributes: Default::default(),
        }));
    }

    /// Ticks at `now + step` and returns that tick's events (also kept in `events`).
    fn tick(&mut self, step: u64) -> Vec<Event> {
        self.now += step;
        self.matcher.tick(self.now).unwrap();
        let events: Vec<Event> = self.matcher.drain_events().collect();
        for event in &events {
            if let Event::TicketQueued { seq, ticket, .. } = event {
                let pings = self
                    .enqueues
                    .remove(seq)
                    .expect("a queued ticket was submitted");
                self.submitted.insert(*ticket, pings);
            }
        }
        self.enqueues.clear();
        for event in &events {
            if let Event::MatchFormed { summary } | Event::MatchProposed { summary, .. } = event {
                let submitted = |ticket| self.submitted.get(&ticket).cloned();
                check_match_summary(summary, self.matcher.config(), submitted).unwrap();
            }
        }
        self.events.extend(events.clone());
        events
    }

    /// Ticks every `step` until `until`, returning all events.
    fn run_until(&mut self, until: u64, step: u64) -> Vec<Event> {
        let mut all = Vec::new();
        while self.now < until {
            all.extend(self.tick(step));
        }
        all
    }

    fn formed(&self) -> Vec<Arc<MatchSummary>> {
        self.events
            .iter()
            .filter_map(|event| match event {
                Event::MatchFormed { summary } => Some(Arc::clone(summary)),
                _ => None,
            })
            .collect()
    }

    fn rejection(&self, seq: u64) -> Option<RejectReason> {
        self.events.iter().find_map(|event| match event {
            Event::Rejected { seq: s, reason } if s.0 == seq => Some(reason.clone()),
            _ => None,
        })
    }
}

/// Whether a rejection is the one expected.
type IsExpected = fn(&RejectReason) -> bool;

fn tickets_of(summary: &MatchSummary) -> Vec<u64> {
    let mut ids: Vec<u64> = summary.tickets().map(|t| t.ticket.0).collect();
    ids.sort();
    ids
}

fn single_queue(queue: QueueConfig) -> Config {
    Config {
        queues: vec![queue],
        ..Config::default()
    }
}

fn duel() -> QueueConfig {
    QueueConfig {
        name: "duel".into(),
        teams: 2,
        team_size: 1,
        max_party_size: 1,
        ..QueueConfig::default()
    }
}

#[test]
fn close_ratings_match_at_once_in_the_shared_region() {
    let mut harness = Harness::new(Config::default());
    harness.solo(1, "duel-1v1", 1500.0, EU);
    harness.solo(2, "duel-1v1", 1550.0, EU);
    harness.tick(100);
    let formed = harness.formed();
    assert_eq!(formed.len(), 1);
    assert_eq!(&*formed[0].region, "eu-west");
    assert_eq!(tickets_of(&formed[0]), vec![1, 2]);
    assert_eq!(harness.matcher.queued_tickets(), 0);
}

#[test]
fn a_player_is_busy_from_enqueue_to_the_end_of_their_session() {
    let mut harness = Harness::new(Config::default());
    harness.matcher.number_matches_from(1 << 40).unwrap();
    assert!(
        !harness.matcher.player_is_busy(PlayerId(1)),
        "unknown: free"
    );
    harness.solo(1, "duel-1v1", 1500.0, EU);
    assert!(
        !harness.matcher.player_is_busy(PlayerId(1)),
        "before its tick"
    );
    harness.tick(100);
    assert!(harness.matcher.player_is_busy(PlayerId(1)), "queued");
    harness.solo(2, "duel-1v1", 1500.0, EU);
    harness.tick(100);
    let formed = harness.formed();
    let match_id = formed[0].match_id;
    assert_eq!(match_id, MatchId(1 << 40), "numbered from the base given");
    assert!(harness.matcher.player_is_busy(PlayerId(1)), "in a match");
    harness.submit(Command::EndSession { match_id });
    harness.tick(100);
    assert!(
        !harness.matcher.player_is_busy(PlayerId(1)),
        "the session ended"
    );
    assert!(!harness.matcher.player_is_busy(PlayerId(2)));
    assert!(
        harness.matcher.number_matches_from(5).is_err(),
        "a matcher that numbered a match cannot be renumbered"
    );
}

#[test]
fn the_skill_window_widens_with_waiting_time() {
    // Default curve: linear 75 -> 350 over 60 s, so a 300 gap is accepted after 49.1 s.
    let mut harness = Harness::new(Config::default());
    harness.solo(1, "duel-1v1", 1500.0, EU);
    harness.solo(2, "duel-1v1", 1800.0, EU);
    harness.run_until(49_000, 100);
    assert!(
        harness.formed().is_empty(),
        "matched before the windows allowed it"
    );
    harness.run_until(60_000, 100);
    let formed = harness.formed();
    assert_eq!(formed.len(), 1, "never matched once the windows allowed it");
    // Tried again within one review interval (25 MMR = 5.5 s, capped at the 5 s maximum
    // interval) of the window allowing it.
    assert!(
        formed[0].formed_at_ms <= 54_300,
        "{}",
        formed[0].formed_at_ms
    );
    assert!(formed[0].tickets().all(|t| t.window_mmr >= 300.0));
}

#[test]
fn exponential_and_step_curves_widen_too() {
    for curve in [
        Curve::Exponential {
            start: 50.0,
            end: 800.0,
            over_ms: 40_000,
        },
        Curve::Steps {
            steps: vec![
                matchwright_ecs::curve::Step {
                    after_ms: 0,
                    value: 50.0,
                },
                matchwright_ecs::curve::Step {
                    after_ms: 10_000,
                    value: 400.0,
                },
            ],
        },
    ] {
        let mut harness = Harness::new(single_queue(QueueConfig {
            skill_window: curve.clone(),
            ..duel()
        }));
        harness.solo(1, "duel", 1500.0, EU);
        harness.solo(2, "duel", 1700.0, EU);
        harness.run_until(60_000, 100);
        let formed = harness.formed();
        // No game server ever comes: after the allocation timeout the pair goes back and
        // matches again, keeping its wait.
        assert!((1..=2).contains(&formed.len()), "{curve:?}");
        if let [first, second] = formed.as_slice() {
            assert!(second.formed_at_ms >= first.formed_at_ms + 30_000);
        }
        let at = formed[0].formed_at_ms;
        let opened = curve
            .waited_ms_to_reach(200.0, matchwright_ecs::curve::Direction::NonDecreasing)
            .unwrap();
        assert!(
            at >= opened && at <= opened + 5_100,
            "{curve:?}: at {at}, window opened {opened}"
        );
    }
}

#[test]
fn rating_uncertainty_can_widen_the_window() {
    let queue = QueueConfig {
        sigma_widening: SigmaWidening {
            per_sigma: 0.5,
            above_sigma: 100.0,
        },
        ..duel()
    };
    let mut harness = Harness::new(single_queue(queue));
    for (ticket, mu) in [(1, 1500.0), (2, 1700.0)] {
        harness.submit(Command::Enqueue(EnqueueTicket::solo(
            TicketId(ticket),
            "duel",
            PlayerId(ticket),
            Rating::new(mu, 400.0), // +150 MMR of window each
            EU.to_vec(),
        )));
    }
    harness.tick(100);
    assert_eq!(
        harness.formed().len(),
        1,
        "uncertain players get wider windows at once"
    );
}

#[test]
fn a_match_forms_only_in_a_region_every_member_accepts() {
    // EU player and US player: each other's home is 110 ms away; the latency window
    // (80 -> 200 over 30 s) reaches 110 after 7.5 s.
    let mut harness = Harness::new(Config::default());
    harness.solo(1, "duel-1v1", 1500.0, EU);
    harness.solo(2, "duel-1v1", 1500.0, US);
    harness.run_until(7_400, 100);
    assert!(harness.formed().is_empty());
    harness.run_until(9_000, 100);
    let formed = harness.formed();
    assert_eq!(formed.len(), 1);
    assert!(formed[0].formed_at_ms >= 7_500);
    let mut pings: Vec<u16> = formed[0].tickets().map(|t| t.ping_ms).collect();
    pings.sort();
    assert_eq!(
        pings,
        vec![30, 110],
        "one plays at home, the other 110 ms away"
    );
    for ticket in formed[0].tickets() {
        assert!(f64::from(ticket.ping_ms) <= ticket.ping_limit_ms);
    }
}

#[test]
fn a_ticket_never_plays_above_its_own_max_ping() {
    // Each caps its ping at 100 ms: the other's home (110 ms away) is out for both, and no
    // other region is within 100 ms of both. Without the caps they match (test above).
    let mut harness = Harness::new(Config::default());
    for (ticket, pings) in [(1, EU), (2, US)] {
        let mut capped = EnqueueTicket::solo(
            TicketId(ticket),
            "duel-1v1",
            PlayerId(ticket),
            Rating::new(1500.0, 100.0),
            pings.to_vec(),
        );
        capped.max_ping_ms = Some(100);
        harness.submit(Command::Enqueue(capped));
    }
    harness.run_until(200_000, 500);
    assert!(
        harness.formed().is_empty(),
        "the caps of 100 ms leave no common region"
    );
    // Both wait to their expiry.
    harness.run_until(301_000, 500);
    let expired = harness
        .events
        .iter()
        .filter(|e| {
            matches!(
                e,
                Event::TicketRemoved {
                    reason: RemovalReason::Expired,
                    ..
                }
            )
        })
        .count();
    assert_eq!(expired, 2);
}

/// Regression: `check_match_summary` judged latency by the ping the match reported, so a
/// matcher that reported a smaller ping, or let a ticket past its own cap, passed. It now
/// judges each ticket by the pings it submitted.
#[test]
fn the_fairness_check_judges_latency_by_the_submitted_pings() {
    let mut harness = Harness::new(Config::default());
    harness.solo(1, "duel-1v1", 1500.0, EU);
    harness.solo(2, "duel-1v1", 1500.0, US);
    harness.run_until(60_000, 500);
    let formed = harness.formed();
    assert!(!formed.is_empty(), "they meet at one's home");
    let config = harness.matcher.config().clone();
    let submitted = harness.submitted.clone();
    let honest = |ticket| submitted.get(&ticket).cloned();
    assert_eq!(check_match_summary(&formed[0], &config, honest), Ok(()));

    // The match reports a smaller ping than the away player's own.
    let mut smaller = (*formed[0]).clone();
    for ticket in smaller.teams.iter_mut().flatten() {
        ticket.ping_ms = 30;
    }
    let why = check_match_summary(&smaller, &config, honest).unwrap_err();
    assert!(why.contains("reported ping 30"), "{why}");

    // The away player had capped its ping below the one it got.
    let away = formed[0]
        .tickets()
        .find(|ticket| ticket.ping_ms == 110)
        .expect("one plays 110 ms away")
        .ticket;
    let capped = |ticket| {
        let mut pings = submitted.get(&ticket).cloned()?;
        if ticket == away {
            pings.max_ping_ms = Some(100);
        }
        Some(pings)
    };
    let why = check_match_summary(&formed[0], &config, capped).unwrap_err();
    assert!(why.contains("ping 110 above its limit 100"), "{why}");

    // A ticket the checker never saw submitted.
    let why = check_match_summary(&formed[0], &config, |_| None).unwrap_err();
    assert!(why.contains("never submitted"), "{why}");
}

#[test]
fn parties_land_whole_on_one_team() {
    let mut harness = Harness::new(Config::default());
    harness.party(1, "ranked-5v5", 1, &[(1, 1500.0), (2, 1520.0), (3, 1480.0)]);
    harness.party(2, "ranked-5v5", 2, &[(4, 1500.0), (5, 1510.0)]);
    harness.party(3, "ranked-5v5", 3, &[(6, 1490.0), (7, 1505.0)]);
    for player in 8..=10 {
        harness.solo(player, "ranked-5v5", 1500.0, EU);
    }
    harness.tick(100);
    let formed = harness.formed();
    assert_eq!(formed.len(), 1);
    for team in &formed[0].teams {
        assert_eq!(team.iter().map(|t| t.players.len()).sum::<usize>(), 5);
    }
    let team_of = |party: u64| {
        formed[0]
            .teams
            .iter()
            .position(|team| team.iter().any(|t| t.party == Some(PartyId(party))))
            .unwrap()
    };
    // The three-stack needs two solos; the two duos go together with one solo.
    assert_ne!(team_of(1), team_of(2));
    assert_eq!(team_of(2), team_of(3));
}

#[test]
fn party_ratings_aggregate_as_configured() {
    let queue = QueueConfig {
        name: "duo".into(),
        teams: 2,
        team_size: 2,
        max_party_size: 2,
        party_rating: PartyRating::Max,
        ..QueueConfig::default()
    };
    let mut harness = Harness::new(single_queue(queue));
    harness.party(1, "duo", 1, &[(1, 1300.0), (2, 1700.0)]);
    harness.party(2, "duo", 2, &[(3, 1650.0), (4, 1750.0)]);
    harness.tick(100);
    let formed = harness.formed();
    assert_eq!(
        formed.len(),
        1,
        "max(1300, 1700) = 1700 is close to max(1650, 1750) = 1750"
    );
    let ratings: Vec<f64> = formed[0].tickets().map(|t| t.rating).collect();
    assert!(ratings.contains(&1700.0) && ratings.contains(&1750.0));
}

#[test]
fn teams_are_split_to_minimise_the_rating_gap() {
    let mut harness = Harness::new(Config::default());
    let ratings = [
        1400.0, 1460.0, 1480.0, 1500.0, 1505.0, 1510.0, 1520.0, 1540.0, 1560.0, 1590.0,
    ];
    for (index, mu) in ratings.iter().enumerate() {
        harness.solo(index as u64 + 1, "ranked-5v5", *mu, EU);
    }
    // They span 190 MMR: one match once every window is that wide (about 25 s).
    harness.run_until(35_000, 100);
    let formed = harness.formed();
    assert_eq!(formed.len(), 1);
    let sums: Vec<f64> = formed[0]
        .teams
        .iter()
        .map(|team| team.iter().map(|t| t.rating).sum())
        .collect();
    let gap = (sums[0] - sums[1]).abs();
    // Best possible over all 126 splits.
    let mut best = f64::INFINITY;
    for mask in 0_u32..1024 {
        if mask.count_ones() == 5 {
            let one: f64 = (0..10)
                .filter(|i| mask >> i & 1 == 1)
                .map(|i| ratings[i])
                .sum();
            let two: f64 = ratings.iter().sum::<f64>() - one;
            best = best.min((one - two).abs());
        }
    }
    assert!((gap - best).abs() < 1e-6, "gap {gap}, best {best}");
}

#[test]
fn three_team_free_for_all() {
    let mut harness = Harness::new(Config::default());
    harness.party(1, "trios-ffa", 1, &[(1, 1500.0), (2, 1510.0), (3, 1490.0)]);
    for player in 4..=9 {
        harness.solo(player, "trios-ffa", 1480.0 + player as f64 * 5.0, EU);
    }
    harness.tick(100);
    let formed = harness.formed();
    assert_eq!(formed.len(), 1);
    assert_eq!(formed[0].teams.len(), 3);
    assert!(formed[0].quality > 0.0 && formed[0].quality <= 1.0);
}

#[test]
fn the_quality_floor_holds_until_it_relaxes() {
    // Two brand-new players (sigma 500): quality sqrt(2b^2 / (2b^2 + 2s^2)) = 0.447.
    let queue = QueueConfig {
        quality_floor: Curve::linear(0.6, 0.2, 20_000),
        ..duel()
    };
    let mut harness = Harness::new(single_queue(queue));
    for ticket in [1, 2] {
        harness.submit(Command::Enqueue(EnqueueTicket::solo(
            TicketId(ticket),
            "duel",
            PlayerId(ticket),
            Rating::new(1500.0, 500.0),
            EU.to_vec(),
        )));
    }
    // The floor reaches 0.447 after (0.6 - 0.447) / 0.4 * 20 s = 7.6 s.
    harness.run_until(7_500, 100);
    assert!(harness.formed().is_empty());
    harness.run_until(12_000, 100);
    let formed = harness.formed();
    assert_eq!(formed.len(), 1);
    assert!(formed[0].quality >= formed[0].quality_floor);
    assert!((formed[0].quality - 0.4472).abs() < 1e-3);
}

fn acceptance_duel(timeout_ms: u64) -> Config {
    single_queue(QueueConfig {
        acceptance: Some(AcceptanceConfig { timeout_ms }),
        ..duel()
    })
}

fn proposals(events: &[Event]) -> Vec<(MatchId, Arc<MatchSummary>)> {
    events
        .iter()
        .filter_map(|event| match event {
            Event::MatchProposed { summary, .. } => Some((summary.match_id, Arc::clone(summary))),
            _ => None,
        })
        .collect()
}

/// Queues two equal solos in an acceptance duel and returns the match proposed to them.
fn propose_duel(harness: &mut Harness) -> MatchId {
    harness.solo(1, "duel", 1500.0, EU);
    harness.solo(2, "duel", 1500.0, EU);
    let events = harness.tick(100);
    proposals(&events)[0].0
}

#[test]
fn acceptance_by_everyone_starts_the_session() {
    let mut harness = Harness::new(acceptance_duel(10_000));
    let match_id = propose_duel(&mut harness);
    assert!(harness.formed().is_empty());
    for player in [1, 2] {
        harness.submit(Command::AcceptMatch {
            match_id,
            player: PlayerId(player),
        });
    }
    harness.tick(100);
    assert_eq!(harness.formed().len(), 1);
    assert_eq!(harness.formed()[0].match_id, match_id);
}

#[test]
fn a_decliner_leaves_and_the_others_go_back_keeping_their_wait() {
    let mut harness = Harness::new(acceptance_duel(10_000));
    let match_id = propose_duel(&mut harness);
    harness.submit(Command::AcceptMatch {
        match_id,
        player: PlayerId(1),
    });
    harness.submit(Command::DeclineMatch {
        match_id,
        player: PlayerId(2),
    });
    harness.solo(3, "duel", 1500.0, EU);
    let events = harness.tick(1_000);
    assert!(events.iter().any(|e| matches!(
        e,
        Event::MatchCancelled { reason: MatchCancelReason::Declined { players }, .. } if players == &vec![PlayerId(2)]
    )));
    assert!(events.iter().any(|e| matches!(
        e,
        Event::TicketRemoved {
            ticket: TicketId(2),
            reason: RemovalReason::Declined,
            ..
        }
    )));
    assert!(events.iter().any(|e| matches!(
        e,
        Event::TicketRequeued {
            ticket: TicketId(1),
            ..
        }
    )));
    // Ticket 1 is back with its original enqueue time and is matched again with ticket 3.
    let (_, summary) = proposals(&events)[0].clone();
    let ticket_one = summary.tickets().find(|t| t.ticket == TicketId(1)).unwrap();
    assert_eq!(ticket_one.enqueued_at_ms, 100);
    assert_eq!(ticket_one.waited_ms, 1_000);
}

#[test]
fn an_operator_cancels_a_proposal_or_an_allocating_session_and_every_ticket_goes_back() {
    let mut harness = Harness::new(acceptance_duel(10_000));
    let match_id = propose_duel(&mut harness);
    harness.submit(Command::AcceptMatch {
        match_id,
        player: PlayerId(1),
    });
    harness.submit(Command::CancelMatch { match_id });
    let events = harness.tick(1_000);
    assert!(events.iter().any(|e| matches!(
        e,
        Event::MatchCancelled { match_id: m, reason: MatchCancelReason::Cancelled } if *m == match_id
    )));
    for ticket in [TicketId(1), TicketId(2)] {
        assert!(
            events
                .iter()
                .any(|e| matches!(e, Event::TicketRequeued { ticket: t, .. } if *t == ticket)),
            "{ticket:?} goes back"
        );
    }
    // Back with their wait: they meet again in a new proposal.
    let (again, summary) = proposals(&events)[0].clone();
    assert_ne!(again, match_id);
    assert!(summary.tickets().all(|t| t.enqueued_at_ms == 100));
    // Accepted by both, the session allocates; cancelled then, it is abandoned, the tickets
    // go back, and the region is not backed off (they meet again at once).
    for player in [1, 2] {
        harness.submit(Command::AcceptMatch {
            match_id: again,
            player: PlayerId(player),
        });
    }
    harness.tick(100);
    assert_eq!(harness.formed().last().map(|s| s.match_id), Some(again));
    harness.submit(Command::CancelMatch { match_id: again });
    let events = harness.tick(100);
    assert!(events.iter().any(|e| matches!(
        e,
        Event::SessionAbandoned { match_id: m, reason: AbandonReason::Cancelled } if *m == again
    )));
    let requeued = events
        .iter()
        .filter(|e| matches!(e, Event::TicketRequeued { match_id: m, .. } if *m == again))
        .count();
    assert_eq!(requeued, 2);
    // No region backoff (5 s by default): they are proposed again in the same tick.
    assert_eq!(proposals(&events).len(), 1, "proposed again at once");
    harness.matcher.check_invariants();
}

#[test]
fn an_operator_cannot_cancel_a_match_being_played_or_one_that_is_gone() {
    let mut harness = Harness::new(duo_config());
    let match_id = running_duo_session(&mut harness);
    let playing = harness.submit(Command::CancelMatch { match_id });
    let unknown = harness.submit(Command::CancelMatch {
        match_id: MatchId(999),
    });
    harness.tick(100);
    assert!(matches!(
        harness.rejection(playing),
        Some(RejectReason::WrongMatchPhase { .. })
    ));
    assert!(matches!(
        harness.rejection(unknown),
        Some(RejectReason::UnknownMatch { .. })
    ));
    harness.matcher.check_invariants();
}

#[test]
fn players_who_do_not_answer_in_time_leave_the_queue() {
    let mut harness = Harness::new(acceptance_duel(5_000));
    let match_id = propose_duel(&mut harness);
    harness.submit(Command::AcceptMatch {
        match_id,
        player: PlayerId(2),
    });
    let events = harness.run_until(5_200, 100);
    assert!(events.iter().any(|e| matches!(
        e,
        Event::MatchCancelled { reason: MatchCancelReason::TimedOut { players }, .. } if players == &vec![PlayerId(1)]
    )));
    assert!(events.iter().any(|e| matches!(
        e,
        Event::TicketRemoved {
            ticket: TicketId(1),
            reason: RemovalReason::AcceptanceTimedOut,
            ..
        }
    )));
    assert_eq!(
        harness.matcher.queued_tickets(),
        1,
        "the player who accepted is back"
    );
}

#[test]
fn the_oldest_due_tickets_are_served_first() {
    let mut config = acceptance_duel(60_000);
    config.queues[0].max_matches_per_tick = 1;
    let mut harness = Harness::new(config);
    // t=100: A and B are proposed; t=200: B declines, A goes back with its wait from t=100.
    harness.solo(1, "duel", 1000.0, EU);
    harness.solo(2, "duel", 1000.0, EU);
    let events = harness.tick(100);
    let (match_id, _) = proposals(&events)[0].clone();
    harness.submit(Command::DeclineMatch {
        match_id,
        player: PlayerId(2),
    });
    // Newer tickets that could match among themselves, and one partner for A.
    harness.solo(3, "duel", 2000.0, EU);
    harness.solo(4, "duel", 2000.0, EU);
    harness.solo(5, "duel", 1000.0, EU);
    let events = harness.tick(100);
    let proposed = proposals(&events);
    assert_eq!(proposed.len(), 1, "one match per tick");
    assert_eq!(
        tickets_of(&proposed[0].1),
        vec![1, 5],
        "the oldest ticket goes first"
    );
    assert!(events.iter().any(|e| matches!(
        e,
        Event::LimitReached {
            limit: Limit::MatchesPerTick,
            deferred: 2,
            ..
        }
    )));
    let events = harness.tick(100);
    assert_eq!(
        tickets_of(&proposals(&events)[0].1),
        vec![3, 4],
        "the rest next tick"
    );
}

/// Starts a 2v2 session of solos 1..=4 and returns its id.
fn running_duo_session(harness: &mut Harness) -> MatchId {
    for player in 1..=4 {
        harness.solo(player, "duo", 1500.0, EU);
    }
    harness.tick(100);
    let match_id = harness.formed().last().expect("a 2v2 formed").match_id;
    harness.submit(Command::SessionReady {
        match_id,
        server: String::new(),
    });
    harness.tick(100);
    match_id
}

fn duo_config() -> Config {
    single_queue(QueueConfig {
        name: "duo".into(),
        teams: 2,
        team_size: 2,
        max_party_size: 2,
        ..QueueConfig::default()
    })
}

#[test]
fn backfill_requests_go_before_new_matches() {
    let mut harness = Harness::new(duo_config());
    let match_id = running_duo_session(&mut harness);
    let team_of_one = harness.formed()[0]
        .teams
        .iter()
        .position(|team| team.iter().any(|t| t.ticket == TicketId(1)))
        .unwrap();
    harness.submit(Command::LeaveSession {
        match_id,
        player: PlayerId(1),
    });
    let mut slots = vec![0, 0];
    slots[team_of_one] = 1;
    harness.submit(Command::RequestBackfill {
        match_id,
        open_slots: slots,
    });
    // Four newcomers who could make a 2v2 of their own; one goes to the session first.
    for player in 10..=13 {
        harness.solo(player, "duo", 1500.0, EU);
    }
    let events = harness.tick(100);
    let filled = events
        .iter()
        .position(|e| matches!(e, Event::BackfillFilled { .. }))
        .expect("backfill filled");
    assert!(
        !events[..filled]
            .iter()
            .any(|e| matches!(e, Event::MatchFormed { .. })),
        "backfill comes first"
    );
    let Event::BackfillFilled {
        tickets,
        open_slots,
        ..
    } = &events[filled]
    else {
        unreachable!()
    };
    assert_eq!(tickets.len(), 1);
    assert_eq!(usize::from(tickets[0].team), team_of_one);
    assert_eq!(open_slots, &vec![0, 0]);
    assert!(events.iter().any(|e| matches!(
        e,
        Event::BackfillClosed {
            reason: BackfillCloseReason::Filled,
            ..
        }
    )));
    assert_eq!(
        harness.matcher.queued_tickets(),
        3,
        "three newcomers wait for a fourth"
    );
}

#[test]
fn sessions_go_from_allocating_to_active_to_ended_and_ratings_move() {
    let mut harness = Harness::new(duo_config());
    let match_id = running_duo_session(&mut harness);
    assert!(
        harness
            .events
            .iter()
            .any(|e| matches!(e, Event::SessionActive { .. }))
    );
    harness.submit(Command::Heartbeat { match_id });
    harness.tick(20_000);
    harness.submit(Command::Heartbeat { match_id });
    harness.tick(20_000);
    harness.submit(Command::ReportResult {
        match_id,
        placements: vec![1, 2],
    });
    let events = harness.tick(100);
    let updates = events
        .iter()
        .find_map(|e| match e {
            Event::RatingsUpdated { updates, mode, .. } => {
                assert_eq!(mode, "duo");
                Some(updates.clone())
            }
            _ => None,
        })
        .expect("ratings updated");
    assert_eq!(updates.len(), 4);
    let winners: Vec<PlayerId> = harness.formed()[0].teams[0]
        .iter()
        .flat_map(|t| t.players.iter().map(|p| p.player))
        .collect();
    for update in updates {
        let won = winners.contains(&update.player);
        assert_eq!(update.after.mu > update.before.mu, won, "{update:?}");
    }
    assert!(events.iter().any(|e| matches!(
        e,
        Event::SessionEnded {
            placements: Some(_),
            ..
        }
    )));
    assert_eq!(harness.matcher.live_matches(), 0);
    // The players can queue again.
    let seq = harness.solo(1, "duo", 1500.0, EU);
    harness.tick(100);
    assert!(harness.rejection(seq).is_none());
}

#[test]
fn every_rating_system_can_be_selected() {
    for system in [
        RatingSystem::WengLin,
        RatingSystem::TrueSkill,
        RatingSystem::Glicko2,
    ] {
        let mut config = duo_config();
        config.rating.system = system;
        let mut harness = Harness::new(config);
        let match_id = running_duo_session(&mut harness);
        harness.submit(Command::ReportResult {
            match_id,
            placements: vec![2, 1],
        });
        let events = harness.tick(100);
        assert!(
            events
                .iter()
                .any(|e| matches!(e, Event::RatingsUpdated { .. })),
            "{system:?}"
        );
    }
}

#[test]
fn silent_game_servers_get_their_sessions_abandoned() {
    let mut harness = Harness::new(duo_config());
    for player in 1..=4 {
        harness.solo(player, "duo", 1500.0, EU);
    }
    harness.tick(100);
    let events = harness.run_until(31_000, 1_000);
    assert!(events.iter().any(|e| matches!(
        e,
        Event::SessionAbandoned {
            reason: AbandonReason::AllocationTimedOut,
            ..
        }
    )));
    let match_id = running_duo_session(&mut harness);
    let events = harness.run_until(harness.now + 31_000, 1_000);
    assert!(events.iter().any(|e| matches!(
        e,
        Event::SessionAbandoned { match_id: m, reason: AbandonReason::HeartbeatTimedOut } if *m == match_id
    )));
}

#[test]
fn a_failed_allocation_requeues_the_tickets_with_their_wait_and_backs_the_region_off() {
    let mut config = Config::default();
    config.sessions.allocation_backoff_ms = 5_000;
    let mut harness = Harness::new(config);
    harness.tick(10_000);
    harness.solo(1, "duel-1v1", 1500.0, EU_ONLY);
    harness.solo(2, "duel-1v1", 1500.0, EU_ONLY);
    harness.tick(100);
    let summary = harness.formed().last().cloned().expect("a duel formed");
    let match_id = summary.match_id;
    let since: Vec<(TicketId, u64)> = summary
        .tickets()
        .map(|t| (t.ticket, t.enqueued_at_ms))
        .collect();
    // While it allocates, its players can neither queue again nor cancel the match away.
    let cancel = harness.submit(Command::Cancel {
        ticket: TicketId(1),
    });
    harness.tick(100);
    assert!(matches!(
        harness.rejection(cancel),
        Some(RejectReason::WrongMatchPhase { .. })
    ));
    let failed_at = harness.now + 100;
    let seq = harness.submit(Command::AllocationFailed { match_id });
    let events = harness.tick(100);
    assert_eq!(harness.rejection(seq), None);
    // The session is abandoned, nobody is rated, and both tickets are back in the queue
    // (one event each, right after the abandon), keeping their enqueue time.
    let abandoned_at = events
        .iter()
        .position(|e| matches!(e, Event::SessionAbandoned { match_id: m, reason: AbandonReason::AllocationFailed } if *m == match_id))
        .expect("abandoned");
    let requeued: Vec<TicketId> = events[abandoned_at..]
        .iter()
        .filter_map(|e| match e {
            Event::TicketRequeued {
                ticket,
                match_id: m,
            } if *m == match_id => Some(*ticket),
            _ => None,
        })
        .collect();
    assert_eq!(requeued, vec![TicketId(1), TicketId(2)]);
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, Event::RatingsUpdated { .. }))
    );
    assert_eq!(harness.matcher.queued_tickets(), 2);
    let again = harness.submit(Command::AllocationFailed { match_id });
    harness.tick(100);
    assert!(matches!(
        harness.rejection(again),
        Some(RejectReason::UnknownMatch { .. })
    ));
    // The region is backed off: the same pair does not match again before the backoff ends,
    // then does, with its whole waiting time.
    let events = harness.run_until(failed_at + 4_900, 100);
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, Event::MatchFormed { .. })),
        "no match forms in a region backing off"
    );
    harness.run_until(failed_at + 5_100, 100);
    let rematched = harness.formed().last().cloned().expect("formed again");
    assert_ne!(rematched.match_id, match_id);
    assert!(rematched.formed_at_ms >= failed_at + 5_000);
    let kept: Vec<(TicketId, u64)> = rematched
        .tickets()
        .map(|t| (t.ticket, t.enqueued_at_ms))
        .collect();
    assert_eq!(kept, since, "waiting time kept");
    // Once its server is up, the session cannot fail allocation, and its tickets are done.
    harness.submit(Command::SessionReady {
        match_id: rematched.match_id,
        server: "10.0.0.9:7777".into(),
    });
    let events = harness.tick(100);
    assert!(events.iter().any(|e| matches!(
        e,
        Event::SessionActive { server, .. } if server == "10.0.0.9:7777"
    )));
    assert_eq!(harness.matcher.counts().tickets, 0);
    let late = harness.submit(Command::AllocationFailed {
        match_id: rematched.match_id,
    });
    harness.tick(100);
    assert!(matches!(
        harness.rejection(late),
        Some(RejectReason::WrongMatchPhase { .. })
    ));
    harness.matcher.check_invariants();
}

#[test]
fn a_session_ending_in_a_region_lifts_its_backoff_and_a_timed_out_allocation_requeues() {
    let mut config = duo_config();
    config.sessions.allocation_backoff_ms = 60_000;
    let mut harness = Harness::new(config);
    let running = running_duo_session(&mut harness);
    for player in 11..=14 {
        harness.solo(player, "duo", 1500.0, EU_ONLY);
    }
    harness.tick(100);
    let failed = harness.formed().last().expect("a second 2v2").match_id;
    assert_ne!(failed, running);
    harness.submit(Command::AllocationFailed { match_id: failed });
    harness.tick(100);
    let events = harness.run_until(harness.now + 10_000, 1_000);
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, Event::MatchFormed { .. }))
    );
    // A server frees up: the region opens at once, and the waiting tickets match at their
    // next review (within `review.max_interval_ms`), long before the backoff would end.
    harness.submit(Command::EndSession { match_id: running });
    harness.tick(100);
    let events = harness.run_until(harness.now + 5_100, 100);
    let formed: Vec<MatchId> = events
        .iter()
        .filter_map(|e| match e {
            Event::MatchFormed { summary } => Some(summary.match_id),
            _ => None,
        })
        .collect();
    assert_eq!(formed.len(), 1, "{events:?}");
    // No server comes at all: after the allocation timeout its tickets are back too.
    let events = harness.run_until(harness.now + 31_000, 1_000);
    assert!(events.iter().any(|e| matches!(
        e,
        Event::SessionAbandoned { match_id, reason: AbandonReason::AllocationTimedOut } if *match_id == formed[0]
    )));
    let requeued = events
        .iter()
        .filter(|e| matches!(e, Event::TicketRequeued { match_id, .. } if *match_id == formed[0]))
        .count();
    assert_eq!(requeued, 4);
    harness.matcher.check_invariants();
}

#[test]
fn cancel_and_expiry_take_tickets_out() {
    let mut harness = Harness::new(Config::default());
    harness.solo(1, "duel-1v1", 1000.0, EU);
    harness.solo(2, "duel-1v1", 2000.0, EU);
    harness.tick(100);
    harness.submit(Command::Cancel {
        ticket: TicketId(1),
    });
    let events = harness.tick(100);
    assert!(events.iter().any(|e| matches!(
        e,
        Event::TicketRemoved {
            ticket: TicketId(1),
            reason: RemovalReason::Cancelled,
            waited_ms: 100
        }
    )));
    let events = harness.run_until(300_100, 1_000);
    assert!(events.iter().any(|e| matches!(
        e,
        Event::TicketRemoved { ticket: TicketId(2), reason: RemovalReason::Expired, waited_ms }
            if *waited_ms >= 300_000 && *waited_ms < 301_000
    )));
    assert_eq!(harness.matcher.queued_tickets(), 0);
}

#[test]
fn bad_commands_are_rejected_with_the_reason_and_change_nothing() {
    let mut harness = Harness::new(Config::default());
    let good = harness.solo(1, "duel-1v1", 1500.0, EU);
    let cases: Vec<(Command, IsExpected)> = vec![
        (
            Command::Enqueue(EnqueueTicket::solo(
                TicketId(9),
                "nope",
                PlayerId(9),
                Rating::new(1500.0, 100.0),
                EU.to_vec(),
            )),
            |r| matches!(r, RejectReason::UnknownQueue { .. }),
        ),
        (
            Command::Enqueue(EnqueueTicket::solo(
                TicketId(1),
                "duel-1v1",
                PlayerId(9),
                Rating::new(1500.0, 100.0),
                EU.to_vec(),
            )),
            |r| matches!(r, RejectReason::DuplicateTicket { .. }),
        ),
        (
            Command::Enqueue(EnqueueTicket::solo(
                TicketId(9),
                "duel-1v1",
                PlayerId(1),
                Rating::new(1500.0, 100.0),
                EU.to_vec(),
            )),
            |r| {
                matches!(
                    r,
                    RejectReason::PlayerAlreadyQueued {
                        player: PlayerId(1),
                        ticket: TicketId(1)
                    }
                )
            },
        ),
        (
            Command::Enqueue(EnqueueTicket::solo(
                TicketId(9),
                "duel-1v1",
                PlayerId(9),
                Rating::new(f64::NAN, 100.0),
                EU.to_vec(),
            )),
            |r| matches!(r, RejectReason::InvalidRating { .. }),
        ),
        (
            Command::Enqueue(EnqueueTicket::solo(
                TicketId(9),
                "duel-1v1",
                PlayerId(9),
                Rating::new(1500.0, -1.0),
                EU.to_vec(),
            )),
            |r| matches!(r, RejectReason::InvalidRating { .. }),
        ),
        (
            Command::Enqueue(EnqueueTicket::solo(
                TicketId(9),
                "duel-1v1",
                PlayerId(9),
                Rating::new(1500.0, 100.0),
                vec![30],
            )),
            |r| {
                matches!(
                    r,
                    RejectReason::PingsDoNotMatchRegions {
                        expected: 4,
                        got: 1,
                        ..
                    }
                )
            },
        ),
        (
            Command::Enqueue(EnqueueTicket::solo(
                TicketId(9),
                "duel-1v1",
                PlayerId(9),
                Rating::new(1500.0, 100.0),
                vec![NO_PING; 4],
            )),
            |r| matches!(r, RejectReason::NoReachableRegion),
        ),
        (
            Command::Enqueue(EnqueueTicket {
                ticket: TicketId(9),
                queue: "duel-1v1".into(),
                party: None,
                members: vec![],
                max_ping_ms: None,
                waiting_since_ms: None,
                attributes: Default::default(),
            }),
            |r| matches!(r, RejectReason::EmptyTicket),
        ),
        (
            Command::Enqueue(EnqueueTicket {
                ticket: TicketId(9),
                queue: "ranked-5v5".into(),
                party: None,
                members: (20..22)
                    .map(|p| TicketMember {
                        player: PlayerId(p),
                        rating: Rating::new(1500.0, 100.0),
                        pings_ms: EU.to_vec(),
                        attributes: Default::default(),
                        roles: Vec::new(),
                        avoid: Vec::new(),
                    })
                    .collect(),
                max_ping_ms: None,
                waiting_since_ms: None,
                attributes: Default::default(),
            }),
            |r| matches!(r, RejectReason::PartyRequired),
        ),
        (
            Command::Enqueue(EnqueueTicket {
                ticket: TicketId(9),
                queue: "duel-1v1".into(),
                party: None,
                members: (20..22)
                    .map(|p| TicketMember {
                        player: PlayerId(p),
                        rating: Rating::new(1500.0, 100.0),
                        pings_ms: EU.to_vec(),
                        attributes: Default::default(),
                        roles: Vec::new(),
                        avoid: Vec::new(),
                    })
                    .collect(),
                max_ping_ms: None,
                waiting_since_ms: None,
                attributes: Default::default(),
            }),
            |r| matches!(r, RejectReason::PartyTooLarge { size: 2, max: 1 }),
        ),
        (
            Command::Cancel {
                ticket: TicketId(77),
            },
            |r| matches!(r, RejectReason::UnknownTicket { .. }),
        ),
        (
            Command::AcceptMatch {
                match_id: MatchId(77),
                player: PlayerId(1),
            },
            |r| matches!(r, RejectReason::UnknownMatch { .. }),
        ),
        (
            Command::JoinParty {
                party: PartyId(77),
                player: PlayerId(1),
            },
            |r| matches!(r, RejectReason::UnknownParty { .. }),
        ),
    ];
    let mut seqs = Vec::new();
    for (command, _) in &cases {
        seqs.push(harness.submit(command.clone()));
    }
    harness.tick(100);
    assert!(harness.rejection(good).is_none());
    for ((command, expected), seq) in cases.iter().zip(seqs) {
        let reason = harness
            .rejection(seq)
            .unwrap_or_else(|| panic!("{command:?} was not rejected"));
        assert!(expected(&reason), "{command:?} rejected as {reason:?}");
        assert!(!reason.to_string().is_empty());
    }
    assert_eq!(harness.matcher.queued_tickets(), 1);
}

#[test]
fn party_commands_check_membership_and_state() {
    let mut config = Config::default();
    config.limits.max_parties = 1;
    config.limits.max_party_size = 2;
    for queue in &mut config.queues {
        queue.max_party_size = queue.max_party_size.min(2);
    }
    let mut harness = Harness::new(config);
    let create = harness.submit(Command::CreateParty {
        party: PartyId(1),
        leader: PlayerId(1),
    });
    let second = harness.submit(Command::CreateParty {
        party: PartyId(2),
        leader: PlayerId(5),
    });
    let join = harness.submit(Command::JoinParty {
        party: PartyId(1),
        player: PlayerId(2),
    });
    let full = harness.submit(Command::JoinParty {
        party: PartyId(1),
        player: PlayerId(3),
    });
    let twice = harness.submit(Command::CreateParty {
        party: PartyId(1),
        leader: PlayerId(4),
    });
    let mismatch = harness.submit(Command::Enqueue(EnqueueTicket {
        ticket: TicketId(1),
        queue: "ranked-5v5".into(),
        party: Some(PartyId(1)),
        members: vec![TicketMember {
            player: PlayerId(1),
            rating: Rating::new(1500.0, 100.0),
            pings_ms: EU.to_vec(),
            attributes: Default::default(),
            roles: Vec::new(),
            avoid: Vec::new(),
        }],
        max_ping_ms: None,
        waiting_since_ms: None,
        attributes: Default::default(),
    }));
    let solo_in_party = harness.solo(2, "duel-1v1", 1500.0, EU);
    harness.tick(100);
    assert!(harness.rejection(create).is_none() && harness.rejection(join).is_none());
    assert!(matches!(
        harness.rejection(second),
        Some(RejectReason::TooManyParties { limit: 1 })
    ));
    assert!(matches!(
        harness.rejection(full),
        Some(RejectReason::PartyFull { max: 2, .. })
    ));
    assert!(matches!(
        harness.rejection(twice),
        Some(RejectReason::PartyExists { .. })
    ));
    assert!(matches!(
        harness.rejection(mismatch),
        Some(RejectReason::PartyMembersMismatch { .. })
    ));
    assert!(matches!(
        harness.rejection(solo_in_party),
        Some(RejectReason::PlayerInParty { .. })
    ));
    // A queued party cannot change; leaving cancels its ticket.
    harness.party_enqueue_existing();
    let busy = harness.submit(Command::JoinParty {
        party: PartyId(1),
        player: PlayerId(9),
    });
    harness.submit(Command::LeaveParty {
        party: PartyId(1),
        player: PlayerId(2),
    });
    let events = harness.tick(100);
    assert!(matches!(
        harness.rejection(busy),
        Some(RejectReason::PartyBusy { .. })
    ));
    assert!(events.iter().any(|e| matches!(
        e,
        Event::TicketRemoved {
            reason: RemovalReason::PartyChanged,
            ..
        }
    )));
    assert_eq!(harness.matcher.queued_tickets(), 0);
}

impl Harness {
    /// Queues the existing party 1 (players 1 and 2) and ticks.
    fn party_enqueue_existing(&mut self) {
        self.submit(Command::Enqueue(EnqueueTicket {
            ticket: TicketId(50),
            queue: "ranked-5v5".into(),
            party: Some(PartyId(1)),
            members: [1, 2]
                .iter()
                .map(|p| TicketMember {
                    player: PlayerId(*p),
                    rating: Rating::new(1500.0, 100.0),
                    pings_ms: EU.to_vec(),
                    attributes: Default::default(),
                    roles: Vec::new(),
                    avoid: Vec::new(),
                })
                .collect(),
            max_ping_ms: None,
            waiting_since_ms: None,
            attributes: Default::default(),
        }));
        self.tick(100);
        assert_eq!(self.matcher.queued_tickets(), 1);
    }
}

#[test]
fn limits_reject_or_defer_with_a_clear_event() {
    let mut config = Config::default();
    config.limits.max_commands_per_tick = 3;
    config.queues[0].max_tickets = 2;
    let mut harness = Harness::new(config);
    let seqs: Vec<u64> = (1..=4)
        .map(|ticket| harness.solo(ticket, "duel-1v1", 1000.0 * ticket as f64, EU))
        .collect();
    harness.tick(100);
    assert!(harness.rejection(seqs[0]).is_none() && harness.rejection(seqs[1]).is_none());
    assert!(matches!(
        harness.rejection(seqs[2]),
        Some(RejectReason::QueueFull { limit: 2, .. })
    ));
    assert!(matches!(
        harness.rejection(seqs[3]),
        Some(RejectReason::TooManyCommands { limit: 3 })
    ));
}

#[test]
fn undrained_events_are_bounded() {
    let mut config = Config::default();
    config.limits.max_undrained_events = 2;
    let mut matcher = Matcher::new(config, 1).unwrap();
    for ticket in 0..2 {
        matcher
            .submit(Command::Cancel {
                ticket: TicketId(ticket),
            })
            .unwrap();
    }
    matcher.tick(100).unwrap(); // two rejections, not drained
    assert!(
        matcher
            .submit(Command::Cancel {
                ticket: TicketId(5)
            })
            .is_err()
    );
    assert!(matcher.tick(200).is_err());
    assert_eq!(matcher.drain_events().count(), 2);
    assert!(matcher.tick(200).is_ok());
}

#[test]
fn time_never_goes_backwards() {
    let mut harness = Harness::new(Config::default());
    harness.tick(1_000);
    harness.matcher.tick(500).unwrap();
    let events: Vec<Event> = harness.matcher.drain_events().collect();
    assert_eq!(
        events,
        vec![Event::TimeWentBackwards {
            given_ms: 500,
            kept_ms: 1_000
        }]
    );
    assert_eq!(harness.matcher.now_ms(), 1_000);
}

#[test]
fn next_deadline_says_when_there_is_work() {
    let mut harness = Harness::new(Config::default());
    assert_eq!(harness.matcher.next_deadline(), None);
    harness.solo(1, "duel-1v1", 1500.0, EU);
    assert_eq!(harness.matcher.next_deadline(), Some(0), "a command waits");
    harness.tick(100);
    let next = harness
        .matcher
        .next_deadline()
        .expect("the ticket will be reviewed");
    assert!(next > 100 && next <= 100 + 5_000, "{next}");
}

/// Regression: a time near `u64::MAX` saturated a parked ticket's wake time into the "due"
/// marker and panicked. Times past `MAX_TIME_MS` are refused; times up to it work.
#[test]
fn times_past_the_limit_are_refused_not_a_panic() {
    let mut harness = Harness::new(Config::default());
    harness.solo(1, "duel-1v1", 1500.0, EU);
    assert_eq!(
        harness.matcher.tick(u64::MAX - 100),
        Err(matchwright_ecs::TickError::TimeOutOfRange {
            given_ms: u64::MAX - 100
        })
    );
    harness.matcher.tick(matchwright_ecs::MAX_TIME_MS).unwrap();
    harness.matcher.tick(matchwright_ecs::MAX_TIME_MS).unwrap();
    assert!(
        harness
            .matcher
            .drain_events()
            .any(|e| matches!(e, Event::TicketQueued { .. }))
    );
}

/// Regression: once everyone had accepted earlier in the tick, a Cancel (or party change, or a
/// decline of a session) for that match did nothing and said nothing.
#[test]
fn commands_for_a_match_already_starting_are_refused() {
    let mut harness = Harness::new(acceptance_duel(10_000));
    let match_id = propose_duel(&mut harness);
    for player in [1, 2] {
        harness.submit(Command::AcceptMatch {
            match_id,
            player: PlayerId(player),
        });
    }
    let cancel = harness.submit(Command::Cancel {
        ticket: TicketId(1),
    });
    harness.tick(100);
    assert!(matches!(
        harness.rejection(cancel),
        Some(RejectReason::WrongMatchPhase {
            phase: matchwright_ecs::event::MatchPhaseName::Starting,
            ..
        })
    ));
    assert_eq!(
        harness.formed().len(),
        1,
        "the match starts with both tickets"
    );
    harness.submit(Command::SessionReady {
        match_id,
        server: String::new(),
    });
    harness.tick(100);
    harness.submit(Command::EndSession { match_id });
    let decline = harness.submit(Command::DeclineMatch {
        match_id,
        player: PlayerId(1),
    });
    harness.tick(100);
    assert!(matches!(
        harness.rejection(decline),
        Some(RejectReason::WrongMatchPhase {
            phase: matchwright_ecs::event::MatchPhaseName::Ending,
            ..
        })
    ));
}

/// Regression: a requeued ticket kept its enqueue time but was matched again even when that
/// made it older than its queue's maximum wait.
#[test]
fn a_requeued_ticket_past_its_max_wait_expires() {
    let mut config = acceptance_duel(15_000);
    config.queues[0].max_wait_ms = 10_000;
    let mut harness = Harness::new(config);
    let match_id = propose_duel(&mut harness);
    harness.submit(Command::AcceptMatch {
        match_id,
        player: PlayerId(2),
    });
    harness.tick(100);
    harness.solo(3, "duel", 1500.0, EU);
    let events = harness.run_until(15_200, 100);
    assert!(events.iter().any(|e| matches!(
        e,
        Event::TicketRemoved {
            ticket: TicketId(2),
            reason: RemovalReason::Expired,
            ..
        }
    )));
    assert!(
        proposals(&events)
            .iter()
            .all(|(_, s)| s.tickets().all(|t| t.waited_ms < 10_000))
    );
}

/// Regression: the shared timer budget always went to the first queue, so a later queue's
/// tickets could go unserved (never woken, never expired) while the first stayed busy.
#[test]
fn the_timer_budget_serves_every_queue() {
    let duel = |name: &str| QueueConfig {
        name: name.into(),
        max_wait_ms: 30_000,
        ..duel()
    };
    let mut config = Config {
        queues: vec![duel("a"), duel("b")],
        ..Config::default()
    };
    config.limits.max_timer_wakes_per_tick = 1;
    let mut harness = Harness::new(config);
    harness.solo(1, "b", 1500.0, EU);
    // Queue "a" gets a ticket nobody can match every second, so it always has timers due.
    for second in 0..40_u64 {
        harness.solo(100 + second, "a", 2_000.0 * (second + 1) as f64, EU);
        harness.tick(1_000);
    }
    assert!(harness.events.iter().any(|e| matches!(
        e,
        Event::TicketRemoved { ticket: TicketId(1), reason: RemovalReason::Expired, waited_ms }
            if *waited_ms <= 33_000
    )));
}

/// A party member never queues apart from the party: a queued player cannot join or create one.
#[test]
fn a_queued_player_cannot_join_a_party() {
    let mut harness = Harness::new(Config::default());
    harness.solo(1, "duel-1v1", 1500.0, EU);
    harness.tick(100);
    let create = harness.submit(Command::CreateParty {
        party: PartyId(1),
        leader: PlayerId(1),
    });
    harness.submit(Command::CreateParty {
        party: PartyId(2),
        leader: PlayerId(2),
    });
    let join = harness.submit(Command::JoinParty {
        party: PartyId(2),
        player: PlayerId(1),
    });
    harness.tick(100);
    assert!(matches!(
        harness.rejection(create),
        Some(RejectReason::PlayerAlreadyQueued { .. })
    ));
    assert!(matches!(
        harness.rejection(join),
        Some(RejectReason::PlayerAlreadyQueued { .. })
    ));
}

#[test]
fn a_reloaded_config_takes_over_the_live_state_or_is_refused_with_why() {
    let base = Config::default();
    let mut harness = Harness::new(base.clone());
    harness.solo(1, "duel-1v1", 1500.0, EU);
    harness.tick(100);
    // A new queue, usable by the commands of the very tick that reloads.
    let mut grown = base.clone();
    grown.queues.push(QueueConfig {
        name: "duel-new".into(),
        ..duel()
    });
    let reload = harness.submit(Command::ReloadConfig {
        config_toml: grown.to_toml_string(),
    });
    harness.solo(2, "duel-new", 1500.0, EU);
    harness.solo(3, "duel-new", 1510.0, EU);
    let events = harness.tick(100);
    assert!(events.contains(&Event::ConfigReloaded {
        seq: CommandSeq(reload)
    }));
    assert_eq!(harness.matcher.config(), &grown);
    assert_eq!(tickets_of(&harness.formed()[0]), vec![2, 3]);
    assert_eq!(harness.matcher.queued_tickets(), 1, "ticket 1 still waits");

    // Removing the queue ticket 1 waits in is refused, naming it; nothing changes.
    let mut shrunk = grown.clone();
    shrunk.queues.retain(|queue| queue.name != "duel-1v1");
    let refused = harness.submit(Command::ReloadConfig {
        config_toml: shrunk.to_toml_string(),
    });
    harness.tick(100);
    match harness.rejection(refused) {
        Some(RejectReason::ConfigDoesNotFit { reason }) => {
            assert!(reason.contains("duel-1v1"), "{reason}");
        }
        other => panic!("not refused: {other:?}"),
    }
    assert_eq!(harness.matcher.config(), &grown);
    let broken = harness.submit(Command::ReloadConfig {
        config_toml: "queues = 5".into(),
    });
    harness.tick(100);
    match harness.rejection(broken) {
        Some(RejectReason::ConfigDoesNotFit { reason }) => {
            assert!(reason.contains("does not load"), "{reason}");
        }
        other => panic!("not refused: {other:?}"),
    }
    // Ticket 1 kept its place and its wait: it matches the next arrival.
    harness.solo(4, "duel-1v1", 1500.0, EU);
    harness.tick(100);
    assert_eq!(tickets_of(&harness.formed()[1]), vec![1, 4]);
}

#[test]
fn a_reload_replays_to_the_same_events() {
    let mut grown = Config::default();
    grown.queues.push(QueueConfig {
        name: "duel-new".into(),
        ..duel()
    });
    let commands = vec![
        Command::Enqueue(EnqueueTicket::solo(
            TicketId(1),
            "duel-1v1",
            PlayerId(1),
            Rating::new(1500.0, 100.0),
            EU.to_vec(),
        )),
        Command::ReloadConfig {
            config_toml: grown.to_toml_string(),
        },
        Command::Enqueue(EnqueueTicket::solo(
            TicketId(2),
            "duel-new",
            PlayerId(2),
            Rating::new(1500.0, 100.0),
            EU.to_vec(),
        )),
    ];
    let mut first = Matcher::new(Config::default(), 3).unwrap();
    for command in &commands {
        first.submit(command.clone()).unwrap();
    }
    let report = first.tick(100).unwrap();
    let events: Vec<Event> = first.drain_events().collect();
    let record = matchwright_ecs::TickRecord::of(report.tick, 100, commands, &events);
    let mut again = Matcher::new(Config::default(), 3).unwrap();
    let mut replayed = Vec::new();
    record.apply(&mut again, &mut replayed).unwrap();
    assert_eq!(replayed, events);
    assert_eq!(again.config(), &grown);
    assert_eq!(again.queued_tickets(), 2);
}
