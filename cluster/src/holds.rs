//! Which players a tick set free, without IO: the players whose one-ticket claim (`claims`)
//! the partition may release. Every replica keeps this alike (it is a function of the log),
//! so a standby that takes over knows what the last leader was releasing.
//!
//! A player is a candidate when a tick ends something they were in: their enqueue (applied
//! and rejected, or refused), their ticket's removal, their match's cancellation or end, or
//! their leaving a session. A candidate is freed only if the matcher no longer holds them
//! (`Matcher::player_is_busy`), so a player put back in the queue keeps the claim. The maps
//! hold the players of live tickets and matches only: both are bounded by the matcher's own
//! bounds, and entries leave with what they describe.

use std::collections::{HashMap, HashSet};

use matchwright_ecs::{Command, Event, MatchId, Matcher, PlayerId, Snapshot, TicketId};

/// The players and tickets of a live match.
#[derive(Debug, Default)]
struct MatchHold {
    players: Vec<PlayerId>,
    tickets: Vec<TicketId>,
}

/// The players of the partition's live tickets and matches.
#[derive(Debug, Default)]
pub struct Holds {
    /// Live tickets: queued, proposed, or in a match still allocating (the matcher keeps a
    /// match's tickets until its game server is up, and puts them back in the queue if no
    /// server comes).
    tickets: HashMap<TicketId, Vec<PlayerId>>,
    matches: HashMap<MatchId, MatchHold>,
}

impl Holds {
    /// The holds of a restored matcher's state (what the events since the start would have
    /// built).
    pub fn from_snapshot(snapshot: &Snapshot) -> Self {
        let mut holds = Self::default();
        for player in &snapshot.players {
            if let Some(ticket) = player.ticket {
                holds.tickets.entry(ticket).or_default().push(player.id);
            }
            if let Some(found) = player.in_match {
                let hold = holds.matches.entry(found).or_default();
                hold.players.push(player.id);
                if let Some(ticket) = player.ticket
                    && !hold.tickets.contains(&ticket)
                {
                    hold.tickets.push(ticket);
                }
            }
        }
        holds
    }

    /// After a tick: `applied` its commands, `refused` the players of enqueues it refused,
    /// `events` what it emitted, `matcher` the state after it. Returns the players it set
    /// free, sorted, each once.
    pub fn after_tick(
        &mut self,
        applied: &[Command],
        refused: impl IntoIterator<Item = PlayerId>,
        events: &[Event],
        matcher: &Matcher,
    ) -> Vec<PlayerId> {
        let mut candidates: Vec<PlayerId> = refused.into_iter().collect();
        for command in applied {
            if let Command::Enqueue(ticket) = command {
                candidates.extend(ticket.members.iter().map(|member| member.player));
            }
        }
        // Tickets of matches that ended, unless put back in the queue in the same tick.
        let mut ended = Vec::new();
        let mut requeued = HashSet::new();
        for event in events {
            self.follow(event, &mut candidates, &mut ended, &mut requeued);
        }
        for ticket in ended {
            if !requeued.contains(&ticket) {
                self.tickets.remove(&ticket);
            }
        }
        candidates.sort_unstable();
        candidates.dedup();
        candidates.retain(|player| !matcher.player_is_busy(*player));
        candidates
    }

    /// One event: the maps follow it; what it ends joins the candidates.
    fn follow(
        &mut self,
        event: &Event,
        candidates: &mut Vec<PlayerId>,
        ended: &mut Vec<TicketId>,
        requeued: &mut HashSet<TicketId>,
    ) {
        match event {
            Event::TicketQueued {
                ticket, players, ..
            } => {
                self.tickets.insert(*ticket, players.clone());
            }
            Event::TicketRemoved { ticket, .. } => {
                candidates.extend(self.tickets.remove(ticket).unwrap_or_default());
            }
            Event::TicketRequeued { ticket, .. } => {
                requeued.insert(*ticket);
            }
            Event::MatchProposed { summary, .. } | Event::MatchFormed { summary } => {
                let hold = MatchHold {
                    players: summary.players().collect(),
                    tickets: summary.tickets().map(|t| t.ticket).collect(),
                };
                self.matches.insert(summary.match_id, hold);
            }
            Event::SessionActive { match_id, .. } => {
                // The game server is up: the matcher retires the match's tickets.
                if let Some(hold) = self.matches.get(match_id) {
                    for ticket in &hold.tickets {
                        self.tickets.remove(ticket);
                    }
                }
            }
            Event::BackfillFilled {
                match_id, tickets, ..
            } => {
                let hold = self.matches.entry(*match_id).or_default();
                for joined in tickets {
                    hold.tickets.push(joined.ticket.ticket);
                    hold.players
                        .extend(joined.ticket.players.iter().map(|p| p.player));
                }
            }
            Event::MatchCancelled { match_id, .. }
            | Event::SessionEnded { match_id, .. }
            | Event::SessionAbandoned { match_id, .. } => {
                if let Some(hold) = self.matches.remove(match_id) {
                    candidates.extend(hold.players);
                    ended.extend(hold.tickets);
                }
            }
            Event::PlayerLeftSession { player, .. } => candidates.push(*player),
            _ => {}
        }
    }

