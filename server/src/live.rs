//! Live events: what committed core events mean for the live view and for the players
//! connected here. The one place both the tick loop (`serve`) and a gateway (whose events
//! come from the partitions' event batches) turn events into view updates and pushes, event
//! by event, each seeing the view as it was just before it.

use std::sync::Arc;

use matchwright_ecs::event::{
    AbandonReason, BackfilledTicket, MatchCancelReason, RatingUpdate, RemovalReason,
};
use matchwright_ecs::{Event, MatchId, PlayerId};
use matchwright_transport::wire;

use crate::auth;
use crate::hub;
use crate::settings::{Secrets, Settings};
use crate::shared::Shared;
use crate::view::{MatchStage, View};

/// What the live view and the sockets need from the server.
pub struct Live<'a> {
    /// The view, the hub and the lobby.
    pub shared: &'a Shared,
    /// Session tokens' lifetime.
    pub settings: &'a Settings,
    /// Session tokens' secret.
    pub secrets: &'a Secrets,
}

/// What a batch of events asks of the fleet.
#[derive(Debug, Default)]
pub struct ForFleet {
    /// Matches formed, waiting for a game server (id, region, queue).
    pub to_allocate: Vec<(MatchId, String, String)>,
    /// Sessions over: their servers are free.
    pub released: Vec<MatchId>,
}

