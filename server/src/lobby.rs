//! The lobby: what a party has beside its membership. The matcher owns membership and the
//! leader (`CreateParty`, `JoinParty`, `LeaveParty`: journaled and recovered like everything
//! else it owns); the lobby owns the conversational parts that need no durability: pending
//! invites, the ready check, and recent chat. A restart forgets them (parties and their
//! members survive; players ready up and invite again), which is why they live here and not
//! in the core.
//!
//! Bounds: `lobby.max_invites` pending invites per party (another is refused with 409), each
//! expiring after `lobby.invite_ttl_s`; `lobby.chat_history` recent chat lines per party (the
//! oldest goes); a chat line is at most `lobby.max_chat_chars` characters. A party's lobby
//! state goes when the party does.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Mutex;

use matchwright_ecs::{PartyId, PlayerId};
use matchwright_transport::wire::{ChatLine, Party, PartyMember};

use crate::settings::LobbySection;
use crate::view::{PlayerStatus, View};

/// Why the lobby refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LobbyRefusal {
    /// The party has `limit` pending invites.
    TooManyInvites {
        /// The bound.
        limit: usize,
    },
}

#[derive(Debug, Default)]
struct PartyLobby {
    /// Invited player -> when the invite expires (Unix ms).
    invites: BTreeMap<PlayerId, u64>,
    /// Ready members, with the pings they gave (region -> ms), if any.
    ready: HashMap<PlayerId, BTreeMap<String, u16>>,
    chat: VecDeque<ChatLine>,
    /// Members being kicked (so their leaving is announced as a kick).
    kicking: HashSet<PlayerId>,
}

/// The lobby state of every party.
#[derive(Debug)]
pub struct Lobby {
    parties: Mutex<HashMap<PartyId, PartyLobby>>,
    settings: LobbySection,
}

impl Lobby {
    /// An empty lobby.
    pub fn new(settings: LobbySection) -> Self {
        Self {
            parties: Mutex::new(HashMap::new()),
            settings,
        }
    }

