//! Field kit: a timestamped two-way transcript of one device's socket, for the first real
//! camera that surprises us.
//!
//! - [`Traces`] — which device IDs are traced (from `--trace-device`, or toggled through the
//!   admin API) and where their transcripts go: `<data>/traces/<id>.log`, created 0600.
//! - [`io`] — [`TracedIo`], the socket wrapper that copies both directions to a transcript.
//! - [`transcript`] — decoding and redaction: each frame is written with its direction,
//!   decoded fields and hex, with passwords, login hashes and 3DES credentials removed.

pub mod io;
pub mod transcript;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

pub use io::TracedIo;
pub use transcript::Transcript;

/// The traced devices and their open transcripts. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Traces {
    dir: PathBuf,
    open: Mutex<HashMap<String, Arc<Mutex<Transcript>>>>,
    generation: AtomicU64,
}

impl Traces {
    /// Traces written under `<data>/traces`.
    pub fn new(data: &Path) -> Self {
        Self {
            dir: data.join("traces"),
            open: Mutex::new(HashMap::new()),
            generation: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Mutex<Transcript>>>> {
        self.open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Starts tracing `id` (appending to its transcript). Connections already open start
    /// writing with their next bytes.
    pub fn enable(&self, id: &str) -> std::io::Result<PathBuf> {
        let path = self.path(id);
        let mut open = self.lock();
        if !open.contains_key(id) {
            let transcript = Transcript::create(&path, id)?;
            open.insert(id.to_owned(), Arc::new(Mutex::new(transcript)));
            self.generation.fetch_add(1, Ordering::Release);
        }
        Ok(path)
    }

    /// Stops tracing `id`; its transcript stays on disk. False if it was not traced.
    pub fn disable(&self, id: &str) -> bool {
        let removed = self.lock().remove(id).is_some();
        if removed {
            self.generation.fetch_add(1, Ordering::Release);
        }
        removed
    }

    /// Whether any device is traced.
    pub(crate) fn any(&self) -> bool {
        !self.lock().is_empty()
    }

    /// The devices traced now, sorted.
    pub fn traced(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.lock().keys().cloned().collect();
        ids.sort();
        ids
    }

    /// Whether `id` is traced now.
    pub fn is_on(&self, id: &str) -> bool {
        self.lock().contains_key(id)
    }

    /// The transcript of `id`, if it is traced.
    pub(crate) fn transcript(&self, id: &str) -> Option<Arc<Mutex<Transcript>>> {
        self.lock().get(id).cloned()
    }

    /// Changes with every enable and disable, so connections re-check cheaply.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Where the transcript of `id` is (whether or not it exists).
    pub fn path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{}.log", file_stem(id)))
    }
}

/// A file name for a device ID: safe characters kept, others replaced, and a short hash added
/// when anything was replaced so two IDs never share a file.
fn file_stem(id: &str) -> String {
    let safe: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if safe == id && !id.starts_with('.') {
        return safe;
    }
    // FNV-1a: stable across releases, so a transcript is found again after an upgrade.
    let hash = id.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    format!("{}-{hash:08x}", safe.trim_start_matches('.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_safe_and_never_shared() {
        assert_eq!(file_stem("cam-1.a_b"), "cam-1.a_b");
        let slash = file_stem("../etc/passwd");
        assert!(!slash.contains('/') && !slash.starts_with('.'), "{slash}");
        assert_ne!(file_stem("a/b"), file_stem("a_b"));
        assert_ne!(file_stem("a/b"), file_stem("a b"));
    }

    #[test]
    fn enabling_and_disabling_bumps_the_generation() {
        let dir = tempfile::tempdir().expect("tempdir");
        let traces = Traces::new(dir.path());
        let before = traces.generation();
        let path = traces.enable("cam1").expect("enabled");
        assert!(path.exists());
        assert!(traces.is_on("cam1"));
        assert_ne!(traces.generation(), before);
        assert!(traces.disable("cam1"));
        assert!(!traces.disable("cam1"));
        assert!(!traces.is_on("cam1"));
    }
}
