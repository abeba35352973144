//! Error codes in `error.code` of replies.
//!
//! The login codes are observed on devices; [`METHOD_NOT_FOUND`] and [`BAD_REQUEST`] are the
//! codes homeport's simulator uses where no device capture shows one (our convention).

/// Step 1 of login: "Component error: login challenge!" (0x1003000F).
pub const LOGIN_CHALLENGE: i64 = 268_632_079;
/// "User or password not valid!" (0x10030015), with remaining tries in params.
pub const BAD_PASSWORD: i64 = 268_632_085;
/// Account locked after too many failures (0x10030011).
pub const LOCKED: i64 = 268_632_081;
/// Device not initialised (0x10030016).
pub const NOT_INITIALISED: i64 = 268_632_086;
/// "Invalid session in request data!" (0x11250001), e.g. a keepalive after expiry.
pub const INVALID_SESSION: i64 = 287_637_505;
/// Our convention: the method is not served.
pub const METHOD_NOT_FOUND: i64 = 268_894_210;
/// Our convention: the params are malformed.
pub const BAD_REQUEST: i64 = 268_894_209;
