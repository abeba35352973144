//! The web console in a real browser (headless Chromium, through chromedriver): an operator
//! logs in, watches a simulated camera appear pending, gives it credentials and sees it turn
//! online without reloading, replays a dead letter, takes a snapshot that is the camera's
//! JPEG, edits the register config and reads it back through the API, stops the camera and
//! sees it go offline, and reloads a broken pipeline file to see the error at its line.
//! Screenshots of every page land in `target/console-screenshots/`.

mod support;

#[path = "support/browser.rs"]
mod browser;

use std::time::{Duration, Instant};

use browser::Browser;
use reqwest::{StatusCode, header};
use serde_json::{Value, json};
use support::admin::{Api, TOKEN};
use support::{cam, camera};

/// A pipeline that takes a snapshot when a camera registers: before its login the camera is
/// not online, so the stage fails and the event becomes a dead letter, which replays fine once
/// the camera is online.
const PIPELINES: &str = "pipelines:
  - name: snap-on-register
    on: [registered]
    stages:
      - snapshot: {}
";

/// The same file, broken at line 5 (an unknown stage kind).
const BROKEN: &str = "pipelines:
  - name: snap-on-register
    on: [registered]
    stages:
      - snapshott: {}
";

async fn dead_letters(api: &Api) -> Vec<Value> {
    let (status, letters) = api.get("/api/dlq").await;
    assert_eq!(status, StatusCode::OK, "{letters}");
    letters.as_array().cloned().unwrap_or_default()
}

