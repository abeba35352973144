//! The debounce window as the config writes it: `"500ms"`, `"5s"`, `"2m"`, `"1h"`, or a
//! plain number of milliseconds.

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};

/// A window longer than zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window(pub(crate) Duration);

impl Window {
    /// Reads `"5s"`-style text: digits, then `ms`, `s`, `m` or `h`.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let split = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        let (number, unit) = text.split_at(split);
        let number: u64 = number
            .parse()
            .map_err(|_| format!("`{text}` is not a duration like `500ms`, `5s`, `2m` or `1h`"))?;
        let millis_per_unit = match unit.trim() {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "" => return Err(format!("`{text}` needs a unit: ms, s, m or h")),
            other => {
                return Err(format!(
                    "`{other}` in `{text}` is not a unit: use ms, s, m or h"
                ));
            }
        };
        let millis = number
            .checked_mul(millis_per_unit)
            .ok_or_else(|| format!("`{text}` is too long"))?;
        Self::from_millis(millis)
    }

    /// A window of `millis` milliseconds; zero is refused, since it would debounce nothing.
    pub(crate) fn from_millis(millis: u64) -> Result<Self, String> {
        if millis == 0 {
            return Err("the window must be longer than zero".to_owned());
        }
        Ok(Self(Duration::from_millis(millis)))
    }
}

impl<'de> serde::Deserialize<'de> for Window {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(WindowVisitor)
    }
}

struct WindowVisitor;

impl Visitor<'_> for WindowVisitor {
    type Value = Window;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a duration like \"5s\" or a number of milliseconds")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Window, E> {
        Window::parse(text).map_err(E::custom)
    }

    fn visit_u64<E: de::Error>(self, millis: u64) -> Result<Window, E> {
        Window::from_millis(millis).map_err(E::custom)
    }

    fn visit_i64<E: de::Error>(self, millis: i64) -> Result<Window, E> {
        let millis =
            u64::try_from(millis).map_err(|_| E::custom("the window must be longer than zero"))?;
        self.visit_u64(millis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_unit_scales_the_number() {
        assert_eq!(
            Window::parse("250ms"),
            Ok(Window(Duration::from_millis(250)))
        );
        assert_eq!(Window::parse("5s"), Ok(Window(Duration::from_secs(5))));
        assert_eq!(Window::parse("2m"), Ok(Window(Duration::from_secs(120))));
        assert_eq!(Window::parse("1h"), Ok(Window(Duration::from_secs(3600))));
        assert_eq!(Window::parse(" 10 s "), Ok(Window(Duration::from_secs(10))));
    }

    #[test]
    fn zero_missing_units_and_unknown_units_are_refused() {
        assert!(Window::parse("0s").is_err_and(|e| e.contains("longer than zero")));
        assert!(Window::parse("5").is_err_and(|e| e.contains("needs a unit")));
        assert!(Window::parse("5d").is_err_and(|e| e.contains("`d`")));
        assert!(Window::parse("s").is_err());
        assert!(Window::parse("-5s").is_err());
        assert!(Window::parse("99999999999999999h").is_err_and(|e| e.contains("too long")));
    }
}
