//! Binary encoding of commands and events, through `matchwright_codec` (the one crate that
//! calls bincode). Every encoding starts with a format version byte, so that readers of
//! stored journals and traces can tell formats apart.
//!
//! Also the event-stream hash: blake3 over the encoded events, the same across runs, builds
//! and machines for the same input (bincode's standard configuration is little-endian with
//! fixed rules). The determinism test and the tick journal compare these hashes.

use core::fmt;

use serde::{Serialize, de::DeserializeOwned};

use crate::event::Event;

/// The format version written before every encoding.
pub const FORMAT_VERSION: u8 = 2;

/// Why bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodecError {
    /// No bytes at all.
    Empty,
    /// The bytes were written in another format version.
    UnknownVersion {
        /// The version byte found.
        found: u8,
    },
    /// The bytes do not decode as the expected type.
    Malformed(String),
    /// The value decoded but bytes were left over.
    TrailingBytes {
        /// How many.
        count: usize,
    },
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => write!(f, "no bytes to decode"),
            Self::UnknownVersion { found } => write!(
                f,
                "format version {found} is not the supported version {FORMAT_VERSION}"
            ),
            Self::Malformed(why) => write!(f, "malformed: {why}"),
            Self::TrailingBytes { count } => write!(f, "{count} bytes left after the value"),
        }
    }
}

impl std::error::Error for CodecError {}

/// Encodes a value: the version byte, then the value.
pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = vec![FORMAT_VERSION];
    encode_into(value, &mut out);
    out
}

/// Appends a value's encoding (without a version byte) to `out`.
pub fn encode_into<T: Serialize>(value: &T, out: &mut Vec<u8>) {
    matchwright_codec::encode_into(value, out);
}

/// Decodes what [`encode`] wrote.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    let (&version, body) = bytes.split_first().ok_or(CodecError::Empty)?;
    if version != FORMAT_VERSION {
        return Err(CodecError::UnknownVersion { found: version });
    }
    let (value, used) =
        matchwright_codec::decode_prefix(body).map_err(|error| CodecError::Malformed(error.0))?;
    if used != body.len() {
        return Err(CodecError::TrailingBytes {
            count: body.len() - used,
        });
    }
    Ok(value)
}

/// A running hash of an event stream.
#[derive(Clone, Debug)]
pub struct EventHasher {
    hasher: blake3::Hasher,
    buffer: Vec<u8>,
    events: u64,
}

impl Default for EventHasher {
    fn default() -> Self {
        let mut hasher = blake3::Hasher::new();
        hasher.update(&[FORMAT_VERSION]);
        Self {
            hasher,
            buffer: Vec::new(),
            events: 0,
        }
    }
}

impl EventHasher {
    /// A hasher over no events yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one event (length-prefixed, so that streams cannot collide by regrouping).
    pub fn add(&mut self, event: &Event) {
        self.buffer.clear();
        encode_into(event, &mut self.buffer);
        self.hasher
            .update(&(self.buffer.len() as u64).to_le_bytes());
        self.hasher.update(&self.buffer);
        self.events += 1;
    }

    /// Events added so far.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// The hash so far.
    pub fn digest(&self) -> [u8; 32] {
        *self.hasher.finalize().as_bytes()
    }

    /// The hash so far, in hex.
    pub fn hex(&self) -> String {
        self.hasher.finalize().to_hex().to_string()
    }
}

/// The hash of one tick's events, in order: what the journal and traces keep per tick.
pub fn hash_events(events: &[Event]) -> [u8; 32] {
    let mut hasher = EventHasher::new();
    for event in events {
        hasher.add(event);
    }
    hasher.digest()
}

/// Links one tick's event hash onto the hash of everything before it, so that one value
/// (kept in every journal entry) stands for the whole event stream up to that tick.
pub fn chain_hash(previous: &[u8; 32], tick: &[u8; 32]) -> [u8; 32] {
    let mut hasher = blake3::Hasher::new();
    hasher.update(previous);
    hasher.update(tick);
    *hasher.finalize().as_bytes()
}

/// Hex of a hash.
pub fn hex(hash: &[u8; 32]) -> String {
    blake3::Hash::from_bytes(*hash).to_hex().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::RejectReason;
    use crate::ids::CommandSeq;

    #[test]
    fn events_round_trip() {
        let event = Event::Rejected {
            seq: CommandSeq(7),
            reason: RejectReason::UnknownQueue {
                queue: "nope".into(),
            },
        };
        let bytes = encode(&event);
        assert_eq!(bytes[0], FORMAT_VERSION);
        assert_eq!(decode::<Event>(&bytes).unwrap(), event);
    }

    #[test]
    fn bad_bytes_get_clear_errors() {
        assert_eq!(decode::<Event>(&[]), Err(CodecError::Empty));
        assert_eq!(
            decode::<Event>(&[9, 0]),
            Err(CodecError::UnknownVersion { found: 9 })
        );
        assert!(matches!(
            decode::<Event>(&[FORMAT_VERSION, 250, 250, 250]),
            Err(CodecError::Malformed(_))
        ));
        let mut bytes = encode(&Event::PartyDisbanded {
            party: crate::ids::PartyId(1),
        });
        bytes.push(0);
        assert_eq!(
            decode::<Event>(&bytes),
            Err(CodecError::TrailingBytes { count: 1 })
        );
    }

    #[test]
    fn the_hash_depends_on_order() {
        let one = Event::PartyDisbanded {
            party: crate::ids::PartyId(1),
        };
        let two = Event::PartyDisbanded {
            party: crate::ids::PartyId(2),
        };
        let mut forward = EventHasher::new();
        forward.add(&one);
        forward.add(&two);
        let mut backward = EventHasher::new();
        backward.add(&two);
        backward.add(&one);
        assert_ne!(forward.hex(), backward.hex());
        assert_eq!(forward.events(), 2);
    }
}
