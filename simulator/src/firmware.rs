//! Firmware profiles: which logins, framings and features a simulated camera offers, on its
//! registration socket and on a direct connection.
//!
//! The evidence (`reference/dahua-protocol-2.md`) says what the vendor's platform sends after
//! the announcement (a DVRIP login, §1.3, §6 item 5) but not what a registering camera does
//! with DHIP there (§1d: unknown). The profiles cover the readings a platform must survive:
//!
//! | Profile | Registration socket | Direct connection |
//! |---|---|---|
//! | `dvrip-only` (default) | DVRIP logins; DHIP frames get no answer | DVRIP and DHIP |
//! | `dvrip+dhip` | both | both |
//! | `dhip-only` | DHIP; DVRIP login packets get no answer | both |
//! | `legacy-2010` | DVRIP protocol 6 only: 3DES or plain login, no realm, no JSON | the same |

use std::fmt;
use std::str::FromStr;

use homeport_protocol::dvrip::packet::{ANNOUNCED_ID_LEN, MAX_DEVICE_ID, PORTABLE_DEVICE_ID};
use homeport_protocol::dvrip::{DvripPacket, PacketError};

/// Which socket a session is on: the camera treats them differently per firmware.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Link {
    /// The connection the camera dialled to its register server and announced itself on.
    Register,
    /// A connection a client opened to the camera's service port (37777).
    Direct,
}

/// Body size of a 2010-era announcement: the SDK's 48-byte `DEV_SERIAL_NUM_LEN` field.
pub const LEGACY_ANNOUNCED_ID_LEN: usize = 48;

/// A firmware generation, as far as the platform can tell it apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Firmware {
    /// Current firmware as the vendor's platform meets it: protocol 7, the DVRIP realm login
    /// (and the old plain login), `f6` JSON, `f4` text RPC, legacy alarms and the DVRIP
    /// snapshot. DHIP is answered only on a direct connection, and its JSON RPC has no
    /// `snapManager.snapPicture`.
    #[default]
    DvripOnly,
    /// Everything on every socket: both logins, the JSON and the DVRIP snapshot.
    DvripDhip,
    /// DHIP on the registration socket (DVRIP login packets there get no answer); both on a
    /// direct connection.
    DhipOnly,
    /// The 2010 SDK's generation: protocol version 6 (byte 3 of replies `0x68`), IDs of at
    /// most 47 bytes in a 48-byte announcement, a 3DES or plain login with no realm, no DHIP
    /// and no `f6` JSON; alarms only as `68`/`69`, snapshots only over DVRIP.
    Legacy2010,
}

/// Why a camera cannot announce an ID.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum FirmwareError {
    /// The ID is longer than this firmware announces.
    #[error(
        "device ID {id:?} is {len} bytes; {firmware} firmware announces at most {max} \
         (the 2010 SDK keeps 48 characters with the NUL)"
    )]
    IdTooLong {
        /// The ID.
        id: String,
        /// Its length in bytes.
        len: usize,
        /// The profile.
        firmware: Firmware,
        /// The longest ID it announces.
        max: usize,
    },
    /// The ID cannot be announced at all (empty, control characters, over 63 bytes).
    #[error("device ID {id:?} cannot be announced: {reason}")]
    BadId {
        /// The ID.
        id: String,
        /// What the protocol crate says.
        reason: PacketError,
    },
}

impl Firmware {
    /// Every profile, in the order the CLI lists them.
    pub const ALL: [Firmware; 4] = [
        Firmware::DvripOnly,
        Firmware::DvripDhip,
        Firmware::DhipOnly,
        Firmware::Legacy2010,
    ];

