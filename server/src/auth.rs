//! Authentication: password hashes (argon2id), access tokens (HS256 JWT, 15 minutes by
//! default), refresh tokens (random, stored by hash, rotated on every use; a reused one
//! revokes its family), session tokens for game servers (HS256 JWT under a separate secret,
//! verifiable offline), and reading the tokens a request carries. The extractors that guard
//! the routes with them are `guard`'s.
//!
//! Tokens are HS256 only. `jsonwebtoken` is built without its crypto features (`rust_crypto`
//! would pull in `rsa`, RUSTSEC-2023-0071, only to sign HMACs); [`Hs256Provider`] gives it
//! HMAC-SHA256 from `ring` and refuses every other algorithm, so a token with any other
//! `alg` fails to verify whatever the key.

use argon2::{Argon2, PasswordHasher as _, PasswordVerifier as _};
use axum::http::header::AUTHORIZATION;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::signature::{Signer, Verifier};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use matchwright_ecs::{MatchId, PlayerId};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// Issuer of every token.
pub const ISSUER: &str = "matchwright";
/// Audience of access tokens.
pub const ACCESS_AUDIENCE: &str = "matchwright-api";
/// Audience of session tokens.
pub const SESSION_AUDIENCE: &str = "matchwright-game-server";

/// Hashes a password (argon2id, default parameters, random salt). Slow by design: run it
/// off the async runtime (`spawn_blocking`).
pub fn hash_password(password: &str) -> Result<String, ApiError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(ApiError::internal)
}

/// Whether `password` matches the stored PHC string.
pub fn verify_password(password: &str, phc: &str) -> bool {
    Argon2::default()
        .verify_password(password.as_bytes(), phc)
        .is_ok()
}

/// A PHC string to verify against when the username is unknown, so a login for an unknown
/// name costs the same time as one with a wrong password.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password("decoy password, never valid").unwrap_or_default())
}

/// The claims of an access token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// The player id, as a decimal string (JWT subjects are strings).
    pub sub: String,
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// Issued at (Unix s).
    pub iat: u64,
    /// Expires (Unix s).
    pub exp: u64,
}

/// The claims of a session token: who may join which match on which server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionClaims {
    /// The player id, as a decimal string.
    pub sub: String,
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// The match.
    pub match_id: u64,
    /// The player's team.
    pub team: u8,
    /// The game server's address.
    pub server: String,
    /// Issued at (Unix s).
    pub iat: u64,
    /// Expires (Unix s).
    pub exp: u64,
}

/// Signs an access token for `player`, valid `ttl_s` seconds from `now_s`.
pub fn access_token(secret: &[u8], player: PlayerId, now_s: u64, ttl_s: u64) -> String {
    let claims = AccessClaims {
        sub: player.0.to_string(),
        iss: ISSUER.into(),
        aud: ACCESS_AUDIENCE.into(),
        iat: now_s,
        exp: now_s + ttl_s,
    };
    sign(secret, &claims)
}

/// Signs a session token.
pub fn session_token(secret: &[u8], claims: &SessionClaims) -> String {
    sign(secret, claims)
}

fn sign<T: Serialize>(secret: &[u8], claims: &T) -> String {
    Hs256Provider::install();
    // HS256 over our own plain claims cannot fail to encode.
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret),
    )
    .unwrap_or_default()
}

/// `jsonwebtoken`'s crypto: HMAC-SHA256 (`ring::hmac`) and nothing else. Every other algorithm
/// is `InvalidAlgorithm` when a signer or verifier is asked for, and the JWK helpers (which we
/// never use) are `jsonwebtoken`'s panicking placeholders.
#[derive(Debug)]
pub struct Hs256Provider;

static HS256_PROVIDER: CryptoProvider = CryptoProvider {
    signer_factory: Hs256Provider::signer,
    verifier_factory: Hs256Provider::verifier,
    key_utils: KeyUtils::new_unimplemented(),
};

