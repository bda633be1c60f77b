//! The SDK's HTTP backend: each [`Request`] is its `/v1` route, with the request's body type as
//! the JSON body; answers (and errors, [`WireError`]) are read into the same wire types, and
//! events come from the `/v1/events` WebSocket (JSON, read into [`Event`] by
//! [`Event::from_json`]).

use std::sync::Mutex;
use std::time::Duration;

use futures_util::StreamExt;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use super::{ClientError, Result};
use crate::wire::{Event, Profile, Request, Response, Tokens, WireError};

/// An HTTP connection pool many HTTP [`super::Client`]s share (the counterpart of
/// [`super::QuicEndpoint`]): a load tool or a bot host with thousands of players keeps a bounded
/// number of idle connections to the server, rather than one pool per client. Cloning it is
/// cheap and shares the pool.
#[derive(Clone, Debug)]
pub struct HttpPool {
    http: reqwest::Client,
}

impl HttpPool {
    /// A pool that keeps at most `max_idle_connections` idle connections per server and gives
    /// each request at most `timeout`, from connecting to reading the whole answer (the event
    /// socket is not a request: it has no timeout).
    pub fn new(max_idle_connections: usize, timeout: Duration) -> Result<Self> {
        Self::build(
            reqwest::Client::builder()
                .pool_max_idle_per_host(max_idle_connections)
                .timeout(timeout),
        )
    }

    /// A pool of one client's own (reqwest's defaults: idle connections unbounded, no
    /// timeout), for [`super::Client::connect_http`].
    pub(super) fn unshared() -> Result<Self> {
        Self::build(reqwest::Client::builder())
    }

    fn build(builder: reqwest::ClientBuilder) -> Result<Self> {
        let http = builder
            .build()
            .map_err(|error| ClientError::Usage(format!("cannot make an HTTP client: {error}")))?;
        Ok(Self { http })
    }
}

pub(super) struct HttpClient {
    http: reqwest::Client,
    base: String,
    token: Mutex<Option<String>>,
    /// The player logged in, once one is.
    player: Mutex<Option<u64>>,
    events: Mutex<Option<mpsc::Sender<Result<Event>>>>,
    socket: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// How a request travels over HTTP: its route and what goes with it.
struct Route {
    method: reqwest::Method,
    /// The path, its parameters already escaped.
    path: String,
    /// Query parameters (escaped when the URL is built).
    query: Vec<(&'static str, String)>,
    /// The JSON body: the request's body type, as the server reads it.
    body: Option<serde_json::Value>,
}

impl Route {
    fn new(method: reqwest::Method, path: impl Into<String>) -> Self {
        Self {
            method,
            path: path.into(),
            query: Vec::new(),
            body: None,
        }
    }

    fn body(mut self, body: &impl Serialize) -> Result<Self> {
        let value = serde_json::to_value(body)
            .map_err(|error| ClientError::Usage(format!("the body is not JSON: {error}")))?;
        self.body = Some(value);
        Ok(self)
    }

    fn query(mut self, name: &'static str, value: Option<impl ToString>) -> Self {
        if let Some(value) = value {
            self.query.push((name, value.to_string()));
        }
        self
    }
}

/// A path segment with everything but the unreserved characters percent-escaped.
fn segment(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            escaped.push(char::from(byte));
        } else {
            escaped.push_str(&format!("%{byte:02X}"));
        }
    }
    escaped
}

