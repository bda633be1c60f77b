//! Frames on the wire: `length u32 (little-endian) | protocol version u8 | message`, where the
//! length counts the version byte and the message, and the message is encoded by
//! `matchwright_codec` (bincode 2, the workspace's one encoder). A frame is at most
//! [`MAX_FRAME_BYTES`] unless both ends agree on less.
//!
//! Decoding is pure (bytes in, a message or a [`FrameError`] out), so the QUIC server, the
//! client, the fuzz target and the property tests share it. Every error says what was
//! expected, and maps to the [`WireError`] the server sends before it closes the stream.

use core::fmt;

use serde::Serialize;

use crate::wire::{ClientMessage, Request, ServerMessage, WireError};

/// The protocol version byte every frame carries. A server refuses frames of another version.
pub const PROTOCOL_VERSION: u8 = 3;

/// The largest frame (version byte and message) either end sends or accepts by default.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;

/// The length prefix's size.
pub const LENGTH_BYTES: usize = 4;

/// Why a frame could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// The stream ended inside a frame.
    Truncated {
        /// Bytes the frame needed.
        expected: usize,
        /// Bytes there were.
        got: usize,
    },
    /// The length prefix is over the limit.
    TooLarge {
        /// The length announced.
        length: usize,
        /// The limit.
        max: usize,
    },
    /// A zero length: there is not even a version byte.
    Empty,
    /// The frame is of another protocol version.
    WrongVersion {
        /// The version byte found.
        found: u8,
    },
    /// The message is of a kind this protocol version does not know.
    UnknownKind {
        /// The kind (the message's variant index).
        kind: u32,
    },
    /// The message does not decode.
    Malformed(String),
    /// A message to send is over the limit (a bug or an absurd input on the sending side).
    Oversize {
        /// Its encoded size.
        length: usize,
        /// The limit.
        max: usize,
    },
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated { expected, got } => write!(
                f,
                "the stream ended inside a frame: expected {expected} bytes, got {got}"
            ),
            Self::TooLarge { length, max } => write!(
                f,
                "a frame of {length} bytes is over the limit of {max} bytes"
            ),
            Self::Empty => write!(f, "a frame of length 0: expected at least the version byte"),
            Self::WrongVersion { found } => write!(
                f,
                "protocol version {found} is not supported: expected version {PROTOCOL_VERSION}"
            ),
            Self::UnknownKind { kind } => write!(
                f,
                "message kind {kind} is unknown to protocol version {PROTOCOL_VERSION} (it knows 0 to {})",
                Request::KINDS - 1
            ),
            Self::Malformed(why) => write!(f, "the message does not decode: {why}"),
            Self::Oversize { length, max } => write!(
                f,
                "a message of {length} bytes is over the frame limit of {max} bytes"
            ),
        }
    }
}

impl std::error::Error for FrameError {}

impl FrameError {
    /// The stable code the error is sent with.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Truncated { .. } => "truncated_frame",
            Self::TooLarge { .. } | Self::Oversize { .. } => "frame_too_large",
            Self::Empty => "empty_frame",
            Self::WrongVersion { .. } => "unsupported_version",
            Self::UnknownKind { .. } => "unknown_message",
            Self::Malformed(_) => "malformed_message",
        }
    }

    /// The error frame the server sends for it.
    pub fn to_wire(&self) -> WireError {
        let status = match self {
            Self::TooLarge { .. } | Self::Oversize { .. } => 413,
            _ => 400,
        };
        WireError::new(status, self.code(), self.to_string())
    }
}

/// Appends one frame holding `message` to `out`; refuses (and leaves `out` as it was) a
/// message over `max` bytes.
pub fn encode_frame<T: Serialize>(
    message: &T,
    max: usize,
    out: &mut Vec<u8>,
) -> Result<(), FrameError> {
    let start = out.len();
    out.extend_from_slice(&[0; LENGTH_BYTES]);
    out.push(PROTOCOL_VERSION);
    matchwright_codec::encode_into(message, out);
    let length = out.len() - start - LENGTH_BYTES;
    if length > max {
        out.truncate(start);
        return Err(FrameError::Oversize { length, max });
    }
    let prefix = u32::try_from(length).map_err(|_| FrameError::Oversize { length, max })?;
    out[start..start + LENGTH_BYTES].copy_from_slice(&prefix.to_le_bytes());
    Ok(())
}

/// One frame holding `message`, as a new buffer.
pub fn frame<T: Serialize>(message: &T, max: usize) -> Result<Vec<u8>, FrameError> {
    let mut out = Vec::new();
    encode_frame(message, max, &mut out)?;
    Ok(out)
}

/// Reads a length prefix: the size of the frame body that follows, checked against `max`.
pub fn body_length(prefix: [u8; LENGTH_BYTES], max: usize) -> Result<usize, FrameError> {
    let length = u32::from_le_bytes(prefix) as usize;
    if length == 0 {
        return Err(FrameError::Empty);
    }
    if length > max {
        return Err(FrameError::TooLarge { length, max });
    }
    Ok(length)
}

/// A frame's body (version byte and message) and the bytes after the frame.
pub type Split<'a> = (&'a [u8], &'a [u8]);

/// Splits the first whole frame off `bytes`: its body (version byte and message) and the
/// rest. `Ok(None)` when `bytes` is empty.
pub fn split_frame(bytes: &[u8], max: usize) -> Result<Option<Split<'_>>, FrameError> {
    if bytes.is_empty() {
        return Ok(None);
    }
    let Some((prefix, rest)) = bytes.split_first_chunk::<LENGTH_BYTES>() else {
        return Err(FrameError::Truncated {
            expected: LENGTH_BYTES,
            got: bytes.len(),
        });
    };
    let length = body_length(*prefix, max)?;
    if rest.len() < length {
        return Err(FrameError::Truncated {
            expected: LENGTH_BYTES + length,
            got: bytes.len(),
        });
    }
    Ok(Some(rest.split_at(length)))
}

