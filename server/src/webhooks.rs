//! The webhook sender (`[webhooks]`, docs/webhooks.md): delivers the store's webhook outbox
//! (match and session events of committed ticks, `matchwright_storage::webhooks`) to each
//! configured endpoint as signed HTTP POSTs, in order, at least once.
//!
//! One task per endpoint, off the tick thread: the tick only appends rows in its own
//! transaction, so a slow, failing or hanging receiver never holds a tick up. An endpoint's
//! task reads rows from its cursor, POSTs each (bounded by `timeout_ms`), retries a failure
//! with a doubling backoff, and gives up on an event (a dead letter, counted) after
//! `max_attempts` failures or once it is older than `give_up_after_ms`; it saves its cursor
//! after every batch, so a restart resends at most that batch (receivers de-duplicate by the
//! event's `id`). Beyond `max_pending` events waiting, the oldest are dead-lettered unsent.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use matchwright_storage::{StoreHandle, WebhookCursor, WebhookRow};
use matchwright_transport::wire::{BackendEvent, WebhookEndpointStatus, WebhookStatus};
use tokio::sync::watch;

use crate::settings::{WebhookEndpoint, WebhooksSection};

/// Rows read from the outbox at once (and the most a restart resends to one endpoint).
const BATCH: usize = 100;
/// How often an endpoint with nothing to send looks for new rows.
const IDLE_POLL: Duration = Duration::from_millis(100);

/// The endpoints' delivery, for `GET /v1/admin/webhooks`.
#[derive(Debug)]
pub struct Webhooks {
    store: StoreHandle,
    endpoints: Vec<Arc<Mutex<EndpointState>>>,
}

/// What one endpoint's task reports.
#[derive(Debug)]
struct EndpointState {
    name: String,
    url: String,
    cursor: WebhookCursor,
    delivered: u64,
    last_error: Option<String>,
}

/// Sets the store's endpoints to `settings`' (a new one starts at the newest event; with none,
/// the outbox is emptied) and returns their cursors. Called before the tick loop commits its
/// first tick, so that a new endpoint gets every event from this start on.
pub fn configure(
    settings: &WebhooksSection,
    store: &StoreHandle,
) -> Result<BTreeMap<String, WebhookCursor>, String> {
    let names = settings.endpoints.iter().map(|e| e.name.clone()).collect();
    store
        .configure_webhooks(names)
        .map_err(|error| format!("cannot set up the webhook outbox: {error}"))
}

impl Webhooks {
    /// Starts one sender task per endpoint of `settings`, from its cursor in `cursors`
    /// ([`configure`]); with no endpoint, starts nothing and returns `None`.
    pub fn start(
        settings: &WebhooksSection,
        secret: Option<&str>,
        store: StoreHandle,
        cursors: &BTreeMap<String, WebhookCursor>,
        stop: &watch::Receiver<bool>,
    ) -> Result<Option<Arc<Self>>, String> {
        let Some(secret) = secret.filter(|_| !settings.endpoints.is_empty()) else {
            return Ok(None);
        };
        let client = client()?;
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
        let mut endpoints = Vec::new();
        for endpoint in &settings.endpoints {
            let state = Arc::new(Mutex::new(EndpointState {
                name: endpoint.name.clone(),
                url: endpoint.url.clone(),
                cursor: cursors.get(&endpoint.name).copied().unwrap_or_default(),
                delivered: 0,
                last_error: None,
            }));
            let sender = Sender {
                endpoint: endpoint.clone(),
                settings: settings.clone(),
                client: client.clone(),
                key: key.clone(),
                store: store.clone(),
                state: Arc::clone(&state),
                stop: stop.clone(),
            };
            tokio::spawn(sender.run());
            endpoints.push(state);
        }
        tracing::info!(
            endpoints = settings.endpoints.len(),
            "delivering match and session events to webhooks"
        );
        Ok(Some(Arc::new(Self { store, endpoints })))
    }

