//! Reading pipeline files: a file, or every `*.yaml`/`*.yml` in a directory (sorted; test files,
//! `*.test.yaml`, left out), parsed
//! with `marked-yaml`, which keeps the position of every node so later checks can point at
//! the exact line and column. (`serde_yaml` is deprecated upstream; `marked-yaml` is
//! maintained and built for exactly this: YAML with provenance.)

use std::path::{Path, PathBuf};

use marked_yaml::{LoaderOptions, Node};

use super::error::SpecError;
use super::spec::FileSpec;

/// Largest pipeline file read.
const MAX_FILE: u64 = 4 * 1024 * 1024;

/// One parsed file.
#[derive(Debug)]
pub struct Loaded {
    /// Where it came from.
    pub path: PathBuf,
    /// Its pipelines.
    pub spec: FileSpec,
    /// The parsed YAML, for values whose scalars keep their YAML types (plugin configs).
    pub root: Node,
}

/// The files named by `paths` (directories expanded), in order.
pub fn files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, SpecError> {
    let mut out = Vec::new();
    for path in paths {
        let metadata = std::fs::metadata(path)
            .map_err(|e| SpecError::file(path, format!("cannot read: {e}")))?;
        if metadata.is_dir() {
            let entries = listing(path, |p| {
                p.extension().is_some_and(|e| e == "yaml" || e == "yml") && !is_test_file(p)
            })
            .map_err(|e| SpecError::file(path, format!("cannot list: {e}")))?;
            out.extend(entries);
        } else {
            out.push(path.clone());
        }
    }
    Ok(out)
}

/// The files of directory `dir` that `keep` takes, sorted by name.
pub fn listing(dir: &Path, keep: impl Fn(&Path) -> bool) -> std::io::Result<Vec<PathBuf>> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| keep(p))
        .collect();
    found.sort();
    Ok(found)
}

/// Whether `path` is a pipeline test file (`*.test.yaml`, see `homeport test`), which a
/// directory of pipelines may hold beside the pipelines it tests.
pub fn is_test_file(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.ends_with(".test.yaml") || n.ends_with(".test.yml"))
}

/// Parses one file.
pub fn parse_file(path: &Path) -> Result<Loaded, SpecError> {
    let size = std::fs::metadata(path)
        .map_err(|e| SpecError::file(path, format!("cannot read: {e}")))?
        .len();
    if size > MAX_FILE {
        return Err(SpecError::file(
            path,
            format!("larger than {MAX_FILE} bytes"),
        ));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| SpecError::file(path, format!("cannot read: {e}")))?;
    parse(path, &text)
}

/// How pipeline YAML is read: duplicate keys are errors, and quoted scalars stay text (`'2'`
/// is never the number 2).
fn loader_options() -> LoaderOptions {
    LoaderOptions::default()
        .error_on_duplicate_keys(true)
        .prevent_coercion(true)
}

/// Parses pipeline YAML; `path` names it in errors.
pub fn parse(path: &Path, text: &str) -> Result<Loaded, SpecError> {
    let options = loader_options();
    let node =
        marked_yaml::parse_yaml_with_options(0, text, options).map_err(|e| load_error(path, &e))?;
    match marked_yaml::from_node::<FileSpec>(&node) {
        Ok(spec) => Ok(Loaded {
            path: path.to_owned(),
            spec,
            root: node,
        }),
        Err(e) => {
            let inner: &marked_yaml::Error = &e;
            // An unknown key or stage kind is pointed at itself (the error's own mark is its
            // mapping); other errors keep their own mark, or follow their path.
            let mark = match offending_key(inner) {
                Some(key) => locate(&node, e.path().unwrap_or(""), Some(&key))
                    .map(|(line, column)| find_key(text, line, &key).unwrap_or((line, column))),
                // A mapping is marked where its first value is; point at its first key.
                None => inner
                    .start_mark()
                    .map(|m| (m.line(), m.column()))
                    .or_else(|| locate(&node, e.path().unwrap_or(""), None))
                    .map(|(line, column)| first_key_at(text, line).unwrap_or((line, column))),
            };
            let (line, column) = mark.unwrap_or((0, 0));
            let message = match e.path().filter(|p| !p.is_empty() && *p != ".") {
                Some(at) => format!("at {at}: {inner}"),
                None => inner.to_string(),
            };
            Err(SpecError {
                line,
                column,
                ..SpecError::file(path, message)
            })
        }
    }
}

/// The key an unknown-field or unknown-variant error is about.
fn offending_key(error: &marked_yaml::Error) -> Option<String> {
    match error {
        marked_yaml::Error::UnknownFieldError(field, _, _) => Some(field.clone()),
        other => {
            let text = other.to_string();
            text.starts_with("unknown variant")
                .then(|| text.split('`').nth(1).map(str::to_owned))
                .flatten()
        }
    }
}

/// The mark of the node a serde path (`pipelines[1].stages[0]`) leads to, refined to the
/// offending key for unknown fields and variants.
fn locate(root: &Node, path: &str, wanted: Option<&str>) -> Option<(usize, usize)> {
    let mut node = root;
    // Stop at the mapping that holds the offending key, so the key search starts there.
    for segment in path
        .split('.')
        .filter(|s| !s.is_empty() && Some(*s) != wanted)
    {
        let (key, indexes) = match segment.find('[') {
            Some(at) => (&segment[..at], &segment[at..]),
            None => (segment, ""),
        };
        if !key.is_empty() {
            match node.as_mapping().and_then(|m| m.get_node(key)) {
                Some(next) => node = next,
                None => break,
            }
        }
        for index in indexes.split(['[', ']']).filter(|s| !s.is_empty()) {
            match index
                .parse::<usize>()
                .ok()
                .and_then(|i| node.as_sequence().and_then(|s| s.get_node(i)))
            {
                Some(next) => node = next,
                None => break,
            }
        }
    }
    node.span().start().map(|m| (m.line(), m.column()))
}

