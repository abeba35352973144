//! A camera's online status as the camera-sync protocol reports it: `true`, `false`, `null`.

/// A camera's online status as the server reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OnlineStatus {
    /// `true`: the camera holds a live registration session.
    Online,
    /// `false`: the camera is known but not connected.
    Offline,
    /// `null`: the server has no status data for that ID.
    Unknown,
}

impl OnlineStatus {
    /// The wire text: `"true"`, `"false"` or `"null"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            OnlineStatus::Online => "true",
            OnlineStatus::Offline => "false",
            OnlineStatus::Unknown => "null",
        }
    }

    /// Reads `true`, `false` or `null` (lower case only).
    pub fn from_wire(text: &str) -> Option<OnlineStatus> {
        match text {
            "true" => Some(OnlineStatus::Online),
            "false" => Some(OnlineStatus::Offline),
            "null" => Some(OnlineStatus::Unknown),
            _ => None,
        }
    }
}

impl From<bool> for OnlineStatus {
    fn from(online: bool) -> Self {
        if online {
            OnlineStatus::Online
        } else {
            OnlineStatus::Offline
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn online_status_maps_from_bool() {
        assert_eq!(OnlineStatus::from(true), OnlineStatus::Online);
        assert_eq!(OnlineStatus::from(false), OnlineStatus::Offline);
    }

    #[test]
    fn status_words_are_lower_case_only() {
        for status in [
            OnlineStatus::Online,
            OnlineStatus::Offline,
            OnlineStatus::Unknown,
        ] {
            assert_eq!(OnlineStatus::from_wire(status.as_str()), Some(status));
        }
        for word in ["True", "FALSE", "Null", "1", "", "none"] {
            assert_eq!(OnlineStatus::from_wire(word), None, "{word:?}");
        }
    }
}
