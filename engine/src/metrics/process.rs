//! The standard `process_*` metrics, read from `/proc/self` at each scrape (Linux; elsewhere
//! they are left out), and the build's identity.
//!
//! The kernel reports CPU times and the start time in clock ticks of `USER_HZ`, which is 100
//! on every architecture Linux exposes through `/proc` (the value `sysconf(_SC_CLK_TCK)`
//! returns there).

use std::path::Path;

use super::exposition::{Exposition, Kind};

/// Clock ticks per second in `/proc` (`USER_HZ`).
const TICKS_PER_SECOND: f64 = 100.0;

/// What one scrape read about the process.
#[derive(Debug, Default, Clone, PartialEq)]
struct Reading {
    cpu_seconds: Option<f64>,
    start_time_seconds: Option<f64>,
    resident_bytes: Option<u64>,
    virtual_bytes: Option<u64>,
    threads: Option<u64>,
    open_fds: Option<u64>,
    max_fds: Option<u64>,
}

impl Reading {
    fn now() -> Self {
        let proc = Path::new("/proc/self");
        let mut reading = Self::default();
        if let Ok(stat) = std::fs::read_to_string(proc.join("stat")) {
            let boot = std::fs::read_to_string("/proc/stat")
                .ok()
                .and_then(|s| boot_time(&s));
            reading.read_stat(&stat, boot);
        }
        if let Ok(status) = std::fs::read_to_string(proc.join("status")) {
            reading.resident_bytes = status_kib(&status, "VmRSS:").map(|k| k * 1024);
            reading.virtual_bytes = status_kib(&status, "VmSize:").map(|k| k * 1024);
            reading.threads = status_kib(&status, "Threads:");
        }
        reading.open_fds = std::fs::read_dir(proc.join("fd"))
            .ok()
            .map(|dir| dir.count() as u64);
        reading.max_fds = std::fs::read_to_string(proc.join("limits"))
            .ok()
            .and_then(|s| max_open_files(&s));
        reading
    }

    /// Fields of `/proc/self/stat` after the command name (which may hold spaces and
    /// parentheses, so the line is split after its last `)`): utime and stime are the 12th
    /// and 13th, starttime the 20th.
    fn read_stat(&mut self, stat: &str, boot: Option<u64>) {
        let Some((_, rest)) = stat.rsplit_once(')') else {
            return;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let tick = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
        if let (Some(user), Some(system)) = (tick(11), tick(12)) {
            self.cpu_seconds = Some((user + system) as f64 / TICKS_PER_SECOND);
        }
        if let (Some(start), Some(boot)) = (tick(19), boot) {
            self.start_time_seconds = Some(boot as f64 + start as f64 / TICKS_PER_SECOND);
        }
    }
}

/// `btime` of `/proc/stat`: the boot time in seconds since the epoch.
fn boot_time(stat: &str) -> Option<u64> {
    stat.lines()
        .find_map(|line| line.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

/// The number after `key` in `/proc/self/status` (kB for the `Vm*` keys).
fn status_kib(status: &str, key: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix(key))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// The soft limit of `Max open files` in `/proc/self/limits`.
fn max_open_files(limits: &str) -> Option<u64> {
    limits
        .lines()
        .find_map(|line| line.strip_prefix("Max open files"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// Adds the `process_*` families this platform can read, `homeport_build_info` and
/// `homeport_uptime_seconds` to `out`.
pub fn render_into(out: &mut Exposition, uptime_seconds: f64) {
    let reading = Reading::now();
    if let Some(v) = reading.cpu_seconds {
        out.family(
            "process_cpu_seconds_total",
            Kind::Counter,
            "User and system CPU time spent in seconds.",
        )
        .sample_f64(&[], v);
    }
    if let Some(v) = reading.start_time_seconds {
        out.family(
            "process_start_time_seconds",
            Kind::Gauge,
            "Start time of the process since unix epoch in seconds.",
        )
        .sample_f64(&[], v);
    }
    let gauges = [
        (
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
            reading.resident_bytes,
        ),
        (
            "process_virtual_memory_bytes",
            "Virtual memory size in bytes.",
            reading.virtual_bytes,
        ),
        (
            "process_open_fds",
            "Number of open file descriptors.",
            reading.open_fds,
        ),
        (
            "process_max_fds",
            "Maximum number of open file descriptors.",
            reading.max_fds,
        ),
        ("process_threads", "Number of OS threads.", reading.threads),
    ];
    for (name, help, value) in gauges {
        if let Some(v) = value {
            out.family(name, Kind::Gauge, help).sample(&[], v);
        }
    }
    out.family(
        "homeport_build_info",
        Kind::Gauge,
        "The running build: always 1, with its version as a label.",
    )
    .sample(&[("version", env!("CARGO_PKG_VERSION"))], 1);
    out.family(
        "homeport_uptime_seconds",
        Kind::Gauge,
        "Seconds since this gateway started.",
    )
    .sample_f64(&[], uptime_seconds);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_command_name() {
        // A command name with a space and a parenthesis, as the kernel allows.
        let stat = "1234 (my (odd) cmd) S 1 1234 1234 0 -1 4194560 500 0 0 0 250 50 0 0 20 0 9 0 4200 1000 10";
        let mut reading = Reading::default();
        reading.read_stat(stat, Some(1_700_000_000));
        assert_eq!(reading.cpu_seconds, Some(3.0));
        assert_eq!(reading.start_time_seconds, Some(1_700_000_042.0));
    }

    #[test]
    fn status_limits_and_boot_time_are_read() {
        let status = "Name:\thomeport\nVmSize:\t  20480 kB\nVmRSS:\t    1024 kB\nThreads:\t7\n";
        assert_eq!(status_kib(status, "VmRSS:"), Some(1024));
        assert_eq!(status_kib(status, "Threads:"), Some(7));
        let limits = "Limit                     Soft Limit           Hard Limit           Units\nMax open files            20000                20000                files\n";
        assert_eq!(max_open_files(limits), Some(20000));
        assert_eq!(
            boot_time("cpu  1 2 3\nbtime 1700000000\n"),
            Some(1_700_000_000)
        );
    }

    #[test]
    fn this_process_is_read_on_linux() {
        if !Path::new("/proc/self/stat").exists() {
            return;
        }
        let reading = Reading::now();
        assert!(reading.resident_bytes.is_some_and(|b| b > 0));
        assert!(reading.open_fds.is_some_and(|n| n >= 3));
        assert!(reading.cpu_seconds.is_some());
        assert!(reading.start_time_seconds.is_some_and(|t| t > 1.0e9));
    }
}
