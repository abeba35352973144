//! Recorded device state: batched writes from the engine and the restart grace query.
//!
//! The engine collects state changes and flushes them in batches, so a registration storm of
//! 10 000 devices costs a handful of transactions rather than 10 000.

use rusqlite::params;

use super::error::SqliteContext;
use super::{LoginProtocol, Store, StoreError, validate};
use crate::device::identity::{Identity, PinnedRealm};

/// Longest reason kept, in bytes; longer ones are cut at a character boundary.
const MAX_REASON_LEN: usize = 1024;
/// Longest address kept, in bytes; longer ones are cut at a character boundary.
const MAX_ADDR_LEN: usize = 128;

/// One device's new state, as the registry queues it for a batch; `None` fields leave the
/// stored column as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateUpdate {
    /// The device ID; updates for unregistered IDs are skipped.
    pub id: String,
    /// The new state, e.g. `online`, `offline`, `login_failed`.
    pub state: String,
    /// Why; `Some("")` clears the stored reason. Cut to 1 KiB.
    pub reason: Option<String>,
    /// The address the device connects from.
    pub last_addr: Option<String>,
    /// When it was last seen, in Unix milliseconds.
    pub last_seen_ms: Option<i64>,
    /// The protocol an `auto` login just succeeded with.
    pub learned_protocol: Option<LoginProtocol>,
    /// The identity the device just proved at its first login, to pin.
    pub pinned: Option<Identity>,
}

impl StateUpdate {
    /// A state change that touches nothing but the state.
    pub fn new(id: impl Into<String>, state: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            state: state.into(),
            reason: None,
            last_addr: None,
            last_seen_ms: None,
            learned_protocol: None,
            pinned: None,
        }
    }
}

impl Store {
    /// Forgets what a device proved at its first login (a replaced camera): its next login
    /// pins again. False if the device is unknown.
    pub async fn forget_identity(&self, id: &str) -> Result<bool, StoreError> {
        let id = id.to_owned();
        self.call(move |conn, _| {
            let op = || format!("forgetting the identity of {id:?}");
            let changed = conn
                .execute(
                    "UPDATE devices SET pin_realm = NULL, pin_serial = NULL, pin_type = NULL WHERE id = ?1",
                    params![id],
                )
                .context(op)?;
            Ok(changed > 0)
        })
        .await
    }

    /// Applies a batch of state changes in one transaction, in order; returns how many rows
    /// were updated. IDs with no device row are skipped.
    ///
    /// Fails without writing anything if a state name is malformed (see
    /// [`MAX_STATE_LEN`](super::MAX_STATE_LEN)).
    pub async fn record_states(&self, updates: Vec<StateUpdate>) -> Result<usize, StoreError> {
        for update in &updates {
            validate::state(&update.state)
                .map_err(|e| StoreError::Invalid(format!("device {:?}: {e}", update.id)))?;
        }
        if updates.is_empty() {
            return Ok(0);
        }
        self.call(move |conn, _| {
            let op = || format!("recording {} state changes", updates.len());
            let tx = conn.transaction().context(op)?;
            let mut updated = 0;
            {
                let mut stmt = tx
                    .prepare_cached(
                        "UPDATE devices SET state = ?2,
                             reason = CASE WHEN ?3 THEN NULLIF(?4, '') ELSE reason END,
                             last_addr = COALESCE(?5, last_addr),
                             last_seen = COALESCE(?6, last_seen),
                             learned_protocol = COALESCE(?7, learned_protocol),
                             pin_realm = CASE WHEN ?8 THEN ?9 ELSE pin_realm END,
                             pin_serial = CASE WHEN ?8 THEN ?10 ELSE pin_serial END,
                             pin_type = CASE WHEN ?8 THEN ?11 ELSE pin_type END
                         WHERE id = ?1",
                    )
                    .context(op)?;
                for update in &updates {
                    updated += stmt
                        .execute(params![
                            update.id,
                            update.state,
                            update.reason.is_some(),
                            update.reason.as_deref().map(|r| cut(r, MAX_REASON_LEN)),
                            update.last_addr.as_deref().map(|a| cut(a, MAX_ADDR_LEN)),
                            update.last_seen_ms,
                            update.learned_protocol.map(LoginProtocol::as_str),
                            update.pinned.is_some(),
                            update
                                .pinned
                                .as_ref()
                                .and_then(|p| p.realm.as_ref())
                                .map(PinnedRealm::to_stored),
                            update.pinned.as_ref().and_then(|p| p.serial.as_deref()),
                            update
                                .pinned
                                .as_ref()
                                .and_then(|p| p.device_type.as_deref()),
                        ])
                        .context(op)?;
                }
            }
            tx.commit().context(op)?;
            Ok(updated)
        })
        .await
    }

    /// IDs of the devices whose recorded state is `state`, ordered by ID.
    ///
    /// At start the engine asks for `online` ones: they were online when the previous process
    /// stopped, and get a grace window to come back before being reported offline.
    pub async fn devices_in_state(&self, state: &str) -> Result<Vec<String>, StoreError> {
        let state = state.to_owned();
        self.call(move |conn, _| {
            let op = || format!("listing devices in state {state:?}");
            let mut stmt = conn
                .prepare_cached("SELECT id FROM devices WHERE state = ?1 ORDER BY id")
                .context(op)?;
            let ids = stmt
                .query_map([&state], |row| row.get(0))
                .and_then(Iterator::collect)
                .context(op)?;
            Ok(ids)
        })
        .await
    }
}

