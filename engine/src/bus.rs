//! The internal event bus: every event goes to the one [`Consumer`] attached (the pipelines)
//! without loss, and to any number of observers (the live tap, tests) that may fall behind.
//!
//! **The consumer never misses an event.** There is no queue in the bus itself: an event goes
//! straight from the publishing task into the consumer's bounded queues, whose policy decides
//! what a full queue does (`block` by default: the publisher waits). Two ways in:
//!
//! - [`EventBus::send`] waits while a `block` queue is full. Device sessions publish alarms this
//!   way, so a camera whose alarms the pipelines cannot carry is not read until there is room
//!   and TCP pushes back on it. A device's events come from its own session task, one awaited
//!   send after another, so they stay in order.
//! - [`EventBus::publish`] never waits: for events made where waiting is not possible (state
//!   changes inside the registry, events a pipeline stage emits). A full `block` queue takes
//!   them over its bound; they are few per device and bounded by the devices connected.
//!
//! **Observers may lag.** [`EventBus::subscribe`] gives a broadcast receiver keeping
//! [`OBSERVER_CAPACITY`] events; one that falls further behind is told how many it missed
//! (and counts them itself), and never slows the consumer or a publisher.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use futures::future::BoxFuture;
use tokio::sync::broadcast;

use crate::event::Event;

/// Events kept for an observer before it starts missing some.
pub const OBSERVER_CAPACITY: usize = 16 * 1024;

/// Where the bus delivers every event without loss: the running pipelines.
pub trait Consumer: Send + Sync + fmt::Debug {
    /// Takes `event`, waiting while a queue it goes to is full under `block`.
    fn send(&self, event: Arc<Event>) -> BoxFuture<'_, ()>;

    /// Takes `event` now: a full `block` queue takes it over its bound.
    fn push(&self, event: Arc<Event>);
}

/// A cheap, cloneable publisher and subscription point.
#[derive(Clone)]
pub struct EventBus {
    observers: broadcast::Sender<Arc<Event>>,
    consumer: Arc<RwLock<Option<Arc<dyn Consumer>>>>,
    published: Arc<AtomicU64>,
}

impl fmt::Debug for EventBus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventBus")
            .field("consumer", &self.consumer().is_some())
            .field("observers", &self.observers.receiver_count())
            .field("published", &self.published())
            .finish()
    }
}

impl Default for EventBus {
    fn default() -> Self {
        let (observers, _) = broadcast::channel(OBSERVER_CAPACITY);
        Self {
            observers,
            consumer: Arc::new(RwLock::new(None)),
            published: Arc::new(AtomicU64::new(0)),
        }
    }
}

impl EventBus {
    /// A bus with no consumer and no observer yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes `consumer` the one that gets every event from now on (replacing any other).
    pub fn attach(&self, consumer: Arc<dyn Consumer>) {
        let replaced = self
            .consumer
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .replace(consumer);
        if replaced.is_some() {
            // Two pipeline hosts on one bus: the first one gets nothing more.
            tracing::warn!("a second event consumer attached to the bus replaced the first");
        }
    }

    /// Detaches the consumer: events from now on go to observers only.
    pub fn detach(&self) {
        *self
            .consumer
            .write()
            .unwrap_or_else(PoisonError::into_inner) = None;
    }

    fn consumer(&self) -> Option<Arc<dyn Consumer>> {
        self.consumer
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn observe(&self, event: &Arc<Event>) {
        self.published.fetch_add(1, Ordering::Relaxed);
        if self.observers.receiver_count() > 0 {
            let _ = self.observers.send(Arc::clone(event));
        }
    }

    /// Publishes `event`, waiting while the consumer's queue for it is full under `block`.
    pub async fn send(&self, event: Arc<Event>) {
        self.observe(&event);
        if let Some(consumer) = self.consumer() {
            consumer.send(event).await;
        }
    }

    /// Publishes `event` without waiting (see the module docs for when).
    pub fn publish(&self, event: Arc<Event>) {
        self.observe(&event);
        if let Some(consumer) = self.consumer() {
            consumer.push(event);
        }
    }

    /// A new observer, starting with the next event; it may lag (see the module docs).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.observers.subscribe()
    }

    /// Events published since start.
    pub fn published(&self) -> u64 {
        self.published.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use futures::FutureExt;

    use super::*;
    use crate::event::EventKind;

    /// Records what it is given and how.
    #[derive(Debug, Default)]
    struct Recorder(Mutex<Vec<(String, &'static str)>>);

    impl Consumer for Recorder {
        fn send(&self, event: Arc<Event>) -> BoxFuture<'_, ()> {
            self.0
                .lock()
                .expect("not poisoned")
                .push((event.device.clone(), "send"));
            async {}.boxed()
        }

        fn push(&self, event: Arc<Event>) {
            self.0
                .lock()
                .expect("not poisoned")
                .push((event.device.clone(), "push"));
        }
    }

    fn event(device: &str) -> Arc<Event> {
        Event::new(
            device,
            EventKind::Alarm {
                channel: 0,
                code: "VideoMotion".to_owned(),
                action: "start".to_owned(),
                device_time: None,
                device_utc: None,
                data: serde_json::Map::new(),
            },
        )
    }

    #[tokio::test]
    async fn the_consumer_gets_every_event_however_far_observers_lag() {
        let bus = EventBus::new();
        let recorder = Arc::new(Recorder::default());
        bus.attach(recorder.clone());
        let mut observer = bus.subscribe();
        let total = OBSERVER_CAPACITY + 10;
        for i in 0..total {
            if i % 2 == 0 {
                bus.send(event(&format!("cam{i}"))).await;
            } else {
                bus.publish(event(&format!("cam{i}")));
            }
        }
        let got = recorder.0.lock().expect("not poisoned").clone();
        assert_eq!(got.len(), total);
        assert!(got.iter().enumerate().all(|(i, (device, how))| {
            *device == format!("cam{i}") && *how == if i % 2 == 0 { "send" } else { "push" }
        }));
        assert!(matches!(
            observer.recv().await,
            Err(broadcast::error::RecvError::Lagged(10))
        ));
        assert_eq!(bus.published(), total as u64);
    }

    #[tokio::test]
    async fn without_a_consumer_events_reach_observers_only() {
        let bus = EventBus::new();
        let mut observer = bus.subscribe();
        bus.publish(event("cam1"));
        assert_eq!(observer.recv().await.expect("an event").device, "cam1");
        let recorder = Arc::new(Recorder::default());
        bus.attach(recorder.clone());
        bus.detach();
        bus.publish(event("cam2"));
        assert!(recorder.0.lock().expect("not poisoned").is_empty());
    }
}
