//! The NATS sink's config: server URLs, JetStream stream, KV bucket, outage buffer; and its
//! validation (no I/O) into what `NatsSink::start` connects with.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use async_nats::ServerAddr;
use serde::Deserialize;

use super::error::NatsError;
use super::subject::{check_bucket_name, check_filter, check_stream_name};
use crate::sink::full_policy::FullPolicy;

/// Largest accepted `buffer`.
const MAX_BUFFER: usize = 1_000_000;

/// How homeport talks to NATS.
///
/// From YAML every field but `url` is optional; `jetstream: null` or `kv_bucket: null` turns
/// that part off. [`NatsConfig::from_url`] gives the same defaults.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatsConfig {
    /// Server URLs, `nats://[user:pass@]host[:port]` (or `tls://`), several separated by commas
    /// for a cluster. A user without a password is sent as a token. All URLs must carry the
    /// same credentials (or none). Never printed: `Debug` and errors show `user:***`.
    pub url: String,
    /// Connection name the server shows for this client.
    #[serde(default = "default_name")]
    pub name: String,
    /// JetStream publishing (`publish_js`); `null` turns it off.
    #[serde(default = "default_jetstream")]
    pub jetstream: Option<JetStreamConfig>,
    /// KV bucket holding each device's last state (`put_state`), created at start when
    /// missing; `null` turns it off.
    #[serde(default = "default_bucket")]
    pub kv_bucket: Option<String>,
    /// Core publishes kept while the server is away (on top of async-nats' own command queue);
    /// when full, [`NatsConfig::when_full`] applies.
    #[serde(default = "default_buffer")]
    pub buffer: usize,
    /// What a core publish does when `buffer` messages are waiting: `block` (the default: the
    /// stage waits for room, so the pipeline and the cameras slow down and nothing is lost) or
    /// `drop_newest` (the publish fails with `BufferFull`, counted). `drop_oldest` is refused.
    #[serde(default)]
    pub when_full: FullPolicy,
}

/// The JetStream stream alarms are stored in.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JetStreamConfig {
    /// Stream name.
    pub stream: String,
    /// Subject filters the stream captures; `publish_js` only accepts subjects they match.
    pub subjects: Vec<String>,
    /// How long the server remembers a `Nats-Msg-Id` to drop duplicates (`2m`).
    #[serde(deserialize_with = "crate::de::duration")]
    pub duplicate_window: Duration,
    /// Create the stream at start, or update it to this config when it exists. When `false`
    /// the stream must already exist and its own subjects are used.
    pub create: bool,
    /// How long one publish attempt waits for the server's ack before it is retried (`2s`).
    #[serde(deserialize_with = "crate::de::duration")]
    pub ack_timeout: Duration,
}

impl Default for JetStreamConfig {
    fn default() -> Self {
        Self {
            stream: "HOMEPORT".to_owned(),
            subjects: vec!["homeport.>".to_owned()],
            duplicate_window: Duration::from_secs(120),
            create: true,
            ack_timeout: Duration::from_secs(2),
        }
    }
}

impl NatsConfig {
    /// The defaults for one URL list: JetStream on stream `HOMEPORT` (`homeport.>`), KV bucket
    /// `homeport_devices`, 10 000 buffered publishes.
    pub fn from_url(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            name: default_name(),
            jetstream: default_jetstream(),
            kv_bucket: default_bucket(),
            buffer: default_buffer(),
            when_full: FullPolicy::default(),
        }
    }

    /// Checks every field without touching the network.
    pub fn validate(&self) -> Result<(), NatsError> {
        self.validated().map(drop)
    }

    /// Checks every field and splits the URL list into addresses and credentials.
    pub(crate) fn validated(&self) -> Result<Validated, NatsError> {
        let (servers, auth) = parse_urls(&self.url)?;
        if self.name.trim().is_empty() {
            return Err(invalid("name", "empty connection name"));
        }
        if self.buffer == 0 || self.buffer > MAX_BUFFER {
            return Err(invalid(
                "buffer",
                format!("{} is outside 1..={MAX_BUFFER}", self.buffer),
            ));
        }
        if self.when_full == FullPolicy::DropOldest {
            return Err(invalid(
                "when_full",
                "drop_oldest is not available for NATS core publishes: use block or drop_newest",
            ));
        }
        if let Some(js) = &self.jetstream {
            check_stream_name(&js.stream).map_err(|e| invalid("jetstream.stream", e))?;
            if js.subjects.is_empty() {
                return Err(invalid("jetstream.subjects", "no subjects"));
            }
            for filter in &js.subjects {
                check_filter(filter)
                    .map_err(|e| invalid("jetstream.subjects", format!("{filter:?}: {e}")))?;
            }
            if js.duplicate_window.is_zero() {
                return Err(invalid(
                    "jetstream.duplicate_window",
                    "zero turns de-duplication off",
                ));
            }
            if js.ack_timeout < Duration::from_millis(10) {
                return Err(invalid("jetstream.ack_timeout", "shorter than 10ms"));
            }
        }
        if let Some(bucket) = &self.kv_bucket {
            check_bucket_name(bucket)
                .map_err(|e| invalid("kv_bucket", format!("{bucket:?}: {e}")))?;
        }
        Ok(Validated {
            servers,
            auth,
            shown: redact(&self.url),
        })
    }

    /// The URL list with passwords and tokens replaced by `***`.
    pub fn redacted_url(&self) -> String {
        redact(&self.url)
    }
}

