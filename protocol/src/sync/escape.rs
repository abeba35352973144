//! Backslash escaping of the fields inside a camera-sync parameter, and splitting on separators.
//!
//! The seed separates fields with `|`, `;` and `:` and never says what happens when a field
//! contains one. The reference adds backslash escapes; this module implements them:
//!
//! - `\\` stands for `\`, and `\n` / `\r` for a line feed / carriage return: always escaped
//!   (a raw line feed would end the line, a raw carriage return before it would be dropped).
//! - `\|`, `\;`, `\:` stand for `|`, `;`, `:`: escaped only when the command at hand uses that
//!   character as a separator.
//!
//! Only the separators of the command at hand are escaped on output, so a field without
//! special characters — including `LoginOk`'s time `2024-05-01 10:00:00`, whose colons are not
//! `LoginOk` separators — goes out byte-identical to the seed's format. On input every escape
//! above is understood in every field, whichever command it belongs to (a peer that
//! escapes every `:` is read correctly); a backslash before anything else is an error.

use std::borrow::Cow;

/// A character the seed uses between the fields of a parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Separator {
    /// `|`, between most fields and between the entries of `ReturnCaramerOnlineStatus`.
    Pipe,
    /// `;`, between the IDs of `CheckCaramerOnlineStatus` and inside a status entry.
    Semicolon,
    /// `:`, between the two fields of the `Prush…` pushes.
    Colon,
}

impl Separator {
    /// The separator character.
    pub const fn as_char(self) -> char {
        self.as_byte() as char
    }

    /// The separator as its single (ASCII) byte.
    const fn as_byte(self) -> u8 {
        match self {
            Separator::Pipe => b'|',
            Separator::Semicolon => b';',
            Separator::Colon => b':',
        }
    }
}

/// Why an escaped field cannot be read back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EscapeError {
    /// A backslash followed by a character that has no escape meaning.
    #[error("unknown escape `\\{found}` at byte {offset} (only \\\\ \\| \\; \\: \\n \\r exist)")]
    UnknownEscape {
        /// Byte offset of the backslash within the field.
        offset: usize,
        /// The character after the backslash.
        found: char,
    },
    /// The field ends with a single backslash.
    #[error("dangling backslash at the end of the field")]
    DanglingBackslash,
}

/// Whether `byte` must be escaped when the command separates its fields with `separators`.
fn is_special(byte: u8, separators: &[Separator]) -> bool {
    matches!(byte, b'\\' | b'\n' | b'\r') || separators.iter().any(|s| s.as_byte() == byte)
}

/// Escapes `field` for a command whose fields are separated by `separators`.
///
/// Returns the field itself, borrowed and byte-identical, when it has nothing to escape.
pub fn escape<'a>(field: &'a str, separators: &[Separator]) -> Cow<'a, str> {
    if field.bytes().any(|b| is_special(b, separators)) {
        let mut out = String::with_capacity(field.len() + 8);
        escape_into(&mut out, field, separators);
        Cow::Owned(out)
    } else {
        Cow::Borrowed(field)
    }
}

/// Appends `field` to `out`, escaped for a command whose fields are separated by `separators`.
pub fn escape_into(out: &mut String, field: &str, separators: &[Separator]) {
    // Every special character is ASCII, so cutting the str at one keeps UTF-8 boundaries.
    let mut plain_from = 0;
    for (index, byte) in field.bytes().enumerate() {
        if !is_special(byte, separators) {
            continue;
        }
        out.push_str(&field[plain_from..index]);
        out.push('\\');
        out.push(match byte {
            b'\n' => 'n',
            b'\r' => 'r',
            other => char::from(other),
        });
        plain_from = index + 1;
    }
    out.push_str(&field[plain_from..]);
}

/// Reads one escaped field back (all escapes are understood, whatever the command).
///
/// Returns the field itself, borrowed, when it contains no backslash.
pub fn unescape(field: &str) -> Result<Cow<'_, str>, EscapeError> {
    if !field.contains('\\') {
        return Ok(Cow::Borrowed(field));
    }
    let mut out = String::with_capacity(field.len());
    let mut chars = field.char_indices();
    while let Some((offset, c)) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let decoded = match chars.next() {
            None => return Err(EscapeError::DanglingBackslash),
            Some((_, 'n')) => '\n',
            Some((_, 'r')) => '\r',
            Some((_, found @ ('\\' | '|' | ';' | ':'))) => found,
            Some((_, found)) => return Err(EscapeError::UnknownEscape { offset, found }),
        };
        out.push(decoded);
    }
    Ok(Cow::Owned(out))
}

/// Splits `param` on every `separator` not preceded by an escaping backslash.
///
/// The pieces are still escaped: split on every level first, then [`unescape`] each leaf.
/// An empty `param` yields one empty piece, like [`str::split`].
pub fn split_unescaped(param: &str, separator: Separator) -> SplitUnescaped<'_> {
    SplitUnescaped {
        rest: Some(param),
        separator: separator.as_byte(),
    }
}

