//! What an operator says about a device, beside what the device says about itself: a display
//! name and tags. Stored with the device, shown by the API and the CLI, carried on every
//! event about the device (`device_name`, `tags`), and visible to templates.
//!
//! - a name is 1 to 64 characters without control characters (`Gate, north side`);
//! - a tag is 1 to 32 characters without whitespace, control characters or `,`
//!   (`site:berlin`, `outdoor`); a device has at most 16, kept in the order given, each once.

use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Longest name, in characters.
pub const MAX_NAME_CHARS: usize = 64;
/// Longest tag, in characters.
pub const MAX_TAG_CHARS: usize = 32;
/// Most tags on one device.
pub const MAX_TAGS: usize = 16;

/// A device's name and tags.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Labels {
    /// The name an operator gave the device, if any.
    #[serde(
        rename = "device_name",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub name: Option<String>,
    /// Its tags, in the order given.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

impl Labels {
    /// Checked labels: `name` (an empty one is none) and `tags` (repeats dropped).
    pub fn new(name: Option<String>, tags: Vec<String>) -> Result<Self, String> {
        let name = name.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
        if let Some(name) = &name {
            check_name(name)?;
        }
        Ok(Self {
            name,
            tags: checked_tags(tags)?,
        })
    }

    /// Neither a name nor a tag.
    pub fn is_empty(&self) -> bool {
        self.name.is_none() && self.tags.is_empty()
    }

    /// These labels with `change` applied.
    pub fn changed(&self, change: &LabelChange) -> Self {
        Self {
            name: match &change.name {
                Some(name) => name.clone(),
                None => self.name.clone(),
            },
            tags: change.tags.clone().unwrap_or_else(|| self.tags.clone()),
        }
    }
}

/// A change to a device's labels: `None` keeps what is there.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelChange {
    /// The new name; `Some(None)` removes it.
    pub name: Option<Option<String>>,
    /// The new tags (all of them); `Some(vec![])` removes them.
    pub tags: Option<Vec<String>>,
}

impl LabelChange {
    /// A checked change. An empty `name` removes the name; `tags` replace the device's.
    pub fn new(name: Option<String>, tags: Option<Vec<String>>) -> Result<Self, String> {
        let name = match name {
            Some(name) => Some(Labels::new(Some(name), Vec::new())?.name),
            None => None,
        };
        let tags = tags.map(checked_tags).transpose()?;
        Ok(Self { name, tags })
    }

    /// Sets both: what a new device, or an import row that has both columns, says.
    pub fn set(labels: Labels) -> Self {
        Self {
            name: Some(labels.name),
            tags: Some(labels.tags),
        }
    }

    /// Changes nothing.
    pub fn is_empty(&self) -> bool {
        self.name.is_none() && self.tags.is_none()
    }

    /// Checks the bounds again (for a change built field by field).
    pub fn check(&self) -> Result<(), String> {
        if let Some(Some(name)) = &self.name {
            if name.trim().is_empty() {
                return Err("the name is blank (give none to remove it)".to_owned());
            }
            check_name(name)?;
        }
        if let Some(tags) = &self.tags {
            check_tags(tags)?;
        }
        Ok(())
    }
}

/// Tags written in one text cell (CSV, a command line): separated by spaces or `;`.
pub fn split_tags(text: &str) -> Vec<String> {
    text.split(|c: char| c.is_whitespace() || c == ';')
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Tags as one text cell, the way [`split_tags`] reads them back.
pub fn join_tags(tags: &[String]) -> String {
    tags.join(" ")
}

fn check_name(name: &str) -> Result<(), String> {
    let chars = name.chars().count();
    if chars > MAX_NAME_CHARS {
        return Err(format!(
            "the name is {chars} characters long; the limit is {MAX_NAME_CHARS}"
        ));
    }
    if name.chars().any(char::is_control) {
        return Err("the name contains a control character".to_owned());
    }
    Ok(())
}

/// `tags` checked, each kept once in the order given.
fn checked_tags(tags: Vec<String>) -> Result<Vec<String>, String> {
    let mut kept: Vec<String> = Vec::with_capacity(tags.len());
    for tag in tags {
        if !kept.contains(&tag) {
            kept.push(tag);
        }
    }
    check_tags(&kept)?;
    Ok(kept)
}

/// Checks each tag's bounds and their number.
fn check_tags(tags: &[String]) -> Result<(), String> {
    for tag in tags {
        let chars = tag.chars().count();
        if chars == 0 {
            return Err("a tag is empty".to_owned());
        }
        if chars > MAX_TAG_CHARS {
            return Err(format!(
                "tag {tag:?} is {chars} characters long; the limit is {MAX_TAG_CHARS}"
            ));
        }
        if tag
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == ',')
        {
            return Err(format!(
                "tag {tag:?} contains whitespace, a control character or a comma"
            ));
        }
    }
    if tags.len() > MAX_TAGS {
        return Err(format!(
            "{} tags; a device has at most {MAX_TAGS}",
            tags.len()
        ));
    }
    Ok(())
}