    /// The CLI name.
    pub fn name(self) -> &'static str {
        match self {
            Firmware::DvripOnly => "dvrip-only",
            Firmware::DvripDhip => "dvrip+dhip",
            Firmware::DhipOnly => "dhip-only",
            Firmware::Legacy2010 => "legacy-2010",
        }
    }

    /// The protocol version in the high nibble of byte 3 of every DVRIP reply.
    pub fn protocol_version(self) -> u8 {
        match self {
            Firmware::Legacy2010 => 6,
            _ => 7,
        }
    }

    /// Whether DHIP frames are answered on `link`.
    pub fn speaks_dhip(self, link: Link) -> bool {
        match self {
            Firmware::DvripOnly => link == Link::Direct,
            Firmware::DvripDhip | Firmware::DhipOnly => true,
            Firmware::Legacy2010 => false,
        }
    }

    /// Whether DVRIP login packets (opening, hash login, plain login) are answered on `link`.
    pub fn speaks_dvrip_login(self, link: Link) -> bool {
        !(self == Firmware::DhipOnly && link == Link::Register)
    }

    /// Whether JSON-RPC travels in `f6` packets.
    pub fn speaks_f6_json(self) -> bool {
        self != Firmware::Legacy2010
    }

    /// Whether a login opening gets the realm challenge (otherwise it is the 3DES login).
    pub fn has_realm_login(self) -> bool {
        self != Firmware::Legacy2010
    }

    /// Whether the JSON RPC has `snapManager.snapPicture`.
    pub fn has_json_snapshot(self) -> bool {
        matches!(self, Firmware::DvripDhip | Firmware::DhipOnly)
    }

    /// The longest device ID this firmware announces.
    pub fn max_device_id(self) -> usize {
        match self {
            Firmware::Legacy2010 => PORTABLE_DEVICE_ID,
            _ => MAX_DEVICE_ID,
        }
    }

    /// Checks that `id` can be announced by this firmware.
    pub fn check_id(self, id: &str) -> Result<(), FirmwareError> {
        self.announcement(id).map(|_| ())
    }

    /// The announcement of `id`: a 64-byte ID field, 48 bytes for 2010 firmware.
    pub fn announcement(self, id: &str) -> Result<DvripPacket, FirmwareError> {
        let max = self.max_device_id();
        if id.len() > max && max < MAX_DEVICE_ID {
            return Err(FirmwareError::IdTooLong {
                id: id.to_owned(),
                len: id.len(),
                firmware: self,
                max,
            });
        }
        let field = match self {
            Firmware::Legacy2010 => LEGACY_ANNOUNCED_ID_LEN,
            _ => ANNOUNCED_ID_LEN,
        };
        DvripPacket::announcement_sized(id, field).map_err(|reason| FirmwareError::BadId {
            id: id.to_owned(),
            reason,
        })
    }
}

impl fmt::Display for Firmware {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Firmware {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        crate::parse_name("firmware", &Firmware::ALL, Firmware::name, s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back_and_a_bad_name_lists_the_good_ones() {
        for firmware in Firmware::ALL {
            assert_eq!(firmware.to_string().parse::<Firmware>(), Ok(firmware));
        }
        let error = "dvrip".parse::<Firmware>().expect_err("unknown");
        for name in ["dvrip-only", "dvrip+dhip", "dhip-only", "legacy-2010"] {
            assert!(error.contains(name), "{error}");
        }
        assert_eq!(Firmware::default(), Firmware::DvripOnly);
    }

    #[test]
    fn each_profile_answers_dhip_and_dvrip_logins_where_it_should() {
        use Link::{Direct, Register};
        // Per profile in `ALL` order: (registration socket, direct connection).
        let answers = |speaks: fn(Firmware, Link) -> bool| -> Vec<_> {
            Firmware::ALL
                .iter()
                .map(|&f| (speaks(f, Register), speaks(f, Direct)))
                .collect()
        };
        assert_eq!(
            answers(Firmware::speaks_dhip),
            [(false, true), (true, true), (true, true), (false, false)]
        );
        assert_eq!(
            answers(Firmware::speaks_dvrip_login),
            [(true, true), (true, true), (false, true), (true, true)]
        );
    }

    #[test]
    fn legacy_firmware_announces_48_bytes_and_refuses_ids_over_47() {
        let frame = Firmware::Legacy2010
            .announcement(&"a".repeat(47))
            .expect("47 bytes fit")
            .to_frame();
        assert_eq!(frame.body.len(), LEGACY_ANNOUNCED_ID_LEN);
        assert_eq!(frame.body[46], b'a');
        assert_eq!(frame.body[47], 0);
        let error = Firmware::Legacy2010
            .check_id(&"a".repeat(48))
            .expect_err("48 bytes do not fit");
        assert!(error.to_string().contains("at most 47"), "{error}");
        assert!(Firmware::DvripOnly.check_id(&"a".repeat(48)).is_ok());
        let current = Firmware::DvripOnly
            .announcement("cam1")
            .expect("valid")
            .to_frame();
        assert_eq!(current.body.len(), ANNOUNCED_ID_LEN);
        assert!(matches!(
            Firmware::DvripOnly.check_id(&"a".repeat(64)),
            Err(FirmwareError::BadId { .. })
        ));
    }
}
