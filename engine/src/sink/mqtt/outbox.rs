//! The sink's own bounded queue and its memory of retained states: a state machine with no
//! async and no I/O, driven by the handle (publishes) and the connection task (broker events).
//!
//! A message stays in the queue until it is done: a QoS 0 message once it is written to the
//! socket, a QoS 1 message once the broker's PUBACK arrives. Messages are handed to the MQTT
//! client strictly in queue order. When a connection is lost, everything handed over but not
//! done is handed over again, in the same order, on the next connection: nothing is lost, and
//! the only duplicates are messages that were in flight at the moment of the disconnect.
//!
//! Every connection starts with a *prelude* — the gateway's retained `online` status and every
//! remembered retained state whose latest value is not still in the queue — so a broker that
//! restarted without persistence gets the current state back.

use std::collections::{HashMap, VecDeque};

use bytes::Bytes;

use super::config::FullPolicy;
use super::error::{MqttError, preview};
use super::publish::QoS;
use super::stats::MqttStats;

/// Messages handed to the connection that it has not written yet, at most: what one write to
/// the broker's socket carries.
pub(crate) const FEED_AHEAD: usize = 64;
/// Dead slots tolerated in the queue before it is compacted (when they also outnumber the live).
const COMPACT_AFTER: usize = 1024;
/// Payload of the gateway status while connected.
pub(crate) const ONLINE: &str = "online";
/// Payload of the gateway status after a shutdown, and of its Last Will.
pub(crate) const OFFLINE: &str = "offline";

/// One message as the sink sends it.
#[derive(Debug, Clone)]
pub(crate) struct Message {
    pub(crate) topic: String,
    pub(crate) payload: Bytes,
    pub(crate) qos: QoS,
    pub(crate) retain: bool,
}

impl Message {
    fn state(topic: String, payload: Bytes) -> Self {
        Self {
            topic,
            payload,
            qos: QoS::AtLeastOnce,
            retain: true,
        }
    }
}

/// What a message handed to the client was, so its write and its PUBACK can be accounted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    /// A queued message, by sequence number.
    Queue(u64),
    /// A status or republished state of the current connection's prelude.
    Prelude,
    /// The `offline` status sent at shutdown.
    Farewell,
}

/// A queued message; dead once done, dropped or superseded (removed lazily).
#[derive(Debug)]
struct Slot {
    seq: u64,
    message: Message,
    live: bool,
}

/// The latest retained state of one topic.
#[derive(Debug)]
struct Retained {
    payload: Bytes,
    /// The queue slot carrying this value, until it is done.
    pending: Option<u64>,
}

/// Progress of the `offline` status published at shutdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Farewell {
    NotYet,
    Waiting,
    InFlight,
    Done,
}

/// Limits fixed by the configuration.
#[derive(Debug, Clone)]
pub(crate) struct Limits {
    pub(crate) buffer: usize,
    pub(crate) when_full: FullPolicy,
    pub(crate) max_retained: usize,
}

/// The queue, the retained states, and the counters.
#[derive(Debug)]
pub(crate) struct Outbox {
    limits: Limits,
    status_topic: String,
    /// Queued messages in sequence order; dead ones linger until trimmed or compacted.
    slots: VecDeque<Slot>,
    next_seq: u64,
    /// Slots with a lower sequence number have been handed to the client on this connection.
    next_feed: u64,
    live: usize,
    /// Live slots handed to the client on this connection (in flight).
    live_sent: usize,
    dead: usize,
    prelude: VecDeque<Message>,
    prelude_in_flight: usize,
    farewell: Farewell,
    /// Handed to the client, not yet written, in order.
    unwritten: VecDeque<Target>,
    /// Written with QoS 1, waiting for PUBACK, by packet id.
    awaiting_ack: HashMap<u16, Target>,
    retained: HashMap<String, Retained>,
    connected: bool,
    closing: bool,
    connections: u64,
    stats: MqttStats,
}

impl Outbox {
    pub(crate) fn new(limits: Limits, status_topic: String) -> Self {
        Self {
            limits,
            status_topic,
            slots: VecDeque::new(),
            next_seq: 0,
            next_feed: 0,
            live: 0,
            live_sent: 0,
            dead: 0,
            prelude: VecDeque::new(),
            prelude_in_flight: 0,
            farewell: Farewell::NotYet,
            unwritten: VecDeque::new(),
            awaiting_ack: HashMap::new(),
            retained: HashMap::new(),
            connected: false,
            closing: false,
            connections: 0,
            stats: MqttStats::default(),
        }
    }