    /// Each endpoint's delivery now.
    pub fn status(&self) -> Result<WebhookStatus, String> {
        let head = self.store.webhook_head().map_err(|e| e.to_string())?;
        let mut lowest = head;
        let endpoints = self
            .endpoints
            .iter()
            .map(|state| {
                let state = state.lock().unwrap_or_else(|p| p.into_inner());
                lowest = lowest.min(state.cursor.next);
                WebhookEndpointStatus {
                    name: state.name.clone(),
                    url: shown_url(&state.url),
                    pending: head.saturating_sub(state.cursor.next),
                    delivered: state.delivered,
                    dead_letters: state.cursor.dead_letters,
                    last_error: state.last_error.clone(),
                }
            })
            .collect();
        Ok(WebhookStatus {
            outbox_rows: head - lowest,
            endpoints,
        })
    }
}

/// An endpoint's URL as operators see it: scheme, host and port; a path (which may carry a
/// token, as chat services' webhook URLs do) is shown as `/...`.
fn shown_url(url: &str) -> String {
    let Ok(uri) = url.parse::<axum::http::Uri>() else {
        return "(not a URL)".into();
    };
    let (scheme, authority) = (uri.scheme_str().unwrap_or("http"), uri.authority());
    let host = authority.map_or("", |a| a.as_str().rsplit('@').next().unwrap_or(""));
    let path = if uri.path_and_query().is_some_and(|p| p.as_str() != "/") {
        "/..."
    } else {
        ""
    };
    format!("{scheme}://{host}{path}")
}

/// The HTTP client: hyper's (it follows no redirect: a webhook answers where it is
/// configured), TLS with the system's root certificates on ring.
type HttpClient = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    http_body_util::Full<bytes::Bytes>,
>;

