//! Recording a partition's events in the shared record, exactly once.
//!
//! Each part of a tick's events batch is recorded in one transaction that also moves the
//! partition's mark (`recorded_events`: the last tick and part recorded). The transaction
//! first locks the mark's row: a part at or below the mark was recorded already and is
//! skipped, so any number of gateways may record the same partition at once (each following
//! the partition's events stream) and every part lands once. What the rows say follows
//! `store::project`, the one place `serve` turns events into rows: a match and its players
//! when proposed or formed, its session's state as it changes, and for each rating update the
//! new rating (games counted up by one) and a history row with the player's placement.

use matchwright_ecs::event::RatingUpdate;
use matchwright_ecs::{Event, MatchId};
use sqlx::{Postgres, Transaction};

use super::{SharedRecord, id};
use crate::StoreError;
use crate::records::{MatchRow, MatchState, placements_text};
use crate::store::project::{new_match_row, rating_key};

/// Whether a part was written now, had been already, or is being written by another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recorded {
    /// Recorded by this call.
    Written,
    /// Recorded before (by this process or another).
    AlreadyThere,
    /// Another recorder holds the partition's mark right now: nothing was done; ask again
    /// shortly (it is then most likely there already). A recorder never waits on the lock,
    /// so waiting recorders hold no connections.
    Contended,
    /// It changes no row (a quiet tick's part): nothing was written, the mark not moved.
    /// The mark moves with the next part that changes something (a part after the mark is
    /// taken whatever lies between: what lies between changed nothing, or left the stream).
    Nothing,
}

/// How long recording one part may take, waiting for a connection included (a part holds
/// up to a megabyte of events).
const RECORD_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// A part of a partition's events batch, as recorded.
#[derive(Clone, Copy, Debug)]
pub struct EventsPart<'a> {
    /// The partition.
    pub partition: &'a str,
    /// The tick.
    pub tick: u64,
    /// Its place in the tick's batch.
    pub part: u32,
    /// Whether it is the tick's last.
    pub last: bool,
    /// The tick's time.
    pub now_ms: u64,
    /// Its events.
    pub events: &'a [Event],
}

type Tx = Transaction<'static, Postgres>;

impl SharedRecord {
    /// How far `partition`'s events are recorded: the last (tick, part, last) recorded.
    pub async fn recorded_through(
        &self,
        partition: &str,
    ) -> Result<Option<(u64, u32, bool)>, StoreError> {
        let read = sqlx::query_as::<_, (i64, i32, bool)>(
            "SELECT tick, part, last FROM recorded_events WHERE partition = $1",
        )
        .bind(partition)
        .fetch_optional(&self.pool);
        let found = self
            .run("reading how far events are recorded", read)
            .await?;
        Ok(found
            .filter(|(tick, _, _)| *tick >= 0)
            .map(|(tick, part, last)| (tick as u64, part as u32, last)))
    }

    /// Records one part of a tick's events, unless it was recorded before.
    pub async fn record_events(&self, part: EventsPart<'_>) -> Result<Recorded, StoreError> {
        if !part.events.iter().any(changes_rows) {
            return Ok(Recorded::Nothing);
        }
        let work = async {
            let mut tx = self.pool.begin().await?;
            match claim_part(&mut tx, &part).await {
                Ok(true) => {}
                Ok(false) => return Ok(Recorded::AlreadyThere),
                Err(sqlx::Error::Database(error)) if error.code().as_deref() == Some("55P03") => {
                    return Ok(Recorded::Contended);
                }
                Err(error) => return Err(error),
            }
            for event in part.events {
                record_event(&mut tx, &self.season, &part, event).await?;
            }
            sqlx::query(
                "UPDATE recorded_events SET tick = $2, part = $3, last = $4 WHERE partition = $1",
            )
            .bind(part.partition)
            .bind(id(part.tick))
            .bind(part.part as i32)
            .bind(part.last)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(Recorded::Written)
        };
        let answered = tokio::time::timeout(RECORD_TIMEOUT, work).await;
        self.answer("recording a partition's events", answered)
    }
}

/// Whether `event` changes a row of the record.
fn changes_rows(event: &Event) -> bool {
    matches!(
        event,
        Event::MatchProposed { .. }
            | Event::MatchFormed { .. }
            | Event::MatchCancelled { .. }
            | Event::SessionActive { .. }
            | Event::SessionEnded { .. }
            | Event::SessionAbandoned { .. }
            | Event::BackfillFilled { .. }
            | Event::RatingsUpdated { .. }
    )
}

/// Locks the partition's mark without waiting (55P03 when another recorder holds it);
/// whether `part` comes after it (and is to be recorded).
async fn claim_part(tx: &mut Tx, part: &EventsPart<'_>) -> Result<bool, sqlx::Error> {
    sqlx::query(
        "INSERT INTO recorded_events (partition, tick, part, last) VALUES ($1, -1, 0, TRUE) \
         ON CONFLICT (partition) DO NOTHING",
    )
    .bind(part.partition)
    .execute(&mut **tx)
    .await?;
    let (tick, at): (i64, i32) = sqlx::query_as(
        "SELECT tick, part FROM recorded_events WHERE partition = $1 FOR UPDATE NOWAIT",
    )
    .bind(part.partition)
    .fetch_one(&mut **tx)
    .await?;
    Ok((id(part.tick), part.part as i32) > (tick, at))
}