fn versioned(body: &[u8]) -> Result<&[u8], FrameError> {
    let (&version, message) = body.split_first().ok_or(FrameError::Empty)?;
    if version != PROTOCOL_VERSION {
        return Err(FrameError::WrongVersion { found: version });
    }
    Ok(message)
}

/// Decodes a client frame's body (version byte and message).
pub fn decode_client(body: &[u8]) -> Result<ClientMessage, FrameError> {
    let message = versioned(body)?;
    // A request's leading fields are its id and its kind (the enum's variant index): peek at
    // them first, so an unknown kind is told apart from garbage.
    let (_, kind): (u64, u32) =
        matchwright_codec::peek(message).map_err(|error| FrameError::Malformed(error.0))?;
    if kind >= Request::KINDS {
        return Err(FrameError::UnknownKind { kind });
    }
    matchwright_codec::decode_wire(message).map_err(|error| FrameError::Malformed(error.0))
}

/// Decodes a server frame's body (version byte and message).
pub fn decode_server(body: &[u8]) -> Result<ServerMessage, FrameError> {
    matchwright_codec::decode_wire(versioned(body)?).map_err(|error| FrameError::Malformed(error.0))
}

/// Decodes every client frame in `bytes` until the first error (which ends the list, as it
/// ends the stream on the server). The fuzz target's entry point.
pub fn decode_client_stream(
    mut bytes: &[u8],
    max: usize,
) -> Vec<Result<ClientMessage, FrameError>> {
    let mut out = Vec::new();
    loop {
        match split_frame(bytes, max) {
            Ok(None) => return out,
            Ok(Some((body, rest))) => {
                let decoded = decode_client(body);
                let failed = decoded.is_err();
                out.push(decoded);
                if failed {
                    return out;
                }
                bytes = rest;
            }
            Err(error) => {
                out.push(Err(error));
                return out;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::wire::EnqueueRequest;

    fn enqueue(id: u64) -> ClientMessage {
        ClientMessage {
            id,
            request: Request::Enqueue(EnqueueRequest::new(
                "ranked-5v5",
                [("eu-west".into(), 30)].into(),
            )),
        }
    }

    #[test]
    fn frames_round_trip_back_to_back() {
        let mut bytes = Vec::new();
        encode_frame(&enqueue(1), MAX_FRAME_BYTES, &mut bytes).unwrap();
        encode_frame(&enqueue(2), MAX_FRAME_BYTES, &mut bytes).unwrap();
        let decoded = decode_client_stream(&bytes, MAX_FRAME_BYTES);
        assert_eq!(decoded, vec![Ok(enqueue(1)), Ok(enqueue(2))]);
    }

    #[test]
    fn bad_frames_name_what_was_expected() {
        let good = frame(&enqueue(7), MAX_FRAME_BYTES).unwrap();
        // Truncated: the stream ends inside the frame.
        let cut = &good[..good.len() - 1];
        assert_eq!(
            decode_client_stream(cut, MAX_FRAME_BYTES),
            vec![Err(FrameError::Truncated {
                expected: good.len(),
                got: good.len() - 1
            })]
        );
        // Oversize: refused from the prefix alone.
        let mut huge = (1_000_000u32).to_le_bytes().to_vec();
        huge.push(PROTOCOL_VERSION);
        let error = decode_client_stream(&huge, MAX_FRAME_BYTES)
            .remove(0)
            .unwrap_err();
        assert_eq!(error.code(), "frame_too_large");
        assert!(error.to_string().contains("1000000 bytes"));
        // A wrong version.
        let mut other = good.clone();
        other[LENGTH_BYTES] = 9;
        assert_eq!(
            decode_client(&other[LENGTH_BYTES..]).unwrap_err(),
            FrameError::WrongVersion { found: 9 }
        );
        // An unknown kind: a well-formed id, then variant index 200.
        let mut unknown = Vec::new();
        encode_frame(&(5u64, 200u32), MAX_FRAME_BYTES, &mut unknown).unwrap();
        assert_eq!(
            decode_client(&unknown[LENGTH_BYTES..]).unwrap_err(),
            FrameError::UnknownKind { kind: 200 }
        );
        // Garbage.
        let garbage = [3, 0, 0, 0, PROTOCOL_VERSION, 0xff, 0xff];
        assert_eq!(
            decode_client_stream(&garbage, MAX_FRAME_BYTES)[0]
                .as_ref()
                .unwrap_err()
                .code(),
            "malformed_message"
        );
        // A login whose username announces 2^40 bytes: refused, not allocated.
        let mut forged = vec![PROTOCOL_VERSION, 1, 1]; // version, id 1, kind 1 (Login)
        forged.push(253);
        forged.extend_from_slice(&(1u64 << 40).to_le_bytes());
        assert_eq!(
            decode_client(&forged).unwrap_err().code(),
            "malformed_message"
        );
        // Zero length.
        assert_eq!(
            decode_client_stream(&[0, 0, 0, 0], MAX_FRAME_BYTES),
            vec![Err(FrameError::Empty)]
        );
    }

    #[test]
    fn a_message_over_the_limit_is_not_sent() {
        let mut out = vec![1, 2, 3];
        let error = encode_frame(&"x".repeat(100), 50, &mut out).unwrap_err();
        assert!(matches!(error, FrameError::Oversize { max: 50, .. }));
        assert_eq!(out, vec![1, 2, 3]);
    }
}
