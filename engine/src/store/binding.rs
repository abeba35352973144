//! Camera bindings: which cameras each camera-sync account owns, with the camera password the
//! app uploaded, sealed and bound to the account and the camera.
//!
//! A camera may be bound to a limited number of accounts with a *verified* password (one the
//! gateway's own credentials confirmed); [`Store::bind_camera`] counts and inserts in one
//! immediate transaction so two uploads racing for the last place cannot both get it.
//! Unverified bindings (a camera the gateway does not know) take no place and get no pushes
//! ([`Store::verified_camera_accounts`]) until [`Store::verify_binding`] confirms them.

use rusqlite::{OptionalExtension, TransactionBehavior, params};

use super::error::SqliteContext;
use super::{Store, StoreError, now_ms, validate};
use crate::secret::{Secret, SecretKey};

/// A camera bound to an account, as the account's owner sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// The camera's device ID.
    pub camera_id: String,
    /// The camera password the app uploaded (decrypted).
    pub password: Secret,
    /// Whether that password was confirmed by a login to the camera.
    pub verified: bool,
}

/// What [`Store::bind_camera`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindOutcome {
    /// A new binding.
    Added,
    /// The account already had this camera; its password and verified flag were replaced.
    Updated,
    /// The camera is already bound, verified, to the maximum number of accounts; nothing was
    /// written.
    Full,
}

impl Store {
    /// Binds `camera_id` to `account` with the camera password the app uploaded.
    ///
    /// Only verified bindings count towards `max_accounts`: a `verified` binding (new, or an
    /// unverified one becoming verified) for a camera that already has `max_accounts` verified
    /// accounts is refused with [`BindOutcome::Full`]; an unverified one is always taken and
    /// takes no place. Re-binding a camera the account already has replaces the password and
    /// the verified flag ([`BindOutcome::Updated`]; a verified binding stays in its place). An
    /// account that does not exist is [`StoreError::Invalid`].
    pub async fn bind_camera(
        &self,
        account: &str,
        camera_id: &str,
        camera_password: &Secret,
        verified: bool,
        max_accounts: usize,
    ) -> Result<BindOutcome, StoreError> {
        validate::device_id(camera_id)?;
        validate::password(camera_id, camera_password.expose())?;
        let (account, camera_id) = (account.to_owned(), camera_id.to_owned());
        let password = camera_password.clone();
        self.call(move |conn, key| {
            let op = || format!("binding camera {camera_id:?} to account {account:?}");
            let sealed = seal(key, &account, &camera_id, &password)?;
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .context(op)?;
            let exists = tx
                .query_row("SELECT 1 FROM accounts WHERE name = ?1", [&account], |_| Ok(()))
                .optional()
                .context(op)?;
            if exists.is_none() {
                return Err(StoreError::Invalid(format!(
                    "account {account:?} does not exist"
                )));
            }
            let was_verified: Option<bool> = tx
                .query_row(
                    "SELECT verified FROM bindings WHERE account = ?1 AND camera_id = ?2",
                    [&account, &camera_id],
                    |row| row.get(0),
                )
                .optional()
                .context(op)?;
            if verified && was_verified != Some(true) {
                let bound: i64 = tx
                    .query_row(
                        "SELECT COUNT(*) FROM bindings WHERE camera_id = ?1 AND verified",
                        [&camera_id],
                        |row| row.get(0),
                    )
                    .context(op)?;
                if usize::try_from(bound).unwrap_or(usize::MAX) >= max_accounts {
                    return Ok(BindOutcome::Full);
                }
            }
            let outcome = if was_verified.is_some() {
                tx.execute(
                    "UPDATE bindings SET camera_password = ?3, verified = ?4
                     WHERE account = ?1 AND camera_id = ?2",
                    params![account, camera_id, sealed, verified],
                )
                .context(op)?;
                BindOutcome::Updated
            } else {
                tx.execute(
                    "INSERT INTO bindings (account, camera_id, camera_password, verified, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![account, camera_id, sealed, verified, now_ms()],
                )
                .context(op)?;
                BindOutcome::Added
            };
            tx.commit().context(op)?;
            Ok(outcome)
        })
        .await
    }

