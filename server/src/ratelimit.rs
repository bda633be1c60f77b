//! Rate limits: a governor token bucket per player and per client IP, per route class
//! (`[rate_limits]`: reads, writes, accounts, game servers). A request over any of its limits
//! gets 429 `rate_limited` with `Retry-After` (whole seconds until the bucket has room) and
//! does nothing; other players and addresses are not affected.
//!
//! The player is read from the access token, when the request carries a valid one (a request
//! with a bad token is limited by IP and then refused by the route). Game-server routes and
//! account routes have no player: they are limited per IP.
//!
//! Bounds: each bucket map holds one entry per player or address seen recently; a task
//! (`spawn_sweeper`) drops entries whose bucket is full again every minute, so idle clients
//! cost nothing and the maps hold at most the clients of the last minute or so.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use matchwright_ecs::PlayerId;

use crate::auth;
use crate::error::ApiError;
use crate::settings::{RateLimit, RateLimitSection};

/// A route class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RouteClass {
    /// Player reads.
    Read,
    /// Player writes.
    Write,
    /// Accounts (no player yet).
    Auth,
    /// Game servers.
    GameServer,
    /// Not limited (health, metrics, the OpenAPI document, unknown routes).
    Free,
}

impl RouteClass {
    /// The class of a matched route.
    pub fn of(method: &Method, route: &str) -> Self {
        if route.starts_with("/v1/auth/") {
            Self::Auth
        } else if route.starts_with("/v1/server/") || route.starts_with("/v1/fleet/") {
            Self::GameServer
        } else if !route.starts_with("/v1/") {
            Self::Free
        } else if method == Method::GET || method == Method::HEAD {
            Self::Read
        } else {
            Self::Write
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::Auth => "auth",
            Self::GameServer => "game_server",
            Self::Free => "free",
        }
    }
}

struct Buckets {
    per_player: Option<DefaultKeyedRateLimiter<PlayerId>>,
    per_ip: Option<DefaultKeyedRateLimiter<IpAddr>>,
}

impl Buckets {
    fn new(limit: RateLimit) -> Self {
        let quota = |per_minute: u32| NonZeroU32::new(per_minute).map(Quota::per_minute);
        Self {
            per_player: quota(limit.per_player_per_minute).map(DefaultKeyedRateLimiter::keyed),
            per_ip: quota(limit.per_ip_per_minute).map(DefaultKeyedRateLimiter::keyed),
        }
    }

    fn sweep(&self) {
        if let Some(limiter) = &self.per_player {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        if let Some(limiter) = &self.per_ip {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

/// Every class's buckets.
pub struct RateLimiter {
    enabled: bool,
    client_ip_header: Option<String>,
    read: Buckets,
    write: Buckets,
    auth: Buckets,
    game_server: Buckets,
    clock: DefaultClock,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("enabled", &self.enabled)
            .finish_non_exhaustive()
    }
}

impl RateLimiter {
    /// The limiter `[rate_limits]` describes.
    pub fn new(settings: &RateLimitSection) -> Self {
        Self {
            enabled: settings.enabled,
            client_ip_header: settings.client_ip_header.clone(),
            read: Buckets::new(settings.read),
            write: Buckets::new(settings.write),
            auth: Buckets::new(settings.auth),
            game_server: Buckets::new(settings.game_server),
            clock: DefaultClock::default(),
        }
    }

    fn buckets(&self, class: RouteClass) -> Option<&Buckets> {
        match class {
            RouteClass::Read => Some(&self.read),
            RouteClass::Write => Some(&self.write),
            RouteClass::Auth => Some(&self.auth),
            RouteClass::GameServer => Some(&self.game_server),
            RouteClass::Free => None,
        }
    }

    /// Takes one request of `class` from `ip` (and `player`, when known); on refusal, how long
    /// until there is room.
    pub fn check(
        &self,
        class: RouteClass,
        ip: IpAddr,
        player: Option<PlayerId>,
    ) -> Result<(), Duration> {
        if !self.enabled {
            return Ok(());
        }
        let Some(buckets) = self.buckets(class) else {
            return Ok(());
        };
        let now = self.clock.now();
        // The player's own bucket first, so a player refused for their own excess does not
        // also drain the budget of everyone behind the same address.
        if let (Some(limiter), Some(player)) = (&buckets.per_player, player) {
            limiter
                .check_key(&player)
                .map_err(|refused| refused.wait_time_from(now))?;
        }
        if let Some(limiter) = &buckets.per_ip {
            limiter
                .check_key(&ip)
                .map_err(|refused| refused.wait_time_from(now))?;
        }
        Ok(())
    }

    /// Drops every bucket that is full again.
    pub fn sweep(&self) {
        for buckets in [&self.read, &self.write, &self.auth, &self.game_server] {
            buckets.sweep();
        }
    }

    /// The client's address: the configured header's last address when set and valid (the
    /// one our proxy appended; earlier ones are whatever the client wrote), else the socket's
    /// peer.
    fn client_ip(&self, request: &Request, peer: Option<IpAddr>) -> IpAddr {
        let from_header = self.client_ip_header.as_deref().and_then(|name| {
            let value = request.headers().get(name)?.to_str().ok()?;
            value.rsplit(',').next()?.trim().parse::<IpAddr>().ok()
        });
        from_header
            .or(peer)
            .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
    }
}

/// Sweeps the limiter's buckets every minute while the server runs.
pub fn spawn_sweeper(limiter: Arc<RateLimiter>) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(60));
        every.tick().await;
        loop {
            every.tick().await;
            limiter.sweep();
        }
    });
}

