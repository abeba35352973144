//! A pipeline shard's bounded queue: one worker pops, publishers (device sessions through the
//! bus, routing plugins) offer, and a full queue does what its [`WhenFull`] says — drop the oldest, drop the new
//! one, or make the offer wait for room (waiting offers get room in the order they came:
//! the fairness between blocked producers). Closing it (reload, shutdown) refuses new items and
//! lets the worker take what is left.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;

use super::policy::WhenFull;

/// What became of an offered item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Offered {
    /// It was queued.
    Queued,
    /// It was queued, and the oldest queued item was dropped to make room (`drop_oldest`).
    DroppedOldest,
    /// It was dropped: the queue was full (`drop_newest`).
    DroppedNewest,
    /// It was dropped: the queue is closed — also when it closed while a `block` offer was
    /// waiting for room.
    Closed,
}

/// A bounded queue with one consumer.
#[derive(Debug)]
pub(super) struct Queue<T> {
    items: Mutex<VecDeque<T>>,
    capacity: usize,
    when_full: WhenFull,
    /// Woken when an item is queued (or the queue closes).
    ready: Notify,
    /// Woken when an item is taken (or the queue closes).
    room: Notify,
    closed: AtomicBool,
}

impl<T> Queue<T> {
    /// A queue holding at most `capacity` items (at least one).
    pub(super) fn new(capacity: usize, when_full: WhenFull) -> Self {
        Self {
            items: Mutex::new(VecDeque::new()),
            capacity: capacity.max(1),
            when_full,
            ready: Notify::new(),
            room: Notify::new(),
            closed: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> MutexGuard<'_, VecDeque<T>> {
        // No method panics while holding the lock; a poisoned queue is still consistent.
        self.items.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Offers `item`, applying the full-queue policy; under `block` it waits for room.
    pub(super) async fn offer(&self, item: T) -> Offered {
        loop {
            let room = self.room.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            {
                let mut items = self.lock();
                if self.closed.load(Ordering::Acquire) {
                    return Offered::Closed;
                }
                if items.len() < self.capacity {
                    items.push_back(item);
                    drop(items);
                    self.ready.notify_one();
                    return Offered::Queued;
                }
                match self.when_full {
                    WhenFull::DropNewest => return Offered::DroppedNewest,
                    WhenFull::DropOldest => {
                        items.pop_front();
                        items.push_back(item);
                        drop(items);
                        self.ready.notify_one();
                        return Offered::DroppedOldest;
                    }
                    WhenFull::Block => {}
                }
            }
            room.await;
        }
    }

    /// Queues `item` without waiting: as [`Queue::offer`], except that under `block` a full
    /// queue takes it over its capacity (for items whose producer cannot wait).
    pub(super) fn push_now(&self, item: T) -> Offered {
        let mut items = self.lock();
        if self.closed.load(Ordering::Acquire) {
            return Offered::Closed;
        }
        let offered = if items.len() < self.capacity {
            Offered::Queued
        } else {
            match self.when_full {
                WhenFull::DropNewest => return Offered::DroppedNewest,
                WhenFull::DropOldest => {
                    items.pop_front();
                    Offered::DroppedOldest
                }
                WhenFull::Block => Offered::Queued,
            }
        };
        items.push_back(item);
        drop(items);
        self.ready.notify_one();
        offered
    }

    /// Items queued now.
    pub(super) fn len(&self) -> usize {
        self.lock().len()
    }

    /// The next item, waiting for one; `None` once closed and empty.
    pub(super) async fn pop(&self) -> Option<T> {
        loop {
            let notified = self.ready.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(item) = self.lock().pop_front() {
                self.room.notify_one();
                return Some(item);
            }
            if self.closed.load(Ordering::Acquire) {
                return None;
            }
            notified.await;
        }
    }

    /// Waits for an item, then moves it and up to `max - 1` more that are queued now into
    /// `out` (in order, without waiting for more); false once closed and empty.
    pub(super) async fn pop_many(&self, max: usize, out: &mut Vec<T>) -> bool {
        let Some(first) = self.pop().await else {
            return false;
        };
        out.push(first);
        let mut items = self.lock();
        let take = items.len().min(max.saturating_sub(1));
        out.extend(items.drain(..take));
        drop(items);
        for _ in 0..take {
            self.room.notify_one();
        }
        true
    }

    /// Refuses new items and wakes every waiting offer and the consumer; what is queued can
    /// still be popped.
    pub(super) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.ready.notify_waiters();
        self.room.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    async fn drain<T>(queue: &Queue<T>) -> Vec<T> {
        queue.close();
        let mut out = Vec::new();
        while let Some(item) = queue.pop().await {
            out.push(item);
        }
        out
    }

    /// Whether `offer` is still waiting after the other tasks had their turn.
    async fn still_waiting(offer: &tokio::task::JoinHandle<Offered>) -> bool {
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        !offer.is_finished()
    }

    #[tokio::test]
    async fn pop_many_takes_what_is_queued_up_to_its_maximum_in_order() {
        let queue = Queue::new(8, WhenFull::Block);
        for item in 1..=5 {
            assert_eq!(queue.offer(item).await, Offered::Queued);
        }
        let mut out = Vec::new();
        assert!(queue.pop_many(3, &mut out).await);
        assert_eq!(out, [1, 2, 3]);
        out.clear();
        assert!(queue.pop_many(3, &mut out).await);
        assert_eq!(out, [4, 5]);
        queue.close();
        out.clear();
        assert!(!queue.pop_many(3, &mut out).await);
        assert!(out.is_empty());
    }

    #[tokio::test]
    async fn pop_many_makes_room_for_every_waiting_offer() {
        let queue = Arc::new(Queue::new(2, WhenFull::Block));
        assert_eq!(queue.offer(1).await, Offered::Queued);
        assert_eq!(queue.offer(2).await, Offered::Queued);
        let waiting: Vec<_> = [3, 4]
            .into_iter()
            .map(|item| {
                let queue = Arc::clone(&queue);
                tokio::spawn(async move { queue.offer(item).await })
            })
            .collect();
        for offer in &waiting {
            assert!(still_waiting(offer).await, "the queue is full");
        }
        let mut out = Vec::new();
        assert!(queue.pop_many(8, &mut out).await);
        assert_eq!(out, [1, 2]);
        for offer in waiting {
            let offered = tokio::time::timeout(Duration::from_secs(5), offer).await;
            assert_eq!(offered.ok().and_then(Result::ok), Some(Offered::Queued));
        }
        assert_eq!(drain(&queue).await.len(), 2);
    }

    #[tokio::test]
    async fn drop_oldest_makes_room_by_dropping_the_front() {
        let queue = Queue::new(2, WhenFull::DropOldest);
        assert_eq!(queue.offer(1).await, Offered::Queued);
        assert_eq!(queue.offer(2).await, Offered::Queued);
        assert_eq!(queue.offer(3).await, Offered::DroppedOldest);
        assert_eq!(drain(&queue).await, [2, 3]);
    }

    #[tokio::test]
    async fn drop_newest_refuses_the_new_item() {
        let queue = Queue::new(2, WhenFull::DropNewest);
        assert_eq!(queue.offer(1).await, Offered::Queued);
        assert_eq!(queue.offer(2).await, Offered::Queued);
        assert_eq!(queue.offer(3).await, Offered::DroppedNewest);
        assert_eq!(drain(&queue).await, [1, 2]);
    }

    #[tokio::test]
    async fn a_blocked_offer_completes_when_a_pop_frees_room() {
        let queue = Arc::new(Queue::new(1, WhenFull::Block));
        assert_eq!(queue.offer(1).await, Offered::Queued);
        let blocked = tokio::spawn({
            let queue = Arc::clone(&queue);
            async move { queue.offer(2).await }
        });
        assert!(still_waiting(&blocked).await, "the queue is full");
        assert_eq!(queue.pop().await, Some(1));
        let offered = tokio::time::timeout(Duration::from_secs(5), blocked)
            .await
            .expect("the offer completes")
            .expect("the task ran");
        assert_eq!(offered, Offered::Queued);
        assert_eq!(drain(&queue).await, [2]);
    }

    #[tokio::test]
    async fn an_item_pushed_now_goes_over_a_full_block_queue_and_obeys_the_drop_policies() {
        let queue = Queue::new(1, WhenFull::Block);
        assert_eq!(queue.push_now(1), Offered::Queued);
        assert_eq!(queue.push_now(2), Offered::Queued);
        assert_eq!(queue.len(), 2);
        assert_eq!(drain(&queue).await, [1, 2]);
        let oldest = Queue::new(1, WhenFull::DropOldest);
        assert_eq!(oldest.push_now(1), Offered::Queued);
        assert_eq!(oldest.push_now(2), Offered::DroppedOldest);
        assert_eq!(drain(&oldest).await, [2]);
        let newest = Queue::new(1, WhenFull::DropNewest);
        assert_eq!(newest.push_now(1), Offered::Queued);
        assert_eq!(newest.push_now(2), Offered::DroppedNewest);
        assert_eq!(drain(&newest).await, [1]);
        assert_eq!(newest.push_now(3), Offered::Closed);
    }

    #[tokio::test]
    async fn blocked_offers_are_let_in_in_the_order_they_waited() {
        let queue = Arc::new(Queue::new(1, WhenFull::Block));
        assert_eq!(queue.offer(0).await, Offered::Queued);
        let mut waiting = Vec::new();
        for i in 1..=3 {
            let queue = Arc::clone(&queue);
            let offer = tokio::spawn(async move { queue.offer(i).await });
            assert!(still_waiting(&offer).await);
            waiting.push(offer);
        }
        let mut order = Vec::new();
        for _ in 0..4 {
            order.push(queue.pop().await.expect("an item"));
            for _ in 0..10 {
                tokio::task::yield_now().await;
            }
        }
        assert_eq!(
            order,
            [0, 1, 2, 3],
            "one producer per freed slot, first come first in"
        );
        for offer in waiting {
            assert_eq!(offer.await.expect("ran"), Offered::Queued);
        }
    }

    #[tokio::test]
    async fn a_blocked_offer_ends_as_closed_when_the_queue_closes() {
        let queue = Arc::new(Queue::new(1, WhenFull::Block));
        assert_eq!(queue.offer(1).await, Offered::Queued);
        let blocked = tokio::spawn({
            let queue = Arc::clone(&queue);
            async move { queue.offer(2).await }
        });
        assert!(still_waiting(&blocked).await, "the queue is full");
        queue.close();
        let offered = tokio::time::timeout(Duration::from_secs(5), blocked)
            .await
            .expect("the offer ends")
            .expect("the task ran");
        assert_eq!(offered, Offered::Closed);
        assert_eq!(queue.offer(3).await, Offered::Closed);
        assert_eq!(queue.pop().await, Some(1), "what was queued is still taken");
        assert_eq!(queue.pop().await, None);
    }
}