    /// Removes a camera from an account; false if it was not bound.
    pub async fn unbind_camera(&self, account: &str, camera_id: &str) -> Result<bool, StoreError> {
        let (account, camera_id) = (account.to_owned(), camera_id.to_owned());
        self.call(move |conn, _| {
            let removed = conn
                .execute(
                    "DELETE FROM bindings WHERE account = ?1 AND camera_id = ?2",
                    [&account, &camera_id],
                )
                .context(|| format!("unbinding camera {camera_id:?} from account {account:?}"))?;
            Ok(removed > 0)
        })
        .await
    }

    /// Sets whether a binding's password is confirmed; false if there is no such binding.
    pub async fn set_binding_verified(
        &self,
        account: &str,
        camera_id: &str,
        verified: bool,
    ) -> Result<bool, StoreError> {
        let (account, camera_id) = (account.to_owned(), camera_id.to_owned());
        self.call(move |conn, _| {
            let changed = conn
                .execute(
                    "UPDATE bindings SET verified = ?3 WHERE account = ?1 AND camera_id = ?2",
                    params![account, camera_id, verified],
                )
                .context(|| {
                    format!("marking camera {camera_id:?} of account {account:?} verified")
                })?;
            Ok(changed > 0)
        })
        .await
    }

    /// An account's cameras in the order they were bound (then by ID); empty for an unknown
    /// account.
    pub async fn account_cameras(&self, account: &str) -> Result<Vec<Binding>, StoreError> {
        let account = account.to_owned();
        self.call(move |conn, key| {
            let op = || format!("listing the cameras of account {account:?}");
            let mut stmt = conn
                .prepare_cached(
                    "SELECT camera_id, camera_password, verified FROM bindings
                     WHERE account = ?1 ORDER BY created_at, camera_id",
                )
                .context(op)?;
            let rows = stmt
                .query_map([&account], |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, Vec<u8>>(1)?,
                        row.get(2)?,
                    ))
                })
                .context(op)?;
            let mut cameras = Vec::new();
            for row in rows {
                let (camera_id, sealed, verified) = row.context(op)?;
                let password = open(key, &account, &camera_id, &sealed)?;
                cameras.push(Binding {
                    camera_id,
                    password,
                    verified,
                });
            }
            Ok(cameras)
        })
        .await
    }

    /// The unverified bindings of a camera: account and uploaded password, in binding order
    /// (to verify them when the camera registers; the earliest get the free places).
    pub async fn unverified_bindings(
        &self,
        camera_id: &str,
    ) -> Result<Vec<(String, Secret)>, StoreError> {
        let camera_id = camera_id.to_owned();
        self.call(move |conn, key| {
            let op = || format!("listing the unverified bindings of camera {camera_id:?}");
            let mut stmt = conn
                .prepare_cached(
                    "SELECT account, camera_password FROM bindings
                     WHERE camera_id = ?1 AND NOT verified ORDER BY created_at, account",
                )
                .context(op)?;
            let rows = stmt
                .query_map([&camera_id], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, Vec<u8>>(1)?))
                })
                .context(op)?;
            let mut bindings = Vec::new();
            for row in rows {
                let (account, sealed) = row.context(op)?;
                let password = open(key, &account, &camera_id, &sealed)?;
                bindings.push((account, password));
            }
            Ok(bindings)
        })
        .await
    }

    /// Marks an unverified binding verified if the camera has a free verified place (fewer
    /// than `max_accounts`), in one immediate transaction; false if there is no place, no such
    /// binding, or it was verified already.
    pub async fn verify_binding(
        &self,
        account: &str,
        camera_id: &str,
        max_accounts: usize,
    ) -> Result<bool, StoreError> {
        let (account, camera_id) = (account.to_owned(), camera_id.to_owned());
        self.call(move |conn, _| {
            let op = || format!("verifying camera {camera_id:?} of account {account:?}");
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .context(op)?;
            let bound: i64 = tx
                .query_row(
                    "SELECT COUNT(*) FROM bindings WHERE camera_id = ?1 AND verified",
                    [&camera_id],
                    |row| row.get(0),
                )
                .context(op)?;
            if usize::try_from(bound).unwrap_or(usize::MAX) >= max_accounts {
                return Ok(false);
            }
            let changed = tx
                .execute(
                    "UPDATE bindings SET verified = 1
                     WHERE account = ?1 AND camera_id = ?2 AND NOT verified",
                    [&account, &camera_id],
                )
                .context(op)?;
            tx.commit().context(op)?;
            Ok(changed > 0)
        })
        .await
    }

    /// The accounts a camera is bound to with a verified password, sorted by name (whom to
    /// push its changes to).
    pub async fn verified_camera_accounts(
        &self,
        camera_id: &str,
    ) -> Result<Vec<String>, StoreError> {
        let camera_id = camera_id.to_owned();
        self.call(move |conn, _| {
            let op = || format!("listing the verified accounts of camera {camera_id:?}");
            let mut stmt = conn
                .prepare_cached(
                    "SELECT account FROM bindings WHERE camera_id = ?1 AND verified
                     ORDER BY account",
                )
                .context(op)?;
            let rows = stmt.query_map([&camera_id], |row| row.get(0)).context(op)?;
            rows.collect::<Result<Vec<_>, _>>().context(op)
        })
        .await
    }

    /// The accounts a camera is bound to, verified or not, sorted by name.
    pub async fn camera_accounts(&self, camera_id: &str) -> Result<Vec<String>, StoreError> {
        let camera_id = camera_id.to_owned();
        self.call(move |conn, _| {
            let op = || format!("listing the accounts of camera {camera_id:?}");
            let mut stmt = conn
                .prepare_cached(
                    "SELECT account FROM bindings WHERE camera_id = ?1 ORDER BY account",
                )
                .context(op)?;
            let rows = stmt.query_map([&camera_id], |row| row.get(0)).context(op)?;
            rows.collect::<Result<Vec<_>, _>>().context(op)
        })
        .await
    }

    /// Every binding of a camera with its account name, sorted by account.
    pub async fn camera_bindings(
        &self,
        camera_id: &str,
    ) -> Result<Vec<(String, Binding)>, StoreError> {
        let camera_id = camera_id.to_owned();
        self.call(move |conn, key| {
            let op = || format!("listing the bindings of camera {camera_id:?}");
            let mut stmt = conn
                .prepare_cached(
                    "SELECT account, camera_password, verified FROM bindings
                     WHERE camera_id = ?1 ORDER BY account",
                )
                .context(op)?;
            let rows = stmt
                .query_map([&camera_id], |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, Vec<u8>>(1)?,
                        row.get(2)?,
                    ))
                })
                .context(op)?;
            let mut bindings = Vec::new();
            for row in rows {
                let (account, sealed, verified) = row.context(op)?;
                let password = open(key, &account, &camera_id, &sealed)?;
                let binding = Binding {
                    camera_id: camera_id.clone(),
                    password,
                    verified,
                };
                bindings.push((account, binding));
            }
            Ok(bindings)
        })
        .await
    }
}

