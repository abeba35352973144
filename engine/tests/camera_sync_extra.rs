//! The camera-sync commands the truncated seed implies (`Logout`, `DeleteCaramer`,
//! `ChangeCaramerPassword`) and TLS on the sync listener, end to end against a running
//! engine with simulated cameras.

mod support;
#[path = "support/sync_app.rs"]
mod sync_app;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use futures::StreamExt;
use homeport::camera_sync::{Language, SyncConfig, SyncTls};
use homeport::config::FileConfig;
use homeport_protocol::sync::{DataPort, OnlineStatus, SyncMessage};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use sync_app::{App, setup, setup_with_tls, upload};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

fn delete(id: &str) -> SyncMessage {
    SyncMessage::DeleteCaramer {
        camera_id: id.to_owned(),
    }
}

fn change(id: &str, password: &str) -> SyncMessage {
    SyncMessage::ChangeCaramerPassword {
        camera_id: id.to_owned(),
        camera_password: password.to_owned(),
    }
}

/// Downloads the whole camera list of the app's account: `(id, password)` pairs.
async fn download_all(app: &mut App) -> Vec<(String, String)> {
    let mut cameras = Vec::new();
    let mut n = 0;
    loop {
        match app
            .ask(SyncMessage::DownLoadCaramer { downloaded: n })
            .await
        {
            SyncMessage::DownloadSucess {
                camera_id,
                camera_password,
                current,
                total,
                ..
            } => {
                cameras.push((camera_id, camera_password));
                n = current;
                if current == total {
                    break;
                }
            }
            SyncMessage::DownloadFail { .. } => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    cameras.sort();
    cameras
}

#[tokio::test]
async fn logout_stops_pushes_and_commands_need_a_new_login() {
    let (gw, server, _host) = setup(SyncConfig::default()).await;
    let mut leaving = App::connect(&server).await;
    assert!(matches!(
        leaving.login("alice", "secret").await,
        SyncMessage::LoginOk { .. }
    ));
    assert!(matches!(
        leaving.ask(upload("c1", "pw", 1, 1)).await,
        SyncMessage::UploadSucess { .. }
    ));
    let mut staying = App::connect(&server).await;
    staying.login("alice", "secret").await;

    assert_eq!(
        leaving.ask(SyncMessage::Logout).await,
        SyncMessage::LogoutOk
    );
    assert_eq!(
        leaving.ask(SyncMessage::Logout).await,
        SyncMessage::LogoutOk,
        "logging out twice is harmless"
    );

    let (stop, _) = gw.online_camera("c1", "pw").await;
    assert_eq!(
        staying.recv().await,
        SyncMessage::PrushCaramerOnlineStatus {
            camera_id: "c1".to_owned(),
            online: true
        },
        "the account's other session still gets pushes"
    );
    // The push fan-out has happened (the other session got it), so anything for the
    // logged-out session would be queued ahead of this heartbeat.
    assert_eq!(
        leaving.ask(SyncMessage::Heartbeat).await,
        SyncMessage::Heartbeat,
        "no push after logout, and the connection stays open"
    );

    assert_eq!(
        leaving.ask(upload("c2", "pw", 1, 1)).await,
        SyncMessage::UploadFail {
            camera_id: "c2".to_owned(),
            reason: "请先登录!".to_owned(),
            synced: 1,
            total: 1
        }
    );
    assert_eq!(
        leaving
            .ask(SyncMessage::DownLoadCaramer { downloaded: 0 })
            .await,
        SyncMessage::DownloadFail {
            reason: "请先登录!".to_owned()
        }
    );
    assert_eq!(
        leaving.ask(delete("c1")).await,
        SyncMessage::DeleteFail {
            camera_id: "c1".to_owned(),
            reason: "请先登录!".to_owned()
        }
    );
    assert_eq!(
        leaving.ask(change("c1", "pw")).await,
        SyncMessage::ChangeFail {
            camera_id: "c1".to_owned(),
            reason: "请先登录!".to_owned()
        }
    );

    // A new login works and brings the pushes back.
    assert!(matches!(
        leaving.login("alice", "secret").await,
        SyncMessage::LoginOk {
            camera_count: 1,
            ..
        }
    ));
    stop.cancel();
    assert_eq!(
        leaving.recv().await,
        SyncMessage::PrushCaramerOnlineStatus {
            camera_id: "c1".to_owned(),
            online: false
        }
    );
}

#[tokio::test]
async fn delete_unbinds_so_download_no_longer_lists_it_and_the_count_drops() {
    let (gw, server, _host) = setup(SyncConfig::default()).await;
    let store = gw.gateway.store().clone();
    let mut alice = App::connect(&server).await;
    alice.login("alice", "secret").await;
    for (n, id) in ["c1", "c9"].into_iter().enumerate() {
        let password = if id == "c1" { "pw" } else { "x" };
        assert!(matches!(
            alice.ask(upload(id, password, n as u32 + 1, 2)).await,
            SyncMessage::UploadSucess { .. }
        ));
    }
    assert_eq!(store.account_cameras("alice").await.expect("list").len(), 2);

    // Bob cannot delete a camera he does not have, and alice keeps it.
    let mut bob = App::connect(&server).await;
    bob.login("bob", "secret").await;
    assert_eq!(
        bob.ask(delete("c9")).await,
        SyncMessage::DeleteFail {
            camera_id: "c9".to_owned(),
            reason: "该摄像头未绑定".to_owned()
        }
    );

    assert_eq!(
        alice
            .ask(SyncMessage::parse("SocketCommand.CaramCommand.DeleteCaramer c9").expect("dotted"))
            .await,
        SyncMessage::DeleteSucess {
            camera_id: "c9".to_owned()
        }
    );
    assert_eq!(
        alice.ask(delete("c9")).await,
        SyncMessage::DeleteFail {
            camera_id: "c9".to_owned(),
            reason: "该摄像头未绑定".to_owned()
        },
        "deleting twice"
    );
    assert_eq!(store.account_cameras("alice").await.expect("list").len(), 1);
    assert!(
        store
            .camera_accounts("c9")
            .await
            .expect("accounts")
            .is_empty()
    );
    assert_eq!(
        download_all(&mut alice).await,
        vec![("c1".to_owned(), "pw".to_owned())]
    );
    assert!(matches!(
        alice.login("alice", "secret").await,
        SyncMessage::LoginOk {
            camera_count: 1,
            ..
        }
    ));

    // The last one: the download is empty again.
    assert!(matches!(
        alice.ask(delete("c1")).await,
        SyncMessage::DeleteSucess { .. }
    ));
    assert!(matches!(
        alice
            .ask(SyncMessage::DownLoadCaramer { downloaded: 0 })
            .await,
        SyncMessage::DownloadFail { .. }
    ));
}

#[tokio::test]
async fn change_password_is_checked_like_an_upload_and_only_touches_an_existing_binding() {
    let (gw, server, _host) = setup(SyncConfig::default()).await;
    let store = gw.gateway.store().clone();
    let mut alice = App::connect(&server).await;
    alice.login("alice", "secret").await;
    assert!(matches!(
        alice.ask(upload("c2", "pw", 1, 2)).await,
        SyncMessage::UploadSucess { .. }
    ));
    assert!(matches!(
        alice.ask(upload("c9", "x", 2, 2)).await,
        SyncMessage::UploadSucess { .. }
    ));

    // c2's credentials are known to the gateway: a wrong password is refused.
    assert_eq!(
        alice.ask(change("c2", "nope")).await,
        SyncMessage::ChangeFail {
            camera_id: "c2".to_owned(),
            reason: "ID和密码不匹配".to_owned()
        }
    );
    assert_eq!(
        alice.ask(change("c2", "pw")).await,
        SyncMessage::ChangeSucess {
            camera_id: "c2".to_owned()
        }
    );
    // c9 is unknown to the gateway: stored unverified.
    assert_eq!(
        alice.ask(change("c9", "y|z")).await,
        SyncMessage::ChangeSucess {
            camera_id: "c9".to_owned()
        }
    );
    let bindings = store.account_cameras("alice").await.expect("list");
    let c9 = bindings
        .iter()
        .find(|b| b.camera_id == "c9")
        .expect("c9 bound");
    assert_eq!(c9.password.expose(), "y|z");
    assert!(!c9.verified);
    assert!(
        bindings
            .iter()
            .any(|b| b.camera_id == "c2" && b.verified && b.password.expose() == "pw")
    );
    assert_eq!(
        download_all(&mut alice).await,
        vec![
            ("c2".to_owned(), "pw".to_owned()),
            ("c9".to_owned(), "y|z".to_owned())
        ]
    );

    // A camera the account does not have is not bound by a change.
    assert_eq!(
        alice.ask(change("c1", "pw")).await,
        SyncMessage::ChangeFail {
            camera_id: "c1".to_owned(),
            reason: "该摄像头未绑定".to_owned()
        }
    );
    assert!(
        store
            .camera_accounts("c1")
            .await
            .expect("accounts")
            .is_empty()
    );
}

#[tokio::test]
async fn the_new_reasons_are_in_english_when_selected() {
    let config = SyncConfig {
        language: Language::En,
        ..SyncConfig::default()
    };
    let (_gw, server, _host) = setup(config).await;
    let mut app = App::connect(&server).await;
    assert_eq!(
        app.ask(delete("c1")).await,
        SyncMessage::DeleteFail {
            camera_id: "c1".to_owned(),
            reason: "Log in first!".to_owned()
        }
    );
    app.login("alice", "secret").await;
    assert_eq!(
        app.ask(delete("c1")).await,
        SyncMessage::DeleteFail {
            camera_id: "c1".to_owned(),
            reason: "This camera is not bound to this account".to_owned()
        }
    );
    assert_eq!(
        app.ask(change("c1", "pw")).await,
        SyncMessage::ChangeFail {
            camera_id: "c1".to_owned(),
            reason: "This camera is not bound to this account".to_owned()
        }
    );
}

/// A self-signed certificate for `localhost` / `127.0.0.1` made with `openssl`:
/// `(cert.pem, key.pem)` in `dir`.
fn self_signed(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let cert = dir.join(format!("{name}.pem"));
    let key = dir.join(format!("{name}.key"));
    let status = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .arg("ec_paramgen_curve:prime256v1")
        .args(["-nodes", "-days", "2", "-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl runs");
    assert!(status.success(), "openssl made a certificate");
    (cert, key)
}

/// A TLS client trusting only `cert`.
fn connector(cert: &Path) -> TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    for der in CertificateDer::pem_file_iter(cert).expect("pem") {
        roots.add(der.expect("certificate")).expect("trusted");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
}

async fn tls_app(connector: &TlsConnector, port: u16) -> App<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let name = ServerName::try_from("localhost").expect("name");
    App::over(connector.connect(name, tcp).await.expect("TLS handshake"))
}

#[tokio::test]
async fn over_tls_apps_log_in_heartbeat_and_use_data_ports_and_plain_tcp_is_closed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, key) = self_signed(dir.path(), "sync");
    let tls = SyncTls::from_pem_files(&cert, &key).expect("usable TLS files");
    let (_gw, server, _host) = setup_with_tls(SyncConfig::default(), Some(tls)).await;
    let connector = connector(&cert);

    let mut app = tls_app(&connector, server.addr().port()).await;
    assert!(matches!(
        app.login("alice", "secret").await,
        SyncMessage::LoginOk { .. }
    ));
    assert_eq!(
        app.ask(SyncMessage::Heartbeat).await,
        SyncMessage::Heartbeat
    );

    // The data port speaks TLS too.
    let SyncMessage::ReturnDataSocketPort(Some(DataPort { port, .. })) = app
        .ask(SyncMessage::CreatDataSocket {
            user: "alice".to_owned(),
            password: "secret".to_owned(),
            token: false,
        })
        .await
    else {
        panic!("a data port")
    };
    let mut data = tls_app(&connector, port).await;
    assert_eq!(
        data.ask(upload("c9", "x", 1, 1)).await,
        SyncMessage::UploadSucess {
            camera_id: "c9".to_owned(),
            online: OnlineStatus::Unknown,
            synced: 1,
            total: 1
        }
    );

    // Plain text to the TLS port: the handshake fails and the connection is closed.
    let mut plain = App::connect(&server).await;
    plain.send_line("Login alice|secret\n").await;
    assert!(plain.closed().await, "plain TCP is closed");

    assert_eq!(
        app.ask(SyncMessage::Heartbeat).await,
        SyncMessage::Heartbeat,
        "the TLS session is unaffected"
    );
}

