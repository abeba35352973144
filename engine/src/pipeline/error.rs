//! Pipeline errors that point at the YAML: file:line:column, pipeline and stage.

use std::fmt;
use std::path::{Path, PathBuf};

use marked_yaml::Span;

/// One problem in a pipeline file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    /// The file.
    pub file: PathBuf,
    /// 1-based line (0 when unknown).
    pub line: usize,
    /// 1-based column (0 when unknown).
    pub column: usize,
    /// The pipeline's name, when known.
    pub pipeline: Option<String>,
    /// The stage (`#2 mqtt`), when known.
    pub stage: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl SpecError {
    /// An error at `span` of `file`.
    pub fn at(file: &Path, span: &Span, message: impl Into<String>) -> Self {
        let (line, column) = span.start().map_or((0, 0), |m| (m.line(), m.column()));
        Self {
            file: file.to_owned(),
            line,
            column,
            pipeline: None,
            stage: None,
            message: message.into(),
        }
    }

    /// An error about a whole file.
    pub fn file(file: &Path, message: impl Into<String>) -> Self {
        Self {
            file: file.to_owned(),
            line: 0,
            column: 0,
            pipeline: None,
            stage: None,
            message: message.into(),
        }
    }

    /// Names the pipeline.
    pub fn in_pipeline(mut self, name: &str) -> Self {
        self.pipeline = Some(name.to_owned());
        self
    }

    /// Names the stage.
    pub fn in_stage(mut self, index: usize, kind: &str) -> Self {
        self.stage = Some(format!("#{} {kind}", index + 1));
        self
    }
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column)?;
        }
        write!(f, ": ")?;
        if let Some(pipeline) = &self.pipeline {
            write!(f, "pipeline {pipeline:?}")?;
            if let Some(stage) = &self.stage {
                write!(f, ", stage {stage}")?;
            }
            write!(f, ": ")?;
        }
        write!(f, "{}", self.message)
    }
}

/// Several problems, reported together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecErrors(pub Vec<SpecError>);

impl fmt::Display for SpecErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for SpecErrors {}

impl From<SpecError> for SpecErrors {
    fn from(error: SpecError) -> Self {
        Self(vec![error])
    }
}