impl Hs256Provider {
    /// Makes it `jsonwebtoken`'s process-wide provider (the first call does; the rest are
    /// free). Every function here that signs or verifies calls it first, since `jsonwebtoken`
    /// built without crypto features panics when no provider is installed.
    pub fn install() {
        static INSTALLED: std::sync::Once = std::sync::Once::new();
        // Err means a provider was installed already; only this module installs one.
        INSTALLED.call_once(|| {
            let _ = HS256_PROVIDER.install_default();
        });
    }

    fn signer(
        algorithm: &Algorithm,
        key: &EncodingKey,
    ) -> jsonwebtoken::errors::Result<Box<dyn JwtSigner>> {
        if *algorithm != Algorithm::HS256 {
            return Err(ErrorKind::InvalidAlgorithm.into());
        }
        Ok(Box::new(Hs256Key(ring::hmac::Key::new(
            ring::hmac::HMAC_SHA256,
            key.as_bytes(),
        ))))
    }

    fn verifier(
        algorithm: &Algorithm,
        key: &DecodingKey,
    ) -> jsonwebtoken::errors::Result<Box<dyn JwtVerifier>> {
        if *algorithm != Algorithm::HS256 {
            return Err(ErrorKind::InvalidAlgorithm.into());
        }
        Ok(Box::new(Hs256Key(ring::hmac::Key::new(
            ring::hmac::HMAC_SHA256,
            key.try_get_as_bytes()?,
        ))))
    }
}

/// An HMAC-SHA256 key, as `jsonwebtoken`'s signer and verifier.
struct Hs256Key(ring::hmac::Key);

impl Signer<Vec<u8>> for Hs256Key {
    fn try_sign(&self, message: &[u8]) -> Result<Vec<u8>, jsonwebtoken::signature::Error> {
        Ok(ring::hmac::sign(&self.0, message).as_ref().to_vec())
    }
}

impl JwtSigner for Hs256Key {
    fn algorithm(&self) -> Algorithm {
        Algorithm::HS256
    }
}

impl Verifier<Vec<u8>> for Hs256Key {
    fn verify(
        &self,
        message: &[u8],
        signature: &Vec<u8>,
    ) -> Result<(), jsonwebtoken::signature::Error> {
        // Constant time.
        ring::hmac::verify(&self.0, message, signature)
            .map_err(|_| jsonwebtoken::signature::Error::new())
    }
}

impl JwtVerifier for Hs256Key {
    fn algorithm(&self) -> Algorithm {
        Algorithm::HS256
    }
}

fn validation(audience: &str) -> Validation {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = 0;
    validation.set_audience(&[audience]);
    validation.set_issuer(&[ISSUER]);
    validation.set_required_spec_claims(&["exp", "sub", "aud", "iss"]);
    validation
}

/// Checks an access token; the player it names.
pub fn verify_access_token(secret: &[u8], token: &str) -> Result<PlayerId, ApiError> {
    Hs256Provider::install();
    let data = jsonwebtoken::decode::<AccessClaims>(
        token,
        &DecodingKey::from_secret(secret),
        &validation(ACCESS_AUDIENCE),
    )
    .map_err(|error| match error.kind() {
        ErrorKind::ExpiredSignature => ApiError::unauthorized(
            "token_expired",
            "the access token has expired; refresh it with POST /v1/auth/refresh",
        ),
        _ => ApiError::unauthorized("invalid_token", "the access token is not valid"),
    })?;
    data.claims
        .sub
        .parse()
        .map(PlayerId)
        .map_err(|_| ApiError::unauthorized("invalid_token", "the access token is not valid"))
}

/// Checks a session token (what a game server does, offline, with the session secret).
pub fn verify_session_token(
    secret: &[u8],
    token: &str,
) -> Result<SessionClaims, jsonwebtoken::errors::Error> {
    Hs256Provider::install();
    jsonwebtoken::decode::<SessionClaims>(
        token,
        &DecodingKey::from_secret(secret),
        &validation(SESSION_AUDIENCE),
    )
    .map(|data| data.claims)
}

/// A new refresh token: the secret handed to the client, and the hash it is stored under.
pub fn new_refresh_token() -> Result<(String, [u8; 32]), ApiError> {
    let mut bytes = [0_u8; 32];
    getrandom::fill(&mut bytes).map_err(ApiError::internal)?;
    Ok((
        URL_SAFE_NO_PAD.encode(bytes),
        *blake3::hash(&bytes).as_bytes(),
    ))
}