    /// Whether a publisher that can wait should queue a message now: not while the buffer is
    /// full under [`FullPolicy::Block`] (closing, it goes on to learn the sink is closed).
    pub(crate) fn has_room(&self) -> bool {
        self.closing || self.live < self.limits.buffer || self.limits.when_full != FullPolicy::Block
    }

    /// Queues a message (the topic and payload are already checked).
    pub(crate) fn submit(&mut self, message: Message) -> Result<(), MqttError> {
        self.push(message).map(|_| ())
    }

    /// Queues the new retained state of `topic` and remembers it for republishing.
    ///
    /// An older state of the same topic that has not been handed to the broker yet is dropped
    /// (counted as superseded): a state is worth sending only while it is the latest.
    pub(crate) fn set_retained(&mut self, topic: String, payload: Bytes) -> Result<(), MqttError> {
        if self.closing {
            return Err(MqttError::Closed);
        }
        if !self.retained.contains_key(&topic) && self.retained.len() >= self.limits.max_retained {
            return Err(MqttError::RetainedFull {
                limit: self.limits.max_retained,
                topic: preview(&topic),
            });
        }
        let seq = self.push(Message::state(topic.clone(), payload.clone()))?;
        let previous = self.retained.insert(
            topic,
            Retained {
                payload,
                pending: Some(seq),
            },
        );
        self.supersede(previous);
        Ok(())
    }

    /// Queues an empty retained payload for `topic` (which clears it on the broker) and forgets
    /// the topic's state.
    pub(crate) fn clear_retained(&mut self, topic: String) -> Result<(), MqttError> {
        if self.closing {
            return Err(MqttError::Closed);
        }
        self.push(Message::state(topic.clone(), Bytes::new()))?;
        let previous = self.retained.remove(&topic);
        self.supersede(previous);
        Ok(())
    }

    /// The next message to hand to the client, if the client may take one now.
    pub(crate) fn next_to_feed(&mut self) -> Option<Message> {
        if !self.connected || self.unwritten.len() >= FEED_AHEAD {
            return None;
        }
        let (target, message) = if let Some(message) = self.prelude.pop_front() {
            self.prelude_in_flight += 1;
            (Target::Prelude, message)
        } else if let Some(index) = self.next_unsent() {
            let slot = &self.slots[index];
            self.next_feed = slot.seq + 1;
            self.live_sent += 1;
            (Target::Queue(slot.seq), slot.message.clone())
        } else if self.farewell == Farewell::Waiting {
            self.farewell = Farewell::InFlight;
            let offline = Message::state(
                self.status_topic.clone(),
                Bytes::from_static(OFFLINE.as_bytes()),
            );
            (Target::Farewell, offline)
        } else {
            return None;
        };
        self.unwritten.push_back(target);
        Some(message)
    }

    /// The connection wrote a PUBLISH (packet id 0 for QoS 0): the oldest message handed over.
    pub(crate) fn on_written(&mut self, pkid: u16) {
        let Some(target) = self.unwritten.pop_front() else {
            tracing::warn!(
                pkid,
                "MQTT client wrote a publish the sink did not hand over"
            );
            return;
        };
        self.stats.published += 1;
        if pkid == 0 {
            self.complete(target);
        } else {
            self.awaiting_ack.insert(pkid, target);
        }
    }

    /// The broker acknowledged packet `pkid`.
    pub(crate) fn on_puback(&mut self, pkid: u16) {
        self.stats.acked += 1;
        match self.awaiting_ack.remove(&pkid) {
            Some(target) => self.complete(target),
            None => tracing::debug!(pkid, "PUBACK for a packet id the sink is not waiting for"),
        }
    }

    /// A connection was accepted by the broker: prepares the prelude.
    pub(crate) fn on_connected(&mut self) {
        self.connected = true;
        if self.connections > 0 {
            self.stats.reconnects += 1;
        }
        self.connections += 1;
        self.prelude.clear();
        self.prelude.push_back(Message::state(
            self.status_topic.clone(),
            Bytes::from_static(ONLINE.as_bytes()),
        ));
        for (topic, state) in &self.retained {
            let still_queued = state
                .pending
                .is_some_and(|seq| find(&self.slots, seq).is_some_and(|i| self.slots[i].live));
            if !still_queued {
                self.prelude
                    .push_back(Message::state(topic.clone(), state.payload.clone()));
                self.stats.republished += 1;
            }
        }
    }

