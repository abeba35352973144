//! `global.login` in two steps.
//!
//! Step 1 sends the user name with an empty password and session 0; the device answers with
//! error [`super::codes::LOGIN_CHALLENGE`], a session id, and `realm`/`random`/`encryption`.
//! Step 2 repeats the call with that session and the hash (see [`crate::hash`]); the device
//! answers `result:true` with `keepAliveInterval`, or [`super::codes::BAD_PASSWORD`] with the
//! remaining tries.

use serde::{Deserialize, Serialize};

/// Params of `global.login`, both steps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoginParams {
    /// User name.
    pub user_name: String,
    /// Empty in step 1; the hash (or clear text, per `passwordType`) in step 2.
    #[serde(default)]
    pub password: String,
    /// Client kind (`""`, `Web3.0`, …).
    #[serde(default)]
    pub client_type: String,
    /// The client's address as it sees it (`127.0.0.1`, `(null)`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_addr: Option<String>,
    /// Always `Direct` in public captures.
    #[serde(default)]
    pub login_type: String,
    /// Step 2: the hash kind (`Default`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authority_type: Option<String>,
    /// Step 2: the password kind (`Default`, `Plain`, `OldDigest`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_type: Option<String>,
    /// Step 2: sent empty by some clients.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authority_info: Option<String>,
    /// Transport encryption wish (`None`, `SSL`); capitalised on the wire.
    #[serde(
        rename = "Encryption",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub encryption: Option<String>,
}

impl LoginParams {
    /// Step 1: ask for the challenge.
    pub fn challenge_request(user: &str) -> Self {
        Self {
            user_name: user.to_owned(),
            password: String::new(),
            client_type: String::new(),
            ip_addr: Some("127.0.0.1".to_owned()),
            login_type: "Direct".to_owned(),
            authority_type: None,
            password_type: None,
            authority_info: None,
            encryption: Some("None".to_owned()),
        }
    }

    /// Step 2: answer the challenge with `password` of kind `kind` (`Default`, …).
    pub fn answer(user: &str, password: String, kind: &str) -> Self {
        Self {
            password,
            authority_type: Some(kind.to_owned()),
            password_type: Some(kind.to_owned()),
            authority_info: Some(String::new()),
            encryption: None,
            ..Self::challenge_request(user)
        }
    }

    /// Whether this is step 1 (no password yet).
    pub fn is_challenge_request(&self) -> bool {
        self.password.is_empty() && self.authority_type.is_none()
    }
}

/// Params of the step-1 reply: what the client hashes with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChallengeParams {
    /// e.g. `Login to 907F3C6C73FEDA77`.
    pub realm: String,
    /// A UUID or a decimal string.
    pub random: String,
    /// The hash to use: `Default`, `OldDigest`, `Plain`, `Basic`, …
    pub encryption: String,
}

/// Params of a successful step-2 reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoginOkParams {
    /// Seconds between keepalives the device expects (60 in every public capture).
    pub keep_alive_interval: u32,
}

/// Params of a refused step-2 reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoginRefusedParams {
    /// Seconds until the lock lifts (0 when not locked).
    #[serde(default)]
    pub remain_lock_second: u32,
    /// Attempts left before the account locks.
    #[serde(default)]
    pub remain_login_times: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_one_has_the_public_field_names() {
        let json =
            serde_json::to_value(LoginParams::challenge_request("admin")).expect("serialises");
        assert_eq!(json["userName"], "admin");
        assert_eq!(json["loginType"], "Direct");
        assert_eq!(json["Encryption"], "None");
        assert!(json.get("authorityType").is_none());
    }

    #[test]
    fn step_two_is_not_a_challenge_request() {
        let params = LoginParams::answer("admin", "ABC".to_owned(), "Default");
        assert!(!params.is_challenge_request());
        assert!(LoginParams::challenge_request("admin").is_challenge_request());
        let json = serde_json::to_value(&params).expect("serialises");
        assert_eq!(json["authorityType"], "Default");
        assert_eq!(json["passwordType"], "Default");
    }
}
