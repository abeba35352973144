//! The MQTT sink's settings, the broker URL parser, and the checks run before anything starts.
//!
//! Parse → validate (no I/O) → build: [`MqttConfig::validate`] turns the settings into an
//! [`Endpoint`] or a clear error; reading the CA file happens later, when the sink starts.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use percent_encoding::percent_decode_str;

pub use crate::sink::full_policy::FullPolicy;
use url::{Host, Url};

use super::error::MqttError;
use super::topic::{MAX_TOPIC_LEN, valid_topic};
use crate::secret::Secret;

/// Publishes kept while the broker is away, by default.
pub const DEFAULT_BUFFER: usize = 100_000;
/// Retained states remembered for republishing, by default (one per device and kind).
pub const DEFAULT_MAX_RETAINED: usize = 200_000;
/// Largest payload accepted, by default.
pub const DEFAULT_MAX_PAYLOAD: usize = 1024 * 1024;
/// Largest payload MQTT can carry in one packet, less room for the topic and header.
const PROTOCOL_MAX_PAYLOAD: usize = 268_435_455 - MAX_TOPIC_LEN - 16;
/// Keep-alive interval, by default.
pub const DEFAULT_KEEP_ALIVE: Duration = Duration::from_secs(30);
/// Longest wait between two connection attempts, by default.
pub const DEFAULT_RECONNECT_MAX: Duration = Duration::from_secs(5);
/// How long a clean shutdown may take to deliver what is queued, by default.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);
/// The topic Home Assistant publishes `online` on when it starts (its birth message).
pub const DEFAULT_ANNOUNCE_TOPIC: &str = "homeassistant/status";
/// Port of `mqtt://` when the URL names none.
const MQTT_PORT: u16 = 1883;
/// Port of `mqtts://` when the URL names none.
const MQTTS_PORT: u16 = 8883;

/// Settings of one MQTT sink (one broker connection).
#[derive(Clone)]
pub struct MqttConfig {
    /// Broker URL: `mqtt://[user[:password]@]host[:port]` or `mqtts://…` (ports 1883 and 8883
    /// by default). User and password are percent-decoded. Never logged with the password.
    pub url: String,
    /// MQTT client ID; `homeport-<node>` by default. Two gateways must not share one.
    pub client_id: String,
    /// This gateway's node name: one topic level, used in `homeport/gateway/<node>/status`.
    pub node: String,
    /// Messages kept while the broker is away or slow (waiting plus unacknowledged).
    pub buffer: usize,
    /// What happens to a publish when `buffer` messages are already kept.
    pub when_full: FullPolicy,
    /// MQTT keep-alive: how often an idle connection is pinged (1 s to 65 535 s).
    pub keep_alive: Duration,
    /// PEM file of the CA certificates that sign the broker's certificate (`mqtts://` only);
    /// the system's trusted roots when not given.
    pub ca_file: Option<PathBuf>,
    /// Retained states remembered for republishing after a reconnect.
    pub max_retained: usize,
    /// Largest payload accepted by `publish` and `set_retained`, in bytes.
    pub max_payload: usize,
    /// Longest wait between two connection attempts (the wait doubles from 100 ms up to this).
    pub reconnect_max: Duration,
    /// How long a clean shutdown may spend delivering what is queued before it gives up.
    pub shutdown_timeout: Duration,
    /// A topic whose message `online` makes the gateway announce every device again:
    /// Home Assistant's birth message, [`DEFAULT_ANNOUNCE_TOPIC`] by default. `None`: the
    /// sink subscribes to nothing.
    pub announce_topic: Option<String>,
}

impl fmt::Debug for MqttConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MqttConfig")
            .field("url", &redact_url(&self.url))
            .field("client_id", &self.client_id)
            .field("node", &self.node)
            .field("buffer", &self.buffer)
            .field("when_full", &self.when_full)
            .field("keep_alive", &self.keep_alive)
            .field("ca_file", &self.ca_file)
            .field("max_retained", &self.max_retained)
            .field("max_payload", &self.max_payload)
            .field("reconnect_max", &self.reconnect_max)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .field("announce_topic", &self.announce_topic)
            .finish()
    }
}

