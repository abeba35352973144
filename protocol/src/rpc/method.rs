//! Method names, exactly as devices spell them.

/// Two-step login.
pub const LOGIN: &str = "global.login";
/// Keep the session alive.
pub const KEEP_ALIVE: &str = "global.keepAlive";
/// End the session.
pub const LOGOUT: &str = "global.logout";
/// Device clock.
pub const GET_CURRENT_TIME: &str = "global.getCurrentTime";
/// Read a config table by name (or `All`).
pub const GET_CONFIG: &str = "configManager.getConfig";
/// Write a whole config table.
pub const SET_CONFIG: &str = "configManager.setConfig";
/// List config names.
pub const GET_MEMBER_NAMES: &str = "configManager.getMemberNames";
/// Subscribe to events.
pub const EVENT_ATTACH: &str = "eventManager.attach";
/// Unsubscribe.
pub const EVENT_DETACH: &str = "eventManager.detach";
/// Create an event-manager object (instance pattern).
pub const EVENT_INSTANCE: &str = "eventManager.factory.instance";
/// Destroy an event-manager object.
pub const EVENT_DESTROY: &str = "eventManager.destroy";
/// Pushed event notification.
pub const NOTIFY_EVENT_STREAM: &str = "client.notifyEventStream";
/// Device type, e.g. `IPC-HFW1431S`.
pub const GET_DEVICE_TYPE: &str = "magicBox.getDeviceType";
/// Device class, e.g. `IPC`.
pub const GET_DEVICE_CLASS: &str = "magicBox.getDeviceClass";
/// Serial number.
pub const GET_SERIAL_NO: &str = "magicBox.getSerialNo";
/// Software version.
pub const GET_SOFTWARE_VERSION: &str = "magicBox.getSoftwareVersion";
/// Several calls in one request.
pub const MULTICALL: &str = "system.multicall";
/// Logged-in users.
pub const GET_ACTIVE_USERS: &str = "userManager.getActiveUserInfoAll";
/// Snapshot, homeport's convention.
pub const SNAP_PICTURE: &str = "snapManager.snapPicture";
