//! Property tests: random command streams, checked by the invariant ledger (from the events)
//! and by the matcher's own end-of-tick assertions (debug builds).

#![allow(clippy::unwrap_used)] // Tests: a failed unwrap is a failed test.

mod common;

use common::{Ledger, Workload, test_config};
use matchwright_ecs::{
    Command, EnqueueTicket, Event, MatchId, Matcher, PartyId, PlayerId, Rating, TicketId,
    TicketMember,
};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Behaving clients and game servers, with varied rates and timings.
    #[test]
    fn workloads_keep_every_invariant(
        seed in any::<u64>(),
        arrivals in 1_u64..16,
        decline in 0.0_f64..0.3,
        ignore in 0.0_f64..0.2,
        cancel in 0.0_f64..0.5,
        tick_ms in 20_u64..3_000,
    ) {
        let config = test_config();
        let mut matcher = Matcher::new(config.clone(), seed).unwrap();
        let mut workload = Workload::new(seed, 400, config.clone());
        workload.arrivals_per_tick = arrivals;
        workload.decline_chance = decline;
        workload.ignore_chance = ignore;
        workload.cancel_chance = cancel;
        workload.junk_chance = 0.2;
        let mut ledger = Ledger::new(config);
        let mut now = 0;
        for _ in 0..150 {
            now += tick_ms;
            for command in workload.commands(now) {
                let seq = matcher.submit(command.clone()).unwrap();
                ledger.submitted(seq, &command);
            }
            matcher.tick(now).unwrap();
            let events: Vec<Event> = matcher.drain_events().collect();
            ledger.record_tick(now, &events, &matcher);
            workload.observe(&events, now);
        }
        matcher.check_invariants();
        // The case tested something: players were matched, and the rechecks saw them.
        prop_assert!(ledger.counts.matches_formed > 0, "{:#?}", ledger.counts);
        prop_assert!(ledger.recheck.checked_tickets > 0);
    }

    /// Anything at all: colliding ids, bad ratings, wrong pings, commands for matches that do
    /// not exist, time going backwards. Nothing panics, every invariant holds.
    #[test]
    fn arbitrary_commands_never_break_the_matcher(
        seed in any::<u64>(),
        ops in proptest::collection::vec(op(), 1..300),
    ) {
        let config = test_config();
        let mut matcher = Matcher::new(config.clone(), seed).unwrap();
        let mut ledger = Ledger::new(config);
        let mut now: u64 = 0;
        for op in ops {
            match op {
                Op::Tick(step) => {
                    now = now.saturating_add_signed(step);
                    matcher.tick(now).unwrap();
                    let now = matcher.now_ms();
                    let events: Vec<Event> = matcher.drain_events().collect();
                    ledger.record_tick(now, &events, &matcher);
                }
                Op::Command(command) => {
                    let seq = matcher.submit(command.clone()).unwrap();
                    ledger.submitted(seq, &command);
                }
            }
        }
        matcher.tick(now + 1).unwrap();
        let events: Vec<Event> = matcher.drain_events().collect();
        ledger.record_tick(matcher.now_ms(), &events, &matcher);
        matcher.check_invariants();
    }
}

#[derive(Debug, Clone)]
enum Op {
    Command(Command),
    Tick(i64),
}

fn rating() -> impl Strategy<Value = Rating> {
    prop_oneof![
        8 => (1000.0_f64..2000.0, 30.0_f64..500.0).prop_map(|(mu, sigma)| Rating::new(mu, sigma)),
        1 => Just(Rating::new(f64::NAN, 100.0)),
        1 => Just(Rating::new(1500.0, 0.0)),
        1 => Just(Rating::new(f64::INFINITY, 100.0)),
    ]
}

fn pings() -> impl Strategy<Value = Vec<u16>> {
    prop_oneof![
        10 => proptest::collection::vec(prop_oneof![5 => 10_u16..250, 1 => Just(u16::MAX)], 3),
        1 => proptest::collection::vec(10_u16..100, 0..5),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let player = || (0_u64..24).prop_map(PlayerId);
    let ticket = || (0_u64..16).prop_map(TicketId);
    let party = || (0_u64..6).prop_map(PartyId);
    let match_id = || (0_u64..12).prop_map(MatchId);
    let queue = prop_oneof![Just("duel"), Just("duo"), Just("ffa"), Just("nope")];
    let member =
        (player(), rating(), pings()).prop_map(|(player, rating, pings_ms)| TicketMember {
            player,
            rating,
            pings_ms,
            attributes: Default::default(),
            roles: Vec::new(),
            avoid: Vec::new(),
        });
    let enqueue = (
        ticket(),
        queue,
        proptest::option::weighted(0.3, party()),
        proptest::collection::vec(member, 0..4),
        proptest::option::weighted(0.2, 20_u16..200),
    )
        .prop_map(|(ticket, queue, party, members, max_ping_ms)| {
            Command::Enqueue(EnqueueTicket {
                ticket,
                queue: queue.into(),
                party,
                members,
                max_ping_ms,
                waiting_since_ms: None,
                attributes: Default::default(),
            })
        });
    prop_oneof![
        12 => enqueue.prop_map(Op::Command),
        2 => ticket().prop_map(|ticket| Op::Command(Command::Cancel { ticket })),
        2 => (party(), player()).prop_map(|(party, leader)| Op::Command(Command::CreateParty { party, leader })),
        2 => (party(), player()).prop_map(|(party, player)| Op::Command(Command::JoinParty { party, player })),
        1 => (party(), player()).prop_map(|(party, player)| Op::Command(Command::LeaveParty { party, player })),
        1 => party().prop_map(|party| Op::Command(Command::DisbandParty { party })),
        4 => (match_id(), player()).prop_map(|(match_id, player)| Op::Command(Command::AcceptMatch { match_id, player })),
        1 => (match_id(), player()).prop_map(|(match_id, player)| Op::Command(Command::DeclineMatch { match_id, player })),
        2 => match_id().prop_map(|match_id| Op::Command(Command::SessionReady { match_id, server: format!("10.0.0.{}:7777", match_id.0 % 250) })),
        2 => match_id().prop_map(|match_id| Op::Command(Command::Heartbeat { match_id })),
        2 => (match_id(), proptest::collection::vec(0_u32..4, 0..4))
            .prop_map(|(match_id, placements)| Op::Command(Command::ReportResult { match_id, placements })),
        1 => match_id().prop_map(|match_id| Op::Command(Command::EndSession { match_id })),
        1 => (match_id(), player()).prop_map(|(match_id, player)| Op::Command(Command::LeaveSession { match_id, player })),
        1 => (match_id(), proptest::collection::vec(0_u8..3, 0..4))
            .prop_map(|(match_id, open_slots)| Op::Command(Command::RequestBackfill { match_id, open_slots })),
        1 => match_id().prop_map(|match_id| Op::Command(Command::CancelBackfill { match_id })),
        1 => match_id().prop_map(|match_id| Op::Command(Command::CancelMatch { match_id })),
        8 => prop_oneof![10 => 0_i64..3_000, 2 => 3_000_i64..60_000, 1 => -5_000_i64..0].prop_map(Op::Tick),
    ]
}