/// Associated data that binds a sealed camera password to its account and camera. Neither
/// may contain NUL (both refuse control characters), so the split is unambiguous.
fn context(account: &str, camera_id: &str) -> Vec<u8> {
    const PREFIX: &[u8] = b"homeport camera binding password\0";
    let mut context = Vec::with_capacity(PREFIX.len() + account.len() + 1 + camera_id.len());
    context.extend_from_slice(PREFIX);
    context.extend_from_slice(account.as_bytes());
    context.push(0);
    context.extend_from_slice(camera_id.as_bytes());
    context
}

fn seal(
    key: &SecretKey,
    account: &str,
    camera_id: &str,
    password: &Secret,
) -> Result<Vec<u8>, StoreError> {
    key.seal(&context(account, camera_id), password.expose().as_bytes())
        .map_err(|source| StoreError::Seal {
            id: camera_id.to_owned(),
            source,
        })
}

fn open(
    key: &SecretKey,
    account: &str,
    camera_id: &str,
    sealed: &[u8],
) -> Result<Secret, StoreError> {
    let plain = key
        .open(&context(account, camera_id), sealed)
        .map_err(|source| StoreError::Unseal {
            id: camera_id.to_owned(),
            source,
        })?;
    String::from_utf8(plain)
        .map(Secret::from)
        .map_err(|_| StoreError::CorruptRow {
            id: camera_id.to_owned(),
            column: "bindings.camera_password",
            value: "(not UTF-8)".to_owned(),
        })
}

#[cfg(test)]
mod tests {
    use super::super::test_support::TestStore;
    use super::*;

    const LIMIT: usize = 4;

