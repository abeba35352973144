//! `GET /api/events`: the event bus as server-sent events, one JSON event per message.
//!
//! Each message has `event:` = the kind (`registered`, `online_changed`, `alarm`), `id:` =
//! the event's id and `data:` = the event as JSON. `?device=ID` and `?kind=a,b` filter. A
//! subscriber that falls behind the bus gets `event: lagged` with `{"missed": N}` and carries
//! on with the next events. Comments keep idle connections alive; the stream ends when the
//! server shuts down.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures::{Stream, StreamExt, stream};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{OwnedSemaphorePermit, broadcast};

use super::error::ApiError;
use super::extract::Query;
use super::state::{AppState, Shutdown};
use crate::admin_api::{EventQuery, Lagged};
use crate::event::{Event, KINDS};

/// How often an idle stream sends a keep-alive comment.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// Which events a subscriber wants.
#[derive(Debug, Clone, Default)]
struct Filter {
    device: Option<String>,
    kinds: Option<Vec<&'static str>>,
}

impl Filter {
    fn parse(query: EventQuery) -> Result<Self, ApiError> {
        let kinds = match query.kind {
            None => None,
            Some(list) => Some(
                list.split(',')
                    .map(str::trim)
                    .filter(|k| !k.is_empty())
                    .map(|kind| {
                        let kind = kind.replace('-', "_");
                        KINDS.iter().copied().find(|k| *k == kind).ok_or_else(|| {
                            ApiError::bad_request(format!(
                                "kind {kind:?} is not an event kind; expected {}",
                                KINDS.join(", ")
                            ))
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
        };
        Ok(Self {
            device: query.device,
            kinds,
        })
    }

    fn matches(&self, event: &Event) -> bool {
        self.device.as_ref().is_none_or(|d| *d == event.device)
            && self
                .kinds
                .as_ref()
                .is_none_or(|k| k.contains(&event.kind_name()))
    }
}

/// `GET /api/events[?device=ID][&kind=alarm,online_changed]`.
pub(super) async fn events(
    State(state): State<AppState>,
    shutdown: Option<Extension<Shutdown>>,
    Query(query): Query<EventQuery>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let filter = Filter::parse(query)?;
    let permit = Arc::clone(&state.event_streams)
        .try_acquire_owned()
        .map_err(|_| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "too many event streams are open; close one and retry",
            )
        })?;
    // Subscribed before the response starts, so the client sees everything after it.
    let receiver = state.gateway().bus().subscribe();
    let hello = stream::once(async { Ok(SseEvent::default().comment("subscribed")) });
    let events = stream::unfold((receiver, filter, permit), next_message).map(Ok);
    let stop = shutdown
        .map(|Extension(Shutdown(token))| token)
        .unwrap_or_default();
    let body = hello.chain(events).take_until(stop.cancelled_owned());
    Ok(Sse::new(body).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}

type Subscription = (
    broadcast::Receiver<Arc<Event>>,
    Filter,
    OwnedSemaphorePermit,
);

/// The next message for a subscriber; `None` when the bus is gone.
async fn next_message(
    (mut receiver, filter, permit): Subscription,
) -> Option<(SseEvent, Subscription)> {
    loop {
        let message = match receiver.recv().await {
            Ok(event) if filter.matches(&event) => message(&event),
            Ok(_) => continue,
            Err(RecvError::Lagged(missed)) => lagged(missed),
            Err(RecvError::Closed) => return None,
        };
        return Some((message, (receiver, filter, permit)));
    }
}

/// `event: lagged` with [`Lagged`] (one number: serializing it cannot fail).
fn lagged(missed: u64) -> SseEvent {
    let data = serde_json::to_string(&Lagged { missed }).unwrap_or_default();
    SseEvent::default().event("lagged").data(data)
}

fn message(event: &Event) -> SseEvent {
    match serde_json::to_string(&event.view()) {
        Ok(data) => SseEvent::default()
            .event(event.kind_name())
            .id(event.id.to_string())
            .data(data),
        Err(e) => SseEvent::default().comment(format!("event {} not serialisable: {e}", event.id)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{EventKind, RegistrationKind};

    fn registered(device: &str) -> Arc<Event> {
        Event::new(
            device,
            EventKind::Registered {
                peer: "127.0.0.1:1".to_owned(),
                registration: RegistrationKind::Serial,
                token: None,
            },
        )
    }

    #[test]
    fn filters_match_device_and_kinds() {
        let query = EventQuery {
            device: Some("cam1".to_owned()),
            kind: Some("alarm, registered".to_owned()),
        };
        let filter = Filter::parse(query).expect("valid");
        assert!(filter.matches(&registered("cam1")));
        assert!(!filter.matches(&registered("cam2")));
        let query = EventQuery {
            device: None,
            kind: Some("online-changed".to_owned()),
        };
        assert!(
            !Filter::parse(query)
                .expect("valid")
                .matches(&registered("cam1"))
        );
    }

    #[test]
    fn unknown_kinds_are_refused_with_the_choices() {
        let query = EventQuery {
            device: None,
            kind: Some("alarms".to_owned()),
        };
        let error = Filter::parse(query).expect_err("unknown kind");
        assert!(
            error
                .message()
                .contains("registered, online_changed, alarm"),
            "{}",
            error.message()
        );
    }
}
