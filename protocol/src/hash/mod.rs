//! Login hashes: what a client sends to prove it knows a password, for every login Dahua
//! devices speak, and what the device side needs to check it.
//!
//! - [`default`] — DHIP `global.login`: the `Default` (Gen2) two-step MD5, the challenge's
//!   [`Encryption`], and the step-2 password for each mode ([`password_for`]).
//! - [`old_digest`](mod@old_digest) — Gen1 / `OldDigest`, the 8-character hash of old firmware.
//! - [`realm`] — the DVRIP realm login: the `b0` challenge text and the `a0 05` body, built
//!   and parsed.
//! - [`gen0`](mod@gen0) — Gen0 3DES for very old firmware, standard and Dahua's own DES.
//! - [`error`] — [`HashError`].
//!
//! Everything is a pure function of its arguments. Strings are hashed as UTF-8; Dahua tools
//! use latin-1, which agrees for ASCII.

mod base64;
pub mod default;
pub mod error;
pub mod gen0;
mod md5_hex;
pub mod old_digest;
pub mod realm;

pub use default::{Encryption, default_hash, ha1, password_for};
pub use error::HashError;
pub use gen0::{Gen0Variant, gen0};
pub use old_digest::old_digest;
pub use realm::{LoginBody, RealmChallenge, dvrip_hash, login_body};
