//! The data directory's secrets: the key that seals device passwords at rest, the admin API
//! token, and [`Secret`], a string that never shows up in logs.
//!
//! Both secret files are created with mode `0600` and refused when group or others can read or
//! write them. Creation is atomic and race-free: the content is written and synced to a private
//! temporary file which is then hard-linked into place, so a crash never leaves a half-written
//! key and two processes starting at once end up using the same one.

use std::ffi::OsString;
use std::fmt;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process;
use std::time::{SystemTime, UNIX_EPOCH};

use chacha20poly1305::aead::{Aead, Generate, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use serde::Deserialize;
use subtle::ConstantTimeEq;

/// File name of the sealing key inside the data directory.
pub const KEY_FILE: &str = "secret.key";
/// File name of the generated admin token inside the data directory.
pub const ADMIN_TOKEN_FILE: &str = "admin.token";
/// Environment variable that, when set and non-empty, supplies the admin token.
pub const ADMIN_TOKEN_ENV: &str = "HOMEPORT_ADMIN_TOKEN";

/// Length of the sealing key in bytes.
const KEY_LEN: usize = 32;
/// Length of the random nonce that prefixes every sealed value.
const NONCE_LEN: usize = 24;
/// Length of the Poly1305 tag that ends every sealed value.
const TAG_LEN: usize = 16;
/// Random bytes in a generated admin token (printed as twice as many hex digits).
const ADMIN_TOKEN_BYTES: usize = 32;
/// Longest admin token accepted from the environment or the token file.
const MAX_ADMIN_TOKEN_LEN: usize = 256;

/// Everything that can go wrong with the data directory's secrets.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// A file system operation on a secret file or the data directory failed.
    #[error("{action} {path}: {source}", path = path.display())]
    Io {
        /// What was being done, e.g. "reading".
        action: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The key file does not hold exactly 32 bytes.
    #[error(
        "{path} is {len} bytes long but a homeport key is exactly 32 bytes; restore the original \
         key file (without it stored device passwords cannot be decrypted)",
        path = path.display()
    )]
    KeyLength {
        /// The key file.
        path: PathBuf,
        /// Its actual length.
        len: u64,
    },
    /// A secret file can be read or written by group or others.
    #[error(
        "{path} is accessible by group or others (mode {mode:o}); run `chmod 600 {path}`",
        path = path.display()
    )]
    TooOpen {
        /// The secret file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// A secret file's path names something other than a regular file.
    #[error("{path} is not a regular file", path = path.display())]
    NotAFile {
        /// The path concerned.
        path: PathBuf,
    },
    /// The operating system's random number generator failed.
    #[error("the system random number generator failed: {0}")]
    Random(String),
    /// A plaintext could not be sealed (it is far too long).
    #[error("sealing a value of {len} bytes failed")]
    Seal {
        /// Length of the plaintext.
        len: usize,
    },
    /// A sealed value is shorter than its nonce and tag.
    #[error(
        "sealed value is {len} bytes long, shorter than a nonce and a tag ({} bytes)",
        NONCE_LEN + TAG_LEN
    )]
    SealedTooShort {
        /// Length of the sealed value.
        len: usize,
    },
    /// A sealed value does not authenticate under this key and context.
    #[error(
        "sealed value does not authenticate: it was sealed with another key or for another \
         context, or it was altered"
    )]
    Unauthentic,
    /// The admin token from the environment or the token file is unusable.
    #[error("admin token from {origin} {reason}")]
    InvalidAdminToken {
        /// Where the token came from: the environment variable or the file path.
        origin: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// The key that seals secrets stored in the database, with XChaCha20-Poly1305.
///
/// A sealed value is `nonce (24 random bytes) || ciphertext || tag (16 bytes)`. The caller's
/// context (for device passwords: the device ID) is authenticated as associated data, so a
/// sealed value only opens under the context it was sealed for.
#[derive(Clone)]
pub struct SecretKey {
    cipher: XChaCha20Poly1305,
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(***)")
    }
}