/// Writes what one event changes.
async fn record_event(
    tx: &mut Tx,
    season: &str,
    part: &EventsPart<'_>,
    event: &Event,
) -> Result<(), sqlx::Error> {
    let now = part.now_ms;
    match event {
        Event::MatchProposed { summary, .. } => {
            save_match(tx, &new_match_row(summary, MatchState::Proposed)).await
        }
        Event::MatchFormed { summary } => {
            // Its players are the formed roster (some of a proposal may have been dropped).
            sqlx::query("DELETE FROM match_players WHERE match_id = $1")
                .bind(id(summary.match_id.0))
                .execute(&mut **tx)
                .await?;
            save_match(tx, &new_match_row(summary, MatchState::Allocating)).await
        }
        Event::MatchCancelled { match_id, .. } => {
            set_state(tx, *match_id, MatchState::Cancelled, now, None).await
        }
        Event::SessionActive { match_id, server } => {
            set_state(tx, *match_id, MatchState::Active, now, None).await?;
            sqlx::query("UPDATE sessions SET server_address = $2 WHERE match_id = $1")
                .bind(id(match_id.0))
                .bind(server.as_str())
                .execute(&mut **tx)
                .await
                .map(drop)
        }
        Event::SessionEnded {
            match_id,
            placements,
        } => {
            let placed = placements.as_deref().map(placements_text);
            let known = placed.is_some();
            set_state(tx, *match_id, MatchState::Ended, now, placed).await?;
            if known {
                place_history(tx, *match_id).await?;
            }
            Ok(())
        }
        Event::SessionAbandoned { match_id, .. } => {
            set_state(tx, *match_id, MatchState::Abandoned, now, None).await
        }
        Event::BackfillFilled {
            match_id, tickets, ..
        } => {
            let players = tickets.iter().flat_map(|placed| {
                placed.ticket.players.iter().map(move |player| {
                    let role = player.role.as_deref().map(str::to_string);
                    (player.player, placed.team, role)
                })
            });
            save_players(tx, *match_id, players.collect()).await?;
            sqlx::query("UPDATE sessions SET updated_at_ms = $2 WHERE match_id = $1")
                .bind(id(match_id.0))
                .bind(id(now))
                .execute(&mut **tx)
                .await
                .map(drop)
        }
        Event::RatingsUpdated {
            match_id,
            mode,
            updates,
        } => {
            let rated = Rated {
                match_id: *match_id,
                mode,
                season,
                now_ms: now,
                placements: ended_placements(part.events, *match_id),
            };
            rate(tx, &rated, updates).await
        }
        _ => Ok(()),
    }
}

/// The placements of `match_id`'s end among `events` (the core rates before it ends the
/// session, both in one tick; should the tick's batch be split between the two, the end's
/// part fills the placements in: `place_history`).
fn ended_placements(events: &[Event], match_id: MatchId) -> Option<String> {
    events.iter().find_map(|event| match event {
        Event::SessionEnded {
            match_id: ended,
            placements: Some(placements),
        } if *ended == match_id => Some(placements_text(placements)),
        _ => None,
    })
}

/// Fills in the placement of `match_id`'s history rows recorded without one (rated in an
/// earlier part of the tick than the one that ended it), from its session's placements.
async fn place_history(tx: &mut Tx, match_id: MatchId) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE match_history h SET placement = COALESCE(NULLIF(split_part(s.placements, ',', \
         mp.team + 1), '')::bigint, 4294967295) FROM match_players mp, sessions s \
         WHERE h.match_id = $1 AND h.placement = 4294967295 AND mp.match_id = h.match_id \
         AND mp.player_id = h.player_id AND s.match_id = h.match_id",
    )
    .bind(id(match_id.0))
    .execute(&mut **tx)
    .await
    .map(drop)
}

async fn save_match(tx: &mut Tx, row: &MatchRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO matches (match_id, queue, mode, region, formed_at_ms, quality) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (match_id) DO NOTHING",
    )
    .bind(id(row.match_id.0))
    .bind(&row.queue)
    .bind(&row.mode)
    .bind(&row.region)
    .bind(id(row.formed_at_ms))
    .bind(row.quality)
    .execute(&mut **tx)
    .await?;
    let role_of = |player| {
        row.roles
            .iter()
            .find(|(p, _)| *p == player)
            .map(|(_, role)| role.clone())
    };
    let players = row
        .players
        .iter()
        .map(|(player, team)| (*player, *team, role_of(*player)))
        .collect();
    save_players(tx, row.match_id, players).await?;
    let state = row.state;
    sqlx::query(
        "INSERT INTO sessions (match_id, state, updated_at_ms) VALUES ($1, $2, $3) \
         ON CONFLICT (match_id) DO UPDATE SET state = EXCLUDED.state, \
         updated_at_ms = EXCLUDED.updated_at_ms",
    )
    .bind(id(row.match_id.0))
    .bind(state.as_str())
    .bind(id(row.updated_at_ms))
    .execute(&mut **tx)
    .await
    .map(drop)
}

