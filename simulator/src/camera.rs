//! One simulated camera: identity, credentials, config tables and login lockout.
//!
//! A camera is shared by all of its connections (register socket, direct logins): config
//! written over one is read over another, and failed logins count against one budget.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use homeport_protocol::rpc::config::{DVRIP, DvripConfig};
use homeport_protocol::rpc::device::ActiveUser;
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::fault::Fault;
use crate::firmware::{Firmware, FirmwareError};

/// Most video channels a camera may have: DVRIP's login result carries the count in one byte.
pub const MAX_CHANNELS: u32 = 255;

/// Names of the config tables a simulated camera serves.
pub const CONFIG_NAMES: [&str; 5] = [DVRIP, "General", "NTP", "Locales", "MotionDetect"];

/// Where a camera registers: what its `DVRIP.RegisterServer` says when enabled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterTarget {
    /// Server host or IP.
    pub address: String,
    /// Server port.
    pub port: u16,
    /// The ID to announce.
    pub device_id: String,
}

/// What a camera is and how it behaves.
#[derive(Debug, Clone)]
pub struct CameraConfig {
    /// The ID it announces (`DVRIP.RegisterServer.DeviceID`).
    pub device_id: String,
    /// Login user.
    pub user: String,
    /// Login password (a [`Fault::WrongPassword`] camera uses another one).
    pub password: String,
    /// Mean alarms per second once a platform has attached.
    pub alarm_rate: f64,
    /// Alarms per connection after which the camera sends no more (none: no end).
    pub alarm_limit: Option<u64>,
    /// Video channels (alarm indexes are `0..channels`).
    pub channels: u32,
    /// Seconds between keepalives the camera asks for at login.
    pub keep_alive_interval: u32,
    /// Misbehaviours.
    pub faults: Vec<Fault>,
    /// Reply delay of a slow camera.
    pub slow_delay: Duration,
    /// Longest session of a flapping camera.
    pub flap_max: Duration,
    /// Failed logins before the account locks.
    pub max_login_tries: u32,
    /// How long a locked account stays locked.
    pub lock_duration: Duration,
    /// Where the camera registers, if anywhere (fills `DVRIP.RegisterServer`).
    pub register: Option<RegisterTarget>,
    /// Which firmware generation it behaves like ([`Firmware`]).
    pub firmware: Firmware,
}

/// Why a camera config cannot be used.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A device ID the firmware cannot announce.
    #[error("camera {camera}: {reason}")]
    DeviceId {
        /// The camera's configured ID.
        camera: String,
        /// Why.
        reason: FirmwareError,
    },
    /// A channel count outside 1..=255.
    #[error("camera {camera}: {channels} channels; a camera has 1 to {MAX_CHANNELS}")]
    Channels {
        /// The camera's configured ID.
        camera: String,
        /// The count given.
        channels: u32,
    },
}

impl CameraConfig {
    /// A well-behaved camera with the given ID and credentials.
    pub fn new(
        device_id: impl Into<String>,
        user: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        Self {
            device_id: device_id.into(),
            user: user.into(),
            password: password.into(),
            alarm_rate: 0.0,
            alarm_limit: None,
            channels: 1,
            keep_alive_interval: 60,
            faults: Vec::new(),
            slow_delay: Duration::from_secs(3),
            flap_max: Duration::from_secs(10),
            max_login_tries: 5,
            lock_duration: Duration::from_secs(30),
            register: None,
            firmware: Firmware::default(),
        }
    }

    /// Checks what the firmware and the wire can carry: the IDs it announces (its own and
    /// its register target's) and the channel count. No I/O.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let ids = std::iter::once(&self.device_id)
            .chain(self.register.as_ref().map(|target| &target.device_id));
        for id in ids {
            self.firmware
                .check_id(id)
                .map_err(|reason| ConfigError::DeviceId {
                    camera: self.device_id.clone(),
                    reason,
                })?;
        }
        if !(1..=MAX_CHANNELS).contains(&self.channels) {
            return Err(ConfigError::Channels {
                camera: self.device_id.clone(),
                channels: self.channels,
            });
        }
        Ok(())
    }
}

/// Login budget: tries left, and a lock once they run out.
#[derive(Debug)]
struct Lockout {
    tries_left: u32,
    locked_until: Option<Instant>,
}

/// A simulated camera, shared by its connections.
#[derive(Debug)]
pub struct Camera {
    config: CameraConfig,
    realm: String,
    serial: String,
    configs: Mutex<HashMap<String, Value>>,
    lockout: Mutex<Lockout>,
    refused_logins: AtomicU64,
    users: Mutex<Vec<ActiveUser>>,
    register: watch::Sender<Option<RegisterTarget>>,
}

