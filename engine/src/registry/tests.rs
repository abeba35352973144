//! Unit tests of the registry: generations, pending limits, replacement, restart grace and
//! what is queued for the store.

use tokio::sync::broadcast;

use super::*;

const ID: &str = "cam-1";
const ADDR: &str = "192.0.2.1:5000";

fn registry_with(config: RegistryConfig) -> Registry {
    Registry::new(EventBus::default(), config)
}

fn registry() -> Registry {
    registry_with(RegistryConfig::default())
}

fn credentials(password: &str) -> Credentials {
    Credentials::new("admin", password, LoginProtocol::Auto)
}

/// Registers `id` from `addr`, from an untrusted source.
fn register(registry: &Registry, id: &str, addr: &str) -> Result<Ticket, RegisterError> {
    registry.register(id, addr, RegistrationKind::Serial, false)
}

/// Reports the session of `ticket` online over DVRIP.
fn go_online(registry: &Registry, ticket: &Ticket) {
    let (handle, _commands) = DeviceHandle::channel(Duration::from_secs(1));
    registry.online(
        &ticket.id,
        ticket.generation,
        handle,
        Online {
            protocol: LoginProtocol::Dvrip,
            transport: Framing::Dvrip,
            info: DeviceInfo::default(),
            firmware: None,
        },
    );
}

fn state(registry: &Registry, id: &str) -> Option<DeviceState> {
    registry.view(id).map(|v| v.state)
}

/// The events published so far.
fn drain(events: &mut broadcast::Receiver<Arc<Event>>) -> Vec<EventKind> {
    std::iter::from_fn(|| events.try_recv().ok())
        .map(|e| e.kind.clone())
        .collect()
}

fn offline_reasons(events: &[EventKind]) -> Vec<(DeviceState, OnlineReason)> {
    events
        .iter()
        .filter_map(|kind| match kind {
            EventKind::OnlineChanged {
                online: false,
                state,
                reason,
                ..
            } => Some((*state, *reason)),
            _ => None,
        })
        .collect()
}

fn stored(id: &str, state: &str) -> DeviceRecord {
    DeviceRecord {
        id: id.to_owned(),
        credentials: credentials("pw"),
        last_addr: Some(ADDR.to_owned()),
        last_seen_ms: Some(1_000),
        state: state.to_owned(),
        reason: None,
        learned_protocol: Some(LoginProtocol::Dhip),
        identity: Identity::default(),
        labels: Labels::default(),
    }
}

#[test]
fn a_device_that_registers_again_gets_a_new_generation() {
    let registry = registry();
    registry.set_credentials(ID, credentials("pw"), None);
    let first = register(&registry, ID, ADDR).expect("registered");
    let second = register(&registry, ID, "192.0.2.1:5001").expect("registered");
    assert!(second.generation > first.generation);
    assert!(
        first.close.is_cancelled(),
        "the older session is told to close"
    );
    assert_eq!(first.close_reason.get(), Some(&OnlineReason::Replaced));
    assert!(!second.close.is_cancelled());
    assert_eq!(
        registry.view(ID).and_then(|v| v.addr).as_deref(),
        Some("192.0.2.1:5001")
    );
}

#[test]
fn a_stale_sessions_reports_are_ignored() {
    let registry = registry();
    registry.set_credentials(ID, credentials("pw"), None);
    let stale = register(&registry, ID, ADDR).expect("registered");
    let current = register(&registry, ID, ADDR).expect("registered");

    go_online(&registry, &stale);
    registry.login_failed(ID, stale.generation, "wrong password");
    registry.awaiting_accept(ID, stale.generation);
    registry.detach(ID, stale.generation, OnlineReason::SocketClosed, None);
    assert_eq!(state(&registry, ID), Some(DeviceState::LoggingIn));
    assert!(
        registry.request_login(ID),
        "the current session is still attached"
    );

    go_online(&registry, &current);
    assert_eq!(state(&registry, ID), Some(DeviceState::Online));
    registry.detach(ID, stale.generation, OnlineReason::KeepaliveLost, None);
    assert_eq!(state(&registry, ID), Some(DeviceState::Online));
    registry.detach(ID, current.generation, OnlineReason::KeepaliveLost, None);
    assert_eq!(state(&registry, ID), Some(DeviceState::Offline));
}

#[test]
fn replacing_an_online_session_reports_it_replaced() {
    let registry = registry();
    registry.set_credentials(ID, credentials("pw"), None);
    let mut events = registry.bus().subscribe();
    let first = register(&registry, ID, ADDR).expect("registered");
    go_online(&registry, &first);
    drain(&mut events);

    let _second = register(&registry, ID, ADDR).expect("registered");
    let published = drain(&mut events);
    assert_eq!(
        offline_reasons(&published),
        [(DeviceState::LoggingIn, OnlineReason::Replaced)]
    );
    assert!(matches!(
        published.last(),
        Some(EventKind::Registered { .. })
    ));
    assert_eq!(state(&registry, ID), Some(DeviceState::LoggingIn));
}

