//! # matchwright-codec: the one place that calls bincode
//!
//! Bincode is pinned to 2.0.1 (3.0.0 is a tombstone release). Every binary encoding in the
//! workspace goes through these four functions: the core's journal and trace format
//! (`matchwright_ecs::codec`, format version byte there) and the client wire protocol
//! (`matchwright_transport::codec`, protocol version byte there). Swapping the encoder is a
//! change to this file alone; the version bytes the callers write say which encoding a reader
//! holds.
//!
//! The configuration is bincode's standard one: little-endian, variable-length integers. It
//! is the same on every machine, so equal values give equal bytes (the event hashes rely on
//! that).

use core::fmt;

use serde::{Serialize, de::DeserializeOwned};

fn config() -> bincode::config::Configuration {
    bincode::config::standard()
}

/// The most bytes one decode may claim for its strings and sequences. Bincode sizes a
/// string's buffer from the length the bytes announce before it reads the string, so without
/// a limit a few forged bytes could ask for terabytes and abort the process. Stored values
/// (journals, snapshots, traces) stay far below this.
pub const DECODE_LIMIT: usize = 1 << 30;

/// The limit for bytes from the network: no wire frame is larger (`[quic] max_frame_bytes` is
/// at most 16 MiB), so no honest message claims more.
pub const WIRE_DECODE_LIMIT: usize = 16 << 20;

type Limited<const N: usize> = bincode::config::Configuration<
    bincode::config::LittleEndian,
    bincode::config::Varint,
    bincode::config::Limit<N>,
>;

fn stored() -> Limited<DECODE_LIMIT> {
    config().with_limit::<DECODE_LIMIT>()
}

fn wire() -> Limited<WIRE_DECODE_LIMIT> {
    config().with_limit::<WIRE_DECODE_LIMIT>()
}

/// Why bytes did not decode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError(pub String);

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DecodeError {}

/// Appends `value`'s encoding to `out`.
pub fn encode_into<T: Serialize>(value: &T, out: &mut Vec<u8>) {
    // Our types serialize plain structs, enums, numbers, strings and sequences: encoding into
    // a Vec cannot fail, so a failure is a bug worth stopping for.
    bincode::serde::encode_into_std_write(value, out, config())
        .expect("encoding plain data into memory cannot fail");
}

/// Decodes a value from the start of `bytes`; returns it and how many bytes it used.
pub fn decode_prefix<T: DeserializeOwned>(bytes: &[u8]) -> Result<(T, usize), DecodeError> {
    bincode::serde::decode_from_slice(bytes, stored())
        .map_err(|error| DecodeError(error.to_string()))
}

/// As [`decode_exact`], for bytes from the network: strings and sequences may claim at most
/// [`WIRE_DECODE_LIMIT`] bytes in all.
pub fn decode_wire<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, DecodeError> {
    let (value, used) = bincode::serde::decode_from_slice(bytes, wire())
        .map_err(|error| DecodeError(error.to_string()))?;
    if used != bytes.len() {
        return Err(DecodeError(format!(
            "{} bytes left after the value",
            bytes.len() - used
        )));
    }
    Ok(value)
}

/// Decodes a value that must use all of `bytes`.
pub fn decode_exact<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, DecodeError> {
    let (value, used) = decode_prefix(bytes)?;
    if used != bytes.len() {
        return Err(DecodeError(format!(
            "{} bytes left after the value",
            bytes.len() - used
        )));
    }
    Ok(value)
}

/// Decodes a value of a type that reads a bounded amount: `bytes` may hold more after it.
/// Used to peek at a message's leading fields (an id, an enum's variant index) before
/// decoding the whole.
pub fn peek<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, DecodeError> {
    decode_prefix(bytes).map(|(value, _)| value)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn values_round_trip_and_leftovers_are_refused() {
        let mut bytes = Vec::new();
        encode_into(&(7u64, "seven".to_string()), &mut bytes);
        let back: (u64, String) = decode_exact(&bytes).unwrap();
        assert_eq!(back, (7, "seven".to_string()));
        let first: u64 = peek(&bytes).unwrap();
        assert_eq!(first, 7);
        assert!(
            decode_exact::<u64>(&bytes)
                .unwrap_err()
                .0
                .contains("left after")
        );
        assert!(decode_exact::<(u64, String)>(&bytes[..3]).is_err());
    }

    #[test]
    fn a_forged_length_is_refused_not_allocated() {
        // A string announcing 2^40 bytes (varint marker 253: a u64 follows), then nothing.
        let mut bytes = vec![253];
        bytes.extend_from_slice(&(1u64 << 40).to_le_bytes());
        assert!(decode_wire::<String>(&bytes).is_err());
        assert!(decode_exact::<String>(&bytes).is_err());
        assert!(decode_wire::<Vec<String>>(&bytes).is_err());
    }
}