fn client() -> Result<HttpClient, String> {
    let mut roots = rustls::RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    let (added, _) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        tracing::warn!("no trusted root certificates found: https:// webhooks will fail");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| format!("webhooks' TLS: {error}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .build();
    Ok(
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build(connector),
    )
}

/// One endpoint's task.
struct Sender {
    endpoint: WebhookEndpoint,
    settings: WebhooksSection,
    client: HttpClient,
    key: ring::hmac::Key,
    store: StoreHandle,
    state: Arc<Mutex<EndpointState>>,
    stop: watch::Receiver<bool>,
}

/// How one event's delivery ended.
enum Outcome {
    Delivered,
    /// Not one the endpoint takes.
    Skipped,
    GaveUp,
    Stopped,
}

impl Sender {
    async fn run(mut self) {
        let mut cursor = self.lock().cursor;
        loop {
            let wait = match self.step(&mut cursor).await {
                Ok(true) => Duration::ZERO,
                Ok(false) => IDLE_POLL,
                Err(error) => {
                    tracing::warn!(endpoint = %self.endpoint.name, %error, "the webhook outbox could not be read or saved; retrying");
                    Duration::from_secs(1)
                }
            };
            if self.stopped() || !self.pause(wait).await {
                return;
            }
        }
    }

    /// Whether the server is stopping (or whoever could say so is gone).
    fn stopped(&self) -> bool {
        *self.stop.borrow() || self.stop.has_changed().is_err()
    }

    /// Sends one batch from `cursor` and saves where it got. Returns whether there was one.
    async fn step(&mut self, cursor: &mut WebhookCursor) -> Result<bool, String> {
        let store = self.store.clone();
        let (from, bound) = (cursor.next, self.settings.max_pending);
        let (head, rows) = tokio::task::spawn_blocking(move || {
            let head = store.webhook_head()?;
            let from = from.max(head.saturating_sub(bound));
            Ok::<_, matchwright_storage::StoreError>((head, store.webhook_rows(from, BATCH)?))
        })
        .await
        .map_err(|error| error.to_string())?
        .map_err(|error| error.to_string())?;
        let start = cursor.next;
        self.drop_beyond_bound(cursor, head);
        for (number, row) in &rows {
            if self.stopped() {
                break;
            }
            let outcome = self.send(*number, row).await;
            match outcome {
                Outcome::Stopped => break,
                Outcome::Skipped => {}
                Outcome::Delivered => self.lock().delivered += 1,
                Outcome::GaveUp => cursor.dead_letters += 1,
            }
            cursor.next = number + 1;
            // Reported at once; saved with the batch.
            self.lock().cursor = *cursor;
        }
        if cursor.next != start {
            self.save(*cursor).await?;
        }
        Ok(!rows.is_empty())
    }

    /// Gives up on the oldest events waiting beyond `max_pending`.
    fn drop_beyond_bound(&self, cursor: &mut WebhookCursor, head: u64) {
        let keep_from = head.saturating_sub(self.settings.max_pending);
        if cursor.next < keep_from {
            let dropped = keep_from - cursor.next;
            tracing::warn!(endpoint = %self.endpoint.name, dropped, "more webhook events wait than [webhooks] max_pending: the oldest are given up on (dead letters)");
            metrics::counter!("matchwright_webhook_dead_letters_total", "endpoint" => self.endpoint.name.clone())
                .increment(dropped);
            cursor.dead_letters += dropped;
            cursor.next = keep_from;
        }
    }

    /// Saves the cursor (the rows every endpoint has passed go with it).
    async fn save(&self, cursor: WebhookCursor) -> Result<(), String> {
        let (store, name) = (self.store.clone(), self.endpoint.name.clone());
        tokio::task::spawn_blocking(move || store.save_webhook_cursor(name, cursor))
            .await
            .map_err(|error| error.to_string())?
            .map_err(|error| error.to_string())?;
        self.lock().cursor = cursor;
        Ok(())
    }

    /// Whether row `number` is now more than `max_pending` behind the newest.
    async fn beyond_bound(&self, number: u64) -> bool {
        let store = self.store.clone();
        let head = tokio::task::spawn_blocking(move || store.webhook_head()).await;
        let head = head.ok().and_then(Result::ok).unwrap_or(number);
        head.saturating_sub(number) > self.settings.max_pending
    }

    /// Delivers row `number`, retrying until it is delivered, given up on (also when, while
    /// it is retried, more than `max_pending` newer events come to wait behind it), or the
    /// server stops.
    async fn send(&mut self, number: u64, row: &WebhookRow) -> Outcome {
        let Some(event) = backend_event(row) else {
            return Outcome::Skipped;
        };
        let kind = event.event.kind();
        if !self.endpoint.takes(kind) {
            return Outcome::Skipped;
        }
        let body = match serde_json::to_vec(&event) {
            Ok(body) => body,
            Err(error) => {
                tracing::error!(%error, id = %event.id, "a webhook event does not serialize");
                return Outcome::GaveUp;
            }
        };
        let mut attempt = 0_u32;
        loop {
            attempt += 1;
            let result = self.post(&event.id, kind, attempt, &body).await;
            let label = ("endpoint", self.endpoint.name.clone());
            match result {
                Ok(()) => {
                    metrics::counter!("matchwright_webhook_deliveries_total", &[label])
                        .increment(1);
                    self.lock().last_error = None;
                    return Outcome::Delivered;
                }
                Err(why) => {
                    metrics::counter!(
                        "matchwright_webhook_failures_total",
                        std::slice::from_ref(&label)
                    )
                    .increment(1);
                    let age = crate::clock::unix_ms().saturating_sub(row.at_ms);
                    let give_up = attempt >= self.settings.max_attempts
                        || age >= self.settings.give_up_after_ms
                        || self.beyond_bound(number).await;
                    tracing::warn!(endpoint = %self.endpoint.name, id = %event.id, attempt, give_up, "webhook delivery failed: {why}");
                    self.lock().last_error = Some(why);
                    if give_up {
                        metrics::counter!("matchwright_webhook_dead_letters_total", &[label])
                            .increment(1);
                        return Outcome::GaveUp;
                    }
                    if !self.pause(self.backoff(attempt)).await {
                        return Outcome::Stopped;
                    }
                }
            }
        }
    }

    /// One attempt: a 2xx answer is delivered; anything else, or no answer in time, fails.
    async fn post(&self, id: &str, kind: &str, attempt: u32, body: &[u8]) -> Result<(), String> {
        let sent_at = crate::clock::unix_ms() / 1_000;
        let signature = sign(&self.key, sent_at, body);
        let request = axum::http::Request::post(&self.endpoint.url)
            .header("content-type", "application/json")
            .header(
                "user-agent",
                concat!("matchwright/", env!("CARGO_PKG_VERSION")),
            )
            .header("matchwright-event", kind)
            .header("matchwright-delivery", id)
            .header("matchwright-attempt", attempt.to_string())
            .header("matchwright-signature", signature)
            .body(http_body_util::Full::new(bytes::Bytes::copy_from_slice(
                body,
            )))
            .map_err(|error| format!("cannot make the request: {error}"))?;
        let timeout = Duration::from_millis(self.settings.timeout_ms);
        let response = tokio::time::timeout(timeout, self.client.request(request))
            .await
            .map_err(|_| "no answer in time ([webhooks] timeout_ms)".to_string())?
            .map_err(|error| format!("cannot send: {error}"))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("the receiver answered {status}"))
        }
    }

    /// The wait after failed attempt `attempt` (from 1): the first backoff, doubled each time,
    /// at most the longest.
    fn backoff(&self, attempt: u32) -> Duration {
        let doubled = self
            .settings
            .first_backoff_ms
            .saturating_mul(1_u64 << attempt.saturating_sub(1).min(30));
        Duration::from_millis(doubled.min(self.settings.max_backoff_ms))
    }

    /// Waits `wait`, or until the server stops. Returns whether it is still running.
    async fn pause(&mut self, wait: Duration) -> bool {
        tokio::select! {
            () = tokio::time::sleep(wait) => !self.stopped(),
            // A change is the stop; an error, the stopper gone: either way, stop.
            _ = self.stop.changed() => false,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, EndpointState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// `t=SECONDS,v1=HEX`: HMAC-SHA256 with the webhook secret over `SECONDS.BODY`, as
/// docs/webhooks.md shows how to check.
pub fn sign(key: &ring::hmac::Key, sent_at_s: u64, body: &[u8]) -> String {
    let mut message = format!("{sent_at_s}.").into_bytes();
    message.extend_from_slice(body);
    let tag = ring::hmac::sign(key, &message);
    let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("t={sent_at_s},v1={hex}")
}

/// The body of the delivery of `row` ([`event_for_backends`]).
pub fn backend_event(row: &WebhookRow) -> Option<BackendEvent> {
    crate::backend_events::event_for_backends(row.tick, row.at_ms, &row.event)
}

#[cfg(test)]
mod tests {
    use matchwright_ecs::Event;

    use super::*;

    #[test]
    fn a_signature_is_hmac_sha256_over_the_time_and_the_body() {
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, b"secret");
        let signed = sign(&key, 1_700_000_000, b"{}");
        let hex = signed.strip_prefix("t=1700000000,v1=").unwrap();
        assert_eq!(hex.len(), 64);
        let tag: Vec<u8> = (0..32)
            .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
            .collect();
        ring::hmac::verify(&key, b"1700000000.{}", &tag).unwrap();
        assert!(ring::hmac::verify(&key, b"1700000001.{}", &tag).is_err());
    }

    #[test]
    fn ids_name_the_type_and_the_match() {
        let row = |event| WebhookRow {
            tick: 9,
            at_ms: 5,
            event,
        };
        let ended = backend_event(&row(Event::SessionEnded {
            match_id: matchwright_ecs::MatchId(4),
            placements: None,
        }))
        .unwrap();
        assert_eq!(ended.id, "session_ended:4");
        assert_eq!(ended.at_ms, 5);
        let backfilled = backend_event(&row(Event::BackfillFilled {
            match_id: matchwright_ecs::MatchId(4),
            tickets: Vec::new(),
            open_slots: Vec::new(),
            quality: 1.0,
        }))
        .unwrap();
        assert_eq!(backfilled.id, "match_backfilled:4:9");
        let left = row(Event::PlayerLeftSession {
            match_id: matchwright_ecs::MatchId(4),
            player: matchwright_ecs::PlayerId(1),
        });
        assert!(backend_event(&left).is_none());
    }
}
