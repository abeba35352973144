//! The event being processed, beyond its record: its id and fields, fetched from the host
//! when [`Event`](crate::Event) is first asked for them.

/// The current event's id.
pub(crate) fn id() -> String {
    imp::id()
}

/// The current event's fields.
pub(crate) fn fields() -> Vec<crate::Field> {
    imp::fields()
}

#[cfg(target_arch = "wasm32")]
mod imp {
    use crate::bindings::homeport::plugin::current as host;

    pub(super) fn id() -> String {
        host::id()
    }

    pub(super) fn fields() -> Vec<crate::Field> {
        host::fields()
    }
}

/// Off `wasm32` events are made by tests and the harness, which give them their id and
/// fields; nothing is left to fetch.
#[cfg(not(target_arch = "wasm32"))]
mod imp {
    pub(super) fn id() -> String {
        String::new()
    }

    pub(super) fn fields() -> Vec<crate::Field> {
        Vec::new()
    }
}
