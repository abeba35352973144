//! The Prometheus text exposition format (version 0.0.4), written in one place: every
//! producer of `/metrics` text declares its families on an [`Exposition`] and adds samples to
//! them, and [`Exposition::finish`] writes each family's `# HELP` and `# TYPE` once, followed by
//! all of its samples, as the format requires — however the producers interleave.

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

    /// The text: per family, `# HELP`, `# TYPE`, then its samples.
    pub fn finish(self) -> String {
        let mut out = String::new();
        for family in self.families {
            let help = family.help.replace('\\', "\\\\").replace('\n', "\\n");
            let _ = writeln!(out, "# HELP {} {help}", family.name);
            let _ = writeln!(out, "# TYPE {} {}", family.name, family.kind.as_str());
            out.push_str(&family.samples);
        }
        out
    }
}

impl Family<'_> {
    /// Adds the sample `name{labels} value`; label values are escaped as the format asks.
    pub fn sample(&mut self, labels: &[(&str, &str)], value: u64) -> &mut Self {
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
        let _ = writeln!(out, " {value}");
        self
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
