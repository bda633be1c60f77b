//! Explain through a gateway: a request to the partition's replicas over NATS request-reply
//! (`mw.<partition>.explain`, one queue group, so one replica answers). Explain reads the
//! matcher, which only replicas hold; every replica (leader or standby) holds the same state
//! up to the tick it applied, so any may answer, between its ticks, as of its last one. The
//! request is the ticket id; the reply the matcher's `Option<Explanation>`, encoded by the
//! one codec (with its format version byte). Not in the log: explain changes nothing.

use std::time::Duration;

use futures_util::StreamExt as _;
use matchwright_ecs::{Explanation, TicketId, codec};

use crate::log::LogError;

/// How long a gateway waits for a replica's answer.
pub const EXPLAIN_TIMEOUT: Duration = Duration::from_secs(2);

/// The queue group the partition's replicas answer in.
const REPLICAS: &str = "replicas";

/// The subject a partition's replicas answer explain requests on.
pub fn explain_subject(partition: &str) -> String {
    format!("mw.{partition}.explain")
}

/// A replica's explain requests.
pub struct ExplainRequests {
    client: async_nats::Client,
    requests: async_nats::Subscriber,
}

impl ExplainRequests {
    /// Subscribes `partition`'s replica to its explain requests.
    pub async fn subscribe(client: async_nats::Client, partition: &str) -> Result<Self, LogError> {
        let requests = client
            .queue_subscribe(explain_subject(partition), REPLICAS.into())
            .await
            .map_err(|error| {
                LogError::Server(format!("subscribing to explain requests: {error}"))
            })?;
        Ok(Self { client, requests })
    }

    /// The next request's ticket and where to answer (`None` once the subscription ended).
    /// A request that names no ticket is answered at once with nothing.
    pub async fn next(&mut self) -> Option<(TicketId, async_nats::Subject)> {
        loop {
            let message = self.requests.next().await?;
            let Some(reply) = message.reply else {
                continue;
            };
            match std::str::from_utf8(&message.payload)
                .ok()
                .and_then(|text| text.parse().ok())
            {
                Some(ticket) => return Some((TicketId(ticket), reply)),
                None => self.answer(reply, None).await,
            }
        }
    }

    /// Sends `explanation` to `reply` (a lost answer is the asker's timeout).
    pub async fn answer(&self, reply: async_nats::Subject, explanation: Option<Explanation>) {
        let bytes = codec::encode(&explanation);
        if let Err(error) = self.client.publish(reply, bytes.into()).await {
            tracing::debug!(%error, "an explain answer was not sent");
        }
    }
}

/// Asks `partition`'s replicas why `ticket` has not matched; `None`: no replica holds it.
pub async fn ask(
    client: &async_nats::Client,
    partition: &str,
    ticket: TicketId,
) -> Result<Option<Explanation>, LogError> {
    let request = client.request(explain_subject(partition), ticket.0.to_string().into());
    let answer = tokio::time::timeout(EXPLAIN_TIMEOUT, request)
        .await
        .map_err(|_| LogError::Server("no replica answered the explain request in time".into()))?
        .map_err(|error| LogError::Server(format!("the explain request failed: {error}")))?;
    codec::decode(&answer.payload).map_err(|error| {
        LogError::Refused(format!("an explain answer that does not decode: {error}"))
    })
}
