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

/// Makes event `index` of a batch call the current one.
pub(crate) fn enter(index: usize) {
    imp::enter(index);
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

    pub(super) fn enter(index: usize) {
        // The host never sends more events than a u32 counts.
        host::enter(u32::try_from(index).unwrap_or(u32::MAX));
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

    pub(super) fn enter(_index: usize) {}
}