impl Live<'_> {
    /// Updates the view and pushes live events, event by event (each sees the view as it
    /// was just before it). Returns what the fleet must do.
    pub fn publish(&self, events: &[Event], now_ms: u64) -> ForFleet {
        let mut fleet = ForFleet::default();
        let mut view = self
            .shared
            .view
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for event in events {
            self.push_live(event, &view, now_ms);
            match event {
                Event::MatchFormed { summary } => {
                    fleet.to_allocate.push((
                        summary.match_id,
                        summary.region.to_string(),
                        summary.queue.to_string(),
                    ));
                }
                Event::SessionEnded { match_id, .. } | Event::SessionAbandoned { match_id, .. } => {
                    fleet.released.push(*match_id);
                }
                _ => {}
            }
            let disbanded_members = match event {
                Event::PartyDisbanded { party } => view
                    .party(*party)
                    .map(|found| found.members.clone())
                    .unwrap_or_default(),
                _ => Vec::new(),
            };
            view.apply_one(event);
            self.push_party(event, &view, &disbanded_members, now_ms);
        }
        fleet
    }

    /// After a party event is in the view: the lobby follows (a membership change clears the
    /// ready check; a party that is gone loses its lobby state) and the members are told.
    fn push_party(&self, event: &Event, view: &View, disbanded_members: &[PlayerId], now_ms: u64) {
        let lobby = &self.shared.lobby;
        let (party, change, player, extra) = match event {
            Event::PartyCreated { party, leader } => (*party, "created", *leader, None),
            Event::PartyJoined { party, player } => {
                lobby.clear_ready(*party);
                (*party, "joined", *player, None)
            }
            Event::PartyLeft { party, player } => {
                lobby.clear_ready(*party);
                let kicked = lobby.take_kicked(*party, *player);
                (
                    *party,
                    if kicked { "kicked" } else { "left" },
                    *player,
                    Some(*player),
                )
            }
            Event::PartyDisbanded { party } => {
                lobby.forget(*party);
                let live = wire::Event::PartyUpdated {
                    change: "disbanded".into(),
                    player_id: 0,
                    party: wire::Party::disbanded(party.0),
                };
                for member in disbanded_members {
                    self.shared.hub.send(*member, &live);
                }
                return;
            }
            _ => return,
        };
        let Some(body) = lobby.body(view, party, now_ms) else {
            // The last member left: the party is gone (its `disbanded` follows).
            if let Some(player) = extra {
                let live = wire::Event::PartyUpdated {
                    change: change.into(),
                    player_id: player.0,
                    party: wire::Party::disbanded(party.0),
                };
                self.shared.hub.send(player, &live);
            }
            return;
        };
        let recipients: Vec<PlayerId> = body
            .members
            .iter()
            .map(|member| PlayerId(member.player_id))
            .chain(extra)
            .collect();
        let live = wire::Event::PartyUpdated {
            change: change.into(),
            player_id: player.0,
            party: body,
        };
        for recipient in recipients {
            self.shared.hub.send(recipient, &live);
        }
    }

    fn send_to_match(&self, view: &View, match_id: MatchId, event: &wire::Event) {
        if let Some(found) = view.match_view(match_id) {
            for (player, _) in &found.players {
                self.shared.hub.send(*player, event);
            }
        }
    }

    /// The live events one core event means, to the players it concerns.
    fn push_live(&self, event: &Event, view: &View, now_ms: u64) {
        match event {
            Event::TicketQueued { .. }
            | Event::TicketRemoved { .. }
            | Event::TicketRequeued { .. } => {
                self.push_ticket(event, view);
            }
            Event::MatchProposed {
                summary,
                deadline_ms,
            } => self.push_match_found(summary, "awaiting_acceptance", Some(*deadline_ms)),
            Event::MatchFormed { summary } => {
                self.push_match_found(summary, "allocating", None);
            }
            Event::MatchAccepted { match_id, player } => self.send_to_match(
                view,
                *match_id,
                &wire::Event::MatchAccepted {
                    match_id: match_id.0,
                    player_id: player.0,
                },
            ),
            Event::MatchCancelled { match_id, reason } => {
                let (name, players) = match reason {
                    MatchCancelReason::Declined { players } => ("declined", players),
                    MatchCancelReason::TimedOut { players } => ("timed_out", players),
                    MatchCancelReason::Cancelled => ("cancelled", &Vec::new()),
                };
                self.send_to_match(
                    view,
                    *match_id,
                    &wire::Event::MatchCancelled {
                        match_id: match_id.0,
                        reason: name.into(),
                        players: players.iter().map(|p| p.0).collect(),
                    },
                );
            }
            Event::SessionActive { match_id, server } => {
                self.push_session_ready(view, *match_id, server, now_ms);
            }
            Event::SessionEnded {
                match_id,
                placements,
            } => self.send_to_match(
                view,
                *match_id,
                &wire::Event::SessionEnded {
                    match_id: match_id.0,
                    placements: placements.clone(),
                },
            ),
            Event::SessionAbandoned { match_id, reason } => {
                self.push_abandoned(view, *match_id, *reason);
            }
            Event::BackfillFilled {
                match_id, tickets, ..
            } => self.push_backfilled(view, *match_id, tickets, now_ms),
            Event::RatingsUpdated {
                match_id,
                mode,
                updates,
            } => self.push_ratings(*match_id, mode, updates),
            _ => {}
        }
    }

    /// A ticket queued, removed or put back: to its players.
    fn push_ticket(&self, event: &Event, view: &View) {
        let (live, players) = match event {
            Event::TicketQueued {
                ticket,
                queue,
                players,
                at_ms,
                ..
            } => {
                let live = wire::Event::Queued {
                    ticket_id: ticket.0,
                    queue: queue.clone(),
                    waiting_since_ms: *at_ms,
                };
                (live, players.clone())
            }
            Event::TicketRemoved {
                ticket,
                reason,
                waited_ms,
            } => {
                let Some(found) = view.ticket(*ticket) else {
                    return;
                };
                let live = wire::Event::QueueLeft {
                    ticket_id: ticket.0,
                    reason: removal_name(*reason).into(),
                    waited_ms: *waited_ms,
                };
                (live, found.players.clone())
            }
            Event::TicketRequeued { ticket, match_id } => {
                let Some(found) = view.ticket(*ticket) else {
                    return;
                };
                let live = wire::Event::Requeued {
                    ticket_id: ticket.0,
                    match_id: match_id.0,
                };
                (live, found.players.clone())
            }
            _ => return,
        };
        for player in players {
            self.shared.hub.send(player, &live);
        }
    }

    /// A session's game server is up: each connected player gets its address and a session
    /// token.
    fn push_session_ready(&self, view: &View, match_id: MatchId, server: &str, now_ms: u64) {
        let Some(found) = view.match_view(match_id) else {
            return;
        };
        let hub = &self.shared.hub;
        for (player, team) in &found.players {
            if hub.is_connected(*player) {
                let (token, expires) = self.session_token(*player, match_id, *team, server, now_ms);
                hub.send(
                    *player,
                    &wire::Event::SessionReady {
                        match_id: match_id.0,
                        server: server.to_owned(),
                        session_token: token,
                        token_expires_at_ms: expires,
                    },
                );
            }
        }
    }

    /// A session given up. One that never had a game server is, to its players, a cancelled
    /// match (their tickets' `requeued` follow).
    fn push_abandoned(&self, view: &View, match_id: MatchId, reason: AbandonReason) {
        let live = match reason {
            AbandonReason::AllocationFailed
            | AbandonReason::AllocationTimedOut
            | AbandonReason::Cancelled => wire::Event::MatchCancelled {
                match_id: match_id.0,
                reason: crate::backend_events::abandon_reason(reason).into(),
                players: Vec::new(),
            },
            AbandonReason::HeartbeatTimedOut | AbandonReason::Empty => {
                wire::Event::SessionAbandoned {
                    match_id: match_id.0,
                    reason: crate::backend_events::abandon_reason(reason).into(),
                }
            }
        };
        self.send_to_match(view, match_id, &live);
    }

    /// Tickets placed in a running session: each of their players gets the match (with the
    /// roster as it is now) and, when it is being played, its session.
    fn push_backfilled(
        &self,
        view: &View,
        match_id: MatchId,
        tickets: &[BackfilledTicket],
        now_ms: u64,
    ) {
        let Some(found) = view.match_view(match_id) else {
            return;
        };
        // The view is as before this event: the placed players join its roster.
        let mut roster = found.players.clone();
        let mut roles = found.roles.clone();
        for placed in tickets {
            for player in &placed.ticket.players {
                roster.push((player.player, placed.team));
                if let Some(role) = &player.role {
                    roles.insert(player.player, Arc::clone(role));
                }
            }
        }
        let players = hub::match_players(&roster, |p| roles.get(&p).map(|role| &**role));
        let hub = &self.shared.hub;
        for placed in tickets {
            for player in &placed.ticket.players {
                let live = wire::Event::MatchFound {
                    match_id: match_id.0,
                    state: found.stage.name().into(),
                    queue: found.summary.queue.to_string(),
                    mode: found.summary.mode.to_string(),
                    region: found.summary.region.to_string(),
                    quality: found.summary.quality,
                    your_team: placed.team,
                    players: players.clone(),
                    accept_by_ms: None,
                };
                hub.send(player.player, &live);
                if let MatchStage::Active { server } = &found.stage {
                    let (token, expires) =
                        self.session_token(player.player, match_id, placed.team, server, now_ms);
                    hub.send(
                        player.player,
                        &wire::Event::SessionReady {
                            match_id: match_id.0,
                            server: server.clone(),
                            session_token: token,
                            token_expires_at_ms: expires,
                        },
                    );
                }
            }
        }
    }

    /// Each rated player's rating before and after.
    fn push_ratings(&self, match_id: MatchId, mode: &str, updates: &[RatingUpdate]) {
        for update in updates {
            self.shared.hub.send(
                update.player,
                &wire::Event::RatingsChanged {
                    match_id: match_id.0,
                    mode: mode.to_owned(),
                    role: update.role.as_deref().map(str::to_owned),
                    before: hub::rating(update.before),
                    after: hub::rating(update.after),
                },
            );
        }
    }

    fn push_match_found(
        &self,
        summary: &matchwright_ecs::MatchSummary,
        state: &str,
        accept_by_ms: Option<u64>,
    ) {
        let roles = crate::view::roles_of(summary);
        let players = hub::match_players(&crate::view::roster(summary), |p| {
            roles.get(&p).map(|role| &**role)
        });
        for body in &players {
            let player = PlayerId(body.player_id);
            if !self.shared.hub.is_connected(player) {
                continue;
            }
            self.shared.hub.send(
                player,
                &wire::Event::MatchFound {
                    match_id: summary.match_id.0,
                    state: state.into(),
                    queue: summary.queue.to_string(),
                    mode: summary.mode.to_string(),
                    region: summary.region.to_string(),
                    quality: summary.quality,
                    your_team: body.team,
                    players: players.clone(),
                    accept_by_ms,
                },
            );
        }
    }

    fn session_token(
        &self,
        player: PlayerId,
        match_id: MatchId,
        team: u8,
        server: &str,
        now_ms: u64,
    ) -> (String, u64) {
        let ttl_s = self.settings.server.session_token_ttl_s;
        let claims = auth::session_claims(player, match_id, team, server, now_ms / 1_000, ttl_s);
        let expires = claims.exp * 1_000;
        (auth::session_token(&self.secrets.session, &claims), expires)
    }
}

fn removal_name(reason: RemovalReason) -> &'static str {
    match reason {
        RemovalReason::Cancelled => "cancelled",
        RemovalReason::Expired => "expired",
        RemovalReason::Declined => "declined",
        RemovalReason::AcceptanceTimedOut => "acceptance_timed_out",
        RemovalReason::PartyChanged => "party_changed",
    }
}
