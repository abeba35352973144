//! The cap on password hashes for app logins: a semaphore with one slot per hashing thread
//! and two queues. Attempts from addresses without recent failures (the `first` queue) are
//! served before attempts from addresses that failed lately (`later`), so a flood of wrong
//! passwords queues behind honest logins instead of in front of them; every
//! [`LATER_EVERY`]-th slot still goes to the `later` queue, so it is slowed, not starved.
//!
//! A waiter that gives up (its connection closed) simply drops its future: no hash is ever
//! started for it, and the slot it would have had goes to the next waiter.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

/// Slots handed out in a row to the `first` queue before one goes to `later` (when both wait).
pub const LATER_EVERY: u32 = 4;
/// Dead waiters (closed connections) tolerated in a queue before it is swept.
const SWEEP_AT: usize = 1024;

/// Which queue an attempt waits in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// No recent failure from its address.
    First,
    /// Its address failed lately, or already has attempts in flight.
    Later,
}

#[derive(Debug)]
struct State {
    free: usize,
    first: VecDeque<oneshot::Sender<HashSlot>>,
    later: VecDeque<oneshot::Sender<HashSlot>>,
    first_in_a_row: u32,
}

/// The slots.
#[derive(Debug)]
pub struct HashSlots {
    state: Mutex<State>,
    size: usize,
}

/// One slot, held while one hash runs; dropping it hands it to the next waiter.
#[derive(Debug)]
pub struct HashSlot {
    slots: Option<Arc<HashSlots>>,
}

impl HashSlots {
    /// `size` slots (at least one).
    pub fn new(size: usize) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(State {
                free: size.max(1),
                first: VecDeque::new(),
                later: VecDeque::new(),
                first_in_a_row: 0,
            }),
            size: size.max(1),
        })
    }

    /// How many slots there are.
    pub fn size(&self) -> usize {
        self.size
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Waits for a slot in `class`'s queue. Cancel-safe: dropping the future gives up the
    /// place (and any slot already handed to it).
    pub async fn acquire(self: &Arc<Self>, class: Class) -> HashSlot {
        let waiting = {
            let mut state = self.lock();
            if state.free > 0 {
                state.free -= 1;
                return HashSlot {
                    slots: Some(Arc::clone(self)),
                };
            }
            let (tx, rx) = oneshot::channel();
            let queue = match class {
                Class::First => &mut state.first,
                Class::Later => &mut state.later,
            };
            if queue.len() >= SWEEP_AT {
                queue.retain(|waiter| !waiter.is_closed());
            }
            queue.push_back(tx);
            rx
        };
        match waiting.await {
            Ok(slot) => slot,
            // The sender is only dropped unsent by `release` when this waiter is gone, so this
            // cannot happen while we wait; a fresh try is the safe answer anyway.
            Err(_) => Box::pin(self.acquire(class)).await,
        }
    }

    /// Hands a released slot to the next live waiter, or makes it free.
    fn release(self: &Arc<Self>) {
        let mut state = self.lock();
        loop {
            let take_later = state.later.front().is_some()
                && (state.first.is_empty() || state.first_in_a_row >= LATER_EVERY);
            let next = if take_later {
                state.first_in_a_row = 0;
                state.later.pop_front()
            } else {
                let next = state.first.pop_front();
                if next.is_some() {
                    state.first_in_a_row += 1;
                }
                next
            };
            let Some(waiter) = next else {
                state.free += 1;
                return;
            };
            let slot = HashSlot {
                slots: Some(Arc::clone(self)),
            };
            match waiter.send(slot) {
                Ok(()) => return,
                // That waiter gave up: disarm the slot (no recursive release) and go on.
                Err(mut unsent) => {
                    unsent.slots = None;
                }
            }
        }
    }

    /// Slots free now (for tests and metrics).
    pub fn free(&self) -> usize {
        self.lock().free
    }
}

impl Drop for HashSlot {
    fn drop(&mut self) {
        if let Some(slots) = self.slots.take() {
            slots.release();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    async fn settle() {
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test]
    async fn the_first_queue_goes_before_the_later_one_but_the_later_one_is_not_starved() {
        let slots = HashSlots::new(1);
        let held = slots.acquire(Class::First).await;
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for (name, class) in [
            ("later-1", Class::Later),
            ("first-1", Class::First),
            ("first-2", Class::First),
            ("first-3", Class::First),
            ("first-4", Class::First),
            ("first-5", Class::First),
        ] {
            let (slots, order) = (Arc::clone(&slots), Arc::clone(&order));
            tasks.push(tokio::spawn(async move {
                let _slot = slots.acquire(class).await;
                order.lock().expect("lock").push(name);
                tokio::time::sleep(Duration::from_millis(1)).await;
            }));
            settle().await;
        }
        drop(held);
        for task in tasks {
            task.await.expect("ran");
        }
        assert_eq!(
            *order.lock().expect("lock"),
            [
                "first-1", "first-2", "first-3", "first-4", "later-1", "first-5"
            ]
        );
        assert_eq!(slots.free(), 1);
    }

    #[tokio::test]
    async fn a_waiter_that_gives_up_leaves_no_slot_behind() {
        let slots = HashSlots::new(1);
        let held = slots.acquire(Class::First).await;
        let gave_up = tokio::time::timeout(Duration::from_millis(10), slots.acquire(Class::First));
        assert!(gave_up.await.is_err());
        let waiting = {
            let slots = Arc::clone(&slots);
            tokio::spawn(async move { slots.acquire(Class::Later).await })
        };
        settle().await;
        drop(held);
        let slot = waiting.await.expect("the live waiter got it");
        assert_eq!(slots.free(), 0);
        drop(slot);
        assert_eq!(slots.free(), 1);
    }
}