/// The outcome of checking a login against the budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginCheck {
    /// Accepted.
    Ok,
    /// Refused; this many tries are left.
    Refused {
        /// Tries left before the lock.
        tries_left: u32,
    },
    /// Locked for this many more seconds.
    Locked {
        /// Seconds until the lock lifts.
        seconds: u64,
    },
}

impl RegisterTarget {
    /// `host:port`, with brackets around an IPv6 literal.
    pub fn server(&self) -> String {
        if self.address.contains(':') {
            format!("[{}]:{}", self.address, self.port)
        } else {
            format!("{}:{}", self.address, self.port)
        }
    }
}

impl Camera {
    /// A camera from its config.
    pub fn new(config: CameraConfig) -> Self {
        // Real realms look like `Login to 907F3C6C73FEDA77`: a per-device hex string.
        let digest = md5_hex(config.device_id.as_bytes());
        let realm = format!("Login to {}", &digest[..16]);
        let serial = digest[..15].to_owned();
        let (register, _) = watch::channel(config.register.clone());
        Self {
            lockout: Mutex::new(Lockout {
                tries_left: config.max_login_tries,
                locked_until: None,
            }),
            config,
            realm,
            serial,
            refused_logins: AtomicU64::new(0),
            configs: Mutex::new(HashMap::new()),
            users: Mutex::new(Vec::new()),
            register,
        }
    }

    /// The camera's config.
    pub fn config(&self) -> &CameraConfig {
        &self.config
    }

    /// The login realm.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// The hardware serial number (distinct from the announced ID).
    pub fn serial(&self) -> &str {
        &self.serial
    }

    /// Whether the camera has `fault`.
    pub fn has(&self, fault: Fault) -> bool {
        self.config.faults.contains(&fault)
    }

    /// The password the camera really checks against.
    pub fn effective_password(&self) -> String {
        if self.has(Fault::WrongPassword) {
            format!("{}#not-what-you-were-told", self.config.password)
        } else {
            self.config.password.clone()
        }
    }

    /// The firmware profile.
    pub fn firmware(&self) -> Firmware {
        self.config.firmware
    }

    /// Records a login attempt's outcome against the lockout budget.
    pub fn check_login(&self, user_ok: bool, password_ok: bool) -> LoginCheck {
        let check = self.check_budget(user_ok && password_ok);
        if check != LoginCheck::Ok {
            self.refused_logins.fetch_add(1, Ordering::Relaxed);
        }
        check
    }

    /// Seconds left of the lock, if the account is locked now.
    pub fn locked_for(&self) -> Option<u64> {
        let mut lockout = self.lockout.lock().expect("lockout lock");
        self.lock_state(&mut lockout, Instant::now())
    }

    /// Login attempts left before the account locks; 0 while it is locked.
    pub fn tries_left(&self) -> u32 {
        let mut lockout = self.lockout.lock().expect("lockout lock");
        match self.lock_state(&mut lockout, Instant::now()) {
            Some(_) => 0,
            None => lockout.tries_left,
        }
    }

    /// Login attempts refused so far after checking credentials (wrong user or password, or
    /// any attempt while locked), over every framing and connection. Answers that check no
    /// credentials (a 2010 camera's all-zero opening, a hash login without an opening) are
    /// not counted.
    pub fn refused_logins(&self) -> u64 {
        self.refused_logins.load(Ordering::Relaxed)
    }

    fn check_budget(&self, credentials_ok: bool) -> LoginCheck {
        let mut lockout = self.lockout.lock().expect("lockout lock");
        let now = Instant::now();
        if let Some(seconds) = self.lock_state(&mut lockout, now) {
            return LoginCheck::Locked { seconds };
        }
        if credentials_ok {
            lockout.tries_left = self.config.max_login_tries;
            return LoginCheck::Ok;
        }
        lockout.tries_left = lockout.tries_left.saturating_sub(1);
        if lockout.tries_left == 0 {
            lockout.locked_until = Some(now + self.config.lock_duration);
            return LoginCheck::Locked {
                seconds: self.config.lock_duration.as_secs().max(1),
            };
        }
        LoginCheck::Refused {
            tries_left: lockout.tries_left,
        }
    }

    /// Seconds left of a running lock; an expired lock is lifted and the budget restored.
    fn lock_state(&self, lockout: &mut Lockout, now: Instant) -> Option<u64> {
        let until = lockout.locked_until?;
        if until > now {
            return Some((until - now).as_secs().max(1));
        }
        lockout.locked_until = None;
        lockout.tries_left = self.config.max_login_tries;
        None
    }

