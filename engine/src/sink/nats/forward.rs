//! The task that moves core publishes from the sink's bounded outage buffer into async-nats.
//!
//! `NatsSink::publish` never waits on the network: it puts the message in a bounded queue and
//! returns. This task hands queued messages to the client one at a time, in order; while the
//! server is away the client's own command queue fills, this task waits, and the sink's queue
//! takes the rest until it is full and `publish` starts failing with `BufferFull`.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use async_nats::{Client, Subject};
use bytes::Bytes;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::counters::Counters;

/// How long shutdown keeps trying to hand over and flush what is queued.
const SHUTDOWN_FLUSH: Duration = Duration::from_secs(5);

/// One queued core publish.
#[derive(Debug)]
pub(super) struct Outbound {
    pub(super) subject: Subject,
    pub(super) payload: Bytes,
}

/// Runs until shutdown, then flushes what it can within [`SHUTDOWN_FLUSH`].
pub(super) async fn run(
    client: Client,
    mut queue: mpsc::Receiver<Outbound>,
    counters: Arc<Counters>,
    shutdown: CancellationToken,
    servers: String,
) {
    // A message taken from the queue but not yet accepted by the client when shutdown came.
    let mut carried = None;
    loop {
        let message = tokio::select! {
            biased;
            message = queue.recv() => match message {
                Some(message) => message,
                None => break,
            },
            () = shutdown.cancelled() => break,
        };
        let (subject, payload) = (message.subject.clone(), message.payload.clone());
        tokio::select! {
            result = client.publish(subject, payload) => record(&counters, &message, result),
            () = shutdown.cancelled() => {
                carried = Some(message);
                break;
            }
        }
    }

    queue.close();
    let flush = async {
        loop {
            if carried.is_none() {
                carried = queue.try_recv().ok();
            }
            let Some(message) = carried.as_ref() else {
                break;
            };
            let result = client
                .publish(message.subject.clone(), message.payload.clone())
                .await;
            record(&counters, message, result);
            carried = None;
        }
        client.flush().await
    };
    match tokio::time::timeout(SHUTDOWN_FLUSH, flush).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => tracing::warn!(%servers, %error, "NATS flush at shutdown failed"),
        Err(_) => {
            let lost = queue.len() as u64 + u64::from(carried.is_some());
            counters.dropped.fetch_add(lost, Ordering::Relaxed);
            tracing::warn!(
                %servers,
                lost,
                "NATS server unreachable at shutdown: queued core publishes dropped"
            );
        }
    }
}

fn record(counters: &Counters, message: &Outbound, result: Result<(), async_nats::PublishError>) {
    match result {
        Ok(()) => {
            counters.published.fetch_add(1, Ordering::Relaxed);
        }
        Err(error) => {
            counters.errors.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(subject = %message.subject, %error, "NATS publish failed");
        }
    }
}