/// The position of a `key:` on `line` (after any `- `), if the line holds one.
fn first_key_at(text: &str, line: usize) -> Option<(usize, usize)> {
    let content = text.lines().nth(line.checked_sub(1)?)?;
    let trimmed = content.trim_start().trim_start_matches("- ").trim_start();
    let key = trimmed
        .split(':')
        .next()
        .filter(|k| !k.is_empty() && !k.contains(['{', '[', ' ']))?;
    find_key(text, line, key)
}

/// Where `key:` is written, searching from `from_line` on (the loader marks a key with its
/// value's position, so the key's own position is found in the text).
fn find_key(text: &str, from_line: usize, key: &str) -> Option<(usize, usize)> {
    for (index, line) in text.lines().enumerate().skip(from_line.saturating_sub(1)) {
        let mut search = 0;
        while let Some(found) = line[search..].find(key) {
            let at = search + found;
            let before_ok = line[..at]
                .chars()
                .last()
                .is_none_or(|c| c.is_whitespace() || matches!(c, '{' | ',' | '-' | '"' | '\''));
            let after = line[at + key.len()..].trim_start_matches(['"', '\'']);
            if before_ok && after.trim_start().starts_with(':') {
                return Some((index + 1, line[..at].chars().count() + 1));
            }
            search = at + key.len();
        }
    }
    None
}

fn load_error(path: &Path, error: &marked_yaml::LoadError) -> SpecError {
    use marked_yaml::LoadError;
    let marker = match error {
        LoadError::TopLevelMustBeMapping(m)
        | LoadError::TopLevelMustBeSequence(m)
        | LoadError::UnexpectedAnchor(m)
        | LoadError::MappingKeyMustBeScalar(m)
        | LoadError::UnexpectedTag(m)
        | LoadError::ScanError(m, _) => Some(*m),
        LoadError::DuplicateKey(_) => None,
    };
    let (line, column) = marker.map_or((0, 0), |m| (m.line(), m.column()));
    // The loader's own text starts with its marker; keep only the message.
    let text = error.to_string();
    let message = text
        .split_once(": ")
        .filter(|_| marker.is_some())
        .map_or(text.clone(), |(_, m)| m.to_owned());
    SpecError {
        line,
        column,
        ..SpecError::file(path, message)
    }
}

/// The value of the node that starts at `span` in `root`, as JSON with YAML's types: plain
/// scalars that read as booleans, null, integers or floats become those; quoted scalars stay
/// text. (Serde sees every marked-yaml scalar as text, which would turn `floor: 2` into
/// `"2"`.)
pub fn typed_value_at(root: &Node, span: &marked_yaml::Span) -> Option<serde_json::Value> {
    let start = span.start()?;
    find_at(root, start).map(typed_value)
}

fn find_at<'a>(node: &'a Node, start: &marked_yaml::Marker) -> Option<&'a Node> {
    if node.span().start() == Some(start) {
        return Some(node);
    }
    match node {
        Node::Mapping(map) => map.values().find_map(|child| find_at(child, start)),
        Node::Sequence(items) => items.iter().find_map(|child| find_at(child, start)),
        Node::Scalar(_) => None,
    }
}

fn typed_value(node: &Node) -> serde_json::Value {
    use serde_json::Value;
    match node {
        Node::Mapping(map) => Value::Object(
            map.iter()
                .map(|(key, value)| (key.as_str().to_owned(), typed_value(value)))
                .collect(),
        ),
        Node::Sequence(items) => Value::Array(items.iter().map(typed_value).collect()),
        Node::Scalar(scalar) => {
            let text = scalar.as_str();
            if !scalar.may_coerce() {
                return Value::String(text.to_owned());
            }
            match text {
                "true" | "True" | "TRUE" => Value::Bool(true),
                "false" | "False" | "FALSE" => Value::Bool(false),
                "" | "~" | "null" | "Null" | "NULL" => Value::Null,
                _ => text
                    .parse::<i64>()
                    .map(Value::from)
                    .ok()
                    .or_else(|| {
                        text.parse::<f64>()
                            .ok()
                            .filter(|f| f.is_finite() && text.chars().any(|c| c.is_ascii_digit()))
                            .and_then(serde_json::Number::from_f64)
                            .map(Value::Number)
                    })
                    .unwrap_or_else(|| Value::String(text.to_owned())),
            }
        }
    }
}

#[cfg(test)]
mod typed_tests {
    use super::*;

    #[test]
    fn plugin_configs_keep_their_yaml_types() {
        let text = "pipelines:\n  - config: { n: 2, f: 1.5, b: true, s: '2', list: [a, 3], none: ~, word: inf }\n";
        let root = marked_yaml::parse_yaml_with_options(0, text, loader_options()).expect("yaml");
        let config = root
            .as_mapping()
            .and_then(|m| m.get_sequence("pipelines"))
            .and_then(|s| s.get_mapping(0))
            .and_then(|m| m.get_node("config"))
            .expect("config");
        let value = typed_value_at(&root, config.span()).expect("found");
        assert_eq!(
            value,
            serde_json::json!({"n": 2, "f": 1.5, "b": true, "s": "2", "list": ["a", 3], "none": null, "word": "inf"})
        );
    }
}
