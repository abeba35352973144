//! `sync-client`: an example client app for homeport's camera-sync server.
//!
//! It logs in on a main connection, optionally opens a data connection
//! (`CreatDataSocket user|password|token` → `ReturnDataSocketPort port|token`, then
//! `BindDataSocket token` as the data connection's first line), uploads cameras from a CSV file, downloads the
//! account's cameras, asks for online status, and watches the server's pushes until Ctrl-C,
//! sending a `Heartbeat` every 30 s. Every line goes through the protocol crate's
//! [`SyncLineCodec`] and [`SyncMessage`]; `--trace` shows the raw lines on stderr.
//!
//! The main connection is driven by three tasks: a writer (the only one writing to the
//! socket), a reader (prints pushes as JSON lines, hands every other message to whoever waits
//! for an answer) and a heartbeat timer. A data connection is plain request/answer.

#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use clap::Parser;
use futures::{SinkExt, StreamExt};
use homeport_protocol::sync::{DataPort, MAX_QUERY_IDS, SyncLineCodec, SyncMessage};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_util::codec::Framed;

/// How long to wait for an answer before giving up.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// An example client of homeport's camera-sync server (the seed's line protocol).
#[derive(Debug, Parser)]
#[command(name = "sync-client", version)]
struct Args {
    /// The camera-sync server, HOST:PORT.
    #[arg(long, default_value = "127.0.0.1:9600")]
    server: String,
    /// Account name.
    #[arg(long)]
    user: String,
    /// Account password.
    #[arg(long, allow_hyphen_values = true)]
    password: String,
    /// Upload the cameras of this CSV file: `cameraID,password`, one camera per line (blank
    /// lines and lines starting with `#` are skipped).
    #[arg(long, value_name = "CSV")]
    upload: Option<PathBuf>,
    /// Download the account's cameras to completion.
    #[arg(long)]
    download: bool,
    /// Ask the online status of these cameras (`id1;id2;…`, at most 20).
    #[arg(long, value_name = "IDS")]
    check: Option<String>,
    /// Upload and download on the main connection instead of asking for a data connection.
    #[arg(long)]
    no_data_socket: bool,
    /// Stay connected and print every push as a JSON line until Ctrl-C.
    #[arg(long)]
    watch: bool,
    /// Seconds between heartbeats on the main connection (the protocol wants at most 30).
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=30))]
    heartbeat: u64,
    /// Print every line sent (`>`) and received (`<`) on stderr.
    #[arg(long)]
    trace: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let stream = TcpStream::connect(&args.server)
        .await
        .with_context(|| format!("cannot connect to {}", args.server))?;
    let server_addr = stream.peer_addr()?;
    let _ = stream.set_nodelay(true);
    let mut main = MainConnection::start(stream, args.trace, Duration::from_secs(args.heartbeat));

    // 1. Log in.
    let answer = main
        .ask(SyncMessage::Login {
            user: args.user.clone(),
            password: args.password.clone(),
        })
        .await?;
    match answer {
        SyncMessage::LoginOk {
            camera_count,
            last_login_time,
            last_login_ip,
        } => match (last_login_time, last_login_ip) {
            (None, None) => {
                println!("login ok: {camera_count} camera(s) on the server; first login")
            }
            (time, ip) => println!(
                "login ok: {camera_count} camera(s) on the server; last login {} from {}",
                time.as_deref().unwrap_or("?"),
                ip.as_deref().unwrap_or("?")
            ),
        },
        SyncMessage::LoginError { reason } => bail!("login refused: {reason}"),
        other => bail!("unexpected answer to Login: {}", other.encode()),
    }

    // 2. Upload and download, on a data connection if the server gives one.
    if args.upload.is_some() || args.download {
        let cameras = match &args.upload {
            Some(path) => read_csv(path)?,
            None => Vec::new(),
        };
        let mut data = if args.no_data_socket {
            None
        } else {
            open_data_connection(&mut main, &args, server_addr).await?
        };
        if !cameras.is_empty() {
            upload(&mut main, data.as_mut(), &cameras).await?;
        } else if args.upload.is_some() {
            println!("upload: the CSV holds no camera");
        }
        if args.download {
            download(&mut main, data.as_mut()).await?;
        }
        // The seed: close the data connection when done, without telling the server.
        drop(data);
    }

    // 3. Online status.
    if let Some(ids) = &args.check {
        let ids: Vec<String> = ids
            .split([';', ','])
            .map(str::trim)
            .filter(|id| !id.is_empty())
            .map(str::to_owned)
            .collect();
        if ids.len() > MAX_QUERY_IDS {
            bail!(
                "--check: {} IDs, the protocol allows at most {MAX_QUERY_IDS} per query",
                ids.len()
            );
        }
        match main.ask(SyncMessage::CheckCaramerOnlineStatus(ids)).await? {
            SyncMessage::ReturnCaramerOnlineStatus(entries) => {
                for (id, status) in entries {
                    println!("status {id}: {}", status.as_str());
                }
            }
            other => bail!(
                "unexpected answer to CheckCaramerOnlineStatus: {}",
                other.encode()
            ),
        }
    }

    // 4. Pushes until Ctrl-C (the reader task prints them).
    if args.watch {
        eprintln!("watching pushes; Ctrl-C to stop");
        tokio::select! {
            signal = tokio::signal::ctrl_c() => signal.context("cannot wait for Ctrl-C")?,
            () = main.closed() => bail!("the server closed the connection"),
        }
    }
    Ok(())
}

