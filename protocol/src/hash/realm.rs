//! The DVRIP realm login: the `b0` challenge text and the `a0 05` step-3 body, both directions.

use super::default::default_hash;
use super::error::HashError;
use super::md5_hex::md5_upper_hex;
use super::old_digest::old_digest;

/// Longest `b0` challenge body accepted. Real ones are under 100 bytes.
pub const MAX_CHALLENGE_LEN: usize = 512;

/// Longest step-3 body accepted. It is the user name plus 66 bytes; 71 for `admin`.
pub const MAX_LOGIN_BODY_LEN: usize = 512;

/// Length of one uppercase-hex MD5.
const HASH_HEX_LEN: usize = 32;
/// Between the user name and the two hashes.
const SEPARATOR: &[u8] = b"&&";

/// The second hash of the realm login: `UPPERHEX(MD5(user ":" random ":" Gen1(password)))`.
pub fn dvrip_hash(user: &str, password: &str, random: &str) -> String {
    let gen1 = old_digest(password);
    md5_upper_hex(&[
        user.as_bytes(),
        b":",
        random.as_bytes(),
        b":",
        gen1.as_bytes(),
    ])
}

/// The step-3 (`a0 05`) body: `user` + `&&` + Gen2 hash + [`dvrip_hash`], no terminator.
///
/// Devices want both hashes: mcw0 found that one alone is rejected silently.
pub fn login_body(user: &str, password: &str, realm: &str, random: &str) -> String {
    let mut body = String::with_capacity(user.len() + SEPARATOR.len() + 2 * HASH_HEX_LEN);
    body.push_str(user);
    body.push_str("&&");
    body.push_str(&default_hash(user, password, realm, random));
    body.push_str(&dvrip_hash(user, password, random));
    body
}

/// The realm and random a device sends in its `b0` reply to `a0 01`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RealmChallenge {
    realm: String,
    random: String,
}

impl RealmChallenge {
    /// A challenge to send. Both values must be non-empty and free of CR, LF and NUL, which
    /// would end their line early on the wire.
    pub fn new(realm: impl Into<String>, random: impl Into<String>) -> Result<Self, HashError> {
        let (realm, random) = (realm.into(), random.into());
        check_value("Realm", &realm)?;
        check_value("Random", &random)?;
        Ok(Self { realm, random })
    }

    /// Reads a `b0` body: `Realm:…` and `Random:…` lines, in either order.
    ///
    /// Lines may end in CRLF or LF, the body may be NUL-padded, and spaces around keys and
    /// values are dropped, as other clients do. Other `key:value` lines are ignored; a line
    /// without a colon, a repeated field or a missing one is an error.
    pub fn parse(body: &[u8]) -> Result<Self, HashError> {
        const WHAT: &str = "realm challenge";
        if body.len() > MAX_CHALLENGE_LEN {
            return Err(HashError::TooLong {
                what: WHAT,
                len: body.len(),
                max: MAX_CHALLENGE_LEN,
            });
        }
        let text = std::str::from_utf8(trim_trailing_nuls(body))
            .map_err(|_| HashError::NotUtf8 { what: WHAT })?;

        let mut realm = None;
        let mut random = None;
        for (index, line) in text.split('\n').enumerate() {
            let line = line.strip_suffix('\r').unwrap_or(line);
            if line.trim().is_empty() {
                continue;
            }
            let (key, value) = line
                .split_once(':')
                .ok_or(HashError::MalformedLine { line: index + 1 })?;
            let (field, slot) = match key.trim() {
                "Realm" => ("Realm", &mut realm),
                "Random" => ("Random", &mut random),
                _ => continue,
            };
            if slot.is_some() {
                return Err(HashError::DuplicateField(field));
            }
            let value = value.trim();
            check_value(field, value)?;
            *slot = Some(value.to_owned());
        }
        Ok(Self {
            realm: realm.ok_or(HashError::MissingField("Realm"))?,
            random: random.ok_or(HashError::MissingField("Random"))?,
        })
    }

