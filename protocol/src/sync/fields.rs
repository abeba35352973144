//! Reading and writing the fields of one command's parameter (split, escape, numbers, status).
//!
//! Private helpers of [`message`](super::message): each command splits only on its own
//! separators, and every error names the command and the field.

use std::borrow::Cow;
use std::str::FromStr;

use super::command::CommandName;
use super::error::ParseError;
use super::escape::{Separator, escape_into, split_unescaped, unescape};
use super::status::OnlineStatus;

/// Most camera IDs one `CheckCaramerOnlineStatus` may ask about (seed: "within 20").
pub const MAX_QUERY_IDS: usize = 20;

/// Longest offending value copied into an error, in characters.
pub(super) const VALUE_PREVIEW_CHARS: usize = 32;

/// The separators each command splits its parameter on: the only ones escaped on output.
pub(super) const fn separators(command: CommandName) -> &'static [Separator] {
    match command {
        CommandName::Login
        | CommandName::LoginOk
        | CommandName::CreatDataSocket
        | CommandName::ReturnDataSocketPort
        | CommandName::UploadCaramer
        | CommandName::UploadSucess
        | CommandName::UploadFail
        | CommandName::DownloadSucess
        | CommandName::DeleteFail
        | CommandName::ChangeCaramerPassword
        | CommandName::ChangeFail => &[Separator::Pipe],
        CommandName::CheckCaramerOnlineStatus => &[Separator::Semicolon],
        CommandName::ReturnCaramerOnlineStatus => &[Separator::Pipe, Separator::Semicolon],
        CommandName::PrushCaramerOnlineStatus | CommandName::PrushCaramerAlarmInfo => {
            &[Separator::Colon]
        }
        CommandName::LoginError
        | CommandName::BindDataSocket
        | CommandName::DownLoadCaramer
        | CommandName::DownloadFail
        | CommandName::Heartbeat
        | CommandName::Logout
        | CommandName::LogoutOk
        | CommandName::DeleteCaramer
        | CommandName::DeleteSucess
        | CommandName::ChangeSucess => &[],
    }
}

/// A line being written: the command, then its parameter with text fields escaped for the
/// command's separators.
#[derive(Debug)]
pub(super) struct LineWriter {
    line: String,
    param_start: usize,
    separators: &'static [Separator],
}

impl LineWriter {
    /// Starts the line `command ` (the space goes again if the parameter stays empty).
    pub(super) fn new(command: CommandName) -> Self {
        let mut line = String::with_capacity(64);
        line.push_str(command.as_str());
        line.push(' ');
        LineWriter {
            param_start: line.len(),
            line,
            separators: separators(command),
        }
    }

    /// Appends a text field, escaped.
    pub(super) fn text(&mut self, field: &str) -> &mut Self {
        escape_into(&mut self.line, field, self.separators);
        self
    }

    /// Appends text that is never escaped (separators, status words).
    pub(super) fn raw(&mut self, text: &str) -> &mut Self {
        self.line.push_str(text);
        self
    }

    /// Appends a `|` separator.
    pub(super) fn pipe(&mut self) -> &mut Self {
        self.raw("|")
    }

    /// Appends a number in decimal.
    pub(super) fn number(&mut self, value: impl Into<u64>) -> &mut Self {
        let value: u64 = value.into();
        self.raw(&value.to_string())
    }

    /// The finished line: the bare command when the parameter is empty.
    pub(super) fn finish(mut self) -> String {
        if self.line.len() == self.param_start {
            self.line.pop();
        }
        self.line
    }
}

/// Reads the fields of one command's parameter, naming that command in every error.
#[derive(Debug, Clone, Copy)]
pub(super) struct Reader {
    /// The command whose parameter is read.
    pub(super) command: CommandName,
}

impl Reader {
    /// Checks that a command without parameter got none.
    pub(super) fn no_parameter(self, param: &str) -> Result<(), ParseError> {
        if param.is_empty() {
            Ok(())
        } else {
            Err(ParseError::UnexpectedParameter {
                command: self.command,
            })
        }
    }

    /// Splits `param` on unescaped `separator` into exactly `N` still-escaped fields.
    pub(super) fn fields<const N: usize>(
        self,
        param: &str,
        separator: Separator,
    ) -> Result<[&str; N], ParseError> {
        let mut fields = [""; N];
        let mut found = 0;
        for piece in split_unescaped(param, separator) {
            if let Some(slot) = fields.get_mut(found) {
                *slot = piece;
            }
            found += 1;
        }
        if found != N {
            return Err(ParseError::FieldCount {
                command: self.command,
                separator: separator.as_char(),
                expected: N,
                found,
            });
        }
        Ok(fields)
    }

