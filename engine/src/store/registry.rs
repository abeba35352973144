//! The device registry: add, update, import, delete and list devices.

use std::collections::HashSet;

use rusqlite::{Connection, params};

use super::device::{
    LABEL_ASSIGNMENTS, RECORD_COLUMNS, label_params, record_from_row, seal_password,
};
use super::error::SqliteContext;
use super::{
    DeviceCredentials, DeviceRecord, DeviceUpdate, ImportReport, Store, StoreError, now_ms,
    validate,
};
use crate::secret::SecretKey;

impl Store {
    /// Registers a new device; [`StoreError::AlreadyExists`] if its ID is taken.
    pub async fn add_device(&self, creds: DeviceCredentials) -> Result<(), StoreError> {
        creds.validate()?;
        self.call(move |conn, key| {
            if insert(conn, key, &creds, now_ms())? {
                Ok(())
            } else {
                Err(StoreError::AlreadyExists { id: creds.id })
            }
        })
        .await
    }

    /// Changes a device's credentials and returns the updated record;
    /// [`StoreError::NotFound`] if there is no such device.
    pub async fn update_device(
        &self,
        id: &str,
        update: DeviceUpdate,
    ) -> Result<DeviceRecord, StoreError> {
        validate::device_id(id)?;
        update.validate(id)?;
        let id = id.to_owned();
        self.call(move |conn, key| {
            let tx = conn
                .transaction()
                .context(|| format!("updating device {id:?}"))?;
            let sealed = match &update.password {
                Some(password) => Some(seal_password(key, &id, password)?),
                None => None,
            };
            let (name, tags) = label_params(&update.labels);
            let changed = tx
                .prepare_cached(&format!(
                    "UPDATE devices SET username = COALESCE(?2, username),
                         password = COALESCE(?3, password),
                         login_protocol = COALESCE(?4, login_protocol),
                         updated_at = ?5,
                         {LABEL_ASSIGNMENTS}
                     WHERE id = ?1"
                ))
                .and_then(|mut stmt| {
                    stmt.execute(params![
                        id,
                        update.username,
                        sealed,
                        update.login_protocol.map(|p| p.as_str()),
                        now_ms(),
                        name,
                        tags,
                    ])
                })
                .context(|| format!("updating device {id:?}"))?;
            if changed == 0 {
                return Err(StoreError::NotFound { id });
            }
            let record =
                select(&tx, key, &id)?.ok_or_else(|| StoreError::NotFound { id: id.clone() })?;
            tx.commit().context(|| format!("updating device {id:?}"))?;
            Ok(record)
        })
        .await
    }

    /// Adds or replaces the credentials of many devices in one transaction (an import).
    ///
    /// Existing devices keep their state, address and last-seen time. Nothing is written if any
    /// entry is invalid or an ID appears twice.
    pub async fn upsert_devices(
        &self,
        devices: Vec<DeviceCredentials>,
    ) -> Result<ImportReport, StoreError> {
        let mut seen = HashSet::with_capacity(devices.len());
        for (index, creds) in devices.iter().enumerate() {
            creds.validate().map_err(|e| match e {
                StoreError::Invalid(message) => {
                    StoreError::Invalid(format!("entry {}: {message}", index + 1))
                }
                other => other,
            })?;
            if !seen.insert(creds.id.as_str()) {
                return Err(StoreError::Invalid(format!(
                    "entry {}: device ID {:?} appears more than once",
                    index + 1,
                    creds.id
                )));
            }
        }
        if devices.is_empty() {
            return Ok(ImportReport::default());
        }
        self.call(move |conn, key| {
            let op = || format!("importing {} devices", devices.len());
            let tx = conn.transaction().context(op)?;
            let now = now_ms();
            let mut report = ImportReport::default();
            for creds in &devices {
                if insert(&tx, key, creds, now)? {
                    report.added += 1;
                } else {
                    replace_credentials(&tx, key, creds, now)?;
                    report.updated += 1;
                }
            }
            tx.commit().context(op)?;
            Ok(report)
        })
        .await
    }

    /// Removes a device; `false` if there was none.
    pub async fn delete_device(&self, id: &str) -> Result<bool, StoreError> {
        let id = id.to_owned();
        self.call(move |conn, _| {
            let deleted = conn
                .prepare_cached("DELETE FROM devices WHERE id = ?1")
                .and_then(|mut stmt| stmt.execute([&id]))
                .context(|| format!("deleting device {id:?}"))?;
            Ok(deleted > 0)
        })
        .await
    }

    /// One device, with its password decrypted; `None` if it is not registered.
    pub async fn device(&self, id: &str) -> Result<Option<DeviceRecord>, StoreError> {
        let id = id.to_owned();
        self.call(move |conn, key| select(conn, key, &id)).await
    }

