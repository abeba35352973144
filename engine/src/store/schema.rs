//! Schema migrations, numbered by SQLite's `PRAGMA user_version`.
//!
//! Migration `n` (1-based) is `MIGRATIONS[n - 1]`. Opening runs the missing ones in a single
//! immediate transaction that also sets `user_version`, so a crash or a second process never
//! sees a half-migrated file. Append new migrations; never edit a released one.

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};

use super::StoreError;

/// The migrations, oldest first.
const MIGRATIONS: &[&str] = &[
    // 1: the device registry.
    "CREATE TABLE devices (
        id             TEXT PRIMARY KEY NOT NULL,
        username       TEXT NOT NULL,
        password       BLOB NOT NULL,
        login_protocol TEXT NOT NULL CHECK (login_protocol IN ('dhip', 'dvrip', 'auto')),
        last_addr      TEXT,
        last_seen      INTEGER,
        state          TEXT NOT NULL DEFAULT 'offline',
        reason         TEXT,
        created_at     INTEGER,
        updated_at     INTEGER
    ) STRICT, WITHOUT ROWID;
    CREATE INDEX devices_by_state ON devices (state);",
    // 2: events a pipeline stage gave up on, kept for inspection and replay.
    "CREATE TABLE dead_letters (
        id        INTEGER PRIMARY KEY AUTOINCREMENT,
        at        INTEGER NOT NULL,
        pipeline  TEXT NOT NULL,
        stage     TEXT NOT NULL,
        error     TEXT NOT NULL,
        event     TEXT NOT NULL
    ) STRICT;",
    // 3: camera-sync accounts (argon2id PHC hashes) and the cameras bound to them; a camera
    // password is sealed with the data key for its account and camera.
    "CREATE TABLE accounts (
        name            TEXT PRIMARY KEY NOT NULL,
        password_hash   TEXT NOT NULL,
        created_at      INTEGER,
        last_login_ms   INTEGER,
        last_login_ip   TEXT,
        failed          INTEGER NOT NULL DEFAULT 0,
        locked_until_ms INTEGER
    ) STRICT, WITHOUT ROWID;
    CREATE TABLE bindings (
        account         TEXT NOT NULL REFERENCES accounts (name) ON DELETE CASCADE,
        camera_id       TEXT NOT NULL,
        camera_password BLOB NOT NULL,
        verified        INTEGER NOT NULL CHECK (verified IN (0, 1)),
        created_at      INTEGER,
        PRIMARY KEY (account, camera_id)
    ) STRICT, WITHOUT ROWID;
    CREATE INDEX bindings_by_camera ON bindings (camera_id);",
    // The `legacy` login protocol, and the protocol `auto` found to work (tried first next
    // time). SQLite cannot change a CHECK constraint in place, so the table is rebuilt.
    "CREATE TABLE devices_v4 (
        id               TEXT PRIMARY KEY NOT NULL,
        username         TEXT NOT NULL,
        password         BLOB NOT NULL,
        login_protocol   TEXT NOT NULL
                         CHECK (login_protocol IN ('dhip', 'dvrip', 'auto', 'legacy')),
        last_addr        TEXT,
        last_seen        INTEGER,
        state            TEXT NOT NULL DEFAULT 'offline',
        reason           TEXT,
        created_at       INTEGER,
        updated_at       INTEGER,
        learned_protocol TEXT CHECK (learned_protocol IN ('dhip', 'dvrip'))
    ) STRICT, WITHOUT ROWID;
    INSERT INTO devices_v4 (id, username, password, login_protocol, last_addr, last_seen,
                            state, reason, created_at, updated_at)
        SELECT id, username, password, login_protocol, last_addr, last_seen,
               state, reason, created_at, updated_at FROM devices;
    DROP TABLE devices;
    ALTER TABLE devices_v4 RENAME TO devices;
    CREATE INDEX devices_by_state ON devices (state);",
    // What a device proved at its first login (realm with its protocol, serial, type),
    // checked at every later login.
    "ALTER TABLE devices ADD COLUMN pin_realm TEXT;
    ALTER TABLE devices ADD COLUMN pin_serial TEXT;
    ALTER TABLE devices ADD COLUMN pin_type TEXT;",
    // What an operator says about a device: a display name, and tags as a JSON array.
    "ALTER TABLE devices ADD COLUMN name TEXT;
    ALTER TABLE devices ADD COLUMN tags TEXT;",
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Brings the database at `path` up to [`SCHEMA_VERSION`].
pub(super) fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let open_error = |source| StoreError::Open {
        path: path.to_owned(),
        source,
    };
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(open_error)?;
    let found: i64 = tx
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(open_error)?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            path: path.to_owned(),
            found,
            supported: SCHEMA_VERSION,
        });
    }
    if found == SCHEMA_VERSION {
        return Ok(());
    }
    for (version, sql) in (1..)
        .zip(MIGRATIONS)
        .skip(usize::try_from(found).unwrap_or(0))
    {
        tx.execute_batch(sql)
            .map_err(|source| StoreError::Migrate {
                path: path.to_owned(),
                version,
                source,
            })?;
        tracing::info!(path = %path.display(), version, "migrated database schema");
    }
    let migrate_error = |source| StoreError::Migrate {
        path: path.to_owned(),
        version: SCHEMA_VERSION,
        source,
    };
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)
        .map_err(migrate_error)?;
    tx.commit().map_err(migrate_error)
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{TestStore, creds};
    use super::super::{DB_FILE, Store};
    use super::*;

    fn user_version(conn: &Connection) -> i64 {
        conn.pragma_query_value(None, "user_version", |row| row.get(0))
            .expect("user_version")
    }

    #[tokio::test]
    async fn reopening_runs_no_migration_twice_and_keeps_the_data() {
        let t = TestStore::new();
        assert_eq!(user_version(&t.raw()), SCHEMA_VERSION);
        t.store
            .add_device(creds("cam-1", "pw"))
            .await
            .expect("added");
        drop(t.store);

        for _ in 0..2 {
            let store = Store::open(t.dir.path()).expect("reopened");
            assert_eq!(store.devices().await.expect("listed").len(), 1);
        }
        let raw = Connection::open(t.dir.path().join(DB_FILE)).expect("raw");
        assert_eq!(user_version(&raw), SCHEMA_VERSION);
        let mode: String = raw
            .pragma_query_value(None, "journal_mode", |row| row.get(0))
            .expect("journal_mode");
        assert_eq!(mode, "wal");
    }

    #[test]
    fn database_from_a_newer_homeport_is_refused() {
        let t = TestStore::new();
        t.raw()
            .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .expect("bumped");
        drop(t.store);
        let err = Store::open(t.dir.path()).expect_err("refused");
        assert!(
            matches!(err, StoreError::SchemaTooNew { found, .. } if found == SCHEMA_VERSION + 1),
            "{err}"
        );
        assert!(err.to_string().contains("newer"), "{err}");
    }

    #[test]
    fn stored_login_protocol_is_constrained() {
        let t = TestStore::new();
        let err = t.raw().execute(
            "INSERT INTO devices (id, username, password, login_protocol) \
             VALUES ('x', 'u', x'00', 'telnet')",
            [],
        );
        assert!(
            err.is_err(),
            "the CHECK constraint refuses unknown protocols"
        );
    }
}