    /// Live tickets and matches known (for tests and metrics).
    pub fn sizes(&self) -> (usize, usize) {
        (self.tickets.len(), self.matches.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::duelist;
    use matchwright_ecs::{Config, EnqueueTicket, Rating};

    /// Runs one tick of `commands` and returns the players it freed.
    fn tick(
        matcher: &mut Matcher,
        holds: &mut Holds,
        now: u64,
        commands: Vec<Command>,
    ) -> Vec<u64> {
        for command in &commands {
            matcher.submit(command.clone()).unwrap();
        }
        matcher.tick(now).unwrap();
        let events: Vec<Event> = matcher.drain_events().collect();
        holds
            .after_tick(&commands, [], &events, matcher)
            .into_iter()
            .map(|p| p.0)
            .collect()
    }

    /// The snapshot-built holds equal the event-built ones (so a restored replica frees
    /// what one that followed every tick frees).
    fn assert_restores_alike(matcher: &Matcher, holds: &Holds) {
        let restored = Holds::from_snapshot(&matcher.snapshot().unwrap());
        assert_eq!(restored.sizes(), holds.sizes(), "restored holds differ");
    }

    #[test]
    fn players_are_freed_when_their_ticket_or_session_ends_and_not_before() {
        let mut matcher = Matcher::new(Config::default(), 1).unwrap();
        let mut holds = Holds::default();
        assert_eq!(
            tick(&mut matcher, &mut holds, 100, vec![duelist(1)]),
            Vec::<u64>::new()
        );
        // A duplicate enqueue is rejected, but the player is still queued: not freed.
        assert!(tick(&mut matcher, &mut holds, 200, vec![duelist(1)]).is_empty());
        let cancel = Command::Cancel {
            ticket: TicketId(1),
        };
        assert_eq!(tick(&mut matcher, &mut holds, 300, vec![cancel]), vec![1]);
        assert!(tick(&mut matcher, &mut holds, 400, vec![duelist(2), duelist(3)]).is_empty());
        assert_eq!(
            holds.sizes(),
            (2, 1),
            "allocating: the match and its tickets"
        );
        assert_restores_alike(&matcher, &holds);
        let match_id = matcher.snapshot().unwrap().matches[0].id;
        let ready = Command::SessionReady {
            match_id,
            server: "gs-1".into(),
        };
        assert!(tick(&mut matcher, &mut holds, 450, vec![ready]).is_empty());
        assert_eq!(
            holds.sizes(),
            (0, 1),
            "the server is up: the tickets are retired"
        );
        assert_restores_alike(&matcher, &holds);
        let end = Command::EndSession { match_id };
        assert_eq!(tick(&mut matcher, &mut holds, 500, vec![end]), vec![2, 3]);
        assert_eq!(holds.sizes(), (0, 0));
    }

    #[test]
    fn a_failed_allocation_requeues_and_a_later_cancel_still_frees() {
        let mut matcher = Matcher::new(Config::default(), 1).unwrap();
        let mut holds = Holds::default();
        assert!(tick(&mut matcher, &mut holds, 100, vec![duelist(2), duelist(3)]).is_empty());
        let match_id = matcher.snapshot().unwrap().matches[0].id;
        let failed = Command::AllocationFailed { match_id };
        assert!(
            tick(&mut matcher, &mut holds, 200, vec![failed]).is_empty(),
            "back in the queue: still held"
        );
        assert_restores_alike(&matcher, &holds);
        let cancel = Command::Cancel {
            ticket: TicketId(2),
        };
        assert_eq!(tick(&mut matcher, &mut holds, 300, vec![cancel]), vec![2]);
    }

    #[test]
    fn a_declined_proposal_frees_the_decliner_and_later_the_requeued() {
        let mut config = Config::default();
        config.queues[0].acceptance = Some(matchwright_ecs::config::AcceptanceConfig::default());
        let mut matcher = Matcher::new(config, 1).unwrap();
        let mut holds = Holds::default();
        assert!(tick(&mut matcher, &mut holds, 100, vec![duelist(2), duelist(3)]).is_empty());
        assert_restores_alike(&matcher, &holds);
        let mut restored = Holds::from_snapshot(&matcher.snapshot().unwrap());
        let match_id = matcher.snapshot().unwrap().matches[0].id;
        let decline = Command::DeclineMatch {
            match_id,
            player: PlayerId(2),
        };
        matcher.submit(decline.clone()).unwrap();
        matcher.tick(200).unwrap();
        let events: Vec<Event> = matcher.drain_events().collect();
        let freed = holds.after_tick(std::slice::from_ref(&decline), [], &events, &matcher);
        let freed_restored = restored.after_tick(&[decline], [], &events, &matcher);
        assert_eq!(freed, vec![PlayerId(2)]);
        assert_eq!(freed_restored, freed, "a restored replica frees alike");
        let cancel = Command::Cancel {
            ticket: TicketId(3),
        };
        assert_eq!(tick(&mut matcher, &mut holds, 300, vec![cancel]), vec![3]);
    }

    #[test]
    fn a_rejected_enqueue_frees_its_players() {
        let mut matcher = Matcher::new(Config::default(), 1).unwrap();
        let mut holds = Holds::default();
        let unknown_queue = Command::Enqueue(EnqueueTicket::solo(
            TicketId(7),
            "no-such-queue",
            PlayerId(7),
            Rating::new(1500.0, 100.0),
            vec![30],
        ));
        assert_eq!(
            tick(&mut matcher, &mut holds, 100, vec![unknown_queue]),
            vec![7]
        );
    }
}
