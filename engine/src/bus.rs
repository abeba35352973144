//! The internal event bus: every event goes to every subscriber, in the order it was
//! published. A device's events are published from its own session task, so they stay in
//! order per device. Subscribers that fall more than the capacity behind are told how many
//! events they missed instead of holding up the rest.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::broadcast;

use crate::event::Event;

/// Events kept for a slow subscriber before it starts missing some.
pub const DEFAULT_CAPACITY: usize = 16 * 1024;

/// A cheap, cloneable publisher and subscription point.
#[derive(Debug, Clone)]
pub struct EventBus {
    sender: broadcast::Sender<Arc<Event>>,
    published: Arc<AtomicU64>,
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY)
    }
}

impl EventBus {
    /// A bus keeping up to `capacity` events for slow subscribers.
    pub fn new(capacity: usize) -> Self {
        let (sender, _) = broadcast::channel(capacity.max(1));
        Self {
            sender,
            published: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Publishes an event; with no subscriber it is simply counted.
    pub fn publish(&self, event: Arc<Event>) {
        self.published.fetch_add(1, Ordering::Relaxed);
        let _ = self.sender.send(event);
    }

    /// A new subscription, starting with the next event.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.sender.subscribe()
    }

    /// Events published since start.
    pub fn published(&self) -> u64 {
        self.published.load(Ordering::Relaxed)
    }
}