impl fmt::Debug for NatsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NatsConfig")
            .field("url", &redact(&self.url))
            .field("name", &self.name)
            .field("jetstream", &self.jetstream)
            .field("kv_bucket", &self.kv_bucket)
            .field("buffer", &self.buffer)
            .field("when_full", &self.when_full)
            .finish()
    }
}

/// A config that passed validation.
pub(crate) struct Validated {
    /// Addresses without credentials (async-nats logs addresses at debug level).
    pub(crate) servers: Vec<ServerAddr>,
    /// The credentials from the URLs.
    pub(crate) auth: Auth,
    /// The URL list for messages, redacted.
    pub(crate) shown: String,
}

/// Credentials carried by the URLs.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Auth {
    None,
    Token(String),
    UserPassword(String, String),
}

fn parse_urls(list: &str) -> Result<(Vec<ServerAddr>, Auth), NatsError> {
    let mut servers = Vec::new();
    let mut auth: Option<Auth> = None;
    for part in list.split(',').map(str::trim) {
        let bad = |reason: String| NatsError::InvalidUrl {
            url: redact(part),
            reason,
        };
        if part.is_empty() {
            return Err(bad("empty URL in the list".to_owned()));
        }
        let scheme = part.split_once("://").map_or("nats", |(scheme, _)| scheme);
        if !matches!(scheme, "nats" | "tls") {
            return Err(bad(format!(
                "scheme {scheme}:// is not supported (use nats:// or tls://)"
            )));
        }
        let addr = ServerAddr::from_str(part).map_err(|e| bad(e.to_string()))?;
        if addr.host().is_empty() {
            return Err(bad("no host".to_owned()));
        }
        let this_auth = match (addr.username(), addr.password()) {
            (None, _) => Auth::None,
            (Some(user), None) => Auth::Token(percent_decode(user)),
            (Some(user), Some(pass)) => {
                Auth::UserPassword(percent_decode(user), percent_decode(pass))
            }
        };
        match &auth {
            Some(first) if *first != this_auth => {
                return Err(bad(
                    "every URL in the list must carry the same credentials".to_owned()
                ));
            }
            _ => auth = Some(this_auth),
        }
        let mut url = addr.into_inner();
        // Neither setter fails on a nats:// or tls:// URL with a host.
        let _ = url.set_username("");
        let _ = url.set_password(None);
        servers.push(ServerAddr::from_url(url).map_err(|e| bad(e.to_string()))?);
    }
    Ok((servers, auth.unwrap_or(Auth::None)))
}

/// Replaces the password (or the token) of every URL in a comma-separated list by `***`.
/// Works on text, so even a URL that does not parse is shown safely.
pub(crate) fn redact(list: &str) -> String {
    list.split(',')
        .map(|part| {
            let (scheme, rest) = match part.split_once("://") {
                Some((scheme, rest)) => (Some(scheme), rest),
                None => (None, part),
            };
            let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            let (authority, tail) = rest.split_at(end);
            let Some(at) = authority.rfind('@') else {
                return part.to_owned();
            };
            let userinfo = match authority[..at].split_once(':') {
                Some((user, _)) => format!("{user}:***"),
                None => "***".to_owned(),
            };
            let host = &authority[at + 1..];
            match scheme {
                Some(scheme) => format!("{scheme}://{userinfo}@{host}{tail}"),
                None => format!("{userinfo}@{host}{tail}"),
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Decodes `%XX` escapes in URL user info (a password may hold `@` or `:`).
fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

fn invalid(field: &'static str, reason: impl Into<String>) -> NatsError {
    NatsError::InvalidConfig {
        field,
        reason: reason.into(),
    }
}

fn default_name() -> String {
    "homeport".to_owned()
}

#[expect(
    clippy::unnecessary_wraps,
    reason = "serde default for an Option field"
)]
fn default_jetstream() -> Option<JetStreamConfig> {
    Some(JetStreamConfig::default())
}

#[expect(
    clippy::unnecessary_wraps,
    reason = "serde default for an Option field"
)]
fn default_bucket() -> Option<String> {
    Some("homeport_devices".to_owned())
}

