//! Camera-sync accounts: who may log in from a client app, their argon2id password hashes,
//! and the last login.
//!
//! Hashing is slow on purpose (argon2id, 19 MiB, 2 passes), so it runs on a fixed set of
//! threads *outside* the connection lock, at most [`hashing_slots`] at a time: a burst of
//! logins neither stalls other store work nor allocates 19 MiB per blocking thread.
//!
//! The store does not throttle: wrong passwords are counted, per source address and per
//! account name, by the camera-sync guard (`camera_sync::guard`), which also caps how many
//! login hashes may queue here. The `failed` and `locked_until_ms` columns of older versions
//! are no longer written (a password change still clears them).

use std::sync::{Arc, LazyLock, Mutex, OnceLock};

use argon2::password_hash::{self, PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use rusqlite::{OptionalExtension, Row, params};

use super::error::SqliteContext;
use super::{Store, StoreError, now_ms};
use crate::secret::{Secret, SecretError};

/// Longest account name in bytes.
pub const MAX_ACCOUNT_NAME_LEN: usize = 64;
/// Longest account password in bytes.
pub const MAX_ACCOUNT_PASSWORD_LEN: usize = 128;

/// argon2id memory cost in KiB (19 MiB, OWASP's first recommendation).
const M_COST_KIB: u32 = 19 * 1024;
/// argon2id passes.
const T_COST: u32 = 2;
/// argon2id lanes.
const P_COST: u32 = 1;

/// An account as listed: no hash, no camera passwords.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountInfo {
    /// The account name (what the app sends in `Login`).
    pub name: String,
    /// When it was created, Unix ms.
    pub created_ms: Option<i64>,
    /// The last successful login, Unix ms.
    pub last_login_ms: Option<i64>,
    /// The peer IP of the last successful login.
    pub last_login_ip: Option<String>,
    /// Cameras bound to it.
    pub cameras: usize,
    /// A lock set by an older version, until then (Unix ms); `None` when none is in force.
    /// Nothing sets it any more: logins are throttled per source and per account name in
    /// memory by the camera-sync guard, which never locks an account.
    pub locked_until_ms: Option<i64>,
}

/// The outcome of a login attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginCheck {
    /// The password is right; this login was recorded and the failure count reset.
    Ok {
        /// The login before this one, Unix ms (`None` on a first login).
        previous_login_ms: Option<i64>,
        /// The peer IP of the login before this one.
        previous_ip: Option<String>,
        /// Cameras bound to the account.
        cameras: usize,
    },
    /// The password is wrong.
    Wrong,
    /// No such account (as slow to answer as a wrong password).
    Unknown,
}

/// The columns [`info_from_row`] expects, from `accounts a`, in order.
const INFO_COLUMNS: &str = "a.name, a.created_at, a.last_login_ms, a.last_login_ip, \
     (SELECT COUNT(*) FROM bindings b WHERE b.account = a.name), a.locked_until_ms";

impl Store {
    /// Creates an account; [`StoreError::AlreadyExists`] (with the name as `id`) if the name is
    /// taken, [`StoreError::Invalid`] for a bad name or password.
    pub async fn add_account(&self, name: &str, password: &Secret) -> Result<(), StoreError> {
        account_name(name)?;
        account_password(name, password)?;
        let hash = hash_password(password.clone()).await?;
        let name = name.to_owned();
        self.call(move |conn, _| {
            let added = conn
                .execute(
                    "INSERT INTO accounts (name, password_hash, created_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT (name) DO NOTHING",
                    params![name, hash, now_ms()],
                )
                .context(|| format!("adding account {name:?}"))?;
            if added == 0 {
                return Err(StoreError::AlreadyExists { id: name });
            }
            Ok(())
        })
        .await
    }

