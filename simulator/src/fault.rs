//! Faults a simulated camera can be told to have, to test how a platform copes.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// One kind of misbehaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    /// The camera's real password differs from the one the platform was given, so every
    /// login is refused with 268632085.
    WrongPassword,
    /// After login, the camera stops answering keepalives (everything else still works).
    Silent,
    /// Every reply is delayed by the plan's `slow_delay`.
    Slow,
    /// Logged-in sessions drop after a random few seconds, then the camera re-registers.
    Flapping,
    /// The camera writes random bytes before its announcement.
    Garbage,
}

impl Fault {
    /// Every fault, in the order the CLI lists them.
    pub const ALL: [Fault; 5] = [
        Fault::WrongPassword,
        Fault::Silent,
        Fault::Slow,
        Fault::Flapping,
        Fault::Garbage,
    ];

    /// The CLI name.
    pub fn name(self) -> &'static str {
        match self {
            Fault::WrongPassword => "wrong-password",
            Fault::Silent => "silent",
            Fault::Slow => "slow",
            Fault::Flapping => "flapping",
            Fault::Garbage => "garbage",
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Fault {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        crate::parse_name("fault", &Fault::ALL, Fault::name, s)
    }
}

/// A fault given to a share of a fleet: `silent:0.1` is 10 % of the cameras, `silent` all.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FaultShare {
    /// The fault.
    pub fault: Fault,
    /// Share of the cameras, 0.0..=1.0.
    pub share: f64,
}

impl FromStr for FaultShare {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (name, share) = match s.split_once(':') {
            Some((name, share)) => {
                let share: f64 = share
                    .parse()
                    .map_err(|_| format!("fault share {share:?} is not a number"))?;
                if !(0.0..=1.0).contains(&share) {
                    return Err(format!("fault share {share} is outside 0..=1"));
                }
                (name, share)
            }
            None => (s, 1.0),
        };
        Ok(FaultShare {
            fault: name.parse()?,
            share,
        })
    }
}

/// Which faults each camera of a fleet has, and their parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultPlan {
    /// Faults and the share of cameras that get each.
    pub shares: Vec<FaultShare>,
    /// Delay of every reply from a [`Fault::Slow`] camera.
    pub slow_delay: Duration,
    /// A [`Fault::Flapping`] camera drops its session after a random time up to this.
    pub flap_max: Duration,
}

impl Default for FaultPlan {
    fn default() -> Self {
        Self {
            shares: Vec::new(),
            slow_delay: Duration::from_secs(3),
            flap_max: Duration::from_secs(10),
        }
    }
}

impl FaultPlan {
    /// The faults of camera `index` (0-based) of `count`.
    ///
    /// Deterministic, so a run is repeatable: a share `s` of a fault goes to the cameras
    /// whose evenly spread position falls under `s`, and different faults are offset so they
    /// do not all land on the same cameras.
    pub fn faults_for(&self, index: usize, count: usize) -> Vec<Fault> {
        let count = count.max(1) as f64;
        self.shares
            .iter()
            .enumerate()
            .filter(|(k, share)| {
                let position = ((index as f64 + *k as f64 * 0.37 * count) % count) / count;
                position < share.share
            })
            .map(|(_, share)| share.fault)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_parse_and_pick_about_that_many_cameras() {
        let share: FaultShare = "silent:0.25".parse().expect("parses");
        assert_eq!(
            share,
            FaultShare {
                fault: Fault::Silent,
                share: 0.25
            }
        );
        let plan = FaultPlan {
            shares: vec![share],
            ..FaultPlan::default()
        };
        let picked = (0..1000)
            .filter(|&i| plan.faults_for(i, 1000).contains(&Fault::Silent))
            .count();
        assert_eq!(picked, 250);
        let all: FaultShare = "garbage".parse().expect("parses");
        assert_eq!(all.share, 1.0);
    }

    #[test]
    fn bad_fault_specs_say_what_is_wrong() {
        assert!(
            "loud"
                .parse::<FaultShare>()
                .expect_err("unknown")
                .contains("wrong-password")
        );
        assert!(
            "slow:2"
                .parse::<FaultShare>()
                .expect_err("range")
                .contains("outside")
        );
        assert!(
            "slow:x"
                .parse::<FaultShare>()
                .expect_err("nan")
                .contains("not a number")
        );
    }
}