impl SecretKey {
    /// Loads `<data_dir>/secret.key`, creating the directory and a new random key on first run.
    ///
    /// Refuses a key file that is not exactly 32 bytes or that group or others can access.
    pub fn load_or_create(data_dir: &Path) -> Result<Self, SecretError> {
        create_private_dir(data_dir)?;
        let path = data_dir.join(KEY_FILE);
        if let Some(key) = Self::load(&path)? {
            return Ok(key);
        }
        let bytes = random_bytes::<KEY_LEN>()?;
        if create_private_file(&path, &bytes)? {
            tracing::info!(path = %path.display(), "created a new secret key; back it up with the database");
            return Ok(Self::from_bytes(bytes));
        }
        // Another process created it between our read and our link: use theirs.
        Self::load(&path)?.ok_or_else(|| SecretError::Io {
            action: "reading",
            path,
            source: io::Error::new(io::ErrorKind::NotFound, "vanished right after creation"),
        })
    }

    /// Builds a key from raw bytes (for tests and tools; the engine uses [`Self::load_or_create`]).
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Self {
            cipher: XChaCha20Poly1305::new(&Key::from(bytes)),
        }
    }

    /// Reads the key file, or `None` if there is none.
    fn load(path: &Path) -> Result<Option<Self>, SecretError> {
        let Some(bytes) = read_private_file(path, KEY_LEN as u64 + 1)? else {
            return Ok(None);
        };
        let bytes: [u8; KEY_LEN] =
            bytes
                .try_into()
                .map_err(|bytes: Vec<u8>| SecretError::KeyLength {
                    path: path.to_owned(),
                    len: fs::metadata(path).map_or(bytes.len() as u64, |m| m.len()),
                })?;
        Ok(Some(Self::from_bytes(bytes)))
    }

    /// Seals `plaintext` for `context` under a fresh random nonce.
    pub fn seal(&self, context: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, SecretError> {
        let nonce = XNonce::try_generate().map_err(|e| SecretError::Random(e.to_string()))?;
        let payload = Payload {
            msg: plaintext,
            aad: context,
        };
        let ciphertext = self
            .cipher
            .encrypt(&nonce, payload)
            .map_err(|_| SecretError::Seal {
                len: plaintext.len(),
            })?;
        let mut sealed = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        Ok(sealed)
    }

    /// Opens a value sealed by [`Self::seal`] with the same key and context.
    pub fn open(&self, context: &[u8], sealed: &[u8]) -> Result<Vec<u8>, SecretError> {
        if sealed.len() < NONCE_LEN + TAG_LEN {
            return Err(SecretError::SealedTooShort { len: sealed.len() });
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let nonce = XNonce::try_from(nonce)
            .map_err(|_| SecretError::SealedTooShort { len: sealed.len() })?;
        let payload = Payload {
            msg: ciphertext,
            aad: context,
        };
        self.cipher
            .decrypt(&nonce, payload)
            .map_err(|_| SecretError::Unauthentic)
    }
}

/// A string that must not leak: its `Debug` prints `***` and it has no `Display`.
///
/// It deserializes from a plain JSON string but deliberately does not serialize; code that
/// really means to reveal it calls [`Secret::expose`]. Equality is constant-time.
#[derive(Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret string.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that needs it (a login, an explicit export).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Unwraps the secret string.
    pub fn into_inner(self) -> String {
        self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        constant_time_eq(self.0.as_bytes(), other.0.as_bytes())
    }
}

impl Eq for Secret {}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

/// Compares two byte strings in time that depends only on their lengths, for token checks.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// The admin API's bearer token and whether it was generated just now.
///
/// `HOMEPORT_ADMIN_TOKEN` wins when set and non-empty. Otherwise `<data_dir>/admin.token` is
/// read, or created with 32 random bytes in hex (mode `0600`) on first start; `true` then tells
/// the caller to print it once. Surrounding whitespace is ignored; a token must be printable
/// ASCII without spaces (it travels in an HTTP header) and at most 256 bytes.
pub fn admin_token(data_dir: &Path) -> Result<(String, bool), SecretError> {
    resolve_admin_token(std::env::var_os(ADMIN_TOKEN_ENV), data_dir)
}

