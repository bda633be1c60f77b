//! QUIC: the server ([`server`]) and TLS ([`tls`]: identities, fingerprints, pinning).

pub mod server;
pub mod tls;