#[test]
fn replacing_a_session_that_was_not_online_reports_no_offline() {
    let registry = registry();
    registry.set_credentials(ID, credentials("pw"), None);
    let first = register(&registry, ID, ADDR).expect("registered");
    let mut events = registry.bus().subscribe();
    let _second = register(&registry, ID, ADDR).expect("registered");
    assert!(first.close.is_cancelled());
    assert_eq!(offline_reasons(&drain(&mut events)), []);
}

#[test]
fn a_second_registration_displaces_the_first_from_any_source() {
    // The registry always hands the ID to the newest connection; keeping a session that
    // still answers is the listener's probe, before it calls `register`.
    for trusted in [false, true] {
        let registry = registry();
        registry.set_credentials(ID, credentials("pw"), None);
        let first = register(&registry, ID, ADDR).expect("registered");
        go_online(&registry, &first);
        registry.pin(
            ID,
            first.generation,
            Identity {
                realm: None,
                serial: Some("SN-1".to_owned()),
                device_type: None,
            },
        );
        let second = registry
            .register(ID, "198.51.100.9:4000", RegistrationKind::Serial, trusted)
            .expect("registered");
        assert_eq!(first.close_reason.get(), Some(&OnlineReason::Replaced));
        assert!(
            second.accepted.load(Ordering::Acquire),
            "a known ID may be logged in over"
        );
        assert_eq!(
            registry.identity(ID).serial.as_deref(),
            Some("SN-1"),
            "what it proved stays pinned for the newcomer's login to be checked against"
        );
    }
}

#[test]
fn a_pending_connection_is_accepted_only_from_a_trusted_source() {
    let registry = registry();
    let untrusted = register(&registry, ID, ADDR).expect("registered");
    let trusted = registry
        .register("cam-2", "10.0.0.2:5000", RegistrationKind::Serial, true)
        .expect("registered");
    assert!(!untrusted.accepted.load(Ordering::Acquire));
    assert!(trusted.accepted.load(Ordering::Acquire));

    // Credentials added while it waits do not make the squatted connection acceptable.
    registry.set_credentials(ID, credentials("pw"), None);
    assert!(!untrusted.accepted.load(Ordering::Acquire));
    assert_eq!(registry.view(ID).map(|v| v.awaiting_accept), Some(true));
    // A connection announcing the now-known ID replaces it and may be logged in over.
    let again = register(&registry, ID, ADDR).expect("registered");
    assert_eq!(untrusted.close_reason.get(), Some(&OnlineReason::Replaced));
    assert!(again.accepted.load(Ordering::Acquire));
    // Or an operator accepts the waiting one.
    assert!(registry.accept(ID));
    assert!(again.accepted.load(Ordering::Acquire));
}

#[test]
fn unknown_devices_beyond_the_global_limit_are_refused() {
    let registry = registry_with(RegistryConfig {
        max_pending: 2,
        ..RegistryConfig::default()
    });
    let _a = register(&registry, "a", "192.0.2.1:1").expect("registered");
    let b = register(&registry, "b", "192.0.2.2:1").expect("registered");
    assert_eq!(
        register(&registry, "c", "192.0.2.3:1").err(),
        Some(RegisterError::TooManyPending(2))
    );
    // A pending device connecting again is not a new one; a known device is never counted.
    let _a_again = register(&registry, "a", "192.0.2.1:2").expect("registered");
    registry.set_credentials("known", credentials("pw"), None);
    let _known = register(&registry, "known", "192.0.2.4:1").expect("registered");
    // One leaving makes room.
    registry.detach("b", b.generation, OnlineReason::SocketClosed, None);
    assert!(
        registry.view("b").is_none(),
        "a stranger leaves nothing behind"
    );
    let _c = register(&registry, "c", "192.0.2.3:1").expect("registered");
}

#[test]
fn unknown_devices_beyond_the_per_source_limit_are_refused() {
    let registry = registry_with(RegistryConfig {
        max_pending_per_source: 2,
        ..RegistryConfig::default()
    });
    let crowded: IpAddr = "192.0.2.1".parse().expect("an address");
    let _a = register(&registry, "a", "192.0.2.1:1").expect("registered");
    let _b = register(&registry, "b", "192.0.2.1:2").expect("registered");
    assert_eq!(
        register(&registry, "c", "192.0.2.1:3").err(),
        Some(RegisterError::TooManyPendingFrom(crowded, 2))
    );
    let _d = register(&registry, "d", "192.0.2.9:1").expect("another source has room");
    // A pending device that reconnects from elsewhere takes its count with it.
    let _a_moved = register(&registry, "a", "192.0.2.7:1").expect("registered");
    let _c = register(&registry, "c", "192.0.2.1:3").expect("room again");
}

