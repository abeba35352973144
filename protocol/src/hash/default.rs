//! The DHIP `global.login` step-2 password: the `Default` (Gen2) hash and the other `encryption` modes.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::base64;
use super::error::HashError;
use super::md5_hex::md5_upper_hex;
use super::old_digest::old_digest;

/// The first `Default` digest: `UPPERHEX(MD5(user ":" realm ":" password))`.
///
/// It does not depend on the random, so a device can store it instead of the password.
pub fn ha1(user: &str, realm: &str, password: &str) -> String {
    md5_upper_hex(&[
        user.as_bytes(),
        b":",
        realm.as_bytes(),
        b":",
        password.as_bytes(),
    ])
}

/// The `Default` (Gen2) login hash: `UPPERHEX(MD5(user ":" random ":" HA1))`, with
/// `HA1 = ha1(user, realm, password)`.
///
/// `realm` and `random` are the strings of the login challenge, used exactly as received.
pub fn default_hash(user: &str, password: &str, realm: &str, random: &str) -> String {
    let ha1 = ha1(user, realm, password);
    md5_upper_hex(&[
        user.as_bytes(),
        b":",
        random.as_bytes(),
        b":",
        ha1.as_bytes(),
    ])
}

/// The `encryption` a login challenge asks for: how the step-2 `password` is made.
///
/// Serialized as the challenge's string, so it can sit in a challenge's params struct as is.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum Encryption {
    /// `Default`: the two-step MD5 of [`default_hash`].
    Default,
    /// `OldDigest`: the 8-character Gen1 hash of the password alone.
    OldDigest,
    /// `Plain`: the password in clear text.
    Plain,
    /// `Basic`: base64 of `user:password`.
    Basic,
    /// Any other value (`Onvif`, `2DCode`, `Ushield`, …), kept as received.
    Other(String),
}

impl Encryption {
    /// Reads the challenge's `encryption` string. Names are case-sensitive, as devices send
    /// them; anything unknown becomes [`Encryption::Other`].
    pub fn parse(value: &str) -> Self {
        match value {
            "Default" => Self::Default,
            "OldDigest" => Self::OldDigest,
            "Plain" => Self::Plain,
            "Basic" => Self::Basic,
            other => Self::Other(other.to_owned()),
        }
    }

    /// The name as it appears on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Default => "Default",
            Self::OldDigest => "OldDigest",
            Self::Plain => "Plain",
            Self::Basic => "Basic",
            Self::Other(other) => other,
        }
    }
}

impl From<&str> for Encryption {
    fn from(value: &str) -> Self {
        Self::parse(value)
    }
}

impl From<String> for Encryption {
    fn from(value: String) -> Self {
        Self::parse(&value)
    }
}

impl From<Encryption> for String {
    fn from(value: Encryption) -> Self {
        match value {
            Encryption::Other(other) => other,
            known => known.as_str().to_owned(),
        }
    }
}

impl fmt::Display for Encryption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a client puts in step 2 of `global.login` for the challenge's `encryption`:
/// the `password` field, and the value for `passwordType` / `authorityType`.
///
/// `realm` and `random` only matter for [`Encryption::Default`]. Fails with
/// [`HashError::UnsupportedEncryption`] for [`Encryption::Other`], naming the mode, so the
/// caller can report which device wants what.
pub fn password_for(
    encryption: &Encryption,
    user: &str,
    password: &str,
    realm: &str,
    random: &str,
) -> Result<(String, &'static str), HashError> {
    match encryption {
        Encryption::Default => Ok((default_hash(user, password, realm, random), "Default")),
        Encryption::OldDigest => Ok((old_digest(password), "OldDigest")),
        Encryption::Plain => Ok((password.to_owned(), "Plain")),
        Encryption::Basic => {
            let credentials = format!("{user}:{password}");
            Ok((base64::encode(credentials.as_bytes()), "Basic"))
        }
        Encryption::Other(other) => Err(HashError::UnsupportedEncryption(other.clone())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REALM: &str = "Login to 907F3C6C73FEDA77";
    const RANDOM: &str = "1f1e4fbc-858a-47c8-8a50-cb9310ad48cb";

    #[test]
    fn ha1_matches_fixture_f12() {
        assert_eq!(
            ha1("admin", REALM, "admin"),
            "36EABD301A1E820D46A4D351F97D7AB0"
        );
    }

    #[test]
    fn default_hash_matches_fixture_f12() {
        assert_eq!(
            default_hash("admin", "admin", REALM, RANDOM),
            "ACA2FCA2D2C540BA451FAF0B4F8A2510"
        );
    }

    #[test]
    fn every_known_encryption_name_round_trips_and_unknown_ones_are_kept() {
        for name in ["Default", "OldDigest", "Plain", "Basic", "Onvif", ""] {
            let encryption = Encryption::parse(name);
            assert_eq!(encryption.as_str(), name);
            assert_eq!(String::from(encryption.clone()), name);
            assert_eq!(encryption.to_string(), name);
        }
        assert_eq!(
            Encryption::parse("Onvif"),
            Encryption::Other("Onvif".to_owned())
        );
        assert_eq!(
            Encryption::parse("default"),
            Encryption::Other("default".to_owned())
        );
    }

    #[test]
    fn encryption_serializes_as_the_challenge_string() {
        let parsed: Encryption = serde_json::from_str("\"OldDigest\"").expect("a JSON string");
        assert_eq!(parsed, Encryption::OldDigest);
        let other: Encryption = serde_json::from_str("\"2DCode\"").expect("a JSON string");
        assert_eq!(other, Encryption::Other("2DCode".to_owned()));
        assert_eq!(
            serde_json::to_string(&Encryption::Default).expect("serializable"),
            "\"Default\""
        );
    }

    #[test]
    fn default_encryption_sends_the_gen2_hash() {
        let sent = password_for(&Encryption::Default, "admin", "admin", REALM, RANDOM);
        assert_eq!(
            sent,
            Ok(("ACA2FCA2D2C540BA451FAF0B4F8A2510".to_owned(), "Default"))
        );
    }

    #[test]
    fn old_digest_encryption_sends_the_gen1_hash() {
        let sent = password_for(&Encryption::OldDigest, "admin", "admin", REALM, RANDOM);
        assert_eq!(sent, Ok(("6QNMIQGe".to_owned(), "OldDigest")));
    }

    #[test]
    fn plain_encryption_sends_the_password_in_clear() {
        let sent = password_for(&Encryption::Plain, "admin", "s3cret", REALM, RANDOM);
        assert_eq!(sent, Ok(("s3cret".to_owned(), "Plain")));
    }

    #[test]
    fn basic_encryption_sends_base64_of_user_and_password() {
        let sent = password_for(&Encryption::Basic, "admin", "admin", REALM, RANDOM);
        assert_eq!(sent, Ok(("YWRtaW46YWRtaW4=".to_owned(), "Basic")));
    }

    #[test]
    fn unsupported_encryption_is_an_error_that_names_it() {
        let encryption = Encryption::parse("Ushield");
        let err = password_for(&encryption, "admin", "admin", REALM, RANDOM)
            .expect_err("Ushield is not implemented");
        assert_eq!(err, HashError::UnsupportedEncryption("Ushield".to_owned()));
        assert!(err.to_string().contains("Ushield"));
    }
}