/// Iterator returned by [`split_unescaped`].
#[derive(Debug, Clone)]
pub struct SplitUnescaped<'a> {
    rest: Option<&'a str>,
    separator: u8,
}

impl<'a> Iterator for SplitUnescaped<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let rest = self.rest?;
        let bytes = rest.as_bytes();
        let mut index = 0;
        while index < bytes.len() {
            match bytes[index] {
                // Skip the escaped byte; a multi-byte character's tail bytes are >= 0x80 and
                // can never be mistaken for a separator.
                b'\\' => index += 2,
                byte if byte == self.separator => {
                    self.rest = Some(&rest[index + 1..]);
                    return Some(&rest[..index]);
                }
                _ => index += 1,
            }
        }
        self.rest = None;
        Some(rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: &[Separator] = &[Separator::Pipe, Separator::Semicolon, Separator::Colon];

    #[test]
    fn a_field_without_special_characters_is_borrowed_byte_identical() {
        for field in [
            "",
            "abc",
            "用户名或者密码错误!",
            "2024-05-01 10:00:00",
            "a b\tc",
        ] {
            let escaped = escape(field, &[Separator::Pipe]);
            assert!(matches!(escaped, Cow::Borrowed(_)), "{field:?}");
            assert_eq!(escaped, field);
        }
        assert!(matches!(unescape("plain"), Ok(Cow::Borrowed("plain"))));
    }

    #[test]
    fn only_the_commands_own_separators_are_escaped() {
        assert_eq!(escape("10:00|x;y", &[Separator::Pipe]), "10:00\\|x;y");
        assert_eq!(escape("10:00|x;y", &[Separator::Colon]), "10\\:00|x;y");
        assert_eq!(escape("10:00|x;y", ALL), "10\\:00\\|x\\;y");
        assert_eq!(escape("10:00|x;y", &[]), "10:00|x;y");
    }

    #[test]
    fn backslashes_and_line_breaks_are_always_escaped() {
        assert_eq!(escape("a\\b\nc\rd", &[]), "a\\\\b\\nc\\rd");
    }

    #[test]
    fn nasty_fields_survive_escape_then_unescape() {
        let nasty = [
            "\\",
            "\\\\",
            "|",
            ";;",
            ":",
            "\n",
            "\r\n",
            "trailing\\",
            "\\n is not a line feed",
            "密码|含;特殊:字符\\",
            "😀|😀",
            "",
        ];
        for field in nasty {
            for separators in [&[][..], &[Separator::Pipe][..], ALL] {
                let escaped = escape(field, separators);
                assert!(!escaped.contains('\n') && !escaped.contains('\r'));
                assert_eq!(unescape(&escaped).as_deref(), Ok(field), "{field:?}");
            }
        }
    }

    #[test]
    fn every_escape_is_understood_whatever_the_command() {
        assert_eq!(
            unescape("10\\:00\\|\\;\\\\\\n\\r").as_deref(),
            Ok("10:00|;\\\n\r")
        );
    }

    #[test]
    fn an_unknown_escape_is_refused_with_its_position() {
        assert_eq!(
            unescape("C:\\temp"),
            Err(EscapeError::UnknownEscape {
                offset: 2,
                found: 't'
            })
        );
        assert_eq!(
            unescape("ab\\好").map_err(|e| e.to_string()),
            Err("unknown escape `\\好` at byte 2 (only \\\\ \\| \\; \\: \\n \\r exist)".to_owned())
        );
        assert_eq!(unescape("ends\\"), Err(EscapeError::DanglingBackslash));
    }

    #[test]
    fn splitting_skips_escaped_separators() {
        let pieces: Vec<&str> = split_unescaped("a\\|b|c\\\\|d|", Separator::Pipe).collect();
        assert_eq!(pieces, ["a\\|b", "c\\\\", "d", ""]);
    }

    #[test]
    fn splitting_an_empty_parameter_yields_one_empty_piece() {
        assert_eq!(
            split_unescaped("", Separator::Semicolon).collect::<Vec<_>>(),
            [""]
        );
    }

    #[test]
    fn splitting_keeps_multibyte_characters_whole() {
        let pieces: Vec<&str> = split_unescaped("摄像头\\好;头", Separator::Semicolon).collect();
        assert_eq!(pieces, ["摄像头\\好", "头"]);
        let pieces: Vec<&str> = split_unescaped("ends\\", Separator::Semicolon).collect();
        assert_eq!(pieces, ["ends\\"]);
    }

    #[test]
    fn split_then_unescape_inverts_escape_then_join() {
        let fields = ["a|b", "\\", "", "c\\|d", "|"];
        let joined: Vec<String> = fields
            .iter()
            .map(|f| escape(f, &[Separator::Pipe]).into_owned())
            .collect();
        let line = joined.join("|");
        let back: Vec<String> = split_unescaped(&line, Separator::Pipe)
            .map(|piece| unescape(piece).map(Cow::into_owned))
            .collect::<Result<_, _>>()
            .expect("valid escapes");
        assert_eq!(back, fields);
    }
}
