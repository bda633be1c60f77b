//! The server's clock: now, as Unix milliseconds (the matcher's clock in the server, and the
//! time every API answer and record is stamped with).

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, as Unix milliseconds.
pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as u64)
}
