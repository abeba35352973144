//! Bounds on what the registry accepts: device IDs, usernames, passwords and states.
//!
//! Checked before any SQLite work so bad input gets a clear [`StoreError::Invalid`] and never a
//! half-applied batch.

use super::StoreError;
use crate::device::LabelChange;

/// Longest device ID in bytes (the DHIP/DVRIP announcement carries at most this many).
pub const MAX_ID_LEN: usize = 63;
/// Longest username in bytes.
pub const MAX_USERNAME_LEN: usize = 64;
/// Longest password in bytes.
pub const MAX_PASSWORD_LEN: usize = 128;
/// Longest state name in bytes (states are the engine's own words, e.g. `login_failed`).
pub const MAX_STATE_LEN: usize = 32;

/// Checks a device ID: 1 to 63 bytes of UTF-8 without control characters.
pub(crate) fn device_id(id: &str) -> Result<(), StoreError> {
    if id.is_empty() {
        return Err(StoreError::Invalid("device ID is empty".to_owned()));
    }
    if id.len() > MAX_ID_LEN {
        return Err(StoreError::Invalid(format!(
            "device ID {} is {} bytes long; the limit is {MAX_ID_LEN}",
            shown(id),
            id.len()
        )));
    }
    if id.chars().any(char::is_control) {
        return Err(StoreError::Invalid(format!(
            "device ID {} contains a control character",
            shown(id)
        )));
    }
    Ok(())
}

/// Checks a username: 1 to 64 bytes without control characters.
pub(crate) fn username(id: &str, username: &str) -> Result<(), StoreError> {
    if username.is_empty() {
        return Err(StoreError::Invalid(format!(
            "device {}: username is empty",
            shown(id)
        )));
    }
    if username.len() > MAX_USERNAME_LEN {
        return Err(StoreError::Invalid(format!(
            "device {}: username is {} bytes long; the limit is {MAX_USERNAME_LEN}",
            shown(id),
            username.len()
        )));
    }
    if username.chars().any(char::is_control) {
        return Err(StoreError::Invalid(format!(
            "device {}: username contains a control character",
            shown(id)
        )));
    }
    Ok(())
}

/// Checks a change of a device's name and tags ([`LabelChange::check`]).
pub(crate) fn labels(id: &str, change: &LabelChange) -> Result<(), StoreError> {
    change
        .check()
        .map_err(|message| StoreError::Invalid(format!("device {}: {message}", shown(id))))
}

/// Checks a password: at most 128 bytes (never echoed in the message).
pub(crate) fn password(id: &str, password: &str) -> Result<(), StoreError> {
    if password.len() > MAX_PASSWORD_LEN {
        return Err(StoreError::Invalid(format!(
            "device {}: password is {} bytes long; the limit is {MAX_PASSWORD_LEN}",
            shown(id),
            password.len()
        )));
    }
    Ok(())
}

/// Checks a state name: 1 to 32 bytes of lower-case ASCII letters, digits and `_`.
pub(crate) fn state(state: &str) -> Result<(), StoreError> {
    let well_formed = !state.is_empty()
        && state.len() <= MAX_STATE_LEN
        && state
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if well_formed {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!(
            "state {} is not 1 to {MAX_STATE_LEN} lower-case letters, digits or '_'",
            shown(state)
        )))
    }
}

/// `value` quoted and escaped for an error message, cut to a readable length.
fn shown(value: &str) -> String {
    const SHOWN_CHARS: usize = 64;
    if value.chars().count() <= SHOWN_CHARS {
        format!("{value:?}")
    } else {
        let head: String = value.chars().take(SHOWN_CHARS).collect();
        format!("{head:?}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(result: Result<(), StoreError>) -> String {
        match result {
            Err(StoreError::Invalid(message)) => message,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn device_ids_of_1_to_63_bytes_are_accepted() {
        assert!(device_id("a").is_ok());
        assert!(device_id(&"x".repeat(63)).is_ok());
        assert!(device_id("カメラ-1 lobby").is_ok());
    }

    #[test]
    fn empty_long_and_control_character_ids_are_refused() {
        assert!(message(device_id("")).contains("empty"));
        let long = message(device_id(&"x".repeat(64)));
        assert!(
            long.contains("64 bytes") && long.contains("limit is 63"),
            "{long}"
        );
        let control = message(device_id("cam\n1"));
        assert!(
            control.contains("\"cam\\n1\""),
            "escaped in the message: {control}"
        );
        assert!(message(device_id(&"x".repeat(500))).contains('…'));
    }

    #[test]
    fn usernames_and_passwords_are_bounded() {
        assert!(username("cam", "admin").is_ok());
        assert!(message(username("cam", "")).contains("username is empty"));
        assert!(message(username("cam", &"u".repeat(65))).contains("limit is 64"));
        assert!(password("cam", "").is_ok());
        assert!(password("cam", &"p".repeat(128)).is_ok());
        let long = message(password("cam", &"p".repeat(129)));
        assert!(
            long.contains("limit is 128") && !long.contains("ppp"),
            "{long}"
        );
    }

    #[test]
    fn states_are_short_lower_case_words() {
        assert!(state("login_failed").is_ok());
        assert!(state("").is_err());
        assert!(state("Online").is_err());
        assert!(state(&"a".repeat(33)).is_err());
    }
}