/// The main connection: a writer task, a reader task and a heartbeat task.
#[derive(Debug)]
struct MainConnection {
    /// Lines to send.
    out: mpsc::Sender<SyncMessage>,
    /// Messages that are neither pushes nor heartbeats (answers), in order.
    answers: mpsc::Receiver<SyncMessage>,
}

impl MainConnection {
    fn start(stream: TcpStream, trace: bool, heartbeat: Duration) -> Self {
        let (mut sink, mut lines) = Framed::new(stream, SyncLineCodec::new()).split();
        let (out, mut outgoing) = mpsc::channel::<SyncMessage>(64);
        let (answered, answers) = mpsc::channel(64);
        tokio::spawn(async move {
            while let Some(message) = outgoing.recv().await {
                if trace {
                    eprintln!("> {}", message.encode());
                }
                let command = message.command();
                if let Err(e) = sink.send(message).await {
                    eprintln!("cannot send {command}: {e}");
                    return;
                }
            }
        });
        tokio::spawn(async move {
            while let Some(item) = lines.next().await {
                let message = match item {
                    Ok(Ok(message)) => message,
                    Ok(Err(e)) => {
                        eprintln!("unreadable line from the server: {e}");
                        continue;
                    }
                    Err(e) => {
                        eprintln!("main connection failed: {e}");
                        return;
                    }
                };
                if trace {
                    eprintln!("< {}", message.encode());
                }
                match message {
                    SyncMessage::PrushCaramerOnlineStatus { camera_id, online } => println!(
                        "{{\"push\":\"online_status\",\"camera\":{},\"online\":{online},\"received_ms\":{}}}",
                        json_string(&camera_id),
                        now_ms()
                    ),
                    SyncMessage::PrushCaramerAlarmInfo {
                        camera_id,
                        alarm_type,
                    } => println!(
                        "{{\"push\":\"alarm\",\"camera\":{},\"alarm_type\":{},\"received_ms\":{}}}",
                        json_string(&camera_id),
                        json_string(&alarm_type),
                        now_ms()
                    ),
                    SyncMessage::Heartbeat => {}
                    answer => {
                        if answered.send(answer).await.is_err() {
                            return;
                        }
                    }
                }
            }
        });
        let beats = out.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(heartbeat);
            every.tick().await;
            loop {
                every.tick().await;
                if beats.send(SyncMessage::Heartbeat).await.is_err() {
                    return;
                }
            }
        });
        Self { out, answers }
    }

    /// Sends `message` and waits for the next answer (pushes and heartbeats are not answers).
    async fn ask(&mut self, message: SyncMessage) -> anyhow::Result<SyncMessage> {
        let command = message.command();
        self.out
            .send(message)
            .await
            .context("the main connection is closed")?;
        match tokio::time::timeout(ANSWER_TIMEOUT, self.answers.recv()).await {
            Ok(Some(answer)) => Ok(answer),
            Ok(None) => bail!("the server closed the connection (after {command})"),
            Err(_) => bail!("no answer to {command} within {ANSWER_TIMEOUT:?}"),
        }
    }

    /// Resolves when the server has closed the main connection.
    async fn closed(&mut self) {
        // Answers nobody asked for are shown, then dropped.
        while let Some(message) = self.answers.recv().await {
            eprintln!("unexpected message: {}", message.encode());
        }
    }
}

