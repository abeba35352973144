//! What one plugin stage may use: time per call, memory per instance, key-value quota.

use std::time::Duration;

/// Limits of one `wasm` stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest a `process` call may run before it is stopped.
    pub time: Duration,
    /// Longest `init` may run (instantiation included).
    pub init_time: Duration,
    /// Most linear memory (and tables) one instance may grow to, in bytes.
    pub memory: usize,
    /// Most bytes of keys and values the stage's key-value namespace holds.
    pub kv_bytes: usize,
    /// Most entries the namespace holds.
    pub kv_entries: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            time: Duration::from_millis(100),
            init_time: Duration::from_secs(2),
            memory: 64 * 1024 * 1024,
            kv_bytes: 1024 * 1024,
            kv_entries: 10_000,
        }
    }
}

/// Most events a plugin may emit per call.
pub const MAX_EMIT: usize = 16;
/// Largest plugin file read.
pub const MAX_PLUGIN_FILE: u64 = 64 * 1024 * 1024;

/// Reads a size: `4096`, `512KiB`, `64MiB`, `1GiB`, `100kB`, `2MB`.
pub fn parse_size(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: usize = number
        .parse()
        .map_err(|_| format!("bad size {text:?} (examples: 4096, 512KiB, 64MiB)"))?;
    let scale: usize = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "kB" | "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        other => {
            return Err(format!(
                "unknown size unit {other:?} in {text:?}; use B, KiB, MiB, GiB, kB, MB or GB"
            ));
        }
    };
    number
        .checked_mul(scale)
        .ok_or_else(|| format!("size {text:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_with_binary_and_decimal_units() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("512KiB"), Ok(512 * 1024));
        assert_eq!(parse_size("64 MiB"), Ok(64 << 20));
        assert_eq!(parse_size("2MB"), Ok(2_000_000));
        assert!(parse_size("12 parsecs").is_err());
        assert!(parse_size("MiB").is_err());
    }
}