    /// Adds a logged-in user to the active list.
    pub fn add_user(&self, user: ActiveUser) {
        self.users.lock().expect("users lock").push(user);
    }

    /// Removes the user of session `id`.
    pub fn remove_user(&self, id: u32) {
        self.users
            .lock()
            .expect("users lock")
            .retain(|u| u.id != id);
    }

    /// Users logged in now.
    pub fn users(&self) -> Vec<ActiveUser> {
        self.users.lock().expect("users lock").clone()
    }

    /// Whether `session` is logged in to this camera now (on any connection).
    pub fn has_session(&self, session: u32) -> bool {
        self.users
            .lock()
            .expect("users lock")
            .iter()
            .any(|u| u.id == session)
    }

    /// A config table by name: what was set, or the default.
    pub fn get_config(&self, name: &str) -> Option<Value> {
        if let Some(table) = self.configs.lock().expect("configs lock").get(name) {
            return Some(table.clone());
        }
        self.default_table(name)
    }

    /// Every table, by name.
    pub fn all_configs(&self) -> Value {
        let tables: serde_json::Map<String, Value> = CONFIG_NAMES
            .iter()
            .filter_map(|name| Some(((*name).to_owned(), self.get_config(name)?)))
            .collect();
        Value::Object(tables)
    }

    /// Writes a whole table. Only known names are accepted; a `DVRIP` table must still parse
    /// as one. A changed `RegisterServer` takes effect at once (see [`Camera::register_target`]).
    pub fn set_config(&self, name: &str, table: Value) -> Result<(), String> {
        if !CONFIG_NAMES.contains(&name) {
            return Err(format!("no config named {name:?}"));
        }
        if name == DVRIP {
            let dvrip: DvripConfig = serde_json::from_value(table.clone())
                .map_err(|e| format!("DVRIP table is malformed: {e}"))?;
            let register = &dvrip.register_server;
            if register.enable {
                self.config
                    .firmware
                    .check_id(&register.device_id)
                    .map_err(|e| e.to_string())?;
            }
            let target = register
                .servers
                .first()
                .filter(|_| register.enable)
                .map(|server| RegisterTarget {
                    address: server.address.clone(),
                    port: server.port,
                    device_id: register.device_id.clone(),
                });
            // Only a real change re-dials: writing back the same table keeps the session.
            self.register.send_if_modified(|current| {
                let changed = *current != target;
                *current = target;
                changed
            });
        }
        self.configs
            .lock()
            .expect("configs lock")
            .insert(name.to_owned(), table);
        Ok(())
    }

    /// Follows where the camera should register, as `DVRIP.RegisterServer` says.
    pub fn register_target(&self) -> watch::Receiver<Option<RegisterTarget>> {
        self.register.subscribe()
    }

    fn default_table(&self, name: &str) -> Option<Value> {
        let id = &self.config.device_id;
        Some(match name {
            DVRIP => {
                let (enable, address, port) = match &self.config.register {
                    Some(target) => (true, target.address.clone(), target.port),
                    None => (false, "0.0.0.0".to_owned(), 9500),
                };
                json!({
                    "TCPPort": 37777, "UDPPort": 37778, "SSLPort": 443,
                    "MCASTAddress": "239.255.42.42", "MCASTEnable": false, "MCASTPort": 36666,
                    "MaxConnections": 10,
                    "RegisterServer": {"DeviceID": id, "Enable": enable, "Servers": [{"Address": address, "Port": port}]},
                    "StreamPolicy": "None"
                })
            }
            "General" => json!({
                "MachineName": id, "MachineAddress": "", "LocalNo": 8, "LockLoginEnable": true,
                "LockLoginTimes": self.config.max_login_tries, "LoginFailLockTime": self.config.lock_duration.as_secs()
            }),
            "NTP" => json!({"Enable": false, "Address": "pool.ntp.org", "Port": 123, "TimeZone": 0, "UpdatePeriod": 10}),
            "Locales" => json!({"TimeFormat": "yyyy-MM-dd HH:mm:ss", "DSTEnable": false, "VideoStandard": "PAL"}),
            "MotionDetect" => Value::Array(
                (0..self.config.channels)
                    .map(|_| json!({"Enable": true, "Level": 3, "PtzManualEnable": false, "Region": ["4194303"]}))
                    .collect(),
            ),
            _ => return None,
        })
    }
}