/// `HOMEPORT_ADMIN_TOKEN`, trimmed, when it is set to something other than blanks: the token
/// [`admin_token`] uses instead of the file (the CLI and the start banner ask the same).
pub fn env_admin_token() -> Option<String> {
    std::env::var(ADMIN_TOKEN_ENV)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// [`admin_token`] with the environment variable's value passed in (tests cannot set it safely).
fn resolve_admin_token(
    env: Option<OsString>,
    data_dir: &Path,
) -> Result<(String, bool), SecretError> {
    if let Some(value) = env.filter(|v| !v.is_empty()) {
        let origin = || format!("${ADMIN_TOKEN_ENV}");
        let value = value
            .into_string()
            .map_err(|_| SecretError::InvalidAdminToken {
                origin: origin(),
                reason: "is not valid UTF-8",
            })?;
        let token = value.trim();
        if !token.is_empty() {
            check_admin_token(token).map_err(|reason| SecretError::InvalidAdminToken {
                origin: origin(),
                reason,
            })?;
            return Ok((token.to_owned(), false));
        }
    }

    create_private_dir(data_dir)?;
    let path = data_dir.join(ADMIN_TOKEN_FILE);
    if let Some(token) = read_admin_token_file(&path)? {
        return Ok((token, false));
    }
    let token = hex(&random_bytes::<ADMIN_TOKEN_BYTES>()?);
    if create_private_file(&path, format!("{token}\n").as_bytes())? {
        return Ok((token, true));
    }
    // Another process created it first: use theirs.
    let token = read_admin_token_file(&path)?.ok_or_else(|| SecretError::Io {
        action: "reading",
        path,
        source: io::Error::new(io::ErrorKind::NotFound, "vanished right after creation"),
    })?;
    Ok((token, false))
}

/// Reads and checks the admin token file, or `None` if there is none.
fn read_admin_token_file(path: &Path) -> Result<Option<String>, SecretError> {
    let Some(bytes) = read_private_file(path, MAX_ADMIN_TOKEN_LEN as u64 + 2)? else {
        return Ok(None);
    };
    let invalid = |reason| SecretError::InvalidAdminToken {
        origin: path.display().to_string(),
        reason,
    };
    let text = String::from_utf8(bytes).map_err(|_| invalid("is not valid UTF-8"))?;
    let token = text.trim();
    if token.is_empty() {
        return Err(invalid(
            "is empty; write a token into it or delete it to have one generated",
        ));
    }
    check_admin_token(token).map_err(invalid)?;
    Ok(Some(token.to_owned()))
}

/// Checks that a (trimmed, non-empty) token can travel in an `Authorization` header.
fn check_admin_token(token: &str) -> Result<(), &'static str> {
    if token.len() > MAX_ADMIN_TOKEN_LEN {
        return Err("is longer than 256 bytes");
    }
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("contains spaces, control or non-ASCII characters");
    }
    Ok(())
}

/// Creates `dir` (and parents) with mode `0700` if it does not exist; an existing one is kept.
pub fn create_private_dir(dir: &Path) -> Result<(), SecretError> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| SecretError::Io {
            action: "creating data directory",
            path: dir.to_owned(),
            source,
        })
}

/// Reads a secret file of at most `max_len` bytes, or `None` if it does not exist.
///
/// Refuses a file that is not regular or that group or others can access. Reads at most
/// `max_len` bytes so a wrong path cannot make us swallow a huge file.
fn read_private_file(path: &Path, max_len: u64) -> Result<Option<Vec<u8>>, SecretError> {
    let io_error = |action, source| SecretError::Io {
        action,
        path: path.to_owned(),
        source,
    };
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error("opening", e)),
    };
    // Checked on the open handle, so the file cannot be swapped between check and read.
    let metadata = file.metadata().map_err(|e| io_error("inspecting", e))?;
    if !metadata.is_file() {
        return Err(SecretError::NotAFile {
            path: path.to_owned(),
        });
    }
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(SecretError::TooOpen {
            path: path.to_owned(),
            mode,
        });
    }
    let mut bytes = Vec::new();
    file.take(max_len)
        .read_to_end(&mut bytes)
        .map_err(|e| io_error("reading", e))?;
    Ok(Some(bytes))
}