    /// The connection is gone: everything handed over and not done will be handed over again.
    pub(crate) fn on_disconnected(&mut self) {
        self.connected = false;
        // Written and unacknowledged: the broker may have them, so these may arrive twice.
        let maybe_delivered = self
            .awaiting_ack
            .values()
            .filter(|target| match target {
                Target::Queue(seq) => find(&self.slots, *seq).is_some_and(|i| self.slots[i].live),
                Target::Prelude | Target::Farewell => false,
            })
            .count();
        self.stats.resent += maybe_delivered as u64;
        self.live_sent = 0;
        self.next_feed = 0;
        self.unwritten.clear();
        self.awaiting_ack.clear();
        self.prelude.clear();
        self.prelude_in_flight = 0;
        if self.farewell == Farewell::InFlight {
            self.farewell = Farewell::Waiting;
        }
    }

    /// Refuses new messages from now on and queues the `offline` status after the rest.
    pub(crate) fn begin_shutdown(&mut self) {
        if !self.closing {
            self.closing = true;
            self.farewell = Farewell::Waiting;
        }
    }

    /// Whether a shutdown has nothing left to deliver.
    pub(crate) fn drained(&self) -> bool {
        let farewell_done = self.farewell == Farewell::Done || self.connections == 0;
        self.live == 0 && self.prelude.is_empty() && self.prelude_in_flight == 0 && farewell_done
    }

    pub(crate) fn is_connected(&self) -> bool {
        self.connected
    }

    /// Messages still queued or in flight (for the shutdown report).
    pub(crate) fn undelivered(&self) -> usize {
        self.live
    }

    pub(crate) fn stats(&self) -> MqttStats {
        MqttStats {
            queued: self.live - self.live_sent,
            in_flight: self.live_sent,
            republish_pending: self.prelude.len() + self.prelude_in_flight,
            retained: self.retained.len(),
            connected: self.connected,
            ..self.stats.clone()
        }
    }