    async fn with_accounts(names: &[&str]) -> TestStore {
        let t = TestStore::new();
        for name in names {
            t.store
                .add_account(name, &Secret::new("pw"))
                .await
                .expect("added");
        }
        t
    }

    async fn bind(t: &TestStore, account: &str, camera: &str, password: &str) -> BindOutcome {
        t.store
            .bind_camera(account, camera, &Secret::new(password), false, LIMIT)
            .await
            .expect("bound")
    }

    async fn bind_verified(t: &TestStore, account: &str, camera: &str) -> BindOutcome {
        t.store
            .bind_camera(account, camera, &Secret::new("pw"), true, LIMIT)
            .await
            .expect("bound")
    }

    fn raw_sealed(t: &TestStore, account: &str, camera: &str) -> Vec<u8> {
        t.raw()
            .query_row(
                "SELECT camera_password FROM bindings WHERE account = ?1 AND camera_id = ?2",
                [account, camera],
                |row| row.get(0),
            )
            .expect("stored")
    }

    #[tokio::test]
    async fn a_camera_takes_four_verified_accounts_and_a_rebind_is_an_update() {
        let t = with_accounts(&["a1", "a2", "a3", "a4", "a5"]).await;
        for account in ["a1", "a2", "a3", "a4"] {
            assert_eq!(bind_verified(&t, account, "cam").await, BindOutcome::Added);
        }
        assert_eq!(bind_verified(&t, "a5", "cam").await, BindOutcome::Full);
        assert_eq!(
            t.store
                .bind_camera("a2", "cam", &Secret::new("new"), true, LIMIT)
                .await
                .expect("rebound"),
            BindOutcome::Updated,
            "a verified binding keeps its place"
        );
        assert_eq!(
            t.store.camera_accounts("cam").await.expect("listed"),
            ["a1", "a2", "a3", "a4"]
        );
        let a2 = t.store.account_cameras("a2").await.expect("listed");
        assert_eq!(a2.len(), 1);
        assert_eq!(a2[0].password.expose(), "new");
        assert!(
            t.store
                .account_cameras("a5")
                .await
                .expect("listed")
                .is_empty()
        );

        assert!(t.store.unbind_camera("a1", "cam").await.expect("unbound"));
        assert!(!t.store.unbind_camera("a1", "cam").await.expect("not bound"));
        assert_eq!(bind_verified(&t, "a5", "cam").await, BindOutcome::Added);
    }

    #[tokio::test]
    async fn unverified_bindings_take_no_place_get_no_pushes_until_verified_in_a_free_place() {
        let t = with_accounts(&["a1", "a2", "a3", "a4", "a5", "owner"]).await;
        for account in ["a1", "a2", "a3", "a4", "a5"] {
            assert_eq!(
                bind(&t, account, "new-cam", "guess").await,
                BindOutcome::Added
            );
        }
        assert!(
            t.store
                .verified_camera_accounts("new-cam")
                .await
                .expect("listed")
                .is_empty(),
            "unverified bindings are not pushed to"
        );
        assert_eq!(
            bind_verified(&t, "owner", "new-cam").await,
            BindOutcome::Added,
            "five unverified bindings took no place"
        );
        assert_eq!(
            t.store
                .verified_camera_accounts("new-cam")
                .await
                .expect("listed"),
            ["owner"]
        );
        let unverified = t
            .store
            .unverified_bindings("new-cam")
            .await
            .expect("listed");
        let accounts: Vec<&str> = unverified.iter().map(|(a, _)| a.as_str()).collect();
        assert_eq!(accounts, ["a1", "a2", "a3", "a4", "a5"], "in binding order");
        assert_eq!(unverified[0].1.expose(), "guess");
        for account in ["a1", "a2", "a3"] {
            assert!(
                t.store
                    .verify_binding(account, "new-cam", LIMIT)
                    .await
                    .expect("verified")
            );
        }
        assert!(
            !t.store
                .verify_binding("a4", "new-cam", LIMIT)
                .await
                .expect("no place"),
            "the four places are taken"
        );
        assert!(
            !t.store
                .verify_binding("a1", "new-cam", LIMIT)
                .await
                .expect("already")
        );
        assert_eq!(
            t.store
                .verified_camera_accounts("new-cam")
                .await
                .expect("listed")
                .len(),
            4
        );
    }

