//! Which JetStream failures are retried, and the waiting between attempts.
//!
//! A retry re-sends the same `Nats-Msg-Id`, so a message the server stored but whose ack was
//! lost is stored once: the retry comes back as a duplicate ack.

use std::error::Error as _;
use std::time::Duration;

use async_nats::Client;
use async_nats::connection::State;
use async_nats::jetstream::context::{PublishError, PublishErrorKind};
use async_nats::jetstream::kv::{PutError, PutErrorKind};
use tokio_util::sync::CancellationToken;

/// First pause between attempts; doubles up to [`BACKOFF_MAX`].
const BACKOFF_MIN: Duration = Duration::from_millis(50);
const BACKOFF_MAX: Duration = Duration::from_secs(1);
/// How often the connection state is looked at while waiting for a reconnect.
const STATE_POLL: Duration = Duration::from_millis(20);

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Transient (timeout, disconnect, JetStream not ready): try again with the same id.
    Retry,
    /// The server or client refused this message for good.
    Fail,
}

/// Sorts a JetStream publish failure.
pub(super) fn classify_publish(error: &PublishError) -> Verdict {
    match error.kind() {
        // No ack in time, connection lost under the request, too many acks pending, or no
        // stream answered (the server is restarting; the stream was checked at start).
        PublishErrorKind::TimedOut
        | PublishErrorKind::BrokenPipe
        | PublishErrorKind::MaxAckPending
        | PublishErrorKind::StreamNotFound => Verdict::Retry,
        PublishErrorKind::MaxPayloadExceeded
        | PublishErrorKind::WrongLastMessageId
        | PublishErrorKind::WrongLastSequence => Verdict::Fail,
        PublishErrorKind::Other => {
            match error
                .source()
                .and_then(|source| source.downcast_ref::<async_nats::jetstream::Error>())
            {
                // 503: JetStream temporarily unavailable (recovering, no leader yet).
                Some(api) if api.code() == 503 => Verdict::Retry,
                Some(_) => Verdict::Fail,
                // Not an answer from the server: the request never made it.
                None => Verdict::Retry,
            }
        }
    }
}

/// Sorts a KV put failure.
pub(super) fn classify_put(error: &PutError) -> Verdict {
    match error.kind() {
        PutErrorKind::InvalidKey => Verdict::Fail,
        PutErrorKind::Publish | PutErrorKind::Ack => error
            .source()
            .and_then(|source| source.downcast_ref::<PublishError>())
            .map_or(Verdict::Retry, classify_publish),
    }
}

/// The pause before attempt `attempt + 1`.
pub(super) fn backoff(attempt: u32) -> Duration {
    let factor = 1u32 << attempt.saturating_sub(1).min(10);
    (BACKOFF_MIN * factor).min(BACKOFF_MAX)
}

/// Sleeps `pause`, then waits until the client is connected. `false` when shutdown came first.
pub(super) async fn pause_until_connected(
    client: &Client,
    pause: Duration,
    shutdown: &CancellationToken,
) -> bool {
    let wait = async {
        tokio::time::sleep(pause).await;
        while client.connection_state() != State::Connected {
            tokio::time::sleep(STATE_POLL).await;
        }
    };
    tokio::select! {
        () = wait => true,
        () = shutdown.cancelled() => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff(1), Duration::from_millis(50));
        assert_eq!(backoff(2), Duration::from_millis(100));
        assert_eq!(backoff(3), Duration::from_millis(200));
        assert_eq!(backoff(40), BACKOFF_MAX);
    }

    #[test]
    fn transient_failures_are_retried_and_refusals_are_not() {
        for kind in [
            PublishErrorKind::TimedOut,
            PublishErrorKind::BrokenPipe,
            PublishErrorKind::StreamNotFound,
            PublishErrorKind::MaxAckPending,
            PublishErrorKind::Other,
        ] {
            assert_eq!(classify_publish(&PublishError::new(kind)), Verdict::Retry);
        }
        for kind in [
            PublishErrorKind::MaxPayloadExceeded,
            PublishErrorKind::WrongLastMessageId,
        ] {
            assert_eq!(classify_publish(&PublishError::new(kind)), Verdict::Fail);
        }
        let put = PutError::with_source(
            PutErrorKind::Ack,
            PublishError::new(PublishErrorKind::TimedOut),
        );
        assert_eq!(classify_put(&put), Verdict::Retry);
        assert_eq!(
            classify_put(&PutError::new(PutErrorKind::InvalidKey)),
            Verdict::Fail
        );
    }
}