/// Each request's route: the server's `/v1` API (`Authenticate` checks the token with the
/// profile, since HTTP sends the token with every request).
fn route(request: &Request) -> Result<Route> {
    use reqwest::Method;
    Ok(match request {
        Request::Register(body) => Route::new(Method::POST, "/v1/auth/register").body(body)?,
        Request::Login(body) => Route::new(Method::POST, "/v1/auth/login").body(body)?,
        Request::Authenticate { .. } | Request::Profile => {
            Route::new(Method::GET, "/v1/profile/me")
        }
        Request::Queues => Route::new(Method::GET, "/v1/queues"),
        Request::Enqueue(body) => Route::new(Method::POST, "/v1/queue").body(body)?,
        Request::QueueStatus => Route::new(Method::GET, "/v1/queue"),
        Request::Cancel => Route::new(Method::DELETE, "/v1/queue"),
        Request::Accept { match_id } => {
            Route::new(Method::POST, format!("/v1/match/{match_id}/accept"))
        }
        Request::Decline { match_id } => {
            Route::new(Method::POST, format!("/v1/match/{match_id}/decline"))
        }
        Request::Session { match_id } => Route::new(Method::GET, format!("/v1/session/{match_id}")),
        Request::CreateParty => Route::new(Method::POST, "/v1/party"),
        Request::MyParty => Route::new(Method::GET, "/v1/party"),
        Request::Party { party_id } => Route::new(Method::GET, format!("/v1/party/{party_id}")),
        Request::Invite { party_id, body } => {
            Route::new(Method::POST, format!("/v1/party/{party_id}/invite")).body(body)?
        }
        Request::Join { party_id } => {
            Route::new(Method::POST, format!("/v1/party/{party_id}/join"))
        }
        Request::LeaveParty { party_id } => {
            Route::new(Method::POST, format!("/v1/party/{party_id}/leave"))
        }
        Request::Kick { party_id, body } => {
            Route::new(Method::POST, format!("/v1/party/{party_id}/kick")).body(body)?
        }
        Request::Ready { party_id, body } => {
            Route::new(Method::POST, format!("/v1/party/{party_id}/ready")).body(body)?
        }
        Request::Chat { party_id, body } => {
            Route::new(Method::POST, format!("/v1/party/{party_id}/chat")).body(body)?
        }
        Request::Refresh(body) => Route::new(Method::POST, "/v1/auth/refresh").body(body)?,
        Request::Logout(body) => Route::new(Method::POST, "/v1/auth/logout").body(body)?,
        Request::UpdateProfile(body) => Route::new(Method::PATCH, "/v1/profile/me").body(body)?,
        Request::Leaderboard { season, query } => {
            Route::new(Method::GET, format!("/v1/leaderboard/{}", segment(season)))
                .query("mode", Some(&query.mode))
                .query("limit", query.limit)
                .query("cursor", query.cursor.as_ref())
        }
        Request::History(query) => Route::new(Method::GET, "/v1/matches/history")
            .query("limit", query.limit)
            .query("cursor", query.cursor.as_ref()),
        Request::AvoidList => Route::new(Method::GET, "/v1/profile/avoid"),
        Request::SetAvoidList(body) => Route::new(Method::PUT, "/v1/profile/avoid").body(body)?,
        Request::Explain => Route::new(Method::GET, "/v1/queue/explain"),
    })
}

fn read<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|error| {
        ClientError::Protocol(format!(
            "the answer is not what this client reads: {error}: {}",
            String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
        ))
    })
}

impl HttpClient {
    pub(super) fn new(
        base_url: &str,
        pool: &HttpPool,
        events: mpsc::Sender<Result<Event>>,
    ) -> Result<Self> {
        let base = base_url.trim_end_matches('/').to_string();
        if !base.starts_with("http://") && !base.starts_with("https://") {
            return Err(ClientError::Usage(format!(
                "the base URL is http://HOST:PORT, not {base_url:?}"
            )));
        }
        Ok(Self {
            http: pool.http.clone(),
            base,
            token: Mutex::new(None),
            player: Mutex::new(None),
            events: Mutex::new(Some(events)),
            socket: Mutex::new(None),
        })
    }

    pub(super) async fn call(&self, request: Request) -> Result<Response> {
        let Route {
            method,
            path,
            query,
            body,
        } = route(&request)?;
        let token = match &request {
            Request::Authenticate { access_token } => Some(access_token.clone()),
            _ => lock(&self.token).clone(),
        };
        let mut url = reqwest::Url::parse(&format!("{}{path}", self.base))
            .map_err(|error| ClientError::Usage(format!("{}{path}: {error}", self.base)))?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let mut builder = self.http.request(method, url);
        if let Some(token) = &token {
            builder = builder.bearer_auth(token);
        }
        if let Some(body) = body {
            builder = builder.json(&body);
        }
        let answer = builder
            .send()
            .await
            .map_err(|error| ClientError::Connection(format!("{path}: {error}")))?;
        let status = answer.status();
        let bytes = answer
            .bytes()
            .await
            .map_err(|error| ClientError::Connection(format!("{path}: {error}")))?;
        if !status.is_success() {
            // The same error body as QUIC's.
            return Err(ClientError::Server(WireError::from_http(
                status.as_u16(),
                &bytes,
            )));
        }
        let response = match request {
            Request::Register(_) | Request::Login(_) | Request::Refresh(_) => {
                let tokens: Tokens = read(&bytes)?;
                self.authenticated(tokens.player_id, &tokens.access_token)
                    .await?;
                Response::Tokens(tokens)
            }
            Request::Authenticate { access_token } => {
                let profile: Profile = read(&bytes)?;
                self.authenticated(profile.player_id, &access_token).await?;
                Response::Authenticated {
                    player_id: profile.player_id,
                }
            }
            Request::Queues => Response::Queues(read(&bytes)?),
            Request::Enqueue(_) | Request::QueueStatus => Response::QueueStatus(read(&bytes)?),
            Request::Cancel | Request::Accept { .. } | Request::Decline { .. } => {
                Response::Done(read(&bytes)?)
            }
            Request::Session { .. } => Response::Session(read(&bytes)?),
            Request::CreateParty
            | Request::MyParty
            | Request::Party { .. }
            | Request::Join { .. }
            | Request::Ready { .. } => Response::Party(read(&bytes)?),
            Request::Invite { .. }
            | Request::LeaveParty { .. }
            | Request::Kick { .. }
            | Request::Chat { .. } => Response::PartyAck(read(&bytes)?),
            Request::Logout(_) => Response::LoggedOut,
            Request::Profile | Request::UpdateProfile(_) => Response::Profile(read(&bytes)?),
            Request::Leaderboard { .. } => Response::Leaderboard(read(&bytes)?),
            Request::History(_) => Response::History(read(&bytes)?),
            Request::AvoidList | Request::SetAvoidList(_) => Response::AvoidList(read(&bytes)?),
            Request::Explain => Response::Explanation(read(&bytes)?),
        };
        Ok(response)
    }