/// A data connection: one request, one answer.
#[derive(Debug)]
struct DataConnection {
    framed: Framed<TcpStream, SyncLineCodec>,
    trace: bool,
}

impl DataConnection {
    async fn ask(&mut self, message: SyncMessage) -> anyhow::Result<SyncMessage> {
        let command = message.command();
        if self.trace {
            eprintln!("data> {}", message.encode());
        }
        self.framed.send(message).await?;
        let answer = match tokio::time::timeout(ANSWER_TIMEOUT, self.framed.next()).await {
            Ok(Some(Ok(Ok(answer)))) => answer,
            Ok(Some(Ok(Err(e)))) => bail!("unreadable answer to {command}: {e}"),
            Ok(Some(Err(e))) => bail!("data connection failed: {e}"),
            Ok(None) => bail!("the server closed the data connection (after {command})"),
            Err(_) => bail!("no answer to {command} within {ANSWER_TIMEOUT:?}"),
        };
        if self.trace {
            eprintln!("data< {}", answer.encode());
        }
        Ok(answer)
    }
}

/// Sends `message` on the data connection if there is one, else on the main connection.
async fn ask(
    main: &mut MainConnection,
    data: Option<&mut DataConnection>,
    message: SyncMessage,
) -> anyhow::Result<SyncMessage> {
    match data {
        Some(data) => data.ask(message).await,
        None => main.ask(message).await,
    }
}

/// Asks for a data port and connects to it; `None` (use the main connection) when the server
/// has none to give.
async fn open_data_connection(
    main: &mut MainConnection,
    args: &Args,
    server: SocketAddr,
) -> anyhow::Result<Option<DataConnection>> {
    let answer = main
        .ask(SyncMessage::CreatDataSocket {
            user: args.user.clone(),
            password: args.password.clone(),
            token: true,
        })
        .await?;
    let (port, token) = match answer {
        SyncMessage::ReturnDataSocketPort(Some(DataPort { port, token })) => (port, token),
        SyncMessage::ReturnDataSocketPort(None) => {
            println!("data socket: the server has no port available; using the main connection");
            return Ok(None);
        }
        other => bail!("unexpected answer to CreatDataSocket: {}", other.encode()),
    };
    // The data port only accepts a connection from the main connection's address.
    let addr = SocketAddr::new(server.ip(), port);
    let stream = TcpStream::connect(addr)
        .await
        .with_context(|| format!("cannot open the data connection to {addr}"))?;
    let _ = stream.set_nodelay(true);
    let mut framed = Framed::new(stream, SyncLineCodec::new());
    // The token proves this connection belongs to our session (no answer; a wrong one closes).
    if let Some(token) = token {
        let bind = SyncMessage::BindDataSocket { token };
        if args.trace {
            eprintln!("data> BindDataSocket <token>");
        }
        framed.send(bind).await?;
    }
    println!("data socket: connected to port {port}");
    Ok(Some(DataConnection {
        framed,
        trace: args.trace,
    }))
}