    /// The `b0` body for this challenge as real cameras send it:
    /// `Realm:<realm>\r\nRandom:<random>\r\n\r\n` (a blank line ends it).
    pub fn encode(&self) -> String {
        format!("Realm:{}\r\nRandom:{}\r\n\r\n", self.realm, self.random)
    }

    /// The realm, e.g. `Login to 907F3C6C73FEDA77`.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// The random (nonce): a decimal number on most devices, a UUID on some.
    pub fn random(&self) -> &str {
        &self.random
    }

    /// The step-3 body answering this challenge; see [`login_body`].
    pub fn login_body(&self, user: &str, password: &str) -> String {
        login_body(user, password, &self.realm, &self.random)
    }
}

/// A step-3 body read back by the device side: who logs in and the two hashes they sent.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LoginBody {
    /// The user name, everything before the last `&&`.
    pub user: String,
    /// The Gen2 (`Default`) hash, 32 hex digits as sent.
    pub gen2: String,
    /// The [`dvrip_hash`], 32 hex digits as sent.
    pub dvrip_hash: String,
}

impl LoginBody {
    /// Reads `user&&<32 hex><32 hex>`, tolerating NUL padding after it.
    ///
    /// The hashes are taken from the end, so a user name that itself contains `&&` still
    /// reads right.
    pub fn parse(body: &[u8]) -> Result<Self, HashError> {
        const WHAT: &str = "DVRIP login body";
        if body.len() > MAX_LOGIN_BODY_LEN {
            return Err(HashError::TooLong {
                what: WHAT,
                len: body.len(),
                max: MAX_LOGIN_BODY_LEN,
            });
        }
        let body = trim_trailing_nuls(body);
        let tail_len = SEPARATOR.len() + 2 * HASH_HEX_LEN;
        let Some(user_len) = body.len().checked_sub(tail_len) else {
            return Err(HashError::MalformedLoginBody(
                "shorter than `&&` and two 32-digit hashes",
            ));
        };
        let (user, tail) = body.split_at(user_len);
        let (separator, hashes) = tail.split_at(SEPARATOR.len());
        if separator != SEPARATOR {
            return Err(HashError::MalformedLoginBody(
                "no `&&` before the two hashes",
            ));
        }
        if user.is_empty() {
            return Err(HashError::MalformedLoginBody("empty user name"));
        }
        if !hashes.iter().all(u8::is_ascii_hexdigit) {
            return Err(HashError::MalformedLoginBody("hashes are not hex digits"));
        }
        let user = std::str::from_utf8(user).map_err(|_| HashError::NotUtf8 { what: WHAT })?;
        let (gen2, second) = hashes.split_at(HASH_HEX_LEN);
        Ok(Self {
            user: user.to_owned(),
            gen2: ascii_string(gen2),
            dvrip_hash: ascii_string(second),
        })
    }

    /// Whether both hashes are the ones `password` gives for this challenge. Hex case is
    /// ignored: only the digest matters.
    pub fn matches(&self, password: &str, challenge: &RealmChallenge) -> bool {
        let gen2 = default_hash(&self.user, password, challenge.realm(), challenge.random());
        let second = dvrip_hash(&self.user, password, challenge.random());
        self.gen2.eq_ignore_ascii_case(&gen2) && self.dvrip_hash.eq_ignore_ascii_case(&second)
    }

    /// The body as sent on the wire.
    pub fn encode(&self) -> String {
        format!("{}&&{}{}", self.user, self.gen2, self.dvrip_hash)
    }
}

fn check_value(field: &'static str, value: &str) -> Result<(), HashError> {
    if value.is_empty() || value.contains(['\r', '\n', '\0']) {
        return Err(HashError::InvalidField(field));
    }
    Ok(())
}

