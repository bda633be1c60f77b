//! Explain through a gateway: a request to the partition's leader over NATS request-reply
//! (`mw.<partition>.explain`). Explain reads the matcher, which only replicas hold; the
//! leader answers, between its ticks, as of its last tick (as `serve`'s tick thread does), so
//! the answer is never older than what the gateway's view has seen. A standby does not
//! subscribe (it may trail the leader). The request is the ticket id; the reply an
//! [`ExplainAnswer`], encoded by the one codec (with its format version byte). Not in the
//! log: explain changes nothing.
//!
//! Bounds: a leader explains at most [`EXPLAINS_PER_SECOND`] tickets a second (each scans at
//! most `limits.max_explain_scan` tickets) and answers the rest `Busy` at once, so a flood of
//! requests costs its ticks little; an answer that cannot be sent within 50 ms is dropped
//! (the asker times out).

use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use matchwright_ecs::{Explanation, TicketId, codec};
use serde::{Deserialize, Serialize};

use crate::log::LogError;

/// How long a gateway waits for the leader's answer.
pub const EXPLAIN_TIMEOUT: Duration = Duration::from_secs(2);

/// The most tickets a leader explains in a second; beyond, it answers `Busy`.
pub const EXPLAINS_PER_SECOND: u32 = 200;

/// How long a leader may wait to hand an answer to its NATS client.
const SEND_TIMEOUT: Duration = Duration::from_millis(50);

/// The subject a partition's leader answers explain requests on.
pub fn explain_subject(partition: &str) -> String {
    format!("mw.{partition}.explain")
}

/// A leader's answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ExplainAnswer {
    /// Why the ticket has not matched (`None`: no live ticket has that id).
    Explained(Option<Explanation>),
    /// Too many explains this second: ask again shortly.
    Busy,
}

/// A leader's explain requests, with its budget.
pub struct ExplainRequests {
    client: async_nats::Client,
    requests: async_nats::Subscriber,
    /// When the current second started, and the explains made in it.
    window: (Instant, u32),
}

impl ExplainRequests {
    /// Subscribes `partition`'s leader to its explain requests.
    pub async fn subscribe(client: async_nats::Client, partition: &str) -> Result<Self, LogError> {
        let requests = client
            .subscribe(explain_subject(partition))
            .await
            .map_err(|error| {
                LogError::Server(format!("subscribing to explain requests: {error}"))
            })?;
        Ok(Self {
            client,
            requests,
            window: (Instant::now(), 0),
        })
    }

    /// The next request within the budget: its ticket and where to answer (`None` once the
    /// subscription ended). A request beyond the budget is answered `Busy`, one that names
    /// no ticket `Explained(None)`, both at once.
    pub async fn next(&mut self) -> Option<(TicketId, async_nats::Subject)> {
        let mut refused: u32 = 0;
        loop {
            let message = self.requests.next().await?;
            let Some(reply) = message.reply else {
                continue;
            };
            if !self.spend() {
                self.answer(reply, ExplainAnswer::Busy).await;
                refused += 1;
                if refused.is_multiple_of(64) {
                    // A backlog of refusals is answered in slices: the replica's loop (its
                    // ticks, its log) gets a turn between them.
                    tokio::task::yield_now().await;
                }
                continue;
            }
            match std::str::from_utf8(&message.payload)
                .ok()
                .and_then(|text| text.parse().ok())
            {
                Some(ticket) => return Some((TicketId(ticket), reply)),
                None => self.answer(reply, ExplainAnswer::Explained(None)).await,
            }
        }
    }

    /// Takes one explain from this second's budget; `false` when it is spent.
    fn spend(&mut self) -> bool {
        let (started, spent) = &mut self.window;
        if started.elapsed() >= Duration::from_secs(1) {
            *started = Instant::now();
            *spent = 0;
        }
        *spent += 1;
        *spent <= EXPLAINS_PER_SECOND
    }

    /// Sends `answer` to `reply` (one not handed over within 50 ms is dropped: the asker
    /// times out).
    pub async fn answer(&self, reply: async_nats::Subject, answer: ExplainAnswer) {
        let bytes = codec::encode(&answer);
        let sent = tokio::time::timeout(SEND_TIMEOUT, self.client.publish(reply, bytes.into()));
        if !matches!(sent.await, Ok(Ok(()))) {
            tracing::debug!("an explain answer was not sent");
        }
    }
}

/// Asks `partition`'s leader why `ticket` has not matched.
pub async fn ask(
    client: &async_nats::Client,
    partition: &str,
    ticket: TicketId,
) -> Result<ExplainAnswer, LogError> {
    let request = client.request(explain_subject(partition), ticket.0.to_string().into());
    let answer = tokio::time::timeout(EXPLAIN_TIMEOUT, request)
        .await
        .map_err(|_| LogError::Server("the partition's leader did not answer in time".into()))?
        .map_err(|error| LogError::Server(format!("the explain request failed: {error}")))?;
    codec::decode(&answer.payload).map_err(|error| {
        LogError::Refused(format!("an explain answer that does not decode: {error}"))
    })
}