/// The hash a refresh token is stored under; a token that is not ours is `invalid_token`.
pub fn refresh_token_hash(token: &str) -> Result<[u8; 32], ApiError> {
    let invalid = || ApiError::unauthorized("invalid_token", "the refresh token is not valid");
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
    if bytes.len() != 32 {
        return Err(invalid());
    }
    Ok(*blake3::hash(&bytes).as_bytes())
}

/// A random 63-bit family id (ids go to Postgres BIGINT).
pub fn new_family() -> Result<u64, ApiError> {
    let mut bytes = [0_u8; 8];
    getrandom::fill(&mut bytes).map_err(ApiError::internal)?;
    Ok(u64::from_le_bytes(bytes) >> 1)
}

/// The token of an `Authorization: Bearer` header.
pub fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// The access token a request carries: `Authorization: Bearer`, or the `access_token` query
/// parameter (for browsers' WebSockets).
pub fn access_token_in(headers: &axum::http::HeaderMap, uri: &axum::http::Uri) -> Option<String> {
    if let Some(token) = bearer(headers) {
        return Some(token.to_string());
    }
    uri.query()?.split('&').find_map(|pair| {
        pair.strip_prefix("access_token=")
            .map(|token| token.to_string())
    })
}

/// Compares without leaking where the first difference is.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0_u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The session token of `player` for a match on `server`.
pub fn session_claims(
    player: PlayerId,
    match_id: MatchId,
    team: u8,
    server: &str,
    now_s: u64,
    ttl_s: u64,
) -> SessionClaims {
    SessionClaims {
        sub: player.0.to_string(),
        iss: ISSUER.into(),
        aud: SESSION_AUDIENCE.into(),
        match_id: match_id.0,
        team,
        server: server.to_string(),
        iat: now_s,
        exp: now_s + ttl_s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn access_tokens_round_trip_and_refuse_expired_forged_and_foreign() {
        let now = 1_800_000_000;
        let token = access_token(SECRET, PlayerId(42), now, 900);
        assert_eq!(verify_access_token(SECRET, &token), Ok(PlayerId(42)));
        let expired = access_token(SECRET, PlayerId(42), 1_000, 900);
        assert_eq!(
            verify_access_token(SECRET, &expired).unwrap_err().code(),
            "token_expired"
        );
        let forged = access_token(b"another secret, 32 bytes long!!!", PlayerId(42), now, 900);
        assert_eq!(
            verify_access_token(SECRET, &forged).unwrap_err().code(),
            "invalid_token"
        );
        // A session token is not an access token, though signed the same way.
        let claims = session_claims(PlayerId(42), MatchId(1), 0, "a:1", now, 900);
        let session = session_token(SECRET, &claims);
        assert!(verify_access_token(SECRET, &session).is_err());
        assert_eq!(verify_session_token(SECRET, &session).unwrap(), claims);
    }

    /// Issue 18: the HMAC moved from `jsonwebtoken`'s `rust_crypto` to `ring`. These were
    /// signed by the old path (`jsonwebtoken` 11.1.0 with `rust_crypto`, `Header::new(HS256)`,
    /// the claims below, `SECRET`); they must still verify and be signed byte for byte the same.
    const OLD_ACCESS_TOKEN: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI0MiIsImlzcyI6Im1hdGNod3JpZ2h0IiwiYXVkIjoibWF0Y2h3cmlnaHQtYXBpIiwiaWF0IjoxODAwMDAwMDAwLCJleHAiOjQwMDAwMDAwMDB9.fOWnOjNfbZsrJ20cUPvkO-gjmETU7I4GSoeFbFwHkOQ";
    const OLD_SESSION_TOKEN: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI0MiIsImlzcyI6Im1hdGNod3JpZ2h0IiwiYXVkIjoibWF0Y2h3cmlnaHQtZ2FtZS1zZXJ2ZXIiLCJtYXRjaF9pZCI6NywidGVhbSI6MSwic2VydmVyIjoiMjAzLjAuMTEzLjc6Nzc3NyIsImlhdCI6MTgwMDAwMDAwMCwiZXhwIjo0MDAwMDAwMDAwfQ.2anNvey25jhf1p38nuWki4Sv657apMIYL8TarQPQxJo";

    #[test]
    fn tokens_signed_before_the_ring_provider_verify_and_are_signed_identically() {
        assert_eq!(
            verify_access_token(SECRET, OLD_ACCESS_TOKEN),
            Ok(PlayerId(42))
        );
        let now = 1_800_000_000;
        let ttl = 4_000_000_000 - now;
        assert_eq!(
            access_token(SECRET, PlayerId(42), now, ttl),
            OLD_ACCESS_TOKEN
        );
        let claims = session_claims(PlayerId(42), MatchId(7), 1, "203.0.113.7:7777", now, ttl);
        assert_eq!(
            verify_session_token(SECRET, OLD_SESSION_TOKEN).unwrap(),
            claims
        );
        assert_eq!(session_token(SECRET, &claims), OLD_SESSION_TOKEN);
    }

    /// A token with the old token's claims under another header, and `signature` after it.
    fn with_header(header: &str, signature: &str) -> String {
        let claims = OLD_ACCESS_TOKEN.split('.').nth(1).unwrap();
        format!("{}.{claims}.{signature}", URL_SAFE_NO_PAD.encode(header))
    }

    #[test]
    fn tokens_of_other_algorithms_or_secrets_are_refused() {
        let signature = OLD_ACCESS_TOKEN.split('.').nth(2).unwrap();
        for header in [
            r#"{"typ":"JWT","alg":"none"}"#,
            r#"{"alg":"none"}"#,
            r#"{"typ":"JWT","alg":"RS256"}"#,
            r#"{"typ":"JWT","alg":"HS512"}"#,
            r#"{"typ":"JWT","alg":"ES256"}"#,
            r#"{"typ":"JWT","alg":"EdDSA"}"#,
        ] {
            for signature in [signature, ""] {
                let token = with_header(header, signature);
                assert_eq!(
                    verify_access_token(SECRET, &token).unwrap_err().code(),
                    "invalid_token",
                    "{header} with signature {signature:?}"
                );
            }
        }
        // `alg: none` with the signature part left out altogether.
        let claims = OLD_ACCESS_TOKEN.split('.').nth(1).unwrap();
        let unsigned = format!(
            "{}.{claims}",
            URL_SAFE_NO_PAD.encode(r#"{"typ":"JWT","alg":"none"}"#)
        );
        assert!(verify_access_token(SECRET, &unsigned).is_err());
        // The right header and claims under another secret, and a tampered signature.
        let other = b"another secret, 32 bytes long!!!";
        assert_eq!(
            verify_access_token(other, OLD_ACCESS_TOKEN)
                .unwrap_err()
                .code(),
            "invalid_token"
        );
        assert!(verify_session_token(other, OLD_SESSION_TOKEN).is_err());
        let mut tampered = OLD_ACCESS_TOKEN.to_string();
        tampered.pop();
        tampered.push('A');
        assert!(verify_access_token(SECRET, &tampered).is_err());
        // The provider itself signs and verifies HS256 only.
        let key = EncodingKey::from_secret(SECRET);
        for algorithm in [
            Algorithm::HS384,
            Algorithm::HS512,
            Algorithm::RS256,
            Algorithm::ES256,
        ] {
            assert!(
                Hs256Provider::signer(&algorithm, &key).is_err(),
                "{algorithm:?}"
            );
            let decoding = DecodingKey::from_secret(SECRET);
            assert!(
                Hs256Provider::verifier(&algorithm, &decoding).is_err(),
                "{algorithm:?}"
            );
        }
    }

    #[test]
    fn passwords_verify_and_refresh_tokens_hash_stably() {
        let hash = hash_password("correct horse").unwrap();
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("wrong horse", &hash));
        assert!(!verify_password("x", "not a phc string"));
        let (token, hash) = new_refresh_token().unwrap();
        assert_eq!(refresh_token_hash(&token).unwrap(), hash);
        assert!(refresh_token_hash("short").is_err());
        assert!(new_family().unwrap() < 1 << 63);
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
    }
}