#[test]
fn devices_online_before_a_restart_go_offline_when_the_grace_runs_out() {
    let grace = Duration::from_secs(120);
    let registry = registry_with(RegistryConfig {
        restart_grace: grace,
        ..RegistryConfig::default()
    });
    registry.load(vec![
        stored("back", "online"),
        stored("gone", "online"),
        stored("was-off", "offline"),
    ]);
    assert_eq!(registry.view("gone").map(|v| v.online), Some(true));
    assert_eq!(registry.view("was-off").map(|v| v.online), Some(false));
    let _back = register(&registry, "back", ADDR).expect("registered");
    let mut events = registry.bus().subscribe();

    let start = Instant::now();
    assert_eq!(registry.expire_grace(start), 0, "still within the grace");
    assert_eq!(registry.expire_grace(start + grace), 1);
    assert_eq!(state(&registry, "gone"), Some(DeviceState::Offline));
    assert_eq!(state(&registry, "back"), Some(DeviceState::LoggingIn));
    assert_eq!(
        offline_reasons(&drain(&mut events)),
        [(DeviceState::Offline, OnlineReason::NotBackAfterRestart)]
    );
    assert_eq!(registry.expire_grace(start + grace * 2), 0, "expired once");
}

#[test]
fn a_loaded_device_keeps_the_protocol_it_learned_unless_an_update_says_otherwise() {
    let registry = registry();
    registry.load(vec![stored(ID, "offline")]);
    registry.set_credentials(ID, credentials("new"), None);
    let ticket = register(&registry, ID, ADDR).expect("registered");
    let plan = ticket.credentials.borrow().clone().expect("credentials");
    assert_eq!(plan.credentials, credentials("new"));
    assert_eq!(plan.learned, Some(LoginProtocol::Dhip));

    registry.set_credentials(ID, credentials("new"), Some(LoginProtocol::Dvrip));
    let plan = ticket.credentials.borrow().clone().expect("credentials");
    assert_eq!(plan.learned, Some(LoginProtocol::Dvrip));
    assert_eq!(registry.password_matches(ID, "new"), Some(true));
}

#[test]
fn state_changes_are_queued_for_the_store_latest_first() {
    let registry = registry();
    let _stranger = register(&registry, "stranger", ADDR).expect("registered");
    registry.set_credentials(ID, credentials("pw"), None);
    let ticket = register(&registry, ID, ADDR).expect("registered");
    go_online(&registry, &ticket);

    let mut updates = registry.take_dirty();
    updates.sort_by(|a, b| a.id.cmp(&b.id));
    let [online, pending] = updates.as_slice() else {
        panic!("one update per device: {updates:?}");
    };
    assert_eq!(online.id, ID);
    assert_eq!(online.state, "online");
    assert_eq!(
        online.reason.as_deref(),
        Some(""),
        "no reason clears the stored one"
    );
    assert_eq!(online.last_addr.as_deref(), Some(ADDR));
    assert_eq!(online.learned_protocol, Some(LoginProtocol::Dvrip));
    assert_eq!(pending.state, "pending");
    assert_eq!(
        pending.reason.as_deref(),
        Some("unknown device: add its credentials to log in")
    );
    assert!(registry.take_dirty().is_empty(), "taken once");
}

#[test]
fn events_and_sessions_carry_the_labels_an_operator_sets_and_changes() {
    let registry = registry();
    let mut events = registry.bus().subscribe();
    registry.set_credentials(ID, credentials("pw"), None);
    let gate = LabelChange::new(Some("Gate".into()), Some(vec!["yard".into()])).expect("valid");
    registry.change_labels(ID, &gate);
    let ticket = register(&registry, ID, ADDR).expect("registered");
    go_online(&registry, &ticket);
    let labelled: Vec<_> = std::iter::from_fn(|| events.try_recv().ok()).collect();
    assert_eq!(labelled.len(), 2, "registered, then online");
    for event in &labelled {
        assert_eq!(
            (event.labels.name(), event.labels.tags()),
            (Some("Gate"), &["yard".to_owned()][..])
        );
    }
    // Renamed while online: the session sees it for the events it makes next.
    let renamed = LabelChange::new(Some("Front gate".into()), None).expect("valid");
    registry.change_labels(ID, &renamed);
    assert_eq!(ticket.labels.borrow().name.as_deref(), Some("Front gate"));
    assert_eq!(ticket.labels.borrow().tags, ["yard"]);
    let view = registry.view(ID).expect("known");
    assert_eq!(
        (view.name.as_deref(), view.tags.len()),
        (Some("Front gate"), 1)
    );
    // Removal says goodbye under the last name.
    registry.remove(ID);
    let removed = events.try_recv().expect("the removed event");
    assert_eq!(removed.labels.name(), Some("Front gate"));
    // A stranger's events carry none.
    let stranger = register(&registry, "stranger", ADDR).expect("pending");
    let registered = events.try_recv().expect("registered");
    assert_eq!(
        (registered.device.as_str(), registered.labels.get()),
        ("stranger", None)
    );
    drop(stranger);
}
