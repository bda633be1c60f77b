//! # matchwright-transport: the wire, the QUIC server, and the client SDK
//!
//! - [`wire`]: the protocol's one set of messages, what a game client sends and what it is
//!   sent: bincode frames over QUIC, and the HTTP API's JSON bodies (errors, events) too. They
//!   are the wire's, not the matcher's: this crate does not know the matcher (the
//!   `matchwright` server translates). The `schema` feature derives their OpenAPI schemas
//!   (utoipa) for the server's document; the SDK does not need it.
//! - [`codec`]: frames (`length u32 | protocol version u8 | message`), a maximum size, and
//!   pure decoding with errors that say what was expected. The message bytes come from
//!   `matchwright_codec`, the workspace's one bincode module.
//! - [`quic`]: the QUIC server (quinn 0.11, rustls 0.23, ALPN `matchwright/1`), generic over a
//!   [`quic::server::Handler`], with limits per connection; TLS identities and certificate
//!   pinning.
//! - [`client`]: the SDK, [`Client`]: the same async API over QUIC or HTTP.
//!
//! ## The client SDK
//!
//! ```no_run
//! use matchwright_transport::{Client, wire::Event};
//!
//! # async fn play() -> Result<(), Box<dyn std::error::Error>> {
//! // QUIC, pinning the fingerprint `matchwright serve` printed ...
//! let client = Client::connect_quic(
//!     "127.0.0.1:4433".parse()?,
//!     "3f1c...the 64 hex digits...",
//! )
//! .await?;
//! // ... or HTTP: the same calls, the same types.
//! // let client = Client::connect_http("http://127.0.0.1:8080").await?;
//!
//! client.register("ada", "correct horse battery", None).await?;
//! let mut events = client.events()?;
//! client.enqueue("duel-1v1", &[("eu-west", 30), ("us-east", 95)]).await?;
//! while let Some(event) = events.next().await {
//!     match event? {
//!         Event::MatchFound { match_id, accept_by_ms: Some(_), .. } => {
//!             client.accept(match_id).await?;
//!         }
//!         Event::SessionReady { server, session_token, .. } => {
//!             println!("play on {server} with {session_token}");
//!             break;
//!         }
//!         _ => {}
//!     }
//! }
//! # Ok(())
//! # }
//! ```
//!
//! `examples/client.rs` is a runnable version: `cargo run -p matchwright-transport --example
//! client -- --quic 127.0.0.1:4433 --fingerprint HEX` (or `--http http://127.0.0.1:8080`).

pub mod client;
pub mod codec;
pub mod quic;
pub mod wire;

pub use client::{Client, ClientError, EventStream, HttpPool, QuicEndpoint};
