//! Projecting a tick's events into the rows the server reads between ticks: matches and their
//! sessions, ratings (with the leaderboard index) and match history, plus, when mirroring, the
//! rows for Postgres. Runs inside the tick's transaction (`commit`), so the rows always agree
//! with the journal. The journal is the truth; these rows are a view of it kept for readers,
//! and this file is the one place that decides which event changes which row.

use matchwright_ecs::codec;
use matchwright_ecs::event::{BackfilledTicket, RatingUpdate};
use matchwright_ecs::{Event, MatchId, MatchSummary};
use redb::{ReadableTable, Table, WriteTransaction};

use super::StoreOptions;
use crate::records::{MatchRow, MatchState, MirrorRow, RatingRecord};
use crate::tables::{HISTORY, HISTORY_COUNTS, MATCHES, RATINGS};

/// Applies a tick's events to the derived tables (matches, ratings, history) and collects the
/// rows to mirror.
pub(super) fn project_events(
    txn: &WriteTransaction,
    options: &StoreOptions,
    now_ms: u64,
    events: &[Event],
    rows: &mut Vec<MirrorRow>,
) -> Result<(), redb::Error> {
    let mut matches = Matches {
        table: txn.open_table(MATCHES)?,
        rows,
        mirror: options.mirror,
        now_ms,
    };
    for event in events {
        match event {
            Event::MatchProposed { summary, .. } => {
                matches.save(new_match_row(summary, MatchState::Proposed))?;
            }
            Event::MatchFormed { summary } => {
                matches.save(new_match_row(summary, MatchState::Allocating))?;
            }
            Event::MatchCancelled { match_id, .. } => {
                matches.set_state(*match_id, MatchState::Cancelled, None)?;
            }
            Event::SessionActive { match_id, server } => matches.activate(*match_id, server)?,
            Event::SessionEnded {
                match_id,
                placements,
            } => matches.set_state(*match_id, MatchState::Ended, placements.clone())?,
            Event::SessionAbandoned { match_id, .. } => {
                matches.set_state(*match_id, MatchState::Abandoned, None)?;
            }
            Event::BackfillFilled {
                match_id, tickets, ..
            } => matches.backfill(*match_id, tickets)?,
            Event::RatingsUpdated {
                match_id,
                mode,
                updates,
            } => {
                let row = matches.with_placements(*match_id, events)?;
                let rated = Rated {
                    match_id: *match_id,
                    mode,
                    row: row.as_ref(),
                    now_ms,
                };
                rate(txn, options, &rated, updates, matches.rows)?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// The `matches` table as one tick's events change it, and the mirror rows they queue.
struct Matches<'txn, 'rows> {
    table: Table<'txn, u64, &'static [u8]>,
    rows: &'rows mut Vec<MirrorRow>,
    mirror: bool,
    now_ms: u64,
}

impl Matches<'_, '_> {
    fn load(&mut self, id: MatchId) -> Result<Option<MatchRow>, redb::Error> {
        match self.table.get(id.0)? {
            Some(bytes) => {
                Ok(Some(codec::decode(bytes.value()).map_err(|e| {
                    redb::Error::Corrupted(format!("match {}: {e}", id.0))
                })?))
            }
            None => Ok(None),
        }
    }

    /// Stores the row, and queues it for the mirror (each save is one mirror row).
    fn save(&mut self, row: MatchRow) -> Result<(), redb::Error> {
        self.table
            .insert(row.match_id.0, codec::encode(&row).as_slice())?;
        if self.mirror {
            self.rows.push(MirrorRow::Match(row));
        }
        Ok(())
    }

    fn set_state(
        &mut self,
        id: MatchId,
        state: MatchState,
        placements: Option<Vec<u32>>,
    ) -> Result<(), redb::Error> {
        if let Some(mut row) = self.load(id)? {
            row.state = state;
            row.updated_at_ms = self.now_ms;
            if placements.is_some() {
                row.placements = placements;
            }
            self.save(row)?;
        }
        Ok(())
    }

    /// The session has its game server: saved with the server, then as active (two mirror
    /// rows, as ever).
    fn activate(&mut self, id: MatchId, server: &str) -> Result<(), redb::Error> {
        if let Some(mut row) = self.load(id)? {
            row.server = Some(server.to_string());
            self.save(row)?;
        }
        self.set_state(id, MatchState::Active, None)
    }

    fn backfill(&mut self, id: MatchId, tickets: &[BackfilledTicket]) -> Result<(), redb::Error> {
        if let Some(mut row) = self.load(id)? {
            for placed in tickets {
                for player in &placed.ticket.players {
                    row.players.push((player.player, placed.team));
                    if let Some(role) = &player.role {
                        row.roles.push((player.player, role.to_string()));
                    }
                }
            }
            row.updated_at_ms = self.now_ms;
            self.save(row)?;
        }
        Ok(())
    }

    /// The match's row, for its ratings' history. The core rates before it ends the session
    /// (both in this tick): the placements come from the session's end among `events`, so
    /// history knows who placed where.
    fn with_placements(
        &mut self,
        id: MatchId,
        events: &[Event],
    ) -> Result<Option<MatchRow>, redb::Error> {
        let mut row = self.load(id)?;
        if let Some(row) = row.as_mut().filter(|row| row.placements.is_none()) {
            row.placements = events.iter().find_map(|later| match later {
                Event::SessionEnded {
                    match_id: ended,
                    placements,
                } if *ended == id => placements.clone(),
                _ => None,
            });
        }
        Ok(row)
    }
}

pub(crate) fn new_match_row(summary: &MatchSummary, state: MatchState) -> MatchRow {
    MatchRow {
        match_id: summary.match_id,
        queue: summary.queue.to_string(),
        mode: summary.mode.to_string(),
        region: summary.region.to_string(),
        formed_at_ms: summary.formed_at_ms,
        quality: summary.quality,
        players: summary
            .teams
            .iter()
            .enumerate()
            .flat_map(|(team, tickets)| {
                tickets.iter().flat_map(move |ticket| {
                    ticket.players.iter().map(move |p| (p.player, team as u8))
                })
            })
            .collect(),
        roles: summary
            .teams
            .iter()
            .flatten()
            .flat_map(|ticket| ticket.players.iter())
            .filter_map(|p| Some((p.player, p.role.as_deref()?.to_string())))
            .collect(),
        state,
        updated_at_ms: summary.formed_at_ms,
        placements: None,
        server: None,
    }
}

/// The match a set of rating updates comes from.
struct Rated<'a> {
    match_id: MatchId,
    mode: &'a str,
    /// Its row (with placements, if a result came), when the store still has it.
    row: Option<&'a MatchRow>,
    now_ms: u64,
}

impl Rated<'_> {
    /// The placement of `player`'s team (`u32::MAX` if unknown).
    fn placement(&self, player: matchwright_ecs::PlayerId) -> u32 {
        self.row
            .and_then(|row| {
                let team = row.players.iter().find(|(p, _)| *p == player)?.1;
                row.placements.as_ref()?.get(usize::from(team)).copied()
            })
            .unwrap_or(u32::MAX)
    }
}

/// Stores each player's new rating (and its leaderboard entry) and a history row, and
/// queues both for the mirror.
fn rate(
    txn: &WriteTransaction,
    options: &StoreOptions,
    rated: &Rated<'_>,
    updates: &[RatingUpdate],
    rows: &mut Vec<MirrorRow>,
) -> Result<(), redb::Error> {
    let mut ratings = txn.open_table(RATINGS)?;
    let mut history = txn.open_table(HISTORY)?;
    let mut counts = txn.open_table(HISTORY_COUNTS)?;
    let mut leaderboard = txn.open_table(crate::leaderboard::LEADERBOARD)?;
    let season = options.season.as_str();
    for update in updates {
        // A rating of a queue rated per role belongs to the mode and the role played.
        let keyed = update
            .role
            .as_deref()
            .map(|role| rating_key(rated.mode, Some(role)));
        let mode = keyed.as_deref().unwrap_or(rated.mode);
        let key = (update.player.0, mode, season);
        let old = match ratings.get(key)? {
            Some(bytes) => Some(
                codec::decode::<RatingRecord>(bytes.value())
                    .map_err(|e| redb::Error::Corrupted(format!("rating: {e}")))?,
            ),
            None => None,
        };
        let record = RatingRecord {
            rating: update.after,
            games: old.map_or(0, |old| old.games) + 1,
            updated_at_ms: rated.now_ms,
        };
        ratings.insert(key, codec::encode(&record).as_slice())?;
        let old_rating = old.map(|old| old.rating);
        crate::leaderboard::index(
            &mut leaderboard,
            season,
            mode,
            update.player,
            old_rating,
            &record,
        )?;
        let entry = MirrorRow::History {
            player: update.player,
            match_id: rated.match_id,
            mode: mode.to_string(),
            placement: rated.placement(update.player),
            before: update.before,
            after: update.after,
            at_ms: rated.now_ms,
        };
        let key = (update.player.0, rated.match_id.0);
        let added = history
            .insert(key, codec::encode(&entry).as_slice())?
            .is_none();
        let mut player_history = PlayerHistory {
            rows: &mut history,
            counts: &mut counts,
            player: update.player.0,
        };
        player_history.trim(added, options.history_per_player)?;
        if options.mirror {
            rows.push(MirrorRow::Rating {
                player: update.player,
                mode: mode.to_string(),
                season: season.to_string(),
                record,
            });
            rows.push(entry);
        }
    }
    Ok(())
}

/// The key a rating is kept under: the mode, or `MODE:ROLE` for a rating of one role (a
/// queue with `rating_per_role`). Profiles, leaderboards and history name ratings by it.
pub fn rating_key(mode: &str, role: Option<&str>) -> String {
    match role {
        Some(role) => format!("{mode}:{role}"),
        None => mode.to_string(),
    }
}

/// One player's history rows and their count.
struct PlayerHistory<'a, 'txn> {
    rows: &'a mut Table<'txn, (u64, u64), &'static [u8]>,
    counts: &'a mut Table<'txn, u64, u64>,
    player: u64,
}

impl PlayerHistory<'_, '_> {
    /// After a row was written (`added`: a new one, not a rewrite), keeps at most `keep` rows:
    /// the oldest go (Postgres keeps them all). The count makes this a look-up, not a walk of
    /// the player's history; a player without one (a store from before counts) is counted
    /// once. Debug builds check the count against a walk.
    fn trim(&mut self, added: bool, keep: u64) -> Result<(), redb::Error> {
        let player = self.player;
        let known = self.counts.get(player)?.map(|count| count.value());
        let mut kept = match known {
            Some(count) => count + u64::from(added),
            None => self.walk_count()?,
        };
        if kept > keep {
            let oldest: Vec<u64> = self
                .rows
                .range((player, 0)..=(player, u64::MAX))?
                .take((kept - keep) as usize)
                .map(|item| item.map(|(key, _)| key.value().1))
                .collect::<Result<_, _>>()?;
            for id in &oldest {
                self.rows.remove((player, *id))?;
            }
            kept -= oldest.len() as u64;
        }
        debug_assert_eq!(kept, self.walk_count()?, "player {player}'s history count");
        debug_assert!(
            kept <= keep,
            "player {player} keeps {kept} rows, above {keep}"
        );
        self.counts.insert(player, kept)?;
        Ok(())
    }

    /// The player's rows, counted by walking them.
    fn walk_count(&self) -> Result<u64, redb::Error> {
        let player = self.player;
        Ok(self.rows.range((player, 0)..=(player, u64::MAX))?.count() as u64)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use redb::{Database, ReadableDatabase, WriteTransaction};

    use super::PlayerHistory;
    use crate::tables::{HISTORY, HISTORY_COUNTS};

    /// Writes history rows `matches` for player 7, trimming to `keep` after each.
    fn write(txn: &WriteTransaction, matches: impl IntoIterator<Item = u64>, keep: u64) {
        let mut rows = txn.open_table(HISTORY).unwrap();
        let mut counts = txn.open_table(HISTORY_COUNTS).unwrap();
        for id in matches {
            let added = rows.insert((7, id), b"row".as_slice()).unwrap().is_none();
            let mut history = PlayerHistory {
                rows: &mut rows,
                counts: &mut counts,
                player: 7,
            };
            history.trim(added, keep).unwrap();
        }
    }

    /// Player 7's match ids kept, oldest first, and its stored count.
    fn kept(db: &Database) -> (Vec<u64>, Option<u64>) {
        let read = db.begin_read().unwrap();
        let rows = read.open_table(HISTORY).unwrap();
        let ids = rows
            .range((7, 0)..=(7, u64::MAX))
            .unwrap()
            .map(|item| item.unwrap().0.value().1)
            .collect();
        let counts = read.open_table(HISTORY_COUNTS).unwrap();
        (ids, counts.get(7).unwrap().map(|count| count.value()))
    }

    #[test]
    fn the_newest_rows_stay_and_the_count_follows_them() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::create(dir.path().join("history.redb")).unwrap();
        let txn = db.begin_write().unwrap();
        write(&txn, 1..=10, 3);
        // A row written again (the same match) is not a new row.
        write(&txn, [10], 3);
        txn.commit().unwrap();
        assert_eq!(kept(&db), (vec![8, 9, 10], Some(3)));

        // A lower bound trims at the next row; a store from before counts is counted once.
        let txn = db.begin_write().unwrap();
        txn.open_table(HISTORY_COUNTS).unwrap().remove(7).unwrap();
        write(&txn, [11], 2);
        txn.commit().unwrap();
        assert_eq!(kept(&db), (vec![10, 11], Some(2)));
    }
}