    /// Deletes an account and its camera bindings; false if there was none.
    pub async fn delete_account(&self, name: &str) -> Result<bool, StoreError> {
        let name = name.to_owned();
        self.call(move |conn, _| {
            let op = || format!("deleting account {name:?}");
            let tx = conn.transaction().context(op)?;
            // The foreign key cascades too; deleting explicitly keeps this right even on a
            // connection where someone turned foreign keys off.
            tx.execute("DELETE FROM bindings WHERE account = ?1", [&name])
                .context(op)?;
            let deleted = tx
                .execute("DELETE FROM accounts WHERE name = ?1", [&name])
                .context(op)?;
            tx.commit().context(op)?;
            Ok(deleted > 0)
        })
        .await
    }

    /// Replaces an account's password (clearing an older version's lock); false if there is no
    /// such account.
    pub async fn set_account_password(
        &self,
        name: &str,
        password: &Secret,
    ) -> Result<bool, StoreError> {
        account_password(name, password)?;
        let hash = hash_password(password.clone()).await?;
        let name = name.to_owned();
        self.call(move |conn, _| {
            let changed = conn
                .execute(
                    "UPDATE accounts SET password_hash = ?2, failed = 0, locked_until_ms = NULL
                     WHERE name = ?1",
                    params![name, hash],
                )
                .context(|| format!("changing the password of account {name:?}"))?;
            Ok(changed > 0)
        })
        .await
    }

    /// Every account, sorted by name.
    pub async fn accounts(&self) -> Result<Vec<AccountInfo>, StoreError> {
        self.call(move |conn, _| {
            let op = || "listing accounts".to_owned();
            let now = now_ms();
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {INFO_COLUMNS} FROM accounts a ORDER BY a.name"
                ))
                .context(op)?;
            let rows = stmt
                .query_map([], |row| info_from_row(row, now))
                .context(op)?;
            rows.collect::<Result<Vec<_>, _>>().context(op)
        })
        .await
    }

    /// One account, or `None`.
    pub async fn account(&self, name: &str) -> Result<Option<AccountInfo>, StoreError> {
        let name = name.to_owned();
        self.call(move |conn, _| {
            let now = now_ms();
            conn.prepare_cached(&format!(
                "SELECT {INFO_COLUMNS} FROM accounts a WHERE a.name = ?1"
            ))
            .and_then(|mut stmt| {
                stmt.query_row([&name], |row| info_from_row(row, now))
                    .optional()
            })
            .context(|| format!("reading account {name:?}"))
        })
        .await
    }

    /// Checks a login from `peer_ip` at `now_ms`; a right password is recorded as the last
    /// login.
    ///
    /// An unknown name costs the same argon2 work as a known one (a dummy hash is verified),
    /// and a wrong password writes nothing, like an unknown name: the store's share of the
    /// answer looks alike for both. Counting failures is the caller's (the camera-sync guard).
    pub async fn check_login(
        &self,
        name: &str,
        password: &Secret,
        peer_ip: &str,
        now_ms: i64,
    ) -> Result<LoginCheck, StoreError> {
        let owned = name.to_owned();
        let stored: Option<String> = self
            .call(move |conn, _| {
                conn.prepare_cached("SELECT password_hash FROM accounts WHERE name = ?1")
                    .and_then(|mut stmt| stmt.query_row([&owned], |row| row.get(0)).optional())
                    .context(|| format!("reading account {owned:?}"))
            })
            .await?;
        let Some(hash) = stored else {
            let dummy = dummy_hash().await?;
            verify_password(name, password.clone(), dummy).await?;
            return Ok(LoginCheck::Unknown);
        };
        if !verify_password(name, password.clone(), hash.clone()).await? {
            return Ok(LoginCheck::Wrong);
        }
        let name = name.to_owned();
        let peer_ip = peer_ip.to_owned();
        self.call(move |conn, _| {
            let op = || format!("recording a login to account {name:?}");
            let tx = conn.transaction().context(op)?;
            // Only if the hash checked is still the stored one: a password changed meanwhile
            // makes this attempt a wrong one, and an account deleted meanwhile an unknown one.
            let current: Option<(String, Option<i64>, Option<String>)> = tx
                .query_row(
                    "SELECT password_hash, last_login_ms, last_login_ip FROM accounts
                     WHERE name = ?1",
                    [&name],
                    |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
                )
                .optional()
                .context(op)?;
            let Some((current_hash, previous_login_ms, previous_ip)) = current else {
                return Ok(LoginCheck::Unknown);
            };
            if current_hash != hash {
                return Ok(LoginCheck::Wrong);
            }
            tx.execute(
                "UPDATE accounts SET last_login_ms = ?2, last_login_ip = ?3 WHERE name = ?1",
                params![name, now_ms, peer_ip],
            )
            .context(op)?;
            let cameras: i64 = tx
                .query_row(
                    "SELECT COUNT(*) FROM bindings WHERE account = ?1",
                    [&name],
                    |row| row.get(0),
                )
                .context(op)?;
            tx.commit().context(op)?;
            Ok(LoginCheck::Ok {
                previous_login_ms,
                previous_ip,
                cameras: usize::try_from(cameras).unwrap_or(0),
            })
        })
        .await
    }
}

