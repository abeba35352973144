//! Validation of NATS subjects, JetStream subject filters, stream and bucket names and KV keys.
//!
//! Device IDs come from cameras, so everything that ends up in a subject or a key is checked
//! here before it reaches the wire: a device ID must never add subject tokens, wildcards or a
//! `$`-prefix (system and JetStream API subjects).

use super::error::NatsError;

/// Longest subject, filter or key accepted. NATS has no hard limit, but every external input
/// is bounded and real subjects are far shorter.
pub const MAX_SUBJECT_LEN: usize = 1024;

/// Longest `Nats-Msg-Id` accepted.
pub const MAX_MSG_ID_LEN: usize = 256;

/// Checks a subject we are about to publish to.
///
/// Tokens (separated by `.`) must be non-empty; no whitespace or control characters; no `*` or
/// `>` wildcards (those are for subscribing, never for publishing); not starting with `$`
/// (`$SYS`, `$JS`, `$KV` belong to the server); at most [`MAX_SUBJECT_LEN`] bytes.
pub fn valid_subject(subject: &str) -> Result<(), NatsError> {
    let fail = |reason: &'static str| {
        Err(NatsError::InvalidSubject {
            subject: shorten(subject),
            reason,
        })
    };
    if subject.is_empty() {
        return fail("empty subject");
    }
    if subject.len() > MAX_SUBJECT_LEN {
        return fail("longer than 1024 bytes");
    }
    if subject.starts_with('$') {
        return fail("subjects starting with `$` are reserved for the server");
    }
    if let Some(reason) = bad_chars(subject) {
        return fail(reason);
    }
    for token in subject.split('.') {
        if token.is_empty() {
            return fail("empty token (leading, trailing or doubled `.`)");
        }
        if token.contains(['*', '>']) {
            return fail("wildcards `*` and `>` are not allowed when publishing");
        }
    }
    Ok(())
}

/// Checks a KV key (the device ID for `put_state`).
///
/// Same alphabet as the NATS KV clients: letters, digits and `- / _ = .`; no empty `.`-separated
/// token; at most [`MAX_SUBJECT_LEN`] bytes.
pub fn valid_kv_key(key: &str) -> Result<(), NatsError> {
    let fail = |reason: &'static str| {
        Err(NatsError::InvalidKey {
            key: shorten(key),
            reason,
        })
    };
    if key.is_empty() {
        return fail("empty key");
    }
    if key.len() > MAX_SUBJECT_LEN {
        return fail("longer than 1024 bytes");
    }
    if !key
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-/_=.".contains(&b))
    {
        return fail("only letters, digits and - / _ = . are allowed");
    }
    if key.split('.').any(str::is_empty) {
        return fail("empty token (leading, trailing or doubled `.`)");
    }
    Ok(())
}

/// Checks a `Nats-Msg-Id`: non-empty, printable, no whitespace, bounded.
pub(crate) fn valid_msg_id(id: &str) -> Result<(), NatsError> {
    let fail = |reason: &'static str| {
        Err(NatsError::InvalidMsgId {
            id: shorten(id),
            reason,
        })
    };
    if id.is_empty() {
        return fail("empty message id");
    }
    if id.len() > MAX_MSG_ID_LEN {
        return fail("longer than 256 bytes");
    }
    if let Some(reason) = bad_chars(id) {
        return fail(reason);
    }
    Ok(())
}

/// Checks a stream's subject filter: like a subject, but `*` may stand for a whole token and
/// `>` for the last one. Returns the reason on failure.
pub(crate) fn check_filter(filter: &str) -> Result<(), &'static str> {
    if filter.is_empty() {
        return Err("empty subject filter");
    }
    if filter.len() > MAX_SUBJECT_LEN {
        return Err("longer than 1024 bytes");
    }
    if filter.starts_with('$') {
        return Err("subjects starting with `$` are reserved for the server");
    }
    if let Some(reason) = bad_chars(filter) {
        return Err(reason);
    }
    let tokens: Vec<&str> = filter.split('.').collect();
    for (i, token) in tokens.iter().enumerate() {
        match *token {
            "" => return Err("empty token (leading, trailing or doubled `.`)"),
            "*" => {}
            ">" if i + 1 == tokens.len() => {}
            ">" => return Err("`>` may only be the last token"),
            t if t.contains(['*', '>']) => return Err("`*` and `>` must be whole tokens"),
            _ => {}
        }
    }
    Ok(())
}

/// Whether a (valid, wildcard-free) subject is matched by a (valid) filter.
pub(crate) fn filter_matches(filter: &str, subject: &str) -> bool {
    let mut subject_tokens = subject.split('.');
    for pattern in filter.split('.') {
        if pattern == ">" {
            return subject_tokens.next().is_some();
        }
        match subject_tokens.next() {
            Some(token) if pattern == "*" || pattern == token => {}
            _ => return false,
        }
    }
    subject_tokens.next().is_none()
}

