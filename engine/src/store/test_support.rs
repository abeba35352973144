//! Helpers for the store's tests: a store in a fresh temporary data directory.

use rusqlite::Connection;
use tempfile::TempDir;

use super::{Credentials, DB_FILE, DeviceCredentials, LoginProtocol, Store};

/// A store opened in its own temporary data directory (removed on drop).
pub(super) struct TestStore {
    pub(super) store: Store,
    pub(super) dir: TempDir,
}

impl TestStore {
    /// Opens a store in a new temporary directory.
    pub(super) fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("homeport-store-")
            .tempdir()
            .expect("a temporary directory");
        let store = Store::open(dir.path()).expect("the store opens");
        Self { store, dir }
    }

    /// A second, raw connection to the same database file.
    pub(super) fn raw(&self) -> Connection {
        Connection::open(self.dir.path().join(DB_FILE)).expect("a raw connection")
    }

    /// The `password` column exactly as stored.
    pub(super) fn raw_password(&self, id: &str) -> Vec<u8> {
        self.raw()
            .query_row("SELECT password FROM devices WHERE id = ?1", [id], |row| {
                row.get(0)
            })
            .expect("the stored password")
    }
}

/// Credentials for `id` with user `admin` and the `auto` login protocol.
pub(super) fn creds(id: &str, password: &str) -> DeviceCredentials {
    DeviceCredentials::new(id, Credentials::new("admin", password, LoginProtocol::Auto))
}