/// Uploads every camera, one `UploadCaramer` each, printing each answer.
async fn upload(
    main: &mut MainConnection,
    mut data: Option<&mut DataConnection>,
    cameras: &[(String, String)],
) -> anyhow::Result<()> {
    let total = u32::try_from(cameras.len()).context("too many cameras")?;
    for (index, (camera_id, camera_password)) in cameras.iter().enumerate() {
        let current = u32::try_from(index + 1).context("too many cameras")?;
        let message = SyncMessage::UploadCaramer {
            camera_id: camera_id.clone(),
            camera_password: camera_password.clone(),
            current,
            total,
        };
        match ask(main, data.as_deref_mut(), message).await? {
            SyncMessage::UploadSucess {
                camera_id,
                online,
                synced,
                total,
            } => println!(
                "upload {current}/{total}: {camera_id} ok (online {}, synced {synced}/{total})",
                online.as_str()
            ),
            SyncMessage::UploadFail {
                camera_id,
                reason,
                synced,
                total,
            } => println!(
                "upload {current}/{total}: {camera_id} refused: {reason} (synced {synced}/{total})"
            ),
            other => bail!("unexpected answer to UploadCaramer: {}", other.encode()),
        }
    }
    Ok(())
}

/// Downloads the account's cameras: `DownLoadCaramer 0`, then the last `current` echoed back,
/// until `current == total`.
async fn download(
    main: &mut MainConnection,
    mut data: Option<&mut DataConnection>,
) -> anyhow::Result<()> {
    let mut downloaded = 0;
    loop {
        let message = SyncMessage::DownLoadCaramer { downloaded };
        match ask(main, data.as_deref_mut(), message).await? {
            SyncMessage::DownloadSucess {
                camera_id,
                camera_password,
                online,
                current,
                total,
            } => {
                println!(
                    "download {current}/{total}: {camera_id},{camera_password} (online {})",
                    online.as_str()
                );
                if current >= total {
                    return Ok(());
                }
                if current <= downloaded {
                    bail!("the server went back from {downloaded} to {current}");
                }
                downloaded = current;
            }
            SyncMessage::DownloadFail { reason } => {
                println!("download: {reason}");
                return Ok(());
            }
            other => bail!("unexpected answer to DownLoadCaramer: {}", other.encode()),
        }
    }
}

/// Reads `cameraID,password` lines; the password is everything after the first comma.
fn read_csv(path: &Path) -> anyhow::Result<Vec<(String, String)>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut cameras = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((id, password)) = line.split_once(',') else {
            bail!(
                "{}:{}: expected `cameraID,password`",
                path.display(),
                number + 1
            );
        };
        let (id, password) = (id.trim(), password.trim());
        if id.is_empty() {
            bail!("{}:{}: empty camera ID", path.display(), number + 1);
        }
        cameras.push((id.to_owned(), password.to_owned()));
    }
    Ok(cameras)
}

/// `text` as a JSON string literal.
fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Unix milliseconds now.
fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_are_escaped() {
        assert_eq!(json_string("cam1"), "\"cam1\"");
        assert_eq!(json_string("a\"b\\c\nd\u{1}"), "\"a\\\"b\\\\c\\nd\\u0001\"");
        assert_eq!(json_string("报警"), "\"报警\"");
    }

    #[test]
    fn csv_lines_split_at_the_first_comma() {
        let dir = std::env::temp_dir().join(format!("sync-client-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("cameras.csv");
        std::fs::write(&path, "# id,password\ncam1,pw\n\n cam2 , p,w \n").expect("write");
        let cameras = read_csv(&path).expect("reads");
        assert_eq!(
            cameras,
            [
                ("cam1".to_owned(), "pw".to_owned()),
                ("cam2".to_owned(), "p,w".to_owned())
            ]
        );
        std::fs::write(&path, "nocomma\n").expect("write");
        assert!(read_csv(&path).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