/// Bytes already checked to be ASCII (hex digits), as a `String`.
fn ascii_string(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

fn trim_trailing_nuls(bytes: &[u8]) -> &[u8] {
    let end = bytes
        .iter()
        .rposition(|&b| b != 0)
        .map_or(0, |last| last + 1);
    &bytes[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    const REALM: &str = "Login to 907F3C6C73FEDA77";
    const RANDOM: &str = "1f1e4fbc-858a-47c8-8a50-cb9310ad48cb";

    fn f12_challenge() -> RealmChallenge {
        RealmChallenge::new(REALM, RANDOM).expect("F12's realm and random are valid")
    }

    #[test]
    fn dvrip_second_hash_matches_fixture_f12() {
        assert_eq!(
            dvrip_hash("admin", "admin", RANDOM),
            "75B997E3ED7B723105A69F2C28BFD66B"
        );
    }

    #[test]
    fn step_three_body_for_admin_is_71_bytes_of_user_and_both_hashes() {
        let body = login_body("admin", "admin", REALM, RANDOM);
        assert_eq!(body.len(), 71);
        assert_eq!(
            body,
            "admin&&ACA2FCA2D2C540BA451FAF0B4F8A251075B997E3ED7B723105A69F2C28BFD66B"
        );
        assert_eq!(f12_challenge().login_body("admin", "admin"), body);
    }

    #[test]
    fn realm_challenge_parses_crlf_lines() {
        let challenge =
            RealmChallenge::parse(format!("Realm:{REALM}\r\nRandom:{RANDOM}\r\n").as_bytes())
                .expect("a well-formed challenge");
        assert_eq!(challenge.realm(), REALM);
        assert_eq!(challenge.random(), RANDOM);
    }

    #[test]
    fn realm_challenge_tolerates_lf_only_nul_padding_and_no_final_newline() {
        let mut body = format!("Random:1852772904\nRealm:{REALM}").into_bytes();
        body.extend_from_slice(&[0; 16]);
        let challenge = RealmChallenge::parse(&body).expect("LF-only and NUL-padded");
        assert_eq!(challenge.realm(), REALM);
        assert_eq!(challenge.random(), "1852772904");
    }

    #[test]
    fn realm_challenge_ignores_unknown_lines_and_spaces_around_values() {
        let body = b"Realm: Login to ASI1201E \r\nEncrypt:0\r\n\r\nRandom: 29757655\r\n";
        let challenge = RealmChallenge::parse(body).expect("extra line and spaces");
        assert_eq!(challenge.realm(), "Login to ASI1201E");
        assert_eq!(challenge.random(), "29757655");
    }

    #[test]
    fn realm_challenge_round_trips_through_its_encoding() {
        let challenge = f12_challenge();
        let encoded = challenge.encode();
        assert_eq!(encoded, format!("Realm:{REALM}\r\nRandom:{RANDOM}\r\n\r\n"));
        assert_eq!(RealmChallenge::parse(encoded.as_bytes()), Ok(challenge));
    }

    #[test]
    fn realm_challenge_without_either_field_is_rejected() {
        assert_eq!(
            RealmChallenge::parse(b"Random:1\r\n"),
            Err(HashError::MissingField("Realm"))
        );
        assert_eq!(
            RealmChallenge::parse(b"Realm:Login to X\r\n"),
            Err(HashError::MissingField("Random"))
        );
        assert_eq!(
            RealmChallenge::parse(b""),
            Err(HashError::MissingField("Realm"))
        );
        assert_eq!(
            RealmChallenge::parse(&[0; 32]),
            Err(HashError::MissingField("Realm"))
        );
    }

    #[test]
    fn realm_challenge_with_bad_lines_or_values_is_rejected() {
        assert_eq!(
            RealmChallenge::parse(b"Realm:a\r\nRealm:b\r\nRandom:1"),
            Err(HashError::DuplicateField("Realm"))
        );
        assert_eq!(
            RealmChallenge::parse(b"Realm:a\r\ngarbage\r\nRandom:1"),
            Err(HashError::MalformedLine { line: 2 })
        );
        assert_eq!(
            RealmChallenge::parse(b"Realm:\r\nRandom:1"),
            Err(HashError::InvalidField("Realm"))
        );
        assert_eq!(
            RealmChallenge::parse(b"Realm:a\0b\r\nRandom:1"),
            Err(HashError::InvalidField("Realm"))
        );
        assert_eq!(
            RealmChallenge::parse(b"Realm:\xff\r\nRandom:1"),
            Err(HashError::NotUtf8 {
                what: "realm challenge"
            })
        );
    }

    #[test]
    fn realm_challenge_over_the_limit_is_rejected_before_reading() {
        let body = vec![b'x'; MAX_CHALLENGE_LEN + 1];
        assert_eq!(
            RealmChallenge::parse(&body),
            Err(HashError::TooLong {
                what: "realm challenge",
                len: MAX_CHALLENGE_LEN + 1,
                max: MAX_CHALLENGE_LEN,
            })
        );
    }

    #[test]
    fn realm_challenge_refuses_values_that_would_break_its_lines() {
        assert_eq!(
            RealmChallenge::new("Login\r\nRandom:1", "2"),
            Err(HashError::InvalidField("Realm"))
        );
        assert_eq!(
            RealmChallenge::new("Login to X", ""),
            Err(HashError::InvalidField("Random"))
        );
    }

    #[test]
    fn login_body_parses_back_into_user_and_both_hashes() {
        let body = login_body("admin", "admin", REALM, RANDOM);
        let parsed = LoginBody::parse(body.as_bytes()).expect("our own body");
        assert_eq!(parsed.user, "admin");
        assert_eq!(parsed.gen2, "ACA2FCA2D2C540BA451FAF0B4F8A2510");
        assert_eq!(parsed.dvrip_hash, "75B997E3ED7B723105A69F2C28BFD66B");
        assert_eq!(parsed.encode(), body);
    }

    #[test]
    fn login_body_matches_only_the_right_password() {
        let challenge = f12_challenge();
        let body = challenge.login_body("admin", "admin");
        let parsed = LoginBody::parse(body.as_bytes()).expect("our own body");
        assert!(parsed.matches("admin", &challenge));
        assert!(!parsed.matches("admin1", &challenge));
        let other_random = RealmChallenge::new(REALM, "1852772904").expect("valid");
        assert!(!parsed.matches("admin", &other_random));
    }

    #[test]
    fn login_body_with_lowercase_hashes_still_matches() {
        let challenge = f12_challenge();
        let body = challenge.login_body("admin", "admin").to_ascii_lowercase();
        let parsed = LoginBody::parse(body.as_bytes()).expect("lowercase hex is hex");
        assert!(parsed.matches("admin", &challenge));
    }

    #[test]
    fn login_body_user_may_contain_the_separator_and_nul_padding_is_ignored() {
        let mut body = login_body("a&&b", "pw", REALM, RANDOM).into_bytes();
        body.extend_from_slice(&[0; 5]);
        let parsed = LoginBody::parse(&body).expect("hashes are read from the end");
        assert_eq!(parsed.user, "a&&b");
    }

    #[test]
    fn malformed_login_bodies_are_rejected() {
        let good = login_body("admin", "admin", REALM, RANDOM);
        let cases: [(&[u8], &str); 5] = [
            (b"", "shorter than `&&` and two 32-digit hashes"),
            (&good.as_bytes()[..70], "no `&&` before the two hashes"),
            (&good.as_bytes()[5..], "empty user name"),
            (
                b"admin&&ZZA2FCA2D2C540BA451FAF0B4F8A251075B997E3ED7B723105A69F2C28BFD66B",
                "hashes are not hex digits",
            ),
            (
                b"admin##ACA2FCA2D2C540BA451FAF0B4F8A251075B997E3ED7B723105A69F2C28BFD66B",
                "no `&&` before the two hashes",
            ),
        ];
        for (body, reason) in cases {
            assert_eq!(
                LoginBody::parse(body),
                Err(HashError::MalformedLoginBody(reason)),
                "body {:?}",
                String::from_utf8_lossy(body)
            );
        }
        let too_long = vec![b'A'; MAX_LOGIN_BODY_LEN + 1];
        assert!(matches!(
            LoginBody::parse(&too_long),
            Err(HashError::TooLong { .. })
        ));
        let bad_user = b"\xff&&ACA2FCA2D2C540BA451FAF0B4F8A251075B997E3ED7B723105A69F2C28BFD66B";
        assert_eq!(
            LoginBody::parse(bad_user),
            Err(HashError::NotUtf8 {
                what: "DVRIP login body"
            })
        );
    }
}
