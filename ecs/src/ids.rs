//! Our own identifiers. These, never `bevy_ecs::entity::Entity`, appear in commands and events,
//! on the wire and on disk: an `Entity` is an index into one `World` and means nothing elsewhere.

use core::fmt;

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub u64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($prefix, "{}"), self.0)
            }
        }
    };
}

id_type!(
    /// A player (an account). Chosen by the caller; unique per player.
    PlayerId,
    "player:"
);
id_type!(
    /// A party: players who queue together and always land on one team. Chosen by the caller.
    PartyId,
    "party:"
);
id_type!(
    /// A ticket: one solo player or one whole party waiting in one queue. Chosen by the caller;
    /// a ticket id may not be reused while that ticket is still queued or awaiting acceptance.
    TicketId,
    "ticket:"
);
id_type!(
    /// A match, from proposal to the end of its session. Assigned by the matcher, in order.
    MatchId,
    "match:"
);
id_type!(
    /// The sequence number `Matcher::submit` gives each command, in submission order.
    /// Events about a command (its rejection, the ticket it queued) carry it.
    CommandSeq,
    "command:"
);