/// Atomically creates `path` with `contents` and mode `0600` unless it already exists.
///
/// Returns `false` when the file already existed (it is left untouched).
fn create_private_file(path: &Path, contents: &[u8]) -> Result<bool, SecretError> {
    let io_error = |action, path: &Path, source| SecretError::Io {
        action,
        path: path.to_owned(),
        source,
    };
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let name = path
        .file_name()
        .map_or_else(|| "secret".into(), |n| n.to_string_lossy());
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let temp = dir.join(format!(".{name}.{}.{nanos}.tmp", process::id()));

    let written = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp)?;
        file.write_all(contents)?;
        file.sync_all()
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&temp);
        return Err(io_error("writing", &temp, e));
    }
    // A hard link fails if the target exists, which makes "create unless present" atomic.
    let linked = fs::hard_link(&temp, path);
    let _ = fs::remove_file(&temp);
    match linked {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(false),
        Err(e) => return Err(io_error("creating", path, e)),
    }
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_error("syncing directory", dir, e))?;
    Ok(true)
}

/// `N` bytes from the operating system's random number generator.
fn random_bytes<const N: usize>() -> Result<[u8; N], SecretError> {
    <[u8; N]>::try_generate().map_err(|e| SecretError::Random(e.to_string()))
}

/// Lower-case hex of `bytes`.
fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data_dir() -> tempfile::TempDir {
        tempfile::Builder::new()
            .prefix("homeport-secret-")
            .tempdir()
            .expect("a temporary directory")
    }

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).expect("metadata").permissions().mode() & 0o777
    }

    #[test]
    fn key_file_is_created_with_mode_0600_and_reused() {
        let dir = data_dir();
        let data = dir.path().join("data");
        let key = SecretKey::load_or_create(&data).expect("a new key");
        let path = data.join(KEY_FILE);
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&data), 0o700);
        assert_eq!(fs::metadata(&path).expect("metadata").len(), 32);

        let sealed = key.seal(b"cam-1", b"hunter2").expect("sealed");
        let again = SecretKey::load_or_create(&data).expect("the same key");
        assert_eq!(again.open(b"cam-1", &sealed).expect("opens"), b"hunter2");
        let leftovers = fs::read_dir(&data).expect("listing").count();
        assert_eq!(leftovers, 1, "no temporary files are left behind");
    }

    #[test]
    fn key_file_of_the_wrong_length_is_refused() {
        let dir = data_dir();
        let path = dir.path().join(KEY_FILE);
        fs::write(&path, [7u8; 31]).expect("write");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).expect("chmod");
        let err = SecretKey::load_or_create(dir.path()).expect_err("refused");
        assert!(
            matches!(err, SecretError::KeyLength { len: 31, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("exactly 32 bytes"), "{err}");

        fs::write(&path, [7u8; 64]).expect("write");
        let err = SecretKey::load_or_create(dir.path()).expect_err("refused");
        assert!(
            matches!(err, SecretError::KeyLength { len: 64, .. }),
            "{err}"
        );
    }

    #[test]
    fn key_file_readable_by_group_is_refused() {
        let dir = data_dir();
        SecretKey::load_or_create(dir.path()).expect("a new key");
        let path = dir.path().join(KEY_FILE);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).expect("chmod");
        let err = SecretKey::load_or_create(dir.path()).expect_err("refused");
        assert!(
            matches!(err, SecretError::TooOpen { mode: 0o640, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("chmod 600"), "{err}");
    }

    #[test]
    fn sealed_value_opens_only_with_its_context_and_key() {
        let key = SecretKey::from_bytes([1; 32]);
        let sealed = key.seal(b"cam-1", b"hunter2").expect("sealed");
        assert_eq!(sealed.len(), NONCE_LEN + 7 + TAG_LEN);
        assert!(!sealed.windows(7).any(|w| w == b"hunter2"));
        assert_eq!(key.open(b"cam-1", &sealed).expect("opens"), b"hunter2");
        assert!(matches!(
            key.open(b"cam-2", &sealed),
            Err(SecretError::Unauthentic)
        ));
        let other = SecretKey::from_bytes([2; 32]);
        assert!(matches!(
            other.open(b"cam-1", &sealed),
            Err(SecretError::Unauthentic)
        ));
        assert!(matches!(
            key.open(b"cam-1", &sealed[..20]),
            Err(SecretError::SealedTooShort { len: 20 })
        ));
    }

    #[test]
    fn sealing_twice_gives_different_bytes() {
        let key = SecretKey::from_bytes([1; 32]);
        let a = key.seal(b"cam-1", b"same").expect("sealed");
        let b = key.seal(b"cam-1", b"same").expect("sealed");
        assert_ne!(a, b, "each seal draws a fresh nonce");
    }

    #[test]
    fn admin_token_is_generated_once_then_reused() {
        let dir = data_dir();
        let (token, created) = resolve_admin_token(None, dir.path()).expect("a token");
        assert!(created);
        assert_eq!(token.len(), 64);
        assert!(token.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(mode(&dir.path().join(ADMIN_TOKEN_FILE)), 0o600);

        let (again, created) = resolve_admin_token(None, dir.path()).expect("the same token");
        assert!(!created);
        assert_eq!(again, token);
    }

    #[test]
    fn admin_token_from_the_environment_wins_over_the_file() {
        let dir = data_dir();
        let (from_file, _) = resolve_admin_token(None, dir.path()).expect("a token");
        let env = Some(OsString::from("operator-chosen-token"));
        let (token, created) = resolve_admin_token(env, dir.path()).expect("env token");
        assert_eq!(token, "operator-chosen-token");
        assert!(!created);
        assert_ne!(token, from_file);
    }

    #[test]
    fn empty_environment_token_falls_back_to_the_file() {
        let dir = data_dir();
        let (token, created) =
            resolve_admin_token(Some(OsString::new()), dir.path()).expect("file token");
        assert!(created);
        assert_eq!(token.len(), 64);
    }

    #[test]
    fn admin_token_file_written_by_an_operator_is_trimmed() {
        let dir = data_dir();
        let path = dir.path().join(ADMIN_TOKEN_FILE);
        fs::write(&path, "  my-token\n").expect("write");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).expect("chmod");
        let (token, created) = resolve_admin_token(None, dir.path()).expect("file token");
        assert_eq!((token.as_str(), created), ("my-token", false));
    }

    #[test]
    fn unusable_admin_tokens_are_refused() {
        let dir = data_dir();
        let env = Some(OsString::from("has space"));
        let err = resolve_admin_token(env, dir.path()).expect_err("refused");
        assert!(err.to_string().contains("HOMEPORT_ADMIN_TOKEN"), "{err}");

        let path = dir.path().join(ADMIN_TOKEN_FILE);
        fs::write(&path, "\n").expect("write");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).expect("chmod");
        let err = resolve_admin_token(None, dir.path()).expect_err("refused");
        assert!(err.to_string().contains("is empty"), "{err}");

        fs::write(&path, "token").expect("write");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).expect("chmod");
        let err = resolve_admin_token(None, dir.path()).expect_err("refused");
        assert!(matches!(err, SecretError::TooOpen { .. }), "{err}");
    }

    #[test]
    fn constant_time_eq_compares_contents_and_lengths() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn secret_debug_hides_the_value() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret:?}"), "***");
        assert_eq!(format!("{:?}", Some(&secret)), "Some(***)");
        assert_eq!(secret.expose(), "hunter2");
        assert_eq!(secret, Secret::from("hunter2"));
        let parsed: Secret = serde_json::from_str("\"hunter2\"").expect("a JSON string");
        assert_eq!(parsed, secret);
    }
}