/// What [`limit_requests`] needs: the limiter, the secret access tokens are verified with
/// (to find the player a request counts against), and the operator keys (an operator's
/// admin requests are not limited).
#[derive(Clone)]
pub struct Gate {
    /// The buckets.
    pub limiter: Arc<RateLimiter>,
    /// The access tokens' signing secret.
    pub jwt_secret: Arc<[u8]>,
    /// Every operator key, admin and read-only.
    pub operator_keys: Arc<[String]>,
}

impl Gate {
    /// Whether the request carries one of the operator keys (each compared in constant time).
    fn carries_operator_key(&self, request: &Request) -> bool {
        let Some(key) = auth::bearer(request.headers()) else {
            return false;
        };
        self.operator_keys.iter().fold(false, |found, known| {
            found | auth::constant_time_eq(key.as_bytes(), known.as_bytes())
        })
    }
}

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret.
        f.debug_struct("Gate")
            .field("limiter", &self.limiter)
            .finish_non_exhaustive()
    }
}

/// The middleware: 429 with `Retry-After` over a limit, else the route. Operators are not
/// limited on the admin routes (a console polls several routes every few seconds, often from
/// one office address); a request there without a valid operator key is, as any other.
pub async fn limit_requests(State(gate): State<Gate>, request: Request, next: Next) -> Response {
    let limiter = &gate.limiter;
    let route = request.extensions().get::<MatchedPath>();
    let class = route.map_or(RouteClass::Free, |path| {
        RouteClass::of(request.method(), path.as_str())
    });
    let admin = route.is_some_and(|path| path.as_str().starts_with("/v1/admin/"));
    if class == RouteClass::Free
        || !limiter.enabled
        || (admin && gate.carries_operator_key(&request))
    {
        return next.run(request).await;
    }
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip());
    let ip = limiter.client_ip(&request, peer);
    let player = match class {
        RouteClass::Read | RouteClass::Write => {
            auth::access_token_in(request.headers(), request.uri())
                .and_then(|token| auth::verify_access_token(&gate.jwt_secret, &token).ok())
        }
        _ => None,
    };
    match limiter.check(class, ip, player) {
        Ok(()) => next.run(request).await,
        Err(wait) => {
            metrics::counter!("matchwright_rate_limited_total", "class" => class.name())
                .increment(1);
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            let seconds = seconds.max(1);
            let mut response = ApiError::new(
                axum::http::StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!(
                    "too many {} requests; retry in {seconds} s",
                    class.name().replace('_', "-")
                ),
            )
            .into_response();
            if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
                response.headers_mut().insert(RETRY_AFTER, value);
            }
            response
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_fall_in_their_classes() {
        assert_eq!(RouteClass::of(&Method::GET, "/v1/queue"), RouteClass::Read);
        assert_eq!(
            RouteClass::of(&Method::POST, "/v1/queue"),
            RouteClass::Write
        );
        assert_eq!(
            RouteClass::of(&Method::DELETE, "/v1/queue"),
            RouteClass::Write
        );
        assert_eq!(
            RouteClass::of(&Method::POST, "/v1/auth/login"),
            RouteClass::Auth
        );
        assert_eq!(
            RouteClass::of(&Method::POST, "/v1/server/session/{id}/result"),
            RouteClass::GameServer
        );
        assert_eq!(RouteClass::of(&Method::GET, "/healthz"), RouteClass::Free);
        assert_eq!(RouteClass::of(&Method::GET, "/metrics"), RouteClass::Free);
    }

    #[test]
    fn a_player_over_the_limit_waits_and_others_do_not() {
        let settings = RateLimitSection {
            write: RateLimit {
                per_player_per_minute: 3,
                per_ip_per_minute: 100,
            },
            ..RateLimitSection::default()
        };
        let limiter = RateLimiter::new(&settings);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let (alice, bob) = (Some(PlayerId(1)), Some(PlayerId(2)));
        for _ in 0..3 {
            assert!(limiter.check(RouteClass::Write, ip, alice).is_ok());
        }
        let wait = limiter.check(RouteClass::Write, ip, alice).unwrap_err();
        assert!(
            wait > Duration::from_secs(10) && wait <= Duration::from_secs(20),
            "{wait:?}"
        );
        assert!(limiter.check(RouteClass::Write, ip, bob).is_ok());
        // Reads have their own bucket.
        assert!(limiter.check(RouteClass::Read, ip, alice).is_ok());
    }

    #[test]
    fn an_address_over_the_limit_is_refused_and_switching_off_lets_all_through() {
        let mut settings = RateLimitSection::default();
        settings.auth.per_ip_per_minute = 2;
        let limiter = RateLimiter::new(&settings);
        let (one, two): (IpAddr, IpAddr) =
            ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        assert!(limiter.check(RouteClass::Auth, one, None).is_ok());
        assert!(limiter.check(RouteClass::Auth, one, None).is_ok());
        assert!(limiter.check(RouteClass::Auth, one, None).is_err());
        assert!(limiter.check(RouteClass::Auth, two, None).is_ok());
        settings.enabled = false;
        let open = RateLimiter::new(&settings);
        for _ in 0..10 {
            assert!(open.check(RouteClass::Auth, one, None).is_ok());
        }
    }
}