/// Checks a JetStream stream name: non-empty, at most 255 bytes, printable, none of
/// `. * > / \` or whitespace.
pub(crate) fn check_stream_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("empty stream name");
    }
    if name.len() > 255 {
        return Err("longer than 255 bytes");
    }
    if let Some(reason) = bad_chars(name) {
        return Err(reason);
    }
    if name.contains(['.', '*', '>', '/', '\\']) {
        return Err("stream names may not contain . * > / or \\");
    }
    Ok(())
}

/// Checks a KV bucket name: letters, digits, `-` and `_`, at most 250 bytes (the server adds
/// `KV_` to make the stream name).
pub(crate) fn check_bucket_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("empty bucket name");
    }
    if name.len() > 250 {
        return Err("longer than 250 bytes");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err("only letters, digits, - and _ are allowed");
    }
    Ok(())
}

/// Whitespace or control characters: never valid in a subject, name or header value.
fn bad_chars(text: &str) -> Option<&'static str> {
    if text.chars().any(char::is_whitespace) {
        Some("contains whitespace")
    } else if text.chars().any(char::is_control) {
        Some("contains control characters")
    } else {
        None
    }
}

/// A copy of untrusted text short enough for an error message.
fn shorten(text: &str) -> String {
    const KEEP: usize = 120;
    if text.len() <= KEEP {
        return text.to_owned();
    }
    let mut end = KEEP;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &text[..end], text.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_subjects_reject_wildcards_empty_tokens_spaces_and_dollar() {
        assert!(valid_subject("homeport.cam1.alarm").is_ok());
        assert!(valid_subject("homeport.cam-1_x.alarm").is_ok());
        for bad in [
            "",
            "homeport..alarm",
            ".homeport",
            "homeport.",
            "homeport.*.alarm",
            "homeport.>",
            "homeport.ca*m",
            "has space.x",
            "tab\there",
            "new\nline",
            "$SYS.x",
            "$JS.API.INFO",
        ] {
            assert!(valid_subject(bad).is_err(), "{bad:?} should be rejected");
        }
        assert!(valid_subject(&"a".repeat(MAX_SUBJECT_LEN + 1)).is_err());
    }

    #[test]
    fn kv_keys_follow_the_kv_alphabet() {
        for good in ["cam1", "CAM-01", "site/a=b_c", "a.b"] {
            assert!(valid_kv_key(good).is_ok(), "{good:?} should pass");
        }
        for bad in [
            "", ".cam", "cam.", "a..b", "cam 1", "cam*", "cam>", "câm", "$KV",
        ] {
            assert!(valid_kv_key(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn filters_match_like_the_server() {
        assert!(filter_matches("homeport.>", "homeport.cam1.alarm"));
        assert!(filter_matches("homeport.>", "homeport.x"));
        assert!(!filter_matches("homeport.>", "homeport"));
        assert!(!filter_matches("homeport.>", "other.cam1"));
        assert!(filter_matches("homeport.*.alarm", "homeport.cam1.alarm"));
        assert!(!filter_matches("homeport.*.alarm", "homeport.cam1.status"));
        assert!(!filter_matches("homeport.*", "homeport.cam1.alarm"));
        assert!(filter_matches("a.b", "a.b"));
        assert!(!filter_matches("a.b", "a.b.c"));
    }

    #[test]
    fn filters_need_whole_token_wildcards() {
        assert!(check_filter("homeport.>").is_ok());
        assert!(check_filter("homeport.*.alarm").is_ok());
        assert!(check_filter("homeport.>.x").is_err());
        assert!(check_filter("homeport.a*").is_err());
        assert!(check_filter("homeport..x").is_err());
        assert!(check_filter("$KV.x").is_err());
    }

    #[test]
    fn names_and_msg_ids_are_checked() {
        assert!(check_stream_name("HOMEPORT").is_ok());
        assert!(check_stream_name("HOME.PORT").is_err());
        assert!(check_stream_name("").is_err());
        assert!(check_bucket_name("homeport_devices").is_ok());
        assert!(check_bucket_name("homeport.devices").is_err());
        assert!(valid_msg_id("0192b7c4-7d7e-7bb4-9e3c-1f2a3b4c5d6e").is_ok());
        assert!(valid_msg_id("").is_err());
        assert!(valid_msg_id("a\r\nInjected: x").is_err());
    }

    #[test]
    fn long_input_is_shortened_in_errors() {
        let long = "é".repeat(1000);
        let error = valid_kv_key(&long).expect_err("too long").to_string();
        assert!(error.len() < 400, "{error}");
    }
}
