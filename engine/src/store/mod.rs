//! The embedded store: one SQLite file, `<data>/homeport.db`, holding the device registry.
//!
//! - [`Store`] (this file) — opening the file and the cheap cloneable handle whose async methods
//!   run SQLite work on tokio's blocking pool.
//! - `schema` — migrations keyed on `PRAGMA user_version`.
//! - `device` — [`Credentials`], [`DeviceCredentials`], [`DeviceRecord`], [`DeviceUpdate`],
//!   [`ImportReport`].
//! - [`LoginProtocol`] comes from the device layer, which defines the logins.
//! - `registry` — add, update, import, delete and list devices.
//! - `state` — [`StateUpdate`] batches and the restart grace query.
//! - `account` — camera-sync accounts: [`AccountInfo`], argon2id hashes, [`LoginCheck`]
//!   (throttling is the camera-sync guard's, not the store's).
//! - `binding` — cameras bound to accounts ([`Binding`], [`BindOutcome`]), passwords sealed.
//! - `validate` — bounds on IDs, usernames, passwords and states.
//! - `error` — [`StoreError`].
//!
//! Passwords are sealed with the data directory's [`SecretKey`] and bound to their device ID,
//! so the database alone reveals no credential and a sealed password cannot be moved to
//! another row.

mod account;
mod binding;
mod dead_letter;
mod device;
mod error;
mod registry;
mod schema;
mod state;
pub(crate) mod validate;

#[cfg(test)]
mod measure;
#[cfg(test)]
mod test_support;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rusqlite::Connection;

pub use crate::device::{LoginProtocol, ParseLoginProtocolError};
pub use account::{
    AccountInfo, LoginCheck, MAX_ACCOUNT_NAME_LEN, MAX_ACCOUNT_PASSWORD_LEN, hashing_slots,
};
pub use binding::{BindOutcome, Binding};
pub use dead_letter::{DeadLetter, MAX_DEAD_LETTERS};
pub use device::{Credentials, DeviceCredentials, DeviceRecord, DeviceUpdate, ImportReport};
pub use error::StoreError;
pub use schema::SCHEMA_VERSION;
pub use state::StateUpdate;
pub use validate::{MAX_ID_LEN, MAX_PASSWORD_LEN, MAX_STATE_LEN, MAX_USERNAME_LEN};

use crate::secret::{self, SecretKey};
use crate::time::now_ms;

/// File name of the database inside the data directory.
pub const DB_FILE: &str = "homeport.db";

/// How long a statement waits for another connection's lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// A handle to the store; clones share one connection.
///
/// Every async method moves its work onto tokio's blocking pool, where it takes the connection
/// lock, so callers on the runtime never block on disk I/O. Operations are serialised by that
/// lock; batch writes ([`Store::record_states`], [`Store::upsert_devices`]) to keep the number
/// of transactions small.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    conn: Mutex<Connection>,
    key: SecretKey,
    path: PathBuf,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

/// Creates `path` empty with mode 0600 if it does not exist.
fn create_private_file(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).map(drop)
}

impl Store {
    /// Opens `<data_dir>/homeport.db`, creating the directory (mode `0700`), the key file and
    /// the database as needed, and migrating the schema.
    ///
    /// This blocks on file I/O; call it at start-up (or inside `spawn_blocking`).
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        secret::create_private_dir(data_dir)?;
        let key = SecretKey::load_or_create(data_dir)?;
        let path = data_dir.join(DB_FILE);
        // Created 0600 before SQLite opens it: SQLite gives its -wal and -shm files the
        // database file's mode.
        create_private_file(&path).map_err(|source| StoreError::Create {
            path: path.clone(),
            source,
        })?;
        let open_error = |source| StoreError::Open {
            path: path.clone(),
            source,
        };
        let mut conn = Connection::open(&path).map_err(open_error)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_error)?;
        let journal_mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "wal", |row| row.get(0))
            .map_err(open_error)?;
        if !journal_mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(path = %path.display(), journal_mode, "SQLite refused WAL mode");
        }
        // In WAL mode NORMAL never corrupts the file; a power cut may lose the last commits.
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(open_error)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(open_error)?;
        schema::migrate(&mut conn, &path)?;
        Ok(Self {
            inner: Arc::new(Inner {
                conn: Mutex::new(conn),
                key,
                path,
            }),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `work` with the connection and the key on the blocking pool.
    async fn call<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        F: FnOnce(&mut Connection, &SecretKey) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            // A panic while holding the lock leaves no open transaction behind (rusqlite rolls
            // back on drop), so the connection is still good to use.
            let mut conn = inner.conn.lock().unwrap_or_else(PoisonError::into_inner);
            work(&mut conn, &inner.key)
        })
        .await
        .map_err(StoreError::Task)?
    }
}
