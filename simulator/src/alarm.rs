//! Random alarms: arrivals at a mean rate, mixed codes, start/stop pairs, pulses and states.
//!
//! Arrivals are a Poisson process (exponential gaps), so load tests see bursts and lulls like
//! a real fleet. A `Start` schedules its own `Stop` a few seconds later; while a condition is
//! open on a channel, a new arrival for it becomes a pulse instead, so pairs never overlap.
//!
//! Every event carries `SimSeq` in its data: 1, 2, 3… per generator (one per connection), so
//! a test can check that none was lost, doubled or reordered on the way. With a limit the
//! generator stops after that many events.

use std::time::{Duration, Instant};

use homeport_protocol::rpc::event::{EventAction, EventInfo};
use rand::Rng;
use rand::rngs::SmallRng;
use serde_json::{Map, Value, json};

use crate::clock;

/// How an alarm code behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// `Start`, then `Stop` after a while.
    Pair,
    /// One `Pulse`.
    Pulse,
    /// One `State` report.
    State,
}

/// Codes, their shape and their weight in the mix (weights sum to 100).
const MIX: [(&str, Shape, u32); 8] = [
    ("VideoMotion", Shape::Pair, 40),
    ("CrossLineDetection", Shape::Pulse, 15),
    ("CrossRegionDetection", Shape::Pair, 10),
    ("AlarmLocal", Shape::Pair, 10),
    ("IntelliFrame", Shape::Pulse, 10),
    ("VideoBlind", Shape::Pair, 5),
    ("VideoLoss", Shape::Pair, 5),
    ("VideoMotionInfo", Shape::State, 5),
];

/// Shortest and longest time between a `Start` and its `Stop`.
const HOLD: (Duration, Duration) = (Duration::from_secs(1), Duration::from_secs(8));

/// Produces a camera's alarms.
#[derive(Debug)]
pub struct AlarmGenerator {
    rate: f64,
    channels: u32,
    rng: SmallRng,
    next_arrival: Option<Instant>,
    /// Open conditions: code, channel, when their `Stop` is due. At most codes × channels.
    open: Vec<(&'static str, u32, Instant)>,
    /// Events produced so far (the last `SimSeq`).
    produced: u64,
    /// Stop after this many events.
    limit: Option<u64>,
}

impl AlarmGenerator {
    /// Alarms at `rate` per second on average over `channels` channels, from `now`.
    pub fn new(rate: f64, channels: u32, mut rng: SmallRng, now: Instant) -> Self {
        let next_arrival = gap(&mut rng, rate).map(|gap| now + gap);
        Self {
            rate,
            channels: channels.max(1),
            rng,
            next_arrival,
            open: Vec::new(),
            produced: 0,
            limit: None,
        }
    }

    /// The same generator, stopping after `limit` events (none: never).
    pub fn with_limit(mut self, limit: Option<u64>) -> Self {
        self.limit = limit;
        self
    }

    fn exhausted(&self) -> bool {
        self.limit.is_some_and(|limit| self.produced >= limit)
    }