#[test]
fn tls_files_that_cannot_be_used_are_refused_with_the_file_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, key) = self_signed(dir.path(), "a");
    let (_, other_key) = self_signed(dir.path(), "b");

    let missing = dir.path().join("missing.key");
    let error = SyncTls::from_pem_files(&cert, &missing)
        .expect_err("missing key")
        .to_string();
    assert!(
        error.contains("cannot read") && error.contains("missing.key"),
        "{error}"
    );

    let error = SyncTls::from_pem_files(&key, &key)
        .expect_err("a key is no certificate")
        .to_string();
    assert!(error.contains("holds no PEM certificate"), "{error}");

    let error = SyncTls::from_pem_files(&cert, &other_key)
        .expect_err("the key of another certificate")
        .to_string();
    assert!(
        error.contains("refused") && error.contains("b.key"),
        "{error}"
    );
}

#[test]
fn the_config_file_sets_tls_under_camera_sync_and_loads_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, key) = self_signed(dir.path(), "sync");
    let yaml = format!(
        "camera_sync:\n  tls:\n    cert: {}\n    key: {}\n",
        cert.display(),
        key.display()
    );
    let file = FileConfig::parse(&yaml, Path::new("homeport.yaml")).expect("parses");
    assert!(file.camera_sync.load_tls().expect("loads").is_some());
    assert!(
        FileConfig::parse("camera_sync: {}\n", Path::new("homeport.yaml"))
            .expect("parses")
            .camera_sync
            .load_tls()
            .expect("no TLS")
            .is_none()
    );

    let unknown = "camera_sync:\n  tls:\n    cert: a.pem\n    key: a.key\n    ca: c.pem\n";
    let error = FileConfig::parse(unknown, Path::new("homeport.yaml"))
        .expect_err("unknown field")
        .to_string();
    assert!(error.contains("ca"), "{error}");

    let broken = "camera_sync:\n  tls:\n    cert: nowhere.pem\n    key: nowhere.key\n";
    let error = FileConfig::parse(broken, Path::new("homeport.yaml"))
        .expect("parses (no I/O)")
        .camera_sync
        .load_tls()
        .expect_err("unreadable")
        .to_string();
    assert!(
        error.contains("camera_sync.tls") && error.contains("nowhere.pem"),
        "{error}"
    );
}