fn default_buffer() -> usize {
    10_000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_url_enables_jetstream_and_kv_with_the_documented_defaults() {
        let config = NatsConfig::from_url("nats://127.0.0.1:4222");
        let js = config.jetstream.clone().expect("jetstream on");
        assert_eq!(js.stream, "HOMEPORT");
        assert_eq!(js.subjects, ["homeport.>"]);
        assert_eq!(js.duplicate_window, Duration::from_secs(120));
        assert!(js.create);
        assert_eq!(config.kv_bucket.as_deref(), Some("homeport_devices"));
        config.validate().expect("valid");
    }

    #[test]
    fn passwords_and_tokens_never_show() {
        let config = NatsConfig::from_url("nats://alice:s3cret@h1:4222, nats://alice:s3cret@h2");
        let debug = format!("{config:?}");
        assert!(!debug.contains("s3cret"), "{debug}");
        assert!(debug.contains("alice:***@h1:4222"), "{debug}");
        assert_eq!(redact("nats://tok3n@h"), "nats://***@h");
        assert_eq!(redact("bad url with:pw@x/y"), "bad url with:***@x/y");
        let validated = config.validated().expect("valid");
        assert!(!validated.shown.contains("s3cret"));
        assert!(validated.servers.iter().all(|s| !s.has_user_pass()));
        assert!(validated.auth == Auth::UserPassword("alice".to_owned(), "s3cret".to_owned()));
    }

    #[test]
    fn percent_escapes_in_passwords_are_decoded() {
        let (_, auth) = parse_urls("nats://bob:p%40ss%3Aword@h").expect("parses");
        assert!(auth == Auth::UserPassword("bob".to_owned(), "p@ss:word".to_owned()));
        let (_, auth) = parse_urls("nats://t0ken@h").expect("parses");
        assert!(auth == Auth::Token("t0ken".to_owned()));
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%4"), "%4");
    }

    #[test]
    fn bad_urls_are_named_and_redacted() {
        for (url, needle) in [
            ("http://h:4222", "scheme http"),
            ("ws://h:4222", "scheme ws"),
            ("nats://h1,,nats://h2", "empty URL"),
            ("", "empty URL"),
            ("nats://a:pw1@h1,nats://a:pw2@h2", "same credentials"),
            ("nats://h:99999", "invalid"),
        ] {
            let error = NatsConfig::from_url(url)
                .validate()
                .expect_err(url)
                .to_string();
            assert!(error.contains(needle), "{url}: {error}");
            assert!(!error.contains("pw1") && !error.contains("pw2"), "{error}");
        }
    }

    #[test]
    fn yaml_defaults_nulls_and_unknown_keys() {
        let config: NatsConfig = serde_yaml_ng::from_str(
            "url: nats://h\njetstream:\n  duplicate_window: 5m\n  subjects: ['homeport.*.alarm']\nkv_bucket: null\n",
        )
        .expect("parses");
        let js = config.jetstream.expect("on");
        assert_eq!(js.duplicate_window, Duration::from_secs(300));
        assert_eq!(js.stream, "HOMEPORT");
        assert_eq!(config.kv_bucket, None);
        assert_eq!(config.buffer, 10_000);
        let error = serde_yaml_ng::from_str::<NatsConfig>("url: nats://h\nbufer: 3\n")
            .expect_err("unknown key");
        assert!(error.to_string().contains("bufer"), "{error}");
        let error = serde_yaml_ng::from_str::<NatsConfig>(
            "url: nats://h\njetstream:\n  ack_timeout: soon\n",
        )
        .expect_err("bad duration");
        assert!(error.to_string().contains("bad duration"), "{error}");
    }

    #[test]
    fn bad_fields_name_the_field() {
        let mut config = NatsConfig::from_url("nats://h");
        config.buffer = 0;
        assert!(
            config
                .validate()
                .expect_err("buffer")
                .to_string()
                .contains("buffer")
        );
        let mut config = NatsConfig::from_url("nats://h");
        config.when_full = FullPolicy::DropOldest;
        let error = config.validate().expect_err("drop_oldest").to_string();
        assert!(
            error.contains("when_full") && error.contains("drop_newest"),
            "{error}"
        );
        let config: NatsConfig =
            serde_yaml_ng::from_str("url: nats://h\nwhen_full: drop_newest\n").expect("parses");
        assert_eq!(config.when_full, FullPolicy::DropNewest);
        assert_eq!(
            NatsConfig::from_url("nats://h").when_full,
            FullPolicy::Block,
            "block is the default"
        );
        let mut config = NatsConfig::from_url("nats://h");
        config.kv_bucket = Some("homeport.devices".to_owned());
        assert!(
            config
                .validate()
                .expect_err("bucket")
                .to_string()
                .contains("kv_bucket")
        );
        let mut config = NatsConfig::from_url("nats://h");
        if let Some(js) = config.jetstream.as_mut() {
            js.subjects = vec!["homeport.>.x".to_owned()];
        }
        assert!(
            config
                .validate()
                .expect_err("filter")
                .to_string()
                .contains("jetstream.subjects")
        );
    }
}