    /// Splits `param` on unescaped `separator` into `N` still-escaped fields and, when there
    /// is one more, that optional last field.
    pub(super) fn fields_and_optional<const N: usize>(
        self,
        param: &str,
        separator: Separator,
    ) -> Result<([&str; N], Option<&str>), ParseError> {
        let mut fields = [""; N];
        let mut extra = None;
        let mut found = 0;
        for piece in split_unescaped(param, separator) {
            match fields.get_mut(found) {
                Some(slot) => *slot = piece,
                None if found == N => extra = Some(piece),
                None => {}
            }
            found += 1;
        }
        if found != N && found != N + 1 {
            return Err(ParseError::FieldCount {
                command: self.command,
                separator: separator.as_char(),
                expected: N,
                found,
            });
        }
        Ok((fields, extra))
    }

    /// Unescapes a text field.
    pub(super) fn text(self, field: &'static str, raw: &str) -> Result<String, ParseError> {
        unescape(raw)
            .map(Cow::into_owned)
            .map_err(|source| ParseError::Escape {
                command: self.command,
                field,
                source,
            })
    }

    /// Unescapes a text field where empty means absent.
    pub(super) fn optional_text(
        self,
        field: &'static str,
        raw: &str,
    ) -> Result<Option<String>, ParseError> {
        match raw {
            "" => Ok(None),
            raw => self.text(field, raw).map(Some),
        }
    }

    /// Reads an unsigned decimal number: ASCII digits only, within `T`'s range.
    pub(super) fn number<T>(self, field: &'static str, raw: &str) -> Result<T, ParseError>
    where
        T: FromStr + Into<u64> + Bounded,
    {
        let digits_only = !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit());
        // `FromStr` alone would also take a leading `+`.
        match raw.parse::<T>() {
            Ok(value) if digits_only => Ok(value),
            _ => Err(ParseError::BadNumber {
                command: self.command,
                field,
                value: preview(raw),
                max: T::MAX_U64,
            }),
        }
    }

    /// Reads `true`, `false` or `null`.
    pub(super) fn status(self, field: &'static str, raw: &str) -> Result<OnlineStatus, ParseError> {
        OnlineStatus::from_wire(raw)
            .ok_or_else(|| self.bad_status(field, raw, "true, false or null"))
    }

    /// The error for a status word that is not allowed.
    pub(super) fn bad_status(
        self,
        field: &'static str,
        raw: &str,
        allowed: &'static str,
    ) -> ParseError {
        ParseError::BadStatus {
            command: self.command,
            field,
            value: preview(raw),
            allowed,
        }
    }

    /// The error for an empty ID in a list.
    pub(super) fn empty_id(self, index: usize) -> ParseError {
        ParseError::EmptyId {
            command: self.command,
            index,
        }
    }

    /// `id1;id2;…`, at most [`MAX_QUERY_IDS`] non-empty IDs; the empty parameter is the
    /// empty list.
    pub(super) fn id_list(self, param: &str) -> Result<Vec<String>, ParseError> {
        if param.is_empty() {
            return Ok(Vec::new());
        }
        // Count before unescaping anything: an oversized query costs no allocation.
        let count = split_unescaped(param, Separator::Semicolon).count();
        if count > MAX_QUERY_IDS {
            return Err(ParseError::TooManyIds {
                command: self.command,
                count,
                max: MAX_QUERY_IDS,
            });
        }
        split_unescaped(param, Separator::Semicolon)
            .enumerate()
            .map(|(index, raw)| match raw {
                "" => Err(self.empty_id(index)),
                raw => self.text("cameraID", raw),
            })
            .collect()
    }

    /// `id1;status1|id2;status2|…` with non-empty IDs; the empty parameter is the empty list.
    pub(super) fn status_list(
        self,
        param: &str,
    ) -> Result<Vec<(String, OnlineStatus)>, ParseError> {
        if param.is_empty() {
            return Ok(Vec::new());
        }
        split_unescaped(param, Separator::Pipe)
            .enumerate()
            .map(|(index, entry)| {
                let mut parts = split_unescaped(entry, Separator::Semicolon);
                let (Some(id), Some(status), None) = (parts.next(), parts.next(), parts.next())
                else {
                    return Err(ParseError::EntryFieldCount {
                        command: self.command,
                        index,
                        found: split_unescaped(entry, Separator::Semicolon).count(),
                    });
                };
                if id.is_empty() {
                    return Err(self.empty_id(index));
                }
                Ok((
                    self.text("cameraID", id)?,
                    self.status("onlineStatus", status)?,
                ))
            })
            .collect()
    }
}

/// The unsigned integer types a numeric field can have, with their maximum for errors.
pub(super) trait Bounded {
    /// `Self::MAX` widened.
    const MAX_U64: u64;
}

impl Bounded for u16 {
    const MAX_U64: u64 = u16::MAX as u64;
}

impl Bounded for u32 {
    const MAX_U64: u64 = u32::MAX as u64;
}

/// The start of an untrusted value, short enough to log.
pub(super) fn preview(value: &str) -> String {
    value.chars().take(VALUE_PREVIEW_CHARS).collect()
}