async fn eventually_api(what: &str, check: impl AsyncFn() -> bool) {
    let deadline = Instant::now() + browser::WAIT;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_runs_the_gateway_from_the_console() {
    let dir = tempfile::tempdir().expect("pipeline directory");
    let file = dir.path().join("console.yaml");
    std::fs::write(&file, PIPELINES).expect("pipelines written");
    let pipelines = vec![file.clone()];
    let api = Api::start_node(move |node| node.pipelines = Some(pipelines)).await;
    let web = Browser::start().await;
    let b = &web.client;

    let without_token = |path: &str| {
        let request = api.http.get(format!("{}{path}", api.base));
        async move { request.send().await.expect("GET") }
    };
    // The page and its files need no token and hold no data; they carry a strict policy.
    for path in [
        "/",
        "/console/app.js",
        "/console/app.css",
        "/console/icon.svg",
    ] {
        let response = without_token(path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let policy = response.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .expect("text");
        assert!(
            policy.contains("default-src 'none'") && policy.contains("script-src 'self'"),
            "{path}: {policy}"
        );
        assert_eq!(
            response.headers()[header::X_CONTENT_TYPE_OPTIONS],
            "nosniff"
        );
    }
    // Whatever shows data needs the token.
    for path in [
        "/api/devices",
        "/api/gateway",
        "/api/pipelines/stats",
        "/api/dlq",
    ] {
        let status = without_token(path).await.status();
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
    }

    // Log in: a wrong token is refused on the page, the right one opens the devices.
    b.goto(&format!("{}/", api.base)).await.expect("console");
    web.type_into("#token", "not-the-token").await;
    web.click("form.login button[type=submit]").await;
    web.wait_text("form.login [role=alert]", "not this gateway's admin token")
        .await;
    web.shot("login").await;
    let field = web.wait("#token").await;
    field.clear().await.expect("cleared");
    field.send_keys(TOKEN).await.expect("typed");
    web.click("form.login button[type=submit]").await;
    web.wait("table#devices").await;
    let url = b.current_url().await.expect("url");
    assert!(
        !url.as_str().contains(TOKEN),
        "the token is never in a URL: {url}"
    );

    // A camera nobody added registers: it appears pending, without a reload.
    let camera_stop = camera(api.gw.addr(), cam("web1", "pw"));
    web.wait("tr[data-device='web1'][data-state='pending']")
        .await;
    web.wait_text("ul.counts", "1 device").await;
    web.wait_text("ul.counts li[data-count='pending']", "pending 1")
        .await;
    web.shot("devices-pending").await;

    // Credentials in one step: it logs in and turns online, still without a reload.
    web.click("tr[data-device='web1'] button[data-action='credentials']")
        .await;
    web.type_into("tr[data-device='web1'] + tr input[name='password']", "pw")
        .await;
    web.click("tr[data-device='web1'] + tr button[type=submit]")
        .await;
    web.wait("tr[data-device='web1'][data-state='online']")
        .await;
    web.shot("devices-online").await;

    // Modify: a name, shown in the row; search finds the device by it. Another device's row
    // drawn above while the operator types takes neither the text nor the focus.
    web.click("tr[data-device='web1'] button[data-action='edit']")
        .await;
    let name = "tr[data-device='web1'] + tr input[name='name']";
    web.type_into(name, "Front").await;
    api.add("aside", "pw").await;
    web.wait("tr[data-device='aside']").await;
    let typing = web
        .run(
            "const field = document.querySelector(arguments[0]); \
             return [document.activeElement === field, field.value];",
            vec![json!(name)],
        )
        .await;
    assert_eq!(typing, json!([true, "Front"]), "focus and text kept");
    web.type_into(name, " gate").await;
    web.click("tr[data-device='web1'] + tr button[type=submit]")
        .await;
    web.wait_text("tr[data-device='web1']", "Front gate").await;
    assert_eq!(api.get("/api/devices/web1").await.1["name"], "Front gate");
    let search = web.wait("#search").await;
    search.send_keys("nothing-like-it").await.expect("typed");
    web.wait_text("table#devices tbody", "No devices.").await;
    search.clear().await.expect("cleared");
    search.send_keys("front").await.expect("typed");
    web.wait("tr[data-device='web1']").await;
    search.clear().await.expect("cleared");

    // CSV import: all or nothing, the bad row named by its line; then a good file.
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "id,username,password\ncsv1,admin,pw\ncsv2,,pw\n").expect("csv");
    let good = dir.path().join("good.csv");
    std::fs::write(
        &good,
        "id,username,password,name\ncsv1,admin,pw,Yard\ncsv2,admin,pw,\n",
    )
    .expect("csv");
    for path in [&bad, &good] {
        web.type_into("input[type=file]", &path.display().to_string())
            .await;
        web.click("#import").await;
        if path == &bad {
            let report = web.wait_text("#import-report [role=alert]", "line 3").await;
            assert!(report.contains("username is empty"), "{report}");
            assert_eq!(
                api.get("/api/devices/csv1").await.0,
                StatusCode::NOT_FOUND,
                "nothing written"
            );
        }
    }
    web.wait_text("#import-report", "Imported: 2 added, 0 updated.")
        .await;
    web.wait("tr[data-device='csv1'][data-state='offline']")
        .await;
    web.wait_text("tr[data-device='csv1']", "Yard").await;
    web.shot("devices-imported").await;

    // Readable on a phone: nothing wider than the screen but the table's own scroller.
    web.client
        .set_window_size(390, 844)
        .await
        .expect("phone size");
    let overflow = web
        .run(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth;",
            vec![],
        )
        .await;
    assert_eq!(overflow, json!(0), "the page scrolls sideways on a phone");
    web.shot("devices-phone").await;
    web.client
        .set_window_size(1280, 900)
        .await
        .expect("desktop size");

    // Its registration while pending went to the pipeline, which failed: a dead letter,
    // replayed from the console now that the camera is online.
    eventually_api("the dead letter is stored", || async {
        !dead_letters(&api).await.is_empty()
    })
    .await;
    b.goto(&format!("{}/#/pipelines", api.base))
        .await
        .expect("pipelines");
    web.wait_text(
        "#pipeline-stats section[data-pipeline='snap-on-register']",
        "failed 1",
    )
    .await;
    web.wait("#dead-letters tr[data-letter] button[data-action='replay']")
        .await;
    web.shot("pipelines").await;
    web.click("#dead-letters tr[data-letter] button[data-action='replay']")
        .await;
    web.wait_text("#dead-letters", "No dead letters.").await;
    eventually_api("the replay went through", || async {
        dead_letters(&api).await.is_empty()
    })
    .await;

    // The device page: a snapshot shown is the camera's own JPEG.
    b.goto(&format!("{}/#/devices/web1", api.base))
        .await
        .expect("device page");
    web.wait_text("#facts", "online").await;
    web.click("#take-snapshot").await;
    web.wait("#snapshot img.snapshot").await;
    // The page cannot read its own blob back (the policy allows connections to this origin
    // only), so the picture is checked as the browser decoded it: the camera's JPEG has this
    // size and these dimensions, and the bytes came from the API, which returns exactly the
    // camera's JPEG (checked here too).
    let caption = web.wait_text("#snapshot figcaption", "×").await;
    let jpeg = homeport_simulator::snapshot::JPEG;
    assert!(
        caption.starts_with(&format!("image/jpeg, {} bytes, 320×180", jpeg.len())),
        "{caption}"
    );
    let from_api = api
        .req(reqwest::Method::GET, "/api/devices/web1/snapshot?channel=0")
        .send()
        .await
        .expect("snapshot")
        .bytes()
        .await
        .expect("bytes");
    assert_eq!(
        &from_api[..],
        jpeg,
        "the API's snapshot is the camera's JPEG"
    );

    // The register config, edited in the page (read-modify-write) and read back by the API.
    let config = web.wait("#dvrip-config").await;
    let deadline = Instant::now() + browser::WAIT;
    while config
        .prop("value")
        .await
        .expect("value")
        .unwrap_or_default()
        .is_empty()
    {
        assert!(Instant::now() < deadline, "the config never loaded");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    web.run(
        "const area = document.querySelector('#dvrip-config');
         const table = JSON.parse(area.value);
         table.MaxConnections = 9;
         area.value = JSON.stringify(table, null, 2);",
        vec![],
    )
    .await;
    web.click("#save-config").await;
    web.wait_text("#main", "Written; the device's table now reads as above.")
        .await;
    let (status, table) = api.get("/api/devices/web1/config/DVRIP").await;
    assert_eq!(status, StatusCode::OK, "{table}");
    assert_eq!(table["MaxConnections"], 9, "{table}");
    assert!(
        table["RegisterServer"].is_object(),
        "fields not edited are kept: {table}"
    );
    web.shot("device").await;

    // The camera stops: its row turns offline without a reload.
    b.goto(&format!("{}/#/devices", api.base))
        .await
        .expect("devices");
    web.wait("tr[data-device='web1'][data-state='online']")
        .await;
    camera_stop.cancel();
    web.wait("tr[data-device='web1'][data-state='offline']")
        .await;
    web.shot("devices-offline").await;

    // A broken pipeline file: the reload shows the error at its line, the old graph stays.
    std::fs::write(&file, BROKEN).expect("broken file");
    b.goto(&format!("{}/#/pipelines", api.base))
        .await
        .expect("pipelines");
    web.click("#reload").await;
    let error = web
        .wait_text("#reload-result [role=alert]", "console.yaml:5:")
        .await;
    assert!(error.contains("snapshott"), "{error}");
    web.shot("pipelines-reload-error").await;
    let (_, running) = api.get("/api/pipelines").await;
    assert_eq!(
        running["pipelines"],
        json!(["snap-on-register"]),
        "the old graph stays"
    );

    // The gateway and camera-sync pages render from the API.
    b.goto(&format!("{}/#/gateway", api.base))
        .await
        .expect("gateway");
    web.wait_text("#gateway", "listening on").await;
    web.shot("gateway").await;
    b.goto(&format!("{}/#/sync", api.base)).await.expect("sync");
    web.wait("table#accounts").await;
    web.shot("camera-sync").await;

    // Nothing went anywhere but this gateway, and the page logged no error.
    let resources = web
        .run(
            "return performance.getEntriesByType('resource').map((e) => e.name);",
            vec![],
        )
        .await;
    for name in resources.as_array().expect("a list") {
        let name = name.as_str().unwrap_or_default();
        assert!(name.starts_with(&api.base), "a request elsewhere: {name}");
    }
    // The browser logs the refusals this test asked for (the wrong token, the bad CSV, the
    // broken file) as failed loads; anything else — a script error above all — fails the test.
    let expected = [
        "/api/listeners - Failed to load resource: the server responded with a status of 401",
        "/api/pipelines/reload - Failed to load resource: the server responded with a status of 422",
        "/api/devices/import - Failed to load resource: the server responded with a status of 400",
    ];
    let errors: Vec<String> = web
        .errors()
        .await
        .into_iter()
        .filter(|e| !expected.iter().any(|x| e.contains(x)))
        .collect();
    assert!(errors.is_empty(), "console errors: {errors:#?}");
}