    #[tokio::test]
    async fn cameras_list_in_binding_order_with_passwords_and_verified_flags() {
        let t = with_accounts(&["alice"]).await;
        bind(&t, "alice", "cam-b", "pb").await;
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
        t.store
            .bind_camera("alice", "cam-a", &Secret::new("pa"), true, LIMIT)
            .await
            .expect("bound");
        let cameras = t.store.account_cameras("alice").await.expect("listed");
        let listed: Vec<(&str, &str, bool)> = cameras
            .iter()
            .map(|b| (b.camera_id.as_str(), b.password.expose(), b.verified))
            .collect();
        assert_eq!(listed, [("cam-b", "pb", false), ("cam-a", "pa", true)]);

        assert!(
            t.store
                .set_binding_verified("alice", "cam-b", true)
                .await
                .expect("set")
        );
        assert!(
            !t.store
                .set_binding_verified("alice", "nope", true)
                .await
                .expect("none")
        );
        let bindings = t.store.camera_bindings("cam-b").await.expect("listed");
        assert_eq!(bindings.len(), 1);
        assert_eq!(bindings[0].0, "alice");
        assert!(bindings[0].1.verified);
        assert_eq!(
            t.store
                .account("alice")
                .await
                .expect("read")
                .expect("there")
                .cameras,
            2
        );
    }

    #[tokio::test]
    async fn deleting_an_account_removes_its_bindings() {
        let t = with_accounts(&["alice", "bob"]).await;
        bind(&t, "alice", "cam", "pw").await;
        bind(&t, "bob", "cam", "pw").await;
        assert!(t.store.delete_account("alice").await.expect("deleted"));
        assert_eq!(
            t.store.camera_accounts("cam").await.expect("listed"),
            ["bob"]
        );
        let left: i64 = t
            .raw()
            .query_row(
                "SELECT COUNT(*) FROM bindings WHERE account = 'alice'",
                [],
                |row| row.get(0),
            )
            .expect("counted");
        assert_eq!(left, 0);
    }

    #[tokio::test]
    async fn the_foreign_key_cascades_on_the_store_connection() {
        let t = with_accounts(&["alice"]).await;
        bind(&t, "alice", "cam", "pw").await;
        // Straight SQL on the store's own connection, bypassing delete_account's own delete.
        t.store
            .call(|conn, _| {
                conn.execute("DELETE FROM accounts WHERE name = 'alice'", [])
                    .context(|| "deleting".to_owned())
            })
            .await
            .expect("deleted");
        assert!(
            t.store
                .camera_accounts("cam")
                .await
                .expect("listed")
                .is_empty()
        );
    }

    #[tokio::test]
    async fn binding_to_a_missing_account_is_refused() {
        let t = with_accounts(&[]).await;
        let err = t
            .store
            .bind_camera("ghost", "cam", &Secret::new("pw"), false, LIMIT)
            .await
            .expect_err("refused");
        assert!(
            matches!(&err, StoreError::Invalid(m) if m.contains("\"ghost\" does not exist")),
            "{err}"
        );
    }

    #[tokio::test]
    async fn camera_passwords_are_sealed_and_bound_to_account_and_camera() {
        let t = with_accounts(&["alice", "bob"]).await;
        bind(&t, "alice", "cam-1", "hunter2-camera").await;
        bind(&t, "bob", "cam-1", "other").await;
        let sealed = raw_sealed(&t, "alice", "cam-1");
        assert!(!sealed.windows(14).any(|w| w == b"hunter2-camera"));

        // Moving alice's sealed password to bob's row makes it unreadable, not bob's.
        t.raw()
            .execute(
                "UPDATE bindings SET camera_password = ?1 WHERE account = 'bob'",
                [&sealed],
            )
            .expect("moved");
        let err = t.store.account_cameras("bob").await.expect_err("refused");
        assert!(matches!(err, StoreError::Unseal { .. }), "{err}");
        assert_eq!(
            t.store.account_cameras("alice").await.expect("listed")[0]
                .password
                .expose(),
            "hunter2-camera"
        );
    }

    #[test]
    fn contexts_differ_by_account_and_by_camera() {
        assert_ne!(context("ab", "c"), context("a", "bc"));
        assert_ne!(context("a", "c1"), context("a", "c2"));
        assert_ne!(context("a1", "c"), context("a2", "c"));
    }
}
