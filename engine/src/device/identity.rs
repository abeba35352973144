//! What a device proved about itself at its first successful login, pinned and checked at
//! every later one: the login realm, the hardware serial number and the device type.
//!
//! An announced ID is only a claim. A stranger who knows an ID can announce it, but cannot
//! show the real camera's realm (checked before homeport sends any hash), nor its serial
//! number (checked right after the login, before any event is taken from the connection).

use std::fmt;

use super::LoginProtocol;

/// A realm with the login it came from: realms are compared only within one login protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinnedRealm {
    /// `dvrip` or `dhip`.
    pub protocol: LoginProtocol,
    /// The realm text, e.g. `Login to 907F3C6C73FEDA77`.
    pub realm: String,
}

impl PinnedRealm {
    /// The stored form: `dvrip:Login to …`.
    pub fn to_stored(&self) -> String {
        format!("{}:{}", self.protocol, self.realm)
    }

    /// Reads the stored form.
    pub fn from_stored(text: &str) -> Option<Self> {
        let (protocol, realm) = text.split_once(':')?;
        Some(Self {
            protocol: protocol.parse().ok()?,
            realm: realm.to_owned(),
        })
    }

    /// Whether `seen`, met in a `protocol` login, contradicts this pin.
    pub fn contradicts(&self, protocol: LoginProtocol, seen: &str) -> bool {
        self.protocol == protocol && self.realm != seen
    }
}

/// A device's pinned identity; `None` fields were not known at the first login.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    /// The login realm.
    pub realm: Option<PinnedRealm>,
    /// The hardware serial number (`magicBox.getSerialNo`, DVRIP info 7).
    pub serial: Option<String>,
    /// The device type (`magicBox.getDeviceType`, DVRIP info 11).
    pub device_type: Option<String>,
}

/// A difference between a pinned identity and what a device showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// `realm`, `serial` or `device type`.
    pub what: &'static str,
    /// What was pinned.
    pub pinned: String,
    /// What the device showed (`(none)` if it did not say).
    pub seen: String,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "identity changed: {} {:?} where {:?} was pinned at the first login; refused (if the camera was replaced, forget its identity: homeport devices forget-identity ID)",
            self.what, self.seen, self.pinned
        )
    }
}

impl Identity {
    /// Whether nothing is pinned.
    pub fn is_empty(&self) -> bool {
        self.realm.is_none() && self.serial.is_none() && self.device_type.is_none()
    }

    /// Checks what a device showed after logging in against this pin. A pinned serial must
    /// be shown again (a device that does not answer cannot prove it); a pinned type is
    /// compared when the device says one.
    pub fn check(&self, serial: Option<&str>, device_type: Option<&str>) -> Result<(), Mismatch> {
        if let Some(pinned) = &self.serial
            && serial != Some(pinned.as_str())
        {
            return Err(Mismatch {
                what: "serial",
                pinned: pinned.clone(),
                seen: serial.unwrap_or("(none)").to_owned(),
            });
        }
        if let (Some(pinned), Some(seen)) = (&self.device_type, device_type)
            && pinned != seen
        {
            return Err(Mismatch {
                what: "device type",
                pinned: pinned.clone(),
                seen: seen.to_owned(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pinned() -> Identity {
        Identity {
            realm: Some(PinnedRealm {
                protocol: LoginProtocol::Dvrip,
                realm: "Login to A".to_owned(),
            }),
            serial: Some("SN1".to_owned()),
            device_type: Some("IPC".to_owned()),
        }
    }

    #[test]
    fn the_serial_must_be_shown_again_and_match() {
        let id = pinned();
        assert_eq!(id.check(Some("SN1"), Some("IPC")), Ok(()));
        assert_eq!(id.check(Some("SN1"), None), Ok(()));
        assert_eq!(
            id.check(Some("SN2"), Some("IPC")).map_err(|m| m.what),
            Err("serial")
        );
        assert_eq!(
            id.check(None, Some("IPC")).map_err(|m| m.what),
            Err("serial")
        );
        assert_eq!(
            id.check(Some("SN1"), Some("NVR")).map_err(|m| m.what),
            Err("device type")
        );
        assert!(Identity::default().check(None, None).is_ok());
    }

    #[test]
    fn realms_are_compared_within_one_login_protocol() {
        let realm = pinned().realm.expect("pinned");
        assert!(realm.contradicts(LoginProtocol::Dvrip, "Login to B"));
        assert!(!realm.contradicts(LoginProtocol::Dvrip, "Login to A"));
        assert!(!realm.contradicts(LoginProtocol::Dhip, "Login to B"));
        assert_eq!(PinnedRealm::from_stored(&realm.to_stored()), Some(realm));
        assert_eq!(PinnedRealm::from_stored("nonsense"), None);
    }
}
