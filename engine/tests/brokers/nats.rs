//! A real `nats-server` with JetStream for tests: a free port on loopback, a store directory
//! that survives restarts, killed on drop.

#![allow(dead_code, unreachable_pub)]

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long the server gets to open its port.
const READY: Duration = Duration::from_secs(15);

/// A running (or killed, between [`NatsServer::kill`] and [`NatsServer::restart`]) server.
#[derive(Debug)]
pub struct NatsServer {
    binary: PathBuf,
    port: u16,
    extra: Vec<String>,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl NatsServer {
    /// Starts `nats-server -js` on a free loopback port with a fresh store directory.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Same, with extra command-line arguments (`--user`, `--pass`, ...).
    pub fn start_with(extra: &[&str]) -> Self {
        let binary = find_binary();
        let port = free_port();
        let dir = tempfile::tempdir().expect("temp dir for the JetStream store");
        let mut server = Self {
            binary,
            port,
            extra: extra.iter().map(|arg| (*arg).to_owned()).collect(),
            dir,
            child: None,
        };
        server.spawn();
        server
    }

    /// `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills the server hard (SIGKILL: no lame-duck mode, no goodbye to clients).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port with the same store directory.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    fn store(&self) -> PathBuf {
        self.dir.path().join("jetstream")
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("nats-server.log")
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log())
            .expect("server log file");
        let child = Command::new(&self.binary)
            .arg("-js")
            .args(["-a", "127.0.0.1", "-p", &self.port.to_string()])
            .arg("-sd")
            .arg(self.store())
            .args(&self.extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.binary.display()));
        self.child = Some(child);
        self.wait_ready();
    }

    fn wait_ready(&mut self) {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let deadline = Instant::now() + READY;
        loop {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return;
            }
            let exited = self
                .child
                .as_mut()
                .and_then(|child| child.try_wait().ok().flatten());
            if let Some(status) = exited {
                panic!(
                    "nats-server exited with {status} before opening port {}:\n{}",
                    self.port,
                    read(&self.log())
                );
            }
            assert!(
                Instant::now() < deadline,
                "nats-server did not open port {} within {READY:?}:\n{}",
                self.port,
                read(&self.log())
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `nats-server` from `PATH`, else `/usr/sbin/nats-server`.
fn find_binary() -> PathBuf {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("nats-server"))
            .find(|candidate| candidate.is_file())
    });
    on_path
        .or_else(|| {
            let fallback = Path::new("/usr/sbin/nats-server");
            fallback.is_file().then(|| fallback.to_owned())
        })
        .expect("nats-server not found on PATH or at /usr/sbin/nats-server (apt-get install nats-server)")
}

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .expect("free port")
        .port()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}