#[tokio::test]
async fn bad_ids_are_refused_and_nothing_is_told_before_login() {
    let (_gw, server, _host) = setup(SyncConfig::default()).await;
    let mut app = App::connect(&server).await;
    // Before login, statuses are all `null`.
    assert_eq!(
        app.ask(SyncMessage::CheckCaramerOnlineStatus(vec!["c1".into()]))
            .await,
        SyncMessage::ReturnCaramerOnlineStatus(vec![("c1".into(), OnlineStatus::Unknown)])
    );
    app.login("alice", "secret").await;
    // An ID the store cannot hold gets a refusal, not silence.
    let long = "x".repeat(100);
    let SyncMessage::UploadFail { camera_id, .. } = app
        .ask(SyncMessage::UploadCaramer {
            camera_id: long.clone(),
            camera_password: "p".into(),
            current: 1,
            total: 1,
        })
        .await
    else {
        panic!("a refusal")
    };
    assert_eq!(camera_id, long);
    // Asking past the end of the list is answered too.
    assert!(matches!(
        app.ask(SyncMessage::DownLoadCaramer { downloaded: 5 })
            .await,
        SyncMessage::DownloadFail { .. }
    ));
}

#[tokio::test]
async fn acceptance_edges_wrong_password_online_id_limit_offline_push_other_address_escaping_and_bad_lines()
 {
    let (gw, server, _host) = setup(SyncConfig {
        data_window: std::time::Duration::from_secs(3),
        ..SyncConfig::default()
    })
    .await;
    let (stop, _) = gw.online_camera("c1", "pw").await;
    let mut app = App::connect(&server).await;
    app.login("alice", "secret").await;

    // An online camera with a wrong password is refused.
    assert!(matches!(
        app.ask(upload("c1", "wrong", 1, 1)).await,
        SyncMessage::UploadFail { .. }
    ));
    assert!(matches!(
        app.ask(upload("c1", "pw", 1, 1)).await,
        SyncMessage::UploadSucess { .. }
    ));

    // An ID with every separator round-trips through upload and download.
    let odd = "a|b;c:d\\e";
    assert!(matches!(
        app.ask(upload(odd, "p|w", 1, 1)).await,
        SyncMessage::UploadSucess { .. }
    ));
    let mut seen = Vec::new();
    for n in 0..2 {
        if let SyncMessage::DownloadSucess {
            camera_id,
            camera_password,
            ..
        } = app
            .ask(SyncMessage::DownLoadCaramer { downloaded: n })
            .await
        {
            seen.push((camera_id, camera_password));
        }
    }
    assert!(
        seen.contains(&(odd.to_owned(), "p|w".to_owned())),
        "{seen:?}"
    );

    // 20 IDs are answered; 21 close the connection (a protocol error).
    let twenty: Vec<String> = (0..20).map(|i| format!("x{i}")).collect();
    assert!(
        matches!(app.ask(SyncMessage::CheckCaramerOnlineStatus(twenty)).await, SyncMessage::ReturnCaramerOnlineStatus(list) if list.len() == 20)
    );
    let mut probe = App::connect(&server).await;
    let ids: Vec<String> = (0..21).map(|i| format!("x{i}")).collect();
    probe
        .send_line(&format!("CheckCaramerOnlineStatus {}\n", ids.join(";")))
        .await;
    assert!(probe.closed().await, "21 IDs close the connection");

    // A data connection from another address is refused; the right one still works.
    let SyncMessage::ReturnDataSocketPort(Some(DataPort { port, .. })) = app
        .ask(SyncMessage::CreatDataSocket {
            user: "alice".into(),
            password: "secret".into(),
            token: false,
        })
        .await
    else {
        panic!("a data port")
    };
    let other = tokio::net::TcpSocket::new_v4().expect("socket");
    other
        .bind("127.0.0.2:0".parse().expect("addr"))
        .expect("bind 127.0.0.2");
    let mut intruder = App::over(
        other
            .connect(([127, 0, 0, 1], port).into())
            .await
            .expect("connect"),
    );
    intruder.send(upload("c7", "x", 1, 1)).await;
    let answer =
        tokio::time::timeout(std::time::Duration::from_millis(500), intruder.0.next()).await;
    assert!(
        !matches!(answer, Ok(Some(Ok(Ok(_))))),
        "another address gets no answer: {answer:?}"
    );
    let mut data = App::connect_to(port).await;
    assert!(matches!(
        data.ask(upload("c8", "x", 1, 1)).await,
        SyncMessage::UploadSucess { .. }
    ));

    // Non-numeric counts, a half line, and a flood: each affects only its own connection.
    let mut bad = App::connect(&server).await;
    bad.send_line("UploadCaramer c1|pw|one|two\n").await;
    assert!(bad.closed().await);
    let mut half = App::connect(&server).await;
    half.send_line("Login alice|sec").await;
    drop(half);
    let mut flood = App::connect(&server).await;
    for _ in 0..2000 {
        flood.send_line("Heartbeat\n").await;
    }
    let mut answered = 0;
    while answered < 2000 {
        match tokio::time::timeout(std::time::Duration::from_secs(5), flood.0.next()).await {
            Ok(Some(Ok(Ok(SyncMessage::Heartbeat)))) => answered += 1,
            other => panic!("flood broke after {answered}: {other:?}"),
        }
    }

    // The camera goes offline: the bound session gets the push.
    stop.cancel();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        assert!(tokio::time::Instant::now() < deadline, "no offline push");
        if app.recv().await
            == (SyncMessage::PrushCaramerOnlineStatus {
                camera_id: "c1".into(),
                online: false,
            })
        {
            break;
        }
    }
}
