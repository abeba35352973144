//! The metrics text formats, written in one place: every producer of `/metrics` text declares
//! its families on an [`Exposition`] and adds samples to them, and [`Exposition::finish`]
//! writes each family's `# HELP` and `# TYPE` once, followed by all of its samples, as the
//! formats require — however the producers interleave.
//!
//! Two formats ([`Format`]): the Prometheus text format 0.0.4 (the default), and OpenMetrics
//! 1.0 text for a scraper that asks for it (`Accept: application/openmetrics-text`), where a
//! counter family is named without its `_total` suffix and the text ends with `# EOF`.

use std::fmt::Write;

/// What a family measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A count that only goes up (from zero at process start).
    Counter,
    /// A value that goes up and down.
    Gauge,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Counter => "counter",
            Self::Gauge => "gauge",
        }
    }
}

/// A text format of `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text, version 0.0.4.
    Prometheus,
    /// OpenMetrics text, version 1.0.0.
    OpenMetrics,
}

impl Format {
    /// The format a scraper's `Accept` header asks for: OpenMetrics when it names
    /// `application/openmetrics-text`, otherwise Prometheus text.
    pub fn from_accept(accept: Option<&str>) -> Self {
        match accept {
            Some(accept) if accept.contains("application/openmetrics-text") => Self::OpenMetrics,
            _ => Self::Prometheus,
        }
    }

    /// The `Content-Type` of a response in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
            Self::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// Metric families being written, kept in the order they were first declared.
#[derive(Debug, Default)]
pub struct Exposition {
    families: Vec<FamilyText>,
}

/// One family's header and the sample lines written to it so far.
#[derive(Debug)]
struct FamilyText {
    name: String,
    kind: Kind,
    help: String,
    samples: String,
}

/// A family of an [`Exposition`], to add samples to.
#[derive(Debug)]
pub struct Family<'a> {
    text: &'a mut FamilyText,
}

impl Exposition {
    /// An empty exposition.
    pub fn new() -> Self {
        Self::default()
    }

    /// The family `name`, declared now with `kind` and `help` if it is new (a family declared
    /// again keeps its first kind and help). A declared family is written even without samples.
    pub fn family(&mut self, name: &str, kind: Kind, help: &str) -> Family<'_> {
        let index = match self.families.iter().position(|f| f.name == name) {
            Some(index) => index,
            None => {
                self.families.push(FamilyText {
                    name: name.to_owned(),
                    kind,
                    help: help.to_owned(),
                    samples: String::new(),
                });
                self.families.len() - 1
            }
        };
        Family {
            text: &mut self.families[index],
        }
    }

    /// The Prometheus text: per family, `# HELP`, `# TYPE`, then its samples.
    pub fn finish(self) -> String {
        self.finish_as(Format::Prometheus)
    }

    /// The text in `format`: per family, `# HELP`, `# TYPE`, then its samples (and `# EOF`
    /// at the end of OpenMetrics text).
    pub fn finish_as(self, format: Format) -> String {
        let mut out = String::new();
        for family in self.families {
            let name = match (format, family.kind) {
                (Format::OpenMetrics, Kind::Counter) => {
                    family.name.strip_suffix("_total").unwrap_or(&family.name)
                }
                _ => &family.name,
            };
            let help = family.help.replace('\\', "\\\\").replace('\n', "\\n");
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {}", family.kind.as_str());
            out.push_str(&family.samples);
        }
        if format == Format::OpenMetrics {
            out.push_str("# EOF\n");
        }
        out
    }
}

impl Family<'_> {
    /// Adds the sample `name{labels} value`; label values are escaped as the format asks.
    pub fn sample(&mut self, labels: &[(&str, &str)], value: u64) -> &mut Self {
        self.labels(labels);
        let _ = writeln!(self.text.samples, " {value}");
        self
    }

    /// Adds a sample with a fractional value (seconds, for instance).
    pub fn sample_f64(&mut self, labels: &[(&str, &str)], value: f64) -> &mut Self {
        self.labels(labels);
        let _ = writeln!(self.text.samples, " {value}");
        self
    }

    /// Writes `name{labels}` of a new sample line.
    fn labels(&mut self, labels: &[(&str, &str)]) {
        let out = &mut self.text.samples;
        out.push_str(&self.text.name);
        if !labels.is_empty() {
            out.push('{');
            for (i, (name, value)) in labels.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(name);
                out.push_str("=\"");
                for c in value.chars() {
                    match c {
                        '\\' => out.push_str("\\\\"),
                        '"' => out.push_str("\\\""),
                        '\n' => out.push_str("\\n"),
                        c => out.push(c),
                    }
                }
                out.push('"');
            }
            out.push('}');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_family_has_one_header_and_its_samples_together() {
        let mut out = Exposition::new();
        for pipeline in ["a", "b"] {
            out.family("x_total", Kind::Counter, "Xs.")
                .sample(&[("pipeline", pipeline)], 1);
            out.family("y", Kind::Gauge, "Ys.")
                .sample(&[("pipeline", pipeline)], 2);
        }
        assert_eq!(
            out.finish(),
            "# HELP x_total Xs.\n# TYPE x_total counter\n\
             x_total{pipeline=\"a\"} 1\nx_total{pipeline=\"b\"} 1\n\
             # HELP y Ys.\n# TYPE y gauge\n\
             y{pipeline=\"a\"} 2\ny{pipeline=\"b\"} 2\n"
        );
    }

    #[test]
    fn a_sample_without_labels_has_no_braces_and_a_family_without_samples_has_its_header() {
        let mut out = Exposition::new();
        out.family("up", Kind::Gauge, "Whether it runs.")
            .sample(&[], 1);
        out.family("none_total", Kind::Counter, "Nothing yet.");
        assert_eq!(
            out.finish(),
            "# HELP up Whether it runs.\n# TYPE up gauge\nup 1\n\
             # HELP none_total Nothing yet.\n# TYPE none_total counter\n"
        );
    }

    #[test]
    fn openmetrics_names_counter_families_without_total_and_ends_with_eof() {
        let mut out = Exposition::new();
        out.family("c_total", Kind::Counter, "Cs.").sample(&[], 3);
        out.family("g_seconds", Kind::Gauge, "Gs.")
            .sample_f64(&[], 1.5);
        assert_eq!(
            out.finish_as(Format::OpenMetrics),
            "# HELP c Cs.\n# TYPE c counter\nc_total 3\n\
             # HELP g_seconds Gs.\n# TYPE g_seconds gauge\ng_seconds 1.5\n# EOF\n"
        );
        assert_eq!(
            Format::from_accept(Some(
                "application/openmetrics-text;version=1.0.0,text/plain;q=0.5"
            )),
            Format::OpenMetrics
        );
        assert_eq!(Format::from_accept(Some("text/plain")), Format::Prometheus);
        assert_eq!(Format::from_accept(None), Format::Prometheus);
    }

    #[test]
    fn label_values_and_help_are_escaped() {
        let mut out = Exposition::new();
        out.family("e", Kind::Gauge, "a \\ b\nc")
            .sample(&[("v", "q\"u\\o\nte"), ("w", "#1 mqtt")], 0);
        assert_eq!(
            out.finish(),
            "# HELP e a \\\\ b\\nc\n# TYPE e gauge\ne{v=\"q\\\"u\\\\o\\nte\",w=\"#1 mqtt\"} 0\n"
        );
    }
}