    /// Appends a message, applying the buffer policy; returns its sequence number.
    fn push(&mut self, message: Message) -> Result<u64, MqttError> {
        if self.closing {
            return Err(MqttError::Closed);
        }
        self.stats.submitted += 1;
        if self.live >= self.limits.buffer {
            match self.limits.when_full {
                FullPolicy::DropNewest => {
                    self.stats.dropped_full += 1;
                    return Err(MqttError::BufferFull {
                        capacity: self.limits.buffer,
                        topic: preview(&message.topic),
                    });
                }
                FullPolicy::DropOldest => {
                    self.stats.dropped_full += 1;
                    self.drop_oldest();
                }
                // The waiting publishers wait in `has_room`; one that cannot wait goes over.
                FullPolicy::Block => {}
            }
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.slots.push_back(Slot {
            seq,
            message,
            live: true,
        });
        self.live += 1;
        Ok(seq)
    }

    /// Removes the oldest live message not yet handed over: dropping one already written and
    /// waiting for its PUBACK frees no room on the wire and loses a message that may arrive.
    /// Only when everything is in flight does the front go.
    fn drop_oldest(&mut self) {
        self.trim();
        let start = self.slots.partition_point(|slot| slot.seq < self.next_feed);
        if let Some(index) = (start..self.slots.len()).find(|&i| self.slots[i].live) {
            self.kill(index);
            return;
        }
        if let Some(slot) = self.slots.pop_front() {
            self.live -= 1;
            if slot.seq < self.next_feed {
                // In flight: its PUBACK, if any, will find nothing and be ignored.
                self.live_sent -= 1;
            }
        }
    }

    /// Drops the queued copy of a replaced retained state if it has not been handed over yet.
    fn supersede(&mut self, previous: Option<Retained>) {
        let Some(seq) = previous.and_then(|state| state.pending) else {
            return;
        };
        if seq < self.next_feed {
            return;
        }
        if let Some(index) = find(&self.slots, seq)
            && self.slots[index].live
        {
            self.kill(index);
            self.stats.superseded += 1;
        }
    }

    fn complete(&mut self, target: Target) {
        match target {
            Target::Queue(seq) => {
                if let Some(index) = find(&self.slots, seq)
                    && self.slots[index].live
                {
                    self.kill(index);
                    self.live_sent -= 1;
                    self.stats.delivered += 1;
                }
            }
            Target::Prelude => self.prelude_in_flight = self.prelude_in_flight.saturating_sub(1),
            Target::Farewell => self.farewell = Farewell::Done,
        }
    }

    /// Marks a live slot dead and frees its payload (the caller adjusts `live_sent`).
    fn kill(&mut self, index: usize) {
        let slot = &mut self.slots[index];
        slot.live = false;
        slot.message.payload = Bytes::new();
        slot.message.topic = String::new();
        self.live -= 1;
        self.dead += 1;
        self.trim();
        if self.dead > COMPACT_AFTER && self.dead > self.live {
            self.slots.retain(|slot| slot.live);
            self.dead = 0;
        }
    }

    /// Pops dead slots off the front.
    fn trim(&mut self) {
        while self.slots.front().is_some_and(|slot| !slot.live) {
            self.slots.pop_front();
            self.dead -= 1;
        }
    }

    /// Index of the first live slot not yet handed over on this connection.
    fn next_unsent(&self) -> Option<usize> {
        let start = self.slots.partition_point(|slot| slot.seq < self.next_feed);
        (start..self.slots.len()).find(|&index| self.slots[index].live)
    }
}

/// Index of the slot with sequence number `seq`, if it is still in the queue.
fn find(slots: &VecDeque<Slot>, seq: u64) -> Option<usize> {
    slots.binary_search_by_key(&seq, |slot| slot.seq).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outbox(buffer: usize, when_full: FullPolicy) -> Outbox {
        Outbox::new(
            Limits {
                buffer,
                when_full,
                max_retained: 3,
            },
            "homeport/gateway/gw/status".to_owned(),
        )
    }

    fn message(topic: &str, payload: &str, qos: QoS) -> Message {
        Message {
            topic: topic.to_owned(),
            payload: Bytes::copy_from_slice(payload.as_bytes()),
            qos,
            retain: false,
        }
    }

    fn text(message: &Message) -> String {
        format!(
            "{}={}",
            message.topic,
            String::from_utf8_lossy(&message.payload)
        )
    }

    /// Feeds everything the outbox offers, writing each with a fresh packet id (0 for QoS 0).
    fn feed_and_write(outbox: &mut Outbox, pkid: &mut u16) -> Vec<(String, u16)> {
        let mut sent = Vec::new();
        while let Some(message) = outbox.next_to_feed() {
            let id = match message.qos {
                QoS::AtMostOnce => 0,
                QoS::AtLeastOnce => {
                    *pkid += 1;
                    *pkid
                }
            };
            outbox.on_written(id);
            sent.push((text(&message), id));
        }
        sent
    }

    fn invariant(outbox: &Outbox) {
        let s = outbox.stats();
        assert_eq!(
            s.submitted,
            s.delivered + s.dropped_full + s.superseded + (s.queued + s.in_flight) as u64,
            "{s:?}"
        );
    }

    #[test]
    fn nothing_is_handed_over_while_disconnected() {
        let mut outbox = outbox(10, FullPolicy::DropOldest);
        outbox
            .submit(message("a", "1", QoS::AtLeastOnce))
            .expect("queued");
        assert!(outbox.next_to_feed().is_none());
        assert_eq!(outbox.stats().queued, 1);
    }

    #[test]
    fn qos1_messages_stay_until_acked_and_are_resent_in_order_after_a_disconnect() {
        let mut outbox = outbox(10, FullPolicy::DropOldest);
        for n in 1..=4 {
            outbox
                .submit(message("t", &n.to_string(), QoS::AtLeastOnce))
                .expect("queued");
        }
        outbox.on_connected();
        let mut pkid = 0;
        let sent = feed_and_write(&mut outbox, &mut pkid);
        assert_eq!(sent[0].0, "homeport/gateway/gw/status=online");
        assert_eq!(sent.len(), 5);
        outbox.on_puback(sent[0].1);
        outbox.on_puback(sent[1].1); // t=1 done
        assert_eq!(outbox.stats().in_flight, 3);
        invariant(&outbox);

        outbox.on_disconnected();
        assert_eq!(outbox.stats().resent, 3);
        assert_eq!(outbox.stats().queued, 3);
        outbox.on_connected();
        let again: Vec<String> = feed_and_write(&mut outbox, &mut pkid)
            .into_iter()
            .map(|(text, _)| text)
            .collect();
        assert_eq!(
            again,
            ["homeport/gateway/gw/status=online", "t=2", "t=3", "t=4"]
        );
        assert_eq!(outbox.stats().reconnects, 1);
        invariant(&outbox);
    }

    #[test]
    fn qos0_messages_are_done_once_written() {
        let mut outbox = outbox(10, FullPolicy::DropOldest);
        outbox.on_connected();
        outbox
            .submit(message("t", "x", QoS::AtMostOnce))
            .expect("queued");
        let mut pkid = 0;
        feed_and_write(&mut outbox, &mut pkid);
        let stats = outbox.stats();
        assert_eq!((stats.delivered, stats.queued, stats.in_flight), (1, 0, 0));
    }

    #[test]
    fn drop_oldest_keeps_the_newest_and_counts() {
        let mut outbox = outbox(3, FullPolicy::DropOldest);
        for n in 0..5 {
            outbox
                .submit(message("t", &n.to_string(), QoS::AtLeastOnce))
                .expect("accepted");
        }
        let stats = outbox.stats();
        assert_eq!((stats.queued, stats.dropped_full), (3, 2));
        invariant(&outbox);
        outbox.on_connected();
        let mut pkid = 0;
        let sent: Vec<String> = feed_and_write(&mut outbox, &mut pkid)
            .into_iter()
            .skip(1)
            .map(|(text, _)| text)
            .collect();
        assert_eq!(sent, ["t=2", "t=3", "t=4"]);
    }

    #[test]
    fn drop_newest_refuses_and_counts() {
        let mut outbox = outbox(3, FullPolicy::DropNewest);
        for n in 0..3 {
            outbox
                .submit(message("t", &n.to_string(), QoS::AtLeastOnce))
                .expect("accepted");
        }
        let err = outbox
            .submit(message("t", "3", QoS::AtLeastOnce))
            .expect_err("full");
        assert!(matches!(err, MqttError::BufferFull { capacity: 3, .. }));
        assert_eq!(outbox.stats().dropped_full, 1);
        invariant(&outbox);
    }

    #[test]
    fn retained_states_supersede_unsent_ones_and_are_republished_on_reconnect() {
        let mut outbox = outbox(10, FullPolicy::DropOldest);
        outbox
            .set_retained("s/a".to_owned(), Bytes::from_static(b"1"))
            .expect("ok");
        outbox
            .set_retained("s/a".to_owned(), Bytes::from_static(b"2"))
            .expect("ok");
        outbox
            .set_retained("s/b".to_owned(), Bytes::from_static(b"x"))
            .expect("ok");
        assert_eq!(outbox.stats().superseded, 1);
        invariant(&outbox);

        outbox.on_connected();
        let mut pkid = 0;
        let sent = feed_and_write(&mut outbox, &mut pkid);
        let texts: Vec<&str> = sent.iter().map(|(text, _)| text.as_str()).collect();
        assert_eq!(
            texts,
            ["homeport/gateway/gw/status=online", "s/a=2", "s/b=x"]
        );
        for (_, id) in &sent {
            outbox.on_puback(*id);
        }
        // Once delivered, a state is not superseded any more: the new one follows it.
        outbox
            .set_retained("s/b".to_owned(), Bytes::from_static(b"y"))
            .expect("ok");
        assert_eq!(outbox.stats().superseded, 1);
        feed_and_write(&mut outbox, &mut pkid);
        outbox.on_disconnected();

        // s/a is republished from memory; s/b=y is still in the queue and goes from there.
        outbox.on_connected();
        let texts: Vec<String> = feed_and_write(&mut outbox, &mut pkid)
            .into_iter()
            .map(|(text, _)| text)
            .collect();
        assert_eq!(
            texts,
            ["homeport/gateway/gw/status=online", "s/a=2", "s/b=y"]
        );
        assert_eq!(outbox.stats().republished, 1);
    }

    #[test]
    fn cleared_states_are_forgotten_and_the_map_is_bounded() {
        let mut outbox = outbox(10, FullPolicy::DropOldest);
        for topic in ["s/1", "s/2", "s/3"] {
            outbox
                .set_retained(topic.to_owned(), Bytes::from_static(b"v"))
                .expect("ok");
        }
        let err = outbox
            .set_retained("s/4".to_owned(), Bytes::from_static(b"v"))
            .expect_err("full");
        assert!(matches!(err, MqttError::RetainedFull { limit: 3, .. }));
        outbox
            .set_retained("s/3".to_owned(), Bytes::from_static(b"w"))
            .expect("updating a known topic is fine");
        outbox.clear_retained("s/1".to_owned()).expect("ok");
        assert_eq!(outbox.stats().retained, 2);
        outbox.on_connected();
        let mut pkid = 0;
        let texts: Vec<String> = feed_and_write(&mut outbox, &mut pkid)
            .into_iter()
            .map(|(text, _)| text)
            .collect();
        // The unsent s/1=v was superseded by the clear, s/3=v by s/3=w.
        assert_eq!(
            texts,
            [
                "homeport/gateway/gw/status=online",
                "s/2=v",
                "s/3=w",
                "s/1="
            ]
        );
    }

    #[test]
    fn shutdown_sends_offline_after_the_queue_and_refuses_new_messages() {
        let mut outbox = outbox(10, FullPolicy::DropOldest);
        outbox.on_connected();
        outbox
            .submit(message("t", "1", QoS::AtLeastOnce))
            .expect("queued");
        outbox.begin_shutdown();
        assert!(matches!(
            outbox.submit(message("t", "2", QoS::AtLeastOnce)),
            Err(MqttError::Closed)
        ));
        assert!(!outbox.drained());
        let mut pkid = 0;
        let sent = feed_and_write(&mut outbox, &mut pkid);
        let texts: Vec<&str> = sent.iter().map(|(text, _)| text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "homeport/gateway/gw/status=online",
                "t=1",
                "homeport/gateway/gw/status=offline"
            ]
        );
        for (_, id) in &sent {
            outbox.on_puback(*id);
        }
        assert!(outbox.drained());
    }