/// `text` cut to at most `max` bytes at a character boundary.
fn cut(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{TestStore, creds};
    use super::*;

    fn full(id: &str, state: &str, reason: &str, addr: &str, seen: i64) -> StateUpdate {
        StateUpdate {
            reason: Some(reason.to_owned()),
            last_addr: Some(addr.to_owned()),
            last_seen_ms: Some(seen),
            ..StateUpdate::new(id, state)
        }
    }

    #[tokio::test]
    async fn batch_updates_only_devices_that_exist() {
        let t = TestStore::new();
        t.store
            .add_device(creds("cam-1", "pw"))
            .await
            .expect("added");
        t.store
            .add_device(creds("cam-2", "pw"))
            .await
            .expect("added");
        let updated = t
            .store
            .record_states(vec![
                full("cam-1", "online", "", "192.0.2.1:5000", 1_000),
                full("ghost", "online", "", "192.0.2.9:5000", 1_000),
                full(
                    "cam-2",
                    "login_failed",
                    "bad password",
                    "192.0.2.2:5000",
                    2_000,
                ),
            ])
            .await
            .expect("recorded");
        assert_eq!(updated, 2);

        let cam1 = t
            .store
            .device("cam-1")
            .await
            .expect("read")
            .expect("present");
        assert_eq!(cam1.state, "online");
        assert_eq!(cam1.last_addr.as_deref(), Some("192.0.2.1:5000"));
        assert_eq!(cam1.last_seen_ms, Some(1_000));
        assert_eq!(cam1.reason, None);
        let cam2 = t
            .store
            .device("cam-2")
            .await
            .expect("read")
            .expect("present");
        assert_eq!(cam2.state, "login_failed");
        assert_eq!(cam2.reason.as_deref(), Some("bad password"));
        assert_eq!(t.store.device("ghost").await.expect("read"), None);
    }

    #[tokio::test]
    async fn none_fields_leave_columns_untouched() {
        let t = TestStore::new();
        t.store
            .add_device(creds("cam-1", "pw"))
            .await
            .expect("added");
        let first = full("cam-1", "login_failed", "timeout", "192.0.2.1:5000", 1_000);
        t.store.record_states(vec![first]).await.expect("recorded");
        t.store
            .record_states(vec![StateUpdate::new("cam-1", "offline")])
            .await
            .expect("recorded");

        let cam1 = t
            .store
            .device("cam-1")
            .await
            .expect("read")
            .expect("present");
        assert_eq!(cam1.state, "offline");
        assert_eq!(cam1.reason.as_deref(), Some("timeout"));
        assert_eq!(cam1.last_addr.as_deref(), Some("192.0.2.1:5000"));
        assert_eq!(cam1.last_seen_ms, Some(1_000));
    }

    #[tokio::test]
    async fn empty_reason_clears_the_stored_one() {
        let t = TestStore::new();
        t.store
            .add_device(creds("cam-1", "pw"))
            .await
            .expect("added");
        let failed = full("cam-1", "login_failed", "bad password", "192.0.2.1:5000", 1);
        let online = StateUpdate {
            reason: Some(String::new()),
            ..StateUpdate::new("cam-1", "online")
        };
        t.store
            .record_states(vec![failed, online])
            .await
            .expect("recorded");
        let cam1 = t
            .store
            .device("cam-1")
            .await
            .expect("read")
            .expect("present");
        assert_eq!((cam1.state.as_str(), cam1.reason), ("online", None));
    }

    #[tokio::test]
    async fn later_updates_in_a_batch_win_and_long_reasons_are_cut() {
        let t = TestStore::new();
        t.store
            .add_device(creds("cam-1", "pw"))
            .await
            .expect("added");
        let long = "é".repeat(1000);
        t.store
            .record_states(vec![
                full("cam-1", "online", "", "192.0.2.1:1", 1),
                full("cam-1", "login_failed", &long, "192.0.2.1:2", 2),
            ])
            .await
            .expect("recorded");
        let cam1 = t
            .store
            .device("cam-1")
            .await
            .expect("read")
            .expect("present");
        assert_eq!(cam1.state, "login_failed");
        assert_eq!(cam1.last_seen_ms, Some(2));
        let reason = cam1.reason.expect("a reason");
        assert_eq!(reason.len(), 1024);
        assert!(long.starts_with(&reason));
    }

    #[tokio::test]
    async fn malformed_state_fails_the_batch_before_writing() {
        let t = TestStore::new();
        t.store
            .add_device(creds("cam-1", "pw"))
            .await
            .expect("added");
        let err = t
            .store
            .record_states(vec![
                StateUpdate::new("cam-1", "online"),
                StateUpdate::new("cam-1", "Bogus State"),
            ])
            .await
            .expect_err("refused");
        assert!(matches!(err, StoreError::Invalid(_)), "{err}");
        let cam1 = t
            .store
            .device("cam-1")
            .await
            .expect("read")
            .expect("present");
        assert_eq!(cam1.state, "offline");
    }

    #[tokio::test]
    async fn devices_in_state_lists_the_ids_that_were_online() {
        let t = TestStore::new();
        for id in ["cam-3", "cam-1", "cam-2"] {
            t.store.add_device(creds(id, "pw")).await.expect("added");
        }
        t.store
            .record_states(vec![
                StateUpdate::new("cam-3", "online"),
                StateUpdate::new("cam-1", "online"),
            ])
            .await
            .expect("recorded");
        drop(t.store);

        let reopened = Store::open(t.dir.path()).expect("reopened");
        let online = reopened.devices_in_state("online").await.expect("listed");
        assert_eq!(online, ["cam-1", "cam-3"]);
        let offline = reopened.devices_in_state("offline").await.expect("listed");
        assert_eq!(offline, ["cam-2"]);
    }
}