/// The labels an event carries: shared with the device's registry entry, and nothing at all
/// (no allocation) for a device without labels. Serialised flat into the event, as
/// `device_name` and `tags`, only when there are some.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventLabels(Option<Arc<Labels>>);

impl EventLabels {
    /// `labels`, or none if they are empty.
    pub fn new(labels: Labels) -> Self {
        Self((!labels.is_empty()).then(|| Arc::new(labels)))
    }

    /// The labels, if the device has any.
    pub fn get(&self) -> Option<&Labels> {
        self.0.as_deref()
    }

    /// The name, if the device has one.
    pub fn name(&self) -> Option<&str> {
        self.get().and_then(|l| l.name.as_deref())
    }

    /// The name, or `id` (the event's device) when it has none: what people see.
    pub fn display_name<'a>(&'a self, id: &'a str) -> &'a str {
        self.name().unwrap_or(id)
    }

    /// The tags (none if the device has none).
    pub fn tags(&self) -> &[String] {
        self.get().map_or(&[], |l| &l.tags)
    }
}

impl From<&Arc<Labels>> for EventLabels {
    fn from(labels: &Arc<Labels>) -> Self {
        Self((!labels.is_empty()).then(|| Arc::clone(labels)))
    }
}

impl Serialize for EventLabels {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.get() {
            Some(labels) => labels.serialize(serializer),
            None => Labels::default().serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for EventLabels {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Labels::deserialize(deserializer).map(Self::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_an_empty_one_is_none() {
        let labels = Labels::new(Some("  Gate  ".into()), vec![]).expect("valid");
        assert_eq!(labels.name.as_deref(), Some("Gate"));
        assert_eq!(
            Labels::new(Some(" ".into()), vec![]).expect("valid").name,
            None
        );
        let change = LabelChange::new(Some(String::new()), None).expect("valid");
        assert_eq!(change.name, Some(None), "an empty name removes the name");
    }

    #[test]
    fn bad_names_and_tags_are_refused_with_the_reason() {
        let long = "x".repeat(MAX_NAME_CHARS + 1);
        assert!(
            Labels::new(Some(long), vec![])
                .expect_err("refused")
                .contains("limit is 64")
        );
        assert!(
            Labels::new(Some("a\nb".into()), vec![])
                .expect_err("refused")
                .contains("control")
        );
        for bad in ["", "two words", "a,b", &"t".repeat(MAX_TAG_CHARS + 1)] {
            assert!(Labels::new(None, vec![bad.to_owned()]).is_err(), "{bad:?}");
        }
        let many = (0..=MAX_TAGS).map(|i| format!("t{i}")).collect();
        assert!(
            Labels::new(None, many)
                .expect_err("refused")
                .contains("at most 16")
        );
    }

    #[test]
    fn tags_keep_their_order_once_each_and_survive_a_text_cell() {
        let labels = Labels::new(None, split_tags("yard; site:b  yard outdoor")).expect("valid");
        assert_eq!(labels.tags, ["yard", "site:b", "outdoor"]);
        assert_eq!(split_tags(&join_tags(&labels.tags)), labels.tags);
    }

    #[test]
    fn events_carry_labels_flat_and_only_when_there_are_some() {
        #[derive(Serialize, Deserialize, PartialEq, Debug)]
        struct Carrier {
            device: String,
            #[serde(flatten)]
            labels: EventLabels,
        }
        let bare = Carrier {
            device: "cam".into(),
            labels: EventLabels::default(),
        };
        assert_eq!(
            serde_json::to_string(&bare).expect("json"),
            r#"{"device":"cam"}"#
        );
        let labelled = Carrier {
            device: "cam".into(),
            labels: EventLabels::new(
                Labels::new(Some("Gate".into()), vec!["a".into()]).expect("valid"),
            ),
        };
        let json = serde_json::to_string(&labelled).expect("json");
        assert_eq!(
            json,
            r#"{"device":"cam","device_name":"Gate","tags":["a"]}"#
        );
        assert_eq!(
            serde_json::from_str::<Carrier>(&json).expect("back"),
            labelled
        );
        assert_eq!(
            serde_json::from_str::<Carrier>(r#"{"device":"cam"}"#).expect("back"),
            bare
        );
    }
}