    #[test]
    fn a_sink_that_never_connected_is_drained_when_empty() {
        let mut outbox = outbox(10, FullPolicy::DropOldest);
        outbox.begin_shutdown();
        assert!(outbox.drained());
    }

    #[test]
    fn feeding_stops_at_the_client_channel_capacity() {
        let mut outbox = outbox(1000, FullPolicy::DropOldest);
        outbox.on_connected();
        for n in 0..200 {
            outbox
                .submit(message("t", &n.to_string(), QoS::AtLeastOnce))
                .expect("queued");
        }
        let mut fed = 0;
        while outbox.next_to_feed().is_some() {
            fed += 1;
        }
        assert_eq!(fed, FEED_AHEAD);
        outbox.on_written(1);
        assert!(outbox.next_to_feed().is_some());
    }

    #[test]
    fn only_written_unacknowledged_messages_count_as_resent() {
        let mut outbox = outbox(10, FullPolicy::DropOldest);
        outbox.on_connected();
        for n in 0..3 {
            outbox
                .submit(message("t", &n.to_string(), QoS::AtLeastOnce))
                .expect("queued");
        }
        while outbox.next_to_feed().is_some() {}
        outbox.on_written(1); // the status
        outbox.on_written(2); // t=0; t=1 and t=2 are handed over but not written
        outbox.on_disconnected();
        let stats = outbox.stats();
        assert_eq!((stats.resent, stats.queued, stats.in_flight), (1, 3, 0));
    }

    #[test]
    fn many_superseded_states_do_not_grow_the_queue_forever() {
        let mut outbox = outbox(10, FullPolicy::DropOldest);
        outbox
            .submit(message("stuck/front", "x", QoS::AtLeastOnce))
            .expect("queued");
        for n in 0..10_000 {
            outbox
                .set_retained("s/flapping".to_owned(), Bytes::from(n.to_string()))
                .expect("ok");
        }
        assert!(
            outbox.slots.len() <= COMPACT_AFTER + 2,
            "{}",
            outbox.slots.len()
        );
        invariant(&outbox);
    }
}