    /// Every device, ordered by ID, with passwords decrypted.
    pub async fn devices(&self) -> Result<Vec<DeviceRecord>, StoreError> {
        self.call(|conn, key| {
            let op = || "listing devices".to_owned();
            let mut stmt = conn
                .prepare_cached(&format!("SELECT {RECORD_COLUMNS} FROM devices ORDER BY id"))
                .context(op)?;
            let mut rows = stmt.query([]).context(op)?;
            let mut records = Vec::new();
            while let Some(row) = rows.next().context(op)? {
                records.push(record_from_row(key, row)?);
            }
            Ok(records)
        })
        .await
    }
}

/// Inserts a device unless its ID exists; `true` if inserted.
fn insert(
    conn: &Connection,
    key: &SecretKey,
    creds: &DeviceCredentials,
    now: i64,
) -> Result<bool, StoreError> {
    let sealed = seal_password(key, &creds.id, &creds.credentials.password)?;
    let (name, tags) = label_params(&creds.labels);
    let inserted = conn
        .prepare_cached(
            "INSERT INTO devices (id, username, password, login_protocol, created_at, updated_at,
                                  name, tags)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5, NULLIF(?6, ''), NULLIF(?7, ''))
             ON CONFLICT (id) DO NOTHING",
        )
        .and_then(|mut stmt| {
            stmt.execute(params![
                creds.id,
                creds.credentials.username,
                sealed,
                creds.credentials.login_protocol.as_str(),
                now,
                name,
                tags,
            ])
        })
        .context(|| format!("adding device {:?}", creds.id))?;
    Ok(inserted > 0)
}

/// Replaces an existing device's credentials, and the labels the import gives, keeping its
/// state.
fn replace_credentials(
    conn: &Connection,
    key: &SecretKey,
    creds: &DeviceCredentials,
    now: i64,
) -> Result<(), StoreError> {
    let sealed = seal_password(key, &creds.id, &creds.credentials.password)?;
    let (name, tags) = label_params(&creds.labels);
    conn.prepare_cached(&format!(
        "UPDATE devices SET username = ?2, password = ?3, login_protocol = ?4, updated_at = ?5,
             {LABEL_ASSIGNMENTS}
         WHERE id = ?1"
    ))
    .and_then(|mut stmt| {
        stmt.execute(params![
            creds.id,
            creds.credentials.username,
            sealed,
            creds.credentials.login_protocol.as_str(),
            now,
            name,
            tags,
        ])
    })
    .context(|| format!("updating device {:?}", creds.id))?;
    Ok(())
}