    /// The settings in force.
    pub fn settings(&self) -> &LobbySection {
        &self.settings
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PartyId, PartyLobby>> {
        // Every change is a single insert or remove: a poisoned lock is still consistent.
        self.parties
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Invites `player` to `party` until `now_ms + invite_ttl`; returns when it expires.
    /// Inviting again renews the invite.
    pub fn invite(
        &self,
        party: PartyId,
        player: PlayerId,
        now_ms: u64,
    ) -> Result<u64, LobbyRefusal> {
        let mut parties = self.lock();
        let lobby = parties.entry(party).or_default();
        lobby.invites.retain(|_, expires| *expires > now_ms);
        let limit = self.settings.max_invites;
        if !lobby.invites.contains_key(&player) && lobby.invites.len() >= limit {
            return Err(LobbyRefusal::TooManyInvites { limit });
        }
        let expires = now_ms + self.settings.invite_ttl_s * 1_000;
        lobby.invites.insert(player, expires);
        Ok(expires)
    }

    /// Whether `player` holds a live invite to `party`.
    pub fn is_invited(&self, party: PartyId, player: PlayerId, now_ms: u64) -> bool {
        self.lock()
            .get(&party)
            .and_then(|lobby| lobby.invites.get(&player))
            .is_some_and(|expires| *expires > now_ms)
    }

    /// Spends `player`'s invite (they joined).
    pub fn take_invite(&self, party: PartyId, player: PlayerId) {
        if let Some(lobby) = self.lock().get_mut(&party) {
            lobby.invites.remove(&player);
        }
    }

    /// Marks `player` ready (with their pings) or not ready.
    pub fn set_ready(
        &self,
        party: PartyId,
        player: PlayerId,
        ready: bool,
        pings: BTreeMap<String, u16>,
    ) {
        let mut parties = self.lock();
        let lobby = parties.entry(party).or_default();
        if ready {
            lobby.ready.insert(player, pings);
        } else {
            lobby.ready.remove(&player);
        }
    }

    /// The ready members and their pings.
    pub fn ready(&self, party: PartyId) -> HashMap<PlayerId, BTreeMap<String, u16>> {
        self.lock()
            .get(&party)
            .map(|lobby| lobby.ready.clone())
            .unwrap_or_default()
    }

    /// Clears the ready check (the party queued, or its membership changed).
    pub fn clear_ready(&self, party: PartyId) {
        if let Some(lobby) = self.lock().get_mut(&party) {
            lobby.ready.clear();
        }
    }

    /// Keeps a chat line (the oldest goes beyond `chat_history`).
    pub fn chat(&self, party: PartyId, line: ChatLine) {
        let mut parties = self.lock();
        let lobby = parties.entry(party).or_default();
        lobby.chat.push_back(line);
        while lobby.chat.len() > self.settings.chat_history {
            lobby.chat.pop_front();
        }
    }

    /// Notes that `player` is being kicked from `party`.
    pub fn mark_kicked(&self, party: PartyId, player: PlayerId) {
        self.lock().entry(party).or_default().kicking.insert(player);
    }

    /// Whether `player` left `party` by a kick (forgets the note).
    pub fn take_kicked(&self, party: PartyId, player: PlayerId) -> bool {
        self.lock()
            .get_mut(&party)
            .is_some_and(|lobby| lobby.kicking.remove(&player))
    }

    /// Forgets a party that no longer exists.
    pub fn forget(&self, party: PartyId) {
        self.lock().remove(&party);
    }

    /// The party as clients see it, or `None` if it does not exist.
    pub fn body(&self, view: &View, party: PartyId, now_ms: u64) -> Option<Party> {
        let found = view.party(party)?;
        let parties = self.lock();
        let lobby = parties.get(&party);
        let status = match view.status(found.leader) {
            None => "idle",
            Some(PlayerStatus::Queued(_)) => "queued",
            Some(PlayerStatus::Proposed(..)) => "awaiting_acceptance",
            Some(PlayerStatus::InMatch(_)) => "in_match",
        };
        Some(Party {
            party_id: party.0,
            leader_id: found.leader.0,
            status: status.into(),
            members: found
                .members
                .iter()
                .map(|member| PartyMember {
                    player_id: member.0,
                    leader: *member == found.leader,
                    ready: lobby.is_some_and(|lobby| lobby.ready.contains_key(member)),
                })
                .collect(),
            invited: lobby
                .map(|lobby| {
                    lobby
                        .invites
                        .iter()
                        .filter(|(_, expires)| **expires > now_ms)
                        .map(|(player, _)| player.0)
                        .collect()
                })
                .unwrap_or_default(),
            chat: lobby
                .map(|lobby| lobby.chat.iter().cloned().collect())
                .unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lobby() -> Lobby {
        Lobby::new(LobbySection {
            max_invites: 2,
            invite_ttl_s: 10,
            chat_history: 3,
            max_chat_chars: 20,
        })
    }

    #[test]
    fn invites_expire_and_are_bounded() {
        let lobby = lobby();
        let party = PartyId(1);
        assert_eq!(lobby.invite(party, PlayerId(2), 0), Ok(10_000));
        assert_eq!(lobby.invite(party, PlayerId(3), 0), Ok(10_000));
        assert_eq!(
            lobby.invite(party, PlayerId(4), 0),
            Err(LobbyRefusal::TooManyInvites { limit: 2 })
        );
        // Renewing an invite is not a new one.
        assert_eq!(lobby.invite(party, PlayerId(3), 5_000), Ok(15_000));
        assert!(lobby.is_invited(party, PlayerId(2), 9_999));
        assert!(!lobby.is_invited(party, PlayerId(2), 10_000));
        // Expired invites make room.
        assert_eq!(lobby.invite(party, PlayerId(4), 10_000), Ok(20_000));
        lobby.take_invite(party, PlayerId(4));
        assert!(!lobby.is_invited(party, PlayerId(4), 10_001));
    }

    #[test]
    fn chat_keeps_the_newest_lines_and_ready_clears() {
        let lobby = lobby();
        let party = PartyId(1);
        for n in 0..5 {
            lobby.chat(
                party,
                ChatLine {
                    player_id: 1,
                    display_name: "a".into(),
                    text: format!("line {n}"),
                    at_ms: n,
                },
            );
        }
        let kept: Vec<u64> = lobby.lock()[&party].chat.iter().map(|l| l.at_ms).collect();
        assert_eq!(kept, vec![2, 3, 4]);
        lobby.set_ready(party, PlayerId(2), true, BTreeMap::new());
        assert_eq!(lobby.ready(party).len(), 1);
        lobby.set_ready(party, PlayerId(2), false, BTreeMap::new());
        assert!(lobby.ready(party).is_empty());
        lobby.set_ready(party, PlayerId(2), true, BTreeMap::new());
        lobby.clear_ready(party);
        assert!(lobby.ready(party).is_empty());
        lobby.mark_kicked(party, PlayerId(3));
        assert!(lobby.take_kicked(party, PlayerId(3)));
        assert!(!lobby.take_kicked(party, PlayerId(3)));
    }
}