/// Decodes a row selected with [`INFO_COLUMNS`]; a lock that ran out before `now` shows as
/// none.
fn info_from_row(row: &Row<'_>, now: i64) -> rusqlite::Result<AccountInfo> {
    let cameras: i64 = row.get(4)?;
    let locked_until_ms: Option<i64> = row.get(5)?;
    Ok(AccountInfo {
        name: row.get(0)?,
        created_ms: row.get(1)?,
        last_login_ms: row.get(2)?,
        last_login_ip: row.get(3)?,
        cameras: usize::try_from(cameras).unwrap_or(0),
        locked_until_ms: locked_until_ms.filter(|&until| until > now),
    })
}

/// Checks an account name: 1 to 64 bytes, no whitespace, control characters, or the
/// camera-sync protocol's separators and escape (`|`, `;`, `:`, `\`), which existing apps
/// would send unescaped.
pub(crate) fn account_name(name: &str) -> Result<(), StoreError> {
    if name.is_empty() {
        return Err(StoreError::Invalid("account name is empty".to_owned()));
    }
    if name.len() > MAX_ACCOUNT_NAME_LEN {
        return Err(StoreError::Invalid(format!(
            "account name {:?} is {} bytes long; the limit is {MAX_ACCOUNT_NAME_LEN}",
            shown(name),
            name.len()
        )));
    }
    if let Some(bad) = name
        .chars()
        .find(|&c| c.is_whitespace() || c.is_control() || matches!(c, '|' | ';' | ':' | '\\'))
    {
        let what = if bad.is_whitespace() {
            "whitespace".to_owned()
        } else if bad.is_control() {
            "a control character".to_owned()
        } else {
            format!("{bad:?}")
        };
        return Err(StoreError::Invalid(format!(
            "account name {:?} contains {what}; names may not contain whitespace, control \
             characters, '|', ';', ':' or '\\'",
            shown(name)
        )));
    }
    Ok(())
}

/// Checks an account password: 1 to 128 bytes (never echoed in the message).
fn account_password(name: &str, password: &Secret) -> Result<(), StoreError> {
    let len = password.expose().len();
    if len == 0 {
        return Err(StoreError::Invalid(format!(
            "account {:?}: password is empty",
            shown(name)
        )));
    }
    if len > MAX_ACCOUNT_PASSWORD_LEN {
        return Err(StoreError::Invalid(format!(
            "account {:?}: password is {len} bytes long; the limit is {MAX_ACCOUNT_PASSWORD_LEN}",
            shown(name)
        )));
    }
    Ok(())
}

/// `value` cut to a readable length for an error message.
fn shown(value: &str) -> String {
    const SHOWN_CHARS: usize = 64;
    value.chars().take(SHOWN_CHARS).collect()
}

/// How many argon2 computations may run at once: one per CPU.
pub fn hashing_slots() -> usize {
    std::thread::available_parallelism().map_or(4, usize::from)
}

type Job = Box<dyn FnOnce() + Send>;