impl MqttConfig {
    /// Settings for the broker at `url` with every other field at its default, validated.
    pub fn from_url(url: impl Into<String>, node: impl Into<String>) -> Result<Self, MqttError> {
        let node = node.into();
        let config = Self {
            url: url.into(),
            client_id: format!("homeport-{node}"),
            node,
            buffer: DEFAULT_BUFFER,
            when_full: FullPolicy::default(),
            keep_alive: DEFAULT_KEEP_ALIVE,
            ca_file: None,
            max_retained: DEFAULT_MAX_RETAINED,
            max_payload: DEFAULT_MAX_PAYLOAD,
            reconnect_max: DEFAULT_RECONNECT_MAX,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            announce_topic: Some(DEFAULT_ANNOUNCE_TOPIC.to_owned()),
        };
        config.validate()?;
        Ok(config)
    }

    /// The gateway's status topic: `homeport/gateway/<node>/status`.
    pub fn status_topic(&self) -> String {
        format!("homeport/gateway/{}/status", self.node)
    }

    /// Checks every setting without touching the network or the file system.
    pub fn validate(&self) -> Result<Endpoint, MqttError> {
        let endpoint = parse_url(&self.url)?;
        if self.node.is_empty() || self.node.contains('/') {
            return Err(invalid(
                "node",
                "must be one non-empty topic level (no `/`)",
            ));
        }
        valid_topic(&self.status_topic()).map_err(|err| invalid("node", err.to_string()))?;
        if self.client_id.is_empty()
            || self.client_id.len() > MAX_TOPIC_LEN
            || self.client_id.contains('\0')
        {
            return Err(invalid("client_id", "must be 1 to 65535 bytes without NUL"));
        }
        if self.buffer == 0 {
            return Err(invalid("buffer", "must be at least 1"));
        }
        if self.max_retained == 0 {
            return Err(invalid("max_retained", "must be at least 1"));
        }
        if self.max_payload == 0 || self.max_payload > PROTOCOL_MAX_PAYLOAD {
            return Err(invalid(
                "max_payload",
                format!("must be between 1 and {PROTOCOL_MAX_PAYLOAD} bytes"),
            ));
        }
        if self.keep_alive < Duration::from_secs(1)
            || self.keep_alive > Duration::from_secs(u64::from(u16::MAX))
        {
            return Err(invalid("keep_alive", "must be between 1s and 65535s"));
        }
        // One topic, as the sink would publish to: no wildcards.
        if let Some(topic) = &self.announce_topic {
            valid_topic(topic).map_err(|err| invalid("announce_topic", err.to_string()))?;
        }
        if self.reconnect_max.is_zero() {
            return Err(invalid("reconnect_max", "must be more than zero"));
        }
        if self.ca_file.is_some() && !endpoint.tls {
            return Err(invalid(
                "ca_file",
                "is only used with mqtts:// but the broker URL is mqtt://",
            ));
        }
        Ok(endpoint)
    }
}

/// A validated broker address and login.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// Whether the connection uses TLS (`mqtts://`).
    pub tls: bool,
    /// Host as the connector needs it: a name, an IPv4 address, or `[IPv6]`.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// User name, if the URL has one.
    pub username: Option<String>,
    /// Password, if the URL has one.
    pub password: Option<Secret>,
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.tls { "mqtts" } else { "mqtt" };
        write!(f, "{scheme}://{}:{}", self.host, self.port)
    }
}

fn invalid(field: &'static str, reason: impl Into<String>) -> MqttError {
    MqttError::InvalidConfig {
        field,
        reason: reason.into(),
    }
}

