//! Structured log lines in homeport's log; the host adds the pipeline, stage and device.
//!
//! The stage must be granted `log` in the pipeline YAML, and the host rate-limits lines per
//! stage: log what an operator needs, not every event.

use std::fmt;

/// Severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Step-by-step detail.
    Trace,
    /// Detail for debugging a pipeline.
    Debug,
    /// Something worth knowing happened.
    Info,
    /// Something is off, but the plugin carries on.
    Warn,
    /// Something failed.
    Error,
}

impl Level {
    /// The level's name in homeport's log.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Trace => "trace",
            Self::Debug => "debug",
            Self::Info => "info",
            Self::Warn => "warn",
            Self::Error => "error",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Writes one line at `level` with key/value `fields`.
pub fn write(level: Level, message: &str, fields: &[(&str, &str)]) {
    imp::write(level, message, fields);
}

/// Writes a trace line.
pub fn trace(message: &str) {
    write(Level::Trace, message, &[]);
}

/// Writes a debug line.
pub fn debug(message: &str) {
    write(Level::Debug, message, &[]);
}

/// Writes an info line.
pub fn info(message: &str) {
    write(Level::Info, message, &[]);
}

/// Writes a warning.
pub fn warn(message: &str) {
    write(Level::Warn, message, &[]);
}

/// Writes an error line.
pub fn error(message: &str) {
    write(Level::Error, message, &[]);
}

#[cfg(target_arch = "wasm32")]
mod imp {
    use super::Level;
    use crate::bindings::homeport::plugin::log as host;

    pub(super) fn write(level: Level, message: &str, fields: &[(&str, &str)]) {
        let level = match level {
            Level::Trace => host::Level::Trace,
            Level::Debug => host::Level::Debug,
            Level::Info => host::Level::Info,
            Level::Warn => host::Level::Warn,
            Level::Error => host::Level::Error,
        };
        // The generated import takes owned pairs.
        let fields: Vec<(String, String)> = fields
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect();
        host::write(level, message, &fields);
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use super::Level;
    use crate::native;
    use crate::testing::LogLine;

    pub(super) fn write(level: Level, message: &str, fields: &[(&str, &str)]) {
        let line = LogLine {
            level,
            message: message.to_owned(),
            fields: fields
                .iter()
                .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
                .collect(),
        };
        native::with(|host| host.logs.push(line));
    }
}
