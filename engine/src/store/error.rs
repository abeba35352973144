//! What can go wrong in the store, naming the device or file concerned.

use std::path::PathBuf;

use crate::secret::SecretError;

/// Errors from [`Store`](super::Store) operations.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The data directory or its key file could not be prepared.
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// The database file could not be created.
    #[error("creating database {path}: {source}", path = path.display())]
    Create {
        /// The database file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The database file could not be opened or configured.
    #[error("opening database {path}: {source}", path = path.display())]
    Open {
        /// The database file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: rusqlite::Error,
    },
    /// The database was written by a newer homeport.
    #[error(
        "database {path} has schema version {found}, newer than the {supported} this homeport \
         understands; run a newer homeport or restore a backup",
        path = path.display()
    )]
    SchemaTooNew {
        /// The database file.
        path: PathBuf,
        /// `PRAGMA user_version` found in the file.
        found: i64,
        /// The newest schema version this build knows.
        supported: i64,
    },
    /// A schema migration failed (the database is left at its previous version).
    #[error("migrating database {path} to schema version {version}: {source}", path = path.display())]
    Migrate {
        /// The database file.
        path: PathBuf,
        /// The version being migrated to.
        version: i64,
        /// The underlying error.
        #[source]
        source: rusqlite::Error,
    },
    /// Input was rejected before touching the database; the message says what and why.
    #[error("{0}")]
    Invalid(String),
    /// A device with this ID is already registered.
    #[error("device {id:?} already exists")]
    AlreadyExists {
        /// The device ID.
        id: String,
    },
    /// No device with this ID is registered.
    #[error("device {id:?} not found")]
    NotFound {
        /// The device ID.
        id: String,
    },
    /// A device's stored password cannot be decrypted with this data directory's key.
    #[error(
        "device {id:?}: stored password cannot be decrypted (was secret.key replaced, or the row \
         edited by hand?): {source}"
    )]
    Unseal {
        /// The device ID.
        id: String,
        /// Why opening failed.
        #[source]
        source: SecretError,
    },
    /// A device's password could not be sealed for storage.
    #[error("device {id:?}: sealing the password: {source}")]
    Seal {
        /// The device ID.
        id: String,
        /// Why sealing failed.
        #[source]
        source: SecretError,
    },
    /// A stored row holds a value this build does not understand.
    #[error("device {id:?}: stored {column} {value:?} is not valid")]
    CorruptRow {
        /// The device ID.
        id: String,
        /// The column concerned.
        column: &'static str,
        /// What was found there.
        value: String,
    },
    /// An SQLite operation failed.
    #[error("{op}: {source}")]
    Sqlite {
        /// What the store was doing, e.g. "adding device \"cam-1\"".
        op: String,
        /// The underlying error.
        #[source]
        source: rusqlite::Error,
    },
    /// The blocking task running the SQLite work panicked or was cancelled.
    #[error("store task failed: {0}")]
    Task(#[source] tokio::task::JoinError),
}

/// Adds "what the store was doing" to rusqlite results.
pub(crate) trait SqliteContext<T> {
    /// Wraps an error as [`StoreError::Sqlite`] with the operation computed by `op`.
    fn context(self, op: impl FnOnce() -> String) -> Result<T, StoreError>;
}

impl<T> SqliteContext<T> for Result<T, rusqlite::Error> {
    fn context(self, op: impl FnOnce() -> String) -> Result<T, StoreError> {
        self.map_err(|source| StoreError::Sqlite { op: op(), source })
    }
}