/// Uppercase hex MD5: the realm only needs to look device-like and be stable per ID.
fn md5_hex(bytes: &[u8]) -> String {
    use md5::Digest;
    md5::Md5::digest(bytes)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_config_persists_and_unknown_names_are_refused() {
        let camera = Camera::new(CameraConfig::new("cam1", "admin", "pw"));
        let mut dvrip = camera.get_config(DVRIP).expect("DVRIP");
        assert_eq!(dvrip["RegisterServer"]["DeviceID"], "cam1");
        dvrip["RegisterServer"]["Enable"] = json!(true);
        dvrip["RegisterServer"]["Servers"][0] = json!({"Address": "127.0.0.1", "Port": 9600});
        let mut target = camera.register_target();
        camera.set_config(DVRIP, dvrip.clone()).expect("sets");
        assert_eq!(camera.get_config(DVRIP), Some(dvrip));
        assert!(target.has_changed().expect("open"));
        assert_eq!(
            *target.borrow_and_update(),
            Some(RegisterTarget {
                address: "127.0.0.1".to_owned(),
                port: 9600,
                device_id: "cam1".to_owned()
            })
        );
        assert!(camera.set_config("Nope", json!({})).is_err());
        assert!(camera.set_config(DVRIP, json!({"TCPPort": 1})).is_err());
    }

    #[test]
    fn a_2010_camera_config_with_a_48_byte_id_or_no_channels_is_refused() {
        let legacy = CameraConfig {
            firmware: Firmware::Legacy2010,
            ..CameraConfig::new("x".repeat(48), "admin", "pw")
        };
        let error = legacy.validate().expect_err("too long for 2010 firmware");
        assert!(error.to_string().contains("at most 47"), "{error}");
        let current = CameraConfig::new("x".repeat(48), "admin", "pw");
        assert_eq!(current.validate(), Ok(()));
        let target = CameraConfig {
            register: Some(RegisterTarget {
                address: "127.0.0.1".to_owned(),
                port: 9500,
                device_id: "y".repeat(48),
            }),
            firmware: Firmware::Legacy2010,
            ..CameraConfig::new("short", "admin", "pw")
        };
        assert!(matches!(
            target.validate(),
            Err(ConfigError::DeviceId { .. })
        ));
        for channels in [0, 256] {
            let config = CameraConfig {
                channels,
                ..CameraConfig::new("cam", "admin", "pw")
            };
            assert!(matches!(
                config.validate(),
                Err(ConfigError::Channels { .. })
            ));
        }
    }

    #[test]
    fn a_2010_camera_refuses_a_register_server_id_it_cannot_announce() {
        let camera = Camera::new(CameraConfig {
            firmware: Firmware::Legacy2010,
            ..CameraConfig::new("cam1", "admin", "pw")
        });
        let mut dvrip = camera.get_config(DVRIP).expect("DVRIP");
        dvrip["RegisterServer"]["Enable"] = json!(true);
        dvrip["RegisterServer"]["DeviceID"] = json!("z".repeat(48));
        let error = camera.set_config(DVRIP, dvrip).expect_err("refused");
        assert!(error.contains("at most 47"), "{error}");
    }

    #[test]
    fn counters_report_tries_left_and_refusals_without_spending_a_try() {
        let camera = Camera::new(CameraConfig {
            max_login_tries: 3,
            ..CameraConfig::new("cam1", "admin", "pw")
        });
        assert_eq!((camera.tries_left(), camera.refused_logins()), (3, 0));
        camera.check_login(true, false);
        assert_eq!((camera.tries_left(), camera.refused_logins()), (2, 1));
        assert_eq!((camera.tries_left(), camera.refused_logins()), (2, 1));
        assert_eq!(camera.locked_for(), None);
        camera.check_login(true, false);
        camera.check_login(true, false);
        assert_eq!((camera.tries_left(), camera.refused_logins()), (0, 3));
        assert!(camera.locked_for().is_some());
        camera.check_login(true, true);
        assert_eq!(
            camera.refused_logins(),
            4,
            "a refusal while locked counts too"
        );
    }

    #[test]
    fn wrong_logins_count_down_then_lock() {
        let camera = Camera::new(CameraConfig {
            max_login_tries: 3,
            ..CameraConfig::new("cam1", "admin", "pw")
        });
        assert_eq!(
            camera.check_login(true, false),
            LoginCheck::Refused { tries_left: 2 }
        );
        assert_eq!(camera.check_login(true, true), LoginCheck::Ok);
        assert_eq!(
            camera.check_login(true, false),
            LoginCheck::Refused { tries_left: 2 }
        );
        assert_eq!(
            camera.check_login(false, true),
            LoginCheck::Refused { tries_left: 1 }
        );
        assert!(matches!(
            camera.check_login(true, false),
            LoginCheck::Locked { .. }
        ));
        assert!(matches!(
            camera.check_login(true, true),
            LoginCheck::Locked { .. }
        ));
    }
}