/// Parses and checks a broker URL.
fn parse_url(raw: &str) -> Result<Endpoint, MqttError> {
    let fail = |reason: &str| MqttError::InvalidUrl {
        url: redact_url(raw),
        reason: reason.to_owned(),
    };
    if raw.trim().is_empty() {
        return Err(fail("it is empty"));
    }
    let url = Url::parse(raw).map_err(|err| fail(&err.to_string()))?;
    let tls = match url.scheme() {
        "mqtt" => false,
        "mqtts" => true,
        other => {
            return Err(fail(&format!(
                "the scheme must be mqtt:// or mqtts://, not {other}://"
            )));
        }
    };
    let host = match url.host() {
        None => return Err(fail("it names no broker host")),
        Some(Host::Domain("")) => return Err(fail("it names no broker host")),
        Some(Host::Domain(name)) => name.to_owned(),
        Some(Host::Ipv4(addr)) => addr.to_string(),
        Some(Host::Ipv6(addr)) if tls => {
            return Err(fail(&format!(
                "mqtts:// needs a host name (the certificate is checked against it), not the \
                 IPv6 address {addr}"
            )));
        }
        Some(Host::Ipv6(addr)) => format!("[{addr}]"),
    };
    let port = match url.port() {
        Some(0) => return Err(fail("port 0 is not a broker port")),
        Some(port) => port,
        None if tls => MQTTS_PORT,
        None => MQTT_PORT,
    };
    if !matches!(url.path(), "" | "/") {
        return Err(fail("a broker URL has no path"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(fail(
            "a broker URL has no query or fragment; set options in the configuration",
        ));
    }
    let decode = |part: &str, what: &str| {
        percent_decode_str(part)
            .decode_utf8()
            .map(|text| text.into_owned())
            .map_err(|_| fail(&format!("the {what} is not UTF-8 after percent-decoding")))
    };
    let username = match url.username() {
        "" => None,
        user => Some(decode(user, "user name")?),
    };
    let password = match url.password() {
        None => None,
        Some(_) if username.is_none() => return Err(fail("it has a password but no user name")),
        Some(pass) => Some(Secret::new(decode(pass, "password")?)),
    };
    Ok(Endpoint {
        tls,
        host,
        port,
        username,
        password,
    })
}

/// `raw` with the password of its user info (if any) replaced by `***`, for messages and logs.
///
/// Works on strings that do not parse: everything between `://` and the last `@` is user info.
pub fn redact_url(raw: &str) -> String {
    let (scheme, rest) = match raw.find("://") {
        Some(at) => raw.split_at(at + 3),
        None => ("", raw),
    };
    let Some(at) = rest.rfind('@') else {
        return raw.to_owned();
    };
    let (userinfo, host) = rest.split_at(at);
    match userinfo.find(':') {
        Some(colon) => format!("{scheme}{}:***{host}", &userinfo[..colon]),
        None => raw.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(url: &str) -> Endpoint {
        parse_url(url).unwrap_or_else(|err| panic!("{url}: {err}"))
    }

    fn reason(url: &str) -> String {
        match parse_url(url) {
            Err(MqttError::InvalidUrl { reason, .. }) => reason,
            other => panic!("{url}: expected InvalidUrl, got {other:?}"),
        }
    }

    #[test]
    fn urls_give_host_port_tls_and_login() {
        let plain = endpoint("mqtt://broker.lan");
        assert_eq!(
            (plain.tls, plain.host.as_str(), plain.port),
            (false, "broker.lan", 1883)
        );
        assert!(plain.username.is_none() && plain.password.is_none());

        let tls = endpoint("mqtts://broker.example.com/");
        assert_eq!((tls.tls, tls.port), (true, 8883));

        let login = endpoint("mqtt://ha%40home:p%40ss%3Aw0rd@10.0.0.5:1884");
        assert_eq!(login.host, "10.0.0.5");
        assert_eq!(login.port, 1884);
        assert_eq!(login.username.as_deref(), Some("ha@home"));
        assert_eq!(
            login.password.as_ref().map(Secret::expose),
            Some("p@ss:w0rd")
        );

        let user_only = endpoint("mqtt://gateway@broker");
        assert_eq!(user_only.username.as_deref(), Some("gateway"));
        assert!(user_only.password.is_none());

        assert_eq!(endpoint("mqtt://[::1]:1883").host, "[::1]");
        assert_eq!(
            endpoint("mqtt://broker:1999").to_string(),
            "mqtt://broker:1999"
        );
    }

    #[test]
    fn bad_urls_say_what_is_wrong() {
        assert!(reason("").contains("empty"));
        assert!(
            reason("broker:1883").contains("scheme"),
            "{}",
            reason("broker:1883")
        );
        assert!(reason("http://broker").contains("mqtt:// or mqtts://"));
        assert!(reason("tcp://broker").contains("not tcp://"));
        assert!(reason("mqtt://").contains("no broker host"));
        assert!(reason("mqtt://broker:0").contains("port 0"));
        assert!(reason("mqtt://broker:65536").contains("port"));
        assert!(reason("mqtt://broker:abc").contains("port"));
        assert!(reason("mqtt://broker/topic").contains("no path"));
        assert!(reason("mqtt://broker?client_id=x").contains("no query"));
        assert!(reason("mqtt://:secret@broker").contains("no user name"));
        assert!(reason("mqtts://[::1]").contains("host name"));
    }

    #[test]
    fn passwords_never_show_in_errors_or_debug() {
        for url in [
            "mqtt://user:hunter2@broker:99999",
            "mqtt://user:hunter2@",
            "http://user:hunter2@broker",
            "mqtt://user:hun/ter2@broker",
            "user:hunter2@broker",
        ] {
            let err = parse_url(url).expect_err(url).to_string();
            assert!(!err.contains("hunter2"), "{err}");
            assert!(!err.contains("ter2"), "{err}");
            assert!(err.contains("user:***@"), "{err}");
        }
        let config = MqttConfig::from_url("mqtt://user:hunter2@broker", "gw1").expect("valid");
        let debug = format!("{config:?}");
        assert!(
            !debug.contains("hunter2") && debug.contains("user:***@broker"),
            "{debug}"
        );
        let endpoint = config.validate().expect("valid");
        let debug = format!("{endpoint:?} {endpoint}");
        assert!(!debug.contains("hunter2"), "{debug}");
    }

    #[test]
    fn defaults_and_setting_checks() {
        let config = MqttConfig::from_url("mqtt://broker", "gw-1").expect("valid");
        assert_eq!(config.client_id, "homeport-gw-1");
        assert_eq!(config.buffer, DEFAULT_BUFFER);
        assert_eq!(config.when_full, FullPolicy::Block);
        assert_eq!(config.status_topic(), "homeport/gateway/gw-1/status");

        for node in ["", "a/b", "a+", "#"] {
            let err = MqttConfig::from_url("mqtt://broker", node).expect_err(node);
            assert!(
                matches!(err, MqttError::InvalidConfig { field: "node", .. }),
                "{err}"
            );
        }
        let check = |edit: fn(&mut MqttConfig), field: &str| {
            let mut config = MqttConfig::from_url("mqtt://broker", "gw").expect("valid");
            edit(&mut config);
            match config.validate() {
                Err(MqttError::InvalidConfig { field: got, .. }) => assert_eq!(got, field),
                other => panic!("{field}: {other:?}"),
            }
        };
        check(|c| c.buffer = 0, "buffer");
        check(|c| c.client_id.clear(), "client_id");
        check(|c| c.keep_alive = Duration::from_millis(500), "keep_alive");
        check(|c| c.max_retained = 0, "max_retained");
        check(|c| c.max_payload = 0, "max_payload");
        check(|c| c.reconnect_max = Duration::ZERO, "reconnect_max");
        check(|c| c.ca_file = Some("/etc/ca.pem".into()), "ca_file");
        check(
            |c| c.announce_topic = Some("homeassistant/#".into()),
            "announce_topic",
        );
        check(|c| c.announce_topic = Some(String::new()), "announce_topic");
        assert_eq!(
            config.announce_topic.as_deref(),
            Some(DEFAULT_ANNOUNCE_TOPIC)
        );
    }

    #[test]
    fn full_policy_reads_snake_case() {
        let policy: FullPolicy = serde_json::from_str("\"drop_newest\"").expect("parses");
        assert_eq!(policy, FullPolicy::DropNewest);
    }
}