    /// Keeps the token and opens the event socket (once): returns after its `welcome`, so
    /// no event after the login is missed.
    async fn authenticated(&self, player: u64, token: &str) -> Result<()> {
        {
            let mut current = lock(&self.player);
            match *current {
                Some(existing) if existing != player => {
                    return Err(ClientError::Server(WireError::new(
                        409,
                        "already_authenticated",
                        format!(
                            "this client is player {existing}'s; make another client for player {player}"
                        ),
                    )));
                }
                _ => *current = Some(player),
            }
        }
        *lock(&self.token) = Some(token.to_string());
        let Some(events) = lock(&self.events).take() else {
            return Ok(());
        };
        match self.open_events(token, &events).await {
            Ok(task) => {
                *lock(&self.socket) = Some(task);
                Ok(())
            }
            Err(error) => {
                // Logged in, but without events: a later login or authenticate tries again.
                *lock(&self.events) = Some(events);
                Err(error)
            }
        }
    }

    /// Opens `/v1/events` and returns the task that forwards its events.
    async fn open_events(
        &self,
        token: &str,
        events: &mpsc::Sender<Result<Event>>,
    ) -> Result<tokio::task::JoinHandle<()>> {
        let events = events.clone();
        let url = format!("ws{}/v1/events", self.base.trim_start_matches("http"));
        let mut request = url
            .as_str()
            .into_client_request()
            .map_err(|error| ClientError::Usage(format!("{url}: {error}")))?;
        let bearer = format!("Bearer {token}")
            .parse()
            .map_err(|_| ClientError::Usage("the access token is not a header value".into()))?;
        request.headers_mut().insert("authorization", bearer);
        let (mut socket, _) = tokio_tungstenite::connect_async(request)
            .await
            .map_err(|error| ClientError::Connection(format!("{url}: {error}")))?;
        // The welcome says the subscription is live.
        let welcome = loop {
            match socket.next().await {
                Some(Ok(Message::Text(text))) => break Event::from_json(text.as_str()),
                Some(Ok(Message::Close(_))) | None => {
                    return Err(ClientError::Connection(format!(
                        "{url} closed before its welcome"
                    )));
                }
                Some(Ok(_)) => {}
                Some(Err(error)) => return Err(ClientError::Connection(format!("{url}: {error}"))),
            }
        };
        let welcome = welcome.map_err(ClientError::Protocol)?;
        let task = tokio::spawn(async move {
            if events.send(Ok(welcome)).await.is_err() {
                return;
            }
            while let Some(message) = socket.next().await {
                let item = match message {
                    Ok(Message::Text(text)) => {
                        Event::from_json(text.as_str()).map_err(ClientError::Protocol)
                    }
                    Ok(Message::Close(frame)) => {
                        if let Some(frame) = frame
                            && u16::from(frame.code) == 1008
                        {
                            let _ = events
                                .send(Err(ClientError::Server(WireError::new(
                                    409,
                                    "events_lagged",
                                    frame.reason.to_string(),
                                ))))
                                .await;
                        }
                        return;
                    }
                    Ok(_) => continue,
                    Err(error) => Err(ClientError::Connection(format!("events: {error}"))),
                };
                let last = item.is_err();
                if events.send(item).await.is_err() || last {
                    return;
                }
            }
        });
        Ok(task)
    }

    pub(super) fn close(&self) {
        if let Some(task) = lock(&self.socket).take() {
            task.abort();
        }
    }
}

impl Drop for HttpClient {
    fn drop(&mut self) {
        self.close();
    }
}
