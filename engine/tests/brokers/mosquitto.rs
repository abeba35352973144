//! A real `mosquitto` broker for tests: started on a free loopback port with a temporary
//! config, killed on drop, and restartable on the same port.
//!
//! Two kinds: [`Mosquitto::start`] keeps everything in memory (a restart forgets retained
//! messages and sessions, like a broker without persistence), [`Mosquitto::start_persistent`]
//! saves its database when stopped with [`Mosquitto::stop`] (SIGTERM) and loads it again on
//! [`Mosquitto::restart`], so persistent subscriber sessions survive the restart.

#![allow(dead_code, unreachable_pub)]

use std::fs::{self, File};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// How long a broker may take to accept connections after it starts.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// A running (or stopped, restartable) `mosquitto`.
pub struct Mosquitto {
    binary: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    child: Option<Child>,
    /// Lines added to the listener's configuration (TLS files, …).
    listener_extra: String,
    persistent: bool,
}

impl Mosquitto {
    /// A broker without persistence on a free loopback port.
    pub fn start() -> Self {
        Self::start_with("", false)
    }

    /// A broker that saves its database on [`Self::stop`] and loads it on [`Self::restart`].
    pub fn start_persistent() -> Self {
        Self::start_with("", true)
    }

    /// A broker whose listener gets `listener_extra` (e.g. `cafile`, `certfile`, `keyfile`).
    pub fn start_with(listener_extra: &str, persistent: bool) -> Self {
        let mut broker = Self {
            binary: find_binary(),
            dir: tempfile::tempdir().expect("temporary directory for mosquitto"),
            port: free_port(),
            child: None,
            listener_extra: listener_extra.to_owned(),
            persistent,
        };
        let mut errors = Vec::new();
        for _ in 0..5 {
            match broker.launch() {
                Ok(()) => return broker,
                Err(error) => {
                    // Most likely another process took the port in between: try another one.
                    errors.push(error);
                    broker.port = free_port();
                }
            }
        }
        panic!("mosquitto did not start:\n{}", errors.join("\n"));
    }

    /// The listener's port (the same across restarts).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `mqtt://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    /// Kills the broker with SIGKILL: no goodbye to clients, nothing saved.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the broker with SIGTERM and waits for it: a persistent broker saves its database.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            terminate(&mut child, START_TIMEOUT);
        }
    }

    /// Starts the broker again on the same port (after [`Self::kill`] or [`Self::stop`]).
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "restart needs a stopped broker");
        if let Err(error) = self.launch() {
            panic!("mosquitto did not restart on port {}: {error}", self.port);
        }
    }

    /// Everything the broker logged so far (across restarts).
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("mosquitto.log")).unwrap_or_default()
    }

    /// Writes the config, spawns the broker and waits until its port accepts connections.
    fn launch(&mut self) -> Result<(), String> {
        let dir = self.dir.path();
        let config = dir.join("mosquitto.conf");
        fs::write(&config, self.config_text(dir)).map_err(|e| e.to_string())?;
        let log = File::options()
            .create(true)
            .append(true)
            .open(dir.join("mosquitto.log"))
            .map_err(|e| e.to_string())?;
        let log_err = log.try_clone().map_err(|e| e.to_string())?;
        let mut child = Command::new(&self.binary)
            .arg("-c")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .map_err(|e| format!("spawning {}: {e}", self.binary.display()))?;
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("exited with {status}:\n{}", self.log()));
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                self.child = Some(child);
                return Ok(());
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "port {} never accepted:\n{}",
                    self.port,
                    self.log()
                ));
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    fn config_text(&self, dir: &Path) -> String {
        let persistence = if self.persistent {
            format!(
                "persistence true\npersistence_location {}/\nautosave_interval 0\n",
                dir.display()
            )
        } else {
            "persistence false\n".to_owned()
        };
        format!(
            "# Written by homeport's tests.\n\
             # Run as whoever runs the tests (has no effect unless that is root).\n\
             user root\n\
             {persistence}\
             # Never drop a queued QoS 1 message for a slow or offline persistent subscriber.\n\
             max_queued_messages 10000000\n\
             log_dest stderr\n\
             log_type error\nlog_type warning\nlog_type notice\nlog_type information\n\
             listener {port} 127.0.0.1\n\
             allow_anonymous true\n\
             {extra}\n",
            port = self.port,
            extra = self.listener_extra,
        )
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `mosquitto` on `PATH`, or `/usr/sbin/mosquitto` (where Debian puts it).
fn find_binary() -> PathBuf {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("mosquitto"))
            .find(|candidate| candidate.is_file())
    });
    let binary = on_path.unwrap_or_else(|| PathBuf::from("/usr/sbin/mosquitto"));
    assert!(
        binary.is_file(),
        "mosquitto is not installed (not on PATH, not /usr/sbin/mosquitto); \
         scripts/test.sh installs it"
    );
    binary
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address").port()
}

/// Sends SIGTERM to `child` and waits up to `within` for it to exit, then kills it.
pub fn terminate(child: &mut Child, within: Duration) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
}