async fn save_players(
    tx: &mut Tx,
    match_id: MatchId,
    players: Vec<(matchwright_ecs::PlayerId, u8, Option<String>)>,
) -> Result<(), sqlx::Error> {
    let ids: Vec<i64> = players.iter().map(|(p, _, _)| id(p.0)).collect();
    let teams: Vec<i16> = players.iter().map(|(_, t, _)| i16::from(*t)).collect();
    let roles: Vec<Option<String>> = players.into_iter().map(|(_, _, r)| r).collect();
    sqlx::query(
        "INSERT INTO match_players (match_id, player_id, team, role) \
         SELECT $1, * FROM UNNEST($2::bigint[], $3::smallint[], $4::text[]) \
         ON CONFLICT (match_id, player_id) DO UPDATE SET team = EXCLUDED.team, \
         role = EXCLUDED.role",
    )
    .bind(id(match_id.0))
    .bind(ids)
    .bind(teams)
    .bind(roles)
    .execute(&mut **tx)
    .await
    .map(drop)
}

async fn set_state(
    tx: &mut Tx,
    match_id: MatchId,
    state: MatchState,
    now_ms: u64,
    placements: Option<String>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE sessions SET state = $2, updated_at_ms = $3, \
         placements = COALESCE($4, placements) WHERE match_id = $1",
    )
    .bind(id(match_id.0))
    .bind(state.as_str())
    .bind(id(now_ms))
    .bind(placements)
    .execute(&mut **tx)
    .await
    .map(drop)
}

/// The match a set of rating updates comes from.
struct Rated<'a> {
    match_id: MatchId,
    mode: &'a str,
    season: &'a str,
    now_ms: u64,
    /// Its placements, when this tick ended it with a result.
    placements: Option<String>,
}

/// Each player's new rating (games counted up) and a history row with their team's
/// placement (`u32::MAX` when unknown, as the store writes it).
async fn rate(tx: &mut Tx, rated: &Rated<'_>, updates: &[RatingUpdate]) -> Result<(), sqlx::Error> {
    let players: Vec<i64> = updates.iter().map(|u| id(u.player.0)).collect();
    let modes: Vec<String> = updates
        .iter()
        .map(|u| rating_key(rated.mode, u.role.as_deref()))
        .collect();
    let column = |f: fn(&RatingUpdate) -> f64| updates.iter().map(f).collect::<Vec<f64>>();
    sqlx::query(
        "INSERT INTO ratings (player_id, mode, season, mu, sigma, volatility, games, \
         updated_at_ms) SELECT p, m, $3, mu, s, v, 1, $7 FROM UNNEST($1::bigint[], \
         $2::text[], $4::float8[], $5::float8[], $6::float8[]) AS u (p, m, mu, s, v) \
         ON CONFLICT (player_id, mode, season) DO UPDATE SET mu = EXCLUDED.mu, \
         sigma = EXCLUDED.sigma, volatility = EXCLUDED.volatility, \
         games = ratings.games + 1, updated_at_ms = EXCLUDED.updated_at_ms",
    )
    .bind(&players)
    .bind(&modes)
    .bind(rated.season)
    .bind(column(|u| u.after.mu))
    .bind(column(|u| u.after.sigma))
    .bind(column(|u| u.after.volatility))
    .bind(id(rated.now_ms))
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "INSERT INTO match_history (player_id, match_id, mode, placement, mu_before, \
         sigma_before, mu_after, sigma_after, at_ms) \
         SELECT u.p, $2, u.m, COALESCE((SELECT NULLIF(split_part(COALESCE($3, s.placements), \
         ',', mp.team + 1), '')::bigint FROM match_players mp LEFT JOIN sessions s \
         ON s.match_id = mp.match_id WHERE mp.match_id = $2 AND mp.player_id = u.p), \
         4294967295), u.mub, u.sigb, u.mua, u.siga, $4 FROM UNNEST($1::bigint[], $5::text[], \
         $6::float8[], $7::float8[], $8::float8[], $9::float8[]) AS u (p, m, mub, sigb, mua, \
         siga) ON CONFLICT (player_id, match_id) DO UPDATE SET placement = EXCLUDED.placement, \
         mu_before = EXCLUDED.mu_before, sigma_before = EXCLUDED.sigma_before, \
         mu_after = EXCLUDED.mu_after, sigma_after = EXCLUDED.sigma_after, at_ms = EXCLUDED.at_ms",
    )
    .bind(&players)
    .bind(id(rated.match_id.0))
    .bind(rated.placements.as_deref())
    .bind(id(rated.now_ms))
    .bind(&modes)
    .bind(column(|u| u.before.mu))
    .bind(column(|u| u.before.sigma))
    .bind(column(|u| u.after.mu))
    .bind(column(|u| u.after.sigma))
    .execute(&mut **tx)
    .await
    .map(drop)
}