/// Reads one device.
fn select(
    conn: &Connection,
    key: &SecretKey,
    id: &str,
) -> Result<Option<DeviceRecord>, StoreError> {
    let op = || format!("reading device {id:?}");
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {RECORD_COLUMNS} FROM devices WHERE id = ?1"
        ))
        .context(op)?;
    let mut rows = stmt.query([id]).context(op)?;
    match rows.next().context(op)? {
        Some(row) => record_from_row(key, row).map(Some),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{TestStore, creds};
    use super::super::{LoginProtocol, StateUpdate};
    use super::*;
    use crate::device::{LabelChange, Labels};
    use crate::secret::Secret;

    #[tokio::test]
    async fn labels_are_stored_changed_kept_and_removed() {
        let t = TestStore::new();
        let mut device = creds("cam-1", "pw");
        device.labels = LabelChange::new(Some("Gate".into()), Some(vec!["a".into(), "b".into()]))
            .expect("valid");
        t.store.add_device(device).await.expect("added");
        let labels = |t: &TestStore| {
            let store = t.store.clone();
            async move {
                store
                    .device("cam-1")
                    .await
                    .expect("read")
                    .expect("there")
                    .labels
            }
        };
        assert_eq!(
            labels(&t).await,
            Labels::new(Some("Gate".into()), vec!["a".into(), "b".into()]).expect("valid")
        );
        // A credentials-only update keeps them; a name-only one keeps the tags.
        let update = DeviceUpdate {
            password: Some(Secret::new("pw2")),
            ..DeviceUpdate::default()
        };
        t.store
            .update_device("cam-1", update)
            .await
            .expect("updated");
        assert_eq!(labels(&t).await.name.as_deref(), Some("Gate"));
        let update = DeviceUpdate {
            labels: LabelChange::new(Some("Yard".into()), None).expect("valid"),
            ..DeviceUpdate::default()
        };
        let record = t
            .store
            .update_device("cam-1", update)
            .await
            .expect("updated");
        assert_eq!(
            (record.labels.name.as_deref(), record.labels.tags.len()),
            (Some("Yard"), 2)
        );
        // An import without labels keeps them; one with empty ones removes them.
        t.store
            .upsert_devices(vec![creds("cam-1", "pw3")])
            .await
            .expect("imported");
        assert_eq!(labels(&t).await.name.as_deref(), Some("Yard"));
        let mut cleared = creds("cam-1", "pw3");
        cleared.labels = LabelChange::new(Some(String::new()), Some(vec![])).expect("valid");
        t.store
            .upsert_devices(vec![cleared])
            .await
            .expect("imported");
        assert_eq!(labels(&t).await, Labels::default());
        // Bad labels never reach the table.
        let bad = DeviceUpdate {
            labels: LabelChange {
                name: None,
                tags: Some(vec!["a b".into()]),
            },
            ..DeviceUpdate::default()
        };
        let err = t
            .store
            .update_device("cam-1", bad)
            .await
            .expect_err("refused");
        assert!(err.to_string().contains("whitespace"), "{err}");
    }

    #[tokio::test]
    async fn added_device_is_listed_with_its_credentials_and_offline() {
        let t = TestStore::new();
        t.store
            .add_device(creds("cam-1", "pw-1"))
            .await
            .expect("added");
        let record = t
            .store
            .device("cam-1")
            .await
            .expect("read")
            .expect("present");
        assert_eq!(record.id, "cam-1");
        assert_eq!(record.credentials.username, "admin");
        assert_eq!(record.credentials.password.expose(), "pw-1");
        assert_eq!(record.credentials.login_protocol, LoginProtocol::Auto);
        assert_eq!(record.state, "offline");
        assert_eq!(
            (record.last_addr, record.last_seen_ms, record.reason),
            (None, None, None)
        );
        assert_eq!(t.store.device("cam-2").await.expect("read"), None);
    }

    #[tokio::test]
    async fn adding_an_existing_id_fails_and_keeps_the_first() {
        let t = TestStore::new();
        t.store
            .add_device(creds("cam-1", "first"))
            .await
            .expect("added");
        let err = t
            .store
            .add_device(creds("cam-1", "second"))
            .await
            .expect_err("refused");
        assert!(
            matches!(&err, StoreError::AlreadyExists { id } if id == "cam-1"),
            "{err}"
        );
        let record = t
            .store
            .device("cam-1")
            .await
            .expect("read")
            .expect("present");
        assert_eq!(record.credentials.password.expose(), "first");
    }

    #[tokio::test]
    async fn password_is_stored_sealed_and_survives_reopen() {
        let t = TestStore::new();
        let secret = "correct-horse-battery-staple";
        t.store
            .add_device(creds("cam-1", secret))
            .await
            .expect("added");

        let raw = t.raw_password("cam-1");
        assert!(!raw.windows(secret.len()).any(|w| w == secret.as_bytes()));
        drop(t.store);

        let reopened = Store::open(t.dir.path()).expect("reopened");
        let record = reopened
            .device("cam-1")
            .await
            .expect("read")
            .expect("present");
        assert_eq!(record.credentials.password.expose(), secret);
    }

    #[tokio::test]
    async fn sealed_password_moved_to_another_device_does_not_open() {
        let t = TestStore::new();
        t.store
            .add_device(creds("cam-1", "pw-1"))
            .await
            .expect("added");
        t.store
            .add_device(creds("cam-2", "pw-2"))
            .await
            .expect("added");
        let stolen = t.raw_password("cam-1");
        t.raw()
            .execute(
                "UPDATE devices SET password = ?1 WHERE id = 'cam-2'",
                [stolen],
            )
            .expect("tampered");

        let err = t.store.device("cam-2").await.expect_err("refused");
        assert!(
            matches!(&err, StoreError::Unseal { id, .. } if id == "cam-2"),
            "{err}"
        );
        assert!(
            t.store.devices().await.is_err(),
            "listing names the bad row too"
        );
        assert!(t.store.device("cam-1").await.expect("read").is_some());
    }

    #[tokio::test]
    async fn update_changes_only_the_given_fields() {
        let t = TestStore::new();
        t.store
            .add_device(creds("cam-1", "old"))
            .await
            .expect("added");
        let update = DeviceUpdate {
            password: Some(Secret::new("new")),
            login_protocol: Some(LoginProtocol::Dvrip),
            ..DeviceUpdate::default()
        };
        let record = t
            .store
            .update_device("cam-1", update)
            .await
            .expect("updated");
        assert_eq!(record.credentials.username, "admin");
        assert_eq!(record.credentials.password.expose(), "new");
        assert_eq!(record.credentials.login_protocol, LoginProtocol::Dvrip);

        let update = DeviceUpdate {
            username: Some("operator".to_owned()),
            ..DeviceUpdate::default()
        };
        let record = t
            .store
            .update_device("cam-1", update)
            .await
            .expect("updated");
        assert_eq!(record.credentials.username, "operator");
        assert_eq!(record.credentials.password.expose(), "new");
        assert_eq!(
            t.store
                .device("cam-1")
                .await
                .expect("read")
                .expect("present"),
            record
        );
    }

    #[tokio::test]
    async fn updating_an_unknown_device_is_not_found() {
        let t = TestStore::new();
        let err = t
            .store
            .update_device("ghost", DeviceUpdate::default())
            .await
            .expect_err("refused");
        assert!(
            matches!(&err, StoreError::NotFound { id } if id == "ghost"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn delete_removes_the_device_once() {
        let t = TestStore::new();
        t.store
            .add_device(creds("cam-1", "pw"))
            .await
            .expect("added");
        assert!(t.store.delete_device("cam-1").await.expect("deleted"));
        assert!(!t.store.delete_device("cam-1").await.expect("second delete"));
        assert_eq!(t.store.device("cam-1").await.expect("read"), None);
    }

    #[tokio::test]
    async fn devices_are_listed_in_id_order() {
        let t = TestStore::new();
        for id in ["cam-3", "cam-1", "cam-2"] {
            t.store.add_device(creds(id, "pw")).await.expect("added");
        }
        let ids: Vec<String> = t
            .store
            .devices()
            .await
            .expect("listed")
            .into_iter()
            .map(|d| d.id)
            .collect();
        assert_eq!(ids, ["cam-1", "cam-2", "cam-3"]);
    }

    #[tokio::test]
    async fn import_adds_new_devices_and_replaces_credentials_of_known_ones() {
        let t = TestStore::new();
        t.store
            .add_device(creds("cam-1", "old"))
            .await
            .expect("added");
        t.store
            .record_states(vec![StateUpdate {
                last_addr: Some("192.0.2.1:1000".to_owned()),
                ..StateUpdate::new("cam-1", "online")
            }])
            .await
            .expect("recorded");

        let report = t
            .store
            .upsert_devices(vec![creds("cam-1", "new"), creds("cam-2", "pw-2")])
            .await
            .expect("imported");
        assert_eq!(
            report,
            ImportReport {
                added: 1,
                updated: 1
            }
        );
        let cam1 = t
            .store
            .device("cam-1")
            .await
            .expect("read")
            .expect("present");
        assert_eq!(cam1.credentials.password.expose(), "new");
        assert_eq!(cam1.state, "online", "an import keeps the state");
        assert_eq!(cam1.last_addr.as_deref(), Some("192.0.2.1:1000"));
        assert_eq!(t.store.devices().await.expect("listed").len(), 2);
    }

    #[tokio::test]
    async fn import_with_one_bad_entry_writes_nothing() {
        let t = TestStore::new();
        let err = t
            .store
            .upsert_devices(vec![creds("cam-1", "pw"), creds("", "pw")])
            .await
            .expect_err("refused");
        assert!(
            err.to_string().starts_with("entry 2: device ID is empty"),
            "{err}"
        );

        let err = t
            .store
            .upsert_devices(vec![creds("cam-1", "pw"), creds("cam-1", "pw")])
            .await
            .expect_err("refused");
        assert!(err.to_string().contains("appears more than once"), "{err}");
        assert!(t.store.devices().await.expect("listed").is_empty());
    }

    #[tokio::test]
    async fn invalid_ids_usernames_and_passwords_are_refused() {
        let t = TestStore::new();
        for bad in ["", "cam\u{7}", &"x".repeat(64)] {
            let err = t
                .store
                .add_device(creds(bad, "pw"))
                .await
                .expect_err("refused");
            assert!(matches!(err, StoreError::Invalid(_)), "{err}");
        }
        let mut no_user = creds("cam-1", "pw");
        no_user.credentials.username.clear();
        assert!(matches!(
            t.store.add_device(no_user).await,
            Err(StoreError::Invalid(_))
        ));
        let long_password = creds("cam-1", &"p".repeat(129));
        assert!(matches!(
            t.store.add_device(long_password).await,
            Err(StoreError::Invalid(_))
        ));
        let update = DeviceUpdate {
            username: Some(String::new()),
            ..DeviceUpdate::default()
        };
        assert!(matches!(
            t.store.update_device("cam-1", update).await,
            Err(StoreError::Invalid(_))
        ));
        assert!(t.store.devices().await.expect("listed").is_empty());
    }
}
