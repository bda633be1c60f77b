//! The SDK's HTTP backend: each [`Request`] is its `/v1` route, answers are read into the same
//! wire types, and events come from the `/v1/events` WebSocket (JSON, read into
//! [`Event`] by [`Event::from_json`]).

use std::sync::Mutex;

use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use serde_json::json;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use super::{ClientError, Result};
use crate::wire::{Event, Request, Response, WireError};

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

/// How a request travels over HTTP: method, path, JSON body.
fn route(request: &Request) -> (reqwest::Method, String, Option<serde_json::Value>) {
    use reqwest::Method;
    let pings = |pings: &[(String, u16)]| -> serde_json::Value {
        pings
            .iter()
            .map(|(region, ping)| (region.clone(), json!(ping)))
            .collect::<serde_json::Map<_, _>>()
            .into()
    };
    match request {
        Request::Register {
            username,
            password,
            display_name,
        } => (
            Method::POST,
            "/v1/auth/register".into(),
            Some(json!({"username": username, "password": password, "display_name": display_name})),
        ),
        Request::Login { username, password } => (
            Method::POST,
            "/v1/auth/login".into(),
            Some(json!({"username": username, "password": password})),
        ),
        Request::Authenticate { .. } => (Method::GET, "/v1/profile/me".into(), None),
        Request::Queues => (Method::GET, "/v1/queues".into(), None),
        Request::Enqueue(enqueue) => (
            Method::POST,
            "/v1/queue".into(),
            Some(json!({
                "queue": enqueue.queue,
                "pings": pings(&enqueue.pings),
                "max_ping_ms": enqueue.max_ping_ms,
            })),
        ),
        Request::QueueStatus => (Method::GET, "/v1/queue".into(), None),
        Request::Cancel => (Method::DELETE, "/v1/queue".into(), None),
        Request::Accept { match_id } => {
            (Method::POST, format!("/v1/match/{match_id}/accept"), None)
        }
        Request::Decline { match_id } => {
            (Method::POST, format!("/v1/match/{match_id}/decline"), None)
        }
        Request::Session { match_id } => (Method::GET, format!("/v1/session/{match_id}"), None),
        Request::CreateParty => (Method::POST, "/v1/party".into(), None),
        Request::MyParty => (Method::GET, "/v1/party".into(), None),
        Request::Party { party_id } => (Method::GET, format!("/v1/party/{party_id}"), None),
        Request::Invite {
            party_id,
            player_id,
        } => (
            Method::POST,
            format!("/v1/party/{party_id}/invite"),
            Some(json!({"player_id": player_id})),
        ),
        Request::Join { party_id } => (Method::POST, format!("/v1/party/{party_id}/join"), None),
        Request::LeaveParty { party_id } => {
            (Method::POST, format!("/v1/party/{party_id}/leave"), None)
        }
        Request::Kick {
            party_id,
            player_id,
        } => (
            Method::POST,
            format!("/v1/party/{party_id}/kick"),
            Some(json!({"player_id": player_id})),
        ),
        Request::Ready {
            party_id,
            ready,
            pings: given,
        } => (
            Method::POST,
            format!("/v1/party/{party_id}/ready"),
            Some(json!({"ready": ready, "pings": pings(given)})),
        ),
        Request::Chat { party_id, text } => (
            Method::POST,
            format!("/v1/party/{party_id}/chat"),
            Some(json!({"text": text})),
        ),
    }
}

fn read<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|error| {
        ClientError::Protocol(format!(
            "the answer is not what this client reads: {error}: {}",
            String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
        ))
    })
}

#[derive(serde::Deserialize)]
struct ErrorBody {
    error: String,
    message: String,
    field: Option<String>,
}

#[derive(serde::Deserialize)]
struct Profile {
    player_id: u64,
}

impl HttpClient {
    pub(super) fn new(base_url: &str, events: mpsc::Sender<Result<Event>>) -> Result<Self> {
        let base = base_url.trim_end_matches('/').to_string();
        if !base.starts_with("http://") && !base.starts_with("https://") {
            return Err(ClientError::Usage(format!(
                "the base URL is http://HOST:PORT, not {base_url:?}"
            )));
        }
        let http = reqwest::Client::builder()
            .build()
            .map_err(|error| ClientError::Usage(format!("cannot make an HTTP client: {error}")))?;
        Ok(Self {
            http,
            base,
            token: Mutex::new(None),
            player: Mutex::new(None),
            events: Mutex::new(Some(events)),
            socket: Mutex::new(None),
        })
    }

    pub(super) async fn call(&self, request: Request) -> Result<Response> {
        let (method, path, body) = route(&request);
        let token = match &request {
            Request::Authenticate { access_token } => Some(access_token.clone()),
            _ => lock(&self.token).clone(),
        };
        let mut builder = self.http.request(method, format!("{}{path}", self.base));
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
            let body: ErrorBody = read(&bytes)?;
            return Err(ClientError::Server(WireError {
                status: status.as_u16(),
                code: body.error,
                message: body.message,
                field: body.field,
            }));
        }
        let response = match request {
            Request::Register { .. } | Request::Login { .. } => {
                let tokens: crate::wire::Tokens = read(&bytes)?;
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
