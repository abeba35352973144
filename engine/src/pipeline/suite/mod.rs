//! Pipeline tests (`homeport test`): a test file names pipeline files and gives cases of input
//! events with what must come out — messages published, what each pipeline did with the
//! events, dead letters. Each case runs on freshly built pipelines ([`Offline`]) with the sinks
//! captured ([`Capture`]), a store of its own for dead letters, and no device connected.
//!
//! - [`spec`] — the file format; [`compare`] — expected against actual, as report lines.

pub mod compare;
pub mod spec;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::Services;
use super::load;
use super::offline::{Counts, Offline};
use super::sources::build;
use crate::event::Event;
use crate::sink::Sinks;
use crate::sink::capture::Capture;
use crate::store::Store;
use spec::{CaseSpec, SuiteSpec};

/// Largest test file read.
const MAX_FILE: u64 = 4 * 1024 * 1024;
/// Most dead letters one case reads back.
const MAX_LETTERS: usize = 10_000;

/// What one test file gave.
#[derive(Debug)]
pub struct FileReport {
    /// The test file.
    pub path: PathBuf,
    /// Each case, in order.
    pub cases: Vec<CaseReport>,
    /// Pipelines of the files that did not run here (their `requires` is not met: the
    /// camera-sync server, or a sink the file leaves out).
    pub skipped: Vec<String>,
}

/// What one case gave.
#[derive(Debug)]
pub struct CaseReport {
    /// Its name.
    pub name: String,
    /// Every difference from what it expects; empty when it passed.
    pub problems: Vec<String>,
}

impl FileReport {
    /// Cases that failed.
    pub fn failed(&self) -> usize {
        self.cases.iter().filter(|c| !c.problems.is_empty()).count()
    }
}

/// The test files `paths` name: files as they are, directories expanded to their
/// `*.test.yaml` (sorted).
pub fn files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for path in paths {
        if path.is_dir() {
            let found = load::listing(path, load::is_test_file)
                .map_err(|e| format!("{}: cannot list: {e}", path.display()))?;
            out.extend(found);
        } else if load::is_test_file(path) {
            out.push(path.clone());
        } else {
            return Err(format!(
                "{}: not a test file (test files are named *.test.yaml)",
                path.display()
            ));
        }
    }
    Ok(out)
}

/// Runs every case of the test file at `path`. An error when the file cannot be read or its
/// pipelines do not compile; a case's failures are in its report.
pub async fn run_file(
    path: &Path,
    plugins: Arc<crate::wasm::PluginHost>,
) -> Result<FileReport, String> {
    let spec = read(path)?;
    let base = path.parent().unwrap_or_else(|| Path::new("."));
    let sources: Vec<PathBuf> = match &spec.pipelines {
        Some(list) => list.iter().map(|p| base.join(p)).collect(),
        None => vec![tested_file(path)],
    };
    let sinks: Vec<String> = spec
        .sinks
        .clone()
        .unwrap_or_else(|| Sinks::NAMES.map(str::to_owned).to_vec());
    if let Some(bad) = sinks.iter().find(|s| !Sinks::NAMES.contains(&s.as_str())) {
        return Err(format!(
            "{}: unknown sink {bad:?} in sinks; expected {}",
            path.display(),
            Sinks::NAMES.join(", ")
        ));
    }
    let defined = defined_names(&sources)?;
    let mut report = FileReport {
        path: path.to_owned(),
        cases: Vec::new(),
        skipped: Vec::new(),
    };
    let sink_names: Vec<&str> = sinks.iter().map(String::as_str).collect();
    for case in &spec.tests {
        let data = tempfile::tempdir().map_err(|e| format!("a directory for the case: {e}"))?;
        let store = Store::open(data.path()).map_err(|e| e.to_string())?;
        let capture = Capture::new(&sink_names);
        let mut services = Services::offline(Arc::clone(&plugins), false)
            .with_sinks(Sinks::captured(Arc::clone(&capture)));
        services.store = Some(store.clone());
        let compiled = build(&sources, &services).map_err(|e| e.to_string())?;
        let offline = Offline::new(compiled, services);
        let ran = offline.names();
        report.skipped = defined
            .iter()
            .filter(|n| !ran.contains(n))
            .cloned()
            .collect();
        let problems = run_case(case, &offline, &capture, &store, &ran).await;
        report.cases.push(CaseReport {
            name: case.name.clone(),
            problems,
        });
    }
    Ok(report)
}

async fn run_case(
    case: &CaseSpec,
    offline: &Offline,
    capture: &Capture,
    store: &Store,
    ran: &[String],
) -> Vec<String> {
    let mut problems = Vec::new();
    let mut counts: BTreeMap<String, Counts> = BTreeMap::new();
    for (number, input) in case.events.iter().enumerate() {
        let (event, fields) = match Event::from_input(input.clone()) {
            Ok(parsed) => parsed,
            Err(e) => {
                problems.push(format!("event #{} is not an event: {e}", number + 1));
                continue;
            }
        };
        match offline.run(Arc::new(event), fields).await {
            Ok(each) => {
                for (name, c) in each {
                    counts.entry(name).or_default().add(c);
                }
            }
            Err(e) => problems.push(format!("event #{}: {e}", number + 1)),
        }
    }
    let captured = capture.take();
    if capture.lost() > 0 {
        problems.push(format!(
            "{} more messages than the capture keeps were published",
            capture.lost()
        ));
    }
    problems.extend(compare::messages(&case.expect.published, &captured));
    problems.extend(compare::outcomes(&case.expect.pipelines, &counts, ran));
    match store.dead_letters(None, MAX_LETTERS).await {
        Ok(letters) => problems.extend(compare::letters(&case.expect.dead_letters, &letters)),
        Err(e) => problems.push(format!("cannot read the dead letters: {e}")),
    }
    problems
}

fn read(path: &Path) -> Result<SuiteSpec, String> {
    let size = std::fs::metadata(path)
        .map_err(|e| format!("{}: cannot read: {e}", path.display()))?
        .len();
    if size > MAX_FILE {
        return Err(format!("{}: larger than {MAX_FILE} bytes", path.display()));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    serde_yaml_ng::from_str(&text).map_err(|e| match e.location() {
        Some(at) => format!("{}:{}:{}: {e}", path.display(), at.line(), at.column()),
        None => format!("{}: {e}", path.display()),
    })
}

/// `alarms.test.yaml` → `alarms.yaml` beside it.
fn tested_file(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let tested = name
        .strip_suffix(".test.yaml")
        .map(|stem| format!("{stem}.yaml"))
        .or_else(|| {
            name.strip_suffix(".test.yml")
                .map(|stem| format!("{stem}.yml"))
        })
        .unwrap_or_else(|| name.to_owned());
    path.with_file_name(tested)
}

/// Every pipeline name the files define, in order (skipped ones too).
fn defined_names(sources: &[PathBuf]) -> Result<Vec<String>, String> {
    let mut names = Vec::new();
    for file in load::files(sources).map_err(|e| e.to_string())? {
        let loaded = load::parse_file(&file).map_err(|e| e.to_string())?;
        names.extend(loaded.spec.pipelines.iter().map(|p| p.name.to_string()));
    }
    Ok(names)
}