/// A few long-lived threads that do all argon2 work. Each computation needs 19 MiB; on
/// short-lived blocking-pool threads the allocator keeps those buffers in ever more arenas
/// (hundreds of MiB after a login burst), while a fixed set of threads reuses its own:
/// memory stays near `threads × 19 MiB` however many logins arrive.
static HASHERS: LazyLock<Mutex<std::sync::mpsc::Sender<Job>>> = LazyLock::new(|| {
    let (jobs, receiver) = std::sync::mpsc::channel::<Job>();
    let receiver = Arc::new(Mutex::new(receiver));
    for index in 0..hashing_slots() {
        let receiver = Arc::clone(&receiver);
        let spawned = std::thread::Builder::new()
            .name(format!("homeport-argon2-{index}"))
            .spawn(move || {
                loop {
                    let job = receiver
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .recv();
                    match job {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start an argon2 thread");
        }
    }
    Mutex::new(jobs)
});

/// Runs an argon2 computation on the hashing threads and waits for its result.
async fn hashing<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, StoreError> {
    let (done, result) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move || {
        let _ = done.send(work());
    });
    HASHERS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .send(job)
        .map_err(|_| StoreError::Invalid("the password hashing threads are gone".to_owned()))?;
    result
        .await
        .map_err(|_| StoreError::Invalid("password hashing failed".to_owned()))
}

/// The argon2id instance every new hash uses.
fn argon2() -> Result<Argon2<'static>, StoreError> {
    let params = Params::new(M_COST_KIB, T_COST, P_COST, None)
        .map_err(|e| StoreError::Invalid(format!("argon2 parameters: {e}")))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes `password` with a fresh random salt into an argon2id PHC string.
async fn hash_password(password: Secret) -> Result<String, StoreError> {
    hashing(move || hash_now(password.expose())).await?
}

fn hash_now(password: &str) -> Result<String, StoreError> {
    let salt = password_hash::try_generate_salt()
        .map_err(|e| StoreError::Secret(SecretError::Random(e.to_string())))?;
    let hash = argon2()?
        .hash_password_with_salt(password.as_bytes(), &salt)
        // With our fixed parameters and bounded passwords only memory can run out here.
        .map_err(|e| StoreError::Invalid(format!("the password cannot be hashed: {e}")))?;
    Ok(hash.to_string())
}

/// Whether `password` matches the PHC string `hash` (the hash's own parameters apply).
async fn verify_password(name: &str, password: Secret, hash: String) -> Result<bool, StoreError> {
    let name = name.to_owned();
    hashing(
        move || match argon2()?.verify_password(password.expose().as_bytes(), hash.as_str()) {
            Ok(()) => Ok(true),
            Err(password_hash::Error::PasswordInvalid) => Ok(false),
            Err(e) => Err(StoreError::CorruptRow {
                id: name,
                column: "accounts.password_hash",
                value: format!("(not a usable argon2 hash: {e})"),
            }),
        },
    )
    .await?
}

/// A hash of a random password with the current parameters, made once, for unknown names to
/// be verified against.
async fn dummy_hash() -> Result<String, StoreError> {
    static DUMMY: OnceLock<String> = OnceLock::new();
    if let Some(hash) = DUMMY.get() {
        return Ok(hash.clone());
    }
    let random = password_hash::try_generate_salt()
        .map_err(|e| StoreError::Secret(SecretError::Random(e.to_string())))?;
    let password: String = random.iter().map(|b| format!("{b:02x}")).collect();
    let hash = hash_password(Secret::new(password)).await?;
    Ok(DUMMY.get_or_init(|| hash).clone())
}

#[cfg(test)]
mod tests {

    use super::super::test_support::TestStore;
    use super::*;
    use crate::secret::Secret;

    fn pw(value: &str) -> Secret {
        Secret::new(value)
    }

    fn invalid(result: Result<(), StoreError>) -> String {
        match result {
            Err(StoreError::Invalid(message)) => message,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    async fn login(t: &TestStore, name: &str, password: &str, now: i64) -> LoginCheck {
        t.store
            .check_login(name, &pw(password), "198.51.100.7", now)
            .await
            .expect("checked")
    }

    fn stored_hash(t: &TestStore, name: &str) -> String {
        t.raw()
            .query_row(
                "SELECT password_hash FROM accounts WHERE name = ?1",
                [name],
                |row| row.get(0),
            )
            .expect("stored")
    }

    #[tokio::test]
    async fn password_is_stored_only_as_an_argon2id_phc_string() {
        let t = TestStore::new();
        t.store
            .add_account("alice", &pw("correct horse"))
            .await
            .expect("added");
        let stored = stored_hash(&t, "alice");
        assert!(!stored.contains("correct horse"), "{stored}");
        assert!(
            stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "a PHC string with our parameters: {stored}"
        );
        t.store
            .add_account("bob", &pw("correct horse"))
            .await
            .expect("added");
        let other = stored_hash(&t, "bob");
        assert_ne!(stored, other, "each hash has its own salt");
    }

    #[tokio::test]
    async fn accounts_are_added_listed_and_deleted() {
        let t = TestStore::new();
        t.store.add_account("bob", &pw("pw")).await.expect("added");
        t.store
            .add_account("alice", &pw("pw"))
            .await
            .expect("added");
        let err = t
            .store
            .add_account("alice", &pw("other"))
            .await
            .expect_err("taken");
        assert!(
            matches!(&err, StoreError::AlreadyExists { id } if id == "alice"),
            "{err}"
        );

        let listed = t.store.accounts().await.expect("listed");
        let names: Vec<&str> = listed.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["alice", "bob"]);
        assert!(listed[0].created_ms.is_some());
        assert_eq!(listed[0].last_login_ms, None);
        assert_eq!(listed[0].cameras, 0);
        assert_eq!(
            t.store.account("bob").await.expect("read"),
            Some(listed[1].clone())
        );

        assert!(t.store.delete_account("bob").await.expect("deleted"));
        assert!(!t.store.delete_account("bob").await.expect("already gone"));
        assert_eq!(t.store.account("bob").await.expect("read"), None);
    }

    #[test]
    fn account_names_that_would_break_the_line_protocol_are_refused() {
        assert!(account_name("alice").is_ok());
        assert!(account_name("用户-1.test@example").is_ok());
        assert!(account_name(&"a".repeat(64)).is_ok());
        assert!(invalid(account_name("")).contains("empty"));
        assert!(invalid(account_name(&"a".repeat(65))).contains("limit is 64"));
        for bad in [
            "a b",
            "a\tb",
            "a|b",
            "a;b",
            "a:b",
            "a\\b",
            "a\u{0}b",
            "a\u{3000}b",
        ] {
            let message = invalid(account_name(bad));
            assert!(message.contains("may not contain"), "{bad:?}: {message}");
        }
        assert!(invalid(account_name("a|b")).contains("'|'"));
    }

    #[tokio::test]
    async fn bad_passwords_are_refused_without_echo() {
        let t = TestStore::new();
        let empty = invalid(t.store.add_account("alice", &pw("")).await);
        assert!(empty.contains("password is empty"), "{empty}");
        let long = invalid(t.store.add_account("alice", &pw(&"p".repeat(129))).await);
        assert!(
            long.contains("limit is 128") && !long.contains("ppp"),
            "{long}"
        );
        t.store
            .add_account("alice", &pw(&"p".repeat(128)))
            .await
            .expect("128 bytes is fine");
    }

    #[tokio::test]
    async fn login_records_time_and_ip_and_reports_the_previous_ones() {
        let t = TestStore::new();
        t.store
            .add_account("alice", &pw("secret"))
            .await
            .expect("added");
        let first = t
            .store
            .check_login("alice", &pw("secret"), "192.0.2.1", 1_000)
            .await
            .expect("checked");
        assert_eq!(
            first,
            LoginCheck::Ok {
                previous_login_ms: None,
                previous_ip: None,
                cameras: 0
            }
        );
        let second = t
            .store
            .check_login("alice", &pw("secret"), "192.0.2.2", 2_000)
            .await
            .expect("checked");
        assert_eq!(
            second,
            LoginCheck::Ok {
                previous_login_ms: Some(1_000),
                previous_ip: Some("192.0.2.1".to_owned()),
                cameras: 0
            }
        );
        let info = t
            .store
            .account("alice")
            .await
            .expect("read")
            .expect("there");
        assert_eq!(info.last_login_ms, Some(2_000));
        assert_eq!(info.last_login_ip.as_deref(), Some("192.0.2.2"));
    }

    #[tokio::test]
    async fn wrong_passwords_never_lock_and_write_nothing() {
        // Throttling is the camera-sync guard's (per source and per account name, in memory);
        // the store itself never refuses a right password.
        let t = TestStore::new();
        t.store
            .add_account("alice", &pw("secret"))
            .await
            .expect("added");
        for _ in 0..10 {
            assert_eq!(login(&t, "alice", "nope", 0).await, LoginCheck::Wrong);
        }
        let info = t
            .store
            .account("alice")
            .await
            .expect("read")
            .expect("there");
        assert_eq!((info.last_login_ms, info.locked_until_ms), (None, None));
        assert!(matches!(
            login(&t, "alice", "secret", 0).await,
            LoginCheck::Ok { .. }
        ));
    }

    #[tokio::test]
    async fn a_new_password_replaces_the_old_one_and_clears_an_old_lock() {
        let t = TestStore::new();
        t.store
            .add_account("alice", &pw("secret"))
            .await
            .expect("added");
        // A lock written by an older version.
        t.raw()
            .execute(
                "UPDATE accounts SET failed = 5, locked_until_ms = ?1 WHERE name = 'alice'",
                [now_ms() + 60_000],
            )
            .expect("locked the old way");
        assert!(
            t.store
                .set_account_password("alice", &pw("fresh"))
                .await
                .expect("set")
        );
        assert!(
            !t.store
                .set_account_password("nobody", &pw("fresh"))
                .await
                .expect("no one")
        );
        let info = t
            .store
            .account("alice")
            .await
            .expect("read")
            .expect("there");
        assert_eq!(info.locked_until_ms, None);
        assert_eq!(login(&t, "alice", "secret", 0).await, LoginCheck::Wrong);
        assert!(matches!(
            login(&t, "alice", "fresh", 0).await,
            LoginCheck::Ok { .. }
        ));
    }

    #[tokio::test]
    async fn unknown_name_is_unknown_and_creates_nothing() {
        // An unknown name is verified against a dummy hash (same argon2 work as a wrong
        // password); that is by construction, not timed here: timing belongs in benchmarks.
        let t = TestStore::new();
        t.store
            .add_account("alice", &pw("secret"))
            .await
            .expect("added");
        assert_eq!(login(&t, "mallory", "x", 0).await, LoginCheck::Unknown);
        assert_eq!(login(&t, "alice", "x", 0).await, LoginCheck::Wrong);
        assert!(
            t.store.accounts().await.expect("listed").len() == 1,
            "nothing was created"
        );
    }

    #[tokio::test]
    async fn a_mangled_stored_hash_is_an_error_not_a_login() {
        let t = TestStore::new();
        t.store
            .add_account("alice", &pw("secret"))
            .await
            .expect("added");
        t.raw()
            .execute(
                "UPDATE accounts SET password_hash = 'plain' WHERE name = 'alice'",
                [],
            )
            .expect("mangled");
        let err = t
            .store
            .check_login("alice", &pw("plain"), "192.0.2.1", 0)
            .await
            .expect_err("refused");
        assert!(matches!(err, StoreError::CorruptRow { .. }), "{err}");
    }

    #[tokio::test]
    async fn a_version_2_database_gains_the_account_tables() {
        let t = TestStore::new();
        t.store
            .add_device(super::super::test_support::creds("cam-1", "pw"))
            .await
            .expect("added");
        t.raw()
            .execute_batch("DROP TABLE bindings; DROP TABLE accounts; PRAGMA user_version = 2;")
            .expect("back to version 2");
        drop(t.store);
        let store = Store::open(t.dir.path()).expect("migrated");
        assert_eq!(store.devices().await.expect("listed").len(), 1);
        store.add_account("alice", &pw("pw")).await.expect("added");
        assert_eq!(
            store
                .bind_camera("alice", "cam-1", &pw("pw"), false, 4)
                .await
                .expect("bound"),
            crate::store::BindOutcome::Added
        );
    }
}