    /// When the next event is due, if ever.
    pub fn next_due(&self) -> Option<Instant> {
        if self.exhausted() {
            return None;
        }
        let first_stop = self.open.iter().map(|(_, _, at)| *at).min();
        match (self.next_arrival, first_stop) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The events due at `now` (stops first), scheduling what follows.
    pub fn due(&mut self, now: Instant) -> Vec<EventInfo> {
        let mut events = Vec::new();
        let mut index = 0;
        while index < self.open.len() {
            if self.open[index].2 <= now {
                let (code, channel, _) = self.open.swap_remove(index);
                events.push(event(code, EventAction::Stop, channel));
            } else {
                index += 1;
            }
        }
        while self.next_arrival.is_some_and(|at| at <= now) {
            events.push(self.arrival(now));
            let after = self.next_arrival.unwrap_or(now);
            self.next_arrival = gap(&mut self.rng, self.rate).map(|gap| after + gap);
        }
        if let Some(limit) = self.limit {
            let left = limit.saturating_sub(self.produced);
            events.truncate(usize::try_from(left).unwrap_or(usize::MAX));
        }
        for event in &mut events {
            self.produced += 1;
            event.data.insert("SimSeq".to_owned(), json!(self.produced));
        }
        events
    }

    fn arrival(&mut self, now: Instant) -> EventInfo {
        let mut pick = self.rng.random_range(0..100);
        let (code, shape) = MIX
            .iter()
            .find_map(|(code, shape, weight)| {
                if pick < *weight {
                    Some((*code, *shape))
                } else {
                    pick -= weight;
                    None
                }
            })
            .unwrap_or((MIX[0].0, MIX[0].1));
        let channel = self.rng.random_range(0..self.channels);
        match shape {
            Shape::Pair
                if self
                    .open
                    .iter()
                    .any(|(c, ch, _)| *c == code && *ch == channel) =>
            {
                event(code, EventAction::Pulse, channel)
            }
            Shape::Pair => {
                let hold = self.rng.random_range(HOLD.0..=HOLD.1);
                self.open.push((code, channel, now + hold));
                event(code, EventAction::Start, channel)
            }
            Shape::Pulse => event(code, EventAction::Pulse, channel),
            Shape::State => event(code, EventAction::State, channel),
        }
    }
}

/// An exponential gap for a Poisson process of `rate` per second; none for rate 0.
fn gap(rng: &mut SmallRng, rate: f64) -> Option<Duration> {
    if !(rate > 0.0 && rate.is_finite()) {
        return None;
    }
    let uniform: f64 = rng.random_range(f64::EPSILON..1.0);
    Some(Duration::from_secs_f64(
        (-uniform.ln() / rate).min(86_400.0),
    ))
}

/// One event as a camera reports it, stamped now.
pub fn event(code: &str, action: EventAction, channel: u32) -> EventInfo {
    let utc = clock::unix_now();
    let mut data = Map::new();
    data.insert(
        "LocaleTime".to_owned(),
        Value::String(clock::format_time(utc)),
    );
    data.insert("UTC".to_owned(), json!(utc));
    match code {
        "VideoMotion" => {
            data.insert("Id".to_owned(), json!([channel]));
            data.insert("RegionName".to_owned(), json!(["Region1"]));
            data.insert("SmartMotionEnable".to_owned(), json!(false));
        }
        "CrossLineDetection" | "CrossRegionDetection" => {
            data.insert("Name".to_owned(), json!("Rule1"));
            data.insert("Direction".to_owned(), json!("LeftToRight"));
            data.insert(
                "Object".to_owned(),
                json!({"ObjectType": "Human", "ObjectID": 1}),
            );
        }
        "VideoMotionInfo" => {
            data.insert("State".to_owned(), json!(["Active"]));
        }
        _ => {}
    }
    EventInfo {
        code: code.to_owned(),
        action,
        index: i64::from(channel),
        data,
        param: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn arrivals_follow_the_rate_and_every_start_gets_its_stop() {
        let start = Instant::now();
        let mut generator = AlarmGenerator::new(2.0, 4, SmallRng::seed_from_u64(7), start);
        let mut events = Vec::new();
        let mut now = start;
        while now < start + Duration::from_secs(1000) {
            now += Duration::from_millis(100);
            events.extend(generator.due(now));
        }
        let arrivals = events
            .iter()
            .filter(|e| e.action != EventAction::Stop)
            .count();
        // 2000 expected; a Poisson count has a standard deviation of about 45.
        assert!((1800..2200).contains(&arrivals), "{arrivals} arrivals");
        let starts = events
            .iter()
            .filter(|e| e.action == EventAction::Start)
            .count();
        let stops = events
            .iter()
            .filter(|e| e.action == EventAction::Stop)
            .count();
        assert!(starts - stops <= generator.open.len() && generator.open.len() <= 4 * MIX.len());
        assert!(events.iter().any(|e| e.action == EventAction::Pulse));
        assert!(events.iter().any(|e| e.action == EventAction::State));
        assert!(
            events
                .iter()
                .all(|e| (0..4).contains(&e.index) && e.utc().is_some())
        );
        let codes: std::collections::HashSet<_> = events.iter().map(|e| e.code.as_str()).collect();
        assert_eq!(codes.len(), MIX.len());
    }

    #[test]
    fn zero_rate_never_fires() {
        let now = Instant::now();
        let mut generator = AlarmGenerator::new(0.0, 1, SmallRng::seed_from_u64(1), now);
        assert_eq!(generator.next_due(), None);
        assert!(generator.due(now + Duration::from_secs(3600)).is_empty());
    }
}
