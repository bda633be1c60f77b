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

use std::collections::HashMap;

use matchwright_ecs::{Command, Event, MatchId, Matcher, PlayerId, Snapshot, TicketId};

/// The players of the partition's live tickets and matches.
#[derive(Debug, Default)]
pub struct Holds {
    tickets: HashMap<TicketId, Vec<PlayerId>>,
    matches: HashMap<MatchId, Vec<PlayerId>>,
}

impl Holds {
    /// The holds of a restored matcher's state.
    pub fn from_snapshot(snapshot: &Snapshot) -> Self {
        let mut holds = Self::default();
        for player in &snapshot.players {
            // A player in a match is held by the match (its ticket, if the record keeps
            // one, is spent); else by their ticket.
            match (player.in_match, player.ticket) {
                (Some(found), _) => holds.matches.entry(found).or_default().push(player.id),
                (None, Some(ticket)) => holds.tickets.entry(ticket).or_default().push(player.id),
                (None, None) => {}
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
        for event in events {
            self.follow(event, &mut candidates);
        }
        candidates.sort_unstable();
        candidates.dedup();
        candidates.retain(|player| !matcher.player_is_busy(*player));
        candidates
    }

    /// One event: the maps follow it; what it ends joins the candidates.
    fn follow(&mut self, event: &Event, candidates: &mut Vec<PlayerId>) {
        match event {
            Event::TicketQueued {
                ticket, players, ..
            } => {
                self.tickets.insert(*ticket, players.clone());
            }
            Event::TicketRemoved { ticket, .. } => {
                candidates.extend(self.tickets.remove(ticket).unwrap_or_default());
            }
            Event::MatchProposed { summary, .. } => {
                self.matches
                    .insert(summary.match_id, summary.players().collect());
            }
            Event::MatchFormed { summary } => {
                // The tickets are spent: an allocation that fails queues new ones.
                for ticket in summary.tickets() {
                    self.tickets.remove(&ticket.ticket);
                }
                self.matches
                    .insert(summary.match_id, summary.players().collect());
            }
            Event::BackfillFilled {
                match_id, tickets, ..
            } => {
                let players = self.matches.entry(*match_id).or_default();
                for joined in tickets {
                    self.tickets.remove(&joined.ticket.ticket);
                    players.extend(joined.ticket.players.iter().map(|p| p.player));
                }
            }
            Event::MatchCancelled { match_id, .. }
            | Event::SessionEnded { match_id, .. }
            | Event::SessionAbandoned { match_id, .. } => {
                candidates.extend(self.matches.remove(match_id).unwrap_or_default());
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
    use matchwright_ecs::{Config, EnqueueTicket, Rating};

    fn duelist(id: u64) -> Command {
        Command::Enqueue(EnqueueTicket::solo(
            TicketId(id),
            "duel-1v1",
            PlayerId(id),
            Rating::new(1500.0, 100.0),
            vec![30, 90, 200, 250],
        ))
    }

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
        let (tickets, matches) = holds.sizes();
        assert_eq!(
            (tickets, matches),
            (0, 1),
            "the match holds both, the tickets are spent"
        );
        let match_id = matcher.snapshot().unwrap().matches[0].id;
        let restored = Holds::from_snapshot(&matcher.snapshot().unwrap());
        assert_eq!(restored.sizes(), (0, 1));
        let end = Command::EndSession { match_id };
        assert_eq!(tick(&mut matcher, &mut holds, 500, vec![end]), vec![2, 3]);
        assert_eq!(holds.sizes(), (0, 0));
    }

    #[test]
    fn a_rejected_or_refused_enqueue_frees_its_players() {
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
        matcher.tick(200).unwrap();
        let freed = holds.after_tick(&[], [PlayerId(9)], &[], &matcher);
        assert_eq!(freed, vec![PlayerId(9)]);
    }
}
