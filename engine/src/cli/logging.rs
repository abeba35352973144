//! Where log lines go and how they look: stderr, as text (coloured only on a terminal, never
//! when `NO_COLOR` is set) or as one JSON object per line with every field at the top level.
//!
//! The default level depends on the command: `run` logs the gateway's own info lines (device
//! lifecycle, listeners, sinks, `log` stages) and warnings from everything else; the other
//! commands log warnings only. `-v`/`-vv` raise it, `RUST_LOG` replaces it.

use std::io::IsTerminal;

use clap::ValueEnum;

/// `--log-format`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub(crate) enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line: `timestamp`, `level`, `target`, `message` and the event's
    /// fields (`device`, `reason`, …).
    Json,
}

/// The filter used when `RUST_LOG` is not set.
fn default_filter(verbose: u8, gateway: bool) -> &'static str {
    match (verbose, gateway) {
        (0, true) => "warn,homeport=info,homeport_protocol=warn,homeport_simulator=warn",
        (0, false) => "warn",
        (1, _) => "info",
        _ => "debug",
    }
}

/// Whether text lines get colour: only on a terminal, and never with `NO_COLOR` set (to
/// anything but the empty string, as no-color.org asks).
fn colour(stderr_is_terminal: bool, no_color: Option<std::ffi::OsString>) -> bool {
    stderr_is_terminal && no_color.is_none_or(|v| v.is_empty())
}

/// Installs the subscriber; `gateway` is true for `homeport run`.
pub(crate) fn init(verbose: u8, format: LogFormat, gateway: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter(verbose, gateway)));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder
            .with_ansi(colour(
                std::io::stderr().is_terminal(),
                std::env::var_os("NO_COLOR"),
            ))
            .init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .init(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(colour(true, None));
        assert!(!colour(false, None));
        assert!(!colour(true, Some("1".into())));
        // An empty NO_COLOR does not count.
        assert!(colour(true, Some("".into())));
    }

    #[test]
    fn the_gateway_logs_its_own_info_lines_by_default() {
        assert!(default_filter(0, true).contains("homeport=info"));
        assert_eq!(default_filter(0, false), "warn");
        assert_eq!(default_filter(2, false), "debug");
    }
}
