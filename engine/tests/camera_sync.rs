//! The camera-sync server end to end: real sockets, the seed's line protocol, simulated
//! cameras, accounts and bindings in a real SQLite file, answers and pushes through the
//! default pipelines.

mod support;
#[path = "support/sync_app.rs"]
mod sync_app;

use std::time::Duration;

use homeport::camera_sync::SyncConfig;
use homeport::secret::Secret;
use homeport_protocol::sync::{DataPort, OnlineStatus, SyncMessage};
use support::{cam, camera, online_change, wait_for};
use sync_app::{App, setup, upload};
use tokio::net::TcpStream;

#[tokio::test]
async fn login_reports_count_last_time_and_ip_and_slows_an_address_after_repeated_failures() {
    let config = SyncConfig {
        max_failures: 3,
        ..SyncConfig::default()
    };
    let (_gw, server, _host) = setup(config).await;
    let mut app = App::connect(&server).await;
    assert_eq!(
        app.login("alice", "wrong").await,
        SyncMessage::LoginError {
            reason: "用户名或者密码错误!".to_owned()
        }
    );
    assert_eq!(
        app.login("nobody", "secret").await,
        SyncMessage::LoginError {
            reason: "用户名或者密码错误!".to_owned()
        }
    );
    assert_eq!(
        app.login("alice", "secret").await,
        SyncMessage::LoginOk {
            camera_count: 0,
            last_login_time: None,
            last_login_ip: None
        }
    );
    let SyncMessage::LoginOk {
        last_login_time,
        last_login_ip,
        ..
    } = app.login("alice", "secret").await
    else {
        panic!("login")
    };
    assert_eq!(last_login_ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(
        last_login_time.map(|t| t.len()),
        Some(19),
        "yyyy-MM-dd HH:mm:ss"
    );
    // Two failures so far from this address; the third starts its backoff, and then even the
    // right password is refused from here, without a hash.
    app.login("bob", "wrong").await;
    let SyncMessage::LoginError { reason } = app.login("bob", "secret").await else {
        panic!("refused")
    };
    assert_eq!(reason, "尝试次数过多,请稍后再试!");
    assert_eq!(
        app.ask(SyncMessage::Heartbeat).await,
        SyncMessage::Heartbeat
    );
}

#[tokio::test]
async fn uploads_check_passwords_bind_up_to_the_limit_and_download_to_completion() {
    let config = SyncConfig {
        max_accounts_per_camera: 2,
        ..SyncConfig::default()
    };
    let (gw, server, _host) = setup(config).await;
    for name in ["carol"] {
        gw.gateway
            .store()
            .add_account(name, &Secret::new("secret"))
            .await
            .expect("account");
    }
    let (stop, _) = gw.online_camera("c1", "pw").await;

    let mut app = App::connect(&server).await;
    assert!(matches!(
        app.login("alice", "secret").await,
        SyncMessage::LoginOk { .. }
    ));
    assert_eq!(
        app.ask(SyncMessage::DownLoadCaramer { downloaded: 0 })
            .await,
        SyncMessage::DownloadFail {
            reason: "该账号没有绑定摄像头".to_owned()
        }
    );
    // Online camera, right password: verified and bound.
    assert_eq!(
        app.ask(upload("c1", "pw", 1, 4)).await,
        SyncMessage::UploadSucess {
            camera_id: "c1".to_owned(),
            online: OnlineStatus::Online,
            synced: 1,
            total: 4
        }
    );
    // Known camera, wrong password: refused.
    assert_eq!(
        app.ask(upload("c2", "nope", 2, 4)).await,
        SyncMessage::UploadFail {
            camera_id: "c2".to_owned(),
            reason: "ID和密码不匹配".to_owned(),
            synced: 1,
            total: 4
        }
    );
    // Known offline camera, right password; unknown camera: bound (the latter unverified).
    assert_eq!(
        app.ask(upload("c2", "pw", 3, 4)).await,
        SyncMessage::UploadSucess {
            camera_id: "c2".to_owned(),
            online: OnlineStatus::Offline,
            synced: 2,
            total: 4
        }
    );
    assert_eq!(
        app.ask(upload("c9", "x", 4, 4)).await,
        SyncMessage::UploadSucess {
            camera_id: "c9".to_owned(),
            online: OnlineStatus::Unknown,
            synced: 3,
            total: 4
        }
    );
    // Re-uploading is fine.
    assert!(matches!(
        app.ask(upload("c1", "pw", 1, 1)).await,
        SyncMessage::UploadSucess { .. }
    ));

    // The binding limit (2 here): bob binds c1, carol cannot.
    let mut bob = App::connect(&server).await;
    bob.login("bob", "secret").await;
    assert!(matches!(
        bob.ask(upload("c1", "pw", 1, 1)).await,
        SyncMessage::UploadSucess { .. }
    ));
    let mut carol = App::connect(&server).await;
    carol.login("carol", "secret").await;
    assert_eq!(
        carol.ask(upload("c1", "pw", 1, 1)).await,
        SyncMessage::UploadFail {
            camera_id: "c1".to_owned(),
            reason: "该摄像头绑定账号已满".to_owned(),
            synced: 0,
            total: 1
        }
    );

    // Download to completion.
    let mut downloaded = Vec::new();
    let mut n = 0;
    loop {
        let SyncMessage::DownloadSucess {
            camera_id,
            camera_password,
            current,
            total,
            ..
        } = app
            .ask(SyncMessage::DownLoadCaramer { downloaded: n })
            .await
        else {
            panic!("a camera")
        };
        downloaded.push((camera_id, camera_password));
        n = current;
        if current == total {
            break;
        }
    }
    downloaded.sort();
    assert_eq!(
        downloaded,
        vec![
            ("c1".to_owned(), "pw".to_owned()),
            ("c2".to_owned(), "pw".to_owned()),
            ("c9".to_owned(), "x".to_owned())
        ]
    );

    // Status: online, offline, unknown.
    let status = app
        .ask(SyncMessage::CheckCaramerOnlineStatus(vec![
            "c1".into(),
            "c2".into(),
            "zz".into(),
        ]))
        .await;
    assert_eq!(
        status,
        SyncMessage::ReturnCaramerOnlineStatus(vec![
            ("c1".into(), OnlineStatus::Online),
            ("c2".into(), OnlineStatus::Offline),
            ("zz".into(), OnlineStatus::Unknown)
        ])
    );
    stop.cancel();
}

#[tokio::test]
async fn pushes_reach_every_bound_session_and_no_other() {
    let (gw, server, _host) = setup(SyncConfig::default()).await;
    let mut alice = App::connect(&server).await;
    alice.login("alice", "secret").await;
    assert!(matches!(
        alice.ask(upload("c1", "pw", 1, 1)).await,
        SyncMessage::UploadSucess { .. }
    ));
    let mut alice_again = App::connect(&server).await;
    alice_again.login("alice", "secret").await;
    let mut bob = App::connect(&server).await;
    bob.login("bob", "secret").await;

    let mut events = gw.gateway.bus().subscribe();
    let stop = camera(
        gw.addr(),
        homeport_simulator::CameraConfig {
            alarm_rate: 5.0,
            ..cam("c1", "pw")
        },
    );
    wait_for(&mut events, "online", |e| {
        online_change(e, "c1", true, None)
    })
    .await;
    for app in [&mut alice, &mut alice_again] {
        assert_eq!(
            app.recv().await,
            SyncMessage::PrushCaramerOnlineStatus {
                camera_id: "c1".to_owned(),
                online: true
            }
        );
        let SyncMessage::PrushCaramerAlarmInfo {
            camera_id,
            alarm_type,
        } = app.recv().await
        else {
            panic!("an alarm push")
        };
        assert_eq!(camera_id, "c1");
        assert!(!alarm_type.is_empty());
    }
    stop.cancel();
    // Bob is bound to nothing: his only traffic is his own heartbeat.
    assert_eq!(
        bob.ask(SyncMessage::Heartbeat).await,
        SyncMessage::Heartbeat
    );
}

#[tokio::test]
async fn data_socket_serves_its_main_session_once_and_bad_lines_close_only_their_connection() {
    let config = SyncConfig {
        data_window: Duration::from_secs(2),
        ..SyncConfig::default()
    };
    let (_gw, server, _host) = setup(config).await;
    let mut main = App::connect(&server).await;
    main.login("alice", "secret").await;
    let SyncMessage::ReturnDataSocketPort(Some(DataPort { port, .. })) = main
        .ask(SyncMessage::CreatDataSocket {
            user: "alice".to_owned(),
            password: "secret".to_owned(),
            token: false,
        })
        .await
    else {
        panic!("a data port")
    };
    let mut data = App::connect_to(port).await;
    assert!(
        matches!(
            data.ask(upload("c9", "x", 1, 1)).await,
            SyncMessage::UploadSucess { .. }
        ),
        "acts for alice"
    );
    // Only one connection per data port.
    let second = tokio::time::timeout(
        Duration::from_secs(1),
        TcpStream::connect(("127.0.0.1", port)),
    )
    .await;
    assert!(
        !matches!(second, Ok(Ok(_))),
        "a second data connection is refused"
    );
    // A data port nobody uses closes after its window.
    let SyncMessage::ReturnDataSocketPort(Some(DataPort { port: unused, .. })) = main
        .ask(SyncMessage::CreatDataSocket {
            user: "alice".to_owned(),
            password: "secret".to_owned(),
            token: false,
        })
        .await
    else {
        panic!("a data port")
    };
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(
        TcpStream::connect(("127.0.0.1", unused)).await.is_err(),
        "closed after its window"
    );

    // Garbage, an unknown command, a too-long line: each closes only its connection.
    for line in [
        "Teleport me\n".to_owned(),
        "UploadCaramer only-one-field\n".to_owned(),
        "Login ".to_owned() + &"x".repeat(70_000),
    ] {
        let mut bad = App::connect(&server).await;
        bad.send_line(&line).await;
        assert!(
            bad.closed().await,
            "closed after {:?}",
            &line[..line.len().min(30)]
        );
    }
    assert_eq!(
        main.ask(SyncMessage::Heartbeat).await,
        SyncMessage::Heartbeat,
        "other sessions are unaffected"
    );
}
