//! The data ports waiting for their connection: which main session asked for each, from
//! which address. The server holds the list; [`super::data_port`] adds and removes ports.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard, PoisonError};

/// A data port waiting for its connection.
#[derive(Debug, Clone, Copy)]
struct Waiting {
    main: u64,
    peer: IpAddr,
}

/// Data ports waiting for their connection, by port.
#[derive(Debug, Default)]
pub struct WaitingPorts(Mutex<HashMap<u16, Waiting>>);

impl WaitingPorts {
    fn ports(&self) -> MutexGuard<'_, HashMap<u16, Waiting>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `port` waits for a connection for main session `main` from `peer`.
    pub fn insert(&self, port: u16, main: u64, peer: IpAddr) {
        self.ports().insert(port, Waiting { main, peer });
    }

    /// `port` waits no more.
    pub fn remove(&self, port: u16) {
        self.ports().remove(&port);
    }

    /// How many main sessions from `peer` wait for a data port now.
    pub fn sessions_from(&self, peer: IpAddr) -> usize {
        let mut mains: Vec<u64> = self
            .ports()
            .values()
            .filter(|w| w.peer == peer)
            .map(|w| w.main)
            .collect();
        mains.sort_unstable();
        mains.dedup();
        mains.len()
    }
}
