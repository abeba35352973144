//! Why a well-framed camera-sync line is not a valid message, naming the command and field.

use super::command::{CommandError, CommandName};
use super::escape::EscapeError;

/// Why a line is not a valid camera-sync message. The line was framed correctly, so the
/// connection may carry on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The line is empty.
    #[error("empty camera-sync line")]
    EmptyLine,
    /// The text handed to [`SyncMessage::parse`](super::message::SyncMessage::parse) holds a raw line feed: it is not one line.
    #[error("a camera-sync line cannot contain a raw line feed")]
    LineFeed,
    /// The command token is not a camera-sync command.
    #[error(transparent)]
    Command(#[from] CommandError),
    /// A command that takes no parameter got one.
    #[error("{command} takes no parameter")]
    UnexpectedParameter {
        /// The command.
        command: CommandName,
    },
    /// The parameter does not have the command's number of fields.
    #[error("{command}: expected {expected} fields separated by `{separator}`, found {found}")]
    FieldCount {
        /// The command.
        command: CommandName,
        /// The separator the fields were split on.
        separator: char,
        /// How many fields the command has.
        expected: usize,
        /// How many were found.
        found: usize,
    },
    /// An `id;status` entry of `ReturnCaramerOnlineStatus` does not have two fields.
    #[error("{command}: entry #{index} has {found} `;`-separated fields, expected 2 (id;status)")]
    EntryFieldCount {
        /// The command.
        command: CommandName,
        /// Position of the entry, from 0.
        index: usize,
        /// How many fields it has.
        found: usize,
    },
    /// A numeric field is not ASCII digits, or does not fit.
    #[error("{command}: field `{field}` is not a number in 0..={max}: {value:?}")]
    BadNumber {
        /// The command.
        command: CommandName,
        /// The field, named as in the seed.
        field: &'static str,
        /// The value received (at most 32 characters of it).
        value: String,
        /// The largest value the field takes.
        max: u64,
    },
    /// A status field is not one of the allowed words.
    #[error("{command}: field `{field}` must be {allowed}, found {value:?}")]
    BadStatus {
        /// The command.
        command: CommandName,
        /// The field, named as in the seed.
        field: &'static str,
        /// The value received (at most 32 characters of it).
        value: String,
        /// The words allowed there.
        allowed: &'static str,
    },
    /// A status query asks about more than [`MAX_QUERY_IDS`](super::message::MAX_QUERY_IDS) cameras.
    #[error("{command}: {count} camera IDs in one query, at most {max} are allowed")]
    TooManyIds {
        /// The command.
        command: CommandName,
        /// How many IDs it carries.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// An ID list holds an empty ID (`a;;b`, a trailing separator, …).
    #[error("{command}: camera ID #{index} is empty")]
    EmptyId {
        /// The command.
        command: CommandName,
        /// Position of the empty ID, from 0.
        index: usize,
    },
    /// A field holds a bad backslash escape.
    #[error("{command}: field `{field}`: {source}")]
    Escape {
        /// The command.
        command: CommandName,
        /// The field, named as in the seed.
        field: &'static str,
        /// What is wrong with the escape.
        source: EscapeError,
    },
}
